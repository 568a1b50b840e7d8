using PSSwarm.Core.Security;
using PSSwarm.Core.State;

namespace PSSwarm.Daemon.Ca;

/// <summary>
/// How far a root CA rotation is: of the nodes that are not down, how many last presented a
/// certificate from the next root. Unlike swarmkit, which waits for every node until the down
/// ones are removed, a down node does not hold a rotation up: it comes back with Join-Swarm.
/// </summary>
internal readonly record struct RootRotationProgress(int Rotated, int Total)
{
    /// <summary>The progress of the rotation in <paramref name="state"/>, or null when none runs.</summary>
    public static RootRotationProgress? Of(SwarmState.Snapshot state)
    {
        if (state.Cluster?.RootRotation is not { } rotation) return null;
        var next = RootCA.Load(rotation.CACertificate, null).KeyId;
        int total = 0, rotated = 0;
        foreach (var node in state.Nodes.Values)
        {
            if (node.Status == NodeStatus.Down) continue;
            total++;
            if (node.CertificateIssuer == next) rotated++;
        }
        return new RootRotationProgress(rotated, total);
    }
}
