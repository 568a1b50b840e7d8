using System.Net;
using System.Security.Cryptography.X509Certificates;
using PSSwarm.Core;
using PSSwarm.Core.Net;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Cluster;
using PSSwarm.Daemon.Control;
using PSSwarm.Daemon.Manager;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Node;

internal sealed partial class NodeRuntime
{
    public async Task<Proto.SwarmInfo> InitAsync(Proto.InitRequest request, CancellationToken token)
    {
        // A manager that has just started (a daemon restart) gets a moment to load its store.
        if (locked && request.ForceNewCluster) throw LockedError();
        if (request.ForceNewCluster) await WaitForManagerAsync(token).ConfigureAwait(false);
        await gate.WaitAsync(token).ConfigureAwait(false);
        try
        {
            if (config is not null)
            {
                if (!request.ForceNewCluster || config.Role != NodeRole.Manager)
                    throw SwarmErrors.AlreadyInSwarm();
                await ForceNewClusterAsync(config, token).ConfigureAwait(false);
            }
            else
            {
                await InitLockedAsync(request, token).ConfigureAwait(false);
            }
        }
        finally
        {
            gate.Release();
        }
        var info = await GetInfoAsync(token).ConfigureAwait(false);
        if (request.Autolock && !request.ForceNewCluster && manager?.State.Current.Cluster is { UnlockKey.Length: > 0 } cluster) info.UnlockKey = cluster.UnlockKey;
        return info;
    }

    private async Task InitLockedAsync(Proto.InitRequest request, CancellationToken token)
    {
        // 1. Check everything before anything is created: a refused init leaves the node Inactive.
        var spec = SwarmSettings.ForInit(request);
        var availability = ProtoMapper.FromProto(request.Availability);
        var (listen, advertise) = ResolveAddresses(request.ListenAddress, request.AdvertiseAddress);

        // 2. Identity, CA, certificate, tokens.
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var now = clock.GetUtcNow();
        var swarmId = Identity.NewId();
        var nodeId = Identity.NewId();
        var root = RootCA.Create(now);
        var (keyPem, csr) = NodeCertificates.NewKeyAndCsr();
        var certPem = root.SignNodeCertificate(csr, nodeId, NodeCertificates.ManagerRole, swarmId, spec.CertExpiry, now);
        // The swarm's data key seals every Raft entry and snapshot; with -Autolock this manager
        // seals it, and its node key, under the unlock key from the start.
        var newDataKey = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var unlockKey = spec.Autolock ? UnlockKey.Generate() : "";
        var cert = X509Certificate2.CreateFromPem(certPem);
        var cfg = new LocalNodeConfig
        {
            SwarmId = swarmId, NodeId = nodeId, Role = NodeRole.Manager,
            ListenAddress = AddressResolver.Format(listen),
            AdvertiseAddress = AddressResolver.Format(advertise),
            Managers = [AddressResolver.Format(advertise)],
            JoinedAt = now,
        };

        // 3. Start the store and write the swarm through it; node.json is the commit point.
        ManagerHost? host = null;
        try
        {
            store.Wipe();
            lock (keyGate) kek = spec.Autolock && UnlockKey.TryParse(unlockKey, out var raw) ? UnlockKey.DeriveKek(raw) : null;
            dataKey = newDataKey;
            lock (keyGate) store.SaveDataKey(newDataKey, kek);
            store.SaveCertificates(certPem, keyPem, root.CertificatePem);
            LoadSecurity(cfg);
            var tCerts = stopwatch.Elapsed.TotalMilliseconds;
            host = await StartManagerAsync(cfg, coldStart: true, token).ConfigureAwait(false);
            var tStarted = stopwatch.Elapsed.TotalMilliseconds;
            if (!await host.WaitForLeadershipAsync(TimeSpan.FromSeconds(10), token).ConfigureAwait(false))
                throw SwarmErrors.NoLeader();
            var tLeader = stopwatch.Elapsed.TotalMilliseconds;
            var cluster = new ClusterObject
            {
                Id = swarmId, CreatedAt = now, UpdatedAt = now, Spec = spec,
                RootCACertificate = root.CertificatePem, RootCAKey = root.KeyPem!,
                WorkerJoinToken = JoinToken.Generate(root.CertificatePemBytes),
                ManagerJoinToken = JoinToken.Generate(root.CertificatePemBytes),
                WorkerJoinTokenCreatedAt = now, ManagerJoinTokenCreatedAt = now,
                UnlockKey = unlockKey,
            };
            var node = new NodeObject
            {
                Id = nodeId, Hostname = options.NodeName, Role = NodeRole.Manager, Availability = availability,
                Status = NodeStatus.Ready, Address = advertise.Address.ToString(), ManagerAddress = cfg.AdvertiseAddress,
                CreatedAt = now, UpdatedAt = now, CertificateExpiry = cert.NotAfter.ToUniversalTime(), Version = Version,
            };
            await host.ProposeAsync(new CreateClusterCommand(cluster, node, NetworkObject.NewIngress(Identity.NewId(), now)), token)
                .ConfigureAwait(false);
            store.SaveConfig(cfg);
            logger.LogDebug("Init timings: CA and certificates {Certs:0} ms, listener and Raft started {Started:0} ms, leader {Leader:0} ms, swarm written {Done:0} ms",
                tCerts, tStarted, tLeader, stopwatch.Elapsed.TotalMilliseconds);
        }
        catch
        {
            await AbandonAsync(host).ConfigureAwait(false);
            throw;
        }

        Commit(cfg, host);
        logger.LogInformation("Swarm initialized: current node ({NodeId}) is now a manager, listening on {Listen}, advertising {Advertise}",
            nodeId, cfg.ListenAddress, cfg.AdvertiseAddress);
    }

    /// <summary>A failed init or join: nothing of it stays, the node is Inactive.</summary>
    private async Task AbandonAsync(ManagerHost? host)
    {
        if (host is not null) await host.DisposeAsync().ConfigureAwait(false);
        channels?.Dispose();
        channels = null;
        security = null;
        lock (keyGate) { kek = null; dataKey = null; }
        store.Wipe();
    }

    /// <summary>An init or join that reached its commit point: the node is in the swarm from now on.</summary>
    private void Commit(LocalNodeConfig cfg, ManagerHost? host)
    {
        config = cfg;
        manager = host;
        error = null;
        StartAgent(cfg);
    }

    /// <summary>Listen and advertise addresses by Docker's rules; InvalidArgument with Docker's texts.</summary>
    private static (IPEndPoint Listen, IPEndPoint Advertise) ResolveAddresses(string listenAddress, string advertiseAddress)
    {
        try
        {
            var interfaces = AddressResolver.GetSystemInterfaces();
            var listen = AddressResolver.ResolveListenAddress(NullIfEmpty(listenAddress), interfaces);
            var advertise = AddressResolver.ResolveAdvertiseAddress(NullIfEmpty(advertiseAddress), listen, interfaces);
            return (listen, advertise);
        }
        catch (AddressException e)
        {
            throw SwarmErrors.InvalidArgument(e.Message);
        }
    }
}
