namespace PSSwarm.Daemon.Ca;

/// <summary>
/// An HTTP handler whose connections start over when this node's certificate is replaced: DotNext
/// keeps one handler per Raft member for good, so without this its pooled connections would keep
/// presenting the old certificate until they are recycled. Requests in flight finish on the old
/// connections, which close after a grace period.
/// </summary>
internal sealed class RenewableHandler : HttpMessageHandler
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);

    private readonly Func<HttpMessageHandler> factory;
    private readonly NodeSecurity security;
    private HttpMessageInvoker current;

    public RenewableHandler(NodeSecurity security, Func<HttpMessageHandler> factory)
    {
        this.security = security;
        this.factory = factory;
        current = new HttpMessageInvoker(factory(), disposeHandler: true);
        security.Replaced += OnReplaced;
    }

    private void OnReplaced(System.Security.Cryptography.X509Certificates.X509Certificate2 renewed)
    {
        var old = Interlocked.Exchange(ref current, new HttpMessageInvoker(factory(), disposeHandler: true));
        _ = Task.Delay(Grace).ContinueWith(_ => old.Dispose(), TaskScheduler.Default);
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        => Volatile.Read(ref current).SendAsync(request, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            security.Replaced -= OnReplaced;
            current.Dispose();
        }
        base.Dispose(disposing);
    }
}
