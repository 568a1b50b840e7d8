#Requires -Version 7.4
# Process control and small figures helpers for the benchmarks (Bench.ps1, bench/*.ps1): by PID only, never by name.

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

function Find-BenchLeader {
    <# The manager that reports itself leader (Get-SwarmNode -Self), or $null. Managers: objects with Pid and Endpoint. #>
    param([object[]] $Managers)
    foreach ($m in $Managers) {
        if (-not $m.Pid -or -not (Test-Alive $m.Pid)) { continue }
        try {
            if ((Get-SwarmNode -Self -Endpoint $m.Endpoint -ErrorAction Stop).IsLeader) { return $m }
        } catch { }
    }
    $null
}

function Wait-BenchWhole {
    <#
    Waits until the swarm is whole: one leader, every manager Reachable in the leader's list, every
    manager answering a consistent read on its own endpoint. Returns the leader, or $null on timeout.
    #>
    param([object[]] $Managers, [double] $TimeoutSeconds = 30)
    $sw = [Diagnostics.Stopwatch]::StartNew()
    while ($sw.Elapsed.TotalSeconds -lt $TimeoutSeconds) {
        $leader = Find-BenchLeader -Managers $Managers
        if ($leader) {
            try {
                $list = @(Get-SwarmNode -Endpoint $leader.Endpoint -Role Manager -ErrorAction Stop)
                $reachable = @($list | Where-Object { "$($_.Reachability)" -eq 'Reachable' }).Count
                $leaders = @($list | Where-Object IsLeader).Count
                if ($list.Count -eq $Managers.Count -and $reachable -eq $Managers.Count -and $leaders -eq 1) {
                    foreach ($m in $Managers) { $null = Get-SwarmNode -Self -Endpoint $m.Endpoint -ErrorAction Stop }
                    return $leader
                }
            } catch { }
        }
        Start-Sleep -Milliseconds 50
    }
    $null
}

function Stop-BenchDaemons {
    <# Every daemon a scenario started, by PID: SIGTERM to all, then SIGKILL for any still alive after the grace. #>
    param([int[]] $Pids, [double] $GraceSeconds = 10)
    $left = @($Pids | Select-Object -Unique | Where-Object { Test-Alive $_ })
    foreach ($p in $left) { Send-Signal $p TERM }
    foreach ($p in $left) { if (-not (Wait-Exit $p $GraceSeconds)) { Send-Signal $p 9; $null = Wait-Exit $p 5 } }
}

function Copy-BenchLogs {
    <# Each node's psswarmd.log (nodes: objects with Name and DataRoot) into a folder, as <name>.log. #>
    param([object[]] $Nodes, [string] $Path)
    if (-not $Path) { return }
    New-Item -ItemType Directory $Path -Force | Out-Null
    foreach ($n in $Nodes) {
        $log = Join-Path $n.DataRoot 'psswarmd.log'
        if (Test-Path $log) { Copy-Item $log (Join-Path $Path "$($n.Name).log") -Force }
    }
}

function Get-ClientType {
    <#
    A type of the client library (PSSwarm.Client, or its generated PSSwarm.Protocol.Control messages). It loads
    in PSSwarm's own AssemblyLoadContext, where [PSSwarm.Client.X] does not find it: Assembly.Load does (through
    the module's resolver). Use it as (Get-ClientType PSSwarm.Client.SwarmClient)::For($endpoint).
    #>
    param([Parameter(Mandatory)] [string] $Name)
    [Reflection.Assembly]::Load('PSSwarm.Client').GetType($Name, $true)
}

function Write-BenchFigures {
    <# Writes a scenario's figures as JSON to OutputPath (its folder made if missing); returns the full path, or nothing without a path. #>
    param([Parameter(Mandatory)] $Figures, [string] $OutputPath)
    if (-not $OutputPath) { return }
    $full = [IO.Path]::GetFullPath($OutputPath)
    New-Item -ItemType Directory (Split-Path $full) -Force | Out-Null
    $Figures | ConvertTo-Json -Depth 6 | Set-Content -Path $full -Encoding utf8NoBOM
    $full
}

function Get-Median {
    <# The median of the values, or $null when there are none. #>
    param([double[]] $Values)
    $s = @($Values | Sort-Object); if ($s.Count -eq 0) { return $null }
    if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 }
}

function Get-Round2 {
    <# A figure rounded to 2 decimals; $null stays $null. #>
    param($Value)
    if ($null -eq $Value) { $null } else { [math]::Round([double]$Value, 2) }
}

Export-ModuleMember -Function Test-Alive, Wait-Exit, Send-Signal, Find-BenchLeader, Wait-BenchWhole, Stop-BenchDaemons, Copy-BenchLogs, Get-ClientType, Write-BenchFigures, Get-Median, Get-Round2
