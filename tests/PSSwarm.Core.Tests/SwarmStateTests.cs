using System.Text;
using PSSwarm.Core.State;

namespace PSSwarm.Core.Tests;

public class SwarmStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    private static ClusterObject Cluster(string id = "c1") => new()
    {
        Id = id, CreatedAt = T0, UpdatedAt = T0,
        RootCACertificate = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
        RootCAKey = "key", WorkerJoinToken = "w1", ManagerJoinToken = "m1",
    };

    private static NodeObject Node(string id, NodeRole role = NodeRole.Worker) => new()
    {
        Id = id, Hostname = "host-" + id, Role = role, Status = NodeStatus.Ready, CreatedAt = T0, UpdatedAt = T0,
    };

    private static SwarmState Created()
    {
        var state = new SwarmState();
        state.Apply(new CreateClusterCommand(Cluster(), Node("n1", NodeRole.Manager), NetworkObject.NewIngress("net1", T0)));
        return state;
    }

    [Fact]
    public void CreateClusterAddsTheClusterTheFirstManagerAndIngress()
    {
        var s = Created().Current;
        Assert.Equal("c1", s.Cluster!.Id);
        Assert.Equal("default", s.Cluster.Name);
        Assert.Equal(NodeRole.Manager, s.Nodes["n1"].Role);
        var ingress = Assert.Single(s.Networks.Values);
        Assert.True(ingress.Ingress);
        Assert.Equal("10.0.0.0/24", ingress.Subnet);
        Assert.Equal("overlay", ingress.Driver);
        Assert.Equal(1, s.Version);
    }

    [Fact]
    public void ASecondCreateClusterIsIgnored()
    {
        var state = Created();
        state.Apply(new CreateClusterCommand(Cluster("other"), Node("n9"), NetworkObject.NewIngress("net9", T0)));
        Assert.Equal("c1", state.Current.Cluster!.Id);
        Assert.False(state.Current.Nodes.ContainsKey("n9"));
    }

    [Fact]
    public void RotatingOneTokenLeavesTheOtherUnchanged()
    {
        var state = Created();
        state.Apply(new SetJoinTokenCommand(NodeRole.Worker, "w2", T0.AddMinutes(1)));
        Assert.Equal("w2", state.Current.Cluster!.WorkerJoinToken);
        Assert.Equal("m1", state.Current.Cluster.ManagerJoinToken);
        Assert.Equal(T0.AddMinutes(1), state.Current.Cluster.UpdatedAt);
    }

    [Fact]
    public void ARemovedNodeCannotBePutBack()
    {
        var state = Created();
        state.Apply(new PutNodeCommand(Node("n2")));
        state.Apply(new RemoveNodeCommand("n2"));
        state.Apply(new PutNodeCommand(Node("n2") with { Status = NodeStatus.Ready }));
        Assert.False(state.Current.Nodes.ContainsKey("n2"));
        Assert.Contains("n2", state.Current.RemovedNodes);
    }

    [Fact]
    public void EarlierSnapshotsAreNotChangedByLaterCommands()
    {
        var state = Created();
        var before = state.Current;
        state.Apply(new PutNodeCommand(Node("n2")));
        Assert.False(before.Nodes.ContainsKey("n2"));
        Assert.True(state.Current.Nodes.ContainsKey("n2"));
    }

    [Fact]
    public void CommandsRoundTripThroughTheirLogBytes()
    {
        SwarmCommand[] commands =
        [
            new CreateClusterCommand(Cluster(), Node("n1", NodeRole.Manager), NetworkObject.NewIngress("net1", T0)),
            new SetJoinTokenCommand(NodeRole.Manager, "m2", T0),
            new PutNodeCommand(Node("n2") with { Labels = new() { ["zone"] = "a" }, Availability = NodeAvailability.Drain }),
            new PatchNodeCommand("n2", T0) { Status = NodeStatus.Down, SetLabels = new() { ["b"] = "c" }, RemoveLabels = ["zone"] },
            new RemoveNodeCommand("n2"),
            new UpdateClusterSpecCommand(new ClusterSpec { DispatcherHeartbeat = TimeSpan.FromSeconds(1) }, T0),
        ];
        var direct = new SwarmState();
        var replayed = new SwarmState();
        foreach (var c in commands)
        {
            direct.Apply(c);
            var copy = SwarmCommand.FromBytes(c.ToBytes());
            Assert.Equal(c.GetType(), copy.GetType());
            replayed.Apply(copy);
        }
        Assert.Equal(direct.Serialize(), replayed.Serialize());
    }

    [Fact]
    public void ASnapshotRestoresTheWholeState()
    {
        var state = Created();
        state.Apply(new PutNodeCommand(Node("n2") with { Labels = new() { ["a"] = "b" } }));
        state.Apply(new RemoveNodeCommand("gone"));
        var restored = new SwarmState();
        restored.Deserialize(state.Serialize());
        Assert.Equal(state.Serialize(), restored.Serialize());
        Assert.Equal("b", restored.Current.Nodes["n2"].Labels["a"]);
        Assert.Contains("gone", restored.Current.RemovedNodes);
        Assert.Equal(state.Current.Version, restored.Current.Version);
    }

    [Fact]
    public void PatchesReadAtTheSameTimeDoNotUndoEachOther()
    {
        // Two writers read the node at once: one adds a label, the other drains and marks it down.
        var state = Created();
        state.Apply(new PutNodeCommand(Node("n2") with { Labels = new() { ["keep"] = "1" } }));
        state.Apply(new PatchNodeCommand("n2", T0) { SetLabels = new() { ["a"] = "1" } });
        state.Apply(new PatchNodeCommand("n2", T0) { Availability = NodeAvailability.Drain, Status = NodeStatus.Down, StatusMessage = "heartbeat failure" });
        state.Apply(new PatchNodeCommand("n2", T0) { SetLabels = new() { ["b"] = "2" }, RemoveLabels = ["keep"] });
        var n2 = state.Current.Nodes["n2"];
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, n2.Labels);
        Assert.Equal(NodeAvailability.Drain, n2.Availability);
        Assert.Equal(NodeStatus.Down, n2.Status);
        Assert.Equal("host-n2", n2.Hostname);
    }

    [Fact]
    public void APatchOfAnUnknownOrRemovedNodeChangesNothing()
    {
        var state = Created();
        state.Apply(new PatchNodeCommand("ghost", T0) { Status = NodeStatus.Ready });
        Assert.False(state.Current.Nodes.ContainsKey("ghost"));
    }

    [Fact]
    public void AnUnknownCommandIsRefusedWhenRead()
    {
        Assert.ThrowsAny<Exception>(() => SwarmCommand.FromBytes("{\"op\":\"launchMissiles\"}"u8));
    }

    // ---- scale: writes share the state instead of copying it ----

    [Fact]
    public void Writes_KeepTheMapsPersistent_EvenAfterASnapshotRoundTrip()
    {
        var state = Created();
        for (var i = 0; i < 2000; i++) Assert.True(state.Apply(new PutNodeCommand(Node($"w{i:0000}"))));
        var copy = new SwarmState();
        copy.Deserialize(state.Serialize());
        foreach (var s in new[] { state, copy })
        {
            Assert.True(s.Apply(new PatchNodeCommand("w0001", T0) { Status = NodeStatus.Down }));
            Assert.True(s.Apply(new PatchNodesCommand([new PatchNodeCommand("w0002", T0) { Status = NodeStatus.Down }])));
            Assert.True(s.Apply(new RemoveNodeCommand("w0003")));
            Assert.IsType<System.Collections.Immutable.ImmutableDictionary<string, NodeObject>>(s.Current.Nodes);
            Assert.IsType<System.Collections.Immutable.ImmutableHashSet<string>>(s.Current.RemovedNodes);
            Assert.Equal(2000, s.Current.Nodes.Count); // n1 + 2000 workers - w0003
            Assert.Contains("w0003", s.Current.RemovedNodes);
        }
        // An untouched node is the same object before and after a write: nothing was copied.
        var before = state.Current.Nodes["w1999"];
        Assert.True(state.Apply(new PatchNodeCommand("w0004", T0) { Status = NodeStatus.Down }));
        Assert.Same(before, state.Current.Nodes["w1999"]);
    }

    // ---- watching the store ----

    [Fact]
    public async Task WaitForChange_CompletesOnTheNextApply_NotBefore()
    {
        var state = Created();
        var version = state.Current.Version;
        Assert.Same(state.Current, await state.WaitForChangeAsync(version - 1, default)); // already past: at once
        var watch = state.WaitForChangeAsync(version, default);
        await Task.Delay(50);
        Assert.False(watch.IsCompleted);
        Assert.True(state.Apply(new PutNodeCommand(Node("n9"))));
        var seen = await watch.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(version + 1, seen.Version);
        Assert.True(seen.Nodes.ContainsKey("n9"));
    }

    [Fact]
    public async Task WaitForChange_SeesARestoredSnapshot_AndHonoursCancellation()
    {
        var state = Created();
        var older = state.Current;
        Assert.True(state.Apply(new PutNodeCommand(Node("n9"))));
        var watch = state.WaitForChangeAsync(state.Current.Version, default);
        state.Reset(older); // a snapshot restore may go back
        Assert.Same(older, await watch.WaitAsync(TimeSpan.FromSeconds(5)));

        using var cts = new CancellationTokenSource(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => state.WaitForChangeAsync(state.Current.Version, cts.Token));
    }

    // ---- store format version ----

    [Fact]
    public void EveryCommandCarriesTheStoreFormatVersionRightAfterItsOp()
    {
        SwarmCommand[] commands =
        [
            new CreateClusterCommand(Cluster(), Node("n1", NodeRole.Manager), NetworkObject.NewIngress("net1", T0)),
            new SetJoinTokenCommand(NodeRole.Manager, "m2", T0),
            new PutNodeCommand(Node("n2")),
            new PatchNodeCommand("n2", T0) { Status = NodeStatus.Down },
            new RemoveNodeCommand("n2"),
            new UpdateClusterSpecCommand(new ClusterSpec(), T0),
            new PatchNodesCommand([new PatchNodeCommand("n2", T0)]),
            new AddJoinTokenCommand(new JoinTokenObject { Id = "t1", Token = "x" }),
            new RevokeJoinTokenCommand("t1"),
        ];
        foreach (var c in commands)
        {
            var json = Encoding.UTF8.GetString(c.ToBytes());
            Assert.Matches("^\\{\"op\":\"[a-zA-Z]+\",\"v\":3,", json);
            Assert.Equal(SwarmCommand.FormatVersion, SwarmCommand.FromBytes(c.ToBytes()).StoreFormatVersion);
        }
    }

    [Fact]
    public void EntriesWrittenBeforeTheVersionExistedStillDecode()
    {
        // As the previous release wrote them: no "v".
        var patch = SwarmCommand.FromBytes("""{"op":"patchNode","nodeId":"n2","at":"2026-11-25T12:00:00+00:00","status":"Down","setLabels":{"a":"b"}}"""u8);
        var p = Assert.IsType<PatchNodeCommand>(patch);
        Assert.Equal(1, p.StoreFormatVersion);
        Assert.Equal(NodeStatus.Down, p.Status);
        Assert.Equal("b", p.SetLabels!["a"]);

        var removal = Assert.IsType<RemoveNodeCommand>(SwarmCommand.FromBytes("""{"op":"removeNode","nodeId":"n2"}"""u8));
        Assert.Equal("n2", removal.NodeId);
        Assert.Equal(1, removal.StoreFormatVersion);

        // Every command, with "v" taken out, reads back the same.
        var create = new CreateClusterCommand(Cluster(), Node("n1", NodeRole.Manager), NetworkObject.NewIngress("net1", T0));
        var old = Encoding.UTF8.GetString(create.ToBytes()).Replace(",\"v\":3", "");
        Assert.DoesNotContain("\"v\"", old);
        var state = new SwarmState();
        Assert.True(state.Apply(SwarmCommand.FromBytes(Encoding.UTF8.GetBytes(old))));
        Assert.Equal("c1", state.Current.Cluster!.Id);
    }

    [Fact]
    public void AnEntryOfANewerFormatNamesBothVersions()
    {
        var e = Assert.Throws<UnreadableCommandException>(() => SwarmCommand.FromBytes("""{"op":"fooBar","v":4,"x":{"y":[1,2]}}"""u8));
        Assert.Equal(4, e.WrittenVersion);
        Assert.Equal("fooBar", e.Op);
        Assert.True(e.IsNewerFormat);
        Assert.Equal(
            "a swarm store entry (op \"fooBar\") was written by store format version 4; this psswarmd reads format versions 1 to 3 and cannot apply it. "
            + "Upgrade psswarmd on this manager to the version the other managers run.", e.Message);

        // A known op is refused too: a newer format may have changed its meaning.
        // The web defaults read "4" as 4; so does the message.
        var quoted = Assert.Throws<UnreadableCommandException>(() => SwarmCommand.FromBytes("""{"op":"removeNode","v":"4","nodeId":"n2"}"""u8));
        Assert.Equal(4, quoted.WrittenVersion);
        Assert.True(quoted.IsNewerFormat);

        var known = Assert.Throws<UnreadableCommandException>(() => SwarmCommand.FromBytes("""{"op":"removeNode","v":5,"nodeId":"n2"}"""u8));
        Assert.Equal(5, known.WrittenVersion);
        Assert.Equal("removeNode", known.Op);
        Assert.Contains("store format version 5", known.Message);
        Assert.Contains("format versions 1 to 3", known.Message);
    }

    [Theory]
    [InlineData("null")]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("42")]
    [InlineData("{}")]
    [InlineData("{\"v\":1}")]
    [InlineData("{\"op\":\"launchMissiles\"}")]
    [InlineData("{\"op\":\"launchMissiles\",\"v\":1}")]
    [InlineData("{\"op\":\"putNode\",\"node\":{\"hostname\":\"no id\"}}")]
    [InlineData("{\"op\":\"putNode\",\"v\":0}")]
    [InlineData("{\"op\":\"putNode\",\"v\":\"one\"}")]
    [InlineData("{\"op\":\"setJoinToken\",\"role\":{}}")]
    [InlineData("{\"op\":\"patchNode\",\"nodeId\":\"n\",\"at\":\"yesterday\"}")]
    public void UnreadableEntriesThrowOnlyUnreadableCommandException(string json)
    {
        var e = Assert.Throws<UnreadableCommandException>(() => SwarmCommand.FromBytes(Encoding.UTF8.GetBytes(json)));
        Assert.False(e.IsNewerFormat);
        Assert.Contains("could not be read (", e.Message);
        Assert.EndsWith("); this psswarmd reads store format versions 1 to 3", e.Message);
    }

    [Fact]
    public void GarbageNamesNoVersion()
    {
        var e = Assert.Throws<UnreadableCommandException>(() => SwarmCommand.FromBytes("\u0001garbage"u8));
        Assert.Null(e.WrittenVersion);
        Assert.Null(e.Op);
        Assert.StartsWith("a swarm store entry could not be read (", e.Message);

        var nul = Assert.Throws<UnreadableCommandException>(() => SwarmCommand.FromBytes("null"u8));
        Assert.Null(nul.WrittenVersion);
        Assert.Contains("null", nul.Message);

        var unknown = Assert.Throws<UnreadableCommandException>(() => SwarmCommand.FromBytes("""{"op":"launchMissiles"}"""u8));
        Assert.Equal("launchMissiles", unknown.Op);
        Assert.Null(unknown.WrittenVersion);
        Assert.StartsWith("a swarm store entry (op \"launchMissiles\") could not be read (", unknown.Message);
    }

    // ---- total, deterministic apply ----

    /// <summary>A command whose own Apply fails: SwarmState must contain it.</summary>
    private sealed record ThrowingCommand : SwarmCommand
    {
        public override SwarmState.Snapshot Apply(SwarmState.Snapshot state) => throw new InvalidOperationException("boom");
    }

    private sealed record NullCommand : SwarmCommand
    {
        public override SwarmState.Snapshot Apply(SwarmState.Snapshot state) => null!;
    }

    /// <summary>The state without its version, for comparisons.</summary>
    private static byte[] Content(SwarmState.Snapshot s)
    {
        var copy = new SwarmState();
        copy.Reset(s with { Version = 0 });
        return copy.Serialize();
    }

    public static TheoryData<string, SwarmCommand> MalformedCommands() => new()
    {
        { "put null node", new PutNodeCommand(null!) },
        { "put node without id", new PutNodeCommand(Node("x") with { Id = null! }) },
        { "put node with empty id", new PutNodeCommand(Node("x") with { Id = "" }) },
        { "put node with undefined role", new PutNodeCommand(Node("n7") with { Role = (NodeRole)42 }) },
        { "put node with undefined status", new PutNodeCommand(Node("n7") with { Status = (NodeStatus)(-1) }) },
        { "second create", new CreateClusterCommand(Cluster("c2"), Node("n9"), NetworkObject.NewIngress("net9", T0)) },
        { "create with null parts", new CreateClusterCommand(null!, null!, null!) },
        { "patch null id", new PatchNodeCommand(null!, T0) { Status = NodeStatus.Down } },
        { "patch unknown node", new PatchNodeCommand("ghost", T0) { Status = NodeStatus.Down } },
        { "patch undefined availability", new PatchNodeCommand("n1", T0) { Availability = (NodeAvailability)9 } },
        { "patch undefined role", new PatchNodeCommand("n1", T0) { Role = (NodeRole)9 } },
        { "remove null id", new RemoveNodeCommand(null!) },
        { "remove empty id", new RemoveNodeCommand("") },
        { "spec null", new UpdateClusterSpecCommand(null!, T0) },
        { "token null", new SetJoinTokenCommand(NodeRole.Worker, null!, T0) },
        { "token undefined role", new SetJoinTokenCommand((NodeRole)3, "x", T0) },
        { "throwing command", new ThrowingCommand() },
        { "command returning no state", new NullCommand() },
    };

    [Theory]
    [MemberData(nameof(MalformedCommands))]
    public void ApplyNeverThrowsAndAMalformedCommandOnlyCountsTheVersion(string name, SwarmCommand command)
    {
        var state = Created();
        var before = state.Current;
        var ok = state.Apply(command, out var error);
        Assert.Equal(before.Version + 1, state.Current.Version);
        Assert.Equal(Content(before), Content(state.Current));
        if (command is ThrowingCommand or NullCommand)
        {
            Assert.False(ok, name);
            Assert.Contains(command.GetType().Name, error);
            Assert.Equal(error, state.LastApplyError);
        }
        else
        {
            Assert.True(ok, name);
            Assert.Null(state.LastApplyError);
        }
    }

    [Fact]
    public void MalformedCreationsOnAnEmptyStateCreateNothing()
    {
        CreateClusterCommand good = new(Cluster(), Node("n1", NodeRole.Manager), NetworkObject.NewIngress("net1", T0));
        foreach (var bad in new[]
                 {
                     good with { Cluster = null! }, good with { FirstNode = null! }, good with { Ingress = null! },
                     good with { Cluster = good.Cluster with { Id = null! } },
                     good with { Cluster = good.Cluster with { RootCACertificate = null! } },
                     good with { FirstNode = good.FirstNode with { Id = "" } },
                     good with { Ingress = good.Ingress with { Name = null! } },
                 })
        {
            var state = new SwarmState();
            Assert.True(state.Apply(bad));
            Assert.Null(state.Current.Cluster);
            Assert.Empty(state.Current.Nodes);
            Assert.Empty(state.Current.Networks);
            Assert.Equal(1, state.Current.Version);
        }
    }

    [Fact]
    public void ANullCommandIsCountedAndReported()
    {
        var state = Created();
        Assert.False(state.Apply(null));
        Assert.Equal(2, state.Current.Version);
        Assert.NotNull(state.LastApplyError);
        Assert.True(state.Apply(new PutNodeCommand(Node("n2"))));
        Assert.Null(state.LastApplyError);
    }

    [Fact]
    public void NullsInADecodedEntryBecomeEmptyValues()
    {
        var state = Created();
        var command = SwarmCommand.FromBytes(
            """{"op":"putNode","node":{"id":"n5","hostname":null,"address":null,"managerAddress":null,"version":null,"statusMessage":null,"labels":{"a":null}}}"""u8);
        Assert.True(state.Apply(command));
        var n5 = state.Current.Nodes["n5"];
        Assert.Equal("", n5.Hostname);
        Assert.Equal("", n5.Address);
        Assert.Equal("", n5.ManagerAddress);
        Assert.Equal("", n5.Version);
        Assert.Equal("", n5.StatusMessage);
        Assert.Equal("", n5.Labels["a"]);

        Assert.True(state.Apply(SwarmCommand.FromBytes("""{"op":"putNode","node":{"id":"n6","labels":null}}"""u8)));
        Assert.Empty(state.Current.Nodes["n6"].Labels);

        // A patch with null label entries skips or empties them.
        Assert.True(state.Apply(SwarmCommand.FromBytes(
            """{"op":"patchNode","nodeId":"n6","at":"2026-11-25T12:00:00+00:00","setLabels":{"k":null},"removeLabels":[null,"x"]}"""u8)));
        Assert.Equal("", state.Current.Nodes["n6"].Labels["k"]);

        // And the state still snapshots and restores.
        var restored = new SwarmState();
        restored.Deserialize(state.Serialize());
        Assert.Equal(state.Serialize(), restored.Serialize());
    }

    [Fact]
    public void AnEntryWithoutItsObjectDecodesAndChangesNothing()
    {
        var state = Created();
        var before = state.Current;
        foreach (var json in new[]
                 {
                     """{"op":"putNode"}""", """{"op":"putNode","node":null}""", """{"op":"removeNode"}""",
                     """{"op":"updateClusterSpec","spec":null}""", """{"op":"setJoinToken","role":"Worker"}""",
                     """{"op":"createCluster"}""", """{"op":"patchNode","at":"2026-11-25T12:00:00+00:00"}""",
                 })
        {
            var command = SwarmCommand.FromBytes(Encoding.UTF8.GetBytes(json));
            state.Apply(command);
        }
        Assert.Equal(before.Version + 7, state.Current.Version);
        Assert.Equal(Content(before), Content(state.Current));
    }

    [Fact]
    public void ApplyIsDeterministic()
    {
        SwarmCommand[] commands =
        [
            new CreateClusterCommand(Cluster(), Node("n1", NodeRole.Manager), NetworkObject.NewIngress("net1", T0)),
            new PutNodeCommand(Node("n2") with { Labels = new() { ["zone"] = "a", ["rack"] = "1" } }),
            new PutNodeCommand(null!),
            new PatchNodeCommand("n2", T0.AddSeconds(1)) { SetLabels = new() { ["b"] = "c" }, RemoveLabels = ["zone"] },
            new PatchNodeCommand("ghost", T0) { Status = NodeStatus.Down },
            new ThrowingCommand(),
            new SetJoinTokenCommand(NodeRole.Worker, "w2", T0.AddSeconds(2)),
            new PutNodeCommand(Node("n3")),
            new RemoveNodeCommand("n3"),
            new PutNodeCommand(Node("n3")),
            new UpdateClusterSpecCommand(null!, T0),
            new UpdateClusterSpecCommand(new ClusterSpec { TaskHistoryLimit = 9 }, T0.AddSeconds(3)),
            new RemoveNodeCommand(null!),
        ];
        var a = new SwarmState();
        var b = new SwarmState();
        var c = new SwarmState();
        foreach (var command in commands)
        {
            a.Apply(command);
            b.Apply(command);
            // Through the log bytes, where they can be written.
            c.Apply(command is ThrowingCommand ? command : SwarmCommand.FromBytes(command.ToBytes()));
        }
        Assert.Equal(commands.Length, a.Current.Version);
        Assert.Equal(a.Serialize(), b.Serialize());
        Assert.Equal(a.Serialize(), c.Serialize());
        Assert.Equal(new Dictionary<string, string> { ["rack"] = "1", ["b"] = "c" }, a.Current.Nodes["n2"].Labels);
        Assert.Equal(9, a.Current.Cluster!.Spec.TaskHistoryLimit);
    }
}
