using System.Management.Automation;
using PSSwarm.Client;
using Api = PSSwarm.Client.Api;

namespace PSSwarm.Commands;

/// <summary>docker node ls / node inspect.</summary>
[Cmdlet(VerbsCommon.Get, "SwarmNode", DefaultParameterSetName = "List")]
[OutputType(typeof(SwarmNode))]
public sealed class GetSwarmNodeCommand : SwarmCmdlet
{
    /// <summary>Node IDs, unique ID prefixes or hostnames.</summary>
    [Parameter(Position = 0, ParameterSetName = "List", ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NodeIdCompleter))]
    public string[]? Id { get; set; }

    /// <summary>Only the node whose daemon answers.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Self")]
    public SwitchParameter Self { get; set; }

    [Parameter(ParameterSetName = "List")]
    public NodeRole? Role { get; set; }

    private List<Api.Node>? nodes;

    protected override void ProcessRecord()
    {
        nodes ??= Call((c, t) => c.ListNodesAsync(t)).ToList();
        if (Self)
        {
            foreach (var n in nodes.Where(n => n.IsSelf)) WriteObject(Mapping.ToNode(n));
            return;
        }
        IEnumerable<Api.Node> selected = nodes;
        if (Role is { } role) selected = selected.Where(n => n.Role == Mapping.ToApi(role));
        if (Id is null)
        {
            foreach (var n in selected) WriteObject(Mapping.ToNode(n));
            return;
        }
        var candidates = selected.ToList();
        foreach (var id in Id)
        {
            var match = NodeLookup.Find(candidates, id, out var error);
            if (match is null) WriteError(ToErrorRecord(error!, id));
            else WriteObject(Mapping.ToNode(match));
        }
    }
}
