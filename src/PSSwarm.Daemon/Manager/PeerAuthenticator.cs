using System.Security.Cryptography.X509Certificates;
using PSSwarm.Core.Security;

namespace PSSwarm.Daemon.Manager;

/// <summary>Who a client certificate says the peer is, once it is proven to chain to the swarm's root.</summary>
internal sealed record PeerIdentity(string NodeId, string Role, string ClusterId)
{
    public bool IsManager => Role == NodeCertificates.ManagerRole;
}

/// <summary>Validates peers' certificates against the swarm root CA only (no system trust store).</summary>
internal sealed class PeerAuthenticator(RootCA root, string clusterId, Func<string, bool> isRemoved)
{
    public RootCA Root { get; } = root;

    public PeerIdentity? Authenticate(X509Certificate2? certificate) => Authenticate(certificate, out _);

    /// <summary>The peer, or null; <paramref name="removedNodeId"/> names a valid certificate of a removed node.</summary>
    public PeerIdentity? Authenticate(X509Certificate2? certificate, out string? removedNodeId)
    {
        removedNodeId = null;
        if (certificate is null || !Root.Verifies(certificate)) return null;
        string nodeId, role, org;
        try { (nodeId, role, org) = NodeCertificates.ReadIdentity(certificate); }
        catch (ArgumentException) { return null; }
        if (org != clusterId) return null;
        if (isRemoved(nodeId))
        {
            removedNodeId = nodeId;
            return null;
        }
        return new PeerIdentity(nodeId, role, org);
    }

    /// <summary>For TLS client callbacks: the remote end must present a certificate issued by our root.</summary>
    public bool ValidateServer(X509Certificate? certificate)
        => certificate is not null && Root.Verifies(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
}
