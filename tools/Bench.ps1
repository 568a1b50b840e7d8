<#
.SYNOPSIS
    PSSwarm benchmarks: prints figures (medians), never fails on a slow machine.
    Run: dotnet pwsh ./build.ps1 Bench
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [int] $InitRounds = 15,
    [int] $Calls = 100,
    [int] $RestartRounds = 5,
    [int] $JoinRounds = 8
)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath -Force

$root = Join-Path ([IO.Path]::GetTempPath()) "psswarm-bench-$PID"
New-Item -ItemType Directory $root -Force | Out-Null
$ip = '127.0.0.201'
$endpoint = "unix://$root/b1.sock"
$dataRoot = Join-Path $root 'b1'
$daemonPid = $null

function Measure-Median([double[]] $values) {
    $sorted = $values | Sort-Object
    $n = $sorted.Count
    if ($n -eq 0) { return [double]::NaN }
    if ($n % 2) { $sorted[[int][math]::Floor($n / 2)] } else { ($sorted[$n / 2 - 1] + $sorted[$n / 2]) / 2 }
}
function Time([scriptblock] $block) {
    $sw = [Diagnostics.Stopwatch]::StartNew(); $null = & $block; $sw.Elapsed.TotalMilliseconds
}
function Report([string] $name, [double[]] $values, [string] $unit = 'ms') {
    '{0,-52} median {1,9:0.00} {2}   (min {3:0.00}, max {4:0.00}, n={5})' -f $name, (Measure-Median $values), $unit,
        ($values | Measure-Object -Minimum).Minimum, ($values | Measure-Object -Maximum).Maximum, $values.Count
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

try {
    "PSSwarm benchmark on $([Environment]::ProcessorCount) cores, $(Get-Date -Format s)"
    ''
    # Daemon start to answering (cold process each time).
    $starts = foreach ($i in 1..5) {
        $t = Time { $script:d = Start-SwarmDaemon -DataRoot $dataRoot -Endpoint $endpoint -NodeName bench -PassThru }
        $daemonPid = $d.ProcessId
        Stop-SwarmDaemon -Endpoint $endpoint
        $t
    }
    Report 'Start-SwarmDaemon until the endpoint answers' $starts
    $d = Start-SwarmDaemon -DataRoot $dataRoot -Endpoint $endpoint -NodeName bench -PassThru
    $daemonPid = $d.ProcessId

    # Initialize-Swarm on a running daemon (each round leaves with -Force).
    $null = Get-Swarm -Endpoint $endpoint  # warm the session's channel
    $inits = foreach ($i in 1..$InitRounds) {
        $t = Time { Initialize-Swarm -Endpoint $endpoint -ListenAddress "${ip}:2377" -AdvertiseAddress $ip }
        if ($i -lt $InitRounds) { Exit-Swarm -Endpoint $endpoint -Force -Confirm:$false }
        $t
    }
    Report 'Initialize-Swarm (running daemon)' $inits
    Report 'Initialize-Swarm, first call in the daemon' @($inits[0])

    $get = foreach ($i in 1..$Calls) { Time { Get-SwarmJoinToken -Endpoint $endpoint -Role Worker } }
    Report "Get-SwarmJoinToken x$Calls (one session)" $get
    $rot = foreach ($i in 1..$Calls) { Time { Update-SwarmJoinToken -Endpoint $endpoint -Role Worker -Confirm:$false } }
    Report "Update-SwarmJoinToken x$Calls (one session)" $rot
    $ls = foreach ($i in 1..$Calls) { Time { Get-SwarmNode -Endpoint $endpoint } }
    Report "Get-SwarmNode x$Calls (one session)" $ls
    $info = foreach ($i in 1..$Calls) { Time { Get-Swarm -Endpoint $endpoint } }
    Report "Get-Swarm x$Calls (one session)" $info

    Start-Sleep -Seconds 3
    $status = Get-Content "/proc/$daemonPid/status"
    $kb = { param($name) [int](($status | Select-String "^${name}:\s+(\d+)").Matches[0].Groups[1].Value) }
    '{0,-52} {1,9:0.0} MB   (anonymous {2:0.0} MB, file-backed {3:0.0} MB)' -f 'psswarmd RSS, idle single-node manager',
        ((& $kb VmRSS) / 1024), ((& $kb RssAnon) / 1024), ((& $kb RssFile) / 1024)

    # Restart (SIGTERM, start) until this node leads again; then kill -9 and the same.
    $restart = foreach ($i in 1..$RestartRounds) {
        Stop-SwarmDaemon -Endpoint $endpoint
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $d = Start-SwarmDaemon -DataRoot $dataRoot -Endpoint $endpoint -NodeName bench -PassThru
        $daemonPid = $d.ProcessId
        $null = Wait-Leader
        $sw.Elapsed.TotalMilliseconds
    }
    Report 'restart (SIGTERM) to leader again, incl. process start' $restart
    $kill = foreach ($i in 1..$RestartRounds) {
        & kill -9 $daemonPid
        while (Test-Path "/proc/$daemonPid") { Start-Sleep -Milliseconds 5 }
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $d = Start-SwarmDaemon -DataRoot $dataRoot -Endpoint $endpoint -NodeName bench -PassThru
        $daemonPid = $d.ProcessId
        $null = Wait-Leader
        $sw.Elapsed.TotalMilliseconds
    }
    Report 'kill -9, start to leader again, incl. process start' $kill

    # Multi-node: joins on warm daemons (each round: join, leave, remove), node list with 4 nodes.
    $peers = foreach ($i in 2..4) {
        Start-SwarmDaemon -DataRoot (Join-Path $root "b$i") -Endpoint "unix://$root/b$i.sock" -NodeName "bench$i" -PassThru
    }
    $script:peerPids = $peers.ProcessId
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
    Report 'Join-Swarm as a worker, first join of a fresh daemon' @($wJoin[0])
    Report 'Join-Swarm as a worker (warm daemon and session)' ($wJoin | Select-Object -Skip 1)
    Report 'Join-Swarm as a manager, first join of a fresh daemon' @($mJoin[0])
    Report 'Join-Swarm as a manager (warm daemon and session)' ($mJoin | Select-Object -Skip 1)
    $null = $workerToken | Join-Swarm -Endpoint $peers[2].Endpoint -ListenAddress '127.0.0.204:2377' -AdvertiseAddress '127.0.0.204'
    $count = @(Get-SwarmNode -Endpoint $endpoint).Count
    Start-Sleep -Seconds 2 # let the new node's first heartbeats settle
    $api = [PSSwarm.Client.SwarmClient]::For($endpoint)
    $ls4api = foreach ($i in 1..$Calls) {
        $sw = [Diagnostics.Stopwatch]::StartNew(); $null = $api.ListNodesAsync([Threading.CancellationToken]::None).GetAwaiter().GetResult(); $sw.Elapsed.TotalMilliseconds
    }
    Report "node list through the API (client library), $count nodes" $ls4api
    $ls4 = foreach ($i in 1..$Calls) { Time { Get-SwarmNode -Endpoint $endpoint } }
    Report "Get-SwarmNode with $count nodes x$Calls, leader" $ls4
    $ls4f = foreach ($i in 1..$Calls) { Time { Get-SwarmNode -Endpoint $peers[1].Endpoint } }
    Report "Get-SwarmNode with $count nodes x$Calls, follower" $ls4f

    # Security: legitimate calls while wrong join tokens flood the listener, from one address (the
    # per-address limiter refuses it after 5 failures) and from 500 addresses with 5 attempts each
    # (every attempt is checked: the cost before any slow-down).
    ''
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
        $results = @($flood.GetAwaiter().GetResult())
        $statuses = $results | ForEach-Object { $_.Statuses } | Group-Object | ForEach-Object { "$($_.Name) x$($_.Count)" }
        $attempts = ($results | Measure-Object -Property Attempts -Sum).Sum
        $seconds = ($results | Measure-Object -Property ElapsedMs -Maximum).Maximum / 1000
        '{0}: {1} bad join attempts in {2:0.0} s ({3:0} per s), grpc-status {4}' -f $label, $attempts, $seconds, ($attempts / [Math]::Max($seconds, 0.001)), ($statuses -join ', ')
        Report "  Get-SwarmNode during the flood" $lists.ToArray()
        Report "  Join-Swarm as a worker during the flood" $joins.ToArray()
        '{0,-52} {1,9:0.0} MB' -f '  psswarmd RSS during the flood (max)', $rss
    }
    '{0,-52} {1,9:0.0} MB' -f 'psswarmd RSS before the floods', (& $rssMB)
    Measure-Legit 'one address, limiter engaged' {
        [PSSwarmAttack.Wire]::FloodAsync("${ip}:2377", '127.0.0.210', $joinPath, $badBody, 1000000, 8000, 0, 16, 3000)
    }
    Measure-Legit '500 addresses x 5 attempts, every token checked' {
        [Threading.Tasks.Task]::WhenAll([Threading.Tasks.Task[PSSwarmAttack.FloodResult][]]@(foreach ($i in 0..499) {
            [PSSwarmAttack.Wire]::FloodAsync("${ip}:2377", "127.0.$(10 + [Math]::Floor($i / 250)).$(1 + $i % 250)", $joinPath, $badBody, 5, 20000, 0, 1, 5000)
        }))
    }
    ''
    'Docker 20.10 on this machine kind: worker join 144 ms, manager join 620 ms, node list through its API 0.8 ms (issue #3).'
    'Docker 20.10 on this machine kind (issue #2): swarm init 150-600 ms, join-token API 0.6 ms, rotation API 9 ms, dockerd ~100 MB RSS + containerd 39 MB.'
}
finally {
    if ($daemonPid -and (Test-Path "/proc/$daemonPid")) { & kill -9 $daemonPid }
    foreach ($p in $script:peerPids) { if ($p -and (Test-Path "/proc/$p")) { & kill -9 $p } }
    Remove-Item $root -Recurse -Force -ErrorAction SilentlyContinue
}
