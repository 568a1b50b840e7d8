using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using PSSwarm.Core;
using PSSwarm.Core.Security;

namespace PSSwarm.Daemon.Ca;

/// <summary>
/// A joining node's trust, on every connection of the join: until the root CA is pinned (fetched
/// and matched against the token's digest) any server may answer the CA fetch, and its
/// certificate is kept; pinning checks every certificate kept so far, and from then on each new
/// connection must present a manager certificate of the pinned root before anything is sent on
/// it. So the token's secret only ever travels to a proven manager of the swarm the token names,
/// whichever connection (or reconnection) carries it.
/// </summary>
internal sealed class JoinTrust(TimeProvider clock)
{
    private readonly object gate = new();
    private readonly List<(X509Certificate2 Leaf, List<X509Certificate2> Intermediates)> unverified = new();
    private RootCA? pinned;

    public RootCA? Pinned { get { lock (gate) return pinned; } }

    /// <summary>The TLS callback of the join's channels.</summary>
    public bool ValidateServer(X509Certificate? presented, X509Chain? chain = null)
    {
        var leaf = NodeSecurity.ToCertificate(presented);
        if (leaf is null) return false;
        lock (gate)
        {
            if (pinned is null)
            {
                unverified.Add((leaf, NodeCertificates.PresentedIntermediates(chain).ToList()));
                return true;
            }
            var intermediates = NodeCertificates.PresentedIntermediates(chain);
            return NodeSecurity.IsManagerCertificate(l => pinned.Verifies(l, clock.GetUtcNow(), intermediates), leaf, clusterId: null);
        }
    }

    /// <summary>
    /// Pins the root (already matched against the token's digest). Throws SecurityError when a
    /// server seen before, whose connection could carry the token next, is not a manager of it.
    /// </summary>
    public void Pin(RootCA root, string remote)
    {
        lock (gate)
        {
            pinned = root;
            var bad = unverified.Any(c => !NodeSecurity.IsManagerCertificate(l => root.Verifies(l, clock.GetUtcNow(), c.Intermediates), c.Leaf, clusterId: null));
            unverified.Clear();
            if (bad)
                throw new SwarmException(SwarmErrorKind.SecurityError, "SwarmNotAManager",
                    $"the server at {remote} serves the swarm's root CA but did not prove that it is a manager of that swarm (its certificate is not a manager certificate issued by that root CA); the join token was not sent");
        }
    }

    public SslClientAuthenticationOptions ClientOptions() => new()
    {
        TargetHost = RootCA.DefaultRootCN,
        RemoteCertificateValidationCallback = (_, cert, chain, _) => ValidateServer(cert, chain),
    };
}
