using System.Collections.Frozen;
using DotNext.Net.Cluster;
using Grpc.AspNetCore.Server;
using Microsoft.Extensions.Primitives;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Ca;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.Daemon.Cluster;

/// <summary>Who may call an endpoint of the 2377 listener.</summary>
internal enum ClusterAccess
{
    /// <summary>No certificate: fetching the root CA, and joining (the join token authenticates).</summary>
    Anonymous,
    /// <summary>Any current node: a certificate of this swarm whose node the store lists and did not remove.</summary>
    Member,
    /// <summary>A node the store lists as a manager, with a manager certificate (a joining or promoted manager asking to become a Raft member).</summary>
    Manager,
    /// <summary>A manager that is a Raft member now, with a manager certificate; for Raft messages also the sender they claim.</summary>
    RaftMember,
}

/// <summary>Marks the endpoint that carries DotNext's Raft messages.</summary>
internal sealed class RaftEndpointMetadata
{
    public static readonly RaftEndpointMetadata Instance = new();
    private RaftEndpointMetadata() { }
}

/// <summary>Why a call is refused; each maps to one answer on the wire.</summary>
internal enum Refusal
{
    None,
    /// <summary>No endpoint of the table matched (404, gRPC Unimplemented).</summary>
    NoRoute,
    /// <summary>This manager's store is not loaded yet (503, gRPC Unavailable): try another manager.</summary>
    NotReady,
    /// <summary>No certificate of this swarm (403, gRPC Unauthenticated).</summary>
    Unauthenticated,
    /// <summary>The node was removed from the swarm (403, gRPC PermissionDenied with Docker's message).</summary>
    Removed,
    /// <summary>A node of this swarm without the rights the endpoint needs now (403, gRPC PermissionDenied).</summary>
    Forbidden,
}

internal readonly record struct AccessDecision(Refusal Refusal, string Reason, PeerIdentity? Peer = null)
{
    public bool Allowed => Refusal == Refusal.None;
    public static AccessDecision Allow(PeerIdentity? peer) => new(Refusal.None, "", peer);
}

/// <summary>What the policy reads of the swarm as it is now (a manager's store and Raft view).</summary>
internal interface ISwarmView
{
    /// <summary>The applied store; its Cluster is null until the store is loaded (a manager still joining).</summary>
    SwarmState.Snapshot State { get; }

    /// <summary>Whether a Raft address (host:port) is a voting member now (true while this node's own view of the membership is not loaded).</summary>
    bool IsRaftMember(string address);

    /// <summary>
    /// Managers (node ID to Raft address) that the swarm named when this node joined or last
    /// heard from it: trusted for Raft only while the store does not know the node yet (a manager
    /// catching up from an empty log). Once the store knows a node, the store decides.
    /// </summary>
    IReadOnlyDictionary<string, string> KnownManagers { get; }
}

/// <summary>
/// The one authorization policy of the 2377 listener: a table naming every endpoint (each gRPC
/// method of the cluster API and the Raft endpoint) and who may call it, and the decision made
/// from the endpoint that actually matched, the caller's certificate and the swarm's state now.
/// Whatever the table does not name is refused. Certificates say who a caller is, never what it
/// may do: a demoted manager's kept certificate or a removed node's gets nothing.
/// </summary>
internal static class ClusterAccessPolicy
{
    /// <summary>The table key of the Raft endpoint.</summary>
    public const string RaftEndpoint = "raft " + Manager.ManagerHost.RaftPath;

    /// <summary>The header in which DotNext names a Raft message's sender.</summary>
    public const string RaftSenderHeader = "X-Raft-Node-ID";

    public static FrozenDictionary<string, ClusterAccess> Table { get; } = new Dictionary<string, ClusterAccess>(StringComparer.Ordinal)
    {
        [Method(NodeCA.Descriptor, "GetRootCACertificate")] = ClusterAccess.Anonymous,
        [Method(NodeCA.Descriptor, "IssueNodeCertificate")] = ClusterAccess.Anonymous,
        [Method(NodeCA.Descriptor, "RenewNodeCertificate")] = ClusterAccess.Member,
        [Method(Dispatcher.Descriptor, "Heartbeat")] = ClusterAccess.Member,
        [Method(Dispatcher.Descriptor, "Leave")] = ClusterAccess.Member,
        [Method(RaftControl.Descriptor, "AddMember")] = ClusterAccess.Manager,
        [Method(RaftControl.Descriptor, "Propose")] = ClusterAccess.RaftMember,
        [Method(RaftControl.Descriptor, "RemoveMember")] = ClusterAccess.RaftMember,
        [Method(RaftControl.Descriptor, "ReadIndex")] = ClusterAccess.RaftMember,
        [RaftEndpoint] = ClusterAccess.RaftMember,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>"/package.Service/Method", checked against the generated descriptor (a renamed method fails at start-up).</summary>
    private static string Method(Google.Protobuf.Reflection.ServiceDescriptor service, string name)
        => service.FindMethodByName(name) is not null
            ? $"/{service.FullName}/{name}"
            : throw new InvalidOperationException($"{service.FullName} has no method {name}");

    /// <summary>The table key of the endpoint that matched a request: from its metadata, never from the request path.</summary>
    public static string? EndpointKey(Endpoint? endpoint)
    {
        if (endpoint is null) return null;
        if (endpoint.Metadata.GetMetadata<RaftEndpointMetadata>() is not null) return RaftEndpoint;
        return endpoint.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method.FullName;
    }

    /// <summary>The access an endpoint needs, or null when the table does not name it.</summary>
    public static ClusterAccess? Required(string? endpointKey)
        => endpointKey is not null && Table.TryGetValue(endpointKey, out var access) ? access : null;

    /// <summary>
    /// The decision for one call. <paramref name="peer"/> is the caller's verified certificate
    /// identity (null: none, foreign, expired); <paramref name="raftSender"/> the sender header
    /// values of a Raft message.
    /// </summary>
    public static AccessDecision Decide(string? endpointKey, PeerIdentity? peer, ISwarmView? view, StringValues raftSender = default)
    {
        if (Required(endpointKey) is not { } access) return new(Refusal.NoRoute, "no such endpoint");
        if (access == ClusterAccess.Anonymous) return AccessDecision.Allow(peer);
        if (peer is null) return new(Refusal.Unauthenticated, "no valid certificate of this swarm");
        if (view is null) return new(Refusal.NotReady, "this manager is starting");
        var state = view.State;
        if (state.RemovedNodes.Contains(peer.NodeId))
            return new(Refusal.Removed, $"node {peer.NodeId} was removed from the swarm", peer);

        if (!state.Nodes.TryGetValue(peer.NodeId, out var node))
        {
            // A manager catching up from an empty log learns the other managers from the log it is
            // receiving: until then it trusts the managers the swarm named to it, for Raft only.
            if (access == ClusterAccess.RaftMember && peer.HasManagerCertificate
                && view.KnownManagers.TryGetValue(peer.NodeId, out var known)
                && (endpointKey != RaftEndpoint || SenderIs(raftSender, known)))
                return AccessDecision.Allow(peer);
            return state.Cluster is null
                ? new(Refusal.NotReady, "this manager's store is not loaded yet", peer)
                : new(Refusal.Forbidden, $"node {peer.NodeId} is not a member of this swarm", peer);
        }

        if (access == ClusterAccess.Member) return AccessDecision.Allow(peer);
        if (node.Role != NodeRole.Manager || !peer.HasManagerCertificate)
            return new(Refusal.Forbidden, $"node {peer.NodeId} is not a manager of this swarm", peer);
        if (access == ClusterAccess.Manager) return AccessDecision.Allow(peer);
        if (node.ManagerAddress.Length == 0 || !view.IsRaftMember(node.ManagerAddress))
            return new(Refusal.Forbidden, $"node {peer.NodeId} is not a Raft member of this swarm", peer);
        if (endpointKey == RaftEndpoint && !SenderIs(raftSender, node.ManagerAddress))
            return new(Refusal.Forbidden, $"node {peer.NodeId} sent a Raft message in another member's name", peer);
        return AccessDecision.Allow(peer);
    }

    /// <summary>Exactly one sender header, naming the member at this Raft address.</summary>
    public static bool SenderIs(StringValues header, string address)
        => header.Count == 1 && ClusterMemberId.TryParse(header[0], out var claimed) && claimed.Equals(MemberId(address));

    /// <summary>DotNext's member ID of a manager's Raft address (what it puts in <see cref="RaftSenderHeader"/>).</summary>
    public static ClusterMemberId MemberId(string address)
        => ClusterMemberId.FromEndPoint(new Microsoft.AspNetCore.Connections.UriEndPoint(Manager.ManagerHost.MemberUri(address)));
}
