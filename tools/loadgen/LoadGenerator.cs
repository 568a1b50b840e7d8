using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using PSSwarm.Core.Security;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.LoadGen;

/// <summary>The join phase and the node sessions, with their counters.</summary>
internal sealed class LoadGenerator : IDisposable
{
    private const string ErrorIdKey = "psswarm-error-id";

    private readonly Options options;
    private readonly JoinToken joinToken;
    private readonly PinnedTrust trust = new();
    private readonly Dictionary<string, GrpcChannel> joinChannels = new(StringComparer.Ordinal);
    private readonly SimulatedNode?[] nodes;
    private readonly CancellationToken stopping;        // Ctrl+C, SIGTERM, a fatal error
    private readonly CancellationTokenSource sessionsStop;  // the end of the window (or stopping)
    private readonly TimeSpan heartbeatTimeout;
    private volatile string[] managers;
    private volatile string leaderHint;
    private int nextIndex = -1;
    private int joinRoundRobin = -1;
    private FatalException? fatal;

    // Join counters.
    public readonly Histogram JoinLatency = new();
    public long Joined, JoinFailures, JoinAttempts, JoinRetries, JoinRedirects, JoinRetriesAfterTimeout;
    // Heartbeat counters: the whole run and the window (after every join finished).
    public readonly Histogram WindowLatency = new();
    public readonly Histogram AllLatency = new();
    public long BeatsOk, BeatsFailed, BeatRedirects, WindowOk, WindowFailed, Sessions, NodesRemoved;
    public readonly ConcurrentDictionary<string, long> FailureKinds = new(StringComparer.Ordinal);
    private long[] perSecond = [];
    private volatile bool windowOpen;
    private long windowStart;

    public LoadGenerator(Options options, CancellationToken stopping)
    {
        this.options = options;
        if (!JoinToken.TryParse(options.Token, out var parsed)) throw new FatalException("invalid join token");
        joinToken = parsed;
        this.stopping = stopping;
        sessionsStop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        nodes = new SimulatedNode?[options.Nodes];
        managers = options.Managers;
        leaderHint = options.Managers[0];
        heartbeatTimeout = TimeSpan.FromSeconds(options.HeartbeatTimeoutSeconds);
    }

    public long DefaultPeriodMs { get; private set; } = 5000;
    public IEnumerable<SimulatedNode> JoinedNodes => nodes.OfType<SimulatedNode>();

    private void Fail(FatalException e)
    {
        Interlocked.CompareExchange(ref fatal, e, null);
        sessionsStop.Cancel();
    }

    // ------------------------------------------------------------------ root CA

    /// <summary>GetRootCACertificate from the first manager that answers; the PEM must hash to the token's digest; then it is pinned.</summary>
    public async Task PinRootAsync()
    {
        var failures = new List<string>();
        foreach (var manager in options.Managers)
        {
            byte[] bytes;
            try
            {
                var response = await new NodeCA.NodeCAClient(JoinChannel(manager)).GetRootCACertificateAsync(new GetRootCACertificateRequest(),
                    deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: stopping);
                bytes = response.Certificate.ToByteArray();
            }
            catch (RpcException e) when (!stopping.IsCancellationRequested)
            {
                failures.Add($"{manager}: {Describe(e)}");
                continue;
            }
            if (!joinToken.MatchesRootCA(bytes))
                throw new FatalException($"remote CA does not match fingerprint. Expected: {joinToken.ExpectedSha256Hex} (manager {manager})");
            X509Certificate2 root;
            try { root = X509Certificate2.CreateFromPem(Encoding.UTF8.GetString(bytes)); }
            catch (CryptographicException e) { throw new FatalException($"the manager at {manager} served a root CA that cannot be read: {e.Message}"); }
            trust.Pin(root, manager);
            return;
        }
        throw new FatalException($"could not connect to any manager of the swarm: {string.Join("; ", failures)}");
    }

    /// <summary>The joins' channels: one per manager, no client certificate, servers checked against the pinned root.</summary>
    private GrpcChannel JoinChannel(string address)
    {
        lock (joinChannels)
        {
            if (joinChannels.TryGetValue(address, out var channel)) return channel;
            channel = GrpcChannel.ForAddress($"https://{address}", new GrpcChannelOptions
            {
                HttpHandler = new SocketsHttpHandler
                {
                    ConnectTimeout = TimeSpan.FromSeconds(5),
                    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
                    EnableMultipleHttp2Connections = true,
                    UseProxy = false,
                    UseCookies = false,
                    AllowAutoRedirect = false,
                    SslOptions = trust.ClientOptions(null),
                },
                DisposeHttpClient = true,
                MaxReceiveMessageSize = 1024 * 1024,
            });
            joinChannels[address] = channel;
            return channel;
        }
    }

    // ------------------------------------------------------------------ joins

    /// <summary>
    /// Joins every node with --join-concurrency joins in flight; each node's session starts as soon
    /// as its join is done. The first join runs alone: a wrong or a manager token then costs one
    /// attempt (and at most one node joined as a manager), not one per join in flight.
    /// </summary>
    public async Task JoinAllAsync()
    {
        await JoinNextAsync();
        if (fatal is null && !stopping.IsCancellationRequested)
        {
            var workers = Enumerable.Range(0, Math.Min(options.JoinConcurrency, options.Nodes)).Select(_ => Task.Run(JoinWorkerAsync)).ToArray();
            await Task.WhenAll(workers);
        }
        if (fatal is not null) throw fatal;
    }

    private async Task JoinWorkerAsync()
    {
        while (!stopping.IsCancellationRequested && fatal is null && await JoinNextAsync()) { }
    }

    /// <summary>Joins the next node; false when there is none left (or the run ends).</summary>
    private async Task<bool> JoinNextAsync()
    {
        var i = Interlocked.Increment(ref nextIndex);
        if (i >= options.Nodes) return false;
        SimulatedNode? node;
        try
        {
            node = await JoinOneAsync(i);
        }
        catch (FatalException e)
        {
            Fail(e);
            return false;
        }
        if (node is null)
        {
            if (!stopping.IsCancellationRequested) Interlocked.Increment(ref JoinFailures);
            return true;
        }
        nodes[i] = node;
        Interlocked.Increment(ref Joined);
        node.Session = SessionAsync(node);
        return true;
    }

    private async Task<SimulatedNode?> JoinOneAsync(int i)
    {
        var started = Stopwatch.GetTimestamp();
        // The daemon's shape (NodeCertificates.NewKeyAndCsr): ECDSA P-256, SHA-256, subject CN=swarm-node, no attributes.
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest(new X500DistinguishedName("CN=swarm-node"), key, HashAlgorithmName.SHA256).CreateSigningRequest();
        var address = options.AddressOf(i);
        var hostname = options.HostnameOf(i);
        var request = new IssueNodeCertificateRequest
        {
            Csr = Google.Protobuf.ByteString.CopyFrom(csr),
            Token = options.Token,
            Availability = 0,
            Hostname = hostname,
            Version = options.Version,
            AdvertiseIp = address,
        };
        var list = managers;
        var target = options.JoinSpread ? list[(int)((uint)Interlocked.Increment(ref joinRoundRobin) % (uint)list.Length)] : leaderHint;
        var redirects = 0;
        for (var attempt = 1; attempt <= options.JoinAttempts;)
        {
            if (stopping.IsCancellationRequested) { key.Dispose(); return null; }
            Interlocked.Increment(ref JoinAttempts);
            IssueNodeCertificateResponse response;
            try
            {
                response = await new NodeCA.NodeCAClient(JoinChannel(target)).IssueNodeCertificateAsync(request,
                    deadline: DateTime.UtcNow.AddSeconds(20), cancellationToken: stopping);
            }
            catch (RpcException e) when (!stopping.IsCancellationRequested)
            {
                var id = e.Trailers.GetValue(ErrorIdKey);
                if (id == "SwarmNotLeader" && e.Status.Detail.Length > 0 && redirects++ < 5)
                {
                    Interlocked.Increment(ref JoinRedirects);
                    target = e.Status.Detail;
                    continue;
                }
                if (id == "SwarmInvalidJoinToken")
                    throw new FatalException($"the manager at {target} refused the token: {e.Status.Detail}");
                Count($"join {id ?? e.StatusCode.ToString()}");
                if (e.StatusCode is StatusCode.InvalidArgument or StatusCode.PermissionDenied or StatusCode.Unauthenticated
                    or StatusCode.AlreadyExists or StatusCode.Unimplemented)
                {
                    key.Dispose();
                    return null;
                }
                // Transient: the next manager on a connection error (as Join-Swarm tries the remotes), after a pause.
                if (e.StatusCode == StatusCode.DeadlineExceeded) Interlocked.Increment(ref JoinRetriesAfterTimeout);
                if (id is null) target = Next(target);
                attempt++;
                if (attempt <= options.JoinAttempts)
                {
                    Interlocked.Increment(ref JoinRetries);
                    // 0.5, 1, 2, 4, then 5 s (+ up to 25%): a join outlives a few elections, as an operator's retry would.
                    var pause = Math.Min(250 << Math.Min(attempt - 1, 5), 5000);
                    try { await Task.Delay(pause + Random.Shared.Next(pause / 4 + 1), stopping); }
                    catch (OperationCanceledException) { key.Dispose(); return null; }
                }
                continue;
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                key.Dispose();
                return null;
            }
            if (response.Manager)
                throw new FatalException("the token is a manager token: the load generator simulates workers only (use Get-SwarmJoinToken -Role Worker)");
            var node = Adopt(i, key, response, address, hostname);
            if (node is null) { Count("join certificate invalid"); return null; }
            JoinLatency.Record(Stopwatch.GetTimestamp() - started);
            return node;
        }
        key.Dispose();
        return null;
    }

    /// <summary>
    /// The issued certificate must chain to the pinned root and name the node, the worker role and
    /// the swarm the answer names (as the daemon's CheckIssued); the key stays in memory.
    /// </summary>
    private SimulatedNode? Adopt(int i, ECDsa key, IssueNodeCertificateResponse response, string address, string hostname)
    {
        X509Certificate2 cert;
        try
        {
            using var issued = X509Certificate2.CreateFromPem(response.CertificatePem);
            cert = issued.CopyWithPrivateKey(key);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            return null;
        }
        var root = trust.Root!;
        using (var chain = new X509Chain())
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(root);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.DisableCertificateDownloads = true;
            var ok = chain.Build(cert);
            foreach (var element in chain.ChainElements) element.Certificate.Dispose();
            if (!ok) return null;
        }
        try
        {
            var (cn, ou, o) = NodeCertificates.ReadIdentity(cert);
            if (cn != response.NodeId || ou != NodeCertificates.WorkerRole || o != response.SwarmId) return null;
        }
        catch (ArgumentException) { return null; }

        if (response.Managers.Count > 0)
        {
            // The leader comes first (ManagerHost.ManagerAddresses); keep every manager named so far.
            var named = response.Managers.ToArray();
            leaderHint = named[0];
            if (named.Except(managers, StringComparer.Ordinal).Any())
                managers = managers.Union(named, StringComparer.Ordinal).ToArray();
        }
        if (response.HeartbeatMs > 0) DefaultPeriodMs = response.HeartbeatMs;
        return new SimulatedNode(i, response.NodeId, cert, new HeartbeatRequest
        {
            Address = address, Hostname = hostname, Version = options.Version, Manager = false,
        })
        { PeriodMs = DefaultPeriodMs };
    }

    private string Next(string target)
    {
        var list = managers;
        var at = Array.IndexOf(list, target);
        return list[(at + 1) % list.Length];
    }

    private void Count(string kind) => FailureKinds.AddOrUpdate(kind, 1, (_, n) => n + 1);

    // ------------------------------------------------------------------ sessions

    /// <summary>
    /// A node's session (the daemon's NodeAgent, minus what a worker does with the answer): the
    /// first beat at the node's slot in one period (a low-discrepancy spread, so the nodes that
    /// joined so far are always spread evenly), then every period +-10%; sooner retries while no
    /// manager answers; SwarmNotLeader redirects followed.
    /// </summary>
    private async Task SessionAsync(SimulatedNode node)
    {
        var token = sessionsStop.Token;
        Interlocked.Increment(ref Sessions);
        try
        {
            var slot = node.Index * 0.6180339887498949 % 1.0;
            await Task.Delay(TimeSpan.FromMilliseconds(slot * node.PeriodMs), token).ConfigureAwait(false);
            var failures = 0;
            while (!token.IsCancellationRequested)
            {
                var ok = await BeatAsync(node, token).ConfigureAwait(false);
                if (node.PeriodMs < 0) return; // removed from the swarm
                failures = ok ? 0 : failures + 1;
                var wait = ok ? node.PeriodMs * (0.9 + Random.Shared.NextDouble() * 0.2) : Math.Min(250 * failures, 2000);
                await Task.Delay(TimeSpan.FromMilliseconds(wait), token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        finally
        {
            Interlocked.Decrement(ref Sessions);
        }
    }

    private readonly record struct Outcome(bool Ok, bool Removed = false, string? Leader = null);

    /// <summary>
    /// One heartbeat, as NodeAgent.BeatOnceAsync: the manager of the last beat (the leader,
    /// normally) first; on a failure, the leader a redirect names, then every other manager,
    /// each at most once. A beat fails when no manager accepted it.
    /// </summary>
    private async Task<bool> BeatAsync(SimulatedNode node, CancellationToken token)
    {
        var first = node.Target ?? leaderHint;
        var outcome = await TryBeatAsync(node, first, token).ConfigureAwait(false);
        if (outcome.Ok || outcome.Removed || token.IsCancellationRequested) return outcome.Ok;
        var tried = new HashSet<string>(StringComparer.Ordinal) { first };
        var queue = new List<string>(4);
        if (outcome.Leader is { } hinted) queue.Add(hinted);
        queue.AddRange(managers);
        for (var i = 0; i < queue.Count && !token.IsCancellationRequested; i++)
        {
            var target = queue[i];
            if (!tried.Add(target)) continue;
            outcome = await TryBeatAsync(node, target, token).ConfigureAwait(false);
            if (outcome.Ok || outcome.Removed) return outcome.Ok;
            if (outcome.Leader is { } leader && !tried.Contains(leader)) queue.Insert(i + 1, leader);
        }
        if (token.IsCancellationRequested) return false;
        node.Target = null;
        Interlocked.Increment(ref BeatsFailed);
        if (windowOpen) Interlocked.Increment(ref WindowFailed);
        return false;
    }

    private async Task<Outcome> TryBeatAsync(SimulatedNode node, string target, CancellationToken token)
    {
        var client = node.ClientFor(target, trust, heartbeatTimeout);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await client.HeartbeatAsync(node.Request, deadline: DateTime.UtcNow + heartbeatTimeout, cancellationToken: token)
                .ConfigureAwait(false);
            var elapsed = Stopwatch.GetTimestamp() - started;
            node.Target = target;
            if (response.PeriodMs > 0) node.PeriodMs = Math.Max(response.PeriodMs, 100);
            Interlocked.Increment(ref BeatsOk);
            AllLatency.Record(elapsed);
            if (windowOpen)
            {
                Interlocked.Increment(ref WindowOk);
                WindowLatency.Record(elapsed);
                var second = (Stopwatch.GetTimestamp() - windowStart) / Stopwatch.Frequency;
                var series = perSecond;
                if (second >= 0 && second < series.Length) Interlocked.Increment(ref series[second]);
            }
            return new Outcome(true);
        }
        catch (RpcException e) when (!token.IsCancellationRequested)
        {
            var id = e.Trailers.GetValue(ErrorIdKey);
            Count($"heartbeat attempt {id ?? e.StatusCode.ToString()}");
            if (id == "SwarmNotLeader" && e.Status.Detail.Length > 0 && e.Status.Detail != target)
            {
                // Redirected: the detail names the leader.
                Interlocked.Increment(ref BeatRedirects);
                leaderHint = e.Status.Detail;
                return new Outcome(false, Leader: e.Status.Detail);
            }
            if (id == "SwarmNodeRemoved")
            {
                Interlocked.Increment(ref NodesRemoved);
                node.PeriodMs = -1;
                node.Close();
                return new Outcome(false, Removed: true);
            }
            return new Outcome(false);
        }
        catch (Exception e) when (!token.IsCancellationRequested && e is InvalidOperationException or HttpRequestException)
        {
            Count($"heartbeat attempt {e.GetType().Name}");
            return new Outcome(false);
        }
    }

    // ------------------------------------------------------------------ window

    public void OpenWindow(double seconds)
    {
        perSecond = new long[(int)Math.Ceiling(seconds) + 2];
        windowStart = Stopwatch.GetTimestamp();
        windowOpen = true;
    }

    public void CloseWindow() => windowOpen = false;

    /// <summary>Heartbeats counted in each whole second of the window so far.</summary>
    public long[] PerSecond(double windowSeconds) => perSecond.Take((int)Math.Floor(windowSeconds)).ToArray();

    /// <summary>Ends every session and waits for them (bounded), then closes every connection.</summary>
    public async Task StopSessionsAsync(TimeSpan timeout)
    {
        sessionsStop.Cancel();
        var sessions = nodes.OfType<SimulatedNode>().Select(n => n.Session).OfType<Task>().ToArray();
        try { await Task.WhenAll(sessions).WaitAsync(timeout); }
        catch (TimeoutException) { Console.Error.WriteLine($"loadgen: {sessions.Count(t => !t.IsCompleted)} sessions did not stop within {timeout.TotalSeconds:0} s"); }
        catch (Exception) { }
    }

    public void Dispose()
    {
        foreach (var node in nodes) node?.Close();
        lock (joinChannels)
        {
            foreach (var c in joinChannels.Values) c.Dispose();
            joinChannels.Clear();
        }
        sessionsStop.Dispose();
    }

    private static string Describe(RpcException e)
    {
        Exception? x = e.Status.DebugException;
        while (x?.InnerException is not null) x = x.InnerException;
        return $"{e.StatusCode}: {x?.Message ?? e.Status.Detail}";
    }
}
