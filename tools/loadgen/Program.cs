using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using PSSwarm.LoadGen;

Options options;
try
{
    if (args.Contains("-h") || args.Contains("--help"))
    {
        Console.WriteLine(Options.Usage);
        return 0;
    }
    options = Options.Parse(args);
}
catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"psswarm-loadgen: {e.Message}");
    Console.Error.WriteLine("Run 'psswarm-loadgen --help' for usage.");
    return 2;
}

using var stop = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true; // no abrupt exit: stop the sessions and report what was measured
    if (!stop.IsCancellationRequested) Console.Error.WriteLine($"loadgen: {context.Signal}: stopping");
    stop.Cancel();
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

var process = Process.GetCurrentProcess();
var fdLimit = OpenFilesLimit();
if (fdLimit is { } limit && limit < options.Nodes + 256)
    Console.Error.WriteLine($"loadgen: warning: the open-files limit is {limit}, fewer than {options.Nodes} nodes need (one connection each); raise it (ulimit -n / prlimit)");

Phase("starting");
var exitCode = 0;
string? error = null;
double? joinAllSeconds = null, windowSeconds = null, joinCpuPercent = null, windowCpuPercent = null;
double rssMaxMB = 0;
long? connections = null;
long[] perSecond = [];
var total = Stopwatch.StartNew();
LoadGenerator? gen = null;
using var progressStop = new CancellationTokenSource();
Task? progress = null;
var phase = "joining";
try
{
    gen = new LoadGenerator(options, stop.Token);
    await gen.PinRootAsync();
    Console.Error.WriteLine($"loadgen: root CA pinned; joining {options.Nodes} nodes, {options.JoinConcurrency} at a time, via {string.Join(", ", options.Managers)}");
    progress = ProgressAsync(gen, progressStop.Token);

    Phase("joining");
    var joinClock = Stopwatch.StartNew();
    var cpu0 = process.TotalProcessorTime;
    await gen.JoinAllAsync();
    joinAllSeconds = joinClock.Elapsed.TotalSeconds;
    process.Refresh();
    joinCpuPercent = (process.TotalProcessorTime - cpu0).TotalSeconds / joinAllSeconds * 100;
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"loadgen: joins done: {gen.Joined} of {options.Nodes} joined in {joinAllSeconds:0.0} s ({gen.Joined / joinAllSeconds:0.0}/s), {gen.JoinFailures} failed"));
    if (options.IdsFile is { } idsFile)
        WriteAtomically(idsFile, string.Concat(gen.JoinedNodes.Select(n => n.NodeId + "\n")));

    if (!stop.IsCancellationRequested)
    {
        phase = "sessions";
        gen.OpenWindow(options.DurationSeconds);
        var windowClock = Stopwatch.StartNew();
        process.Refresh();
        var cpu1 = process.TotalProcessorTime;
        Phase($"sessions {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()} {options.DurationSeconds.ToString(CultureInfo.InvariantCulture)}");
        try { await Task.Delay(TimeSpan.FromSeconds(options.DurationSeconds), stop.Token); }
        catch (OperationCanceledException) { }
        gen.CloseWindow();
        windowSeconds = windowClock.Elapsed.TotalSeconds;
        process.Refresh();
        windowCpuPercent = (process.TotalProcessorTime - cpu1).TotalSeconds / windowSeconds * 100;
        perSecond = gen.PerSecond(windowSeconds.Value);
    }
}
catch (FatalException e)
{
    error = e.Message;
    exitCode = 1;
    Console.Error.WriteLine($"psswarm-loadgen: {e.Message}");
}
finally
{
    phase = "stopping";
    Phase("stopping");
    rssMaxMB = Math.Max(rssMaxMB, RssMB());
    if (gen is not null)
    {
        // Connections the nodes hold (one per node and manager it has heartbeated, as ClusterChannels caches them).
        connections = gen.JoinedNodes.Sum(n => (long)n.Connections);
        await gen.StopSessionsAsync(TimeSpan.FromSeconds(15));
        gen.Dispose();
    }
    progressStop.Cancel();
    if (progress is not null) await progress;
}

var json = Report();
if (options.JsonPath is { } jsonPath) WriteAtomically(jsonPath, json + "\n");
Console.Out.WriteLine(json);
Phase("done");
return exitCode;

// ---------------------------------------------------------------------------------------------

string Report()
{
    using var buffer = new MemoryStream();
    using (var w = new Utf8JsonWriter(buffer))
    {
        w.WriteStartObject();
        w.WriteNumber("nodes", options.Nodes);
        w.WriteNumber("joined", gen?.Joined ?? 0);
        w.WriteNumber("joinFailures", gen?.JoinFailures ?? 0);
        Number(w, "joinAllSeconds", joinAllSeconds);
        w.WriteNumber("heartbeatsOk", gen?.WindowOk ?? 0);
        w.WriteNumber("heartbeatsFailed", gen?.WindowFailed ?? 0);
        Number(w, "heartbeatsPerSec", windowSeconds is > 0 && gen is not null ? gen.WindowOk / windowSeconds : null);
        Number(w, "heartbeatP50Ms", gen?.WindowLatency.PercentileMs(0.50));
        Number(w, "heartbeatP99Ms", gen?.WindowLatency.PercentileMs(0.99));
        Number(w, "loadgenRssMB", rssMaxMB);
        Number(w, "loadgenCpuPercent", windowCpuPercent);
        w.WriteStartObject("details");
        w.WriteString("about", "heartbeat figures are the session window (after the last join); *WholeRun include the join phase. CPU: % of one core.");
        Number(w, "joinsPerSec", joinAllSeconds is > 0 && gen is not null ? gen.Joined / joinAllSeconds : null);
        w.WriteNumber("joinAttempts", gen?.JoinAttempts ?? 0);
        w.WriteNumber("joinRetries", gen?.JoinRetries ?? 0);
        w.WriteNumber("joinRetriesAfterTimeout", gen?.JoinRetriesAfterTimeout ?? 0);
        w.WriteNumber("joinRedirects", gen?.JoinRedirects ?? 0);
        Number(w, "joinP50Ms", gen?.JoinLatency.PercentileMs(0.50));
        Number(w, "joinP99Ms", gen?.JoinLatency.PercentileMs(0.99));
        Number(w, "joinMaxMs", gen is { JoinLatency.Count: > 0 } ? gen.JoinLatency.MaxMs : null);
        Number(w, "loadgenCpuPercentJoinPhase", joinCpuPercent);
        Number(w, "windowSeconds", windowSeconds);
        w.WriteNumber("periodMs", gen?.DefaultPeriodMs ?? 0);
        w.WriteNumber("heartbeatsOkWholeRun", gen?.BeatsOk ?? 0);
        w.WriteNumber("heartbeatsFailedWholeRun", gen?.BeatsFailed ?? 0);
        w.WriteNumber("heartbeatRedirects", gen?.BeatRedirects ?? 0);
        w.WriteNumber("nodesRemoved", gen?.NodesRemoved ?? 0);
        if (connections is { } c) w.WriteNumber("sessionConnections", c);
        Number(w, "heartbeatP999Ms", gen?.WindowLatency.PercentileMs(0.999));
        Number(w, "heartbeatMaxMs", gen is { WindowLatency.Count: > 0 } ? gen.WindowLatency.MaxMs : null);
        Number(w, "heartbeatP99MsWholeRun", gen?.AllLatency.PercentileMs(0.99));
        if (perSecond.Length > 0)
        {
            w.WriteNumber("heartbeatsPerSecMin", perSecond.Min());
            w.WriteNumber("heartbeatsPerSecMax", perSecond.Max());
        }
        w.WriteStartObject("failureKinds");
        if (gen is not null)
            foreach (var (kind, count) in gen.FailureKinds.OrderBy(k => k.Key, StringComparer.Ordinal)) w.WriteNumber(kind, count);
        w.WriteEndObject();
        if (fdLimit is { } l) w.WriteNumber("openFilesLimit", l);
        Number(w, "runSeconds", total.Elapsed.TotalSeconds);
        w.WriteBoolean("stoppedEarly", stop.IsCancellationRequested);
        if (error is not null) w.WriteString("error", error);
        w.WriteEndObject();
        w.WriteEndObject();
    }
    return Encoding.UTF8.GetString(buffer.ToArray());
}

static void Number(Utf8JsonWriter w, string name, double? value)
{
    if (value is { } v && double.IsFinite(v)) w.WriteNumber(name, Math.Round(v, 2));
    else w.WriteNull(name);
}

async Task ProgressAsync(LoadGenerator g, CancellationToken token)
{
    var lastJoined = 0L; var lastBeats = 0L; var lastReport = Stopwatch.GetTimestamp();
    var nextReport = TimeSpan.FromSeconds(options.ProgressSeconds);
    var clock = Stopwatch.StartNew();
    try
    {
        while (!token.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), token);
            rssMaxMB = Math.Max(rssMaxMB, RssMB());
            if (clock.Elapsed < nextReport) continue;
            nextReport += TimeSpan.FromSeconds(options.ProgressSeconds);
            var now = Stopwatch.GetTimestamp();
            var seconds = (now - lastReport) / (double)Stopwatch.Frequency;
            lastReport = now;
            var joined = g.Joined; var beats = g.BeatsOk;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"loadgen: {clock.Elapsed.TotalSeconds,6:0} s {phase}: joined {joined}/{options.Nodes} ({(joined - lastJoined) / seconds:0.0}/s, {g.JoinFailures} failed, {g.JoinRetries} retries), sessions {g.Sessions}, heartbeats {(beats - lastBeats) / seconds:0}/s ({g.BeatsFailed} failed, {g.BeatRedirects} redirects, p99 {g.AllLatency.PercentileMs(0.99) ?? 0:0.0} ms), RSS {rssMaxMB:0} MB"));
            lastJoined = joined; lastBeats = beats;
        }
    }
    catch (OperationCanceledException) { }
}

void Phase(string text)
{
    if (options.PhaseFile is { } path)
    {
        try { WriteAtomically(path, text + "\n"); }
        catch (IOException e) { Console.Error.WriteLine($"loadgen: cannot write {path}: {e.Message}"); }
    }
}

static void WriteAtomically(string path, string text)
{
    var temp = path + ".tmp";
    File.WriteAllText(temp, text);
    File.Move(temp, path, overwrite: true);
}

static double RssMB()
{
    try
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) / 1024.0;
    }
    catch (Exception e) when (e is IOException or FormatException) { }
    return 0;
}

static long? OpenFilesLimit()
{
    try
    {
        foreach (var line in File.ReadLines("/proc/self/limits"))
            if (line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                var parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.TryParse(parts[0], CultureInfo.InvariantCulture, out var soft) ? soft : null;
            }
    }
    catch (IOException) { }
    return null;
}
