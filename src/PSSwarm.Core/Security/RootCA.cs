using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace PSSwarm.Core.Security;

/// <summary>
/// The swarm's root CA (swarmkit <c>ca/certificates.go</c> CreateRootCA / ParseValidateAndSignCSR,
/// with cfssl's certificate profiles), built on .NET's own X.509 and ASN.1 support.
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
    // Any token holder can send a CSR, and checking an RSA signature costs more the bigger the key
    // (the managed library used before even validated the modulus: 0.3 s at 2048 bits, 4 s at 8192):
    // 4096 bits is the ceiling, checked on the encoded key before any key object is built.
    public const int MaxRsaKeyBits = 4096;

    // The CA key (ECDSA; an RSA key can be loaded, and matched, but not sign) and a lock: .NET does not
    // promise that one key object may sign on several threads at once.
    private readonly AsymmetricAlgorithm? _privateKey;
    private readonly object _signLock = new();
    private readonly byte[] _subjectKeyId;

    private RootCA(X509Certificate2 cert, AsymmetricAlgorithm? privateKey)
    {
        Certificate = cert;
        _privateKey = privateKey;
        CertificatePem = Pem.Encode("CERTIFICATE", cert.RawData);
        CertificatePemBytes = Encoding.UTF8.GetBytes(CertificatePem);
        Sha256Hex = Convert.ToHexStringLower(SHA256.HashData(CertificatePemBytes));
        _subjectKeyId = cert.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault() is { } ski
            ? ski.SubjectKeyIdentifierBytes.ToArray()
            : CryptoSupport.KeyIdentifier(cert.PublicKey);
    }

    /// <summary>Exact Docker-style PEM text of the root certificate.</summary>
    public string CertificatePem { get; }

    /// <summary>UTF-8 of <see cref="CertificatePem"/>: what join tokens hash and what joiners are served.</summary>
    public byte[] CertificatePemBytes { get; }

    /// <summary>PKCS#8 PEM ("PRIVATE KEY") of the CA key, or null when this node cannot sign.</summary>
    public string? KeyPem => _privateKey is null ? null : _keyPem ??= CryptoSupport.ToPkcs8Pem(_privateKey);
    private string? _keyPem;

    public bool CanSign => _privateKey is not null;

    /// <summary>SHA-256 of <see cref="CertificatePemBytes"/> in lower-case hex (CACertHash is "sha256:" + this).</summary>
    public string Sha256Hex { get; }

    /// <summary>The root certificate (no private key).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>A new self-signed root: ECDSA P-256, CN=swarm-ca, 20 years from now - 1 h.</summary>
    public static RootCA Create(DateTimeOffset? now = null)
    {
        var key = CryptoSupport.NewP256Key();
        try
        {
            var notBefore = CryptoSupport.ToCertTime((now ?? DateTimeOffset.UtcNow) - CertBackdate);
            var notAfter = notBefore + RootCAExpiration;
            var name = CryptoSupport.Name((CryptoSupport.OidCommonName, DefaultRootCN));

            var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(CryptoSupport.KeyIdentifier(request.PublicKey), critical: false));

            var cert = request.Create(name, X509SignatureGenerator.CreateForECDsa(key), notBefore, notAfter, CryptoSupport.NewSerial());
            return new RootCA(cert, key);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads a root from its PEM (the first CERTIFICATE block) and, optionally, its PKCS#8 key PEM.
    /// Without a key the root can verify but not sign (a worker). Throws <see cref="FormatException"/>
    /// for unreadable input and <see cref="ArgumentException"/> when the key does not belong to the certificate.
    /// </summary>
    public static RootCA Load(string certificatePem, string? keyPem)
    {
        ArgumentNullException.ThrowIfNull(certificatePem);
        X509Certificate2 cert;
        try
        {
            cert = X509CertificateLoader.LoadCertificate(Pem.Decode(certificatePem, "CERTIFICATE"));
        }
        catch (Exception e) when (e is not FormatException)
        {
            throw new FormatException("invalid CA certificate: " + e.Message, e);
        }

        AsymmetricAlgorithm? key = null;
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
            if (!CryptoSupport.KeysMatch(key, cert.PublicKey))
            {
                key?.Dispose();
                throw new ArgumentException("the CA key does not match the CA certificate", nameof(keyPem));
            }
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
        if (_privateKey is not ECDsa caKey)
            throw new InvalidOperationException("this root CA's key is not an ECDSA key and cannot sign certificates");

        // Size first, then the structure, then the key as encoded, then the key itself, then the
        // signature (once): a joiner must not make the CA parse megabytes, nor build a huge RSA key.
        if (csrDer.Length > MaxCsrLength)
            throw InvalidCsr($"{csrDer.Length} bytes, more than {MaxCsrLength}");
        PublicKey publicKey;
        try
        {
            var csr = ReadCsr(csrDer);
            bool isEc = CheckCsrKey(csr.SubjectPublicKeyInfo);
            using AsymmetricAlgorithm key = isEc ? ECDsa.Create() : RSA.Create();
            key.ImportSubjectPublicKeyInfo(csr.SubjectPublicKeyInfo.Span, out int read);
            if (read != csr.SubjectPublicKeyInfo.Length) throw InvalidCsr("data after the public key");
            if (!CryptoSupport.VerifySignature(key, csr.Signed.Tbs.Span, csr.Signed.Algorithm, csr.Signed.Signature.Span, csr.Signed.UnusedBits))
                throw InvalidCsr("bad signature");
            // The key as the certificate carries it: re-encoded (EC points uncompressed, RSA with NULL parameters).
            publicKey = PublicKey.CreateFromSubjectPublicKeyInfo(key.ExportSubjectPublicKeyInfo(), out _);
        }
        catch (ArgumentException e) when (e.ParamName == nameof(csrDer)) { throw; }
        catch (Exception e)
        {
            throw new ArgumentException("invalid certificate signing request: " + e.Message, nameof(csrDer), e);
        }

        if (expiry < MinNodeCertExpiration) expiry = DefaultNodeCertExpiration;
        var t = CryptoSupport.ToCertTime(now ?? DateTimeOffset.UtcNow);

        var request = new CertificateRequest(
            CryptoSupport.Name((CryptoSupport.OidOrganization, clusterId), (CryptoSupport.OidOrganizationalUnit, role), (CryptoSupport.OidCommonName, nodeId)),
            publicKey, HashAlgorithmName.SHA256);
        var extensions = request.CertificateExtensions;
        extensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, critical: true));
        extensions.Add(new X509EnhancedKeyUsageExtension(
            new OidCollection { new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2") }, critical: false)); // serverAuth, clientAuth
        extensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        extensions.Add(new X509SubjectKeyIdentifierExtension(CryptoSupport.KeyIdentifier(publicKey), critical: false));
        extensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(_subjectKeyId));
        extensions.Add(DnsNames(role == NodeCertificates.ManagerRole ? [role, nodeId, DefaultRootCN] : [role, nodeId]));

        byte[] der;
        lock (_signLock)
        {
            using var leaf = request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey),
                t - CertBackdate, t + expiry, CryptoSupport.NewSerial());
            der = leaf.RawData;
        }
        return Pem.Encode("CERTIFICATE", der);
    }

    /// <summary>
    /// subjectAltName with these DNS names, in this order, as IA5Strings exactly as given
    /// (SubjectAlternativeNameBuilder would put them through IDN mapping).
    /// </summary>
    private static X509Extension DnsNames(string[] names)
    {
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            foreach (var name in names)
                w.WriteCharacterString(UniversalTagNumber.IA5String, name, new Asn1Tag(TagClass.ContextSpecific, 2));
        }
        return new X509Extension("2.5.29.17", w.Encode(), critical: false);
    }

    private readonly record struct Csr(CryptoSupport.Signed Signed, ReadOnlyMemory<byte> SubjectPublicKeyInfo);

    /// <summary>
    /// The parts of a PKCS#10 request: CertificationRequest ::= SEQUENCE { CertificationRequestInfo ::=
    /// SEQUENCE { version, subject Name, SubjectPublicKeyInfo, [0] attributes }, AlgorithmIdentifier, BIT STRING }.
    /// As lenient as the CA always was: any version, attributes optional and not looked into.
    /// </summary>
    private static Csr ReadCsr(byte[] csrDer)
    {
        var signed = CryptoSupport.ReadSigned(csrDer);
        var info = new AsnReader(signed.Tbs, AsnEncodingRules.DER).ReadSequence();
        info.ReadInteger();
        var subject = info.ReadSequence();
        while (subject.HasData)
        {
            var rdn = subject.ReadSetOf(skipSortOrderValidation: true);
            do
            {
                var attribute = rdn.ReadSequence();
                attribute.ReadObjectIdentifier();
                attribute.ReadEncodedValue();
                attribute.ThrowIfNotEmpty();
            } while (rdn.HasData);
        }
        var spki = info.ReadEncodedValue();
        if (info.HasData) info.ReadSetOf(skipSortOrderValidation: true, new Asn1Tag(TagClass.ContextSpecific, 0));
        info.ThrowIfNotEmpty();
        return new Csr(signed, spki);
    }

    /// <summary>
    /// Key types a node certificate may have, checked on the encoded key before any key object is
    /// built (building, and validating, an RSA key costs more the bigger it is). True for ECDSA, false for RSA.
    /// </summary>
    private static bool CheckCsrKey(ReadOnlyMemory<byte> subjectPublicKeyInfo)
    {
        var spki = new AsnReader(subjectPublicKeyInfo, AsnEncodingRules.DER).ReadSequence();
        var algorithmIdentifier = spki.ReadSequence();
        var algorithm = algorithmIdentifier.ReadObjectIdentifier();
        ReadOnlyMemory<byte>? parameters = null; // not an empty value: absent
        if (algorithmIdentifier.HasData) parameters = algorithmIdentifier.ReadEncodedValue();
        algorithmIdentifier.ThrowIfNotEmpty();
        if (!spki.TryReadPrimitiveBitString(out int unusedBits, out var publicKey) || unusedBits != 0)
            throw new AsnContentException("the public key is not a BIT STRING of whole bytes");
        spki.ThrowIfNotEmpty();

        if (algorithm == CryptoSupport.OidEcPublicKey)
        {
            // Named curves only (explicit parameters could smuggle in a weak or huge curve), as Go's crypto/x509.
            string? curve = parameters is { } p && Asn1Tag.TryDecode(p.Span, out var tag, out _) && tag == Asn1Tag.ObjectIdentifier
                ? new AsnReader(p, AsnEncodingRules.DER).ReadObjectIdentifier()
                : null;
            if (curve is not (CryptoSupport.OidNistP256 or CryptoSupport.OidNistP384))
                throw InvalidCsr($"unsupported elliptic curve; use ECDSA P-256 or P-384 (or RSA with {MinRsaKeyBits} to {MaxRsaKeyBits} bits)");
            return true;
        }
        if (algorithm == CryptoSupport.OidRsaEncryption)
        {
            // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
            var outer = new AsnReader(publicKey, AsnEncodingRules.DER);
            var rsa = outer.ReadSequence();
            outer.ThrowIfNotEmpty();
            var modulus = rsa.ReadIntegerBytes();
            var exponent = rsa.ReadIntegerBytes();
            rsa.ThrowIfNotEmpty();
            int bits = CryptoSupport.PositiveBitLength(modulus.Span);
            if (bits < 0) throw InvalidCsr("not a valid RSA modulus");
            int exponentBits = CryptoSupport.PositiveBitLength(exponent.Span);
            if (exponentBits < 0) throw InvalidCsr("not a valid RSA public exponent");
            if (bits is < MinRsaKeyBits or > MaxRsaKeyBits)
                throw InvalidCsr($"RSA key of {bits} bits; use {MinRsaKeyBits} to {MaxRsaKeyBits} bits (or ECDSA P-256 or P-384)");
            if ((exponent.Span[^1] & 1) == 0 || exponentBits < 2)
                throw InvalidCsr("RSA public exponent must be odd and at least 3");
            return false;
        }
        throw InvalidCsr($"unsupported key type {KeyTypeName(algorithm)}; use ECDSA P-256 or P-384, or RSA with {MinRsaKeyBits} to {MaxRsaKeyBits} bits");
    }

    private static string KeyTypeName(string algorithm) => algorithm switch
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

    /// <summary>Whether a certificate's basic constraints say CA:TRUE (it may issue certificates).</summary>
    public static bool IsCertificateAuthority(X509Certificate2 certificate)
        => certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority);

    /// <summary>
    /// The key identifier of this root's key (its SubjectKeyIdentifier, lower-case hex): what the
    /// AuthorityKeyIdentifier of every certificate it signs carries (<see cref="NodeCertificates.IssuerKeyId"/>).
    /// </summary>
    public string KeyId => Convert.ToHexStringLower(_subjectKeyId);

    /// <summary>
    /// A cross-signed intermediate for a root rotation (swarmkit's CrossSignedCACert): the subject,
    /// public key and key identifier of <paramref name="next"/>, issued by this root and signed with
    /// its key. A node that trusts only this root verifies a certificate signed by the next root's
    /// key through it. Valid from now - 1 h until the earlier of the two roots' expiries. Returns its PEM.
    /// </summary>
    public string CrossSign(RootCA next, DateTimeOffset? now = null)
    {
        ArgumentNullException.ThrowIfNull(next);
        if (_privateKey is not ECDsa caKey)
            throw new InvalidOperationException("this root CA has no ECDSA private key and cannot cross-sign");
        var t = CryptoSupport.ToCertTime(now ?? DateTimeOffset.UtcNow);
        var notAfter = new DateTimeOffset[] { Certificate.NotAfter.ToUniversalTime(), next.Certificate.NotAfter.ToUniversalTime() }.Min();
        var request = new CertificateRequest(next.Certificate.SubjectName, next.Certificate.PublicKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(next._subjectKeyId, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(_subjectKeyId));
        lock (_signLock)
        {
            using var cert = request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey),
                t - CertBackdate, notAfter, CryptoSupport.NewSerial());
            return Pem.Encode("CERTIFICATE", cert.RawData);
        }
    }

    /// <summary>
    /// True when <paramref name="leaf"/> was issued by this root directly, or by the key of one of
    /// <paramref name="intermediates"/> that this root issued (a cross-signed intermediate of a
    /// rotation) and that is a CA; every certificate on the path valid at <paramref name="now"/>.
    /// </summary>
    public bool Verifies(X509Certificate2 leaf, DateTimeOffset? now, IEnumerable<X509Certificate2>? intermediates)
    {
        if (Verifies(leaf, now)) return true;
        if (intermediates is null) return false;
        foreach (var intermediate in intermediates)
        {
            if (intermediate.RawData.AsSpan().SequenceEqual(leaf.RawData)) continue;
            if (!IsCertificateAuthority(intermediate)) continue;
            if (!Verifies(intermediate, now)) continue;
            if (new RootCA(intermediate, null).Verifies(leaf, now)) return true;
        }
        return false;
    }

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
            if (!SameName(leaf.IssuerName, Certificate.SubjectName)) return false;
            var signed = CryptoSupport.ReadSigned(leaf.RawData);
            // TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature AlgorithmIdentifier, ... }:
            // its signature algorithm must be the outer one (RFC 5280 4.1.1.2).
            var tbs = new AsnReader(signed.Tbs, AsnEncodingRules.DER).ReadSequence();
            if (tbs.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0))) tbs.ReadEncodedValue();
            tbs.ReadIntegerBytes();
            if (!SameAlgorithm(tbs.ReadEncodedValue(), signed.Algorithm)) return false;

            // A key object per call: the TLS callbacks of many connections verify at once.
            using AsymmetricAlgorithm? key = (AsymmetricAlgorithm?)Certificate.GetECDsaPublicKey() ?? Certificate.GetRSAPublicKey();
            if (key is null || !CryptoSupport.VerifySignature(key, signed.Tbs.Span, signed.Algorithm, signed.Signature.Span, signed.UnusedBits))
                return false;
            if (now is not { } at) return true;
            var t = at.UtcDateTime;
            return IsValidAt(leaf, t) && IsValidAt(Certificate, t);
        }
        catch (Exception)
        {
            // Any parse or signature failure means "not issued by this root".
            return false;
        }
    }

    private static bool IsValidAt(X509Certificate2 cert, DateTime utc) =>
        utc >= cert.NotBefore.ToUniversalTime() && utc <= cert.NotAfter.ToUniversalTime();

    /// <summary>Same algorithm and parameters, absent parameters counting as NULL ones.</summary>
    private static bool SameAlgorithm(ReadOnlyMemory<byte> a, ReadOnlyMemory<byte> b)
    {
        if (a.Span.SequenceEqual(b.Span)) return true;
        static (string Oid, ReadOnlyMemory<byte> Parameters) Read(ReadOnlyMemory<byte> encoded)
        {
            var seq = new AsnReader(encoded, AsnEncodingRules.DER).ReadSequence();
            var oid = seq.ReadObjectIdentifier();
            var parameters = seq.HasData ? seq.ReadEncodedValue() : new byte[] { 0x05, 0x00 };
            seq.ThrowIfNotEmpty();
            return (oid, parameters);
        }
        var (oidA, parametersA) = Read(a);
        var (oidB, parametersB) = Read(b);
        return oidA == oidB && parametersA.Span.SequenceEqual(parametersB.Span);
    }

    /// <summary>
    /// Names compared as X.500 names, as the CA always compared them: the same
    /// attributes in the same order, string values equal ignoring case and runs of spaces.
    /// </summary>
    private static bool SameName(X500DistinguishedName a, X500DistinguishedName b)
    {
        if (a.RawData.AsSpan().SequenceEqual(b.RawData)) return true;
        var x = a.EnumerateRelativeDistinguishedNames(reversed: false).ToList();
        var y = b.EnumerateRelativeDistinguishedNames(reversed: false).ToList();
        if (x.Count != y.Count) return false;
        for (int i = 0; i < x.Count; i++)
        {
            if (x[i].RawData.Span.SequenceEqual(y[i].RawData.Span)) continue;
            if (x[i].HasMultipleElements || y[i].HasMultipleElements) return false;
            if (x[i].GetSingleElementType().Value != y[i].GetSingleElementType().Value) return false;
            if (x[i].GetSingleElementValue() is not { } vx || y[i].GetSingleElementValue() is not { } vy) return false;
            if (Canonical(vx) != Canonical(vy)) return false;
        }
        return true;

        static string Canonical(string value) =>
            string.Join(' ', value.Trim().ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }
}
