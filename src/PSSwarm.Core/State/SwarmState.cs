using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PSSwarm.Core.State;

public enum NodeRole { Worker, Manager }
public enum NodeAvailability { Active, Pause, Drain }
public enum NodeStatus { Unknown, Down, Ready, Disconnected }

/// <summary>Settings of the swarm that <c>Set-Swarm</c> may change.</summary>
public sealed record ClusterSpec
{
    public static readonly TimeSpan DefaultCertExpiry = TimeSpan.FromDays(90);
    public static readonly TimeSpan MinCertExpiry = TimeSpan.FromHours(1);
    public static readonly TimeSpan DefaultDispatcherHeartbeat = TimeSpan.FromSeconds(5);
    public const int DefaultTaskHistoryLimit = 5;

    public TimeSpan CertExpiry { get; init; } = DefaultCertExpiry;
    public TimeSpan DispatcherHeartbeat { get; init; } = DefaultDispatcherHeartbeat;
    public int TaskHistoryLimit { get; init; } = DefaultTaskHistoryLimit;
    public bool Autolock { get; init; }
}

/// <summary>The cluster object: one per swarm, named "default".</summary>
public sealed record ClusterObject
{
    public const string DefaultName = "default";
    public required string Id { get; init; }
    public string Name { get; init; } = DefaultName;
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public ClusterSpec Spec { get; init; } = new();
    /// <summary>Root CA certificate, the exact PEM text served to joiners and hashed into tokens.</summary>
    public required string RootCACertificate { get; init; }
    /// <summary>Root CA private key (PKCS#8 PEM). Never leaves the managers.</summary>
    public required string RootCAKey { get; init; }
    public required string WorkerJoinToken { get; init; }
    public required string ManagerJoinToken { get; init; }
    /// <summary>
    /// When the standing worker/manager token was made (Initialize-Swarm, Update-SwarmJoinToken, the end
    /// of a root rotation): Test-Swarm warns about tokens older than <see cref="JoinTokenRotateAfter"/>.
    /// Default (unknown) in a swarm made before this field existed.
    /// </summary>
    public DateTimeOffset WorkerJoinTokenCreatedAt { get; init; }
    public DateTimeOffset ManagerJoinTokenCreatedAt { get; init; }
    /// <summary>Docker's documentation advises rotating join tokens regularly; Test-Swarm warns after six months.</summary>
    public static readonly TimeSpan JoinTokenRotateAfter = TimeSpan.FromDays(182);

    /// <summary>When the role's standing token was made, or null when this swarm did not record it.</summary>
    public DateTimeOffset? JoinTokenCreatedAt(NodeRole role)
    {
        var at = role == NodeRole.Manager ? ManagerJoinTokenCreatedAt : WorkerJoinTokenCreatedAt;
        return at == default ? null : at;
    }
    /// <summary>Extra join tokens (New-SwarmJoinToken, beyond Docker): each may expire and admit a limited number of nodes.</summary>
    public List<JoinTokenObject> JoinTokens { get; init; } = new();
    /// <summary>A root CA rotation in progress (Update-SwarmCA), or null.</summary>
    public RootRotationObject? RootRotation { get; init; }
    /// <summary>
    /// Roots this swarm used before its rotations (newest last, at most <see cref="RootRotationObject.MaxPreviousRoots"/>):
    /// trusted for nothing but proving which node a returning node is (Join-Swarm on a node that was
    /// away during a rotation keeps its node ID), always together with a current join token.
    /// </summary>
    public List<string> PreviousRootCACertificates { get; init; } = new();
    /// <summary>The unlock key (SWMKEY-1-...) while autolock is on, else "". Lives only in the (encrypted) store.</summary>
    public string UnlockKey { get; init; } = "";
}

/// <summary>
/// A root CA rotation (swarmkit's RootRotation): the next root and its key, and the next root
/// cross-signed by the current one. While it runs, the CA signs with the next root's key and
/// every node trusts both roots; a node that only trusts the current root verifies certificates
/// from the next one through the cross-signed intermediate, which managers serve in their TLS
/// chain. It ends (CompleteRootRotationCommand) when every node that is not down holds a
/// certificate from the next root: the next root becomes the root, the join tokens are renewed.
/// </summary>
public sealed record RootRotationObject
{
    public const int MaxPreviousRoots = 5;

    /// <summary>The next root certificate (PEM, as joiners will be served it).</summary>
    public required string CACertificate { get; init; }
    /// <summary>The next root's private key (PKCS#8 PEM). Never leaves the managers.</summary>
    public required string CAKey { get; init; }
    /// <summary>The next root's subject and key, issued and signed by the current root (PEM).</summary>
    public required string CrossSignedCACertificate { get; init; }
    public DateTimeOffset StartedAt { get; init; }
}

/// <summary>
/// An extra join token (beyond Docker, moby#29489): Docker's format and role semantics, next to the
/// role's standing token, with an optional expiry and an optional number of uses. Uses are counted
/// when a join's node is applied to the store, so a single-use token admits exactly one node.
/// </summary>
public sealed record JoinTokenObject
{
    /// <summary>Most extra tokens a swarm keeps (the state stays small).</summary>
    public const int MaxTokens = 100;
    public const int MaxDescriptionLength = 256;

    public required string Id { get; init; }
    public NodeRole Role { get; init; }
    public required string Token { get; init; }
    public string Description { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }
    /// <summary>Joins after this moment are refused; null: never expires.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
    /// <summary>Nodes it may admit; null: any number.</summary>
    public int? MaxUses { get; init; }
    /// <summary>Nodes it has admitted.</summary>
    public int Uses { get; init; }

    public int? UsesLeft => MaxUses is { } max ? Math.Max(0, max - Uses) : null;

    /// <summary>Whether a join at <paramref name="at"/> may use it.</summary>
    public bool Admits(DateTimeOffset at) => (ExpiresAt is not { } end || at <= end) && (MaxUses is not { } max || Uses < max);
}

public sealed record NodeObject
{
    public required string Id { get; init; }
    public string Hostname { get; init; } = "";
    public NodeRole Role { get; init; }
    public NodeAvailability Availability { get; init; }
    public NodeStatus Status { get; init; }
    public string StatusMessage { get; init; } = "";
    /// <summary>The node's IP address as the swarm sees it.</summary>
    public string Address { get; init; } = "";
    /// <summary>host:port of the node's cluster listener (managers).</summary>
    public string ManagerAddress { get; init; } = "";
    public Dictionary<string, string> Labels { get; init; } = new();
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset CertificateExpiry { get; init; }
    /// <summary>
    /// The key identifier of the CA key that issued the certificate the node last presented to the
    /// leader (<c>NodeCertificates.IssuerKeyId</c>): what tells a root rotation which nodes have a
    /// certificate from the next root. "" until the node's first heartbeat.
    /// </summary>
    public string CertificateIssuer { get; init; } = "";
    public string Version { get; init; } = "";
}

public sealed record NetworkObject
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public string Driver { get; init; } = "overlay";
    public string Scope { get; init; } = "swarm";
    public string Subnet { get; init; } = "";
    public string Gateway { get; init; } = "";
    public bool Ingress { get; init; }
    public DateTimeOffset CreatedAt { get; init; }

    public static NetworkObject NewIngress(string id, DateTimeOffset now) => new()
    {
        Id = id, Name = "ingress", Driver = "overlay", Scope = "swarm",
        Subnet = "10.0.0.0/24", Gateway = "10.0.0.1", Ingress = true, CreatedAt = now,
    };
}

/// <summary>
/// The replicated swarm state. Only <see cref="SwarmCommand.Apply"/> (run by the Raft state
/// machine, one entry at a time, in log order) mutates it; readers take <see cref="Read{T}"/>.
/// </summary>
public sealed class SwarmState
{
    private readonly object gate = new();
    private Snapshot data = Snapshot.Empty;
    // Completed (and replaced) on every change: what WaitForChangeAsync waits on.
    private TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>An immutable view of the whole state.</summary>
    public sealed record Snapshot
    {
        public static readonly Snapshot Empty = new();
        public ClusterObject? Cluster { get; init; }
        public IReadOnlyDictionary<string, NodeObject> Nodes { get; init; } = ImmutableDictionary.Create<string, NodeObject>(StringComparer.Ordinal);
        public IReadOnlyDictionary<string, NetworkObject> Networks { get; init; } = ImmutableDictionary.Create<string, NetworkObject>(StringComparer.Ordinal);
        /// <summary>IDs of removed nodes: their certificates are refused for ever.</summary>
        public IReadOnlyCollection<string> RemovedNodes { get; init; } = ImmutableHashSet.Create<string>(StringComparer.Ordinal);
        /// <summary>Number of commands applied.</summary>
        public long Version { get; init; }
    }

    public Snapshot Current => Volatile.Read(ref data);

    /// <summary>
    /// The first state whose <see cref="Snapshot.Version"/> is above <paramref name="afterVersion"/>
    /// (at once when the current one is): a watch on the store, without polling.
    /// A restored snapshot counts as a change whatever its version.
    /// </summary>
    public async Task<Snapshot> WaitForChangeAsync(long afterVersion, CancellationToken token)
    {
        while (true)
        {
            // The signal first, then the state: a change between the two completes this signal.
            var signal = Volatile.Read(ref changed);
            var current = Current;
            if (current.Version > afterVersion) return current;
            await signal.Task.WaitAsync(token).ConfigureAwait(false);
            if (Current.Version <= afterVersion) return Current; // a restored snapshot may go back
        }
    }

    private void Publish(Snapshot next)
    {
        Volatile.Write(ref data, next);
        Interlocked.Exchange(ref changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    public T Read<T>(Func<Snapshot, T> reader) => reader(Current);

    /// <summary>
    /// Why the last <see cref="Apply(SwarmCommand?)"/> changed nothing but <see cref="Snapshot.Version"/>,
    /// or null when it succeeded.
    /// </summary>
    public string? LastApplyError { get; private set; }

    /// <summary>Applies a command (called by the Raft state machine, in log order). Never throws; see the overload.</summary>
    public bool Apply(SwarmCommand? command) => Apply(command, out _);

    /// <summary>
    /// Applies a command (called by the Raft state machine, in log order). Total: it never throws,
    /// because an exception here stops the Raft state machine for good and the entry would be
    /// replayed on every restart (DESIGN.md). A command that fails leaves the state as it was,
    /// except that <see cref="Snapshot.Version"/> still counts the entry, so every manager stays on
    /// the same version whatever the entry held. Returns false, with <paramref name="error"/>
    /// saying why, in that case.
    /// </summary>
    public bool Apply(SwarmCommand? command, out string? error)
    {
        lock (gate)
        {
            var current = data;
            var next = current;
            error = null;
            if (command is null)
            {
                error = "no command";
            }
            else
            {
                try
                {
                    next = command.Apply(current) ?? throw new InvalidOperationException("the command returned no state");
                }
                catch (Exception e)
                {
                    // Deterministic: the same command fails the same way on every manager, so all of
                    // them keep the same state. The message is for the log only, never for the state.
                    next = current;
                    error = $"{command.GetType().Name} was not applied: {e.GetType().Name}: {e.Message}";
                }
            }
            LastApplyError = error;
            Publish(next with { Version = current.Version + 1 });
            return error is null;
        }
    }

    public void Reset(Snapshot snapshot)
    {
        lock (gate) Publish(snapshot);
    }

    public static JsonSerializerOptions JsonOptions { get; } = CreateJsonOptions();

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = false };
        o.Converters.Add(new JsonStringEnumConverter());
        return o;
    }

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(SnapshotDto.From(Current), JsonOptions);

    public void Deserialize(ReadOnlySpan<byte> utf8)
    {
        var dto = JsonSerializer.Deserialize<SnapshotDto>(utf8, JsonOptions)
            ?? throw new InvalidDataException("empty swarm state snapshot");
        Reset(dto.ToSnapshot());
    }

    private sealed class SnapshotDto
    {
        public ClusterObject? Cluster { get; set; }
        public List<NodeObject> Nodes { get; set; } = new();
        public List<NetworkObject> Networks { get; set; } = new();
        public List<string> RemovedNodes { get; set; } = new();
        public long Version { get; set; }

        public static SnapshotDto From(Snapshot s) => new()
        {
            Cluster = s.Cluster, Nodes = s.Nodes.Values.ToList(), Networks = s.Networks.Values.ToList(),
            RemovedNodes = s.RemovedNodes.ToList(), Version = s.Version,
        };

        public Snapshot ToSnapshot() => new()
        {
            Cluster = Cluster,
            Nodes = Nodes.ToImmutableDictionary(n => n.Id, StringComparer.Ordinal),
            Networks = Networks.ToImmutableDictionary(n => n.Id, StringComparer.Ordinal),
            RemovedNodes = RemovedNodes.ToImmutableHashSet(StringComparer.Ordinal),
            Version = Version,
        };
    }
}
