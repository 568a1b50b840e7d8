using System.Text;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;

namespace PSSwarm.Core.Tests;

/// <summary>Extra join tokens (New-SwarmJoinToken): the store counts uses and enforces expiry, in log order.</summary>
public class JoinTokenLimitsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly RootCA Ca = RootCA.Create();
    private const string TokenId = "tok000000000000000000001a";

    private static SwarmState NewSwarm()
    {
        var cluster = new ClusterObject
        {
            Id = "cluster000000000000000001", CreatedAt = T0, UpdatedAt = T0,
            RootCACertificate = Ca.CertificatePem, RootCAKey = Ca.KeyPem!,
            WorkerJoinToken = JoinToken.Generate(Ca.CertificatePemBytes),
            ManagerJoinToken = JoinToken.Generate(Ca.CertificatePemBytes),
        };
        var state = new SwarmState();
        Assert.True(state.Apply(new CreateClusterCommand(cluster, Node("node000000000000000000001", NodeRole.Manager, T0),
            NetworkObject.NewIngress("network000000000000000001", T0))));
        return state;
    }

    private static NodeObject Node(string id, NodeRole role, DateTimeOffset at) => new()
    {
        Id = id, Hostname = "h" + id[^2..], Role = role, Status = NodeStatus.Ready, Address = "10.0.0.9", CreatedAt = at, UpdatedAt = at,
    };

    private static JoinTokenObject Token(int? maxUses = null, DateTimeOffset? expires = null, NodeRole role = NodeRole.Worker) => new()
    {
        Id = TokenId, Role = role, Token = JoinToken.Generate(Ca.CertificatePemBytes), CreatedAt = T0,
        ExpiresAt = expires, MaxUses = maxUses, Description = "ci runners",
    };

    private static PutNodeCommand Join(int n, DateTimeOffset at, NodeRole role = NodeRole.Worker)
        => new(Node($"node0000000000000000000{n:00}", role, at)) { JoinTokenId = TokenId };

    [Fact]
    public void ASingleUseTokenAdmitsExactlyOneOfTwoJoinsInTheLog()
    {
        var state = NewSwarm();
        Assert.True(state.Apply(new AddJoinTokenCommand(Token(maxUses: 1))));
        // Both joins passed their manager's check before either was applied: the log decides.
        var first = Join(10, T0.AddSeconds(1));
        var second = Join(11, T0.AddSeconds(1));
        CommandValidator.Validate(first, state.Current);
        CommandValidator.Validate(second, state.Current);
        Assert.True(state.Apply(first));
        Assert.True(state.Apply(second));
        Assert.True(state.Current.Nodes.ContainsKey(first.Node.Id));
        Assert.False(state.Current.Nodes.ContainsKey(second.Node.Id));
        var token = Assert.Single(state.Current.Cluster!.JoinTokens);
        Assert.Equal(1, token.Uses);
        Assert.Equal(0, token.UsesLeft);
        Assert.False(token.Admits(T0.AddSeconds(2)));
    }

    [Fact]
    public void AnExpiredTokenAdmitsNoOne_JudgedByTheJoinsOwnTime()
    {
        var state = NewSwarm();
        Assert.True(state.Apply(new AddJoinTokenCommand(Token(expires: T0.AddMinutes(10)))));
        Assert.True(state.Apply(Join(10, T0.AddMinutes(10))));   // at the expiry: still admitted
        Assert.True(state.Apply(Join(11, T0.AddMinutes(10).AddTicks(1))));
        Assert.True(state.Current.Nodes.ContainsKey(Join(10, T0).Node.Id));
        Assert.False(state.Current.Nodes.ContainsKey(Join(11, T0).Node.Id));
        Assert.Null(state.Current.Cluster!.JoinTokens[0].UsesLeft);
        Assert.Equal(1, state.Current.Cluster!.JoinTokens[0].Uses);
    }

    [Fact]
    public void ARevokedTokenAdmitsNoOne_AndNodesItAdmittedStay()
    {
        var state = NewSwarm();
        Assert.True(state.Apply(new AddJoinTokenCommand(Token(maxUses: 5))));
        Assert.True(state.Apply(Join(10, T0)));
        CommandValidator.Validate(new RevokeJoinTokenCommand(TokenId), state.Current);
        Assert.True(state.Apply(new RevokeJoinTokenCommand(TokenId)));
        Assert.Empty(state.Current.Cluster!.JoinTokens);
        Assert.True(state.Apply(Join(11, T0)));
        Assert.True(state.Current.Nodes.ContainsKey(Join(10, T0).Node.Id));
        Assert.False(state.Current.Nodes.ContainsKey(Join(11, T0).Node.Id));
    }

    [Fact]
    public void AWorkerTokenNeverAdmitsAManager()
    {
        var state = NewSwarm();
        Assert.True(state.Apply(new AddJoinTokenCommand(Token(maxUses: 5))));
        var manager = Join(10, T0, NodeRole.Manager);
        Assert.Throws<SwarmException>(() => CommandValidator.Validate(manager, state.Current));
        Assert.True(state.Apply(manager));
        Assert.False(state.Current.Nodes.ContainsKey(manager.Node.Id));
        Assert.Equal(0, state.Current.Cluster!.JoinTokens[0].Uses);
    }

    [Fact]
    public void TokensSurviveSnapshotsAndForceNewCluster()
    {
        var state = NewSwarm();
        Assert.True(state.Apply(new AddJoinTokenCommand(Token(maxUses: 3, expires: T0.AddDays(1)))));
        Assert.True(state.Apply(Join(10, T0)));
        var copy = new SwarmState();
        copy.Deserialize(state.Serialize());
        var token = Assert.Single(copy.Current.Cluster!.JoinTokens);
        Assert.Equal((3, 1, 2, T0.AddDays(1), "ci runners"), (token.MaxUses, token.Uses, token.UsesLeft, token.ExpiresAt, token.Description));

        var restored = new SwarmState();
        Assert.True(restored.Apply(RestoreStateCommand.ForNewCluster(state.Current, "node000000000000000000001", "10.0.0.1:2377", T0)));
        Assert.Equal(1, Assert.Single(restored.Current.Cluster!.JoinTokens).Uses);
    }

    [Fact]
    public void TheLeaderRefusesMalformedTokens()
    {
        var state = NewSwarm().Current;
        void Refused(JoinTokenObject t, string part)
        {
            var e = Assert.Throws<SwarmException>(() => CommandValidator.Validate(new AddJoinTokenCommand(t), state));
            Assert.Contains(part, e.Message);
        }
        CommandValidator.Validate(new AddJoinTokenCommand(Token(maxUses: 1, expires: T0.AddHours(1))), state);
        Refused(Token() with { Token = "SWMTKN-1-garbage" }, "invalid worker join token");
        Refused(Token() with { Token = JoinToken.Generate(RootCA.Create().CertificatePemBytes) }, "does not belong to this swarm's root CA");
        Refused(Token() with { Token = state.Cluster!.WorkerJoinToken }, "must differ");
        Refused(Token() with { Token = state.Cluster!.ManagerJoinToken }, "must differ");
        Refused(Token(maxUses: 0), "at least one node");
        Refused(Token(expires: T0), "expire after it is created");
        Refused(Token() with { Description = new string('d', JoinTokenObject.MaxDescriptionLength + 1) }, "at most 256 characters");
        Refused(Token() with { Description = "line\nbreak" }, "control characters");
        Refused(Token() with { Uses = 3 }, "no uses yet");
        Refused(Token() with { Role = (NodeRole)7 }, "invalid role 7");

        var e = Assert.Throws<SwarmException>(() => CommandValidator.Validate(new RevokeJoinTokenCommand("nope"), state));
        Assert.Equal("join token nope not found", e.Message);
    }

    [Fact]
    public void TheSwarmKeepsABoundedNumberOfExtraTokens()
    {
        var state = NewSwarm();
        for (var i = 0; i < JoinTokenObject.MaxTokens; i++)
            Assert.True(state.Apply(new AddJoinTokenCommand(Token() with { Id = Identity.NewId() })));
        var e = Assert.Throws<SwarmException>(() => CommandValidator.Validate(new AddJoinTokenCommand(Token() with { Id = Identity.NewId() }), state.Current));
        Assert.Contains("Revoke-SwarmJoinToken", e.Message);
    }
}
