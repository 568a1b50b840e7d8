using System.Collections.Concurrent;
using System.Net.Security;
using Grpc.Core;
using Grpc.Net.Client;
using PSSwarm.Core;
using PSSwarm.Core.Security;
using PSSwarm.Daemon.Ca;
using PSSwarm.Daemon.Control;

namespace PSSwarm.Daemon.Cluster;

/// <summary>
/// gRPC channels to other nodes' cluster listeners, cached per address. Every handshake asks the
/// trust it was made with: a member's <see cref="NodeSecurity"/> (its current certificate; manager
/// servers of its swarm only) or a joiner's <see cref="JoinTrust"/> (the root its token pins).
/// </summary>
internal sealed class ClusterChannels : IDisposable
{
    private readonly Func<SslClientAuthenticationOptions> ssl;
    private readonly NodeSecurity? security;
    private readonly ConcurrentDictionary<string, GrpcChannel> channels = new(StringComparer.Ordinal);

    private ClusterChannels(Func<SslClientAuthenticationOptions> ssl, NodeSecurity? security = null)
    {
        this.ssl = ssl;
        this.security = security;
        if (security is not null) security.Replaced += Recycle;
    }

    /// <summary>A member's channels: mutual TLS with its current certificate, manager servers of its swarm only.</summary>
    public static ClusterChannels For(NodeSecurity security) => new(security.ClientOptions, security);

    /// <summary>A renewed certificate: new connections from now on; calls in flight finish on the old ones.</summary>
    private void Recycle(System.Security.Cryptography.X509Certificates.X509Certificate2 renewed)
    {
        var old = channels.Values.ToList();
        channels.Clear();
        _ = Task.Delay(TimeSpan.FromSeconds(30)).ContinueWith(_ => { foreach (var c in old) c.Dispose(); }, TaskScheduler.Default);
    }

    /// <summary>A joiner's channels: no client certificate, servers checked by the join's pinned root.</summary>
    public static ClusterChannels ForJoin(JoinTrust trust) => new(trust.ClientOptions);

    public GrpcChannel For(string address) => channels.GetOrAdd(address, Create);

    /// <summary>Largest message a node accepts from a manager (the largest answer is a node's certificates).</summary>
    public const int MaxMessageSize = 1024 * 1024;

    private GrpcChannel Create(string address)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(3),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            // New connections pick up a renewed certificate; old ones end well before it expires.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
            EnableMultipleHttp2Connections = true,
            SslOptions = ssl(),
        };
        return GrpcChannel.ForAddress($"https://{address}", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = MaxMessageSize,
        });
    }

    public void Dispose()
    {
        if (security is not null) security.Replaced -= Recycle;
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
