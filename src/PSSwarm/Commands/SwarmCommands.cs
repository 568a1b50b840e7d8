using System.Management.Automation;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Commands;

/// <summary>docker swarm init.</summary>
[Cmdlet(VerbsData.Initialize, "Swarm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SwarmInfo))]
public sealed class InitializeSwarmCommand : SwarmCmdlet
{
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AdvertiseAddress { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string ListenAddress { get; set; } = "0.0.0.0:2377";

    [Parameter]
    public SwitchParameter ForceNewCluster { get; set; }

    [Parameter]
    public NodeAvailability Availability { get; set; } = NodeAvailability.Active;

    [Parameter]
    public TimeSpan CertExpiry { get; set; } = TimeSpan.FromDays(90);

    [Parameter]
    public TimeSpan DispatcherHeartbeat { get; set; } = TimeSpan.FromSeconds(5);

    [Parameter]
    public SwitchParameter Autolock { get; set; }

    protected override void EndProcessing()
    {
        var request = new Proto.InitRequest
        {
            AdvertiseAddress = AdvertiseAddress ?? "",
            ListenAddress = ListenAddress,
            ForceNewCluster = ForceNewCluster,
            Availability = Mapping.ToProto(Availability),
            CertExpiryMs = (long)CertExpiry.TotalMilliseconds,
            HasCertExpiry = true,
            DispatcherHeartbeatMs = (long)DispatcherHeartbeat.TotalMilliseconds,
            HasDispatcherHeartbeat = true,
            Autolock = Autolock,
        };
        if (!ShouldProcess(Client.Endpoint, ForceNewCluster ? "Initialize swarm (force new cluster)" : "Initialize swarm")) return;
        var info = Call((c, t) => c.InitAsync(request, t));
        WriteVerbose($"Swarm initialized: current node ({info.NodeId}) is now a manager.");
        WriteObject(Mapping.ToInfo(info));
    }
}

/// <summary>docker swarm update: changes the settings given, keeps the others.</summary>
[Cmdlet(VerbsCommon.Set, "Swarm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SwarmInfo))]
public sealed class SetSwarmCommand : SwarmCmdlet
{
    /// <summary>Validity of node certificates issued from now on (at least 1 hour).</summary>
    [Parameter]
    public TimeSpan CertExpiry { get; set; }

    /// <summary>How often nodes heartbeat the leader; a node silent for three periods is Down.</summary>
    [Parameter]
    public TimeSpan DispatcherHeartbeat { get; set; }

    /// <summary>-Autolock:$true locks the managers' keys at rest; -Autolock:$false unlocks them.</summary>
    [Parameter]
    public SwitchParameter Autolock { get; set; }

    /// <summary>Task history retention limit (kept for docker compatibility; PSSwarm runs no tasks yet).</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int TaskHistoryLimit { get; set; }

    /// <summary>Returns the swarm as it is after the change.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void EndProcessing()
    {
        var bound = MyInvocation.BoundParameters;
        var request = new Proto.UpdateSwarmRequest
        {
            HasCertExpiry = bound.ContainsKey(nameof(CertExpiry)),
            CertExpiryMs = (long)CertExpiry.TotalMilliseconds,
            HasDispatcherHeartbeat = bound.ContainsKey(nameof(DispatcherHeartbeat)),
            DispatcherHeartbeatMs = (long)DispatcherHeartbeat.TotalMilliseconds,
            HasAutolock = bound.ContainsKey(nameof(Autolock)),
            Autolock = Autolock,
            HasTaskHistoryLimit = bound.ContainsKey(nameof(TaskHistoryLimit)),
            TaskHistoryLimit = TaskHistoryLimit,
        };
        var changes = new List<string>();
        if (request.HasCertExpiry) changes.Add($"certificate expiry {CertExpiry}");
        if (request.HasDispatcherHeartbeat) changes.Add($"dispatcher heartbeat {DispatcherHeartbeat}");
        if (request.HasAutolock) changes.Add($"autolock {(Autolock ? "on" : "off")}");
        if (request.HasTaskHistoryLimit) changes.Add($"task history limit {TaskHistoryLimit}");
        if (!ShouldProcess(Client.Endpoint, changes.Count == 0 ? "Update swarm (no change)" : "Update swarm: " + string.Join(", ", changes))) return;
        var info = Call((c, t) => c.UpdateSwarmAsync(request, t));
        WriteVerbose("Swarm updated.");
        if (PassThru) WriteObject(Mapping.ToInfo(info));
    }
}

/// <summary>docker swarm ca: the root CA the swarm trusts now (on a manager).</summary>
[Cmdlet(VerbsCommon.Get, "SwarmCA")]
[OutputType(typeof(SwarmCA))]
public sealed class GetSwarmCACommand : SwarmCmdlet
{
    protected override void EndProcessing()
    {
        var ca = Call((c, t) => c.GetCAAsync(t));
        WriteObject(new SwarmCA(ca.RootCaPem, ca.Digest, ca.RotationInProgress));
    }
}

/// <summary>The swarm part of docker info; answers on any node.</summary>
[Cmdlet(VerbsCommon.Get, "Swarm")]
[OutputType(typeof(SwarmInfo))]
public sealed class GetSwarmCommand : SwarmCmdlet
{
    protected override void EndProcessing() => WriteObject(Mapping.ToInfo(Call((c, t) => c.GetInfoAsync(t))));
}

/// <summary>docker swarm leave.</summary>
[Alias("Leave-Swarm")]
[Cmdlet(VerbsCommon.Exit, "Swarm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
public sealed class ExitSwarmCommand : SwarmCmdlet
{
    /// <summary>Leave even when this is the last manager (erases the swarm) or quorum would be lost.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void EndProcessing()
    {
        // -Force is docker's --force: no prompt either (-WhatIf still only reports).
        var whatIf = MyInvocation.BoundParameters.ContainsKey("WhatIf");
        if ((!Force || whatIf) && !ShouldProcess(Client.Endpoint, Force ? "Leave the swarm (force)" : "Leave the swarm")) return;
        Call((c, t) => c.LeaveAsync(Force, t));
        WriteVerbose("Node left the swarm.");
    }
}

/// <summary>docker network ls (swarm scope).</summary>
[Cmdlet(VerbsCommon.Get, "SwarmNetwork")]
[OutputType(typeof(SwarmNetwork))]
public sealed class GetSwarmNetworkCommand : SwarmCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    private List<Proto.Network>? networks;

    protected override void ProcessRecord()
    {
        networks ??= Call((c, t) => c.ListNetworksAsync(t)).Networks.ToList();
        if (Name is null)
        {
            foreach (var n in networks) WriteObject(Mapping.ToNetwork(n));
            return;
        }
        foreach (var name in Name)
        {
            var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
            var hits = networks.Where(n => pattern.IsMatch(n.Name) || n.Id == name).ToList();
            if (hits.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
                WriteError(new System.Management.Automation.ErrorRecord(new SwarmException("SwarmNetworkNotFound", $"network {name} not found"),
                    "SwarmNetworkNotFound", ErrorCategory.ObjectNotFound, name));
            foreach (var n in hits) WriteObject(Mapping.ToNetwork(n));
        }
    }
}
