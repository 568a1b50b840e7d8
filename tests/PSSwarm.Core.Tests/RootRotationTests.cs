using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;

namespace PSSwarm.Core.Tests;

/// <summary>Root CA rotation: the cross-signed intermediate, verification through it, and the store's commands.</summary>
public class RootRotationTests
{
    private static readonly RootCA Old = RootCA.Create();
    private static readonly RootCA Next = RootCA.Create();
    private static readonly X509Certificate2 Cross = X509Certificate2.CreateFromPem(Old.CrossSign(Next));

    private static (X509Certificate2 Cert, string Pem) Node(RootCA ca, string role = NodeCertificates.WorkerRole, string id = "node1abc")
    {
        var (keyPem, csr) = NodeCertificates.NewKeyAndCsr();
        var pem = ca.SignNodeCertificate(csr, id, role, "cluster1xyz", TimeSpan.FromDays(1));
        return (NodeCertificates.LoadWithKey(pem, keyPem), pem);
    }

    [Fact]
    public void CrossSigned_HasTheNextRootsSubjectAndKey_IssuedByTheOldRoot()
    {
        Assert.Equal(Next.Certificate.SubjectName.RawData, Cross.SubjectName.RawData);
        Assert.Equal(Next.Certificate.PublicKey.EncodedKeyValue.RawData, Cross.PublicKey.EncodedKeyValue.RawData);
        Assert.True(Old.Verifies(Cross));
        Assert.False(Next.Verifies(Cross));
        Assert.True(Assert.Single(Cross.Extensions.OfType<X509BasicConstraintsExtension>()).CertificateAuthority);
        Assert.Equal(Next.KeyId, Convert.ToHexStringLower(Assert.Single(Cross.Extensions.OfType<X509SubjectKeyIdentifierExtension>()).SubjectKeyIdentifierBytes.Span));
        Assert.Equal(Old.KeyId, NodeCertificates.IssuerKeyId(Cross));
        Assert.True(Cross.NotAfter <= Old.Certificate.NotAfter && Cross.NotAfter <= Next.Certificate.NotAfter);
    }

    [Fact]
    public void ANextRootLeaf_VerifiesAgainstTheOldRootOnlyThroughTheCrossSignedIntermediate()
    {
        var (leaf, _) = Node(Next);
        Assert.True(Next.Verifies(leaf));
        Assert.False(Old.Verifies(leaf));
        Assert.False(Old.Verifies(leaf, DateTimeOffset.UtcNow, []));
        Assert.True(Old.Verifies(leaf, DateTimeOffset.UtcNow, [Cross]));
        Assert.Equal(Next.KeyId, NodeCertificates.IssuerKeyId(leaf));
        // An old-root leaf keeps verifying against the old root, intermediates or not.
        var (oldLeaf, _) = Node(Old);
        Assert.True(Old.Verifies(oldLeaf, DateTimeOffset.UtcNow, [Cross]));
        Assert.Equal(Old.KeyId, NodeCertificates.IssuerKeyId(oldLeaf));
    }

    [Fact]
    public void AnIntermediateTheOldRootDidNotSign_DoesNotHelp()
    {
        var stranger = RootCA.Create();
        var forgedCross = X509Certificate2.CreateFromPem(stranger.CrossSign(Next));
        var (leaf, _) = Node(Next);
        Assert.False(Old.Verifies(leaf, DateTimeOffset.UtcNow, [forgedCross]));
        // A node certificate (not a CA) signed by the old root cannot act as an intermediate.
        var (oldLeaf, _) = Node(Old);
        Assert.False(Old.Verifies(leaf, DateTimeOffset.UtcNow, [oldLeaf]));
        // Nor the next root itself, self-signed.
        Assert.False(Old.Verifies(leaf, DateTimeOffset.UtcNow, [Next.Certificate]));
    }

    [Fact]
    public async Task TheCrossSignedIntermediate_TravelsInTheServersTlsChain_ToAClientThatTrustsOnlyTheOldRoot()
    {
        var (serverCert, _) = Node(Next, NodeCertificates.ManagerRole, "servernode");
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var context = NodeCertificates.ServerContext(serverCert, [Cross, Old.Certificate]);

        var serverTask = Task.Run(async () =>
        {
            using var tcp = await listener.AcceptTcpClientAsync(cts.Token);
            await using var ssl = new SslStream(tcp.GetStream(), false);
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = context,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            }, cts.Token);
            ssl.WriteByte(42);
            await ssl.FlushAsync(cts.Token);
        });

        List<X509Certificate2> extras = new();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
        await using var clientSsl = new SslStream(client.GetStream(), false);
        await clientSsl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "swarm-ca",
            RemoteCertificateValidationCallback = (_, c, chain, _) =>
            {
                extras = NodeCertificates.PresentedIntermediates(chain).ToList();
                return c is not null && Old.Verifies(X509CertificateLoader.LoadCertificate(c.GetRawCertData()), DateTimeOffset.UtcNow, extras);
            },
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        }, cts.Token);
        Assert.Equal(42, clientSsl.ReadByte());
        await serverTask;
        Assert.Contains(extras, e => e.RawData.AsSpan().SequenceEqual(Cross.RawData));
        // The old root itself is not sent (the client has it; a root in the chain proves nothing).
        Assert.DoesNotContain(extras, e => e.RawData.AsSpan().SequenceEqual(Old.Certificate.RawData));
    }

    // ---- the store's commands ----

    private static SwarmState.Snapshot Swarm()
    {
        var cluster = new ClusterObject
        {
            Id = "cluster1xyz", RootCACertificate = Old.CertificatePem, RootCAKey = Old.KeyPem!,
            WorkerJoinToken = JoinToken.Generate(Old.CertificatePemBytes), ManagerJoinToken = JoinToken.Generate(Old.CertificatePemBytes),
            JoinTokens = [new JoinTokenObject { Id = "tok1", Token = JoinToken.Generate(Old.CertificatePemBytes) }],
        };
        var node = new NodeObject { Id = "node1abc", Role = NodeRole.Manager, Status = NodeStatus.Ready };
        return new CreateClusterCommand(cluster, node, NetworkObject.NewIngress("net1", DateTimeOffset.UtcNow)).Apply(SwarmState.Snapshot.Empty);
    }

    private static RootRotationObject Rotation(RootCA next, string? cross = null) => new()
    {
        CACertificate = next.CertificatePem, CAKey = next.KeyPem!, CrossSignedCACertificate = cross ?? Old.CrossSign(next),
        StartedAt = DateTimeOffset.UtcNow,
    };

    [Fact]
    public void StartAndComplete_MakeTheNextRootTheRoot_RenewTheTokens_DropExtraTokens_KeepTheOldRootAsPrevious()
    {
        var state = Swarm();
        var start = new StartRootRotationCommand(Rotation(Next));
        CommandValidator.Validate(start, state);
        state = SwarmCommand.FromBytes(start.ToBytes()).Apply(state);
        Assert.Equal(Next.CertificatePem, state.Cluster!.RootRotation!.CACertificate);
        Assert.Equal(Old.CertificatePem, state.Cluster.RootCACertificate);

        var worker = JoinToken.Generate(Next.CertificatePemBytes);
        var manager = JoinToken.Generate(Next.CertificatePemBytes);
        var complete = new CompleteRootRotationCommand(Next.CertificatePem, worker, manager, DateTimeOffset.UtcNow);
        CommandValidator.Validate(complete, state);
        state = SwarmCommand.FromBytes(complete.ToBytes()).Apply(state);
        var c = state.Cluster!;
        Assert.Null(c.RootRotation);
        Assert.Equal(Next.CertificatePem, c.RootCACertificate);
        Assert.Equal(Next.KeyPem, c.RootCAKey);
        Assert.Equal(worker, c.WorkerJoinToken);
        Assert.Equal(manager, c.ManagerJoinToken);
        Assert.Empty(c.JoinTokens);
        Assert.Equal([Old.CertificatePem], c.PreviousRootCACertificates);
        // Applied again (a replayed entry), it changes nothing.
        Assert.Same(state, complete.Apply(state));
    }

    [Fact]
    public void Complete_IsRefused_ForAnotherRotation_OrTokensOfTheOldRoot()
    {
        var state = new StartRootRotationCommand(Rotation(Next)).Apply(Swarm());
        var other = RootCA.Create();
        Assert.Throws<SwarmException>(() => CommandValidator.Validate(new CompleteRootRotationCommand(other.CertificatePem,
            JoinToken.Generate(other.CertificatePemBytes), JoinToken.Generate(other.CertificatePemBytes), DateTimeOffset.UtcNow), state));
        Assert.Throws<SwarmException>(() => CommandValidator.Validate(new CompleteRootRotationCommand(Next.CertificatePem,
            JoinToken.Generate(Old.CertificatePemBytes), JoinToken.Generate(Next.CertificatePemBytes), DateTimeOffset.UtcNow), state));
        var token = JoinToken.Generate(Next.CertificatePemBytes);
        Assert.Throws<SwarmException>(() => CommandValidator.Validate(new CompleteRootRotationCommand(Next.CertificatePem, token, token, DateTimeOffset.UtcNow), state));
        // Without a rotation in progress there is nothing to complete, and applying it is a no-op.
        var idle = Swarm();
        var complete = new CompleteRootRotationCommand(Next.CertificatePem, token, JoinToken.Generate(Next.CertificatePemBytes), DateTimeOffset.UtcNow);
        Assert.Throws<SwarmException>(() => CommandValidator.Validate(complete, idle));
        Assert.Same(idle, complete.Apply(idle));
    }

    [Fact]
    public void Start_IsRefused_ForABadNextRoot()
    {
        var state = Swarm();
        var stranger = RootCA.Create();
        // The same root again.
        Assert.Throws<SwarmException>(() => CommandValidator.Validate(new StartRootRotationCommand(new RootRotationObject
        {
            CACertificate = Old.CertificatePem, CAKey = Old.KeyPem!, CrossSignedCACertificate = Old.CrossSign(Old), StartedAt = DateTimeOffset.UtcNow,
        }), state));
        // A key that does not match the certificate.
        Assert.Throws<SwarmException>(() => CommandValidator.Validate(new StartRootRotationCommand(Rotation(Next) with { CAKey = stranger.KeyPem! }), state));
        // Cross-signed by another root than the current one.
        Assert.Throws<SwarmException>(() => CommandValidator.Validate(new StartRootRotationCommand(Rotation(Next, stranger.CrossSign(Next))), state));
        // Cross-signed for another key.
        Assert.Throws<SwarmException>(() => CommandValidator.Validate(new StartRootRotationCommand(Rotation(Next, Old.CrossSign(stranger))), state));
        // A node certificate is not a root.
        var (_, leafPem) = Node(Old);
        Assert.Throws<SwarmException>(() => CommandValidator.Validate(new StartRootRotationCommand(new RootRotationObject
        {
            CACertificate = leafPem, CAKey = Next.KeyPem!, CrossSignedCACertificate = Old.CrossSign(Next), StartedAt = DateTimeOffset.UtcNow,
        }), state));
    }

    [Fact]
    public void PatchNode_RecordsTheCertificateIssuer_AndRefusesGarbage()
    {
        var state = Swarm();
        var patch = new PatchNodeCommand("node1abc", DateTimeOffset.UtcNow) { CertificateIssuer = Next.KeyId };
        CommandValidator.Validate(patch, state);
        state = SwarmCommand.FromBytes(patch.ToBytes()).Apply(state);
        Assert.Equal(Next.KeyId, state.Nodes["node1abc"].CertificateIssuer);
        Assert.Throws<SwarmException>(() => CommandValidator.Validate(new PatchNodeCommand("node1abc", DateTimeOffset.UtcNow) { CertificateIssuer = "not hex" }, state));
        Assert.Throws<SwarmException>(() => CommandValidator.Validate(new PatchNodeCommand("node1abc", DateTimeOffset.UtcNow) { CertificateIssuer = new string('a', 129) }, state));
    }
}
