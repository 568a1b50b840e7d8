using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Ca;
using PSSwarm.Daemon.Cluster;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.Daemon.Tests;

public class ClusterAccessPolicyTests
{
    private static readonly string M1 = Identity.NewId(), M2 = Identity.NewId(), W1 = Identity.NewId(), Gone = Identity.NewId(), Demoted = Identity.NewId();
    private const string M1Addr = "127.0.0.1:2377", M2Addr = "127.0.0.2:2377", DemotedAddr = "127.0.0.9:2377";

    private sealed class View(SwarmState.Snapshot state, IEnumerable<string> members, IReadOnlyDictionary<string, string>? known = null) : ISwarmView
    {
        public SwarmState.Snapshot State { get; } = state;
        public bool IsRaftMember(string address) => members.Contains(address);
        public IReadOnlyDictionary<string, string> KnownManagers { get; } = known ?? new Dictionary<string, string>();
    }

    private static NodeObject Node(string id, NodeRole role, string managerAddress = "") => new() { Id = id, Role = role, ManagerAddress = managerAddress, Hostname = id };

    private static readonly SwarmState.Snapshot State = new()
    {
        Cluster = new ClusterObject { Id = "c", RootCACertificate = "x", RootCAKey = "x", WorkerJoinToken = "x", ManagerJoinToken = "x" },
        Nodes = new Dictionary<string, NodeObject>
        {
            [M1] = Node(M1, NodeRole.Manager, M1Addr),
            [M2] = Node(M2, NodeRole.Manager, M2Addr),
            [W1] = Node(W1, NodeRole.Worker),
            // Demoted: the store says worker (its manager address is gone), the certificate it kept says manager.
            [Demoted] = Node(Demoted, NodeRole.Worker),
        },
        RemovedNodes = new HashSet<string> { Gone },
    };

    private static readonly View Swarm = new(State, [M1Addr, M2Addr]);

    private static PeerIdentity Manager(string id) => new(id, NodeCertificates.ManagerRole, "c");
    private static PeerIdentity Worker(string id) => new(id, NodeCertificates.WorkerRole, "c");
    private static string Grpc(string service, string method) => $"/psswarm.cluster.v1.{service}/{method}";
    private static StringValues Sender(string address) => ClusterAccessPolicy.MemberId(address).ToString();

    [Fact]
    public void Table_NamesEveryMethodOfTheClusterApi()
    {
        var methods = new[] { NodeCA.Descriptor, Protocol.Cluster.Dispatcher.Descriptor, RaftControl.Descriptor }
            .SelectMany(s => s.Methods.Select(m => $"/{s.FullName}/{m.Name}")).ToList();
        Assert.NotEmpty(methods);
        foreach (var method in methods) Assert.True(ClusterAccessPolicy.Table.ContainsKey(method), $"{method} is not in the access table");
        // ... and nothing else but the Raft endpoint.
        Assert.Equal(methods.Count + 1, ClusterAccessPolicy.Table.Count);
        Assert.Equal(ClusterAccess.RaftMember, ClusterAccessPolicy.Table[ClusterAccessPolicy.RaftEndpoint]);
    }

    [Theory]
    [InlineData("NodeCA", "GetRootCACertificate", "Anonymous")]
    [InlineData("NodeCA", "IssueNodeCertificate", "Anonymous")]
    [InlineData("NodeCA", "RenewNodeCertificate", "Member")]
    [InlineData("Dispatcher", "Heartbeat", "Member")]
    [InlineData("Dispatcher", "Leave", "Member")]
    [InlineData("RaftControl", "AddMember", "Manager")]
    [InlineData("RaftControl", "Propose", "RaftMember")]
    [InlineData("RaftControl", "RemoveMember", "RaftMember")]
    [InlineData("RaftControl", "ReadIndex", "RaftMember")]
    public void Table_GivesEachMethodItsLevel(string service, string method, string expected)
        => Assert.Equal(Enum.Parse<ClusterAccess>(expected), ClusterAccessPolicy.Required(Grpc(service, method)));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("/cluster-consensus/raft")]               // a path is never a key: only the endpoint's metadata is
    [InlineData("/CLUSTER-CONSENSUS/RAFT")]
    [InlineData("/psswarm.cluster.v1.RaftControl/propose")]
    [InlineData("/psswarm.cluster.v1.RaftControl/Propose/")]
    [InlineData("/psswarm.cluster.v1.Unknown/Method")]
    [InlineData("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")]
    public void UnknownEndpoints_AreDenied_EvenToAManager(string? key)
    {
        var decision = ClusterAccessPolicy.Decide(key, Manager(M1), Swarm, Sender(M1Addr));
        Assert.False(decision.Allowed);
        Assert.Equal(Refusal.NoRoute, decision.Refusal);
    }

    [Fact]
    public void Anonymous_EndpointsNeedNoCertificate()
    {
        Assert.True(ClusterAccessPolicy.Decide(Grpc("NodeCA", "GetRootCACertificate"), null, Swarm).Allowed);
        Assert.True(ClusterAccessPolicy.Decide(Grpc("NodeCA", "IssueNodeCertificate"), null, null).Allowed);
    }

    [Theory]
    [InlineData("NodeCA", "RenewNodeCertificate")]
    [InlineData("Dispatcher", "Heartbeat")]
    [InlineData("RaftControl", "Propose")]
    public void NoCertificate_IsUnauthenticated(string service, string method)
        => Assert.Equal(Refusal.Unauthenticated, ClusterAccessPolicy.Decide(Grpc(service, method), null, Swarm).Refusal);

    [Fact]
    public void Members_MayHeartbeat_WhateverTheirRole()
    {
        foreach (var peer in new[] { Worker(W1), Manager(M2), Manager(Demoted) })
            Assert.True(ClusterAccessPolicy.Decide(Grpc("Dispatcher", "Heartbeat"), peer, Swarm).Allowed);
    }

    [Fact]
    public void RemovedNode_IsRefusedEverywhere_WithItsOwnRefusal()
    {
        foreach (var key in ClusterAccessPolicy.Table.Where(kv => kv.Value != ClusterAccess.Anonymous).Select(kv => kv.Key))
            Assert.Equal(Refusal.Removed, ClusterAccessPolicy.Decide(key, Manager(Gone), Swarm, Sender(M1Addr)).Refusal);
    }

    [Fact]
    public void UnknownNode_WithAValidCertificate_IsForbidden()
        => Assert.Equal(Refusal.Forbidden, ClusterAccessPolicy.Decide(Grpc("Dispatcher", "Heartbeat"), Worker(Identity.NewId()), Swarm).Refusal);

    [Theory]
    [InlineData("RaftControl", "AddMember")]
    [InlineData("RaftControl", "Propose")]
    [InlineData("RaftControl", "RemoveMember")]
    [InlineData("RaftControl", "ReadIndex")]
    public void Worker_IsForbiddenManagerCalls(string service, string method)
        => Assert.Equal(Refusal.Forbidden, ClusterAccessPolicy.Decide(Grpc(service, method), Worker(W1), Swarm).Refusal);

    [Fact]
    public void Worker_IsForbiddenRaft()
        => Assert.Equal(Refusal.Forbidden, ClusterAccessPolicy.Decide(ClusterAccessPolicy.RaftEndpoint, Worker(W1), Swarm, Sender(M1Addr)).Refusal);

    [Fact]
    public void WorkerCertificate_OfANodeTheStoreCallsManager_IsNotEnough()
    {
        // A promoted worker before it renewed its certificate: Raft needs a manager certificate too.
        Assert.Equal(Refusal.Forbidden, ClusterAccessPolicy.Decide(ClusterAccessPolicy.RaftEndpoint, Worker(M2), Swarm, Sender(M2Addr)).Refusal);
    }

    [Fact]
    public void DemotedManager_KeptCertificate_GetsNoManagerRight()
    {
        foreach (var key in ClusterAccessPolicy.Table.Where(kv => kv.Value is ClusterAccess.Manager or ClusterAccess.RaftMember).Select(kv => kv.Key))
            Assert.Equal(Refusal.Forbidden, ClusterAccessPolicy.Decide(key, Manager(Demoted), Swarm, Sender(DemotedAddr)).Refusal);
    }

    [Fact]
    public void ManagerOutsideTheRaftMembership_MayOnlyAskToJoinIt()
    {
        // The store lists it as a manager with an address, but Raft no longer has it (a demotion half-way).
        var view = new View(State, [M1Addr]);
        Assert.True(ClusterAccessPolicy.Decide(Grpc("RaftControl", "AddMember"), Manager(M2), view).Allowed);
        Assert.Equal(Refusal.Forbidden, ClusterAccessPolicy.Decide(Grpc("RaftControl", "Propose"), Manager(M2), view).Refusal);
        Assert.Equal(Refusal.Forbidden, ClusterAccessPolicy.Decide(ClusterAccessPolicy.RaftEndpoint, Manager(M2), view, Sender(M2Addr)).Refusal);
    }

    [Fact]
    public void RaftMessage_FromACurrentManager_InItsOwnName_IsAllowed()
        => Assert.True(ClusterAccessPolicy.Decide(ClusterAccessPolicy.RaftEndpoint, Manager(M2), Swarm, Sender(M2Addr)).Allowed);

    [Fact]
    public void RaftMessage_InAnotherMembersName_IsForbidden()
    {
        Assert.Equal(Refusal.Forbidden, ClusterAccessPolicy.Decide(ClusterAccessPolicy.RaftEndpoint, Manager(M2), Swarm, Sender(M1Addr)).Refusal);
        Assert.Equal(Refusal.Forbidden, ClusterAccessPolicy.Decide(ClusterAccessPolicy.RaftEndpoint, Manager(M2), Swarm, default).Refusal);
        Assert.Equal(Refusal.Forbidden, ClusterAccessPolicy.Decide(ClusterAccessPolicy.RaftEndpoint, Manager(M2), Swarm, "not-hex").Refusal);
        // Two sender headers: DotNext would take the first that parses; we take none.
        var both = new StringValues([Sender(M2Addr).ToString(), Sender(M1Addr).ToString()]);
        Assert.Equal(Refusal.Forbidden, ClusterAccessPolicy.Decide(ClusterAccessPolicy.RaftEndpoint, Manager(M2), Swarm, both).Refusal);
    }

    [Fact]
    public void EmptyStore_TrustsOnlyTheManagersTheSwarmNamed_ForRaftOnly()
    {
        var known = new Dictionary<string, string> { [M1] = M1Addr };
        var empty = new View(SwarmState.Snapshot.Empty, [], known);
        Assert.True(ClusterAccessPolicy.Decide(ClusterAccessPolicy.RaftEndpoint, Manager(M1), empty, Sender(M1Addr)).Allowed);
        Assert.False(ClusterAccessPolicy.Decide(ClusterAccessPolicy.RaftEndpoint, Manager(M1), empty, Sender(M2Addr)).Allowed);
        Assert.False(ClusterAccessPolicy.Decide(ClusterAccessPolicy.RaftEndpoint, Worker(M1), empty, Sender(M1Addr)).Allowed);
        Assert.Equal(Refusal.NotReady, ClusterAccessPolicy.Decide(ClusterAccessPolicy.RaftEndpoint, Manager(M2), empty, Sender(M2Addr)).Refusal);
        Assert.Equal(Refusal.NotReady, ClusterAccessPolicy.Decide(Grpc("Dispatcher", "Heartbeat"), Manager(M1), empty).Refusal);
    }

    [Fact]
    public void StoreThatKnowsANode_OverridesWhatTheSwarmNamedEarlier()
    {
        // Named as a manager at join time, demoted since: the store wins.
        var known = new Dictionary<string, string> { [Demoted] = DemotedAddr };
        var view = new View(State, [M1Addr, M2Addr, DemotedAddr], known);
        Assert.Equal(Refusal.Forbidden, ClusterAccessPolicy.Decide(ClusterAccessPolicy.RaftEndpoint, Manager(Demoted), view, Sender(DemotedAddr)).Refusal);
    }

    [Fact]
    public void NoManagerYet_IsNotReady()
        => Assert.Equal(Refusal.NotReady, ClusterAccessPolicy.Decide(Grpc("Dispatcher", "Heartbeat"), Worker(W1), null).Refusal);
}

public class ClusterEndpointTests
{
    /// <summary>The endpoints the manager really maps, read back from routing: each is in the table, and each table entry is mapped.</summary>
    [Fact]
    public void EveryMappedEndpoint_IsNamedByTheTable_AndNothingElseIsAllowed()
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        builder.Services.AddGrpc();
        var app = builder.Build();
        PSSwarm.Daemon.Manager.ManagerHost.MapClusterEndpoints(app, _ => Task.CompletedTask);
        var endpoints = ((Microsoft.AspNetCore.Routing.IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).ToList();
        var keys = endpoints.Select(ClusterAccessPolicy.EndpointKey).ToList();
        var named = keys.Where(k => ClusterAccessPolicy.Required(k) is not null).ToHashSet();
        Assert.Equal(ClusterAccessPolicy.Table.Keys.OrderBy(k => k), named.OrderBy(k => k));
        // Whatever else routing holds (gRPC's catch-alls for unknown methods) gets no access.
        foreach (var endpoint in endpoints.Where(e => ClusterAccessPolicy.Required(ClusterAccessPolicy.EndpointKey(e)) is null))
            Assert.Equal(Refusal.NoRoute, ClusterAccessPolicy.Decide(ClusterAccessPolicy.EndpointKey(endpoint), null, null).Refusal);
    }
}
