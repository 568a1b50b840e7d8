using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PSSwarm.Core.Security;

namespace PSSwarm.Core.Tests;

/// <summary>
/// The CA moved from BouncyCastle to .NET's own crypto: keys, CAs, CSRs and certificates made by the
/// BouncyCastle code (fixtures below, generated with it before the move) still load, and the new
/// code issues the same certificates and refuses the same CSRs, with the same messages.
/// </summary>
public class LegacyCryptoCompatibilityTests
{
    private static readonly DateTimeOffset FixtureTime = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private const string NodeId1 = "nodeid0000000000000000001";
    private const string NodeId2 = "nodeid0000000000000000002";
    private const string ClusterId = "clusterid0000000000000001";

    private static byte[] Der(string pem) => Pem.Decode(pem, "CERTIFICATE");

    /// <summary>TBSCertificate fields: version, serial, signature, issuer, validity, subject, SPKI, [3] extensions.</summary>
    private static List<byte[]> TbsFields(byte[] certDer)
    {
        var cert = new AsnReader(certDer, AsnEncodingRules.DER).ReadSequence();
        var tbs = cert.ReadSequence();
        var fields = new List<byte[]>();
        while (tbs.HasData) fields.Add(tbs.ReadEncodedValue().ToArray());
        Assert.Equal(8, fields.Count);
        return fields;
    }

    /// <summary>Each extension's encoding (id, critical, value) in order.</summary>
    private static List<byte[]> Extensions(byte[] extensionsField)
    {
        var seq = new AsnReader(extensionsField, AsnEncodingRules.DER)
            .ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 3)).ReadSequence();
        var list = new List<byte[]>();
        while (seq.HasData) list.Add(seq.ReadEncodedValue().ToArray());
        return list;
    }

    private static string ExtensionId(byte[] extension) =>
        new AsnReader(extension, AsnEncodingRules.DER).ReadSequence().ReadObjectIdentifier();

    [Fact]
    public void LegacyCa_LoadsWithTheSamePemKeyAndHash()
    {
        var ca = RootCA.Load(LegacyCryptoFixtures.CaCertPem + "\n", LegacyCryptoFixtures.CaKeyPem + "\n");
        Assert.True(ca.CanSign);
        Assert.Equal(LegacyCryptoFixtures.CaCertPem + "\n", ca.CertificatePem);
        // The key is written back byte for byte as the BouncyCastle code wrote it.
        Assert.Equal(LegacyCryptoFixtures.CaKeyPem + "\n", ca.KeyPem);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(LegacyCryptoFixtures.CaCertPem + "\n"))), ca.Sha256Hex);
        Assert.True(ca.Verifies(ca.Certificate, FixtureTime));

        // A SEC1 copy of the key loads too, and is written back as the same PKCS#8.
        using var ec = ECDsa.Create();
        ec.ImportFromPem(LegacyCryptoFixtures.CaKeyPem);
        Assert.Equal(LegacyCryptoFixtures.CaKeyPem + "\n", RootCA.Load(ca.CertificatePem, ec.ExportECPrivateKeyPem()).KeyPem);
        // .NET's own (shorter) PKCS#8 of the same key loads as well.
        Assert.Equal(LegacyCryptoFixtures.CaKeyPem + "\n", RootCA.Load(ca.CertificatePem, ec.ExportPkcs8PrivateKeyPem()).KeyPem);
    }

    [Fact]
    public void LegacyNodeKey_IsWrittenTheSameWayAndLoadsWithItsCertificate()
    {
        using var ec = ECDsa.Create();
        ec.ImportFromPem(LegacyCryptoFixtures.NodeKeyPem);
        Assert.Equal(LegacyCryptoFixtures.NodeKeyPem + "\n", CryptoSupport.ToPkcs8Pem(ec));

        using var cert = NodeCertificates.LoadWithKey(LegacyCryptoFixtures.ManagerLeafPem, LegacyCryptoFixtures.NodeKeyPem);
        Assert.True(cert.HasPrivateKey);
        Assert.Equal((NodeId1, NodeCertificates.ManagerRole, ClusterId), NodeCertificates.ReadIdentity(cert));

        // New keys have the same layout: PKCS#8 around a SEC1 key with its curve and public key.
        var (keyPem, _) = NodeCertificates.NewKeyAndCsr();
        Assert.Equal(Pem.Decode(LegacyCryptoFixtures.NodeKeyPem, "PRIVATE KEY").Length, Pem.Decode(keyPem, "PRIVATE KEY").Length);
        Assert.Equal(Pem.Decode(LegacyCryptoFixtures.NodeKeyPem, "PRIVATE KEY")[..36], Pem.Decode(keyPem, "PRIVATE KEY")[..36]); // up to the private key itself
    }

    [Fact]
    public void LegacyLeaves_VerifyWithTheLoadedRoot()
    {
        var ca = RootCA.Load(LegacyCryptoFixtures.CaCertPem, null);
        using var manager = X509Certificate2.CreateFromPem(LegacyCryptoFixtures.ManagerLeafPem);
        using var worker = X509Certificate2.CreateFromPem(LegacyCryptoFixtures.WorkerLeafPem);
        Assert.True(ca.Verifies(manager, FixtureTime));
        Assert.True(ca.Verifies(worker, FixtureTime.AddDays(89)));
        Assert.False(ca.Verifies(manager, FixtureTime.AddDays(31)));
        Assert.True(ca.Verifies(manager, now: null));
        Assert.False(RootCA.Create().Verifies(manager, now: null));
    }

    [Theory]
    [InlineData(NodeCertificates.ManagerRole, NodeId1, 30 * 24 * 60)]
    [InlineData(NodeCertificates.WorkerRole, NodeId2, 5)] // below an hour: 90 days
    public void NodeCertificate_IsTheLegacyOneButForTheSerialAndSignature(string role, string nodeId, int expiryMinutes)
    {
        var ca = RootCA.Load(LegacyCryptoFixtures.CaCertPem, LegacyCryptoFixtures.CaKeyPem);
        var pem = ca.SignNodeCertificate(Convert.FromBase64String(LegacyCryptoFixtures.NodeCsr), nodeId, role, ClusterId,
            TimeSpan.FromMinutes(expiryMinutes), FixtureTime);
        var legacy = TbsFields(Der(role == NodeCertificates.ManagerRole ? LegacyCryptoFixtures.ManagerLeafPem : LegacyCryptoFixtures.WorkerLeafPem));
        var fresh = TbsFields(Der(pem));
        for (int i = 0; i < legacy.Count; i++)
        {
            if (i == 1) continue; // serial: random
            Assert.True(legacy[i].AsSpan().SequenceEqual(fresh[i]), $"TBSCertificate field {i} differs: {Convert.ToHexString(legacy[i])} vs {Convert.ToHexString(fresh[i])}");
        }
        var serial = new AsnReader(fresh[1], AsnEncodingRules.DER).ReadIntegerBytes().Span;
        Assert.InRange(serial.Length, 1, 20);
        Assert.True(serial[0] < 0x80);
        Assert.True(serial.Length == 1 || serial[0] != 0, "minimal DER integer");

        // The certificate's signature algorithm (outer) is ECDSA with SHA-256, as before.
        var outer = new AsnReader(Der(pem), AsnEncodingRules.DER).ReadSequence();
        outer.ReadEncodedValue();
        Assert.Equal(legacy[2], outer.ReadEncodedValue().ToArray());
    }

    [Fact]
    public void RootCertificate_HasTheLegacyLayout()
    {
        var legacy = TbsFields(Der(LegacyCryptoFixtures.CaCertPem));
        var fresh = TbsFields(RootCA.Create(FixtureTime).Certificate.RawData);
        Assert.Equal(legacy[0], fresh[0]); // version
        Assert.Equal(legacy[2], fresh[2]); // signature algorithm
        Assert.Equal(legacy[3], fresh[3]); // issuer
        Assert.Equal(legacy[4], fresh[4]); // validity
        Assert.Equal(legacy[5], fresh[5]); // subject
        // SubjectPublicKeyInfo: same algorithm and curve, another key.
        static byte[] SpkiAlgorithm(byte[] spki) => new AsnReader(spki, AsnEncodingRules.DER).ReadSequence().ReadEncodedValue().ToArray();
        Assert.Equal(SpkiAlgorithm(legacy[6]), SpkiAlgorithm(fresh[6]));
        Assert.Equal(legacy[6].Length, fresh[6].Length);
        // Extensions: same ones in the same order, same encodings but for the key identifier.
        var legacyExtensions = Extensions(legacy[7]);
        var freshExtensions = Extensions(fresh[7]);
        Assert.Equal(legacyExtensions.Select(ExtensionId), freshExtensions.Select(ExtensionId));
        Assert.Equal(["2.5.29.15", "2.5.29.19", "2.5.29.14"], freshExtensions.Select(ExtensionId));
        Assert.Equal(legacyExtensions[0], freshExtensions[0]);
        Assert.Equal(legacyExtensions[1], freshExtensions[1]);
        Assert.Equal(legacyExtensions[2].Length, freshExtensions[2].Length);
    }

    [Fact]
    public void NewCsr_HasTheLegacyLayout()
    {
        static List<byte[]> Fields(byte[] csr)
        {
            var request = new AsnReader(csr, AsnEncodingRules.DER).ReadSequence();
            var info = request.ReadSequence();
            var fields = new List<byte[]>();
            while (info.HasData) fields.Add(info.ReadEncodedValue().ToArray());
            fields.Add(request.ReadEncodedValue().ToArray()); // signature algorithm
            return fields;
        }
        var legacy = Fields(Convert.FromBase64String(LegacyCryptoFixtures.NodeCsr));
        var fresh = Fields(NodeCertificates.NewKeyAndCsr().CsrDer);
        Assert.Equal(5, fresh.Count);
        Assert.Equal(legacy[0], fresh[0]); // version
        Assert.Equal(legacy[1], fresh[1]); // subject CN=swarm-node
        Assert.Equal(legacy[2].Length, fresh[2].Length); // P-256 key
        Assert.Equal(legacy[3], fresh[3]); // empty attributes
        Assert.Equal(legacy[4], fresh[4]); // ECDSA with SHA-256
    }

    /// <summary>
    /// CSRs whose outcome changed on purpose: signature algorithms .NET does not verify (as Go's
    /// crypto/x509 does not: MD5, SHA-224, SHA-3), a CSR with data after it (now with the usual
    /// message prefix), and an RSA key under an ECDSA signature (now "bad signature").
    /// </summary>
    private static readonly Dictionary<string, string?> Changed = new()
    {
        ["P256_SHA224"] = "invalid certificate signing request: unsupported signature algorithm ECDSA-SHA224",
        ["P256_SHA3_256"] = "invalid certificate signing request: unsupported signature algorithm 2.16.840.1.101.3.4.3.10",
        ["Rsa2048_MD5"] = "invalid certificate signing request: unsupported signature algorithm MD5-RSA",
        ["Rsa2048_SHA224"] = "invalid certificate signing request: unsupported signature algorithm SHA224-RSA",
        ["TrailingByte"] = "invalid certificate signing request: ",
        ["RsaSpkiSignedByOtherKey"] = "invalid certificate signing request: bad signature",
    };

    public static TheoryData<string> LegacyCsrNames() => new(LegacyCryptoFixtures.Csrs.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(LegacyCsrNames))]
    public void LegacyCsr_HasTheSameOutcome(string name)
    {
        var (_, csr, oldError) = LegacyCryptoFixtures.Csrs.Single(c => c.Name == name);
        var ca = RootCA.Load(LegacyCryptoFixtures.CaCertPem, LegacyCryptoFixtures.CaKeyPem);
        string? error;
        try
        {
            var pem = ca.SignNodeCertificate(Convert.FromBase64String(csr), NodeId1, NodeCertificates.WorkerRole, ClusterId, TimeSpan.FromDays(1));
            Assert.True(ca.Verifies(X509Certificate2.CreateFromPem(pem)));
            error = null;
        }
        catch (ArgumentException e)
        {
            Assert.Equal("csrDer", e.ParamName);
            error = "ArgumentException: " + e.Message;
        }
        if (Changed.TryGetValue(name, out var expected))
        {
            Assert.NotNull(error);
            Assert.StartsWith("ArgumentException: " + expected, error);
        }
        else
        {
            Assert.Equal(oldError, error);
        }
    }

    [Fact]
    public void LegacyCsr_Rsa8192IsRefusedQuickly()
    {
        var ca = RootCA.Load(LegacyCryptoFixtures.CaCertPem, LegacyCryptoFixtures.CaKeyPem);
        var csr = Convert.FromBase64String(LegacyCryptoFixtures.Csrs.Single(c => c.Name == "Rsa8192_SHA256").Csr);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 20; i++)
            Assert.Throws<ArgumentException>(() => ca.SignNodeCertificate(csr, NodeId1, NodeCertificates.WorkerRole, ClusterId, TimeSpan.FromDays(1)));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"20 refusals took {sw.Elapsed}");
    }

    [Fact]
    public void Load_KeyOfAnotherTypeDoesNotMatch_AsBefore()
    {
        // A well-formed Ed25519 PKCS#8 key: read, and refused as not the certificate's (ArgumentException).
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            w.WriteInteger(0);
            using (w.PushSequence()) w.WriteObjectIdentifier("1.3.101.112");
            var inner = new AsnWriter(AsnEncodingRules.DER);
            inner.WriteOctetString(RandomNumberGenerator.GetBytes(32));
            w.WriteOctetString(inner.Encode());
        }
        var ed25519 = Pem.Encode("PRIVATE KEY", w.Encode());
        Assert.Throws<ArgumentException>(() => RootCA.Load(LegacyCryptoFixtures.CaCertPem, ed25519));

        // An RSA key: read, and refused as not the certificate's.
        using var rsa = RSA.Create(2048);
        Assert.Throws<ArgumentException>(() => RootCA.Load(LegacyCryptoFixtures.CaCertPem, rsa.ExportPkcs8PrivateKeyPem()));

        // Garbage inside a PRIVATE KEY block: unreadable.
        Assert.Throws<FormatException>(() => RootCA.Load(LegacyCryptoFixtures.CaCertPem, Pem.Encode("PRIVATE KEY", [0x30, 0x03, 0x02, 0x01, 0x00])));
        Assert.Throws<FormatException>(() => RootCA.Load(LegacyCryptoFixtures.CaCertPem, Pem.Encode("PRIVATE KEY", RandomNumberGenerator.GetBytes(100))));
    }

    [Fact]
    public void Load_KeyWhosePublicHalfIsNotItsOwn_IsRefused()
    {
        // The CA's private scalar with another key's public point: OpenSSL refuses it on import
        // (FormatException); the BouncyCastle code ignored the embedded point and found the key did
        // not match (ArgumentException). Either way the CA does not load.
        using var ca = ECDsa.Create();
        ca.ImportFromPem(LegacyCryptoFixtures.CaKeyPem);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var sec1 = new AsnReader(ca.ExportECPrivateKey(), AsnEncodingRules.DER).ReadSequence();
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            w.WriteInteger(sec1.ReadInteger());
            w.WriteOctetString(sec1.ReadOctetString());
            w.WriteEncodedValue(sec1.ReadEncodedValue().Span); // [0] curve
            using (w.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 1)))
                w.WriteBitString(other.ExportSubjectPublicKeyInfo().AsSpan()[^65..]);
        }
        var pem = Pem.Encode("EC PRIVATE KEY", w.Encode());
        var e = Assert.ThrowsAny<Exception>(() => RootCA.Load(LegacyCryptoFixtures.CaCertPem, pem));
        Assert.True(e is FormatException or ArgumentException, e.ToString());
    }

    [Fact]
    public void Verifies_ComparesIssuerNamesAsX500Names()
    {
        var ca = RootCA.Load(LegacyCryptoFixtures.CaCertPem, LegacyCryptoFixtures.CaKeyPem);
        using var caKey = ECDsa.Create();
        caKey.ImportFromPem(LegacyCryptoFixtures.CaKeyPem);
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        X509Certificate2 SignedByTheCa(X500DistinguishedName issuer) =>
            new CertificateRequest("CN=n, OU=swarm-worker, O=c", leafKey, HashAlgorithmName.SHA256)
                .Create(issuer, X509SignatureGenerator.CreateForECDsa(caKey), FixtureTime.AddHours(-1), FixtureTime.AddDays(1), [0x42]);

        // The same name written differently (PrintableString, other case) still names the root.
        var builder = new X500DistinguishedNameBuilder();
        builder.Add("2.5.4.3", "Swarm-CA", UniversalTagNumber.PrintableString);
        using var sameName = SignedByTheCa(builder.Build());
        Assert.False(sameName.IssuerName.RawData.AsSpan().SequenceEqual(ca.Certificate.SubjectName.RawData));
        Assert.True(ca.Verifies(sameName, FixtureTime));

        using var otherName = SignedByTheCa(new X500DistinguishedName("CN=swarm-ca2"));
        Assert.False(ca.Verifies(otherName, FixtureTime));
        using var exact = SignedByTheCa(ca.Certificate.SubjectName);
        Assert.True(ca.Verifies(exact, FixtureTime));
        Assert.True(ca.Verifies(exact, FixtureTime.AddDays(1)));
        Assert.False(ca.Verifies(exact, FixtureTime.AddDays(1).AddSeconds(1)));
        Assert.False(ca.Verifies(exact, FixtureTime.AddHours(-1).AddSeconds(-1)));
    }

    [Fact]
    public void Verifies_IsSafeInParallel()
    {
        var ca = RootCA.Load(LegacyCryptoFixtures.CaCertPem, null);
        using var manager = X509Certificate2.CreateFromPem(LegacyCryptoFixtures.ManagerLeafPem);
        var other = RootCA.Create();
        var results = new bool[256];
        Parallel.For(0, results.Length, i => results[i] = (i % 2 == 0 ? ca : other).Verifies(manager, FixtureTime) == (i % 2 == 0));
        Assert.All(results, Assert.True);
    }
}

/// <summary>Made with the BouncyCastle-based CA (BouncyCastle.Cryptography 2.7.0) before it was replaced; see LegacyCryptoCompatibilityTests.</summary>
internal static class LegacyCryptoFixtures
{
    internal const string CaCertPem = """
-----BEGIN CERTIFICATE-----
MIIBaTCCARCgAwIBAgIUTNPp6KKPZvi8sQgnz3R51YS/fZUwCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIc3dhcm0tY2EwHhcNMjYwMzAxMTEwMDAwWhcNNDYwMjI0MTEw
MDAwWjATMREwDwYDVQQDDAhzd2FybS1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABBFT28eCW+O3hNLb8Tkbp36sg5BMRmZn3aIT7Uc0p7Mp30xWvLgv6mvrY8dC
z4pnAzdno6ydlOUZnUWrs4QC5GmjQjBAMA4GA1UdDwEB/wQEAwIBBjAPBgNVHRMB
Af8EBTADAQH/MB0GA1UdDgQWBBSNjLJQOHTeS7m8AgsuM5I1usSKzzAKBggqhkjO
PQQDAgNHADBEAiApR3ALv08SkU1Tif5TNJ+P83zeEZzIdrlsMvnJNaH8rgIgfTip
OtlvC/UvRVjq/pykxow/Idnv+so/cfY8an2tiLg=
-----END CERTIFICATE-----
""";

    internal const string CaKeyPem = """
-----BEGIN PRIVATE KEY-----
MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg57VUfnN+ieqiMxYO
FUWc/k5bSBcixuAYx/RPzeg5CxGgCgYIKoZIzj0DAQehRANCAAQRU9vHglvjt4TS
2/E5G6d+rIOQTEZmZ92iE+1HNKezKd9MVry4L+pr62PHQs+KZwM3Z6OsnZTlGZ1F
q7OEAuRp
-----END PRIVATE KEY-----
""";

    internal const string NodeKeyPem = """
-----BEGIN PRIVATE KEY-----
MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQgDfHOD8Me6vKjL2G2
qf/SMqKGe1shClH3dMZRM27mCOSgCgYIKoZIzj0DAQehRANCAATycd52KQH6AXjj
NmgxHpJeAMFL5lvNzON75N0rCBKfBSX/gxuICCyVU1hNQPyOrsgAjZEKJCXw6frL
BNiQC/6k
-----END PRIVATE KEY-----
""";

    internal const string NodeCsr = "MIHPMHcCAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABPJx3nYpAfoBeOM2aDEekl4AwUvmW83M43vk3SsIEp8FJf+DG4gILJVTWE1A/I6uyACNkQokJfDp+ssE2JAL/qSgADAKBggqhkjOPQQDAgNIADBFAiEAoCWXC521KB/SQ3ngj7BTPQhqHQdXjos/Ha425/SBT3kCIB4YefYSzt5Wo1jIP7lgk+e4U6kYYng1wOzlNNFG5cux";

    internal const string ManagerLeafPem = """
-----BEGIN CERTIFICATE-----
MIICNjCCAdugAwIBAgIUeQj4Z0aK5NuNO7ScWBdw4c8hT3owCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIc3dhcm0tY2EwHhcNMjYwMzAxMTEwMDAwWhcNMjYwMzMxMTIw
MDAwWjBgMSIwIAYDVQQKDBljbHVzdGVyaWQwMDAwMDAwMDAwMDAwMDAxMRYwFAYD
VQQLDA1zd2FybS1tYW5hZ2VyMSIwIAYDVQQDDBlub2RlaWQwMDAwMDAwMDAwMDAw
MDAwMDAxMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nHedikB+gF44zZoMR6S
XgDBS+Zbzczje+TdKwgSnwUl/4MbiAgslVNYTUD8jq7IAI2RCiQl8On6ywTYkAv+
pKOBvzCBvDAOBgNVHQ8BAf8EBAMCBaAwHQYDVR0lBBYwFAYIKwYBBQUHAwEGCCsG
AQUFBwMCMAwGA1UdEwEB/wQCMAAwHQYDVR0OBBYEFEEEY9JBY39Xx+KzllIoPyiz
PX2sMB8GA1UdIwQYMBaAFI2MslA4dN5LubwCCy4zkjW6xIrPMD0GA1UdEQQ2MDSC
DXN3YXJtLW1hbmFnZXKCGW5vZGVpZDAwMDAwMDAwMDAwMDAwMDAwMDGCCHN3YXJt
LWNhMAoGCCqGSM49BAMCA0kAMEYCIQC6OcyoiMbmBQbHqMU13a+TFtH2A+xnaYbz
TnDxZxZ1sQIhAOe+nnz4Bcfrj6od+XO1fscpA+21bTP6fJxpil5i2+mg
-----END CERTIFICATE-----
""";

    internal const string WorkerLeafPem = """
-----BEGIN CERTIFICATE-----
MIICKTCCAc+gAwIBAgIUJ3lkqqOiWqZk2mEWW1oqJxH0IlcwCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIc3dhcm0tY2EwHhcNMjYwMzAxMTEwMDAwWhcNMjYwNTMwMTIw
MDAwWjBfMSIwIAYDVQQKDBljbHVzdGVyaWQwMDAwMDAwMDAwMDAwMDAxMRUwEwYD
VQQLDAxzd2FybS13b3JrZXIxIjAgBgNVBAMMGW5vZGVpZDAwMDAwMDAwMDAwMDAw
MDAwMDIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATycd52KQH6AXjjNmgxHpJe
AMFL5lvNzON75N0rCBKfBSX/gxuICCyVU1hNQPyOrsgAjZEKJCXw6frLBNiQC/6k
o4G0MIGxMA4GA1UdDwEB/wQEAwIFoDAdBgNVHSUEFjAUBggrBgEFBQcDAQYIKwYB
BQUHAwIwDAYDVR0TAQH/BAIwADAdBgNVHQ4EFgQUQQRj0kFjf1fH4rOWUig/KLM9
fawwHwYDVR0jBBgwFoAUjYyyUDh03ku5vAILLjOSNbrEis8wMgYDVR0RBCswKYIM
c3dhcm0td29ya2Vyghlub2RlaWQwMDAwMDAwMDAwMDAwMDAwMDAyMAoGCCqGSM49
BAMCA0gAMEUCIQClbtZGjuDOWYwRc2VhLSYHcArCCBNxnl+nG8F+lyqtAwIgd+8K
/B4ouEQu9u7L4pDbsx2iXJshHKBJjuPetLq7Vss=
-----END CERTIFICATE-----
""";

    internal static readonly (string Name, string Csr, string? OldError)[] Csrs =
    [
        ("P256_SHA256", "MIHOMHcCAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABITVDADkR0F8nhwt8KnRONKwaxqij5KwFC9lXLSWPyvim06fRB8kBHfE9xmf7dzeMvOOH9e2mUdVhQOdzOghasigADAKBggqhkjOPQQDAgNHADBEAiAB5xe6A7X1Gmf6bSuFawGYAmukOoZ/dupcvJz+YIi8fwIgNZQN/VMkwYbglo7qtZPGw+5kjqR1wErgwlreZhmijrE=", null),
        ("P256_SHA1", "MIHOMHcCAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABITVDADkR0F8nhwt8KnRONKwaxqij5KwFC9lXLSWPyvim06fRB8kBHfE9xmf7dzeMvOOH9e2mUdVhQOdzOghasigADAJBgcqhkjOPQQBA0gAMEUCIFWJfjtKv7NAJ/H82gqWaeWbeu8dRPkSxT6Bt4I5I6A+AiEA2dx+wk+P92KUVEBk9SU4XXGxh0UYoqZWPbhy7VgTOo4=", null),
        ("P256_SHA224", "MIHPMHcCAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABITVDADkR0F8nhwt8KnRONKwaxqij5KwFC9lXLSWPyvim06fRB8kBHfE9xmf7dzeMvOOH9e2mUdVhQOdzOghasigADAKBggqhkjOPQQDAQNIADBFAiAFrjfrLcvMjCZMSsoYKI4BsRlh3ITjrX3vEoNv+WQMrwIhAKtkeJiN0o8Mb7eLEMR2O+d+g6B5Xao1EuUgHH2YGa9b", null),
        ("P256_SHA384", "MIHQMHcCAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABITVDADkR0F8nhwt8KnRONKwaxqij5KwFC9lXLSWPyvim06fRB8kBHfE9xmf7dzeMvOOH9e2mUdVhQOdzOghasigADAKBggqhkjOPQQDAwNJADBGAiEA1G3aGAouWQEMe807qoYKAaZoAsZ/XUz4W4DvkKq+PUcCIQCdTMx85iQhgP9oiVTd2ckYS5rJhrc3Kwh5yfgdogn4xQ==", null),
        ("P256_SHA512", "MIHQMHcCAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABITVDADkR0F8nhwt8KnRONKwaxqij5KwFC9lXLSWPyvim06fRB8kBHfE9xmf7dzeMvOOH9e2mUdVhQOdzOghasigADAKBggqhkjOPQQDBANJADBGAiEAxZF06viYTPAQC+Ip/D/o2uAhF5cJgJ+hc2+DKlMQfr0CIQCCIPi3NmXfOnR2KMeyiJM3PoJwyZW8YaKbDKPbNYmFhQ==", null),
        ("P256_SHA3_256", "MIHRMHcCAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABITVDADkR0F8nhwt8KnRONKwaxqij5KwFC9lXLSWPyvim06fRB8kBHfE9xmf7dzeMvOOH9e2mUdVhQOdzOghasigADALBglghkgBZQMEAwoDSQAwRgIhAK2l4o6OqfbSrXH+E2BdHpXtUJeHd8nfnxl7TWOThFvzAiEA/7hUHi1thKJaxaeHifF+7242IfwmI4gcZabGy8/RvzY=", null),
        ("P384_SHA384", "MIIBDTCBlAIBADAVMRMwEQYDVQQDDApzd2FybS1ub2RlMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEYpKPu4hife2KUuyaUmR168SW2M13WuFUatOoBmQAfEXoHA5330UVcl7lZA1VR5WlYXx4v1wbHyqoVPzJaGkOQUgHdYobwOp/eoZXeBPwvBUXPe+hQB/AkDVYRcgU87KVoAAwCgYIKoZIzj0EAwMDaAAwZQIwYJxgUk30imaqbVOJje+tW2uus/tam024BfBWOt+RDcXgDZ9tIRLXfHlnp23Ls6BbAjEAgOI3KcNFQk6SHdkslaAx2NdndFL9jzBaywmXM6g3Gf8cC5aTgjHdNdbcB34GnYL8", null),
        ("P521_SHA512", "MIIBVzCBugIBADAVMRMwEQYDVQQDDApzd2FybS1ub2RlMIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQBHRdmfySLiNTnsmwNDwDGLeLdMRNelnCyNcRl3Cpe5gUr/NgAXqRfiyjiqU3+7VTUAW9TRjf2JE2J9GmN1Wf5TZ4B/45WO5Zfq7rgmNbIzhB6P38XVCjx/EiO4yg7E+ywhkUob2pXPpuUzFe4pjce9cnCAy8D45Arjm1kjQSaGdJaYTKgADAKBggqhkjOPQQDBAOBiwAwgYcCQgCIeiJy6MOMDEdAe3sK/SV4s4SS73sxXaPaJ2JEJb7yaohYx+uOO+a6RMOWPBXloT2198AJLQF5IzTcUsDeZ7MSUQJBJXFBKH07+bXg8+1INc5XfNb9N5xG2bZmkye6XtkJJCQW+e9hib/CPYOK3N30Qk3l52FdREf6GE12ZDRDug4UAtw=", "ArgumentException: invalid certificate signing request: unsupported elliptic curve; use ECDSA P-256 or P-384 (or RSA with 2048 to 4096 bits) (Parameter 'csrDer')"),
        ("Secp256k1_SHA256", "MIHMMHQCAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTBWMBAGByqGSM49AgEGBSuBBAAKA0IABB8zAzc6kzToeqOWc9znhgNQQia5pkoWd4FYS7t3ckuXaUc6WGE0J+k8h9XFC/W3q3nqcKBt+9PSXJAzdDUkOhygADAKBggqhkjOPQQDAgNIADBFAiBaTKiA/R45/Ph25+7cuzgybDkv4ohbnFOT1kZv3k7D3gIhAOJVs0ecN+Nx0d0OdcIUydDq5CQE6HUrZtd6ITURIsvf", "ArgumentException: invalid certificate signing request: unsupported elliptic curve; use ECDSA P-256 or P-384 (or RSA with 2048 to 4096 bits) (Parameter 'csrDer')"),
        ("P256Explicit_SHA256", "MIIBxjCCAWsCAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCAUswggEDBgcqhkjOPQIBMIH3AgEBMCwGByqGSM49AQECIQD/////AAAAAQAAAAAAAAAAAAAAAP///////////////zBbBCD/////AAAAAQAAAAAAAAAAAAAAAP///////////////AQgWsY12Ko6k+ez671VdpiGvGUdBrDMU7D2O848PifSYEsDFQDEnTYIhucEk2pmeOETnSa3gZ9+kARBBGsX0fLhLEJH+Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT+NC4v4af5uO5+tKfA+eFivOM1drMV7Oy7ZAaDe/UfUCIQD/////AAAAAP//////////vOb6racXnoTzucrC/GMlUQIBAQNCAAQXy2EB/9O9SHO/HYwXquGpAx47B15Pk4BQZtsxI3HuXMXxo7V2oPm+0/MkhmMD9v7H7g21jFuwsp/YmeAI9z9GoAAwCgYIKoZIzj0EAwIDSQAwRgIhAI3H2T1rjsaFXZLXB2DQg1jnA3KPwPWZEWkj87SKoXcIAiEA+SvSG/5KXkrQIExuLeCIPUV4+zV25bPveeNUxP94xXk=", "ArgumentException: invalid certificate signing request: unsupported elliptic curve; use ECDSA P-256 or P-384 (or RSA with 2048 to 4096 bits) (Parameter 'csrDer')"),
        ("Ed25519", "MIGUMEgCAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTAqMAUGAytlcAMhAMsBPpRsGDiiuhZn0hCn9tuwZRzQynfE/AN4qgk0GhjvoAAwBQYDK2VwA0EADxarwsAAnwuAFbHmx5ScCRH8XTaqEiD9f1birgWxD/3M6yYqAaWsfSkGi8VN/uTjJl0wgx7e/8MnlGOdXHqYDw==", "ArgumentException: invalid certificate signing request: unsupported key type Ed25519; use ECDSA P-256 or P-384, or RSA with 2048 to 4096 bits (Parameter 'csrDer')"),
        ("Dsa1024", "MIICFjCCAdYCAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCAbYwggErBgcqhkjOOAQBMIIBHgKBgQC1g4NPEOy81r0K0TZudy6UT7Pt4+Vgml0/OZOnvtoIjSTNUF+aVxPWBg0jXcXuIvZ6INvVOpPcd7+L8/HO+agBm6TeBwb9lQfSbol5yI4yGaPLAXWG6/QtuHRgAX4qDKHmEkl+5uDHcjJqmfQNR2nwNtYZAnjng/CuvOLzn96YPwIVAL99JFH9RJ46ky7nnF4kQ1vVPV/jAoGAH2VErxZsitLNXNJISP3y4vqRaZ9qntWE2C85hGVi/AH02i7Ij5+pvMGSuyMQm/rDUfgR0HHT5MdcWVbeT0Ie48bqbXFfMNmGkNVuETRXhKRMOoDk2qKMBFN6S7OK4Q+Gi534Ti3ucvs3U2wQ9EhYW6bGUDYMTPxIn3ty2lC4i34DgYQAAoGARrV8LYroH/3YQsqyMPMvw8SkUv4tS61jjbgthl2s15UNvRvpSue3PjLC6K5AP4XUbF+ABxBv6hedOzAACbNMtof79oIvD+oSyPzb2vdpyTbAkr+ht71eYxOoxwgXaYPlXyfGJiqqtaVceEXxMQpQL8AakheGNSkjBqztashhRAWgADAJBgcqhkjOOAQDAy8AMCwCFHRn51lq9NnXjHQ+jLcuuc9gt3eKAhR/qvWPorCjQyUA9Y+TSdu5sE52+Q==", "ArgumentException: invalid certificate signing request: unsupported key type DSA; use ECDSA P-256 or P-384, or RSA with 2048 to 4096 bits (Parameter 'csrDer')"),
        ("Rsa2048_SHA256", "MIICWjCCAUICAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAIe34Q2A/zhJIwmPB5bT6DZNSOrbCnROZzb1IxaZTTXeIcGvJULP+la4Jeo2XTYeVvR+pbC44RbfCI/zEtFRvdHbmt6+jS40m9Aw2Jm4O5uGLtmNUowiZr9cLfeOtwFj1np7HhD0jCVy+wTL3ZQQLOZRo2ZPeuVY64vvxZnvS1YBM9wYqc7ZY4aatyc0e+TeJ1MwsGK4Y1ZPRRBzmhsHlX8Kmw0AwFkRutHNEWrALAVDLhhZz7aEECqYpGbmWJ+c+LA3HxqgNEbiQJAvQDeWHUhyn7p8DnmIJ27K3pSrIJ1ejeZxu4L/SseYKd+QjbV9gIOBCDa+nzetEbVkVvjVfhsCAwEAAaAAMA0GCSqGSIb3DQEBCwUAA4IBAQBsP9+Zyvt28FUcWwgeZ0w50EjP8BvU5NaRuy+58l+SHQqPWWG3N1bb7U3O/qr6mJBBEgfh7YWjV3MEm0JnwJIaoMnSbdNXKU0ndZaeIImhHWEQgj0DHexr84W1dLF1KzGSg93WNuU1qewbH7UZVk+8arazhTcrQTbRGgWSD3nI6npGtNjG8OARzBC0eRMK7YhKQfrR/YrqZdDPuBSfc3xRFatE40IpiMLQxXzPljrOe67PS4nSlOFZ/8BYlwt8P8841npsz3uGgFhiypQ/LLueoe1r9HEBcgmgxrlSEe8U1sD+rHA11kw+7df9xm+tOdQkCJmTTTlxZzysiLdme5+T", null),
        ("Rsa2048_SHA1", "MIICWjCCAUICAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAIe34Q2A/zhJIwmPB5bT6DZNSOrbCnROZzb1IxaZTTXeIcGvJULP+la4Jeo2XTYeVvR+pbC44RbfCI/zEtFRvdHbmt6+jS40m9Aw2Jm4O5uGLtmNUowiZr9cLfeOtwFj1np7HhD0jCVy+wTL3ZQQLOZRo2ZPeuVY64vvxZnvS1YBM9wYqc7ZY4aatyc0e+TeJ1MwsGK4Y1ZPRRBzmhsHlX8Kmw0AwFkRutHNEWrALAVDLhhZz7aEECqYpGbmWJ+c+LA3HxqgNEbiQJAvQDeWHUhyn7p8DnmIJ27K3pSrIJ1ejeZxu4L/SseYKd+QjbV9gIOBCDa+nzetEbVkVvjVfhsCAwEAAaAAMA0GCSqGSIb3DQEBBQUAA4IBAQBcV1wgATHzQ7sMCJRBVtjq/pp/xx7bxLgOoDwdBpc0ldCOOYa8C4nvwtnMSXrSZpyPIgYKfi1tts/wyhrEVNqxGP0TwWNljm0+x1WjU8hmGt80wDuFPCEN44xgoPpp3xayuCHt3UTVHEg+VAmHFNWrtjR0cFactaKRZQZysIEWTnvdaWYMBZ203zBqtwjNU/tDy/Fc9DTfOlqpcbqWAdmi6t8j1N+ROdhGdVZjbbEZcUL50ots5OuZGP7NKfrfntVCR0kqWpeq2A1UG9UGmINke7trcobgaTk4ws6tlu9QnmVfl3VHtxZhcRRSojexSzpjJYb9MNiGvM1uIpWjQt4a", null),
        ("Rsa2048_MD5", "MIICWjCCAUICAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAIe34Q2A/zhJIwmPB5bT6DZNSOrbCnROZzb1IxaZTTXeIcGvJULP+la4Jeo2XTYeVvR+pbC44RbfCI/zEtFRvdHbmt6+jS40m9Aw2Jm4O5uGLtmNUowiZr9cLfeOtwFj1np7HhD0jCVy+wTL3ZQQLOZRo2ZPeuVY64vvxZnvS1YBM9wYqc7ZY4aatyc0e+TeJ1MwsGK4Y1ZPRRBzmhsHlX8Kmw0AwFkRutHNEWrALAVDLhhZz7aEECqYpGbmWJ+c+LA3HxqgNEbiQJAvQDeWHUhyn7p8DnmIJ27K3pSrIJ1ejeZxu4L/SseYKd+QjbV9gIOBCDa+nzetEbVkVvjVfhsCAwEAAaAAMA0GCSqGSIb3DQEBBAUAA4IBAQAbisEEeRXcwqCeQZF1FSC5m9vZQy8EC3A+kVebLw5T8IlzMd7IJOyMcGHc/aoseqzUlQXM8kZ1EYINi5FOmMSExdSVSX5Dd4+eYu3tSAkl4qhOKaVrpJirsgoE5Zo1DxoOoEM/+T8kzDJk8FYqYgZy1NE6itTI9TEHTUJSRG+tzM8cuYvTv7rDCTXqF2g3Pa04FkVKho2yFH4qer4lGOnW90y0vOu04a82Pz5WSCX2l2dOtROAQd6VWvzm7xfrZEcvch0tadHHekECzPsUnTnnWNcrAEGjCystvie2dOtziiT/BLxQ5XsfPgl8ObvG6+OuP6qDsD08ftTnxEfRbRgn", null),
        ("Rsa2048_SHA224", "MIICWjCCAUICAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAIe34Q2A/zhJIwmPB5bT6DZNSOrbCnROZzb1IxaZTTXeIcGvJULP+la4Jeo2XTYeVvR+pbC44RbfCI/zEtFRvdHbmt6+jS40m9Aw2Jm4O5uGLtmNUowiZr9cLfeOtwFj1np7HhD0jCVy+wTL3ZQQLOZRo2ZPeuVY64vvxZnvS1YBM9wYqc7ZY4aatyc0e+TeJ1MwsGK4Y1ZPRRBzmhsHlX8Kmw0AwFkRutHNEWrALAVDLhhZz7aEECqYpGbmWJ+c+LA3HxqgNEbiQJAvQDeWHUhyn7p8DnmIJ27K3pSrIJ1ejeZxu4L/SseYKd+QjbV9gIOBCDa+nzetEbVkVvjVfhsCAwEAAaAAMA0GCSqGSIb3DQEBDgUAA4IBAQBWPTJg+UpbjuPMWbYRDC9EgQ9A4WBFAa6LMFqyGQAWzVWGwRKmjt5S6hSu4EhaB+OyUQv+8hN4kYYn6q9QM+uVHiTAbARPaPblTrWKWBF3y5QTyGn03W8knQ4ZtrGoOc6gONTSWlHWw3xpMmdFEbxzF9MfPiuQY6osvGGwxPmpooWh6HeDgIhPp7LQhEr7JSr0cl3TNMEHAl5BWoMylRJnWfYwv0SavEK/MBMz4VZlRuKgcDs0SQs+iZIpW9kg5viIGH/eRoXGVsaxnFwSLuS2sKdA+P+GdEIFFMtNRzjznJ6FBurVlImEJ5m78ZMmNuY1knIT1S1yk/FkSyEmAXoR", null),
        ("Rsa2048_SHA512", "MIICWjCCAUICAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAIe34Q2A/zhJIwmPB5bT6DZNSOrbCnROZzb1IxaZTTXeIcGvJULP+la4Jeo2XTYeVvR+pbC44RbfCI/zEtFRvdHbmt6+jS40m9Aw2Jm4O5uGLtmNUowiZr9cLfeOtwFj1np7HhD0jCVy+wTL3ZQQLOZRo2ZPeuVY64vvxZnvS1YBM9wYqc7ZY4aatyc0e+TeJ1MwsGK4Y1ZPRRBzmhsHlX8Kmw0AwFkRutHNEWrALAVDLhhZz7aEECqYpGbmWJ+c+LA3HxqgNEbiQJAvQDeWHUhyn7p8DnmIJ27K3pSrIJ1ejeZxu4L/SseYKd+QjbV9gIOBCDa+nzetEbVkVvjVfhsCAwEAAaAAMA0GCSqGSIb3DQEBDQUAA4IBAQA6954AlBhgB2utbBx4jqaQgA4XPPJNOpl2hqyJ3TBQ6UJjl1f8AqCFfMB2fkZI6ieKIF0+rtduvGMCyOob/myd0XkSWobhxBL/pkDpOg/MWQ3k/ksSxXKrU/uLswzzgbzYi3G79ekHPxsuF+iOIYe9bHvIao3j8cjodo9xnBXcNAYXOKcwwAn0YzEAmtlQwmUk2rmm03WPSZ2IkW81hgnSjmAaShleyRoLmt3fqHBqpx5a7gwzJhA/rkSDlCc7pE31amUfAw5w6YoZevgwC5WndY75dr+b4lUstemz+JTMp+1dD5NUrMWKF2nTiGdBxng0dZAc2aoKD4LLHi1EIXCr", null),
        ("Rsa2048_Pss256", "MIICjjCCAUICAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAIe34Q2A/zhJIwmPB5bT6DZNSOrbCnROZzb1IxaZTTXeIcGvJULP+la4Jeo2XTYeVvR+pbC44RbfCI/zEtFRvdHbmt6+jS40m9Aw2Jm4O5uGLtmNUowiZr9cLfeOtwFj1np7HhD0jCVy+wTL3ZQQLOZRo2ZPeuVY64vvxZnvS1YBM9wYqc7ZY4aatyc0e+TeJ1MwsGK4Y1ZPRRBzmhsHlX8Kmw0AwFkRutHNEWrALAVDLhhZz7aEECqYpGbmWJ+c+LA3HxqgNEbiQJAvQDeWHUhyn7p8DnmIJ27K3pSrIJ1ejeZxu4L/SseYKd+QjbV9gIOBCDa+nzetEbVkVvjVfhsCAwEAAaAAMEEGCSqGSIb3DQEBCjA0oA8wDQYJYIZIAWUDBAIBBQChHDAaBgkqhkiG9w0BAQgwDQYJYIZIAWUDBAIBBQCiAwIBIAOCAQEAUv5c5lIUEiB91ERpqCAspDbtlz1fN/UAmkI+EIdv+iEqkkHq7zaW9NZ8HznYRU76AbRvkRBzrJmZC4DBabjQp4+ksfUuvmxvHINLVdRP8cLQbL3kQZOzMmu2w16go6S8yNzTz//70Y620DADogvj/kfYAeuk2zARpGyoihRuD1RQlum3F9lh5O5bsNK9Fwg5g+h2D+TvgDbXzWat080rNR8CJm6OGdnogypdCFnZC8Pkwu/t7P7sDK5tB3KRnq7zvWKUaz/7saq1XyvkHCevb8ZHDrIE3n0iR1SpokNrQRW1DjmZJioADPLqRrvskeSYme/cATsTNCuVx69WPoedZQ==", null),
        ("Rsa1024_SHA256", "MIIBVDCBvgIBADAVMRMwEQYDVQQDDApzd2FybS1ub2RlMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQD1EPhPCcUVFB/Yx9o98MppZ0I4jLNPwiTyDe563NIjFgst/VLaQHFsThU8i4xG+8FC9ltGYqNopS6TarrNIngxcXnmbRUi9aPWrwuwG0Wh2UFk1R7Aw7UiAicmAN7O5yNK1wDl5pImSjZYPLL9ey834ggqfLGJeAvqe8YK33JSKwIDAQABoAAwDQYJKoZIhvcNAQELBQADgYEAd7P46TZ5AIoskJZKJMc5KU4Tp7IyKHMFTEsUa/WKLd31mzcVYnNSbUJFtUZeXD+nfd9Me+LCIeJKs+26IGNOi7Wr5AOpb4NSn9HOi1hm3fT4hT2Yj0Ru6nzkP/1iUgMUA9vicu3zWIrKZgToDG9z/deOmcTm73BlMYhyY+ihKmc=", "ArgumentException: invalid certificate signing request: RSA key of 1024 bits; use 2048 to 4096 bits (or ECDSA P-256 or P-384) (Parameter 'csrDer')"),
        ("Rsa4096_SHA256", "MIIEWjCCAkICAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCAiIwDQYJKoZIhvcNAQEBBQADggIPADCCAgoCggIBAOLLOz5mb9YBEgDPdcmMlXA6TyZXI7rl5T5DCOVt1r3qrc/OTovMWBSJvMImBt6Mi0ZdNo02PaCYNur8LWHv23eyO6KQU4Tm6gtO49mbzLdAlkTG2jBfPkMLHUVtwNgS9xiMLeveC++qchysGdUkoiDFf+011IMC4U+cvTgJ/0ag+v4esYl3gk73LBkcS43mzPBdLXmRupUVcAM9zGQkYvhhC0hr344+CmNVGp1XjzTJh6DpLh+XY6ns3A9KH80ydM+fK5wsqVT7TPPBVGQPXXA+flLjNNgPLl+bK0JWcYpUeXD2rEl/hulRzjVgV5a8ipIe8kn0NtzBwpFobfhzJHf+rXMx6jh0VZbMOcCd2e9Mip/H+9KxA7SlQbDEzDmcSkT3qERASePpjNUzBcFfoybxyAC8Iah5k8ZBiValEFVU5CIfGWkYnR7keDZZUHOKv+cz8hBKhEqTyus/X5dUi11j3PtsnvqzWh/4uycz1cCtFSHZklTKOj+y5xCPpPbxoTFEtMR+th8I3YPxuGpZiJeEux0KP19p/3eJBQRtdeSPF/7qP+JMAWHVYbIVHoPerw0jAjPAeZLCls633TNxkr6lnw5XmO8/fTQfxQl6dADGRf8iRqqdU4y6pV6XECWdO7+brX4LhHPNqAPCiKgp6w32A7ce0mKWMKBl+U8z9TGTAgMBAAGgADANBgkqhkiG9w0BAQsFAAOCAgEANcGxRxoguLv+yhTPHTzI7eTUI46OKqpvY5BdwonplihGhRtd+7notFDEPxgGTMxmiR6RPovtMXPLQZDtO/ixRCGSLpnu4FPalUw8K4kPIdpzk4C0OqDBZHI/SXzh4rd8Eub+/KyO9EVbUN9actiBxosyJVRHaDcqe+QgoaMy9ps1jPS82Y75SeaJAtcBDsjEPtVv+XvtwUx/e4va2i7bdWOc9oYEDOMCpkALVFaiQ3jewTSmfdJXl0HyLmuQzbMFk2i3lUkyUsh1R39t6cOWgNEFW9I79bhmMOuAlxb8neISdnl343WRJ9yiSl54xJ0sqh5oNwSHMoWedc+P+K50Qln3UdwsTPL9BmxkCNSq3asInvusBBCr5eqWPWfyvsm+verBCIGwp1reNXOxQxfdLP9lcveFPLE2Z2s5KdopIjKrrr63j1YQPWgTyvMStQaql79GUO5hk+g4IinwjWrVbtM2JsUN/+iIKznSS67Knnb8+NRRHpRsWVzaMvum0qSNlcVtSYbDNF9Fuq3wpU5u3qtG3ReYmVzer0Vt1Ii0e86HIYWtOliCll7UdVivJQ7rc2wpENZHyJo3tJlQMQDcDiJ+hBycL+Bzn4zUdU6D/kkv92PYyCgy/DstW1nZNooM+vp8HcLxaoaiqikX5bKnuwtjdnEeEf8p0tzRO7EEwdQ=", null),
        ("Rsa8192_SHA256", "MIIIWjCCBEICAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCBCIwDQYJKoZIhvcNAQEBBQADggQPADCCBAoCggQBAOUZvZHqrGUEtJDSlN2OMhNLTb5UZqG8+OjCHK596wtOI3hFkVlhbfj12oqFE9QxQEOPnliIXIArx02BiA3RgW5AeS/NFFPV8wDsfGM6nQWHPf7CjppM6NwBxO+ahWXwkg2j0i8GPmV5Djhvr+Kld90ZZQGhhHJNxBGhU4A/JL7006wqIHYj1a2kexSCGMAMaio1mfwVcdqeitLxvZD73AqTWRVDEnNFi2AS1vJZR8EosqzuEvUD021W/AjrurLA0m0gzsmpsnLW0K0uESVbyt8H1xZdY2VtzgFAJ+mY8Qi4PEAiFTc9Yfryav3DpuSrwWl7l5lXzDUG791W7WiGNJIkyIseTG/m6kyfwidbc10v5c6jHUoPGrpNBbxR6uzJeQ0yFIeSggCcG/rqXK1J3CZNQnqBiB19I7APeYr2Wb3vOQlW3Qht2/QLWoVE077OV6VWO33QEAH4vAs0bFqrVncFeclOqG+RnPQ1XABfPem7PSb9pyBZjNgD4BAO7N+5ILry7AGWkIq6j+ySGrCzT+vHQMMleNQ+9INhOVlck/5nRHIqCA3Po1elSoGbxEfGKth8AwE/qHXstXdaVgRrfvbDQvczkawEc+2YPnJpP+C9ZARpgP5ayTbZ/oF9Qe+vwiMOhBwl2THkAfPtnYriM2HXVltGPabsEOMVeqThNFAUJB1EAVGVcx0BGeGwTLMGWx+AOn4RHnV5/8Rj5vpGhI7MiXblSyXXt4kx8/yTF2HInSybEHu1MczZclIt+du/IxaljAa8Hnag8F7EPDCi8vNak8Ougr4BMLrnWilgnI6asOPcxgVEj5f3LIr39oyB2QkqNCdLSOJ1wG2cvTRshQ8ptN/hlpBtyqeJIRrElKzEcBWVSH1yf3mAjLjhgjlYpoujH3Xno4e8DaB78bEajjAwBv7AOQQUUeCOV9e15xXX7AWsHGzTuRCloOCkZaHirPzZ1lwWqKw8O6S5n/pc6Gg0tt3fRLKAeOFU0wrhAQpHI4FlmtHwBuicUw/nDMHNeJU6ze16NKF4Euux8Ql8qDumcvlzAwPYsZWvz4en1Y8aaRT8LhZKI4rJmp3ZrOJDpW9q6nYc4UHR1Y8b6v4AGHXvdtR3C8zdRGs0RtHRlZya7JgWa00y15eEatgCxp4HmuPj2fespBMhXIKcOD63URNjcYTInXfaISF2GJoCGk2TAsKIIJAkFcL488K/f5qk1bp2YxF4b2/X8RC5dL8utAK53kIcj/vl2af4qhkeV2HZXUtZNpN4DNIwCOOrCAgFo0oEI7qeL+CcrS2G8NNyk2b7lzeWcf1vPGDi9oJ2trAhaVyBY1fvF329f8WPaoyv1SLfwMzI2Q6nOSTXZqDYrW8CAwEAAaAAMA0GCSqGSIb3DQEBCwUAA4IEAQAf/dcysrTLovLDqfnHZjvI8a7joYn8L14EkAMnfyTJQ4KtPHOiQ0HHU8yweOcTdzhXVg8ykUMySy19yv4XOMdq80Jq3CGTyKGw0J5n5aA4sW5OHjc7CVxJZ6eaTBj8k5Drj7v/Mtt3DfcqYwBJE1nDLZ9zup4Qizg2/peVJU6ilX5F8M65cRCBIHA8CUOmjH55a1kn3+yiTc0DHpTvGeVKf6zwJwG3JVXewtkM/HSW93gmEjwopp0WlypLqY/V39TLQYeppfle9TPWI2+akn2/z/q07+hN84qzlqGwJj50pIvxizcyWqXnrSS8dqVB15tKT8VA0TSwkSUuL+wXnmBLOWAVKdxL9ZeI6RJKIYWH8d7Oqt4+kCCTAuQypD+n0qEzhmftzAC8fkA8kkbtsC5Lbfzfyjt4V8eN9x/OdIuZbOzS/dkqqX6kgNURXNrbF9p8vEP4ZL3gjZJBMm6LQLLx4V15BmpzE+Cfv7V377K/qI6oLtcBCw1KT4SRGYNKZngzW0W4YWYGpqHLnVEtrQLpFLvZABAKt/ZpHSYj14wRVZGoMfRg0vwhvhiLQHfzXGdQxFSERiINM/BpZrt8hBg8eqR+xycIxmPv7nP0tTOby2FJKHSNrltarWukJdKs9rQnm5XnuXkWr1oNVR5r05EE6GOidqpckWBhaZP0bg40PX/Nd5BEZ589yCmue2QG8f4uB9Z3fMQ4vgyxAlBT54b7AkWmmhgU1n7r1cV43gqoeUrhYTs5e3/o7VUMgPuiRY7dnE6NjS7QiMWtNXICbhK5gqJTt4YZrWGR09hA22nZ0SRP0JX4VNQmi+qhYyV8sJn3TdMET8FaEhqEEWE4aspSrCvP6GgO3gYfut/dVF0tX7Ta/Ya3Hok4SEDzbbe1SkTvlICXnoIqQrsssJw7R8Cps2AyTBNnqUng5fZd5IA8zWbR49C9MhINgDGVK1RmivgB9Uzb3wuwOsIjb1ccsGHRbMaSA+jsjRGIezsztk6vUZyTjKydo5JzX/IxekJCbB0K0LQ/GA6/Mc4e8jBqUSe5YReneOzhj/WsRA2ZgoDu08c2eU1aRH/vppYweF3QNQ0UUMV3rxUNNz+/69IvoNXZaJUpKQezOR2v9SDfdN104oZ+K3JzZjgGDa4YXyrDCAngS54O4NK+PAQrELkhsTmxcNp43IFBf/z/16v7nPuGXHrjBYdRiFqRzxpGxUXccYXX0/n0cRyfh8gEIqK5CpMg30eFUeRcNWs7YLXFO2htqf/dBQyOVOrf+GbAtiqzvRCQmEvygPIUMCocowCYmLHuo0qBWZvKnwa8iF7oHhq5XM7gCixOz3wtG1biop6wlsnKv394UTLTfAOBFGnudopq", "ArgumentException: invalid certificate signing request: RSA key of 8192 bits; use 2048 to 4096 bits (or ECDSA P-256 or P-384) (Parameter 'csrDer')"),
        ("RsaFake4097", "MIICnDCCAkICAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCAiIwDQYJKoZIhvcNAQEBBQADggIPADCCAgoCggIBAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAgMBAAGgADAKBggqhkjOPQQDAgNIADBFAiEAmXORVG3+d/Zf6dUxIl+7UHjZkr36ty3K3NiobUQYf6UCIEtqJ/tVGXobmo5zIwGNlf9rehpHSW26M0Ds86ngNq+G", "ArgumentException: invalid certificate signing request: RSA key of 4097 bits; use 2048 to 4096 bits (or ECDSA P-256 or P-384) (Parameter 'csrDer')"),
        ("RsaFake8192", "MIIEnDCCBEICAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCBCIwDQYJKoZIhvcNAQEBBQADggQPADCCBAoCggQBAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAECAwEAAaAAMAoGCCqGSM49BAMCA0gAMEUCIQDPsD3E5DeSRa1/xW7+gpPaIS3J7OW9HflkeUsLwyC4CAIgDiiy8tF9VHNi31S4MSc66wceCqeqN2dT7Uy9CcjGIf4=", "ArgumentException: invalid certificate signing request: RSA key of 8192 bits; use 2048 to 4096 bits (or ECDSA P-256 or P-384) (Parameter 'csrDer')"),
        ("RsaFake60000", "MIId5zCCHY4CAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCHW4wDQYJKoZIhvcNAQEBBQADgh1bADCCHVYCgh1NAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQIDAQABoAAwCgYIKoZIzj0EAwIDRwAwRAIgHJ/+6OOiH3tuOPN0KqVOm/hjFcgCjHQ827EgE3l3EYECIAn8K0gsM4c3dNlhXOibCLtvnxzYL6FnYGVb5rJ7ezKu", "ArgumentException: invalid certificate signing request: RSA key of 60000 bits; use 2048 to 4096 bits (or ECDSA P-256 or P-384) (Parameter 'csrDer')"),
        ("RsaEvenExponent", "MIIBmzCCAUICAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAIe34Q2A/zhJIwmPB5bT6DZNSOrbCnROZzb1IxaZTTXeIcGvJULP+la4Jeo2XTYeVvR+pbC44RbfCI/zEtFRvdHbmt6+jS40m9Aw2Jm4O5uGLtmNUowiZr9cLfeOtwFj1np7HhD0jCVy+wTL3ZQQLOZRo2ZPeuVY64vvxZnvS1YBM9wYqc7ZY4aatyc0e+TeJ1MwsGK4Y1ZPRRBzmhsHlX8Kmw0AwFkRutHNEWrALAVDLhhZz7aEECqYpGbmWJ+c+LA3HxqgNEbiQJAvQDeWHUhyn7p8DnmIJ27K3pSrIJ1ejeZxu4L/SseYKd+QjbV9gIOBCDa+nzetEbVkVvjVfhsCAwEAAKAAMAoGCCqGSM49BAMCA0cAMEQCIFQZQfEf7LiAX8q4laU/wrH/zb7xKsZAxdjDwxdKTQrVAiBQUbpiPwkqCkN8SySyPTsRQG+c5BVzWvFt47nVrc9CrQ==", "ArgumentException: invalid certificate signing request: RSA public exponent must be odd and at least 3 (Parameter 'csrDer')"),
        ("RsaExponent1", "MIIBmTCCAUACAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCASAwDQYJKoZIhvcNAQEBBQADggENADCCAQgCggEBAIe34Q2A/zhJIwmPB5bT6DZNSOrbCnROZzb1IxaZTTXeIcGvJULP+la4Jeo2XTYeVvR+pbC44RbfCI/zEtFRvdHbmt6+jS40m9Aw2Jm4O5uGLtmNUowiZr9cLfeOtwFj1np7HhD0jCVy+wTL3ZQQLOZRo2ZPeuVY64vvxZnvS1YBM9wYqc7ZY4aatyc0e+TeJ1MwsGK4Y1ZPRRBzmhsHlX8Kmw0AwFkRutHNEWrALAVDLhhZz7aEECqYpGbmWJ+c+LA3HxqgNEbiQJAvQDeWHUhyn7p8DnmIJ27K3pSrIJ1ejeZxu4L/SseYKd+QjbV9gIOBCDa+nzetEbVkVvjVfhsCAQGgADAKBggqhkjOPQQDAgNHADBEAiBrBkmrag0H/ZvQM45LJznXB5UYGW6mAiXeuNrlmEAJZAIgakVWlzkKK5oMqPsoUZKD5fmhDuzRIDEA8978TpxqW2Y=", "ArgumentException: invalid certificate signing request: RSA public exponent must be odd and at least 3 (Parameter 'csrDer')"),
        ("RsaSpkiSignedByOtherKey", "MIIBmzCCAUICAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAIe34Q2A/zhJIwmPB5bT6DZNSOrbCnROZzb1IxaZTTXeIcGvJULP+la4Jeo2XTYeVvR+pbC44RbfCI/zEtFRvdHbmt6+jS40m9Aw2Jm4O5uGLtmNUowiZr9cLfeOtwFj1np7HhD0jCVy+wTL3ZQQLOZRo2ZPeuVY64vvxZnvS1YBM9wYqc7ZY4aatyc0e+TeJ1MwsGK4Y1ZPRRBzmhsHlX8Kmw0AwFkRutHNEWrALAVDLhhZz7aEECqYpGbmWJ+c+LA3HxqgNEbiQJAvQDeWHUhyn7p8DnmIJ27K3pSrIJ1ejeZxu4L/SseYKd+QjbV9gIOBCDa+nzetEbVkVvjVfhsCAwEAAaAAMAoGCCqGSM49BAMCA0cAMEQCIBsxkWydVlAw/wS/MIHgskQNDgnWrJLzek87kWwsT/1uAiBvjAG81uu81IhsKw4yLsvNnuJu688rPpoYJE44/xOFhw==", "ArgumentException: invalid certificate signing request: exception encoding TBS cert request (Parameter 'csrDer')"),
        ("NoAttributes", "MIHMMHUCAQAwFTETMBEGA1UEAxMKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHGsbTJNI3jQpJ8TkHvyjJX2Jxo8jODXPT5c2JETouP3WzNZ+tvE0VGrrwbhgY2ThTwgSFQbo/UtTmMCC071Vj8wCgYIKoZIzj0EAwIDRwAwRAIgBBJphhG3H0WI4Gna+p2RXIQEtzsFPYWXvxyjW3+qvXACIE5QR3Hxjg4lFl3eDOCHKNATgyELcRM2+YQeMfOKgRIB", null),
        ("Version1", "MIHQMHcCAQEwFTETMBEGA1UEAxMKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHGsbTJNI3jQpJ8TkHvyjJX2Jxo8jODXPT5c2JETouP3WzNZ+tvE0VGrrwbhgY2ThTwgSFQbo/UtTmMCC071Vj+gADAKBggqhkjOPQQDAgNJADBGAiEAoqIL5MQvnoEBW5PSxdCZggo8lI9ZZUtsH7wIvcfVhcQCIQDcwbC/cUDZSYgDTPqBBO0gySxXRbFLDmNb/djEzitchg==", null),
        ("TrailingByte", "MIHOMHcCAQAwFTETMBEGA1UEAxMKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHGsbTJNI3jQpJ8TkHvyjJX2Jxo8jODXPT5c2JETouP3WzNZ+tvE0VGrrwbhgY2ThTwgSFQbo/UtTmMCC071Vj+gADAKBggqhkjOPQQDAgNHADBEAiBwdJ1zOVcYSj8jWCUjHv1MAcx35aWqQVMJhZrdf1m2OAIgalGDZXF6buNpp0AUpKN61zv1IaTvbrlY7J9fw7F2S2EA", "ArgumentException: failed to construct sequence from byte[] (Parameter 'obj')"),
        ("WellFormed", "MIHQMHcCAQAwFTETMBEGA1UEAxMKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHGsbTJNI3jQpJ8TkHvyjJX2Jxo8jODXPT5c2JETouP3WzNZ+tvE0VGrrwbhgY2ThTwgSFQbo/UtTmMCC071Vj+gADAKBggqhkjOPQQDAgNJADBGAiEA5J266yM5E6eW+cKyv1J7fMDXq6qUt9cPQCzE210bXmcCIQCQLIKtQHKgYSRWt88lhlHwf3UaTXUIf4NqdffCG7kmXA==", null),
        ("EmptySubject", "MIG5MGICAQAwADBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHGsbTJNI3jQpJ8TkHvyjJX2Jxo8jODXPT5c2JETouP3WzNZ+tvE0VGrrwbhgY2ThTwgSFQbo/UtTmMCC071Vj+gADAKBggqhkjOPQQDAgNHADBEAiBstMjVB2ojwUzK4w7R3MUuAqdjmaW/I96hSpgsloo42AIgImv0xUW1JakENb1REgxyewEIi1Iu4SnbXXYpcGtw6CQ=", null),
        ("FlippedSignatureBit", "MIHQMHcCAQAwFTETMBEGA1UEAxMKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHGsbTJNI3jQpJ8TkHvyjJX2Jxo8jODXPT5c2JETouP3WzNZ+tvE0VGrrwbhgY2ThTwgSFQbo/UtTmMCC071Vj+gADAKBggqhkjOPQQDAgNJADBGAiEArzSF9zgansBHkLP7gsMoJy9yqC1fy4pdzEFq0JiYzJYCIQCFo/Ej6uf5FIJRnz0q9QSXwxHH1sESY0atIKtdN1JK/g==", "ArgumentException: invalid certificate signing request: bad signature (Parameter 'csrDer')"),
        ("NodeCsrFlippedSignatureBit", "MIHPMHcCAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABPJx3nYpAfoBeOM2aDEekl4AwUvmW83M43vk3SsIEp8FJf+DG4gILJVTWE1A/I6uyACNkQokJfDp+ssE2JAL/qSgADAKBggqhkjOPQQDAgNIADBFAiEAoCWXC521KB/SQ3ngj7BTPQhqHQdXjos/Ha425/SBT3kCIB4YefYSzt5Wo1jIP7lgk+e4U6kYYng1wOzlNNFG5cuw", "ArgumentException: invalid certificate signing request: bad signature (Parameter 'csrDer')"),
    ];
}
