using System.Management.Automation;
using Api = PSSwarm.Client.Api;

namespace PSSwarm.Commands;

/// <summary>docker swarm join-token; -All also lists the extra tokens of New-SwarmJoinToken.</summary>
[Cmdlet(VerbsCommon.Get, "SwarmJoinToken", DefaultParameterSetName = "Role")]
[OutputType(typeof(SwarmJoinToken), typeof(string))]
public sealed class GetSwarmJoinTokenCommand : SwarmCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = "Role")]
    public NodeRole Role { get; set; }

    /// <summary>Every join token: both standing ones, then the extra ones with their expiry and uses.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "All")]
    public SwitchParameter All { get; set; }

    /// <summary>Only the token string (docker's -q).</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void ProcessRecord()
    {
        if (All)
        {
            foreach (var t in Call((c, t) => c.ListJoinTokensAsync(t)))
            {
                var token = Mapping.ToToken(t);
                WriteObject(Quiet ? token.Token : token);
            }
            return;
        }
        var one = Mapping.ToToken(Call((c, t) => c.GetJoinTokenAsync(Mapping.ToApi(Role), t)));
        WriteObject(Quiet ? one.Token : one);
    }
}

/// <summary>
/// An extra join token (beyond Docker, moby#29489): Docker's format, next to the role's standing
/// token, that expires after -ExpiresIn and/or admits at most -MaxUses nodes.
/// </summary>
[Cmdlet(VerbsCommon.New, "SwarmJoinToken", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SwarmJoinToken), typeof(string))]
public sealed class NewSwarmJoinTokenCommand : SwarmCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    public NodeRole Role { get; set; }

    /// <summary>How long the token admits nodes (at least 1 second); without it, it never expires.</summary>
    [Parameter]
    public TimeSpan ExpiresIn { get; set; }

    /// <summary>How many nodes it admits in all; without it, any number.</summary>
    [Parameter]
    [ValidateRange(1, 1_000_000)]
    public int MaxUses { get; set; }

    /// <summary>What the token is for (shown by Get-SwarmJoinToken -All).</summary>
    [Parameter]
    [ValidateLength(0, 256)]
    public string Description { get; set; } = "";

    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void ProcessRecord()
    {
        var bound = MyInvocation.BoundParameters;
        if (bound.ContainsKey(nameof(ExpiresIn)) && ExpiresIn < TimeSpan.FromSeconds(1))
            ThrowError("SwarmInvalidArgument", ErrorCategory.InvalidArgument, "-ExpiresIn must be at least 1 second", ExpiresIn);
        var request = new Api.JoinTokenOptions
        {
            Role = Mapping.ToApi(Role),
            ExpiresIn = bound.ContainsKey(nameof(ExpiresIn)) ? ExpiresIn : null,
            MaxUses = bound.ContainsKey(nameof(MaxUses)) ? MaxUses : null,
            Description = Description,
        };
        var limits = new List<string>();
        if (request.ExpiresIn is not null) limits.Add($"expires in {ExpiresIn}");
        if (request.MaxUses is not null) limits.Add($"admits {MaxUses} node(s)");
        if (!ShouldProcess($"{Role} join token on {Client.Endpoint}", limits.Count == 0 ? "Create" : $"Create ({string.Join(", ", limits)})")) return;
        var token = Mapping.ToToken(Call((c, t) => c.CreateJoinTokenAsync(request, t)));
        WriteVerbose($"Created {Role.ToString().ToLowerInvariant()} join token {token.Id}.");
        WriteObject(Quiet ? token.Token : token);
    }
}

/// <summary>Ends an extra join token: it admits no one from now on; the nodes it admitted stay.</summary>
[Cmdlet(VerbsSecurity.Revoke, "SwarmJoinToken", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Id")]
[OutputType(typeof(SwarmJoinToken))]
public sealed class RevokeSwarmJoinTokenCommand : SwarmCmdlet
{
    /// <summary>The token's Id (or a unique prefix of it), or the token string itself.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Id")]
    [ValidateNotNullOrEmpty]
    public string[] Id { get; set; } = [];

    /// <summary>Tokens from Get-SwarmJoinToken -All or New-SwarmJoinToken.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    public SwarmJoinToken[] InputObject { get; set; } = [];

    /// <summary>Returns the revoked token.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        // A standing token has no Id: the daemon says to rotate it instead (the string is never shown).
        var targets = ParameterSetName == "Id" ? Id : InputObject.Select(t => t.Id ?? t.Token).ToArray();
        foreach (var target in targets)
        {
            var shown = target.StartsWith("SWMTKN-", StringComparison.Ordinal) ? "the given join token" : $"join token {target}";
            if (!ShouldProcess(shown, "Revoke")) continue;
            var revoked = Mapping.ToToken(Call((c, t) => c.RevokeJoinTokenAsync(target, t), target.StartsWith("SWMTKN-", StringComparison.Ordinal) ? null : target));
            WriteVerbose($"Revoked {revoked.Role.ToString().ToLowerInvariant()} join token {revoked.Id}.");
            if (PassThru) WriteObject(revoked);
        }
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
        var token = Mapping.ToToken(Call((c, t) => c.RotateJoinTokenAsync(Mapping.ToApi(Role), t)));
        WriteVerbose($"Successfully rotated {Role.ToString().ToLowerInvariant()} join token.");
        WriteObject(Quiet ? token.Token : token);
    }
}
