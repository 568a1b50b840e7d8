using PSSwarm.Core;
using PSSwarm.Core.State;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Control;

/// <summary>
/// The swarm's settings as Initialize-Swarm and Set-Swarm take them (swarmkit controlapi's
/// validateClusterSpec, with Docker's wording): one place that checks them, before anything
/// is created or proposed. The leader's CommandValidator checks the resulting spec again.
/// </summary>
internal static class SwarmSettings
{
    /// <summary>The spec of a new swarm: defaults, then what Initialize-Swarm was given.</summary>
    public static ClusterSpec ForInit(Proto.InitRequest request)
    {
        var spec = new ClusterSpec();
        if (request.HasCertExpiry) spec = spec with { CertExpiry = CertExpiry(request.CertExpiryMs) };
        if (request.HasDispatcherHeartbeat) spec = spec with { DispatcherHeartbeat = Heartbeat(request.DispatcherHeartbeatMs) };
        if (!Enum.IsDefined(request.Availability))
            throw SwarmErrors.InvalidArgument($"invalid availability \"{request.Availability}\", only active, pause and drain are supported");
        if (request.Autolock) spec = spec with { Autolock = true };
        return spec;
    }

    /// <summary>
    /// Set-Swarm against the store: proposes the new spec when it differs; returns it, and the new
    /// unlock key when autolock was turned on (shown once; Get-SwarmUnlockKey shows it again).
    /// </summary>
    public static async Task<(ClusterSpec Spec, string? UnlockKey)> UpdateAsync(Store.ISwarmStore store, Proto.UpdateSwarmRequest request, TimeProvider clock, CancellationToken token)
    {
        var cluster = store.Current.Cluster ?? throw SwarmErrors.ManagerStarting();
        var spec = Update(cluster.Spec, request);
        string? unlockKey = spec.Autolock && !cluster.Spec.Autolock ? Core.Security.UnlockKey.Generate() : null;
        if (spec != cluster.Spec)
            await store.ProposeAsync(new UpdateClusterSpecCommand(spec, clock.GetUtcNow()) { UnlockKey = unlockKey }, token).ConfigureAwait(false);
        return (spec, unlockKey);
    }

    /// <summary>The spec after Set-Swarm: the current one with only the settings given changed.</summary>
    public static ClusterSpec Update(ClusterSpec current, Proto.UpdateSwarmRequest request)
    {
        var spec = current;
        if (request.HasCertExpiry) spec = spec with { CertExpiry = CertExpiry(request.CertExpiryMs) };
        if (request.HasDispatcherHeartbeat) spec = spec with { DispatcherHeartbeat = Heartbeat(request.DispatcherHeartbeatMs) };
        if (request.HasTaskHistoryLimit)
        {
            if (request.TaskHistoryLimit < 0)
                throw SwarmErrors.InvalidArgument("task history retention limit cannot be negative");
            if (request.TaskHistoryLimit > int.MaxValue)
                throw SwarmErrors.InvalidArgument($"task history retention limit cannot be more than {int.MaxValue}");
            spec = spec with { TaskHistoryLimit = (int)request.TaskHistoryLimit };
        }
        if (request.HasAutolock) spec = spec with { Autolock = request.Autolock };
        return spec;
    }

    /// <summary>Longest heartbeat period: beyond it a silent node would never be noticed (and 3 periods must fit a date).</summary>
    public static readonly TimeSpan MaxDispatcherHeartbeat = TimeSpan.FromHours(24);

    // Bounds are checked on the milliseconds: a huge value must be refused, not overflow a TimeSpan.
    private static TimeSpan CertExpiry(long ms)
    {
        if (ms < (long)ClusterSpec.MinCertExpiry.TotalMilliseconds)
            throw SwarmErrors.InvalidArgument("minimum certificate expiry time is: 1h0m0s");
        if (ms > (long)Core.Security.RootCA.RootCAExpiration.TotalMilliseconds)
            throw SwarmErrors.InvalidArgument("maximum certificate expiry time is: 175200h0m0s");
        return TimeSpan.FromMilliseconds(ms);
    }

    private static TimeSpan Heartbeat(long ms)
    {
        if (ms < 0) throw SwarmErrors.InvalidArgument("heartbeat time period cannot be a negative duration");
        if (ms == 0) throw SwarmErrors.InvalidArgument("heartbeat time period must be greater than zero");
        if (ms > (long)MaxDispatcherHeartbeat.TotalMilliseconds)
            throw SwarmErrors.InvalidArgument("heartbeat time period cannot be longer than 24h0m0s");
        return TimeSpan.FromMilliseconds(ms);
    }

}
