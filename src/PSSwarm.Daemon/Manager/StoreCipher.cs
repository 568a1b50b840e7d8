using System.Security.Cryptography;
using PSSwarm.Core.Security;
using PSSwarm.Core.State;

namespace PSSwarm.Daemon.Manager;

/// <summary>
/// The swarm's data key at work (swarmkit's raft DEK): every Raft log entry and snapshot a
/// manager writes is sealed with it (AES-256-GCM), so the CA key, the join tokens and the unlock
/// key never lie in the clear in a manager's data root. The key is one for the whole swarm (log
/// entries are replicated as written), created by Initialize-Swarm and handed to each manager as
/// it joins or is promoted; with autolock on, each manager keeps it sealed under the key derived
/// from the unlock key. A swarm created before data keys existed (no key) reads and writes plain entries.
/// </summary>
internal sealed class StoreCipher(byte[]? key)
{
    public static StoreCipher None { get; } = new(null);

    public bool Encrypts => key is not null;

    public byte[] Seal(byte[] plaintext) => key is null ? plaintext : Sealed.Seal(key, Sealed.StoreMagic, plaintext);

    /// <summary>The plaintext of an entry or snapshot: sealed ones are opened, plain ones (older stores) pass.</summary>
    public byte[] Open(ReadOnlySpan<byte> data)
    {
        if (!Sealed.Is(data, Sealed.StoreMagic)) return data.ToArray();
        if (key is null)
            throw UnreadableCommandException.Sealed("it is sealed with the swarm's data key, which this manager does not have");
        try
        {
            return Sealed.Open(key, Sealed.StoreMagic, data);
        }
        catch (CryptographicException e)
        {
            throw UnreadableCommandException.Sealed($"it does not open with this manager's data key ({e.Message})");
        }
    }
}
