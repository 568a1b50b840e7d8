using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PSSwarm.Core.State;

/// <summary>
/// A change to the swarm state, written to the Raft log. Commands carry every value they need
/// (IDs, times, keys) so that applying them is deterministic on every manager.
/// </summary>
/// <remarks>
/// <see cref="Apply"/> must be total: it runs on every manager for every entry, and an exception
/// there stops the Raft state machine for good (DESIGN.md). Malformed input, which the leader's
/// <see cref="CommandValidator"/> refuses before proposing, is a no-op here, never an exception,
/// and the result may depend on nothing but the state and the command (no clock, no randomness).
/// </remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "op")]
[JsonDerivedType(typeof(CreateClusterCommand), "createCluster")]
[JsonDerivedType(typeof(SetJoinTokenCommand), "setJoinToken")]
[JsonDerivedType(typeof(PutNodeCommand), "putNode")]
[JsonDerivedType(typeof(PatchNodeCommand), "patchNode")]
[JsonDerivedType(typeof(PatchNodesCommand), "patchNodes")]
[JsonDerivedType(typeof(RemoveNodeCommand), "removeNode")]
[JsonDerivedType(typeof(UpdateClusterSpecCommand), "updateClusterSpec")]
[JsonDerivedType(typeof(RestoreStateCommand), "restoreState")]
[JsonDerivedType(typeof(AddJoinTokenCommand), "addJoinToken")]
[JsonDerivedType(typeof(RevokeJoinTokenCommand), "revokeJoinToken")]
[JsonDerivedType(typeof(StartRootRotationCommand), "startRootRotation")]
[JsonDerivedType(typeof(CompleteRootRotationCommand), "completeRootRotation")]
public abstract record SwarmCommand
{
    /// <summary>
    /// The store format this build writes (property "v" of every entry). Raise it whenever an
    /// entry's meaning changes in a way older builds would apply differently: they then halt on
    /// the entry with a message naming both versions instead of applying it wrongly.
    /// </summary>
    /// <remarks>Version 2: extra join tokens (addJoinToken, revokeJoinToken) and putNode's joinTokenId,
    /// which a version-1 build would ignore and so admit nodes past a token's limit.
    /// Version 3: root CA rotation (startRootRotation, completeRootRotation), which an older build
    /// could not apply and would keep trusting and signing with the old root.</remarks>
    public const int FormatVersion = 3;

    /// <summary>The oldest store format this build still reads. Entries written before "v" existed are version 1.</summary>
    public const int MinReadableFormatVersion = 1;

    /// <summary>
    /// The store format the entry was written with. Serialized right after the "op" discriminator
    /// (which System.Text.Json requires to come first); an entry without "v" reads as version 1.
    /// </summary>
    [JsonPropertyName("v")]
    [JsonPropertyOrder(-1)]
    public int StoreFormatVersion { get; init; } = FormatVersion;

    public abstract SwarmState.Snapshot Apply(SwarmState.Snapshot state);

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, SwarmState.JsonOptions);

    /// <summary>
    /// Decodes a log entry. Anything this build cannot decode (garbage, the literal <c>null</c>, an
    /// unknown op, a newer store format) throws <see cref="UnreadableCommandException"/>, never another exception.
    /// </summary>
    public static SwarmCommand FromBytes(ReadOnlySpan<byte> utf8)
    {
        SwarmCommand? command;
        try
        {
            command = JsonSerializer.Deserialize<SwarmCommand>(utf8, SwarmState.JsonOptions);
        }
        catch (Exception e)
        {
            // JsonException, NotSupportedException (no or misplaced "op"), InvalidOperationException,
            // ArgumentException from a converter: all mean "not an entry this build can read".
            throw UnreadableCommandException.Create(utf8, e.Message, e);
        }
        if (command is null)
            throw UnreadableCommandException.Create(utf8, "the entry is the JSON literal null", null);
        // Entries written before "v" existed are version 1 (the property's initializer says this build's version).
        if (command.StoreFormatVersion == FormatVersion && UnreadableCommandException.Peek(utf8).Version is null)
            command = command with { StoreFormatVersion = 1 };
        if (command.StoreFormatVersion is < MinReadableFormatVersion or > FormatVersion)
            throw UnreadableCommandException.Create(utf8, $"invalid store format version {command.StoreFormatVersion}", null);
        return command;
    }

    /// <summary>
    /// The map with one entry set. The state's maps are immutable (persistent) maps: a write costs
    /// O(log n) and shares the rest, where copying a 5,000-node map on every heartbeat-driven write
    /// put it on the large object heap and cost blocking gen2 collections.
    /// </summary>
    protected static ImmutableDictionary<string, TValue> With<TValue>(IReadOnlyDictionary<string, TValue> source, string key, TValue value)
        => Immutable(source).SetItem(key, value);

    protected static ImmutableDictionary<string, TValue> Immutable<TValue>(IReadOnlyDictionary<string, TValue> source)
        => source as ImmutableDictionary<string, TValue> ?? source.ToImmutableDictionary(StringComparer.Ordinal);

    /// <summary>
    /// The node as the state may hold it, or null when it cannot be stored (no node, no ID, an enum
    /// value outside its range). Null strings and labels, which only a malformed entry carries,
    /// become empty ones, so readers of the state never meet a null.
    /// </summary>
    internal static NodeObject? Storable(NodeObject? node)
    {
        if (node is null || string.IsNullOrEmpty(node.Id)) return null;
        if (!Enum.IsDefined(node.Role) || !Enum.IsDefined(node.Availability) || !Enum.IsDefined(node.Status)) return null;
        if (node.Hostname is not null && node.StatusMessage is not null && node.Address is not null
            && node.ManagerAddress is not null && node.Version is not null && node.Labels is not null && node.CertificateIssuer is not null
            && !node.Labels.Values.Any(v => v is null))
            return node;
        return node with
        {
            Hostname = node.Hostname ?? "",
            StatusMessage = node.StatusMessage ?? "",
            Address = node.Address ?? "",
            ManagerAddress = node.ManagerAddress ?? "",
            Version = node.Version ?? "",
            CertificateIssuer = node.CertificateIssuer ?? "",
            Labels = node.Labels is null ? new() : node.Labels.ToDictionary(p => p.Key, p => p.Value ?? ""),
        };
    }

    /// <summary>The cluster as the state may hold it, or null when essential parts (ID, CA, tokens) are missing.</summary>
    internal static ClusterObject? Storable(ClusterObject? cluster)
    {
        if (cluster is null || string.IsNullOrEmpty(cluster.Id) || cluster.RootCACertificate is null || cluster.RootCAKey is null
            || cluster.WorkerJoinToken is null || cluster.ManagerJoinToken is null)
            return null;
        var rotation = cluster.RootRotation is { CACertificate: not null, CAKey: not null, CrossSignedCACertificate: not null } r ? r : null;
        if (cluster.Name is not null && cluster.Spec is not null && cluster.JoinTokens is not null && !cluster.JoinTokens.Contains(null!)
            && cluster.PreviousRootCACertificates is not null && !cluster.PreviousRootCACertificates.Contains(null!)
            && rotation == cluster.RootRotation && cluster.UnlockKey is not null)
            return cluster;
        return cluster with
        {
            Name = cluster.Name ?? ClusterObject.DefaultName, Spec = cluster.Spec ?? new ClusterSpec(),
            JoinTokens = cluster.JoinTokens?.Where(t => t is not null).ToList() ?? new(),
            PreviousRootCACertificates = cluster.PreviousRootCACertificates?.Where(c => c is not null).ToList() ?? new(),
            RootRotation = rotation,
            UnlockKey = cluster.UnlockKey ?? "",
        };
    }

    /// <summary>The network as the state may hold it, or null without an ID or a name.</summary>
    internal static NetworkObject? Storable(NetworkObject? network)
    {
        if (network is null || string.IsNullOrEmpty(network.Id) || network.Name is null) return null;
        if (network.Driver is not null && network.Scope is not null && network.Subnet is not null && network.Gateway is not null)
            return network;
        return network with
        {
            Driver = network.Driver ?? "", Scope = network.Scope ?? "",
            Subnet = network.Subnet ?? "", Gateway = network.Gateway ?? "",
        };
    }
}

/// <summary>Creates the swarm: cluster object (CA, tokens), the first manager and the ingress network.</summary>
public sealed record CreateClusterCommand(ClusterObject Cluster, NodeObject FirstNode, NetworkObject Ingress) : SwarmCommand
{
    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        if (state.Cluster is not null)
            return state; // a cluster exists already: the log holds one creation only
        var cluster = Storable(Cluster);
        var first = Storable(FirstNode);
        var ingress = Storable(Ingress);
        if (cluster is null || first is null || ingress is null)
            return state; // a malformed creation: no half-created swarm
        return state with
        {
            Cluster = cluster,
            Nodes = With(state.Nodes, first.Id, first),
            Networks = With(state.Networks, ingress.Id, ingress),
        };
    }
}

public sealed record SetJoinTokenCommand(NodeRole Role, string Token, DateTimeOffset At) : SwarmCommand
{
    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        if (state.Cluster is null || Token is null || !Enum.IsDefined(Role)) return state;
        var cluster = Role == NodeRole.Manager
            ? state.Cluster with { ManagerJoinToken = Token, ManagerJoinTokenCreatedAt = At, UpdatedAt = At }
            : state.Cluster with { WorkerJoinToken = Token, WorkerJoinTokenCreatedAt = At, UpdatedAt = At };
        return state with { Cluster = cluster };
    }
}

public sealed record PutNodeCommand(NodeObject Node) : SwarmCommand
{
    /// <summary>
    /// The extra join token the node joined with, or null (a standing token, or not a join). The
    /// node is added only if that token still admits a join at the node's CreatedAt, and the join
    /// counts as one use: the store, in log order, decides which of concurrent joins get in.
    /// </summary>
    public string? JoinTokenId { get; init; }

    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        var node = Storable(Node);
        if (node is null || state.RemovedNodes.Contains(node.Id)) return state;
        if (JoinTokenId is null) return state with { Nodes = With(state.Nodes, node.Id, node) };

        if (state.Nodes.ContainsKey(node.Id) || state.Cluster is not { } cluster) return state;
        var index = cluster.JoinTokens.FindIndex(t => t.Id == JoinTokenId);
        if (index < 0 || cluster.JoinTokens[index].Role != node.Role || !cluster.JoinTokens[index].Admits(node.CreatedAt)) return state;
        var tokens = new List<JoinTokenObject>(cluster.JoinTokens);
        tokens[index] = tokens[index] with { Uses = tokens[index].Uses + 1 };
        return state with { Cluster = cluster with { JoinTokens = tokens }, Nodes = With(state.Nodes, node.Id, node) };
    }
}

/// <summary>New-SwarmJoinToken: an extra token next to the role's standing one.</summary>
public sealed record AddJoinTokenCommand(JoinTokenObject Token) : SwarmCommand
{
    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        if (state.Cluster is not { } cluster || Token?.Id is null || Token.Token is null || !Enum.IsDefined(Token.Role)) return state;
        if (cluster.JoinTokens.Any(t => t.Id == Token.Id)) return state;
        var token = Token with { Uses = 0, Description = Token.Description ?? "" };
        return state with { Cluster = cluster with { JoinTokens = [.. cluster.JoinTokens, token] } };
    }
}

/// <summary>Revoke-SwarmJoinToken: the token admits no one from now on (nodes it admitted stay).</summary>
public sealed record RevokeJoinTokenCommand(string TokenId) : SwarmCommand
{
    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        if (state.Cluster is not { } cluster || TokenId is null || !cluster.JoinTokens.Any(t => t.Id == TokenId)) return state;
        return state with { Cluster = cluster with { JoinTokens = cluster.JoinTokens.Where(t => t.Id != TokenId).ToList() } };
    }
}

/// <summary>Update-SwarmCA: starts a root rotation, or restarts one in progress with another next root.</summary>
public sealed record StartRootRotationCommand(RootRotationObject Rotation) : SwarmCommand
{
    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        if (state.Cluster is not { } cluster || Rotation is not { CACertificate: not null, CAKey: not null, CrossSignedCACertificate: not null }) return state;
        return state with { Cluster = cluster with { RootRotation = Rotation, UpdatedAt = Rotation.StartedAt } };
    }
}

/// <summary>
/// Ends the rotation to <see cref="CACertificate"/> (a no-op unless that rotation is the one in
/// progress): the next root and key become the swarm's, the old root is kept only to prove which
/// node a returning node is, both standing join tokens are replaced by these (they pin the new
/// root) and the extra join tokens, which pin the old root, are dropped.
/// </summary>
public sealed record CompleteRootRotationCommand(string CACertificate, string WorkerJoinToken, string ManagerJoinToken, DateTimeOffset At) : SwarmCommand
{
    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        if (state.Cluster is not { RootRotation: { } rotation } cluster || CACertificate is null || rotation.CACertificate != CACertificate
            || WorkerJoinToken is null || ManagerJoinToken is null)
            return state;
        var previous = new List<string>(cluster.PreviousRootCACertificates ?? []) { cluster.RootCACertificate };
        if (previous.Count > RootRotationObject.MaxPreviousRoots) previous.RemoveRange(0, previous.Count - RootRotationObject.MaxPreviousRoots);
        return state with
        {
            Cluster = cluster with
            {
                RootCACertificate = rotation.CACertificate, RootCAKey = rotation.CAKey, RootRotation = null,
                PreviousRootCACertificates = previous,
                WorkerJoinToken = WorkerJoinToken, ManagerJoinToken = ManagerJoinToken, JoinTokens = new(), UpdatedAt = At,
                WorkerJoinTokenCreatedAt = At, ManagerJoinTokenCreatedAt = At,
            },
        };
    }
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
    public string? CertificateIssuer { get; init; }
    public bool ReplaceLabels { get; init; }
    public Dictionary<string, string>? SetLabels { get; init; }
    public List<string>? RemoveLabels { get; init; }

    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        // An unknown node is not an error: it may have been removed by an entry applied just before.
        if (NodeId is null || !state.Nodes.TryGetValue(NodeId, out var node)) return state;
        var patched = Patch(node);
        return patched is null ? state : state with { Nodes = With(state.Nodes, NodeId, patched) };
    }

    /// <summary>The node with this patch merged in, or null when the patch is malformed (a no-op).</summary>
    internal NodeObject? Patch(NodeObject node)
    {
        if (Role is { } r && !Enum.IsDefined(r)) return null;
        if (Availability is { } a && !Enum.IsDefined(a)) return null;
        if (Status is { } s && !Enum.IsDefined(s)) return null;

        var labels = node.Labels ?? new Dictionary<string, string>();
        if (ReplaceLabels || SetLabels is { Count: > 0 } || RemoveLabels is { Count: > 0 })
        {
            labels = ReplaceLabels ? new Dictionary<string, string>() : new Dictionary<string, string>(labels);
            foreach (var key in RemoveLabels ?? [])
            {
                if (key is not null) labels.Remove(key);
            }
            foreach (var (k, v) in SetLabels ?? []) labels[k] = v ?? "";
        }
        var patched = node with
        {
            Role = Role ?? node.Role,
            Availability = Availability ?? node.Availability,
            Status = Status ?? node.Status,
            StatusMessage = StatusMessage ?? node.StatusMessage ?? "",
            Address = Address ?? node.Address ?? "",
            ManagerAddress = ManagerAddress ?? node.ManagerAddress ?? "",
            Hostname = Hostname ?? node.Hostname ?? "",
            Version = Version ?? node.Version ?? "",
            CertificateExpiry = CertificateExpiry ?? node.CertificateExpiry,
            CertificateIssuer = CertificateIssuer ?? node.CertificateIssuer ?? "",
            Labels = labels,
            UpdatedAt = At,
        };
        return patched;
    }
}

/// <summary>
/// Many node patches in one entry (swarmkit's dispatcher batches node status updates the same
/// way): after a leader change, or when many nodes fall silent at once, the leader writes one
/// entry per batch instead of one per node, and the state's node table is copied once.
/// Each patch applies as a <see cref="PatchNodeCommand"/> would, in order; a malformed one, or one
/// for a node that is gone, changes nothing while the others still apply.
/// </summary>
public sealed record PatchNodesCommand(List<PatchNodeCommand> Patches) : SwarmCommand
{
    /// <summary>Most patches the leader writes in one entry (keeps an entry well under 1 MB).</summary>
    public const int MaxPatches = 1000;

    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        if (Patches is null || Patches.Count == 0) return state;
        ImmutableDictionary<string, NodeObject>.Builder? nodes = null;
        foreach (var patch in Patches)
        {
            if (patch?.NodeId is null) continue;
            var found = nodes is null ? state.Nodes.TryGetValue(patch.NodeId, out var node) : nodes.TryGetValue(patch.NodeId, out node);
            if (!found || node is null) continue;
            if (patch.Patch(node) is not { } patched) continue;
            nodes ??= Immutable(state.Nodes).ToBuilder();
            nodes[patch.NodeId] = patched;
        }
        return nodes is null ? state : state with { Nodes = nodes.ToImmutable() };
    }
}

public sealed record RemoveNodeCommand(string NodeId) : SwarmCommand
{
    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        if (string.IsNullOrEmpty(NodeId)) return state;
        var removed = state.RemovedNodes as ImmutableHashSet<string> ?? state.RemovedNodes.ToImmutableHashSet(StringComparer.Ordinal);
        return state with { Nodes = Immutable(state.Nodes).Remove(NodeId), RemovedNodes = removed.Add(NodeId) };
    }
}

public sealed record UpdateClusterSpecCommand(ClusterSpec Spec, DateTimeOffset At) : SwarmCommand
{
    /// <summary>
    /// The unlock key from now on (autolock turned on, or Update-SwarmUnlockKey); null keeps the
    /// current one. With autolock off the swarm has no unlock key.
    /// </summary>
    public string? UnlockKey { get; init; }

    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        if (state.Cluster is not { } cluster || Spec is null) return state;
        var unlockKey = Spec.Autolock ? UnlockKey ?? cluster.UnlockKey ?? "" : "";
        return state with { Cluster = cluster with { Spec = Spec, UnlockKey = unlockKey, UpdatedAt = At } };
    }
}

/// <summary>
/// Installs a whole swarm state into an empty store. It is the first command of the one-manager
/// Raft log that <c>Initialize-Swarm -ForceNewCluster</c> starts on a surviving manager: it carries
/// what that manager had applied (the cluster with its ID, CA, tokens and settings, the nodes, the
/// networks, the removed node IDs), with the other managers marked lost (<see cref="ForNewCluster"/>).
/// </summary>
/// <remarks>
/// Applied to a store that holds anything already, or without a cluster or without the surviving
/// manager it names, it changes nothing: a restore never merges into a swarm, never half-creates one.
/// </remarks>
public sealed record RestoreStateCommand(ClusterObject Cluster, string SurvivorNodeId, DateTimeOffset At) : SwarmCommand
{
    /// <summary>How a lost manager's status message starts.</summary>
    public const string LostMessagePrefix = "lost: ";

    public List<NodeObject> Nodes { get; init; } = new();
    public List<NetworkObject> Networks { get; init; } = new();
    public List<string> RemovedNodes { get; init; } = new();

    /// <summary>The status message of a manager lost when the swarm was re-created on another one.</summary>
    public static string LostMessage(string survivorHostname)
        => $"{LostMessagePrefix}the swarm was re-created with -ForceNewCluster on {survivorHostname}";

    /// <summary>True for a store no command has filled (a restore goes only there).</summary>
    public static bool IsEmpty(SwarmState.Snapshot state)
        => state.Cluster is null && state.Nodes.Count == 0 && state.Networks.Count == 0 && state.RemovedNodes.Count == 0;

    /// <summary>
    /// The restore of <paramref name="saved"/> (a surviving manager's applied state) as a swarm whose
    /// only Raft member is <paramref name="survivorNodeId"/>, at <paramref name="survivorManagerAddress"/>.
    /// Every other manager stays a manager (so that it is listed, demoted and removed as one) but is
    /// Down with a "lost: ..." message. Every node that is not Down gets <paramref name="at"/> as
    /// its UpdatedAt: the new leader gives it a full session window before it counts it silent, and
    /// does not mark it Unknown for the change of leader (its workers carry on).
    /// </summary>
    public static RestoreStateCommand ForNewCluster(SwarmState.Snapshot saved, string survivorNodeId, string survivorManagerAddress, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(saved);
        var cluster = saved.Cluster ?? throw new ArgumentException("the saved state holds no swarm", nameof(saved));
        if (!saved.Nodes.TryGetValue(survivorNodeId, out var survivor))
            throw new ArgumentException($"the saved state does not list node {survivorNodeId}", nameof(survivorNodeId));
        var lost = LostMessage(survivor.Hostname.Length > 0 ? survivor.Hostname : survivor.Id);
        var nodes = new List<NodeObject>(saved.Nodes.Count);
        foreach (var node in saved.Nodes.Values.OrderBy(n => n.Id, StringComparer.Ordinal))
        {
            if (node.Id == survivorNodeId)
                nodes.Add(node with
                {
                    Role = NodeRole.Manager, Status = NodeStatus.Ready, StatusMessage = "",
                    ManagerAddress = survivorManagerAddress, UpdatedAt = at,
                });
            else if (node.Role == NodeRole.Manager)
                nodes.Add(node with { Status = NodeStatus.Down, StatusMessage = lost, UpdatedAt = at });
            else
                nodes.Add(node.Status == NodeStatus.Down ? node : node with { UpdatedAt = at });
        }
        return new RestoreStateCommand(cluster, survivorNodeId, at)
        {
            Nodes = nodes,
            Networks = saved.Networks.Values.OrderBy(n => n.Id, StringComparer.Ordinal).ToList(),
            RemovedNodes = saved.RemovedNodes.Order(StringComparer.Ordinal).ToList(),
        };
    }

    public override SwarmState.Snapshot Apply(SwarmState.Snapshot state)
    {
        if (!IsEmpty(state)) return state; // a restore goes into a new store only
        var cluster = Storable(Cluster);
        if (cluster is null || string.IsNullOrEmpty(SurvivorNodeId)) return state;
        var removed = new HashSet<string>();
        foreach (var id in RemovedNodes ?? [])
        {
            if (!string.IsNullOrEmpty(id)) removed.Add(id);
        }
        var nodes = new Dictionary<string, NodeObject>();
        foreach (var candidate in Nodes ?? [])
        {
            // In list order, the first of two entries with one ID wins: the same on every manager.
            if (Storable(candidate) is { } node && !removed.Contains(node.Id)) nodes.TryAdd(node.Id, node);
        }
        if (!nodes.TryGetValue(SurvivorNodeId, out var survivor) || survivor.Role != NodeRole.Manager)
            return state; // no swarm without the manager that leads it
        var networks = new Dictionary<string, NetworkObject>();
        foreach (var candidate in Networks ?? [])
        {
            if (Storable(candidate) is { } network) networks.TryAdd(network.Id, network);
        }
        return state with
        {
            Cluster = cluster, Nodes = nodes.ToImmutableDictionary(StringComparer.Ordinal),
            Networks = networks.ToImmutableDictionary(StringComparer.Ordinal), RemovedNodes = removed.ToImmutableHashSet(StringComparer.Ordinal),
        };
    }
}

/// <summary>
/// A log entry this build cannot decode: written by a newer store format, or corrupt. A manager
/// must not skip it (its state would silently differ from the other managers'); it stops applying.
/// </summary>
/// <remarks>
/// Derives from <see cref="Exception"/>: <see cref="InvalidDataException"/> is sealed, and
/// FormatException or IOException would be caught by handlers meant for user input or files.
/// </remarks>
public sealed class UnreadableCommandException : Exception
{
    private const int MaxShownOpLength = 64;

    private UnreadableCommandException(string message, int? writtenVersion, string? op, Exception? inner)
        : base(message, inner)
    {
        WrittenVersion = writtenVersion;
        Op = op;
    }

    /// <summary>The entry's "v" when it could be read (an integer), else null.</summary>
    public int? WrittenVersion { get; }

    /// <summary>The entry's "op" when it could be read (a string), else null.</summary>
    public string? Op { get; }

    /// <summary>True when the entry comes from a newer store format: upgrading this manager fixes it.</summary>
    public bool IsNewerFormat => WrittenVersion > SwarmCommand.FormatVersion;

    /// <summary>An entry that cannot even be opened (sealed with a key this manager does not have).</summary>
    public static UnreadableCommandException Sealed(string detail) => new($"a swarm store entry could not be opened: {detail}", null, null, null);

    internal static UnreadableCommandException Create(ReadOnlySpan<byte> utf8, string detail, Exception? inner)
    {
        var (version, op) = Peek(utf8);
        var what = op is null ? "a swarm store entry" : $"a swarm store entry (op \"{Shorten(op)}\")";
        var message = version > SwarmCommand.FormatVersion
            ? $"{what} was written by store format version {version}; this psswarmd reads format {Readable()} and cannot apply it. "
              + "Upgrade psswarmd on this manager to the version the other managers run."
            : $"{what} could not be read ({detail}); this psswarmd reads store format {Readable()}";
        return new UnreadableCommandException(message, version, op, inner);
    }

    private static string Readable() => SwarmCommand.MinReadableFormatVersion == SwarmCommand.FormatVersion
        ? $"version {SwarmCommand.FormatVersion}"
        : $"versions {SwarmCommand.MinReadableFormatVersion} to {SwarmCommand.FormatVersion}";

    /// <summary>
    /// Best effort: the top-level "v" and "op" of the entry, whatever else it holds. Reading stops at
    /// the first error, keeping what was found before it (a newer format may be valid JSON we cannot bind).
    /// </summary>
    internal static (int? Version, string? Op) Peek(ReadOnlySpan<byte> utf8)
    {
        int? version = null;
        string? op = null;
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { AllowTrailingCommas = false });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return (null, null);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isVersion = reader.ValueTextEquals("v"u8), isOp = reader.ValueTextEquals("op"u8);
                if (!reader.Read()) break;
                if (isVersion && reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var v)) version ??= v;
                // The serializer options (web defaults) also read numbers written as strings.
                else if (isVersion && reader.TokenType == JsonTokenType.String && int.TryParse(reader.GetString(),
                             System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out v)) version ??= v;
                else if (isOp && reader.TokenType == JsonTokenType.String) op ??= reader.GetString();
                else reader.Skip();
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Garbage after what we found: keep it.
        }
        return (version, op);
    }

    private static string Shorten(string text)
    {
        var shown = text.Length > MaxShownOpLength ? text[..MaxShownOpLength] + "…" : text;
        return new string(shown.Select(c => char.IsControl(c) || c == '"' ? '?' : c).ToArray());
    }
}
