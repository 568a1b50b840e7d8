using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PSSwarm.Core.State;

/// <summary>
/// Bounds and formats of what the swarm stores. Every value a client or a node sends ends up in
/// the replicated log, on every manager, for good: the leader checks it here before proposing.
/// The <c>Validate*</c> methods throw <see cref="SwarmException"/> (InvalidArgument) with a message
/// that says what is accepted; the <c>IsValid*</c> twins answer without throwing.
/// </summary>
public static class InputLimits
{
    /// <summary>Length of an object ID (swarmkit identity.NewID): 25 characters of [0-9a-z].</summary>
    public const int IdLength = 25;

    /// <summary>RFC 1035 limit of a DNS name, the longest hostname a node may report.</summary>
    public const int MaxHostnameLength = 253;

    public const int MaxVersionLength = 64;

    /// <summary>The longest textual IPv6 address (an IPv4-mapped one written in full).</summary>
    public const int MaxIPAddressLength = 45;

    /// <summary>"[IPv6]:port" fits with room to spare.</summary>
    public const int MaxHostPortLength = 64;

    public const int MaxLabels = 100;
    public const int MaxLabelKeyLength = 128;
    public const int MaxLabelValueLength = 4096;

    public const int MaxStatusMessageLength = 1024;

    /// <summary>Longest PEM text of the root CA certificate or key in the cluster object.</summary>
    public const int MaxPemLength = 64 * 1024;

    /// <summary>
    /// Largest serialized command the leader decodes. The field limits keep every valid command far
    /// below it (100 labels of 4096 characters, each escaped as \uXXXX at worst, are about 2.5 MB).
    /// </summary>
    public const int MaxCommandBytes = 4 * 1024 * 1024;

    /// <summary>How much of an offending value error messages quote.</summary>
    private const int MaxQuotedLength = 64;

    // ---- IDs ----

    /// <summary>25 characters of [0-9a-z], as <see cref="Security.Identity.NewId"/> makes them.</summary>
    public static bool IsValidId(string? id) => Security.Identity.IsValid(id);

    /// <summary>Throws unless <paramref name="id"/> is a valid object ID; <paramref name="what"/> names the object ("node", "cluster").</summary>
    public static void ValidateId(string? id, string what)
    {
        if (!IsValidId(id))
            throw Invalid($"invalid {what} ID {Quote(id)}: an ID is {IdLength} characters of 0-9 and a-z");
    }

    public static bool IsValidNodeId(string? id) => IsValidId(id);

    public static void ValidateNodeId(string? id) => ValidateId(id, "node");

    // ---- hostname, version, status message ----

    /// <summary>1 to 253 letters, digits, '.', '-' or '_', starting with a letter or digit.</summary>
    public static bool IsValidHostname(string? hostname)
    {
        if (string.IsNullOrEmpty(hostname) || hostname.Length > MaxHostnameLength) return false;
        if (!char.IsAsciiLetterOrDigit(hostname[0])) return false;
        foreach (char c in hostname)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '-' or '_')) return false;
        }
        return true;
    }

    public static void ValidateHostname(string? hostname)
    {
        if (!IsValidHostname(hostname))
            throw Invalid($"invalid hostname {Quote(hostname)}: use 1 to {MaxHostnameLength} letters, digits, '.', '-' or '_', starting with a letter or digit");
    }

    /// <summary>0 to 64 characters of [0-9A-Za-z.+-] (a psswarmd version such as "1.2.0-preview.1").</summary>
    public static bool IsValidVersion(string? version)
    {
        if (version is null || version.Length > MaxVersionLength) return false;
        foreach (char c in version)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '+' or '-')) return false;
        }
        return true;
    }

    public static void ValidateVersion(string? version)
    {
        if (!IsValidVersion(version))
            throw Invalid($"invalid version {Quote(version)}: use at most {MaxVersionLength} letters, digits, '.', '+' or '-'");
    }

    /// <summary>At most 1024 characters of well-formed text.</summary>
    public static bool IsValidStatusMessage(string? message)
        => message is not null && message.Length <= MaxStatusMessageLength && IsWellFormed(message);

    public static void ValidateStatusMessage(string? message)
    {
        if (!IsValidStatusMessage(message))
            throw Invalid($"invalid status message {Quote(message)}: use at most {MaxStatusMessageLength} characters");
    }

    // ---- addresses ----

    /// <summary>
    /// A literal IPv4 or IPv6 address exactly as the swarm writes it (<see cref="IPAddress.ToString"/>:
    /// no leading zeros, lower-case compressed IPv6, no zone), at most 45 characters. The empty string
    /// only when <paramref name="allowEmpty"/>.
    /// </summary>
    public static bool IsValidIPAddress(string? address, bool allowEmpty)
    {
        if (address is null) return false;
        if (address.Length == 0) return allowEmpty;
        return address.Length <= MaxIPAddressLength && ParseCanonical(address) is not null;
    }

    public static void ValidateIPAddress(string? address, bool allowEmpty)
    {
        if (!IsValidIPAddress(address, allowEmpty))
            throw Invalid($"invalid IP address {Quote(address)}: use a literal IPv4 or IPv6 address such as 10.0.0.1 or fd00::1");
    }

    /// <summary>
    /// "IPv4:port" or "[IPv6]:port" (a manager's cluster address, as AddressResolver.Format writes
    /// it), at most 64 characters, port 1 to 65535 without leading zeros. The empty string only when
    /// <paramref name="allowEmpty"/> (a worker has no manager address).
    /// </summary>
    public static bool IsValidHostPort(string? hostPort, bool allowEmpty)
    {
        if (hostPort is null) return false;
        if (hostPort.Length == 0) return allowEmpty;
        if (hostPort.Length > MaxHostPortLength) return false;

        int colon = hostPort.LastIndexOf(':');
        if (colon <= 0) return false;
        string host = hostPort[..colon], port = hostPort[(colon + 1)..];
        if (!IsValidPort(port)) return false;

        if (host.StartsWith('[') && host.EndsWith(']'))
            return ParseCanonical(host[1..^1]) is { AddressFamily: AddressFamily.InterNetworkV6 };
        return ParseCanonical(host) is { AddressFamily: AddressFamily.InterNetwork };
    }

    public static void ValidateHostPort(string? hostPort, bool allowEmpty)
    {
        if (!IsValidHostPort(hostPort, allowEmpty))
            throw Invalid($"invalid address {Quote(hostPort)}: use IPv4:port or [IPv6]:port with a port from 1 to 65535, at most {MaxHostPortLength} characters");
    }

    private static bool IsValidPort(string port)
    {
        if (port.Length is 0 or > 5 || port[0] == '0') return false;
        foreach (char c in port)
        {
            if (!char.IsAsciiDigit(c)) return false;
        }
        return int.Parse(port, NumberStyles.None, CultureInfo.InvariantCulture) <= 65535;
    }

    /// <summary>The address when <paramref name="text"/> is one written exactly as IPAddress.ToString writes it, else null.</summary>
    private static IPAddress? ParseCanonical(string text)
    {
        // IPAddress.TryParse also takes "10.1", "0x0a.0.0.1", "010.0.0.1" and zones ("fe80::1%eth0"):
        // the round trip keeps one spelling per address, so equal addresses compare equal as text.
        if (text.Contains('%') || !IPAddress.TryParse(text, out var address)) return null;
        if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)) return null;
        return string.Equals(address.ToString(), text, StringComparison.Ordinal) ? address : null;
    }

    // ---- labels ----

    /// <summary>1 to 128 printable ASCII characters, no spaces and no '='.</summary>
    public static bool IsValidLabelKey(string? key)
    {
        if (string.IsNullOrEmpty(key) || key.Length > MaxLabelKeyLength) return false;
        foreach (char c in key)
        {
            if (c is < '!' or > '~' or '=') return false;
        }
        return true;
    }

    /// <summary>0 to 4096 characters, no control characters.</summary>
    public static bool IsValidLabelValue(string? value)
    {
        if (value is null || value.Length > MaxLabelValueLength) return false;
        foreach (char c in value)
        {
            if (char.IsControl(c)) return false;
        }
        return IsWellFormed(value);
    }

    public static bool IsValidLabels(IReadOnlyDictionary<string, string>? labels)
    {
        if (labels is null || labels.Count > MaxLabels) return false;
        foreach (var (key, value) in labels)
        {
            if (!IsValidLabelKey(key) || !IsValidLabelValue(value)) return false;
        }
        return true;
    }

    public static void ValidateLabelKey(string? key)
    {
        if (!IsValidLabelKey(key))
            throw Invalid($"invalid label key {Quote(key)}: use 1 to {MaxLabelKeyLength} printable ASCII characters other than '=' and spaces");
    }

    public static void ValidateLabels(IReadOnlyDictionary<string, string>? labels)
    {
        if (labels is null)
            throw Invalid("the labels are missing");
        if (labels.Count > MaxLabels)
            throw Invalid($"too many labels ({labels.Count}): a node may have at most {MaxLabels}");
        foreach (var (key, value) in labels)
        {
            ValidateLabelKey(key);
            if (!IsValidLabelValue(value))
                throw Invalid($"invalid value for label {Quote(key)}: use at most {MaxLabelValueLength} characters and no control characters");
        }
    }

    // ---- helpers ----

    /// <summary>
    /// A value quoted for an error message: at most 64 characters (then "…"), control characters and
    /// quotes escaped, "null" for null. Messages must stay short and printable whatever a client sent.
    /// </summary>
    public static string Quote(string? value)
    {
        if (value is null) return "null";
        var sb = new StringBuilder(Math.Min(value.Length, MaxQuotedLength) + 8).Append('"');
        foreach (char c in value.Length > MaxQuotedLength ? value[..MaxQuotedLength] : value)
        {
            if (c == '"' || c == '\\') sb.Append('\\').Append(c);
            else if (char.IsControl(c) || char.IsSurrogate(c)) sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            else sb.Append(c);
        }
        if (value.Length > MaxQuotedLength) sb.Append('…');
        return sb.Append('"').ToString();
    }

    /// <summary>No lone UTF-16 surrogates: the text survives a UTF-8 round trip through the log.</summary>
    private static bool IsWellFormed(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]))
            {
                if (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1])) return false;
                i++;
            }
            else if (char.IsLowSurrogate(text[i]))
            {
                return false;
            }
        }
        return true;
    }

    private static SwarmException Invalid(string message) => SwarmErrors.InvalidArgument(message);
}
