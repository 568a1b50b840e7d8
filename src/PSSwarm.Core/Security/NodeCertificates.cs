using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

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
        using var key = CryptoSupport.NewP256Key();
        // CreateSigningRequest writes the [0] attributes field even empty, as PKCS#10 requires (Go and .NET reject a CSR without it).
        var csr = new CertificateRequest(CryptoSupport.Name((OidCommonName, "swarm-node")), key, HashAlgorithmName.SHA256)
            .CreateSigningRequest();
        return (CryptoSupport.ToPkcs8Pem(key), csr);
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

    /// <summary>
    /// The key identifier of the CA key that signed <paramref name="cert"/> (its AuthorityKeyIdentifier,
    /// lower-case hex; <see cref="RootCA.KeyId"/> of the issuer), or "" when it carries none.
    /// </summary>
    public static string IssuerKeyId(X509Certificate2 cert)
    {
        ArgumentNullException.ThrowIfNull(cert);
        foreach (var extension in cert.Extensions)
        {
            if (extension.Oid?.Value != "2.5.29.35") continue;
            try
            {
                var aki = extension as X509AuthorityKeyIdentifierExtension ?? new X509AuthorityKeyIdentifierExtension(extension.RawData);
                return aki.KeyIdentifier is { } id ? Convert.ToHexStringLower(id.Span) : "";
            }
            catch (CryptographicException)
            {
                return "";
            }
        }
        return "";
    }

    /// <summary>
    /// What a TLS server sends for <paramref name="cert"/>: the certificate and, in order, those of
    /// <paramref name="chain"/> that it chains through (a rotation's cross-signed intermediate); a
    /// root given to complete the path is not sent.
    /// </summary>
    public static System.Net.Security.SslStreamCertificateContext ServerContext(X509Certificate2 cert, IEnumerable<X509Certificate2> chain)
        => System.Net.Security.SslStreamCertificateContext.Create(cert, new X509Certificate2Collection(chain.ToArray()), offline: true);

    /// <summary>
    /// The certificates a TLS peer sent besides its own (in a validation callback's chain), copied:
    /// the chain is disposed after the callback. At most 4: a swarm peer sends one.
    /// </summary>
    public static IReadOnlyList<X509Certificate2> PresentedIntermediates(X509Chain? chain)
        => chain is null ? [] : chain.ChainPolicy.ExtraStore.Take(4).Select(c => X509CertificateLoader.LoadCertificate(c.RawData)).ToList();

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
