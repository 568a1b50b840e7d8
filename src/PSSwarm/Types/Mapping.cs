using System.Collections;
using System.Security.Cryptography.X509Certificates;
using PSSwarm.Client;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm;

/// <summary>Control-API messages to the module's output types (which must live in this assembly).</summary>
internal static class Mapping
{
    public static SwarmInfo ToInfo(Proto.SwarmInfo i) => new()
    {
        Id = Empty(i.Id),
        Name = Empty(i.Name),
        NodeId = Empty(i.NodeId),
        NodeAddress = Empty(i.NodeAddress),
        LocalNodeState = (LocalNodeState)(int)i.LocalNodeState,
        IsManager = i.IsManager,
        Managers = i.IsManager && i.LocalNodeState == Proto.LocalNodeState.LocalActive ? i.Managers : null,
        Nodes = i.IsManager && i.LocalNodeState == Proto.LocalNodeState.LocalActive ? i.Nodes : null,
        CreatedAt = Time(i.CreatedUnixMs),
        UpdatedAt = Time(i.UpdatedUnixMs),
        RootCACertificate = RootCertificate(i.RootCaPem),
        CertExpiry = i.CertExpiryMs > 0 ? TimeSpan.FromMilliseconds(i.CertExpiryMs) : null,
        DispatcherHeartbeat = i.DispatcherHeartbeatMs > 0 ? TimeSpan.FromMilliseconds(i.DispatcherHeartbeatMs) : null,
        TaskHistoryLimit = i.CertExpiryMs > 0 ? i.TaskHistoryLimit : null,
        Autolock = i.Autolock,
        JoinTokens = i.WorkerToken is not null && i.ManagerToken is not null
            ? new SwarmJoinTokens(ToToken(i.WorkerToken), ToToken(i.ManagerToken))
            : null,
        Error = Empty(i.Error),
        NodeName = Empty(i.NodeName),
    };

    private static (string Pem, X509Certificate2 Certificate)? lastRoot;

    /// <summary>The root CA rarely changes: parse its PEM once, not on every Get-Swarm.</summary>
    private static X509Certificate2? RootCertificate(string pem)
    {
        if (string.IsNullOrEmpty(pem)) return null;
        var cached = lastRoot;
        if (cached is { } c && c.Pem == pem) return c.Certificate;
        var certificate = X509Certificate2.CreateFromPem(pem);
        lastRoot = (pem, certificate);
        return certificate;
    }

    public static SwarmJoinToken ToToken(Proto.JoinToken t)
    {
        var role = t.Role == Proto.NodeRole.RoleManager ? NodeRole.Manager : NodeRole.Worker;
        if (t.Id.Length == 0) return new SwarmJoinToken(role, t.Token, t.RemoteAddresses.ToArray());
        return new SwarmJoinToken(role, t.Token, t.RemoteAddresses.ToArray())
        {
            Id = t.Id,
            Description = t.Description,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(t.CreatedUnixMs),
            ExpiresAt = t.ExpiresUnixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(t.ExpiresUnixMs) : null,
            MaxUses = t.MaxUses > 0 ? t.MaxUses : null,
            Uses = t.Uses,
        };
    }

    public static Proto.NodeRole ToProto(NodeRole role) => role == NodeRole.Manager ? Proto.NodeRole.RoleManager : Proto.NodeRole.RoleWorker;

    public static Proto.Availability ToProto(NodeAvailability a) => (Proto.Availability)(int)a;

    public static SwarmNode ToNode(Proto.Node n)
    {
        var labels = new Hashtable(StringComparer.Ordinal);
        foreach (var (k, v) in n.Labels) labels[k] = v;
        var manager = n.Role == Proto.NodeRole.RoleManager;
        return new SwarmNode
        {
            Id = n.Id,
            Hostname = n.Hostname,
            Role = manager ? NodeRole.Manager : NodeRole.Worker,
            Availability = (NodeAvailability)(int)n.Availability,
            Status = (NodeStatus)(int)n.Status,
            StatusMessage = Empty(n.StatusMessage),
            Address = n.Address,
            IsLeader = n.IsLeader,
            Reachability = manager ? (Reachability)(int)n.Reachability : null,
            ManagerAddress = manager ? n.ManagerAddress : null,
            Labels = labels,
            CreatedAt = Time(n.CreatedUnixMs) ?? default,
            UpdatedAt = Time(n.UpdatedUnixMs) ?? default,
            CertificateExpiry = Time(n.CertificateExpiryUnixMs),
            Version = n.Version,
            IsSelf = n.IsSelf,
        };
    }

    public static SwarmNetwork ToNetwork(Proto.Network n) => new()
    {
        Id = n.Id, Name = n.Name, Driver = n.Driver, Scope = n.Scope, Subnet = n.Subnet, Gateway = n.Gateway,
        Ingress = n.Ingress, CreatedAt = Time(n.CreatedUnixMs) ?? default,
    };

    public static SwarmDaemonInfo ToDaemon(DaemonProcess d) => new()
    {
        ProcessId = d.ProcessId, Endpoint = d.Endpoint, DataRoot = d.DataRoot, LogPath = d.LogPath,
        NodeName = d.NodeName, Version = d.Version,
    };

    private static string? Empty(string s) => string.IsNullOrEmpty(s) ? null : s;

    private static DateTimeOffset? Time(long unixMs) => unixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(unixMs) : null;
}
