using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Ca;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.Daemon.Node;

internal sealed partial class NodeRuntime
{
    /// <summary>How often the renewal loop reads the certificate clock (a comparison; the clock may be a test's).</summary>
    private static readonly TimeSpan RenewalCheckInterval = TimeSpan.FromSeconds(1);

    internal const string ExpiredMessage =
        "Swarm certificates have expired. To replace them, run Join-Swarm -Token <token> -RemoteAddress <manager address> on this node: it keeps its node ID (a manager needs the manager token).";

    private long desiredCertExpiryMs;

    /// <summary>The swarm's CertExpiry as the last heartbeat told it (null until one did).</summary>
    private TimeSpan? desiredCertExpiry
    {
        get => Interlocked.Read(ref desiredCertExpiryMs) is > 0 and var ms ? TimeSpan.FromMilliseconds(ms) : null;
        set => Interlocked.Exchange(ref desiredCertExpiryMs, value is { } v ? (long)v.TotalMilliseconds : 0);
    }

    private string desiredIssuer = "";

    private bool CertificateExpired() => security is { } s && clock.GetUtcNow() >= s.Certificate.NotAfter.ToUniversalTime();

    private static bool SameManagers(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b)
        => a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);

    /// <summary>
    /// Keeps this node's certificate valid (swarmkit's renewer): renews at a random point between
    /// 50% and 80% of its validity, when its role or the swarm's CertExpiry no longer match it, and
    /// when it has expired; failures back off from 5 s to 1 h.
    /// </summary>
    private async Task RenewLoopAsync(CancellationToken token)
    {
        var failures = 0;
        var nextTry = DateTimeOffset.MinValue;
        string? thumbprint = null;
        var renewAt = DateTimeOffset.MaxValue;
        while (!token.IsCancellationRequested)
        {
            try { await Task.Delay(RenewalCheckInterval, token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            var s = security;
            var cfg = config;
            if (s is null || cfg is null || Volatile.Read(ref roleChange) != 0) continue;
            var cert = s.Certificate;
            var notBefore = new DateTimeOffset(cert.NotBefore.ToUniversalTime());
            var notAfter = new DateTimeOffset(cert.NotAfter.ToUniversalTime());
            if (cert.Thumbprint != thumbprint)
            {
                thumbprint = cert.Thumbprint;
                renewAt = RenewalPolicy.RenewAt(notBefore, notAfter, Random.Shared.NextDouble());
                // A new certificate (renewed, or replaced by Join-Swarm after it expired) starts without backoff.
                failures = 0;
                nextTry = DateTimeOffset.MinValue;
            }
            RecordOwnExpiry(cfg, s, token);
            var now = clock.GetUtcNow();
            var role = cfg.Role == NodeRole.Manager ? NodeCertificates.ManagerRole : NodeCertificates.WorkerRole;
            var reason = RenewalPolicy.Reason(now, notBefore, notAfter, renewAt, s.CertificateRole, role, desiredCertExpiry,
                NodeCertificates.IssuerKeyId(cert), Volatile.Read(ref desiredIssuer));
            if (reason is null || now < nextTry) continue;
            try
            {
                await RenewCertificateAsync(cfg, s, reason, token).ConfigureAwait(false);
                failures = 0;
                nextTry = DateTimeOffset.MinValue;
            }
            catch (Exception e) when (!token.IsCancellationRequested)
            {
                failures++;
                var delay = RenewalPolicy.Backoff(failures);
                nextTry = now + delay;
                // Only while the certificate is still the expired one: a Join-Swarm that replaced it
                // while this attempt ran must not be undone by the attempt's failure.
                if (now >= notAfter && ReferenceEquals(security?.Certificate, cert)) error = ExpiredMessage;
                logger.LogWarning("Could not renew this node's certificate ({Reason}): {Error}; retrying in {Delay}", reason, e.Message, delay);
            }
        }
    }

    /// <summary>
    /// A new key and certificate for this node. A manager holds the CA key in its store and signs
    /// its own (so managers renew even without a quorum: a whole swarm left off past its expiry
    /// comes back by starting its managers); a worker asks the leader, authenticated by its
    /// current certificate.
    /// </summary>
    private async Task RenewCertificateAsync(LocalNodeConfig cfg, NodeSecurity s, string reason, CancellationToken token)
    {
        var (keyPem, csr) = NodeCertificates.NewKeyAndCsr();
        string certPem;
        var host = manager;
        if (host is not null && host.State.Current is { Cluster: { } cluster } state
            && state.Nodes.TryGetValue(cfg.NodeId, out var self) && self.Role == NodeRole.Manager && cfg.Role == NodeRole.Manager)
        {
            certPem = host.CA.Sign(csr, cfg.NodeId, NodeRole.Manager, clock.GetUtcNow());
        }
        else
        {
            var issued = await CallLeaderAsync(cfg.Managers, async (channel, t) => await new NodeCA.NodeCAClient(channel)
                .RenewNodeCertificateAsync(new RenewNodeCertificateRequest { Csr = Google.Protobuf.ByteString.CopyFrom(csr) },
                    deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: t), token).ConfigureAwait(false);
            certPem = issued.CertificatePem;
            AdoptRotation(s, issued);
        }
        // Replace checks that it is this node's, from the pinned root, before anything is saved.
        s.Replace(NodeCertificates.LoadWithKey(certPem, keyPem));
        store.SaveCertificates(certPem, keyPem, s.Root.CertificatePem);
        if (error == ExpiredMessage) error = null;
        // A rotation counts this node once the leader has seen its new certificate: tell it now.
        if (reason == RenewalPolicy.RootRotated && agent is { } a) _ = a.BeatOnceAsync(token);
        logger.LogInformation("Renewed this node's certificate ({Reason}); the new one is valid until {NotAfter:u}", reason,
            s.Certificate.NotAfter.ToUniversalTime());
        // A manager records its new expiry itself, at once if it can (the renewal loop retries).
        nextExpiryRecordTicks = 0;
        RecordOwnExpiry(cfg, s, token);
    }

    /// <summary>
    /// Follows the swarm's trust as an authenticated manager reported it (a heartbeat): a rotation's
    /// next root is trusted only with the current root's cross-signature of it, and the root moves
    /// only to the next root this node already trusts. Saved, so that a restart keeps it.
    /// </summary>
    private void FollowTrust(HeartbeatResult result)
    {
        if (security is not { } s || result.RootPem.Length == 0) return;
        var trust = s.Trust;
        TrustRoots next;
        try
        {
            if (result.RootPem == trust.Root.CertificatePem)
                next = TrustRoots.From(trust.Root, result.NextRootPem, result.CrossSignedPem, trust);
            else if (result.RootPem == trust.Next?.CertificatePem)
                next = TrustRoots.From(trust.Next, result.NextRootPem, result.CrossSignedPem, trust); // the rotation ended
            else
            {
                logger.LogWarning("The swarm's root CA changed to one this node was never told of (it was away during a root rotation): it keeps its root; run Join-Swarm again if its certificate is refused");
                return;
            }
        }
        catch (Exception e) when (e is SwarmException or FormatException or ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            logger.LogWarning("Ignored the root rotation a manager reported: {Error}", e.Message);
            return;
        }
        if (next.SameAs(trust)) return;
        s.UpdateTrust(next); // saved by the TrustChanged handler
        if (next.Next is { } rotatingTo) logger.LogInformation("The swarm's root CA is being rotated to {Next}", rotatingTo.Sha256Hex);
        else logger.LogInformation("The swarm's root CA is now {Root}", next.Root.Sha256Hex);
    }

    /// <summary>
    /// A certificate a manager issued during a root rotation is from the next root: trust it (the
    /// current root's cross-signature of it proves it) before the certificate is checked.
    /// </summary>
    private void AdoptRotation(NodeSecurity s, IssueNodeCertificateResponse issued)
    {
        if (issued.NextRootCaPem.Length == 0 || s.Trust.Next?.CertificatePem == issued.NextRootCaPem) return;
        try { s.UpdateTrust(TrustRoots.From(s.Root, issued.NextRootCaPem, issued.CrossSignedCaPem, s.Trust)); }
        catch (Exception e) when (e is SwarmException or FormatException or ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            logger.LogWarning("Ignored the root rotation a manager reported: {Error}", e.Message);
        }
    }

    private void SaveTrust(TrustRoots trust)
    {
        try { store.SaveTrust(trust.Root.CertificatePem, trust.Next?.CertificatePem, trust.CrossSignedPem); }
        catch (IOException e) { logger.LogWarning("Could not save the swarm's root CA: {Error}", e.Message); }
    }

    // Used by the renewal loop only (RenewCertificateAsync runs inside it).
    private Task recordingExpiry = Task.CompletedTask;
    private long nextExpiryRecordTicks;

    /// <summary>
    /// On a manager: makes the store list this node's current certificate expiry (Get-SwarmNode's
    /// CertificateExpiry). A manager renews without a quorum (a whole swarm left off past its
    /// expiry), so the write may have to wait for one: this runs on every turn of the renewal loop
    /// and proposes the expiry while the store shows another one, one proposal at a time, at most
    /// every 5 s (real time: it waits for Raft, not for the certificate clock).
    /// </summary>
    private void RecordOwnExpiry(LocalNodeConfig cfg, NodeSecurity s, CancellationToken token)
    {
        if (cfg.Role != NodeRole.Manager || manager is not { } host || !recordingExpiry.IsCompleted) return;
        if (!host.State.Current.Nodes.TryGetValue(cfg.NodeId, out var self)) return;
        var expiry = new DateTimeOffset(s.Certificate.NotAfter.ToUniversalTime());
        if ((self.CertificateExpiry - expiry).Duration() < TimeSpan.FromSeconds(1)) return;
        var nowTicks = Environment.TickCount64;
        if (nowTicks < nextExpiryRecordTicks) return;
        nextExpiryRecordTicks = nowTicks + 5000;
        recordingExpiry = Task.Run(async () =>
        {
            try
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(token);
                cts.CancelAfter(TimeSpan.FromSeconds(30));
                await host.ProposeAsync(new PatchNodeCommand(cfg.NodeId, clock.GetUtcNow()) { CertificateExpiry = expiry }, cts.Token).ConfigureAwait(false);
            }
            catch (Exception e) { logger.LogDebug("Recording this node's certificate expiry (will retry): {Error}", e.Message); }
        }, CancellationToken.None);
    }
}
