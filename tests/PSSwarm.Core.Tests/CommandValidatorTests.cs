using System.Text;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;

namespace PSSwarm.Core.Tests;

public class CommandValidatorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly RootCA Ca = RootCA.Create();
    private static readonly RootCA OtherCa = RootCA.Create();

    private const string ClusterId = "cluster000000000000000001";
    private const string FirstId = "node000000000000000000001";
    private const string SecondId = "node000000000000000000002";
    private const string IngressId = "network000000000000000001";

    private static ClusterObject Cluster(RootCA? ca = null)
    {
        ca ??= Ca;
        return new ClusterObject
        {
            Id = ClusterId, CreatedAt = T0, UpdatedAt = T0,
            RootCACertificate = ca.CertificatePem, RootCAKey = ca.KeyPem!,
            WorkerJoinToken = JoinToken.Generate(ca.CertificatePemBytes),
            ManagerJoinToken = JoinToken.Generate(ca.CertificatePemBytes),
        };
    }

    private static NodeObject Node(string id, NodeRole role = NodeRole.Worker) => new()
    {
        Id = id, Hostname = "host-" + id[^1], Role = role, Status = NodeStatus.Ready,
        Address = "10.0.0." + id[^1], ManagerAddress = role == NodeRole.Manager ? $"10.0.0.{id[^1]}:2377" : "",
        Version = "1.0.0", CreatedAt = T0, UpdatedAt = T0, Labels = new() { ["zone"] = "a" },
    };

    private static CreateClusterCommand Create() =>
        new(Cluster(), Node(FirstId, NodeRole.Manager), NetworkObject.NewIngress(IngressId, T0));

    /// <summary>A swarm with the first manager and a worker.</summary>
    private static SwarmState.Snapshot State()
    {
        var state = new SwarmState();
        Assert.True(state.Apply(Create()));
        Assert.True(state.Apply(new PutNodeCommand(Node(SecondId))));
        return state.Current;
    }

    private static SwarmException Refused(SwarmCommand? command, SwarmState.Snapshot state, string? messagePart = null)
    {
        var e = Assert.Throws<SwarmException>(() => CommandValidator.Validate(command, state));
        Assert.Equal(SwarmErrorKind.InvalidArgument, e.Kind);
        Assert.Equal("SwarmInvalidCommand", e.ErrorId);
        if (messagePart is not null) Assert.Contains(messagePart, e.Message);
        Assert.False(CommandValidator.IsValid(command, state, out var error));
        Assert.Equal(e.Message, error);
        return e;
    }

    private static void Accepted(SwarmCommand command, SwarmState.Snapshot state)
    {
        CommandValidator.Validate(command, state);
        Assert.True(CommandValidator.IsValid(command, state, out var error));
        Assert.Null(error);
    }

    [Fact]
    public void NullCommandIsRefused() => Refused(null, SwarmState.Snapshot.Empty);

    // ---- createCluster ----

    [Fact]
    public void CreateCluster_AcceptedOnAnEmptyStateOnly()
    {
        Accepted(Create(), SwarmState.Snapshot.Empty);
        Refused(Create(), State(), "exists already");
    }

    [Fact]
    public void CreateCluster_RefusesMissingParts()
    {
        var empty = SwarmState.Snapshot.Empty;
        Refused(Create() with { Cluster = null! }, empty, "cluster object");
        Refused(Create() with { FirstNode = null! }, empty, "first node");
        Refused(Create() with { Ingress = null! }, empty, "ingress");
    }

    [Fact]
    public void CreateCluster_RefusesBadIds()
    {
        var empty = SwarmState.Snapshot.Empty;
        var c = Create();
        Refused(c with { Cluster = c.Cluster with { Id = "c1" } }, empty, "invalid cluster ID \"c1\"");
        Refused(c with { Cluster = c.Cluster with { Id = ClusterId.ToUpperInvariant() } }, empty, "invalid cluster ID");
        Refused(c with { FirstNode = c.FirstNode with { Id = "n1" } }, empty, "invalid node ID \"n1\"");
        Refused(c with { Ingress = c.Ingress with { Id = IngressId + "0" } }, empty, "invalid network ID");
    }

    [Fact]
    public void CreateCluster_RefusesBadTokensAndCA()
    {
        var empty = SwarmState.Snapshot.Empty;
        var c = Create();
        Refused(c with { Cluster = c.Cluster with { WorkerJoinToken = "w1" } }, empty, "invalid worker join token");
        Refused(c with { Cluster = c.Cluster with { ManagerJoinToken = "" } }, empty, "invalid manager join token");
        // A well-formed token of another CA.
        Refused(c with { Cluster = c.Cluster with { ManagerJoinToken = JoinToken.Generate(OtherCa.CertificatePemBytes) } }, empty,
            "does not belong to this swarm's root CA");
        Refused(c with { Cluster = c.Cluster with { ManagerJoinToken = c.Cluster.WorkerJoinToken } }, empty, "must differ");
        Refused(c with { Cluster = c.Cluster with { RootCACertificate = "" } }, empty, "no root CA");
        Refused(c with { Cluster = c.Cluster with { RootCAKey = "" } }, empty, "no root CA");
        Refused(c with { Cluster = c.Cluster with { RootCAKey = OtherCa.KeyPem! } }, empty, "invalid root CA");
        Refused(c with { Cluster = c.Cluster with { RootCACertificate = "garbage" } }, empty, "invalid root CA");
    }

    [Fact]
    public void CreateCluster_RefusesAWorkerAsFirstNodeAndABadSpec()
    {
        var empty = SwarmState.Snapshot.Empty;
        var c = Create();
        Refused(c with { FirstNode = c.FirstNode with { Role = NodeRole.Worker } }, empty, "must be a manager");
        Refused(c with { FirstNode = c.FirstNode with { ManagerAddress = "" } }, empty, "no manager address");
        Refused(c with { FirstNode = c.FirstNode with { Hostname = "-bad" } }, empty, "invalid hostname");
        Refused(c with { Cluster = c.Cluster with { Spec = new ClusterSpec { CertExpiry = TimeSpan.FromMinutes(5) } } }, empty,
            "minimum certificate expiry time is: 1h0m0s");
        Refused(c with { Ingress = c.Ingress with { Ingress = false } }, empty, "ingress");
    }

    // ---- setJoinToken ----

    [Fact]
    public void SetJoinToken_AcceptsATokenOfTheSwarmsRoot()
    {
        var s = State();
        Accepted(new SetJoinTokenCommand(NodeRole.Worker, JoinToken.Generate(Ca.CertificatePemBytes), T0), s);
        Accepted(new SetJoinTokenCommand(NodeRole.Manager, JoinToken.Generate(Ca.CertificatePemBytes), T0), s);
    }

    [Fact]
    public void SetJoinToken_RefusesOtherTokens()
    {
        var s = State();
        Refused(new SetJoinTokenCommand(NodeRole.Worker, JoinToken.Generate(Ca.CertificatePemBytes), T0), SwarmState.Snapshot.Empty, "no cluster");
        Refused(new SetJoinTokenCommand(NodeRole.Worker, "w2", T0), s, "invalid worker join token");
        Refused(new SetJoinTokenCommand(NodeRole.Worker, null!, T0), s, "invalid worker join token");
        Refused(new SetJoinTokenCommand(NodeRole.Manager, JoinToken.Generate(OtherCa.CertificatePemBytes), T0), s, "root CA");
        Refused(new SetJoinTokenCommand((NodeRole)7, JoinToken.Generate(Ca.CertificatePemBytes), T0), s, "invalid role 7");
        // The manager token as the new worker token would let workers join as managers... or the reverse.
        Refused(new SetJoinTokenCommand(NodeRole.Worker, s.Cluster!.ManagerJoinToken, T0), s, "must differ");
    }

    // ---- putNode ----

    [Fact]
    public void PutNode_AcceptsAValidNode()
    {
        var s = State();
        Accepted(new PutNodeCommand(Node("node000000000000000000003")), s);
        Accepted(new PutNodeCommand(Node("node000000000000000000003") with { Address = "", Labels = new(), Version = "" }), s);
        Accepted(new PutNodeCommand(Node("node000000000000000000003") with { Address = "fd00::3", ManagerAddress = "[fd00::3]:2377" }), s);
    }

    [Fact]
    public void PutNode_RefusesBadNodes()
    {
        var s = State();
        var n = Node("node000000000000000000003");
        Refused(new PutNodeCommand(null!), s, "missing");
        Refused(new PutNodeCommand(n with { Id = "n3" }), s, "invalid node ID");
        Refused(new PutNodeCommand(n with { Hostname = "" }), s, "invalid hostname");
        Refused(new PutNodeCommand(n with { Hostname = new string('h', 254) }), s, "invalid hostname");
        Refused(new PutNodeCommand(n with { Address = "10.0.0.300" }), s, "invalid IP address");
        Refused(new PutNodeCommand(n with { Address = null! }), s, "invalid IP address");
        Refused(new PutNodeCommand(n with { ManagerAddress = "10.0.0.3" }), s, "invalid address");
        Refused(new PutNodeCommand(n with { Version = "1.0 beta" }), s, "invalid version");
        Refused(new PutNodeCommand(n with { StatusMessage = new string('x', InputLimits.MaxStatusMessageLength + 1) }), s, "status message");
        Refused(new PutNodeCommand(n with { Labels = new() { ["a=b"] = "c" } }), s, "invalid label key");
        Refused(new PutNodeCommand(n with { Labels = null! }), s, "labels");
        Refused(new PutNodeCommand(n with { Role = (NodeRole)5 }), s, "invalid role 5");
        Refused(new PutNodeCommand(n with { Availability = (NodeAvailability)5 }), s, "invalid availability 5");
        Refused(new PutNodeCommand(n with { Status = (NodeStatus)(-1) }), s, "invalid node status -1");
    }

    [Fact]
    public void PutNode_RefusesARemovedNode()
    {
        var state = new SwarmState();
        state.Reset(State());
        state.Apply(new RemoveNodeCommand(SecondId));
        Refused(new PutNodeCommand(Node(SecondId)), state.Current, "was removed");
    }

    // ---- patchNode ----

    [Fact]
    public void PatchNode_AcceptsValidChanges()
    {
        var s = State();
        Accepted(new PatchNodeCommand(SecondId, T0), s);
        Accepted(new PatchNodeCommand(SecondId, T0)
        {
            Role = NodeRole.Manager, Availability = NodeAvailability.Drain, Status = NodeStatus.Down, StatusMessage = "heartbeat failure",
            Address = "10.0.0.9", ManagerAddress = "10.0.0.9:2377", Hostname = "renamed", Version = "1.1.0",
            CertificateExpiry = T0.AddDays(90), SetLabels = new() { ["b"] = "c" }, RemoveLabels = ["zone"],
        }, s);
        // Demotion clears the manager address; a node may lose its address.
        Accepted(new PatchNodeCommand(SecondId, T0) { ManagerAddress = "", Address = "" }, s);
    }

    [Fact]
    public void PatchNode_OfAnUnknownNodeIsRefusedWithDockersWording()
    {
        var s = State();
        var e = Refused(new PatchNodeCommand("ghost", T0) { Status = NodeStatus.Ready }, s);
        Assert.Equal("node ghost not found", e.Message);
        Refused(new PatchNodeCommand(null!, T0), s, "must name the node");
    }

    [Fact]
    public void PatchNode_RefusesFieldsOutsideTheLimits()
    {
        var s = State();
        PatchNodeCommand P() => new(SecondId, T0);
        Refused(P() with { Role = (NodeRole)9 }, s, "invalid role 9");
        Refused(P() with { Availability = (NodeAvailability)9 }, s, "invalid availability 9");
        Refused(P() with { Status = (NodeStatus)9 }, s, "invalid node status 9");
        Refused(P() with { Hostname = "" }, s, "invalid hostname");
        Refused(P() with { Hostname = "a b" }, s, "invalid hostname");
        Refused(P() with { Address = "host.example" }, s, "invalid IP address");
        Refused(P() with { ManagerAddress = "10.0.0.9:0" }, s, "invalid address");
        Refused(P() with { Version = new string('1', InputLimits.MaxVersionLength + 1) }, s, "invalid version");
        Refused(P() with { StatusMessage = new string('m', InputLimits.MaxStatusMessageLength + 1) }, s, "status message");
        Refused(P() with { SetLabels = new() { ["k"] = "line\nbreak" } }, s, "invalid value for label \"k\"");
        Refused(P() with { RemoveLabels = [""] }, s, "invalid label key");
        Refused(P() with { RemoveLabels = [null!] }, s, "invalid label key");
    }

    [Fact]
    public void PatchNode_LimitsTheLabelsTheNodeEndsUpWith()
    {
        var s = State(); // the node has one label, "zone"
        var hundred = Enumerable.Range(0, InputLimits.MaxLabels).ToDictionary(i => $"k{i}", _ => "v");
        Refused(new PatchNodeCommand(SecondId, T0) { SetLabels = hundred }, s, "too many labels (101)");
        Accepted(new PatchNodeCommand(SecondId, T0) { SetLabels = hundred, RemoveLabels = ["zone"] }, s);
        Accepted(new PatchNodeCommand(SecondId, T0) { SetLabels = hundred, ReplaceLabels = true }, s);
        var many = Enumerable.Range(0, InputLimits.MaxLabels + 1).ToDictionary(i => $"k{i}", _ => "v");
        Refused(new PatchNodeCommand(SecondId, T0) { SetLabels = many, ReplaceLabels = true }, s, "too many labels");
    }

    // ---- patchNodes (the dispatcher's batches) ----

    [Fact]
    public void PatchNodes_AppliesEveryPatchInOneEntryAndSurvivesTheRoundTrip()
    {
        var state = new SwarmState();
        Assert.True(state.Apply(Create()));
        Assert.True(state.Apply(new PutNodeCommand(Node(SecondId))));
        var batch = new PatchNodesCommand([
            new PatchNodeCommand(FirstId, T0.AddMinutes(1)) { Status = NodeStatus.Unknown, StatusMessage = "leader change" },
            new PatchNodeCommand(SecondId, T0.AddMinutes(1)) { Status = NodeStatus.Down, StatusMessage = "heartbeat failure" },
        ]);
        Accepted(batch, state.Current);
        var decoded = Assert.IsType<PatchNodesCommand>(CommandValidator.Decode(batch.ToBytes()));
        var version = state.Current.Version;
        Assert.True(state.Apply(decoded));
        Assert.Equal(version + 1, state.Current.Version);
        Assert.Equal(NodeStatus.Unknown, state.Current.Nodes[FirstId].Status);
        Assert.Equal(NodeStatus.Down, state.Current.Nodes[SecondId].Status);
        Assert.Equal("heartbeat failure", state.Current.Nodes[SecondId].StatusMessage);
        Assert.Equal(T0.AddMinutes(1), state.Current.Nodes[SecondId].UpdatedAt);
        Assert.Equal("a", state.Current.Nodes[SecondId].Labels["zone"]); // untouched fields stay
    }

    [Fact]
    public void PatchNodes_ApplyIsTotal_AGoneNodeOrAMalformedPatchChangesOnlyItself()
    {
        var state = new SwarmState();
        Assert.True(state.Apply(Create()));
        Assert.True(state.Apply(new PutNodeCommand(Node(SecondId))));
        Assert.True(state.Apply(new PatchNodesCommand([
            new PatchNodeCommand("ghost", T0) { Status = NodeStatus.Down },
            new PatchNodeCommand(FirstId, T0) { Status = (NodeStatus)9 },
            null!,
            new PatchNodeCommand(SecondId, T0) { Status = NodeStatus.Down },
        ])));
        Assert.Equal(NodeStatus.Ready, state.Current.Nodes[FirstId].Status);
        Assert.Equal(NodeStatus.Down, state.Current.Nodes[SecondId].Status);
        Assert.False(state.Current.Nodes.ContainsKey("ghost"));
        Assert.True(state.Apply(new PatchNodesCommand(null!)));
    }

    [Fact]
    public void PatchNodes_TheLeaderRefusesEmptyOversizedDuplicateOrInvalidBatches()
    {
        var s = State();
        Refused(new PatchNodesCommand([]), s, "at least one change");
        Refused(new PatchNodesCommand(null!), s, "at least one change");
        var tooMany = Enumerable.Range(0, PatchNodesCommand.MaxPatches + 1).Select(_ => new PatchNodeCommand(SecondId, T0)).ToList();
        Refused(new PatchNodesCommand(tooMany), s, $"at most {PatchNodesCommand.MaxPatches}");
        Refused(new PatchNodesCommand([new PatchNodeCommand(SecondId, T0), new PatchNodeCommand(SecondId, T0)]), s, "twice");
        Refused(new PatchNodesCommand([new PatchNodeCommand(SecondId, T0), null!]), s, "empty change");
        // One bad patch refuses the whole batch, with the patch's own reason.
        Assert.Equal("node ghost not found",
            Refused(new PatchNodesCommand([new PatchNodeCommand(SecondId, T0), new PatchNodeCommand("ghost", T0)]), s).Message);
        Refused(new PatchNodesCommand([new PatchNodeCommand(SecondId, T0) { Hostname = "a b" }]), s, "invalid hostname");
    }

    // ---- removeNode ----

    [Fact]
    public void RemoveNode_OnlyAnExistingNode()
    {
        var s = State();
        Accepted(new RemoveNodeCommand(SecondId), s);
        Assert.Equal("node ghost not found", Refused(new RemoveNodeCommand("ghost"), s).Message);
        Refused(new RemoveNodeCommand(null!), s, "must name the node");
    }

    // ---- updateClusterSpec ----

    [Fact]
    public void UpdateClusterSpec_AcceptsValidSettings()
    {
        var s = State();
        Accepted(new UpdateClusterSpecCommand(new ClusterSpec(), T0), s);
        Accepted(new UpdateClusterSpecCommand(new ClusterSpec { CertExpiry = ClusterSpec.MinCertExpiry, TaskHistoryLimit = 0, DispatcherHeartbeat = TimeSpan.FromMilliseconds(1) }, T0), s);
        Accepted(new UpdateClusterSpecCommand(new ClusterSpec { CertExpiry = RootCA.RootCAExpiration }, T0), s);
    }

    [Fact]
    public void UpdateClusterSpec_RefusesBadSettings()
    {
        var s = State();
        Refused(new UpdateClusterSpecCommand(new ClusterSpec(), T0), SwarmState.Snapshot.Empty, "no cluster");
        Refused(new UpdateClusterSpecCommand(null!, T0), s, "missing");
        var e = Refused(new UpdateClusterSpecCommand(new ClusterSpec { CertExpiry = TimeSpan.FromMinutes(59) }, T0), s);
        Assert.Equal("minimum certificate expiry time is: 1h0m0s", e.Message);
        Refused(new UpdateClusterSpecCommand(new ClusterSpec { CertExpiry = TimeSpan.MaxValue }, T0), s, "maximum certificate expiry time is: 175200h0m0s");
        Refused(new UpdateClusterSpecCommand(new ClusterSpec { DispatcherHeartbeat = TimeSpan.Zero }, T0), s, "heartbeat");
        Refused(new UpdateClusterSpecCommand(new ClusterSpec { DispatcherHeartbeat = TimeSpan.FromSeconds(-1) }, T0), s, "negative");
        Refused(new UpdateClusterSpecCommand(new ClusterSpec { TaskHistoryLimit = -1 }, T0), s, "task history");
    }

    [Fact]
    public void ACommandOfAnotherStoreFormatIsRefused()
    {
        Refused(new PatchNodeCommand(SecondId, T0) { StoreFormatVersion = SwarmCommand.FormatVersion + 1 }, State(), "store format version 4");
    }

    // ---- Decode ----

    [Fact]
    public void Decode_ReturnsTheCommand()
    {
        var command = new PatchNodeCommand(SecondId, T0) { Status = NodeStatus.Down };
        var decoded = Assert.IsType<PatchNodeCommand>(CommandValidator.Decode(command.ToBytes()));
        Assert.Equal(NodeStatus.Down, decoded.Status);
        Assert.Equal(SecondId, decoded.NodeId);
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("{")]
    [InlineData("[1,2]")]
    [InlineData("{\"op\":\"launchMissiles\"}")]
    [InlineData("{\"op\":\"launchMissiles\",\"v\":3}")]
    [InlineData("{\"op\":\"putNode\",\"v\":0,\"node\":{\"id\":\"x\"}}")]
    public void Decode_RefusesMalformedInput(string json)
    {
        var e = Assert.Throws<SwarmException>(() => CommandValidator.Decode(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(SwarmErrorKind.InvalidArgument, e.Kind);
        Assert.Equal("SwarmInvalidCommand", e.ErrorId);
        Assert.StartsWith("malformed swarm command: ", e.Message);
        Assert.IsType<UnreadableCommandException>(e.InnerException);
    }

    [Fact]
    public void Decode_RefusesOversizedInput()
    {
        var big = new byte[InputLimits.MaxCommandBytes + 1];
        var e = Assert.Throws<SwarmException>(() => CommandValidator.Decode(big));
        Assert.Equal("SwarmInvalidCommand", e.ErrorId);
        Assert.Contains("more than the", e.Message);
    }

    [Fact]
    public void GoDurationMatchesGo()
    {
        Assert.Equal("1h0m0s", CommandValidator.GoDuration(TimeSpan.FromHours(1)));
        Assert.Equal("2160h0m0s", CommandValidator.GoDuration(TimeSpan.FromDays(90)));
        Assert.Equal("1m30s", CommandValidator.GoDuration(TimeSpan.FromSeconds(90)));
        Assert.Equal("5s", CommandValidator.GoDuration(TimeSpan.FromSeconds(5)));
        Assert.Equal("0s", CommandValidator.GoDuration(TimeSpan.Zero));
    }
}
