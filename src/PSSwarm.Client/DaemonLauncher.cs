using System.Diagnostics;
using System.Runtime.InteropServices;

namespace PSSwarm.Client;

public sealed record DaemonProcess(int ProcessId, string Endpoint, string DataRoot, string LogPath, string NodeName, string Version);

/// <summary>
/// Starts and stops psswarmd processes without a service manager (Start-/Stop-SwarmDaemon).
/// The daemon runs in its own session with stdin closed and stdout/stderr appended to
/// <c>&lt;DataRoot&gt;/psswarmd.log</c>; the shell that starts it execs it, so the PID is the daemon's.
/// </summary>
public static partial class DaemonLauncher
{
    public const string DefaultDataRoot = "/var/lib/psswarm";
    public const string LogFileName = "psswarmd.log";

    public static async Task<DaemonProcess> StartAsync(string daemonPath, string? dataRoot, string? endpoint, string? nodeName,
        string? logLevel, TimeSpan timeout, CancellationToken token)
    {
        if (!File.Exists(daemonPath))
            throw new SwarmClientException("SwarmDaemonMissing", "ObjectNotFound",
                $"The daemon executable {daemonPath} does not exist. Build the module with 'dotnet pwsh ./build.ps1 Build'.");
        EnsureExecutable(daemonPath);
        var resolved = SwarmEndpoint.Resolve(endpoint);
        var root = Path.GetFullPath(string.IsNullOrWhiteSpace(dataRoot) ? DefaultDataRoot : dataRoot);
        var client = SwarmClient.For(resolved);

        if (await AnswersAsync(client, token).ConfigureAwait(false))
            throw new SwarmClientException("SwarmDaemonRunning", "ResourceExists",
                $"A PSSwarm daemon is already running at {resolved}. Stop it with Stop-SwarmDaemon -Endpoint {resolved}, or choose another -Endpoint.");

        Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var log = Path.Combine(root, LogFileName);
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        // $0 is the daemon, $1 the log; the rest are its arguments. setsid: Ctrl+C in the session that
        // started it does not reach it. exec: the PID we get is the daemon's.
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("log=$1; shift; if command -v setsid >/dev/null 2>&1; then exec setsid \"$0\" \"$@\" </dev/null >>\"$log\" 2>&1; else exec \"$0\" \"$@\" </dev/null >>\"$log\" 2>&1; fi");
        start.ArgumentList.Add(daemonPath);
        start.ArgumentList.Add(log);
        start.ArgumentList.Add("--data-root"); start.ArgumentList.Add(root);
        start.ArgumentList.Add("--host"); start.ArgumentList.Add(resolved);
        if (!string.IsNullOrWhiteSpace(nodeName)) { start.ArgumentList.Add("--node-name"); start.ArgumentList.Add(nodeName); }
        if (!string.IsNullOrWhiteSpace(logLevel)) { start.ArgumentList.Add("--log-level"); start.ArgumentList.Add(logLevel); }

        var logStart = File.Exists(log) ? new FileInfo(log).Length : 0;
        using var process = Process.Start(start)
            ?? throw new SwarmClientException("SwarmDaemonStartFailed", "InvalidOperation", $"Could not start {daemonPath}.");

        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            token.ThrowIfCancellationRequested();
            try
            {
                var info = await client.GetDaemonInfoAsync(token, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                return new DaemonProcess(info.Pid, resolved, info.DataRoot, log, info.NodeName, info.Version);
            }
            catch (SwarmClientException e) when (e.ErrorId is "SwarmDaemonUnreachable" or "SwarmTimeout")
            {
                // Not listening yet, or listening but not answering within the probe's 2 s (a loaded host,
                // a manager restoring its store): both mean "not ready yet" until the start timeout.
            }
            if (process.HasExited)
                throw new SwarmClientException("SwarmDaemonStartFailed", "InvalidOperation",
                    $"psswarmd exited with code {process.ExitCode} before answering on {resolved}: {Tail(log, logStart)}");
            if (DateTime.UtcNow >= deadline)
                throw new SwarmClientException("SwarmDaemonStartTimeout", "OperationTimeout",
                    $"psswarmd (PID {process.Id}) did not answer on {resolved} within {timeout.TotalSeconds:0} s. See {log}.");
            await Task.Delay(20, token).ConfigureAwait(false);
        }
    }

    /// <summary>SIGTERM to the daemon behind the endpoint, then wait; SIGKILL after the timeout.</summary>
    public static async Task<DaemonProcess> StopAsync(string? endpoint, TimeSpan timeout, CancellationToken token)
    {
        var client = SwarmClient.For(endpoint);
        var info = await client.GetDaemonInfoAsync(token, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        var pid = info.Pid;
        var result = new DaemonProcess(pid, client.Endpoint, info.DataRoot, Path.Combine(info.DataRoot, LogFileName), info.NodeName, info.Version);
        if (Kill(pid, SIGTERM) != 0) return result; // already gone
        var deadline = DateTime.UtcNow + timeout;
        while (IsAlive(pid))
        {
            if (DateTime.UtcNow >= deadline)
            {
                Kill(pid, SIGKILL);
                break;
            }
            await Task.Delay(20, token).ConfigureAwait(false);
        }
        // Reap it if it is our child (Start-SwarmDaemon in this process), so it leaves no zombie.
        try { using var p = Process.GetProcessById(pid); p.WaitForExit(2000); } catch (ArgumentException) { } catch (InvalidOperationException) { }
        return result;
    }

    /// <summary>
    /// Gives the daemon its execute bits back when they are missing: a module installed from a .nupkg
    /// (Install-PSResource extracts a zip) has every file 0644. Adds x wherever r is set (0644 -> 0755).
    /// Throws SwarmDaemonNotExecutable when it cannot (read-only file system, another user's file).
    /// </summary>
    public static void EnsureExecutable(string daemonPath)
    {
        if (OperatingSystem.IsWindows() || Access(daemonPath, X_OK) == 0) return;
        try
        {
            var current = File.GetUnixFileMode(daemonPath);
            var mode = current | UnixFileMode.UserExecute;
            if (mode.HasFlag(UnixFileMode.GroupRead)) mode |= UnixFileMode.GroupExecute;
            if (mode.HasFlag(UnixFileMode.OtherRead)) mode |= UnixFileMode.OtherExecute;
            if (mode != current) File.SetUnixFileMode(daemonPath, mode);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SwarmClientException("SwarmDaemonNotExecutable", "PermissionDenied",
                $"The daemon {daemonPath} is not executable and its execute bit could not be set ({e.Message}). " +
                $"Run 'chmod +x {daemonPath}' as the owner of the module's files, or install the module where you can write.", e);
        }
        if (Access(daemonPath, X_OK) != 0)
            throw new SwarmClientException("SwarmDaemonNotExecutable", "PermissionDenied",
                $"The daemon {daemonPath} is not executable for this user although its execute bits are set " +
                $"({Convert.ToString((int)File.GetUnixFileMode(daemonPath), 8)}): its file system may be mounted noexec, or only its owner may run it. " +
                "Install the module where this user can run programs.");
    }

    private static async Task<bool> AnswersAsync(SwarmClient client, CancellationToken token)
    {
        try
        {
            await client.GetDaemonInfoAsync(token, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            return true;
        }
        catch (SwarmClientException)
        {
            return false;
        }
    }

    private static bool IsAlive(int pid)
    {
        if (Kill(pid, 0) != 0) return false;
        // A zombie still answers kill(0): treat it as gone.
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return !(close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z');
        }
        catch (IOException) { return false; }
    }

    private static string Tail(string log, long from)
    {
        try
        {
            using var f = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            f.Seek(Math.Max(from, f.Length - 2000), SeekOrigin.Begin);
            var text = new StreamReader(f).ReadToEnd().Trim();
            return text.Length == 0 ? "(no output)" : text;
        }
        catch (IOException e) { return $"(log unreadable: {e.Message})"; }
    }

    private const int SIGKILL = 9;
    private const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    private const int X_OK = 1;

    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Access(string path, int mode);
}
