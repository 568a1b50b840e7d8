using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Client.Api;

/// <summary>
/// The control API in plain .NET types, for the cmdlet assembly: it calls <see cref="SwarmClient"/>
/// and converts the generated messages both ways, so that no Protobuf or gRPC type crosses from
/// this assembly's load context into PSSwarm.dll. Failures are <see cref="SwarmClientException"/>s.
/// </summary>
public sealed class SwarmApi
{
    private readonly SwarmClient client;

    private SwarmApi(SwarmClient client) => this.client = client;

    /// <summary>-Endpoint, then $env:PSSWARM_HOST, then the default socket (a cached client per endpoint).</summary>
    public static SwarmApi For(string? endpoint) => new(SwarmClient.For(endpoint));

    public string Endpoint => client.Endpoint;

    public async Task<SwarmInfo> GetInfoAsync(CancellationToken token)
        => ToInfo(await client.GetInfoAsync(token).ConfigureAwait(false));

    public async Task<SwarmInfo> InitAsync(InitOptions options, CancellationToken token)
        => ToInfo(await client.InitAsync(new Proto.InitRequest
        {
            AdvertiseAddress = options.AdvertiseAddress,
            ListenAddress = options.ListenAddress,
            ForceNewCluster = options.ForceNewCluster,
            Availability = ToProto(options.Availability),
            CertExpiryMs = (long)options.CertExpiry.TotalMilliseconds,
            HasCertExpiry = true,
            DispatcherHeartbeatMs = (long)options.DispatcherHeartbeat.TotalMilliseconds,
            HasDispatcherHeartbeat = true,
            Autolock = options.Autolock,
        }, token).ConfigureAwait(false));

    public async Task<SwarmInfo> UpdateSwarmAsync(SwarmUpdate update, CancellationToken token)
        => ToInfo(await client.UpdateSwarmAsync(new Proto.UpdateSwarmRequest
        {
            HasCertExpiry = update.CertExpiry is not null,
            CertExpiryMs = (long)(update.CertExpiry ?? TimeSpan.Zero).TotalMilliseconds,
            HasDispatcherHeartbeat = update.DispatcherHeartbeat is not null,
            DispatcherHeartbeatMs = (long)(update.DispatcherHeartbeat ?? TimeSpan.Zero).TotalMilliseconds,
            HasAutolock = update.Autolock is not null,
            Autolock = update.Autolock ?? false,
            HasTaskHistoryLimit = update.TaskHistoryLimit is not null,
            TaskHistoryLimit = update.TaskHistoryLimit ?? 0,
        }, token).ConfigureAwait(false));

    public async Task<CertificateAuthority> GetCAAsync(CancellationToken token)
        => ToCA(await client.GetCAAsync(token).ConfigureAwait(false));

    /// <summary>Update-SwarmCA: both null for a generated root.</summary>
    public async Task<CertificateAuthority> RotateCAAsync(string? certificatePem, string? keyPem, CancellationToken token)
    {
        var request = new Proto.RotateCARequest();
        if (certificatePem is not null) request.CertificatePem = certificatePem;
        if (keyPem is not null) request.KeyPem = keyPem;
        return ToCA(await client.RotateCAAsync(request, token).ConfigureAwait(false));
    }

    /// <summary>Unlock-Swarm: waits while the manager starts (up to about 15 s).</summary>
    public async Task UnlockAsync(string key, CancellationToken token)
        => await client.UnlockAsync(key, token).ConfigureAwait(false);

    /// <summary>The swarm's unlock key (SWMKEY-1-...).</summary>
    public async Task<string> GetUnlockKeyAsync(CancellationToken token)
        => (await client.GetUnlockKeyAsync(token).ConfigureAwait(false)).Key;

    public async Task<string> RotateUnlockKeyAsync(CancellationToken token)
        => (await client.RotateUnlockKeyAsync(token).ConfigureAwait(false)).Key;

    /// <summary>Test-Swarm: the daemon's checks.</summary>
    /// <summary>
    /// Test-Swarm's checks: first "Daemon" (whether this daemon answers), then the daemon's own. A daemon
    /// that does not answer is the first check a preflight makes: a failed check, not an exception.
    /// </summary>
    public async Task<IReadOnlyList<Check>> RunChecksAsync(string listenAddress, string advertiseAddress, IEnumerable<string>? remoteAddresses,
        CancellationToken token)
    {
        var request = new Proto.CheckRequest { ListenAddress = listenAddress, AdvertiseAddress = advertiseAddress };
        if (remoteAddresses is not null) request.RemoteAddresses.AddRange(remoteAddresses);
        Proto.CheckList list;
        try { list = await client.RunChecksAsync(request, token).ConfigureAwait(false); }
        catch (SwarmClientException e) { return [new Check("Daemon", CheckResult.Fail, e.Message)]; }
        return [new Check("Daemon", CheckResult.Pass, $"The daemon at {Endpoint} answers."),
            .. list.Checks.Select(c => new Check(c.Name, (CheckResult)(int)c.Result, c.Message))];
    }

    public async Task LeaveAsync(bool force, CancellationToken token)
        => await client.LeaveAsync(force, token).ConfigureAwait(false);

    public async Task<JoinToken> GetJoinTokenAsync(Role role, CancellationToken token)
        => ToToken(await client.GetJoinTokenAsync(ToProto(role), token).ConfigureAwait(false));

    public async Task<JoinToken> RotateJoinTokenAsync(Role role, CancellationToken token)
        => ToToken(await client.RotateJoinTokenAsync(ToProto(role), token).ConfigureAwait(false));

    public async Task<JoinToken> CreateJoinTokenAsync(JoinTokenOptions options, CancellationToken token)
        => ToToken(await client.CreateJoinTokenAsync(new Proto.CreateJoinTokenRequest
        {
            Role = ToProto(options.Role),
            ExpiresInMs = options.ExpiresIn is { } expiresIn ? (long)expiresIn.TotalMilliseconds : 0,
            MaxUses = options.MaxUses ?? 0,
            Description = options.Description,
        }, token).ConfigureAwait(false));

    public async Task<IReadOnlyList<JoinToken>> ListJoinTokensAsync(CancellationToken token)
        => (await client.ListJoinTokensAsync(token).ConfigureAwait(false)).Tokens.Select(ToToken).ToList();

    /// <summary>A token's Id, a unique prefix of it, or the token string itself.</summary>
    public async Task<JoinToken> RevokeJoinTokenAsync(string idOrToken, CancellationToken token)
        => ToToken(await client.RevokeJoinTokenAsync(idOrToken, token).ConfigureAwait(false));

    public async Task<IReadOnlyList<Node>> ListNodesAsync(CancellationToken token)
        => (await client.ListNodesAsync(token).ConfigureAwait(false)).Nodes.Select(ToNode).ToList();

    public async Task<IReadOnlyList<Network>> ListNetworksAsync(CancellationToken token)
        => (await client.ListNetworksAsync(token).ConfigureAwait(false)).Networks.Select(ToNetwork).ToList();

    public async Task<Node> JoinAsync(JoinOptions options, CancellationToken token)
    {
        var request = new Proto.JoinRequest
        {
            Token = options.Token,
            AdvertiseAddress = options.AdvertiseAddress,
            ListenAddress = options.ListenAddress,
            Availability = ToProto(options.Availability),
        };
        request.RemoteAddresses.Add(options.RemoteAddresses);
        return ToNode(await client.JoinAsync(request, token).ConfigureAwait(false));
    }

    public async Task<Node> UpdateNodeAsync(NodeUpdate update, CancellationToken token)
    {
        var request = new Proto.UpdateNodeRequest { Id = update.Id };
        if (update.Availability is { } availability)
        {
            request.HasAvailability = true;
            request.Availability = ToProto(availability);
        }
        if (update.Role is { } role)
        {
            request.HasRole = true;
            request.Role = ToProto(role);
        }
        foreach (var (key, value) in update.AddLabels) request.AddLabels[key] = value;
        request.RemoveLabels.Add(update.RemoveLabels);
        return ToNode(await client.UpdateNodeAsync(request, token).ConfigureAwait(false));
    }

    public async Task RemoveNodeAsync(string id, bool force, CancellationToken token)
        => await client.RemoveNodeAsync(id, force, token).ConfigureAwait(false);

    internal static Proto.NodeRole ToProto(Role role) => role == Role.Manager ? Proto.NodeRole.RoleManager : Proto.NodeRole.RoleWorker;

    internal static Proto.Availability ToProto(Availability availability) => (Proto.Availability)(int)availability;

    internal static SwarmInfo ToInfo(Proto.SwarmInfo i) => new()
    {
        Id = i.Id,
        Name = i.Name,
        NodeId = i.NodeId,
        NodeAddress = i.NodeAddress,
        LocalNodeState = (LocalNodeState)(int)i.LocalNodeState,
        IsManager = i.IsManager,
        Managers = i.Managers,
        Nodes = i.Nodes,
        CreatedAt = Time(i.CreatedUnixMs),
        UpdatedAt = Time(i.UpdatedUnixMs),
        RootCaPem = i.RootCaPem,
        CertExpiry = i.CertExpiryMs > 0 ? TimeSpan.FromMilliseconds(i.CertExpiryMs) : null,
        DispatcherHeartbeat = i.DispatcherHeartbeatMs > 0 ? TimeSpan.FromMilliseconds(i.DispatcherHeartbeatMs) : null,
        TaskHistoryLimit = i.TaskHistoryLimit,
        Autolock = i.Autolock,
        WorkerToken = i.WorkerToken is null ? null : ToToken(i.WorkerToken),
        ManagerToken = i.ManagerToken is null ? null : ToToken(i.ManagerToken),
        Error = i.Error,
        NodeName = i.NodeName,
        UnlockKey = i.UnlockKey,
    };

    internal static JoinToken ToToken(Proto.JoinToken t) => new()
    {
        Role = t.Role == Proto.NodeRole.RoleManager ? Role.Manager : Role.Worker,
        Token = t.Token,
        RemoteAddresses = t.RemoteAddresses.ToArray(),
        Id = t.Id,
        Description = t.Description,
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(t.CreatedUnixMs),
        ExpiresAt = t.ExpiresUnixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(t.ExpiresUnixMs) : null,
        MaxUses = t.MaxUses > 0 ? t.MaxUses : null,
        Uses = t.Uses,
    };

    internal static Node ToNode(Proto.Node n) => new()
    {
        Id = n.Id,
        Hostname = n.Hostname,
        Role = n.Role == Proto.NodeRole.RoleManager ? Role.Manager : Role.Worker,
        Availability = (Availability)(int)n.Availability,
        Status = (NodeStatus)(int)n.Status,
        StatusMessage = n.StatusMessage,
        Address = n.Address,
        IsLeader = n.IsLeader,
        Reachability = (Reachability)(int)n.Reachability,
        ManagerAddress = n.ManagerAddress,
        Labels = new Dictionary<string, string>(n.Labels, StringComparer.Ordinal),
        CreatedAt = Time(n.CreatedUnixMs),
        UpdatedAt = Time(n.UpdatedUnixMs),
        CertificateExpiry = Time(n.CertificateExpiryUnixMs),
        Version = n.Version,
        IsSelf = n.IsSelf,
    };

    internal static Network ToNetwork(Proto.Network n) => new()
    {
        Id = n.Id, Name = n.Name, Driver = n.Driver, Scope = n.Scope, Subnet = n.Subnet, Gateway = n.Gateway,
        Ingress = n.Ingress, CreatedAt = Time(n.CreatedUnixMs),
    };

    internal static CertificateAuthority ToCA(Proto.CAInfo c) => new()
    {
        RootCaPem = c.RootCaPem,
        Digest = c.Digest,
        RotationInProgress = c.RotationInProgress,
        NextRootCaPem = c.NextRootCaPem,
        NextDigest = c.NextDigest,
        NodesRotated = c.NodesRotated,
        NodesTotal = c.NodesTotal,
        RotationStartedAt = DateTimeOffset.FromUnixTimeMilliseconds(c.RotationStartedUnixMs),
    };

    private static DateTimeOffset? Time(long unixMs) => unixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(unixMs) : null;
}
