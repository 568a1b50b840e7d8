// A fake manager for the join-abuse tests (tests/Attack.Tests.ps1).
//
//   FakeManager --listen 127.0.41.50:2377 --cert node.crt --key node.key --root swarm-root-ca.crt --tokens tokens.txt
//
// Serves psswarm.cluster.v1.NodeCA over TLS (HTTP/2, ALPN h2) with the given certificate and key:
// GetRootCACertificate answers the bytes of --root unchanged (so a join token's digest matches),
// IssueNodeCertificate appends the token it was sent to --tokens (one line per request, flushed
// at once) and answers PermissionDenied. A joining node that sends its token here has leaked it.
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using PSSwarm.Protocol.Cluster;

var options = ParseArguments(args);
var listen = IPEndPoint.Parse(options["listen"]);
var certificate = X509Certificate2.CreateFromPemFile(options["cert"], options["key"]);
// A certificate whose key lives only in memory can't be used by SslStream on every platform: round-trip it.
certificate = X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
var rootBytes = File.ReadAllBytes(options["root"]);
var tokenFile = Path.GetFullPath(options["tokens"]);

var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Logging.AddFilter("FakeManager", LogLevel.Information);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Listen(listen, l =>
    {
        l.Protocols = HttpProtocols.Http2;
        l.UseHttps(https => https.ServerCertificate = certificate);
    });
});
builder.Services.AddGrpc();
builder.Services.AddSingleton(new FakeState(rootBytes, tokenFile));

var app = builder.Build();
app.MapGrpcService<FakeNodeCA>();
await app.StartAsync();
Console.WriteLine($"FakeManager listening on {listen} as {certificate.Subject} (issuer {certificate.Issuer}); tokens to {tokenFile}");
await app.WaitForShutdownAsync();

static Dictionary<string, string> ParseArguments(string[] args)
{
    var result = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"unexpected argument {args[i]}");
        result[args[i][2..]] = args[i + 1];
    }
    foreach (var required in new[] { "listen", "cert", "key", "root", "tokens" })
    {
        if (!result.ContainsKey(required))
        {
            Console.Error.WriteLine("usage: FakeManager --listen IP:PORT --cert CRT --key KEY --root ROOT_CA_PEM --tokens FILE");
            Environment.Exit(2);
        }
    }
    return result;
}

internal sealed record FakeState(byte[] RootPem, string TokenFile)
{
    public readonly Lock Gate = new();
}

internal sealed class FakeNodeCA(FakeState state, ILogger<FakeNodeCA> logger) : NodeCA.NodeCABase
{
    public override Task<GetRootCACertificateResponse> GetRootCACertificate(GetRootCACertificateRequest request, ServerCallContext context)
    {
        logger.LogInformation("GetRootCACertificate from {Peer}", context.Peer);
        return Task.FromResult(new GetRootCACertificateResponse { Certificate = Google.Protobuf.ByteString.CopyFrom(state.RootPem) });
    }

    public override Task<IssueNodeCertificateResponse> IssueNodeCertificate(IssueNodeCertificateRequest request, ServerCallContext context)
    {
        lock (state.Gate)
        {
            File.AppendAllText(state.TokenFile, request.Token + "\n");
        }
        logger.LogWarning("IssueNodeCertificate from {Peer}: received a join token ({Length} characters)", context.Peer, request.Token.Length);
        throw new RpcException(new Status(StatusCode.PermissionDenied, "fake manager: your join token was recorded"));
    }
}
