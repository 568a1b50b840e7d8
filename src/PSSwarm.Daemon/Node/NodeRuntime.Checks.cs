using System.Net;
using System.Net.Sockets;
using PSSwarm.Core;
using PSSwarm.Core.Net;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Node;

/// <summary>
/// Test-Swarm (in the manner of Test-Cluster and kubeadm's preflight): on a node outside a swarm,
/// whether Initialize-Swarm or Join-Swarm can work here; on a member, the swarm's health as this
/// node sees it. Every check says what to do when it does not pass. Nothing is changed.
/// </summary>
internal sealed partial class NodeRuntime
{
    /// <summary>A node certificate closer than this to its expiry is worth a warning (renewal starts at 50-80%).</summary>
    private static readonly TimeSpan CertificateWarnBefore = TimeSpan.FromDays(7);
    private static readonly TimeSpan ClockWarnSkew = TimeSpan.FromSeconds(30);

    public async Task<Proto.CheckList> RunChecksAsync(Proto.CheckRequest request, CancellationToken token)
    {
        var checks = new Proto.CheckList();
        void Add(string name, Proto.CheckResult result, string message) => checks.Checks.Add(new Proto.Check { Name = name, Result = result, Message = message });

        CheckDataRoot(Add);
        var cfg = config;
        if (cfg is null)
        {
            if (error is not null) Add("SwarmState", Proto.CheckResult.CheckFail, $"This node's swarm state cannot be used: {error}. Exit-Swarm -Force clears it.");
            CheckAddresses(request, Add);
        }
        else await CheckMemberAsync(cfg, Add, token).ConfigureAwait(false);
        // Another host's clock: the managers given (port 2377 when none is), else this member's others.
        var remotes = request.RemoteAddresses.Count > 0
            ? request.RemoteAddresses.Select(NormalizeRemote).Where(a => a.Length > 0).ToList()
            : ((manager is { } host ? (IEnumerable<string>)host.ManagerAddresses() : cfg?.Managers) ?? []).Where(a => a != cfg?.AdvertiseAddress).ToList();
        await CheckClocksAsync(remotes, Add, token).ConfigureAwait(false);
        return checks;
    }

    private void CheckDataRoot(Action<string, Proto.CheckResult, string> add)
    {
        var root = options.DataRoot;
        try
        {
            var mode = File.GetUnixFileMode(root);
            var probe = Path.Combine(root, $".test-swarm-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            var octal = "0" + Convert.ToString((int)mode, 8);
            if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                         | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute)) != 0)
                add("DataRoot", Proto.CheckResult.CheckFail, $"The data root {root} can be read by others (mode {octal}): run chmod 0700 {root}.");
            else add("DataRoot", Proto.CheckResult.CheckPass, $"The data root {root} is writable and private (mode {octal}).");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            add("DataRoot", Proto.CheckResult.CheckFail, $"The data root {root} is not writable by the daemon: {e.Message}");
        }
    }

    /// <summary>Before Initialize-Swarm or Join-Swarm: the addresses they would use, as they would resolve them.</summary>
    private static void CheckAddresses(Proto.CheckRequest request, Action<string, Proto.CheckResult, string> add)
    {
        IPEndPoint listen;
        try
        {
            listen = AddressResolver.ResolveListenAddress(string.IsNullOrWhiteSpace(request.ListenAddress) ? null : request.ListenAddress, AddressResolver.GetSystemInterfaces());
        }
        catch (AddressException e)
        {
            add("ListenAddress", Proto.CheckResult.CheckFail, e.Message);
            return;
        }
        try
        {
            var (_, advertise) = ResolveAddresses(request.ListenAddress, request.AdvertiseAddress);
            add("AdvertiseAddress", Proto.CheckResult.CheckPass, $"Other nodes would reach this node at {AddressResolver.Format(advertise)}.");
        }
        catch (SwarmException e) when (string.IsNullOrWhiteSpace(request.AdvertiseAddress))
        {
            // Join-Swarm as a worker falls back to the address the manager sees; a manager needs one.
            add("AdvertiseAddress", Proto.CheckResult.CheckWarn,
                $"{e.Message} A worker can still join (the manager records the address it sees); Initialize-Swarm and a manager join need -AdvertiseAddress.");
        }
        catch (SwarmException e)
        {
            add("AdvertiseAddress", Proto.CheckResult.CheckFail, e.Message);
        }
        try
        {
            using var socket = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(listen);
            add("ListenAddress", Proto.CheckResult.CheckPass, $"{AddressResolver.Format(listen)} is free to listen on.");
        }
        catch (SocketException e)
        {
            add("ListenAddress", Proto.CheckResult.CheckFail,
                $"Cannot listen on {AddressResolver.Format(listen)} ({e.SocketErrorCode}): stop what uses the port, or give -ListenAddress another address or port.");
        }
    }

    private async Task CheckMemberAsync(LocalNodeConfig cfg, Action<string, Proto.CheckResult, string> add, CancellationToken token)
    {
        if (locked)
        {
            add("Locked", Proto.CheckResult.CheckFail, "This manager is locked (autolock): run Unlock-Swarm with the swarm's unlock key.");
            return;
        }
        add("SwarmState", error is null ? Proto.CheckResult.CheckPass : Proto.CheckResult.CheckFail,
            error is null ? $"This node is a {(cfg.Role == NodeRole.Manager ? "manager" : "worker")} of swarm {cfg.SwarmId}." : $"This node reports an error: {error}");
        if (security is { } s)
        {
            var notAfter = new DateTimeOffset(s.Certificate.NotAfter.ToUniversalTime());
            var left = notAfter - clock.GetUtcNow();
            var (result, message) = left <= TimeSpan.Zero
                ? (Proto.CheckResult.CheckFail, $"This node's certificate expired at {notAfter:u}: run Join-Swarm -Token <token> -RemoteAddress <manager> on it (it keeps its node ID).")
                : left < CertificateWarnBefore
                    ? (Proto.CheckResult.CheckWarn, $"This node's certificate expires at {notAfter:u}, in {left.TotalHours:0} h, and has not been renewed yet: check that a manager is reachable.")
                    : (Proto.CheckResult.CheckPass, $"This node's certificate is valid until {notAfter:u}; it renews itself at 50-80% of its validity.");
            add("Certificate", result, message);
        }
        if (cfg.Role != NodeRole.Manager || manager is not { } host) return;

        IReadOnlySet<string> unreachable;
        try
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(token);
            bounded.CancelAfter(TimeSpan.FromSeconds(5));
            await host.ReadBarrierAsync(bounded.Token).ConfigureAwait(false);
            unreachable = await host.UnreachableMembersAsync(bounded.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SwarmException or OperationCanceledException && !token.IsCancellationRequested)
        {
            add("Quorum", Proto.CheckResult.CheckFail, $"The swarm has no leader this manager can reach: {e.Message} Start the managers that are down, or use Initialize-Swarm -ForceNewCluster on a surviving manager if they are lost for good.");
            return;
        }
        var state = host.State.Current;
        var managers = state.Nodes.Values.Where(n => n.Role == NodeRole.Manager).ToList();
        var down = managers.Where(n => unreachable.Contains(n.ManagerAddress)).Select(n => n.Hostname.Length > 0 ? n.Hostname : n.Id).ToList();
        var reachable = managers.Count - down.Count;
        var needed = managers.Count / 2 + 1;
        add("Quorum", down.Count == 0 ? Proto.CheckResult.CheckPass : Proto.CheckResult.CheckWarn, down.Count == 0
            ? (managers.Count == 1 ? "The only manager is reachable (it is its own quorum)." : $"All {managers.Count} managers are reachable (a quorum needs {needed}).")
            : $"{reachable} of {managers.Count} managers are reachable (a quorum needs {needed}); unreachable: {string.Join(", ", down)}. "
              + (reachable - 1 < needed ? "Losing one more manager loses the quorum: bring them back or demote and remove them." : "Bring them back, or demote and remove them."));
        if (managers.Count % 2 == 0)
            add("ManagerCount", Proto.CheckResult.CheckWarn, $"The swarm has {managers.Count} managers: it tolerates no more manager failures than {managers.Count - 1} managers would. Promote or demote one.");
        var downNodes = state.Nodes.Values.Where(n => n.Status == NodeStatus.Down).Select(n => n.Hostname.Length > 0 ? n.Hostname : n.Id).Order(StringComparer.Ordinal).ToList();
        add("NodesDown", downNodes.Count == 0 ? Proto.CheckResult.CheckPass : Proto.CheckResult.CheckWarn, downNodes.Count == 0
            ? $"No node is Down ({state.Nodes.Count} {(state.Nodes.Count == 1 ? "node" : "nodes")})."
            : $"{downNodes.Count} of {state.Nodes.Count} nodes are Down: {string.Join(", ", downNodes.Take(20))}{(downNodes.Count > 20 ? ", ..." : "")}. Start their daemons, or remove them with Remove-SwarmNode.");
        if (state.Cluster is { } cluster)
        {
            var (tokenResult, tokenMessage) = JoinTokenAge(cluster, clock.GetUtcNow());
            add("JoinTokens", tokenResult, tokenMessage);
            add("Autolock", Proto.CheckResult.CheckPass, cluster.Spec.Autolock
                ? "Autolock is on: keep the unlock key (Get-SwarmUnlockKey) where the managers' operators can find it."
                : "Autolock is off: the managers' keys are protected by file permissions only (Set-Swarm -Autolock turns it on).");
        }
    }

    /// <summary>
    /// The standing join tokens' age, and extra tokens that never expire: Docker's documentation advises
    /// rotating tokens regularly (a token that leaked lets anyone join), so a token older than six months warns.
    /// </summary>
    internal static (Proto.CheckResult Result, string Message) JoinTokenAge(ClusterObject cluster, DateTimeOffset now)
    {
        var old = new List<string>();
        var unknown = new List<string>();
        foreach (var role in new[] { NodeRole.Worker, NodeRole.Manager })
        {
            var name = role == NodeRole.Manager ? "manager" : "worker";
            if (cluster.JoinTokenCreatedAt(role) is not { } at) unknown.Add(name);
            else if (now - at > ClusterObject.JoinTokenRotateAfter)
                old.Add($"the {name} token is {(now - at).TotalDays:0} days old (Update-SwarmJoinToken -Role {role})");
        }
        foreach (var extra in cluster.JoinTokens)
            if (extra.ExpiresAt is null && extra.CreatedAt != default && now - extra.CreatedAt > ClusterObject.JoinTokenRotateAfter)
                old.Add($"the extra {extra.Role.ToString().ToLowerInvariant()} token {extra.Id} is {(now - extra.CreatedAt).TotalDays:0} days old and never expires (Revoke-SwarmJoinToken -Id {extra.Id})");
        var limit = $"{ClusterObject.JoinTokenRotateAfter.TotalDays / 30.4:0} months";
        if (old.Count > 0)
            return (Proto.CheckResult.CheckWarn, $"Join tokens older than {limit}: {string.Join("; ", old)}. Rotate them: a leaked token lets anyone join this swarm.");
        if (unknown.Count > 0)
            return (Proto.CheckResult.CheckPass, $"This swarm did not record when its {string.Join(" and ", unknown)} token{(unknown.Count > 1 ? "s were" : " was")} made (an older PSSwarm made it): rotate {(unknown.Count > 1 ? "them" : "it")} with Update-SwarmJoinToken to track {(unknown.Count > 1 ? "their" : "its")} age.");
        return (Proto.CheckResult.CheckPass, $"The join tokens are younger than {limit}.");
    }

    /// <summary>The clock against managers' (their HTTP Date, second resolution): certificates are issued back-dated by 1 h.</summary>
    private async Task CheckClocksAsync(IReadOnlyList<string> managers, Action<string, Proto.CheckResult, string> add, CancellationToken token)
    {
        foreach (var address in managers.Take(3))
        {
            try
            {
                using var handler = new SocketsHttpHandler
                {
                    ConnectTimeout = TimeSpan.FromSeconds(2),
                    // Only the Date header is read: no token, certificate or data is sent.
                    SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
                };
                using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(3), DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
                var before = DateTimeOffset.UtcNow;
                using var response = await http.GetAsync($"https://{address}/", token).ConfigureAwait(false);
                var after = DateTimeOffset.UtcNow;
                if (response.Headers.Date is not { } theirs) continue;
                var ours = before + (after - before) / 2;
                var skew = (theirs - ours).Duration();
                if (skew > RootCA.CertBackdate)
                    add("Clock", Proto.CheckResult.CheckFail, $"This host's clock is {skew.TotalMinutes:0} min off the manager at {address}: certificates would not be valid yet (or any more). Synchronize the clocks (NTP).");
                else if (skew > ClockWarnSkew + TimeSpan.FromSeconds(1))
                    add("Clock", Proto.CheckResult.CheckWarn, $"This host's clock is {skew.TotalSeconds:0} s off the manager at {address}. Synchronize the clocks (NTP).");
                else
                    add("Clock", Proto.CheckResult.CheckPass, $"This host's clock agrees with the manager at {address} (within {ClockWarnSkew.TotalSeconds:0} s).");
                return;
            }
            catch (Exception e) when (e is HttpRequestException or UriFormatException or InvalidOperationException or TaskCanceledException
                                       or OperationCanceledException && !token.IsCancellationRequested)
            {
                // The next manager, if any; the warning below says none answered.
            }
        }
        if (managers.Count > 0)
            add("Clock", Proto.CheckResult.CheckWarn, $"No manager answered at {string.Join(", ", managers.Take(3))}: the clock could not be compared. Check that the address is right and that port 2377 is open between the hosts.");
    }
}
