using System.Management.Automation;
using PSSwarm.Client;

namespace PSSwarm.Commands;

/// <summary>Starts psswarmd in the background and returns when its endpoint answers.</summary>
[Cmdlet(VerbsLifecycle.Start, "SwarmDaemon", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(SwarmDaemonInfo))]
public sealed class StartSwarmDaemonCommand : SwarmCmdlet
{
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? DataRoot { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NodeName { get; set; }

    [Parameter]
    [ValidateSet("trace", "debug", "info", "warn", "error")]
    public string? LogLevel { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void EndProcessing()
    {
        var endpoint = SwarmEndpoint.Resolve(Endpoint);
        var dataRoot = string.IsNullOrEmpty(DataRoot) ? DaemonLauncher.DefaultDataRoot : GetUnresolvedProviderPathFromPSPath(DataRoot);
        if (!ShouldProcess($"psswarmd on {endpoint} with data root {dataRoot}", "Start")) return;
        var daemon = Path.Combine(Path.GetDirectoryName(typeof(StartSwarmDaemonCommand).Assembly.Location)!, "daemon", "psswarmd");
        var started = Call((_, token) => DaemonLauncher.StartAsync(daemon, dataRoot, endpoint, NodeName, LogLevel, TimeSpan.FromSeconds(30), token), endpoint);
        WriteVerbose($"psswarmd {started.Version} started with PID {started.ProcessId}; log {started.LogPath}");
        if (PassThru) WriteObject(Mapping.ToDaemon(started));
    }
}

/// <summary>Stops the daemon behind an endpoint (SIGTERM, then SIGKILL after 10 s).</summary>
[Cmdlet(VerbsLifecycle.Stop, "SwarmDaemon", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SwarmDaemonInfo))]
public sealed class StopSwarmDaemonCommand : SwarmCmdlet
{
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void EndProcessing()
    {
        var endpoint = Client.Endpoint;
        if (!ShouldProcess($"psswarmd on {endpoint}", "Stop")) return;
        var stopped = Call((_, token) => DaemonLauncher.StopAsync(endpoint, TimeSpan.FromSeconds(10), token), endpoint);
        WriteVerbose($"psswarmd (PID {stopped.ProcessId}) stopped");
        if (PassThru) WriteObject(Mapping.ToDaemon(stopped));
    }
}
