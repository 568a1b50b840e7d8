using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using PSSwarm.Daemon;

namespace PSSwarm.Daemon.Tests;

/// <summary>sd_notify messages and addresses, received on a real Unix datagram socket the test binds.</summary>
public sealed class SystemdNotifierTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("psswarm-notify-").FullName;
    private readonly RecordingLogger log = new();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static Socket Bind(string address)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(SystemdNotifier.ParseAddress(address));
        socket.ReceiveTimeout = 5000;
        return socket;
    }

    private static string Receive(Socket socket)
    {
        var buffer = new byte[4096];
        var n = socket.Receive(buffer);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    [Fact]
    public void ReadyMessageHasReadyStatusAndMainPid()
        => Assert.Equal("READY=1\nSTATUS=inactive (not in a swarm)\nMAINPID=4242", SystemdNotifier.ReadyMessage("inactive (not in a swarm)", 4242));

    [Fact]
    public void StatusIsOneLineSoItCannotAddAssignments()
    {
        var message = SystemdNotifier.ReadyMessage("error: bad\nMAINPID=1", 7);
        Assert.Equal(["READY=1", "STATUS=error: bad MAINPID=1", "MAINPID=7"], message.Split('\n'));
    }

    [Fact]
    public async Task ReadyReachesAPathSocket()
    {
        var path = Path.Combine(dir, "notify");
        using var socket = Bind(path);
        await using var notifier = new SystemdNotifier(path, null, log);
        notifier.Ready(() => "worker in swarm abc");
        Assert.Equal($"READY=1\nSTATUS=worker in swarm abc\nMAINPID={Environment.ProcessId}", Receive(socket));
        notifier.Stopping();
        Assert.Equal("STOPPING=1\nSTATUS=stopping", Receive(socket));
        Assert.Empty(log.Warnings);
    }

    [Fact]
    public async Task AnAtSignMeansTheAbstractNamespace()
    {
        var name = $"@psswarm-test-{Guid.NewGuid():N}";
        using var socket = Bind(name);
        var bound = Assert.IsType<UnixDomainSocketEndPoint>(socket.LocalEndPoint);
        Assert.Equal(name, bound.ToString()); // .NET shows the leading NUL of an abstract name as '@'
        await using var notifier = new SystemdNotifier(name, null, log);
        Assert.True(notifier.Send("READY=1"));
        Assert.Equal("READY=1", Receive(socket));
        Assert.False(File.Exists(name)); // no file: abstract
    }

    [Theory]
    [InlineData("relative/notify")]
    [InlineData("vsock:2:1234")]
    [InlineData("@")]
    public void OtherAddressesAreRefused(string address)
        => Assert.Throws<ArgumentException>(() => SystemdNotifier.ParseAddress(address));

    [Fact]
    public async Task AMissingSocketIsAWarningOnceAndNeverAThrow()
    {
        await using var notifier = new SystemdNotifier(Path.Combine(dir, "nobody-listens"), null, log);
        Assert.False(notifier.Send("READY=1"));
        Assert.False(notifier.Send("STATUS=x"));
        notifier.Stopping();
        var warning = Assert.Single(log.Warnings);
        Assert.Contains("nobody-listens", warning);
    }

    [Fact]
    public async Task ASocketThatAppearsLaterIsReached()
    {
        var path = Path.Combine(dir, "late");
        await using var notifier = new SystemdNotifier(path, null, log);
        Assert.False(notifier.Send("STATUS=early"));
        using var socket = Bind(path);
        Assert.True(notifier.Send("STATUS=late"));
        Assert.Equal("STATUS=late", Receive(socket));
    }

    [Theory]
    [InlineData("200000", null, 100_000L)]
    [InlineData("200000", "", 100_000L)]
    [InlineData("3000000", "OWN", 1_500_000L)]
    [InlineData("3000000", "1", null)]
    [InlineData("0", null, null)]
    [InlineData("abc", null, null)]
    [InlineData(null, null, null)]
    public void WatchdogIsHalfOfWatchdogUsecForThisProcessOnly(string? usec, string? pid, long? expectedMicroseconds)
    {
        var interval = SystemdNotifier.ParseWatchdog(usec, pid == "OWN" ? "4242" : pid, 4242);
        Assert.Equal(expectedMicroseconds, interval is { } i ? (long)i.TotalMicroseconds : null);
    }

    [Fact]
    public async Task WatchdogPingsArriveEveryHalfInterval()
    {
        var path = Path.Combine(dir, "watchdog");
        using var socket = Bind(path);
        await using var notifier = new SystemdNotifier(path, SystemdNotifier.ParseWatchdog("200000", null, Environment.ProcessId), log);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        notifier.Start();
        for (var i = 0; i < 4; i++) Assert.Equal("WATCHDOG=1", Receive(socket));
        // The first at once, then three 100 ms apart: well under the 200 ms WATCHDOG_USEC times three.
        Assert.InRange(clock.ElapsedMilliseconds, 250, 3000);
    }

    private sealed class RecordingLogger : ILogger
    {
        public List<string> Warnings { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning) lock (Warnings) Warnings.Add(formatter(state, exception));
        }
    }
}
