using System.Net;
using System.Security.Cryptography.X509Certificates;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Http;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Ca;
using PSSwarm.Daemon.Cluster;
using PSSwarm.Daemon.Control;
using PSSwarm.Protocol.Cluster;
using PSSwarm.Daemon.Node;

namespace PSSwarm.Daemon.Manager;

internal sealed record ManagerHostOptions
{
    public required IPEndPoint Listen { get; init; }
    /// <summary>host:port other managers use to reach this one (the Raft member address).</summary>
    public required string AdvertiseAddress { get; init; }
    /// <summary>This node's certificate and the swarm's root: the listener and the Raft client ask it on every handshake.</summary>
    public required NodeSecurity Security { get; init; }
    public string NodeId => Security.NodeId;
    /// <summary>mTLS channels to the other managers (forwarded writes, membership changes).</summary>
    public required ClusterChannels Channels { get; init; }
    /// <summary>Managers (node ID to Raft address) the swarm named to this node, for a store still catching up.</summary>
    public IReadOnlyDictionary<string, string> KnownManagers { get; init; } = new Dictionary<string, string>();
    public required string RaftDir { get; init; }
    /// <summary>True only on the node that runs Initialize-Swarm (DESIGN.md: a cold-started joiner diverges).</summary>
    public bool ColdStart { get; init; }
    public LogLevel LogLevel { get; init; } = LogLevel.Information;
    public int LowerElectionTimeoutMs { get; init; } = 500;
    public int UpperElectionTimeoutMs { get; init; } = 1000;
    /// <summary>The swarm's data key (<see cref="StoreCipher"/>); null for a swarm created without one.</summary>
    public byte[]? DataKey { get; init; }
    /// <summary>Raised (off the store's thread) when the store's cluster object changed: autolock, the unlock key.</summary>
    public Action<ClusterObject>? ClusterChanged { get; init; }
}

/// <summary>
/// A manager's share of the swarm: the TLS listener (gRPC cluster API and Raft over HTTP/2 on
/// one port, as Docker shares 2377), the DotNext Raft node and the replicated store.
/// One instance lives from Initialize-Swarm/Join-Swarm (or a restart) until Exit-Swarm.
/// </summary>
internal sealed class ManagerHost : IAsyncDisposable, ISwarmView, Store.ISwarmStore
{
    public const string RaftPath = "/cluster-consensus/raft";
    private const string RaftClientName = "psswarm-raft";

    private readonly WebApplication app;
    private readonly WriteAheadLog wal;
    private readonly SwarmStateMachine stateMachine;
    private readonly ILogger logger;
    private int disposed;

    private readonly StoreCipher cipher;

    private ManagerHost(WebApplication app, WriteAheadLog wal, SwarmStateMachine stateMachine, ManagerHostOptions options)
    {
        cipher = new StoreCipher(options.DataKey);
        this.app = app;
        this.wal = wal;
        this.stateMachine = stateMachine;
        Options = options;
        Cluster = app.Services.GetRequiredService<IRaftHttpCluster>();
        leaderContact = NewContact(TimeSpan.FromMilliseconds(options.UpperElectionTimeoutMs));
        Dispatcher = app.Services.GetRequiredService<Dispatcher>();
        CA = new ClusterCA(this);
        logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("PSSwarm.Manager");
    }

    public Dispatcher Dispatcher { get; }

    /// <summary>Signs node certificates with the root and key the store holds.</summary>
    public ClusterCA CA { get; }

    private IReadOnlyCollection<IRaftClusterMember> RaftMembers => ((IRaftCluster)Cluster).Members;

    public ManagerHostOptions Options { get; }
    public IRaftHttpCluster Cluster { get; }
    public SwarmState State => stateMachine.State;

    SwarmState.Snapshot ISwarmView.State => stateMachine.State.Current;

    SwarmState.Snapshot Store.ISwarmStore.Current => stateMachine.State.Current;

    Task<SwarmState.Snapshot> Store.ISwarmStore.WaitForChangeAsync(long afterVersion, CancellationToken token)
        => stateMachine.State.WaitForChangeAsync(afterVersion, token);

    /// <summary>
    /// Whether a Raft address is a voting member. A manager that is not a member itself yet (it is
    /// catching up before the configuration that adds it reaches it) cannot know: the store decides.
    /// </summary>
    public bool IsRaftMember(string address)
    {
        var members = RaftMembers;
        return !members.Any(m => !m.IsRemote) || members.Any(m => FormatEndPoint(m.EndPoint) == address);
    }

    public IReadOnlyDictionary<string, string> KnownManagers => Options.KnownManagers;

    /// <summary>A node the store lists as a manager now (true while the store is still empty and the node was named by the swarm).</summary>
    public bool IsCurrentManager(string nodeId)
    {
        var state = State.Current;
        if (state.RemovedNodes.Contains(nodeId)) return false;
        return state.Nodes.TryGetValue(nodeId, out var node)
            ? node.Role == NodeRole.Manager
            : Options.KnownManagers.ContainsKey(nodeId);
    }
    public bool IsLeader => !Cluster.LeadershipToken.IsCancellationRequested;

    /// <summary>This node leads and holds its lease: a majority acknowledged it within the lease period.</summary>
    public bool HoldsLease => IsLeader && ((IRaftCluster)Cluster).TryGetLeaseToken(out var lease) && !lease.IsCancellationRequested;

    /// <summary>
    /// Contact with a remote leader: a token cancelled once no AppendEntries or InstallSnapshot from
    /// the current leader has arrived for the upper election timeout (then DotNext's own election
    /// timer has fired too). The host's start counts as contact: a restarted node gets that long to
    /// hear from a leader.
    /// </summary>
    private volatile CancellationTokenSource leaderContact;

    private TimeSpan ContactTimeout => TimeSpan.FromMilliseconds(Options.UpperElectionTimeoutMs);

    private static CancellationTokenSource NewContact(TimeSpan timeout)
    {
        var cts = new CancellationTokenSource();
        cts.CancelAfter(timeout);
        return cts;
    }

    /// <summary>A remote leader was heard from within the upper election timeout.</summary>
    public bool HasLeaderContact => !leaderContact.IsCancellationRequested;

    private void MarkLeaderContact()
    {
        var current = leaderContact;
        // Re-arm the running timer; a lapsed source is replaced (lapsed sources are never disposed:
        // calls in flight hold their tokens, and a cancelled source holds no timer).
        current.CancelAfter(ContactTimeout);
        if (!current.IsCancellationRequested) return;
        var fresh = NewContact(ContactTimeout);
        if (Interlocked.CompareExchange(ref leaderContact, fresh, current) != current) fresh.Dispose();
    }

    /// <summary>Called after DotNext answered a Raft request: notes contact when the current leader sent log entries or a heartbeat.</summary>
    internal void OnRaftRequestServed(HttpContext context)
    {
        if (context.Response.StatusCode != StatusCodes.Status200OK) return;
        // Any Raft message from a member (the access policy admitted only members): this node is
        // not cut off, and an election it hears of may give it a leader within the wait.
        Volatile.Write(ref peerContactTicks, Environment.TickCount64);
        var type = context.Request.Headers["X-Raft-Message-Type"];
        if (type.Count != 1 || type[0] is not ("AppendEntries" or "InstallSnapshot")) return;
        if (Cluster.Leader is not { IsRemote: true } leader) return;
        var sender = context.Request.Headers[ClusterAccessPolicy.RaftSenderHeader];
        if (sender.Count == 1 && DotNext.Net.Cluster.ClusterMemberId.TryParse(sender[0], out var id) && id.Equals(leader.Id))
            MarkLeaderContact();
    }

    private long peerContactTicks = Environment.TickCount64;

    /// <summary>Some member sent this node a Raft message (entries, a vote request) within the upper election timeout.</summary>
    private bool HasPeerContact => Environment.TickCount64 - Volatile.Read(ref peerContactTicks) < Options.UpperElectionTimeoutMs;

    /// <summary>
    /// This node has no leader it can reach: it does not lead (or stepped down without hearing of a
    /// successor), no leader has been heard from within the upper election timeout, and no member
    /// has sent it anything in that time either (on the majority side of a lost leader the others'
    /// vote requests arrive, and a call waits for the election; a node cut off hears nothing).
    /// </summary>
    private bool LeaderOutOfReach
    {
        get
        {
            if (IsLeader || HasLeaderContact || HasPeerContact) return false;
            // The only voting member (its peer just left): it elects itself within the election timeout.
            if (RaftMembers.Count <= 1) return false;
            // Elected, committing its first entry: it leads within a heartbeat.
            return Cluster.Leader is not { IsRemote: false } || ((IRaftCluster)Cluster).ConsensusToken.IsCancellationRequested;
        }
    }

    /// <summary>The leader's Raft address as host:port, or null while there is none.</summary>
    public string? LeaderAddress => Cluster.Leader?.EndPoint is { } ep ? FormatEndPoint(ep) : null;

    public static string FormatEndPoint(EndPoint ep) => ep switch
    {
        Microsoft.AspNetCore.Connections.UriEndPoint u => u.Uri.Authority,
        IPEndPoint ip => ip.ToString(),
        DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        _ => ep.ToString() ?? "",
    };

    public static async Task<ManagerHost> StartAsync(ManagerHostOptions options, CancellationToken token)
    {
        SecureFiles.EnsureDirectory(options.RaftDir);
        var snapshots = Path.Combine(options.RaftDir, "snapshots");
        SecureFiles.EnsureDirectory(snapshots);
        SecureFiles.EnsureDirectory(Path.Combine(options.RaftDir, "wal"));

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        ConfigureLogging(builder.Logging, options.LogLevel);
        var stateLogger = LoggerFactory.Create(l => ConfigureLogging(l, options.LogLevel)).CreateLogger("PSSwarm.Store");

        // Restore the snapshot before the WAL is built, or the whole log replays (DESIGN.md).
        var stateMachine = new SwarmStateMachine(new DirectoryInfo(snapshots), stateLogger, SnapshotInterval(), new StoreCipher(options.DataKey));
        await stateMachine.RestoreAsync(token).ConfigureAwait(false);
        var wal = new WriteAheadLog(new WriteAheadLog.Options
        {
            Location = Path.Combine(options.RaftDir, "wal"),
            ChunkSize = 1024 * 1024,
        }, stateMachine);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(options.Listen, listen =>
            {
                // HTTP/2 only (gRPC and DotNext's Raft client both speak it): nothing on 2377 needs HTTP/1.1.
                listen.Protocols = HttpProtocols.Http2;
                listen.UseHttps(new TlsHandshakeCallbackOptions
                {
                    // Asked on every handshake: a renewed certificate is served without a restart,
                    // with the cross-signed intermediate while it is from a rotation's next root.
                    // The handshake completes without a client certificate (root CA fetch, join);
                    // every other call checks it (ClusterAuth).
                    OnConnection = _ => ValueTask.FromResult(new System.Net.Security.SslServerAuthenticationOptions
                    {
                        ServerCertificateContext = options.Security.ServerCertificateContext(),
                        ClientCertificateRequired = true,
                        RemoteCertificateValidationCallback = (_, _, _, _) => true,
                        ApplicationProtocols = [System.Net.Security.SslApplicationProtocol.Http2],
                    }),
                });
            });
        });

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(options.Security);
        services.AddSingleton(stateMachine);
        services.AddSingleton<IStateMachine>(stateMachine);
        services.AddSingleton<IPersistentState>(wal);
        services.UsePersistentConfigurationStorage(Path.Combine(options.RaftDir, "members"));
        services.AddSingleton<ManagerHostAccessor>();
        services.AddSingleton<Dispatcher>();
        services.AddSingleton(new JoinLimiter(TimeProvider.System));
        services.AddGrpc(o =>
        {
            o.Interceptors.Add<ErrorInterceptor>();
            // The largest legitimate message is a forwarded write or a CSR: a few KiB.
            o.MaxReceiveMessageSize = ClusterChannels.MaxMessageSize;
            o.MaxSendMessageSize = ClusterChannels.MaxMessageSize;
        });
        services.AddHttpClient(RaftClientName).ConfigurePrimaryHttpMessageHandler(() => new RenewableHandler(options.Security, () => new SocketsHttpHandler
        {
            // A peer behind a cut link (packets dropped, not refused) must not hold a vote round open:
            // DotNext's candidate tallies only once every member answered. New connections give up
            // within the lower election timeout; a dead connection is found by HTTP/2 pings.
            ConnectTimeout = TimeSpan.FromMilliseconds(options.LowerElectionTimeoutMs * 4 / 5),
            KeepAlivePingDelay = TimeSpan.FromSeconds(1),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(1),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            SslOptions = options.Security.ClientOptions(),
        }));
        builder.JoinCluster((member, _, _) =>
        {
            member.PublicEndPoint = new Uri($"https://{options.AdvertiseAddress}/");
            member.ColdStart = options.ColdStart;
            member.LowerElectionTimeout = options.LowerElectionTimeoutMs;
            member.UpperElectionTimeout = options.UpperElectionTimeoutMs;
            member.HeartbeatThreshold = 0.2;
            member.RequestTimeout = TimeSpan.FromSeconds(5);
            // A leader learns that it lost its quorum when its heartbeats time out: 1 s bounds that.
            member.RpcTimeout = TimeSpan.FromSeconds(1);
            member.ProtocolVersion = DotNext.Net.Http.HttpProtocolVersion.Http2;
            member.ClientHandlerName = RaftClientName;
            // A joining manager starts with an empty log and the swarm state is small: two rounds
            // of catch-up before the membership change is plenty (the default is 10).
            member.WarmupRounds = 2;
            // Lease-based linearizable reads on the leader: no heartbeat round per read.
            member.IsLeaderLeaseEnabled = true;
        });

        var app = builder.Build();
        // Route first, then authorize by the endpoint that matched (ClusterAccessPolicy), then run it.
        app.UseRouting();
        app.UseMiddleware<ClusterAuthMiddleware>();
        // DotNext's Raft handler runs only as this endpoint's delegate: the route is the only way in,
        // and the policy sees the route, not the path string (DotNext maps its path case-insensitively).
        var raft = ((IApplicationBuilder)app).New();
        raft.UseConsensusProtocolHandler();
        var raftHandler = raft.Build();
        var accessor = app.Services.GetRequiredService<ManagerHostAccessor>();
        MapClusterEndpoints(app, async context =>
        {
            await raftHandler(context).ConfigureAwait(false);
            accessor.Current?.OnRaftRequestServed(context);
        });

        try
        {
            await app.StartAsync(token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            await wal.DisposeAsync().ConfigureAwait(false);
            await stateMachine.DisposeAsync().ConfigureAwait(false);
            if (e is IOException || e.InnerException is System.Net.Sockets.SocketException or Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                var reason = e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException ? "address already in use"
                    : (e.InnerException ?? e).Message;
                throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmListenFailed",
                    $"failed to listen on {options.Listen}: {reason}", e);
            }
            throw;
        }

        var host = new ManagerHost(app, wal, stateMachine, options);
        app.Services.GetRequiredService<ManagerHostAccessor>().Host = host;
        // Managers this node dials (Raft, forwarded writes) must be managers in the store now.
        options.Security.IsCurrentManager = host.IsCurrentManager;
        stateMachine.Halted += reason => host.ReportFault(reason, restart: false);
        host.Dispatcher.Start();
        host.watch = Task.Run(() => host.WatchStoreAsync(host.stopping.Token));
        return host;
    }

    /// <summary>Every endpoint of the 2377 listener; ClusterAccessPolicy's table names each of them.</summary>
    internal static void MapClusterEndpoints(IEndpointRouteBuilder endpoints, RequestDelegate raft)
    {
        endpoints.MapPost(RaftPath, raft).WithMetadata(RaftEndpointMetadata.Instance);
        endpoints.MapGrpcService<NodeCAService>();
        endpoints.MapGrpcService<DispatcherService>();
        endpoints.MapGrpcService<RaftControlService>();
    }

    /// <summary>
    /// Entries between snapshots: rare by default (the state is small, and DESIGN.md's DotNext
    /// defects live around snapshots); PSSWARM_SNAPSHOT_INTERVAL lowers it for stress tests.
    /// </summary>
    private static long SnapshotInterval()
        => long.TryParse(Environment.GetEnvironmentVariable("PSSWARM_SNAPSHOT_INTERVAL"), out var n) && n > 0
            ? n : SwarmStateMachine.DefaultSnapshotInterval;

    private static void ConfigureLogging(ILoggingBuilder logging, LogLevel level)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; o.UseUtcTimestamp = true; });
        logging.SetMinimumLevel(level);
        logging.AddFilter("Microsoft", level > LogLevel.Warning ? level : LogLevel.Warning);
        logging.AddFilter("System.Net.Http", LogLevel.Warning);
        // DotNext logs every unreachable peer as a warning with a stack trace: keep those for debug runs.
        logging.AddFilter("DotNext", level <= LogLevel.Debug ? level : LogLevel.Error);
        logging.AddFilter("Grpc", level > LogLevel.Warning ? level : LogLevel.Warning);
    }

    /// <summary>
    /// How long a call waits for a leader while one may still be elected (a leader was heard from
    /// within the upper election timeout, or this node was just elected): longer than an election on
    /// a healthy swarm. A node with no leader in reach does not wait (<see cref="WaitForLeaderAsync"/>).
    /// </summary>
    private static readonly TimeSpan LeaderWait = TimeSpan.FromSeconds(1.5);

    /// <summary>
    /// Waits until a leader this node can use is known: this node leading, or a remote leader heard
    /// from within the upper election timeout. False at once when no leader is in reach (a manager
    /// cut off from the quorum answers the no-leader error within the election timeout, not later).
    /// </summary>
    public async Task<bool> WaitForLeaderAsync(TimeSpan timeout, CancellationToken token)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (IsLeader || (Cluster.Leader is { IsRemote: true } && HasLeaderContact)) return true;
            if (LeaderOutOfReach || DateTime.UtcNow >= deadline) return false;
            await Task.Delay(10, token).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until this node leads.</summary>
    public async Task<bool> WaitForLeadershipAsync(TimeSpan timeout, CancellationToken token)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(token);
        cts.CancelAfter(timeout);
        try
        {
            await Cluster.WaitForLeadershipAsync(cts.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// Writes a command through the Raft log; returns once it is committed and applied here.
    /// On the leader the command is first validated against the current state (nothing a replica
    /// could fail on enters the log); a follower forwards it to the leader, which validates it.
    /// While leadership moves (an election, a membership change) it retries for a bounded time.
    /// </summary>
    public async Task ProposeAsync(SwarmCommand command, CancellationToken token)
    {
        var bytes = command.ToBytes();
        var deadline = DateTime.UtcNow + ProposeTimeout;
        for (var attempt = 1; ; attempt++)
        {
            if (!await WaitForLeaderAsync(LeaderWait, token).ConfigureAwait(false))
                throw SwarmErrors.NoLeader();
            try
            {
                if (IsLeader)
                {
                    CommandValidator.Validate(command, State.Current);
                    await Cluster.ReplicateAsync(cipher.Seal(bytes), null, token).ConfigureAwait(false);
                    return;
                }
                if (LeaderAddress == Options.AdvertiseAddress)
                    throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmNotLeader", "leadership is moving");
                await ForwardAsync(async (client, t) => await new RaftControl.RaftControlClient(client)
                    .ProposeAsync(new ProposeRequest { Command = Google.Protobuf.ByteString.CopyFrom(bytes) }, deadline: Deadline(), cancellationToken: t), token)
                    .ConfigureAwait(false);
                // Read your writes: wait until this follower has applied what the leader committed.
                await ReadBarrierAsync(token).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (Retryable(e) && DateTime.UtcNow < deadline && !token.IsCancellationRequested)
            {
                logger.LogDebug("Write attempt {Attempt} failed ({Error}); retrying", attempt, e.Message);
                await Task.Delay(Math.Min(50 * attempt, 500), token).ConfigureAwait(false);
            }
            catch (Exception e) when (Retryable(e))
            {
                throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmNoLeader", SwarmErrors.NoLeader().Message, e);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or AggregateException)
            {
                // DESIGN.md defect 2: the WAL's flusher can die ("WAL page N doesn't exist on the
                // disk"); the store is then unusable until restarted. Ask the runtime to restart it.
                ReportFault($"the Raft log failed: {e.Message}");
                throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmStoreFailed",
                    "The swarm store on this manager failed and is being restarted; try again in a few seconds.", e);
            }
        }
    }

    private static readonly TimeSpan ProposeTimeout = TimeSpan.FromSeconds(10);

    private static bool Retryable(Exception e) => e is InvalidOperationException and not ObjectDisposedException
        || e is SwarmException { ErrorId: "SwarmNotLeader" or "SwarmManagerUnreachable" or "SwarmNoLeader" }
        || e.GetType().Name.Contains("NotLeader", StringComparison.Ordinal);

    /// <summary>Raised (once) when the store is unusable and must be restarted; the argument says why.</summary>
    public event Action<string, bool>? Faulted;

    private int faulted;

    /// <summary>
    /// The store is unusable: restart it in place (the DotNext defects), or, when a restart cannot
    /// help (an entry this version cannot read), stop it and say why.
    /// </summary>
    public void ReportFault(string reason, bool restart = true)
    {
        if (Interlocked.Exchange(ref faulted, 1) != 0) return;
        logger.LogError("Manager store fault: {Reason}", reason);
        Faulted?.Invoke(reason, restart);
    }

    private static DateTime Deadline() => DateTime.UtcNow.AddSeconds(15);

    /// <summary>
    /// Runs a call on the leader's cluster API (this node's own when it leads). The call is given up
    /// as soon as Raft says that leader no longer leads (an election, or this node cut off from it):
    /// a leader behind a cut link drops packets, and the call would otherwise wait for its deadline
    /// before the caller could learn that no quorum is left.
    /// </summary>
    /// <param name="giveUpOnLeaderLoss">
    /// False for a call whose success itself ends this node's view of the leader (its own removal from the
    /// Raft membership): that call is bounded by its deadline only, or the answer to a removal that
    /// happened would be lost to the leader change it causes.
    /// </param>
    public async Task<T> ForwardAsync<T>(Func<Grpc.Net.Client.GrpcChannel, CancellationToken, Task<T>> call, CancellationToken token,
        bool giveUpOnLeaderLoss = true)
    {
        var leader = LeaderAddress ?? throw SwarmErrors.NoLeader();
        if (!giveUpOnLeaderLoss)
        {
            try { return await call(Options.Channels.For(leader), token).ConfigureAwait(false); }
            catch (Grpc.Core.RpcException e) { throw ClusterChannels.Translate(e, leader); }
        }
        // Also given up when the leader falls silent for the election timeout (a cut link drops
        // packets: the call would otherwise wait for a connect timeout or its deadline).
        using var leaderLost = CancellationTokenSource.CreateLinkedTokenSource(token, leaderContact.Token);
        void OnLeaderChanged(DotNext.Net.Cluster.ICluster _, DotNext.Net.Cluster.IClusterMember? now)
        {
            // Raised on DotNext's own thread, inside its state change: the call's cancellation runs
            // elsewhere (its callbacks do gRPC work), and nothing is ever thrown back into DotNext.
            if (now?.EndPoint is { } ep && FormatEndPoint(ep) == leader) return;
            ThreadPool.UnsafeQueueUserWorkItem(static source =>
            {
                try { source.Cancel(); }
                catch (ObjectDisposedException) { } // the call ended meanwhile
                catch (AggregateException) { }      // a callback of the ended call failed: nothing to do
            }, leaderLost, preferLocal: false);
        }
        var cluster = (DotNext.Net.Cluster.ICluster)Cluster;
        cluster.LeaderChanged += OnLeaderChanged;
        try
        {
            if (LeaderAddress != leader) leaderLost.Cancel(); // changed before we subscribed
            return await call(Options.Channels.For(leader), leaderLost.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (leaderLost.IsCancellationRequested && !token.IsCancellationRequested
                                  && e is OperationCanceledException or Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.Cancelled })
        {
            // Docker's no-leader error (writes retry on it while a new leader may still be elected).
            logger.LogDebug("Call to the leader {Leader} given up: it no longer leads", leader);
            throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmNoLeader", SwarmErrors.NoLeader().Message, e);
        }
        catch (Grpc.Core.RpcException e)
        {
            throw ClusterChannels.Translate(e, leader);
        }
        finally
        {
            cluster.LeaderChanged -= OnLeaderChanged;
        }
    }

    /// <summary>Raft address of a manager as a member URI.</summary>
    public static Uri MemberUri(string hostPort) => new($"https://{hostPort}/");

    private readonly SemaphoreSlim membership = new(1, 1);

    /// <summary>On the leader: adds a voting member (one change at a time, as DotNext requires).</summary>
    public async Task AddMemberAsync(string address, CancellationToken token)
    {
        if (!IsLeader) throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmNotLeader", LeaderAddress ?? "");
        await membership.WaitAsync(token).ConfigureAwait(false);
        try
        {
            if (RaftMembers.Any(m => FormatEndPoint(m.EndPoint) == address)) return;
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(token);
            cts.CancelAfter(TimeSpan.FromSeconds(20));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            // DotNext gives up when the new member does not catch up within its warm-up rounds,
            // which a loaded machine can make it miss once: try again while the time allows.
            for (var attempt = 1; ; attempt++)
            {
                if (await Cluster.AddMemberAsync(MemberUri(address), cts.Token).ConfigureAwait(false)) break;
                if (attempt == 3 || clock.Elapsed > TimeSpan.FromSeconds(12) || !IsLeader)
                    throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmAddMemberFailed",
                        $"could not connect to prospective new cluster member using its advertised address {address}");
                logger.LogInformation("Adding Raft member {Address}: attempt {Attempt} did not catch it up; trying again", address, attempt);
                await Task.Delay(200 * attempt, cts.Token).ConfigureAwait(false);
            }
            logger.LogInformation("Added Raft member {Address} in {Elapsed:0} ms", address, clock.Elapsed.TotalMilliseconds);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            throw new SwarmException(SwarmErrorKind.OperationTimeout, "SwarmAddMemberTimeout",
                $"could not connect to prospective new cluster member using its advertised address {address} (timed out)");
        }
        finally
        {
            membership.Release();
        }
    }

    /// <summary>
    /// Removes a member: on the leader directly; a leader asked to remove itself first hands
    /// leadership over, then asks the new leader; a follower forwards to the leader.
    /// </summary>
    public async Task RemoveMemberAsync(string address, CancellationToken token, bool leaving = false, bool leftSwarm = false)
    {
        if (IsLeader && address == Options.AdvertiseAddress)
        {
            logger.LogInformation("Resigning leadership before leaving the Raft membership");
            await Cluster.ResignAsync(token).ConfigureAwait(false);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while ((IsLeader || LeaderAddress is null || LeaderAddress == address) && DateTime.UtcNow < deadline)
                await Task.Delay(20, token).ConfigureAwait(false);
            if (IsLeader || LeaderAddress is null || LeaderAddress == address) throw SwarmErrors.NoLeader();
        }
        if (!IsLeader)
        {
            await ForwardAsync(async (channel, t) => await new RaftControl.RaftControlClient(channel)
                .RemoveMemberAsync(new MemberRequest { Address = address, Leaving = leaving, LeftSwarm = leftSwarm, NodeId = leaving ? Options.NodeId : "" },
                    deadline: Deadline(), cancellationToken: t), token,
                giveUpOnLeaderLoss: address != Options.AdvertiseAddress).ConfigureAwait(false);
            return;
        }
        await membership.WaitAsync(token).ConfigureAwait(false);
        try
        {
            if (!RaftMembers.Any(m => FormatEndPoint(m.EndPoint) == address)) return;
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(token);
            cts.CancelAfter(TimeSpan.FromSeconds(15));
            await Cluster.RemoveMemberAsync(MemberUri(address), cts.Token).ConfigureAwait(false);
            logger.LogInformation("Removed Raft member {Address}", address);
        }
        finally
        {
            membership.Release();
        }
    }

    /// <summary>host:port of every manager that is a Raft member, the leader first (lost managers are not handed out).</summary>
    public string[] ManagerAddresses() => (string[])Managers().Addresses.Clone();

    /// <summary>Node ID and Raft address of every manager that is a Raft member.</summary>
    public IReadOnlyList<(string NodeId, string Address)> ManagerPeerList() => Managers().Peers;

    private sealed record ManagersView(long Version, string? Leader, long Ticks, string[] Addresses, (string NodeId, string Address)[] Peers);

    private ManagersView? managersView;

    /// <summary>
    /// The managers, computed once per store version and leader (and at least every second, for
    /// Raft membership changes): every heartbeat answer names them, and scanning thousands of
    /// nodes on each of a thousand heartbeats a second would cost the leader a core.
    /// </summary>
    private ManagersView Managers()
    {
        var state = State.Current;
        var leader = LeaderAddress;
        var now = Environment.TickCount64;
        if (managersView is { } v && v.Version == state.Version && v.Leader == leader && now - v.Ticks < 1000) return v;
        var managers = state.Nodes.Values
            .Where(n => n.Role == NodeRole.Manager && n.ManagerAddress.Length > 0 && IsRaftMember(n.ManagerAddress))
            .ToList();
        var view = new ManagersView(state.Version, leader, now,
            managers.Select(n => n.ManagerAddress).OrderBy(a => a == leader ? 0 : 1).ThenBy(a => a, StringComparer.Ordinal).ToArray(),
            managers.Select(n => (n.Id, n.ManagerAddress)).ToArray());
        managersView = view;
        return view;
    }

    /// <summary>
    /// The managers the leader cannot reach (its Raft view of its followers), asked of the
    /// leader when this manager follows. Quorum checks use this, not heartbeat status, which
    /// lags by up to three heartbeat periods.
    /// </summary>
    public async Task<IReadOnlySet<string>> UnreachableMembersAsync(CancellationToken token)
    {
        if (!await WaitForLeaderAsync(LeaderWait, token).ConfigureAwait(false))
            throw SwarmErrors.NoLeader();
        if (IsLeader)
            return RaftMembers.Where(m => m.IsRemote && m.Status == DotNext.Net.Cluster.ClusterMemberStatus.Unavailable)
                .Select(m => FormatEndPoint(m.EndPoint)).ToHashSet(StringComparer.Ordinal);
        var response = await ForwardAsync(async (channel, t) => await new RaftControl.RaftControlClient(channel)
            .ReadIndexAsync(new ReadIndexRequest(), deadline: Deadline(), cancellationToken: t), token).ConfigureAwait(false);
        return response.Unreachable.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Raft addresses of the current voting members.</summary>
    public IReadOnlyList<string> MemberAddresses => RaftMembers.Select(m => FormatEndPoint(m.EndPoint)).ToList();

    /// <summary>This node's view of a member: the leader sees its followers' replication status.</summary>
    public DotNext.Net.Cluster.ClusterMemberStatus? MemberStatus(string address)
        => RaftMembers.FirstOrDefault(m => FormatEndPoint(m.EndPoint) == address)?.Status;

    /// <summary>Makes the next read linearizable (a no-op cost on a leader holding its lease).</summary>
    public async Task ReadBarrierAsync(CancellationToken token)
    {
        // A leader holding its lease (a majority acknowledged it within the lease period) has
        // applied every committed write: its state is current without another round trip.
        if (HoldsLease) return;
        if (!await WaitForLeaderAsync(LeaderWait, token).ConfigureAwait(false))
            throw SwarmErrors.NoLeader();
        // Bounded by leadership on the leader (once it steps down with no successor known, DotNext's
        // barrier retries in a loop until its election timer fires), else by leader contact.
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(token,
            IsLeader ? Cluster.LeadershipToken : leaderContact.Token);
        try
        {
            await Cluster.ApplyReadBarrierAsync(bounded.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
        {
            // During an election DotNext reports "member is not reachable", quorum unreachable, ...
            throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmNoLeader", SwarmErrors.NoLeader().Message, e);
        }
    }

    private readonly CancellationTokenSource stopping = new();
    private Task watch = Task.CompletedTask;

    /// <summary>
    /// Follows the store: this manager trusts what the store says (a root rotation starts or ends),
    /// and the leader ends a rotation once every node that is not down has a certificate from
    /// the next root (swarmkit's root rotation reconciler).
    /// </summary>
    private ClusterObject? lastCluster;

    private async Task WatchStoreAsync(CancellationToken token)
    {
        long seen = -1;
        while (!token.IsCancellationRequested)
        {
            try
            {
                SwarmState.Snapshot state;
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(token))
                {
                    wait.CancelAfter(TimeSpan.FromSeconds(1)); // leadership changes are not store changes
                    try { state = await State.WaitForChangeAsync(seen, wait.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) when (!token.IsCancellationRequested) { state = State.Current; }
                }
                seen = state.Version;
                if (state.Cluster is not { } cluster) continue;
                if (!ReferenceEquals(cluster, lastCluster))
                {
                    lastCluster = cluster;
                    try { Options.ClusterChanged?.Invoke(cluster); }
                    catch (Exception e) { logger.LogWarning("Following the swarm's settings: {Error}", e.Message); }
                }
                var security = Options.Security;
                var trust = TrustRoots.From(cluster, security.Trust);
                if (!trust.SameAs(security.Trust)) security.UpdateTrust(trust);
                if (cluster.RootRotation is { } rotation && IsLeader && HoldsLease)
                    await CompleteRotationIfDoneAsync(state, rotation, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                logger.LogWarning("Following the store: {Error}", e.Message);
                try { await Task.Delay(1000, token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
            }
        }
    }

    private async Task CompleteRotationIfDoneAsync(SwarmState.Snapshot state, RootRotationObject rotation, CancellationToken token)
    {
        var progress = Ca.RootRotationProgress.Of(state);
        if (progress is not { } p || p.Rotated < p.Total) return;
        var next = RootCA.Load(rotation.CACertificate, null);
        await ProposeAsync(new CompleteRootRotationCommand(rotation.CACertificate,
            JoinToken.Generate(next.CertificatePemBytes), JoinToken.Generate(next.CertificatePemBytes), DateTimeOffset.UtcNow), token).ConfigureAwait(false);
        logger.LogInformation("Root CA rotation complete: every node has a certificate from {Root}; the join tokens were renewed", next.Sha256Hex);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        stopping.Cancel();
        try { await watch.ConfigureAwait(false); } catch (Exception) { }
        // A stopped store no longer says who the managers are (a demoted node dials them as a worker would).
        if (Options.Security.IsCurrentManager == IsCurrentManager) Options.Security.IsCurrentManager = null;
        Dispatcher.Dispose();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await app.StopAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            logger.LogWarning("Stopping the manager listener: {Error}", e.Message);
        }
        await app.DisposeAsync().ConfigureAwait(false);
        await wal.DisposeAsync().ConfigureAwait(false);
        await stateMachine.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>Lets services built before the host exists reach it.</summary>
internal sealed class ManagerHostAccessor
{
    private ManagerHost? host;
    public ManagerHost Host
    {
        get => host ?? throw SwarmErrors.ManagerStarting();
        set => host = value;
    }

    /// <summary>The host, or null before it exists.</summary>
    public ManagerHost? Current => host;

    /// <summary>The swarm as the access policy sees it; null until the host exists.</summary>
    public ISwarmView? View => host;
}
