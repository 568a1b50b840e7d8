using Grpc.Core;
using PSSwarm.Daemon.Ca;
using PSSwarm.Daemon.Manager;

namespace PSSwarm.Daemon.Cluster;

/// <summary>
/// Enforces <see cref="ClusterAccessPolicy"/> on every request of the 2377 listener, after routing
/// (so the decision uses the endpoint that matched) and before any handler runs. Refusals are
/// answered the way each caller understands them: gRPC status trailers, or an HTTP status.
/// </summary>
internal sealed class ClusterAuthMiddleware(RequestDelegate next, NodeSecurity security, ManagerHostAccessor accessor, ILogger<ClusterAuthMiddleware> logger)
{
    public const string PeerItem = "psswarm.peer";

    /// <summary>The caller of a gRPC method, as the access policy identified it.</summary>
    public static PeerIdentity Peer(Grpc.Core.ServerCallContext context)
        => context.GetHttpContext().Items[PeerItem] as PeerIdentity
           ?? throw new Core.SwarmException(Core.SwarmErrorKind.AuthenticationError, "SwarmUnauthenticated", "a certificate issued by this swarm is required");

    private readonly ThrottledLog refusals = new(logger, TimeSpan.FromSeconds(60));

    public async Task InvokeAsync(HttpContext context)
    {
        var key = ClusterAccessPolicy.EndpointKey(context.GetEndpoint());
        PeerIdentity? peer = null;
        if (ClusterAccessPolicy.Required(key) is { } access && access != ClusterAccess.Anonymous)
            peer = await IdentifyAsync(context).ConfigureAwait(false);
        var decision = ClusterAccessPolicy.Decide(key, peer, accessor.View,
            key == ClusterAccessPolicy.RaftEndpoint ? context.Request.Headers[ClusterAccessPolicy.RaftSenderHeader] : default);
        if (decision.Allowed)
        {
            context.Items[PeerItem] = decision.Peer;
            await next(context).ConfigureAwait(false);
            return;
        }

        var remote = context.Connection.RemoteIpAddress?.ToString() ?? "?";
        if (decision.Refusal is not (Refusal.NoRoute or Refusal.NotReady))
            refusals.Warning($"{remote} {decision.Refusal} {key}", "Refused {Endpoint} from {Remote}: {Reason}",
                key ?? context.Request.Path.Value, remote, decision.Reason);
        await RefuseAsync(context, decision).ConfigureAwait(false);
    }

    /// <summary>
    /// What a connection's certificate proved, verified once per connection (not per request) while
    /// it is valid and the trust it was verified against is the node's trust (a root rotation that
    /// ends drops the old root: the connection's certificate is verified again).
    /// </summary>
    private sealed record VerifiedPeer(PeerIdentity? Peer, DateTimeOffset ValidUntil, Ca.TrustRoots Trust);

    private async Task<PeerIdentity?> IdentifyAsync(HttpContext context)
    {
        var items = context.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionItemsFeature>()?.Items;
        var now = security.Clock.GetUtcNow();
        var trust = security.Trust;
        if (items?.TryGetValue(PeerItem, out var cached) == true && cached is VerifiedPeer verified && now < verified.ValidUntil
            && ReferenceEquals(verified.Trust, trust))
            return verified.Peer;
        var certificate = await context.Connection.GetClientCertificateAsync(context.RequestAborted).ConfigureAwait(false);
        var peer = security.Identify(certificate);
        if (items is not null && certificate is not null)
            items[PeerItem] = new VerifiedPeer(peer, peer is null ? now.AddSeconds(1) : new DateTimeOffset(certificate.NotAfter.ToUniversalTime()), trust);
        return peer;
    }

    private static Task RefuseAsync(HttpContext context, AccessDecision decision)
    {
        var response = context.Response;
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true)
        {
            var (status, message, id, category) = decision.Refusal switch
            {
                Refusal.NoRoute => (Grpc.Core.StatusCode.Unimplemented, "no such method", "SwarmNoSuchMethod", Core.SwarmErrorKind.NotImplemented),
                Refusal.NotReady => (Grpc.Core.StatusCode.Unavailable, Core.SwarmErrors.ManagerStarting().Message, "SwarmManagerNotReady", Core.SwarmErrorKind.ResourceUnavailable),
                Refusal.Unauthenticated => (Grpc.Core.StatusCode.Unauthenticated, "a certificate issued by this swarm is required", "SwarmUnauthenticated", Core.SwarmErrorKind.AuthenticationError),
                // Docker's words, so that a removed node stops trying.
                Refusal.Removed => (Grpc.Core.StatusCode.PermissionDenied, $"Permission denied: node {decision.Peer?.NodeId} was removed from swarm", "SwarmNodeRemoved", Core.SwarmErrorKind.PermissionDenied),
                _ => (Grpc.Core.StatusCode.PermissionDenied, $"Permission denied: {decision.Reason}", "SwarmPermissionDenied", Core.SwarmErrorKind.PermissionDenied),
            };
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/grpc";
            response.AppendTrailer("grpc-status", ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture));
            response.AppendTrailer("grpc-message", Uri.EscapeDataString(message));
            response.AppendTrailer(Control.ErrorInterceptor.ErrorIdKey, id);
            response.AppendTrailer(Control.ErrorInterceptor.CategoryKey, category.ToString());
            return Task.CompletedTask;
        }
        response.StatusCode = decision.Refusal switch
        {
            Refusal.NoRoute => StatusCodes.Status404NotFound,
            Refusal.NotReady => StatusCodes.Status503ServiceUnavailable,
            _ => StatusCodes.Status403Forbidden,
        };
        return Task.CompletedTask;
    }
}
