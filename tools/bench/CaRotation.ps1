<#
.SYNOPSIS
    Root CA rotation: time of Update-SwarmCA (without -Detach) on a swarm of 3 managers and 10
    workers, at the default 5 s dispatcher heartbeat and at 1 s.
    Run: dotnet pwsh -NoProfile -File tools/bench/CaRotation.ps1 -ModulePath out/PSSwarm/PSSwarm.psd1 [-Runs 3] [-OutputPath x.json]
.DESCRIPTION
    Thirteen psswarmd processes on 127.0.0.241-253:2377 (m1-m3 on .241-.243, w1-w10 on .244-.253),
    their data roots and Unix sockets in a temp folder. m1 runs Initialize-Swarm (default 5 s
    heartbeat), the others join with Get-SwarmJoinToken -Endpoint m1 | Join-Swarm.

    Then -Runs times each: Update-SwarmCA -Endpoint m1 -Confirm:$false, wall time from the call to
    its output (the cmdlet waits until every node that is not down has a certificate from the new
    root); (a) at the 5 s heartbeat, (b) after Set-Swarm -DispatcherHeartbeat 1s and a wait of
    -HeartbeatSettleSeconds (every node picks the new period up at its next heartbeat).
    The cmdlet runs in a second runspace of this process (module imported and its channel to m1
    warmed before the first run), so that a rotation that never completes is bounded
    (-RotationTimeoutSeconds; then the call is stopped and the run recorded as null).

    After each rotation, at once: every one of the 13 nodes must be listed Ready on m1, Get-SwarmCA
    on m1 must show a new digest (the one Update-SwarmCA output) and no rotation in progress; each
    run that misses one of these (or fails, or times out) counts one failure. Also recorded, not
    counted as failures: the digest on m2 and m3, each node's swarm-node.crt chained to the new root
    (within 10 s), and when a Ready check failed, how long until every node was Ready again.
    Between runs the swarm is let settle (every node Ready, bounded, plus -PauseSeconds).

    Every wait is bounded; every daemon started here is stopped by PID in a finally block (SIGTERM,
    then SIGKILL for any still alive) and the temp folder is removed. The figures are printed and
    emitted as one object (keys nodes, rotateMs, rotateMsRuns, rotateMs1s, rotateMs1sRuns,
    failures, details); -OutputPath also writes it as JSON. Exit code: non-zero only when the run
    failed with an error.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [ValidateRange(1, 50)] [int] $Runs = 3,
    [ValidateRange(1, 10)] [int] $Workers = 10,
    [double] $WaitTimeoutSeconds = 60,
    # Bound on one Update-SwarmCA call.
    [double] $RotationTimeoutSeconds = 120,
    # After Set-Swarm -DispatcherHeartbeat 1s: every node has the new period after its next (5 s) heartbeat.
    [double] $HeartbeatSettleSeconds = 6,
    # Between two rotations, once every node is Ready.
    [double] $PauseSeconds = 2,
    [string] $OutputPath,
    # Copy the nodes' psswarmd.log files here at the end.
    [string] $KeepLogsPath
)
$ErrorActionPreference = 'Stop'
$clock = [Diagnostics.Stopwatch]::StartNew()
$ModulePath = [IO.Path]::GetFullPath($ModulePath)
Import-Module $ModulePath -Force
Import-Module (Join-Path $PSScriptRoot 'Processes.psm1') -Force

$root = Join-Path ([IO.Path]::GetTempPath()) "psswarm-carotation-$PID"
New-Item -ItemType Directory $root -Force | Out-Null
$startedPids = [Collections.Generic.List[int]]::new()
$exitCode = 0

$ca = [ordered]@{
    nodes          = $null
    rotateMs       = $null
    rotateMsRuns   = @()
    rotateMs1s     = $null
    rotateMs1sRuns = @()
    failures       = 0
    details        = [ordered]@{
        runsRequested = $Runs; managers = 3; workers = $Workers
        setupSeconds = $null
        runs = [Collections.Generic.List[object]]::new()   # every rotation: heartbeat, ms (null: failed or timed out), checks
        logWarnings = [ordered]@{}                          # per node: warn/fail/crit lines logged during the rotations
        notes = [Collections.Generic.List[string]]::new()
        error = $null
        elapsedSeconds = $null
    }
}
function Say([string] $Text = '') { Write-Host $Text }
function Note([string] $Text) { $ca.details.notes.Add($Text); Say "  note: $Text" }
function Round2($value) { Get-Round2 $value }
function Median([double[]] $v) { Get-Median $v }
function Format-Run($value) { if ($null -eq $value) { 'failed' } else { '{0:0}' -f $value } }

# ---- the nodes: m1-m3 on 127.0.0.241-243, w1-w10 on .244-.253
$nodes = [ordered]@{}
for ($i = 1; $i -le 3 + $Workers; $i++) {
    $name = if ($i -le 3) { "m$i" } else { "w$($i - 3)" }
    $ip = "127.0.0.$(240 + $i)"
    $nodes[$name] = [pscustomobject]@{
        Name = $name; Ip = $ip; Listen = "${ip}:2377"; Role = $(if ($i -le 3) { 'Manager' } else { 'Worker' })
        Endpoint = "unix://$root/$name.sock"; DataRoot = (Join-Path $root $name); Pid = $null; Id = $null
    }
}
$mgrs = @($nodes.Values | Where-Object Role -EQ Manager)
$m1 = $nodes.m1
function Start-Node($n) {
    $d = Start-SwarmDaemon -DataRoot $n.DataRoot -Endpoint $n.Endpoint -NodeName $n.Name -PassThru
    $n.Pid = $d.ProcessId
    $startedPids.Add($d.ProcessId)
}
# m1's node list: how many of the nodes are Ready (and the list), or $null when it cannot be read.
function Get-ReadyState {
    try { $list = @(Get-SwarmNode -Endpoint $m1.Endpoint -ErrorAction Stop) } catch { return $null }
    $ready = @($list | Where-Object { "$($_.Status)" -eq 'Ready' })
    [pscustomobject]@{ Listed = $list.Count; Ready = $ready.Count; NotReady = @($list | Where-Object { "$($_.Status)" -ne 'Ready' } | ForEach-Object { "$($_.Hostname)=$($_.Status)" }) }
}
# Until all nodes are listed Ready on m1; the seconds it took, or $null on timeout.
function Wait-AllReady([double] $TimeoutSeconds = $WaitTimeoutSeconds) {
    $sw = [Diagnostics.Stopwatch]::StartNew()
    while ($sw.Elapsed.TotalSeconds -lt $TimeoutSeconds) {
        $s = Get-ReadyState
        if ($s -and $s.Listed -eq $nodes.Count -and $s.Ready -eq $nodes.Count) { return $sw.Elapsed.TotalSeconds }
        Start-Sleep -Milliseconds 200
    }
    $null
}
# Whether a node's certificate file chains to the given root (custom trust, no revocation).
function Test-OnRoot($n, [Security.Cryptography.X509Certificates.X509Certificate2] $Root) {
    try {
        $cert = [Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPem(
            [IO.File]::ReadAllText((Join-Path $n.DataRoot 'certificates/swarm-node.crt')))
    } catch { return $false }
    $chain = [Security.Cryptography.X509Certificates.X509Chain]::new()
    try {
        $chain.ChainPolicy.TrustMode = [Security.Cryptography.X509Certificates.X509ChainTrustMode]::CustomRootTrust
        $chain.ChainPolicy.RevocationMode = [Security.Cryptography.X509Certificates.X509RevocationMode]::NoCheck
        $null = $chain.ChainPolicy.CustomTrustStore.Add($Root)
        $chain.Build($cert)
    }
    finally { $chain.Dispose(); $cert.Dispose() }
}

# ---- Update-SwarmCA in a second runspace (so that a call that never returns can be stopped)
$runspace = $null
function Open-RotationRunspace {
    $script:runspace = [runspacefactory]::CreateRunspace()
    $script:runspace.Open()
    $ps = [powershell]::Create(); $ps.Runspace = $script:runspace
    try {
        $null = $ps.AddCommand('Import-Module').AddParameter('Name', $ModulePath).AddStatement().
            AddCommand('Get-SwarmCA').AddParameter('Endpoint', $m1.Endpoint)   # warms the channel to m1
        $null = $ps.Invoke()
        if ($ps.Streams.Error.Count) { throw "the rotation runspace could not import the module or reach m1: $($ps.Streams.Error[0])" }
    }
    finally { $ps.Dispose() }
}
# One Update-SwarmCA call, timed; Ms is null when it failed or timed out.
function Invoke-Rotation {
    $ps = [powershell]::Create(); $ps.Runspace = $script:runspace
    $null = $ps.AddCommand('Update-SwarmCA').AddParameter('Endpoint', $m1.Endpoint).AddParameter('Confirm', $false)
    $out = [Management.Automation.PSDataCollection[psobject]]::new()
    $in = [Management.Automation.PSDataCollection[psobject]]::new(); $in.Complete()
    try {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $handle = $ps.BeginInvoke($in, $out)
        $done = $handle.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds($RotationTimeoutSeconds))
        $ms = $sw.Elapsed.TotalMilliseconds
        $err = $null
        if (-not $done) {
            $ps.Stop()
            $err = "no output within $RotationTimeoutSeconds s (stopped)"
        }
        else {
            try { $null = $ps.EndInvoke($handle) } catch { $err = $_.Exception.GetBaseException().Message }
            if (-not $err -and $ps.Streams.Error.Count) { $err = "$($ps.Streams.Error[0])" }
        }
        $warnings = @($ps.Streams.Warning | ForEach-Object { "$_" })
        $result = if ($out.Count) { $out[$out.Count - 1] } else { $null }
        if (-not $err -and -not $result) { $err = 'no output' }
        [pscustomobject]@{ Ms = $(if ($err) { $null } else { $ms }); ElapsedMs = $ms; Error = $err; Output = $result; Warnings = $warnings }
    }
    finally { $ps.Dispose() }
}

# One measured rotation and its checks; adds to $ca.details.runs and returns the run.
function Measure-Rotation([string] $Heartbeat, [int] $Index) {
    $before = Get-SwarmCA -Endpoint $m1.Endpoint -ErrorAction Stop
    $from = [datetime]::UtcNow
    $r = Invoke-Rotation
    $run = [ordered]@{
        heartbeat = $Heartbeat; run = $Index; ms = (Round2 $r.Ms); elapsedMs = (Round2 $r.ElapsedMs); error = $r.Error
        startedAtUtc = $from.ToString('o')
        readyOnM1 = $null; notReady = @(); allReadyAfterSeconds = $null
        digestChanged = $null; rotationInProgressAfter = $null; managersOnNewDigest = $null
        certificatesOnNewRoot = $null; certificatesNotOnNewRoot = @()
        failed = $false; why = [Collections.Generic.List[string]]::new()
    }
    if ($r.Warnings.Count) { $run.warnings = $r.Warnings }
    if ($r.Error) { $run.why.Add("Update-SwarmCA: $($r.Error)") }
    # At once: every node Ready on m1.
    $s = Get-ReadyState
    if ($s) {
        $run.readyOnM1 = $s.Ready
        $run.notReady = $s.NotReady
        if ($s.Listed -ne $nodes.Count -or $s.Ready -ne $nodes.Count) { $run.why.Add("$($s.Ready) of $($nodes.Count) nodes Ready on m1 ($($s.Listed) listed; $($s.NotReady -join ', '))") }
    }
    else { $run.why.Add('the node list on m1 could not be read') }
    # m1's root: a new digest, the one Update-SwarmCA output, no rotation in progress.
    $after = $null
    try { $after = Get-SwarmCA -Endpoint $m1.Endpoint -ErrorAction Stop } catch { $run.why.Add("Get-SwarmCA on m1: $($_.Exception.Message)") }
    if ($after) {
        $run.digestChanged = $after.Digest -ne $before.Digest
        $run.rotationInProgressAfter = $after.RotationInProgress
        if (-not $run.digestChanged) { $run.why.Add("the root digest on m1 did not change ($($after.Digest))") }
        elseif ($r.Output -and $r.Output.Digest -ne $after.Digest) { $run.why.Add("m1's root digest $($after.Digest) is not the one Update-SwarmCA output ($($r.Output.Digest))") }
        if ($after.RotationInProgress) { $run.why.Add('m1 still reports a rotation in progress') }
    }
    $run.failed = $run.why.Count -gt 0
    if ($run.failed) { $script:ca.failures++ }
    # Not counted: the other managers' digest, the nodes' certificate files (bounded, 10 s).
    if ($after -and $run.digestChanged) {
        $run.managersOnNewDigest = @($mgrs | Where-Object { try { (Get-SwarmCA -Endpoint $_.Endpoint -ErrorAction Stop).Digest -eq $after.Digest } catch { $false } }).Count
        $sw = [Diagnostics.Stopwatch]::StartNew()
        do {
            $off = @($nodes.Values | Where-Object { -not (Test-OnRoot $_ $after.Certificate) } | ForEach-Object Name)
            if ($off.Count -eq 0) { break }
            Start-Sleep -Milliseconds 250
        } while ($sw.Elapsed.TotalSeconds -lt 10)
        $run.certificatesOnNewRoot = $nodes.Count - $off.Count
        $run.certificatesNotOnNewRoot = $off
    }
    # The swarm settled before the next run: every node Ready again, and no rotation left running.
    if (-not $s -or $s.Ready -ne $nodes.Count -or $s.Listed -ne $nodes.Count) {
        $run.allReadyAfterSeconds = Round2 (Wait-AllReady)
        if ($null -eq $run.allReadyAfterSeconds) { Note "$Heartbeat run ${Index}: not every node Ready on m1 within $WaitTimeoutSeconds s after the rotation" }
    }
    if ($r.Error) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        while ($sw.Elapsed.TotalSeconds -lt $WaitTimeoutSeconds) {
            try { if (-not (Get-SwarmCA -Endpoint $m1.Endpoint -ErrorAction Stop).RotationInProgress) { break } } catch { }
            Start-Sleep -Milliseconds 250
        }
    }
    $ca.details.runs.Add([pscustomobject]$run)
    $line = '  {0} heartbeat, rotation {1}: {2} ms; Ready on m1 {3}/{4}; digest changed {5}; managers on it {6}/3; certificates on the new root {7}/{4}' -f $Heartbeat, $Index,
        (Format-Run $r.Ms), $run.readyOnM1, $nodes.Count, $run.digestChanged, $run.managersOnNewDigest, $run.certificatesOnNewRoot
    if ($run.failed) { Write-Host "$line; FAILED: $($run.why -join '; ')" -ForegroundColor Yellow } else { Say $line }
    $run
}

try {
    Say "PSSwarm root CA rotation: 3 managers and $Workers workers on 127.0.0.241-$(240 + $nodes.Count):2377, $Runs rotations at each heartbeat, $(Get-Date -Format s)"
    # ---- set-up
    foreach ($n in $nodes.Values) { Start-Node $n }
    $null = Initialize-Swarm -Endpoint $m1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip
    foreach ($n in @($nodes.Values | Where-Object Name -NE 'm1')) {
        $null = Get-SwarmJoinToken -Role $n.Role -Endpoint $m1.Endpoint | Join-Swarm -Endpoint $n.Endpoint -ListenAddress $n.Listen -AdvertiseAddress $n.Ip
    }
    foreach ($n in $nodes.Values) { $n.Id = (Get-Swarm -Endpoint $n.Endpoint).NodeId }
    if (-not (Wait-BenchWhole -Managers $mgrs -TimeoutSeconds $WaitTimeoutSeconds)) { throw "the managers were not whole within $WaitTimeoutSeconds s of the joins" }
    if ($null -eq (Wait-AllReady)) { throw "not every node was Ready on m1 within $WaitTimeoutSeconds s of the joins: $((Get-ReadyState).NotReady -join ', ')" }
    $ca.nodes = (Get-ReadyState).Listed
    $heartbeat = (Get-Swarm -Endpoint $m1.Endpoint).DispatcherHeartbeat
    $ca.details.setupSeconds = Round2 $clock.Elapsed.TotalSeconds
    Say ('set-up done after {0:0.0} s ({1} nodes Ready on m1, dispatcher heartbeat {2})' -f $clock.Elapsed.TotalSeconds, $ca.nodes, $heartbeat)
    Open-RotationRunspace
    $measureFrom = [datetime]::UtcNow

    # ---- (a) the default 5 s heartbeat
    $runs5 = foreach ($i in 1..$Runs) {
        if ($i -gt 1) { Start-Sleep -Seconds $PauseSeconds }
        (Measure-Rotation -Heartbeat "$([int]$heartbeat.TotalSeconds)s" -Index $i).ms
    }
    $ca.rotateMsRuns = @($runs5)
    $ca.rotateMs = Round2 (Median @($runs5 | Where-Object { $null -ne $_ }))

    # ---- (b) a 1 s heartbeat
    Set-Swarm -Endpoint $m1.Endpoint -DispatcherHeartbeat ([TimeSpan]::FromSeconds(1)) -Confirm:$false
    Start-Sleep -Seconds $HeartbeatSettleSeconds
    $hb = (Get-Swarm -Endpoint $m1.Endpoint).DispatcherHeartbeat
    if ($hb -ne [TimeSpan]::FromSeconds(1)) { Note "after Set-Swarm -DispatcherHeartbeat 1s, m1 reports a heartbeat of $hb" }
    if ($null -eq (Wait-AllReady)) { Note "not every node Ready on m1 within $WaitTimeoutSeconds s of Set-Swarm -DispatcherHeartbeat 1s" }
    $runs1 = foreach ($i in 1..$Runs) {
        if ($i -gt 1) { Start-Sleep -Seconds $PauseSeconds }
        (Measure-Rotation -Heartbeat '1s' -Index $i).ms
    }
    $ca.rotateMs1sRuns = @($runs1)
    $ca.rotateMs1s = Round2 (Median @($runs1 | Where-Object { $null -ne $_ }))

    # ---- the nodes' warnings and errors during the rotations (their logs)
    $measureTo = [datetime]::UtcNow
    foreach ($n in $nodes.Values) {
        $log = Join-Path $n.DataRoot 'psswarmd.log'
        if (-not (Test-Path $log)) { continue }
        $lines = foreach ($line in [IO.File]::ReadAllLines($log)) {
            if ($line -notmatch '^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z (warn|fail|crit): ') { continue }
            $t = [datetime]::ParseExact($Matches[1], 'yyyy-MM-ddTHH:mm:ss.fff', [Globalization.CultureInfo]::InvariantCulture,
                [Globalization.DateTimeStyles]::AssumeUniversal -bor [Globalization.DateTimeStyles]::AdjustToUniversal)
            if ($t -ge $measureFrom -and $t -le $measureTo) { $line }
        }
        $lines = @($lines)
        if ($lines.Count) { $ca.details.logWarnings[$n.Name] = [ordered]@{ count = $lines.Count; first = @($lines | Select-Object -First 5) } }
    }
}
catch {
    $exitCode = 1
    $ca.details.error = "$($_.Exception.Message) at $($_.InvocationInfo.PositionMessage -replace '\s+', ' ')"
    Write-Host "root CA rotation run failed: $($ca.details.error)" -ForegroundColor Red
    foreach ($n in $nodes.Values) {
        $log = Join-Path $n.DataRoot 'psswarmd.log'
        if (Test-Path $log) { Write-Host "  --- $($n.Name) (last lines of its log)"; Get-Content $log -Tail 8 | ForEach-Object { Write-Host "  $_" } }
    }
}
finally {
    if ($runspace) { try { $runspace.Dispose() } catch { } }
    Copy-BenchLogs -Nodes @($nodes.Values) -Path $KeepLogsPath
    Stop-BenchDaemons -Pids $startedPids
    Remove-Item $root -Recurse -Force -ErrorAction SilentlyContinue
}

$ca.details.elapsedSeconds = Round2 $clock.Elapsed.TotalSeconds
Say
$fmt = { param($runs) (@($runs) | ForEach-Object { Format-Run $_ }) -join ', ' }
Say ('{0,-52} median {1,9} ms   (runs {2})' -f "Update-SwarmCA, $($ca.nodes) nodes, 5 s heartbeat", (Format-Run $ca.rotateMs), (& $fmt $ca.rotateMsRuns))
Say ('{0,-52} median {1,9} ms   (runs {2})' -f "Update-SwarmCA, $($ca.nodes) nodes, 1 s heartbeat", (Format-Run $ca.rotateMs1s), (& $fmt $ca.rotateMs1sRuns))
Say ('failures {0} (of {1} rotations: an error or timeout, a node not Ready on m1, or m1''s root digest unchanged)' -f $ca.failures, $ca.details.runs.Count)
if ($ca.details.logWarnings.Count) {
    Say ('warnings in the logs during the rotations: ' + (($ca.details.logWarnings.GetEnumerator() | ForEach-Object { "$($_.Name) x$($_.Value.count)" }) -join ', '))
}
Say ('elapsed {0} s (set-up {1} s)' -f $ca.details.elapsedSeconds, $ca.details.setupSeconds)
if ($written = Write-BenchFigures $ca $OutputPath) { Say "Figures written to $written" }
[pscustomobject]$ca
if ($exitCode) { exit $exitCode }
