using System.Management.Automation;
using PSSwarm.Client;
using PSSwarm.Client.Service;

namespace PSSwarm.Commands;

/// <summary>Puts psswarmd.service in place (the module's daemon, run by systemd) and, with systemd, enables and starts it.</summary>
[Cmdlet(VerbsLifecycle.Install, "SwarmDaemon", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SwarmDaemonService))]
public sealed class InstallSwarmDaemonCommand : ServiceCmdlet
{
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? DataRoot { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Endpoint { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Group { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NodeName { get; set; }

    [Parameter]
    public SwitchParameter NoStart { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void EndProcessing()
    {
        var moduleBase = Path.GetDirectoryName(typeof(InstallSwarmDaemonCommand).Assembly.Location)!;
        var plan = Run(_ =>
        {
            var settings = new DaemonUnitSettings(
                Path.Combine(moduleBase, "daemon", "psswarmd"),
                string.IsNullOrEmpty(DataRoot) ? DaemonLauncher.DefaultDataRoot : GetUnresolvedProviderPathFromPSPath(DataRoot),
                SwarmEndpoint.Normalize(Endpoint ?? SwarmEndpoint.Default), Group, NodeName, DaemonService.FindDotnetRoot());
            return Task.FromResult(DaemonService.Plan(Path.Combine(moduleBase, SystemdUnit.UnitName), UnitDirectory(), settings));
        });
        foreach (var note in plan.Notes) WriteVerbose(note);
        if (plan.Change == UnitFileChange.Replace && !Force)
            ThrowError("SwarmDaemonUnitExists", ErrorCategory.ResourceExists,
                $"{plan.UnitPath} exists and differs from the unit this command would write. Use -Force to replace it, or Uninstall-SwarmDaemon first.", plan.UnitPath);
        var systemd = DaemonService.SystemdRunning;
        var action = plan.Change switch { UnitFileChange.Create => "Write", UnitFileChange.Replace => "Replace", _ => "Keep" }
            + $" {SystemdUnit.UnitName} running {SystemdUnit.ExecStart(plan.Settings)}"
            + (systemd ? NoStart ? ", enable it" : ", enable and start it" : "");
        if (!ShouldProcess(plan.UnitPath, action)) return;
        var state = Run(token => DaemonService.InstallAsync(plan, NoStart, TimeSpan.FromSeconds(90), token));
        WriteVerbose($"{plan.UnitPath}: {plan.Change}");
        if (!systemd)
            WriteWarning($"systemd is not running here ({DaemonService.SystemdRunDirectory} does not exist): {plan.UnitPath} is in place for a machine that boots with systemd, but nothing was enabled or started. " +
                $"To run the daemon now, use: Start-SwarmDaemon -DataRoot '{plan.Settings.DataRoot}' -Endpoint '{plan.Settings.Endpoint}'" +
                (plan.Settings.NodeName is { } n ? $" -NodeName '{n}'" : ""));
        if (PassThru) WriteObject(ToOutput(state));
    }

    private static SwarmDaemonService ToOutput(DaemonServiceState s) => new()
    {
        UnitPath = s.UnitPath, ExecStart = s.ExecStart, DataRoot = s.Settings.DataRoot, Endpoint = s.Settings.Endpoint,
        Group = s.Settings.Group, NodeName = s.Settings.NodeName, SystemdRunning = s.SystemdRunning, Enabled = s.Enabled, Active = s.Active,
    };
}

/// <summary>Stops and disables psswarmd.service (with systemd), removes the unit file and, with -RemoveData, the node's data root.</summary>
[Cmdlet(VerbsLifecycle.Uninstall, "SwarmDaemon", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
public sealed class UninstallSwarmDaemonCommand : ServiceCmdlet
{
    [Parameter]
    public SwitchParameter RemoveData { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void EndProcessing()
    {
        var unitPath = Path.Combine(UnitDirectory(), SystemdUnit.UnitName);
        var settings = Run(_ => Task.FromResult(DaemonService.ReadInstalled(unitPath)));
        var systemd = DaemonService.SystemdRunning;
        var whatIf = MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) && w is SwitchParameter { IsPresent: true };
        if (ShouldProcess(unitPath, systemd ? $"Stop and disable {SystemdUnit.UnitName}, then remove" : "Remove"))
        {
            Run(async token => { await DaemonService.UninstallAsync(unitPath, token).ConfigureAwait(false); return true; });
            WriteVerbose($"Removed {unitPath}");
        }
        else if (!whatIf) return; // the unit stays: so does its data
        // The node's Raft store, keys and certificates: High impact, so a prompt unless -Force (-WhatIf still only reports).
        if (!RemoveData) return;
        if (!this.ShouldProcess(Force, settings.DataRoot, "Remove the data root (the node's Raft store, keys and certificates)",
                $"Remove {settings.DataRoot} and everything in it? The node loses its identity and, as a manager, its copy of the swarm's state.", "Remove the data root"))
            return;
        Run(async token => { await DaemonService.RemoveDataAsync(settings, token).ConfigureAwait(false); return true; });
        WriteVerbose($"Removed {settings.DataRoot}");
    }
}

/// <summary>-UnitPath, and file-system failures as ErrorRecords (no daemon endpoint of its own).</summary>
public abstract class ServiceCmdlet : PSSwarmCmdlet
{
    /// <summary>The folder of the unit file (psswarmd.service).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? UnitPath { get; set; }

    protected string UnitDirectory()
        => string.IsNullOrEmpty(UnitPath) ? DaemonService.DefaultUnitDirectory : GetUnresolvedProviderPathFromPSPath(UnitPath);

    protected override ErrorRecord? MapFailure(Exception e, object? target)
    {
        if (e is not (IOException or UnauthorizedAccessException)) return null;
        var id = e is UnauthorizedAccessException ? "SwarmDaemonServiceAccessDenied" : "SwarmDaemonServiceIOError";
        return new ErrorRecord(new SwarmException(id, $"{e.Message} (installing a system service usually needs root)", e), id,
            e is UnauthorizedAccessException ? ErrorCategory.PermissionDenied : ErrorCategory.WriteError, target);
    }
}
