namespace PSSwarm.Client.Api;

// What the cmdlet assembly (PSSwarm.dll) sees of the control API: plain .NET types only. PSSwarm.dll
// loads this assembly in its own AssemblyLoadContext and must not reference Google.Protobuf, Grpc or
// Microsoft.Extensions itself, so nothing here exposes a generated message, a RepeatedField,
// a MapField or an RpcException. Strings the daemon leaves unset are "" (as on the wire); times
// the daemon leaves unset (0) are null.

public enum Role { Worker, Manager }

public enum Availability { Active, Pause, Drain }

public enum NodeStatus { Unknown, Down, Ready, Disconnected }

public enum Reachability { Unknown, Unreachable, Reachable }

public enum LocalNodeState { Inactive, Pending, Active, Error, Locked }

public enum CheckResult { Pass, Warn, Fail }

/// <summary>The swarm as one daemon sees it (GetInfo, Init, UpdateSwarm).</summary>
public sealed record SwarmInfo
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string NodeId { get; init; } = "";
    public string NodeAddress { get; init; } = "";
    public LocalNodeState LocalNodeState { get; init; }
    public bool IsManager { get; init; }
    public int Managers { get; init; }
    public int Nodes { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }
    public DateTimeOffset? UpdatedAt { get; init; }
    public string RootCaPem { get; init; } = "";
    /// <summary>Null when the daemon sent none (not a member).</summary>
    public TimeSpan? CertExpiry { get; init; }
    public TimeSpan? DispatcherHeartbeat { get; init; }
    public int TaskHistoryLimit { get; init; }
    public bool Autolock { get; init; }
    /// <summary>Managers only.</summary>
    public JoinToken? WorkerToken { get; init; }
    public JoinToken? ManagerToken { get; init; }
    public string Error { get; init; } = "";
    public string NodeName { get; init; } = "";
    /// <summary>Only in the answer of an Init with autolock and of an update turning autolock on.</summary>
    public string UnlockKey { get; init; } = "";
}

/// <summary>A join token: a role's standing token (empty Id) or an extra one.</summary>
public sealed record JoinToken
{
    public Role Role { get; init; }
    public string Token { get; init; } = "";
    public string[] RemoteAddresses { get; init; } = [];
    public string Id { get; init; } = "";
    public string Description { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public int? MaxUses { get; init; }
    public int Uses { get; init; }
}

public sealed record Node
{
    public string Id { get; init; } = "";
    public string Hostname { get; init; } = "";
    public Role Role { get; init; }
    public Availability Availability { get; init; }
    public NodeStatus Status { get; init; }
    public string StatusMessage { get; init; } = "";
    public string Address { get; init; } = "";
    public bool IsLeader { get; init; }
    public Reachability Reachability { get; init; }
    public string ManagerAddress { get; init; } = "";
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    public DateTimeOffset? CreatedAt { get; init; }
    public DateTimeOffset? UpdatedAt { get; init; }
    public DateTimeOffset? CertificateExpiry { get; init; }
    public string Version { get; init; } = "";
    public bool IsSelf { get; init; }
}

public sealed record Network
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string Driver { get; init; } = "";
    public string Scope { get; init; } = "";
    public string Subnet { get; init; } = "";
    public string Gateway { get; init; } = "";
    public bool Ingress { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }
}

/// <summary>The swarm's root CA and, during a rotation, the root it moves to.</summary>
public sealed record CertificateAuthority
{
    public string RootCaPem { get; init; } = "";
    public string Digest { get; init; } = "";
    public bool RotationInProgress { get; init; }
    public string NextRootCaPem { get; init; } = "";
    public string NextDigest { get; init; } = "";
    public int NodesRotated { get; init; }
    public int NodesTotal { get; init; }
    public DateTimeOffset RotationStartedAt { get; init; }
}

/// <summary>One of the daemon's Test-Swarm checks.</summary>
public sealed record Check(string Name, CheckResult Result, string Message);

/// <summary>Initialize-Swarm's settings.</summary>
public sealed record InitOptions
{
    public string AdvertiseAddress { get; init; } = "";
    public string ListenAddress { get; init; } = "";
    public bool ForceNewCluster { get; init; }
    public Availability Availability { get; init; }
    public TimeSpan CertExpiry { get; init; }
    public TimeSpan DispatcherHeartbeat { get; init; }
    public bool Autolock { get; init; }
}

/// <summary>Set-Swarm: only the settings that are not null change.</summary>
public sealed record SwarmUpdate
{
    public TimeSpan? CertExpiry { get; init; }
    public TimeSpan? DispatcherHeartbeat { get; init; }
    public bool? Autolock { get; init; }
    public int? TaskHistoryLimit { get; init; }
}

/// <summary>Join-Swarm's settings.</summary>
public sealed record JoinOptions
{
    public string Token { get; init; } = "";
    public string[] RemoteAddresses { get; init; } = [];
    public string AdvertiseAddress { get; init; } = "";
    public string ListenAddress { get; init; } = "";
    public Availability Availability { get; init; }
}

/// <summary>Set-SwarmNode: only what is not null (or not empty) changes.</summary>
public sealed record NodeUpdate
{
    public string Id { get; init; } = "";
    public Availability? Availability { get; init; }
    public Role? Role { get; init; }
    /// <summary>Labels to add or change.</summary>
    public IReadOnlyDictionary<string, string> AddLabels { get; init; } = new Dictionary<string, string>();
    /// <summary>Label keys to remove, in order.</summary>
    public IReadOnlyList<string> RemoveLabels { get; init; } = [];
}

/// <summary>New-SwarmJoinToken's limits: null means none.</summary>
public sealed record JoinTokenOptions
{
    public Role Role { get; init; }
    public TimeSpan? ExpiresIn { get; init; }
    public int? MaxUses { get; init; }
    public string Description { get; init; } = "";
}
