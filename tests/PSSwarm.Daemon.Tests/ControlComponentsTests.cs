using Microsoft.Extensions.Time.Testing;
using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Control;
using Proto = PSSwarm.Protocol.Control;

namespace PSSwarm.Daemon.Tests;

/// <summary>The control API's logic against the store interface alone (no Raft, no daemon).</summary>
public class ControlComponentsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly RootCA Ca = RootCA.Create();

    private static InMemorySwarmStore NewSwarm()
    {
        var store = new InMemorySwarmStore();
        var cluster = new ClusterObject
        {
            Id = Identity.NewId(), CreatedAt = T0, UpdatedAt = T0,
            RootCACertificate = Ca.CertificatePem, RootCAKey = Ca.KeyPem!,
            WorkerJoinToken = JoinToken.Generate(Ca.CertificatePemBytes),
            ManagerJoinToken = JoinToken.Generate(Ca.CertificatePemBytes),
        };
        var first = new NodeObject { Id = Identity.NewId(), Hostname = "m1", Role = NodeRole.Manager, Status = NodeStatus.Ready, Address = "10.0.0.1", ManagerAddress = "10.0.0.1:2377", CreatedAt = T0, UpdatedAt = T0 };
        store.ProposeAsync(new CreateClusterCommand(cluster, first, NetworkObject.NewIngress(Identity.NewId(), T0)), default).GetAwaiter().GetResult();
        return store;
    }

    [Fact]
    public async Task Tokens_CreateListRevoke_ThroughTheStore()
    {
        var store = NewSwarm();
        var clock = new FakeTimeProvider(T0);
        var tokens = new JoinTokenService(store, clock);

        var once = await tokens.CreateAsync(new Proto.CreateJoinTokenRequest { Role = Proto.NodeRole.RoleWorker, MaxUses = 1, Description = "runner" }, default);
        clock.Advance(TimeSpan.FromSeconds(1));
        var hour = await tokens.CreateAsync(new Proto.CreateJoinTokenRequest { Role = Proto.NodeRole.RoleManager, ExpiresInMs = 3_600_000 }, default);

        Assert.Equal((NodeRole.Worker, 1, (DateTimeOffset?)null, "runner"), (once.Role, once.MaxUses!.Value, once.ExpiresAt, once.Description));
        Assert.Equal((NodeRole.Manager, (int?)null, T0.AddSeconds(1).AddHours(1)), (hour.Role, hour.MaxUses, hour.ExpiresAt!.Value));
        Assert.True(JoinToken.TryParse(once.Token, out var parsed) && parsed.MatchesRootCA(Ca.CertificatePemBytes));
        Assert.Equal([once.Id, hour.Id], tokens.Extra().Select(t => t.Id));

        // By the token string, by a unique prefix of the Id.
        Assert.Equal(once.Id, (await tokens.RevokeAsync(once.Token, default)).Id);
        Assert.Equal(hour.Id, (await tokens.RevokeAsync(hour.Id[..6], default)).Id);
        Assert.Empty(tokens.Extra());
        Assert.Equal(4, store.Proposed.Count(c => c is AddJoinTokenCommand or RevokeJoinTokenCommand));
    }

    [Fact]
    public async Task Tokens_Refusals_NameTheFixAndNeverTheSecret()
    {
        var store = NewSwarm();
        var tokens = new JoinTokenService(store, new FakeTimeProvider(T0));
        var standing = store.Current.Cluster!.WorkerJoinToken;

        var e = await Assert.ThrowsAsync<SwarmException>(() => tokens.RevokeAsync(standing, default));
        Assert.Equal(("SwarmStandingJoinToken", SwarmErrorKind.InvalidOperation), (e.ErrorId, e.Kind));
        Assert.Contains("Update-SwarmJoinToken", e.Message);

        var unknown = JoinToken.Generate(Ca.CertificatePemBytes);
        e = await Assert.ThrowsAsync<SwarmException>(() => tokens.RevokeAsync(unknown, default));
        Assert.Equal(("SwarmJoinTokenNotFound", SwarmErrorKind.ObjectNotFound), (e.ErrorId, e.Kind));
        Assert.DoesNotContain(unknown, e.Message);

        e = await Assert.ThrowsAsync<SwarmException>(() => tokens.CreateAsync(new Proto.CreateJoinTokenRequest { ExpiresInMs = 500 }, default));
        Assert.Equal("-ExpiresIn must be at least 1 second", e.Message);
        e = await Assert.ThrowsAsync<SwarmException>(() => tokens.CreateAsync(new Proto.CreateJoinTokenRequest { MaxUses = -1 }, default));
        Assert.Contains("-MaxUses must be between 1 and", e.Message);
        e = await Assert.ThrowsAsync<SwarmException>(() => tokens.CreateAsync(new Proto.CreateJoinTokenRequest { Description = "a\tb" }, default));
        Assert.Contains("control characters", e.Message);
        Assert.Empty(tokens.Extra());
    }

    [Fact]
    public async Task Tokens_AmbiguousPrefixIsRefused()
    {
        var store = NewSwarm();
        var tokens = new JoinTokenService(store, new FakeTimeProvider(T0));
        var created = new List<JoinTokenObject>();
        for (var i = 0; i < 40; i++) created.Add(await tokens.CreateAsync(new Proto.CreateJoinTokenRequest(), default));
        // 40 IDs over 36 first characters: some first character is shared.
        var shared = created.GroupBy(t => t.Id[..1]).First(g => g.Count() > 1).Key;
        var e = await Assert.ThrowsAsync<SwarmException>(() => tokens.RevokeAsync(shared, default));
        Assert.Contains("is ambiguous", e.Message);
        Assert.Equal(40, tokens.Extra().Count);
    }

    [Fact]
    public async Task Rotate_ReplacesOnlyThatRolesToken()
    {
        var store = NewSwarm();
        var before = store.Current.Cluster!;
        var fresh = await new JoinTokenService(store, new FakeTimeProvider(T0)).RotateAsync(NodeRole.Worker, default);
        Assert.Equal(fresh, store.Current.Cluster!.WorkerJoinToken);
        Assert.NotEqual(before.WorkerJoinToken, fresh);
        Assert.Equal(before.ManagerJoinToken, store.Current.Cluster!.ManagerJoinToken);
    }

    [Fact]
    public async Task Settings_AreProposedOnlyWhenTheyChange_AndWatchersSeeTheChange()
    {
        var store = NewSwarm();
        var version = store.Current.Version;
        var watch = store.WaitForChangeAsync(version, default);
        Assert.False(watch.IsCompleted);

        await SwarmSettings.UpdateAsync(store, new Proto.UpdateSwarmRequest { HasTaskHistoryLimit = true, TaskHistoryLimit = 5 }, TimeProvider.System, default);
        Assert.Equal(version, store.Current.Version); // 5 is the default: nothing written
        Assert.False(watch.IsCompleted);

        var (spec, unlockKey) = await SwarmSettings.UpdateAsync(store, new Proto.UpdateSwarmRequest { HasDispatcherHeartbeat = true, DispatcherHeartbeatMs = 1000 }, TimeProvider.System, default);
        Assert.Equal(TimeSpan.FromSeconds(1), spec.DispatcherHeartbeat);
        Assert.Null(unlockKey); // autolock was not turned on
        var changed = await watch.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.FromSeconds(1), changed.Cluster!.Spec.DispatcherHeartbeat);
        Assert.Single(store.Proposed.OfType<UpdateClusterSpecCommand>());

        // Turning autolock on makes a new unlock key, proposed with the spec and returned once.
        var (locked, key) = await SwarmSettings.UpdateAsync(store, new Proto.UpdateSwarmRequest { HasAutolock = true, Autolock = true }, TimeProvider.System, default);
        Assert.True(locked.Autolock);
        Assert.Matches("^SWMKEY-1-[A-Za-z0-9+/]{43}$", key);
        Assert.Equal(key, store.Proposed.OfType<UpdateClusterSpecCommand>().Last().UnlockKey);
        // Asked again while on, it keeps the key.
        var (_, again) = await SwarmSettings.UpdateAsync(store, new Proto.UpdateSwarmRequest { HasAutolock = true, Autolock = true }, TimeProvider.System, default);
        Assert.Null(again);
    }
}

/// <summary>The CA component against the store interface: the store owns the root and key.</summary>
public class ClusterCATests
{
    // Certificates are checked against their root's validity, which starts an hour before the root is made.
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    private static (InMemorySwarmStore Store, RootCA Root) NewSwarm(RootCA? root = null)
    {
        root ??= RootCA.Create();
        var store = new InMemorySwarmStore();
        var cluster = new ClusterObject
        {
            Id = Identity.NewId(), CreatedAt = T0, UpdatedAt = T0, RootCACertificate = root.CertificatePem, RootCAKey = root.KeyPem!,
            WorkerJoinToken = JoinToken.Generate(root.CertificatePemBytes), ManagerJoinToken = JoinToken.Generate(root.CertificatePemBytes),
            Spec = new ClusterSpec { CertExpiry = TimeSpan.FromDays(7) },
        };
        var first = new NodeObject { Id = Identity.NewId(), Hostname = "m1", Role = NodeRole.Manager, Address = "10.0.0.1", ManagerAddress = "10.0.0.1:2377" };
        store.ProposeAsync(new CreateClusterCommand(cluster, first, NetworkObject.NewIngress(Identity.NewId(), T0)), default).GetAwaiter().GetResult();
        return (store, root);
    }

    [Fact]
    public void Sign_UsesTheStoresRootAndExpiry_AndTheRoleItIsGiven()
    {
        var (store, root) = NewSwarm();
        var ca = new Daemon.Ca.ClusterCA(store);
        var (_, csr) = NodeCertificates.NewKeyAndCsr();
        var nodeId = Identity.NewId();
        var cert = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(ca.Sign(csr, nodeId, NodeRole.Worker, T0));
        Assert.True(root.Verifies(cert, null), "signature");
        Assert.True(root.Verifies(cert, T0), $"validity {cert.NotBefore:o} {cert.NotAfter:o} root {root.Certificate.NotBefore:o}");
        var (id, role, org) = NodeCertificates.ReadIdentity(cert);
        Assert.Equal((nodeId, NodeCertificates.WorkerRole, store.Current.Cluster!.Id), (id, role, org));
        Assert.Equal(T0.AddDays(7), new DateTimeOffset(cert.NotAfter.ToUniversalTime()));
    }

    [Fact]
    public void Sign_FollowsTheStoreWhenItsRootChanges()
    {
        var (store, oldRoot) = NewSwarm();
        var ca = new Daemon.Ca.ClusterCA(store);
        var (_, csr) = NodeCertificates.NewKeyAndCsr();
        _ = ca.Sign(csr, Identity.NewId(), NodeRole.Manager, T0); // loads the old root
        var newRoot = RootCA.Create();
        var cluster = store.Current.Cluster! with
        {
            RootCACertificate = newRoot.CertificatePem, RootCAKey = newRoot.KeyPem!,
            WorkerJoinToken = JoinToken.Generate(newRoot.CertificatePemBytes), ManagerJoinToken = JoinToken.Generate(newRoot.CertificatePemBytes),
        };
        store.State.Reset(store.Current with { Cluster = cluster });
        var cert = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(ca.Sign(csr, Identity.NewId(), NodeRole.Manager, T0));
        Assert.True(newRoot.Verifies(cert, T0));
        Assert.False(oldRoot.Verifies(cert, T0));
    }

    [Fact]
    public void Sign_RefusesABadCsrAsInvalidArgument()
    {
        var (store, _) = NewSwarm();
        var e = Assert.Throws<SwarmException>(() => new Daemon.Ca.ClusterCA(store).Sign([1, 2, 3], Identity.NewId(), NodeRole.Worker, T0));
        Assert.Equal((SwarmErrorKind.InvalidArgument, "SwarmInvalidArgument"), (e.Kind, e.ErrorId));
        Assert.StartsWith("invalid certificate signing request", e.Message);
    }
}
