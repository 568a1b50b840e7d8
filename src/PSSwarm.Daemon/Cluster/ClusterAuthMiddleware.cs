using PSSwarm.Daemon.Manager;

namespace PSSwarm.Daemon.Cluster;

/// <summary>
/// Authenticates every call on the cluster listener by its client certificate, except the two
/// that a node without one must make: fetching the root CA and joining (the token authenticates).
/// Raft traffic needs a manager certificate.
/// </summary>
internal sealed class ClusterAuthMiddleware(RequestDelegate next, PeerAuthenticator authenticator, ILogger<ClusterAuthMiddleware> logger)
{
    public const string PeerItem = "psswarm.peer";

    private static readonly HashSet<string> Anonymous = new(StringComparer.Ordinal)
    {
        "/psswarm.cluster.v1.NodeCA/GetRootCACertificate",
        "/psswarm.cluster.v1.NodeCA/IssueNodeCertificate",
    };

    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        if (Anonymous.Contains(path))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var certificate = await context.Connection.GetClientCertificateAsync(context.RequestAborted).ConfigureAwait(false);
        var peer = authenticator.Authenticate(certificate, out var removed);
        var needsManager = path.StartsWith(ManagerHost.RaftPath, StringComparison.Ordinal);
        if (peer is null || (needsManager && !peer.IsManager))
        {
            logger.LogWarning("Refused {Path} from {Remote}: {Reason}", path, context.Connection.RemoteIpAddress,
                removed is not null ? $"node {removed} was removed from the swarm"
                : peer is null ? "no valid swarm certificate" : "not a manager certificate");
            if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
            {
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/grpc";
                if (removed is not null)
                {
                    // Tell a removed node why, in Docker's words, so that it stops trying.
                    context.Response.AppendTrailer("grpc-status", ((int)Grpc.Core.StatusCode.PermissionDenied).ToString());
                    context.Response.AppendTrailer("grpc-message", $"Permission denied: node {removed} was removed from swarm");
                    context.Response.AppendTrailer(Control.ErrorInterceptor.ErrorIdKey, "SwarmNodeRemoved");
                    context.Response.AppendTrailer(Control.ErrorInterceptor.CategoryKey, nameof(PSSwarm.Core.SwarmErrorKind.PermissionDenied));
                    return;
                }
                context.Response.AppendTrailer("grpc-status", ((int)Grpc.Core.StatusCode.Unauthenticated).ToString());
                context.Response.AppendTrailer("grpc-message", "a certificate issued by this swarm is required");
                return;
            }
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        context.Items[PeerItem] = peer;
        await next(context).ConfigureAwait(false);
    }
}
