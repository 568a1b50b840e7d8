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
    }
} else { @{ Passed = 0; Failed = 1; Skipped = 0 } }
$counts | ConvertTo-Json | Set-Content $ResultFile
