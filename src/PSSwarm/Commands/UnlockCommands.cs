using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Security;

namespace PSSwarm.Commands;

/// <summary>docker swarm unlock: gives a locked manager (autolock, after a restart) its unlock key.</summary>
[Cmdlet(VerbsCommon.Unlock, "Swarm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(void))]
public sealed class UnlockSwarmCommand : SwarmCmdlet
{
    /// <summary>The unlock key (from Get-SwarmUnlockKey, or the notice shown when autolock was turned on); prompted for when absent.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    public SecureString? Key { get; set; }

    protected override void EndProcessing()
    {
        if (!ShouldProcess(Client.Endpoint, "Unlock the swarm on this node")) return;
        var key = Key;
        if (key is null)
        {
            // Docker checks the node's state before it prompts.
            var info = Call((c, t) => c.GetInfoAsync(t));
            if (info.LocalNodeState == PSSwarm.Client.Api.LocalNodeState.Inactive)
                ThrowError("SwarmNotActive", ErrorCategory.InvalidOperation, "This node is not part of a swarm");
            if (info.LocalNodeState != PSSwarm.Client.Api.LocalNodeState.Locked)
                ThrowError("SwarmNotLocked", ErrorCategory.InvalidOperation, "swarm is not locked");
            Host.UI.Write("Enter unlock key: ");
            key = Host.UI.ReadLineAsSecureString();
        }
        var text = UnlockKeys.Reveal(key);
        Call((c, t) => c.UnlockAsync(text, t));
        WriteVerbose("Swarm unlocked.");
    }
}

/// <summary>docker swarm unlock-key: the swarm's unlock key (on a manager, with autolock on).</summary>
[Cmdlet(VerbsCommon.Get, "SwarmUnlockKey")]
[OutputType(typeof(SwarmUnlockKey), typeof(string))]
public sealed class GetSwarmUnlockKeyCommand : SwarmCmdlet
{
    /// <summary>Output the key as a string instead of an object whose key is a SecureString.</summary>
    [Parameter]
    public SwitchParameter AsPlainText { get; set; }

    protected override void EndProcessing()
    {
        var key = Call((c, t) => c.GetUnlockKeyAsync(t));
        WriteObject(AsPlainText ? key : new SwarmUnlockKey(UnlockKeys.Secure(key)));
    }
}

/// <summary>docker swarm unlock-key --rotate: a new unlock key; the old one no longer unlocks managers that have the new one.</summary>
[Cmdlet(VerbsData.Update, "SwarmUnlockKey", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SwarmUnlockKey))]
public sealed class UpdateSwarmUnlockKeyCommand : SwarmCmdlet
{
    protected override void EndProcessing()
    {
        if (!ShouldProcess(Client.Endpoint, "Rotate the swarm's unlock key")) return;
        var key = Call((c, t) => c.RotateUnlockKeyAsync(t));
        WriteVerbose("Successfully rotated manager unlock key.");
        WriteObject(new SwarmUnlockKey(UnlockKeys.Secure(key)));
    }
}

internal static class UnlockKeys
{
    public static SecureString Secure(string key)
    {
        var secure = new SecureString();
        foreach (var c in key) secure.AppendChar(c);
        secure.MakeReadOnly();
        return secure;
    }

    public static string Reveal(SecureString key)
    {
        var ptr = Marshal.SecureStringToGlobalAllocUnicode(key);
        try { return Marshal.PtrToStringUni(ptr) ?? ""; }
        finally { Marshal.ZeroFreeGlobalAllocUnicode(ptr); }
    }
}
