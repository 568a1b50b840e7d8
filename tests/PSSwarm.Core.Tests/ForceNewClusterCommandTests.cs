using System.Text;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;

namespace PSSwarm.Core.Tests;

/// <summary>
/// restoreState, the first command of the log Initialize-Swarm -ForceNewCluster starts: built from a
/// surviving manager's state (the other managers lost), installed only into an empty store, total.
/// </summary>
public class ForceNewClusterCommandTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset At = T0.AddDays(3);
    private static readonly RootCA Ca = RootCA.Create();
    private static readonly RootCA OtherCa = RootCA.Create();

    private const string ClusterId = "cluster000000000000000001";
    private const string M1 = "manager000000000000000001";
    private const string M2 = "manager000000000000000002";
    private const string M3 = "manager000000000000000003";
    private const string W1 = "worker0000000000000000001";
    private const string W2 = "worker0000000000000000002";
    private const string Gone = "removed000000000000000001";
    private const string IngressId = "network000000000000000001";

    private static ClusterObject Cluster(RootCA? ca = null)
    {
        ca ??= Ca;
        return new ClusterObject
        {
            Id = ClusterId, CreatedAt = T0, UpdatedAt = T0,
            Spec = new ClusterSpec { DispatcherHeartbeat = TimeSpan.FromSeconds(1) },
            RootCACertificate = ca.CertificatePem, RootCAKey = ca.KeyPem!,
            WorkerJoinToken = JoinToken.Generate(ca.CertificatePemBytes),
            ManagerJoinToken = JoinToken.Generate(ca.CertificatePemBytes),
        };
    }

    private static NodeObject Node(string id, int n, NodeRole role, NodeStatus status = NodeStatus.Ready) => new()
    {
        Id = id, Hostname = (role == NodeRole.Manager ? "m" : "w") + n, Role = role, Status = status,
        Address = $"127.0.43.{n}", ManagerAddress = role == NodeRole.Manager ? $"127.0.43.{n}:2377" : "",
        Version = "1.0.0", CreatedAt = T0, UpdatedAt = T0, CertificateExpiry = T0.AddDays(90),
        Labels = new() { ["zone"] = "z" + n },
    };

    /// <summary>Three managers (m1 the survivor), a Ready and a Down worker, ingress, a removed node: as m1 applied it.</summary>
    private static SwarmState.Snapshot Saved()
    {
        var state = new SwarmState();
        Assert.True(state.Apply(new CreateClusterCommand(Cluster(), Node(M1, 1, NodeRole.Manager), NetworkObject.NewIngress(IngressId, T0))));
        Assert.True(state.Apply(new PutNodeCommand(Node(M2, 2, NodeRole.Manager))));
        Assert.True(state.Apply(new PutNodeCommand(Node(M3, 3, NodeRole.Manager))));
        Assert.True(state.Apply(new PutNodeCommand(Node(W1, 4, NodeRole.Worker))));
        Assert.True(state.Apply(new PutNodeCommand(Node(W2, 5, NodeRole.Worker, NodeStatus.Down))));
        Assert.True(state.Apply(new PutNodeCommand(Node(Gone, 6, NodeRole.Worker))));
        Assert.True(state.Apply(new RemoveNodeCommand(Gone)));
        // The survivor itself was last seen Unknown (no leader): the restore makes it Ready.
        Assert.True(state.Apply(new PatchNodeCommand(M1, T0) { Status = NodeStatus.Unknown, StatusMessage = "no leader" }));
        return state.Current;
    }

    private static RestoreStateCommand Restore(SwarmState.Snapshot? saved = null)
        => RestoreStateCommand.ForNewCluster(saved ?? Saved(), M1, "127.0.43.1:2377", At);

    /// <summary>Content equality of nodes (records compare their label dictionaries by reference).</summary>
    private static string Json(NodeObject node) => System.Text.Json.JsonSerializer.Serialize(node, SwarmState.JsonOptions);

    /// <summary>The state without its version, for comparisons.</summary>
    private static byte[] Content(SwarmState.Snapshot s)
    {
        var copy = new SwarmState();
        copy.Reset(s with { Version = 0 });
        return copy.Serialize();
    }

    private static SwarmState.Snapshot Restored(SwarmCommand command)
    {
        var state = new SwarmState();
        Assert.True(state.Apply(command, out var error), error);
        return state.Current;
    }

    // ---- building the restore from a survivor's state ----

    [Fact]
    public void TheRestoreKeepsTheSwarmItsCaTokensSettingsNetworksAndRemovedNodes()
    {
        var saved = Saved();
        var state = Restored(Restore(saved));
        Assert.Equal(saved.Cluster, state.Cluster);
        Assert.Equal(ClusterId, state.Cluster!.Id);
        Assert.Equal(saved.Cluster!.WorkerJoinToken, state.Cluster.WorkerJoinToken);
        Assert.Equal(saved.Cluster.ManagerJoinToken, state.Cluster.ManagerJoinToken);
        Assert.Equal(saved.Cluster.RootCACertificate, state.Cluster.RootCACertificate);
        Assert.Equal(saved.Cluster.RootCAKey, state.Cluster.RootCAKey);
        Assert.Equal(TimeSpan.FromSeconds(1), state.Cluster.Spec.DispatcherHeartbeat);
        Assert.Equal(saved.Networks.Keys.Order(), state.Networks.Keys.Order());
        Assert.Equal(saved.Networks[IngressId], state.Networks[IngressId]);
        Assert.Equal([Gone], state.RemovedNodes);
        Assert.Equal(new[] { M1, M2, M3, W1, W2 }.Order(), state.Nodes.Keys.Order());
        Assert.Equal(1, state.Version);
    }

    [Fact]
    public void TheSurvivorIsAReadyManagerAtItsAddress()
    {
        var m1 = Restored(Restore()).Nodes[M1];
        Assert.Equal(NodeRole.Manager, m1.Role);
        Assert.Equal(NodeStatus.Ready, m1.Status);
        Assert.Equal("", m1.StatusMessage);
        Assert.Equal("127.0.43.1:2377", m1.ManagerAddress);
        Assert.Equal(At, m1.UpdatedAt);
        Assert.Equal(T0, m1.CreatedAt);
        Assert.Equal("z1", m1.Labels["zone"]);
    }

    [Fact]
    public void TheOtherManagersStayManagersButAreDownAndMarkedLost()
    {
        var state = Restored(Restore());
        foreach (var (id, n) in new[] { (M2, 2), (M3, 3) })
        {
            var lost = state.Nodes[id];
            Assert.Equal(NodeRole.Manager, lost.Role);
            Assert.Equal(NodeStatus.Down, lost.Status);
            Assert.Equal("lost: the swarm was re-created with -ForceNewCluster on m1", lost.StatusMessage);
            Assert.StartsWith(RestoreStateCommand.LostMessagePrefix, lost.StatusMessage);
            // What a later demotion and removal need stays: the role, the Raft address, the certificate's expiry.
            Assert.Equal($"127.0.43.{n}:2377", lost.ManagerAddress);
            Assert.Equal(T0.AddDays(90), lost.CertificateExpiry);
            Assert.Equal(At, lost.UpdatedAt);
        }
    }

    [Fact]
    public void WorkersCarryOnWithAFreshSessionWindowAndDownOnesStayAsTheyWere()
    {
        var saved = Saved();
        var state = Restored(Restore(saved));
        Assert.Equal(Json(saved.Nodes[W1] with { UpdatedAt = At }), Json(state.Nodes[W1]));
        Assert.Equal(NodeStatus.Ready, state.Nodes[W1].Status);
        Assert.Equal(Json(saved.Nodes[W2]), Json(state.Nodes[W2]));
    }

    [Fact]
    public void BuildingARestoreNeedsTheSwarmAndTheSurvivor()
    {
        Assert.Throws<ArgumentException>(() => RestoreStateCommand.ForNewCluster(SwarmState.Snapshot.Empty, M1, "127.0.43.1:2377", At));
        Assert.Throws<ArgumentException>(() => RestoreStateCommand.ForNewCluster(Saved(), "nobody", "127.0.43.1:2377", At));
    }

    // ---- the log entry ----

    [Fact]
    public void ItIsWrittenAsRestoreStateWithTheStoreFormatRightAfterItsOpAndReadsBackTheSame()
    {
        var command = Restore();
        var bytes = command.ToBytes();
        Assert.Matches("^\\{\"op\":\"restoreState\",\"v\":3,", Encoding.UTF8.GetString(bytes));
        var decoded = Assert.IsType<RestoreStateCommand>(SwarmCommand.FromBytes(bytes));
        Assert.Equal(Content(Restored(command)), Content(Restored(decoded)));
        Assert.Equal(bytes, decoded.ToBytes());
    }

    [Fact]
    public void TheOtherCommandsAreStillWrittenAsBefore()
    {
        var json = Encoding.UTF8.GetString(new RemoveNodeCommand(W1).ToBytes());
        Assert.Equal($"{{\"op\":\"removeNode\",\"v\":3,\"nodeId\":\"{W1}\"}}", json);
        var patch = Encoding.UTF8.GetString(new PatchNodeCommand(W1, T0) { Status = NodeStatus.Down }.ToBytes());
        Assert.StartsWith($"{{\"op\":\"patchNode\",\"v\":3,", patch);
    }

    [Fact]
    public void ARestoredStateSnapshotsAndRestoresWhole()
    {
        var state = new SwarmState();
        Assert.True(state.Apply(Restore()));
        var copy = new SwarmState();
        copy.Deserialize(state.Serialize());
        Assert.Equal(state.Serialize(), copy.Serialize());
    }

    [Fact]
    public void LaterCommandsApplyOnTheRestoredState()
    {
        var state = new SwarmState();
        Assert.True(state.Apply(Restore()));
        Assert.True(state.Apply(new PatchNodeCommand(M2, At) { Role = NodeRole.Worker, ManagerAddress = "" }));
        Assert.True(state.Apply(new RemoveNodeCommand(M2)));
        Assert.False(state.Current.Nodes.ContainsKey(M2));
        Assert.Contains(M2, state.Current.RemovedNodes);
        Assert.True(state.Apply(new PatchNodeCommand(W1, At) { SetLabels = new() { ["after"] = "yes" } }));
        Assert.Equal("yes", state.Current.Nodes[W1].Labels["after"]);
        // A second restore (a replayed or forged entry) changes nothing but the version.
        var before = state.Current;
        Assert.True(state.Apply(Restore()));
        Assert.Equal(Content(before), Content(state.Current));
        Assert.Equal(before.Version + 1, state.Current.Version);
    }

    // ---- apply is total ----

    public static TheoryData<string, RestoreStateCommand> MalformedRestores()
    {
        var good = Restore();
        return new()
        {
            { "no cluster", good with { Cluster = null! } },
            { "cluster without id", good with { Cluster = good.Cluster with { Id = null! } } },
            { "cluster without CA", good with { Cluster = good.Cluster with { RootCAKey = null! } } },
            { "no survivor named", good with { SurvivorNodeId = null! } },
            { "survivor not listed", good with { SurvivorNodeId = "nobody" } },
            { "survivor a worker", good with { Nodes = good.Nodes.Select(n => n.Id == M1 ? n with { Role = NodeRole.Worker } : n).ToList() } },
            { "survivor removed", good with { RemovedNodes = [.. good.RemovedNodes, M1] } },
            { "survivor unstorable", good with { Nodes = good.Nodes.Select(n => n.Id == M1 ? n with { Status = (NodeStatus)42 } : n).ToList() } },
            { "no node list", good with { Nodes = null! } },
        };
    }

    [Theory]
    [MemberData(nameof(MalformedRestores))]
    public void AMalformedRestoreCreatesNothing(string name, RestoreStateCommand command)
    {
        var state = new SwarmState();
        Assert.True(state.Apply(command, out var error), $"{name}: {error}");
        Assert.Null(state.Current.Cluster);
        Assert.Empty(state.Current.Nodes);
        Assert.Empty(state.Current.Networks);
        Assert.Empty(state.Current.RemovedNodes);
        Assert.Equal(1, state.Current.Version);
    }

    [Fact]
    public void NullsAndDuplicatesInARestoreAreSkippedTheSameWayEverywhere()
    {
        var good = Restore();
        var command = good with
        {
            Nodes = [null!, .. good.Nodes, good.Nodes[0] with { Hostname = "second copy" }, new NodeObject { Id = "" }],
            Networks = null!,
            RemovedNodes = [null!, "", .. good.RemovedNodes],
        };
        var first = Restored(command);
        var second = Restored(SwarmCommand.FromBytes(command.ToBytes()));
        Assert.Equal(Content(first), Content(second));
        Assert.Equal(5, first.Nodes.Count);
        Assert.NotEqual("second copy", first.Nodes[good.Nodes[0].Id].Hostname);
        Assert.Empty(first.Networks);
        Assert.Equal([Gone], first.RemovedNodes);
    }

    [Fact]
    public void DecodedEntriesWithMissingPartsNeverThrow()
    {
        foreach (var json in new[]
                 {
                     """{"op":"restoreState"}""",
                     """{"op":"restoreState","v":3,"cluster":null,"nodes":null,"networks":null,"removedNodes":null}""",
                     """{"op":"restoreState","survivorNodeId":"x","nodes":[null,{"id":"x","role":"Manager"}],"networks":[null]}""",
                 })
        {
            var state = new SwarmState();
            Assert.True(state.Apply(SwarmCommand.FromBytes(Encoding.UTF8.GetBytes(json)), out var error), error);
            Assert.Null(state.Current.Cluster);
            Assert.Empty(state.Current.Nodes);
        }
    }

    // ---- what the leader accepts into the log ----

    private static void Refused(SwarmCommand command, SwarmState.Snapshot state, string messagePart)
    {
        var e = Assert.Throws<SwarmException>(() => CommandValidator.Validate(command, state));
        Assert.Equal(SwarmErrorKind.InvalidArgument, e.Kind);
        Assert.Equal(CommandValidator.ErrorId, e.ErrorId);
        Assert.Contains(messagePart, e.Message);
    }

    [Fact]
    public void TheLeaderAcceptsARestoreIntoAnEmptyStoreOnly()
    {
        CommandValidator.Validate(Restore(), SwarmState.Snapshot.Empty);
        Refused(Restore(), Saved(), "not empty");
        Refused(Restore(), SwarmState.Snapshot.Empty with { RemovedNodes = [Gone] }, "not empty");
    }

    [Fact]
    public void TheLeaderRefusesARestoreWithoutAUsableCaOrTokens()
    {
        var good = Restore();
        Refused(good with { Cluster = null! }, SwarmState.Snapshot.Empty, "no cluster object");
        Refused(good with { Cluster = good.Cluster with { Id = "x" } }, SwarmState.Snapshot.Empty, "cluster");
        Refused(good with { Cluster = good.Cluster with { RootCAKey = "" } }, SwarmState.Snapshot.Empty, "no root CA");
        Refused(good with { Cluster = good.Cluster with { RootCAKey = OtherCa.KeyPem! } }, SwarmState.Snapshot.Empty, "invalid root CA");
        Refused(good with { Cluster = good.Cluster with { WorkerJoinToken = Cluster(OtherCa).WorkerJoinToken } }, SwarmState.Snapshot.Empty, "worker join token");
        Refused(good with { Cluster = good.Cluster with { ManagerJoinToken = good.Cluster.WorkerJoinToken } }, SwarmState.Snapshot.Empty, "must differ");
        Refused(good with { Cluster = good.Cluster with { Spec = null! } }, SwarmState.Snapshot.Empty, "settings");
    }

    [Fact]
    public void TheLeaderRefusesARestoreWithoutItsSurvivingManager()
    {
        var good = Restore();
        Refused(good with { SurvivorNodeId = W2 }, SwarmState.Snapshot.Empty, "must be a manager");
        Refused(good with { SurvivorNodeId = "nobody" }, SwarmState.Snapshot.Empty, "does not list the manager");
        Refused(good with { Nodes = good.Nodes.Select(n => n.Id == M1 ? n with { ManagerAddress = "" } : n).ToList() },
            SwarmState.Snapshot.Empty, "manager address");
    }

    [Fact]
    public void TheLeaderRefusesARestoreWithInconsistentNodesOrNetworks()
    {
        var good = Restore();
        Refused(good with { Nodes = null! }, SwarmState.Snapshot.Empty, "no list");
        Refused(good with { Nodes = [.. good.Nodes, null!] }, SwarmState.Snapshot.Empty, "missing");
        Refused(good with { Nodes = [.. good.Nodes, good.Nodes[1]] }, SwarmState.Snapshot.Empty, "twice");
        Refused(good with { Nodes = [.. good.Nodes, Node("bad id", 7, NodeRole.Worker)] }, SwarmState.Snapshot.Empty, "node");
        Refused(good with { Nodes = [.. good.Nodes, Node(W1, 4, NodeRole.Worker) with { Id = "worker0000000000000000009", Role = (NodeRole)5 }] },
            SwarmState.Snapshot.Empty, "invalid role");
        Refused(good with { RemovedNodes = [W1] }, SwarmState.Snapshot.Empty, "was removed");
        Refused(good with { Nodes = good.Nodes.Select(n => n.Id == M2 ? n with { ManagerAddress = "127.0.43.1:2377" } : n).ToList() },
            SwarmState.Snapshot.Empty, "Raft address");
        Refused(good with { Networks = [.. good.Networks, good.Networks[0]] }, SwarmState.Snapshot.Empty, "twice");
        Refused(good with { Networks = [.. good.Networks, good.Networks[0] with { Id = "network000000000000000002", Name = "" }] },
            SwarmState.Snapshot.Empty, "no name");
    }

    [Fact]
    public void FieldsAcceptedWhenTheyWereWrittenAreNotCheckedAgain()
    {
        // A recovery must not fail on a value today's limits would refuse: it was accepted when written.
        var good = Restore();
        var old = good with
        {
            Nodes = good.Nodes.Select(n => n.Id == W1 ? n with { Hostname = new string('h', 400), Version = new string('v', 100) } : n).ToList(),
            Cluster = good.Cluster with { Spec = good.Cluster.Spec with { TaskHistoryLimit = -1 } },
        };
        CommandValidator.Validate(old, SwarmState.Snapshot.Empty);
        Assert.Equal(new string('h', 400), Restored(old).Nodes[W1].Hostname);
    }
}
