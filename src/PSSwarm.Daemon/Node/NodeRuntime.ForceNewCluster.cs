using System.Globalization;
using DotNext.Net.Cluster.Consensus.Raft;
using PSSwarm.Core;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Manager;

namespace PSSwarm.Daemon.Node;

/// <summary>
/// Initialize-Swarm -ForceNewCluster on a manager of a swarm that lost its Raft quorum for good:
/// the swarm goes on as a one-manager swarm on this node, with the same swarm ID, CA, tokens,
/// settings, nodes and networks (what this manager had applied), a fresh Raft log whose only member
/// is this node, and the other managers listed as lost (Down, Unreachable) until they are demoted
/// and removed. Workers carry on: their certificates chain to the same root and their sessions
/// move to this manager, the leader now.
/// </summary>
/// <remarks>
/// As etcd and swarmkit do, only what this manager knew committed survives: entries it held but had
/// not seen committed are dropped with the old log. The old log is kept, moved aside as
/// <c>raft.before-force-new-cluster-&lt;UTC time&gt;</c> in the data root (mode 0700), for recovery
/// by hand; nothing reads it again.
/// </remarks>
internal sealed partial class NodeRuntime
{
    /// <summary>The folder name (in the data root) of a Raft log replaced by -ForceNewCluster, before its UTC timestamp.</summary>
    internal const string RaftBackupPrefix = "raft.before-force-new-cluster-";

    private static readonly TimeSpan ForceNewClusterLeaderTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A manager whose store is still starting (a daemon restart) is given <see cref="ReadyTimeout"/> to load it.</summary>
    private async Task WaitForManagerAsync(CancellationToken token)
    {
        var deadline = DateTime.UtcNow + ReadyTimeout;
        while (config?.Role == NodeRole.Manager && manager is null && error is null && DateTime.UtcNow < deadline)
            await Task.Delay(20, token).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs with the gate held. A single manager, or a swarm whose only Raft member is this node (one
    /// re-created already), is a cluster of one: nothing to do. A swarm whose quorum this manager
    /// still reaches is refused (its other managers would go on as a second swarm with the same ID),
    /// and so is a manager that another manager no longer counts as a Raft member (the swarm was
    /// re-created without it). Otherwise the swarm is re-created here; on any failure before the new
    /// store holds the swarm, this manager goes back to its old store, as it was.
    /// </summary>
    private async Task ForceNewClusterAsync(LocalNodeConfig cfg, CancellationToken token)
    {
        var host = manager ?? throw SwarmErrors.ManagerStarting(error);
        if (host.State.Current.Nodes.Values.Count(n => n.Role == NodeRole.Manager) <= 1
            || host.MemberAddresses.SequenceEqual([cfg.AdvertiseAddress]))
            return;
        await RefuseWhileQuorumAsync(host, token).ConfigureAwait(false);
        await RefuseIfRecreatedElsewhereAsync(host, cfg, token).ConfigureAwait(false);

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        await WaitForCommittedAppliedAsync(host, token).ConfigureAwait(false);
        var saved = host.State.Current;
        if (saved.Cluster is null || !saved.Nodes.TryGetValue(cfg.NodeId, out var self) || self.Role != NodeRole.Manager)
            throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmForceNewClusterNoState",
                "this manager's store does not hold the swarm with this node as a manager; -ForceNewCluster needs a manager that has applied the swarm's state");
        if (saved.Cluster.Id != cfg.SwarmId)
            throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmForceNewClusterNoState",
                $"this manager's store holds swarm {saved.Cluster.Id}, not this node's swarm {cfg.SwarmId}");
        var lost = saved.Nodes.Values.Where(n => n.Role == NodeRole.Manager && n.Id != cfg.NodeId)
            .OrderBy(n => n.Hostname, StringComparer.Ordinal).ToList();
        // Wall-clock time, as the dispatcher reads UpdatedAt (not the certificates' clock).
        var now = DateTimeOffset.UtcNow;
        var command = RestoreStateCommand.ForNewCluster(saved, cfg.NodeId, cfg.AdvertiseAddress, now);
        logger.LogWarning("Initialize-Swarm -ForceNewCluster: re-creating swarm {SwarmId} with this node as its only manager, from the state it applied ({Entries} entries); lost managers: {Lost}",
            cfg.SwarmId, saved.Version, string.Join(", ", lost.Select(n => $"{n.Hostname} ({n.Id}, {n.ManagerAddress})")));

        // 1. The old store stops, and its log is moved aside (kept for recovery by hand).
        manager = null;
        await host.DisposeAsync().ConfigureAwait(false);
        var backup = Path.Combine(store.DataRoot, RaftBackupPrefix + now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss.fff'Z'", CultureInfo.InvariantCulture));
        try
        {
            if (Directory.Exists(store.RaftDir))
            {
                Directory.Move(store.RaftDir, backup);
                File.SetUnixFileMode(backup, SecureFiles.PrivateDirectory);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await RollBackForceNewClusterAsync(null, backup, cfg, e).ConfigureAwait(false);
            throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmForceNewClusterFailed",
                $"-ForceNewCluster could not move the Raft log aside ({e.Message}); nothing was changed", e);
        }
        var tStopped = stopwatch.Elapsed.TotalMilliseconds;

        // 2. A new store whose only member is this node: no other manager is trusted for Raft while it
        //    is empty (no known peers); once it holds the swarm, the lost managers are managers that
        //    are not Raft members, refused by the access policy.
        ManagerHost? fresh = null;
        double tStarted, tLeader;
        try
        {
            fresh = await StartManagerAsync(cfg with { ManagerPeers = new(StringComparer.Ordinal) }, coldStart: true, token).ConfigureAwait(false);
            tStarted = stopwatch.Elapsed.TotalMilliseconds;
            if (!await fresh.WaitForLeadershipAsync(ForceNewClusterLeaderTimeout, token).ConfigureAwait(false))
                throw SwarmErrors.NoLeader();
            tLeader = stopwatch.Elapsed.TotalMilliseconds;

            // 3. The saved state, with the other managers lost, as the new log's first command.
            await fresh.ProposeAsync(command, token).ConfigureAwait(false);
            var restored = fresh.State.Current;
            if (restored.Cluster?.Id != cfg.SwarmId || !restored.Nodes.ContainsKey(cfg.NodeId))
                throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmForceNewClusterFailed",
                    "the new store did not take the swarm's state" + (fresh.State.LastApplyError is { } why ? $": {why}" : ""));
        }
        catch (Exception e)
        {
            await RollBackForceNewClusterAsync(fresh, backup, cfg, e).ConfigureAwait(false);
            throw;
        }

        manager = fresh;
        error = null;
        logger.LogInformation("Force new cluster timings: old store stopped {Stopped:0} ms, new store started {Started:0} ms, leader {Leader:0} ms, state restored {Done:0} ms",
            tStopped, tStarted, tLeader, stopwatch.Elapsed.TotalMilliseconds);
        logger.LogWarning("Swarm {SwarmId} re-created with -ForceNewCluster: this node ({NodeId}) is its only manager and Raft member, advertising {Advertise}; {Count} lost managers are listed as Down until they are demoted and removed; the previous Raft log is in {Backup}",
            cfg.SwarmId, cfg.NodeId, cfg.AdvertiseAddress, lost.Count, backup);
    }

    /// <summary>
    /// -ForceNewCluster is for a swarm that has lost its quorum. While this manager still reaches one
    /// (a read barrier through the leader succeeds, and again once a leader's lease, which outlives
    /// the quorum by up to an election timeout, has run out), the other managers would carry on as a
    /// second swarm with the same ID and CA: refused; demoting and removing managers is the way then.
    /// </summary>
    private static async Task RefuseWhileQuorumAsync(ManagerHost host, CancellationToken token)
    {
        string? leader = null;
        for (var round = 0; round < 2; round++)
        {
            if (round > 0) await Task.Delay(host.Options.UpperElectionTimeoutMs, token).ConfigureAwait(false);
            if ((leader = host.LeaderAddress) is null) return; // no leader: no quorum
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(token);
            cts.CancelAfter(TimeSpan.FromSeconds(3));
            try
            {
                await host.ReadBarrierAsync(cts.Token).ConfigureAwait(false);
            }
            catch (SwarmException)
            {
                return; // no quorum
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                return; // no answer from a quorum in time
            }
        }
        throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmQuorumAvailable",
            $"this manager still reaches a quorum of the swarm's managers (the leader is {leader}): -ForceNewCluster is only for a swarm that has lost its quorum. "
            + "Remove managers with Set-SwarmNode -Role Worker and Remove-SwarmNode instead.");
    }

    /// <summary>
    /// Asks the other managers this node knows (bounded, in parallel) whether they still count it as
    /// a Raft member. One that refuses it as "not a Raft member" or "removed" runs a swarm that went on
    /// without this node (re-created with -ForceNewCluster on another manager, or this node was
    /// removed): re-creating the swarm here too would make two swarms with one ID and CA. One that
    /// answers runs a swarm with a quorum that still counts this node. Managers that do not answer
    /// are gone: they decide nothing.
    /// </summary>
    private async Task RefuseIfRecreatedElsewhereAsync(ManagerHost host, LocalNodeConfig cfg, CancellationToken token)
    {
        var others = host.State.Current.Nodes.Values
            .Where(n => n.Role == NodeRole.Manager && n.Id != cfg.NodeId && n.ManagerAddress.Length > 0 && n.ManagerAddress != cfg.AdvertiseAddress)
            .Select(n => n.ManagerAddress).Distinct(StringComparer.Ordinal).ToList();
        var channelSet = channels;
        if (others.Count == 0 || channelSet is null) return;
        var answers = await Task.WhenAll(others.Select(async address =>
        {
            try
            {
                await new Protocol.Cluster.RaftControl.RaftControlClient(channelSet.For(address))
                    .ReadIndexAsync(new Protocol.Cluster.ReadIndexRequest(), deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: token)
                    .ConfigureAwait(false);
                return (Address: address, Error: (SwarmException?)null, Answered: true);
            }
            catch (Grpc.Core.RpcException e) when (!token.IsCancellationRequested)
            {
                return (Address: address, Error: Cluster.ClusterChannels.Translate(e, address), Answered: false);
            }
        })).ConfigureAwait(false);
        foreach (var (address, failure, answered) in answers)
        {
            if (answered)
                throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmQuorumAvailable",
                    $"the manager at {address} still reaches a quorum of the swarm's managers: -ForceNewCluster is only for a swarm that has lost its quorum.");
            if (failure is { Kind: SwarmErrorKind.PermissionDenied } denied)
                throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmRecreatedElsewhere",
                    $"the manager at {address} runs this swarm without this node as a Raft member ({denied.Message}): the swarm was re-created "
                    + "without it (Initialize-Swarm -ForceNewCluster on another manager) or this node was removed. Demote and remove this node "
                    + "there (Set-SwarmNode -Role Worker, Remove-SwarmNode), then use Exit-Swarm -Force and Join-Swarm here.");
            logger.LogDebug("-ForceNewCluster: the manager at {Address} did not answer ({Error})", address, failure?.Message);
        }
    }

    /// <summary>Lets this manager apply every entry it knows committed (bounded): that is the state the new swarm starts from.</summary>
    private async Task WaitForCommittedAppliedAsync(ManagerHost host, CancellationToken token)
    {
        var log = ((IRaftCluster)host.Cluster).AuditTrail;
        var committed = log.LastCommittedEntryIndex;
        if (committed < 1) return;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(token);
        cts.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await log.WaitForApplyAsync(committed, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            logger.LogWarning("-ForceNewCluster: entries up to {Committed} were not all applied within 5 s; the swarm is re-created from what was applied", committed);
        }
    }

    /// <summary>
    /// A -ForceNewCluster that failed before the new store held the swarm: the new store goes, the
    /// old log comes back, and the old store runs again (this manager is as it was, without a quorum).
    /// </summary>
    private async Task RollBackForceNewClusterAsync(ManagerHost? fresh, string backup, LocalNodeConfig cfg, Exception cause)
    {
        logger.LogError("-ForceNewCluster failed ({Error}); going back to the previous store", cause.Message);
        if (fresh is not null) await Quietly(async () => await fresh.DisposeAsync().ConfigureAwait(false)).ConfigureAwait(false);
        try
        {
            if (Directory.Exists(backup))
            {
                SecureFiles.DeleteDirectory(store.RaftDir);
                Directory.Move(backup, store.RaftDir);
            }
            manager = await StartManagerAsync(cfg, coldStart: false, membership.Token).ConfigureAwait(false);
            logger.LogInformation("The previous store of this manager runs again");
        }
        catch (Exception e)
        {
            error = $"-ForceNewCluster failed ({cause.Message}) and the previous store could not be restarted ({e.Message})"
                    + (Directory.Exists(backup) ? $"; the previous Raft log is in {backup}" : "");
            logger.LogError("{Error}", error);
        }
    }
}
