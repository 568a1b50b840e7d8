using PSSwarm.Core.State;

namespace PSSwarm.Daemon.Store;

/// <summary>
/// The replicated swarm store as a manager's components see it (swarmkit's store: read, propose,
/// watch). The CA, the control API's logic and the dispatcher depend on this, not on Raft or on
/// the node's lifecycle, so each can be unit-tested against <c>InMemorySwarmStore</c>.
/// </summary>
internal interface ISwarmStore
{
    /// <summary>The state as this manager has applied it (may trail the leader until <see cref="ReadBarrierAsync"/>).</summary>
    SwarmState.Snapshot Current { get; }

    /// <summary>Writes a command: validated by the leader against its state, committed, applied here before it returns.</summary>
    Task ProposeAsync(SwarmCommand command, CancellationToken token);

    /// <summary>From now on <see cref="Current"/> holds every write committed before this call (a linearizable read).</summary>
    Task ReadBarrierAsync(CancellationToken token);

    /// <summary>The first state after <paramref name="afterVersion"/>: a watch without polling.</summary>
    Task<SwarmState.Snapshot> WaitForChangeAsync(long afterVersion, CancellationToken token);
}
