using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using PSSwarm.Core.Security;

namespace PSSwarm.LoadGen;

/// <summary>
/// The root CA the join token pins, and the check of every manager a simulated node dials: the
/// server's certificate must chain to that root alone (a custom trust store with the root as its
/// only anchor, no system roots, no revocation or download), carry OU=swarm-manager and the
/// swarm-ca DNS name, as the daemon's JoinTrust / NodeSecurity require. Before the root is pinned
/// (the one GetRootCACertificate call) any server may answer; its certificate is kept and checked
/// when the root is pinned, so nothing is sent on an unproven connection.
/// </summary>
internal sealed class PinnedTrust
{
    private readonly object gate = new();
    private readonly List<X509Certificate2> unverified = new();
    private X509Certificate2? root;

    public X509Certificate2? Root { get { lock (gate) return root; } }

    /// <summary>The TLS validation callback of every channel of the load generator.</summary>
    public bool ValidateServer(X509Certificate? presented)
    {
        if (presented is null) return false;
        var leaf = presented as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        X509Certificate2? pinned;
        lock (gate)
        {
            pinned = root;
            if (pinned is null)
            {
                unverified.Add(leaf);
                return true;
            }
        }
        return IsManagerCertificate(pinned, leaf);
    }

    /// <summary>Pins the root (already matched against the token's digest); every server seen before must be a manager of it.</summary>
    public void Pin(X509Certificate2 pinnedRoot, string remote)
    {
        List<X509Certificate2> seen;
        lock (gate)
        {
            root = pinnedRoot;
            seen = unverified.ToList();
            unverified.Clear();
        }
        if (seen.Any(c => !IsManagerCertificate(pinnedRoot, c)))
            throw new FatalException($"the server at {remote} serves the swarm's root CA but its certificate is not a manager certificate issued by that root CA");
    }

    public static bool IsManagerCertificate(X509Certificate2 pinnedRoot, X509Certificate2 leaf)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(pinnedRoot);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        try
        {
            if (!chain.Build(leaf)) return false;
            var elements = chain.ChainElements;
            if (elements.Count != 2 || !elements[^1].Certificate.RawDataMemory.Span.SequenceEqual(pinnedRoot.RawDataMemory.Span)) return false;
            var (nodeId, role, _) = NodeCertificates.ReadIdentity(leaf);
            return role == NodeCertificates.ManagerRole && nodeId.Length > 0
                && leaf.MatchesHostname(RootCA.DefaultRootCN, allowWildcards: false, allowCommonName: false);
        }
        catch (Exception e) when (e is ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            return false;
        }
        finally
        {
            foreach (var element in chain.ChainElements) element.Certificate.Dispose();
        }
    }

    /// <summary>TLS options of a connection: the pinned-root check, and the node's certificate when it has one.</summary>
    public SslClientAuthenticationOptions ClientOptions(SslStreamCertificateContext? clientCertificate) => new()
    {
        TargetHost = RootCA.DefaultRootCN,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        ClientCertificateContext = clientCertificate,
        RemoteCertificateValidationCallback = (_, cert, _, _) => ValidateServer(cert),
    };
}

/// <summary>A set-up error that ends the run with a non-zero exit code (bad token, CA mismatch, manager token).</summary>
internal sealed class FatalException(string message) : Exception(message);
