using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Daemon.Control;

namespace PSSwarm.Daemon.Cluster;

/// <summary>
/// gRPC channels to other nodes' cluster listeners, cached per address. With a node
/// certificate the channel authenticates mutually and accepts only servers whose
/// certificate chains to the swarm root; without one (a joiner fetching the CA) it accepts
/// any server, and the caller pins the CA by the token's digest.
/// </summary>
internal sealed class ClusterChannels : IDisposable
{
    private readonly X509Certificate2? clientCertificate;
    private readonly RootCA? root;
    private readonly ConcurrentDictionary<string, GrpcChannel> channels = new(StringComparer.Ordinal);

    private volatile X509Certificate2? lastServerCertificate;

    public ClusterChannels(X509Certificate2? clientCertificate, RootCA? root)
    {
        this.clientCertificate = clientCertificate;
        this.root = root;
    }

    /// <summary>No client certificate, any server accepted: the caller checks <see cref="LastServerCertificate"/>.</summary>
    public static ClusterChannels Anonymous() => new(null, null);

    /// <summary>The certificate the last server presented (anonymous channels: to check it once the root is known).</summary>
    public X509Certificate2? LastServerCertificate => lastServerCertificate;

    public GrpcChannel For(string address) => channels.GetOrAdd(address, Create);

    private GrpcChannel Create(string address)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(3),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
            EnableMultipleHttp2Connections = true,
            SslOptions = new SslClientAuthenticationOptions
            {
                // Node certificates carry the node ID and role as DNS names, not the address:
                // trust comes from the chain to the swarm root, checked here.
                TargetHost = "swarm-ca",
                RemoteCertificateValidationCallback = (_, cert, _, _) =>
                {
                    var leaf = cert is null ? null : cert as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
                    if (root is null)
                    {
                        lastServerCertificate = leaf;
                        return true;
                    }
                    return leaf is not null && root.Verifies(leaf);
                },
                ClientCertificates = clientCertificate is null ? null : new X509CertificateCollection { clientCertificate },
            },
        };
        return GrpcChannel.ForAddress($"https://{address}", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
        });
    }

    public void Dispose()
    {
        foreach (var c in channels.Values) c.Dispose();
        channels.Clear();
    }

    /// <summary>A cluster call's failure as the SwarmException the remote raised, or a connection error.</summary>
    public static SwarmException Translate(RpcException e, string address)
    {
        var id = e.Trailers.GetValue(ErrorInterceptor.ErrorIdKey);
        var kind = e.Trailers.GetValue(ErrorInterceptor.CategoryKey);
        if (id is not null && Enum.TryParse<SwarmErrorKind>(kind, out var k))
            return new SwarmException(k, id, e.Status.Detail, e);
        return e.StatusCode switch
        {
            StatusCode.Unauthenticated => new SwarmException(SwarmErrorKind.AuthenticationError, "SwarmUnauthenticated", e.Status.Detail, e),
            StatusCode.PermissionDenied => new SwarmException(SwarmErrorKind.PermissionDenied, "SwarmPermissionDenied", e.Status.Detail, e),
            StatusCode.DeadlineExceeded => new SwarmException(SwarmErrorKind.OperationTimeout, "SwarmTimeout", $"the manager at {address} did not answer in time", e),
            _ => new SwarmException(SwarmErrorKind.ConnectionError, "SwarmManagerUnreachable",
                $"could not connect to the manager at {address}: {Innermost(e)}", e),
        };
    }

    private static string Innermost(RpcException e)
    {
        Exception? x = e.Status.DebugException;
        while (x?.InnerException is not null) x = x.InnerException;
        return x?.Message ?? e.Status.Detail;
    }
}
