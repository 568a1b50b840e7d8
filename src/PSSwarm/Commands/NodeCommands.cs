using System.Management.Automation;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Commands;

/// <summary>docker node ls / node inspect.</summary>
[Cmdlet(VerbsCommon.Get, "SwarmNode", DefaultParameterSetName = "List")]
[OutputType(typeof(SwarmNode))]
public sealed class GetSwarmNodeCommand : SwarmCmdlet
{
    /// <summary>Node IDs, unique ID prefixes or hostnames.</summary>
    [Parameter(Position = 0, ParameterSetName = "List", ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[]? Id { get; set; }

    /// <summary>Only the node whose daemon answers.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Self")]
    public SwitchParameter Self { get; set; }

    [Parameter(ParameterSetName = "List")]
    public NodeRole? Role { get; set; }

    private List<Proto.Node>? nodes;

    protected override void ProcessRecord()
    {
        nodes ??= Call((c, t) => c.ListNodesAsync(t)).Nodes.ToList();
        if (Self)
        {
            foreach (var n in nodes.Where(n => n.IsSelf)) WriteObject(Mapping.ToNode(n));
            return;
        }
        IEnumerable<Proto.Node> selected = nodes;
        if (Role is { } role) selected = selected.Where(n => n.Role == Mapping.ToProto(role));
        if (Id is null)
        {
            foreach (var n in selected) WriteObject(Mapping.ToNode(n));
            return;
        }
        var candidates = selected.ToList();
        foreach (var id in Id)
        {
            var match = NodeLookup.Find(candidates, id, out var error);
            if (match is null) WriteError(error!);
            else WriteObject(Mapping.ToNode(match));
        }
    }
}

/// <summary>Docker's node lookup: full ID, then hostname, then a unique ID prefix.</summary>
internal static class NodeLookup
{
    public static Proto.Node? Find(IReadOnlyList<Proto.Node> nodes, string key, out ErrorRecord? error)
    {
        error = null;
        var exact = nodes.FirstOrDefault(n => n.Id == key);
        if (exact is not null) return exact;
        var byName = nodes.Where(n => string.Equals(n.Hostname, key, StringComparison.Ordinal)).ToList();
        if (byName.Count == 1) return byName[0];
        var byPrefix = byName.Count > 1 ? byName : nodes.Where(n => n.Id.StartsWith(key, StringComparison.Ordinal)).ToList();
        if (byPrefix.Count == 1) return byPrefix[0];
        error = byPrefix.Count == 0
            ? new ErrorRecord(new SwarmException("SwarmNodeNotFound", $"node {key} not found"), "SwarmNodeNotFound", ErrorCategory.ObjectNotFound, key)
            : new ErrorRecord(new SwarmException("SwarmNodeAmbiguous", $"node {key} is ambiguous ({byPrefix.Count} matches found)"),
                "SwarmNodeAmbiguous", ErrorCategory.InvalidArgument, key);
        return null;
    }
}
