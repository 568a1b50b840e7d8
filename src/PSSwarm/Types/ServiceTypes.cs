namespace PSSwarm;

/// <summary>psswarmd.service as Install-SwarmDaemon -PassThru put it in place: the unit file, what it runs, and systemd's view of it.</summary>
public sealed class SwarmDaemonService
{
    internal SwarmDaemonService() { }
    /// <summary>The unit file, such as /etc/systemd/system/psswarmd.service.</summary>
    public string UnitPath { get; internal init; } = "";
    /// <summary>The unit's ExecStart= command line (the module's daemon and its arguments).</summary>
    public string ExecStart { get; internal init; } = "";
    public string DataRoot { get; internal init; } = "";
    public string Endpoint { get; internal init; } = "";
    /// <summary>The control socket's group (--group), or null: the daemon's own group.</summary>
    public string? Group { get; internal init; }
    /// <summary>The node name (--node-name), or null: the machine's host name.</summary>
    public string? NodeName { get; internal init; }
    /// <summary>True when systemd runs this machine (/run/systemd/system exists).</summary>
    public bool SystemdRunning { get; internal init; }
    /// <summary>systemctl is-enabled psswarmd.service said enabled; false without systemd.</summary>
    public bool Enabled { get; internal init; }
    /// <summary>systemctl is-active psswarmd.service said active; false without systemd.</summary>
    public bool Active { get; internal init; }
}
