using System.Security.Cryptography;

namespace PSSwarm.Core.Security;

/// <summary>Random object IDs, as swarmkit's <c>identity.NewID</c>.</summary>
public static class Identity
{
    private const int EntropyBytes = 17;
    private const int IdLength = 25;

    /// <summary>17 random bytes with the top bit set, in base 36, characters [1..26): always 25 chars of [0-9a-z].</summary>
    public static string NewId()
    {
        Span<byte> p = stackalloc byte[EntropyBytes];
        RandomNumberGenerator.Fill(p);
        p[0] |= 0x80; // fixes the length of the base-36 text (27 digits), so no padding is needed
        return Base36.Encode(p).Substring(1, IdLength);
    }

    /// <summary>True for an ID of <see cref="NewId"/>'s shape: 25 characters of [0-9a-z].</summary>
    public static bool IsValid(string? id)
        => id is { Length: IdLength } && id.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'z');
}
