using PSSwarm.Client.Api;

namespace PSSwarm.Client;

/// <summary>Docker's node lookup (the daemon's twin serves Set-/Remove-SwarmNode): full ID, then hostname, then a unique ID prefix.</summary>
public static class NodeLookup
{
    /// <summary>The node, or null with the error (id and Docker's message) to report.</summary>
    public static Node? Find(IReadOnlyList<Node> nodes, string key, out SwarmClientException? error)
    {
        error = null;
        var exact = nodes.FirstOrDefault(n => n.Id == key);
        if (exact is not null) return exact;
        var byName = nodes.Where(n => string.Equals(n.Hostname, key, StringComparison.Ordinal)).ToList();
        if (byName.Count == 1) return byName[0];
        var matches = byName.Count > 1 ? byName : nodes.Where(n => n.Id.StartsWith(key, StringComparison.Ordinal)).ToList();
        if (matches.Count == 1) return matches[0];
        error = matches.Count == 0
            ? new SwarmClientException("SwarmNodeNotFound", "ObjectNotFound", $"node {key} not found")
            : new SwarmClientException("SwarmNodeAmbiguous", "InvalidArgument", $"node {key} is ambiguous ({matches.Count} matches found)");
        return null;
    }
}
