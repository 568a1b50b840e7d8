using PSSwarm.Core.State;

namespace PSSwarm.Daemon.Node;

internal sealed partial class NodeRuntime
{
    /// <summary>
    /// This node's state in a few words, from what it holds in memory (no store read): systemd's STATUS=
    /// line, as `systemctl status psswarmd` shows it.
    /// </summary>
    public string ShortStatus
    {
        get
        {
            var cfg = config;
            if (error is { } e) return $"error: {e}";
            if (cfg is null) return "inactive (not in a swarm)";
            var swarm = cfg.SwarmId.Length > 12 ? cfg.SwarmId[..12] : cfg.SwarmId;
            if (locked) return $"locked manager of swarm {swarm} (run Unlock-Swarm)";
            if (cfg.Role == NodeRole.Manager)
                return manager is null ? $"manager of swarm {swarm}, starting" : $"manager of swarm {swarm}";
            return $"worker in swarm {swarm}";
        }
    }
}
