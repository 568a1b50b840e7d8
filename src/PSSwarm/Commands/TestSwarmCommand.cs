using System.Management.Automation;
using PSSwarm.Client;
using PSSwarm.Client.Api;

namespace PSSwarm.Commands;

/// <summary>
/// Preflight and health checks (Test-Cluster, kubeadm preflight): before Initialize-Swarm or
/// Join-Swarm, whether they can work on this node; on a member, the swarm's health as this node
/// sees it. One object per check; -Quiet gives $true when no check failed.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "Swarm")]
[OutputType(typeof(SwarmCheck), typeof(bool))]
public sealed class TestSwarmCommand : SwarmCmdlet
{
    /// <summary>The listen address Initialize-Swarm or Join-Swarm would be given (default 0.0.0.0:2377).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ListenAddress { get; set; }

    /// <summary>The advertise address Initialize-Swarm or Join-Swarm would be given.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AdvertiseAddress { get; set; }

    /// <summary>Managers (host:port) to compare this host's clock with; a member uses its own managers.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? RemoteAddress { get; set; }

    /// <summary>Output only $true (no check failed; warnings allowed) or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void EndProcessing()
    {
        string endpoint;
        try { endpoint = SwarmEndpoint.Resolve(Endpoint); }
        catch (SwarmClientException e) { ThrowError(e.ErrorId, ErrorCategory.InvalidArgument, e.Message, Endpoint); return; }
        var checks = Run(token => SwarmApi.For(endpoint).RunChecksAsync(ListenAddress ?? "", AdvertiseAddress ?? "", RemoteAddress, token))
            .Select(c => new SwarmCheck(c.Name, (SwarmCheckResult)(int)c.Result, c.Message)).ToList();
        if (Quiet) WriteObject(checks.All(c => c.Result != SwarmCheckResult.Fail));
        else WriteObject(checks, enumerateCollection: true);
    }
}
