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

    /// <summary>
    /// The root that signs now, with its key, loaded once per root: the store's root, or during a
    /// rotation the next root (every certificate issued from the start of a rotation is from the next root).
    /// </summary>
    private RootCA Signer(ClusterObject cluster)
    {
        var (certificate, key) = cluster.RootRotation is { } rotation
            ? (rotation.CACertificate, rotation.CAKey) : (cluster.RootCACertificate, cluster.RootCAKey);
        if (loaded is { } l && l.CertificatePem == certificate && l.KeyPem == key)
            return l.Root;
        var root = RootCA.Load(certificate, key);
        loaded = new Loaded(certificate, key, root);
        return root;
    }

    /// <summary>The key ID every node's certificate should be issued by now (the signer's).</summary>
    public string SigningKeyId(ClusterObject cluster) => Signer(cluster).KeyId;

    /// <summary>
    /// A new rotation to a generated root, or to <paramref name="certificatePem"/> with its
    /// <paramref name="keyPem"/>, cross-signed by the current root. Validation happens as the
    /// command is proposed (CommandValidator).
    /// </summary>
    public StartRootRotationCommand StartRotation(string? certificatePem, string? keyPem, DateTimeOffset now)
    {
        var cluster = store.Current.Cluster ?? throw SwarmErrors.ManagerStarting();
        RootCA next;
        try
        {
            next = certificatePem is null ? RootCA.Create(now) : RootCA.Load(certificatePem, keyPem ?? throw SwarmErrors.InvalidArgument("a CA key is needed with a CA certificate"));
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw SwarmErrors.InvalidArgument(e.Message);
        }
        if (!next.CanSign) throw SwarmErrors.InvalidArgument("a CA key is needed with a CA certificate");
        if (!RootCA.IsCertificateAuthority(next.Certificate))
            throw SwarmErrors.InvalidArgument("the certificate is not a CA certificate (its basic constraints do not say CA:TRUE)");
        if (next.CertificatePem == cluster.RootCACertificate || next.KeyId == RootCA.Load(cluster.RootCACertificate, null).KeyId)
            throw SwarmErrors.InvalidArgument("the new root CA must differ from the swarm's current root CA, key included");
        if (now < next.Certificate.NotBefore.ToUniversalTime() || now > next.Certificate.NotAfter.ToUniversalTime())
            throw SwarmErrors.InvalidArgument($"the CA certificate is not valid now (valid from {next.Certificate.NotBefore.ToUniversalTime():u} to {next.Certificate.NotAfter.ToUniversalTime():u})");
        try
        {
            // The CA signs node certificates with ECDSA only: find out now, not at the first renewal.
            next.SignNodeCertificate(NodeCertificates.NewKeyAndCsr().CsrDer, "probe", NodeCertificates.WorkerRole, cluster.Id, RootCA.MinNodeCertExpiration, now);
        }
        catch (InvalidOperationException e)
        {
            throw SwarmErrors.InvalidArgument($"the CA key cannot sign node certificates: {e.Message}");
        }
        var current = RootCA.Load(cluster.RootCACertificate, cluster.RootCAKey);
        return new StartRootRotationCommand(new RootRotationObject
        {
            CACertificate = next.CertificatePem, CAKey = next.KeyPem!, CrossSignedCACertificate = current.CrossSign(next, now), StartedAt = now,
        });
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
            return Signer(cluster).SignNodeCertificate(csr, nodeId,
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
