namespace PSSwarm.Daemon;

internal sealed record DaemonOptions
{
    public const string DefaultDataRoot = "/var/lib/psswarm";
    public const string DefaultHost = "unix:///var/run/psswarm.sock";

    public string DataRoot { get; init; } = DefaultDataRoot;
    public string Host { get; init; } = DefaultHost;
    public string NodeName { get; init; } = System.Net.Dns.GetHostName();
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>The control socket's group as given (--group), or null: the daemon's own group.</summary>
    public string? Group { get; init; }

    /// <summary>The gid --group resolved to, or null.</summary>
    public uint? GroupId { get; init; }

    public string SocketPath => Host.StartsWith("unix://", StringComparison.Ordinal) ? Host["unix://".Length..] : Host;

    public static string Usage => """
        Usage: psswarmd [options]

        Runs one PSSwarm node in the foreground (its PID is the daemon; SIGTERM stops it).

        Options:
          --data-root DIR        all state of this node (default /var/lib/psswarm)
          --host unix:///PATH    control endpoint (default unix:///var/run/psswarm.sock)
          --node-name NAME       this node's hostname in the swarm (default: the machine's host name)
          --log-level LEVEL      trace, debug, info, warn, error (default info)
          -G, --group NAME       the control socket's group, a name or a gid (default: the daemon's group)
          --version              print the version and exit
          -h, --help             print this help

        The control socket is created with mode 0660 (its owner and group may use it).
        A missing socket directory is created with mode 0750 (group: --group); an existing one is left as it is.
        """;

    /// <summary>Parses the command line; throws ArgumentException with a message for the user.</summary>
    public static DaemonOptions Parse(string[] args)
    {
        var o = new DaemonOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string? inline = null;
            var eq = arg.IndexOf('=');
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                inline = arg[(eq + 1)..];
                arg = arg[..eq];
            }
            string Value() => inline ?? (++i < args.Length ? args[i] : throw new ArgumentException($"option {arg} needs a value"));
            switch (arg)
            {
                case "--data-root": o = o with { DataRoot = Path.GetFullPath(Value()) }; break;
                case "--host" or "-H":
                    var host = Value();
                    if (!host.StartsWith("unix://", StringComparison.Ordinal) || host.Length <= "unix://".Length)
                        throw new ArgumentException($"--host must be unix:///path/to.sock, not '{host}'");
                    o = o with { Host = host };
                    break;
                case "--node-name":
                    var name = Value();
                    if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("--node-name must not be empty");
                    o = o with { NodeName = name };
                    break;
                case "--log-level": o = o with { LogLevel = ParseLevel(Value()) }; break;
                case "--group" or "-G":
                    var group = Value();
                    o = o with { Group = group, GroupId = ResolveGroup(group) };
                    break;
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        // The name goes into every heartbeat, where the managers bound it: refuse a bad one here, clearly.
        if (!PSSwarm.Core.State.InputLimits.IsValidHostname(o.NodeName))
            throw new ArgumentException($"invalid node name \"{o.NodeName}\": use 1 to 253 letters, digits, '.', '-' or '_', starting with a letter or digit (--node-name NAME)");
        return o;
    }

    // As dockerd's -G: a group name (getgrnam, so NSS groups count too), else a numeric gid.
    private static uint ResolveGroup(string name)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("--group must not be empty");
        if (Native.GroupId(name) is { } gid) return gid;
        if (uint.TryParse(name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out gid) && gid != Native.NoChange)
            return gid;
        throw new ArgumentException($"group \"{name}\" not found");
    }

    private static LogLevel ParseLevel(string value) => value.ToLowerInvariant() switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "info" or "information" => LogLevel.Information,
        "warn" or "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "fatal" or "critical" => LogLevel.Critical,
        _ => throw new ArgumentException($"unknown log level '{value}' (trace, debug, info, warn, error)"),
    };
}
