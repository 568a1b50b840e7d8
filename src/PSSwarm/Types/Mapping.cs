using System.Collections;
using System.Security.Cryptography.X509Certificates;
using PSSwarm.Client;
using Api = PSSwarm.Client.Api;

namespace PSSwarm;

/// <summary>The client's plain API records to the module's output types (which must live in this assembly).</summary>
internal static class Mapping
{
    public static SwarmInfo ToInfo(Api.SwarmInfo i) => new()
    {
        Id = Empty(i.Id),
        Name = Empty(i.Name),
        NodeId = Empty(i.NodeId),
        NodeAddress = Empty(i.NodeAddress),
        LocalNodeState = (LocalNodeState)(int)i.LocalNodeState,
        IsManager = i.IsManager,
        Managers = i.IsManager && i.LocalNodeState == Api.LocalNodeState.Active ? i.Managers : null,
        Nodes = i.IsManager && i.LocalNodeState == Api.LocalNodeState.Active ? i.Nodes : null,
        CreatedAt = i.CreatedAt,
        UpdatedAt = i.UpdatedAt,
        RootCACertificate = RootCertificate(i.RootCaPem),
        CertExpiry = i.CertExpiry,
        DispatcherHeartbeat = i.DispatcherHeartbeat,
        TaskHistoryLimit = i.CertExpiry is not null ? i.TaskHistoryLimit : null,
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

    public static SwarmJoinToken ToToken(Api.JoinToken t)
    {
        var role = t.Role == Api.Role.Manager ? NodeRole.Manager : NodeRole.Worker;
        if (t.Id.Length == 0) return new SwarmJoinToken(role, t.Token, t.RemoteAddresses.ToArray());
        return new SwarmJoinToken(role, t.Token, t.RemoteAddresses.ToArray())
        {
            Id = t.Id,
            Description = t.Description,
            CreatedAt = t.CreatedAt,
            ExpiresAt = t.ExpiresAt,
            MaxUses = t.MaxUses,
            Uses = t.Uses,
        };
    }

    public static Api.Role ToApi(NodeRole role) => role == NodeRole.Manager ? Api.Role.Manager : Api.Role.Worker;

    public static Api.Availability ToApi(NodeAvailability a) => (Api.Availability)(int)a;

    public static SwarmNode ToNode(Api.Node n)
    {
        var labels = new Hashtable(StringComparer.Ordinal);
        foreach (var (k, v) in n.Labels) labels[k] = v;
        var manager = n.Role == Api.Role.Manager;
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
            CreatedAt = n.CreatedAt ?? default,
            UpdatedAt = n.UpdatedAt ?? default,
            CertificateExpiry = n.CertificateExpiry,
            Version = n.Version,
            IsSelf = n.IsSelf,
        };
    }

    public static SwarmNetwork ToNetwork(Api.Network n) => new()
    {
        Id = n.Id, Name = n.Name, Driver = n.Driver, Scope = n.Scope, Subnet = n.Subnet, Gateway = n.Gateway,
        Ingress = n.Ingress, CreatedAt = n.CreatedAt ?? default,
    };

    public static SwarmDaemonInfo ToDaemon(DaemonProcess d) => new()
    {
        ProcessId = d.ProcessId, Endpoint = d.Endpoint, DataRoot = d.DataRoot, LogPath = d.LogPath,
        NodeName = d.NodeName, Version = d.Version,
    };

    private static string? Empty(string s) => string.IsNullOrEmpty(s) ? null : s;
}
