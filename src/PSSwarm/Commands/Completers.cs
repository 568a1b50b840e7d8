using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using PSSwarm.Client;
using PSSwarm.Client.Api;

namespace PSSwarm.Commands;

/// <summary>
/// Completes -Id with the nodes the selected daemon lists (its -Endpoint, $env:PSSWARM_HOST or the
/// default socket): IDs and hostnames that start with what was typed, hostnames first. A daemon
/// that does not answer within 2 s, or is not a manager, completes nothing.
/// </summary>
public sealed class NodeIdCompleter : IArgumentCompleter
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var typed = Completion.Unquote(wordToComplete);
        var endpoint = fakeBoundParameters.Contains("Endpoint") ? fakeBoundParameters["Endpoint"] as string : null;
        IReadOnlyList<Node> nodes;
        try
        {
            var client = SwarmApi.For(endpoint);
            using var cts = new CancellationTokenSource(Timeout);
            nodes = client.ListNodesAsync(cts.Token).WaitAsync(Timeout).GetAwaiter().GetResult();
        }
        catch (Exception)
        {
            return [];
        }
        var results = new List<CompletionResult>();
        foreach (var node in nodes.OrderBy(n => n.Hostname, StringComparer.Ordinal))
        {
            var tip = $"{node.Hostname} ({node.Id}): {(node.Role == Role.Manager ? "manager" : "worker")}, {Completion.Status(node.Status)}";
            if (node.Hostname.Length > 0 && node.Hostname.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
                results.Add(new CompletionResult(Completion.Quote(node.Hostname), node.Hostname, CompletionResultType.ParameterValue, tip));
        }
        foreach (var node in nodes.OrderBy(n => n.Id, StringComparer.Ordinal))
        {
            if (node.Id.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
                results.Add(new CompletionResult(node.Id, node.Id, CompletionResultType.ParameterValue, $"{node.Id}: {node.Hostname}"));
        }
        return results;
    }
}

/// <summary>
/// Completes -Endpoint with the control sockets of the psswarmd processes running on this host
/// (their --host), then $env:PSSWARM_HOST and the default socket when they exist.
/// </summary>
public sealed class EndpointCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var typed = Completion.Unquote(wordToComplete);
        var endpoints = new List<(string Endpoint, string Tip)>();
        foreach (var (pid, endpoint) in Completion.LocalDaemons())
            endpoints.Add((endpoint, $"psswarmd (PID {pid})"));
        foreach (var candidate in new[] { Environment.GetEnvironmentVariable(SwarmEndpoint.EnvironmentVariable), SwarmEndpoint.Default })
        {
            if (string.IsNullOrWhiteSpace(candidate)) continue;
            try
            {
                var normalized = SwarmEndpoint.Normalize(candidate);
                if (File.Exists(SwarmEndpoint.SocketPath(normalized))) endpoints.Add((normalized, "a socket"));
            }
            catch (SwarmClientException) { }
        }
        return endpoints
            .DistinctBy(e => e.Endpoint, StringComparer.Ordinal)
            .Where(e => e.Endpoint.StartsWith(typed, StringComparison.Ordinal) || SwarmEndpoint.SocketPath(e.Endpoint).StartsWith(typed, StringComparison.Ordinal))
            .Select(e => new CompletionResult(Completion.Quote(e.Endpoint), e.Endpoint, CompletionResultType.ParameterValue, e.Tip))
            .ToList();
    }
}

internal static class Completion
{
    public static string Unquote(string word) => word.Trim('\'', '"');

    /// <summary>Single-quoted when PowerShell would otherwise read the value differently.</summary>
    public static string Quote(string value)
        => value.Any(c => char.IsWhiteSpace(c) || "'\"`$&|;,(){}@#<>".Contains(c)) ? "'" + value.Replace("'", "''") + "'" : value;

    public static string Status(PSSwarm.Client.Api.NodeStatus status) => status switch
    {
        PSSwarm.Client.Api.NodeStatus.Ready => "Ready",
        PSSwarm.Client.Api.NodeStatus.Down => "Down",
        PSSwarm.Client.Api.NodeStatus.Disconnected => "Disconnected",
        _ => "Unknown",
    };

    /// <summary>psswarmd processes on this host and the endpoint each serves (its --host/-H argument).</summary>
    public static IEnumerable<(int Pid, string Endpoint)> LocalDaemons()
    {
        string[] dirs;
        try { dirs = Directory.GetDirectories("/proc"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { yield break; }
        foreach (var dir in dirs)
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            string[] argv;
            try { argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            if (argv.Length == 0 || !argv.Any(a => Path.GetFileName(a) is "psswarmd" or "psswarmd.dll")) continue;
            string? endpoint = null;
            for (var i = 0; i < argv.Length; i++)
            {
                if (argv[i] is "--host" or "-H" && i + 1 < argv.Length) endpoint = argv[i + 1];
                else if (argv[i].StartsWith("--host=", StringComparison.Ordinal)) endpoint = argv[i]["--host=".Length..];
            }
            string? normalized;
            try { normalized = SwarmEndpoint.Normalize(endpoint ?? SwarmEndpoint.Default); }
            catch (SwarmClientException) { continue; }
            yield return (pid, normalized);
        }
    }
}
