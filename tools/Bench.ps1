<#
.SYNOPSIS
    PSSwarm benchmarks: prints figures (medians), never fails on a slow machine, and writes them as
    JSON (default out/bench/latest.json).
    Run: dotnet pwsh ./build.ps1 Bench
.DESCRIPTION
    Single node (127.0.0.201-204): daemon start, Initialize-Swarm, join tokens, node list, RSS,
    restarts, joins, and legitimate calls during join-token floods.
    Three managers (127.0.0.221-223 port 2377): idle leadership stability and Raft write throughput,
    then fault tolerance: kill -9 of the leader (failover), SIGTERM of the leader (handover), quorum
    loss, a follower's restart, and a restart of the whole swarm.
    Every wait is bounded (a run that times out is recorded as such, with null as its figure), every
    daemon the bench starts is stopped by PID at the end, and the temp folder is removed.
    The exit code is non-zero only when a section failed with an error (slowness never fails it).
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    # Where the figures go as JSON (build.ps1's Bench task passes nothing: out/bench/latest.json).
    [string] $OutputPath = (Join-Path $PSScriptRoot '../out/bench/latest.json'),
    [int] $InitRounds = 15,
    [int] $Calls = 100,
    [int] $RestartRounds = 5,
    [int] $JoinRounds = 8,
    # Three managers: leadership stability and throughput.
    [int] $IdleSeconds = 60,
    [double] $WriteSeconds = 3,
    [int] $WriteConcurrency = 8,
    # Three managers: fault tolerance rounds and the bound on each wait.
    [int] $FailoverRounds = 9,
    [int] $HandoverRounds = 5,
    [int] $QuorumRounds = 4,
    [int] $ManagerRestartRounds = 5,
    [int] $ClusterRestartRounds = 3,
    [double] $WaitTimeoutSeconds = 30,
    # Rounds of the chaos scenario (tools/bench/Chaos.ps1; about 5 minutes for 100); 0 skips it.
    [int] $ChaosRounds = 100,
    # Simulated worker nodes of the scale scenario (tools/bench/Scale.ps1, tools/loadgen; about 5 minutes for 5000); 0 skips it.
    [int] $ScaleNodes = 5000,
    # The root CA rotation scenario (tools/bench/CaRotation.ps1: 3 managers and 10 workers, Update-SwarmCA
    # three times at a 5 s and at a 1 s heartbeat; about a minute); 0 skips it.
    [int] $CaRotation = 1,
    # Remote join through SSH remoting (tools/bench/RemoteJoin.ps1: three namespace hosts with sshd; needs root
    # and tools/testhost/Install-Prerequisites.sh; about a minute); 0 skips it.
    [int] $RemoteJoin = 1,
    # The module scenario (tools/bench/Module.ps1: Import-Module cold and warm in new processes, the first
    # call, the package and staged sizes; under a minute): runs of each; 0 skips it.
    [int] $ModuleRuns = 5,
    # Copy the three managers' psswarmd.log files next to the JSON (<OutputPath's folder>/logs/).
    [switch] $KeepLogs
)
$ErrorActionPreference = 'Stop'
$benchClock = [Diagnostics.Stopwatch]::StartNew()
$OutputPath = [IO.Path]::GetFullPath($OutputPath)
Import-Module $ModulePath -Force
$daemonPath = Join-Path (Split-Path ([IO.Path]::GetFullPath($ModulePath))) 'daemon/psswarmd'

$root = Join-Path ([IO.Path]::GetTempPath()) "psswarm-bench-$PID"
New-Item -ItemType Directory $root -Force | Out-Null
$ip = '127.0.0.201'
$endpoint = "unix://$root/b1.sock"
$dataRoot = Join-Path $root 'b1'
$daemonPid = $null
$script:peerPids = @()
$script:startedPids = [Collections.Generic.List[int]]::new()   # every daemon this bench started
$script:sectionFailed = $false

# The figures, written as JSON at the end (also when a section fails: what was measured stays).
$result = [ordered]@{
    schema                     = 1
    startedAt                  = (Get-Date).ToUniversalTime().ToString('o')
    machine                    = [ordered]@{ cores = [Environment]::ProcessorCount; os = [Runtime.InteropServices.RuntimeInformation]::OSDescription }
    benchSeconds               = $null
    initMs                     = $null
    workerJoinMs               = $null
    managerJoinMs              = $null
    joinTokenMs                = $null
    rotateMs                   = $null
    nodeListMs                 = $null
    failoverMs                 = $null
    failoverMaxMs              = $null
    gracefulHandoverMs         = $null
    quorumErrorMs              = $null
    managerRestartMs           = $null
    clusterRestartMs           = $null
    rssMB                      = $null
    rssAnonMB                  = $null
    rssFileMB                  = $null
    raftWritesPerSec           = $null
    raftWritesPerSecConcurrent = $null
    spuriousElections          = $null
    scale                      = [ordered]@{ nodes = $null; joinAllSeconds = $null; nodeListMs = $null; heartbeatsPerSec = $null; managerRssMB = $null; managerCpuPercent = $null; spuriousDown = $null }
    caRotation                 = [ordered]@{ nodes = $null; rotateMs = $null; rotateMsRuns = $null; rotateMs1s = $null; rotateMs1sRuns = $null; failures = $null }
    module                     = [ordered]@{ importColdMs = $null; importWarmMs = $null; firstCallMs = $null; firstCallColdMs = $null; processWarmMs = $null; nupkgBytes = $null; nupkgMB = $null; stagedBytes = $null; stagedMB = $null }
    security                   = $null
    runs                       = [ordered]@{}   # every run of the fault-tolerance figures (null: timed out)
    details                    = [ordered]@{}   # the other printed figures
    notes                      = [Collections.Generic.List[string]]::new()
    errors                     = [Collections.Generic.List[string]]::new()
}

function Say([string] $Text = '') { Write-Host $Text }
function Note([string] $Text) { $result.notes.Add($Text); Say "  note: $Text" }
function Measure-Median([double[]] $values) {
    $sorted = $values | Sort-Object
    $n = @($sorted).Count
    if ($n -eq 0) { return $null }
    if ($n % 2) { @($sorted)[[int][math]::Floor($n / 2)] } else { (@($sorted)[$n / 2 - 1] + @($sorted)[$n / 2]) / 2 }
}
function Round2($value) { if ($null -eq $value) { $null } else { [math]::Round([double]$value, 2) } }
function Time([scriptblock] $block) {
    $sw = [Diagnostics.Stopwatch]::StartNew(); $null = & $block; $sw.Elapsed.TotalMilliseconds
}
# Prints one figure's line and returns its median (rounded), for the JSON.
function Report([string] $name, [double[]] $values, [string] $unit = 'ms') {
    $values = @($values | Where-Object { $null -ne $_ })
    if ($values.Count -eq 0) { Say ('{0,-52} no values' -f $name); return $null }
    $median = Measure-Median $values
    Say ('{0,-52} median {1,9:0.00} {2}   (min {3:0.00}, max {4:0.00}, n={5})' -f $name, $median, $unit,
        ($values | Measure-Object -Minimum).Minimum, ($values | Measure-Object -Maximum).Maximum, $values.Count)
    Round2 $median
}
function Fail-Section([string] $Section, [System.Management.Automation.ErrorRecord] $Err) {
    $script:sectionFailed = $true
    $text = "$Section failed: $($Err.Exception.Message) ($($Err.FullyQualifiedErrorId)) at $($Err.InvocationInfo.PositionMessage -replace '\s+', ' ')"
    $result.errors.Add($text)
    Write-Host $text -ForegroundColor Red
}
function Invoke-BenchScenario {
    <#
    Runs a scenario script of tools/bench (or says it is skipped, with the switch that skips it). Its
    figures go into $result.<Section>: the keys declared there, with the run's details in
    $result.details.<Section>; a section with no declared keys takes the whole run. A run that reports
    an error (details.error, or what -Check returns for it) marks the bench failed.
    #>
    param(
        [string] $Section, [string] $Label, [string] $Description, [bool] $Enabled, [string] $Switch,
        [string] $Script, [hashtable] $Arguments = @{}, [scriptblock] $Check
    )
    if (-not $Enabled) {
        Say "${Label}: skipped ($Switch): the `"$Section`" figures are null."
        $result.notes.Add("${Section}: skipped ($Switch); every $Section figure is null")
        return
    }
    Say "${Label}: $Description"
    try {
        $run = @(& (Join-Path $PSScriptRoot "bench/$Script") -ModulePath ([IO.Path]::GetFullPath($ModulePath)) @Arguments) | Select-Object -Last 1
        if ($result[$Section] -is [System.Collections.IDictionary]) {
            foreach ($key in @($result[$Section].Keys)) { $result[$Section][$key] = $run.$key }
            $result.details[$Section] = $run.details
        }
        else { $result[$Section] = $run }
        $problem = if ($run.details.error) { $run.details.error } elseif ($Check) { & $Check $run }
        if ($problem) { $script:sectionFailed = $true; $result.errors.Add("${Section}: $problem") }
    }
    catch { Fail-Section $Section $_ }
}
function Wait-Leader {
    $sw = [Diagnostics.Stopwatch]::StartNew()
    while ($sw.Elapsed.TotalSeconds -lt 30) {
        try {
            $self = Get-SwarmNode -Self -Endpoint $endpoint -ErrorAction Stop
            if ($self.IsLeader) { return $sw.Elapsed.TotalMilliseconds }
        } catch { }
        Start-Sleep -Milliseconds 5
    }
    throw 'no leader after 30 s'
}

# ---- processes, by PID

Import-Module (Join-Path $PSScriptRoot 'bench/Processes.psm1') -Force

# ---- three managers

$mgrs = [ordered]@{}
foreach ($i in 1..3) {
    $mgrs["m$i"] = [pscustomobject]@{
        Name = "m$i"; Ip = "127.0.0.22$i"; Listen = "127.0.0.22${i}:2377"
        Endpoint = "unix://$root/m$i.sock"; DataRoot = (Join-Path $root "m$i"); Pid = $null; Id = $null
    }
}
function Start-Manager($m) {
    $d = Start-SwarmDaemon -DataRoot $m.DataRoot -Endpoint $m.Endpoint -NodeName $m.Name -PassThru
    $m.Pid = $d.ProcessId
    $script:startedPids.Add($d.ProcessId)
}
# The manager that reports itself leader, or $null; the swarm whole (tools/bench/Processes.psm1).
function Get-ClusterLeader([object[]] $Among = @($mgrs.Values)) { Find-BenchLeader -Managers $Among }
function Wait-Whole([double] $TimeoutSeconds = $WaitTimeoutSeconds) { Wait-BenchWhole -Managers @($mgrs.Values) -TimeoutSeconds $TimeoutSeconds }
function Get-ErrorKey([System.Management.Automation.ErrorRecord] $Err) {
    "$($Err.CategoryInfo.Category)/$(($Err.FullyQualifiedErrorId -split ',')[0])"
}
function Format-Errors([hashtable] $Errors) {
    if ($Errors.Count -eq 0) { return 'no errors' }
    ($Errors.GetEnumerator() | Sort-Object Name | ForEach-Object { "$($_.Name) x$($_.Value)" }) -join ', '
}
$script:labelValue = 0
# Retries a label write through one manager (~20 ms apart) until it succeeds or the timeout passes.
# One attempt may itself take seconds (the daemon retries while leadership moves).
function Wait-Write($Via, [string] $NodeId, [double] $TimeoutSeconds = $WaitTimeoutSeconds) {
    $errors = @{}; $attempts = 0
    $sw = [Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        $attempts++
        try {
            $null = Set-SwarmNode -Endpoint $Via.Endpoint -Id $NodeId -Label @{ x = "$(++$script:labelValue)" } -ErrorAction Stop
            return [pscustomobject]@{ Ms = $sw.Elapsed.TotalMilliseconds; TimedOut = $false; Attempts = $attempts; Errors = $errors }
        }
        catch { $errors[(Get-ErrorKey $_)] = 1 + [int]$errors[(Get-ErrorKey $_)] }
        if ($sw.Elapsed.TotalSeconds -ge $TimeoutSeconds) {
            return [pscustomobject]@{ Ms = $null; TimedOut = $true; Attempts = $attempts; Errors = $errors }
        }
        Start-Sleep -Milliseconds 20
    }
}
# A restart of a stopped manager on its data root; the old process must be gone first.
function Restart-Manager($m) {
    if ($m.Pid -and -not (Wait-Exit $m.Pid 15)) {
        Note "$($m.Name) (PID $($m.Pid)) did not exit within 15 s; killed with SIGKILL"
        Send-Signal $m.Pid 9
        $null = Wait-Exit $m.Pid 5
    }
    Start-Manager $m
}
function Format-Run($value) { if ($null -eq $value) { 'timeout' } else { '{0:0}' -f $value } }
function Add-Runs([string] $Name, [object[]] $Values) {
    $result.runs[$Name] = @($Values | ForEach-Object { if ($null -eq $_) { $null } else { Round2 $_ } })
}
# Lines of the managers' logs written in [From, To] (UTC) whose text after the time stamp matches
# the pattern (by default the line a manager logs when it becomes leader).
function Get-LeadLines([datetime] $From, [datetime] $To, [string] $Pattern = 'This manager leads') {
    foreach ($m in $mgrs.Values) {
        $log = Join-Path $m.DataRoot 'psswarmd.log'
        if (-not (Test-Path $log)) { continue }
        foreach ($line in (Get-Content $log)) {
            # "2026-12-01T22:24:12.511Z info: PSSwarm.Daemon.Manager.Dispatcher[0] This manager leads: ..."
            if ($line -notmatch '^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z (.*)$') { continue }
            $stamp = $Matches[1]; $rest = $Matches[2]
            if ($rest -notmatch $Pattern) { continue }
            $t = [datetime]::ParseExact($stamp, 'yyyy-MM-ddTHH:mm:ss.fff', [Globalization.CultureInfo]::InvariantCulture,
                [Globalization.DateTimeStyles]::AssumeUniversal -bor [Globalization.DateTimeStyles]::AdjustToUniversal)
            if ($t -ge $From -and $t -le $To) { [pscustomobject]@{ Manager = $m.Name; Time = $t; Line = $line } }
        }
    }
}

try {
    Say "PSSwarm benchmark on $([Environment]::ProcessorCount) cores, $(Get-Date -Format s)"
    Say

    # ================================================================ single node
    $singleNodeDone = $false
    try {
        # Daemon start to answering (cold process each time).
        $starts = foreach ($i in 1..5) {
            $t = Time { $script:d = Start-SwarmDaemon -DataRoot $dataRoot -Endpoint $endpoint -NodeName bench -PassThru }
            $daemonPid = $d.ProcessId; $script:startedPids.Add($daemonPid)
            Stop-SwarmDaemon -Endpoint $endpoint
            $t
        }
        $result.details.daemonStartMs = Report 'Start-SwarmDaemon until the endpoint answers' $starts
        $d = Start-SwarmDaemon -DataRoot $dataRoot -Endpoint $endpoint -NodeName bench -PassThru
        $daemonPid = $d.ProcessId; $script:startedPids.Add($daemonPid)

        # Initialize-Swarm on a running daemon (each round leaves with -Force).
        $null = Get-Swarm -Endpoint $endpoint  # warm the session's channel
        $inits = foreach ($i in 1..$InitRounds) {
            $t = Time { Initialize-Swarm -Endpoint $endpoint -ListenAddress "${ip}:2377" -AdvertiseAddress $ip }
            if ($i -lt $InitRounds) { Exit-Swarm -Endpoint $endpoint -Force -Confirm:$false }
            $t
        }
        $result.initMs = Report 'Initialize-Swarm (running daemon)' $inits
        $result.details.initFirstMs = Report 'Initialize-Swarm, first call in the daemon' @($inits[0])

        $get = foreach ($i in 1..$Calls) { Time { Get-SwarmJoinToken -Endpoint $endpoint -Role Worker } }
        $result.joinTokenMs = Report "Get-SwarmJoinToken x$Calls (one session)" $get
        $rot = foreach ($i in 1..$Calls) { Time { Update-SwarmJoinToken -Endpoint $endpoint -Role Worker -Confirm:$false } }
        $result.rotateMs = Report "Update-SwarmJoinToken x$Calls (one session)" $rot
        $ls = foreach ($i in 1..$Calls) { Time { Get-SwarmNode -Endpoint $endpoint } }
        $result.details.nodeListOneNodeMs = Report "Get-SwarmNode x$Calls (one session)" $ls
        $info = foreach ($i in 1..$Calls) { Time { Get-Swarm -Endpoint $endpoint } }
        $result.details.getSwarmMs = Report "Get-Swarm x$Calls (one session)" $info

        Start-Sleep -Seconds 3
        $status = Get-Content "/proc/$daemonPid/status"
        $kb = { param($name) [int](($status | Select-String "^${name}:\s+(\d+)").Matches[0].Groups[1].Value) }
        $result.rssMB = Round2 ((& $kb VmRSS) / 1024)
        $result.rssAnonMB = Round2 ((& $kb RssAnon) / 1024)
        $result.rssFileMB = Round2 ((& $kb RssFile) / 1024)
        Say ('{0,-52} {1,9:0.0} MB   (anonymous {2:0.0} MB, file-backed {3:0.0} MB)' -f 'psswarmd RSS, idle single-node manager',
            $result.rssMB, $result.rssAnonMB, $result.rssFileMB)

        # Restart (SIGTERM, start) until this node leads again; then kill -9 and the same.
        $restart = foreach ($i in 1..$RestartRounds) {
            Stop-SwarmDaemon -Endpoint $endpoint
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $d = Start-SwarmDaemon -DataRoot $dataRoot -Endpoint $endpoint -NodeName bench -PassThru
            $daemonPid = $d.ProcessId; $script:startedPids.Add($daemonPid)
            $null = Wait-Leader
            $sw.Elapsed.TotalMilliseconds
        }
        $result.details.restartToLeaderMs = Report 'restart (SIGTERM) to leader again, incl. process start' $restart
        $kill = foreach ($i in 1..$RestartRounds) {
            Send-Signal $daemonPid 9
            $null = Wait-Exit $daemonPid 15
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $d = Start-SwarmDaemon -DataRoot $dataRoot -Endpoint $endpoint -NodeName bench -PassThru
            $daemonPid = $d.ProcessId; $script:startedPids.Add($daemonPid)
            $null = Wait-Leader
            $sw.Elapsed.TotalMilliseconds
        }
        $result.details.killRestartToLeaderMs = Report 'kill -9, start to leader again, incl. process start' $kill

        # Multi-node: joins on warm daemons (each round: join, leave, remove), node list with 4 nodes.
        $peers = foreach ($i in 2..4) {
            Start-SwarmDaemon -DataRoot (Join-Path $root "b$i") -Endpoint "unix://$root/b$i.sock" -NodeName "bench$i" -PassThru
        }
        $script:peerPids = $peers.ProcessId
        foreach ($p in $script:peerPids) { $script:startedPids.Add($p) }
        $workerToken = Get-SwarmJoinToken -Endpoint $endpoint -Role Worker
        $managerToken = Get-SwarmJoinToken -Endpoint $endpoint -Role Manager
        $wJoin = @(); $mJoin = @()
        foreach ($i in 1..$JoinRounds) {
            $wJoin += Time { $workerToken | Join-Swarm -Endpoint $peers[0].Endpoint -ListenAddress '127.0.0.202:2377' -AdvertiseAddress '127.0.0.202' }
            $mJoin += Time { $managerToken | Join-Swarm -Endpoint $peers[1].Endpoint -ListenAddress '127.0.0.203:2377' -AdvertiseAddress '127.0.0.203' }
            if ($i -lt $JoinRounds) {
                Exit-Swarm -Endpoint $peers[0].Endpoint -Force
                Exit-Swarm -Endpoint $peers[1].Endpoint -Force
                Get-SwarmNode -Endpoint $endpoint | Where-Object { -not $_.IsSelf } | Remove-SwarmNode -Endpoint $endpoint -Force
            }
        }
        $result.details.workerJoinFirstMs = Report 'Join-Swarm as a worker, first join of a fresh daemon' @($wJoin[0])
        $result.workerJoinMs = Report 'Join-Swarm as a worker (warm daemon and session)' ($wJoin | Select-Object -Skip 1)
        $result.details.managerJoinFirstMs = Report 'Join-Swarm as a manager, first join of a fresh daemon' @($mJoin[0])
        $result.managerJoinMs = Report 'Join-Swarm as a manager (warm daemon and session)' ($mJoin | Select-Object -Skip 1)
        $null = $workerToken | Join-Swarm -Endpoint $peers[2].Endpoint -ListenAddress '127.0.0.204:2377' -AdvertiseAddress '127.0.0.204'
        $count = @(Get-SwarmNode -Endpoint $endpoint).Count
        Start-Sleep -Seconds 2 # let the new node's first heartbeats settle
        $api = (Get-ClientType PSSwarm.Client.SwarmClient)::For($endpoint)
        $ls4api = foreach ($i in 1..$Calls) {
            $sw = [Diagnostics.Stopwatch]::StartNew(); $null = $api.ListNodesAsync([Threading.CancellationToken]::None).GetAwaiter().GetResult(); $sw.Elapsed.TotalMilliseconds
        }
        $result.details.nodeListApiMs = Report "node list through the API (client library), $count nodes" $ls4api
        $ls4 = foreach ($i in 1..$Calls) { Time { Get-SwarmNode -Endpoint $endpoint } }
        $result.nodeListMs = Report "Get-SwarmNode with $count nodes x$Calls, leader" $ls4
        $ls4f = foreach ($i in 1..$Calls) { Time { Get-SwarmNode -Endpoint $peers[1].Endpoint } }
        $result.details.nodeListFollowerMs = Report "Get-SwarmNode with $count nodes x$Calls, follower" $ls4f
        $result.details.nodeListNodes = $count
        $singleNodeDone = $true
    }
    catch { Fail-Section 'single-node figures' $_ }

    # ================================================================ security
    # Legitimate calls while wrong join tokens flood the listener, from one address (the per-address
    # limiter refuses it after 5 failures) and from 500 addresses with 5 attempts each (every attempt
    # is checked: the cost before any slow-down).
    Say
    if (-not $singleNodeDone) { Note 'security: skipped (the single-node section did not complete)' }
    else {
        try {
            Import-Module (Join-Path $PSScriptRoot '../tests/Attack.Helpers.psm1') -Force
            $goodToken = $workerToken.Token
            $badToken = $goodToken.Substring(0, $goodToken.Length - 25) + (-join (1..25 | ForEach-Object { '0123456789abcdefghijklmnopqrstuvwxyz'[(Get-Random -Maximum 36)] }))
            $badBody = [PSSwarmAttack.Wire]::GrpcFrame([PSSwarmAttack.Wire]::StringField(2, $badToken))
            $joinPath = '/psswarm.cluster.v1.NodeCA/IssueNodeCertificate'
            Exit-Swarm -Endpoint $peers[0].Endpoint -Force
            Get-SwarmNode -Endpoint $endpoint | Where-Object { "$($_.Status)" -eq 'Down' } | Remove-SwarmNode -Endpoint $endpoint -Force
            $rssMB = { [int](((Get-Content "/proc/$daemonPid/status") | Select-String '^VmRSS:\s+(\d+)').Matches[0].Groups[1].Value) / 1024 }
            function Measure-Legit([string] $label, [scriptblock] $startFlood) {
                $flood = & $startFlood
                $lists = [Collections.Generic.List[double]]::new(); $joins = [Collections.Generic.List[double]]::new(); $rss = 0
                $sw = [Diagnostics.Stopwatch]::StartNew()
                while (-not $flood.IsCompleted -and $sw.Elapsed.TotalSeconds -lt 30) {
                    foreach ($i in 1..10) { $lists.Add((Time { Get-SwarmNode -Endpoint $endpoint })) }
                    $joins.Add((Time { $workerToken | Join-Swarm -Endpoint $peers[0].Endpoint -ListenAddress '127.0.0.202:2377' -AdvertiseAddress '127.0.0.202' }))
                    $rss = [Math]::Max($rss, (& $rssMB))
                    Exit-Swarm -Endpoint $peers[0].Endpoint -Force
                    Get-SwarmNode -Endpoint $endpoint | Where-Object { "$($_.Status)" -eq 'Down' } | Remove-SwarmNode -Endpoint $endpoint -Force
                }
                if (-not $flood.Wait(60000)) { Note "security ($label): the flood did not finish within 60 s of the measurements" }
                $results = @($flood.GetAwaiter().GetResult())
                $statusGroups = @($results | ForEach-Object { $_.Statuses } | Group-Object)
                $statuses = $statusGroups | ForEach-Object { "$($_.Name) x$($_.Count)" }
                $attempts = ($results | Measure-Object -Property Attempts -Sum).Sum
                $seconds = ($results | Measure-Object -Property ElapsedMs -Maximum).Maximum / 1000
                $perSecond = $attempts / [Math]::Max($seconds, 0.001)
                Say ('{0}: {1} bad join attempts in {2:0.0} s ({3:0} per s), grpc-status {4}' -f $label, $attempts, $seconds, $perSecond, ($statuses -join ', '))
                $figures = [ordered]@{
                    attempts       = [long]$attempts
                    seconds        = Round2 $seconds
                    attemptsPerSec = Round2 $perSecond
                    grpcStatuses   = [ordered]@{}
                }
                foreach ($g in $statusGroups) { $figures.grpcStatuses["$($g.Name)"] = $g.Count }
                $figures.nodeListMs = Report '  Get-SwarmNode during the flood' $lists.ToArray()
                $figures.joinMs = Report '  Join-Swarm as a worker during the flood' $joins.ToArray()
                $figures.rssMaxMB = Round2 $rss
                Say ('{0,-52} {1,9:0.0} MB' -f '  psswarmd RSS during the flood (max)', $rss)
                $figures
            }
            $security = [ordered]@{ rssBeforeMB = Round2 (& $rssMB) }
            Say ('{0,-52} {1,9:0.0} MB' -f 'psswarmd RSS before the floods', $security.rssBeforeMB)
            $security.oneAddress = Measure-Legit 'one address, limiter engaged' {
                [PSSwarmAttack.Wire]::FloodAsync("${ip}:2377", '127.0.0.210', $joinPath, $badBody, 1000000, 8000, 0, 16, 3000)
            }
            $security.manyAddresses = Measure-Legit '500 addresses x 5 attempts, every token checked' {
                [Threading.Tasks.Task]::WhenAll([Threading.Tasks.Task[PSSwarmAttack.FloodResult][]]@(foreach ($i in 0..499) {
                    [PSSwarmAttack.Wire]::FloodAsync("${ip}:2377", "127.0.$(10 + [Math]::Floor($i / 250)).$(1 + $i % 250)", $joinPath, $badBody, 5, 20000, 0, 1, 5000)
                }))
            }
            $result.security = $security
        }
        catch { Fail-Section 'security floods' $_ }
    }

    # The single-node daemons are done: stop them so that they do not load the three-manager runs.
    foreach ($p in @($daemonPid) + @($script:peerPids)) { if ($p) { Send-Signal $p TERM } }
    foreach ($p in @($daemonPid) + @($script:peerPids)) { if ($p -and -not (Wait-Exit $p 15)) { Send-Signal $p 9 } }

    # ================================================================ three managers
    Say
    Say 'Three managers on 127.0.0.221-223:2377'
    $clusterUp = $false
    try {
        foreach ($m in $mgrs.Values) { Start-Manager $m }
        $m1 = $mgrs.m1
        $null = Initialize-Swarm -Endpoint $m1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip
        $token = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Manager
        foreach ($m in @($mgrs.m2, $mgrs.m3)) { $null = $token | Join-Swarm -Endpoint $m.Endpoint -ListenAddress $m.Listen -AdvertiseAddress $m.Ip }
        foreach ($m in $mgrs.Values) { $m.Id = (Get-SwarmNode -Self -Endpoint $m.Endpoint).Id }
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $leader = Wait-Whole
        if (-not $leader) { Note "three managers: the swarm was not whole within $WaitTimeoutSeconds s of the joins: no three-manager figures" }
        else {
            Say ('{0,-52} {1,9:0} ms after the joins (leader {2})' -f 'swarm whole (3 managers Reachable)', $sw.Elapsed.TotalMilliseconds, $leader.Name)
            $clusterUp = $true
        }
    }
    catch { Fail-Section 'three-manager set-up' $_ }

    # ---- leadership stability (idle, then writes) and Raft write throughput
    if ($clusterUp) {
        try {
            $windowStart = [datetime]::UtcNow
            Say "idle for $IdleSeconds s (counting leadership changes) ..."
            Start-Sleep -Seconds $IdleSeconds
            $leader = Get-ClusterLeader
            if (-not $leader) { Note 'throughput: no manager reports itself leader after the idle period' }
            else {
                $target = $mgrs.m1.Id
                $ok = 0; $failed = @{}
                $sw = [Diagnostics.Stopwatch]::StartNew()
                while ($sw.Elapsed.TotalSeconds -lt $WriteSeconds) {
                    try { $null = Set-SwarmNode -Endpoint $leader.Endpoint -Id $target -Label @{ seq = "$ok" } -ErrorAction Stop; $ok++ }
                    catch { $failed[(Get-ErrorKey $_)] = 1 + [int]$failed[(Get-ErrorKey $_)] }
                }
                $elapsed = $sw.Elapsed.TotalSeconds
                $result.raftWritesPerSec = Round2 ($ok / $elapsed)
                Say ('{0,-52} {1,9:0.0} /s   ({2} writes in {3:0.0} s, {4})' -f "Raft writes, sequential Set-SwarmNode via leader", $result.raftWritesPerSec, $ok, $elapsed, (Format-Errors $failed))

                # The same from $WriteConcurrency concurrent callers: the client library's async calls,
                # $WriteConcurrency always in flight (one PowerShell thread keeps them going).
                $client = (Get-ClientType PSSwarm.Client.SwarmClient)::For($leader.Endpoint)
                $updateNodeRequest = Get-ClientType PSSwarm.Protocol.Control.UpdateNodeRequest
                $none = [Threading.CancellationToken]::None
                $next = 0
                $newWrite = {
                    param([int] $k)
                    $req = $updateNodeRequest::new()
                    $req.Id = $target
                    $req.AddLabels.Add("w$k", "$(++$script:next)")
                    $client.UpdateNodeAsync($req, $none)
                }
                $tasks = [Threading.Tasks.Task[]]::new($WriteConcurrency)
                $sw = [Diagnostics.Stopwatch]::StartNew()
                for ($k = 0; $k -lt $WriteConcurrency; $k++) { $tasks[$k] = & $newWrite $k }
                $okC = 0; $failedC = @{}; $stalled = $false
                while ($sw.Elapsed.TotalSeconds -lt $WriteSeconds) {
                    $i = [Threading.Tasks.Task]::WaitAny($tasks, 10000)
                    if ($i -lt 0) { $stalled = $true; break }
                    if ($tasks[$i].IsCompletedSuccessfully) { $okC++ }
                    else { $key = "$($tasks[$i].Exception.InnerException.GetType().Name)"; $failedC[$key] = 1 + [int]$failedC[$key] }
                    $tasks[$i] = & $newWrite $i
                }
                $elapsedC = $sw.Elapsed.TotalSeconds
                try { $null = [Threading.Tasks.Task]::WaitAll($tasks, 30000) } catch { }
                if ($stalled) { Note "concurrent writes: no write completed within 10 s; stopped" }
                $result.raftWritesPerSecConcurrent = Round2 ($okC / $elapsedC)
                Say ('{0,-52} {1,9:0.0} /s   ({2} writes in {3:0.0} s, {4})' -f "Raft writes, $WriteConcurrency in flight (client library), via leader", $result.raftWritesPerSecConcurrent, $okC, $elapsedC, (Format-Errors $failedC))
            }
            $windowEnd = [datetime]::UtcNow
            Start-Sleep -Milliseconds 500  # let the logs flush
            $leads = @(Get-LeadLines $windowStart $windowEnd)
            $result.spuriousElections = $leads.Count
            Say ('{0,-52} {1,9}      ({2:0} s idle + the write runs)' -f 'leadership changes (spurious elections)', $leads.Count, ($windowEnd - $windowStart).TotalSeconds)
            foreach ($l in $leads) { Say "    $($l.Manager): $($l.Line)" }
            $noisy = @(Get-LeadLines $windowStart $windowEnd '^(warn|fail|crit):')
            if ($noisy.Count) {
                Say "    $($noisy.Count) warn/fail log lines in that window, e.g.:"
                $noisy | Select-Object -First 5 | ForEach-Object { Say "    $($_.Manager): $($_.Line)" }
            }
        }
        catch { Fail-Section 'three managers: stability and throughput' $_ }
    }

    # ---- failover: kill -9 of the leader, then a write through a survivor
    if ($clusterUp) {
        try {
            $runs = @()
            for ($r = 1; $r -le $FailoverRounds; $r++) {
                $leader = Wait-Whole
                if (-not $leader) { Note "failover: the swarm was not whole within $WaitTimeoutSeconds s before run $r; stopped"; break }
                $survivors = @($mgrs.Values | Where-Object Name -NE $leader.Name)
                $via = $survivors[$r % 2]
                Send-Signal $leader.Pid 9
                $w = Wait-Write $via $via.Id
                $runs += $w.Ms
                $newLeader = Get-ClusterLeader $survivors
                Say ('  failover {0}: kill -9 {1}, write via {2}: {3} ms, {4} attempts ({5}); new leader {6}' -f $r, $leader.Name, $via.Name,
                    (Format-Run $w.Ms), $w.Attempts, (Format-Errors $w.Errors), $(if ($newLeader) { $newLeader.Name } else { '?' }))
                Restart-Manager $leader
            }
            Add-Runs failover $runs
            $done = @($runs | Where-Object { $null -ne $_ })
            $result.failoverMs = Report 'failover: kill -9 leader to a write via a survivor' $done
            if ($done.Count) { $result.failoverMaxMs = Round2 ($done | Measure-Object -Maximum).Maximum }
            if ($done.Count -lt $runs.Count) {
                $result.failoverMaxMs = $null
                Note "failover: $($runs.Count - $done.Count) of $($runs.Count) runs timed out after $WaitTimeoutSeconds s (failoverMaxMs is null)"
            }
        }
        catch { Fail-Section 'three managers: failover' $_ }
    }

    # ---- graceful handover: SIGTERM of the leader, until a survivor reports itself leader
    if ($clusterUp) {
        try {
            $runs = @(); $exits = @()
            for ($r = 1; $r -le $HandoverRounds; $r++) {
                $leader = Wait-Whole
                if (-not $leader) { Note "handover: the swarm was not whole within $WaitTimeoutSeconds s before run $r; stopped"; break }
                $survivors = @($mgrs.Values | Where-Object Name -NE $leader.Name)
                $oldPid = $leader.Pid
                Send-Signal $oldPid TERM
                $sw = [Diagnostics.Stopwatch]::StartNew()
                $newLeader = $null; $exitMs = $null
                while (-not $newLeader -and $sw.Elapsed.TotalSeconds -lt $WaitTimeoutSeconds) {
                    $newLeader = Get-ClusterLeader $survivors
                    if (-not $exitMs -and -not (Test-Alive $oldPid)) { $exitMs = $sw.Elapsed.TotalMilliseconds }
                    if (-not $newLeader) { Start-Sleep -Milliseconds 10 }
                }
                $ms = if ($newLeader) { $sw.Elapsed.TotalMilliseconds } else { $null }
                if (-not $exitMs -and (Wait-Exit $oldPid 15)) { $exitMs = $sw.Elapsed.TotalMilliseconds }
                $runs += $ms; $exits += $exitMs
                Say ('  handover {0}: SIGTERM {1}: {2} ms to a new leader ({3}); the process exited after {4} ms' -f $r, $leader.Name,
                    (Format-Run $ms), $(if ($newLeader) { $newLeader.Name } else { 'none' }), (Format-Run $exitMs))
                Restart-Manager $leader
            }
            Add-Runs gracefulHandover $runs
            $result.gracefulHandoverMs = Report 'graceful handover: SIGTERM leader to a new leader' @($runs | Where-Object { $null -ne $_ })
            $result.details.sigtermExitMs = Report '  psswarmd exit after SIGTERM (leader)' @($exits | Where-Object { $null -ne $_ })
            if (@($runs | Where-Object { $null -eq $_ }).Count) { Note "handover: some runs timed out after $WaitTimeoutSeconds s" }
        }
        catch { Fail-Section 'three managers: graceful handover' $_ }
    }

    # ---- a follower's restart: process start to its first consistent read
    if ($clusterUp) {
        try {
            $runs = @(); $answers = @()
            for ($r = 1; $r -le $ManagerRestartRounds; $r++) {
                $leader = Wait-Whole
                if (-not $leader) { Note "manager restart: the swarm was not whole within $WaitTimeoutSeconds s before run $r; stopped"; break }
                $follower = @($mgrs.Values | Where-Object Name -NE $leader.Name)[$r % 2]
                Send-Signal $follower.Pid 9
                if (-not (Wait-Exit $follower.Pid 15)) { Note "manager restart: $($follower.Name) did not exit after SIGKILL"; break }
                $sw = [Diagnostics.Stopwatch]::StartNew()
                Start-Manager $follower
                $answerMs = $sw.Elapsed.TotalMilliseconds
                $ms = $null; $errors = @{}
                while ($sw.Elapsed.TotalSeconds -lt $WaitTimeoutSeconds) {
                    try { $null = Get-SwarmNode -Endpoint $follower.Endpoint -ErrorAction Stop; $ms = $sw.Elapsed.TotalMilliseconds; break }
                    catch { $errors[(Get-ErrorKey $_)] = 1 + [int]$errors[(Get-ErrorKey $_)] }
                    Start-Sleep -Milliseconds 10
                }
                $runs += $ms; $answers += $answerMs
                Say ('  restart {0}: kill -9 follower {1}: endpoint answers after {2:0} ms, first Get-SwarmNode after {3} ms ({4})' -f $r, $follower.Name,
                    $answerMs, (Format-Run $ms), (Format-Errors $errors))
            }
            Add-Runs managerRestart $runs
            $result.details.managerStartAnswerMs = Report 'follower restart: process start to endpoint answering' $answers
            $result.managerRestartMs = Report 'follower restart: process start to a consistent read' @($runs | Where-Object { $null -ne $_ })
            if (@($runs | Where-Object { $null -eq $_ }).Count) { Note "manager restart: some runs timed out after $WaitTimeoutSeconds s" }
        }
        catch { Fail-Section 'three managers: manager restart' $_ }
    }

    # ---- quorum loss: two of three killed, until a write on the survivor fails with ResourceUnavailable
    if ($clusterUp) {
        try {
            $runs = @(); $asLeader = @(); $asFollower = @()
            for ($r = 1; $r -le $QuorumRounds; $r++) {
                $leader = Wait-Whole
                if (-not $leader) { Note "quorum: the swarm was not whole within $WaitTimeoutSeconds s before run $r; stopped"; break }
                # Odd runs: the leader survives; even runs: a follower survives.
                $survivor = if ($r % 2) { $leader } else { @($mgrs.Values | Where-Object Name -NE $leader.Name)[0] }
                $killed = @($mgrs.Values | Where-Object Name -NE $survivor.Name)
                & kill -9 @($killed | ForEach-Object Pid) 2>$null
                $sw = [Diagnostics.Stopwatch]::StartNew()
                $ms = $null; $errors = @{}; $successes = 0; $attempts = 0
                while ($sw.Elapsed.TotalSeconds -lt $WaitTimeoutSeconds) {
                    $attempts++
                    try {
                        $null = Set-SwarmNode -Endpoint $survivor.Endpoint -Id $survivor.Id -Label @{ x = "$(++$script:labelValue)" } -ErrorAction Stop
                        $successes++
                    }
                    catch {
                        $errors[(Get-ErrorKey $_)] = 1 + [int]$errors[(Get-ErrorKey $_)]
                        if ("$($_.CategoryInfo.Category)" -eq 'ResourceUnavailable') { $ms = $sw.Elapsed.TotalMilliseconds; break }
                    }
                    Start-Sleep -Milliseconds 20
                }
                $runs += $ms
                if ($r % 2) { $asLeader += $ms } else { $asFollower += $ms }
                Say ('  quorum {0}: kill -9 {1}, survivor {2} ({3}): {4} ms to ResourceUnavailable, {5} attempts ({6}){7}' -f $r,
                    (($killed | ForEach-Object Name) -join ' and '), $survivor.Name, $(if ($r % 2) { 'was leader' } else { 'was follower' }),
                    (Format-Run $ms), $attempts, (Format-Errors $errors), $(if ($successes) { "; $successes writes SUCCEEDED without a quorum" } else { '' }))
                if ($successes) { Note "quorum run ${r}: $successes writes on $($survivor.Name) succeeded with two of three managers killed" }
                foreach ($k in $killed) { Restart-Manager $k }
            }
            Add-Runs quorumError $runs
            # Two populations: a surviving follower fails at once (its read barrier finds no leader), a
            # surviving leader only once it notices that it lost its quorum. quorumErrorMs is the latter
            # (the slow case, and the one a median of both would hide); both are in details.
            $result.quorumErrorMs = Report 'quorum loss: kill -9 two, write on the leader fails' @($asLeader | Where-Object { $null -ne $_ })
            $result.details.quorumErrorFollowerSurvivorMs = Report 'quorum loss: kill -9 two, write on a follower fails' @($asFollower | Where-Object { $null -ne $_ })
            $result.details.quorumErrorAllRunsMs = Round2 (Measure-Median @($runs | Where-Object { $null -ne $_ }))
            if (@($runs | Where-Object { $null -eq $_ }).Count) { Note "quorum: some runs saw no ResourceUnavailable error within $WaitTimeoutSeconds s" }
        }
        catch { Fail-Section 'three managers: quorum loss' $_ }
    }

    # ---- the whole swarm restarted: SIGTERM to all three, start all three at once, until a write succeeds
    if ($clusterUp) {
        try {
            $runs = @()
            $none = [Threading.CancellationToken]::None
            for ($r = 1; $r -le $ClusterRestartRounds; $r++) {
                $leader = Wait-Whole
                if (-not $leader) { Note "cluster restart: the swarm was not whole within $WaitTimeoutSeconds s before run $r; stopped"; break }
                foreach ($m in $mgrs.Values) { Send-Signal $m.Pid TERM }
                foreach ($m in $mgrs.Values) {
                    if (-not (Wait-Exit $m.Pid 15)) { Note "cluster restart: $($m.Name) did not exit within 15 s of SIGTERM; SIGKILL"; Send-Signal $m.Pid 9; $null = Wait-Exit $m.Pid 5 }
                }
                $sw = [Diagnostics.Stopwatch]::StartNew()
                $starting = @(foreach ($m in $mgrs.Values) {
                    (Get-ClientType PSSwarm.Client.DaemonLauncher)::StartAsync($daemonPath, $m.DataRoot, $m.Endpoint, $m.Name, [NullString]::Value, [TimeSpan]::FromSeconds($WaitTimeoutSeconds), $none)
                })
                $ms = $null; $errors = @{}; $k = 0
                $vias = @($mgrs.Values)
                while ($sw.Elapsed.TotalSeconds -lt $WaitTimeoutSeconds) {
                    $via = $vias[$k++ % 3]   # any manager: whichever answers first
                    try {
                        $null = Set-SwarmNode -Endpoint $via.Endpoint -Id $via.Id -Label @{ x = "$(++$script:labelValue)" } -ErrorAction Stop
                        $ms = $sw.Elapsed.TotalMilliseconds; break
                    }
                    catch { $errors[(Get-ErrorKey $_)] = 1 + [int]$errors[(Get-ErrorKey $_)] }
                    Start-Sleep -Milliseconds 20
                }
                $i = 0
                foreach ($m in $mgrs.Values) {
                    $t = $starting[$i++]
                    try {
                        if (-not $t.Wait([TimeSpan]::FromSeconds($WaitTimeoutSeconds + 5))) { throw "no answer from $($m.Endpoint)" }
                        $m.Pid = $t.Result.ProcessId; $script:startedPids.Add($m.Pid)
                    }
                    catch { Note "cluster restart: $($m.Name) did not start: $($_.Exception.GetBaseException().Message)" }
                }
                $runs += $ms
                Say ('  cluster restart {0}: {1} ms from the starts to a write ({2})' -f $r, (Format-Run $ms), (Format-Errors $errors))
            }
            Add-Runs clusterRestart $runs
            $result.clusterRestartMs = Report 'whole swarm restarted: start to a write' @($runs | Where-Object { $null -ne $_ })
            if (@($runs | Where-Object { $null -eq $_ }).Count) { Note "cluster restart: some runs saw no successful write within $WaitTimeoutSeconds s" }
            if (-not (Wait-Whole)) { Note "cluster restart: the swarm was not whole within $WaitTimeoutSeconds s after the last run" }
        }
        catch { Fail-Section 'three managers: cluster restart' $_ }
    }
    if (-not $clusterUp) {
        Note 'the three-manager figures (failover, handover, quorum, restarts, throughput, spurious elections) are null: the swarm did not form'
    }

    # Nothing lost: kill -9 of a random manager, round after round, during writes, rotations and joins.
    if ($ChaosRounds -gt 0) {
        Say
        Say "Chaos: $ChaosRounds rounds of kill -9 of a random manager during label writes, token rotations and joins"
        try {
            $chaos = @(& (Join-Path $PSScriptRoot 'bench/Chaos.ps1') -ModulePath $ModulePath -Rounds $ChaosRounds) | Select-Object -Last 1
            $result['chaos'] = $chaos
            if ($chaos.lostAcknowledged -ne 0) { $script:sectionFailed = $true; $result.errors.Add("chaos: $($chaos.lostAcknowledged) acknowledged writes lost") }
        }
        catch { Fail-Section 'chaos' $_ }
    }

    Say
    Invoke-BenchScenario -Section scale -Label Scale -Enabled ($ScaleNodes -gt 0) -Switch '-ScaleNodes 0' -Script Scale.ps1 -Arguments @{ Nodes = $ScaleNodes } `
        -Description "$ScaleNodes simulated worker nodes (tools/loadgen) joining three managers on 127.0.0.231-233:2377 and heartbeating the leader"
    Say
    Invoke-BenchScenario -Section caRotation -Label 'Root CA rotation' -Enabled ($CaRotation -gt 0) -Switch '-CaRotation 0' -Script CaRotation.ps1 `
        -Description 'Update-SwarmCA on 3 managers and 10 workers (127.0.0.241-253:2377), at a 5 s and at a 1 s heartbeat' `
        -Check { param($run) if ($run.failures -gt 0) { "$($run.failures) rotations failed their checks (see details.caRotation.runs)" } }
    Say
    Invoke-BenchScenario -Section remoteJoin -Label 'Remote join' -Enabled ($RemoteJoin -gt 0) -Switch '-RemoteJoin 0' -Script RemoteJoin.ps1 `
        -Description 'New-PSSession -HostName into 3 namespace hosts (sshd, 10.99.77.1-3) and one fanned-out Invoke-Command ... | Join-Swarm'
    Invoke-BenchScenario -Section module -Label Module -Enabled ($ModuleRuns -gt 0) -Switch '-ModuleRuns 0' -Script Module.ps1 -Arguments @{ Runs = $ModuleRuns } `
        -Description 'Import-Module in new pwsh processes (cold: page cache dropped; warm), the first call, package and staged sizes'
    Say
    Say 'Docker 20.10 on this machine kind: worker join 144 ms, manager join 620 ms, node list through its API 0.8 ms (issue #3).'
    Say 'Docker 20.10 on this machine kind (issue #2): swarm init 150-600 ms, join-token API 0.6 ms, rotation API 9 ms, dockerd ~100 MB RSS + containerd 39 MB.'
}
finally {
    # Every daemon this bench started, by PID (SIGTERM, then SIGKILL for any still there).
    $left = @($script:startedPids | Select-Object -Unique | Where-Object { Test-Alive $_ })
    # And any psswarmd whose command line names this bench's own temp folder (a start that timed out
    # before its PID was known).
    foreach ($dir in Get-ChildItem /proc -Directory -ErrorAction SilentlyContinue | Where-Object Name -Match '^\d+$') {
        try { $cmd = [IO.File]::ReadAllText("$($dir.FullName)/cmdline") } catch { continue }
        if ($cmd -like '*psswarmd*' -and $cmd.Contains("$root/") -and [int]$dir.Name -notin $left) { $left += [int]$dir.Name }
    }
    foreach ($p in $left) { Send-Signal $p TERM }
    foreach ($p in $left) { if (-not (Wait-Exit $p 10)) { Send-Signal $p 9; $null = Wait-Exit $p 5 } }
    if ($KeepLogs) {
        $logs = Join-Path (Split-Path $OutputPath) 'logs'
        New-Item -ItemType Directory $logs -Force | Out-Null
        foreach ($m in $mgrs.Values) {
            $log = Join-Path $m.DataRoot 'psswarmd.log'
            if (Test-Path $log) { Copy-Item $log (Join-Path $logs "$($m.Name).log") -Force }
        }
        Say "Manager logs copied to $logs"
    }
    Remove-Item $root -Recurse -Force -ErrorAction SilentlyContinue

    $result.benchSeconds = Round2 $benchClock.Elapsed.TotalSeconds
    try {
        New-Item -ItemType Directory (Split-Path $OutputPath) -Force | Out-Null
        $result | ConvertTo-Json -Depth 8 | Set-Content -Path $OutputPath -Encoding utf8NoBOM
        Say
        Say ("Bench took {0:0} s. Figures written to {1}" -f $result.benchSeconds, $OutputPath)
    }
    catch { Write-Host "Could not write $OutputPath : $($_.Exception.Message)" -ForegroundColor Red; $script:sectionFailed = $true }
}
if ($script:sectionFailed) { exit 1 }
