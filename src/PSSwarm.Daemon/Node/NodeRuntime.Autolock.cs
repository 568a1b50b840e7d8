using System.Security.Cryptography;
using System.Text;
using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Node;

/// <summary>
/// Autolock (docker swarm init/update --autolock, unlock, unlock-key): with autolock on, each
/// manager keeps the swarm's data key (which seals its Raft log and snapshots) and its node key
/// sealed under a key encryption key derived from the unlock key; a restarted manager is Locked
/// until Unlock-Swarm gives that key. The unlock key itself lives only in the sealed store.
/// Workers' keys are not locked (as in Docker).
/// </summary>
internal sealed partial class NodeRuntime
{
    public const string LockedMessage = "Swarm is encrypted and needs to be unlocked before it can be used. Use Unlock-Swarm to unlock it.";
    public const string LeaveLockedMessage = "Swarm is encrypted and locked. Please unlock it first or use -Force to ignore this message.";

    private readonly object keyGate = new();
    /// <summary>While autolock is on (managers): the key this manager's data key and node key are sealed under.</summary>
    private byte[]? kek;
    /// <summary>The swarm's data key (managers); null for a swarm created before data keys.</summary>
    private byte[]? dataKey;
    private volatile bool locked;

    internal static SwarmException LockedError() => new(SwarmErrorKind.ResourceUnavailable, "SwarmLocked", LockedMessage);

    /// <summary>What the node key file gets: sealed under the KEK while autolock is on here.</summary>
    private string ProtectKeyText(string keyPem)
    {
        lock (keyGate) return kek is { } k ? SealKey(k, keyPem) : keyPem;
    }

    private static string SealKey(byte[] k, string keyPem)
        => Pem.Encode(LocalNodeStore.SealedKeyLabel, Sealed.Seal(k, Sealed.NodeKeyMagic, Encoding.UTF8.GetBytes(keyPem)));

    private static string OpenKey(byte[] k, string keyText)
        => Encoding.UTF8.GetString(Sealed.Open(k, Sealed.NodeKeyMagic, Pem.Decode(keyText, LocalNodeStore.SealedKeyLabel)));

    /// <summary>The node key as PEM, opened when sealed; Locked when it is sealed and no key was given.</summary>
    private string ReadableKey(string keyText)
    {
        if (!LocalNodeStore.IsSealedKey(keyText)) return keyText;
        var k = kek ?? throw LockedError();
        return OpenKey(k, keyText);
    }

    /// <summary>Loads the swarm's data key (a manager's); Locked when it is sealed and no key was given.</summary>
    private void LoadDataKey()
    {
        var (key, isSealed) = store.LoadDataKey();
        if (key is null) { dataKey = null; return; }
        if (!isSealed) { dataKey = key; return; }
        var k = kek ?? throw LockedError();
        dataKey = Sealed.Open(k, Sealed.DataKeyMagic, key);
    }

    /// <summary>A manager's data key from a join or a promotion (over the manager-authenticated TLS channel).</summary>
    private void AdoptDataKey(Google.Protobuf.ByteString key)
    {
        if (key.Length != 32) { dataKey = null; return; }
        dataKey = key.ToByteArray();
        lock (keyGate) store.SaveDataKey(dataKey, kek);
    }

    /// <summary>
    /// Follows the store's autolock setting and unlock key (managers, on every change): seals this
    /// manager's data key and node key under the unlock key's KEK, re-seals them under a new one,
    /// or opens them when autolock is turned off.
    /// </summary>
    private void FollowAutolock(ClusterObject cluster)
    {
        byte[]? desired = null;
        byte[]? current;
        if (cluster.Spec.Autolock && UnlockKey.TryParse(cluster.UnlockKey, out var raw)) desired = UnlockKey.DeriveKek(raw);
        lock (keyGate)
        {
            current = kek;
            if (desired is null && current is null) return;
            if (desired is not null && current is not null && CryptographicOperations.FixedTimeEquals(desired, current)) return;
            if (dataKey is { } dk) store.SaveDataKey(dk, desired);
            store.RewriteKey(text =>
            {
                var plain = LocalNodeStore.IsSealedKey(text) ? OpenKey(current ?? throw LockedError(), text) : text;
                return desired is null ? plain : SealKey(desired, plain);
            });
            kek = desired;
        }
        logger.LogInformation(desired is null ? "Autolock is off: this manager's data key and node key are no longer sealed"
            : current is null ? "Autolock is on: this manager's data key and node key are sealed under the swarm's unlock key"
            : "The swarm's unlock key changed: this manager's data key and node key are sealed under the new one");
    }

    /// <summary>A node that stops being a manager (demotion, leave) keeps no sealed key and no data key.</summary>
    private void DropManagerSecrets()
    {
        lock (keyGate)
        {
            if (kek is { } current && File.Exists(store.NodeKeyPath))
                store.RewriteKey(text => LocalNodeStore.IsSealedKey(text) ? OpenKey(current, text) : text);
            kek = null;
            dataKey = null;
            store.DeleteDataKey();
        }
        locked = false;
    }

    /// <summary>Waits (up to 5 s) until this manager has applied autolock as the store says it now.</summary>
    private async Task WaitForAutolockAsync(bool on, CancellationToken token)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while ((kek is not null) != on && DateTime.UtcNow < deadline)
            await Task.Delay(20, token).ConfigureAwait(false);
    }

    /// <summary>Unlock-Swarm (docker swarm unlock): opens a locked manager's keys and starts it.</summary>
    public async Task UnlockAsync(Proto.UnlockRequest request, CancellationToken token)
    {
        LocalNodeConfig cfg;
        await gate.WaitAsync(token).ConfigureAwait(false);
        try
        {
            cfg = config ?? throw SwarmErrors.NotInSwarm();
            if (!locked) throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmNotLocked", "swarm is not locked");
            if (!UnlockKey.TryParse(request.Key, out var raw)) throw SwarmErrors.InvalidArgument(UnlockKey.InvalidMessage);
            var candidate = UnlockKey.DeriveKek(raw);
            try
            {
                var (key, isSealed) = store.LoadDataKey();
                if (key is not null && isSealed) Sealed.Open(candidate, Sealed.DataKeyMagic, key);
                else OpenKey(candidate, store.LoadCertificates().KeyPem);
            }
            catch (Exception e) when (e is CryptographicException or FormatException)
            {
                throw new SwarmException(SwarmErrorKind.AuthenticationError, "SwarmInvalidUnlockKey", "swarm could not be unlocked: invalid key provided");
            }
            lock (keyGate) kek = candidate;
            locked = false;
            error = null;
            logger.LogInformation("Swarm unlocked: starting the manager");
            resume = Task.Run(() => ResumeAsync(cfg, membership.Token));
        }
        finally
        {
            gate.Release();
        }
        // Unlock-Swarm returns once the manager serves consistent reads (bounded), so that the next
        // cmdlet works; without a quorum (most managers still locked) it returns after the bound.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline && !locked)
        {
            if (manager is { } host)
            {
                try
                {
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(token);
                    wait.CancelAfter(TimeSpan.FromSeconds(2));
                    await host.ReadBarrierAsync(wait.Token).ConfigureAwait(false);
                    return;
                }
                catch (Exception e) when (e is SwarmException or OperationCanceledException && !token.IsCancellationRequested) { }
            }
            await Task.Delay(20, token).ConfigureAwait(false);
        }
    }

    /// <summary>Get-SwarmUnlockKey (docker swarm unlock-key).</summary>
    public async Task<Proto.UnlockKeyInfo> GetUnlockKeyAsync(CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        var cluster = host.State.Current.Cluster ?? throw SwarmErrors.ManagerStarting();
        if (!cluster.Spec.Autolock || cluster.UnlockKey.Length == 0)
            throw new SwarmException(SwarmErrorKind.ObjectNotFound, "SwarmNoUnlockKey", "no unlock key is set");
        return new Proto.UnlockKeyInfo { Key = cluster.UnlockKey };
    }

    /// <summary>Update-SwarmUnlockKey (docker swarm unlock-key --rotate).</summary>
    public async Task<Proto.UnlockKeyInfo> RotateUnlockKeyAsync(CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        var cluster = host.State.Current.Cluster ?? throw SwarmErrors.ManagerStarting();
        if (!cluster.Spec.Autolock)
            throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmAutolockOff", "cannot rotate because autolock is not turned on");
        var key = UnlockKey.Generate();
        await host.ProposeAsync(new UpdateClusterSpecCommand(cluster.Spec, clock.GetUtcNow()) { UnlockKey = key }, token).ConfigureAwait(false);
        logger.LogInformation("The swarm's unlock key was rotated");
        var derived = UnlockKey.DeriveKek(UnlockKey.TryParse(key, out var raw) ? raw : throw new InvalidOperationException());
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline && (kek is not { } k || !CryptographicOperations.FixedTimeEquals(k, derived)))
            await Task.Delay(20, token).ConfigureAwait(false);
        return new Proto.UnlockKeyInfo { Key = key };
    }
}
