using PSSwarm.Core.State;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon;

/// <summary>Store objects to control-API messages.</summary>
internal static class ProtoMapper
{
    public static Proto.Node ToProto(NodeObject n, string? leaderAddress, string? selfId,
        Func<string, DotNext.Net.Cluster.ClusterMemberStatus?>? memberStatus = null)
    {
        var isManager = n.Role == NodeRole.Manager;
        var isLeader = isManager && leaderAddress is not null && n.ManagerAddress == leaderAddress;
        var node = new Proto.Node
        {
            Id = n.Id,
            Hostname = n.Hostname,
            Role = isManager ? Proto.NodeRole.RoleManager : Proto.NodeRole.RoleWorker,
            Availability = ToProto(n.Availability),
            Status = n.Status switch
            {
                NodeStatus.Ready => Proto.NodeStatus.StatusReady,
                NodeStatus.Down => Proto.NodeStatus.StatusDown,
                NodeStatus.Disconnected => Proto.NodeStatus.StatusDisconnected,
                _ => Proto.NodeStatus.StatusUnknown,
            },
            StatusMessage = n.StatusMessage,
            Address = n.Address,
            IsLeader = isLeader,
            // The leader counts itself reachable; other managers' reachability comes from this
            // node's Raft view of them, and from their sessions when that view has nothing.
            Reachability = !isManager || n.ManagerAddress.Length == 0 ? Proto.Reachability.Unknown
                : isLeader || n.Id == selfId ? Proto.Reachability.Reachable
                : (memberStatus?.Invoke(n.ManagerAddress)) switch
                {
                    DotNext.Net.Cluster.ClusterMemberStatus.Available => Proto.Reachability.Reachable,
                    DotNext.Net.Cluster.ClusterMemberStatus.Unavailable => Proto.Reachability.Unreachable,
                    _ => n.Status == NodeStatus.Ready ? Proto.Reachability.Reachable
                        : n.Status == NodeStatus.Down ? Proto.Reachability.Unreachable : Proto.Reachability.Unknown,
                },
            ManagerAddress = isManager ? n.ManagerAddress : "",
            CreatedUnixMs = n.CreatedAt.ToUnixTimeMilliseconds(),
            UpdatedUnixMs = n.UpdatedAt.ToUnixTimeMilliseconds(),
            CertificateExpiryUnixMs = n.CertificateExpiry.ToUnixTimeMilliseconds(),
            Version = n.Version,
            IsSelf = n.Id == selfId,
        };
        node.Labels.Add(n.Labels);
        return node;
    }

    public static Proto.Network ToProto(NetworkObject n) => new()
    {
        Id = n.Id, Name = n.Name, Driver = n.Driver, Scope = n.Scope, Subnet = n.Subnet, Gateway = n.Gateway,
        Ingress = n.Ingress, CreatedUnixMs = n.CreatedAt.ToUnixTimeMilliseconds(),
    };

    public static Proto.Availability ToProto(NodeAvailability a) => a switch
    {
        NodeAvailability.Pause => Proto.Availability.Pause,
        NodeAvailability.Drain => Proto.Availability.Drain,
        _ => Proto.Availability.Active,
    };

    public static NodeAvailability FromProto(Proto.Availability a) => a switch
    {
        Proto.Availability.Pause => NodeAvailability.Pause,
        Proto.Availability.Drain => NodeAvailability.Drain,
        _ => NodeAvailability.Active,
    };
}
