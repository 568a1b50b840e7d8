namespace PSSwarm.Core.Security;

/// <summary>
/// Base-36 text for unsigned big-endian integers, as Go's <c>big.Int.Text(36)</c> /
/// <c>big.Int.SetString(s, 36)</c> (digits 0-9a-z; decoding also accepts A-Z).
/// </summary>
public static class Base36
{
    private const string Digits = "0123456789abcdefghijklmnopqrstuvwxyz";

    /// <summary>Big-endian unsigned bytes to lower-case base-36 text, left-padded with '0' to <paramref name="padTo"/> (never truncated).</summary>
    public static string Encode(ReadOnlySpan<byte> bigEndianUnsigned, int padTo = 0)
    {
        // Skip leading zero bytes; the value 0 is "0", as in Go.
        int start = 0;
        while (start < bigEndianUnsigned.Length && bigEndianUnsigned[start] == 0) start++;
        var work = bigEndianUnsigned[start..].ToArray();

        // Each byte needs at most log36(256) ~ 1.55 digits.
        Span<char> buffer = work.Length <= 128 ? stackalloc char[work.Length * 2 + 1] : new char[work.Length * 2 + 1];
        int pos = buffer.Length;
        int len = work.Length;
        int first = 0;
        while (first < len)
        {
            // One long division of work[first..len) by 36.
            int remainder = 0;
            for (int i = first; i < len; i++)
            {
                int acc = (remainder << 8) | work[i];
                work[i] = (byte)(acc / 36);
                remainder = acc % 36;
            }
            buffer[--pos] = Digits[remainder];
            while (first < len && work[first] == 0) first++;
        }
        if (pos == buffer.Length) buffer[--pos] = '0';

        var digits = buffer[pos..];
        if (digits.Length >= padTo) return new string(digits);
        return string.Create(padTo, digits.ToString(), static (dst, s) =>
        {
            dst[..^s.Length].Fill('0');
            s.AsSpan().CopyTo(dst[^s.Length..]);
        });
    }

    /// <summary>Parses base-36 text (upper or lower case) into minimal big-endian unsigned bytes (zero is an empty array).</summary>
    public static bool TryDecode(string text, out byte[] bigEndianUnsigned)
    {
        bigEndianUnsigned = [];
        if (string.IsNullOrEmpty(text)) return false;

        // Little-endian accumulator: value = value * 36 + digit.
        var acc = new byte[text.Length]; // 36 < 256, so one byte per digit is always enough
        int used = 0;
        foreach (char c in text)
        {
            int d = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'a' and <= 'z' => c - 'a' + 10,
                >= 'A' and <= 'Z' => c - 'A' + 10,
                _ => -1,
            };
            if (d < 0) return false;
            int carry = d;
            for (int i = 0; i < used; i++)
            {
                int v = acc[i] * 36 + carry;
                acc[i] = (byte)v;
                carry = v >> 8;
            }
            while (carry != 0)
            {
                acc[used++] = (byte)carry;
                carry >>= 8;
            }
        }

        var result = new byte[used];
        for (int i = 0; i < used; i++) result[i] = acc[used - 1 - i];
        bigEndianUnsigned = result;
        return true;
    }
}
