using System.Text.Json;
using System.Text.Json.Serialization;

namespace PSSwarm.Core.State;

/// <summary>
/// A change to the swarm state, written to the Raft log. Commands carry every value they need
/// (IDs, times, keys) so that applying them is deterministic on every manager.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "op")]
[JsonDerivedType(typeof(CreateClusterCommand), "createCluster")]
[JsonDerivedType(typeof(SetJoinTokenCommand), "setJoinToken")]
[JsonDerivedType(typeof(PutNodeCommand), "putNode")]
[JsonDerivedType(typeof(RemoveNodeCommand), "removeNode")]
[JsonDerivedType(typeof(UpdateClusterSpecCommand), "updateClusterSpec")]
public abstract record SwarmCommand
{
    public abstract SwarmState.Snapshot Apply(SwarmState.Snapshot state);

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, SwarmState.JsonOptions);

    public static SwarmCommand FromBytes(ReadOnlySpan<byte> utf8)
        => JsonSerializer.Deserialize<SwarmCommand>(utf8, SwarmState.JsonOptions)
           ?? throw new InvalidDataException("empty swarm command");

    protected static Dictionary<string, TValue> With<TValue>(IReadOnlyDictionary<string, TValue> source, string key, TValue value)
        => new(source) { [key] = value };
}

/// <summary>Creates the swarm: cluster object (CA, tokens), the first manager and the ingress network.</summary>
public sealed record CreateClusterCommand(ClusterObject Cluster, NodeObject FirstNode, NetworkObject Ingress) : SwarmCommand
{
    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        if (state.Cluster is not null)
            return state; // a cluster exists already: the log holds one creation only
        return state with
        {
            Cluster = Cluster,
            Nodes = With(state.Nodes, FirstNode.Id, FirstNode),
            Networks = With(state.Networks, Ingress.Id, Ingress),
        };
    }
}

public sealed record SetJoinTokenCommand(NodeRole Role, string Token, DateTimeOffset At) : SwarmCommand
{
    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        if (state.Cluster is null) return state;
        var cluster = Role == NodeRole.Manager
            ? state.Cluster with { ManagerJoinToken = Token, UpdatedAt = At }
            : state.Cluster with { WorkerJoinToken = Token, UpdatedAt = At };
        return state with { Cluster = cluster };
    }
}

public sealed record PutNodeCommand(NodeObject Node) : SwarmCommand
{
    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
        => state.RemovedNodes.Contains(Node.Id) ? state : state with { Nodes = With(state.Nodes, Node.Id, Node) };
}

public sealed record RemoveNodeCommand(string NodeId) : SwarmCommand
{
    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        var nodes = new Dictionary<string, NodeObject>(state.Nodes);
        nodes.Remove(NodeId);
        return state with { Nodes = nodes, RemovedNodes = new HashSet<string>(state.RemovedNodes) { NodeId } };
    }
}

public sealed record UpdateClusterSpecCommand(ClusterSpec Spec, DateTimeOffset At) : SwarmCommand
{
    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
        => state.Cluster is null ? state : state with { Cluster = state.Cluster with { Spec = Spec, UpdatedAt = At } };
}
