using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PSSwarm.Core.Security;
using PSSwarm.Daemon.Ca;

namespace PSSwarm.Daemon.Tests;

public class CertificateKeysTests
{
    private static readonly TestPki Pki = new();

    [Fact]
    public void CsrForKey_OfTheCertificatesKey_UsesItsKey()
    {
        var (keyPem, csr) = NodeCertificates.NewKeyAndCsr();
        using var cert = X509Certificate2.CreateFromPem(Pki.Root.SignNodeCertificate(csr, "node1", NodeCertificates.WorkerRole, Pki.ClusterId, TimeSpan.FromDays(1)));

        var renewal = CertificateKeys.CsrForKey(keyPem);
        Assert.True(CertificateKeys.CsrUsesKeyOf(renewal, cert));
        Assert.True(CertificateKeys.CsrUsesKeyOf(csr, cert));
        // ... and the CA signs it.
        Assert.NotNull(Pki.Root.SignNodeCertificate(renewal, "node1", NodeCertificates.WorkerRole, Pki.ClusterId, TimeSpan.FromDays(1)));

        var (otherKey, otherCsr) = NodeCertificates.NewKeyAndCsr();
        Assert.False(CertificateKeys.CsrUsesKeyOf(otherCsr, cert));
        Assert.False(CertificateKeys.CsrUsesKeyOf(CertificateKeys.CsrForKey(otherKey), cert));
        Assert.False(CertificateKeys.CsrUsesKeyOf([1, 2, 3], cert));
        Assert.False(CertificateKeys.CsrUsesKeyOf([], cert));
    }

    [Fact]
    public void CsrForKey_WorksWithRsaKeys()
    {
        using var rsa = RSA.Create(2048);
        var keyPem = rsa.ExportPkcs8PrivateKeyPem();
        var csr = CertificateKeys.CsrForKey(keyPem);
        using var cert = X509Certificate2.CreateFromPem(Pki.Root.SignNodeCertificate(csr, "node2", NodeCertificates.WorkerRole, Pki.ClusterId, TimeSpan.FromDays(1)));
        Assert.True(CertificateKeys.CsrUsesKeyOf(csr, cert));
        Assert.True(CertificateKeys.CsrUsesKeyOf(CertificateKeys.CsrForKey(keyPem), cert));
    }

    // A key, CSR and certificate made by the BouncyCastle-based CA before it was replaced.
    private const string LegacyNodeKeyPem = """
-----BEGIN PRIVATE KEY-----
MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQgDfHOD8Me6vKjL2G2
qf/SMqKGe1shClH3dMZRM27mCOSgCgYIKoZIzj0DAQehRANCAATycd52KQH6AXjj
NmgxHpJeAMFL5lvNzON75N0rCBKfBSX/gxuICCyVU1hNQPyOrsgAjZEKJCXw6frL
BNiQC/6k
-----END PRIVATE KEY-----
""";

    private const string LegacyNodeCsr = "MIHPMHcCAQAwFTETMBEGA1UEAwwKc3dhcm0tbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABPJx3nYpAfoBeOM2aDEekl4AwUvmW83M43vk3SsIEp8FJf+DG4gILJVTWE1A/I6uyACNkQokJfDp+ssE2JAL/qSgADAKBggqhkjOPQQDAgNIADBFAiEAoCWXC521KB/SQ3ngj7BTPQhqHQdXjos/Ha425/SBT3kCIB4YefYSzt5Wo1jIP7lgk+e4U6kYYng1wOzlNNFG5cux";

    [Fact]
    public void LegacyKeyAndCsr_StillProveTheKey()
    {
        var legacyCsr = Convert.FromBase64String(LegacyNodeCsr);
        using var cert = X509Certificate2.CreateFromPem(Pki.Root.SignNodeCertificate(legacyCsr, "node3", NodeCertificates.ManagerRole, Pki.ClusterId, TimeSpan.FromDays(1)));
        Assert.True(CertificateKeys.CsrUsesKeyOf(legacyCsr, cert));
        Assert.True(CertificateKeys.CsrUsesKeyOf(CertificateKeys.CsrForKey(LegacyNodeKeyPem), cert));
        using var withKey = NodeCertificates.LoadWithKey(cert.ExportCertificatePem(), LegacyNodeKeyPem);
        Assert.True(withKey.HasPrivateKey);
    }
}
