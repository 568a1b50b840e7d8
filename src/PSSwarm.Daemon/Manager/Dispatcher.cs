using System.Collections.Concurrent;
using PSSwarm.Core;
using PSSwarm.Core.State;

namespace PSSwarm.Daemon.Manager;

/// <summary>
/// Node sessions, run by the leader (swarmkit's dispatcher): every node heartbeats at the
/// swarm's period; a node silent for 3 periods becomes Down ("heartbeat failure"); after a
/// leader change every live node becomes Unknown and gets 6 periods. Liveness is in memory;
/// only status changes are written through Raft.
/// </summary>
internal sealed class Dispatcher(ManagerHostAccessor accessor, ILogger<Dispatcher> logger) : IDisposable
{
    public const string HeartbeatFailure = "heartbeat failure";
    public const string LeaderChange = "Node moved to \"unknown\" state due to leadership change in cluster";
    public const string NodeLeft = "node left the swarm";

    /// <summary>How long a manager tolerates having no leader before it restarts its store.</summary>
    public static readonly TimeSpan LeaderlessLimit = TimeSpan.FromSeconds(30);

    // When each node's session expires: 3 periods after its last heartbeat, of the period this
    // leader told it then (swarmkit's heartbeat TTL). A shorter period set with Set-Swarm reaches a
    // node only with its next heartbeat, so the node is not held to it before that.
    private readonly ConcurrentDictionary<string, DateTime> expires = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource stop = new();
    private readonly NodeUpdateBatcher updates = new(patches => ProposeLiveAsync(accessor.Host, patches));
    private DateTime leaderSince = DateTime.MaxValue;
    private Task? loop;

    public void Start() => loop = Task.Run(() => LoopAsync(stop.Token));

    private ManagerHost Host => accessor.Host;

    private TimeSpan Period => Host.State.Current.Cluster?.Spec.DispatcherHeartbeat ?? ClusterSpec.DefaultDispatcherHeartbeat;

    /// <summary>A heartbeat from an authenticated node. Returns the node as stored after it.</summary>
    public async Task<NodeObject> HeartbeatAsync(string nodeId, string address, string hostname, string version, string issuer, CancellationToken token)
    {
        var host = Host;
        // A deposed leader that has not noticed yet must not keep sessions alive while the real
        // leader marks those nodes Down: a leader whose lease (a majority's acknowledgement within
        // the lease period) has lapsed for longer than LeaseGrace refuses. A shorter lapse is what
        // a busy leader sees under load, and refusing then sent thousands of nodes hunting for a
        // leader at once (5,000-node runs).
        if (!host.IsLeader || LeaseLapsedFor(host) > LeaseGrace)
            throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmNotLeader", host.IsLeader ? "" : host.LeaderAddress ?? "");
        var state = host.State.Current;
        if (state.RemovedNodes.Contains(nodeId))
            throw new SwarmException(SwarmErrorKind.PermissionDenied, "SwarmNodeRemoved", $"Permission denied: node {nodeId} was removed from swarm");
        if (!state.Nodes.TryGetValue(nodeId, out var node))
            throw new SwarmException(SwarmErrorKind.ObjectNotFound, "SwarmNodeNotFound", $"node {nodeId} not found");

        expires[nodeId] = DateTime.UtcNow + 3 * Period;
        if (node.Status != NodeStatus.Ready || (address.Length > 0 && node.Address != address)
            || (hostname.Length > 0 && node.Hostname != hostname) || (version.Length > 0 && node.Version != version)
            || (issuer.Length > 0 && node.CertificateIssuer != issuer))
        {
            await updates.WriteAsync(new PatchNodeCommand(nodeId, DateTimeOffset.UtcNow)
            {
                Status = NodeStatus.Ready, StatusMessage = "",
                Address = address.Length > 0 ? address : null,
                Hostname = hostname.Length > 0 ? hostname : null,
                Version = version.Length > 0 ? version : null,
                CertificateIssuer = issuer.Length > 0 ? issuer : null,
            }, token).ConfigureAwait(false);
            node = host.State.Current.Nodes.GetValueOrDefault(nodeId) ?? node;
        }
        return node;
    }

    /// <summary>How long a leader may go without its lease before it stops keeping node sessions.</summary>
    public static readonly TimeSpan LeaseGrace = TimeSpan.FromSeconds(2);

    private long leaseLapsedSince; // Environment.TickCount64 when the lease was first seen lapsed; 0 while held

    /// <summary>How long this leader has been without its lease (zero while it holds it).</summary>
    private TimeSpan LeaseLapsedFor(ManagerHost host)
    {
        if (host.HoldsLease)
        {
            Interlocked.Exchange(ref leaseLapsedSince, 0);
            return TimeSpan.Zero;
        }
        var now = Environment.TickCount64;
        var since = Interlocked.CompareExchange(ref leaseLapsedSince, now, 0);
        return since == 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(now - since);
    }

    /// <summary>A node says goodbye (Exit-Swarm), to any manager: it is Down from now on, until removed.</summary>
    public async Task LeaveAsync(string nodeId, CancellationToken token)
    {
        var host = Host;
        expires.TryRemove(nodeId, out _);
        if (host.State.Current.Nodes.TryGetValue(nodeId, out var node) && node.Status != NodeStatus.Down)
            await host.ProposeAsync(StatusPatch(nodeId, NodeStatus.Down, NodeLeft), token).ConfigureAwait(false);
    }

    private async Task LoopAsync(CancellationToken token)
    {
        var wasLeader = false;
        var leaderSeen = DateTime.UtcNow;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(250, token).ConfigureAwait(false);
                var host = Host;
                var leader = host.IsLeader;
                // Watchdog (DESIGN.md defect 1, a follower left without a leader): a manager that
                // sees no leader for a long time while it can reach its peers restarts its store.
                if (host.LeaderAddress is not null) leaderSeen = DateTime.UtcNow;
                else if (DateTime.UtcNow - leaderSeen > LeaderlessLimit && host.MemberAddresses.Count > 1)
                {
                    host.ReportFault($"no leader for {LeaderlessLimit.TotalSeconds:0} s");
                    leaderSeen = DateTime.UtcNow;
                }
                if (leader && !wasLeader) await OnLeadershipAsync(host, token).ConfigureAwait(false);
                wasLeader = leader;
                if (leader) await ExpireAsync(host, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("Dispatcher: {Error}", e.Message);
            }
        }
    }

    private async Task OnLeadershipAsync(ManagerHost host, CancellationToken token)
    {
        var now = DateTime.UtcNow;
        leaderSince = now;
        // Heartbeats this manager saw recently (it led moments ago, e.g. across a membership
        // change) still count; every other live node becomes Unknown, as in swarmkit.
        foreach (var (id, until) in expires)
            if (until < now) expires.TryRemove(id, out _);
        var self = host.Options.NodeId;
        var unknown = new List<PatchNodeCommand>();
        foreach (var node in host.State.Current.Nodes.Values)
        {
            if (node.Id == self || node.Status is NodeStatus.Down or NodeStatus.Unknown || expires.ContainsKey(node.Id)) continue;
            // Changed within the last period (a node that joined while this sweep was pending): it
            // is fresh, and the expiry loop still marks it Down if it falls silent.
            if (node.UpdatedAt.UtcDateTime > now - Period) continue;
            unknown.Add(StatusPatch(node.Id, NodeStatus.Unknown, LeaderChange));
        }
        await ProposeBatchesAsync(host, unknown, token).ConfigureAwait(false);
        logger.LogInformation("This manager leads: node sessions are now dispatched here");
    }

    private async Task ExpireAsync(ManagerHost host, CancellationToken token)
    {
        // Without its lease this leader may be deposed already, or too busy to have heard the
        // heartbeats it is about to judge: it marks nobody Down until a majority acknowledges it again.
        if (!host.HoldsLease) return;
        var now = DateTime.UtcNow;
        var period = Period;
        var down = new List<PatchNodeCommand>();
        foreach (var node in host.State.Current.Nodes.Values)
        {
            if (node.Status == NodeStatus.Down) continue;
            // Silent since its last heartbeat, or (no heartbeat to this leader yet) since this
            // leader took over or since the node's last change (a join marks it Ready).
            var deadline = expires.TryGetValue(node.Id, out var until)
                ? until
                : Max(leaderSince + 6 * period, node.UpdatedAt.UtcDateTime + 3 * period);
            if (now < deadline) continue;
            logger.LogInformation("Node {NodeId} ({Hostname}) is down: {Reason}", node.Id, node.Hostname, HeartbeatFailure);
            down.Add(StatusPatch(node.Id, NodeStatus.Down, HeartbeatFailure));
        }
        await ProposeBatchesAsync(host, down, token).ConfigureAwait(false);
    }

    /// <summary>Heartbeats' changes, less those of nodes removed meanwhile (a batch with one would be refused whole).</summary>
    private static Task ProposeLiveAsync(ManagerHost host, IReadOnlyList<PatchNodeCommand> patches)
    {
        var nodes = host.State.Current.Nodes;
        return ProposeBatchesAsync(host, patches.Where(p => nodes.ContainsKey(p.NodeId)).ToList(), CancellationToken.None);
    }

    /// <summary>Status changes of many nodes at once, as few entries as <see cref="PatchNodesCommand.MaxPatches"/> allows.</summary>
    private static async Task ProposeBatchesAsync(ManagerHost host, List<PatchNodeCommand> patches, CancellationToken token)
    {
        for (var i = 0; i < patches.Count; i += PatchNodesCommand.MaxPatches)
        {
            var batch = patches.GetRange(i, Math.Min(PatchNodesCommand.MaxPatches, patches.Count - i));
            await host.ProposeAsync(batch.Count == 1 ? batch[0] : new PatchNodesCommand(batch), token).ConfigureAwait(false);
        }
    }

    public static PatchNodeCommand StatusPatch(string nodeId, NodeStatus status, string message)
        => new(nodeId, DateTimeOffset.UtcNow) { Status = status, StatusMessage = message };

    private static DateTime Max(DateTime a, DateTime b) => a > b ? a : b;

    public void Dispose()
    {
        stop.Cancel();
        try { loop?.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
    }
}
