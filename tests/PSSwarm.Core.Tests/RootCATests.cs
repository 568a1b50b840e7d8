using System.Formats.Asn1;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PSSwarm.Core.Security;

namespace PSSwarm.Core.Tests;

public class RootCATests
{
    private static readonly RootCA Ca = RootCA.Create();
    private static readonly RootCA OtherCa = RootCA.Create();
    private const string EcdsaWithSha256 = "1.2.840.10045.4.3.2";
    private const string NistP256 = "1.2.840.10045.3.1.7";

    private static X509Certificate2 Cert(string pem) => X509Certificate2.CreateFromPem(pem);

    private static T Ext<T>(X509Certificate2 c) where T : X509Extension => Assert.Single(c.Extensions.OfType<T>());

    private static string IssueNode(RootCA ca, string role, TimeSpan expiry, DateTimeOffset? now = null, string nodeId = "node1abc", string cluster = "cluster1xyz")
    {
        var (_, csr) = NodeCertificates.NewKeyAndCsr();
        return ca.SignNodeCertificate(csr, nodeId, role, cluster, expiry, now);
    }

    [Fact]
    public void Create_HasSwarmkitRootProfile()
    {
        var now = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        var ca = RootCA.Create(now);
        var c = ca.Certificate;

        Assert.Equal("CN=swarm-ca", c.Subject);
        Assert.Equal("CN=swarm-ca", c.Issuer);
        Assert.Equal(3, c.Version);
        Assert.Equal(EcdsaWithSha256, c.SignatureAlgorithm.Value);
        using (var key = c.GetECDsaPublicKey())
        {
            Assert.NotNull(key);
            Assert.Equal(256, key!.KeySize);
            Assert.Equal(NistP256, key.ExportParameters(false).Curve.Oid.Value);
        }
        Assert.Null(c.GetRSAPublicKey());
        Assert.False(c.HasPrivateKey);

        Assert.Equal(now.UtcDateTime.AddHours(-1), c.NotBefore.ToUniversalTime());
        Assert.Equal(TimeSpan.FromSeconds(630720000), c.NotAfter - c.NotBefore);

        var bc = Ext<X509BasicConstraintsExtension>(c);
        Assert.True(bc.Critical);
        Assert.True(bc.CertificateAuthority);
        Assert.False(bc.HasPathLengthConstraint);

        var ku = Ext<X509KeyUsageExtension>(c);
        Assert.True(ku.Critical);
        Assert.Equal(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, ku.KeyUsages);

        var ski = Ext<X509SubjectKeyIdentifierExtension>(c);
        Assert.False(ski.Critical);
        Assert.Equal(20, ski.SubjectKeyIdentifierBytes.Length);

        var serial = c.SerialNumberBytes.ToArray(); // big-endian
        Assert.True((serial[0] & 0x80) == 0, "serial must be positive");
        Assert.NotEqual(Ca.Certificate.SerialNumber, OtherCa.Certificate.SerialNumber);

        // Self-signed and valid now: the root verifies itself.
        Assert.True(Ca.Verifies(Ca.Certificate));
    }

    [Fact]
    public void Create_DefaultsToNow_About20Years()
    {
        var c = Ca.Certificate;
        var notBefore = c.NotBefore.ToUniversalTime();
        Assert.InRange(notBefore, DateTime.UtcNow.AddHours(-1).AddMinutes(-2), DateTime.UtcNow.AddHours(-1).AddMinutes(1));
        Assert.InRange((c.NotAfter - c.NotBefore).TotalDays, 7299.9, 7300.1);
    }

    [Fact]
    public void Pem_IsDockerStyleAndHashed()
    {
        Assert.StartsWith("-----BEGIN CERTIFICATE-----\n", Ca.CertificatePem);
        Assert.EndsWith("-----END CERTIFICATE-----\n", Ca.CertificatePem);
        Assert.DoesNotContain('\r', Ca.CertificatePem);
        Assert.Equal(Pem.Encode("CERTIFICATE", Ca.Certificate.RawData), Ca.CertificatePem);
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes(Ca.CertificatePem), Ca.CertificatePemBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Ca.CertificatePemBytes)), Ca.Sha256Hex);
        Assert.Matches("^[0-9a-f]{64}$", Ca.Sha256Hex);
        Assert.True(Ca.CanSign);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----\n", Ca.KeyPem);
        Assert.EndsWith("-----END PRIVATE KEY-----\n", Ca.KeyPem);
        using var key = ECDsa.Create();
        key.ImportFromPem(Ca.KeyPem); // a PKCS#8 that .NET reads
        Assert.Equal(256, key.KeySize);
    }

    [Fact]
    public void Load_RoundTrips()
    {
        var loaded = RootCA.Load(Ca.CertificatePem, Ca.KeyPem);
        Assert.Equal(Ca.CertificatePem, loaded.CertificatePem);
        Assert.Equal(Ca.KeyPem, loaded.KeyPem);
        Assert.Equal(Ca.Sha256Hex, loaded.Sha256Hex);
        Assert.True(loaded.CanSign);
        Assert.Equal(JoinToken.DigestOf(Ca.CertificatePemBytes), JoinToken.DigestOf(loaded.CertificatePemBytes));

        // A certificate signed by the loaded copy verifies with the original.
        var leaf = Cert(IssueNode(loaded, NodeCertificates.WorkerRole, TimeSpan.FromDays(90)));
        Assert.True(Ca.Verifies(leaf));
    }

    [Fact]
    public void Load_WithoutKey_CannotSign()
    {
        var worker = RootCA.Load(Ca.CertificatePem, null);
        Assert.False(worker.CanSign);
        Assert.Null(worker.KeyPem);
        Assert.Equal(Ca.CertificatePem, worker.CertificatePem);
        var (_, csr) = NodeCertificates.NewKeyAndCsr();
        Assert.Throws<InvalidOperationException>(() =>
            worker.SignNodeCertificate(csr, "n", NodeCertificates.WorkerRole, "c", TimeSpan.FromDays(1)));
        Assert.True(worker.Verifies(Cert(IssueNode(Ca, NodeCertificates.ManagerRole, TimeSpan.FromDays(1)))));
    }

    [Fact]
    public void Load_RejectsMismatchedKeyAndGarbage()
    {
        Assert.Throws<ArgumentException>(() => RootCA.Load(Ca.CertificatePem, OtherCa.KeyPem));
        Assert.Throws<FormatException>(() => RootCA.Load("not a pem", null));
        Assert.Throws<FormatException>(() => RootCA.Load(Ca.CertificatePem, "not a key"));
    }

    [Fact]
    public void Load_AcceptsSec1EcKey()
    {
        using var key = ECDsa.Create();
        key.ImportFromPem(Ca.KeyPem);
        var sec1 = key.ExportECPrivateKeyPem();
        Assert.Contains("EC PRIVATE KEY", sec1);
        var loaded = RootCA.Load(Ca.CertificatePem, sec1);
        Assert.True(loaded.CanSign);
        Assert.Equal(Ca.KeyPem, loaded.KeyPem);
    }

    [Theory]
    [InlineData(NodeCertificates.ManagerRole, new[] { "swarm-manager", "nodeid0000000000000000001", "swarm-ca" })]
    [InlineData(NodeCertificates.WorkerRole, new[] { "swarm-worker", "nodeid0000000000000000001" })]
    public void NodeCertificate_HasSwarmkitProfile(string role, string[] expectedSans)
    {
        var now = DateTimeOffset.UtcNow;
        var pem = IssueNode(Ca, role, TimeSpan.FromDays(30), now, "nodeid0000000000000000001", "clusterid0000000000000001");
        Assert.StartsWith("-----BEGIN CERTIFICATE-----\n", pem);
        Assert.EndsWith("-----END CERTIFICATE-----\n", pem);
        var c = Cert(pem);

        // Subject in DER order O, OU, CN (as cfssl/Go write it).
        var rdns = c.SubjectName.EnumerateRelativeDistinguishedNames(reversed: false)
            .Select(r => (r.GetSingleElementType().Value, r.GetSingleElementValue())).ToList();
        Assert.Equal(
            [("2.5.4.10", "clusterid0000000000000001"), ("2.5.4.11", role), ("2.5.4.3", "nodeid0000000000000000001")],
            rdns);
        Assert.Equal("CN=swarm-ca", c.Issuer);
        Assert.Equal(EcdsaWithSha256, c.SignatureAlgorithm.Value);

        var san = Ext<X509SubjectAlternativeNameExtension>(c);
        Assert.Equal(expectedSans, san.EnumerateDnsNames().ToArray());
        Assert.Empty(san.EnumerateIPAddresses());

        var ku = Ext<X509KeyUsageExtension>(c);
        Assert.True(ku.Critical);
        Assert.Equal(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, ku.KeyUsages);

        var eku = Ext<X509EnhancedKeyUsageExtension>(c);
        Assert.Equal(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"],
            eku.EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value!).ToArray());

        var bc = Ext<X509BasicConstraintsExtension>(c);
        Assert.True(bc.Critical);
        Assert.False(bc.CertificateAuthority);

        var aki = Ext<X509AuthorityKeyIdentifierExtension>(c);
        Assert.Equal(Ext<X509SubjectKeyIdentifierExtension>(Ca.Certificate).SubjectKeyIdentifierBytes.ToArray(),
            aki.KeyIdentifier!.Value.ToArray());
        Assert.Single(c.Extensions.OfType<X509SubjectKeyIdentifierExtension>());

        var second = new DateTime(now.UtcDateTime.Ticks - now.UtcDateTime.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        Assert.Equal(second.AddHours(-1), c.NotBefore.ToUniversalTime());
        Assert.Equal(second.AddDays(30), c.NotAfter.ToUniversalTime());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(59)]
    public void NodeCertificate_ExpiryBelowOneHour_FallsBackTo90Days(int minutes)
    {
        var now = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var c = Cert(IssueNode(Ca, NodeCertificates.WorkerRole, TimeSpan.FromMinutes(minutes), now));
        Assert.Equal(now.UtcDateTime.AddHours(-1), c.NotBefore.ToUniversalTime());
        Assert.Equal(now.UtcDateTime.AddDays(90), c.NotAfter.ToUniversalTime());
    }

    [Fact]
    public void NodeCertificate_OneHourIsAccepted()
    {
        var now = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var c = Cert(IssueNode(Ca, NodeCertificates.WorkerRole, TimeSpan.FromHours(1), now));
        Assert.Equal(now.UtcDateTime.AddHours(1), c.NotAfter.ToUniversalTime());
    }

    [Fact]
    public void NodeCertificate_IgnoresMaliciousCsrSubjectAndExtensions()
    {
        // A CSR made independently with .NET, asking for another identity, a CA flag and extra SANs.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=evil, OU=swarm-manager, O=evil", key, HashAlgorithmName.SHA256);
        var sanBuilder = new SubjectAlternativeNameBuilder();
        sanBuilder.AddDnsName("evil.example");
        sanBuilder.AddDnsName("swarm-ca");
        req.CertificateExtensions.Add(sanBuilder.Build());
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        var csr = req.CreateSigningRequest();

        var c = Cert(Ca.SignNodeCertificate(csr, "goodnode", NodeCertificates.WorkerRole, "goodcluster", TimeSpan.FromDays(1)));
        Assert.Equal(("goodnode", "swarm-worker", "goodcluster"), NodeCertificates.ReadIdentity(c));
        Assert.DoesNotContain("evil", c.Subject);
        Assert.Equal(["swarm-worker", "goodnode"], Ext<X509SubjectAlternativeNameExtension>(c).EnumerateDnsNames().ToArray());
        Assert.False(Ext<X509BasicConstraintsExtension>(c).CertificateAuthority);
        // The public key is the CSR's.
        using var pub = c.GetECDsaPublicKey();
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), pub!.ExportSubjectPublicKeyInfo());
        Assert.True(Ca.Verifies(c));
    }

    [Fact]
    public void NodeCertificate_RejectsTamperedOrGarbageCsr()
    {
        var (_, csr) = NodeCertificates.NewKeyAndCsr();

        // Swap the public key for another one: the signature no longer matches.
        var (_, otherCsr) = NodeCertificates.NewKeyAndCsr();
        var tampered = SwapPublicKey(csr, otherCsr);
        Assert.Throws<ArgumentException>(() =>
            Ca.SignNodeCertificate(tampered, "n", NodeCertificates.WorkerRole, "c", TimeSpan.FromDays(1)));

        // Flip a bit in the subject CN ("swarm-node").
        var flipped = (byte[])csr.Clone();
        int at = IndexOf(flipped, "swarm-node"u8.ToArray());
        Assert.True(at > 0);
        flipped[at] ^= 0x01;
        Assert.Throws<ArgumentException>(() =>
            Ca.SignNodeCertificate(flipped, "n", NodeCertificates.WorkerRole, "c", TimeSpan.FromDays(1)));

        Assert.Throws<ArgumentException>(() =>
            Ca.SignNodeCertificate([1, 2, 3], "n", NodeCertificates.WorkerRole, "c", TimeSpan.FromDays(1)));
        Assert.Throws<ArgumentException>(() =>
            Ca.SignNodeCertificate(csr, "n", "swarm-admin", "c", TimeSpan.FromDays(1)));
        Assert.Throws<ArgumentException>(() =>
            Ca.SignNodeCertificate(csr, "", NodeCertificates.WorkerRole, "c", TimeSpan.FromDays(1)));

        // The untampered CSR still signs.
        Assert.NotNull(Ca.SignNodeCertificate(csr, "n", NodeCertificates.WorkerRole, "c", TimeSpan.FromDays(1)));
    }

    [Fact]
    public void Leaf_VerifiesOnlyAgainstItsRoot()
    {
        var leaf = Cert(IssueNode(Ca, NodeCertificates.ManagerRole, TimeSpan.FromDays(90)));
        Assert.True(Ca.Verifies(leaf));
        Assert.False(OtherCa.Verifies(leaf));
        Assert.False(Ca.Verifies(OtherCa.Certificate));

        // Independent check with .NET's chain builder.
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Ca.Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(leaf), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));

        using var otherChain = new X509Chain();
        otherChain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        otherChain.ChainPolicy.CustomTrustStore.Add(OtherCa.Certificate);
        otherChain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.False(otherChain.Build(leaf));
    }

    [Fact]
    public void Leaf_ThatExpiredOrIsNotYetValid_DoesNotVerify()
    {
        var expired = Cert(IssueNode(Ca, NodeCertificates.WorkerRole, TimeSpan.FromDays(1), DateTimeOffset.UtcNow.AddDays(-3)));
        Assert.False(Ca.Verifies(expired));
        var future = Cert(IssueNode(Ca, NodeCertificates.WorkerRole, TimeSpan.FromDays(1), DateTimeOffset.UtcNow.AddHours(3)));
        Assert.False(Ca.Verifies(future));
    }

    [Fact]
    public void NewKeyAndCsr_IsP256Pkcs8AndAValidCsr()
    {
        var (keyPem, csrDer) = NodeCertificates.NewKeyAndCsr();
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----\n", keyPem);
        using var key = ECDsa.Create();
        key.ImportFromPem(keyPem);
        Assert.Equal(NistP256, key.ExportParameters(false).Curve.Oid.Value);

        var req = CertificateRequest.LoadSigningRequest(csrDer, HashAlgorithmName.SHA256); // verifies the signature
        using var csrKey = req.PublicKey.GetECDsaPublicKey();
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), csrKey!.ExportSubjectPublicKeyInfo());
        Assert.NotEqual(keyPem, NodeCertificates.NewKeyAndCsr().KeyPem);
    }

    [Fact]
    public void LoadWithKey_HasPrivateKeyAndReadIdentity()
    {
        var (keyPem, csr) = NodeCertificates.NewKeyAndCsr();
        var pem = Ca.SignNodeCertificate(csr, "abcnode", NodeCertificates.ManagerRole, "abccluster", TimeSpan.FromDays(90));
        using var cert = NodeCertificates.LoadWithKey(pem, keyPem);
        Assert.True(cert.HasPrivateKey);
        using var priv = cert.GetECDsaPrivateKey();
        Assert.NotNull(priv);
        Assert.Equal(("abcnode", "swarm-manager", "abccluster"), NodeCertificates.ReadIdentity(cert));

        var (otherKey, _) = NodeCertificates.NewKeyAndCsr();
        Assert.Throws<ArgumentException>(() => NodeCertificates.LoadWithKey(pem, otherKey));
        Assert.Throws<ArgumentException>(() => NodeCertificates.ReadIdentity(Ca.Certificate));
    }

    [Fact]
    public async Task NodeCertificates_WorkForMutualTls()
    {
        X509Certificate2 Issue(string role, string id, out string keyPem)
        {
            var (k, csr) = NodeCertificates.NewKeyAndCsr();
            keyPem = k;
            return NodeCertificates.LoadWithKey(Ca.SignNodeCertificate(csr, id, role, "tlscluster", TimeSpan.FromDays(1)), k);
        }
        using var serverCert = Issue(NodeCertificates.ManagerRole, "servernode", out _);
        using var clientCert = Issue(NodeCertificates.WorkerRole, "clientnode", out _);

        bool Validate(X509Certificate? presented)
        {
            if (presented is null) return false;
            using var c = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
            return Ca.Verifies(c);
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var serverTask = Task.Run(async () =>
        {
            using var tcp = await listener.AcceptTcpClientAsync(cts.Token);
            await using var ssl = new SslStream(tcp.GetStream(), false);
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = serverCert,
                ClientCertificateRequired = true,
                RemoteCertificateValidationCallback = (_, c, _, _) => Validate(c),
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            }, cts.Token);
            using var remote = X509CertificateLoader.LoadCertificate(ssl.RemoteCertificate!.GetRawCertData());
            var id = NodeCertificates.ReadIdentity(remote);
            ssl.WriteByte(42);
            await ssl.FlushAsync(cts.Token);
            return id;
        });

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
        await using var clientSsl = new SslStream(client.GetStream(), false);
        await clientSsl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "swarm-ca",
            ClientCertificates = [clientCert],
            RemoteCertificateValidationCallback = (_, c, _, errors) =>
                Validate(c) && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        }, cts.Token);
        Assert.Equal(42, clientSsl.ReadByte());
        Assert.Equal(("clientnode", "swarm-worker", "tlscluster"), await serverTask);
    }

    [Fact]
    public void Signing_IsSafeInParallel()
    {
        var pems = new string[32];
        Parallel.For(0, pems.Length, i => pems[i] = IssueNode(Ca, NodeCertificates.WorkerRole, TimeSpan.FromDays(1), nodeId: $"node{i}"));
        var certs = pems.Select(Cert).ToList();
        Assert.All(certs, c => Assert.True(Ca.Verifies(c)));
        Assert.Equal(pems.Length, certs.Select(c => c.SerialNumber).Distinct().Count());
        Assert.Equal(Enumerable.Range(0, pems.Length).Select(i => $"node{i}"), certs.Select(c => NodeCertificates.ReadIdentity(c).NodeId));
    }

    // ---- CSR key policy ----

    private static byte[] NetCsr(AsymmetricAlgorithm key, HashAlgorithmName hash) => key switch
    {
        RSA rsa => new CertificateRequest("CN=swarm-node", rsa, hash, RSASignaturePadding.Pkcs1).CreateSigningRequest(),
        ECDsa ec => new CertificateRequest("CN=swarm-node", ec, hash).CreateSigningRequest(),
        _ => throw new ArgumentException("unsupported key", nameof(key)),
    };

    /// <summary>A PKCS#10 request for any SubjectPublicKeyInfo, signed (ECDSA with SHA-256) by an unrelated P-256 key.</summary>
    internal static byte[] CsrWithKey(byte[] subjectPublicKeyInfo)
    {
        using var signer = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var info = new AsnWriter(AsnEncodingRules.DER);
        using (info.PushSequence())
        {
            info.WriteInteger(0);
            info.WriteEncodedValue(new X500DistinguishedName("CN=swarm-node").RawData);
            info.WriteEncodedValue(subjectPublicKeyInfo);
            info.WriteEncodedValue((byte[])[0xA0, 0x00]);
        }
        var tbs = info.Encode();
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            w.WriteEncodedValue(tbs);
            using (w.PushSequence()) w.WriteObjectIdentifier("1.2.840.10045.4.3.2");
            w.WriteBitString(signer.SignData(tbs, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
        }
        return w.Encode();
    }

    /// <summary>An RSA SubjectPublicKeyInfo with this modulus and exponent (big-endian, unsigned).</summary>
    internal static byte[] RsaSpki(byte[] modulus, byte[] exponent)
    {
        var key = new AsnWriter(AsnEncodingRules.DER);
        using (key.PushSequence())
        {
            key.WriteIntegerUnsigned(modulus);
            key.WriteIntegerUnsigned(exponent);
        }
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            using (w.PushSequence())
            {
                w.WriteObjectIdentifier("1.2.840.113549.1.1.1");
                w.WriteNull();
            }
            w.WriteBitString(key.Encode());
        }
        return w.Encode();
    }

    private static string Sign(byte[] csr) => Ca.SignNodeCertificate(csr, "nodeid0000000000000000001", NodeCertificates.WorkerRole, "clusterid0000000000000001", TimeSpan.FromDays(1));

    private static void RefusedCsr(byte[] csr, string why)
    {
        var e = Assert.Throws<ArgumentException>(() => Sign(csr));
        Assert.StartsWith("invalid certificate signing request: ", e.Message);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void Csr_EcdsaP256AndP384AreAccepted()
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var c = Cert(Sign(NetCsr(p384, HashAlgorithmName.SHA384)));
        using (var key = c.GetECDsaPublicKey())
            Assert.Equal(384, key!.KeySize);
        Assert.True(Ca.Verifies(c));

        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using (var key = Cert(Sign(NetCsr(p256, HashAlgorithmName.SHA256))).GetECDsaPublicKey())
            Assert.Equal(256, key!.KeySize);
    }

    [Fact]
    public void Csr_Rsa2048IsAccepted()
    {
        using var rsa = RSA.Create(2048);
        var c = Cert(Sign(NetCsr(rsa, HashAlgorithmName.SHA256)));
        using var key = c.GetRSAPublicKey();
        Assert.Equal(2048, key!.KeySize);
        Assert.Equal(rsa.ExportSubjectPublicKeyInfo(), key.ExportSubjectPublicKeyInfo());
        Assert.True(Ca.Verifies(c));
    }

    [Fact]
    public void Csr_Rsa1024IsRefused()
    {
        using var rsa = RSA.Create(1024);
        RefusedCsr(NetCsr(rsa, HashAlgorithmName.SHA256), "RSA key of 1024 bits; use 2048 to 4096 bits");
    }

    [Theory]
    [InlineData(4097)]
    [InlineData(8192)]
    [InlineData(60000)] // the largest that fits in 8 KiB: refused at once, from the encoded size
    public void Csr_RsaAbove4096BitsIsRefusedBeforeTheKeyIsBuilt(int bits)
    {
        // An odd modulus of that size in a CSR signed with an unrelated key: the encoded size is what is refused.
        var modulus = new byte[(bits + 7) / 8];
        modulus[0] = (byte)(1 << ((bits - 1) % 8));
        modulus[^1] |= 1;
        var csr = CsrWithKey(RsaSpki(modulus, [0x01, 0x00, 0x01]));
        Assert.True(csr.Length <= RootCA.MaxCsrLength);
        RefusedCsr(csr, $"RSA key of {bits} bits");
    }

    [Fact]
    public void Csr_RsaWithAnEvenExponentIsRefused()
    {
        using var rsa = RSA.Create(2048);
        var modulus = rsa.ExportParameters(false).Modulus!;
        RefusedCsr(CsrWithKey(RsaSpki(modulus, [0x01, 0x00, 0x00])), "exponent");
        RefusedCsr(CsrWithKey(RsaSpki(modulus, [0x01])), "RSA public exponent must be odd and at least 3");
    }

    [Theory]
    [InlineData("secP256k1")]
    [InlineData("nistP521")]
    public void Csr_OtherCurvesAreRefused(string curve)
    {
        using var key = ECDsa.Create(ECCurve.CreateFromFriendlyName(curve));
        RefusedCsr(NetCsr(key, HashAlgorithmName.SHA256), "unsupported elliptic curve; use ECDSA P-256 or P-384");
    }

    [Fact]
    public void Csr_Ed25519IsRefused()
    {
        // SubjectPublicKeyInfo { AlgorithmIdentifier { 1.3.101.112 }, BIT STRING (32 bytes) }
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            using (w.PushSequence()) w.WriteObjectIdentifier("1.3.101.112");
            w.WriteBitString(RandomNumberGenerator.GetBytes(32));
        }
        RefusedCsr(CsrWithKey(w.Encode()), "unsupported key type Ed25519");
    }

    [Fact]
    public void Csr_LargerThan8KiBIsRefused()
    {
        // A valid, correctly signed CSR that is simply too big (thousands of SANs).
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=big", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        for (int i = 0; i < 400; i++) san.AddDnsName($"name{i}.example.com");
        req.CertificateExtensions.Add(san.Build());
        var csr = req.CreateSigningRequest();
        Assert.True(csr.Length > RootCA.MaxCsrLength);
        RefusedCsr(csr, $"{csr.Length} bytes, more than 8192");

        // The same request with a few names is fine.
        var small = new CertificateRequest("CN=small", key, HashAlgorithmName.SHA256);
        Assert.NotNull(Sign(small.CreateSigningRequest()));
    }

    private static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);

    /// <summary>Replaces the SubjectPublicKeyInfo inside CSR <paramref name="csr"/> with the one of <paramref name="donor"/>, keeping the signature.</summary>
    private static byte[] SwapPublicKey(byte[] csr, byte[] donor)
    {
        // CertificationRequest ::= SEQUENCE { info SEQUENCE { version, subject, spki, [0] attrs }, alg, sig }
        static byte[][] Parts(byte[] der)
        {
            var outer = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
            var info = outer.ReadSequence();
            return
            [
                info.ReadEncodedValue().ToArray(), info.ReadEncodedValue().ToArray(),
                info.ReadEncodedValue().ToArray(), info.ReadEncodedValue().ToArray(),
                outer.ReadEncodedValue().ToArray(), outer.ReadEncodedValue().ToArray(),
            ];
        }
        var p = Parts(csr);
        var donorSpki = Parts(donor)[2];
        Assert.NotEqual(p[2], donorSpki);

        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            using (w.PushSequence())
            {
                w.WriteEncodedValue(p[0]);
                w.WriteEncodedValue(p[1]);
                w.WriteEncodedValue(donorSpki);
                w.WriteEncodedValue(p[3]);
            }
            w.WriteEncodedValue(p[4]);
            w.WriteEncodedValue(p[5]);
        }
        return w.Encode();
    }
}
