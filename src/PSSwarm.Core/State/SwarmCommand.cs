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
[JsonDerivedType(typeof(PatchNodeCommand), "patchNode")]
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

/// <summary>
/// Changes some fields of a node, merged into the node as it is when the entry is applied:
/// concurrent changes of different fields (a heartbeat, a label, a drain) never undo each other,
/// as a whole-node put read earlier would. Null fields stay as they are.
/// </summary>
public sealed record PatchNodeCommand(string NodeId, DateTimeOffset At) : SwarmCommand
{
    public NodeRole? Role { get; init; }
    public NodeAvailability? Availability { get; init; }
    public NodeStatus? Status { get; init; }
    public string? StatusMessage { get; init; }
    public string? Address { get; init; }
    public string? ManagerAddress { get; init; }
    public string? Hostname { get; init; }
    public string? Version { get; init; }
    public DateTimeOffset? CertificateExpiry { get; init; }
    public bool ReplaceLabels { get; init; }
    public Dictionary<string, string>? SetLabels { get; init; }
    public List<string>? RemoveLabels { get; init; }

    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        if (!state.Nodes.TryGetValue(NodeId, out var node)) return state;
        var labels = node.Labels;
        if (ReplaceLabels || SetLabels is { Count: > 0 } || RemoveLabels is { Count: > 0 })
        {
            labels = ReplaceLabels ? new Dictionary<string, string>() : new Dictionary<string, string>(node.Labels);
            foreach (var key in RemoveLabels ?? []) labels.Remove(key);
            foreach (var (k, v) in SetLabels ?? []) labels[k] = v;
        }
        var patched = node with
        {
            Role = Role ?? node.Role,
            Availability = Availability ?? node.Availability,
            Status = Status ?? node.Status,
            StatusMessage = StatusMessage ?? node.StatusMessage,
            Address = Address ?? node.Address,
            ManagerAddress = ManagerAddress ?? node.ManagerAddress,
            Hostname = Hostname ?? node.Hostname,
            Version = Version ?? node.Version,
            CertificateExpiry = CertificateExpiry ?? node.CertificateExpiry,
            Labels = labels,
            UpdatedAt = At,
        };
        return state with { Nodes = With(state.Nodes, NodeId, patched) };
    }
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
