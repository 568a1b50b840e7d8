using PSSwarm.Client.Api;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Client.Tests;

/// <summary>The facade's conversions from the generated messages to the plain records PSSwarm.dll maps to its output types.</summary>
public class SwarmApiTests
{
    // protoc drops a value prefix that repeats the enum name (AVAILABILITY_DRAIN: Drain) and keeps the others (ROLE_WORKER: RoleWorker).
    [Theory]
    [InlineData(typeof(Proto.NodeRole), typeof(Role), "Role")]
    [InlineData(typeof(Proto.Availability), typeof(Availability), "")]
    [InlineData(typeof(Proto.NodeStatus), typeof(NodeStatus), "Status")]
    [InlineData(typeof(Proto.Reachability), typeof(Reachability), "")]
    [InlineData(typeof(Proto.LocalNodeState), typeof(LocalNodeState), "Local")]
    [InlineData(typeof(Proto.CheckResult), typeof(CheckResult), "Check")]
    public void Every_protocol_enum_value_has_the_same_number_and_name_in_the_facade(Type proto, Type api, string prefix)
    {
        var protoValues = Enum.GetValues(proto).Cast<object>().Select(v => (Name: v.ToString()!, Value: Convert.ToInt32(v))).ToList();
        var apiValues = Enum.GetValues(api).Cast<object>().Select(v => (Name: v.ToString()!, Value: Convert.ToInt32(v))).ToList();
        Assert.Equal(protoValues.Select(v => (v.Name[prefix.Length..], v.Value)), apiValues);
    }

    [Fact]
    public void An_inactive_node_has_no_times_settings_or_tokens()
    {
        var info = SwarmApi.ToInfo(new Proto.SwarmInfo { LocalNodeState = Proto.LocalNodeState.LocalInactive, NodeName = "n1" });
        Assert.Equal(LocalNodeState.Inactive, info.LocalNodeState);
        Assert.Null(info.CreatedAt);
        Assert.Null(info.UpdatedAt);
        Assert.Null(info.CertExpiry);
        Assert.Null(info.DispatcherHeartbeat);
        Assert.Null(info.WorkerToken);
        Assert.Null(info.ManagerToken);
        Assert.Equal("", info.Id);
        Assert.Equal("n1", info.NodeName);
    }

    [Fact]
    public void A_manager_has_its_settings_times_and_both_tokens()
    {
        var info = SwarmApi.ToInfo(new Proto.SwarmInfo
        {
            Id = "s1", LocalNodeState = Proto.LocalNodeState.LocalActive, IsManager = true, Managers = 3, Nodes = 5,
            CreatedUnixMs = 1_700_000_000_000, UpdatedUnixMs = 1_700_000_001_000, CertExpiryMs = 3_600_000,
            DispatcherHeartbeatMs = 5000, TaskHistoryLimit = 5, Autolock = true, UnlockKey = "SWMKEY-1-x",
            WorkerToken = new Proto.JoinToken { Role = Proto.NodeRole.RoleWorker, Token = "SWMTKN-1-w", RemoteAddresses = { "127.0.0.1:2377" } },
            ManagerToken = new Proto.JoinToken { Role = Proto.NodeRole.RoleManager, Token = "SWMTKN-1-m" },
        });
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000), info.CreatedAt);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_001_000), info.UpdatedAt);
        Assert.Equal(TimeSpan.FromHours(1), info.CertExpiry);
        Assert.Equal(TimeSpan.FromSeconds(5), info.DispatcherHeartbeat);
        Assert.Equal((3, 5, 5, true, "SWMKEY-1-x"), (info.Managers, info.Nodes, info.TaskHistoryLimit, info.Autolock, info.UnlockKey));
        Assert.Equal(Role.Worker, info.WorkerToken!.Role);
        Assert.Equal(["127.0.0.1:2377"], info.WorkerToken.RemoteAddresses);
        Assert.Equal(Role.Manager, info.ManagerToken!.Role);
        Assert.Equal("SWMTKN-1-m", info.ManagerToken.Token);
    }

    [Fact]
    public void A_standing_token_has_no_limits_and_an_extra_token_has_its_own()
    {
        var standing = SwarmApi.ToToken(new Proto.JoinToken { Role = Proto.NodeRole.RoleWorker, Token = "SWMTKN-1-a" });
        Assert.Equal("", standing.Id);
        Assert.Null(standing.ExpiresAt);
        Assert.Null(standing.MaxUses);

        var extra = SwarmApi.ToToken(new Proto.JoinToken
        {
            Role = Proto.NodeRole.RoleManager, Token = "SWMTKN-1-b", Id = "abc", Description = "ci", CreatedUnixMs = 1_000,
            ExpiresUnixMs = 2_000, MaxUses = 3, Uses = 1,
        });
        Assert.Equal((Role.Manager, "abc", "ci", 3, 1), (extra.Role, extra.Id, extra.Description, extra.MaxUses!.Value, extra.Uses));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_000), extra.CreatedAt);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(2_000), extra.ExpiresAt);
    }

    [Fact]
    public void A_node_keeps_its_labels_states_and_times()
    {
        var node = SwarmApi.ToNode(new Proto.Node
        {
            Id = "n1", Hostname = "h1", Role = Proto.NodeRole.RoleManager, Availability = Proto.Availability.Drain,
            Status = Proto.NodeStatus.StatusDisconnected, Reachability = Proto.Reachability.Reachable,
            ManagerAddress = "10.0.0.1:2377", Labels = { ["zone"] = "a", ["rack"] = "1" }, CreatedUnixMs = 5_000,
            CertificateExpiryUnixMs = 0, IsLeader = true, IsSelf = true, Version = "0.1.0",
        });
        Assert.Equal((Role.Manager, Availability.Drain, NodeStatus.Disconnected, Reachability.Reachable),
            (node.Role, node.Availability, node.Status, node.Reachability));
        Assert.Equal(new Dictionary<string, string> { ["zone"] = "a", ["rack"] = "1" }, node.Labels);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(5_000), node.CreatedAt);
        Assert.Null(node.UpdatedAt);
        Assert.Null(node.CertificateExpiry);
        Assert.True(node.IsLeader && node.IsSelf);
    }

    [Fact]
    public void A_rotation_in_progress_keeps_its_next_root_and_progress()
    {
        var ca = SwarmApi.ToCA(new Proto.CAInfo
        {
            RootCaPem = "old", Digest = "sha256:1", RotationInProgress = true, NextRootCaPem = "new", NextDigest = "sha256:2",
            NodesRotated = 2, NodesTotal = 3, RotationStartedUnixMs = 9_000,
        });
        Assert.Equal(("old", "sha256:1", true, "new", "sha256:2", 2, 3), (ca.RootCaPem, ca.Digest, ca.RotationInProgress, ca.NextRootCaPem, ca.NextDigest, ca.NodesRotated, ca.NodesTotal));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(9_000), ca.RotationStartedAt);
    }

    [Fact]
    public async Task Checks_report_a_daemon_that_does_not_answer_as_one_failed_Daemon_check_not_an_exception()
    {
        var socket = Path.Combine(Path.GetTempPath(), $"psswarm-no-daemon-{Guid.NewGuid():N}.sock");
        var checks = await SwarmApi.For($"unix://{socket}").RunChecksAsync("", "", null, CancellationToken.None);
        var only = Assert.Single(checks);
        Assert.Equal("Daemon", only.Name);
        Assert.Equal(CheckResult.Fail, only.Result);
        Assert.Contains(socket, only.Message);
    }
}
