using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;

namespace PSSwarm.Daemon.Ca;

/// <summary>
/// The signing half of the swarm's CA as managers run it (swarmkit's ca.Server): the root and its
/// key have one owner, the replicated store, and this component alone turns them into node
/// certificates. The loaded root is kept while the store's root and key stay the same (a rotation
/// replaces them, and the next certificate is signed by the new root).
/// </summary>
internal sealed class ClusterCA(Store.ISwarmStore store)
{
    private sealed record Loaded(string CertificatePem, string KeyPem, RootCA Root);

    private Loaded? loaded;

    /// <summary>The store's root with its key, loaded once per root.</summary>
    private RootCA Root(ClusterObject cluster)
    {
        if (loaded is { } l && l.CertificatePem == cluster.RootCACertificate && l.KeyPem == cluster.RootCAKey)
            return l.Root;
        var root = RootCA.Load(cluster.RootCACertificate, cluster.RootCAKey);
        loaded = new Loaded(cluster.RootCACertificate, cluster.RootCAKey, root);
        return root;
    }

    /// <summary>
    /// A certificate for <paramref name="nodeId"/> in <paramref name="role"/> (the caller decides the
    /// role from the store, never from the request), valid for the swarm's certificate expiry from
    /// <paramref name="now"/>. A CSR the CA refuses is Docker's InvalidArgument.
    /// </summary>
    public string Sign(byte[] csr, string nodeId, NodeRole role, DateTimeOffset now)
    {
        var cluster = store.Current.Cluster ?? throw SwarmErrors.ManagerStarting();
        try
        {
            return Root(cluster).SignNodeCertificate(csr, nodeId,
                role == NodeRole.Manager ? NodeCertificates.ManagerRole : NodeCertificates.WorkerRole, cluster.Id, cluster.Spec.CertExpiry, now);
        }
        catch (ArgumentException e)
        {
            var message = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
            throw SwarmErrors.InvalidArgument(message.StartsWith("invalid certificate signing request", StringComparison.Ordinal)
                ? message : $"invalid certificate signing request: {message}");
        }
    }
}
