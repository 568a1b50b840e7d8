using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using PSSwarm.Core;
using PSSwarm.Core.Security;

namespace PSSwarm.Daemon.Ca;

/// <summary>Who a certificate says its holder is, once it is proven to chain to the swarm's root.</summary>
internal sealed record PeerIdentity(string NodeId, string Role, string ClusterId)
{
    /// <summary>What the certificate says; authority comes from the store (<see cref="Cluster.ClusterAccessPolicy"/>).</summary>
    public bool HasManagerCertificate => Role == NodeCertificates.ManagerRole;
}

/// <summary>
/// This node's TLS identity and the swarm's trust root: the one holder of both (swarmkit's
/// SecurityConfig). The listener, the Raft client and every cluster channel ask it for the
/// current certificate on each handshake, so a renewed certificate is used without a restart,
/// and they verify peers through it alone.
/// </summary>
internal sealed class NodeSecurity
{
    private X509Certificate2 certificate;

    public NodeSecurity(RootCA root, string clusterId, string nodeId, X509Certificate2 certificate, TimeProvider clock)
    {
        Root = root;
        ClusterId = clusterId;
        NodeId = nodeId;
        this.certificate = certificate;
        Clock = clock;
    }

    public RootCA Root { get; }
    public string ClusterId { get; }
    public string NodeId { get; }
    public TimeProvider Clock { get; }

    /// <summary>This node's certificate (with its key), as of now.</summary>
    public X509Certificate2 Certificate => Volatile.Read(ref certificate);

    /// <summary>The role this node's certificate carries.</summary>
    public string CertificateRole => NodeCertificates.ReadIdentity(Certificate).Role;

    /// <summary>Raised after <see cref="Replace"/> (renewal, role change).</summary>
    public event Action<X509Certificate2>? Replaced;

    /// <summary>
    /// On managers: whether a node is a manager now, by the store (null: trust the certificate,
    /// as a worker must). A demoted manager's kept certificate is then refused as a server too.
    /// </summary>
    public Func<string, bool>? IsCurrentManager { get; set; }

    /// <summary>Installs a renewed certificate: it must be this node's, from this root.</summary>
    public void Replace(X509Certificate2 renewed)
    {
        var (nodeId, _, clusterId) = NodeCertificates.ReadIdentity(renewed);
        if (nodeId != NodeId || clusterId != ClusterId || !Root.Verifies(renewed, Clock.GetUtcNow()) || !renewed.HasPrivateKey)
            throw new SwarmException(SwarmErrorKind.SecurityError, "SwarmCertificateInvalid",
                "the renewed certificate is not this node's or was not issued by the swarm's root CA");
        Volatile.Write(ref certificate, renewed);
        Replaced?.Invoke(renewed);
    }

    /// <summary>The holder of a client certificate of this swarm, or null (no, foreign, expired or forged certificate).</summary>
    public PeerIdentity? Identify(X509Certificate2? presented)
    {
        if (presented is null || !Root.Verifies(presented, Clock.GetUtcNow())) return null;
        try
        {
            var (nodeId, role, org) = NodeCertificates.ReadIdentity(presented);
            return org == ClusterId && Identity.IsValid(nodeId) ? new PeerIdentity(nodeId, role, org) : null;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>
    /// A server this node dials must prove it is a manager of this swarm: chained to the root, a
    /// manager certificate (Docker checks the swarm-ca name, which only managers carry), and, on
    /// managers, a manager in the store now.
    /// </summary>
    public bool ValidateManagerServer(X509Certificate? presented)
    {
        if (ToCertificate(presented) is not { } leaf) return false;
        if (!IsManagerCertificate(Root, leaf, Clock.GetUtcNow(), ClusterId)) return false;
        return IsCurrentManager is not { } check || check(NodeCertificates.ReadIdentity(leaf).NodeId);
    }

    /// <summary>Chains to <paramref name="root"/>, valid at <paramref name="now"/>, OU=swarm-manager, swarm-ca DNS name, and the given cluster (when known).</summary>
    public static bool IsManagerCertificate(RootCA root, X509Certificate2 leaf, DateTimeOffset now, string? clusterId)
    {
        if (!root.Verifies(leaf, now)) return false;
        try
        {
            var (nodeId, role, org) = NodeCertificates.ReadIdentity(leaf);
            if (role != NodeCertificates.ManagerRole || !Identity.IsValid(nodeId)) return false;
            if (clusterId is not null && org != clusterId) return false;
        }
        catch (ArgumentException)
        {
            return false;
        }
        return leaf.MatchesHostname(RootCA.DefaultRootCN, allowWildcards: false, allowCommonName: false);
    }

    /// <summary>TLS client options for dialing managers: this node's current certificate, manager servers only.</summary>
    public SslClientAuthenticationOptions ClientOptions() => new()
    {
        TargetHost = RootCA.DefaultRootCN,
        RemoteCertificateValidationCallback = (_, cert, _, _) => ValidateManagerServer(cert),
        LocalCertificateSelectionCallback = (_, _, _, _, _) => Certificate,
    };

    public static X509Certificate2? ToCertificate(X509Certificate? cert)
        => cert is null ? null : cert as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
}
