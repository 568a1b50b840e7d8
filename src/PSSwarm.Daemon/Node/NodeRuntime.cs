using System.Net;
using System.Security.Cryptography.X509Certificates;
using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Ca;
using PSSwarm.Daemon.Cluster;
using PSSwarm.Daemon.Manager;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.Daemon.Node;

/// <summary>
/// One node's life cycle: Inactive, init or join, restart, role changes, leave. Holds the
/// manager component while this node is a manager and the agent (its session with the
/// leader) while it is in a swarm. State-changing operations are serialised by one lock.
/// The control API calls are split over the partial files NodeRuntime.*.cs.
/// </summary>
internal sealed partial class NodeRuntime : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(5);

    private readonly DaemonOptions options;
    private readonly LocalNodeStore store;
    private readonly ILogger logger;
    private readonly ILoggerFactory loggers;
    private readonly SemaphoreSlim gate = new(1, 1);

    private LocalNodeConfig? config;
    private ManagerHost? manager;
    private NodeAgent? agent;
    private ClusterChannels? channels;
    /// <summary>This node's certificate and the swarm's root while it is in a swarm: the one holder of both.</summary>
    private NodeSecurity? security;
    /// <summary>The clock of certificates (issuance, validity, renewal): see <see cref="SwarmClock"/>.</summary>
    private readonly TimeProvider clock = SwarmClock.Create();
    private Task? renewal;
    private CancellationTokenSource membership = new();
    private Task? resume;
    private volatile string? error;
    private int roleChange;

    public NodeRuntime(DaemonOptions options, ILoggerFactory loggers)
    {
        this.options = options;
        this.loggers = loggers;
        logger = loggers.CreateLogger<NodeRuntime>();
        store = new LocalNodeStore(options.DataRoot) { ProtectKey = null };
        store.ProtectKey = ProtectKeyText;
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
            return;
        }
        logger.LogInformation("Rejoining swarm {SwarmId} as {Role} {NodeId}", config.SwarmId, config.Role, config.NodeId);
        var cfg = config;
        var token = membership.Token;
        resume = Task.Run(() => ResumeAsync(cfg, token));
    }

    /// <summary>
    /// Once the control socket answers, an Inactive node runs its CA and client code once in the
    /// background, so that the first Initialize-Swarm or Join-Swarm does not pay start-up costs.
    /// </summary>
    public void WarmUp()
    {
        if (config is null && error is null)
            _ = Task.Run(WarmUpAsync);
    }

    /// <summary>
    /// Runs the CA code, a TLS handshake and a gRPC call once in-process (throwaway keys, an
    /// ephemeral loopback port), so that a first Initialize-Swarm or Join-Swarm does not pay for
    /// loading and compiling them: a CA mismatch must fail in well under a second.
    /// </summary>
    private async Task WarmUpAsync()
    {
        try
        {
            var root = RootCA.Create();
            _ = JoinToken.Generate(root.CertificatePemBytes);
            var (keyPem, csr) = NodeCertificates.NewKeyAndCsr();
            var cert = NodeCertificates.LoadWithKey(
                root.SignNodeCertificate(csr, Identity.NewId(), NodeCertificates.ManagerRole, Identity.NewId(), ClusterSpec.DefaultCertExpiry), keyPem);
            using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var server = Task.Run(async () =>
            {
                using var client = await listener.AcceptTcpClientAsync().ConfigureAwait(false);
                await using var ssl = new System.Net.Security.SslStream(client.GetStream());
                await ssl.AuthenticateAsServerAsync(new System.Net.Security.SslServerAuthenticationOptions
                {
                    ServerCertificate = cert,
                    ApplicationProtocols = [System.Net.Security.SslApplicationProtocol.Http2],
                }).ConfigureAwait(false);
            });
            using var channels = ClusterChannels.ForJoin(new JoinTrust(clock));
            try
            {
                await new NodeCA.NodeCAClient(channels.For($"127.0.0.1:{port}"))
                    .GetRootCACertificateAsync(new GetRootCACertificateRequest(), deadline: DateTime.UtcNow.AddSeconds(3)).ConfigureAwait(false);
            }
            catch (Grpc.Core.RpcException)
            {
                // Expected: the throwaway server does not speak HTTP/2; the client code ran.
            }
            await server.WaitAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            logger.LogDebug("Warm-up: {Error}", e.Message);
        }
    }

    /// <summary>After a restart: the manager component (retried until it starts), then the session.</summary>
    private async Task ResumeAsync(LocalNodeConfig cfg, CancellationToken token)
    {
        try
        {
            LoadSecurity(cfg);
            if (cfg.Role == NodeRole.Manager && dataKey is null) LoadDataKey();
        }
        catch (SwarmException e) when (e.ErrorId == "SwarmLocked")
        {
            locked = true;
            logger.LogWarning("This manager is locked (autolock): run Unlock-Swarm with the swarm's unlock key to start it");
            return;
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or FormatException)
        {
            error = e.Message;
            logger.LogError("{Error}", e.Message);
            return;
        }
        var delay = TimeSpan.FromSeconds(1);
        while (cfg.Role == NodeRole.Manager && !token.IsCancellationRequested)
        {
            try
            {
                var host = await StartManagerAsync(cfg, coldStart: false, token).ConfigureAwait(false);
                await gate.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    if (config?.NodeId != cfg.NodeId || token.IsCancellationRequested) { await host.DisposeAsync().ConfigureAwait(false); return; }
                    manager = host;
                    error = null;
                }
                finally { gate.Release(); }
                logger.LogInformation("Manager started on {Listen}, advertising {Advertise}", cfg.ListenAddress, cfg.AdvertiseAddress);
                break;
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
            try { await Task.Delay(delay, token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
            delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, 30));
        }
        if (!token.IsCancellationRequested) StartAgent(cfg);
    }

    /// <summary>Loads this node's certificates into the one trust holder, and channels that use it.</summary>
    private void LoadSecurity(LocalNodeConfig cfg)
    {
        var (certPem, keyPem, rootPem) = store.LoadCertificates();
        var root = RootCA.Load(rootPem, null);
        var trust = new TrustRoots(root, null, null);
        var (nextPem, crossPem) = store.LoadRotation();
        try { trust = TrustRoots.From(root, nextPem, crossPem); }
        catch (Exception e) when (e is SwarmException or FormatException or ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            logger.LogWarning("Ignored the saved root rotation: {Error}", e.Message);
        }
        security = NewSecurity(trust, cfg.SwarmId, cfg.NodeId, NodeCertificates.LoadWithKey(certPem, ReadableKey(keyPem)));
        channels?.Dispose();
        channels = ClusterChannels.For(security);
    }

    /// <summary>This node's security, whose trust, when it changes (a root rotation), is saved.</summary>
    private NodeSecurity NewSecurity(TrustRoots trust, string swarmId, string nodeId, System.Security.Cryptography.X509Certificates.X509Certificate2 cert)
    {
        var s = new NodeSecurity(trust.Root, swarmId, nodeId, cert, clock);
        s.UpdateTrust(trust);
        s.TrustChanged += SaveTrust;
        return s;
    }

    private async Task<ManagerHost> StartManagerAsync(LocalNodeConfig cfg, bool coldStart, CancellationToken token)
    {
        if (security is null || channels is null) LoadSecurity(cfg);
        if (dataKey is null) LoadDataKey();
        var started = await ManagerHost.StartAsync(new ManagerHostOptions
        {
            Listen = IPEndPoint.Parse(cfg.ListenAddress),
            AdvertiseAddress = cfg.AdvertiseAddress,
            Security = security!,
            Channels = channels!,
            KnownManagers = cfg.ManagerPeers,
            RaftDir = store.RaftDir,
            ColdStart = coldStart,
            LogLevel = options.LogLevel,
            DataKey = dataKey,
            ClusterChanged = FollowAutolock,
        }, token).ConfigureAwait(false);
        started.Faulted += (reason, restart) => _ = Task.Run(() => restart
            ? RestartManagerAsync(started, reason)
            : StopFaultyManagerAsync(started, reason));
        return started;
    }

    /// <summary>A store that cannot go on (an entry this version cannot read): stopped, and the node says why.</summary>
    private async Task StopFaultyManagerAsync(ManagerHost faulty, string reason)
    {
        await gate.WaitAsync().ConfigureAwait(false);
        try
        {
            error = $"the swarm store on this manager stopped: {reason}";
            if (!ReferenceEquals(manager, faulty)) return;
            manager = null;
            await faulty.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    private DateTime lastManagerRestart = DateTime.MinValue;

    /// <summary>The watchdog's remedy: the same store, restarted in place (at most once a minute).</summary>
    private async Task RestartManagerAsync(ManagerHost faulty, string reason)
    {
        var wait = lastManagerRestart + TimeSpan.FromMinutes(1) - DateTime.UtcNow;
        if (wait > TimeSpan.Zero) await Task.Delay(wait).ConfigureAwait(false);
        await gate.WaitAsync().ConfigureAwait(false);
        try
        {
            var cfg = config;
            if (!ReferenceEquals(manager, faulty) || cfg is null || cfg.Role != NodeRole.Manager) return;
            lastManagerRestart = DateTime.UtcNow;
            logger.LogWarning("Restarting the manager store ({Reason})", reason);
            manager = null;
            await faulty.DisposeAsync().ConfigureAwait(false);
            manager = await StartManagerAsync(cfg, coldStart: false, membership.Token).ConfigureAwait(false);
            logger.LogInformation("Manager store restarted");
        }
        catch (Exception e)
        {
            error = $"the manager store could not be restarted: {e.Message}";
            logger.LogError("{Error}", error);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Starts this node's session with the leader.</summary>
    private void StartAgent(LocalNodeConfig cfg)
    {
        var period = manager?.State.Current.Cluster?.Spec.DispatcherHeartbeat ?? ClusterSpec.DefaultDispatcherHeartbeat;
        var token = membership.Token;
        renewal ??= Task.Run(() => RenewLoopAsync(token));
        agent = new NodeAgent(cfg.Managers, period, () => channels!, () => new HeartbeatRequest
            {
                Address = AdvertisedIp(config ?? cfg),
                Hostname = options.NodeName,
                Version = Version,
                Manager = config?.Role == NodeRole.Manager,
            },
            result => OnHeartbeatAsync(result, token),
            message =>
            {
                error = message;
                logger.LogError("{Error}", message);
            },
            loggers.CreateLogger<NodeAgent>());
        agent.Start();
    }

    /// <summary>Keeps the manager list current and acts on role changes (promotion, demotion).</summary>
    private Task OnHeartbeatAsync(HeartbeatResult result, CancellationToken token)
    {
        var cfg = config;
        if (cfg is null || token.IsCancellationRequested) return Task.CompletedTask;
        if (!CertificateExpired()) error = null;
        desiredCertExpiry = result.CertExpiry;
        Volatile.Write(ref desiredIssuer, result.DesiredIssuer);
        if (manager is null) FollowTrust(result); // a manager follows its own store
        var peers = result.ManagerPeers;
        if ((result.Managers.Length > 0 && !result.Managers.SequenceEqual(cfg.Managers))
            || (peers.Count > 0 && !SameManagers(peers, cfg.ManagerPeers)))
        {
            var updated = cfg with
            {
                Managers = result.Managers.Length > 0 ? result.Managers.ToList() : cfg.Managers,
                ManagerPeers = peers.Count > 0 ? new Dictionary<string, string>(peers, StringComparer.Ordinal) : cfg.ManagerPeers,
            };
            try { store.SaveConfig(updated); config = updated; }
            catch (IOException e) { logger.LogWarning("Could not save the manager list: {Error}", e.Message); }
        }
        var isManager = cfg.Role == NodeRole.Manager;
        if (result.DesiredManager != isManager && Interlocked.CompareExchange(ref roleChange, 1, 0) == 0)
        {
            // Outside the agent's loop: the role change restarts the agent.
            _ = Task.Run(async () =>
            {
                try { await ChangeRoleAsync(result.DesiredManager, token).ConfigureAwait(false); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    error = $"role change failed: {e.Message}";
                    logger.LogError("Role change to {Role} failed: {Error}", result.DesiredManager ? "manager" : "worker", e.Message);
                }
                finally { Interlocked.Exchange(ref roleChange, 0); }
            }, CancellationToken.None);
        }
        return Task.CompletedTask;
    }

    /// <summary>Stops everything this node runs for its swarm (agent, manager component, channels).</summary>
    private async Task StopMembershipAsync()
    {
        membership.Cancel();
        // Each part stops even when another fails: a leave must never get stuck half-way.
        await Quietly(async () => { if (resume is not null) await resume.ConfigureAwait(false); }).ConfigureAwait(false);
        resume = null;
        await Quietly(async () => { if (agent is not null) await agent.DisposeAsync().ConfigureAwait(false); }).ConfigureAwait(false);
        agent = null;
        await Quietly(async () => { if (manager is not null) await manager.DisposeAsync().ConfigureAwait(false); }).ConfigureAwait(false);
        manager = null;
        await Quietly(async () => { if (renewal is not null) await renewal.ConfigureAwait(false); }).ConfigureAwait(false);
        renewal = null;
        await Quietly(() => { channels?.Dispose(); return Task.CompletedTask; }).ConfigureAwait(false);
        channels = null;
        security = null;
        membership = new CancellationTokenSource();
    }

    private async Task Quietly(Func<Task> step)
    {
        try { await step().ConfigureAwait(false); }
        catch (Exception e) { logger.LogDebug("While stopping: {Error}", e.Message); }
    }

    /// <summary>The IP this node advertises, or empty when it has none of its own (the manager then keeps the one it saw).</summary>
    private static string AdvertisedIp(LocalNodeConfig cfg)
    {
        var ip = HostOf(cfg.AdvertiseAddress);
        return ip is "0.0.0.0" or "::" ? "" : ip;
    }

    private static string? NullIfEmpty(string s) => string.IsNullOrWhiteSpace(s) ? null : s;

    /// <summary>The IP of an "ip:port" / "[v6]:port" address as this node stores them.</summary>
    internal static string HostOf(string hostPort)
        => IPEndPoint.TryParse(hostPort, out var ep) ? ep.Address.ToString() : hostPort;

    public async ValueTask DisposeAsync()
    {
        await StopMembershipAsync().ConfigureAwait(false);
    }
}
