using System.Collections;
using System.Management.Automation;
using Api = PSSwarm.Client.Api;

namespace PSSwarm.Commands;

/// <summary>docker swarm join: `Get-SwarmJoinToken -Role Worker | Join-Swarm -Endpoint ...`.</summary>
[Cmdlet(VerbsCommon.Join, "Swarm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SwarmNode))]
public sealed class JoinSwarmCommand : SwarmCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Token { get; set; } = "";

    /// <summary>host:port of the swarm's managers, tried in turn.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("ManagerAddress")]
    [ValidateNotNullOrEmpty]
    public string[] RemoteAddress { get; set; } = [];

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AdvertiseAddress { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string ListenAddress { get; set; } = "0.0.0.0:2377";

    [Parameter]
    public NodeAvailability Availability { get; set; } = NodeAvailability.Active;

    protected override void ProcessRecord()
    {
        var managers = string.Join(", ", RemoteAddress);
        if (!ShouldProcess(Client.Endpoint, $"Join the swarm of {managers}")) return;
        var request = new Api.JoinOptions
        {
            Token = Token,
            RemoteAddresses = RemoteAddress,
            AdvertiseAddress = AdvertiseAddress ?? "",
            ListenAddress = ListenAddress,
            Availability = Mapping.ToApi(Availability),
        };
        var progress = new ProgressRecord(1, "Join-Swarm", $"Joining the swarm via {managers}");
        WriteProgress(progress);
        var node = Mapping.ToNode(Call((c, t) => c.JoinAsync(request, t), Token.Length > 0 ? managers : null));
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
        WriteVerbose($"This node joined a swarm as a {node.Role.ToString().ToLowerInvariant()}.");
        WriteObject(node);
    }
}

/// <summary>docker node update / promote / demote.</summary>
[Cmdlet(VerbsCommon.Set, "SwarmNode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SwarmNode))]
public sealed class SetSwarmNodeCommand : SwarmCmdlet
{
    /// <summary>A node ID, unique ID prefix or hostname.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NodeIdCompleter))]
    public string[] Id { get; set; } = [];

    [Parameter]
    public NodeAvailability Availability { get; set; }

    /// <summary>Manager promotes, Worker demotes.</summary>
    [Parameter]
    public NodeRole Role { get; set; }

    /// <summary>Labels to add or change; a $null value removes the label.</summary>
    [Parameter]
    [ValidateNotNull]
    public Hashtable? Label { get; set; }

    /// <summary>Label keys to remove.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? RemoveLabel { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var bound = MyInvocation.BoundParameters;
        foreach (var id in Id)
        {
            Api.Availability? availability = null;
            Api.Role? role = null;
            var addLabels = new Dictionary<string, string>(StringComparer.Ordinal);
            var removeLabels = new List<string>();
            var changes = new List<string>();
            if (bound.ContainsKey(nameof(Availability)))
            {
                availability = Mapping.ToApi(Availability);
                changes.Add($"availability {Availability}");
            }
            if (bound.ContainsKey(nameof(Role)))
            {
                role = Mapping.ToApi(Role);
                changes.Add(Role == NodeRole.Manager ? "promote to manager" : "demote to worker");
            }
            if (Label is not null)
            {
                foreach (DictionaryEntry e in Label)
                {
                    var key = e.Key?.ToString() ?? "";
                    if (e.Value is null) removeLabels.Add(key);
                    else addLabels[key] = LanguagePrimitives.ConvertTo<string>(e.Value);
                }
                changes.Add("labels");
            }
            if (RemoveLabel is not null)
            {
                removeLabels.AddRange(RemoveLabel);
                changes.Add("remove labels");
            }
            var request = new Api.NodeUpdate { Id = id, Availability = availability, Role = role, AddLabels = addLabels, RemoveLabels = removeLabels };
            if (changes.Count == 0)
            {
                WriteWarning($"No change requested for node {id}: use -Availability, -Role, -Label or -RemoveLabel.");
                continue;
            }
            if (!ShouldProcess($"node {id}", $"Update ({string.Join(", ", changes)})")) continue;
            var node = Mapping.ToNode(Call((c, t) => c.UpdateNodeAsync(request, t), id));
            if (bound.ContainsKey(nameof(Role)))
                WriteVerbose(Role == NodeRole.Manager ? $"Node {id} promoted to a manager in the swarm." : $"Manager {id} demoted in the swarm.");
            if (PassThru) WriteObject(node);
        }
    }
}

/// <summary>docker node rm.</summary>
[Cmdlet(VerbsCommon.Remove, "SwarmNode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
public sealed class RemoveSwarmNodeCommand : SwarmCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NodeIdCompleter))]
    public string[] Id { get; set; } = [];

    /// <summary>Remove a node that is not Down (docker node rm --force); also skips the prompt.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var id in Id)
        {
            if (!this.ShouldProcess(Force, $"node {id}", "Remove from the swarm")) continue;
            Call((c, t) => c.RemoveNodeAsync(id, Force, t), id);
            WriteVerbose($"Removed node {id}.");
        }
    }
}
