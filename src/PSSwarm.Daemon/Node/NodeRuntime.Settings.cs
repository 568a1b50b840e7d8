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

    /// <summary>Get-SwarmCA (docker swarm ca): the root the swarm trusts now, as managers hold it in the store.</summary>
    public async Task<Proto.CAInfo> GetCAAsync(CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        var cluster = host.State.Current.Cluster ?? throw SwarmErrors.ManagerStarting();
        var pem = cluster.RootCACertificate;
        return new Proto.CAInfo
        {
            RootCaPem = pem,
            Digest = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(pem))),
            RotationInProgress = false,
        };
    }
}
