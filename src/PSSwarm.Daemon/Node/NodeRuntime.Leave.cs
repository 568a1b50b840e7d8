using PSSwarm.Core;
using PSSwarm.Core.State;

namespace PSSwarm.Daemon.Node;

internal sealed partial class NodeRuntime
{
    private const string LeaveManagerPrefix = "You are attempting to leave the swarm on a node that is participating as a manager. ";
    private const string LeaveManagerSuffix = "The only way to restore a swarm that has lost consensus is to reinitialize it with `-ForceNewCluster`. Use `-Force` to suppress this message.";

    /// <summary>
    /// Exit-Swarm. A manager is refused without -Force, with Docker's messages. With -Force a
    /// manager of a larger swarm first leaves the Raft membership (no ghost member, unlike
    /// Docker), then every node tells the swarm it is gone: it stays listed as Down.
    /// </summary>
    public async Task LeaveAsync(bool force, CancellationToken token)
    {
        await gate.WaitAsync(token).ConfigureAwait(false);
        try
        {
            var cfg = config;
            if (cfg is null)
            {
                if (error is not null && force) { store.Wipe(); error = null; return; }
                throw SwarmErrors.NotInSwarm();
            }

            if (locked && !force) throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmLocked", LeaveLockedMessage);
            if (cfg.Role == NodeRole.Manager && !locked)
            {
                var host = manager;
                var managers = host?.State.Current.Nodes.Values.Where(n => n.Role == NodeRole.Manager).ToList() ?? [];
                IReadOnlySet<string> unreachableView = new HashSet<string>();
                if (host is not null && managers.Count > 1)
                {
                    try { unreachableView = await host.UnreachableMembersAsync(token).ConfigureAwait(false); }
                    catch (SwarmException) { host = null; } // no leader: the manager is not active
                }
                var reachable = managers.Count(n => n.Id == cfg.NodeId || IsReachable(n, unreachableView));
                var unreachable = managers.Count - reachable;
                if (!force)
                {
                    if (host is null || host.LeaderAddress is null)
                        throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmLeaveManager",
                            LeaveManagerPrefix + "Doing so may lose the consensus of your cluster. " + LeaveManagerSuffix);
                    if (reachable <= 1 && unreachable == 0) throw SwarmErrors.LastManager();
                    var message = LeaveManagerPrefix;
                    if (reachable - 2 <= unreachable)
                        message += $"Removing this node leaves {reachable - 1} managers out of {reachable + unreachable}. Without a Raft quorum your swarm will be inaccessible. ";
                    throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmLeaveManager", message + LeaveManagerSuffix);
                }
                if (host is not null && managers.Count > 1)
                    await LeaveRaftAsync(host, cfg, token).ConfigureAwait(false);
            }

            if (agent is not null) await agent.LeaveAsync().ConfigureAwait(false);
            else await TellLeaveAsync(cfg).ConfigureAwait(false);
            await StopMembershipAsync().ConfigureAwait(false);
            store.Wipe();
            lock (keyGate) { kek = null; dataKey = null; }
            locked = false;
            config = null;
            error = null;
            logger.LogInformation("Node left the swarm {SwarmId}", cfg.SwarmId);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Best effort, bounded: leave the Raft membership and stop counting as a manager.</summary>
    private async Task LeaveRaftAsync(Manager.ManagerHost host, LocalNodeConfig cfg, CancellationToken token)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(token);
        cts.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            // The leader removes this member and records the node as a Down worker: once out of the
            // membership this node may no longer write (ClusterAccessPolicy).
            await host.RemoveMemberAsync(cfg.AdvertiseAddress, cts.Token, leaving: true, leftSwarm: true).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SwarmException or OperationCanceledException or InvalidOperationException)
        {
            logger.LogWarning("Leaving without removing this manager from the Raft membership: {Error}", e.Message);
        }
    }
}
