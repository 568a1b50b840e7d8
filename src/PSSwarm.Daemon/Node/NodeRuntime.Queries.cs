using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Manager;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Node;

internal sealed partial class NodeRuntime
{
    public async Task<Proto.SwarmInfo> GetInfoAsync(CancellationToken token)
    {
        var cfg = config;
        var info = new Proto.SwarmInfo { NodeName = options.NodeName };
        if (cfg is null)
        {
            info.LocalNodeState = error is null ? Proto.LocalNodeState.LocalInactive : Proto.LocalNodeState.LocalError;
            info.Error = error ?? "";
            return info;
        }

        info.Id = cfg.SwarmId;
        info.NodeId = cfg.NodeId;
        info.NodeAddress = HostOf(cfg.AdvertiseAddress);
        info.IsManager = cfg.Role == NodeRole.Manager;
        info.LocalNodeState = error is null ? Proto.LocalNodeState.LocalActive : Proto.LocalNodeState.LocalError;
        info.Error = error ?? "";
        if (locked)
        {
            info.LocalNodeState = Proto.LocalNodeState.LocalLocked;
            info.Autolock = true; // what locked it
            info.Error = "";
            return info;
        }
        var host = cfg.Role == NodeRole.Manager ? manager : null;
        if (host is null)
        {
            // A worker, or a manager whose store is not up: what this node keeps on disk.
            if (cfg.Role == NodeRole.Manager)
                info.LocalNodeState = error is null ? Proto.LocalNodeState.LocalPending : Proto.LocalNodeState.LocalError;
            return await WithLocalRootCAAsync(info, token).ConfigureAwait(false);
        }
        try
        {
            await host.ReadBarrierAsync(token).ConfigureAwait(false);
        }
        catch (SwarmException e)
        {
            info.LocalNodeState = Proto.LocalNodeState.LocalError;
            info.Error = e.Message;
            return await WithLocalRootCAAsync(info, token).ConfigureAwait(false);
        }

        var state = host.State.Current;
        if (state.Cluster is { } cluster)
        {
            info.Name = cluster.Name;
            info.CreatedUnixMs = cluster.CreatedAt.ToUnixTimeMilliseconds();
            info.UpdatedUnixMs = cluster.UpdatedAt.ToUnixTimeMilliseconds();
            info.RootCaPem = cluster.RootCACertificate;
            info.CertExpiryMs = (long)cluster.Spec.CertExpiry.TotalMilliseconds;
            info.DispatcherHeartbeatMs = (long)cluster.Spec.DispatcherHeartbeat.TotalMilliseconds;
            info.Autolock = cluster.Spec.Autolock;
            info.TaskHistoryLimit = cluster.Spec.TaskHistoryLimit;
            var managers = host.ManagerAddresses();
            info.WorkerToken = new Proto.JoinToken { Role = Proto.NodeRole.RoleWorker, Token = cluster.WorkerJoinToken, RemoteAddresses = { managers } };
            info.ManagerToken = new Proto.JoinToken { Role = Proto.NodeRole.RoleManager, Token = cluster.ManagerJoinToken, RemoteAddresses = { managers } };
        }
        info.Nodes = state.Nodes.Count;
        info.Managers = state.Nodes.Values.Count(n => n.Role == NodeRole.Manager);
        return info;
    }

    private async Task<Proto.SwarmInfo> WithLocalRootCAAsync(Proto.SwarmInfo info, CancellationToken token)
    {
        if (File.Exists(store.RootCAPath)) info.RootCaPem = await File.ReadAllTextAsync(store.RootCAPath, token).ConfigureAwait(false);
        return info;
    }

    /// <summary>The manager component, ready to serve reads; Docker's errors otherwise.</summary>
    private async Task<ManagerHost> RequireManagerAsync(CancellationToken token)
    {
        var cfg = config;
        if (cfg is null && error is not null)
            throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmNodeError",
                $"This node's swarm state cannot be used: {error}");
        if (cfg is null) throw SwarmErrors.NotManagerInactive();
        if (locked) throw LockedError();
        if (cfg.Role != NodeRole.Manager) throw SwarmErrors.NotManager();
        var host = manager;
        if (host is null)
        {
            // Just restarted or promoted: give the manager a moment to come up.
            var deadline = DateTime.UtcNow + ReadyTimeout;
            while ((host = manager) is null && DateTime.UtcNow < deadline)
                await Task.Delay(20, token).ConfigureAwait(false);
            if (host is null) throw SwarmErrors.ManagerStarting(error);
        }
        await host.ReadBarrierAsync(token).ConfigureAwait(false);
        return host;
    }

    public async Task<Proto.JoinToken> GetJoinTokenAsync(Proto.NodeRole role, CancellationToken token)
        => TokenOf(await RequireManagerAsync(token).ConfigureAwait(false), role);

    public async Task<Proto.JoinToken> RotateJoinTokenAsync(Proto.NodeRole role, CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        var coreRole = role == Proto.NodeRole.RoleManager ? NodeRole.Manager : NodeRole.Worker;
        await new Control.JoinTokenService(host, clock).RotateAsync(coreRole, token).ConfigureAwait(false);
        logger.LogInformation("Rotated the {Role} join token", coreRole);
        return TokenOf(host, role);
    }

    private static Proto.JoinToken TokenOf(ManagerHost host, Proto.NodeRole role)
        => Control.JoinTokens.Standing(host.State.Current.Cluster ?? throw SwarmErrors.ManagerStarting(), role, host.ManagerAddresses());

    /// <summary>New-SwarmJoinToken: an extra token (expiring and/or limited-use) next to the role's standing one.</summary>
    public async Task<Proto.JoinToken> CreateJoinTokenAsync(Proto.CreateJoinTokenRequest request, CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        var created = await new Control.JoinTokenService(host, clock).CreateAsync(request, token).ConfigureAwait(false);
        logger.LogInformation("Created {Role} join token {TokenId} (expires {Expires}, uses {MaxUses})", created.Role, created.Id,
            created.ExpiresAt?.ToString("u") ?? "never", created.MaxUses?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unlimited");
        return Control.JoinTokens.Extra(created, host.ManagerAddresses());
    }

    /// <summary>Get-SwarmJoinToken -All: both standing tokens, then the extra ones (oldest first) with their uses.</summary>
    public async Task<Proto.JoinTokenList> ListJoinTokensAsync(CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        var cluster = host.State.Current.Cluster ?? throw SwarmErrors.ManagerStarting();
        var managers = host.ManagerAddresses();
        var list = new Proto.JoinTokenList
        {
            Tokens =
            {
                Control.JoinTokens.Standing(cluster, Proto.NodeRole.RoleWorker, managers),
                Control.JoinTokens.Standing(cluster, Proto.NodeRole.RoleManager, managers),
            },
        };
        foreach (var t in new Control.JoinTokenService(host, clock).Extra())
            list.Tokens.Add(Control.JoinTokens.Extra(t, managers));
        return list;
    }

    /// <summary>Revoke-SwarmJoinToken: the token admits no one from now on; the nodes it admitted stay.</summary>
    public async Task<Proto.JoinToken> RevokeJoinTokenAsync(Proto.RevokeJoinTokenRequest request, CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        var found = await new Control.JoinTokenService(host, clock).RevokeAsync(request.Id, token).ConfigureAwait(false);
        logger.LogInformation("Revoked {Role} join token {TokenId}", found.Role, found.Id);
        return Control.JoinTokens.Extra(found, host.ManagerAddresses());
    }

    public async Task<Proto.NodeList> ListNodesAsync(CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        // Reachability is what the leader observes (a follower never talks to the other followers,
        // so its own view of them goes stale): every manager answers with the same view. A manager
        // that is not a Raft member (lost with -ForceNewCluster) is Unreachable whatever its session says.
        var unreachable = await host.UnreachableMembersAsync(token).ConfigureAwait(false);
        var list = new Proto.NodeList();
        foreach (var node in host.State.Current.Nodes.Values.OrderBy(n => n.Hostname, StringComparer.Ordinal).ThenBy(n => n.Id, StringComparer.Ordinal))
            list.Nodes.Add(ProtoMapper.ToProto(node, host.LeaderAddress, config?.NodeId,
                address => unreachable.Contains(address) || !host.IsRaftMember(address)
                    ? DotNext.Net.Cluster.ClusterMemberStatus.Unavailable : DotNext.Net.Cluster.ClusterMemberStatus.Available));
        return list;
    }

    private Proto.Node ToProto(ManagerHost host, NodeObject node)
        => ProtoMapper.ToProto(node, host.LeaderAddress, config?.NodeId,
            address => host.IsRaftMember(address) ? host.MemberStatus(address) : DotNext.Net.Cluster.ClusterMemberStatus.Unavailable);

    public async Task<Proto.NetworkList> ListNetworksAsync(CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        var list = new Proto.NetworkList();
        foreach (var n in host.State.Current.Networks.Values.OrderBy(n => n.Name, StringComparer.Ordinal))
            list.Networks.Add(ProtoMapper.ToProto(n));
        return list;
    }
}
