using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Time.Testing;
using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Ca;

namespace PSSwarm.Daemon.Tests;

/// <summary>A node's trust during a root rotation: what it accepts, from whom, and what it refuses.</summary>
public class TrustRootsTests
{
    private readonly TestPki pki = new();
    private readonly RootCA next = RootCA.Create();
    private readonly FakeTimeProvider clock = new(DateTimeOffset.UtcNow);

    private X509Certificate2 FromNext(string role)
    {
        var (keyPem, csr) = NodeCertificates.NewKeyAndCsr();
        return NodeCertificates.LoadWithKey(next.SignNodeCertificate(csr, Identity.NewId(), role, pki.ClusterId, TimeSpan.FromDays(1)), keyPem);
    }

    private RootCA OldRoot => RootCA.Load(pki.Root.CertificatePem, null);

    [Fact]
    public void ANextRoot_IsTrusted_OnlyWithTheCurrentRootsCrossSignatureOfIt()
    {
        var trust = TrustRoots.From(OldRoot, next.CertificatePem, pki.Root.CrossSign(next));
        Assert.NotNull(trust.Next);
        Assert.True(trust.Verifies(FromNext(NodeCertificates.WorkerRole), clock.GetUtcNow(), presented: null));

        // A manager (or a man in the middle) naming a next root cross-signed by some other root: refused.
        var stranger = RootCA.Create();
        var e = Assert.Throws<SwarmException>(() => TrustRoots.From(OldRoot, next.CertificatePem, stranger.CrossSign(next)));
        Assert.Equal("SwarmCertificateInvalid", e.ErrorId);
        // A genuine cross-signature, but of another key than the next root named.
        Assert.Throws<SwarmException>(() => TrustRoots.From(OldRoot, next.CertificatePem, pki.Root.CrossSign(stranger)));
    }

    [Fact]
    public void WithoutARotation_ANextRootCertificate_IsRefused_UnlessItsChainIsPresented()
    {
        var plain = new TrustRoots(OldRoot, null, null);
        var leaf = FromNext(NodeCertificates.ManagerRole);
        Assert.False(plain.Verifies(leaf, clock.GetUtcNow(), presented: null));
        var cross = X509Certificate2.CreateFromPem(pki.Root.CrossSign(next));
        Assert.True(plain.Verifies(leaf, clock.GetUtcNow(), presented: [cross]));
    }

    [Fact]
    public void AfterTheRotation_TheOldRootsCertificatesAreRefused()
    {
        var after = TrustRoots.From(new ClusterObject
        {
            Id = pki.ClusterId, RootCACertificate = next.CertificatePem, RootCAKey = next.KeyPem!,
            WorkerJoinToken = JoinToken.Generate(next.CertificatePemBytes), ManagerJoinToken = JoinToken.Generate(next.CertificatePemBytes),
        });
        Assert.Null(after.Next);
        Assert.False(after.Verifies(pki.Worker(Identity.NewId()), clock.GetUtcNow(), presented: null));
        Assert.True(after.Verifies(FromNext(NodeCertificates.WorkerRole), clock.GetUtcNow(), presented: null));
    }

    [Fact]
    public void NodeSecurity_FollowsItsTrust_AndServesTheCrossSignedChainOnlyForANextRootCertificate()
    {
        var id = Identity.NewId();
        var security = new NodeSecurity(OldRoot, pki.ClusterId, id, pki.Manager(id), clock);
        var changes = 0;
        security.TrustChanged += _ => changes++;
        var worker = FromNext(NodeCertificates.WorkerRole);
        Assert.Null(security.Identify(worker));

        var rotating = TrustRoots.From(OldRoot, next.CertificatePem, pki.Root.CrossSign(next));
        security.UpdateTrust(rotating);
        security.UpdateTrust(TrustRoots.From(OldRoot, next.CertificatePem, pki.Root.CrossSign(next), rotating)); // the same roots again
        Assert.Equal(1, changes);
        Assert.NotNull(security.Identify(worker));
        Assert.Equal(next.KeyId, security.Identify(worker)!.IssuerKeyId);

        // Its own old-root certificate: served alone. A next-root one: with the cross-signature.
        Assert.Empty(security.ServerCertificateContext().IntermediateCertificates);
        var (keyPem, csr) = NodeCertificates.NewKeyAndCsr();
        security.Replace(NodeCertificates.LoadWithKey(next.SignNodeCertificate(csr, id, NodeCertificates.ManagerRole, pki.ClusterId, TimeSpan.FromDays(1)), keyPem));
        Assert.Contains(security.ServerCertificateContext().IntermediateCertificates.Cast<X509Certificate2>(),
            c => c.RawData.AsSpan().SequenceEqual(security.Trust.CrossSigned!.RawData));
    }
}
