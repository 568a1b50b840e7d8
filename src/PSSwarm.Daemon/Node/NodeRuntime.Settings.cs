using PSSwarm.Core;
using PSSwarm.Daemon.Control;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Node;

internal sealed partial class NodeRuntime
{
    /// <summary>
    /// Set-Swarm (docker swarm update): the settings given change, the others stay. The leader's
    /// dispatcher uses a new heartbeat period at once and every node learns it with its next
    /// heartbeat; a new certificate expiry reaches nodes through their heartbeats too, and each
    /// renews its certificate for the new validity.
    /// </summary>
    public async Task<Proto.SwarmInfo> UpdateSwarmAsync(Proto.UpdateSwarmRequest request, CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        var before = host.State.Current.Cluster?.Spec;
        var spec = await SwarmSettings.UpdateAsync(host, request, clock, token).ConfigureAwait(false);
        if (spec != before)
            logger.LogInformation("Swarm settings updated: certificate expiry {CertExpiry}, dispatcher heartbeat {Heartbeat}, task history limit {TaskHistoryLimit}, autolock {Autolock}",
                spec.CertExpiry, spec.DispatcherHeartbeat, spec.TaskHistoryLimit, spec.Autolock);
        return await GetInfoAsync(token).ConfigureAwait(false);
    }
}
