using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Operators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Prng;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Pkcs;
using Org.BouncyCastle.Security;
using System.Security.Cryptography;

namespace PSSwarm.Core.Security;

/// <summary>Shared BouncyCastle plumbing for the CA and node keys.</summary>
internal static class CryptoSupport
{
    internal const string SignatureAlgorithm = "SHA256WITHECDSA";

    /// <summary>Backed by the OS CSPRNG (RandomNumberGenerator), so it is thread-safe.</summary>
    internal static readonly SecureRandom Random = new(new CryptoApiRandomGenerator());

    internal static AsymmetricCipherKeyPair NewP256KeyPair()
    {
        var generator = new ECKeyPairGenerator("EC");
        generator.Init(new ECKeyGenerationParameters(SecObjectIdentifiers.SecP256r1, Random));
        return generator.GenerateKeyPair();
    }

    internal static ISignatureFactory SignatureFactory(AsymmetricKeyParameter privateKey) =>
        new Asn1SignatureFactory(SignatureAlgorithm, privateKey, Random);

    /// <summary>PKCS#8 "PRIVATE KEY" PEM of a private key.</summary>
    internal static string ToPkcs8Pem(AsymmetricKeyParameter privateKey) =>
        Pem.Encode("PRIVATE KEY", PrivateKeyInfoFactory.CreatePrivateKeyInfo(privateKey).GetDerEncoded());

    /// <summary>Reads a PKCS#8 "PRIVATE KEY" PEM (or, for convenience, a SEC1 "EC PRIVATE KEY" PEM).</summary>
    internal static AsymmetricKeyParameter ReadPrivateKey(string keyPem)
    {
        byte[] pkcs8;
        if (keyPem.Contains("-----BEGIN PRIVATE KEY-----", StringComparison.Ordinal))
        {
            pkcs8 = Pem.Decode(keyPem, "PRIVATE KEY");
        }
        else if (keyPem.Contains("-----BEGIN EC PRIVATE KEY-----", StringComparison.Ordinal))
        {
            using var ec = ECDsa.Create();
            ec.ImportFromPem(keyPem);
            pkcs8 = ec.ExportPkcs8PrivateKey();
        }
        else
        {
            throw new FormatException("no PEM block of type \"PRIVATE KEY\" found");
        }
        var key = PrivateKeyFactory.CreateKey(pkcs8);
        if (!key.IsPrivate) throw new FormatException("the key is not a private key");
        return key;
    }

    /// <summary>True when the private key belongs to the public key.</summary>
    internal static bool KeysMatch(AsymmetricKeyParameter privateKey, AsymmetricKeyParameter publicKey)
    {
        switch (privateKey, publicKey)
        {
            case (ECPrivateKeyParameters priv, ECPublicKeyParameters pub):
                var q = priv.Parameters.G.Multiply(priv.D).Normalize();
                return priv.Parameters.Curve.Equals(pub.Parameters.Curve) && q.Equals(pub.Q.Normalize());
            case (RsaPrivateCrtKeyParameters priv, RsaKeyParameters pub):
                return priv.Modulus.Equals(pub.Modulus) && priv.PublicExponent.Equals(pub.Exponent);
            default:
                return false;
        }
    }

    /// <summary>A random positive serial number of up to 159 bits (RFC 5280: at most 20 octets), as cfssl.</summary>
    internal static BigInteger NewSerial()
    {
        Span<byte> bytes = stackalloc byte[20];
        RandomNumberGenerator.Fill(bytes);
        bytes[0] &= 0x7f;
        var serial = new BigInteger(1, bytes.ToArray());
        return serial.SignValue == 0 ? BigInteger.One : serial;
    }

    /// <summary>X.509 times have whole seconds.</summary>
    internal static DateTime ToCertTime(DateTimeOffset t)
    {
        var utc = t.UtcDateTime;
        return new DateTime(utc.Ticks - utc.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
    }

    /// <summary>An X.509 name with its RDNs in exactly the given order (DER order).</summary>
    internal static X509Name Name(params (DerObjectIdentifier Oid, string Value)[] rdns) =>
        new(rdns.Select(r => r.Oid).ToList(), rdns.Select(r => r.Value).ToList());
}
