using Grpc.Core;
using Grpc.Core.Interceptors;
using PSSwarm.Core;

namespace PSSwarm.Daemon.Control;

/// <summary>
/// Turns <see cref="SwarmException"/> into a gRPC status with trailers carrying the stable error
/// id and the PowerShell error category; anything else becomes Internal with its message
/// (logged once, never a stack trace to the user).
/// </summary>
internal sealed class ErrorInterceptor(ILogger<ErrorInterceptor> logger) : Interceptor
{
    public const string ErrorIdKey = "psswarm-error-id";
    public const string CategoryKey = "psswarm-error-category";

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (SwarmException e)
        {
            // Wrong tokens and rate-limited joins are logged where they are refused, once per interval
            // per address: a flood of them must not write a line each.
            // A redirect to the leader is the normal answer of a follower (every node's heartbeat after
            // a leader change): thousands a second must not each write a line either.
            if (e.Kind is SwarmErrorKind.AuthenticationError or SwarmErrorKind.LimitsExceeded || e.ErrorId == "SwarmNotLeader")
                logger.LogDebug("{Method} refused: {ErrorId}: {Message}", context.Method, e.ErrorId, e.Message);
            else
                logger.LogInformation("{Method} refused: {ErrorId}: {Message}", context.Method, e.ErrorId, e.Message);
            throw ToRpc(e);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Cancelled, "The call was cancelled."));
        }
        catch (Exception e) when (e is not RpcException)
        {
            logger.LogError(e, "{Method} failed", context.Method);
            throw ToRpc(new SwarmException(SwarmErrorKind.InvalidOperation, "SwarmDaemonError", $"psswarmd: {e.Message}"));
        }
    }

    public static RpcException ToRpc(SwarmException e)
    {
        var code = e.Kind switch
        {
            SwarmErrorKind.InvalidArgument => StatusCode.InvalidArgument,
            SwarmErrorKind.InvalidOperation => StatusCode.FailedPrecondition,
            SwarmErrorKind.ResourceExists => StatusCode.AlreadyExists,
            SwarmErrorKind.ObjectNotFound => StatusCode.NotFound,
            SwarmErrorKind.AuthenticationError => StatusCode.Unauthenticated,
            SwarmErrorKind.SecurityError or SwarmErrorKind.PermissionDenied => StatusCode.PermissionDenied,
            SwarmErrorKind.ResourceUnavailable or SwarmErrorKind.ConnectionError => StatusCode.Unavailable,
            SwarmErrorKind.OperationTimeout => StatusCode.DeadlineExceeded,
            SwarmErrorKind.NotImplemented => StatusCode.Unimplemented,
            SwarmErrorKind.LimitsExceeded => StatusCode.ResourceExhausted,
            _ => StatusCode.Unknown,
        };
        return new RpcException(new Status(code, e.Message), new Metadata
        {
            { ErrorIdKey, e.ErrorId },
            { CategoryKey, e.Kind.ToString() },
        });
    }
}
