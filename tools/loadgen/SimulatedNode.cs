using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.LoadGen;

/// <summary>
/// One simulated worker after its join: its certificate and key (in memory only), the heartbeat it
/// sends (built once), and its own channel (its own SocketsHttpHandler, so its own TLS connection
/// with its own client certificate, as a real node has) to the manager it heartbeats.
/// </summary>
internal sealed class SimulatedNode(int index, string nodeId, X509Certificate2 certificate, HeartbeatRequest request)
{
    public int Index { get; } = index;
    public string NodeId { get; } = nodeId;
    public X509Certificate2 Certificate { get; } = certificate;
    public HeartbeatRequest Request { get; } = request;
    public SslStreamCertificateContext CertificateContext { get; } = SslStreamCertificateContext.Create(certificate, null, offline: true);
    public long PeriodMs;
    public Task? Session;

    // As the daemon's ClusterChannels: one channel per manager address, kept (a node that follows a
    // new leader and comes back reuses its connection). Most nodes only ever have the leader's.
    private (string Address, GrpcChannel Channel, Dispatcher.DispatcherClient Client)[] channels = [];

    /// <summary>The manager this node's session is with (null until its first beat).</summary>
    public string? Target;

    /// <summary>The client for a manager: its cached channel, or a new one (its own handler, so its own TLS connection).</summary>
    public Dispatcher.DispatcherClient ClientFor(string address, PinnedTrust trust, TimeSpan heartbeatTimeout)
    {
        foreach (var c in channels)
            if (c.Address == address) return c.Client;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = heartbeatTimeout,
            // As the daemon's worker channels (ClusterChannels): HTTP/2 pings find a dead connection.
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            // One connection per node and manager: that is the point of the exercise.
            EnableMultipleHttp2Connections = false,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            SslOptions = trust.ClientOptions(CertificateContext),
        };
        var channel = GrpcChannel.ForAddress($"https://{address}", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 1024 * 1024,
        });
        var client = new Dispatcher.DispatcherClient(channel);
        channels = [.. channels, (address, channel, client)];
        return client;
    }

    public int Connections => channels.Length;

    public void Close()
    {
        foreach (var c in channels) c.Channel.Dispose();
        channels = [];
        Target = null;
    }
}
