using System.Collections.Concurrent;
using System.Net;

namespace PSSwarm.Daemon.Ca;

/// <summary>
/// Slows down failed joins per source address: a token bucket of <see cref="Burst"/> failures that
/// refills one failure every <see cref="RefillInterval"/>. While an address's bucket is empty its
/// join attempts are refused before the token is even compared; other addresses are unaffected.
/// Memory is bounded: at most <see cref="MaxAddresses"/> addresses are tracked.
/// </summary>
internal sealed class JoinLimiter(TimeProvider clock)
{
    public const int Burst = 5;
    public static readonly TimeSpan RefillInterval = TimeSpan.FromSeconds(2);
    public const int MaxAddresses = 10_000;

    private sealed class Bucket(double tokens, long at)
    {
        public double Tokens = tokens;
        public long At = at;
    }

    private readonly ConcurrentDictionary<IPAddress, Bucket> buckets = new();
    private Cluster.ThrottledLog? log;

    /// <summary>Where refused joins are logged: once a minute per address and reason, for as long as this limiter lives.</summary>
    public Cluster.ThrottledLog Log(ILogger logger) => log ??= new Cluster.ThrottledLog(logger, TimeSpan.FromSeconds(60));

    /// <summary>Whether an attempt from this address may be checked now; otherwise how long until it may.</summary>
    public bool TryEnter(IPAddress? address, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (address is null || !buckets.TryGetValue(Normalize(address), out var bucket)) return true;
        lock (bucket)
        {
            Refill(bucket);
            if (bucket.Tokens >= 1) return true;
            retryAfter = RefillInterval * (1 - bucket.Tokens);
            return false;
        }
    }

    /// <summary>Counts a failed attempt (a wrong token) against the address.</summary>
    public void RecordFailure(IPAddress? address)
    {
        if (address is null) return;
        if (buckets.Count >= MaxAddresses) Prune();
        var bucket = buckets.GetOrAdd(Normalize(address), _ => new Bucket(Burst, clock.GetTimestamp()));
        lock (bucket)
        {
            Refill(bucket);
            bucket.Tokens = Math.Max(0, bucket.Tokens - 1);
        }
    }

    private void Refill(Bucket bucket)
    {
        var now = clock.GetTimestamp();
        var elapsed = clock.GetElapsedTime(bucket.At, now);
        bucket.At = now;
        bucket.Tokens = Math.Min(Burst, bucket.Tokens + elapsed / RefillInterval);
    }

    /// <summary>Forgets addresses whose buckets are full again; under a spread-out flood, all of them.</summary>
    private void Prune()
    {
        foreach (var (address, bucket) in buckets)
        {
            lock (bucket) Refill(bucket);
            if (bucket.Tokens >= Burst) buckets.TryRemove(address, out _);
        }
        if (buckets.Count >= MaxAddresses) buckets.Clear();
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
