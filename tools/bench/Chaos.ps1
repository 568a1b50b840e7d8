<#
.SYNOPSIS
    Chaos: "nothing lost". Rounds of kill -9 of a random manager while label writes, worker-token
    rotations and worker leave/re-joins go on, then a check on every manager that every
    acknowledged write is still there.
    Run: dotnet pwsh -NoProfile -File tools/bench/Chaos.ps1 -ModulePath out/PSSwarm/PSSwarm.psd1 [-Rounds 100] [-OutputPath x.json]
.DESCRIPTION
    Three managers on 127.0.0.231-233:2377 and two workers on 127.0.0.234-235 (w1 takes the label
    writes and never leaves; w2 leaves and re-joins now and then). The writers run in three
    parallel runspaces (ForEach-Object -Parallel -AsJob) while this thread is the killer: each round
    kills a random manager with SIGKILL (by PID), waits 0.3-1.2 s, restarts it on its data root and
    waits (at most -WaitTimeoutSeconds) until the swarm is whole again. At most one manager is down
    at a time, so a quorum always exists; writes that fail during elections are counted, not errors.

    What an acknowledged write is: the cmdlet returned without an error. A failed write may still
    have committed (the entry reached the log and the answer was lost), so failed writes are never
    expected to be absent, only acknowledged ones are expected to be present.

    Worker token: the rotations run sequentially in one runspace, so the acknowledged ones are
    ordered. At the end every manager must show the last acknowledged token, or, if at least one
    rotation attempt after it failed (it may have committed without an answer), a token that is
    none of the acknowledged tokens (an older acknowledged token would be a lost write). The
    second case is counted as tokenAmbiguous, not as a loss.

    Every wait and loop is bounded in count and time; every daemon started is stopped by PID in a
    finally block and the temp folder is removed. The counts are printed, emitted as an object and,
    with -OutputPath, written as JSON. The exit code is 1 when a write was lost (or the run failed).
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [int] $Rounds = 100,
    [string] $OutputPath,
    [double] $WaitTimeoutSeconds = 30,
    # Label keys on the label target (a node holds at most 100 labels; keys are written again and again).
    [ValidateRange(1, 99)] [int] $LabelKeys = 90,
    [double] $MinDownSeconds = 0.3,
    [double] $MaxDownSeconds = 1.2,
    # Hard bound on the whole chaos phase (the writers stop with the killer in any case).
    [double] $MaxChaosSeconds = 900,
    # Copy the managers' logs here at the end (e.g. to inspect an anomaly).
    [string] $KeepLogsPath
)
$ErrorActionPreference = 'Stop'
$clock = [Diagnostics.Stopwatch]::StartNew()
$ModulePath = [IO.Path]::GetFullPath($ModulePath)
Import-Module $ModulePath -Force

$root = Join-Path ([IO.Path]::GetTempPath()) "psswarm-chaos-$PID"
New-Item -ItemType Directory $root -Force | Out-Null
$startedPids = [Collections.Generic.List[int]]::new()
$anomalies = [Collections.Generic.List[string]]::new()

$counts = [ordered]@{
    rounds                = 0
    kills                 = 0
    killedLeader          = 0
    restarts              = 0
    notWholeWithinTimeout = 0
    startMedianMs         = $null
    wholeMedianMs         = $null
    wholeMaxMs            = $null
    writesAttempted       = 0
    writesAcknowledged    = 0
    writesFailed          = 0
    labelWrites           = [ordered]@{ attempted = 0; acknowledged = 0; failed = 0 }
    rotations             = [ordered]@{ attempted = 0; acknowledged = 0; failed = 0 }
    joins                 = [ordered]@{ leaves = 0; leavesFailed = 0; attempted = 0; acknowledged = 0; failed = 0 }
    failureKinds          = [ordered]@{}
    lostAcknowledged      = 0
    lostLabels            = 0
    lostJoins             = 0
    labelKeysChecked      = 0
    labelsFromFailedWrites = 0   # summed over the managers: a key whose value is a failed (yet committed) write's
    committedDespiteError = [Collections.Generic.List[string]]::new()
    tokenMismatch         = 0
    tokenAmbiguous        = 0
    duplicateNodes        = 0
    leaderDisagreement    = 0
    managersChecked       = 0
    checkSeconds          = [ordered]@{}   # per manager: how long until its reads showed everything (at most 15 s)
    orphanNodes           = [ordered]@{}   # per manager: nodes from joins whose cmdlet failed but that committed (Down)
    nodesListed           = [ordered]@{}   # per manager: node list entries (w2's old IDs stay as Down)
    elapsedSeconds        = $null
    chaosSeconds          = $null
    anomalies             = $anomalies
}
function Say([string] $Text = '') { Write-Host $Text }
function Anomaly([string] $Text) { $anomalies.Add($Text); Write-Host "  ANOMALY: $Text" -ForegroundColor Yellow }

# ---- processes, by PID
Import-Module (Join-Path $PSScriptRoot 'Processes.psm1') -Force

$nodes = [ordered]@{}
foreach ($i in 1..5) {
    $name = if ($i -le 3) { "m$i" } else { "w$($i - 3)" }
    $nodes[$name] = [pscustomobject]@{
        Name = $name; Ip = "127.0.0.23$i"; Listen = "127.0.0.23${i}:2377"
        Endpoint = "unix://$root/$name.sock"; DataRoot = (Join-Path $root $name); Pid = $null; Id = $null
    }
}
$mgrs = @($nodes.m1, $nodes.m2, $nodes.m3)
$managerAddresses = @($mgrs | ForEach-Object Listen)
function Start-Node($n) {
    $d = Start-SwarmDaemon -DataRoot $n.DataRoot -Endpoint $n.Endpoint -NodeName $n.Name -PassThru
    $n.Pid = $d.ProcessId
    $startedPids.Add($d.ProcessId)
}
# The manager that reports itself leader, or $null; the swarm whole (Processes.psm1).
function Get-ClusterLeader { Find-BenchLeader -Managers $mgrs }
function Wait-Whole([double] $TimeoutSeconds = $WaitTimeoutSeconds) { Wait-BenchWhole -Managers $mgrs -TimeoutSeconds $TimeoutSeconds }
function Median([double[]] $v) { Get-Median $v }

$job = $null
$exitCode = 0
try {
    Say "PSSwarm chaos: $Rounds rounds of kill -9 of a random manager under writes, $(Get-Date -Format s)"
    # ---- set-up: three managers, two workers
    foreach ($n in $nodes.Values) { Start-Node $n }
    $m1 = $nodes.m1
    $null = Initialize-Swarm -Endpoint $m1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip -DispatcherHeartbeat '00:00:01'
    $mtoken = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Manager
    foreach ($m in @($nodes.m2, $nodes.m3)) { $null = $mtoken | Join-Swarm -Endpoint $m.Endpoint -ListenAddress $m.Listen -AdvertiseAddress $m.Ip }
    $wtoken = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker
    foreach ($w in @($nodes.w1, $nodes.w2)) {
        $null = Join-Swarm -Endpoint $w.Endpoint -Token $wtoken.Token -RemoteAddress $managerAddresses -ListenAddress $w.Listen -AdvertiseAddress $w.Ip
    }
    foreach ($n in $nodes.Values) { $n.Id = (Get-Swarm -Endpoint $n.Endpoint).NodeId }
    if (-not (Wait-Whole)) { throw "the swarm was not whole within $WaitTimeoutSeconds s of the joins" }
    Say ('set-up done after {0:0.0} s (3 managers, 2 workers)' -f $clock.Elapsed.TotalSeconds)

    # ---- writers: three runspaces; shared state through a synchronized hashtable
    $shared = [hashtable]::Synchronized(@{ Down = $null; Stop = $false })
    $deadline = [datetime]::UtcNow.AddSeconds($MaxChaosSeconds + 60)
    $mgrInfo = @($mgrs | ForEach-Object { [pscustomobject]@{ Name = $_.Name; Endpoint = $_.Endpoint } })
    $w1 = $nodes.w1; $w2 = $nodes.w2
    $job = 'labels', 'rotations', 'joins' | ForEach-Object -ThrottleLimit 3 -AsJob -Parallel {
        $ErrorActionPreference = 'Stop'
        Import-Module $using:ModulePath
        $kind = $_
        $shared = $using:shared; $mgrs = $using:mgrInfo; $deadline = $using:deadline
        $w1 = $using:w1; $w2 = $using:w2; $addresses = $using:managerAddresses
        $records = [Collections.Generic.List[object]]::new()
        $failures = @{}
        function Pick { $live = @($mgrs | Where-Object Name -NE $shared.Down); $live[(Get-Random -Maximum $live.Count)] }
        function Fail($err) {
            $k = "$($err.CategoryInfo.Category)/$(($err.FullyQualifiedErrorId -split ',')[0])"
            $failures[$k] = 1 + [int]$failures[$k]
        }
        function Go { -not $shared.Stop -and [datetime]::UtcNow -lt $deadline }
        $n = 0
        switch ($kind) {
            'labels' {
                while ((Go) -and $n -lt 100000) {
                    $n++; $via = Pick
                    # A node holds at most 100 labels: 90 keys, each written again and again (the value is n).
                    $key = "k$($n % $using:LabelKeys)"
                    $r = [pscustomobject]@{ N = $n; Key = $key; Value = "$n"; Via = $via.Name; At = [datetime]::UtcNow; Ok = $false; Error = $null }
                    try { $null = Set-SwarmNode -Endpoint $via.Endpoint -Id $w1.Id -Label @{ $key = "$n" } -Confirm:$false -ErrorAction Stop; $r.Ok = $true }
                    catch { Fail $_; $r.Error = "$($_.CategoryInfo.Category): $($_.Exception.Message)" }
                    $records.Add($r)
                    Start-Sleep -Milliseconds (Get-Random -Minimum 10 -Maximum 60)
                }
            }
            'rotations' {
                while ((Go) -and $n -lt 20000) {
                    $n++; $via = Pick
                    $r = [pscustomobject]@{ N = $n; Token = $null; Via = $via.Name; At = [datetime]::UtcNow; Ok = $false; Error = $null }
                    try { $r.Token = (Update-SwarmJoinToken -Endpoint $via.Endpoint -Role Worker -Confirm:$false -ErrorAction Stop).Token; $r.Ok = $true }
                    catch { Fail $_; $r.Error = "$($_.CategoryInfo.Category): $($_.Exception.Message)" }
                    $records.Add($r)
                    Start-Sleep -Milliseconds (Get-Random -Minimum 100 -Maximum 400)
                }
            }
            'joins' {
                while ((Go) -and $n -lt 2000) {
                    Start-Sleep -Milliseconds (Get-Random -Minimum 1500 -Maximum 4000)
                    if (-not (Go)) { break }
                    $n++
                    $r = [pscustomobject]@{ N = $n; Kind = 'leave'; NodeId = $null; Via = 'w2'; At = [datetime]::UtcNow; Ok = $false; Error = $null }
                    try { Exit-Swarm -Endpoint $w2.Endpoint -Force -Confirm:$false -ErrorAction Stop; $r.Ok = $true }
                    catch { Fail $_; $r.Error = "$($_.CategoryInfo.Category): $($_.Exception.Message)" }
                    $records.Add($r)
                    # Join with the current worker token (read just before; a rotation in between makes
                    # it fail with AuthenticationError: counted, then tried again), at most 20 tries / 30 s.
                    $sw = [Diagnostics.Stopwatch]::StartNew(); $tries = 0
                    while ($tries -lt 20 -and $sw.Elapsed.TotalSeconds -lt 30 -and [datetime]::UtcNow -lt $deadline) {
                        $tries++; $via = Pick
                        $r = [pscustomobject]@{ N = $n; Kind = 'join'; NodeId = $null; Via = $via.Name; At = [datetime]::UtcNow; Ok = $false; Error = $null }
                        try {
                            $token = Get-SwarmJoinToken -Endpoint $via.Endpoint -Role Worker -Quiet -ErrorAction Stop
                            $joined = Join-Swarm -Endpoint $w2.Endpoint -Token $token -RemoteAddress $addresses -ListenAddress $w2.Listen -AdvertiseAddress $w2.Ip -ErrorAction Stop
                            $r.NodeId = $joined.Id; $r.Ok = $true
                        }
                        catch { Fail $_; $r.Error = "$($_.CategoryInfo.Category): $($_.Exception.Message)" }
                        $records.Add($r)
                        if ($r.Ok) { break }
                        # Already in a swarm (an earlier try joined after all): done.
                        if ($r.Error -like 'ResourceExists*') { break }
                        Start-Sleep -Milliseconds 500
                    }
                }
            }
        }
        [pscustomobject]@{ Kind = $kind; Records = $records.ToArray(); Failures = $failures }
    }

    # ---- the killer (this thread)
    $chaos = [Diagnostics.Stopwatch]::StartNew()
    $wholeMs = [Collections.Generic.List[double]]::new()
    $startMs = [Collections.Generic.List[double]]::new()
    for ($r = 1; $r -le $Rounds -and $chaos.Elapsed.TotalSeconds -lt $MaxChaosSeconds; $r++) {
        $counts.rounds = $r
        $victim = $mgrs[(Get-Random -Maximum 3)]
        $wasLeader = $false
        try { $wasLeader = (Get-SwarmNode -Self -Endpoint $victim.Endpoint -ErrorAction Stop).IsLeader } catch { }
        $shared.Down = $victim.Name
        Send-Signal $victim.Pid 9
        $counts.kills++
        if ($wasLeader) { $counts.killedLeader++ }
        if (-not (Wait-Exit $victim.Pid 15)) { Anomaly "round ${r}: $($victim.Name) (PID $($victim.Pid)) still alive 15 s after SIGKILL" }
        Start-Sleep -Milliseconds ([int](1000 * ($MinDownSeconds + (Get-Random -Maximum 1.0) * ($MaxDownSeconds - $MinDownSeconds))))
        $sw = [Diagnostics.Stopwatch]::StartNew()
        try { Start-Node $victim; $counts.restarts++; $startMs.Add($sw.Elapsed.TotalMilliseconds) }
        catch {
            Anomaly "round ${r}: restart of $($victim.Name) failed: $($_.Exception.Message)"
            try { Start-Sleep -Seconds 1; Start-Node $victim; $counts.restarts++ } catch { Anomaly "round ${r}: second restart of $($victim.Name) failed: $($_.Exception.Message)"; break }
        }
        $leader = Wait-Whole
        if ($leader) { $wholeMs.Add($sw.Elapsed.TotalMilliseconds) }
        else { $counts.notWholeWithinTimeout++; Anomaly "round ${r}: not whole within $WaitTimeoutSeconds s after restarting $($victim.Name)" }
        $shared.Down = $null
        if ($r % 10 -eq 0) {
            Say ('  round {0}: {1:0} s, last kill {2}{3}, whole after {4:0} ms' -f $r, $chaos.Elapsed.TotalSeconds, $victim.Name,
                $(if ($wasLeader) { ' (leader)' } else { '' }), $sw.Elapsed.TotalMilliseconds)
        }
    }
    $shared.Stop = $true
    $counts.chaosSeconds = [math]::Round($chaos.Elapsed.TotalSeconds, 1)
    $counts.wholeMedianMs = if ($wholeMs.Count) { [math]::Round((Median $wholeMs.ToArray()), 0) } else { $null }
    $counts.startMedianMs = if ($startMs.Count) { [math]::Round((Median $startMs.ToArray()), 0) } else { $null }
    $counts.wholeMaxMs = if ($wholeMs.Count) { [math]::Round(($wholeMs | Measure-Object -Maximum).Maximum, 0) } else { $null }
    if (-not (Wait-Job $job -Timeout 90)) { Anomaly 'the writers did not stop within 90 s of the last round' }
    $outs = @(Receive-Job $job -ErrorAction Continue)
    foreach ($e in $job.ChildJobs.Error) { Anomaly "writer error: $e" }
    $labels = @(($outs | Where-Object Kind -EQ labels).Records)
    $rotations = @(($outs | Where-Object Kind -EQ rotations).Records)
    $joinOps = @(($outs | Where-Object Kind -EQ joins).Records)
    foreach ($o in $outs) { foreach ($k in $o.Failures.Keys) { $counts.failureKinds[$k] = [int]$counts.failureKinds[$k] + $o.Failures[$k] } }

    $counts.labelWrites.attempted = $labels.Count
    $counts.labelWrites.acknowledged = @($labels | Where-Object Ok).Count
    $counts.labelWrites.failed = $labels.Count - $counts.labelWrites.acknowledged
    $counts.rotations.attempted = $rotations.Count
    $counts.rotations.acknowledged = @($rotations | Where-Object Ok).Count
    $counts.rotations.failed = $rotations.Count - $counts.rotations.acknowledged
    $joinsOnly = @($joinOps | Where-Object Kind -EQ join)
    $counts.joins.leaves = @($joinOps | Where-Object { $_.Kind -eq 'leave' -and $_.Ok }).Count
    $counts.joins.leavesFailed = @($joinOps | Where-Object { $_.Kind -eq 'leave' -and -not $_.Ok }).Count
    $counts.joins.attempted = $joinsOnly.Count
    $counts.joins.acknowledged = @($joinsOnly | Where-Object Ok).Count
    $counts.joins.failed = $joinsOnly.Count - $counts.joins.acknowledged
    $all = @($labels) + @($rotations) + @($joinOps)
    $counts.writesAttempted = $all.Count
    $counts.writesAcknowledged = @($all | Where-Object Ok).Count
    $counts.writesFailed = $all.Count - $counts.writesAcknowledged

    # ---- the check, on every manager's own endpoint
    Say ('chaos done after {0:0} s; checking every manager' -f $counts.chaosSeconds)
    if (-not (Wait-Whole)) { Anomaly "the swarm was not whole within $WaitTimeoutSeconds s after the last round" }
    # w2 in the swarm at the end (a last leave may have had no join after it)
    try { if ("$((Get-Swarm -Endpoint $w2.Endpoint).LocalNodeState)" -ne 'Active') {
            $script:finalJoinId = (Join-Swarm -Endpoint $w2.Endpoint -Token (Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker -Quiet) -RemoteAddress $managerAddresses -ListenAddress $w2.Listen -AdvertiseAddress $w2.Ip).Id
        } } catch { Anomaly "w2 could not re-join after the chaos: $($_.Exception.Message)" }

    # Per key, the writes are sequential (one runspace): the value must be the last acknowledged
    # write's, or that of a failed write after it (it may have committed). Anything else (missing, or
    # an older write's value) means an acknowledged write was lost.
    $expectLabels = foreach ($g in $labels | Group-Object Key) {
        $ordered = @($g.Group | Sort-Object N)
        $last = @($ordered | Where-Object Ok) | Select-Object -Last 1
        if (-not $last) { continue }
        [pscustomobject]@{ Key = $g.Name; Value = $last.Value; Via = $last.Via; At = $last.At
            Allowed = @(@($last.Value) + @($ordered | Where-Object { -not $_.Ok -and $_.N -gt $last.N } | ForEach-Object Value)) }
    }
    $expectLabels = @($expectLabels)
    $counts.labelKeysChecked = $expectLabels.Count
    $ackTokens = @($rotations | Where-Object Ok)
    $lastAck = if ($ackTokens.Count) { $ackTokens[-1] } else { $null }
    $failedAfterLast = @($rotations | Where-Object { -not $_.Ok -and (-not $lastAck -or $_.N -gt $lastAck.N) }).Count
    $ackJoinIds = @(@($joinsOnly | Where-Object Ok | ForEach-Object NodeId) + @($script:finalJoinId) | Where-Object { $_ })
    $leaderIds = @{}
    foreach ($m in $mgrs) {
        # Followers may trail the leader by a moment: bounded retry (15 s) until everything is there.
        $sw = [Diagnostics.Stopwatch]::StartNew()
        while ($true) {
            $missingLabels = @(); $missingJoins = @(); $dups = @(); $token = $null; $list = @(); $err = $null
            try {
                $self = Get-SwarmNode -Endpoint $m.Endpoint -Id $w1.Id -ErrorAction Stop
                $missingLabels = @($expectLabels | Where-Object { "$($self.Labels[$_.Key])" -notin $_.Allowed })
                $ambiguousLabels = @($expectLabels | Where-Object { "$($self.Labels[$_.Key])" -ne $_.Value -and "$($self.Labels[$_.Key])" -in $_.Allowed }).Count
                $list = @(Get-SwarmNode -Endpoint $m.Endpoint -ErrorAction Stop)
                $ids = @($list | ForEach-Object Id)
                $missingJoins = @($ackJoinIds | Where-Object { $_ -notin $ids })
                $dups = @($list | Where-Object { "$($_.Status)" -ne 'Down' } | Group-Object Hostname | Where-Object Count -GT 1) +
                        @($list | Group-Object Id | Where-Object Count -GT 1)
                $token = (Get-SwarmJoinToken -Endpoint $m.Endpoint -Role Worker -ErrorAction Stop).Token
            }
            catch { $err = $_ }
            $tokenOk = $token -and (-not $lastAck -or $token -eq $lastAck.Token)
            if (-not $err -and -not $missingLabels.Count -and -not $missingJoins.Count -and -not $dups.Count -and $tokenOk) { break }
            if ($sw.Elapsed.TotalSeconds -ge 15) { break }
            Start-Sleep -Milliseconds 500
        }
        if ($err) { Anomaly "$($m.Name): the check's reads failed: $($err.Exception.Message)"; continue }
        $counts.managersChecked++
        $counts.checkSeconds[$m.Name] = [math]::Round($sw.Elapsed.TotalSeconds, 1)
        $counts.nodesListed[$m.Name] = $list.Count
        # w2 entries no acknowledged join (nor the set-up) reported: a join that committed on the
        # managers although the cmdlet failed (e.g. the manager it went through was killed mid-call).
        $orphans = @($list | Where-Object { $_.Hostname -eq 'w2' -and $_.Id -ne $w2.Id -and $_.Id -notin $ackJoinIds })
        $counts.orphanNodes[$m.Name] = $orphans.Count
        $counts.lostLabels += $missingLabels.Count
        $counts.lostJoins += $missingJoins.Count
        $counts.labelsFromFailedWrites += $ambiguousLabels
        foreach ($x in $expectLabels | Where-Object { "$($self.Labels[$_.Key])" -ne $_.Value -and "$($self.Labels[$_.Key])" -in $_.Allowed }) {
            $f = $labels | Where-Object { $_.Key -eq $x.Key -and $_.Value -eq "$($self.Labels[$x.Key])" } | Select-Object -First 1
            $text = "label $($f.Key)=$($f.Value) via $($f.Via) at $($f.At.ToString('HH:mm:ss.fff')): failed with '$($f.Error)' but committed"
            if ($text -notin $counts.committedDespiteError) { $counts.committedDespiteError.Add($text) }
        }
        foreach ($x in $missingLabels | Select-Object -First 10) {
            Anomaly "$($m.Name): acknowledged label $($x.Key)=$($x.Value) (via $($x.Via) at $($x.At.ToString('HH:mm:ss.fff'))) is $(if ($null -eq $self.Labels[$x.Key]) { 'missing' } else { "'$($self.Labels[$x.Key])'" })"
        }
        foreach ($x in $missingJoins) { Anomaly "$($m.Name): acknowledged join (node $x) is not in the node list" }
        $counts.duplicateNodes += $dups.Count
        foreach ($d in $dups) { Anomaly "$($m.Name): listed twice: $($d.Name) ($(($d.Group | ForEach-Object { "$($_.Id) $($_.Status)" }) -join ', '))" }
        if (-not $tokenOk) {
            $earlier = @($ackTokens | Where-Object Token -EQ $token)
            if ($failedAfterLast -gt 0 -and $earlier.Count -eq 0) {
                $counts.tokenAmbiguous++
                Say "  $($m.Name): worker token is not the last acknowledged one, but $failedAfterLast rotation(s) after it failed and may have committed; the token is no earlier acknowledged one: accepted"
            }
            else {
                $counts.tokenMismatch++
                Anomaly "$($m.Name): worker token $token is not the last acknowledged rotation's ($($lastAck.Token), #$($lastAck.N))$(if ($earlier.Count) { "; it is acknowledged rotation #$($earlier[0].N)'s: a newer acknowledged rotation was lost" })"
            }
        }
        $leaders = @($list | Where-Object IsLeader)
        if ($leaders.Count -ne 1) { $counts.leaderDisagreement++; Anomaly "$($m.Name): $($leaders.Count) leaders in its node list" }
        else { $leaderIds[$m.Name] = $leaders[0].Id }
    }
    if (@($leaderIds.Values | Select-Object -Unique).Count -gt 1) {
        $counts.leaderDisagreement++
        Anomaly "the managers disagree on the leader: $(($leaderIds.GetEnumerator() | ForEach-Object { "$($_.Name) says $($_.Value)" }) -join ', ')"
    }
    $counts.lostAcknowledged = $counts.lostLabels + $counts.lostJoins + $counts.tokenMismatch
    if ($counts.lostAcknowledged -gt 0 -or $counts.managersChecked -lt 3) { $exitCode = 1 }
}
catch {
    $exitCode = 1
    Anomaly "chaos run failed: $($_.Exception.Message) at $($_.InvocationInfo.PositionMessage -replace '\s+', ' ')"
}
finally {
    if ($shared) { $shared.Stop = $true }
    if ($job) {
        if (-not (Wait-Job $job -Timeout 60)) { Stop-Job $job }
        Remove-Job $job -Force -ErrorAction SilentlyContinue
    }
    Copy-BenchLogs -Nodes @($nodes.Values) -Path $KeepLogsPath
    Stop-BenchDaemons -Pids $startedPids
    Remove-Item $root -Recurse -Force -ErrorAction SilentlyContinue
}

$counts.elapsedSeconds = [math]::Round($clock.Elapsed.TotalSeconds, 1)
Say
Say ('rounds {0}, kills {1} ({2} of the leader), not whole within {3} s: {4}; whole again after median {5} ms (max {6}; restart answering after median {7} ms)' -f $counts.rounds, $counts.kills,
    $counts.killedLeader, $WaitTimeoutSeconds, $counts.notWholeWithinTimeout, $counts.wholeMedianMs, $counts.wholeMaxMs, $counts.startMedianMs)
Say ('writes attempted {0}, acknowledged {1}, failed {2}' -f $counts.writesAttempted, $counts.writesAcknowledged, $counts.writesFailed)
Say ('  labels {0}/{1} acknowledged, rotations {2}/{3}, joins {4}/{5} (after {6} leaves)' -f $counts.labelWrites.acknowledged, $counts.labelWrites.attempted,
    $counts.rotations.acknowledged, $counts.rotations.attempted, $counts.joins.acknowledged, $counts.joins.attempted, $counts.joins.leaves)
if ($counts.failureKinds.Count) { Say ('  failures: ' + (($counts.failureKinds.GetEnumerator() | ForEach-Object { "$($_.Name) x$($_.Value)" }) -join ', ')) }
Say ('lost acknowledged writes {0} (labels {1} of {8} keys, joins {2}, token {3}); from failed writes: labels {9}, token {4}; duplicate nodes {5}; leader disagreement {6}; managers checked {7}/3' -f
    $counts.lostAcknowledged, $counts.lostLabels, $counts.lostJoins, $counts.tokenMismatch, $counts.tokenAmbiguous, $counts.duplicateNodes, $counts.leaderDisagreement, $counts.managersChecked, $counts.labelKeysChecked, $counts.labelsFromFailedWrites)
Say ('elapsed {0} s (chaos {1} s)' -f $counts.elapsedSeconds, $counts.chaosSeconds)
if ($written = Write-BenchFigures $counts $OutputPath) { Say "Counts written to $written" }
[pscustomobject]$counts
if ($exitCode) { exit $exitCode }
