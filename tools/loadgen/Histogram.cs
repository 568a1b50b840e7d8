namespace PSSwarm.LoadGen;

/// <summary>
/// A lock-free latency histogram (no allocation per sample): 10 µs buckets up to 10 ms, 100 µs
/// buckets up to 1 s, 10 ms buckets up to 60 s; anything longer lands in the last bucket.
/// </summary>
internal sealed class Histogram
{
    private const long FineLimitUs = 10_000, MidLimitUs = 1_000_000, CoarseLimitUs = 60_000_000;
    private const int FineBuckets = (int)(FineLimitUs / 10);                       // 1000
    private const int MidBuckets = (int)((MidLimitUs - FineLimitUs) / 100);        // 9900
    private const int CoarseBuckets = (int)((CoarseLimitUs - MidLimitUs) / 10_000); // 5900
    private readonly long[] counts = new long[BucketCount];
    private long total;
    private long maxUs;

    public long Count => Interlocked.Read(ref total);

    public void Record(long elapsedTicks)
    {
        var us = (long)(elapsedTicks * 1_000_000.0 / System.Diagnostics.Stopwatch.Frequency);
        if (us < 0) us = 0;
        int bucket = us < FineLimitUs ? (int)(us / 10)
            : us < MidLimitUs ? FineBuckets + (int)((us - FineLimitUs) / 100)
            : us < CoarseLimitUs ? FineBuckets + MidBuckets + (int)((us - MidLimitUs) / 10_000)
            : counts.Length - 1;
        Interlocked.Increment(ref counts[bucket]);
        Interlocked.Increment(ref total);
        long seen;
        while (us > (seen = Interlocked.Read(ref maxUs)) && Interlocked.CompareExchange(ref maxUs, us, seen) != seen) { }
    }

    public double MaxMs => Interlocked.Read(ref maxUs) / 1000.0;

    /// <summary>The upper bound of the bucket holding the given quantile, in ms; null without samples.</summary>
    public double? PercentileMs(double quantile)
    {
        var n = Count;
        if (n == 0) return null;
        var rank = (long)Math.Ceiling(quantile * n);
        if (rank < 1) rank = 1;
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            seen += Interlocked.Read(ref counts[i]);
            if (seen >= rank) return Math.Min(UpperUs(i) / 1000.0, MaxMs);
        }
        return MaxMs;
    }

    private static double UpperUs(int bucket) => bucket < FineBuckets ? (bucket + 1) * 10.0
        : bucket < FineBuckets + MidBuckets ? FineLimitUs + (bucket - FineBuckets + 1) * 100.0
        : bucket < BucketCount - 1 ? MidLimitUs + (bucket - FineBuckets - MidBuckets + 1) * 10_000.0
        : CoarseLimitUs;

    private const int BucketCount = FineBuckets + MidBuckets + CoarseBuckets + 1;
}
