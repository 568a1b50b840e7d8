using PSSwarm.Core.Security;

namespace PSSwarm.Daemon.Ca;

/// <summary>When a node renews its certificate (swarmkit's ca/config.go calculateRandomExpiry and ca/renewer.go).</summary>
internal static class RenewalPolicy
{
    public const double EarliestFraction = 0.5;
    public const double LatestFraction = 0.8;

    /// <summary>A validity length this far off the swarm's CertExpiry counts as a changed setting.</summary>
    public static readonly TimeSpan ExpiryTolerance = TimeSpan.FromMinutes(1);

    /// <summary>Backoff after a failed renewal: 5 s doubling up to 1 h (swarmkit's renewer on expiry).</summary>
    public static TimeSpan Backoff(int failures)
        => TimeSpan.FromSeconds(Math.Min(5 * Math.Pow(2, Math.Max(0, failures - 1)), 3600));

    /// <summary>A random point between 50% and 80% of the validity (<paramref name="random01"/> in [0, 1)).</summary>
    public static DateTimeOffset RenewAt(DateTimeOffset notBefore, DateTimeOffset notAfter, double random01)
    {
        var validity = notAfter - notBefore;
        if (validity <= TimeSpan.Zero) return notBefore;
        return notBefore + validity * (EarliestFraction + (LatestFraction - EarliestFraction) * Math.Clamp(random01, 0, 1));
    }

    /// <summary>Whether a certificate's validity (without the 1 h backdate) differs from the swarm's CertExpiry.</summary>
    public static bool ExpiryChanged(DateTimeOffset notBefore, DateTimeOffset notAfter, TimeSpan? desired)
    {
        if (desired is not { } wanted) return false;
        if (wanted < RootCA.MinNodeCertExpiration) wanted = RootCA.DefaultNodeCertExpiration; // what the CA signs then
        return (notAfter - notBefore - RootCA.CertBackdate - wanted).Duration() > ExpiryTolerance;
    }

    /// <summary>The reason given when the certificate is not from the root that signs now (a root rotation).</summary>
    public const string RootRotated = "the swarm's root CA is being rotated";

    /// <summary>Why a certificate should be renewed now, or null.</summary>
    public static string? Reason(DateTimeOffset now, DateTimeOffset notBefore, DateTimeOffset notAfter, DateTimeOffset renewAt,
        string certificateRole, string desiredRole, TimeSpan? desiredExpiry, string certificateIssuer = "", string desiredIssuer = "")
    {
        if (certificateRole != desiredRole) return "the node's role changed";
        if (now >= notAfter) return "it has expired";
        if (desiredIssuer.Length > 0 && certificateIssuer != desiredIssuer) return RootRotated;
        if (now >= renewAt) return "it reached its renewal time";
        if (ExpiryChanged(notBefore, notAfter, desiredExpiry)) return "the swarm's certificate expiry changed";
        return null;
    }
}
