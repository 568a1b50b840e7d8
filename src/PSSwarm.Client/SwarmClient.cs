using System.Collections.Concurrent;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using PSSwarm.Protocol.Control;

namespace PSSwarm.Client;

/// <summary>
/// The control API of one daemon. Channels are cached per endpoint for the life of the process,
/// so a warm PowerShell session pays the connection once (~0.5 ms a call afterwards).
/// </summary>
public sealed class SwarmClient
{
    public const string ErrorIdKey = "psswarm-error-id";
    public const string CategoryKey = "psswarm-error-category";
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(30);
    private static readonly ConcurrentDictionary<string, SwarmClient> Clients = new(StringComparer.Ordinal);

    private readonly Control.ControlClient control;

    private SwarmClient(string endpoint)
    {
        Endpoint = endpoint;
        var socketPath = SwarmEndpoint.SocketPath(endpoint);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = ConnectTimeout,
            ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            EnableMultipleHttp2Connections = true,
        };
        var channel = GrpcChannel.ForAddress("http://psswarmd", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 64 * 1024 * 1024,
        });
        control = new Control.ControlClient(channel);
    }

    public string Endpoint { get; }

    public static SwarmClient For(string? endpoint)
    {
        var resolved = SwarmEndpoint.Resolve(endpoint);
        return Clients.GetOrAdd(resolved, static e => new SwarmClient(e));
    }

    public Task<DaemonInfo> GetDaemonInfoAsync(CancellationToken token, TimeSpan? deadline = null)
        => CallAsync(o => control.GetDaemonInfoAsync(new Empty(), o), token, deadline);

    public Task<SwarmInfo> GetInfoAsync(CancellationToken token)
        => CallAsync(o => control.GetInfoAsync(new GetInfoRequest(), o), token);

    public Task<SwarmInfo> InitAsync(InitRequest request, CancellationToken token)
        => CallAsync(o => control.InitAsync(request, o), token, TimeSpan.FromSeconds(60));

    public Task<JoinToken> CreateJoinTokenAsync(CreateJoinTokenRequest request, CancellationToken token)
        => CallAsync(o => control.CreateJoinTokenAsync(request, o), token);

    public Task<JoinTokenList> ListJoinTokensAsync(CancellationToken token)
        => CallAsync(o => control.ListJoinTokensAsync(new ListJoinTokensRequest(), o), token);

    public Task<JoinToken> RevokeJoinTokenAsync(string idOrToken, CancellationToken token)
        => CallAsync(o => control.RevokeJoinTokenAsync(new RevokeJoinTokenRequest { Id = idOrToken }, o), token);

    public Task<CAInfo> GetCAAsync(CancellationToken token)
        => CallAsync(o => control.GetCAAsync(new GetCARequest(), o), token);

    public Task<CAInfo> RotateCAAsync(RotateCARequest request, CancellationToken token)
        => CallAsync(o => control.RotateCAAsync(request, o), token);

    /// <summary>Unlock-Swarm: waits while the manager starts (up to about 15 s).</summary>
    public Task<Empty> UnlockAsync(string key, CancellationToken token)
        => CallAsync(o => control.UnlockAsync(new UnlockRequest { Key = key }, o), token, TimeSpan.FromSeconds(30));

    /// <summary>Test-Swarm: the daemon's checks (the clock check may wait for a few managers).</summary>
    public Task<CheckList> RunChecksAsync(CheckRequest request, CancellationToken token)
        => CallAsync(o => control.RunChecksAsync(request, o), token, TimeSpan.FromSeconds(30));

    public Task<UnlockKeyInfo> GetUnlockKeyAsync(CancellationToken token)
        => CallAsync(o => control.GetUnlockKeyAsync(new Empty(), o), token);

    public Task<UnlockKeyInfo> RotateUnlockKeyAsync(CancellationToken token)
        => CallAsync(o => control.RotateUnlockKeyAsync(new Empty(), o), token);

    public Task<SwarmInfo> UpdateSwarmAsync(UpdateSwarmRequest request, CancellationToken token)
        => CallAsync(o => control.UpdateSwarmAsync(request, o), token);

    public Task<Empty> LeaveAsync(bool force, CancellationToken token)
        => CallAsync(o => control.LeaveAsync(new LeaveRequest { Force = force }, o), token);

    public Task<JoinToken> GetJoinTokenAsync(NodeRole role, CancellationToken token)
        => CallAsync(o => control.GetJoinTokenAsync(new JoinTokenRequest { Role = role }, o), token);

    public Task<JoinToken> RotateJoinTokenAsync(NodeRole role, CancellationToken token)
        => CallAsync(o => control.RotateJoinTokenAsync(new JoinTokenRequest { Role = role }, o), token);

    public Task<NodeList> ListNodesAsync(CancellationToken token)
        => CallAsync(o => control.ListNodesAsync(new ListNodesRequest(), o), token);

    public Task<Node> JoinAsync(JoinRequest request, CancellationToken token)
        => CallAsync(o => control.JoinAsync(request, o), token, TimeSpan.FromSeconds(90));

    public Task<Node> UpdateNodeAsync(UpdateNodeRequest request, CancellationToken token)
        => CallAsync(o => control.UpdateNodeAsync(request, o), token, TimeSpan.FromSeconds(60));

    public Task<Empty> RemoveNodeAsync(string id, bool force, CancellationToken token)
        => CallAsync(o => control.RemoveNodeAsync(new RemoveNodeRequest { Id = id, Force = force }, o), token);

    public Task<NetworkList> ListNetworksAsync(CancellationToken token)
        => CallAsync(o => control.ListNetworksAsync(new ListNetworksRequest(), o), token);

    private async Task<T> CallAsync<T>(Func<CallOptions, AsyncUnaryCall<T>> call, CancellationToken token, TimeSpan? deadline = null)
    {
        try
        {
            return await call(new CallOptions(deadline: DateTime.UtcNow + (deadline ?? DefaultDeadline), cancellationToken: token))
                .ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw Map(e);
        }
    }

    private SwarmClientException Map(RpcException e)
    {
        var id = e.Trailers.GetValue(ErrorIdKey);
        var category = e.Trailers.GetValue(CategoryKey);
        if (id is not null && category is not null)
            return new SwarmClientException(id, category, e.Status.Detail, e);

        return e.StatusCode switch
        {
            StatusCode.Unavailable or StatusCode.Internal when id is null && IsConnectionFailure(e) =>
                new SwarmClientException("SwarmDaemonUnreachable", "ConnectionError",
                    $"Cannot connect to the PSSwarm daemon at {Endpoint}. Is psswarmd running? Start it with Start-SwarmDaemon, or pass -Endpoint (or set $env:PSSWARM_HOST) to use another daemon. ({ConnectionFailure(e)})", e),
            StatusCode.DeadlineExceeded =>
                new SwarmClientException("SwarmTimeout", "OperationTimeout", $"The PSSwarm daemon at {Endpoint} did not answer in time.", e),
            StatusCode.Cancelled =>
                new SwarmClientException("SwarmCancelled", "OperationStopped", "The operation was cancelled.", e),
            StatusCode.Unimplemented =>
                new SwarmClientException("SwarmNotSupported", "NotImplemented", $"The daemon at {Endpoint} does not support this operation (is it an older psswarmd?). {e.Status.Detail}", e),
            _ => new SwarmClientException("SwarmDaemonError", "NotSpecified", $"psswarmd at {Endpoint}: {e.Status.Detail}", e),
        };
    }

    private static bool IsConnectionFailure(RpcException e)
        => e.StatusCode == StatusCode.Unavailable || e.Status.DebugException is HttpRequestException or SocketException;

    /// <summary>Why the socket did not answer, in words: .NET says "Cannot assign requested address" for a missing socket file.</summary>
    private string ConnectionFailure(RpcException e)
    {
        try
        {
            var path = SwarmEndpoint.SocketPath(Endpoint);
            if (!File.Exists(path)) return $"there is no socket at {path}";
        }
        catch (SwarmClientException) { }
        return Inner(e);
    }

    private static string Inner(RpcException e)
    {
        Exception? x = e.Status.DebugException;
        while (x?.InnerException is not null) x = x.InnerException;
        return x?.Message ?? e.Status.Detail;
    }
}
