using Grpc.Core;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Manager;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.Daemon.Cluster;

/// <summary>Node sessions (the leader answers; followers say who leads).</summary>
internal sealed class DispatcherService(ManagerHostAccessor accessor) : Protocol.Cluster.Dispatcher.DispatcherBase
{
    public override async Task<HeartbeatResponse> Heartbeat(HeartbeatRequest request, ServerCallContext context)
    {
        var peer = (PeerIdentity)context.GetHttpContext().Items[ClusterAuthMiddleware.PeerItem]!;
        var host = accessor.Host;
        var node = await host.Dispatcher.HeartbeatAsync(peer.NodeId, request.Address, request.Hostname, request.Version, context.CancellationToken)
            .ConfigureAwait(false);
        var cluster = host.State.Current.Cluster;
        return new HeartbeatResponse
        {
            PeriodMs = (long)(cluster?.Spec.DispatcherHeartbeat ?? ClusterSpec.DefaultDispatcherHeartbeat).TotalMilliseconds,
            Managers = { host.ManagerAddresses() },
            DesiredManager = node.Role == NodeRole.Manager,
            Leader = host.LeaderAddress ?? "",
        };
    }

    public override async Task<LeaveSessionResponse> Leave(LeaveSessionRequest request, ServerCallContext context)
    {
        var peer = (PeerIdentity)context.GetHttpContext().Items[ClusterAuthMiddleware.PeerItem]!;
        await accessor.Host.Dispatcher.LeaveAsync(peer.NodeId, context.CancellationToken).ConfigureAwait(false);
        return new LeaveSessionResponse();
    }
}
