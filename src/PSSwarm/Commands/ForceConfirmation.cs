using System.Management.Automation;

namespace PSSwarm.Commands;

/// <summary>
/// <c>-Force</c> combined with <c>ShouldProcess</c> the way PowerShell documents it ("Everything you wanted
/// to know about ShouldProcess": <c>if ($Force -and -not $Confirm) { $ConfirmPreference = 'None' }</c>), in
/// one place for every cmdlet that has both:
/// <list type="bullet">
/// <item>-WhatIf (the switch or <c>$WhatIfPreference</c>) only reports, with or without -Force;</item>
/// <item>-Force skips the confirmation prompt of a high-impact cmdlet (docker's <c>--force</c> asks nothing
/// either), unless -Confirm is given explicitly, which still asks;</item>
/// <item>an extra safety question (<c>ShouldContinue</c>, for what is worse than the action itself, such as
/// erasing a data root) is asked after ShouldProcess unless -Force, as in the StopProc sample of the
/// PowerShell SDK.</item>
/// </list>
/// </summary>
internal static class ForceConfirmation
{
    public static bool ShouldProcess(this PSCmdlet cmdlet, bool force, string target, string action, string? query = null, string? caption = null)
    {
        if (force && !Bound(cmdlet, "Confirm") && !WhatIf(cmdlet))
        {
            cmdlet.WriteVerbose($"Performing the operation \"{action}\" on target \"{target}\" (-Force: not confirmed).");
            return true;
        }
        if (!cmdlet.ShouldProcess(target, action)) return false;
        return force || query is null || cmdlet.ShouldContinue(query, caption ?? action);
    }

    /// <summary>A switch given explicitly and true (<c>-Confirm</c>, not <c>-Confirm:$false</c>).</summary>
    private static bool Bound(PSCmdlet cmdlet, string name)
        => cmdlet.MyInvocation.BoundParameters.TryGetValue(name, out var value) && LanguagePrimitives.IsTrue(value);

    /// <summary>-WhatIf in effect: the switch, else <c>$WhatIfPreference</c> (as ShouldProcess itself decides).</summary>
    private static bool WhatIf(PSCmdlet cmdlet)
        => cmdlet.MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value)
            ? LanguagePrimitives.IsTrue(value)
            : LanguagePrimitives.IsTrue(cmdlet.SessionState.PSVariable.GetValue("WhatIfPreference"));
}
