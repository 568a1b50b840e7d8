using Microsoft.AspNetCore.Server.Kestrel.Core;
using PSSwarm.Daemon;
using PSSwarm.Daemon.Control;
using PSSwarm.Daemon.Node;

DaemonOptions options;
try
{
    if (args.Contains("-h") || args.Contains("--help"))
    {
        Console.WriteLine(DaemonOptions.Usage);
        return 0;
    }
    if (args.Contains("--version"))
    {
        Console.WriteLine($"psswarmd {NodeRuntime.Version}");
        return 0;
    }
    options = DaemonOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"psswarmd: {e.Message}");
    Console.Error.WriteLine("Run 'psswarmd --help' for usage.");
    return 2;
}

ControlSocket control;
DataRootLock dataRootLock;
try
{
    Directory.CreateDirectory(options.DataRoot, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    File.SetUnixFileMode(options.DataRoot, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    // Before anything in the data root or the socket is touched: one daemon per data root.
    dataRootLock = DataRootLock.Acquire(options.DataRoot);
    // Bound with mode 0660 from its first moment and given its group, before Kestrel calls listen(2) on it.
    control = ControlSocket.Create(options.SocketPath, options.GroupId);
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
{
    Console.Error.WriteLine($"psswarmd: {e.Message}");
    return 1;
}

var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; o.UseUtcTimestamp = true; });
builder.Logging.SetMinimumLevel(options.LogLevel);
builder.Logging.AddFilter("Microsoft", options.LogLevel > LogLevel.Warning ? options.LogLevel : LogLevel.Warning);
builder.Logging.AddFilter("Grpc", options.LogLevel > LogLevel.Warning ? options.LogLevel : LogLevel.Warning);
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
builder.WebHost.ConfigureKestrel(k =>
{
    k.AddServerHeader = false;
    k.ListenHandle(control.Handle, l => l.Protocols = HttpProtocols.Http2);
});
builder.Services.AddSingleton(options);
builder.Services.AddSingleton<NodeRuntime>();
builder.Services.AddGrpc(o => o.Interceptors.Add<ErrorInterceptor>());

var app = builder.Build();
app.MapGrpcService<ControlService>();

var node = app.Services.GetRequiredService<NodeRuntime>();
var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("psswarmd");
// Run by systemd (Type=notify): READY=1 when the control socket answers with the saved state loaded
// (node.Start() ran before the server started), the same moment Start-SwarmDaemon returns.
await using var systemd = SystemdNotifier.FromEnvironment(log);
systemd?.Start();
app.Lifetime.ApplicationStarted.Register(() =>
{
    log.LogInformation("psswarmd {Version} (pid {Pid}) listening on {Host} (mode 0660, group {Group}), data root {DataRoot}, node name {NodeName}",
        NodeRuntime.Version, Environment.ProcessId, options.Host, options.Group ?? "of the daemon", options.DataRoot, options.NodeName);
    node.WarmUp();
    systemd?.Ready(() => node.ShortStatus);
});
app.Lifetime.ApplicationStopping.Register(() => systemd?.Stopping());

try
{
    node.Start();
    await app.RunAsync();
}
catch (IOException e)
{
    log.LogCritical("Cannot serve {Host}: {Error}", options.Host, e.Message);
    return 1;
}
finally
{
    control.Dispose(); // the socket file first: no new client reaches a daemon that is going away
    await node.DisposeAsync();
    dataRootLock.Dispose(); // last: the data root is free once the node has let go of it
    log.LogInformation("psswarmd stopped");
}
return 0;
