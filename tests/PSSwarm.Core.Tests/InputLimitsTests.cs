using PSSwarm.Core.Security;
using PSSwarm.Core.State;

namespace PSSwarm.Core.Tests;

public class InputLimitsTests
{
    private static void Refused(Action validate, string messagePart)
    {
        var e = Assert.Throws<SwarmException>(validate);
        Assert.Equal(SwarmErrorKind.InvalidArgument, e.Kind);
        Assert.Contains(messagePart, e.Message);
    }

    // ---- IDs ----

    [Fact]
    public void Ids_Are25LowerCaseBase36Characters()
    {
        for (int i = 0; i < 20; i++) Assert.True(InputLimits.IsValidId(Identity.NewId()));
        Assert.True(InputLimits.IsValidNodeId("0123456789abcdefghijklmno"));
        Assert.False(InputLimits.IsValidId("0123456789abcdefghijklmn"));    // 24
        Assert.False(InputLimits.IsValidId("0123456789abcdefghijklmnop"));  // 26
        Assert.False(InputLimits.IsValidId("0123456789ABCDEFGHIJKLMNO"));
        Assert.False(InputLimits.IsValidId("0123456789abcdefghijklmn-"));
        Assert.False(InputLimits.IsValidId(""));
        Assert.False(InputLimits.IsValidId(null));
        InputLimits.ValidateNodeId("0123456789abcdefghijklmno");
        Refused(() => InputLimits.ValidateNodeId("n1"), "invalid node ID \"n1\": an ID is 25 characters of 0-9 and a-z");
        Refused(() => InputLimits.ValidateId("x", "cluster"), "invalid cluster ID \"x\"");
    }

    // ---- hostname ----

    [Theory]
    [InlineData("a")]
    [InlineData("node1")]
    [InlineData("Node-1.example.com")]
    [InlineData("9lives")]
    [InlineData("my_host")]
    [InlineData("host.")]
    public void Hostname_Accepted(string hostname)
    {
        Assert.True(InputLimits.IsValidHostname(hostname));
        InputLimits.ValidateHostname(hostname);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-node")]
    [InlineData(".node")]
    [InlineData("_node")]
    [InlineData("a b")]
    [InlineData("host:1")]
    [InlineData("hôst")]
    [InlineData("host\n")]
    [InlineData("a/b")]
    public void Hostname_Refused(string hostname)
    {
        Assert.False(InputLimits.IsValidHostname(hostname));
        Refused(() => InputLimits.ValidateHostname(hostname),
            "use 1 to 253 letters, digits, '.', '-' or '_', starting with a letter or digit");
    }

    [Fact]
    public void Hostname_LengthBoundaries()
    {
        Assert.True(InputLimits.IsValidHostname(new string('a', InputLimits.MaxHostnameLength)));
        Assert.False(InputLimits.IsValidHostname(new string('a', InputLimits.MaxHostnameLength + 1)));
        Assert.False(InputLimits.IsValidHostname(null));
        Refused(() => InputLimits.ValidateHostname("-x"), "invalid hostname \"-x\"");
    }

    [Fact]
    public void Messages_QuoteLongAndOddValuesShortly()
    {
        var e = Assert.Throws<SwarmException>(() => InputLimits.ValidateHostname(new string('a', 10_000)));
        Assert.True(e.Message.Length < 250, e.Message);
        Assert.Contains("…", e.Message);
        Assert.Equal("\"a\\u000ab\\\"\"", InputLimits.Quote("a\nb\""));
        Assert.Equal("null", InputLimits.Quote(null));
    }

    // ---- version ----

    [Theory]
    [InlineData("")]
    [InlineData("1.0.0")]
    [InlineData("1.2.0-preview.1")]
    [InlineData("1.0.0+abc")]
    public void Version_Accepted(string version)
    {
        Assert.True(InputLimits.IsValidVersion(version));
        InputLimits.ValidateVersion(version);
    }

    [Theory]
    [InlineData("1.0 beta")]
    [InlineData("v1_0")]
    [InlineData("1.0\n")]
    public void Version_Refused(string version) =>
        Refused(() => InputLimits.ValidateVersion(version), "use at most 64 letters, digits, '.', '+' or '-'");

    [Fact]
    public void Version_LengthBoundaries()
    {
        Assert.True(InputLimits.IsValidVersion(new string('1', InputLimits.MaxVersionLength)));
        Assert.False(InputLimits.IsValidVersion(new string('1', InputLimits.MaxVersionLength + 1)));
        Assert.False(InputLimits.IsValidVersion(null));
    }

    // ---- IP addresses ----

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("fd00::1")]
    [InlineData("::1")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("2001:db8:85a3::8a2e:370:7334")]
    public void IPAddress_Accepted(string address)
    {
        Assert.True(InputLimits.IsValidIPAddress(address, allowEmpty: false));
        InputLimits.ValidateIPAddress(address, allowEmpty: false);
    }

    [Theory]
    [InlineData("10.0.0.256")]
    [InlineData("010.0.0.1")]   // not as the swarm writes it
    [InlineData("10.1")]        // IPAddress.TryParse takes it, the swarm never writes it
    [InlineData("0x0a.0.0.1")]
    [InlineData("FD00::1")]     // upper case
    [InlineData("fd00:0::1")]   // not compressed
    [InlineData("fe80::1%2")]   // zone
    [InlineData("[fd00::1]")]
    [InlineData("10.0.0.1:2377")]
    [InlineData("host.example")]
    [InlineData(" 10.0.0.1")]
    public void IPAddress_Refused(string address)
    {
        Assert.False(InputLimits.IsValidIPAddress(address, allowEmpty: true));
        Refused(() => InputLimits.ValidateIPAddress(address, allowEmpty: true), "use a literal IPv4 or IPv6 address");
    }

    [Fact]
    public void IPAddress_EmptyOnlyWhenAllowed_AndLengthBound()
    {
        Assert.True(InputLimits.IsValidIPAddress("", allowEmpty: true));
        Assert.False(InputLimits.IsValidIPAddress("", allowEmpty: false));
        Assert.False(InputLimits.IsValidIPAddress(null, allowEmpty: true));
        Refused(() => InputLimits.ValidateIPAddress("", allowEmpty: false), "invalid IP address \"\"");
        // .NET writes at most 39 characters (no zone); 45 leaves room for the dotted forms.
        const string longest = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        Assert.True(InputLimits.IsValidIPAddress(longest, allowEmpty: false));
        Assert.False(InputLimits.IsValidIPAddress(new string('1', InputLimits.MaxIPAddressLength + 1), allowEmpty: false));
    }

    // ---- host:port ----

    [Theory]
    [InlineData("10.0.0.1:2377")]
    [InlineData("10.0.0.1:1")]
    [InlineData("10.0.0.1:65535")]
    [InlineData("[fd00::2]:2377")]
    [InlineData("[::1]:4242")]
    public void HostPort_Accepted(string hostPort)
    {
        Assert.True(InputLimits.IsValidHostPort(hostPort, allowEmpty: false));
        InputLimits.ValidateHostPort(hostPort, allowEmpty: false);
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("10.0.0.1:")]
    [InlineData("10.0.0.1:0")]
    [InlineData("10.0.0.1:65536")]
    [InlineData("10.0.0.1:02377")]
    [InlineData("10.0.0.1:+80")]
    [InlineData("10.0.0.1:99999999999")]
    [InlineData(":2377")]
    [InlineData("fd00::2:2377")]      // IPv6 needs brackets
    [InlineData("[10.0.0.1]:2377")]   // IPv4 must not have them
    [InlineData("[fd00::2]")]
    [InlineData("node1:2377")]        // names are resolved before they are stored
    [InlineData("[fe80::1%2]:2377")]
    public void HostPort_Refused(string hostPort)
    {
        Assert.False(InputLimits.IsValidHostPort(hostPort, allowEmpty: true));
        Refused(() => InputLimits.ValidateHostPort(hostPort, allowEmpty: true), "use IPv4:port or [IPv6]:port with a port from 1 to 65535");
    }

    [Fact]
    public void HostPort_EmptyOnlyWhenAllowed_AndLengthBound()
    {
        Assert.True(InputLimits.IsValidHostPort("", allowEmpty: true));
        Assert.False(InputLimits.IsValidHostPort("", allowEmpty: false));
        Assert.False(InputLimits.IsValidHostPort(null, allowEmpty: true));
        var longest = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";
        Assert.True(longest.Length <= InputLimits.MaxHostPortLength);
        Assert.True(InputLimits.IsValidHostPort(longest, allowEmpty: false));
        Assert.False(InputLimits.IsValidHostPort(new string('1', InputLimits.MaxHostPortLength + 1), allowEmpty: false));
    }

    // ---- labels ----

    [Fact]
    public void Labels_Accepted()
    {
        var labels = new Dictionary<string, string>
        {
            ["zone"] = "a", ["com.example/role"] = "db server", ["k"] = "", ["unicode"] = "Zürich 🚀",
            [new string('k', InputLimits.MaxLabelKeyLength)] = new string('v', InputLimits.MaxLabelValueLength),
        };
        Assert.True(InputLimits.IsValidLabels(labels));
        InputLimits.ValidateLabels(labels);
        InputLimits.ValidateLabels(new Dictionary<string, string>());
    }

    [Fact]
    public void Labels_CountBoundary()
    {
        var max = Enumerable.Range(0, InputLimits.MaxLabels).ToDictionary(i => $"k{i}", _ => "v");
        InputLimits.ValidateLabels(max);
        max["one-more"] = "v";
        Assert.False(InputLimits.IsValidLabels(max));
        Refused(() => InputLimits.ValidateLabels(max), "too many labels (101): a node may have at most 100");
    }

    [Theory]
    [InlineData("")]
    [InlineData("a=b")]
    [InlineData("a b")]
    [InlineData("a\tb")]
    [InlineData("zürich")]
    [InlineData("a\u007f")]
    public void Labels_BadKeysRefused(string key)
    {
        Assert.False(InputLimits.IsValidLabelKey(key));
        Refused(() => InputLimits.ValidateLabels(new Dictionary<string, string> { [key] = "v" }),
            "use 1 to 128 printable ASCII characters other than '=' and spaces");
    }

    [Fact]
    public void Labels_KeyLengthBoundary()
    {
        Assert.True(InputLimits.IsValidLabelKey(new string('k', InputLimits.MaxLabelKeyLength)));
        Assert.False(InputLimits.IsValidLabelKey(new string('k', InputLimits.MaxLabelKeyLength + 1)));
    }

    [Theory]
    [InlineData("line\nbreak")]
    [InlineData("nul\0")]
    [InlineData("tab\t")]
    [InlineData("del\u007f")]
    [InlineData("c1\u0085")]
    public void Labels_BadValuesRefused(string value)
    {
        Assert.False(InputLimits.IsValidLabelValue(value));
        Refused(() => InputLimits.ValidateLabels(new Dictionary<string, string> { ["k"] = value }),
            "invalid value for label \"k\": use at most 4096 characters and no control characters");
    }

    [Fact]
    public void Labels_ValueLengthBoundaryAndNulls()
    {
        Assert.True(InputLimits.IsValidLabelValue(new string('v', InputLimits.MaxLabelValueLength)));
        Assert.False(InputLimits.IsValidLabelValue(new string('v', InputLimits.MaxLabelValueLength + 1)));
        Assert.False(InputLimits.IsValidLabelValue(null));
        // Lone surrogates do not survive UTF-8 (xunit data would mangle them, hence here).
        Assert.False(InputLimits.IsValidLabelValue("lone" + (char)0xD800));
        Assert.False(InputLimits.IsValidLabelValue((char)0xDC00 + "x"));
        Assert.True(InputLimits.IsValidLabelValue("pair " + char.ConvertFromUtf32(0x1F680)));
        Assert.False(InputLimits.IsValidLabels(null));
        Refused(() => InputLimits.ValidateLabels(null), "labels are missing");
        Refused(() => InputLimits.ValidateLabels(new Dictionary<string, string> { ["k"] = null! }), "invalid value for label \"k\"");
    }

    // ---- status message ----

    [Fact]
    public void StatusMessage_LengthBoundary()
    {
        Assert.True(InputLimits.IsValidStatusMessage(""));
        Assert.True(InputLimits.IsValidStatusMessage(new string('m', InputLimits.MaxStatusMessageLength)));
        Assert.False(InputLimits.IsValidStatusMessage(new string('m', InputLimits.MaxStatusMessageLength + 1)));
        Assert.False(InputLimits.IsValidStatusMessage(null));
        Refused(() => InputLimits.ValidateStatusMessage(new string('m', 2000)), "at most 1024 characters");
    }

    [Fact]
    public void ErrorsAreSwarmInvalidArgument()
    {
        var e = Assert.Throws<SwarmException>(() => InputLimits.ValidateHostname(""));
        Assert.Equal("SwarmInvalidArgument", e.ErrorId);
    }
}
