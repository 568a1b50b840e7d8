using Grpc.Core;
using PSSwarm.Core;
using PSSwarm.Daemon.Cluster;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.Daemon.Node;

/// <summary>What a heartbeat told the node.</summary>
internal sealed record HeartbeatResult(TimeSpan Period, string[] Managers, bool DesiredManager, string Leader,
    IReadOnlyDictionary<string, string> ManagerPeers, TimeSpan? CertExpiry)
{
    /// <summary>The swarm's trust as the leader sent it (empty from an older leader).</summary>
    public string RootPem { get; init; } = "";
    public string NextRootPem { get; init; } = "";
    public string CrossSignedPem { get; init; } = "";
    public string DesiredIssuer { get; init; } = "";
}

/// <summary>
/// A node's session with the swarm (swarmkit's agent): heartbeats the leader at the swarm's
/// period, follows the leader when managers redirect it, moves to another manager when its
/// manager dies, and reports role changes and its own removal to the runtime.
/// </summary>
internal sealed class NodeAgent : IAsyncDisposable
{
    private readonly Func<ClusterChannels> channels;
    private readonly Func<HeartbeatRequest> request;
    private readonly Func<HeartbeatResult, Task> onHeartbeat;
    private readonly Action<string> onRemoved;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stop = new();
    private readonly TaskCompletionSource firstHeartbeat = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object gate = new();
    private List<string> managers;
    private string? current;
    private Task? loop;
    private TimeSpan period;

    public NodeAgent(IEnumerable<string> managers, TimeSpan period, Func<ClusterChannels> channels, Func<HeartbeatRequest> request,
        Func<HeartbeatResult, Task> onHeartbeat, Action<string> onRemoved, ILogger logger)
    {
        this.managers = managers.Distinct().ToList();
        this.period = period;
        this.channels = channels;
        this.request = request;
        this.onHeartbeat = onHeartbeat;
        this.onRemoved = onRemoved;
        this.logger = logger;
    }

    /// <summary>Completes on the first accepted heartbeat.</summary>
    public Task FirstHeartbeat => firstHeartbeat.Task;

    /// <summary>The manager this node's session is with (the leader, normally).</summary>
    public string? CurrentManager => current;

    public IReadOnlyList<string> Managers { get { lock (gate) return managers.ToList(); } }

    public void Start() => loop = Task.Run(() => LoopAsync(stop.Token));

    private async Task LoopAsync(CancellationToken token)
    {
        var failures = 0;
        while (!token.IsCancellationRequested)
        {
            var ok = await BeatOnceAsync(token).ConfigureAwait(false);
            failures = ok ? 0 : failures + 1;
            // Jitter like swarmkit (±10%); retry sooner while no manager answers.
            var wait = ok ? period * (0.9 + Random.Shared.NextDouble() * 0.2) : TimeSpan.FromMilliseconds(Math.Min(250 * failures, 2000));
            try { await Task.Delay(wait, token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>One heartbeat: the current manager first, then every other, following leader hints.</summary>
    public async Task<bool> BeatOnceAsync(CancellationToken token)
    {
        var tried = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        if (current is not null) queue.Enqueue(current);
        foreach (var m in Managers) queue.Enqueue(m);
        while (queue.TryDequeue(out var target))
        {
            if (!tried.Add(target)) continue;
            try
            {
                var response = await new Protocol.Cluster.Dispatcher.DispatcherClient(channels().For(target))
                    .HeartbeatAsync(request(), deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: token).ConfigureAwait(false);
                current = target;
                period = TimeSpan.FromMilliseconds(Math.Max(response.PeriodMs, 100));
                if (response.Managers.Count > 0)
                    lock (gate) managers = response.Managers.ToList();
                firstHeartbeat.TrySetResult();
                await onHeartbeat(new HeartbeatResult(period, response.Managers.ToArray(), response.DesiredManager, response.Leader,
                    response.ManagerPeers.GroupBy(p => p.NodeId).ToDictionary(g => g.Key, g => g.First().Address, StringComparer.Ordinal),
                    response.CertExpiryMs > 0 ? TimeSpan.FromMilliseconds(response.CertExpiryMs) : null)
                {
                    RootPem = response.RootCaPem, NextRootPem = response.NextRootCaPem,
                    CrossSignedPem = response.CrossSignedCaPem, DesiredIssuer = response.DesiredIssuer,
                }).ConfigureAwait(false);
                return true;
            }
            catch (RpcException e) when (!token.IsCancellationRequested)
            {
                var error = ClusterChannels.Translate(e, target);
                if (error.ErrorId == "SwarmNotLeader" && error.Message.Length > 0 && !tried.Contains(error.Message))
                {
                    // Redirected: the message names the leader.
                    var leader = error.Message;
                    queue = new Queue<string>(new[] { leader }.Concat(queue));
                    continue;
                }
                if (error.ErrorId == "SwarmNodeRemoved")
                {
                    onRemoved(error.Message);
                    return false;
                }
                logger.LogDebug("Heartbeat to {Manager} failed: {Error}", target, error.Message);
                if (current == target) current = null;
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                return false; // stopping: RpcException(Cancelled) or OperationCanceledException
            }
            catch (Exception e) when (e is SwarmException or InvalidOperationException or HttpRequestException)
            {
                logger.LogDebug("Heartbeat to {Manager} failed: {Error}", target, e.Message);
            }
        }
        return false;
    }

    /// <summary>Tells the leader this node leaves (best effort, bounded).</summary>
    public async Task LeaveAsync()
    {
        foreach (var target in new[] { current }.Concat(Managers).OfType<string>().Distinct())
        {
            try
            {
                await new Protocol.Cluster.Dispatcher.DispatcherClient(channels().For(target))
                    .LeaveAsync(new LeaveSessionRequest(), deadline: DateTime.UtcNow.AddSeconds(3)).ConfigureAwait(false);
                return;
            }
            catch (RpcException e)
            {
                logger.LogDebug("Leave via {Manager} failed: {Error}", target, e.Status.Detail);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        stop.Cancel();
        if (loop is not null)
        {
            try { await loop.ConfigureAwait(false); }
            catch (Exception e) { logger.LogDebug("Node session stopped: {Error}", e.Message); }
        }
    }
}
