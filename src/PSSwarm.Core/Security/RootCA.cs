using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Pkcs;
using Org.BouncyCastle.X509;
using Org.BouncyCastle.X509.Extension;
using BcCertificate = Org.BouncyCastle.X509.X509Certificate;

namespace PSSwarm.Core.Security;

/// <summary>
/// The swarm's root CA (swarmkit <c>ca/certificates.go</c> CreateRootCA / ParseValidateAndSignCSR,
/// with cfssl's certificate profiles), built with BouncyCastle.
/// </summary>
public sealed class RootCA
{
    public const string DefaultRootCN = "swarm-ca";

    /// <summary>swarmkit RootCAExpiration = "630720000s" (20 years).</summary>
    public static readonly TimeSpan RootCAExpiration = TimeSpan.FromSeconds(630720000);

    /// <summary>swarmkit CertBackdate.</summary>
    public static readonly TimeSpan CertBackdate = TimeSpan.FromHours(1);

    /// <summary>swarmkit MinNodeCertExpiration.</summary>
    public static readonly TimeSpan MinNodeCertExpiration = TimeSpan.FromHours(1);

    /// <summary>swarmkit DefaultNodeCertExpiration (2160h).</summary>
    public static readonly TimeSpan DefaultNodeCertExpiration = TimeSpan.FromDays(90);

    /// <summary>Largest CSR (DER) the CA reads: an ECDSA CSR is a few hundred bytes, an RSA-8192 one about 2.2 KiB.</summary>
    public const int MaxCsrLength = 8 * 1024;

    /// <summary>RSA modulus sizes accepted in a CSR (ECDSA keys must be P-256 or P-384).</summary>
    public const int MinRsaKeyBits = 2048;
    // Building an RSA key validates it: ~0.3 s at 2048 bits, ~1.2 s at 4096, ~4 s at 8192 (measured),
    // and any token holder can send one: 4096 bits is the ceiling.
    public const int MaxRsaKeyBits = 4096;

    private readonly BcCertificate _bcCert;
    private readonly AsymmetricKeyParameter? _privateKey;
    private readonly byte[] _subjectKeyId;

    private RootCA(BcCertificate cert, AsymmetricKeyParameter? privateKey)
    {
        _bcCert = cert;
        _privateKey = privateKey;
        byte[] der = cert.GetEncoded();
        CertificatePem = Pem.Encode("CERTIFICATE", der);
        CertificatePemBytes = Encoding.UTF8.GetBytes(CertificatePem);
        Sha256Hex = Convert.ToHexStringLower(SHA256.HashData(CertificatePemBytes));
        KeyPem = privateKey is null ? null : CryptoSupport.ToPkcs8Pem(privateKey);
        Certificate = X509CertificateLoader.LoadCertificate(der);

        var ski = cert.GetExtensionValue(X509Extensions.SubjectKeyIdentifier);
        _subjectKeyId = ski is not null
            ? SubjectKeyIdentifier.GetInstance(X509ExtensionUtilities.FromExtensionValue(ski)).GetKeyIdentifier()
            : X509ExtensionUtilities.CreateSubjectKeyIdentifier(cert.GetPublicKey()).GetKeyIdentifier();
    }

    /// <summary>Exact Docker-style PEM text of the root certificate.</summary>
    public string CertificatePem { get; }

    /// <summary>UTF-8 of <see cref="CertificatePem"/>: what join tokens hash and what joiners are served.</summary>
    public byte[] CertificatePemBytes { get; }

    /// <summary>PKCS#8 PEM ("PRIVATE KEY") of the CA key, or null when this node cannot sign.</summary>
    public string? KeyPem { get; }

    public bool CanSign => _privateKey is not null;

    /// <summary>SHA-256 of <see cref="CertificatePemBytes"/> in lower-case hex (CACertHash is "sha256:" + this).</summary>
    public string Sha256Hex { get; }

    /// <summary>The root certificate (no private key).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>A new self-signed root: ECDSA P-256, CN=swarm-ca, 20 years from now - 1 h.</summary>
    public static RootCA Create(DateTimeOffset? now = null)
    {
        var keyPair = CryptoSupport.NewP256KeyPair();
        var notBefore = CryptoSupport.ToCertTime((now ?? DateTimeOffset.UtcNow) - CertBackdate);
        var notAfter = notBefore + RootCAExpiration;
        var name = CryptoSupport.Name((X509Name.CN, DefaultRootCN));

        var gen = new X509V3CertificateGenerator();
        gen.SetSerialNumber(CryptoSupport.NewSerial());
        gen.SetIssuerDN(name);
        gen.SetSubjectDN(name);
        gen.SetNotBefore(notBefore);
        gen.SetNotAfter(notAfter);
        gen.SetPublicKey(keyPair.Public);
        gen.AddExtension(X509Extensions.KeyUsage, true, new KeyUsage(KeyUsage.KeyCertSign | KeyUsage.CrlSign));
        gen.AddExtension(X509Extensions.BasicConstraints, true, new BasicConstraints(true));
        gen.AddExtension(X509Extensions.SubjectKeyIdentifier, false,
            X509ExtensionUtilities.CreateSubjectKeyIdentifier(keyPair.Public));

        var cert = gen.Generate(CryptoSupport.SignatureFactory(keyPair.Private));
        return new RootCA(cert, keyPair.Private);
    }

    /// <summary>
    /// Loads a root from its PEM (the first CERTIFICATE block) and, optionally, its PKCS#8 key PEM.
    /// Without a key the root can verify but not sign (a worker). Throws <see cref="FormatException"/>
    /// for unreadable input and <see cref="ArgumentException"/> when the key does not belong to the certificate.
    /// </summary>
    public static RootCA Load(string certificatePem, string? keyPem)
    {
        ArgumentNullException.ThrowIfNull(certificatePem);
        BcCertificate cert;
        try
        {
            cert = new X509CertificateParser().ReadCertificate(Pem.Decode(certificatePem, "CERTIFICATE"))
                ?? throw new FormatException("no certificate found");
        }
        catch (Exception e) when (e is not FormatException)
        {
            throw new FormatException("invalid CA certificate: " + e.Message, e);
        }

        AsymmetricKeyParameter? key = null;
        if (keyPem is not null)
        {
            try
            {
                key = CryptoSupport.ReadPrivateKey(keyPem);
            }
            catch (Exception e) when (e is not FormatException)
            {
                throw new FormatException("invalid CA key: " + e.Message, e);
            }
            if (!CryptoSupport.KeysMatch(key, cert.GetPublicKey()))
                throw new ArgumentException("the CA key does not match the CA certificate", nameof(keyPem));
        }
        return new RootCA(cert, key);
    }

    /// <summary>
    /// Signs a node certificate for a PKCS#10 CSR (DER). Only the CSR's public key is used; subject
    /// "O=clusterId, OU=role, CN=nodeId", DNS SANs [role, nodeId] (+ "swarm-ca" for managers),
    /// valid from now - 1 h to now + expiry (expiry below 1 h falls back to 90 days). Returns the leaf's PEM.
    /// </summary>
    public string SignNodeCertificate(byte[] csrDer, string nodeId, string role, string clusterId, TimeSpan expiry, DateTimeOffset? now = null)
    {
        ArgumentNullException.ThrowIfNull(csrDer);
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        if (role != NodeCertificates.ManagerRole && role != NodeCertificates.WorkerRole)
            throw new ArgumentException($"invalid role \"{role}\"", nameof(role));
        if (_privateKey is null)
            throw new InvalidOperationException("this root CA has no private key and cannot sign certificates");

        // Size first, then the key as encoded, then the key itself, then the signature: a joiner
        // must not make the CA parse megabytes, nor build a huge RSA key (BouncyCastle validates an
        // RSA modulus when it builds the key: 0.3 s at 2048 bits, 4 s at 8192, minutes beyond).
        if (csrDer.Length > MaxCsrLength)
            throw InvalidCsr($"{csrDer.Length} bytes, more than {MaxCsrLength}");
        AsymmetricKeyParameter publicKey;
        try
        {
            var csr = new Pkcs10CertificationRequest(csrDer);
            CheckCsrKey(csr.GetCertificationRequestInfo().SubjectPublicKeyInfo);
            publicKey = csr.GetPublicKey();
            if (!csr.Verify(publicKey)) throw InvalidCsr("bad signature"); // Verify() would build the key a second time
        }
        catch (ArgumentException) { throw; }
        catch (Exception e)
        {
            throw new ArgumentException("invalid certificate signing request: " + e.Message, nameof(csrDer), e);
        }

        if (expiry < MinNodeCertExpiration) expiry = DefaultNodeCertExpiration;
        var t = CryptoSupport.ToCertTime(now ?? DateTimeOffset.UtcNow);

        var dnsNames = new List<GeneralName> { new(GeneralName.DnsName, role), new(GeneralName.DnsName, nodeId) };
        if (role == NodeCertificates.ManagerRole) dnsNames.Add(new GeneralName(GeneralName.DnsName, DefaultRootCN));

        var gen = new X509V3CertificateGenerator();
        gen.SetSerialNumber(CryptoSupport.NewSerial());
        gen.SetIssuerDN(_bcCert.SubjectDN);
        gen.SetSubjectDN(CryptoSupport.Name((X509Name.O, clusterId), (X509Name.OU, role), (X509Name.CN, nodeId)));
        gen.SetNotBefore(t - CertBackdate);
        gen.SetNotAfter(t + expiry);
        gen.SetPublicKey(publicKey);
        gen.AddExtension(X509Extensions.KeyUsage, true, new KeyUsage(KeyUsage.DigitalSignature | KeyUsage.KeyEncipherment));
        gen.AddExtension(X509Extensions.ExtendedKeyUsage, false,
            new ExtendedKeyUsage(KeyPurposeID.id_kp_serverAuth, KeyPurposeID.id_kp_clientAuth));
        gen.AddExtension(X509Extensions.BasicConstraints, true, new BasicConstraints(false));
        gen.AddExtension(X509Extensions.SubjectKeyIdentifier, false, X509ExtensionUtilities.CreateSubjectKeyIdentifier(publicKey));
        gen.AddExtension(X509Extensions.AuthorityKeyIdentifier, false, new AuthorityKeyIdentifier(_subjectKeyId));
        gen.AddExtension(X509Extensions.SubjectAlternativeName, false, new GeneralNames(dnsNames.ToArray()));

        var leaf = gen.Generate(CryptoSupport.SignatureFactory(_privateKey));
        return Pem.Encode("CERTIFICATE", leaf.GetEncoded());
    }

    /// <summary>
    /// Key types a node certificate may have, checked on the encoded key before BouncyCastle builds
    /// (and validates, at a cost growing with its size) the key object.
    /// </summary>
    private static void CheckCsrKey(SubjectPublicKeyInfo spki)
    {
        var algorithm = spki.Algorithm.Algorithm;
        if (algorithm.Equals(X9ObjectIdentifiers.IdECPublicKey))
        {
            // Named curves only (explicit parameters could smuggle in a weak or huge curve), as Go's crypto/x509.
            if (spki.Algorithm.Parameters is not DerObjectIdentifier curve
                || !(curve.Equals(SecObjectIdentifiers.SecP256r1) || curve.Equals(SecObjectIdentifiers.SecP384r1)))
                throw InvalidCsr($"unsupported elliptic curve; use ECDSA P-256 or P-384 (or RSA with {MinRsaKeyBits} to {MaxRsaKeyBits} bits)");
        }
        else if (algorithm.Equals(PkcsObjectIdentifiers.RsaEncryption))
        {
            var rsa = RsaPublicKeyStructure.GetInstance(spki.ParsePublicKey());
            int bits = rsa.Modulus.BitLength;
            if (bits is < MinRsaKeyBits or > MaxRsaKeyBits)
                throw InvalidCsr($"RSA key of {bits} bits; use {MinRsaKeyBits} to {MaxRsaKeyBits} bits (or ECDSA P-256 or P-384)");
            if (!rsa.PublicExponent.TestBit(0) || rsa.PublicExponent.BitLength < 2)
                throw InvalidCsr("RSA public exponent must be odd and at least 3");
        }
        else
        {
            throw InvalidCsr($"unsupported key type {KeyTypeName(algorithm)}; use ECDSA P-256 or P-384, or RSA with {MinRsaKeyBits} to {MaxRsaKeyBits} bits");
        }
    }

    private static string KeyTypeName(DerObjectIdentifier algorithm) => algorithm.Id switch
    {
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.2.840.10040.4.1" => "DSA",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        var oid => oid,
    };

    private static ArgumentException InvalidCsr(string why) =>
        new("invalid certificate signing request: " + why, "csrDer");

    /// <summary>True when the certificate was issued by this root (name and signature) and is valid now.</summary>
    public bool Verifies(X509Certificate2 leaf) => Verifies(leaf, DateTimeOffset.UtcNow);

    /// <summary>
    /// True when the certificate was issued by this root (name and signature) and both are valid at
    /// <paramref name="now"/>; with null, the validity periods are not checked (proof that an
    /// expired certificate was once this swarm's).
    /// </summary>
    public bool Verifies(X509Certificate2 leaf, DateTimeOffset? now)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        try
        {
            var cert = new X509CertificateParser().ReadCertificate(leaf.RawData);
            if (cert is null || !cert.IssuerDN.Equivalent(_bcCert.SubjectDN, true)) return false;
            cert.Verify(_bcCert.GetPublicKey());
            if (now is not { } at) return true;
            var t = at.UtcDateTime;
            return cert.IsValid(t) && _bcCert.IsValid(t);
        }
        catch (Exception)
        {
            // Any parse or signature failure means "not issued by this root".
            return false;
        }
    }
}
