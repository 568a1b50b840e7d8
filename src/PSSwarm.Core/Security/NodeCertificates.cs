using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Pkcs;

namespace PSSwarm.Core.Security;

/// <summary>Node keys, CSRs and node certificate helpers.</summary>
public static class NodeCertificates
{
    public const string ManagerRole = "swarm-manager";
    public const string WorkerRole = "swarm-worker";

    private const string OidCommonName = "2.5.4.3";
    private const string OidOrganizationalUnit = "2.5.4.11";
    private const string OidOrganization = "2.5.4.10";

    /// <summary>A new ECDSA P-256 key (PKCS#8 PEM "PRIVATE KEY") and a CSR (DER) signed with it, subject CN=swarm-node (the CA ignores it).</summary>
    public static (string KeyPem, byte[] CsrDer) NewKeyAndCsr()
    {
        var keyPair = CryptoSupport.NewP256KeyPair();
        var csr = new Pkcs10CertificationRequest(
            CryptoSupport.SignatureFactory(keyPair.Private),
            CryptoSupport.Name((X509Name.CN, "swarm-node")),
            keyPair.Public,
            DerSet.Empty); // PKCS#10 requires the [0] attributes field, even empty (Go and .NET reject a CSR without it)
        return (CryptoSupport.ToPkcs8Pem(keyPair.Private), csr.GetDerEncoded());
    }

    /// <summary>
    /// The certificate (first CERTIFICATE block of <paramref name="certPem"/>) with its private key
    /// (PKCS#8 PEM), usable as a TLS server or client certificate with SslStream/Kestrel on Linux.
    /// </summary>
    public static X509Certificate2 LoadWithKey(string certPem, string keyPem)
    {
        ArgumentNullException.ThrowIfNull(certPem);
        ArgumentNullException.ThrowIfNull(keyPem);
        // CreateFromPem imports the key (ECDsa/RSA from PKCS#8 or SEC1) and attaches it with
        // CopyWithPrivateKey; a key that does not match the certificate throws ArgumentException.
        return X509Certificate2.CreateFromPem(certPem, keyPem);
    }

    /// <summary>The node ID (CN), role (OU) and cluster ID (O) of a node certificate.</summary>
    public static (string NodeId, string Role, string ClusterId) ReadIdentity(X509Certificate2 cert)
    {
        ArgumentNullException.ThrowIfNull(cert);
        string? cn = null, ou = null, o = null;
        foreach (var rdn in cert.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (rdn.HasMultipleElements) continue;
            string? value;
            try
            {
                value = rdn.GetSingleElementValue();
            }
            catch (AsnContentException)
            {
                continue;
            }
            switch (rdn.GetSingleElementType().Value)
            {
                case OidCommonName: cn ??= value; break;
                case OidOrganizationalUnit: ou ??= value; break;
                case OidOrganization: o ??= value; break;
            }
        }
        if (string.IsNullOrEmpty(cn) || string.IsNullOrEmpty(ou) || string.IsNullOrEmpty(o))
            throw new ArgumentException("the certificate subject has no node ID (CN), role (OU) or cluster ID (O)", nameof(cert));
        return (cn, ou, o);
    }
}
