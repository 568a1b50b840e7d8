using System.Globalization;
using System.Net;

namespace PSSwarm.LoadGen;

/// <summary>The command line of psswarm-loadgen.</summary>
internal sealed record Options
{
    public string[] Managers { get; init; } = [];
    public string Token { get; init; } = "";
    public int Nodes { get; init; } = 100;
    public int JoinConcurrency { get; init; } = 32;
    public double DurationSeconds { get; init; } = 60;
    public byte[] AddressPrefix { get; init; } = [127, 70];
    public string HostnamePrefix { get; init; } = "lg";
    public string Version { get; init; } = "0.1.0-loadgen";
    public string? JsonPath { get; init; }
    public string? PhaseFile { get; init; }
    public string? IdsFile { get; init; }
    public int JoinAttempts { get; init; } = 8;
    /// <summary>Joins go round-robin to every manager instead of the first one that answers (as Join-Swarm does).</summary>
    public bool JoinSpread { get; init; }
    public double HeartbeatTimeoutSeconds { get; init; } = 5;
    public double ProgressSeconds { get; init; } = 5;

    public const string Usage = """
        Usage: psswarm-loadgen --managers HOST:PORT[,HOST:PORT...] --token TOKEN [options]

        Simulates worker nodes of a PSSwarm swarm: each joins for real (its own ECDSA P-256 key and
        CSR, IssueNodeCertificate with the token) and then holds its own mutual-TLS session on the
        cluster listener, heartbeating the leader at the swarm's dispatcher period (+-10% jitter).

        Options:
          --managers LIST         the managers' cluster addresses (host:port, comma-separated); required
          --token TOKEN           a worker join token (or --token-file PATH, or $PSSWARM_LOADGEN_TOKEN)
          --nodes N               simulated nodes (default 100)
          --join-concurrency N    joins in flight (default 32)
          --duration SECONDS      session window after the last join (default 60)
          --address-prefix P      loopback prefix of the recorded node addresses: 127.x or 127.x.y (default 127.70)
          --hostname-prefix P     node hostnames P-00001, P-00002, ... (default lg)
          --version-string V      the version the nodes report (default 0.1.0-loadgen)
          --join-attempts N       attempts per join on transient errors, 0.5 s to 5 s apart (default 8)
          --join-spread           spread the joins over all managers (default: the first that answers, as Join-Swarm)
          --heartbeat-timeout S   deadline of one heartbeat (default 5)
          --progress SECONDS      progress line on stderr every S seconds (default 5)
          --json PATH             also write the result object there (stdout's last line has it in any case)
          --phase-file PATH       current phase for a driver script: joining, sessions <unix ms>, stopping, done
          --ids-file PATH         the joined nodes' IDs, one a line (written when the joins are done)

        Exit code: 0 (also after Ctrl+C/SIGTERM), 1 on a fatal set-up error (bad token, CA mismatch,
        no manager reachable, a manager token), 2 on a bad command line.
        """;

    public static Options Parse(string[] args)
    {
        var o = new Options();
        string? tokenFile = null;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string Value() => ++i < args.Length ? args[i] : throw new ArgumentException($"option {arg} needs a value");
            int Int(int min, int max)
            {
                var v = Value();
                if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
                    throw new ArgumentException($"{arg} must be a whole number from {min} to {max}, not '{v}'");
                return n;
            }
            double Seconds(double min)
            {
                var v = Value();
                if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || d < min || double.IsInfinity(d))
                    throw new ArgumentException($"{arg} must be a number of seconds of at least {min}, not '{v}'");
                return d;
            }
            switch (arg)
            {
                case "--managers":
                    o = o with { Managers = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToArray() };
                    break;
                case "--token": o = o with { Token = Value().Trim() }; break;
                case "--token-file": tokenFile = Value(); break;
                case "--nodes": o = o with { Nodes = Int(1, 65_000) }; break;
                case "--join-concurrency": o = o with { JoinConcurrency = Int(1, 1024) }; break;
                case "--duration": o = o with { DurationSeconds = Seconds(0) }; break;
                case "--address-prefix": o = o with { AddressPrefix = ParsePrefix(Value()) }; break;
                case "--hostname-prefix": o = o with { HostnamePrefix = Value() }; break;
                case "--version-string": o = o with { Version = Value() }; break;
                case "--join-attempts": o = o with { JoinAttempts = Int(1, 100) }; break;
                case "--join-spread": o = o with { JoinSpread = true }; break;
                case "--heartbeat-timeout": o = o with { HeartbeatTimeoutSeconds = Seconds(0.1) }; break;
                case "--progress": o = o with { ProgressSeconds = Seconds(0.5) }; break;
                case "--json": o = o with { JsonPath = Path.GetFullPath(Value()) }; break;
                case "--phase-file": o = o with { PhaseFile = Path.GetFullPath(Value()) }; break;
                case "--ids-file": o = o with { IdsFile = Path.GetFullPath(Value()) }; break;
                default: throw new ArgumentException($"unknown option '{arg}'");
            }
        }
        if (tokenFile is not null) o = o with { Token = File.ReadAllText(tokenFile).Trim() };
        if (o.Token.Length == 0) o = o with { Token = (Environment.GetEnvironmentVariable("PSSWARM_LOADGEN_TOKEN") ?? "").Trim() };
        if (o.Managers.Length == 0) throw new ArgumentException("--managers must name at least one manager (host:port)");
        foreach (var m in o.Managers)
            if (!IPEndPoint.TryParse(m, out var ep) || ep.Port == 0 || !IPAddress.IsLoopback(ep.Address))
                throw new ArgumentException($"--managers: '{m}' is not a loopback IP address with a port (the load generator never leaves loopback)");
        if (o.Token.Length == 0) throw new ArgumentException("a join token is needed: --token, --token-file or $PSSWARM_LOADGEN_TOKEN");
        if (!PSSwarm.Core.State.InputLimits.IsValidHostname($"{o.HostnamePrefix}-{o.Nodes:D5}"))
            throw new ArgumentException($"--hostname-prefix '{o.HostnamePrefix}' does not make valid hostnames");
        if (!PSSwarm.Core.State.InputLimits.IsValidVersion(o.Version))
            throw new ArgumentException($"--version-string '{o.Version}' is not a valid version (letters, digits, '.', '+', '-')");
        var capacity = o.AddressPrefix.Length == 2 ? 256 * 254 : 254;
        if (o.Nodes > capacity)
            throw new ArgumentException($"--address-prefix {string.Join('.', o.AddressPrefix)} has room for {capacity} nodes, not {o.Nodes}");
        return o;
    }

    private static byte[] ParsePrefix(string value)
    {
        var parts = value.Trim('.').Split('.');
        if (parts.Length is < 2 or > 3 || parts[0] != "127"
            || !parts.All(p => byte.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            throw new ArgumentException($"--address-prefix must be 127.x or 127.x.y (loopback only), not '{value}'");
        return parts.Select(p => byte.Parse(p, CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>The recorded (advertised) address of node i (0-based): unique, loopback, never connected to.</summary>
    public string AddressOf(int i) => AddressPrefix.Length == 2
        ? $"{AddressPrefix[0]}.{AddressPrefix[1]}.{i / 254}.{i % 254 + 1}"
        : $"{AddressPrefix[0]}.{AddressPrefix[1]}.{AddressPrefix[2]}.{i + 1}";

    public string HostnameOf(int i) => $"{HostnamePrefix}-{(i + 1).ToString(Nodes >= 100_000 ? "D6" : "D5", CultureInfo.InvariantCulture)}";
}
