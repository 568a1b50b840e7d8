using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;

namespace PSSwarm.Daemon.Ca;

internal static class CertificateKeys
{
    /// <summary>Whether a CSR (DER) carries the same public key as the certificate (its own signature is checked when signing).</summary>
    public static bool CsrUsesKeyOf(byte[] csrDer, X509Certificate2 certificate)
    {
        try
        {
            // CertificationRequest ::= SEQUENCE { CertificationRequestInfo ::= SEQUENCE { version, subject, SubjectPublicKeyInfo, ... }, ... }
            var outer = new AsnReader(csrDer, AsnEncodingRules.DER);
            var request = outer.ReadSequence();
            outer.ThrowIfNotEmpty();
            var info = request.ReadSequence();
            info.ReadInteger();
            info.ReadSequence();
            var spki = info.ReadEncodedValue();
            return spki.Span.SequenceEqual(certificate.PublicKey.ExportSubjectPublicKeyInfo());
        }
        catch (Exception)
        {
            return false; // unreadable CSR or key: no proof
        }
    }

    /// <summary>A PKCS#10 CSR (DER) signed with an existing PKCS#8 key (ECDSA or RSA): renewal with the same key proves possession of it.</summary>
    public static byte[] CsrForKey(string keyPem)
    {
        try
        {
            using var ec = System.Security.Cryptography.ECDsa.Create();
            ec.ImportFromPem(keyPem);
            return new CertificateRequest("CN=swarm-node", ec, System.Security.Cryptography.HashAlgorithmName.SHA256).CreateSigningRequest();
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            using var rsa = System.Security.Cryptography.RSA.Create();
            rsa.ImportFromPem(keyPem);
            return new CertificateRequest("CN=swarm-node", rsa, System.Security.Cryptography.HashAlgorithmName.SHA256,
                System.Security.Cryptography.RSASignaturePadding.Pkcs1).CreateSigningRequest();
        }
    }
}
