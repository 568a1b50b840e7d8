using System.Text;
using PSSwarm.Core.Security;

namespace PSSwarm.Core.State;

/// <summary>
/// What a leader accepts into the log. Apply is total (a malformed command is a no-op), but a
/// no-op entry still costs every manager, and a command that is valid JSON but wrong for the
/// state (a patch of a node that is gone, a token for another CA) is a bug or an attack: the leader
/// refuses it here, against the state it is about to extend, before proposing it.
/// </summary>
public static class CommandValidator
{
    public const string ErrorId = "SwarmInvalidCommand";

    /// <summary>
    /// Throws <see cref="SwarmException"/> (InvalidArgument, <see cref="ErrorId"/>) when
    /// <paramref name="command"/> is not acceptable against <paramref name="state"/>.
    /// </summary>
    public static void Validate(SwarmCommand? command, SwarmState.Snapshot state)
    {
        ArgumentNullException.ThrowIfNull(state);
        try
        {
            switch (command)
            {
                case null:
                    throw Invalid("no swarm command was given");
                case CreateClusterCommand c:
                    ValidateCreateCluster(c, state);
                    break;
                case SetJoinTokenCommand c:
                    ValidateSetJoinToken(c, state);
                    break;
                case PutNodeCommand c:
                    ValidatePutNode(c, state);
                    break;
                case PatchNodeCommand c:
                    ValidatePatchNode(c, state);
                    break;
                case PatchNodesCommand c:
                    ValidatePatchNodes(c, state);
                    break;
                case RemoveNodeCommand c:
                    ValidateRemoveNode(c, state);
                    break;
                case UpdateClusterSpecCommand c:
                    ValidateUpdateClusterSpec(c, state);
                    break;
                case RestoreStateCommand c:
                    ValidateRestoreState(c, state);
                    break;
                case AddJoinTokenCommand c:
                    ValidateAddJoinToken(c, state);
                    break;
                case StartRootRotationCommand c:
                    ValidateStartRootRotation(c, state);
                    break;
                case CompleteRootRotationCommand c:
                    ValidateCompleteRootRotation(c, state);
                    break;
                case RevokeJoinTokenCommand c:
                    if (string.IsNullOrEmpty(c.TokenId)) throw Invalid("a join token revocation must name the token");
                    if (state.Cluster?.JoinTokens.Any(t => t.Id == c.TokenId) != true)
                        throw Invalid($"join token {Shorten(c.TokenId)} not found");
                    break;
                default:
                    throw Invalid($"unknown swarm command {command.GetType().Name}");
            }
            // The leader writes only formats every manager of this version reads.
            if (command.StoreFormatVersion is < SwarmCommand.MinReadableFormatVersion or > SwarmCommand.FormatVersion)
                throw Invalid($"swarm command written in store format version {command.StoreFormatVersion}; this psswarmd writes version {SwarmCommand.FormatVersion}");
        }
        catch (SwarmException e) when (e.ErrorId != ErrorId)
        {
            // InputLimits speaks for any caller; to the proposer this is an invalid command.
            throw new SwarmException(SwarmErrorKind.InvalidArgument, ErrorId, e.Message, e);
        }
    }

    /// <summary>True when <see cref="Validate"/> accepts the command; <paramref name="error"/> is its message otherwise.</summary>
    public static bool IsValid(SwarmCommand? command, SwarmState.Snapshot state, out string? error)
    {
        try
        {
            Validate(command, state);
            error = null;
            return true;
        }
        catch (SwarmException e)
        {
            error = e.Message;
            return false;
        }
    }

    /// <summary>
    /// Decodes a proposal forwarded to the leader. Anything <see cref="SwarmCommand.FromBytes"/> cannot
    /// read, or more than <see cref="InputLimits.MaxCommandBytes"/>, is refused as a malformed command.
    /// </summary>
    public static SwarmCommand Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > InputLimits.MaxCommandBytes)
            throw Invalid($"malformed swarm command: {bytes.Length} bytes, more than the {InputLimits.MaxCommandBytes} a command may have");
        try
        {
            return SwarmCommand.FromBytes(bytes);
        }
        catch (UnreadableCommandException e)
        {
            throw new SwarmException(SwarmErrorKind.InvalidArgument, ErrorId, "malformed swarm command: " + e.Message, e);
        }
    }

    private static void ValidateCreateCluster(CreateClusterCommand c, SwarmState.Snapshot state)
    {
        if (state.Cluster is not null)
            throw Invalid("the swarm exists already: a cluster is created once");
        var cluster = c.Cluster ?? throw Invalid("the new swarm has no cluster object");
        var first = c.FirstNode ?? throw Invalid("the new swarm has no first node");
        var ingress = c.Ingress ?? throw Invalid("the new swarm has no ingress network");

        InputLimits.ValidateId(cluster.Id, "cluster");
        if (cluster.Name != ClusterObject.DefaultName)
            throw Invalid($"invalid cluster name {InputLimits.Quote(cluster.Name)}: the cluster is named \"{ClusterObject.DefaultName}\"");
        ValidateSpec(cluster.Spec);
        ValidateTrust(cluster, "new");
        if (cluster.Spec.Autolock != UnlockKey.TryParse(cluster.UnlockKey, out _))
            throw Invalid(cluster.Spec.Autolock ? "autolock needs a valid unlock key" : "an unlock key is set only with autolock on");

        ValidateNode(first);
        if (first.Role != NodeRole.Manager)
            throw Invalid("the first node of a swarm must be a manager");
        if (first.ManagerAddress.Length == 0)
            throw Invalid("the first manager has no manager address");

        InputLimits.ValidateId(ingress.Id, "network");
        if (!ingress.Ingress || string.IsNullOrEmpty(ingress.Name))
            throw Invalid("the new swarm's ingress network must be named and marked as ingress");
    }

    private static void ValidateSetJoinToken(SetJoinTokenCommand c, SwarmState.Snapshot state)
    {
        var cluster = state.Cluster ?? throw Invalid("the swarm has no cluster object yet");
        if (!Enum.IsDefined(c.Role))
            throw Invalid($"invalid role {(int)c.Role}");
        ValidateToken(c.Token, c.Role, Encoding.UTF8.GetBytes(cluster.RootCACertificate));
        // Joins are told apart by comparing the token with both: equal tokens would make a worker a manager.
        var other = c.Role == NodeRole.Manager ? cluster.WorkerJoinToken : cluster.ManagerJoinToken;
        if (c.Token == other)
            throw Invalid("the worker and manager join tokens must differ");
        if (cluster.JoinTokens.Any(t => t.Token == c.Token))
            throw Invalid("a join token must differ from every other join token of the swarm");
    }

    private static void ValidateAddJoinToken(AddJoinTokenCommand c, SwarmState.Snapshot state)
    {
        var cluster = state.Cluster ?? throw Invalid("the swarm has no cluster object yet");
        var token = c.Token ?? throw Invalid("the join token is missing");
        InputLimits.ValidateNodeId(token.Id);
        if (!Enum.IsDefined(token.Role)) throw Invalid($"invalid role {(int)token.Role}");
        ValidateToken(token.Token, token.Role, Encoding.UTF8.GetBytes(cluster.RootCACertificate));
        if (token.Token == cluster.WorkerJoinToken || token.Token == cluster.ManagerJoinToken || cluster.JoinTokens.Any(t => t.Token == token.Token))
            throw Invalid("a join token must differ from every other join token of the swarm");
        if (cluster.JoinTokens.Any(t => t.Id == token.Id))
            throw Invalid($"join token {token.Id} exists already");
        if (cluster.JoinTokens.Count >= JoinTokenObject.MaxTokens)
            throw Invalid($"the swarm has {cluster.JoinTokens.Count} extra join tokens, the most it keeps: revoke some with Revoke-SwarmJoinToken first");
        if (token.Description is { Length: > JoinTokenObject.MaxDescriptionLength })
            throw Invalid($"a join token's description may have at most {JoinTokenObject.MaxDescriptionLength} characters");
        if (token.Description is not null && token.Description.Any(char.IsControl))
            throw Invalid("a join token's description may not contain control characters");
        if (token.MaxUses is < 1)
            throw Invalid("a join token must admit at least one node (-MaxUses 1 or more)");
        if (token.ExpiresAt is { } end && end <= token.CreatedAt)
            throw Invalid("a join token must expire after it is created (-ExpiresIn above zero)");
        if (token.Uses != 0)
            throw Invalid("a new join token has no uses yet");
    }

    private static void ValidatePutNode(PutNodeCommand c, SwarmState.Snapshot state)
    {
        var node = c.Node ?? throw Invalid("the node is missing");
        ValidateNode(node);
        if (state.RemovedNodes.Contains(node.Id))
            throw Invalid($"node {node.Id} was removed from the swarm and cannot come back");
        if (c.JoinTokenId is { } tokenId)
        {
            var token = state.Cluster?.JoinTokens.FirstOrDefault(t => t.Id == tokenId)
                ?? throw Invalid($"join token {Shorten(tokenId)} not found");
            if (state.Nodes.ContainsKey(node.Id)) throw Invalid($"node {node.Id} exists already");
            if (token.Role != node.Role) throw Invalid("a node joins with the role of its join token");
        }
    }

    private static void ValidatePatchNode(PatchNodeCommand c, SwarmState.Snapshot state)
    {
        if (string.IsNullOrEmpty(c.NodeId))
            throw Invalid("a node change must name the node");
        if (!state.Nodes.TryGetValue(c.NodeId, out var node))
            throw NodeNotFound(c.NodeId);

        if (c.Role is { } role && !Enum.IsDefined(role)) throw Invalid($"invalid role {(int)role}");
        if (c.Availability is { } availability && !Enum.IsDefined(availability)) throw Invalid($"invalid availability {(int)availability}");
        if (c.Status is { } status && !Enum.IsDefined(status)) throw Invalid($"invalid node status {(int)status}");
        if (c.StatusMessage is not null) InputLimits.ValidateStatusMessage(c.StatusMessage);
        if (c.Address is not null) InputLimits.ValidateIPAddress(c.Address, allowEmpty: true);
        if (c.ManagerAddress is not null) InputLimits.ValidateHostPort(c.ManagerAddress, allowEmpty: true);
        if (c.Hostname is not null) InputLimits.ValidateHostname(c.Hostname);
        if (c.Version is not null) InputLimits.ValidateVersion(c.Version);
        if (c.CertificateIssuer is { } issuer && (issuer.Length > 128 || !issuer.All(Uri.IsHexDigit)))
            throw Invalid("a certificate issuer is a key identifier in hex, of at most 128 digits");

        if (c.SetLabels is not null) InputLimits.ValidateLabels(c.SetLabels);
        if (c.RemoveLabels is { } remove)
        {
            if (remove.Count > InputLimits.MaxLabels)
                throw Invalid($"too many labels to remove ({remove.Count}): at most {InputLimits.MaxLabels} at once");
            foreach (var key in remove) InputLimits.ValidateLabelKey(key);
        }
        // The limit holds for the labels the node ends up with, as Apply merges them.
        var labels = c.ReplaceLabels ? new HashSet<string>() : new HashSet<string>((IEnumerable<string>?)node.Labels?.Keys ?? []);
        foreach (var key in c.RemoveLabels ?? []) labels.Remove(key);
        foreach (var key in (IEnumerable<string>?)c.SetLabels?.Keys ?? []) labels.Add(key);
        if (labels.Count > InputLimits.MaxLabels)
            throw Invalid($"too many labels ({labels.Count}): a node may have at most {InputLimits.MaxLabels}");
    }

    private static void ValidatePatchNodes(PatchNodesCommand c, SwarmState.Snapshot state)
    {
        if (c.Patches is null || c.Patches.Count == 0)
            throw Invalid("a batch of node changes must hold at least one change");
        if (c.Patches.Count > PatchNodesCommand.MaxPatches)
            throw Invalid($"too many node changes in one batch ({c.Patches.Count}): at most {PatchNodesCommand.MaxPatches}");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var patch in c.Patches)
        {
            if (patch is null) throw Invalid("a batch of node changes holds an empty change");
            // One change per node: labels are checked against the node as it is now.
            if (patch.NodeId is not null && !seen.Add(patch.NodeId))
                throw Invalid($"a batch of node changes names node {patch.NodeId} twice");
            ValidatePatchNode(patch, state);
        }
    }

    private static void ValidateRemoveNode(RemoveNodeCommand c, SwarmState.Snapshot state)
    {
        if (string.IsNullOrEmpty(c.NodeId))
            throw Invalid("a node removal must name the node");
        if (!state.Nodes.ContainsKey(c.NodeId))
            throw NodeNotFound(c.NodeId);
    }

    private static void ValidateUpdateClusterSpec(UpdateClusterSpecCommand c, SwarmState.Snapshot state)
    {
        if (state.Cluster is null)
            throw Invalid("the swarm has no cluster object yet");
        ValidateSpec(c.Spec);
        var unlockKey = c.Spec.Autolock ? c.UnlockKey ?? state.Cluster.UnlockKey : "";
        if (c.Spec.Autolock && !UnlockKey.TryParse(unlockKey, out _))
            throw Invalid("autolock needs a valid unlock key");
        if (!c.Spec.Autolock && !string.IsNullOrEmpty(c.UnlockKey))
            throw Invalid("an unlock key is set only with autolock on");
    }

    /// <summary>
    /// The root CA (present, bounded, loadable: it signs every certificate from now on) and the two
    /// join tokens (of that root, different from each other) of a swarm being created or restored.
    /// </summary>
    private static void ValidateTrust(ClusterObject cluster, string which)
    {
        if (string.IsNullOrEmpty(cluster.RootCACertificate) || string.IsNullOrEmpty(cluster.RootCAKey))
            throw Invalid($"the {which} swarm has no root CA certificate or key");
        if (cluster.RootCACertificate.Length > InputLimits.MaxPemLength || cluster.RootCAKey.Length > InputLimits.MaxPemLength)
            throw Invalid($"the root CA certificate or key is longer than {InputLimits.MaxPemLength} characters");
        try
        {
            // Once, at creation: a CA that cannot be loaded would fail every join from then on.
            RootCA.Load(cluster.RootCACertificate, cluster.RootCAKey);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw Invalid("invalid root CA: " + e.Message);
        }
        var rootPem = Encoding.UTF8.GetBytes(cluster.RootCACertificate);
        ValidateToken(cluster.WorkerJoinToken, NodeRole.Worker, rootPem);
        ValidateToken(cluster.ManagerJoinToken, NodeRole.Manager, rootPem);
        if (cluster.WorkerJoinToken == cluster.ManagerJoinToken)
            throw Invalid("the worker and manager join tokens must differ");
    }

    /// <summary>
    /// A restore (Initialize-Swarm -ForceNewCluster) goes into an empty store only, with a usable CA and
    /// tokens and the surviving manager among its nodes. The objects' own fields are not checked again
    /// against today's limits: each was accepted when it was written, and refusing one now could only
    /// make the recovery of a swarm impossible (Apply stores them as it stores any entry).
    /// </summary>
    private static void ValidateRestoreState(RestoreStateCommand c, SwarmState.Snapshot state)
    {
        if (!RestoreStateCommand.IsEmpty(state))
            throw Invalid("the store is not empty: a swarm state is restored only into a new store (Initialize-Swarm -ForceNewCluster)");
        var cluster = c.Cluster ?? throw Invalid("the restored swarm has no cluster object");
        InputLimits.ValidateId(cluster.Id, "cluster");
        if (cluster.Spec is null)
            throw Invalid("the swarm settings are missing");
        ValidateTrust(cluster, "restored");
        if (c.Nodes is null || c.Networks is null || c.RemovedNodes is null)
            throw Invalid("the restored swarm has no list of nodes, networks or removed nodes");

        var removed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in c.RemovedNodes)
        {
            InputLimits.ValidateNodeId(id);
            removed.Add(id);
        }
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var raftAddresses = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in c.Nodes)
        {
            if (node is null) throw Invalid("the restored swarm lists a node that is missing");
            InputLimits.ValidateNodeId(node.Id);
            if (!Enum.IsDefined(node.Role)) throw Invalid($"invalid role {(int)node.Role}");
            if (!Enum.IsDefined(node.Availability)) throw Invalid($"invalid availability {(int)node.Availability}");
            if (!Enum.IsDefined(node.Status)) throw Invalid($"invalid node status {(int)node.Status}");
            if (!ids.Add(node.Id)) throw Invalid($"the restored swarm lists node {node.Id} twice");
            if (removed.Contains(node.Id)) throw Invalid($"node {node.Id} was removed from the swarm and cannot come back");
            if (node.Role == NodeRole.Manager && !string.IsNullOrEmpty(node.ManagerAddress) && !raftAddresses.Add(node.ManagerAddress))
                throw Invalid($"two managers of the restored swarm have the Raft address {InputLimits.Quote(node.ManagerAddress)}");
        }
        var survivor = c.Nodes.FirstOrDefault(n => n.Id == c.SurvivorNodeId)
            ?? throw Invalid($"the restored swarm does not list the manager it is restored on ({InputLimits.Quote(c.SurvivorNodeId)})");
        if (survivor.Role != NodeRole.Manager || string.IsNullOrEmpty(survivor.ManagerAddress))
            throw Invalid("the node a swarm is restored on must be a manager with a manager address");
        InputLimits.ValidateHostPort(survivor.ManagerAddress, allowEmpty: false);

        var networks = new HashSet<string>(StringComparer.Ordinal);
        foreach (var network in c.Networks)
        {
            if (network is null) throw Invalid("the restored swarm lists a network that is missing");
            InputLimits.ValidateId(network.Id, "network");
            if (string.IsNullOrEmpty(network.Name)) throw Invalid($"network {network.Id} has no name");
            if (!networks.Add(network.Id)) throw Invalid($"the restored swarm lists network {network.Id} twice");
        }
    }

    /// <summary>swarmkit controlapi validateClusterSpec, with its wording, plus bounds that keep certificate dates representable.</summary>
    private static void ValidateSpec(ClusterSpec? spec)
    {
        if (spec is null)
            throw Invalid("the swarm settings are missing");
        if (spec.CertExpiry < ClusterSpec.MinCertExpiry)
            throw Invalid($"minimum certificate expiry time is: {GoDuration(ClusterSpec.MinCertExpiry)}");
        // A node certificate outliving its root is useless, and a huge expiry overflows the certificate's dates.
        if (spec.CertExpiry > RootCA.RootCAExpiration)
            throw Invalid($"maximum certificate expiry time is: {GoDuration(RootCA.RootCAExpiration)}");
        if (spec.DispatcherHeartbeat < TimeSpan.Zero)
            throw Invalid("heartbeat time period cannot be a negative duration");
        if (spec.DispatcherHeartbeat == TimeSpan.Zero)
            throw Invalid("heartbeat time period must be longer than zero");
        if (spec.TaskHistoryLimit < 0)
            throw Invalid("task history retention limit cannot be negative");
    }

    private static void ValidateNode(NodeObject node)
    {
        InputLimits.ValidateNodeId(node.Id);
        if (!Enum.IsDefined(node.Role)) throw Invalid($"invalid role {(int)node.Role}");
        if (!Enum.IsDefined(node.Availability)) throw Invalid($"invalid availability {(int)node.Availability}");
        if (!Enum.IsDefined(node.Status)) throw Invalid($"invalid node status {(int)node.Status}");
        InputLimits.ValidateHostname(node.Hostname);
        InputLimits.ValidateIPAddress(node.Address, allowEmpty: true);
        InputLimits.ValidateHostPort(node.ManagerAddress, allowEmpty: true);
        InputLimits.ValidateVersion(node.Version);
        InputLimits.ValidateStatusMessage(node.StatusMessage);
        InputLimits.ValidateLabels(node.Labels);
    }

    private static void ValidateStartRootRotation(StartRootRotationCommand c, SwarmState.Snapshot state)
    {
        var cluster = state.Cluster ?? throw Invalid("the swarm has no cluster object yet");
        var rotation = c.Rotation ?? throw Invalid("a root rotation must carry the next root");
        RootCA next, current, cross;
        try
        {
            next = RootCA.Load(rotation.CACertificate ?? throw Invalid("the next root certificate is missing"),
                rotation.CAKey ?? throw Invalid("the next root's key is missing"));
            current = RootCA.Load(cluster.RootCACertificate, null);
            cross = RootCA.Load(rotation.CrossSignedCACertificate ?? throw Invalid("the cross-signed certificate is missing"), null);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw Invalid($"invalid root rotation: {e.Message}");
        }
        if (next.Sha256Hex == current.Sha256Hex || next.KeyId == current.KeyId)
            throw Invalid("the next root CA must differ from the current one, key included");
        if (!RootCA.IsCertificateAuthority(next.Certificate))
            throw Invalid("the next root certificate is not a CA certificate");
        if (!current.Verifies(cross.Certificate, rotation.StartedAt))
            throw Invalid("the cross-signed certificate was not issued by the current root CA, or is not valid now");
        if (!cross.Certificate.PublicKey.EncodedKeyValue.RawData.AsSpan().SequenceEqual(next.Certificate.PublicKey.EncodedKeyValue.RawData)
            || cross.KeyId != next.KeyId)
            throw Invalid("the cross-signed certificate does not carry the next root's key");
    }

    private static void ValidateCompleteRootRotation(CompleteRootRotationCommand c, SwarmState.Snapshot state)
    {
        var cluster = state.Cluster ?? throw Invalid("the swarm has no cluster object yet");
        if (cluster.RootRotation is not { } rotation || rotation.CACertificate != c.CACertificate)
            throw Invalid("no root rotation to that root CA is in progress");
        var next = Encoding.UTF8.GetBytes(rotation.CACertificate);
        ValidateToken(c.WorkerJoinToken, NodeRole.Worker, next);
        ValidateToken(c.ManagerJoinToken, NodeRole.Manager, next);
        if (c.WorkerJoinToken == c.ManagerJoinToken)
            throw Invalid("the worker and manager join tokens must differ");
    }

    private static void ValidateToken(string? token, NodeRole role, byte[] rootPem)
    {
        var name = role == NodeRole.Manager ? "manager" : "worker";
        if (!JoinToken.TryParse(token, out var parsed))
            throw Invalid($"invalid {name} join token");
        if (!parsed.MatchesRootCA(rootPem))
            throw Invalid($"the {name} join token does not belong to this swarm's root CA");
    }

    /// <summary>Docker's wording for a node that is not in the state.</summary>
    private static SwarmException NodeNotFound(string nodeId) => Invalid($"node {Shorten(nodeId)} not found");

    private static string Shorten(string id)
    {
        var quoted = InputLimits.Quote(id);
        return quoted == $"\"{id}\"" ? id : quoted; // a plain ID reads as Docker writes it
    }

    /// <summary>A duration as Go's time.Duration.String writes whole seconds ("1h0m0s", "175200h0m0s").</summary>
    internal static string GoDuration(TimeSpan d)
    {
        long seconds = (long)d.TotalSeconds;
        if (seconds == 0) return "0s";
        var sign = seconds < 0 ? "-" : "";
        seconds = Math.Abs(seconds);
        long h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
        return h > 0 ? $"{sign}{h}h{m}m{s}s" : m > 0 ? $"{sign}{m}m{s}s" : $"{sign}{s}s";
    }

    private static SwarmException Invalid(string message) => new(SwarmErrorKind.InvalidArgument, ErrorId, message);
}
