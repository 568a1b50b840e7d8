using System.Security.Cryptography.X509Certificates;
using PSSwarm.Core.Security;
using PSSwarm.Daemon.Node;

namespace PSSwarm.Daemon.Tests;

public sealed class LocalNodeStoreTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("psswarm-store-").FullName;
    private readonly TestPki pki = new();

    public void Dispose() => Directory.Delete(root, recursive: true);

    private (string Cert, string Key) Pair(string nodeId)
    {
        var (keyPem, csr) = NodeCertificates.NewKeyAndCsr();
        return (pki.Root.SignNodeCertificate(csr, nodeId, NodeCertificates.WorkerRole, pki.ClusterId, TimeSpan.FromDays(1)), keyPem);
    }

    private static void AssertPair(LocalNodeStore store, (string Cert, string Key) expected)
    {
        var (cert, key, _) = store.LoadCertificates();
        Assert.Equal(expected.Cert, cert);
        Assert.Equal(expected.Key, key);
        using var _ = X509Certificate2.CreateFromPem(cert, key); // they belong together
    }

    [Fact]
    public void Renewal_ReplacesKeyAndCertificateTogether()
    {
        var store = new LocalNodeStore(root);
        var id = Identity.NewId();
        var first = Pair(id);
        store.SaveCertificates(first.Cert, first.Key, pki.Root.CertificatePem);
        AssertPair(store, first);
        var second = Pair(id);
        store.SaveCertificates(second.Cert, second.Key, pki.Root.CertificatePem);
        AssertPair(store, second);
    }

    [Fact]
    public void CrashBetweenTheTwoRenames_IsCompletedOnLoad()
    {
        var store = new LocalNodeStore(root);
        var id = Identity.NewId();
        var old = Pair(id);
        store.SaveCertificates(old.Cert, old.Key, pki.Root.CertificatePem);
        var renewed = Pair(id);
        // The key was renamed into place, the certificate is still pending.
        File.WriteAllText(store.NodeKeyPath, renewed.Key);
        File.WriteAllText(store.NodeCertPath + ".new", renewed.Cert);
        AssertPair(store, renewed);
        Assert.False(File.Exists(store.NodeCertPath + ".new"));
    }

    [Fact]
    public void CrashBeforeTheRenames_EitherCompletesOrKeepsTheOldPair()
    {
        var store = new LocalNodeStore(root);
        var id = Identity.NewId();
        var old = Pair(id);
        store.SaveCertificates(old.Cert, old.Key, pki.Root.CertificatePem);
        var renewed = Pair(id);
        File.WriteAllText(store.NodeKeyPath + ".new", renewed.Key);                      // only the key was written
        AssertPair(store, old);
        Assert.False(File.Exists(store.NodeKeyPath + ".new"));
        File.WriteAllText(store.NodeKeyPath + ".new", renewed.Key);                      // both written, none renamed
        File.WriteAllText(store.NodeCertPath + ".new", renewed.Cert);
        AssertPair(store, renewed);
    }
}
