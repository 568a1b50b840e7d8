using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace PSSwarm.Core.Security;

/// <summary>
/// A swarm join token: <c>SWMTKN-1-&lt;digest&gt;-&lt;secret&gt;</c> or <c>SWMTKN-2-&lt;0|1&gt;-&lt;digest&gt;-&lt;secret&gt;</c>
/// (swarmkit <c>ca/config.go</c> GenerateJoinToken / ParseJoinToken).
/// </summary>
public sealed class JoinToken
{
    public const string Prefix = "SWMTKN";

    /// <summary>ceil(log36(2^256)): the digest length in base-36 characters.</summary>
    public const int DigestLength = 50;

    /// <summary>ceil(log36(2^128)): the secret length in base-36 characters.</summary>
    public const int SecretLength = 25;

    private const int SecretEntropyBytes = 16;
    private const string InvalidMessage = "invalid join token";

    private readonly byte[] _digestBytes; // 32 bytes, big-endian

    private JoinToken(int version, bool fips, string digest, string secret, byte[] digestBytes)
    {
        Version = version;
        Fips = fips;
        Digest = digest;
        Secret = secret;
        _digestBytes = digestBytes;
    }

    /// <summary>1 or 2.</summary>
    public int Version { get; }

    /// <summary>The FIPS flag of a v2 token (always false for v1).</summary>
    public bool Fips { get; }

    /// <summary>The root CA digest part: 50 base-36 characters, as written in the token.</summary>
    public string Digest { get; }

    /// <summary>The secret part: 25 base-36 characters, as written in the token.</summary>
    public string Secret { get; }

    /// <summary>The digest as 64 lower-case hex characters (for "remote CA does not match fingerprint. Expected: &lt;hex&gt;").</summary>
    public string ExpectedSha256Hex => Convert.ToHexStringLower(_digestBytes);

    /// <summary>The token text.</summary>
    public override string ToString() => Version == 1
        ? $"{Prefix}-1-{Digest}-{Secret}"
        : $"{Prefix}-2-{(Fips ? '1' : '0')}-{Digest}-{Secret}";

    /// <summary>SHA-256 of the exact root CA PEM bytes, in base 36, left-padded to 50 characters.</summary>
    public static string DigestOf(ReadOnlySpan<byte> rootCaPem)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(rootCaPem, hash);
        return Base36.Encode(hash, DigestLength);
    }

    /// <summary>16 random bytes in base 36, left-padded to 25 characters.</summary>
    public static string NewSecret()
    {
        Span<byte> secret = stackalloc byte[SecretEntropyBytes];
        RandomNumberGenerator.Fill(secret);
        return Base36.Encode(secret, SecretLength);
    }

    /// <summary>A new v1 token for the root CA whose PEM bytes are given: <c>SWMTKN-1-&lt;digest&gt;-&lt;new secret&gt;</c> (85 characters).</summary>
    public static string Generate(ReadOnlySpan<byte> rootCaPem) => $"{Prefix}-1-{DigestOf(rootCaPem)}-{NewSecret()}";

    /// <summary>Parses a token; every failure throws <see cref="FormatException"/> with the message "invalid join token".</summary>
    public static JoinToken Parse(string text) =>
        TryParse(text, out var token) ? token : throw new FormatException(InvalidMessage);

    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out JoinToken? token)
    {
        token = null;
        if (string.IsNullOrEmpty(text)) return false;

        var parts = text.Split('-');
        if (parts.Length < 4 || parts[0] != Prefix) return false;

        bool fips = false;
        int version;
        switch (parts[1])
        {
            case "1":
                if (parts.Length != 4) return false;
                version = 1;
                break;
            case "2":
                if (parts.Length != 5 || (parts[2] != "0" && parts[2] != "1")) return false;
                fips = parts[2] == "1";
                version = 2;
                break;
            default:
                return false;
        }

        string secret = parts[^1];
        string digest = parts[^2];
        if (digest.Length != DigestLength || secret.Length != SecretLength) return false;

        // Stricter than swarmkit (which ignores SetString's failure and reports a fingerprint
        // mismatch later): characters outside [0-9A-Za-z], or a digest above 2^256, are a malformed token.
        if (!Base36.TryDecode(digest, out var value) || value.Length > SHA256.HashSizeInBytes) return false;
        if (!IsBase36(secret)) return false;

        var digestBytes = new byte[SHA256.HashSizeInBytes];
        value.CopyTo(digestBytes, digestBytes.Length - value.Length);
        token = new JoinToken(version, fips, digest, secret, digestBytes);
        return true;
    }

    /// <summary>True when the token's digest is the SHA-256 of these exact root CA PEM bytes.</summary>
    public bool MatchesRootCA(ReadOnlySpan<byte> rootCaPem)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(rootCaPem, hash);
        return CryptographicOperations.FixedTimeEquals(hash, _digestBytes);
    }

    /// <summary>Constant-time comparison of two strings' UTF-8 bytes (as swarmkit's subtle.ConstantTimeCompare); false when either is null.</summary>
    public static bool ConstantTimeEquals(string? a, string? b)
    {
        if (a is null || b is null) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));
    }

    private static bool IsBase36(string s)
    {
        foreach (char c in s)
        {
            if (!char.IsAsciiLetterOrDigit(c)) return false;
        }
        return true;
    }
}
