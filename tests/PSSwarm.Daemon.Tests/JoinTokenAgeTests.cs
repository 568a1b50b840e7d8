using PSSwarm.Core.State;
using PSSwarm.Daemon.Node;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Tests;

/// <summary>Test-Swarm's "JoinTokens" check and the token creation times the store keeps for it.</summary>
public class JoinTokenAgeTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static ClusterObject Cluster(DateTimeOffset worker, DateTimeOffset manager, params JoinTokenObject[] extra) => new()
    {
        Id = "c", RootCACertificate = "root", RootCAKey = "key", WorkerJoinToken = "w", ManagerJoinToken = "m",
        WorkerJoinTokenCreatedAt = worker, ManagerJoinTokenCreatedAt = manager, JoinTokens = [.. extra],
    };

    [Fact]
    public void Young_tokens_pass()
    {
        var (result, message) = NodeRuntime.JoinTokenAge(Cluster(Now.AddDays(-10), Now.AddDays(-181)), Now);
        Assert.Equal(Proto.CheckResult.CheckPass, result);
        Assert.Contains("younger than 6 months", message);
    }

    [Fact]
    public void A_token_older_than_six_months_warns_and_names_the_command_that_rotates_it()
    {
        var (result, message) = NodeRuntime.JoinTokenAge(Cluster(Now.AddDays(-200), Now.AddDays(-1)), Now);
        Assert.Equal(Proto.CheckResult.CheckWarn, result);
        Assert.Contains("the worker token is 200 days old (Update-SwarmJoinToken -Role Worker)", message);
        Assert.DoesNotContain("manager token", message);
        Assert.DoesNotContain("\"w\"", message);
    }

    [Fact]
    public void An_old_extra_token_that_never_expires_warns_but_one_with_an_expiry_does_not()
    {
        var forever = new JoinTokenObject { Id = "t1", Token = "x", Role = NodeRole.Manager, CreatedAt = Now.AddDays(-400) };
        var expiring = new JoinTokenObject { Id = "t2", Token = "y", CreatedAt = Now.AddDays(-400), ExpiresAt = Now.AddDays(1) };
        var (result, message) = NodeRuntime.JoinTokenAge(Cluster(Now, Now, forever, expiring), Now);
        Assert.Equal(Proto.CheckResult.CheckWarn, result);
        Assert.Contains("the extra manager token t1 is 400 days old and never expires (Revoke-SwarmJoinToken -Id t1)", message);
        Assert.DoesNotContain("t2", message);
    }

    [Fact]
    public void A_swarm_that_did_not_record_the_times_passes_and_says_how_to_start_tracking()
    {
        var (result, message) = NodeRuntime.JoinTokenAge(Cluster(default, Now), Now);
        Assert.Equal(Proto.CheckResult.CheckPass, result);
        Assert.Contains("did not record when its worker token was made", message);
        Assert.Null(Cluster(default, Now).JoinTokenCreatedAt(NodeRole.Worker));
    }

    [Fact]
    public void Rotating_a_token_records_when_for_that_role_only()
    {
        var state = SwarmState.Snapshot.Empty with { Cluster = Cluster(Now.AddDays(-300), Now.AddDays(-300)) };
        var after = new SetJoinTokenCommand(NodeRole.Worker, "w2", Now).Apply(state);
        Assert.Equal(Now, after.Cluster!.JoinTokenCreatedAt(NodeRole.Worker));
        Assert.Equal(Now.AddDays(-300), after.Cluster.JoinTokenCreatedAt(NodeRole.Manager));
    }

    [Fact]
    public void Completing_a_root_rotation_records_both_new_tokens()
    {
        var rotating = Cluster(Now.AddDays(-300), Now.AddDays(-300)) with
        {
            RootRotation = new RootRotationObject { CACertificate = "next", CAKey = "nk", CrossSignedCACertificate = "cross" },
        };
        var after = new CompleteRootRotationCommand("next", "w2", "m2", Now).Apply(SwarmState.Snapshot.Empty with { Cluster = rotating });
        Assert.Equal(Now, after.Cluster!.JoinTokenCreatedAt(NodeRole.Worker));
        Assert.Equal(Now, after.Cluster.JoinTokenCreatedAt(NodeRole.Manager));
    }
}
