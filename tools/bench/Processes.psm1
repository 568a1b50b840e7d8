#Requires -Version 7.4
# Process control for the benchmarks (Bench.ps1, bench/Chaos.ps1): by PID only, never by name.

Set-StrictMode -Version Latest

function Test-Alive {
    <# Alive and not a zombie (a killed child stays in /proc until reaped). #>
    param([int] $Id)
    try { $stat = [IO.File]::ReadAllText("/proc/$Id/stat") } catch { return $false }
    $close = $stat.LastIndexOf(')')
    -not ($close -gt 0 -and $close + 2 -lt $stat.Length -and $stat[$close + 2] -eq 'Z')
}

function Wait-Exit {
    <# True when the process is gone within the timeout. #>
    param([int] $Id, [double] $TimeoutSeconds = 15)
    $sw = [Diagnostics.Stopwatch]::StartNew()
    while (Test-Alive $Id) {
        if ($sw.Elapsed.TotalSeconds -ge $TimeoutSeconds) { return $false }
        Start-Sleep -Milliseconds 10
    }
    $true
}

function Send-Signal {
    <# Signals a daemon the bench started (by PID; only while it is still a psswarmd). #>
    param([int] $Id, [string] $Signal)
    if (-not (Test-Alive $Id)) { return }
    try { $cmd = [IO.File]::ReadAllText("/proc/$Id/cmdline") } catch { return }
    if ($cmd -notlike '*psswarmd*') { return }
    & kill "-$Signal" $Id 2>$null
}

Export-ModuleMember -Function Test-Alive, Wait-Exit, Send-Signal
