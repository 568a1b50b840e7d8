using PSSwarm.Core.State;
using PSSwarm.Daemon.Store;

namespace PSSwarm.Daemon.Tests;

/// <summary>
/// The store interface without Raft: a proposal is validated as the leader validates it, then
/// applied at once. What the components are unit-tested against.
/// </summary>
internal sealed class InMemorySwarmStore : ISwarmStore
{
    public SwarmState State { get; } = new();

    public List<SwarmCommand> Proposed { get; } = new();

    public SwarmState.Snapshot Current => State.Current;

    public Task ProposeAsync(SwarmCommand command, CancellationToken token)
    {
        token.ThrowIfCancellationRequested();
        CommandValidator.Validate(command, State.Current);
        Proposed.Add(command);
        // Through the log's bytes, as every manager reads it.
        State.Apply(SwarmCommand.FromBytes(command.ToBytes()));
        return Task.CompletedTask;
    }

    public Task ReadBarrierAsync(CancellationToken token) => Task.CompletedTask;

    public Task<SwarmState.Snapshot> WaitForChangeAsync(long afterVersion, CancellationToken token)
        => State.WaitForChangeAsync(afterVersion, token);
}
