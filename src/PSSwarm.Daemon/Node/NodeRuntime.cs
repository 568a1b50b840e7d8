using System.Net;
using System.Security.Cryptography.X509Certificates;
using PSSwarm.Core;
using PSSwarm.Core.Net;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Manager;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Node;

/// <summary>
/// One node's life cycle: Inactive, init, (join), restart, leave. Holds the manager component
/// while this node is a manager. State-changing operations are serialised by one lock.
/// </summary>
internal sealed class NodeRuntime : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(5);

    private readonly DaemonOptions options;
    private readonly LocalNodeStore store;
    private readonly ILogger logger;
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly CancellationTokenSource restart = new();

    private LocalNodeConfig? config;
    private ManagerHost? manager;
    private Task? managerStart;
    private string? error;

    public NodeRuntime(DaemonOptions options, ILogger<NodeRuntime> logger)
    {
        this.options = options;
        this.logger = logger;
        store = new LocalNodeStore(options.DataRoot);
    }

    public static string Version { get; } =
        typeof(NodeRuntime).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public DaemonOptions Options => options;

    /// <summary>Called once at daemon start: a node that was in a swarm goes back to it, with no cmdlet call.</summary>
    public void Start()
    {
        store.EnsureDataRoot();
        try
        {
            config = store.LoadConfig();
        }
        catch (InvalidDataException e)
        {
            error = e.Message;
            logger.LogError("{Error}", e.Message);
            return;
        }
        if (config is null)
        {
            logger.LogInformation("Node is not part of a swarm (data root {DataRoot})", options.DataRoot);
            _ = Task.Run(WarmUpCrypto); // off the critical path: the first Initialize-Swarm/Join-Swarm then skips it
            return;
        }
        logger.LogInformation("Rejoining swarm {SwarmId} as {Role} {NodeId}", config.SwarmId, config.Role, config.NodeId);
        if (config.Role == NodeRole.Manager)
            managerStart = Task.Run(() => RestartManagerLoopAsync(config, restart.Token));
    }

    /// <summary>Runs the CA code once with throwaway keys so that its first real use is not paying start-up costs.</summary>
    private void WarmUpCrypto()
    {
        try
        {
            var root = RootCA.Create();
            var (_, csr) = NodeCertificates.NewKeyAndCsr();
            var pem = root.SignNodeCertificate(csr, Identity.NewId(), NodeCertificates.ManagerRole, Identity.NewId(), ClusterSpec.DefaultCertExpiry);
            _ = JoinToken.Generate(root.CertificatePemBytes);
            _ = X509Certificate2.CreateFromPem(pem);
        }
        catch (Exception e)
        {
            logger.LogDebug("Crypto warm-up failed: {Error}", e.Message);
        }
    }

    private async Task RestartManagerLoopAsync(LocalNodeConfig cfg, CancellationToken token)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!token.IsCancellationRequested)
        {
            try
            {
                var host = await StartManagerAsync(cfg, coldStart: false, token).ConfigureAwait(false);
                await gate.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    if (config?.NodeId != cfg.NodeId) { await host.DisposeAsync().ConfigureAwait(false); return; }
                    manager = host;
                    error = null;
                }
                finally { gate.Release(); }
                logger.LogInformation("Manager started on {Listen}, advertising {Advertise}", cfg.ListenAddress, cfg.AdvertiseAddress);
                return;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                error = e.Message;
                logger.LogError("Could not start the manager ({Error}); retrying in {Delay}", e.Message, delay);
            }
            await Task.Delay(delay, token).ConfigureAwait(false);
            delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, 30));
        }
    }

    private async Task<ManagerHost> StartManagerAsync(LocalNodeConfig cfg, bool coldStart, CancellationToken token)
    {
        var (certPem, keyPem, rootPem) = store.LoadCertificates();
        var root = RootCA.Load(rootPem, null);
        var nodeCert = NodeCertificates.LoadWithKey(certPem, keyPem);
        ManagerHost? host = null;
        var authenticator = new PeerAuthenticator(root, cfg.SwarmId,
            id => host?.State.Current.RemovedNodes.Contains(id) == true);
        host = await ManagerHost.StartAsync(new ManagerHostOptions
        {
            Listen = IPEndPoint.Parse(cfg.ListenAddress),
            AdvertiseAddress = cfg.AdvertiseAddress,
            NodeCertificate = nodeCert,
            Authenticator = authenticator,
            RaftDir = store.RaftDir,
            ColdStart = coldStart,
            LogLevel = options.LogLevel,
        }, token).ConfigureAwait(false);
        return host;
    }

    // ---------------------------------------------------------------- queries

    public async Task<Proto.SwarmInfo> GetInfoAsync(CancellationToken token)
    {
        var cfg = config;
        var info = new Proto.SwarmInfo { NodeName = options.NodeName };
        if (cfg is null)
        {
            info.LocalNodeState = error is null ? Proto.LocalNodeState.LocalInactive : Proto.LocalNodeState.LocalError;
            info.Error = error ?? "";
            return info;
        }

        info.Id = cfg.SwarmId;
        info.NodeId = cfg.NodeId;
        info.NodeAddress = HostOf(cfg.AdvertiseAddress);
        info.IsManager = cfg.Role == NodeRole.Manager;
        info.LocalNodeState = Proto.LocalNodeState.LocalActive;
        if (File.Exists(store.RootCAPath)) info.RootCaPem = await File.ReadAllTextAsync(store.RootCAPath, token).ConfigureAwait(false);
        if (cfg.Role != NodeRole.Manager)
            return info;

        var host = manager;
        if (host is null)
        {
            info.LocalNodeState = error is null ? Proto.LocalNodeState.LocalPending : Proto.LocalNodeState.LocalError;
            info.Error = error ?? "";
            return info;
        }
        try
        {
            await host.ReadBarrierAsync(token).ConfigureAwait(false);
        }
        catch (SwarmException e)
        {
            info.LocalNodeState = Proto.LocalNodeState.LocalError;
            info.Error = e.Message;
            return info;
        }

        var state = host.State.Current;
        if (state.Cluster is { } cluster)
        {
            info.Name = cluster.Name;
            info.CreatedUnixMs = cluster.CreatedAt.ToUnixTimeMilliseconds();
            info.UpdatedUnixMs = cluster.UpdatedAt.ToUnixTimeMilliseconds();
            info.RootCaPem = cluster.RootCACertificate;
            info.CertExpiryMs = (long)cluster.Spec.CertExpiry.TotalMilliseconds;
            info.DispatcherHeartbeatMs = (long)cluster.Spec.DispatcherHeartbeat.TotalMilliseconds;
            info.Autolock = cluster.Spec.Autolock;
            info.TaskHistoryLimit = cluster.Spec.TaskHistoryLimit;
            var managers = ManagerAddresses(state, host);
            info.WorkerToken = new Proto.JoinToken { Role = Proto.NodeRole.RoleWorker, Token = cluster.WorkerJoinToken, RemoteAddresses = { managers } };
            info.ManagerToken = new Proto.JoinToken { Role = Proto.NodeRole.RoleManager, Token = cluster.ManagerJoinToken, RemoteAddresses = { managers } };
        }
        info.Nodes = state.Nodes.Count;
        info.Managers = state.Nodes.Values.Count(n => n.Role == NodeRole.Manager);
        return info;
    }

    private static string[] ManagerAddresses(SwarmState.Snapshot state, ManagerHost host)
    {
        var leader = host.LeaderAddress;
        return state.Nodes.Values
            .Where(n => n.Role == NodeRole.Manager && n.ManagerAddress.Length > 0)
            .Select(n => n.ManagerAddress)
            .OrderBy(a => a == leader ? 0 : 1).ThenBy(a => a, StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>The manager component, ready to serve reads; Docker's errors otherwise.</summary>
    private async Task<ManagerHost> RequireManagerAsync(CancellationToken token)
    {
        var cfg = config;
        if (cfg is null) throw SwarmErrors.NotManagerInactive();
        if (cfg.Role != NodeRole.Manager) throw SwarmErrors.NotManager();
        var host = manager;
        if (host is null)
        {
            // Just restarted: give the manager a moment to come up.
            var deadline = DateTime.UtcNow + ReadyTimeout;
            while ((host = manager) is null && DateTime.UtcNow < deadline)
                await Task.Delay(20, token).ConfigureAwait(false);
            if (host is null) throw SwarmErrors.ManagerStarting(error);
        }
        return host;
    }

    public async Task<Proto.JoinToken> GetJoinTokenAsync(Proto.NodeRole role, CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        await host.ReadBarrierAsync(token).ConfigureAwait(false);
        return TokenOf(host, role);
    }

    private static Proto.JoinToken TokenOf(ManagerHost host, Proto.NodeRole role)
    {
        var state = host.State.Current;
        var cluster = state.Cluster ?? throw SwarmErrors.ManagerStarting();
        return new Proto.JoinToken
        {
            Role = role,
            Token = role == Proto.NodeRole.RoleManager ? cluster.ManagerJoinToken : cluster.WorkerJoinToken,
            RemoteAddresses = { ManagerAddresses(state, host) },
        };
    }

    public async Task<Proto.JoinToken> RotateJoinTokenAsync(Proto.NodeRole role, CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        await host.ReadBarrierAsync(token).ConfigureAwait(false);
        var cluster = host.State.Current.Cluster ?? throw SwarmErrors.ManagerStarting();
        var fresh = JoinToken.Generate(System.Text.Encoding.UTF8.GetBytes(cluster.RootCACertificate));
        var coreRole = role == Proto.NodeRole.RoleManager ? NodeRole.Manager : NodeRole.Worker;
        await host.ProposeAsync(new SetJoinTokenCommand(coreRole, fresh, DateTimeOffset.UtcNow), token).ConfigureAwait(false);
        logger.LogInformation("Rotated the {Role} join token", coreRole);
        return TokenOf(host, role);
    }

    public async Task<Proto.NodeList> ListNodesAsync(CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        await host.ReadBarrierAsync(token).ConfigureAwait(false);
        var state = host.State.Current;
        var leader = host.LeaderAddress;
        var self = config?.NodeId;
        var list = new Proto.NodeList();
        foreach (var node in state.Nodes.Values.OrderBy(n => n.Hostname, StringComparer.OrdinalIgnoreCase).ThenBy(n => n.Id))
            list.Nodes.Add(ProtoMapper.ToProto(node, leader, self));
        return list;
    }

    public async Task<Proto.NetworkList> ListNetworksAsync(CancellationToken token)
    {
        var host = await RequireManagerAsync(token).ConfigureAwait(false);
        await host.ReadBarrierAsync(token).ConfigureAwait(false);
        var list = new Proto.NetworkList();
        foreach (var n in host.State.Current.Networks.Values.OrderBy(n => n.Name, StringComparer.Ordinal))
            list.Networks.Add(ProtoMapper.ToProto(n));
        return list;
    }

    // ---------------------------------------------------------------- init

    public async Task<Proto.SwarmInfo> InitAsync(Proto.InitRequest request, CancellationToken token)
    {
        await gate.WaitAsync(token).ConfigureAwait(false);
        try
        {
            if (config is not null)
            {
                if (!request.ForceNewCluster || config.Role != NodeRole.Manager)
                    throw SwarmErrors.AlreadyInSwarm();
                CheckForceNewCluster();
                return await GetInfoAsync(token).ConfigureAwait(false);
            }

            // 1. Check everything before anything is created: a refused init leaves the node Inactive.
            var spec = ValidateSpec(request);
            var availability = ProtoMapper.FromProto(request.Availability);
            if (request.Autolock)
                throw new SwarmException(SwarmErrorKind.NotImplemented, "SwarmAutolockNotSupported",
                    "Autolock is not supported yet by this version of PSSwarm; initialise the swarm without -Autolock.");
            IPEndPoint listen, advertise;
            try
            {
                var interfaces = AddressResolver.GetSystemInterfaces();
                listen = AddressResolver.ResolveListenAddress(NullIfEmpty(request.ListenAddress), interfaces);
                advertise = AddressResolver.ResolveAdvertiseAddress(NullIfEmpty(request.AdvertiseAddress), listen, interfaces);
            }
            catch (AddressException e)
            {
                throw SwarmErrors.InvalidArgument(e.Message);
            }

            // 2. Identity, CA, certificate, tokens.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var now = DateTimeOffset.UtcNow;
            var swarmId = Identity.NewId();
            var nodeId = Identity.NewId();
            var root = RootCA.Create(now);
            var (keyPem, csr) = NodeCertificates.NewKeyAndCsr();
            var certPem = root.SignNodeCertificate(csr, nodeId, NodeCertificates.ManagerRole, swarmId, spec.CertExpiry, now);
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
                store.SaveCertificates(certPem, keyPem, root.CertificatePem);
                var tCerts = clock.Elapsed.TotalMilliseconds;
                host = await StartManagerAsync(cfg, coldStart: true, token).ConfigureAwait(false);
                var tStarted = clock.Elapsed.TotalMilliseconds;
                if (!await host.WaitForLeadershipAsync(TimeSpan.FromSeconds(10), token).ConfigureAwait(false))
                    throw SwarmErrors.NoLeader();
                var tLeader = clock.Elapsed.TotalMilliseconds;
                var cluster = new ClusterObject
                {
                    Id = swarmId, CreatedAt = now, UpdatedAt = now, Spec = spec,
                    RootCACertificate = root.CertificatePem, RootCAKey = root.KeyPem!,
                    WorkerJoinToken = JoinToken.Generate(root.CertificatePemBytes),
                    ManagerJoinToken = JoinToken.Generate(root.CertificatePemBytes),
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
                    tCerts, tStarted, tLeader, clock.Elapsed.TotalMilliseconds);
            }
            catch
            {
                if (host is not null) await host.DisposeAsync().ConfigureAwait(false);
                store.Wipe();
                throw;
            }

            config = cfg;
            manager = host;
            error = null;
            logger.LogInformation("Swarm initialized: current node ({NodeId}) is now a manager, listening on {Listen}, advertising {Advertise}",
                nodeId, cfg.ListenAddress, cfg.AdvertiseAddress);
        }
        finally
        {
            gate.Release();
        }
        return await GetInfoAsync(token).ConfigureAwait(false);
    }

    /// <summary>A single manager is already a cluster of one: -ForceNewCluster has nothing to do.</summary>
    private void CheckForceNewCluster()
    {
        var host = manager ?? throw SwarmErrors.ManagerStarting(error);
        if (host.State.Current.Nodes.Values.Count(n => n.Role == NodeRole.Manager) > 1)
            throw new SwarmException(SwarmErrorKind.NotImplemented, "SwarmForceNewClusterNotSupported",
                "-ForceNewCluster on a swarm with several managers is not supported yet by this version of PSSwarm.");
    }

    internal static ClusterSpec ValidateSpec(Proto.InitRequest request)
    {
        var spec = new ClusterSpec();
        if (request.HasCertExpiry)
        {
            var expiry = TimeSpan.FromMilliseconds(request.CertExpiryMs);
            if (expiry < ClusterSpec.MinCertExpiry)
                throw SwarmErrors.InvalidArgument("minimum certificate expiry time is: 1h0m0s");
            spec = spec with { CertExpiry = expiry };
        }
        if (request.HasDispatcherHeartbeat)
        {
            if (request.DispatcherHeartbeatMs < 0)
                throw SwarmErrors.InvalidArgument("heartbeat time period cannot be a negative duration");
            if (request.DispatcherHeartbeatMs == 0)
                throw SwarmErrors.InvalidArgument("heartbeat time period must be greater than zero");
            spec = spec with { DispatcherHeartbeat = TimeSpan.FromMilliseconds(request.DispatcherHeartbeatMs) };
        }
        if (!Enum.IsDefined(request.Availability))
            throw SwarmErrors.InvalidArgument($"invalid availability \"{request.Availability}\", only active, pause and drain are supported");
        return spec;
    }

    // ---------------------------------------------------------------- leave

    public async Task LeaveAsync(bool force, CancellationToken token)
    {
        await gate.WaitAsync(token).ConfigureAwait(false);
        try
        {
            if (config is null)
            {
                if (error is not null && force) { store.Wipe(); error = null; return; }
                throw SwarmErrors.NotInSwarm();
            }
            if (config.Role == NodeRole.Manager && !force)
            {
                var host = manager;
                var managers = host?.State.Current.Nodes.Values.Count(n => n.Role == NodeRole.Manager) ?? 1;
                if (managers <= 1) throw SwarmErrors.LastManager();
                throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmLeaveManager",
                    "You are attempting to leave the swarm on a node that is participating as a manager. Doing so may lose the consensus of your cluster. The only way to restore a swarm that has lost consensus is to reinitialize it with `-ForceNewCluster`. Use `-Force` to suppress this message.");
            }

            await StopRestartLoopAsync().ConfigureAwait(false);
            if (manager is not null) await manager.DisposeAsync().ConfigureAwait(false);
            manager = null;
            store.Wipe();
            logger.LogInformation("Node left the swarm {SwarmId}", config.SwarmId);
            config = null;
            error = null;
        }
        finally
        {
            gate.Release();
        }
    }

    private static string? NullIfEmpty(string s) => string.IsNullOrWhiteSpace(s) ? null : s;

    private static string HostOf(string hostPort)
    {
        var i = hostPort.LastIndexOf(':');
        var host = i > 0 ? hostPort[..i] : hostPort;
        return host.Trim('[', ']');
    }

    private async Task StopRestartLoopAsync()
    {
        restart.Cancel();
        if (managerStart is not null)
        {
            try { await managerStart.ConfigureAwait(false); } catch (OperationCanceledException) { }
            managerStart = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopRestartLoopAsync().ConfigureAwait(false);
        if (manager is not null) await manager.DisposeAsync().ConfigureAwait(false);
        manager = null;
    }
}
