using System.Net;
using Microsoft.Extensions.Time.Testing;
using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Daemon.Ca;

namespace PSSwarm.Daemon.Tests;

public class NodeSecurityTests
{
    private readonly TestPki pki = new();
    private readonly FakeTimeProvider clock = new(DateTimeOffset.UtcNow);

    private NodeSecurity Security(string? nodeId = null)
    {
        var id = nodeId ?? Identity.NewId();
        return new NodeSecurity(RootCA.Load(pki.Root.CertificatePem, null), pki.ClusterId, id, pki.Manager(id), clock);
    }

    [Fact]
    public void Identify_ReadsACertificateOfThisSwarm()
    {
        var w = Identity.NewId();
        var peer = Security().Identify(pki.Worker(w));
        Assert.NotNull(peer);
        Assert.Equal(w, peer.NodeId);
        Assert.False(peer.HasManagerCertificate);
    }

    [Fact]
    public void Identify_RefusesForeignExpiredAndOtherSwarmCertificates()
    {
        var security = Security();
        Assert.Null(security.Identify(null));
        Assert.Null(security.Identify(new TestPki().Manager(Identity.NewId())));                         // another root
        Assert.Null(security.Identify(pki.Issue(Identity.NewId(), NodeCertificates.ManagerRole, clusterId: Identity.NewId()))); // another swarm's O
        var cert = pki.Worker(Identity.NewId());
        clock.Advance(TimeSpan.FromDays(91));
        Assert.Null(security.Identify(cert));                                                          // expired by the swarm's clock
    }

    [Fact]
    public void ManagerServers_MustHoldAManagerCertificate_AndBeAManagerNow()
    {
        var security = Security();
        var manager = Identity.NewId();
        Assert.True(security.ValidateManagerServer(pki.Manager(manager)));
        Assert.False(security.ValidateManagerServer(pki.Worker(Identity.NewId())));      // a worker posing as a manager
        Assert.False(security.ValidateManagerServer(new TestPki().Manager(manager)));      // a manager of another root
        Assert.False(security.ValidateManagerServer(null));
        security.IsCurrentManager = id => id != manager;                                   // demoted since
        Assert.False(security.ValidateManagerServer(pki.Manager(manager)));
    }

    [Fact]
    public void Replace_AcceptsOnlyThisNodesCertificateFromThisRoot()
    {
        var id = Identity.NewId();
        var security = Security(id);
        X509Certificate2Holder seen = new();
        security.Replaced += c => seen.Value = c;
        var renewed = pki.Worker(id);
        security.Replace(renewed);
        Assert.Same(renewed, security.Certificate);
        Assert.Same(renewed, seen.Value);
        Assert.Throws<SwarmException>(() => security.Replace(pki.Worker(Identity.NewId())));
        Assert.Throws<SwarmException>(() => security.Replace(new TestPki().Worker(id)));
        Assert.Same(renewed, security.Certificate);
    }

    private sealed class X509Certificate2Holder { public System.Security.Cryptography.X509Certificates.X509Certificate2? Value; }
}

public class JoinTrustTests
{
    private readonly TestPki pki = new();

    [Fact]
    public void BeforePinning_AnyServerMayServeTheRoot_AfterItOnlyManagersOfIt()
    {
        var trust = new JoinTrust(TimeProvider.System);
        var manager = pki.Manager(Identity.NewId());
        Assert.True(trust.ValidateServer(manager));
        trust.Pin(pki.Root, "m1:2377");
        Assert.True(trust.ValidateServer(pki.Manager(Identity.NewId())));
        Assert.False(trust.ValidateServer(pki.Worker(Identity.NewId())));          // a reconnection to a worker posing as a manager
        Assert.False(trust.ValidateServer(new TestPki().Manager(Identity.NewId())));
        Assert.False(trust.ValidateServer(null));
    }

    [Fact]
    public void Pinning_ChecksTheServersAlreadySeen()
    {
        var trust = new JoinTrust(TimeProvider.System);
        Assert.True(trust.ValidateServer(pki.Manager(Identity.NewId())));
        Assert.True(trust.ValidateServer(pki.Worker(Identity.NewId())));           // it served the real root, but it is a worker
        var e = Assert.Throws<SwarmException>(() => trust.Pin(pki.Root, "fake:2377"));
        Assert.Equal(SwarmErrorKind.SecurityError, e.Kind);
        Assert.Contains("was not sent", e.Message);
    }

    [Fact]
    public void Pinning_RefusesAServerOfAnotherRoot()
    {
        var trust = new JoinTrust(TimeProvider.System);
        Assert.True(trust.ValidateServer(new TestPki().Manager(Identity.NewId())));
        Assert.Throws<SwarmException>(() => trust.Pin(pki.Root, "mitm:2377"));
    }
}

public class RenewalPolicyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(0.0, 0.5)]
    [InlineData(0.5, 0.65)]
    [InlineData(0.999999, 0.8)]
    public void RenewAt_IsBetweenHalfAndFourFifthsOfTheValidity(double random, double fraction)
    {
        var at = RenewalPolicy.RenewAt(T0, T0 + TimeSpan.FromHours(100), random);
        Assert.Equal(fraction * 100, (at - T0).TotalHours, 3);
    }

    [Fact]
    public void Reason_NamesWhyARenewalIsDue()
    {
        var notAfter = T0 + TimeSpan.FromHours(2);
        var renewAt = T0 + TimeSpan.FromHours(1.2);
        string M = NodeCertificates.ManagerRole, W = NodeCertificates.WorkerRole;
        var expiry = TimeSpan.FromHours(1); // + 1 h backdate = 2 h of validity
        Assert.Null(RenewalPolicy.Reason(T0 + TimeSpan.FromHours(1), T0, notAfter, renewAt, W, W, expiry));
        Assert.Equal("it reached its renewal time", RenewalPolicy.Reason(renewAt, T0, notAfter, renewAt, W, W, expiry));
        Assert.Equal("it has expired", RenewalPolicy.Reason(notAfter, T0, notAfter, renewAt, W, W, expiry));
        Assert.Equal("the node's role changed", RenewalPolicy.Reason(T0, T0, notAfter, renewAt, W, M, expiry));
        Assert.Equal("the swarm's certificate expiry changed", RenewalPolicy.Reason(T0, T0, notAfter, renewAt, W, W, TimeSpan.FromHours(5)));
        Assert.Null(RenewalPolicy.Reason(T0, T0, notAfter, renewAt, W, W, null)); // no heartbeat told it yet
    }

    [Fact]
    public void Backoff_GrowsFromFiveSecondsToAnHour()
    {
        Assert.Equal(TimeSpan.FromSeconds(5), RenewalPolicy.Backoff(1));
        Assert.Equal(TimeSpan.FromSeconds(10), RenewalPolicy.Backoff(2));
        Assert.Equal(TimeSpan.FromHours(1), RenewalPolicy.Backoff(30));
    }
}

public class JoinLimiterTests
{
    [Fact]
    public void AfterABurstOfFailures_AnAddressWaits_OthersDoNot()
    {
        var clock = new FakeTimeProvider();
        var limiter = new JoinLimiter(clock);
        var attacker = IPAddress.Parse("10.1.2.3");
        var other = IPAddress.Parse("10.1.2.4");
        for (var i = 0; i < JoinLimiter.Burst; i++)
        {
            Assert.True(limiter.TryEnter(attacker, out _));
            limiter.RecordFailure(attacker);
        }
        Assert.False(limiter.TryEnter(attacker, out var wait));
        Assert.True(wait > TimeSpan.Zero && wait <= JoinLimiter.RefillInterval);
        Assert.True(limiter.TryEnter(other, out _));
        Assert.True(limiter.TryEnter(IPAddress.Parse("::ffff:10.1.2.4"), out _));
        Assert.False(limiter.TryEnter(IPAddress.Parse("::ffff:10.1.2.3"), out _)); // the same address, IPv4-mapped
        clock.Advance(JoinLimiter.RefillInterval);
        Assert.True(limiter.TryEnter(attacker, out _));
        limiter.RecordFailure(attacker);
        Assert.False(limiter.TryEnter(attacker, out _));
    }

    [Fact]
    public void Memory_StaysBounded_UnderASpreadOutFlood()
    {
        var limiter = new JoinLimiter(new FakeTimeProvider());
        for (var i = 0; i < JoinLimiter.MaxAddresses * 2; i++)
            limiter.RecordFailure(new IPAddress(BitConverter.GetBytes(i + 1)));
        Assert.True(limiter.TryEnter(IPAddress.Parse("192.0.2.1"), out _));
    }
}
