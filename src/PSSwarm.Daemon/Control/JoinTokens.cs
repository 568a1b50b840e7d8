using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Store;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Control;

/// <summary>
/// The control API's join-token logic (Get/Update/New/Revoke-SwarmJoinToken) over the store alone:
/// callers hand in a store they made current (a read barrier) and get the swarm's objects back.
/// </summary>
internal sealed class JoinTokenService(ISwarmStore store, TimeProvider clock)
{
    private ClusterObject Cluster => store.Current.Cluster ?? throw SwarmErrors.ManagerStarting();

    /// <summary>Update-SwarmJoinToken: a new secret for the role's standing token; the old one is refused at once.</summary>
    public async Task<string> RotateAsync(NodeRole role, CancellationToken token)
    {
        var fresh = JoinToken.Generate(System.Text.Encoding.UTF8.GetBytes(Cluster.RootCACertificate));
        await store.ProposeAsync(new SetJoinTokenCommand(role, fresh, clock.GetUtcNow()), token).ConfigureAwait(false);
        return fresh;
    }

    /// <summary>New-SwarmJoinToken: an extra token (expiring and/or limited-use) next to the role's standing one.</summary>
    public async Task<JoinTokenObject> CreateAsync(Proto.CreateJoinTokenRequest request, CancellationToken token)
    {
        var created = JoinTokens.Create(request, Cluster, clock.GetUtcNow());
        await store.ProposeAsync(new AddJoinTokenCommand(created), token).ConfigureAwait(false);
        return created;
    }

    /// <summary>The extra tokens, oldest first.</summary>
    public IReadOnlyList<JoinTokenObject> Extra()
        => Cluster.JoinTokens.OrderBy(t => t.CreatedAt).ThenBy(t => t.Id, StringComparer.Ordinal).ToList();

    /// <summary>Revoke-SwarmJoinToken: the token admits no one from now on; the nodes it admitted stay.</summary>
    public async Task<JoinTokenObject> RevokeAsync(string idOrToken, CancellationToken token)
    {
        var found = JoinTokens.Find(Cluster, idOrToken);
        await store.ProposeAsync(new RevokeJoinTokenCommand(found.Id), token).ConfigureAwait(false);
        return found;
    }
}

/// <summary>
/// Join tokens as the control API hands them out: the two standing ones (Docker's) and the extra
/// ones of New-SwarmJoinToken (beyond Docker). Checks and lookups live here, apart from transport.
/// </summary>
internal static class JoinTokens
{
    /// <summary>Most uses one extra token may allow.</summary>
    public const int MaxUsesLimit = 1_000_000;

    public static Proto.NodeRole ToProto(NodeRole role) => role == NodeRole.Manager ? Proto.NodeRole.RoleManager : Proto.NodeRole.RoleWorker;

    public static Proto.JoinToken Standing(ClusterObject cluster, Proto.NodeRole role, IEnumerable<string> managers) => new()
    {
        Role = role,
        Token = role == Proto.NodeRole.RoleManager ? cluster.ManagerJoinToken : cluster.WorkerJoinToken,
        RemoteAddresses = { managers },
    };

    public static Proto.JoinToken Extra(JoinTokenObject t, IEnumerable<string> managers) => new()
    {
        Role = ToProto(t.Role), Token = t.Token, RemoteAddresses = { managers },
        Id = t.Id, Description = t.Description,
        CreatedUnixMs = t.CreatedAt.ToUnixTimeMilliseconds(),
        ExpiresUnixMs = t.ExpiresAt?.ToUnixTimeMilliseconds() ?? 0,
        MaxUses = t.MaxUses ?? 0, Uses = t.Uses,
    };

    /// <summary>A new extra token from New-SwarmJoinToken's request, checked before anything is proposed.</summary>
    public static JoinTokenObject Create(Proto.CreateJoinTokenRequest request, ClusterObject cluster, DateTimeOffset now)
    {
        if (!Enum.IsDefined(request.Role))
            throw SwarmErrors.InvalidArgument($"invalid role {(int)request.Role}: only worker and manager tokens exist");
        if (request.ExpiresInMs < 0)
            throw SwarmErrors.InvalidArgument("-ExpiresIn must be a positive duration");
        if (request.ExpiresInMs is > 0 and < 1000)
            throw SwarmErrors.InvalidArgument("-ExpiresIn must be at least 1 second");
        if (request.ExpiresInMs > (long)RootCA.RootCAExpiration.TotalMilliseconds)
            throw SwarmErrors.InvalidArgument("-ExpiresIn may be at most 175200h0m0s (the root CA's lifetime)");
        if (request.MaxUses is < 0 or > MaxUsesLimit)
            throw SwarmErrors.InvalidArgument($"-MaxUses must be between 1 and {MaxUsesLimit}");
        var description = request.Description ?? "";
        if (description.Length > JoinTokenObject.MaxDescriptionLength)
            throw SwarmErrors.InvalidArgument($"-Description may have at most {JoinTokenObject.MaxDescriptionLength} characters");
        if (description.Any(char.IsControl))
            throw SwarmErrors.InvalidArgument("-Description may not contain control characters");
        if (cluster.JoinTokens.Count >= JoinTokenObject.MaxTokens)
            throw new SwarmException(SwarmErrorKind.LimitsExceeded, "SwarmJoinTokenLimit",
                $"the swarm has {cluster.JoinTokens.Count} extra join tokens, the most it keeps: revoke some with Revoke-SwarmJoinToken first");
        return new JoinTokenObject
        {
            Id = Identity.NewId(),
            Role = request.Role == Proto.NodeRole.RoleManager ? NodeRole.Manager : NodeRole.Worker,
            Token = JoinToken.Generate(System.Text.Encoding.UTF8.GetBytes(cluster.RootCACertificate)),
            Description = description,
            CreatedAt = now,
            ExpiresAt = request.ExpiresInMs > 0 ? now + TimeSpan.FromMilliseconds(request.ExpiresInMs) : null,
            MaxUses = request.MaxUses > 0 ? request.MaxUses : null,
        };
    }

    /// <summary>An extra token by its ID, a unique prefix of it, or the token string itself.</summary>
    public static JoinTokenObject Find(ClusterObject cluster, string idOrToken)
    {
        if (string.IsNullOrWhiteSpace(idOrToken))
            throw SwarmErrors.InvalidArgument("name the join token to revoke: its Id or the token itself");
        if (JoinToken.ConstantTimeEquals(idOrToken, cluster.WorkerJoinToken) || JoinToken.ConstantTimeEquals(idOrToken, cluster.ManagerJoinToken))
            throw new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmStandingJoinToken",
                "this is the role's standing join token: it cannot be revoked, rotate it with Update-SwarmJoinToken instead");
        foreach (var t in cluster.JoinTokens)
            if (t.Id == idOrToken || JoinToken.ConstantTimeEquals(idOrToken, t.Token)) return t;
        var byPrefix = cluster.JoinTokens.Where(t => t.Id.StartsWith(idOrToken, StringComparison.Ordinal)).ToList();
        return byPrefix.Count switch
        {
            1 => byPrefix[0],
            0 => throw new SwarmException(SwarmErrorKind.ObjectNotFound, "SwarmJoinTokenNotFound",
                $"join token {Describe(idOrToken)} not found"),
            _ => throw SwarmErrors.InvalidArgument($"join token ID prefix {Describe(idOrToken)} is ambiguous ({byPrefix.Count} matches): give more of it"),
        };
    }

    /// <summary>What a lookup string may be shown as: never a token's secret.</summary>
    private static string Describe(string idOrToken)
        => idOrToken.StartsWith("SWMTKN-", StringComparison.Ordinal) ? "(the token given)" : InputLimits.Quote(idOrToken);
}
