<#
.SYNOPSIS
    Scale (issue 7, item 8): N simulated worker nodes (tools/loadgen) join three managers for real
    and heartbeat the leader; measures the joins, the node list, the managers' RSS and CPU, and
    counts nodes wrongly marked Down.
    Run: dotnet pwsh -NoProfile -File tools/bench/Scale.ps1 -ModulePath out/PSSwarm/PSSwarm.psd1 [-Nodes 5000] [-DurationSeconds 60] [-OutputPath x.json]
.DESCRIPTION
    Three managers on 127.0.0.231-233:2377 (own temp data roots and Unix sockets). The load
    generator (built from tools/loadgen unless -LoadGenPath names a built psswarm-loadgen) gets the
    worker token in a mode-0600 file, fetches and pins the root CA, joins -Nodes nodes
    (-JoinConcurrency at a time; each has its own key, certificate and TLS connection) with
    recorded addresses 127.70.x.y (loopback; nobody connects to them), and heartbeats the leader
    at the dispatcher period. The session window (-DurationSeconds) starts when every join is done.
    During the window, while the load runs: the managers' RSS (VmRSS, RssAnon, RssFile) and CPU
    (utime+stime from /proc/PID/stat, as % of one core), Get-SwarmNode on the leader (median of
    -NodeListCalls calls; the client-library call too), the node count (N+3 expected) and the
    load generator's nodes whose Status is Down (sampled several times; the max, plus the nodes
    the managers' logs say were marked down for "heartbeat failure").

    Open files: one connection per simulated node on both sides. Every .NET process (psswarmd and
    the load generator) raises its soft RLIMIT_NOFILE to the hard limit at start, and the managers
    inherit this shell's limits; when the hard limit is below -Nodes + 2048 this script raises this
    shell's limits with prlimit(1) first (root may raise the hard limit), so that the daemons and
    the load generator started from here get them. What was done is in details.openFiles.

    Every wait is bounded; the load generator and every daemon started here are stopped by PID in
    a finally block, and the temp folder is removed. Emits one object with the bench's "scale"
    keys (nodes, joinAllSeconds, nodeListMs, heartbeatsPerSec, managerRssMB, managerCpuPercent,
    spuriousDown) and "details"; -OutputPath also writes it as JSON. Exit code: non-zero only
    when the run failed with an error.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [ValidateRange(1, 65000)] [int] $Nodes = 5000,
    [ValidateRange(5, 3600)] [double] $DurationSeconds = 60,
    [ValidateRange(1, 1024)] [int] $JoinConcurrency = 32,
    # A built psswarm-loadgen; otherwise tools/loadgen is built into the temp folder.
    [string] $LoadGenPath,
    # The configuration of that build (its obj/bin folders, and PSSwarm.Core's, are this configuration's:
    # another name keeps it apart from a concurrent build.ps1 Release build).
    [ValidatePattern('^[A-Za-z][A-Za-z0-9]*$')] [string] $LoadGenConfiguration = 'Release',
    # Spread the joins over the three managers (default: the leader, as Join-Swarm with the leader first).
    [switch] $JoinSpread,
    [ValidateRange(1, 100)] [int] $NodeListCalls = 10,
    [double] $WaitTimeoutSeconds = 30,
    [string] $OutputPath,
    # Copy the managers' logs and the load generator's output here at the end.
    [string] $KeepLogsPath
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$clock = [Diagnostics.Stopwatch]::StartNew()
$ModulePath = [IO.Path]::GetFullPath($ModulePath)
Import-Module $ModulePath -Force
Import-Module (Join-Path $PSScriptRoot 'Processes.psm1') -Force

$root = Join-Path ([IO.Path]::GetTempPath()) "psswarm-scale-$PID"
New-Item -ItemType Directory $root -Force | Out-Null
$startedPids = [Collections.Generic.List[int]]::new()
$loadgen = $null
$runStartUtc = $null
$hostnamePrefix = 'lg'

$scale = [ordered]@{
    nodes             = $null
    joinAllSeconds    = $null
    nodeListMs        = $null
    heartbeatsPerSec  = $null
    managerRssMB      = $null
    managerCpuPercent = $null
    spuriousDown      = $null
    details           = [ordered]@{
        nodesRequested = $Nodes; durationSeconds = $DurationSeconds; joinConcurrency = $JoinConcurrency; joinSpread = [bool]$JoinSpread
        leader = $null; leaderChanged = $null; nodeCount = $null; nodeCountExpected = $null; nodeCountOk = $null
        nodeListApiMs = $null; nodeListMinMs = $null; nodeListMaxMs = $null
        downSamples = @(); downDuringJoins = $null; downLoggedNodes = $null; orphanNodes = $null
        managers = [ordered]@{}; cpuWindowSeconds = $null
        # Every ~5 s from the load generator's start: CPU (% of one core) and RSS (MB) of the managers and the load generator.
        timeline = [Collections.Generic.List[object]]::new()
        # The managers' leadership changes and store faults, from their logs (seconds from the load generator's start).
        events = @()
        loadgen = $null; openFiles = $null; notes = [Collections.Generic.List[string]]::new(); error = $null
        elapsedSeconds = $null
    }
}
function Say([string] $Text = '') { Write-Host $Text }
function Note([string] $Text) { $scale.details.notes.Add($Text); Say "  note: $Text" }
function Round2($value) { Get-Round2 $value }
function Median([double[]] $v) { Get-Median $v }

# ---- /proc figures
$clkTck = 100
try { $clkTck = [int](& getconf CLK_TCK) } catch { }
function Get-CpuSeconds([int] $Id) {
    # utime and stime: fields 14 and 15 of /proc/PID/stat (counted after the ")" that ends the command name).
    try { $stat = [IO.File]::ReadAllText("/proc/$Id/stat") } catch { return $null }
    $f = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
    ([double]$f[11] + [double]$f[12]) / $clkTck
}
function Get-Rss([int] $Id) {
    try { $text = [IO.File]::ReadAllText("/proc/$Id/status") } catch { return $null }
    $kb = { param($name) if ($text -match "(?m)^${name}:\s+(\d+)") { [double]$Matches[1] / 1024 } else { $null } }
    [pscustomobject]@{ Rss = (& $kb VmRSS); Anon = (& $kb RssAnon); File = (& $kb RssFile) }
}
function Get-OpenFilesLimit([int] $Id) {
    foreach ($line in [IO.File]::ReadAllLines("/proc/$Id/limits")) {
        if ($line -match '^Max open files\s+(\S+)\s+(\S+)') {
            $f = { param($v) if ($v -eq 'unlimited') { [long]::MaxValue } else { [long]$v } }
            return [pscustomobject]@{ Soft = (& $f $Matches[1]); Hard = (& $f $Matches[2]) }
        }
    }
    $null
}

# ---- the managers
$mgrs = @(foreach ($i in 1..3) {
    [pscustomobject]@{
        Name = "scale-m$i"; Ip = "127.0.0.23$i"; Listen = "127.0.0.23${i}:2377"
        Endpoint = "unix://$root/m$i.sock"; DataRoot = (Join-Path $root "m$i"); Pid = $null; Id = $null
    }
})
# The manager that reports itself leader, or $null; the swarm whole (Processes.psm1).
function Get-ClusterLeader { Find-BenchLeader -Managers $mgrs }
function Wait-Whole([double] $TimeoutSeconds = $WaitTimeoutSeconds) { Wait-BenchWhole -Managers $mgrs -TimeoutSeconds $TimeoutSeconds }
# The leader's node list through the client library (what the cmdlet calls), at most 10 s.
function Get-NodeList($m) {
    $cts = [Threading.CancellationTokenSource]::new([TimeSpan]::FromSeconds(10))
    try { (Get-ClientType PSSwarm.Client.SwarmClient)::For($m.Endpoint).ListNodesAsync($cts.Token).GetAwaiter().GetResult().Nodes }
    finally { $cts.Dispose() }
}
# Nodes of the load generator (by ID when known, else by hostname) whose status is Down.
function Measure-Down($m, $Ids) {
    $down = 0; $total = 0; $ours = 0
    foreach ($n in (Get-NodeList $m)) {
        $total++
        $mine = if ($Ids) { $Ids.Contains($n.Id) } else { $n.Hostname.StartsWith("$hostnamePrefix-") }
        if (-not $mine) { continue }
        $ours++
        if ("$($n.Status)" -eq 'StatusDown') { $down++ }
    }
    [pscustomobject]@{ Down = $down; Total = $total; Ours = $ours }
}
function Stop-ByPid([int] $Id, [string] $Like, [double] $TimeoutSeconds = 15) {
    # Only a process this script started, and only while its command line is still what it started.
    if (-not (Test-Alive $Id)) { return }
    try { $cmd = [IO.File]::ReadAllText("/proc/$Id/cmdline") } catch { return }
    if ($cmd -notlike "*$Like*") { return }
    & kill -TERM $Id 2>$null
    if (-not (Wait-Exit $Id $TimeoutSeconds)) { & kill -KILL $Id 2>$null; $null = Wait-Exit $Id 5 }
}

# One timeline point: CPU since the previous point and RSS now, for the managers and the load generator.
$script:lastSample = $null
function Add-Sample([string] $Phase) {
    $now = $runClock.Elapsed.TotalSeconds
    $cpu = @{}; foreach ($m in $mgrs) { $cpu[$m.Name] = Get-CpuSeconds $m.Pid }; $cpu.loadgen = Get-CpuSeconds $lgPid
    $point = [ordered]@{ t = [Math]::Round($now, 1); phase = $Phase }
    foreach ($k in @($mgrs.Name) + 'loadgen') {
        $short = $k -replace '^scale-', ''
        if ($script:lastSample -and $null -ne $cpu[$k] -and $null -ne $script:lastSample.Cpu[$k]) {
            $point["${short}Cpu"] = Round2 (($cpu[$k] - $script:lastSample.Cpu[$k]) / ($now - $script:lastSample.T) * 100)
        }
        $id = if ($k -eq 'loadgen') { $lgPid } else { ($mgrs | Where-Object Name -EQ $k).Pid }
        $r = Get-Rss $id
        if ($r) { $point["${short}RssMB"] = Round2 $r.Rss }
    }
    $script:lastSample = @{ T = $now; Cpu = $cpu }
    $scale.details.timeline.Add($point)
}

# The managers' logs: nodes they marked down for "heartbeat failure" (the load generator's by ID;
# others of its hostnames are orphans, joins whose answer was lost), refused calls, and leadership
# events (at most 300, in time order).
function Read-ManagerLogs($Ids) {
    $downLogged = [Collections.Generic.HashSet[string]]::new(); $orphans = 0
    $events = [Collections.Generic.List[object]]::new()
    foreach ($m in $mgrs) {
        $log = Join-Path $m.DataRoot 'psswarmd.log'
        if (-not (Test-Path $log)) { continue }
        $lines = 0; $refused = 0
        foreach ($line in [IO.File]::ReadLines($log)) {
            $lines++
            if ($line -match "Node (\S+) \($hostnamePrefix-\d+\) is down") {
                if (-not $Ids -or $Ids.Contains($Matches[1])) { $null = $downLogged.Add($Matches[1]) } else { $orphans++ }
            }
            elseif ($line.Contains(' refused: ')) { $refused++ }
            elseif ($runStartUtc -and $line -match '^(\S+)Z \w+: (.*(This manager leads|store fault|Restarting the manager store|Manager store restarted|RaftHttpCluster|does not have a leader).*)$') {
                $at = [datetime]::ParseExact($Matches[1], 'yyyy-MM-ddTHH:mm:ss.fff', [Globalization.CultureInfo]::InvariantCulture,
                    [Globalization.DateTimeStyles]::AssumeUniversal -bor [Globalization.DateTimeStyles]::AdjustToUniversal)
                $text = $Matches[2] -replace '^[\w.]+\[\d+\] ', ''; if ($text.Length -gt 140) { $text = $text.Substring(0, 140) }
                $events.Add([ordered]@{ t = Round2 ($at - $runStartUtc).TotalSeconds; manager = $m.Name; text = $text })
            }
        }
        if ($scale.details.managers.Contains($m.Name)) {
            $scale.details.managers[$m.Name].logLines = $lines
            $scale.details.managers[$m.Name].logLinesRefused = $refused
        }
    }
    $scale.details.events = @($events | Sort-Object { $_.t } | Select-Object -First 300)
    [pscustomobject]@{ DownLogged = $downLogged; Orphans = $orphans }
}

$exitCode = 0
try {
    Say "Scale: $Nodes simulated workers, $DurationSeconds s of sessions, joins $JoinConcurrency at a time, three managers on 127.0.0.231-233:2377"

    # ---- open files: one connection per node on both sides
    $need = $Nodes + 2048
    $before = Get-OpenFilesLimit $PID
    $openFiles = [ordered]@{ needed = $need; softBefore = $before.Soft; hardBefore = $before.Hard; action = 'none' }
    if ($before.Hard -lt $need -or $before.Soft -lt $need) {
        $hard = [Math]::Max($before.Hard, $need)
        & prlimit --pid $PID "--nofile=${need}:$hard" 2>&1 | Out-Null
        $after = Get-OpenFilesLimit $PID
        $openFiles.action = "prlimit --pid $PID --nofile=${need}:$hard (exit $LASTEXITCODE)"
        $openFiles.softAfter = $after.Soft; $openFiles.hardAfter = $after.Hard
        if ($after.Hard -lt $need) { Note "open files: the hard limit is $($after.Hard), below the $need that $Nodes nodes need; connections may fail" }
    }
    $scale.details.openFiles = $openFiles

    # ---- the load generator
    if (-not $LoadGenPath) {
        $project = Join-Path $PSScriptRoot '../loadgen/PSSwarm.LoadGen.csproj'
        $outDir = Join-Path $root 'loadgen'
        Say "  building tools/loadgen ($LoadGenConfiguration) into $outDir"
        $psi = [Diagnostics.ProcessStartInfo]::new('dotnet')
        foreach ($a in @('build', $project, '-c', $LoadGenConfiguration, '-o', $outDir, '--nologo', '-v', 'q', '-clp:ErrorsOnly')) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.UseShellExecute = $false
        $build = [Diagnostics.Process]::Start($psi)
        $buildOut = $build.StandardOutput.ReadToEndAsync(); $buildErr = $build.StandardError.ReadToEndAsync()
        if (-not $build.WaitForExit(600000)) { $build.Kill($true); throw 'building tools/loadgen took more than 10 minutes' }
        $build.WaitForExit()
        if ($build.ExitCode -ne 0) { throw "building tools/loadgen failed (exit $($build.ExitCode)): $($buildOut.Result) $($buildErr.Result)" }
        $LoadGenPath = Join-Path $outDir 'psswarm-loadgen'
    }
    $LoadGenPath = [IO.Path]::GetFullPath($LoadGenPath)
    if (-not (Test-Path $LoadGenPath)) { throw "the load generator $LoadGenPath does not exist" }

    # ---- three managers
    foreach ($m in $mgrs) {
        $d = Start-SwarmDaemon -DataRoot $m.DataRoot -Endpoint $m.Endpoint -NodeName $m.Name -PassThru
        $m.Pid = $d.ProcessId; $startedPids.Add($d.ProcessId)
    }
    $null = Initialize-Swarm -Endpoint $mgrs[0].Endpoint -ListenAddress $mgrs[0].Listen -AdvertiseAddress $mgrs[0].Ip
    $managerToken = Get-SwarmJoinToken -Endpoint $mgrs[0].Endpoint -Role Manager
    foreach ($m in $mgrs[1..2]) { $null = $managerToken | Join-Swarm -Endpoint $m.Endpoint -ListenAddress $m.Listen -AdvertiseAddress $m.Ip }
    foreach ($m in $mgrs) { $m.Id = (Get-SwarmNode -Self -Endpoint $m.Endpoint).Id }
    $leader = Wait-Whole
    if (-not $leader) { throw "the three managers were not whole within $WaitTimeoutSeconds s" }
    $scale.details.leader = $leader.Name
    $workerToken = Get-SwarmJoinToken -Endpoint $leader.Endpoint -Role Worker
    $tokenFile = Join-Path $root 'worker.token'
    [IO.File]::WriteAllText($tokenFile, '')
    [IO.File]::SetUnixFileMode($tokenFile, [IO.UnixFileMode]'UserRead, UserWrite')
    [IO.File]::WriteAllText($tokenFile, $workerToken.Token)
    foreach ($m in $mgrs) { $scale.details.managers[$m.Name] = [ordered]@{ pid = $m.Pid; openFiles = (Get-OpenFilesLimit $m.Pid).Soft } }
    # The managers' own cost with no load (Raft heartbeats, the dispatcher's loop), for comparison,
    # after a few seconds for the start-up work (JIT, the joins' catch-up) to settle.
    Start-Sleep -Seconds 10
    $idle0 = @{}; foreach ($m in $mgrs) { $idle0[$m.Name] = Get-CpuSeconds $m.Pid }
    $idleClock = [Diagnostics.Stopwatch]::StartNew()
    Start-Sleep -Seconds 5
    foreach ($m in $mgrs) {
        $scale.details.managers[$m.Name].idleCpuPercent = Round2 (((Get-CpuSeconds $m.Pid) - $idle0[$m.Name]) / $idleClock.Elapsed.TotalSeconds * 100)
        $r = Get-Rss $m.Pid
        $scale.details.managers[$m.Name].idleRssMB = Round2 $r.Rss
    }
    Say ("  managers up: leader {0}; open files per process {1}" -f $leader.Name, (Get-OpenFilesLimit $leader.Pid).Soft)

    # ---- start the load: the leader first in the list (as its join token's remote addresses)
    $managerList = @($leader.Listen) + @($mgrs | Where-Object Name -NE $leader.Name | ForEach-Object Listen)
    $phaseFile = Join-Path $root 'loadgen.phase'
    $idsFile = Join-Path $root 'loadgen.ids'
    $jsonFile = Join-Path $root 'loadgen.json'
    $lgArgs = @('--managers', ($managerList -join ','), '--token-file', $tokenFile, '--nodes', "$Nodes",
        '--join-concurrency', "$JoinConcurrency", '--duration', "$DurationSeconds", '--address-prefix', '127.70',
        '--hostname-prefix', $hostnamePrefix, '--json', $jsonFile, '--phase-file', $phaseFile, '--ids-file', $idsFile)
    if ($JoinSpread) { $lgArgs += '--join-spread' }
    $loadgen = Start-Process -FilePath $LoadGenPath -ArgumentList $lgArgs -PassThru -NoNewWindow `
        -RedirectStandardOutput (Join-Path $root 'loadgen.out') -RedirectStandardError (Join-Path $root 'loadgen.err')
    $lgPid = $loadgen.Id
    $runClock = [Diagnostics.Stopwatch]::StartNew()
    $runStartUtc = [DateTime]::UtcNow
    Say "  load generator PID $lgPid"
    function Get-Phase { try { ([IO.File]::ReadAllText($phaseFile)).Trim() } catch { '' } }

    # ---- join phase: until the load generator says its sessions window started (bounded)
    $joinTimeout = [Math]::Max(120, $Nodes / 10 + 60)
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $downDuringJoins = 0; $nextDownCheck = 10; $nextSample = 0
    while ((Get-Phase) -notlike 'sessions*') {
        if ($runClock.Elapsed.TotalSeconds -ge $nextSample) { $nextSample = $runClock.Elapsed.TotalSeconds + 5; Add-Sample 'joins' }
        if (-not (Test-Alive $lgPid)) { throw "the load generator exited during the joins: $((Get-Content (Join-Path $root 'loadgen.err') -Tail 5) -join ' / ')" }
        if ($sw.Elapsed.TotalSeconds -ge $joinTimeout) { throw "the joins did not finish within $joinTimeout s" }
        if ($sw.Elapsed.TotalSeconds -ge $nextDownCheck) {
            $nextDownCheck += 10
            try { $downDuringJoins = [Math]::Max($downDuringJoins, (Measure-Down $leader $null).Down) } catch { }
        }
        Start-Sleep -Milliseconds 200
    }
    $scale.details.downDuringJoins = $downDuringJoins
    $windowClock = [Diagnostics.Stopwatch]::StartNew()
    $ids = [Collections.Generic.HashSet[string]]::new([string[]]@(Get-Content $idsFile | Where-Object { $_ }))
    # The leader now (it may have changed during the joins): the figures are its.
    $atStart = Get-ClusterLeader
    if ($atStart -and $atStart.Name -ne $leader.Name) { Note "the leader changed during the joins: $($leader.Name) before, $($atStart.Name) at the window's start" }
    if ($atStart) { $leader = $atStart } else { Note "no manager reported itself leader at the window's start; figures are $($leader.Name)'s" }
    $scale.details.leader = $leader.Name
    Say ("  joins done after {0:0.0} s ({1} nodes joined); sessions window of {2} s; leader {3}" -f $sw.Elapsed.TotalSeconds, $ids.Count, $DurationSeconds, $leader.Name)

    # ---- the window: CPU from a settled start to just before the end; samples meanwhile
    $margin = [Math]::Min(5, $DurationSeconds * 0.1)
    $cpuStartAt = $margin; $cpuEndAt = $DurationSeconds - $margin
    $cpuStart = $null; $cpuEnd = $null; $cpuStartClock = $null
    $rssMax = @{}; $rssLast = @{}
    $downSamples = [Collections.Generic.List[int]]::new()
    $downEvery = [Math]::Max(5, $DurationSeconds / 6); $nextDown = $margin
    $listAt = $DurationSeconds * 0.5; $listDone = $false
    $lists = @(); $listsApi = @(); $nodeCount = $null
    while ($windowClock.Elapsed.TotalSeconds -lt $cpuEndAt) {
        $t = $windowClock.Elapsed.TotalSeconds
        if ($runClock.Elapsed.TotalSeconds -ge $nextSample) { $nextSample = $runClock.Elapsed.TotalSeconds + 5; Add-Sample 'sessions' }
        if (-not (Test-Alive $lgPid)) { Note "the load generator exited $([Math]::Round($t)) s into the window"; break }
        if ($null -eq $cpuStart -and $t -ge $cpuStartAt) {
            $cpuStart = @{}; foreach ($m in $mgrs) { $cpuStart[$m.Name] = Get-CpuSeconds $m.Pid }
            $cpuStartClock = [Diagnostics.Stopwatch]::StartNew()
        }
        foreach ($m in $mgrs) {
            $r = Get-Rss $m.Pid
            if ($r) { $rssLast[$m.Name] = $r; if (-not $rssMax[$m.Name] -or $r.Rss -gt $rssMax[$m.Name]) { $rssMax[$m.Name] = $r.Rss } }
        }
        if ($t -ge $nextDown) {
            $nextDown += $downEvery
            try {
                $d = Measure-Down $leader $ids
                $downSamples.Add($d.Down); $nodeCount = $d.Total
            } catch { Note "a Down sample failed: $($_.Exception.Message)" }
        }
        if (-not $listDone -and $t -ge $listAt) {
            $listDone = $true
            $lists = foreach ($i in 1..$NodeListCalls) { $s = [Diagnostics.Stopwatch]::StartNew(); $null = Get-SwarmNode -Endpoint $leader.Endpoint; $s.Elapsed.TotalMilliseconds }
            $listsApi = foreach ($i in 1..$NodeListCalls) { $s = [Diagnostics.Stopwatch]::StartNew(); $null = Get-NodeList $leader; $s.Elapsed.TotalMilliseconds }
        }
        Start-Sleep -Milliseconds 500
    }
    if ($null -ne $cpuStart) {
        $cpuEnd = @{}; foreach ($m in $mgrs) { $cpuEnd[$m.Name] = Get-CpuSeconds $m.Pid }
        $cpuSeconds = $cpuStartClock.Elapsed.TotalSeconds
        $scale.details.cpuWindowSeconds = Round2 $cpuSeconds
    }
    if (-not $listDone) { Note 'the node list was not measured (the window ended early)' }
    # The final Down sample and the managers' own word: nodes marked down for "heartbeat failure".
    try { $d = Measure-Down $leader $ids; $downSamples.Add($d.Down); $nodeCount = $d.Total } catch { }
    $logs = Read-ManagerLogs $ids
    $downLogged = $logs.DownLogged; $orphans = $logs.Orphans
    $newLeader = Get-ClusterLeader
    $scale.details.leaderChanged = -not $newLeader -or $newLeader.Name -ne $leader.Name

    # ---- the load generator's own figures (it stops at the end of its window)
    if (-not (Wait-Exit $lgPid ($DurationSeconds + 60))) { Note 'the load generator did not stop on time: SIGTERM'; Stop-ByPid $lgPid 'psswarm-loadgen' 20 }
    $lg = $null
    if (Test-Path $jsonFile) { $lg = Get-Content $jsonFile -Raw | ConvertFrom-Json -AsHashtable }
    else { Note "the load generator wrote no figures: $((Get-Content (Join-Path $root 'loadgen.err') -Tail 5) -join ' / ')" }
    $scale.details.loadgen = $lg

    # ---- the figures
    $scale.nodes = if ($lg) { $lg.joined } else { $ids.Count }
    $scale.joinAllSeconds = if ($lg) { $lg.joinAllSeconds } else { $null }
    $scale.heartbeatsPerSec = if ($lg) { $lg.heartbeatsPerSec } else { $null }
    $scale.nodeListMs = Round2 (Median $lists)
    $scale.details.nodeListApiMs = Round2 (Median $listsApi)
    if ($lists) { $scale.details.nodeListMinMs = Round2 ($lists | Measure-Object -Minimum).Minimum; $scale.details.nodeListMaxMs = Round2 ($lists | Measure-Object -Maximum).Maximum }
    $scale.details.nodeCount = $nodeCount
    $scale.details.nodeCountExpected = $Nodes + 3
    $scale.details.nodeCountOk = $nodeCount -eq $Nodes + 3
    $scale.details.downSamples = @($downSamples)
    $scale.details.downLoggedNodes = $downLogged.Count
    $scale.details.orphanNodes = $orphans
    $maxDown = if ($downSamples.Count) { ($downSamples | Measure-Object -Maximum).Maximum } else { $null }
    $scale.spuriousDown = if ($null -eq $maxDown) { $null } else { [int][Math]::Max([Math]::Max($maxDown, $downLogged.Count), $downDuringJoins) }
    foreach ($m in $mgrs) {
        $d = $scale.details.managers[$m.Name]
        $d.role = if ($m.Name -eq $leader.Name) { 'leader' } else { 'follower' }
        $r = $rssLast[$m.Name]
        if ($r) { $d.rssMB = Round2 $r.Rss; $d.rssAnonMB = Round2 $r.Anon; $d.rssFileMB = Round2 $r.File; $d.rssMaxMB = Round2 $rssMax[$m.Name] }
        if ($null -ne $cpuEnd -and $null -ne $cpuStart[$m.Name] -and $null -ne $cpuEnd[$m.Name]) {
            $d.cpuPercent = Round2 (($cpuEnd[$m.Name] - $cpuStart[$m.Name]) / $cpuSeconds * 100)
        }
    }
    $ld = $scale.details.managers[$leader.Name]
    $scale.managerRssMB = if ($ld.Contains('rssMB')) { $ld.rssMB } else { $null }
    $scale.managerCpuPercent = if ($ld.Contains('cpuPercent')) { $ld.cpuPercent } else { $null }

    Say ('{0,-52} {1}' -f 'nodes joined', "$($scale.nodes) of $Nodes ($(if ($lg) { $lg.joinFailures } else { '?' }) failed)")
    Say ('{0,-52} {1,9:0.00} s   ({2:0.0} joins/s)' -f 'all joins', $scale.joinAllSeconds, $(if ($lg) { $lg.details.joinsPerSec } else { 0 }))
    Say ('{0,-52} {1,9:0.0} /s   ({2} failed; p50 {3} ms, p99 {4} ms)' -f 'heartbeats', $scale.heartbeatsPerSec,
        $(if ($lg) { $lg.heartbeatsFailed } else { '?' }), $(if ($lg) { $lg.heartbeatP50Ms } else { '?' }), $(if ($lg) { $lg.heartbeatP99Ms } else { '?' }))
    Say ('{0,-52} {1,9:0.00} ms  (client library {2:0.00} ms; {3} nodes listed, {4} expected)' -f "Get-SwarmNode on the leader, median of $NodeListCalls",
        $scale.nodeListMs, $scale.details.nodeListApiMs, $nodeCount, ($Nodes + 3))
    foreach ($m in $mgrs) {
        $d = $scale.details.managers[$m.Name]
        Say ('{0,-52} {1,9:0.0} MB   (anonymous {2:0.0}, file {3:0.0}; idle {4:0.0}); CPU {5:0.0}% of a core (idle {6:0.0}%)' -f "$($m.Name) ($($d.role)) RSS",
            $d['rssMB'], $d['rssAnonMB'], $d['rssFileMB'], $d['idleRssMB'], $d['cpuPercent'], $d['idleCpuPercent'])
    }
    if ($lg) { Say ('{0,-52} {1,9:0.0} MB   CPU {2:0.0}% of a core' -f 'load generator RSS', $lg.loadgenRssMB, $lg.loadgenCpuPercent) }
    Say ('{0,-52} {1,9}     (samples {2}; logged {3}; during joins {4}; orphans {5})' -f 'nodes wrongly Down', $scale.spuriousDown,
        (@($downSamples) -join ','), $downLogged.Count, $downDuringJoins, $orphans)
    if ($scale.details.leaderChanged) { Note 'the leader changed during the run' }
    if (-not $scale.details.nodeCountOk) { Note "the leader lists $nodeCount nodes, not $($Nodes + 3)" }
}
catch {
    $exitCode = 1
    $scale.details.error = "$($_.Exception.Message) at $($_.InvocationInfo.PositionMessage -replace '\s+', ' ')"
    Write-Host "scale failed: $($scale.details.error)" -ForegroundColor Red
    try { $null = Read-ManagerLogs $null } catch { }
}
finally {
    if ($loadgen) { Stop-ByPid $loadgen.Id 'psswarm-loadgen' 20 }
    $left = @($startedPids | Select-Object -Unique | Where-Object { Test-Alive $_ })
    foreach ($dir in Get-ChildItem /proc -Directory -ErrorAction SilentlyContinue | Where-Object Name -Match '^\d+$') {
        try { $cmd = [IO.File]::ReadAllText("$($dir.FullName)/cmdline") } catch { continue }
        if ($cmd -like '*psswarmd*' -and $cmd.Contains("$root/") -and [int]$dir.Name -notin $left) { $left += [int]$dir.Name }
    }
    Stop-BenchDaemons -Pids $left -GraceSeconds 15
    if ($KeepLogsPath) {
        New-Item -ItemType Directory $KeepLogsPath -Force | Out-Null
        Copy-BenchLogs -Nodes $mgrs -Path $KeepLogsPath
        foreach ($f in 'loadgen.out', 'loadgen.err', 'loadgen.json') { if (Test-Path (Join-Path $root $f)) { Copy-Item (Join-Path $root $f) $KeepLogsPath -Force } }
    }
    Remove-Item $root -Recurse -Force -ErrorAction SilentlyContinue
    $scale.details.elapsedSeconds = Round2 $clock.Elapsed.TotalSeconds
    if ($OutputPath) {
        New-Item -ItemType Directory (Split-Path ([IO.Path]::GetFullPath($OutputPath))) -Force | Out-Null
        $scale | ConvertTo-Json -Depth 8 | Set-Content -Path $OutputPath -Encoding utf8NoBOM
    }
}
$scale
if ($exitCode) { exit $exitCode }
