using PSSwarm.Core;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Control;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Tests;

public class SwarmSettingsTests
{
    private static readonly ClusterSpec Current = new()
    {
        CertExpiry = TimeSpan.FromDays(30), DispatcherHeartbeat = TimeSpan.FromSeconds(2), TaskHistoryLimit = 7,
    };

    private static SwarmException Refused(Action call, SwarmErrorKind kind, string id, string message)
    {
        var e = Assert.Throws<SwarmException>(call);
        Assert.Equal(kind, e.Kind);
        Assert.Equal(id, e.ErrorId);
        Assert.Equal(message, e.Message);
        return e;
    }

    [Fact]
    public void Update_ChangesOnlyTheSettingsGiven()
    {
        Assert.Equal(Current, SwarmSettings.Update(Current, new Proto.UpdateSwarmRequest()));
        // Values without their has_* flag are ignored (proto3 defaults are not "set to zero").
        Assert.Equal(Current, SwarmSettings.Update(Current, new Proto.UpdateSwarmRequest { CertExpiryMs = 1, DispatcherHeartbeatMs = -1, TaskHistoryLimit = -1 }));

        var heartbeat = SwarmSettings.Update(Current, new Proto.UpdateSwarmRequest { HasDispatcherHeartbeat = true, DispatcherHeartbeatMs = 1500 });
        Assert.Equal(Current with { DispatcherHeartbeat = TimeSpan.FromMilliseconds(1500) }, heartbeat);

        var all = SwarmSettings.Update(Current, new Proto.UpdateSwarmRequest
        {
            HasCertExpiry = true, CertExpiryMs = (long)TimeSpan.FromHours(1).TotalMilliseconds,
            HasTaskHistoryLimit = true, TaskHistoryLimit = 0,
            HasAutolock = true, Autolock = false,
        });
        Assert.Equal(Current with { CertExpiry = TimeSpan.FromHours(1), TaskHistoryLimit = 0 }, all);
    }

    [Fact]
    public void Update_RefusesWhatInitializeSwarmRefuses_WithDockersWording()
    {
        const SwarmErrorKind bad = SwarmErrorKind.InvalidArgument;
        Refused(() => SwarmSettings.Update(Current, new() { HasCertExpiry = true, CertExpiryMs = 3_599_999 }), bad, "SwarmInvalidArgument",
            "minimum certificate expiry time is: 1h0m0s");
        Refused(() => SwarmSettings.Update(Current, new() { HasCertExpiry = true, CertExpiryMs = long.MaxValue / 2 }), bad, "SwarmInvalidArgument",
            "maximum certificate expiry time is: 175200h0m0s");
        Refused(() => SwarmSettings.Update(Current, new() { HasDispatcherHeartbeat = true, DispatcherHeartbeatMs = 0 }), bad, "SwarmInvalidArgument",
            "heartbeat time period must be greater than zero");
        Refused(() => SwarmSettings.Update(Current, new() { HasDispatcherHeartbeat = true, DispatcherHeartbeatMs = -5 }), bad, "SwarmInvalidArgument",
            "heartbeat time period cannot be a negative duration");
        Refused(() => SwarmSettings.Update(Current, new() { HasDispatcherHeartbeat = true, DispatcherHeartbeatMs = long.MaxValue }), bad, "SwarmInvalidArgument",
            "heartbeat time period cannot be longer than 24h0m0s");
        Refused(() => SwarmSettings.ForInit(new() { HasCertExpiry = true, CertExpiryMs = long.MaxValue }), bad, "SwarmInvalidArgument",
            "maximum certificate expiry time is: 175200h0m0s");
        Refused(() => SwarmSettings.Update(Current, new() { HasTaskHistoryLimit = true, TaskHistoryLimit = -1 }), bad, "SwarmInvalidArgument",
            "task history retention limit cannot be negative");
    }

    [Fact]
    public void Autolock_TurnsOnAndOff_AndIsKeptWhenNotGiven()
    {
        Assert.True(SwarmSettings.Update(Current, new() { HasAutolock = true, Autolock = true }).Autolock);
        Assert.True(SwarmSettings.ForInit(new Proto.InitRequest { Autolock = true }).Autolock);
        Assert.False(SwarmSettings.ForInit(new Proto.InitRequest()).Autolock);
        var on = Current with { Autolock = true };
        Assert.False(SwarmSettings.Update(on, new() { HasAutolock = true, Autolock = false }).Autolock);
        Assert.True(SwarmSettings.Update(on, new() { HasTaskHistoryLimit = true, TaskHistoryLimit = 3 }).Autolock);
    }

    [Fact]
    public void ForInit_StartsFromDockersDefaults()
    {
        Assert.Equal(new ClusterSpec(), SwarmSettings.ForInit(new Proto.InitRequest()));
        Assert.Equal(TimeSpan.FromSeconds(5), new ClusterSpec().DispatcherHeartbeat);
        Assert.Equal(TimeSpan.FromDays(90), new ClusterSpec().CertExpiry);
        var spec = SwarmSettings.ForInit(new Proto.InitRequest { HasDispatcherHeartbeat = true, DispatcherHeartbeatMs = 1000, HasCertExpiry = true, CertExpiryMs = 7_200_000 });
        Assert.Equal(TimeSpan.FromSeconds(1), spec.DispatcherHeartbeat);
        Assert.Equal(TimeSpan.FromHours(2), spec.CertExpiry);
        Refused(() => SwarmSettings.ForInit(new Proto.InitRequest { Availability = (Proto.Availability)7 }), SwarmErrorKind.InvalidArgument,
            "SwarmInvalidArgument", "invalid availability \"7\", only active, pause and drain are supported");
    }
}
