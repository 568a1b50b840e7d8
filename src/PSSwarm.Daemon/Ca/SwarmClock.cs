namespace PSSwarm.Daemon.Ca;

/// <summary>
/// The clock that certificate issuance, validation and renewal read (swarmkit's clock seam).
/// The system clock, unless <c>PSSWARM_CLOCK_OFFSET_FILE</c> names a file holding an offset in
/// seconds: tests move a whole swarm's certificate time forward by rewriting that file, so that
/// renewal and expiry can be tested without waiting hours. Raft and heartbeat timing never use it.
/// </summary>
internal static class SwarmClock
{
    public const string OffsetFileVariable = "PSSWARM_CLOCK_OFFSET_FILE";

    public static TimeProvider Create()
        => Environment.GetEnvironmentVariable(OffsetFileVariable) is { Length: > 0 } path
            ? new OffsetTimeProvider(path)
            : TimeProvider.System;

    /// <summary>System time plus the offset in a file, re-read at most every 100 ms.</summary>
    private sealed class OffsetTimeProvider(string path) : TimeProvider
    {
        private readonly object gate = new();
        private TimeSpan offset;
        private long nextReadTicks;

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset();

        private TimeSpan Offset()
        {
            var now = Environment.TickCount64;
            lock (gate)
            {
                if (now < nextReadTicks) return offset;
                nextReadTicks = now + 100;
                try
                {
                    if (File.Exists(path) && double.TryParse(File.ReadAllText(path).Trim(),
                            global::System.Globalization.NumberStyles.Float, global::System.Globalization.CultureInfo.InvariantCulture, out var seconds))
                        offset = TimeSpan.FromSeconds(seconds);
                }
                catch (IOException)
                {
                    // Keep the last offset while the test rewrites the file.
                }
                return offset;
            }
        }
    }
}
