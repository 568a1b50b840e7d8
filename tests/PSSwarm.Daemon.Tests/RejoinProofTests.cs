using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Cluster;

namespace PSSwarm.Daemon.Tests;

/// <summary>
/// A returning member proves which node it is with its previous certificate and a CSR signed with that
/// certificate's key (NodeCAService.ProvePreviousIdentity): the attacks on that proof.
/// </summary>
public class RejoinProofTests
{
    private static readonly string Victim = Identity.NewId();
    private readonly RootCA current = RootCA.Create();
    private readonly RootCA previous = RootCA.Create();
    private readonly string clusterId = Identity.NewId();

    private ClusterObject Cluster() => new()
    {
        Id = clusterId, RootCACertificate = current.CertificatePem, RootCAKey = "unused", WorkerJoinToken = "w", ManagerJoinToken = "m",
        PreviousRootCACertificates = [previous.CertificatePem],
    };

    /// <summary>A certificate for the victim's node ID from <paramref name="root"/>, and the CSR (same key) a rejoin would send.</summary>
    private static (string CertificatePem, byte[] Csr) Issue(RootCA root, string clusterId, DateTimeOffset? now = null)
    {
        var (_, csr) = NodeCertificates.NewKeyAndCsr();
        return (root.SignNodeCertificate(csr, Victim, NodeCertificates.WorkerRole, clusterId, TimeSpan.FromDays(1), now), csr);
    }

    private static void Refused(Action proof, string message)
    {
        var e = Assert.Throws<SwarmException>(proof);
        Assert.Equal("SwarmCertificateInvalid", e.ErrorId);
        Assert.Equal(SwarmErrorKind.SecurityError, e.Kind);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void An_expired_certificate_from_the_current_root_with_its_own_key_proves_the_node()
    {
        var (pem, csr) = Issue(current, clusterId, DateTimeOffset.UtcNow.AddDays(-30));
        Assert.Equal(Victim, NodeCAService.ProvePreviousIdentity(pem, csr, Cluster()));
    }

    [Fact]
    public void A_certificate_from_a_root_the_swarm_had_before_a_rotation_proves_the_node()
    {
        var (pem, csr) = Issue(previous, clusterId);
        Assert.Equal(Victim, NodeCAService.ProvePreviousIdentity(pem, csr, Cluster()));
    }

    [Fact]
    public void A_certificate_naming_the_victim_from_a_root_of_the_attackers_own_is_refused()
    {
        var (pem, csr) = Issue(RootCA.Create(), clusterId);
        Refused(() => NodeCAService.ProvePreviousIdentity(pem, csr, Cluster()), "the previous certificate was not issued by this swarm's root CA");
    }

    [Fact]
    public void A_certificate_of_this_root_for_another_swarm_ID_is_refused()
    {
        var (pem, csr) = Issue(current, Identity.NewId());
        Refused(() => NodeCAService.ProvePreviousIdentity(pem, csr, Cluster()), "the previous certificate was not issued by this swarm's root CA");
    }

    [Fact]
    public void A_copied_certificate_without_its_key_is_refused()
    {
        var (pem, _) = Issue(current, clusterId);
        var (_, attackersCsr) = NodeCertificates.NewKeyAndCsr();
        Refused(() => NodeCAService.ProvePreviousIdentity(pem, attackersCsr, Cluster()),
            "the certificate signing request is not signed with the previous certificate's key");
    }

    [Fact]
    public void A_root_older_than_the_kept_ones_proves_nothing()
    {
        var dropped = RootCA.Create(); // not among the swarm's current or previous roots
        var (pem, csr) = Issue(dropped, clusterId);
        Refused(() => NodeCAService.ProvePreviousIdentity(pem, csr, Cluster()), "the previous certificate was not issued by this swarm's root CA");
    }

    [Fact]
    public void Garbage_in_place_of_a_certificate_is_an_invalid_argument_not_a_crash()
    {
        var (_, csr) = NodeCertificates.NewKeyAndCsr();
        var e = Assert.Throws<SwarmException>(() => NodeCAService.ProvePreviousIdentity("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", csr, Cluster()));
        Assert.Equal(SwarmErrorKind.InvalidArgument, e.Kind);
    }
}
