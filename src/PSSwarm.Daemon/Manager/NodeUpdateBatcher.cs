using PSSwarm.Core.State;

namespace PSSwarm.Daemon.Manager;

/// <summary>
/// Node changes that heartbeats cause (a node back to Ready, a new address), written in batches
/// as swarmkit's dispatcher does: after a leader change every node comes back within one period,
/// and thousands of one-node entries would queue behind each other. A change waits for the write
/// in flight, then goes with every change that arrived meanwhile in one entry; each caller
/// returns once its own change is committed (or with the write's error).
/// </summary>
internal sealed class NodeUpdateBatcher(Func<IReadOnlyList<PatchNodeCommand>, Task> propose)
{
    private readonly object gate = new();
    private Dictionary<string, Pending> pending = new(StringComparer.Ordinal);
    private bool flushing;

    private sealed class Pending(PatchNodeCommand patch)
    {
        public PatchNodeCommand Patch { get; set; } = patch;
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Queues a change and returns when it is committed. A newer change of the same node replaces a queued one.</summary>
    public Task WriteAsync(PatchNodeCommand patch, CancellationToken token)
    {
        Pending entry;
        var start = false;
        lock (gate)
        {
            if (pending.TryGetValue(patch.NodeId, out var queued)) queued.Patch = patch;
            else pending[patch.NodeId] = queued = new Pending(patch);
            entry = queued;
            if (!flushing) flushing = start = true;
        }
        if (start) _ = Task.Run(FlushAsync, CancellationToken.None);
        return entry.Done.Task.WaitAsync(token);
    }

    private async Task FlushAsync()
    {
        while (true)
        {
            Dictionary<string, Pending> batch;
            lock (gate)
            {
                if (pending.Count == 0)
                {
                    flushing = false;
                    return;
                }
                batch = pending;
                pending = new Dictionary<string, Pending>(StringComparer.Ordinal);
            }
            foreach (var chunk in batch.Values.Chunk(PatchNodesCommand.MaxPatches))
            {
                try
                {
                    await propose(chunk.Select(p => p.Patch).ToList()).ConfigureAwait(false);
                    foreach (var p in chunk) p.Done.TrySetResult();
                }
                catch (Exception e)
                {
                    foreach (var p in chunk) p.Done.TrySetException(e);
                }
            }
        }
    }
}
