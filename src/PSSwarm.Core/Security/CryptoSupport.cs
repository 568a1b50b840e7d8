using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PSSwarm.Core.Security;

/// <summary>
/// Shared plumbing for the CA and node keys, on the .NET shared framework only
/// (System.Security.Cryptography and System.Formats.Asn1: nothing extra to load in the daemon).
/// </summary>
internal static class CryptoSupport
{
    internal const string OidEcPublicKey = "1.2.840.10045.2.1";
    internal const string OidRsaEncryption = "1.2.840.113549.1.1.1";
    internal const string OidRsaPss = "1.2.840.113549.1.1.10";
    internal const string OidMgf1 = "1.2.840.113549.1.1.8";
    internal const string OidNistP256 = "1.2.840.10045.3.1.7";
    internal const string OidNistP384 = "1.3.132.0.34";
    internal const string OidCommonName = "2.5.4.3";
    internal const string OidOrganization = "2.5.4.10";
    internal const string OidOrganizationalUnit = "2.5.4.11";

    internal static ECDsa NewP256Key() => ECDsa.Create(ECCurve.NamedCurves.nistP256);

    /// <summary>
    /// PKCS#8 "PRIVATE KEY" PEM of a private key. An EC key is written as OpenSSL (and the CA's
    /// earlier managed crypto library) write it: the SEC1 ECPrivateKey inside keeps its curve and
    /// public key, so keys written before and after the move to .NET's crypto are byte-for-byte alike.
    /// </summary>
    internal static string ToPkcs8Pem(AsymmetricAlgorithm privateKey) => privateKey switch
    {
        ECDsa ec => Pem.Encode("PRIVATE KEY", EcPkcs8(ec)),
        _ => Pem.Encode("PRIVATE KEY", privateKey.ExportPkcs8PrivateKey()),
    };

    private static byte[] EcPkcs8(ECDsa key)
    {
        var curve = key.ExportParameters(false).Curve;
        if (!curve.IsNamed || curve.Oid.Value is not { } curveOid)
            return key.ExportPkcs8PrivateKey();
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            w.WriteInteger(0);
            using (w.PushSequence())
            {
                w.WriteObjectIdentifier(OidEcPublicKey);
                w.WriteObjectIdentifier(curveOid);
            }
            w.WriteOctetString(key.ExportECPrivateKey()); // version 1, private key, [0] curve, [1] public key
        }
        return w.Encode();
    }

    /// <summary>
    /// Reads a PKCS#8 "PRIVATE KEY" PEM (or, for convenience, a SEC1 "EC PRIVATE KEY" PEM): an
    /// <see cref="ECDsa"/> or <see cref="RSA"/> key. Returns null for a well-formed key of another
    /// type (DSA, Ed25519...), which can match no certificate of ours.
    /// </summary>
    internal static AsymmetricAlgorithm? ReadPrivateKey(string keyPem)
    {
        if (keyPem.Contains("-----BEGIN PRIVATE KEY-----", StringComparison.Ordinal))
        {
            var pkcs8 = Pem.Decode(keyPem, "PRIVATE KEY");
            // PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier { algorithm, parameters }, privateKey OCTET STRING, ... }
            var info = new AsnReader(pkcs8, AsnEncodingRules.DER).ReadSequence();
            info.ReadInteger();
            var algorithm = info.ReadSequence().ReadObjectIdentifier();
            switch (algorithm)
            {
                case OidEcPublicKey:
                {
                    var ec = ECDsa.Create();
                    try { ec.ImportPkcs8PrivateKey(pkcs8, out int read); if (read != pkcs8.Length) throw new FormatException("data after the private key"); }
                    catch { ec.Dispose(); throw; }
                    return ec;
                }
                case OidRsaEncryption:
                {
                    var rsa = RSA.Create();
                    try { rsa.ImportPkcs8PrivateKey(pkcs8, out int read); if (read != pkcs8.Length) throw new FormatException("data after the private key"); }
                    catch { rsa.Dispose(); throw; }
                    return rsa;
                }
                default:
                    info.ReadOctetString();
                    return null;
            }
        }
        if (keyPem.Contains("-----BEGIN EC PRIVATE KEY-----", StringComparison.Ordinal))
        {
            var ec = ECDsa.Create();
            try { ec.ImportFromPem(keyPem); }
            catch { ec.Dispose(); throw; }
            return ec;
        }
        throw new FormatException("no PEM block of type \"PRIVATE KEY\" found");
    }

    /// <summary>
    /// True when the private key belongs to the public key. The imported private key's public half
    /// is consistent with it (OpenSSL checks that on import), so comparing public halves suffices.
    /// </summary>
    internal static bool KeysMatch(AsymmetricAlgorithm? privateKey, PublicKey publicKey)
    {
        try
        {
            switch (privateKey)
            {
                case ECDsa priv:
                {
                    using var pub = publicKey.GetECDsaPublicKey();
                    if (pub is null) return false;
                    var a = priv.ExportParameters(false);
                    var b = pub.ExportParameters(false);
                    return SameCurve(a.Curve, b.Curve)
                        && a.Q.X.AsSpan().SequenceEqual(b.Q.X) && a.Q.Y.AsSpan().SequenceEqual(b.Q.Y);
                }
                case RSA priv:
                {
                    using var pub = publicKey.GetRSAPublicKey();
                    if (pub is null) return false;
                    var a = priv.ExportParameters(false);
                    var b = pub.ExportParameters(false);
                    return a.Modulus.AsSpan().SequenceEqual(b.Modulus) && a.Exponent.AsSpan().SequenceEqual(b.Exponent);
                }
                default:
                    return false;
            }
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static bool SameCurve(ECCurve a, ECCurve b) =>
        a.IsNamed && b.IsNamed
            ? a.Oid.Value is { } oid && oid == b.Oid.Value
            : a.IsExplicit && b.IsExplicit && a.Prime.AsSpan().SequenceEqual(b.Prime) && a.A.AsSpan().SequenceEqual(b.A)
              && a.B.AsSpan().SequenceEqual(b.B) && a.G.X.AsSpan().SequenceEqual(b.G.X) && a.G.Y.AsSpan().SequenceEqual(b.G.Y)
              && a.Order.AsSpan().SequenceEqual(b.Order);

    /// <summary>
    /// A random positive serial number of up to 159 bits (RFC 5280: at most 20 octets), as cfssl:
    /// big-endian, minimal (no leading zero octet), never zero.
    /// </summary>
    internal static byte[] NewSerial()
    {
        Span<byte> bytes = stackalloc byte[20];
        RandomNumberGenerator.Fill(bytes);
        bytes[0] &= 0x7f;
        int skip = 0;
        while (skip < bytes.Length - 1 && bytes[skip] == 0) skip++;
        var serial = bytes[skip..].ToArray();
        return serial is [0] ? [1] : serial;
    }

    /// <summary>X.509 times have whole seconds.</summary>
    internal static DateTime ToCertTime(DateTimeOffset t)
    {
        var utc = t.UtcDateTime;
        return new DateTime(utc.Ticks - utc.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
    }

    /// <summary>An X.509 name with its RDNs in exactly the given order (DER order), values as UTF8String.</summary>
    internal static X500DistinguishedName Name(params (string Oid, string Value)[] rdns)
    {
        // The builder writes the RDNs in the reverse order of the Add calls (most specific added first).
        var builder = new X500DistinguishedNameBuilder();
        for (int i = rdns.Length - 1; i >= 0; i--) builder.Add(rdns[i].Oid, rdns[i].Value, UniversalTagNumber.UTF8String);
        return builder.Build();
    }

    /// <summary>
    /// The SHA-1 key identifier of a public key (RFC 5280 4.2.1.2 method 1: the hash of the
    /// subjectPublicKey BIT STRING's value), as Go and cfssl compute it.
    /// </summary>
    internal static byte[] KeyIdentifier(PublicKey publicKey) => SHA1.HashData(publicKey.EncodedKeyValue.RawData);

    /// <summary>The parts of a signed ASN.1 structure (certificate or PKCS#10 request): SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING }.</summary>
    internal readonly record struct Signed(ReadOnlyMemory<byte> Tbs, ReadOnlyMemory<byte> Algorithm, ReadOnlyMemory<byte> Signature, int UnusedBits);

    /// <summary>Splits a DER SEQUENCE { tbs, algorithm, signature } with nothing after it. Throws <see cref="AsnContentException"/>.</summary>
    internal static Signed ReadSigned(ReadOnlyMemory<byte> der)
    {
        var outer = new AsnReader(der, AsnEncodingRules.DER);
        var seq = outer.ReadSequence();
        outer.ThrowIfNotEmpty();
        var tbs = seq.ReadEncodedValue();
        var algorithm = seq.ReadEncodedValue();
        if (!seq.TryReadPrimitiveBitString(out int unused, out var signature))
            throw new AsnContentException("the signature is not a primitive BIT STRING");
        seq.ThrowIfNotEmpty();
        return new Signed(tbs, algorithm, signature, unused);
    }

    /// <summary>
    /// Verifies a signature by <paramref name="key"/> (ECDsa or RSA) over <paramref name="data"/>:
    /// ECDSA or RSA PKCS#1 v1.5 with SHA-1, SHA-256, SHA-384 or SHA-512, or RSASSA-PSS (the
    /// algorithms .NET's CertificateRequest.LoadSigningRequest verifies). Returns false for a
    /// signature that does not verify, or an algorithm that does not fit the key; throws
    /// <see cref="NotSupportedException"/> for any other signature algorithm.
    /// </summary>
    internal static bool VerifySignature(AsymmetricAlgorithm key, ReadOnlySpan<byte> data, ReadOnlyMemory<byte> algorithmIdentifier,
        ReadOnlySpan<byte> signature, int unusedBits)
    {
        var alg = new AsnReader(algorithmIdentifier, AsnEncodingRules.DER).ReadSequence();
        var oid = alg.ReadObjectIdentifier();
        ReadOnlyMemory<byte>? parameters = null; // not an empty value: absent
        if (alg.HasData) parameters = alg.ReadEncodedValue();
        alg.ThrowIfNotEmpty();

        if (oid == OidRsaPss)
        {
            if (parameters is not { } pss || !TryReadPss(pss, out var pssHash)) throw new NotSupportedException("unsupported RSASSA-PSS parameters");
            return unusedBits == 0 && key is RSA pssKey && pssKey.VerifyData(data, signature, pssHash, RSASignaturePadding.Pss);
        }

        (HashAlgorithmName hash, bool ecdsa) = oid switch
        {
            "1.2.840.10045.4.1" => (HashAlgorithmName.SHA1, true),
            "1.2.840.10045.4.3.2" => (HashAlgorithmName.SHA256, true),
            "1.2.840.10045.4.3.3" => (HashAlgorithmName.SHA384, true),
            "1.2.840.10045.4.3.4" => (HashAlgorithmName.SHA512, true),
            "1.2.840.113549.1.1.5" => (HashAlgorithmName.SHA1, false),
            "1.2.840.113549.1.1.11" => (HashAlgorithmName.SHA256, false),
            "1.2.840.113549.1.1.12" => (HashAlgorithmName.SHA384, false),
            "1.2.840.113549.1.1.13" => (HashAlgorithmName.SHA512, false),
            _ => throw new NotSupportedException("unsupported signature algorithm " + SignatureAlgorithmName(oid)),
        };
        // No parameters are defined for these (RSA ones are written as NULL).
        if (parameters is { } p && !p.Span.SequenceEqual((ReadOnlySpan<byte>)[0x05, 0x00])) return false;
        if (unusedBits != 0) return false;
        return (key, ecdsa) switch
        {
            (ECDsa ec, true) => ec.VerifyData(data, signature, hash, DSASignatureFormat.Rfc3279DerSequence),
            (RSA rsa, false) => rsa.VerifyData(data, signature, hash, RSASignaturePadding.Pkcs1),
            _ => false,
        };
    }

    /// <summary>RSASSA-PSS-params (RFC 4055) as .NET verifies them: MGF1 with the same hash, salt as long as the hash, trailer 1.</summary>
    private static bool TryReadPss(ReadOnlyMemory<byte> encoded, out HashAlgorithmName hash)
    {
        hash = HashAlgorithmName.SHA1;
        var seq = new AsnReader(encoded, AsnEncodingRules.DER).ReadSequence();
        string hashOid = "1.3.14.3.2.26", mgfHashOid = "1.3.14.3.2.26";
        int salt = 20, trailer = 1;
        var hashTag = new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true);
        var mgfTag = new Asn1Tag(TagClass.ContextSpecific, 1, isConstructed: true);
        var saltTag = new Asn1Tag(TagClass.ContextSpecific, 2, isConstructed: true);
        var trailerTag = new Asn1Tag(TagClass.ContextSpecific, 3, isConstructed: true);
        if (seq.HasData && seq.PeekTag().HasSameClassAndValue(hashTag))
            hashOid = seq.ReadSequence(hashTag).ReadSequence().ReadObjectIdentifier();
        if (seq.HasData && seq.PeekTag().HasSameClassAndValue(mgfTag))
        {
            var mgf = seq.ReadSequence(mgfTag).ReadSequence();
            if (mgf.ReadObjectIdentifier() != OidMgf1) return false;
            mgfHashOid = mgf.ReadSequence().ReadObjectIdentifier();
        }
        if (seq.HasData && seq.PeekTag().HasSameClassAndValue(saltTag))
        {
            if (!seq.ReadSequence(saltTag).TryReadInt32(out salt)) return false;
        }
        if (seq.HasData && seq.PeekTag().HasSameClassAndValue(trailerTag))
        {
            if (!seq.ReadSequence(trailerTag).TryReadInt32(out trailer)) return false;
        }
        seq.ThrowIfNotEmpty();
        (hash, int size) = hashOid switch
        {
            "1.3.14.3.2.26" => (HashAlgorithmName.SHA1, 20),
            "2.16.840.1.101.3.4.2.1" => (HashAlgorithmName.SHA256, 32),
            "2.16.840.1.101.3.4.2.2" => (HashAlgorithmName.SHA384, 48),
            "2.16.840.1.101.3.4.2.3" => (HashAlgorithmName.SHA512, 64),
            _ => (default, 0),
        };
        return size != 0 && mgfHashOid == hashOid && salt == size && trailer == 1;
    }

    private static string SignatureAlgorithmName(string oid) => oid switch
    {
        "1.2.840.113549.1.1.4" => "MD5-RSA",
        "1.2.840.113549.1.1.14" => "SHA224-RSA",
        "1.2.840.10045.4.3.1" => "ECDSA-SHA224",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        _ => oid,
    };

    /// <summary>Bit length of a DER INTEGER's magnitude, or -1 when it is not positive.</summary>
    internal static int PositiveBitLength(ReadOnlySpan<byte> integer)
    {
        if (integer.IsEmpty || (integer[0] & 0x80) != 0) return -1;
        int i = 0;
        while (i < integer.Length && integer[i] == 0) i++;
        if (i == integer.Length) return -1;
        return (integer.Length - i - 1) * 8 + (32 - BitOperations.LeadingZeroCount((uint)integer[i]));
    }
}
