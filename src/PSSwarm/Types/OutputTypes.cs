using System.Collections;
using System.Security.Cryptography.X509Certificates;

namespace PSSwarm;

/// <summary>The swarm as this node sees it (Get-Swarm, Initialize-Swarm).</summary>
public sealed class SwarmInfo
{
    internal SwarmInfo() { }
    /// <summary>The swarm (cluster) ID; empty on an Inactive node.</summary>
    public string? Id { get; internal init; }
    public string? Name { get; internal init; }
    public string? NodeId { get; internal init; }
    public string? NodeAddress { get; internal init; }
    public LocalNodeState LocalNodeState { get; internal init; }
    public bool IsManager { get; internal init; }
    public int? Managers { get; internal init; }
    public int? Nodes { get; internal init; }
    public DateTimeOffset? CreatedAt { get; internal init; }
    public DateTimeOffset? UpdatedAt { get; internal init; }
    public X509Certificate2? RootCACertificate { get; internal init; }
    public TimeSpan? CertExpiry { get; internal init; }
    public TimeSpan? DispatcherHeartbeat { get; internal init; }
    public int? TaskHistoryLimit { get; internal init; }
    public bool Autolock { get; internal init; }
    /// <summary>Worker and manager tokens; only on managers.</summary>
    public SwarmJoinTokens? JoinTokens { get; internal init; }
    /// <summary>Why LocalNodeState is Error (or what the manager waits for).</summary>
    public string? Error { get; internal init; }
    /// <summary>The daemon's node name (its hostname in the swarm).</summary>
    public string? NodeName { get; internal init; }
}

/// <summary>The swarm's root CA (Get-SwarmCA, docker swarm ca).</summary>
public sealed class SwarmCA
{
    internal SwarmCA(PSSwarm.Client.Api.CertificateAuthority info)
    {
        Pem = info.RootCaPem;
        Certificate = X509Certificate2.CreateFromPem(Pem);
        Digest = info.Digest;
        RotationInProgress = info.RotationInProgress;
        if (info.RotationInProgress && info.NextRootCaPem.Length > 0)
        {
            NextCertificate = X509Certificate2.CreateFromPem(info.NextRootCaPem);
            NextDigest = info.NextDigest;
            NodesRotated = info.NodesRotated;
            NodesTotal = info.NodesTotal;
            RotationStartedAt = info.RotationStartedAt;
        }
    }

    /// <summary>The root certificate every node certificate chains to.</summary>
    public X509Certificate2 Certificate { get; }
    /// <summary>"sha256:" and the hex SHA-256 of the root's PEM: what every join token pins.</summary>
    public string Digest { get; }
    public string Subject => Certificate.Subject;
    public DateTimeOffset NotBefore => new(Certificate.NotBefore.ToUniversalTime());
    public DateTimeOffset NotAfter => new(Certificate.NotAfter.ToUniversalTime());
    /// <summary>A root CA rotation (Update-SwarmCA) is under way.</summary>
    public bool RotationInProgress { get; }
    /// <summary>During a rotation: the root the swarm is moving to (null otherwise).</summary>
    public X509Certificate2? NextCertificate { get; }
    /// <summary>During a rotation: the digest the join tokens will pin once it completes.</summary>
    public string? NextDigest { get; }
    /// <summary>During a rotation: how many of the nodes that are not down have a certificate from the next root.</summary>
    public int NodesRotated { get; }
    /// <summary>During a rotation: the nodes that are not down (a down node does not hold a rotation up).</summary>
    public int NodesTotal { get; }
    public DateTimeOffset? RotationStartedAt { get; }
    /// <summary>The root's PEM text exactly as the swarm serves it to joining nodes (what Docker prints).</summary>
    public string Pem { get; }
    public override string ToString() => Digest;
}

public sealed class SwarmJoinTokens
{
    internal SwarmJoinTokens(SwarmJoinToken worker, SwarmJoinToken manager) { Worker = worker; Manager = manager; }
    public SwarmJoinToken Worker { get; }
    public SwarmJoinToken Manager { get; }
    public override string ToString() => "Worker, Manager";
}

/// <summary>A join token and where to use it. Pipe it into Join-Swarm.</summary>
public sealed class SwarmJoinToken
{
    internal SwarmJoinToken(NodeRole role, string token, string[] remoteAddress)
    {
        Role = role;
        Token = token;
        RemoteAddress = remoteAddress;
    }

    public NodeRole Role { get; }
    public string Token { get; }
    /// <summary>An extra token's ID (New-SwarmJoinToken); null for the role's standing token.</summary>
    public string? Id { get; internal init; }
    public string? Description { get; internal init; }
    public DateTimeOffset? CreatedAt { get; internal init; }
    /// <summary>When an extra token stops admitting nodes; null: never (standing tokens never expire).</summary>
    public DateTimeOffset? ExpiresAt { get; internal init; }
    /// <summary>Nodes an extra token may admit in all; null: any number.</summary>
    public int? MaxUses { get; internal init; }
    /// <summary>Nodes an extra token has admitted; null for standing tokens.</summary>
    public int? Uses { get; internal init; }
    /// <summary>Nodes it may still admit; null: any number.</summary>
    public int? UsesLeft => MaxUses is { } max && Uses is { } used ? Math.Max(0, max - used) : null;
    /// <summary>False once an extra token has expired or admitted all it may.</summary>
    public bool IsValid => (ExpiresAt is not { } end || end >= DateTimeOffset.UtcNow) && UsesLeft is not 0;
    /// <summary>host:port of the swarm's managers.</summary>
    public string[] RemoteAddress { get; }
    /// <summary>A ready command line for the joining host.</summary>
    public string JoinCommand => $"Join-Swarm -Token {Token} -RemoteAddress {string.Join(",", RemoteAddress)}";
    public override string ToString() => Token;
}

public sealed class SwarmNode
{
    internal SwarmNode() { }
    public required string Id { get; init; }
    public string Hostname { get; internal init; } = "";
    public NodeRole Role { get; internal init; }
    public NodeAvailability Availability { get; internal init; }
    public NodeStatus Status { get; internal init; }
    public string? StatusMessage { get; internal init; }
    public string Address { get; internal init; } = "";
    public bool IsLeader { get; internal init; }
    /// <summary>Managers only; null on workers.</summary>
    public Reachability? Reachability { get; internal init; }
    public string? ManagerAddress { get; internal init; }
    public Hashtable Labels { get; internal init; } = new();
    public DateTimeOffset CreatedAt { get; internal init; }
    public DateTimeOffset UpdatedAt { get; internal init; }
    public DateTimeOffset? CertificateExpiry { get; internal init; }
    public string Version { get; internal init; } = "";
    /// <summary>True for the node whose daemon answered.</summary>
    public bool IsSelf { get; internal init; }
    public override string ToString() => Id;
}

public sealed class SwarmNetwork
{
    internal SwarmNetwork() { }
    public required string Id { get; init; }
    public string Name { get; internal init; } = "";
    public string Driver { get; internal init; } = "";
    public string Scope { get; internal init; } = "";
    public string Subnet { get; internal init; } = "";
    public string Gateway { get; internal init; } = "";
    public bool Ingress { get; internal init; }
    public DateTimeOffset CreatedAt { get; internal init; }
    public override string ToString() => Name;
}

/// <summary>A daemon started by Start-SwarmDaemon -PassThru.</summary>
public sealed class SwarmDaemonInfo
{
    internal SwarmDaemonInfo() { }
    public int ProcessId { get; internal init; }
    public string Endpoint { get; internal init; } = "";
    public string DataRoot { get; internal init; } = "";
    public string LogPath { get; internal init; } = "";
    public string NodeName { get; internal init; } = "";
    public string Version { get; internal init; } = "";
}

/// <summary>A swarm's unlock key (Get-SwarmUnlockKey, Update-SwarmUnlockKey): the key is a SecureString. Pipe it into Unlock-Swarm.</summary>
public sealed class SwarmUnlockKey
{
    internal SwarmUnlockKey(System.Security.SecureString key) { Key = key; }

    /// <summary>The key (SWMKEY-1-...), as a SecureString; Get-SwarmUnlockKey -AsPlainText shows it.</summary>
    public System.Security.SecureString Key { get; }

    public override string ToString() => "SWMKEY-1-********";
}

/// <summary>The result of one Test-Swarm check.</summary>
public enum SwarmCheckResult { Pass, Warn, Fail }

/// <summary>One Test-Swarm check: what was checked, how it came out, and what to do about it.</summary>
public sealed class SwarmCheck
{
    internal SwarmCheck(string name, SwarmCheckResult result, string message) { Name = name; Result = result; Message = message; }

    public string Name { get; }
    public SwarmCheckResult Result { get; }
    public string Message { get; }
    public override string ToString() => $"{Name}: {Result}";
}
