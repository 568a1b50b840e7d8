using System.Net;
using Grpc.Core;
using PSSwarm.Core;
using PSSwarm.Core.Net;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using System.Security.Cryptography.X509Certificates;
using PSSwarm.Daemon.Ca;
using PSSwarm.Daemon.Cluster;
using PSSwarm.Daemon.Manager;
using PSSwarm.Protocol.Cluster;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Node;

internal sealed partial class NodeRuntime
{
    private static readonly TimeSpan CaFetchTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Join-Swarm. Checks run in SPEC.md's order before anything is bound or detected here:
    /// own state, token format, the manager's root CA against the token's digest, the secret.
    /// </summary>
    public async Task<Proto.Node> JoinAsync(Proto.JoinRequest request, CancellationToken token)
    {
        await gate.WaitAsync(token).ConfigureAwait(false);
        try
        {
            // 1. Own state. A member whose certificate expired while it was off comes back this way.
            if (config is not null)
            {
                if (!CertificateExpired() && !RootChangedFor(request.Token)) throw SwarmErrors.AlreadyInSwarm();
                return await RejoinAsync(config, request, token).ConfigureAwait(false);
            }
            var stopwatch = System.Diagnostics.Stopwatch.StartNew();
            // 2. Token format.
            if (!JoinToken.TryParse(request.Token, out var joinToken) || joinToken is null)
                throw SwarmErrors.InvalidArgument("invalid join token");
            var remotes = request.RemoteAddresses.Select(NormalizeRemote).Where(a => a.Length > 0).Distinct().ToList();
            if (remotes.Count == 0)
                throw SwarmErrors.InvalidArgument("-RemoteAddress must name at least one manager (host:port)");
            var availability = ProtoMapper.FromProto(request.Availability);

            // 3. The root CA, pinned by the token's digest; a mismatch fails at once (no retry can fix it).
            //    Every connection of the join is checked against the pinned root (JoinTrust): the
            //    token goes only to a proven manager of that swarm, on whichever connection.
            var trust = new JoinTrust(clock);
            using var connection = ClusterChannels.ForJoin(trust);
            var (remote, rootPem, root) = await FetchRootCAAsync(connection, trust, remotes, joinToken, token).ConfigureAwait(false);
            var tCa = stopwatch.Elapsed.TotalMilliseconds;

            // 4. The secret: the manager compares the whole token and issues our certificate.
            var (keyPem, csr) = NodeCertificates.NewKeyAndCsr();
            var issued = await IssueAsync(connection, remote, new IssueNodeCertificateRequest
            {
                Csr = Google.Protobuf.ByteString.CopyFrom(csr),
                Token = request.Token,
                Availability = (int)availability,
                Hostname = options.NodeName,
                Version = Version,
                // A literal IP is only parsed here, not resolved: interface names and
                // detection still wait until the secret was accepted.
                AdvertiseIp = LiteralIp(request.AdvertiseAddress),
            }, token).ConfigureAwait(false);
            var (issuedCert, issuedTrust) = CheckIssued(root, issued, keyPem, nodeId: null);
            var tIssued = stopwatch.Elapsed.TotalMilliseconds;

            // 5. Certificates; now, and only now, this host's addresses (a failure here tells the
            //    swarm this node is gone, so it does not linger as a live node).
            var role = issued.Manager ? NodeRole.Manager : NodeRole.Worker;
            var cfg = new LocalNodeConfig
            {
                SwarmId = issued.SwarmId, NodeId = issued.NodeId, Role = role,
                ListenAddress = "", AdvertiseAddress = "",
                Managers = issued.Managers.Count > 0 ? issued.Managers.ToList() : [remote],
                ManagerPeers = PeersOf(issued),
                JoinedAt = DateTimeOffset.UtcNow,
            };
            IPEndPoint advertise;

            // 6. Then (managers) the store and Raft membership, then the commit point (node.json).
            ManagerHost? host = null;
            try
            {
                store.Wipe();
                // The root the token pinned is what this node keeps, not what a manager sent with the certificate.
                store.SaveCertificates(issued.CertificatePem, keyPem, rootPem);
                security = NewSecurity(issuedTrust, issued.SwarmId, issued.NodeId, issuedCert);
                channels = ClusterChannels.For(security);
                (var listen, advertise) = ResolveJoinAddresses(request, role, remote);
                cfg = cfg with { ListenAddress = AddressResolver.Format(listen), AdvertiseAddress = AddressResolver.Format(advertise) };
                if (role == NodeRole.Manager)
                {
                    AdoptDataKey(issued.DataKey);
                    host = await BecomeRaftMemberAsync(cfg, token).ConfigureAwait(false);
                }
                store.SaveConfig(cfg);
            }
            catch
            {
                await TellLeaveAsync(cfg).ConfigureAwait(false);
                await AbandonAsync(host).ConfigureAwait(false);
                throw;
            }
            Commit(cfg, host);
            var tMember = stopwatch.Elapsed.TotalMilliseconds;
            // The manager created the node Ready (it just proved it is alive); the session keeps it so.
            var ready = role == NodeRole.Worker || await WaitAsync(agent!.FirstHeartbeat, TimeSpan.FromSeconds(5), token).ConfigureAwait(false);
            logger.LogDebug("Join timings: root CA {Ca:0} ms, certificate issued {Issued:0} ms, store and membership {Member:0} ms, first heartbeat {Ready:0} ms",
                tCa, tIssued, tMember, stopwatch.Elapsed.TotalMilliseconds);
            logger.LogInformation("This node joined a swarm as a {Role} ({NodeId}) via {Remote}", role.ToString().ToLowerInvariant(), cfg.NodeId, remote);

            if (host is not null && host.State.Current.Nodes.TryGetValue(cfg.NodeId, out var self))
                return ToProto(host, self);
            return new Proto.Node
            {
                Id = cfg.NodeId, Hostname = options.NodeName,
                Role = role == NodeRole.Manager ? Proto.NodeRole.RoleManager : Proto.NodeRole.RoleWorker,
                Availability = ProtoMapper.ToProto(availability),
                Status = ready ? Proto.NodeStatus.StatusReady : Proto.NodeStatus.StatusUnknown,
                Address = advertise.Address.ToString(),
                CreatedUnixMs = cfg.JoinedAt.ToUnixTimeMilliseconds(), UpdatedUnixMs = cfg.JoinedAt.ToUnixTimeMilliseconds(),
                Version = Version, IsSelf = true,
            };
        }
        finally
        {
            gate.Release();
        }
    }

    private static async Task<bool> WaitAsync(Task task, TimeSpan timeout, CancellationToken token)
    {
        var done = await Task.WhenAny(task, Task.Delay(timeout, token)).ConfigureAwait(false);
        return done == task;
    }

    private static string LiteralIp(string advertise)
    {
        if (string.IsNullOrWhiteSpace(advertise)) return "";
        if (IPAddress.TryParse(advertise.Trim('[', ']'), out var ip)) return ip.ToString();
        return IPEndPoint.TryParse(advertise, out var ep) ? ep.Address.ToString() : "";
    }

    internal static string NormalizeRemote(string address)
    {
        address = address.Trim();
        if (address.Length == 0) return "";
        if (address.StartsWith('[') ? address.Contains("]:", StringComparison.Ordinal) : address.Count(c => c == ':') == 1)
            return address;
        if (IPAddress.TryParse(address.Trim('[', ']'), out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            return $"[{ip}]:{AddressResolver.DefaultPort}";
        return $"{address}:{AddressResolver.DefaultPort}";
    }

    /// <summary>
    /// Fetches the root CA from the first manager that answers, checks it against the token's
    /// digest and pins it: from then on the join's connections accept only managers of that root.
    /// </summary>
    private async Task<(string Remote, string RootPem, RootCA Root)> FetchRootCAAsync(ClusterChannels connection, JoinTrust trust,
        List<string> remotes, JoinToken joinToken, CancellationToken token)
    {
        var failures = new List<string>();
        foreach (var remote in remotes)
        {
            byte[] bytes;
            try
            {
                var response = await new NodeCA.NodeCAClient(connection.For(remote))
                    .GetRootCACertificateAsync(new GetRootCACertificateRequest(), deadline: DateTime.UtcNow + CaFetchTimeout, cancellationToken: token)
                    .ConfigureAwait(false);
                bytes = response.Certificate.ToByteArray();
            }
            catch (RpcException e)
            {
                failures.Add($"{remote}: {ClusterChannels.Translate(e, remote).Message}");
                continue;
            }
            if (!joinToken.MatchesRootCA(bytes))
                throw new SwarmException(SwarmErrorKind.SecurityError, "SwarmCAMismatch",
                    $"remote CA does not match fingerprint. Expected: {joinToken.ExpectedSha256Hex}");
            var rootPem = System.Text.Encoding.UTF8.GetString(bytes);
            RootCA root;
            try { root = RootCA.Load(rootPem, null); }
            catch (FormatException e)
            {
                throw new SwarmException(SwarmErrorKind.SecurityError, "SwarmCAMismatch", $"the manager at {remote} served a root CA that cannot be read: {e.Message}");
            }
            trust.Pin(root, remote);
            return (remote, rootPem, root);
        }
        throw new SwarmException(SwarmErrorKind.ConnectionError, "SwarmManagerUnreachable",
            $"could not connect to any manager of the swarm: {string.Join("; ", failures)}");
    }

    /// <summary>The join call itself, on the join's pinned connection.</summary>
    private static async Task<IssueNodeCertificateResponse> IssueAsync(ClusterChannels connection, string remote, IssueNodeCertificateRequest request, CancellationToken token)
    {
        try
        {
            return await new NodeCA.NodeCAClient(connection.For(remote)).IssueNodeCertificateAsync(request,
                deadline: DateTime.UtcNow.AddSeconds(20), cancellationToken: token).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw ClusterChannels.Translate(e, remote);
        }
    }

    /// <summary>
    /// The certificate a manager issued must chain to the root the token pinned, name the node and
    /// swarm the answer names (and the node asked for, on a rejoin), carry the role the answer
    /// says, and match the key this node generated.
    /// </summary>
    private (X509Certificate2 Cert, TrustRoots Trust) CheckIssued(RootCA root, IssueNodeCertificateResponse issued, string keyPem, string? nodeId)
    {
        // During a root rotation the certificate is from the next root, which the pinned root cross-signed.
        TrustRoots trust;
        try { trust = TrustRoots.From(root, issued.NextRootCaPem, issued.CrossSignedCaPem); }
        catch (Exception e) when (e is FormatException or ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            throw new SwarmException(SwarmErrorKind.SecurityError, "SwarmCertificateInvalid", $"the manager sent a root rotation that cannot be used: {e.Message}");
        }
        X509Certificate2 cert;
        try { cert = NodeCertificates.LoadWithKey(issued.CertificatePem, keyPem); }
        catch (Exception e) when (e is ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            throw new SwarmException(SwarmErrorKind.SecurityError, "SwarmCertificateInvalid", $"the manager issued a certificate that cannot be used: {e.Message}");
        }
        var role = issued.Manager ? NodeCertificates.ManagerRole : NodeCertificates.WorkerRole;
        var ok = trust.Verifies(cert, clock.GetUtcNow(), presented: null);
        if (ok)
        {
            try
            {
                var (cn, ou, o) = NodeCertificates.ReadIdentity(cert);
                ok = cn == issued.NodeId && o == issued.SwarmId && ou == role && Identity.IsValid(cn) && (nodeId is null || cn == nodeId);
            }
            catch (ArgumentException) { ok = false; }
        }
        if (!ok)
            throw new SwarmException(SwarmErrorKind.SecurityError, "SwarmCertificateInvalid",
                "the manager issued a certificate that the swarm's root CA (pinned by the join token) did not issue for this node");
        return (cert, trust);
    }

    /// <summary>
    /// Whether a join token on a member names a root this node does not trust: the swarm's root
    /// CA was rotated while the node was away (or the token is another swarm's: the manager then
    /// refuses this node's certificate, and the join fails as for any member).
    /// </summary>
    private bool RootChangedFor(string token)
    {
        if (security is not { } s || !JoinToken.TryParse(token, out var parsed)) return false;
        var trust = s.Trust;
        return !parsed.MatchesRootCA(trust.Root.CertificatePemBytes) && (trust.Next is not { } next || !parsed.MatchesRootCA(next.CertificatePemBytes));
    }

    private static Dictionary<string, string> PeersOf(IssueNodeCertificateResponse issued)
        => issued.ManagerPeers.GroupBy(p => p.NodeId).ToDictionary(g => g.Key, g => g.First().Address, StringComparer.Ordinal);

    /// <summary>
    /// Join-Swarm on a member whose certificate expired while it was off: the token authenticates
    /// the request, the expired certificate and a CSR for its key prove which node this is; the
    /// node keeps its ID, role and data. The same pinning rules as a join apply.
    /// </summary>
    private async Task<Proto.Node> RejoinAsync(LocalNodeConfig cfg, Proto.JoinRequest request, CancellationToken token)
    {
        if (!JoinToken.TryParse(request.Token, out var joinToken) || joinToken is null)
            throw SwarmErrors.InvalidArgument("invalid join token");
        var remotes = request.RemoteAddresses.Select(NormalizeRemote).Where(a => a.Length > 0).Distinct().ToList();
        if (remotes.Count == 0) remotes = cfg.Managers;
        var (certPem, keyPem, ownRootPem) = store.LoadCertificates();
        var trust = new JoinTrust(clock);
        using var connection = ClusterChannels.ForJoin(trust);
        var (remote, rootPem, root) = await FetchRootCAAsync(connection, trust, remotes, joinToken, token).ConfigureAwait(false);
        var expired = CertificateExpired();
        if (expired && rootPem != ownRootPem)
            throw new SwarmException(SwarmErrorKind.SecurityError, "SwarmCAMismatch",
                "the token belongs to another swarm than this node's; use Exit-Swarm -Force to leave this node's swarm first");
        IssueNodeCertificateResponse issued;
        try
        {
            issued = await IssueAsync(connection, remote, new IssueNodeCertificateRequest
            {
                Csr = Google.Protobuf.ByteString.CopyFrom(CertificateKeys.CsrForKey(keyPem)),
                Token = request.Token,
                Hostname = options.NodeName,
                Version = Version,
                PreviousCertificatePem = certPem,
            }, token).ConfigureAwait(false);
        }
        catch (SwarmException e) when (!expired && e.ErrorId is "SwarmCertificateInvalid" or "SwarmNodeNotFound")
        {
            // Not this node's swarm with a rotated root: another swarm, as for any member.
            throw SwarmErrors.AlreadyInSwarm();
        }
        var (cert, issuedTrust) = CheckIssued(root, issued, keyPem, cfg.NodeId);
        store.SaveCertificates(issued.CertificatePem, keyPem, rootPem);
        store.SaveTrust(rootPem, issuedTrust.Next?.CertificatePem, issuedTrust.CrossSignedPem);
        // Its channels (and a manager's Raft connections) start over with the new certificate.
        if (security is { } s)
        {
            s.UpdateTrust(issuedTrust);
            s.Replace(cert);
        }
        else LoadSecurity(cfg);
        error = null;
        logger.LogInformation(expired
            ? "This node's expired certificate was replaced via {Remote}; it keeps node ID {NodeId}"
            : "This node came back after a root CA rotation via {Remote} and got a certificate from the new root; it keeps node ID {NodeId}", remote, cfg.NodeId);
        var host = manager;
        if (host is not null && host.State.Current.Nodes.TryGetValue(cfg.NodeId, out var self)) return ToProto(host, self);
        return new Proto.Node
        {
            Id = cfg.NodeId, Hostname = options.NodeName,
            Role = issued.Manager ? Proto.NodeRole.RoleManager : Proto.NodeRole.RoleWorker,
            Status = Proto.NodeStatus.StatusReady, Address = HostOf(cfg.AdvertiseAddress), Version = Version, IsSelf = true,
        };
    }

    /// <summary>
    /// Addresses of a joining node. Managers need a usable advertise address (explicit, the
    /// listen IP, or detected); a worker whose detection fails falls back to the address the
    /// manager saw, as Docker does.
    /// </summary>
    private static (IPEndPoint Listen, IPEndPoint Advertise) ResolveJoinAddresses(Proto.JoinRequest request, NodeRole role, string remote)
    {
        try
        {
            return ResolveAddresses(request.ListenAddress, request.AdvertiseAddress);
        }
        catch (SwarmException) when (role == NodeRole.Worker && string.IsNullOrWhiteSpace(request.AdvertiseAddress))
        {
            var listen = IPEndPoint.TryParse(request.ListenAddress, out var l) ? l : new IPEndPoint(IPAddress.Any, AddressResolver.DefaultPort);
            return (listen, new IPEndPoint(IPAddress.Any, listen.Port));
        }
    }

    /// <summary>Starts this node's store and asks the leader to add it as a voting member; waits until it caught up.</summary>
    private async Task<ManagerHost> BecomeRaftMemberAsync(LocalNodeConfig cfg, CancellationToken token)
    {
        SecureFiles.DeleteDirectory(store.RaftDir);
        var host = await StartManagerAsync(cfg, coldStart: false, token).ConfigureAwait(false);
        try
        {
            await CallLeaderAsync(cfg.Managers, async (channel, t) => await new RaftControl.RaftControlClient(channel)
                .AddMemberAsync(new MemberRequest { NodeId = cfg.NodeId, Address = cfg.AdvertiseAddress },
                    deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: t), token).ConfigureAwait(false);
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (!host.State.Current.Nodes.ContainsKey(cfg.NodeId) || host.LeaderAddress is null)
            {
                if (DateTime.UtcNow > deadline)
                    throw new SwarmException(SwarmErrorKind.OperationTimeout, "SwarmJoinTimeout",
                        "Timeout was reached before node joined. The manager did not replicate the swarm state to this node in time.");
                await Task.Delay(10, token).ConfigureAwait(false);
            }
            return host;
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs a cluster call on the leader: tries the known managers, follows "not the leader" redirects.</summary>
    private async Task<T> CallLeaderAsync<T>(IEnumerable<string> managers, Func<Grpc.Net.Client.GrpcChannel, CancellationToken, Task<T>> call, CancellationToken token)
    {
        var queue = new Queue<string>(managers);
        var tried = new HashSet<string>(StringComparer.Ordinal);
        SwarmException? last = null;
        while (queue.TryDequeue(out var target))
        {
            if (!tried.Add(target)) continue;
            try
            {
                return await call(channels!.For(target), token).ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                last = ClusterChannels.Translate(e, target);
                if (last.ErrorId == "SwarmNotLeader" && last.Message.Length > 0)
                    queue = new Queue<string>(new[] { last.Message }.Concat(queue));
                else if (last.Kind is not (SwarmErrorKind.ConnectionError or SwarmErrorKind.ResourceUnavailable))
                    throw last;
            }
        }
        throw last ?? SwarmErrors.NoLeader();
    }

    /// <summary>Best effort: tell the swarm this node is gone (it shows as Down until removed).</summary>
    private async Task TellLeaveAsync(LocalNodeConfig cfg)
    {
        if (channels is null) return;
        try
        {
            await CallLeaderAsync(cfg.Managers, async (channel, t) => await new Protocol.Cluster.Dispatcher.DispatcherClient(channel)
                .LeaveAsync(new LeaveSessionRequest(), deadline: DateTime.UtcNow.AddSeconds(3), cancellationToken: t), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SwarmException or RpcException)
        {
            logger.LogDebug("Could not tell the swarm this node leaves: {Error}", e.Message);
        }
    }
}
