using System.Diagnostics;
using System.Runtime.InteropServices;

namespace PSSwarm.Client.Service;

/// <summary>An installed psswarmd.service and what systemd says about it (Enabled/Active are false without systemd).</summary>
public sealed record DaemonServiceState(string UnitPath, string ExecStart, DaemonUnitSettings Settings, bool SystemdRunning, bool Enabled, bool Active);

/// <summary>How an install compares with the unit file already there.</summary>
public enum UnitFileChange { Create, Unchanged, Replace }

/// <summary>What Install-SwarmDaemon is about to do: computed first (no side effect), applied after ShouldProcess.</summary>
public sealed record DaemonServicePlan(string UnitPath, string UnitText, DaemonUnitSettings Settings, UnitFileChange Change, IReadOnlyList<string> Notes);

/// <summary>
/// Puts psswarmd.service in place and takes it away (Install-/Uninstall-SwarmDaemon): the unit file,
/// and with a running systemd, systemctl daemon-reload / enable --now / disable --now. Without
/// systemd only the file work is done (the caller tells the user how to start the daemon instead).
/// </summary>
public static partial class DaemonService
{
    public const string DefaultUnitDirectory = "/etc/systemd/system";

    /// <summary>systemd is PID 1 and running when this directory exists (sd_booted(3)). Settable for tests.</summary>
    public static string SystemdRunDirectory { get; set; } = "/run/systemd/system";

    /// <summary>The systemctl to call: a name looked up on PATH or an absolute path. Settable for tests.</summary>
    public static string Systemctl { get; set; } = "systemctl";

    private static readonly string[] SearchPath =
        ["/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"];

    public static bool SystemdRunning => Directory.Exists(SystemdRunDirectory);

    /// <summary>Renders the unit for these settings and compares it with the file in the unit directory. No side effect.</summary>
    public static DaemonServicePlan Plan(string templatePath, string unitDirectory, DaemonUnitSettings settings)
    {
        if (!File.Exists(settings.DaemonPath))
            throw new SwarmClientException("SwarmDaemonMissing", "ObjectNotFound",
                $"The daemon executable {settings.DaemonPath} does not exist. Build the module with 'dotnet pwsh ./build.ps1 Build'.");
        if (!File.Exists(templatePath))
            throw new SwarmClientException("SwarmDaemonUnitTemplateMissing", "ObjectNotFound",
                $"The unit template {templatePath} is missing from the module. Build the module with 'dotnet pwsh ./build.ps1 Build'.");
        if (settings.Group is { } group && GroupExists(group) is false)
            throw new SwarmClientException("SwarmGroupNotFound", "ObjectNotFound",
                $"The group '{group}' does not exist, so psswarmd could not give its socket to it. Create it (groupadd --system {group}) or choose another -Group.");
        var text = SystemdUnit.Render(File.ReadAllText(templatePath), settings, out var notes);
        var unitPath = Path.Combine(unitDirectory, SystemdUnit.UnitName);
        var change = !File.Exists(unitPath) ? UnitFileChange.Create
            : File.ReadAllText(unitPath) == text ? UnitFileChange.Unchanged : UnitFileChange.Replace;
        return new DaemonServicePlan(unitPath, text, settings, change, notes);
    }

    /// <summary>
    /// Writes the unit (0644, atomically), creates the data root (0700) and socket directory if missing,
    /// and with systemd: daemon-reload, enable (and start unless noStart, waiting until active and answering).
    /// </summary>
    public static async Task<DaemonServiceState> InstallAsync(DaemonServicePlan plan, bool noStart, TimeSpan timeout, CancellationToken token)
    {
        var unitDirectory = Path.GetDirectoryName(plan.UnitPath)!;
        Directory.CreateDirectory(unitDirectory);
        if (plan.Change != UnitFileChange.Unchanged)
        {
            var temp = Path.Combine(unitDirectory, $".{SystemdUnit.UnitName}.{Environment.ProcessId}.tmp");
            var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            await using (var f = new FileStream(temp, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = mode }))
            await using (var w = new StreamWriter(f))
                await w.WriteAsync(plan.UnitText.AsMemory(), token).ConfigureAwait(false);
            File.SetUnixFileMode(temp, mode); // the umask does not narrow it
            File.Move(temp, plan.UnitPath, overwrite: true);
        }
        Directory.CreateDirectory(plan.Settings.DataRoot, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(Path.GetDirectoryName(plan.Settings.SocketPath)!);

        if (!SystemdRunning) return await StateAsync(plan.UnitPath, token).ConfigureAwait(false);

        var unit = UnitArgument(plan.UnitPath);
        await RunAsync(token, "daemon-reload").ConfigureAwait(false);
        if (noStart)
        {
            await RunAsync(token, "enable", unit).ConfigureAwait(false);
            return await StateAsync(plan.UnitPath, token).ConfigureAwait(false);
        }
        // enable --now waits for READY=1 (Type=notify); a replaced unit restarts a daemon that already ran the old one.
        await RunAsync(token, "enable", "--now", unit).ConfigureAwait(false);
        if (plan.Change == UnitFileChange.Replace) await RunAsync(token, "try-restart", SystemdUnit.UnitName).ConfigureAwait(false);
        await WaitActiveAsync(plan.Settings.Endpoint, timeout, token).ConfigureAwait(false);
        return await StateAsync(plan.UnitPath, token).ConfigureAwait(false);
    }

    /// <summary>The installed unit, or an error that says there is none.</summary>
    public static DaemonUnitSettings ReadInstalled(string unitPath)
    {
        if (!File.Exists(unitPath))
            throw new SwarmClientException("SwarmDaemonUnitNotFound", "ObjectNotFound",
                $"There is no {SystemdUnit.UnitName} at {unitPath}: nothing to uninstall. Give the -UnitPath that Install-SwarmDaemon used.");
        return SystemdUnit.Parse(File.ReadAllText(unitPath))
            ?? throw new SwarmClientException("SwarmDaemonUnitInvalid", "InvalidData", $"{unitPath} has no ExecStart= line: it was not written by Install-SwarmDaemon.");
    }

    /// <summary>With systemd: disable --now (stops the daemon); then removes the unit file and reloads systemd.</summary>
    public static async Task UninstallAsync(string unitPath, CancellationToken token)
    {
        var systemd = SystemdRunning;
        if (systemd) await RunAsync(token, "disable", "--now", SystemdUnit.UnitName).ConfigureAwait(false);
        File.Delete(unitPath);
        if (systemd) await RunAsync(token, "daemon-reload").ConfigureAwait(false);
    }

    /// <summary>Deletes a data root, after checking that no daemon still serves the unit's endpoint.</summary>
    public static async Task RemoveDataAsync(DaemonUnitSettings settings, CancellationToken token)
    {
        var root = Path.GetFullPath(settings.DataRoot);
        if (root == "/" || Path.GetDirectoryName(root) is null)
            throw new SwarmClientException("SwarmInvalidArgument", "InvalidArgument", $"Refusing to remove the data root '{root}'.");
        try
        {
            var info = await SwarmClient.For(settings.Endpoint).GetDaemonInfoAsync(token, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            throw new SwarmClientException("SwarmDaemonRunning", "ResourceExists",
                $"psswarmd (PID {info.Pid}) still answers at {settings.Endpoint}; stop it with Stop-SwarmDaemon -Endpoint {settings.Endpoint} before removing its data root {root}.");
        }
        catch (SwarmClientException e) when (e.ErrorId == "SwarmDaemonUnreachable")
        {
        }
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    /// <summary>What the unit file holds and, with systemd, whether it is enabled and active.</summary>
    public static async Task<DaemonServiceState> StateAsync(string unitPath, CancellationToken token)
    {
        var settings = ReadInstalled(unitPath);
        var exec = SystemdUnit.ExecStart(settings);
        if (!SystemdRunning) return new DaemonServiceState(unitPath, exec, settings, false, false, false);
        var enabled = (await RunAsync(token, check: false, "is-enabled", SystemdUnit.UnitName).ConfigureAwait(false)).Output.Trim() == "enabled";
        var active = (await RunAsync(token, check: false, "is-active", SystemdUnit.UnitName).ConfigureAwait(false)).Output.Trim() == "active";
        return new DaemonServiceState(unitPath, exec, settings, true, enabled, active);
    }

    /// <summary>The DOTNET_ROOT the daemon needs: this process's runtime (or the dotnet on PATH) when it has ASP.NET Core and is not a default location.</summary>
    public static string? FindDotnetRoot()
    {
        var candidates = new List<string>();
        var runtime = RuntimeEnvironment.GetRuntimeDirectory(); // <root>/shared/Microsoft.NETCore.App/<version>/
        if (Path.GetFullPath(Path.Combine(runtime, "..", "..", "..")) is var fromRuntime) candidates.Add(fromRuntime);
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var dotnet = Path.Combine(dir, "dotnet");
            if (File.Exists(dotnet)) { candidates.Add(Path.GetDirectoryName(SystemdUnit.RealPath(dotnet))!); break; }
        }
        foreach (var c in candidates.Select(c => c.TrimEnd('/')))
        {
            if (!Directory.Exists(Path.Combine(c, "shared", "Microsoft.AspNetCore.App"))) continue;
            return c is "/usr/share/dotnet" or "/usr/lib/dotnet" ? null : c;
        }
        return null;
    }

    // A unit in systemd's search path is named; elsewhere its path is given (enable links it in).
    private static string UnitArgument(string unitPath)
        => SearchPath.Contains(Path.GetDirectoryName(Path.GetFullPath(unitPath))) ? SystemdUnit.UnitName : Path.GetFullPath(unitPath);

    private static async Task WaitActiveAsync(string endpoint, TimeSpan timeout, CancellationToken token)
    {
        var deadline = DateTime.UtcNow + timeout;
        var client = SwarmClient.For(endpoint);
        while (true)
        {
            var state = (await RunAsync(token, check: false, "is-active", SystemdUnit.UnitName).ConfigureAwait(false)).Output.Trim();
            if (state == "failed")
                throw new SwarmClientException("SwarmDaemonServiceFailed", "InvalidOperation",
                    $"{SystemdUnit.UnitName} failed to start. See 'systemctl status {SystemdUnit.UnitName}' and 'journalctl -u {SystemdUnit.UnitName}'.");
            if (state == "active")
            {
                try
                {
                    await client.GetDaemonInfoAsync(token, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                    return;
                }
                catch (SwarmClientException e) when (e.ErrorId == "SwarmDaemonUnreachable")
                {
                }
            }
            if (DateTime.UtcNow >= deadline)
                throw new SwarmClientException("SwarmDaemonServiceTimeout", "OperationTimeout",
                    $"{SystemdUnit.UnitName} was not active and answering at {endpoint} within {timeout.TotalSeconds:0} s (systemd says '{state}'). See 'journalctl -u {SystemdUnit.UnitName}'.");
            await Task.Delay(100, token).ConfigureAwait(false);
        }
    }

    private static Task<(int ExitCode, string Output)> RunAsync(CancellationToken token, params string[] args) => RunAsync(token, check: true, args);

    private static async Task<(int ExitCode, string Output)> RunAsync(CancellationToken token, bool check, params string[] args)
    {
        var start = new ProcessStartInfo(Systemctl) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        Process process;
        try { process = Process.Start(start) ?? throw new InvalidOperationException("no process"); }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new SwarmClientException("SwarmSystemctlFailed", "InvalidOperation", $"Could not run {Systemctl}: {e.Message}");
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(token);
            var stderr = process.StandardError.ReadToEndAsync(token);
            await process.WaitForExitAsync(token).ConfigureAwait(false);
            var output = await stdout.ConfigureAwait(false);
            var error = (await stderr.ConfigureAwait(false)).Trim();
            if (check && process.ExitCode != 0)
                throw new SwarmClientException("SwarmSystemctlFailed", "InvalidOperation",
                    $"'systemctl {string.Join(' ', args)}' failed with exit code {process.ExitCode}: {(error.Length > 0 ? error : output.Trim())}");
            return (process.ExitCode, output);
        }
    }

    /// <summary>getgrnam(3) by name, else a numeric gid (as psswarmd --group resolves it); null when unknown.</summary>
    private static bool? GroupExists(string group)
    {
        if (uint.TryParse(group, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)) return true;
        try { return getgrnam(group) != IntPtr.Zero; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }

    [LibraryImport("libc", EntryPoint = "getgrnam", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr getgrnam(string name);
}
