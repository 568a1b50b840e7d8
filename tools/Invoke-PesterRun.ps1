<#
.SYNOPSIS
    Runs Pester in its own process (build.ps1 PesterTest/Test) and writes the counts to a JSON file.
    A script file, not a script block, so that Pester's output streams as text while it runs.
#>
param(
    [Parameter(Mandatory)] [string] $Pester,
    [Parameter(Mandatory)] [string] $Path,
    [Parameter(Mandatory)] [string] $ResultFile
)
$ErrorActionPreference = 'Stop'
Import-Module $Pester
$config = New-PesterConfiguration
$config.Run.Path = $Path -split ','
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$config.Output.StackTraceVerbosity = 'Filtered'
$r = Invoke-Pester -Configuration $config
$counts = if ($r) {
    @{
        Passed  = $r.PassedCount
        Failed  = $r.FailedCount + $r.FailedBlocksCount + $r.FailedContainersCount
        Skipped = $r.SkippedCount
        # Every failure by file and name with its first error line, so that the end of a long
        # CI log (often all that is kept) says what failed.
        FailedTests = @(
            @($r.Failed) + @($r.FailedBlocks) | Where-Object { $_ } | ForEach-Object {
                $file = if ($_.ScriptBlock.File) { Split-Path $_.ScriptBlock.File -Leaf } else { '' }
                $message = @($_.ErrorRecord | ForEach-Object { "$_" } | Where-Object { $_ }) | Select-Object -First 1
                '{0}: {1}: {2}' -f $file, $_.ExpandedPath, (($message -split "`n")[0])
            }
            @($r.FailedContainers) | Where-Object { $_ } | ForEach-Object {
                $message = @($_.ErrorRecord | ForEach-Object { "$_" } | Where-Object { $_ }) | Select-Object -First 1
                '{0}: (container): {1}' -f $_.Item, (($message -split "`n")[0])
            }
        )
    }
} else { @{ Passed = 0; Failed = 1; Skipped = 0 } }
$counts | ConvertTo-Json -Depth 3 | Set-Content $ResultFile
