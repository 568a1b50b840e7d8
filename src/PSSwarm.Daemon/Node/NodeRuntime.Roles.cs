using Grpc.Core;
using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Cluster;
using PSSwarm.Daemon.Manager;
using PSSwarm.Protocol.Cluster;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Node;

internal sealed partial class NodeRuntime
{
    /// <summary>
    /// Acts on a promotion or demotion decided by the swarm (seen in a heartbeat): a new
    /// certificate for the new role; a promoted node starts its store and becomes a voting
    /// member, a demoted one stops its store and forgets the Raft log.
    /// </summary>
    private async Task ChangeRoleAsync(bool toManager, CancellationToken token)
    {
        await gate.WaitAsync(token).ConfigureAwait(false);
        try
        {
            var cfg = config;
            if (cfg is null || (cfg.Role == NodeRole.Manager) == toManager) return;
            logger.LogInformation("The swarm made this node a {Role}", toManager ? "manager" : "worker");

            if (agent is not null) await agent.DisposeAsync().ConfigureAwait(false);
            agent = null;
            if (!toManager && manager is not null)
            {
                await manager.DisposeAsync().ConfigureAwait(false);
                manager = null;
                SecureFiles.DeleteDirectory(store.RaftDir);
            }

            // A certificate for the new role, from whichever manager answers (writes reach the leader).
            var (keyPem, csr) = NodeCertificates.NewKeyAndCsr();
            var renewed = await CallLeaderAsync(cfg.Managers, async (channel, t) => await new NodeCA.NodeCAClient(channel)
                .RenewNodeCertificateAsync(new RenewNodeCertificateRequest { Csr = Google.Protobuf.ByteString.CopyFrom(csr) },
                    deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: t), token).ConfigureAwait(false);
            if (renewed.Manager != toManager)
                throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmRoleChanged", "the swarm changed this node's role again; retrying");
            // Checked against the pinned root and this node's identity before it is kept; channels start
            // fresh connections that present it (authority comes from the store, but Raft needs a manager certificate).
            var s = security ?? throw SwarmErrors.ManagerStarting();
            AdoptRotation(s, renewed);
            s.Replace(NodeCertificates.LoadWithKey(renewed.CertificatePem, keyPem));
            store.SaveCertificates(renewed.CertificatePem, keyPem, s.Root.CertificatePem);

            var updated = cfg with
            {
                Role = toManager ? NodeRole.Manager : NodeRole.Worker,
                Managers = renewed.Managers.Count > 0 ? renewed.Managers.ToList() : cfg.Managers,
                ManagerPeers = renewed.ManagerPeers.Count > 0 ? PeersOf(renewed) : cfg.ManagerPeers,
            };
            if (toManager)
            {
                if (HostOf(updated.AdvertiseAddress) is "0.0.0.0" or "::")
                    throw new SwarmException(SwarmErrorKind.InvalidArgument, "SwarmNoAdvertiseAddress",
                        "this node has no advertise address for Raft: rejoin it with -AdvertiseAddress to promote it");
                AdoptDataKey(renewed.DataKey);
                manager = await BecomeRaftMemberAsync(updated, token).ConfigureAwait(false);
            }
            else DropManagerSecrets();
            store.SaveConfig(updated);
            config = updated;
            error = null;
            logger.LogInformation("This node is now a {Role}", toManager ? "manager" : "worker");
        }
        finally
        {
            if (config is not null && agent is null && !token.IsCancellationRequested) StartAgent(config);
            gate.Release();
        }
    }

    // ---------------------------------------------------------------- node management

    public async Task<Proto.Node> UpdateNodeAsync(Proto.UpdateNodeRequest request, CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        var state = host.State.Current;
        var node = FindNode(state, request.Id);
        // A patch, merged into the node when applied: concurrent updates of other fields stay.
        var patch = new PatchNodeCommand(node.Id, DateTimeOffset.UtcNow);
        var changed = false;

        if (request.HasAvailability)
        {
            patch = patch with { Availability = ProtoMapper.FromProto(request.Availability) };
            changed = true;
        }

        if (request.ReplaceLabels || request.AddLabels.Count > 0 || request.RemoveLabels.Count > 0)
        {
            foreach (var key in request.RemoveLabels)
                if (!node.Labels.ContainsKey(key) && !request.AddLabels.ContainsKey(key))
                    throw SwarmErrors.InvalidArgument($"key {key} doesn't exist in node's labels");
            // The labels the node will have, bounded here with a clear error (the leader checks again).
            var labels = request.ReplaceLabels ? new Dictionary<string, string>() : new Dictionary<string, string>(node.Labels);
            foreach (var key in request.RemoveLabels) labels.Remove(key);
            foreach (var (k, v) in request.AddLabels) labels[k] = v;
            InputLimits.ValidateLabels(labels);
            patch = patch with
            {
                ReplaceLabels = request.ReplaceLabels,
                SetLabels = new Dictionary<string, string>(request.AddLabels),
                RemoveLabels = request.RemoveLabels.ToList(),
            };
            changed = true;
        }

        if (request.HasRole)
        {
            var toManager = request.Role == Proto.NodeRole.RoleManager;
            if (toManager && node.Role == NodeRole.Worker)
            {
                patch = patch with { Role = NodeRole.Manager };
                changed = true;
            }
            else if (!toManager && node.Role == NodeRole.Manager)
            {
                CheckDemotion(state, node, await host.UnreachableMembersAsync(token).ConfigureAwait(false), host.IsRaftMember);
                if (node.Id == config?.NodeId && node.ManagerAddress.Length > 0)
                {
                    // This manager demotes itself: its other changes first, then the leader removes it
                    // from Raft and records it as a worker (out of the membership it may not write).
                    if (changed) await host.ProposeAsync(patch, token).ConfigureAwait(false);
                    await host.RemoveMemberAsync(node.ManagerAddress, token, leaving: true).ConfigureAwait(false);
                    return ToProto(host, (host.State.Current.Nodes.GetValueOrDefault(node.Id) ?? node) with { Role = NodeRole.Worker, ManagerAddress = "" });
                }
                if (node.ManagerAddress.Length > 0)
                    await host.RemoveMemberAsync(node.ManagerAddress, token).ConfigureAwait(false);
                patch = patch with { Role = NodeRole.Worker, ManagerAddress = "" };
                changed = true;
            }
        }

        if (changed)
            await host.ProposeAsync(patch, token).ConfigureAwait(false);
        var current = host.State.Current.Nodes.GetValueOrDefault(node.Id) ?? node;
        return ToProto(host, current);
    }

    /// <summary>
    /// Docker's refusals: the last manager, and a demotion that loses quorum. The quorum is that of
    /// the Raft members (<paramref name="isRaftMember"/>, swarmkit's CanRemoveMember): a manager that is
    /// not one (lost with -ForceNewCluster) neither counts towards it nor costs it anything when demoted.
    /// </summary>
    internal static void CheckDemotion(SwarmState.Snapshot state, NodeObject node, IReadOnlySet<string> unreachable, Func<string, bool>? isRaftMember = null)
    {
        var managers = state.Nodes.Values.Where(n => n.Role == NodeRole.Manager).ToList();
        if (isRaftMember is not null && !isRaftMember(node.ManagerAddress) && managers.Count > 1) return;
        var remaining = managers.Where(n => n.Id != node.Id && (isRaftMember is null || isRaftMember(n.ManagerAddress))).ToList();
        if (managers.Count <= 1 || remaining.Count == 0)
            throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmLastManager", "attempting to demote the last manager of the swarm");
        var reachable = remaining.Count(n => IsReachable(n, unreachable));
        if (reachable < remaining.Count / 2 + 1)
            throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmQuorumLoss",
                "can't remove member from the raft: this would result in a loss of quorum");
    }

    /// <summary>A manager counts as reachable unless the leader's Raft view or its session says otherwise.</summary>
    internal static bool IsReachable(NodeObject manager, IReadOnlySet<string> unreachable)
        => manager.Status != NodeStatus.Down && !unreachable.Contains(manager.ManagerAddress);

    public async Task RemoveNodeAsync(Proto.RemoveNodeRequest request, CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        var node = FindNode(host.State.Current, request.Id);
        if (node.Role == NodeRole.Manager)
            throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmNodeIsManager",
                $"node {node.Id} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal");
        if (node.Status != NodeStatus.Down && !request.Force)
            throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmNodeNotDown",
                $"node {node.Id} is not down and can't be removed");
        await host.ProposeAsync(new RemoveNodeCommand(node.Id), token).ConfigureAwait(false);
        logger.LogInformation("Removed node {NodeId} ({Hostname}) from the swarm", node.Id, node.Hostname);
    }

    /// <summary>Docker's lookup: full ID, then hostname, then a unique ID prefix.</summary>
    internal static NodeObject FindNode(SwarmState.Snapshot state, string key)
    {
        if (string.IsNullOrWhiteSpace(key)) throw SwarmErrors.InvalidArgument("a node ID or hostname is required");
        if (state.Nodes.TryGetValue(key, out var exact)) return exact;
        var byName = state.Nodes.Values.Where(n => n.Hostname == key).ToList();
        if (byName.Count == 1) return byName[0];
        var matches = byName.Count > 1 ? byName : state.Nodes.Values.Where(n => n.Id.StartsWith(key, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new SwarmException(SwarmErrorKind.ObjectNotFound, "SwarmNodeNotFound", $"node {key} not found"),
            _ => throw new SwarmException(SwarmErrorKind.InvalidArgument, "SwarmNodeAmbiguous", $"node {key} is ambiguous ({matches.Count} matches found)"),
        };
    }
}
