using Grpc.Core;
using PSSwarm.Core;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Ca;
using PSSwarm.Daemon.Manager;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.Daemon.Cluster;

/// <summary>
/// Manager-to-manager calls. Who may call each method is decided before a call gets here, by
/// <see cref="ClusterAccessPolicy"/> (AddMember: a manager in the store; the rest: Raft members).
/// </summary>
internal sealed class RaftControlService(ManagerHostAccessor accessor, ILogger<RaftControlService> logger) : RaftControl.RaftControlBase
{
    /// <summary>A forwarded write: decoded and validated here, on the leader, before it enters the log.</summary>
    public override async Task<ProposeResponse> Propose(ProposeRequest request, ServerCallContext context)
    {
        var host = accessor.Host;
        if (!host.IsLeader)
            throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmNotLeader", host.LeaderAddress ?? "");
        var command = CommandValidator.Decode(request.Command.Span);
        await host.ProposeAsync(command, context.CancellationToken).ConfigureAwait(false);
        return new ProposeResponse();
    }

    /// <summary>A manager (joining, or promoted) asks to become a voting member on its advertise address.</summary>
    public override async Task<MemberResponse> AddMember(MemberRequest request, ServerCallContext context)
    {
        var peer = ClusterAuthMiddleware.Peer(context);
        var host = accessor.Host;
        if (peer.NodeId != request.NodeId)
            throw new SwarmException(SwarmErrorKind.PermissionDenied, "SwarmPermissionDenied",
                $"Permission denied: node {peer.NodeId} may only add itself to the Raft membership");
        InputLimits.ValidateHostPort(request.Address, allowEmpty: false);
        var owner = host.State.Current.Nodes.Values.FirstOrDefault(n => n.Id != peer.NodeId && n.ManagerAddress == request.Address);
        if (owner is not null)
            throw SwarmErrors.InvalidArgument($"the address {request.Address} is already the Raft address of manager {owner.Id}");
        if (!host.IsLeader)
            throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmNotLeader", host.LeaderAddress ?? "");
        await host.AddMemberAsync(request.Address, context.CancellationToken).ConfigureAwait(false);
        await host.ProposeAsync(new PatchNodeCommand(peer.NodeId, DateTimeOffset.UtcNow) { ManagerAddress = request.Address }, context.CancellationToken)
            .ConfigureAwait(false);
        return new MemberResponse();
    }

    public override async Task<MemberResponse> RemoveMember(MemberRequest request, ServerCallContext context)
    {
        InputLimits.ValidateHostPort(request.Address, allowEmpty: false);
        var peer = ClusterAuthMiddleware.Peer(context);
        var host = accessor.Host;
        var self = host.State.Current.Nodes.GetValueOrDefault(peer.NodeId);
        // A manager that demotes itself or leaves the swarm removes itself; once out of the membership
        // it may not write, so the leader records it as a worker (Down when it left the swarm).
        var leaving = request.Leaving && self is not null && self.ManagerAddress == request.Address;
        if (request.Leaving && !leaving)
            throw new SwarmException(SwarmErrorKind.PermissionDenied, "SwarmPermissionDenied",
                $"Permission denied: node {peer.NodeId} may only leave the Raft membership in its own name");
        await host.RemoveMemberAsync(request.Address, context.CancellationToken).ConfigureAwait(false);
        logger.LogInformation("Raft member {Address} removed at the request of manager {NodeId}", request.Address, peer.NodeId);
        if (leaving)
            await host.ProposeAsync(new PatchNodeCommand(peer.NodeId, DateTimeOffset.UtcNow)
            {
                Role = NodeRole.Worker, ManagerAddress = "",
                Status = request.LeftSwarm ? NodeStatus.Down : null, StatusMessage = request.LeftSwarm ? Manager.Dispatcher.NodeLeft : null,
            }, context.CancellationToken).ConfigureAwait(false);
        return new MemberResponse();
    }

    public override async Task<ReadIndexResponse> ReadIndex(ReadIndexRequest request, ServerCallContext context)
    {
        var host = accessor.Host;
        await host.ReadBarrierAsync(context.CancellationToken).ConfigureAwait(false);
        var response = new ReadIndexResponse();
        if (host.IsLeader) response.Unreachable.Add(await host.UnreachableMembersAsync(context.CancellationToken).ConfigureAwait(false));
        return response;
    }
}
