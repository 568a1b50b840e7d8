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
using PSSwarm.Daemon.Cluster;
using PSSwarm.Daemon.Node;

namespace PSSwarm.Daemon.Manager;

internal sealed record ManagerHostOptions
{
    public required IPEndPoint Listen { get; init; }
    /// <summary>host:port other managers use to reach this one (the Raft member address).</summary>
    public required string AdvertiseAddress { get; init; }
    public required X509Certificate2 NodeCertificate { get; init; }
    public required PeerAuthenticator Authenticator { get; init; }
    public required string RaftDir { get; init; }
    /// <summary>True only on the node that runs Initialize-Swarm (DESIGN.md: a cold-started joiner diverges).</summary>
    public bool ColdStart { get; init; }
    public LogLevel LogLevel { get; init; } = LogLevel.Information;
    public int LowerElectionTimeoutMs { get; init; } = 500;
    public int UpperElectionTimeoutMs { get; init; } = 1000;
}

/// <summary>
/// A manager's share of the swarm: the TLS listener (gRPC cluster API and Raft over HTTP/2 on
/// one port, as Docker shares 2377), the DotNext Raft node and the replicated store.
/// One instance lives from Initialize-Swarm/Join-Swarm (or a restart) until Exit-Swarm.
/// </summary>
internal sealed class ManagerHost : IAsyncDisposable
{
    public const string RaftPath = "/cluster-consensus/raft";
    private const string RaftClientName = "psswarm-raft";

    private readonly WebApplication app;
    private readonly WriteAheadLog wal;
    private readonly SwarmStateMachine stateMachine;
    private readonly ILogger logger;
    private int disposed;

    private ManagerHost(WebApplication app, WriteAheadLog wal, SwarmStateMachine stateMachine, ManagerHostOptions options)
    {
        this.app = app;
        this.wal = wal;
        this.stateMachine = stateMachine;
        Options = options;
        Cluster = app.Services.GetRequiredService<IRaftHttpCluster>();
        logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("PSSwarm.Manager");
    }

    public ManagerHostOptions Options { get; }
    public IRaftHttpCluster Cluster { get; }
    public SwarmState State => stateMachine.State;
    public bool IsLeader => !Cluster.LeadershipToken.IsCancellationRequested;

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
        var stateMachine = new SwarmStateMachine(new DirectoryInfo(snapshots), stateLogger);
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
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(https =>
                {
                    https.ServerCertificate = options.NodeCertificate;
                    // The handshake completes without a client certificate (root CA fetch, join);
                    // every other call checks it (ClusterAuth).
                    https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                    https.AllowAnyClientCertificate();
                });
            });
        });

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(options.Authenticator);
        services.AddSingleton(stateMachine);
        services.AddSingleton<IStateMachine>(stateMachine);
        services.AddSingleton<IPersistentState>(wal);
        services.UsePersistentConfigurationStorage(Path.Combine(options.RaftDir, "members"));
        services.AddGrpc();
        services.AddHttpClient(RaftClientName).ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            SslOptions =
            {
                ClientCertificates = new X509CertificateCollection { options.NodeCertificate },
                RemoteCertificateValidationCallback = (_, cert, _, _) => options.Authenticator.ValidateServer(cert),
            },
        });
        builder.JoinCluster((member, _, _) =>
        {
            member.PublicEndPoint = new Uri($"https://{options.AdvertiseAddress}/");
            member.ColdStart = options.ColdStart;
            member.LowerElectionTimeout = options.LowerElectionTimeoutMs;
            member.UpperElectionTimeout = options.UpperElectionTimeoutMs;
            member.HeartbeatThreshold = 0.2;
            member.RequestTimeout = TimeSpan.FromSeconds(5);
            member.RpcTimeout = TimeSpan.FromSeconds(2);
            member.ProtocolVersion = DotNext.Net.Http.HttpProtocolVersion.Http2;
            member.ClientHandlerName = RaftClientName;
        });

        var app = builder.Build();
        app.UseMiddleware<ClusterAuthMiddleware>();
        app.UseConsensusProtocolHandler();
        app.MapGrpcService<NodeCAService>();

        try
        {
            await app.StartAsync(token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            await wal.DisposeAsync().ConfigureAwait(false);
            await stateMachine.DisposeAsync().ConfigureAwait(false);
            if (e is IOException { InnerException: System.Net.Sockets.SocketException se } || e.InnerException is System.Net.Sockets.SocketException)
                throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmListenFailed",
                    $"failed to listen on {options.Listen}: {e.Message}", e);
            throw;
        }

        return new ManagerHost(app, wal, stateMachine, options);
    }

    private static void ConfigureLogging(ILoggingBuilder logging, LogLevel level)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; o.UseUtcTimestamp = true; });
        logging.SetMinimumLevel(level);
        logging.AddFilter("Microsoft", level > LogLevel.Warning ? level : LogLevel.Warning);
        logging.AddFilter("System.Net.Http", LogLevel.Warning);
        logging.AddFilter("DotNext", level > LogLevel.Information ? level : LogLevel.Information);
    }

    /// <summary>Waits until some node leads (this one on a single-manager swarm).</summary>
    public async Task<bool> WaitForLeaderAsync(TimeSpan timeout, CancellationToken token)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Cluster.Leader is null)
        {
            if (DateTime.UtcNow >= deadline) return false;
            await Task.Delay(10, token).ConfigureAwait(false);
        }
        return true;
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

    /// <summary>Writes a command through the Raft log; returns once it is committed and applied here.</summary>
    public async Task ProposeAsync(SwarmCommand command, CancellationToken token)
    {
        if (!await WaitForLeaderAsync(TimeSpan.FromSeconds(5), token).ConfigureAwait(false))
            throw SwarmErrors.NoLeader();
        if (!IsLeader)
            throw SwarmErrors.NoLeader(); // forwarding to a remote leader arrives with multi-manager swarms
        try
        {
            await Cluster.ReplicateAsync(command.ToBytes(), null, token).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmNoLeader", SwarmErrors.NoLeader().Message, e);
        }
    }

    /// <summary>Makes the next read linearizable (a no-op cost on a leader holding its lease).</summary>
    public async Task ReadBarrierAsync(CancellationToken token)
    {
        if (!await WaitForLeaderAsync(TimeSpan.FromSeconds(5), token).ConfigureAwait(false))
            throw SwarmErrors.NoLeader();
        try
        {
            await Cluster.ApplyReadBarrierAsync(token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or QuorumUnreachableException)
        {
            throw new SwarmException(SwarmErrorKind.ResourceUnavailable, "SwarmNoLeader", SwarmErrors.NoLeader().Message, e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
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
