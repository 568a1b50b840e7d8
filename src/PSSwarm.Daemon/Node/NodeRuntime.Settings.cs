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
        var (spec, unlockKey) = await SwarmSettings.UpdateAsync(host, request, clock, token).ConfigureAwait(false);
        if (before is not null && spec.Autolock != before.Autolock) await WaitForAutolockAsync(spec.Autolock, token).ConfigureAwait(false);
        if (spec != before)
            logger.LogInformation("Swarm settings updated: certificate expiry {CertExpiry}, dispatcher heartbeat {Heartbeat}, task history limit {TaskHistoryLimit}, autolock {Autolock}",
                spec.CertExpiry, spec.DispatcherHeartbeat, spec.TaskHistoryLimit, spec.Autolock);
        var info = await GetInfoAsync(token).ConfigureAwait(false);
        if (unlockKey is not null) info.UnlockKey = unlockKey;
        return info;
    }

    /// <summary>Get-SwarmCA (docker swarm ca): the root the swarm trusts now, and any rotation, as managers hold them in the store.</summary>
    public async Task<Proto.CAInfo> GetCAAsync(CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        var state = host.State.Current;
        var cluster = state.Cluster ?? throw SwarmErrors.ManagerStarting();
        var info = new Proto.CAInfo { RootCaPem = cluster.RootCACertificate, Digest = Digest(cluster.RootCACertificate) };
        if (cluster.RootRotation is { } rotation && Ca.RootRotationProgress.Of(state) is { } progress)
        {
            info.RotationInProgress = true;
            info.NextRootCaPem = rotation.CACertificate;
            info.NextDigest = Digest(rotation.CACertificate);
            info.NodesRotated = progress.Rotated;
            info.NodesTotal = progress.Total;
            info.RotationStartedUnixMs = rotation.StartedAt.ToUnixTimeMilliseconds();
        }
        return info;
    }

    private static string Digest(string pem)
        => "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(pem)));

    /// <summary>
    /// Update-SwarmCA (docker swarm ca --rotate): starts a rotation to a generated root, or to the
    /// given certificate and key; a rotation in progress is replaced by the new one. The leader
    /// ends it when every node that is not down has a certificate from the new root.
    /// </summary>
    public async Task<Proto.CAInfo> RotateCAAsync(Proto.RotateCARequest request, CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        var certificate = request.CertificatePem.Length > 0 ? request.CertificatePem : null;
        var key = request.KeyPem.Length > 0 ? request.KeyPem : null;
        if (certificate is null && key is not null)
            throw SwarmErrors.InvalidArgument("a CA key was given without its CA certificate (-Certificate)");
        if (certificate is not null && key is null)
            throw SwarmErrors.InvalidArgument("a CA certificate was given without its key (-Key): the swarm's CA must be able to sign node certificates");
        await host.ReadBarrierAsync(token).ConfigureAwait(false);
        var start = host.CA.StartRotation(certificate, key, clock.GetUtcNow());
        await host.ProposeAsync(start, token).ConfigureAwait(false);
        logger.LogInformation("Root CA rotation started: the next root is {Digest}", Digest(start.Rotation.CACertificate));
        return await GetCAAsync(token).ConfigureAwait(false);
    }
}
