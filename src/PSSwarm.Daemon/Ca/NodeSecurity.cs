using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using PSSwarm.Core;
using PSSwarm.Core.Security;

namespace PSSwarm.Daemon.Ca;

/// <summary>Who a certificate says its holder is, once it is proven to chain to the swarm's root.</summary>
internal sealed record PeerIdentity(string NodeId, string Role, string ClusterId)
{
    /// <summary>The key ID of the CA key that issued the certificate (a root rotation's progress).</summary>
    public string IssuerKeyId { get; init; } = "";

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
    private TrustRoots trust;
    private (X509Certificate2 Cert, TrustRoots Trust, SslStreamCertificateContext Context)? serverContext;

    public NodeSecurity(RootCA root, string clusterId, string nodeId, X509Certificate2 certificate, TimeProvider clock)
    {
        trust = new TrustRoots(root, null, null);
        ClusterId = clusterId;
        NodeId = nodeId;
        this.certificate = certificate;
        Clock = clock;
    }

    /// <summary>The swarm's root CA as this node knows it: what joiners are served and tokens pin.</summary>
    public RootCA Root => Volatile.Read(ref trust).Root;

    /// <summary>What this node trusts now: the root, and during a rotation the next root and the cross-signed intermediate.</summary>
    public TrustRoots Trust => Volatile.Read(ref trust);

    public string ClusterId { get; }
    public string NodeId { get; }
    public TimeProvider Clock { get; }

    /// <summary>Raised after the trusted roots change (a rotation starts or ends).</summary>
    public event Action<TrustRoots>? TrustChanged;

    /// <summary>
    /// Trusts <paramref name="next"/> (a rotation, from the store or a heartbeat). A node trusts a
    /// new root only from a manager it authenticated, or from its own store: callers see to that.
    /// </summary>
    public void UpdateTrust(TrustRoots next)
    {
        var old = Interlocked.Exchange(ref trust, next);
        if (!old.SameAs(next)) TrustChanged?.Invoke(next);
    }

    /// <summary>Whether <paramref name="leaf"/> chains to a root this node trusts (through a known or presented intermediate).</summary>
    public bool Verifies(X509Certificate2 leaf, IEnumerable<X509Certificate2>? presented = null, DateTimeOffset? now = null)
        => Trust.Verifies(leaf, now ?? Clock.GetUtcNow(), presented);

    /// <summary>
    /// What this node's listener serves: its certificate, and while its certificate is from the
    /// next root of a rotation, the cross-signed intermediate, so that a node that still trusts
    /// only the current root verifies it (swarmkit serves the same chain).
    /// </summary>
    public SslStreamCertificateContext ServerCertificateContext()
    {
        var cert = Certificate;
        var t = Trust;
        if (serverContext is { } cached && ReferenceEquals(cached.Cert, cert) && ReferenceEquals(cached.Trust, t)) return cached.Context;
        var chain = t.CrossSigned is { } cross && !t.Root.Verifies(cert, now: null) ? new[] { cross, t.Root.Certificate } : [];
        var context = NodeCertificates.ServerContext(cert, chain);
        serverContext = (cert, t, context);
        return context;
    }

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
        if (nodeId != NodeId || clusterId != ClusterId || !Verifies(renewed) || !renewed.HasPrivateKey)
            throw new SwarmException(SwarmErrorKind.SecurityError, "SwarmCertificateInvalid",
                "the renewed certificate is not this node's or was not issued by the swarm's root CA");
        Volatile.Write(ref certificate, renewed);
        Replaced?.Invoke(renewed);
    }

    /// <summary>The holder of a client certificate of this swarm, or null (no, foreign, expired or forged certificate).</summary>
    public PeerIdentity? Identify(X509Certificate2? presented)
    {
        if (presented is null || !Verifies(presented)) return null;
        try
        {
            var (nodeId, role, org) = NodeCertificates.ReadIdentity(presented);
            return org == ClusterId && Identity.IsValid(nodeId) ? new PeerIdentity(nodeId, role, org) { IssuerKeyId = NodeCertificates.IssuerKeyId(presented) } : null;
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
    public bool ValidateManagerServer(X509Certificate? presented, X509Chain? chain = null)
    {
        if (ToCertificate(presented) is not { } leaf) return false;
        var intermediates = NodeCertificates.PresentedIntermediates(chain);
        if (!IsManagerCertificate(l => Verifies(l, intermediates), leaf, ClusterId)) return false;
        return IsCurrentManager is not { } check || check(NodeCertificates.ReadIdentity(leaf).NodeId);
    }

    /// <summary>Chains to the trust (<paramref name="chainsToTrust"/>), OU=swarm-manager, swarm-ca DNS name, and the given cluster (when known).</summary>
    public static bool IsManagerCertificate(Func<X509Certificate2, bool> chainsToTrust, X509Certificate2 leaf, string? clusterId)
    {
        if (!chainsToTrust(leaf)) return false;
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
        RemoteCertificateValidationCallback = (_, cert, chain, _) => ValidateManagerServer(cert, chain),
        LocalCertificateSelectionCallback = (_, _, _, _, _) => Certificate,
    };

    public static X509Certificate2? ToCertificate(X509Certificate? cert)
        => cert is null ? null : cert as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
}

/// <summary>
/// The roots a node trusts: the swarm's root, and during a rotation the next root and the
/// cross-signed intermediate (the next root's key, issued by the current root).
/// </summary>
internal sealed record TrustRoots(RootCA Root, RootCA? Next, X509Certificate2? CrossSigned)
{
    /// <summary>The cross-signed intermediate as PEM (what heartbeats carry and the data root keeps), or null.</summary>
    public string? CrossSignedPem => CrossSigned is null ? null : crossSignedPem ??= Pem.Encode("CERTIFICATE", CrossSigned.RawData);
    private string? crossSignedPem;

    /// <summary>From the store's cluster object (managers).</summary>
    public static TrustRoots From(PSSwarm.Core.State.ClusterObject cluster, TrustRoots? current = null)
    {
        var root = current?.Root.CertificatePem == cluster.RootCACertificate ? current.Root : RootCA.Load(cluster.RootCACertificate, null);
        return From(root, cluster.RootRotation?.CACertificate, cluster.RootRotation?.CrossSignedCACertificate, current);
    }

    /// <summary>From PEM (a heartbeat or a join): a next root is trusted only with an intermediate that the root cross-signed for it.</summary>
    public static TrustRoots From(RootCA root, string? nextPem, string? crossSignedPem, TrustRoots? current = null)
    {
        var sameRoot = current is not null && current.Root.CertificatePem == root.CertificatePem;
        if (string.IsNullOrEmpty(nextPem) || string.IsNullOrEmpty(crossSignedPem))
            return sameRoot && current!.Next is null ? current : new TrustRoots(root, null, null);
        // Unchanged (every heartbeat and store change during a rotation): already checked, as it is.
        if (sameRoot && current!.Next?.CertificatePem == nextPem && current.CrossSignedPem == crossSignedPem) return current;
        var next = current?.Next?.CertificatePem == nextPem ? current.Next : RootCA.Load(nextPem, null);
        var cross = X509CertificateLoader.LoadCertificate(Pem.Decode(crossSignedPem, "CERTIFICATE"));
        // The intermediate must be the root's own cross-signature of the next root's key.
        if (!root.Verifies(cross, now: null) || !cross.PublicKey.EncodedKeyValue.RawData.AsSpan().SequenceEqual(next.Certificate.PublicKey.EncodedKeyValue.RawData))
            throw new SwarmException(SwarmErrorKind.SecurityError, "SwarmCertificateInvalid",
                "the next root CA of the rotation is not cross-signed by the swarm's root CA");
        return new TrustRoots(root, next, cross);
    }

    public bool Verifies(X509Certificate2 leaf, DateTimeOffset now, IEnumerable<X509Certificate2>? presented)
    {
        if (Root.Verifies(leaf, now)) return true;
        if (Next is { } next && next.Verifies(leaf, now)) return true;
        if (CrossSigned is { } cross) return Root.Verifies(leaf, now, presented is null ? [cross] : presented.Append(cross));
        return presented is not null && Root.Verifies(leaf, now, presented);
    }

    public bool SameAs(TrustRoots other)
        => Root.CertificatePem == other.Root.CertificatePem && Next?.CertificatePem == other.Next?.CertificatePem;
}
