using System.Net;
using PSSwarm.Core.Net;

namespace PSSwarm.Core.Tests;

public class AddressResolverTests
{
    private static NetInterface If(string name, params string[] addrs) => new(name, true, false, addrs.Select(IPAddress.Parse).ToList());
    private static NetInterface Down(string name, params string[] addrs) => new(name, false, false, addrs.Select(IPAddress.Parse).ToList());
    private static readonly NetInterface Lo = new("lo", true, true, [IPAddress.Parse("127.0.0.1"), IPAddress.Parse("::1")]);

    private static readonly IPEndPoint AnyListen = new(IPAddress.Any, 2377);

    private static string DetectError(params NetInterface[] ifs) =>
        Assert.Throws<AddressException>(() => AddressResolver.DetectAdvertiseAddress(ifs)).Message;

    // ---- auto-detection ----

    [Fact]
    public void Detect_SingleIPv4()
    {
        var ip = AddressResolver.DetectAdvertiseAddress([Lo, If("eth0", "10.99.0.2", "fe80::1")]);
        Assert.Equal(IPAddress.Parse("10.99.0.2"), ip);
    }

    [Fact]
    public void Detect_IPv4WinsOverIPv6()
    {
        Assert.Equal(IPAddress.Parse("192.0.2.2"),
            AddressResolver.DetectAdvertiseAddress([Lo, If("eth0", "192.0.2.2", "fd00::2", "fe80::fc:ff:fe00:1"), If("eth1", "2001:db8::5")]));
    }

    [Fact]
    public void Detect_TwoIPv4OnOneInterface()
    {
        Assert.Equal(
            "could not choose an IP address to advertise since this system has multiple addresses on interface eth0 (10.99.0.2 and 10.99.0.3) - specify one with -AdvertiseAddress",
            DetectError(Lo, If("eth0", "10.99.0.2", "10.99.0.3")));
    }

    [Fact]
    public void Detect_ThreeIPv4OnOneInterface_ListsAll()
    {
        Assert.Equal(
            "could not choose an IP address to advertise since this system has multiple addresses on interface eth0 (10.99.0.2, 10.99.0.3 and 10.99.0.4) - specify one with -AdvertiseAddress",
            DetectError(If("eth0", "10.99.0.2", "10.99.0.3", "10.99.0.4")));
    }

    [Fact]
    public void Detect_IPv4OnTwoInterfaces()
    {
        Assert.Equal(
            "could not choose an IP address to advertise since this system has multiple addresses on different interfaces (10.99.0.2 on eth0 and 10.99.0.3 on eth1) - specify one with -AdvertiseAddress",
            DetectError(Lo, If("eth0", "10.99.0.2", "fd00::2"), If("eth1", "10.99.0.3")));
    }

    [Fact]
    public void Detect_ThreeCandidatesOnSeveralInterfaces()
    {
        Assert.Equal(
            "could not choose an IP address to advertise since this system has multiple addresses on different interfaces (10.0.0.1 on eth0, 10.0.0.2 on eth0 and 10.0.1.1 on eth1) - specify one with -AdvertiseAddress",
            DetectError(If("eth0", "10.0.0.1", "10.0.0.2"), If("eth1", "10.0.1.1")));
    }

    [Fact]
    public void Detect_NothingGlobal()
    {
        var msg = DetectError(Lo, If("eth0", "169.254.3.4", "fe80::1"), If("dummy0", "224.0.0.5", "ff02::1"));
        Assert.Equal("could not find the system's IP address - specify one with -AdvertiseAddress", msg);
        Assert.Equal(msg, DetectError());
    }

    [Fact]
    public void Detect_OnlyOneIPv6Ula()
    {
        Assert.Equal(IPAddress.Parse("fd00::2"), AddressResolver.DetectAdvertiseAddress([Lo, If("eth0", "fd00::2", "fe80::2")]));
    }

    [Fact]
    public void Detect_TwoIPv6()
    {
        Assert.Equal(
            "could not choose an IP address to advertise since this system has multiple addresses on different interfaces (fd00::2 on eth0 and 2001:db8::1 on eth1) - specify one with -AdvertiseAddress",
            DetectError(If("eth0", "fd00::2"), If("eth1", "2001:db8::1")));
    }

    [Fact]
    public void Detect_IgnoresDownAndLoopbackInterfaces()
    {
        Assert.Equal(IPAddress.Parse("10.99.0.2"),
            AddressResolver.DetectAdvertiseAddress([Lo, Down("eth1", "10.99.0.3"), If("eth0", "10.99.0.2"),
                new NetInterface("lo2", true, true, [IPAddress.Parse("10.1.1.1")])]));
    }

    // ---- listen address ----

    [Theory]
    [InlineData(null, "0.0.0.0:2377")]
    [InlineData("", "0.0.0.0:2377")]
    [InlineData("0.0.0.0", "0.0.0.0:2377")]
    [InlineData("0.0.0.0:4000", "0.0.0.0:4000")]
    [InlineData(":4000", "0.0.0.0:4000")]
    [InlineData("10.99.0.2", "10.99.0.2:2377")]
    [InlineData("10.99.0.2:2378", "10.99.0.2:2378")]
    [InlineData("[fd00::2]:2377", "[fd00::2]:2377")]
    [InlineData("[fd00::2]", "[fd00::2]:2377")]
    [InlineData("fd00::2", "[fd00::2]:2377")]
    [InlineData("[::]:2400", "[::]:2400")]
    [InlineData("eth0", "192.0.2.2:2377")]
    [InlineData("eth0:2400", "192.0.2.2:2400")]
    [InlineData("lo", "127.0.0.1:2377")]
    [InlineData("lo:5000", "127.0.0.1:5000")]
    [InlineData("v6only", "[fd00::9]:2377")]
    [InlineData("127.0.0.1:65535", "127.0.0.1:65535")]
    public void Listen_Resolves(string? value, string expected)
    {
        var ifs = new[] { Lo, If("eth0", "192.0.2.2", "fd00::2", "fe80::fc:ff:fe00:1"), If("v6only", "fe80::9", "fd00::9") };
        Assert.Equal(expected, AddressResolver.Format(AddressResolver.ResolveListenAddress(value, ifs)));
    }

    [Theory]
    [InlineData("10.0.0.1:0")]
    [InlineData("10.0.0.1:65536")]
    [InlineData("10.0.0.1:")]
    [InlineData("10.0.0.1:abc")]
    [InlineData("10.0.0.1:-1")]
    [InlineData("eth0:99999")]
    [InlineData("[fd00::2]:x")]
    [InlineData("[fd00::2")]
    [InlineData("[fd00::2]2377")]
    public void Listen_BadPortOrSyntax(string value)
    {
        var e = Assert.Throws<AddressException>(() => AddressResolver.ResolveListenAddress(value, [Lo, If("eth0", "192.0.2.2")]));
        Assert.Equal($"could not parse listen address {value}", e.Message);
    }

    [Theory]
    [InlineData("eth9")]
    [InlineData("example.com:2377")]
    [InlineData("10.0.0")]
    [InlineData("10.0.0.256")]
    [InlineData("010.0.0.1")]
    [InlineData("1")]
    [InlineData("fe80::1%eth0")]
    public void Listen_NotAnIpOrInterface(string value)
    {
        var e = Assert.Throws<AddressException>(() => AddressResolver.ResolveListenAddress(value, [Lo, If("eth0", "192.0.2.2")]));
        Assert.Equal("listen address must be an IP address or network interface (with optional port number)", e.Message);
    }

    [Fact]
    public void Interface_WithTwoIPv4_Fails()
    {
        var ifs = new[] { If("eth0", "10.99.0.2", "10.99.0.3", "fd00::2") };
        Assert.Equal("interface eth0 has more than one IPv4 address (10.99.0.2 and 10.99.0.3)",
            Assert.Throws<AddressException>(() => AddressResolver.ResolveListenAddress("eth0", ifs)).Message);
        Assert.Equal("interface eth0 has more than one IPv4 address (10.99.0.2 and 10.99.0.3)",
            Assert.Throws<AddressException>(() => AddressResolver.ResolveAdvertiseAddress("eth0:2400", AnyListen, ifs)).Message);
    }

    [Fact]
    public void Interface_WithTwoIPv6_Fails()
    {
        var ifs = new[] { If("eth0", "fd00::2", "fd00::3", "fe80::1") };
        Assert.Equal("interface eth0 has more than one IPv6 address (fd00::2 and fd00::3)",
            Assert.Throws<AddressException>(() => AddressResolver.ResolveListenAddress("eth0", ifs)).Message);
    }

    [Fact]
    public void Interface_WithOneIPv4AndSeveralIPv6_UsesIPv4()
    {
        var ifs = new[] { If("eth0", "fd00::2", "2001:db8::2", "10.1.2.3") };
        Assert.Equal("10.1.2.3:2377", AddressResolver.Format(AddressResolver.ResolveListenAddress("eth0", ifs)));
    }

    [Fact]
    public void Interface_WithOnlyLinkLocal_Fails()
    {
        var ifs = new[] { If("eth0", "169.254.1.1", "fe80::1"), If("empty") };
        Assert.Equal("interface eth0 has no usable IPv4 or IPv6 address",
            Assert.Throws<AddressException>(() => AddressResolver.ResolveListenAddress("eth0", ifs)).Message);
        Assert.Equal("interface empty has no usable IPv4 or IPv6 address",
            Assert.Throws<AddressException>(() => AddressResolver.ResolveAdvertiseAddress("empty", AnyListen, ifs)).Message);
    }

    // ---- advertise address ----

    private const string BadAdvertise = "advertise address must be a non-zero IP address or network interface (with optional port number)";

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("0.0.0.0:2377")]
    [InlineData("::")]
    [InlineData("[::]:2377")]
    [InlineData("not-an-interface")]
    [InlineData(":2377")]
    [InlineData("10.0.0.1:0")]
    [InlineData("10.0.0.1:70000")]
    [InlineData("10.0.0.1:port")]
    [InlineData("[fd00::2")]
    public void Advertise_Refused(string value)
    {
        var e = Assert.Throws<AddressException>(() => AddressResolver.ResolveAdvertiseAddress(value, AnyListen, [Lo, If("eth0", "192.0.2.2")]));
        Assert.Equal(BadAdvertise, e.Message);
    }

    [Fact]
    public void Advertise_WithoutPort_UsesListenPort()
    {
        var listen = new IPEndPoint(IPAddress.Any, 4567);
        var ifs = new[] { Lo, If("eth0", "192.0.2.2") };
        Assert.Equal("10.1.1.1:4567", AddressResolver.Format(AddressResolver.ResolveAdvertiseAddress("10.1.1.1", listen, ifs)));
        Assert.Equal("192.0.2.2:4567", AddressResolver.Format(AddressResolver.ResolveAdvertiseAddress("eth0", listen, ifs)));
        Assert.Equal("[fd00::7]:4567", AddressResolver.Format(AddressResolver.ResolveAdvertiseAddress("fd00::7", listen, ifs)));
        Assert.Equal("192.0.2.2:4567", AddressResolver.Format(AddressResolver.ResolveAdvertiseAddress(null, listen, ifs)));
    }

    [Fact]
    public void Advertise_WithPort_KeepsIt()
    {
        var ifs = new[] { Lo, If("eth0", "192.0.2.2") };
        Assert.Equal("10.1.1.1:3000", AddressResolver.Format(AddressResolver.ResolveAdvertiseAddress("10.1.1.1:3000", AnyListen, ifs)));
        Assert.Equal("[fd00::7]:3000", AddressResolver.Format(AddressResolver.ResolveAdvertiseAddress("[fd00::7]:3000", AnyListen, ifs)));
        Assert.Equal("192.0.2.2:3001", AddressResolver.Format(AddressResolver.ResolveAdvertiseAddress("eth0:3001", AnyListen, ifs)));
        Assert.Equal("127.0.0.1:3002", AddressResolver.Format(AddressResolver.ResolveAdvertiseAddress("lo:3002", AnyListen, ifs)));
    }

    [Fact]
    public void Advertise_Empty_UsesSpecificListenIp()
    {
        // Several candidates would make detection fail: a specific listen IP must win without detection.
        var ifs = new[] { Lo, If("eth0", "10.0.0.1", "10.0.0.2") };
        var listen = AddressResolver.ResolveListenAddress("10.0.0.2:2400", ifs);
        Assert.Equal("10.0.0.2:2400", AddressResolver.Format(AddressResolver.ResolveAdvertiseAddress(null, listen, ifs)));
        Assert.Equal("10.0.0.2:2400", AddressResolver.Format(AddressResolver.ResolveAdvertiseAddress("", listen, ifs)));

        var loListen = AddressResolver.ResolveListenAddress("lo", ifs);
        Assert.Equal("127.0.0.1:2377", AddressResolver.Format(AddressResolver.ResolveAdvertiseAddress(null, loListen, ifs)));
    }

    [Fact]
    public void Advertise_Empty_WithWildcardListen_Detects()
    {
        var ifs = new[] { Lo, If("eth0", "10.0.0.1", "10.0.0.2") };
        var e = Assert.Throws<AddressException>(() => AddressResolver.ResolveAdvertiseAddress(null, AnyListen, ifs));
        Assert.StartsWith("could not choose an IP address to advertise", e.Message);

        var v6Any = new IPEndPoint(IPAddress.IPv6Any, 2377);
        Assert.Equal("10.9.9.9:2377",
            AddressResolver.Format(AddressResolver.ResolveAdvertiseAddress(null, v6Any, [Lo, If("eth0", "10.9.9.9")])));
    }

    [Fact]
    public void Format_Works()
    {
        Assert.Equal("10.0.0.1:2377", AddressResolver.Format(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 2377)));
        Assert.Equal("[fd00::2]:2377", AddressResolver.Format(new IPEndPoint(IPAddress.Parse("fd00::2"), 2377)));
        Assert.Equal("10.0.0.1:1", AddressResolver.Format(new IPEndPoint(IPAddress.Parse("::ffff:10.0.0.1"), 1)));
    }

    // ---- the real system (smoke) ----

    [Fact]
    public void SystemInterfaces_IncludeLoopback()
    {
        var ifs = AddressResolver.GetSystemInterfaces();
        Assert.NotEmpty(ifs);
        var lo = Assert.Single(ifs, i => i.IsLoopback && i.Addresses.Any(IPAddress.IsLoopback));
        Assert.Equal("127.0.0.1:2377", AddressResolver.Format(AddressResolver.ResolveListenAddress(lo.Name, ifs)));
    }
}
