<#
.SYNOPSIS
    Remote join through PowerShell remoting over SSH: wall time to open sessions into three hosts
    and join them to a swarm with one fanned-out Invoke-Command.
    Run (root; OpenSSH server from tools/testhost/Install-Prerequisites.sh):
    dotnet pwsh -NoProfile -File tools/bench/RemoteJoin.ps1 -ModulePath /abs/out/PSSwarm/PSSwarm.psd1 [-Rounds 3] [-OutputPath x.json]
.DESCRIPTION
    Uses tools/testhost/TestHost.psm1: a manager in namespace psw-ssh-<tag>-mgr (10.99.77.10, its
    psswarmd driven here over its control socket) and hosts h1-h3 (10.99.77.1-3), each a network
    namespace with its own sshd and psswarmd; the SSH connections go through the lab's controller
    namespace (10.99.77.254) across the bridge.

    Each round, from closed sessions and three hosts outside any swarm:
      sessions  New-PSSession -HostName 10.99.77.1,10.99.77.2,10.99.77.3 (key login, ProxyCommand)
      join      $t = Get-SwarmJoinToken -Role Worker; Invoke-Command -Session $all { $using:t | Join-Swarm },
                until the manager lists all three Ready (includes the module's import in each new
                remote session)
      total     sessions + join
      warmJoin  the same join again through the sessions still open (after the three left)
    Between joins the hosts leave (Exit-Swarm fanned out the same way) and are removed on the
    manager. Medians are printed; the figures are emitted as one object (hosts, sessionsMs, joinMs,
    totalMs, warmJoinMs, and per-round lists in details); -OutputPath also writes it as JSON.
    Every wait is bounded; every process, namespace and temp file is removed at the end (by PID).
    Exit code: non-zero only when the run failed with an error.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [ValidateRange(1, 20)] [int] $Rounds = 3,
    [double] $WaitTimeoutSeconds = 30,
    [string] $OutputPath
)
$ErrorActionPreference = 'Stop'
$clock = [Diagnostics.Stopwatch]::StartNew()
$ModulePath = [IO.Path]::GetFullPath($ModulePath)
Import-Module $ModulePath -Force -Global
Import-Module (Join-Path $PSScriptRoot '../testhost/TestHost.psm1') -Force

$figures = [ordered]@{
    hosts      = 3
    sessionsMs = $null
    joinMs     = $null
    totalMs    = $null
    warmJoinMs = $null
    details    = [ordered]@{ sessionsMsRuns = @(); joinMsRuns = @(); totalMsRuns = @(); warmJoinMsRuns = @(); seconds = $null; error = $null }
}
function Get-Median([double[]] $Values) {
    if (-not $Values) { return $null }
    $sorted = @($Values | Sort-Object)
    $n = $sorted.Count
    $m = if ($n % 2) { $sorted[[int][math]::Floor($n / 2)] } else { ($sorted[$n / 2 - 1] + $sorted[$n / 2]) / 2 }
    [math]::Round($m, 1)
}
function Wait-For([scriptblock] $Condition, [string] $Because) {
    $sw = [Diagnostics.Stopwatch]::StartNew()
    while (-not (& $Condition)) {
        if ($sw.Elapsed.TotalSeconds -ge $WaitTimeoutSeconds) { throw "timed out after $WaitTimeoutSeconds s waiting for $Because" }
        Start-Sleep -Milliseconds 20
    }
}

$lab = $null
$sessions = @()
$exitCode = 0
try {
    $missing = Test-SwarmTestHostPrerequisite
    if ($missing) { throw "cannot create SSH test hosts: $missing" }
    $lab = New-SwarmTestLab -ModulePath $ModulePath
    $mgr = New-SwarmTestHost -Lab $lab -Name mgr -Number 10 -NoSsh
    $hosts = foreach ($n in 1..3) { New-SwarmTestHost -Lab $lab -Name "h$n" -Number $n }
    $ips = @($hosts.Ip)
    $names = @($hosts.Name)
    $null = Initialize-Swarm -Endpoint $mgr.Endpoint -ListenAddress $mgr.Listen -AdvertiseAddress $mgr.Ip -DispatcherHeartbeat '00:00:01' -InformationAction Ignore
    $options = Get-SwarmTestSshOption $lab

    $allReady = {
        $ready = @(Get-SwarmNode -Endpoint $mgr.Endpoint | Where-Object { "$($_.Status)" -eq 'Ready' -and $_.Hostname -in $names })
        $ready.Count -eq $names.Count
    }
    function Join-All {
        $token = Get-SwarmJoinToken -Endpoint $mgr.Endpoint -Role Worker
        $joined = @(Invoke-Command -Session $sessions { $using:token | Join-Swarm })
        if ($joined.Count -ne 3) { throw "Invoke-Command returned $($joined.Count) nodes, not 3" }
        Wait-For $allReady 'h1-h3 to be Ready on the manager'
    }
    function Reset-All {
        Invoke-Command -Session $sessions { Exit-Swarm -Confirm:$false }
        Wait-For { -not @(Get-SwarmNode -Endpoint $mgr.Endpoint | Where-Object { $_.Hostname -in $names -and "$($_.Status)" -ne 'Down' }) } 'h1-h3 to be Down'
        Get-SwarmNode -Endpoint $mgr.Endpoint | Where-Object Hostname -In $names | ForEach-Object { Remove-SwarmNode -Endpoint $mgr.Endpoint -Id $_.Id -Confirm:$false }
    }

    for ($round = 1; $round -le $Rounds; $round++) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $sessions = @(New-PSSession -HostName $ips -UserName root -KeyFilePath $lab.ClientKey -Options $options -ConnectingTimeout 30000)
        $sessionsMs = $sw.Elapsed.TotalMilliseconds
        if ($sessions.Count -ne 3) { throw "New-PSSession opened $($sessions.Count) sessions, not 3" }
        Join-All
        $totalMs = $sw.Elapsed.TotalMilliseconds
        Reset-All
        $sw.Restart()
        Join-All
        $warmMs = $sw.Elapsed.TotalMilliseconds
        Reset-All
        $sessions | Remove-PSSession
        $sessions = @()

        $figures.details.sessionsMsRuns += [math]::Round($sessionsMs, 1)
        $figures.details.joinMsRuns += [math]::Round($totalMs - $sessionsMs, 1)
        $figures.details.totalMsRuns += [math]::Round($totalMs, 1)
        $figures.details.warmJoinMsRuns += [math]::Round($warmMs, 1)
        Write-Host ('  round {0}: sessions {1,6:N0} ms, join 3 in parallel {2,6:N0} ms, total {3,6:N0} ms; join again with the sessions open {4,6:N0} ms' -f
            $round, $sessionsMs, ($totalMs - $sessionsMs), $totalMs, $warmMs)
    }
    $figures.sessionsMs = Get-Median $figures.details.sessionsMsRuns
    $figures.joinMs = Get-Median $figures.details.joinMsRuns
    $figures.totalMs = Get-Median $figures.details.totalMsRuns
    $figures.warmJoinMs = Get-Median $figures.details.warmJoinMsRuns
    Write-Host ('Remote join of 3 hosts over SSH remoting (median of {0}): create sessions {1:N0} ms, join 3 hosts in parallel {2:N0} ms, total {3:N0} ms; with the sessions open {4:N0} ms' -f
        $Rounds, $figures.sessionsMs, $figures.joinMs, $figures.totalMs, $figures.warmJoinMs)
}
catch {
    $figures.details.error = "$($_.Exception.Message)"
    Write-Host "RemoteJoin failed: $($_.Exception.Message)" -ForegroundColor Red
    if ($lab) { foreach ($h in @($lab.Hosts)) { Get-SwarmTestHostLog $h -Tail 10 | Write-Host } }
    $exitCode = 1
}
finally {
    if ($sessions) { $sessions | Remove-PSSession -ErrorAction SilentlyContinue }
    if ($lab) { Remove-SwarmTestLab $lab }
    $figures.details.seconds = [math]::Round($clock.Elapsed.TotalSeconds, 1)
}
if ($OutputPath) { $figures | ConvertTo-Json -Depth 5 | Set-Content -Path $OutputPath -Encoding utf8NoBOM }
[pscustomobject]$figures
if ($exitCode) { exit $exitCode }
