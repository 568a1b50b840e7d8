using Grpc.Core;
using PSSwarm.Core;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Manager;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.Daemon.Cluster;

/// <summary>Manager-to-manager calls; only manager certificates get here (ClusterAuthMiddleware).</summary>
internal sealed class RaftControlService(ManagerHostAccessor accessor, ILogger<RaftControlService> logger) : RaftControl.RaftControlBase
{
    public override async Task<ProposeResponse> Propose(ProposeRequest request, ServerCallContext context)
    {
        RequireManager(context);
        var host = accessor.Host;
        if (!host.IsLeader)
            throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmNotLeader", host.LeaderAddress ?? "");
        await host.ProposeAsync(request.Command.ToByteArray(), context.CancellationToken).ConfigureAwait(false);
        return new ProposeResponse();
    }

    /// <summary>A manager (joining, or promoted) asks to become a voting member on its advertise address.</summary>
    public override async Task<MemberResponse> AddMember(MemberRequest request, ServerCallContext context)
    {
        var peer = RequireManager(context);
        var host = accessor.Host;
        var node = host.State.Current.Nodes.GetValueOrDefault(peer.NodeId);
        if (node is null || node.Role != NodeRole.Manager || peer.NodeId != request.NodeId)
            throw new SwarmException(SwarmErrorKind.PermissionDenied, "SwarmNotManager", $"node {peer.NodeId} is not a manager of this swarm");
        if (!host.IsLeader)
            throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmNotLeader", host.LeaderAddress ?? "");
        await host.AddMemberAsync(request.Address, context.CancellationToken).ConfigureAwait(false);
        await host.ProposeAsync(new PatchNodeCommand(node.Id, DateTimeOffset.UtcNow) { ManagerAddress = request.Address }, context.CancellationToken)
            .ConfigureAwait(false);
        return new MemberResponse();
    }

    public override async Task<MemberResponse> RemoveMember(MemberRequest request, ServerCallContext context)
    {
        RequireManager(context);
        await accessor.Host.RemoveMemberAsync(request.Address, context.CancellationToken).ConfigureAwait(false);
        logger.LogInformation("Raft member {Address} removed at the request of a manager", request.Address);
        return new MemberResponse();
    }

    public override async Task<ReadIndexResponse> ReadIndex(ReadIndexRequest request, ServerCallContext context)
    {
        RequireManager(context);
        var host = accessor.Host;
        await host.ReadBarrierAsync(context.CancellationToken).ConfigureAwait(false);
        var response = new ReadIndexResponse();
        if (host.IsLeader) response.Unreachable.Add(await host.UnreachableMembersAsync(context.CancellationToken).ConfigureAwait(false));
        return response;
    }

    private static PeerIdentity RequireManager(ServerCallContext context)
    {
        var peer = (PeerIdentity)context.GetHttpContext().Items[ClusterAuthMiddleware.PeerItem]!;
        if (!peer.IsManager)
            throw new SwarmException(SwarmErrorKind.PermissionDenied, "SwarmNotManager", "a manager certificate is required");
        return peer;
    }
}
