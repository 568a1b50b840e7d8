using Grpc.Core;
using PSSwarm.Daemon.Node;
using PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Control;

/// <summary>The control API on the Unix socket: a thin shell over <see cref="NodeRuntime"/>.</summary>
internal sealed class ControlService(NodeRuntime node) : Protocol.Control.Control.ControlBase
{
    private static readonly long StartedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public override Task<DaemonInfo> GetDaemonInfo(Empty request, ServerCallContext context)
        => Task.FromResult(new DaemonInfo
        {
            Pid = Environment.ProcessId,
            Version = NodeRuntime.Version,
            DataRoot = node.Options.DataRoot,
            Endpoint = node.Options.Host,
            NodeName = node.Options.NodeName,
            StartedUnixMs = StartedUnixMs,
        });

    public override Task<SwarmInfo> GetInfo(GetInfoRequest request, ServerCallContext context)
        => node.GetInfoAsync(context.CancellationToken);

    public override Task<SwarmInfo> Init(InitRequest request, ServerCallContext context)
        => node.InitAsync(request, context.CancellationToken);

    public override Task<SwarmInfo> UpdateSwarm(UpdateSwarmRequest request, ServerCallContext context)
        => node.UpdateSwarmAsync(request, context.CancellationToken);

    public override Task<CAInfo> GetCA(GetCARequest request, ServerCallContext context)
        => node.GetCAAsync(context.CancellationToken);

    public override Task<CAInfo> RotateCA(RotateCARequest request, ServerCallContext context)
        => node.RotateCAAsync(request, context.CancellationToken);

    public override async Task<Empty> Unlock(UnlockRequest request, ServerCallContext context)
    {
        await node.UnlockAsync(request, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    }

    public override Task<CheckList> RunChecks(CheckRequest request, ServerCallContext context)
        => node.RunChecksAsync(request, context.CancellationToken);

    public override Task<UnlockKeyInfo> GetUnlockKey(Empty request, ServerCallContext context)
        => node.GetUnlockKeyAsync(context.CancellationToken);

    public override Task<UnlockKeyInfo> RotateUnlockKey(Empty request, ServerCallContext context)
        => node.RotateUnlockKeyAsync(context.CancellationToken);

    public override async Task<Empty> Leave(LeaveRequest request, ServerCallContext context)
    {
        await node.LeaveAsync(request.Force, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    }

    public override Task<JoinToken> GetJoinToken(JoinTokenRequest request, ServerCallContext context)
        => node.GetJoinTokenAsync(request.Role, context.CancellationToken);

    public override Task<JoinToken> RotateJoinToken(JoinTokenRequest request, ServerCallContext context)
        => node.RotateJoinTokenAsync(request.Role, context.CancellationToken);

    public override Task<JoinToken> CreateJoinToken(CreateJoinTokenRequest request, ServerCallContext context)
        => node.CreateJoinTokenAsync(request, context.CancellationToken);

    public override Task<JoinTokenList> ListJoinTokens(ListJoinTokensRequest request, ServerCallContext context)
        => node.ListJoinTokensAsync(context.CancellationToken);

    public override Task<JoinToken> RevokeJoinToken(RevokeJoinTokenRequest request, ServerCallContext context)
        => node.RevokeJoinTokenAsync(request, context.CancellationToken);

    public override Task<NodeList> ListNodes(ListNodesRequest request, ServerCallContext context)
        => node.ListNodesAsync(context.CancellationToken);

    public override Task<Protocol.Control.Node> Join(JoinRequest request, ServerCallContext context)
        => node.JoinAsync(request, context.CancellationToken);

    public override Task<Protocol.Control.Node> UpdateNode(UpdateNodeRequest request, ServerCallContext context)
        => node.UpdateNodeAsync(request, context.CancellationToken);

    public override async Task<Empty> RemoveNode(RemoveNodeRequest request, ServerCallContext context)
    {
        await node.RemoveNodeAsync(request, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    }

    public override Task<NetworkList> ListNetworks(ListNetworksRequest request, ServerCallContext context)
        => node.ListNetworksAsync(context.CancellationToken);
}
