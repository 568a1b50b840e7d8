using System.Collections.Concurrent;

namespace PSSwarm.Daemon.Cluster;

/// <summary>
/// Logs a kind of event (a refused call from one address, say) once per interval, then says how
/// many more there were: a flood of bad requests cannot flood the log.
/// </summary>
internal sealed class ThrottledLog(ILogger logger, TimeSpan interval, int maxKeys = 4096)
{
    private sealed class Window(long start)
    {
        public long Start = start;
        public int Suppressed;
    }

    private readonly ConcurrentDictionary<string, Window> windows = new(StringComparer.Ordinal);

    /// <summary>Logs the message unless one with the same key was logged less than an interval ago.</summary>
    public void Warning(string key, string message, params object?[] args)
    {
        var now = Environment.TickCount64;
        if (windows.Count > maxKeys) windows.Clear(); // bounded memory under a spread-out flood
        var window = windows.GetOrAdd(key, _ => new Window(now - (long)interval.TotalMilliseconds));
        int suppressed;
        lock (window)
        {
            if (now - window.Start < interval.TotalMilliseconds)
            {
                window.Suppressed++;
                return;
            }
            suppressed = window.Suppressed;
            window.Start = now;
            window.Suppressed = 0;
        }
        if (suppressed > 0)
            logger.LogWarning("{Count} more like the next message in the last {Seconds:0} s (logged once per interval)", suppressed, interval.TotalSeconds);
#pragma warning disable CA2254 // the template is one of a few fixed texts of our own
        logger.LogWarning(message, args);
#pragma warning restore CA2254
    }
}
