using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Grpc.Core;
using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Ca;
using PSSwarm.Daemon.Manager;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.Daemon.Cluster;

/// <summary>The CA endpoints of the cluster listener (swarmkit's NodeCA).</summary>
internal sealed class NodeCAService(NodeSecurity security, ManagerHostAccessor accessor, JoinLimiter limiter, ILogger<NodeCAService> logger)
    : NodeCA.NodeCABase
{
    // gRPC services live for one call: the throttled log of refused joins lives with the limiter.
    private ThrottledLog refusals => limiter.Log(logger);

    /// <summary>The exact PEM bytes whose SHA-256 is the digest in the join tokens.</summary>
    public override Task<GetRootCACertificateResponse> GetRootCACertificate(GetRootCACertificateRequest request, ServerCallContext context)
    {
        // The store's root (a rotation ends by changing it); this node's own until the store is loaded.
        var root = accessor.View is ManagerHost { State.Current.Cluster: { } cluster }
            ? cluster.RootCACertificate : security.Root.CertificatePem;
        return Task.FromResult(new GetRootCACertificateResponse { Certificate = ByteString.CopyFromUtf8(root) });
    }

    /// <summary>
    /// A join: the whole token is compared in constant time (manager token first) and decides the
    /// role; the request's own claims are ignored. The token is checked against this manager's
    /// state after a read barrier (a token rotated or created through another manager counts at
    /// once). Failures are rate-limited per source address.
    /// </summary>
    public override async Task<IssueNodeCertificateResponse> IssueNodeCertificate(IssueNodeCertificateRequest request, ServerCallContext context)
    {
        var remote = context.GetHttpContext().Connection.RemoteIpAddress;
        if (!limiter.TryEnter(remote, out var retryAfter))
        {
            refusals.Warning($"limit {remote}", "Refusing join attempts from {Remote} for now: too many failed attempts", remote);
            throw new SwarmException(SwarmErrorKind.LimitsExceeded, "SwarmJoinRateLimited",
                $"too many failed join attempts from {remote}; try again in {Math.Max(1, Math.Ceiling(retryAfter.TotalSeconds)):0} s");
        }
        var host = accessor.Host;
        _ = host.State.Current.Cluster ?? throw SwarmErrors.ManagerStarting();
        // Always against the state after a read barrier: a token created or rotated a moment ago
        // through another manager may not be applied here yet, and a rotated-out one must be refused
        // at once. Wrong tokens cost a barrier each, bounded by the limiter above.
        await host.ReadBarrierAsync(context.CancellationToken).ConfigureAwait(false);
        var cluster = host.State.Current.Cluster!;
        var admission = Admit(request.Token, cluster, security.Clock.GetUtcNow(), remote) ?? throw Refuse(remote);
        var role = admission.Role;

        InputLimits.ValidateHostname(request.Hostname);
        InputLimits.ValidateVersion(request.Version);
        if (request.Availability is < 0 or > 2)
            throw SwarmErrors.InvalidArgument($"invalid availability \"{request.Availability}\", only active, pause and drain are supported");
        if (request.PreviousCertificatePem.Length > 0)
            return await RejoinAsync(host, cluster, role, request, context).ConfigureAwait(false);

        var nodeId = Identity.NewId();
        var now = security.Clock.GetUtcNow();
        var certPem = host.CA.Sign(request.Csr.ToByteArray(), nodeId, role, now);
        var observed = context.GetHttpContext().Connection.RemoteIpAddress;
        var node = new NodeObject
        {
            Id = nodeId,
            Hostname = request.Hostname,
            Role = role,
            Availability = (NodeAvailability)request.Availability,
            // It just proved it is alive; its session keeps it Ready from here on.
            Status = NodeStatus.Ready,
            Address = System.Net.IPAddress.TryParse(request.AdvertiseIp, out var advertised) && !advertised.Equals(System.Net.IPAddress.Any)
                      && !advertised.Equals(System.Net.IPAddress.IPv6Any)
                ? advertised.ToString()
                : observed is null ? "" : (observed.IsIPv4MappedToIPv6 ? observed.MapToIPv4() : observed).ToString(),
            CreatedAt = now, UpdatedAt = now, CertificateExpiry = ExpiryOf(certPem), Version = request.Version,
        };
        await host.ProposeAsync(new PutNodeCommand(node) { JoinTokenId = admission.Extra?.Id }, context.CancellationToken).ConfigureAwait(false);
        if (admission.Extra is { } extra)
        {
            // The store counted the use in log order: a join that lost the race for the last use
            // (through another manager, say) was not applied, and its certificate names no node.
            await host.ReadBarrierAsync(context.CancellationToken).ConfigureAwait(false);
            if (!host.State.Current.Nodes.ContainsKey(nodeId))
                throw Exhausted(host.State.Current.Cluster?.JoinTokens.FirstOrDefault(t => t.Id == extra.Id) ?? extra with { MaxUses = extra.Uses },
                    now, remote);
            logger.LogInformation("Node {NodeId} ({Hostname}) joined as {Role} with join token {TokenId}", nodeId, request.Hostname, role, extra.Id);
        }
        else logger.LogInformation("Node {NodeId} ({Hostname}) joined as {Role}", nodeId, request.Hostname, role);
        return Response(host, cluster, nodeId, certPem, role);
    }

    /// <summary>
    /// A member whose certificate expired while it was off: its expired certificate (from this
    /// root, of a node the store still lists) and a CSR signed with that certificate's key prove
    /// which node it is; it keeps its node ID and gets a certificate for the role the store says.
    /// A manager needs the manager token.
    /// </summary>
    private async Task<IssueNodeCertificateResponse> RejoinAsync(ManagerHost host, ClusterObject cluster, NodeRole tokenRole,
        IssueNodeCertificateRequest request, ServerCallContext context)
    {
        var nodeId = ProvePreviousIdentity(request.PreviousCertificatePem, request.Csr.ToByteArray(), cluster);
        var state = host.State.Current;
        if (state.RemovedNodes.Contains(nodeId))
            throw new SwarmException(SwarmErrorKind.PermissionDenied, "SwarmNodeRemoved", $"Permission denied: node {nodeId} was removed from swarm");
        if (!state.Nodes.TryGetValue(nodeId, out var node))
            throw new SwarmException(SwarmErrorKind.ObjectNotFound, "SwarmNodeNotFound", $"node {nodeId} not found");
        if (node.Role == NodeRole.Manager && tokenRole != NodeRole.Manager)
            throw new SwarmException(SwarmErrorKind.PermissionDenied, "SwarmManagerTokenRequired",
                $"node {nodeId} is a manager: renew its certificate with the manager join token");
        var now = security.Clock.GetUtcNow();
        var certPem = host.CA.Sign(request.Csr.ToByteArray(), nodeId, node.Role, now);
        await host.ProposeAsync(new PatchNodeCommand(nodeId, now)
        {
            CertificateExpiry = ExpiryOf(certPem), Status = NodeStatus.Ready, StatusMessage = "",
            Hostname = request.Hostname, Version = request.Version.Length > 0 ? request.Version : null,
        }, context.CancellationToken).ConfigureAwait(false);
        logger.LogInformation("Node {NodeId} ({Hostname}) came back with an expired certificate and got a new one as {Role}", nodeId, node.Hostname, node.Role);
        return Response(host, cluster, nodeId, certPem, node.Role);
    }

    /// <summary>A member's new certificate for the role the swarm wants it in now (renewal, promotion, demotion).</summary>
    public override async Task<IssueNodeCertificateResponse> RenewNodeCertificate(RenewNodeCertificateRequest request, ServerCallContext context)
    {
        var peer = ClusterAuthMiddleware.Peer(context);
        var host = accessor.Host;
        await host.ReadBarrierAsync(context.CancellationToken).ConfigureAwait(false);
        var state = host.State.Current;
        var cluster = state.Cluster ?? throw SwarmErrors.ManagerStarting();
        if (!state.Nodes.TryGetValue(peer.NodeId, out var node))
            throw new SwarmException(SwarmErrorKind.ObjectNotFound, "SwarmNodeNotFound", $"node {peer.NodeId} not found");
        var now = security.Clock.GetUtcNow();
        var certPem = host.CA.Sign(request.Csr.ToByteArray(), node.Id, node.Role, now);
        await host.ProposeAsync(new PatchNodeCommand(node.Id, now) { CertificateExpiry = ExpiryOf(certPem) }, context.CancellationToken)
            .ConfigureAwait(false);
        logger.LogInformation("Issued a {Role} certificate to node {NodeId}", node.Role, node.Id);
        return Response(host, cluster, node.Id, certPem, node.Role);
    }

    /// <summary>
    /// Which node a returning member is: its previous certificate (perhaps expired) from a root this swarm
    /// has or had, for this swarm's ID, and a CSR signed with that certificate's key (a copied certificate
    /// without its key proves nothing). Throws SwarmCertificateInvalid (SecurityError) otherwise.
    /// </summary>
    internal static string ProvePreviousIdentity(string previousCertificatePem, byte[] csrDer, ClusterObject cluster)
    {
        X509Certificate2 previous;
        try { previous = X509Certificate2.CreateFromPem(previousCertificatePem); }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw SwarmErrors.InvalidArgument($"the previous certificate cannot be read: {e.Message}");
        }
        string nodeId, org;
        try { (nodeId, _, org) = NodeCertificates.ReadIdentity(previous); }
        catch (ArgumentException e) { throw SwarmErrors.InvalidArgument(e.Message); }
        // Any root this swarm had proves which node it is (a node away during a root rotation comes
        // back this way); the current join token is what admits it.
        if (!IssuedByThisSwarm(previous, cluster) || org != cluster.Id)
            throw new SwarmException(SwarmErrorKind.SecurityError, "SwarmCertificateInvalid",
                "the previous certificate was not issued by this swarm's root CA");
        if (!CertificateKeys.CsrUsesKeyOf(csrDer, previous))
            throw new SwarmException(SwarmErrorKind.SecurityError, "SwarmCertificateInvalid",
                "the certificate signing request is not signed with the previous certificate's key");
        return nodeId;
    }

    /// <summary>Whether a certificate (perhaps expired) was issued by the swarm's root, the next root of a rotation, or a root it had before.</summary>
    private static bool IssuedByThisSwarm(X509Certificate2 certificate, ClusterObject cluster)
    {
        IEnumerable<string> roots = [cluster.RootCACertificate, .. cluster.PreviousRootCACertificates];
        if (cluster.RootRotation is { } rotation) roots = roots.Append(rotation.CACertificate);
        foreach (var pem in roots)
        {
            try { if (RootCA.Load(pem, null).Verifies(certificate, now: null)) return true; }
            catch (FormatException) { }
        }
        return false;
    }

    private SwarmException Refuse(System.Net.IPAddress? remote)
    {
        limiter.RecordFailure(remote);
        refusals.Warning($"token {remote}", "Refused a join from {Remote}: invalid join token", remote);
        return new SwarmException(SwarmErrorKind.AuthenticationError, "SwarmInvalidJoinToken", "A valid join token is necessary to join this cluster");
    }

    /// <summary>What a join token admits: a role, and the extra token (New-SwarmJoinToken) it is, if any.</summary>
    private readonly record struct Admission(NodeRole Role, JoinTokenObject? Extra);

    /// <summary>
    /// The role a token admits to, compared in constant time against every token of the swarm
    /// (standing ones first), or null when none matches. An extra token that matches but has
    /// expired or admitted all the nodes it may is refused with its own reason.
    /// </summary>
    private Admission? Admit(string token, ClusterObject cluster, DateTimeOffset now, System.Net.IPAddress? remote)
    {
        var isManager = JoinToken.ConstantTimeEquals(token, cluster.ManagerJoinToken);
        var isWorker = JoinToken.ConstantTimeEquals(token, cluster.WorkerJoinToken);
        JoinTokenObject? extra = null;
        foreach (var t in cluster.JoinTokens)
            if (JoinToken.ConstantTimeEquals(token, t.Token)) extra = t;
        if (isManager) return new Admission(NodeRole.Manager, null);
        if (isWorker) return new Admission(NodeRole.Worker, null);
        if (extra is null) return null;
        if (!extra.Admits(now)) throw Exhausted(extra, now, remote);
        return new Admission(extra.Role, extra);
    }

    private SwarmException Exhausted(JoinTokenObject token, DateTimeOffset now, System.Net.IPAddress? remote)
    {
        limiter.RecordFailure(remote);
        if (token.ExpiresAt is { } end && now > end)
        {
            refusals.Warning($"expired {remote}", "Refused a join from {Remote}: join token {TokenId} expired", remote, token.Id);
            return new SwarmException(SwarmErrorKind.AuthenticationError, "SwarmJoinTokenExpired",
                $"This join token expired at {end.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC. Ask a manager for a new one (New-SwarmJoinToken or Get-SwarmJoinToken).");
        }
        refusals.Warning($"used {remote}", "Refused a join from {Remote}: join token {TokenId} is used up", remote, token.Id);
        return new SwarmException(SwarmErrorKind.AuthenticationError, "SwarmJoinTokenUsedUp",
            $"This join token has admitted all the nodes it may ({token.MaxUses}). Ask a manager for a new one (New-SwarmJoinToken or Get-SwarmJoinToken).");
    }

    private static DateTimeOffset ExpiryOf(string certPem) => X509Certificate2.CreateFromPem(certPem).NotAfter.ToUniversalTime();

    internal static IssueNodeCertificateResponse Response(ManagerHost host, ClusterObject cluster, string nodeId, string certPem, NodeRole role)
    {
        var response = new IssueNodeCertificateResponse
        {
            NodeId = nodeId,
            CertificatePem = certPem,
            RootCaPem = cluster.RootCACertificate,
            SwarmId = cluster.Id,
            Manager = role == NodeRole.Manager,
            Managers = { host.ManagerAddresses() },
            HeartbeatMs = (long)cluster.Spec.DispatcherHeartbeat.TotalMilliseconds,
            NextRootCaPem = cluster.RootRotation?.CACertificate ?? "",
            DataKey = role == NodeRole.Manager && host.Options.DataKey is { } key ? ByteString.CopyFrom(key) : ByteString.Empty,
            CrossSignedCaPem = cluster.RootRotation?.CrossSignedCACertificate ?? "",
        };
        response.ManagerPeers.Add(ManagerPeers(host));
        return response;
    }

    /// <summary>The managers with a Raft address, as the store lists them now.</summary>
    internal static IEnumerable<ManagerPeer> ManagerPeers(ManagerHost host)
        => host.ManagerPeerList().Select(p => new ManagerPeer { NodeId = p.NodeId, Address = p.Address });
}
