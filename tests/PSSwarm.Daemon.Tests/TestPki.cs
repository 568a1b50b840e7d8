using System.Security.Cryptography.X509Certificates;
using PSSwarm.Core.Security;

namespace PSSwarm.Daemon.Tests;

/// <summary>A throwaway swarm PKI for the tests: a root, and node certificates with their keys.</summary>
internal sealed class TestPki
{
    public RootCA Root { get; } = RootCA.Create();
    public string ClusterId { get; } = Identity.NewId();

    public X509Certificate2 Issue(string nodeId, string role, DateTimeOffset? now = null, TimeSpan? expiry = null, string? clusterId = null)
    {
        var (keyPem, csr) = NodeCertificates.NewKeyAndCsr();
        var pem = Root.SignNodeCertificate(csr, nodeId, role, clusterId ?? ClusterId, expiry ?? TimeSpan.FromDays(90), now);
        return NodeCertificates.LoadWithKey(pem, keyPem);
    }

    public X509Certificate2 Manager(string nodeId, DateTimeOffset? now = null) => Issue(nodeId, NodeCertificates.ManagerRole, now);
    public X509Certificate2 Worker(string nodeId, DateTimeOffset? now = null) => Issue(nodeId, NodeCertificates.WorkerRole, now);
}
