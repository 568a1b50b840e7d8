using System.Management.Automation;

namespace PSSwarm.Commands;

/// <summary>docker swarm join-token.</summary>
[Cmdlet(VerbsCommon.Get, "SwarmJoinToken")]
[OutputType(typeof(SwarmJoinToken), typeof(string))]
public sealed class GetSwarmJoinTokenCommand : SwarmCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    public NodeRole Role { get; set; }

    /// <summary>Only the token string (docker's -q).</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void ProcessRecord()
    {
        var token = Mapping.ToToken(Call((c, t) => c.GetJoinTokenAsync(Mapping.ToProto(Role), t)));
        WriteObject(Quiet ? token.Token : token);
    }
}

/// <summary>docker swarm join-token --rotate: the old token of that role is refused at once.</summary>
[Cmdlet(VerbsData.Update, "SwarmJoinToken", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SwarmJoinToken), typeof(string))]
public sealed class UpdateSwarmJoinTokenCommand : SwarmCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    public NodeRole Role { get; set; }

    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void ProcessRecord()
    {
        if (!ShouldProcess($"{Role} join token on {Client.Endpoint}", "Rotate")) return;
        var token = Mapping.ToToken(Call((c, t) => c.RotateJoinTokenAsync(Mapping.ToProto(Role), t)));
        WriteVerbose($"Successfully rotated {Role.ToString().ToLowerInvariant()} join token.");
        WriteObject(Quiet ? token.Token : token);
    }
}
