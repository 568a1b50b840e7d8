using Grpc.Core;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Manager;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.Daemon.Cluster;

/// <summary>Node sessions (the leader answers; followers say who leads). Callers are current members (ClusterAccessPolicy).</summary>
internal sealed class DispatcherService(ManagerHostAccessor accessor) : Protocol.Cluster.Dispatcher.DispatcherBase
{
    public override async Task<HeartbeatResponse> Heartbeat(HeartbeatRequest request, ServerCallContext context)
    {
        var peer = ClusterAuthMiddleware.Peer(context);
        // What a node says of itself is bounded before it can reach the store.
        InputLimits.ValidateIPAddress(request.Address, allowEmpty: true);
        if (request.Hostname.Length > 0) InputLimits.ValidateHostname(request.Hostname); // empty: unchanged
        InputLimits.ValidateVersion(request.Version);
        var host = accessor.Host;
        var node = await host.Dispatcher.HeartbeatAsync(peer.NodeId, request.Address, request.Hostname, request.Version, peer.IssuerKeyId,
            context.CancellationToken).ConfigureAwait(false);
        var cluster = host.State.Current.Cluster;
        var spec = cluster?.Spec ?? new ClusterSpec();
        var response = new HeartbeatResponse
        {
            PeriodMs = (long)spec.DispatcherHeartbeat.TotalMilliseconds,
            Managers = { host.ManagerAddresses() },
            DesiredManager = node.Role == NodeRole.Manager,
            Leader = host.LeaderAddress ?? "",
            CertExpiryMs = (long)spec.CertExpiry.TotalMilliseconds,
        };
        if (cluster is not null)
        {
            response.RootCaPem = cluster.RootCACertificate;
            response.NextRootCaPem = cluster.RootRotation?.CACertificate ?? "";
            response.CrossSignedCaPem = cluster.RootRotation?.CrossSignedCACertificate ?? "";
            response.DesiredIssuer = host.CA.SigningKeyId(cluster);
        }
        response.ManagerPeers.Add(NodeCAService.ManagerPeers(host));
        return response;
    }

    public override async Task<LeaveSessionResponse> Leave(LeaveSessionRequest request, ServerCallContext context)
    {
        await accessor.Host.Dispatcher.LeaveAsync(ClusterAuthMiddleware.Peer(context).NodeId, context.CancellationToken).ConfigureAwait(false);
        return new LeaveSessionResponse();
    }
}
