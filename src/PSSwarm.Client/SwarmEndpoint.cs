namespace PSSwarm.Client;

/// <summary>Which daemon a cmdlet talks to: -Endpoint, then $env:PSSWARM_HOST, then the default socket.</summary>
public static class SwarmEndpoint
{
    public const string Default = "unix:///var/run/psswarm.sock";
    public const string EnvironmentVariable = "PSSWARM_HOST";

    public static string Resolve(string? endpoint)
    {
        if (!string.IsNullOrWhiteSpace(endpoint)) return Normalize(endpoint);
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        return string.IsNullOrWhiteSpace(env) ? Default : Normalize(env);
    }

    /// <summary>Accepts unix:///path or a bare absolute path; returns unix:///path.</summary>
    public static string Normalize(string endpoint)
    {
        endpoint = endpoint.Trim();
        if (endpoint.StartsWith('/')) return "unix://" + endpoint;
        if (endpoint.StartsWith("unix://", StringComparison.Ordinal) && endpoint.Length > "unix://".Length && endpoint["unix://".Length] == '/')
            return endpoint;
        throw new SwarmClientException("SwarmInvalidEndpoint", "InvalidArgument",
            $"The endpoint '{endpoint}' is not valid: use unix:///path/to.sock.");
    }

    public static string SocketPath(string endpoint) => Normalize(endpoint)["unix://".Length..];
}
