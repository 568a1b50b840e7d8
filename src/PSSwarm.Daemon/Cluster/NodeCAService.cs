using Google.Protobuf;
using Grpc.Core;
using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Manager;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.Daemon.Cluster;

/// <summary>The CA endpoints of the cluster listener (swarmkit's NodeCA).</summary>
internal sealed class NodeCAService(PeerAuthenticator authenticator, ManagerHostAccessor accessor, ILogger<NodeCAService> logger)
    : NodeCA.NodeCABase
{
    private readonly ByteString rootPem = ByteString.CopyFrom(authenticator.Root.CertificatePemBytes);

    /// <summary>The exact PEM bytes whose SHA-256 is the digest in the join tokens.</summary>
    public override Task<GetRootCACertificateResponse> GetRootCACertificate(GetRootCACertificateRequest request, ServerCallContext context)
        => Task.FromResult(new GetRootCACertificateResponse { Certificate = rootPem });

    /// <summary>
    /// A join: the whole token is compared in constant time (manager token first) and decides
    /// the role; the request's own claims are ignored. The node is created through Raft.
    /// </summary>
    public override async Task<IssueNodeCertificateResponse> IssueNodeCertificate(IssueNodeCertificateRequest request, ServerCallContext context)
    {
        var host = accessor.Host;
        // See the newest tokens: a rotated token is refused at once by every manager.
        await host.ReadBarrierAsync(context.CancellationToken).ConfigureAwait(false);
        var cluster = host.State.Current.Cluster ?? throw SwarmErrors.ManagerStarting();

        NodeRole role;
        var isManager = JoinToken.ConstantTimeEquals(request.Token, cluster.ManagerJoinToken);
        var isWorker = JoinToken.ConstantTimeEquals(request.Token, cluster.WorkerJoinToken);
        if (isManager) role = NodeRole.Manager;
        else if (isWorker) role = NodeRole.Worker;
        else
        {
            logger.LogWarning("Refused a join from {Remote}: invalid join token", context.GetHttpContext().Connection.RemoteIpAddress);
            throw new SwarmException(SwarmErrorKind.AuthenticationError, "SwarmInvalidJoinToken",
                "A valid join token is necessary to join this cluster");
        }

        var root = RootCA.Load(cluster.RootCACertificate, cluster.RootCAKey);
        var nodeId = Identity.NewId();
        var now = DateTimeOffset.UtcNow;
        string certPem;
        try
        {
            certPem = root.SignNodeCertificate(request.Csr.ToByteArray(), nodeId,
                role == NodeRole.Manager ? NodeCertificates.ManagerRole : NodeCertificates.WorkerRole, cluster.Id, cluster.Spec.CertExpiry, now);
        }
        catch (ArgumentException e)
        {
            throw SwarmErrors.InvalidArgument($"invalid certificate signing request: {e.Message}");
        }
        var expiry = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(certPem).NotAfter.ToUniversalTime();
        var observed = context.GetHttpContext().Connection.RemoteIpAddress;
        var node = new NodeObject
        {
            Id = nodeId,
            Hostname = request.Hostname,
            Role = role,
            Availability = request.Availability switch { 1 => NodeAvailability.Pause, 2 => NodeAvailability.Drain, _ => NodeAvailability.Active },
            // It just proved it is alive; its session keeps it Ready from here on.
            Status = NodeStatus.Ready,
            Address = System.Net.IPAddress.TryParse(request.AdvertiseIp, out var advertised) && !advertised.Equals(System.Net.IPAddress.Any)
                ? advertised.ToString()
                : observed is null ? "" : (observed.IsIPv4MappedToIPv6 ? observed.MapToIPv4() : observed).ToString(),
            CreatedAt = now, UpdatedAt = now, CertificateExpiry = expiry, Version = request.Version,
        };
        await host.ProposeAsync(new PutNodeCommand(node), context.CancellationToken).ConfigureAwait(false);
        logger.LogInformation("Node {NodeId} ({Hostname}) joined as {Role}", nodeId, request.Hostname, role);
        return Response(host, cluster, nodeId, certPem, role);
    }

    /// <summary>A member's new certificate for the role the swarm now wants it in (promotion, demotion).</summary>
    public override async Task<IssueNodeCertificateResponse> RenewNodeCertificate(RenewNodeCertificateRequest request, ServerCallContext context)
    {
        var peer = (PeerIdentity)context.GetHttpContext().Items[ClusterAuthMiddleware.PeerItem]!;
        var host = accessor.Host;
        await host.ReadBarrierAsync(context.CancellationToken).ConfigureAwait(false);
        var state = host.State.Current;
        var cluster = state.Cluster ?? throw SwarmErrors.ManagerStarting();
        if (!state.Nodes.TryGetValue(peer.NodeId, out var node))
            throw new SwarmException(SwarmErrorKind.ObjectNotFound, "SwarmNodeNotFound", $"node {peer.NodeId} not found");
        var root = RootCA.Load(cluster.RootCACertificate, cluster.RootCAKey);
        var certPem = root.SignNodeCertificate(request.Csr.ToByteArray(), node.Id,
            node.Role == NodeRole.Manager ? NodeCertificates.ManagerRole : NodeCertificates.WorkerRole, cluster.Id, cluster.Spec.CertExpiry);
        var expiry = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(certPem).NotAfter.ToUniversalTime();
        await host.ProposeAsync(new PatchNodeCommand(node.Id, DateTimeOffset.UtcNow) { CertificateExpiry = expiry }, context.CancellationToken)
            .ConfigureAwait(false);
        logger.LogInformation("Issued a {Role} certificate to node {NodeId}", node.Role, node.Id);
        return Response(host, cluster, node.Id, certPem, node.Role);
    }

    private static IssueNodeCertificateResponse Response(ManagerHost host, ClusterObject cluster, string nodeId, string certPem, NodeRole role)
        => new()
        {
            NodeId = nodeId,
            CertificatePem = certPem,
            RootCaPem = cluster.RootCACertificate,
            SwarmId = cluster.Id,
            Manager = role == NodeRole.Manager,
            Managers = { host.ManagerAddresses() },
            HeartbeatMs = (long)cluster.Spec.DispatcherHeartbeat.TotalMilliseconds,
        };
}
