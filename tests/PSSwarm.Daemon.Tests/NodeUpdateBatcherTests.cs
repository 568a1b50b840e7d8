using PSSwarm.Core.State;
using PSSwarm.Daemon.Manager;

namespace PSSwarm.Daemon.Tests;

public sealed class NodeUpdateBatcherTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static PatchNodeCommand Ready(string id) => new(id, T0) { Status = NodeStatus.Ready };

    [Fact]
    public async Task ChangesThatArriveDuringAWriteGoTogetherInTheNextEntry()
    {
        var writes = new List<IReadOnlyList<PatchNodeCommand>>();
        var first = new TaskCompletionSource();
        var batcher = new NodeUpdateBatcher(async patches =>
        {
            lock (writes) writes.Add(patches);
            if (writes.Count == 1) await first.Task;
        });
        var a = batcher.WriteAsync(Ready("a"), CancellationToken.None);
        await WaitUntil(() => writes.Count == 1);
        // While "a" is being written, 500 more nodes come back.
        var rest = Enumerable.Range(0, 500).Select(i => batcher.WriteAsync(Ready($"n{i}"), CancellationToken.None)).ToList();
        Assert.False(a.IsCompleted);
        first.SetResult();
        await a;
        await Task.WhenAll(rest);
        Assert.Equal(2, writes.Count);
        Assert.Equal(["a"], writes[0].Select(p => p.NodeId));
        Assert.Equal(500, writes[1].Count);
    }

    [Fact]
    public async Task ANewerChangeOfAQueuedNodeReplacesIt_AndBatchesStayUnderTheLimit()
    {
        var writes = new List<IReadOnlyList<PatchNodeCommand>>();
        var gate = new TaskCompletionSource();
        var batcher = new NodeUpdateBatcher(async patches =>
        {
            lock (writes) writes.Add(patches);
            await gate.Task;
        });
        var blocker = batcher.WriteAsync(Ready("blocker"), CancellationToken.None);
        await WaitUntil(() => writes.Count == 1);
        var old = batcher.WriteAsync(new PatchNodeCommand("x", T0) { Address = "10.0.0.1" }, CancellationToken.None);
        var newer = batcher.WriteAsync(new PatchNodeCommand("x", T0) { Address = "10.0.0.2" }, CancellationToken.None);
        var many = Enumerable.Range(0, PatchNodesCommand.MaxPatches + 10).Select(i => batcher.WriteAsync(Ready($"m{i}"), CancellationToken.None)).ToList();
        gate.SetResult();
        await Task.WhenAll(many.Append(old).Append(newer).Append(blocker));
        var all = writes.Skip(1).SelectMany(w => w).ToList();
        Assert.All(writes, w => Assert.InRange(w.Count, 1, PatchNodesCommand.MaxPatches));
        Assert.Single(all, p => p.NodeId == "x");
        Assert.Equal("10.0.0.2", all.Single(p => p.NodeId == "x").Address);
        Assert.Equal(PatchNodesCommand.MaxPatches + 11, all.Count);
    }

    [Fact]
    public async Task AFailedWriteFailsItsCallers_AndTheNextChangeIsWrittenAgain()
    {
        var calls = 0;
        var batcher = new NodeUpdateBatcher(_ => ++calls == 1
            ? Task.FromException(new InvalidOperationException("no leader"))
            : Task.CompletedTask);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.WriteAsync(Ready("a"), CancellationToken.None));
        Assert.Equal("no leader", e.Message);
        await batcher.WriteAsync(Ready("a"), CancellationToken.None);
        Assert.Equal(2, calls);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 5 s");
            await Task.Delay(5);
        }
    }
}
