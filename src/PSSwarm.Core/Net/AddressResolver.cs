using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;

namespace PSSwarm.Core.Net;

/// <summary>
/// Listen/advertise address resolution and advertise-address auto-detection, after moby
/// <c>daemon/cluster/listen_addr.go</c> (REFERENCE.md §4), with the improvements SPEC.md asks for.
/// </summary>
public static class AddressResolver
{
    public const int DefaultPort = 2377;

    private const string BadListenAddr = "listen address must be an IP address or network interface (with optional port number)";
    private const string BadAdvertiseAddr = "advertise address must be a non-zero IP address or network interface (with optional port number)";
    private const string SpecifyOne = " - specify one with -AdvertiseAddress";

    /// <summary>The interfaces of this process's network namespace (getifaddrs through .NET's NetworkInterface; never /sys).</summary>
    public static IReadOnlyList<NetInterface> GetSystemInterfaces()
    {
        var result = new List<NetInterface>();
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            var addresses = new List<IPAddress>();
            try
            {
                foreach (var ua in nic.GetIPProperties().UnicastAddresses)
                    addresses.Add(ua.Address);
            }
            catch (NetworkInformationException)
            {
                // An interface that vanished while we looked: keep it with no addresses.
            }
            result.Add(new NetInterface(
                nic.Name,
                nic.OperationalStatus == OperationalStatus.Up,
                nic.NetworkInterfaceType == NetworkInterfaceType.Loopback,
                addresses));
        }
        return result;
    }

    /// <summary>
    /// "IP", "IP:port", "[v6]:port", "ifname", "ifname:port" (":port" means 0.0.0.0); null/empty is 0.0.0.0:2377.
    /// </summary>
    public static IPEndPoint ResolveListenAddress(string? value, IReadOnlyList<NetInterface> interfaces)
    {
        ArgumentNullException.ThrowIfNull(interfaces);
        if (string.IsNullOrEmpty(value)) return new IPEndPoint(IPAddress.Any, DefaultPort);

        if (!TrySplitHostPort(value, out var host, out var port))
            throw new AddressException($"could not parse listen address {value}");
        int p = DefaultPort;
        if (port is not null && !TryParsePort(port, out p))
            throw new AddressException($"could not parse listen address {value}");

        if (host.Length == 0) return new IPEndPoint(IPAddress.Any, p);

        var iface = FindInterface(host, interfaces);
        if (iface is not null) return new IPEndPoint(ResolveInterfaceAddress(iface), p);

        if (!TryParseIp(host, out var ip)) throw new AddressException(BadListenAddr);
        return new IPEndPoint(ip, p);
    }

    /// <summary>
    /// Same syntax as the listen address; without a port the listen port is used. Null/empty: a specific
    /// listen IP, else <see cref="DetectAdvertiseAddress"/> with the listen port.
    /// </summary>
    public static IPEndPoint ResolveAdvertiseAddress(string? advertise, IPEndPoint listen, IReadOnlyList<NetInterface> interfaces)
    {
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentNullException.ThrowIfNull(interfaces);

        if (string.IsNullOrEmpty(advertise))
        {
            if (!IsUnspecified(listen.Address)) return new IPEndPoint(listen.Address, listen.Port);
            return new IPEndPoint(DetectAdvertiseAddress(interfaces), listen.Port);
        }

        if (!TrySplitHostPort(advertise, out var host, out var port) || host.Length == 0)
            throw new AddressException(BadAdvertiseAddr);
        int p = listen.Port;
        if (port is not null && !TryParsePort(port, out p))
            throw new AddressException(BadAdvertiseAddr);

        var iface = FindInterface(host, interfaces);
        if (iface is not null) return new IPEndPoint(ResolveInterfaceAddress(iface), p);

        if (!TryParseIp(host, out var ip) || IsUnspecified(ip)) throw new AddressException(BadAdvertiseAddr);
        return new IPEndPoint(ip, p);
    }

    /// <summary>
    /// The single global-unicast IPv4 address of the up, non-loopback interfaces (else the single IPv6 one);
    /// several or none is an <see cref="AddressException"/> listing the candidates.
    /// </summary>
    public static IPAddress DetectAdvertiseAddress(IReadOnlyList<NetInterface> interfaces)
    {
        ArgumentNullException.ThrowIfNull(interfaces);
        var v4 = new List<(IPAddress Address, string Interface)>();
        var v6 = new List<(IPAddress Address, string Interface)>();
        foreach (var iface in interfaces)
        {
            if (!iface.IsUp || iface.IsLoopback) continue;
            foreach (var raw in iface.Addresses)
            {
                var a = Normalize(raw);
                if (!IsGlobalUnicast(a)) continue;
                var list = a.AddressFamily == AddressFamily.InterNetwork ? v4 : v6;
                if (!list.Exists(c => c.Address.Equals(a) && c.Interface == iface.Name)) list.Add((a, iface.Name));
            }
        }

        var candidates = v4.Count > 0 ? v4 : v6;
        if (candidates.Count == 1) return candidates[0].Address;
        if (candidates.Count == 0) throw new AddressException("could not find the system's IP address" + SpecifyOne);

        string text;
        if (candidates.TrueForAll(c => c.Interface == candidates[0].Interface))
        {
            text = $"could not choose an IP address to advertise since this system has multiple addresses on interface {candidates[0].Interface} ("
                   + JoinList(candidates.Select(c => c.Address.ToString())) + ")";
        }
        else
        {
            text = "could not choose an IP address to advertise since this system has multiple addresses on different interfaces ("
                   + JoinList(candidates.Select(c => $"{c.Address} on {c.Interface}")) + ")";
        }
        throw new AddressException(text + SpecifyOne);
    }

    /// <summary>"10.0.0.1:2377" or "[fd00::2]:2377".</summary>
    public static string Format(IPEndPoint ep)
    {
        ArgumentNullException.ThrowIfNull(ep);
        var a = Normalize(ep.Address);
        string port = ep.Port.ToString(CultureInfo.InvariantCulture);
        return a.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{a}]:{port}" : $"{a}:{port}";
    }

    /// <summary>An interface named explicitly: its addresses without link-local ones; one IPv4 wins, else one IPv6.</summary>
    private static IPAddress ResolveInterfaceAddress(NetInterface iface)
    {
        var v4 = new List<IPAddress>();
        var v6 = new List<IPAddress>();
        foreach (var raw in iface.Addresses)
        {
            var a = Normalize(raw);
            if (IsLinkLocal(a)) continue;
            var list = a.AddressFamily == AddressFamily.InterNetwork ? v4 : v6;
            if (!list.Contains(a)) list.Add(a);
        }
        if (v4.Count == 1) return v4[0];
        if (v4.Count > 1) throw new AddressException($"interface {iface.Name} has more than one IPv4 address ({v4[0]} and {v4[1]})");
        if (v6.Count == 1) return v6[0];
        if (v6.Count > 1) throw new AddressException($"interface {iface.Name} has more than one IPv6 address ({v6[0]} and {v6[1]})");
        throw new AddressException($"interface {iface.Name} has no usable IPv4 or IPv6 address");
    }

    private static NetInterface? FindInterface(string name, IReadOnlyList<NetInterface> interfaces)
    {
        foreach (var iface in interfaces)
        {
            if (string.Equals(iface.Name, name, StringComparison.Ordinal)) return iface;
        }
        return null;
    }

    /// <summary>"a", "a and b", "a, b and c".</summary>
    private static string JoinList(IEnumerable<string> items)
    {
        var list = items.ToList();
        if (list.Count == 1) return list[0];
        return string.Join(", ", list.Take(list.Count - 1)) + " and " + list[^1];
    }

    /// <summary>
    /// Splits "host", "host:port", "[host]:port", "[host]" and a bare IPv6 address (no port).
    /// <paramref name="port"/> is null when absent. False on bracket syntax errors.
    /// </summary>
    private static bool TrySplitHostPort(string value, out string host, out string? port)
    {
        host = "";
        port = null;
        if (value.StartsWith('['))
        {
            int close = value.IndexOf(']');
            if (close < 0) return false;
            host = value[1..close];
            if (host.Length == 0 || host.Contains('[') || host.Contains(']')) return false;
            var rest = value[(close + 1)..];
            if (rest.Length == 0) return true;
            if (rest[0] != ':') return false;
            port = rest[1..];
            return true;
        }
        if (value.Contains(']')) return false;

        int colons = value.Count(c => c == ':');
        if (colons == 0)
        {
            host = value;
            return true;
        }
        if (colons == 1)
        {
            int i = value.IndexOf(':');
            host = value[..i];
            port = value[(i + 1)..];
            return true;
        }
        // Several colons without brackets: a bare IPv6 address (which cannot carry a port).
        host = value;
        return true;
    }

    private static bool TryParsePort(string text, out int port)
    {
        port = 0;
        if (text.Length == 0 || text.Length > 5) return false;
        foreach (char c in text)
        {
            if (!char.IsAsciiDigit(c)) return false;
        }
        port = int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
        return port is >= 1 and <= 65535;
    }

    /// <summary>A strict IP parser, like Go's net.ParseIP: dotted-quad IPv4 (no leading zeros) or IPv6 without a zone.</summary>
    private static bool TryParseIp(string text, out IPAddress address)
    {
        address = IPAddress.None;
        if (text.Contains(':'))
        {
            if (text.Contains('%') || !IPAddress.TryParse(text, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
                return false;
            address = Normalize(v6);
            return true;
        }

        var parts = text.Split('.');
        if (parts.Length != 4) return false;
        Span<byte> bytes = stackalloc byte[4];
        for (int i = 0; i < 4; i++)
        {
            var part = parts[i];
            if (part.Length is 0 or > 3 || (part.Length > 1 && part[0] == '0')) return false;
            foreach (char c in part)
            {
                if (!char.IsAsciiDigit(c)) return false;
            }
            int n = int.Parse(part, NumberStyles.None, CultureInfo.InvariantCulture);
            if (n > 255) return false;
            bytes[i] = (byte)n;
        }
        address = new IPAddress(bytes);
        return true;
    }

    /// <summary>IPv4-mapped IPv6 becomes IPv4 (as Go prints it); the IPv6 scope is dropped.</summary>
    private static IPAddress Normalize(IPAddress a)
    {
        if (a.IsIPv4MappedToIPv6) return a.MapToIPv4();
        if (a.AddressFamily == AddressFamily.InterNetworkV6 && a.ScopeId != 0) return new IPAddress(a.GetAddressBytes());
        return a;
    }

    private static bool IsUnspecified(IPAddress a)
    {
        a = Normalize(a);
        return a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any);
    }

    private static bool IsLinkLocal(IPAddress a)
    {
        var b = a.GetAddressBytes();
        return a.AddressFamily == AddressFamily.InterNetwork
            ? b[0] == 169 && b[1] == 254
            : b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
    }

    /// <summary>Go's net.IP.IsGlobalUnicast.</summary>
    private static bool IsGlobalUnicast(IPAddress a)
    {
        var b = a.GetAddressBytes();
        if (a.AddressFamily == AddressFamily.InterNetwork)
        {
            if (b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0) return false;      // unspecified
            if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) return false; // limited broadcast
            if (b[0] == 127) return false;                                            // loopback
            if (b[0] >= 224 && b[0] <= 239) return false;                             // multicast
            return !IsLinkLocal(a);
        }
        if (a.AddressFamily != AddressFamily.InterNetworkV6) return false;
        if (a.Equals(IPAddress.IPv6Any) || a.Equals(IPAddress.IPv6Loopback)) return false;
        if (b[0] == 0xff) return false;                                               // multicast
        return !IsLinkLocal(a);
    }
}
