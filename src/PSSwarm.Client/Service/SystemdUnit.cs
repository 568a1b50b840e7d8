using System.Runtime.InteropServices;
using System.Text;

namespace PSSwarm.Client.Service;

/// <summary>What psswarmd.service runs: the daemon, its data root, socket, socket group and node name.</summary>
public sealed record DaemonUnitSettings(string DaemonPath, string DataRoot, string Endpoint, string? Group, string? NodeName, string? DotnetRoot)
{
    public string SocketPath => SwarmEndpoint.SocketPath(Endpoint);

    /// <summary>psswarmd's arguments, in order.</summary>
    public IReadOnlyList<string> Arguments
    {
        get
        {
            var args = new List<string> { "--data-root", DataRoot, "--host", Endpoint };
            if (!string.IsNullOrEmpty(Group)) args.AddRange(["--group", Group]);
            if (!string.IsNullOrEmpty(NodeName)) args.AddRange(["--node-name", NodeName]);
            return args;
        }
    }
}

/// <summary>
/// psswarmd.service: rendering the module's template (the unit a package would install) for one
/// install, and reading an installed unit back. Pure text work, no systemd needed.
/// </summary>
public static partial class SystemdUnit
{
    public const string UnitName = "psswarmd.service";

    // Under these, ProtectHome=yes would hide the daemon, the runtime or the data.
    private static readonly string[] HomeRoots = ["/home", "/root", "/run/user"];
    // Under these, PrivateTmp=yes would hide them.
    private static readonly string[] TempRoots = ["/tmp", "/var/tmp"];

    /// <summary>
    /// The template with this install's ExecStart=, ReadWritePaths= (the data root and the socket's
    /// directory), Environment=DOTNET_ROOT= when the runtime is not where the daemon looks by default,
    /// and ProtectHome=/PrivateTmp= relaxed only as far as the paths in use need. Notes say what was relaxed.
    /// </summary>
    public static string Render(string template, DaemonUnitSettings settings, out IReadOnlyList<string> notes)
    {
        var found = new List<string>();
        var socketDir = Path.GetDirectoryName(settings.SocketPath) ?? "/";
        var writable = new List<string> { RealPath(settings.DataRoot) };
        var realSocketDir = RealPath(socketDir);
        if (!writable.Any(w => IsUnder(realSocketDir, w))) writable.Add(realSocketDir);
        var readable = new List<string> { RealPath(settings.DaemonPath) };
        if (settings.DotnetRoot is { } dotnet) readable.Add(RealPath(dotnet));
        var all = writable.Concat(readable).ToList();

        string? protectHome = null;
        if (all.FirstOrDefault(p => HomeRoots.Any(h => IsUnder(p, h))) is { } home)
        {
            protectHome = "read-only";
            found.Add($"ProtectHome=read-only instead of yes: {home} is under a home directory");
        }
        string? privateTmp = null;
        if (all.FirstOrDefault(p => TempRoots.Any(t => IsUnder(p, t))) is { } tmp)
        {
            privateTmp = "no";
            found.Add($"PrivateTmp=no instead of yes: {tmp} is under /tmp or /var/tmp");
        }

        var output = new StringBuilder();
        // The template's opening comment describes the packaged unit: this file says where it came from instead.
        output.Append("# psswarmd: one PSSwarm node, run by systemd. Written by Install-SwarmDaemon from the PSSwarm\n")
              .Append("# module's psswarmd.service; Install-SwarmDaemon -Force rewrites it, Uninstall-SwarmDaemon removes it.\n");
        var section = "";
        bool execDone = false, pathsDone = false;
        foreach (var raw in template.ReplaceLineEndings("\n").Split('\n'))
        {
            var line = raw.TrimEnd();
            var trimmed = line.TrimStart();
            if (section.Length == 0 && (trimmed.Length == 0 || trimmed[0] is '#' or ';')) continue;
            if (trimmed.StartsWith('[') && trimmed.EndsWith(']'))
            {
                section = trimmed;
                output.Append(line).Append('\n');
                continue;
            }
            var key = KeyOf(trimmed);
            if (section == "[Service]" && key is not null)
            {
                switch (key)
                {
                    case "ExecStart":
                        if (execDone) continue;
                        execDone = true;
                        if (settings.DotnetRoot is { } root)
                            output.Append("Environment=").Append(Quote("DOTNET_ROOT=" + root, exec: false)).Append('\n');
                        output.Append("ExecStart=").Append(ExecStart(settings)).Append('\n');
                        continue;
                    case "ReadWritePaths":
                        if (pathsDone) continue;
                        pathsDone = true;
                        output.Append("ReadWritePaths=").Append(string.Join(' ', writable.Select(p => Quote(p, exec: false)))).Append('\n');
                        continue;
                    case "ProtectHome" when protectHome is not null:
                        output.Append("ProtectHome=").Append(protectHome).Append('\n');
                        continue;
                    case "PrivateTmp" when privateTmp is not null:
                        output.Append("PrivateTmp=").Append(privateTmp).Append('\n');
                        continue;
                }
            }
            output.Append(line).Append('\n');
        }
        if (!execDone) throw new SwarmClientException("SwarmDaemonUnitTemplateInvalid", "InvalidData", "The unit template has no ExecStart= line in its [Service] section.");
        notes = found;
        return output.ToString().TrimEnd('\n') + "\n";
    }

    /// <summary>The ExecStart= value: the daemon and its arguments, quoted and escaped for systemd.</summary>
    public static string ExecStart(DaemonUnitSettings settings)
        => string.Join(' ', new[] { settings.DaemonPath }.Concat(settings.Arguments).Select(a => Quote(a, exec: true)));

    /// <summary>
    /// One word for a unit file: '%' doubled (specifiers), '$' doubled in command lines (variables),
    /// and double quotes with C escapes when it holds blanks, quotes or backslashes.
    /// </summary>
    public static string Quote(string value, bool exec)
    {
        if (value.Any(char.IsControl))
            throw new SwarmClientException("SwarmInvalidArgument", "InvalidArgument", $"'{value.ReplaceLineEndings(" ")}' holds a control character, which a unit file cannot carry.");
        var s = value.Replace("%", "%%", StringComparison.Ordinal);
        if (exec) s = s.Replace("$", "$$", StringComparison.Ordinal);
        if (s.Length > 0 && !s.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\' or ';'))
            return s;
        return "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }

    /// <summary>Splits a command line as systemd does for what <see cref="Quote"/> writes (quotes, C escapes, %% and $$).</summary>
    public static List<string> SplitCommandLine(string value)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (quote != '\0')
            {
                if (c == quote) { quote = '\0'; continue; }
                if (c == '\\' && i + 1 < value.Length) { word.Append(Unescape(value[++i])); continue; }
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) { words.Add(word.ToString()); word.Clear(); inWord = false; }
                continue;
            }
            else if (c is '"' or '\'') { quote = c; inWord = true; continue; }
            else if (c == '\\' && i + 1 < value.Length) { word.Append(Unescape(value[++i])); inWord = true; continue; }
            if ((c == '%' || c == '$') && i + 1 < value.Length && value[i + 1] == c) i++;
            word.Append(c);
            inWord = true;
        }
        if (inWord) words.Add(word.ToString());
        return words;
    }

    private static char Unescape(char c) => c switch { 'n' => '\n', 't' => '\t', _ => c };

    /// <summary>Reads an installed unit back: its ExecStart= daemon and arguments; null when it has none.</summary>
    public static DaemonUnitSettings? Parse(string unitText)
    {
        string? exec = null, dotnet = null;
        var section = "";
        foreach (var raw in unitText.ReplaceLineEndings("\n").Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith('[') && line.EndsWith(']')) { section = line; continue; }
            if (section != "[Service]") continue;
            var key = KeyOf(line);
            var value = key is null ? "" : line[(line.IndexOf('=') + 1)..].Trim();
            if (key == "ExecStart") exec = value;
            if (key == "Environment")
                foreach (var assignment in SplitCommandLine(value))
                    if (assignment.StartsWith("DOTNET_ROOT=", StringComparison.Ordinal)) dotnet = assignment["DOTNET_ROOT=".Length..];
        }
        if (exec is null) return null;
        var words = SplitCommandLine(exec.TrimStart('-', '@', '+', '!', ':'));
        if (words.Count == 0) return null;
        string dataRoot = DaemonLauncher.DefaultDataRoot, endpoint = SwarmEndpoint.Default;
        string? group = null, nodeName = null;
        for (var i = 1; i < words.Count; i++)
        {
            var (name, inline) = words[i].IndexOf('=') is var eq && eq > 0 && words[i].StartsWith("--", StringComparison.Ordinal)
                ? (words[i][..eq], words[i][(eq + 1)..]) : (words[i], null);
            string Next() => inline ?? (i + 1 < words.Count ? words[++i] : "");
            switch (name)
            {
                case "--data-root": dataRoot = Next(); break;
                case "--host" or "-H": endpoint = Next(); break;
                case "--group" or "-G": group = Next(); break;
                case "--node-name": nodeName = Next(); break;
            }
        }
        return new DaemonUnitSettings(words[0], dataRoot, endpoint, group, nodeName, dotnet);
    }

    /// <summary>The key of a "Key=value" line; null for blank lines, comments and anything else.</summary>
    private static string? KeyOf(string trimmedLine)
    {
        if (trimmedLine.Length == 0 || trimmedLine[0] is '#' or ';') return null;
        var eq = trimmedLine.IndexOf('=');
        return eq > 0 ? trimmedLine[..eq].Trim() : null;
    }

    private static bool IsUnder(string path, string root)
        => path == root || path.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);

    /// <summary>The path with symbolic links resolved as far as it exists (/var/run/x.sock -> /run/x.sock).</summary>
    public static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var rest = new Stack<string>();
        var current = full;
        while (true)
        {
            if (Path.Exists(current) && ResolvedPath(current) is { } real)
            {
                var result = real;
                while (rest.Count > 0) result = Path.Combine(result, rest.Pop());
                return result;
            }
            var parent = Path.GetDirectoryName(current);
            if (parent is null || parent == current) return full;
            rest.Push(Path.GetFileName(current));
            current = parent;
        }
    }

    private static string? ResolvedPath(string path)
    {
        var p = realpath(path, IntPtr.Zero);
        if (p == IntPtr.Zero) return null;
        try { return Marshal.PtrToStringUTF8(p); }
        finally { free(p); }
    }

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr realpath(string path, IntPtr resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void free(IntPtr p);
}
