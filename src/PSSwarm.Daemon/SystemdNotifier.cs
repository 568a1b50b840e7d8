using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PSSwarm.Daemon;

/// <summary>
/// systemd's readiness protocol (sd_notify(3)) without libsystemd: datagrams to the Unix socket named by
/// NOTIFY_SOCKET (a path, or '@name' for the abstract namespace). READY=1 once the control socket
/// answers with the node's saved state loaded, STATUS= when the node's state changes, STOPPING=1 when
/// shutdown starts, and WATCHDOG=1 every WATCHDOG_USEC/2 when systemd asks for it (WatchdogSec=).
/// A missing or refusing socket never stops the daemon: it is logged once, as a warning.
/// NOTIFY_SOCKET stays in the environment: psswarmd starts no child that could pose as it.
/// </summary>
internal sealed class SystemdNotifier : IAsyncDisposable
{
    /// <summary>How often a changed STATUS= is sent when no watchdog asks for more often.</summary>
    internal static readonly TimeSpan StatusInterval = TimeSpan.FromSeconds(5);

    private readonly EndPoint address;
    private readonly string addressText;
    private readonly ILogger logger;
    private readonly object sendLock = new();
    private readonly CancellationTokenSource stop = new();
    private Socket? socket;
    private int warned;
    private Task? loop;
    private string? lastStatus;
    private volatile Func<string>? status;

    internal SystemdNotifier(string notifySocket, TimeSpan? watchdogInterval, ILogger logger)
    {
        address = ParseAddress(notifySocket);
        addressText = notifySocket;
        WatchdogInterval = watchdogInterval;
        this.logger = logger;
    }

    /// <summary>WATCHDOG=1 is sent this often (half of WATCHDOG_USEC), or never (null).</summary>
    public TimeSpan? WatchdogInterval { get; }

    /// <summary>The notifier for this process's environment, or null when NOTIFY_SOCKET is not set (not run by systemd).</summary>
    public static SystemdNotifier? FromEnvironment(ILogger logger)
    {
        var notifySocket = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(notifySocket)) return null;
        var watchdog = ParseWatchdog(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), Environment.GetEnvironmentVariable("WATCHDOG_PID"), Environment.ProcessId);
        try
        {
            return new SystemdNotifier(notifySocket, watchdog, logger);
        }
        catch (ArgumentException e)
        {
            logger.LogWarning("NOTIFY_SOCKET ignored: {Error}", e.Message);
            return null;
        }
    }

    /// <summary>'/run/systemd/notify' is a path; '@name' is 'name' in the abstract namespace (a leading NUL byte).</summary>
    internal static UnixDomainSocketEndPoint ParseAddress(string notifySocket)
    {
        if (notifySocket.Length > 1 && notifySocket[0] == '@')
            return new UnixDomainSocketEndPoint("\0" + notifySocket[1..]);
        if (notifySocket.StartsWith('/'))
            return new UnixDomainSocketEndPoint(notifySocket);
        throw new ArgumentException($"'{notifySocket}' is neither an absolute socket path nor an abstract '@name' (other kinds, such as vsock, are not supported)");
    }

    /// <summary>Half of WATCHDOG_USEC, when it is set for this process (WATCHDOG_PID unset or ours); else null.</summary>
    internal static TimeSpan? ParseWatchdog(string? usec, string? pid, int ownPid)
    {
        if (string.IsNullOrEmpty(usec) || !ulong.TryParse(usec, NumberStyles.None, CultureInfo.InvariantCulture, out var micro) || micro == 0)
            return null;
        if (!string.IsNullOrEmpty(pid) && (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var target) || target != ownPid))
            return null;
        return TimeSpan.FromMicroseconds(micro / 2.0);
    }

    /// <summary>The readiness message: READY=1, a one-line status, and the main PID.</summary>
    internal static string ReadyMessage(string status, int pid)
        => $"READY=1\nSTATUS={OneLine(status)}\nMAINPID={pid.ToString(CultureInfo.InvariantCulture)}";

    internal static string StoppingMessage() => "STOPPING=1\nSTATUS=stopping";

    internal static string StatusMessage(string status) => $"STATUS={OneLine(status)}";

    internal const string WatchdogMessage = "WATCHDOG=1";

    // A newline would start another assignment: a status is one line, and short (systemctl status shows it).
    private static string OneLine(string status)
    {
        var line = status.ReplaceLineEndings(" ").Trim();
        return line.Length > 200 ? line[..200] : line;
    }

    /// <summary>Starts the loop: WATCHDOG=1 from now on (when asked for), STATUS= changes once ready.</summary>
    public void Start() => loop ??= Task.Run(() => LoopAsync(stop.Token));

    /// <summary>READY=1 with the node's status; later changes of the status are sent by the loop.</summary>
    public void Ready(Func<string> status)
    {
        var now = status();
        lastStatus = now;
        if (Send(ReadyMessage(now, Environment.ProcessId)))
            logger.LogDebug("Told systemd that psswarmd is ready ({Status})", now);
        this.status = status;
        Start();
    }

    public void Stopping() => Send(StoppingMessage());

    /// <summary>One datagram; false (and a warning the first time) when it cannot be delivered.</summary>
    public bool Send(string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        lock (sendLock)
        {
            try
            {
                socket ??= new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
                socket.SendTo(bytes, SocketFlags.None, address);
                return true;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (Interlocked.Exchange(ref warned, 1) == 0)
                    logger.LogWarning("Cannot notify systemd at NOTIFY_SOCKET={Socket}: {Error} (psswarmd keeps serving; further failures are not logged)",
                        addressText, e.Message);
                return false;
            }
        }
    }

    // WATCHDOG=1 every half WATCHDOG_USEC (the thread pool being alive is what it proves), and STATUS= when the node's state changed.
    private async Task LoopAsync(CancellationToken token)
    {
        var tick = WatchdogInterval is { } w && w < StatusInterval ? w : StatusInterval;
        var sinceStatus = TimeSpan.Zero;
        using var timer = new PeriodicTimer(tick < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : tick);
        if (WatchdogInterval is not null) Send(WatchdogMessage);
        try
        {
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
            {
                if (WatchdogInterval is not null) Send(WatchdogMessage);
                sinceStatus += tick;
                if (sinceStatus < StatusInterval || this.status is not { } status) continue;
                sinceStatus = TimeSpan.Zero;
                string now;
                try { now = status(); }
                catch (Exception e) { now = $"error: {e.Message}"; }
                if (now != lastStatus)
                {
                    lastStatus = now;
                    Send(StatusMessage(now));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        if (loop is not null) await loop.ConfigureAwait(false);
        lock (sendLock)
        {
            socket?.Dispose();
            socket = null;
        }
        stop.Dispose();
    }
}
