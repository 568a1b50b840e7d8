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
}
