using System.Security.Cryptography;
using System.Text;
using PSSwarm.Core.State;
using PSSwarm.Daemon.Manager;

namespace PSSwarm.Daemon.Tests;

/// <summary>The data key at work on Raft entries and snapshots.</summary>
public class StoreCipherTests
{
    private static readonly byte[] Entry = Encoding.UTF8.GetBytes("""{"op":"setJoinToken","v":3,"role":0,"token":"SWMTKN-1-secret"}""");

    [Fact]
    public void SealedEntries_HoldNoPlainText_AndOpenWithTheSwarmsKey()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var cipher = new StoreCipher(key);
        var sealedEntry = cipher.Seal(Entry);
        Assert.DoesNotContain("SWMTKN", Encoding.UTF8.GetString(sealedEntry));
        Assert.Equal(Entry, cipher.Open(sealedEntry));
        // Another manager of the same swarm (same key) reads it.
        Assert.Equal(Entry, new StoreCipher(key.ToArray()).Open(sealedEntry));
    }

    [Fact]
    public void PlainEntries_OfAStoreFromBeforeDataKeys_StillRead()
    {
        Assert.Equal(Entry, new StoreCipher(RandomNumberGenerator.GetBytes(32)).Open(Entry));
        Assert.Equal(Entry, StoreCipher.None.Open(Entry));
        Assert.Equal(Entry, StoreCipher.None.Seal(Entry)); // no key: written plain
    }

    [Fact]
    public void ASealedEntry_WithoutTheKey_OrWithAnotherKey_IsUnreadable_NotAnotherException()
    {
        var sealedEntry = new StoreCipher(RandomNumberGenerator.GetBytes(32)).Seal(Entry);
        Assert.Throws<UnreadableCommandException>(() => StoreCipher.None.Open(sealedEntry));
        Assert.Throws<UnreadableCommandException>(() => new StoreCipher(RandomNumberGenerator.GetBytes(32)).Open(sealedEntry));
    }
}
