using System.Text;

namespace PSSwarm.Core.Security;

/// <summary>PEM text exactly as Go's <c>encoding/pem</c> writes it (what Docker serves and hashes).</summary>
public static class Pem
{
    private const int LineLength = 64;

    /// <summary>"-----BEGIN label-----\n", base64 in 64-character lines each ending in LF, "-----END label-----\n".</summary>
    public static string Encode(string label, ReadOnlySpan<byte> der)
    {
        ArgumentException.ThrowIfNullOrEmpty(label);
        string b64 = Convert.ToBase64String(der);
        var sb = new StringBuilder(b64.Length + b64.Length / LineLength + 2 * label.Length + 40);
        sb.Append("-----BEGIN ").Append(label).Append("-----\n");
        for (int i = 0; i < b64.Length; i += LineLength)
        {
            sb.Append(b64, i, Math.Min(LineLength, b64.Length - i)).Append('\n');
        }
        sb.Append("-----END ").Append(label).Append("-----\n");
        return sb.ToString();
    }

    /// <summary>The DER of the first block with this label. Throws <see cref="FormatException"/> when there is none or it is not valid base64.</summary>
    public static byte[] Decode(string pem, string label)
    {
        ArgumentNullException.ThrowIfNull(pem);
        ArgumentException.ThrowIfNullOrEmpty(label);
        string begin = "-----BEGIN " + label + "-----";
        string end = "-----END " + label + "-----";

        int searchFrom = 0;
        while (true)
        {
            int b = pem.IndexOf(begin, searchFrom, StringComparison.Ordinal);
            if (b < 0) throw new FormatException($"no PEM block of type \"{label}\" found");
            // The BEGIN marker must start a line.
            if (b > 0 && pem[b - 1] != '\n' && pem[b - 1] != '\r')
            {
                searchFrom = b + begin.Length;
                continue;
            }
            int bodyStart = b + begin.Length;
            int e = pem.IndexOf(end, bodyStart, StringComparison.Ordinal);
            if (e < 0) throw new FormatException($"PEM block of type \"{label}\" has no END line");

            var body = pem.AsSpan(bodyStart, e - bodyStart);
            var sb = new StringBuilder(body.Length);
            foreach (char c in body)
            {
                if (!char.IsWhiteSpace(c)) sb.Append(c);
            }
            try
            {
                return Convert.FromBase64String(sb.ToString());
            }
            catch (FormatException)
            {
                throw new FormatException($"PEM block of type \"{label}\" is not valid base64");
            }
        }
    }
}
