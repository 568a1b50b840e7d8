using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace PSSwarm.Core.Security;

/// <summary>
/// A swarm's unlock key (swarmkit manager/encryption): 32 random bytes shown as
/// <c>SWMKEY-1-</c> + base64 (standard alphabet, no padding), 52 characters in all. The key
/// encryption key (KEK) that seals each manager's data key and node key at rest is derived from it.
/// </summary>
public static class UnlockKey
{
    public const string Prefix = "SWMKEY-1-";
    public const int KeyBytes = 32;
    public const int Length = 52;
    public const string InvalidMessage = "invalid key string";

    public static string Generate() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(KeyBytes)).TrimEnd('=');

    /// <summary>The key's 32 bytes, or false (Docker's "invalid key string").</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out byte[]? key)
    {
        key = null;
        if (text is null) return false;
        text = text.Trim();
        if (text.Length != Length || !text.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        var body = text[Prefix.Length..];
        if (body.Any(c => c is '=' or '-' or '_')) return false;
        try
        {
            var bytes = Convert.FromBase64String(body + "=");
            if (bytes.Length != KeyBytes) return false;
            key = bytes;
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>The key encryption key of an unlock key (HKDF-SHA256; the key itself has 256 bits of entropy).</summary>
    public static byte[] DeriveKek(ReadOnlySpan<byte> unlockKey)
        => HKDF.DeriveKey(HashAlgorithmName.SHA256, unlockKey.ToArray(), 32, salt: [], info: "psswarm manager kek v1"u8.ToArray());
}

/// <summary>
/// Authenticated encryption of small blobs with a 256-bit key (AES-256-GCM): a 4-byte magic that
/// says what the blob is, a random 12-byte nonce, the ciphertext and a 16-byte tag. The magic is
/// also the associated data, so a blob sealed for one purpose does not open as another.
/// </summary>
public static class Sealed
{
    /// <summary>A Raft log entry or snapshot under the swarm's data key.</summary>
    public static ReadOnlySpan<byte> StoreMagic => "PSE1"u8;
    /// <summary>A manager's data key under the key encryption key.</summary>
    public static ReadOnlySpan<byte> DataKeyMagic => "PSD1"u8;
    /// <summary>A manager's node key under the key encryption key.</summary>
    public static ReadOnlySpan<byte> NodeKeyMagic => "PSN1"u8;

    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    public static bool Is(ReadOnlySpan<byte> data, ReadOnlySpan<byte> magic) => data.Length >= magic.Length && data[..magic.Length].SequenceEqual(magic);

    public static byte[] Seal(ReadOnlySpan<byte> key, ReadOnlySpan<byte> magic, ReadOnlySpan<byte> plaintext)
    {
        var output = new byte[magic.Length + NonceBytes + plaintext.Length + TagBytes];
        magic.CopyTo(output);
        var nonce = output.AsSpan(magic.Length, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagBytes);
        aes.Encrypt(nonce, plaintext, output.AsSpan(magic.Length + NonceBytes, plaintext.Length), output.AsSpan(output.Length - TagBytes), magic);
        return output;
    }

    /// <summary>The plaintext; <see cref="CryptographicException"/> for a wrong key or altered data.</summary>
    public static byte[] Open(ReadOnlySpan<byte> key, ReadOnlySpan<byte> magic, ReadOnlySpan<byte> data)
    {
        if (!Is(data, magic) || data.Length < magic.Length + NonceBytes + TagBytes)
            throw new CryptographicException("not a sealed blob of this kind");
        var nonce = data.Slice(magic.Length, NonceBytes);
        var cipher = data[(magic.Length + NonceBytes)..^TagBytes];
        var plaintext = new byte[cipher.Length];
        using var aes = new AesGcm(key, TagBytes);
        aes.Decrypt(nonce, cipher, data[^TagBytes..], plaintext, magic);
        return plaintext;
    }

    public static string SealText(ReadOnlySpan<byte> key, ReadOnlySpan<byte> magic, string text)
        => Convert.ToBase64String(Seal(key, magic, Encoding.UTF8.GetBytes(text)));

    public static string OpenText(ReadOnlySpan<byte> key, ReadOnlySpan<byte> magic, string base64)
        => Encoding.UTF8.GetString(Open(key, magic, Convert.FromBase64String(base64)));
}
