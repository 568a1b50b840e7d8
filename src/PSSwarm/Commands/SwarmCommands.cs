using System.Management.Automation;
using Api = PSSwarm.Client.Api;

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
        var request = new Api.InitOptions
        {
            AdvertiseAddress = AdvertiseAddress ?? "",
            ListenAddress = ListenAddress,
            ForceNewCluster = ForceNewCluster,
            Availability = Mapping.ToApi(Availability),
            CertExpiry = CertExpiry,
            DispatcherHeartbeat = DispatcherHeartbeat,
            Autolock = Autolock,
        };
        if (!ShouldProcess(Client.Endpoint, ForceNewCluster ? "Initialize swarm (force new cluster)" : "Initialize swarm")) return;
        var info = Call((c, t) => c.InitAsync(request, t));
        WriteVerbose($"Swarm initialized: current node ({info.NodeId}) is now a manager.");
        // Docker's next steps, on the host only (the output object carries the tokens already).
        if (info.WorkerToken is { Token.Length: > 0 } worker)
            WriteHostNotice($"Swarm initialized: current node ({info.NodeId}) is now a manager.", "",
                "To add a worker to this swarm, run the following command on it:", "",
                $"    Join-Swarm -Token {worker.Token} -RemoteAddress {string.Join(", ", worker.RemoteAddresses)}", "",
                "To add a manager to this swarm, run 'Get-SwarmJoinToken -Role Manager' and follow the instructions.");
        WriteUnlockKeyNotice(info.UnlockKey);
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
        var request = new Api.SwarmUpdate
        {
            CertExpiry = bound.ContainsKey(nameof(CertExpiry)) ? CertExpiry : null,
            DispatcherHeartbeat = bound.ContainsKey(nameof(DispatcherHeartbeat)) ? DispatcherHeartbeat : null,
            Autolock = bound.ContainsKey(nameof(Autolock)) ? Autolock.IsPresent : null,
            TaskHistoryLimit = bound.ContainsKey(nameof(TaskHistoryLimit)) ? TaskHistoryLimit : null,
        };
        var changes = new List<string>();
        if (request.CertExpiry is not null) changes.Add($"certificate expiry {CertExpiry}");
        if (request.DispatcherHeartbeat is not null) changes.Add($"dispatcher heartbeat {DispatcherHeartbeat}");
        if (request.Autolock is not null) changes.Add($"autolock {(Autolock ? "on" : "off")}");
        if (request.TaskHistoryLimit is not null) changes.Add($"task history limit {TaskHistoryLimit}");
        if (!ShouldProcess(Client.Endpoint, changes.Count == 0 ? "Update swarm (no change)" : "Update swarm: " + string.Join(", ", changes))) return;
        var info = Call((c, t) => c.UpdateSwarmAsync(request, t));
        WriteVerbose("Swarm updated.");
        WriteUnlockKeyNotice(info.UnlockKey);
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
        WriteObject(new SwarmCA(ca));
    }
}

/// <summary>
/// docker swarm ca --rotate: a new root CA (generated, or -Certificate with -Key), cross-signed by
/// the current one so that every node keeps working while each gets a certificate from the new
/// root; waits, showing progress, until the rotation completes (unless -Detach).
/// </summary>
[Cmdlet(VerbsData.Update, "SwarmCA", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(SwarmCA))]
public sealed class UpdateSwarmCACommand : SwarmCmdlet
{
    /// <summary>A PEM file with the new root CA certificate (docker's --ca-cert). Without it a root is generated.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Certificate { get; set; }

    /// <summary>A PEM file with the new root CA's private key (docker's --ca-key); needed with -Certificate.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Key { get; set; }

    /// <summary>Return once the rotation has started, without waiting for every node (docker's --detach).</summary>
    [Parameter]
    public SwitchParameter Detach { get; set; }

    protected override void EndProcessing()
    {
        var certificatePem = Certificate is null ? null : ReadPemFile(Certificate, nameof(Certificate));
        var keyPem = Key is null ? null : ReadPemFile(Key, nameof(Key));
        var what = Certificate is null ? "Rotate the swarm's root CA to a new generated root" : $"Rotate the swarm's root CA to the root in {Certificate}";
        if (!ShouldProcess(Client.Endpoint, what)) return;
        var info = Call((c, t) => c.RotateCAAsync(certificatePem, keyPem, t));
        var target = info.NextDigest;
        WriteVerbose($"Root CA rotation started: the next root is {target}.");
        if (Detach || !info.RotationInProgress)
        {
            WriteObject(new SwarmCA(info));
            return;
        }
        var progress = new ProgressRecord(1, "Rotating the swarm's root CA", "waiting for every node to get a certificate from the new root");
        try
        {
            while (info.RotationInProgress && info.NextDigest == target)
            {
                progress.StatusDescription = $"{info.NodesRotated} of {info.NodesTotal} nodes have a certificate from the new root";
                progress.PercentComplete = info.NodesTotal > 0 ? Math.Min(100, 100 * info.NodesRotated / info.NodesTotal) : 0;
                WriteProgress(progress);
                try { Task.Delay(250, CancellationToken).Wait(CancellationToken); }
                catch (OperationCanceledException) { return; }
                info = Call((c, t) => c.GetCAAsync(t));
            }
        }
        finally
        {
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
        }
        if (info.RotationInProgress)
        {
            // Another Update-SwarmCA replaced this rotation meanwhile.
            WriteWarning($"The rotation to {target} was replaced by a rotation to {info.NextDigest}, which is still in progress.");
        }
        WriteObject(new SwarmCA(info));
    }

    private string ReadPemFile(string path, string parameter)
    {
        string resolved;
        try { resolved = GetUnresolvedProviderPathFromPSPath(path); }
        catch (Exception e) when (e is ItemNotFoundException or ProviderNotFoundException or System.Management.Automation.DriveNotFoundException or NotSupportedException)
        {
            ThrowError("SwarmInvalidArgument", ErrorCategory.InvalidArgument, $"-{parameter}: {e.Message}", path);
            return "";
        }
        try
        {
            var info = new FileInfo(resolved);
            if (info.Exists && info.Length > 1024 * 1024)
                ThrowError("SwarmInvalidArgument", ErrorCategory.InvalidArgument, $"-{parameter}: {resolved} is larger than 1 MiB; it is not a PEM file", path);
            return File.ReadAllText(resolved);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ThrowError("SwarmInvalidArgument", ErrorCategory.InvalidArgument, $"-{parameter}: cannot read {resolved}: {e.Message}", path);
            return "";
        }
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
        // -Force is docker's --force: no prompt either (ForceConfirmation: -WhatIf still only reports).
        if (!this.ShouldProcess(Force, Client.Endpoint, Force ? "Leave the swarm (force)" : "Leave the swarm")) return;
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

    private List<Api.Network>? networks;

    protected override void ProcessRecord()
    {
        networks ??= Call((c, t) => c.ListNetworksAsync(t)).ToList();
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
