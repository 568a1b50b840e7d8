#Requires -Version 7.4
# Network partitions made with network namespaces: three managers (m1, m2, m3) and a worker (w1),
# each in its own namespace, all attached to one bridge in a namespace of its own. A link is cut by
# bringing the bridge side of a node's veth pair down (the cable is pulled: the node's packets are
# dropped, its TCP connections stay open) and healed by bringing it up again.
#   1. The leader's link is cut: the old leader alone refuses writes with the no-leader error (fast,
#      never a hang), the two others elect a leader and serve writes, the worker stays Ready.
#   2. Every write acknowledged during the partition (labels with a counter) survives the heal.
#   3. After the heal every manager agrees on one leader and lists the same view of every node.
#   4. A follower's link is cut: the leader keeps serving without an election; the cut follower
#      refuses writes and catches up after the heal.
# The control sockets are Unix sockets in the test root, reachable from the root namespace.
# Needs root and `ip netns`; otherwise the whole file is skipped with the reason.
# Namespaces psw-part-<random>-{br,m1,m2,m3,w1}; addresses 10.99.60.1-4/24, inside them only.

BeforeDiscovery {
    $SkipReason = $null
    # PSSWARM_PARTITION_TESTS=0 skips this file (it needs root and ip netns, and takes a minute or two).
    if ($env:PSSWARM_PARTITION_TESTS -eq '0') { $SkipReason = 'PSSWARM_PARTITION_TESTS=0' }
    elseif ($IsWindows -or $IsMacOS) { $SkipReason = 'network namespaces need Linux' }
    elseif ((& id -u) -ne '0') { $SkipReason = 'network namespaces need root' }
    elseif (-not (Get-Command ip -CommandType Application -ErrorAction Ignore)) { $SkipReason = 'the ip command (iproute2) is missing' }
    elseif (-not (Get-Command nsenter -CommandType Application -ErrorAction Ignore)) { $SkipReason = 'the nsenter command (util-linux) is missing' }
    elseif (-not (Get-Command Start-ThreadJob -ErrorAction Ignore)) { $SkipReason = 'Start-ThreadJob is missing' }
    else {
        $probe = "psw-part-probe-$(Get-Random -Minimum 100000 -Maximum 999999)"
        $out = & ip netns add $probe 2>&1
        if ($LASTEXITCODE -ne 0) { $SkipReason = "ip netns add failed: $out" }
        else { & ip netns del $probe 2>&1 | Out-Null }
    }
    if ($SkipReason) { Write-Warning "Partitions.Tests.ps1 is skipped: $SkipReason" }
}

Describe "Partitions between managers in network namespaces$(if ($SkipReason) { " (skipped: $SkipReason)" })" -Skip:([bool]$SkipReason) {
    BeforeAll {
        Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
        Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
        Import-PSSwarmUnderTest
        $modulePath = (Get-Module PSSwarm | Select-Object -First 1).Path

        $NoLeaderText = 'The swarm does not have a leader'
        $CallLimitSeconds = 8   # "never hangs": far above any measured call (at most 1.1 s), below any hang
        $ResourceUnavailable = [System.Management.Automation.ErrorCategory]::ResourceUnavailable

        # Runs ip with the given arguments; throws with its output when it fails.
        function Invoke-Ip {
            $out = & ip @args 2>&1
            if ($LASTEXITCODE -ne 0) { throw "ip $($args -join ' ') failed: $out" }
        }

        $root = $null
        $createdNamespaces = [System.Collections.Generic.List[string]]::new()
        $tag = -join ((1..5) | ForEach-Object { [char](Get-Random -InputObject (97..122)) })
        $nsBridge = "psw-part-$tag-br"
        $hostNames = 'm1', 'm2', 'm3', 'w1'
        $nsOf = @{}; $ipOf = @{}
        $i = 0
        foreach ($name in $hostNames) { $i++; $nsOf[$name] = "psw-part-$tag-$name"; $ipOf[$name] = "10.99.60.$i" }

        # The bridge namespace with bridge br0; one namespace per host, its eth0 the peer of the
        # bridge port p-<host> (all interface names are local to these namespaces).
        Invoke-Ip netns add $nsBridge; $createdNamespaces.Add($nsBridge)
        Invoke-Ip -n $nsBridge link add br0 type bridge
        Invoke-Ip -n $nsBridge link set br0 up
        Invoke-Ip -n $nsBridge link set lo up
        foreach ($name in $hostNames) {
            $ns = $nsOf[$name]
            Invoke-Ip netns add $ns; $createdNamespaces.Add($ns)
            Invoke-Ip -n $nsBridge link add "p-$name" type veth peer name eth0 netns $ns
            Invoke-Ip -n $nsBridge link set "p-$name" master br0
            Invoke-Ip -n $nsBridge link set "p-$name" up
            Invoke-Ip -n $ns addr add "$($ipOf[$name])/24" dev eth0
            Invoke-Ip -n $ns link set lo up
            Invoke-Ip -n $ns link set eth0 up
        }

        # Pulls (Down) or plugs back (Up) the cable of one host: its port on the bridge.
        function Set-HostLink([string] $Name, [ValidateSet('Up', 'Down')] [string] $State) {
            Invoke-Ip -n $nsBridge link set "p-$Name" $State.ToLowerInvariant()
        }

        $root = New-TestRoot -Name part
        $nodes = [ordered]@{}
        # PSSWARM_PARTITION_LOGLEVEL (e.g. debug) starts the daemons with that --log-level;
        # PSSWARM_PARTITION_KEEPLOGS=<dir> copies their logs there before the clean-up.
        $logLevel = if ($env:PSSWARM_PARTITION_LOGLEVEL) { $env:PSSWARM_PARTITION_LOGLEVEL } else { $null }
        foreach ($name in $hostNames) { $nodes[$name] = Start-TestNode -Root $root -Name $name -Ip $ipOf[$name] -NetNs $nsOf[$name] -LogLevel $logLevel }
        $managers = @($nodes.m1, $nodes.m2, $nodes.m3)
        $w1 = $nodes.w1

        $swarm = Initialize-Swarm -Endpoint $nodes.m1.Endpoint -ListenAddress $nodes.m1.Listen -AdvertiseAddress $nodes.m1.Ip -DispatcherHeartbeat '00:00:01' -ErrorAction Stop
        $null = Join-TestNode -Manager $nodes.m1 -Node $nodes.m2 -Role Manager
        $null = Join-TestNode -Manager $nodes.m1 -Node $nodes.m3 -Role Manager
        $null = Join-TestNode -Manager $nodes.m1 -Node $w1 -Role Worker


        # One write (a label on w1) through one manager, bounded: -ErrorAction Stop in try/catch,
        # timed with a Stopwatch. Returns Key, Value, Via, Acked, Error, Seconds.
        function Invoke-LabelWrite([object] $Via, [string] $Key, [string] $Value) {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $err = $null
            try { Set-SwarmNode -Endpoint $Via.Endpoint -Id w1 -Label @{ $Key = $Value } -Confirm:$false -ErrorAction Stop }
            catch { $err = $_ }
            [pscustomobject]@{ Key = $Key; Value = $Value; Via = $Via.Name; Acked = ($null -eq $err); Error = $err; Seconds = $clock.Elapsed.TotalSeconds }
        }

        # True when the error is the no-leader / quorum refusal.
        function Test-NoLeaderError([object] $ErrorRecord) {
            $null -ne $ErrorRecord -and $ErrorRecord.CategoryInfo.Category -eq $ResourceUnavailable -and
            $ErrorRecord.Exception.Message -like "*$NoLeaderText*"
        }

        # Tries writes through a cut-off manager until one is refused with the no-leader error (or
        # TimeoutSeconds pass); every attempt is kept. Returns Attempts and RefusedAt (seconds on Clock).
        function Invoke-MinorityProbe([object] $Via, [string] $Prefix, [System.Diagnostics.Stopwatch] $Clock, [double] $TimeoutSeconds = 20) {
            $attempts = [System.Collections.Generic.List[object]]::new()
            $refusedAt = $null
            $n = 0
            while ($null -eq $refusedAt -and $Clock.Elapsed.TotalSeconds -lt $TimeoutSeconds) {
                $n++
                $w = Invoke-LabelWrite -Via $Via -Key "$Prefix-$n" -Value "$n"
                $attempts.Add($w)
                if (Test-NoLeaderError $w.Error) { $refusedAt = $Clock.Elapsed.TotalSeconds }
                else { Start-Sleep -Milliseconds 100 }
            }
            [pscustomobject]@{ Attempts = $attempts; RefusedAt = $refusedAt }
        }

        # In a thread job (in parallel with the minority probe): writes through the given managers in
        # turn until one is acknowledged. Returns Attempts and AckedAt (seconds on the shared Clock).
        # The job is started before the cut: it loads the module, returns, and writes once Go is set
        # (Start-ThreadJob and Import-Module took ~0.65 s, which was counted in the cut timings).
        function Start-MajorityProbe([object[]] $Via, [string] $Prefix, [System.Diagnostics.Stopwatch] $Clock, [System.Threading.ManualResetEventSlim] $Go, [double] $TimeoutSeconds = 45) {
            $ready = [System.Threading.ManualResetEventSlim]::new($false)
            $job = Start-ThreadJob -ArgumentList $modulePath, @($Via | ForEach-Object { $_.Endpoint }), @($Via | ForEach-Object { $_.Name }), $Prefix, $Clock, $TimeoutSeconds, $ready, $Go -ScriptBlock {
                param($ModulePath, $Endpoints, $Names, $Prefix, $Clock, $TimeoutSeconds, $Ready, $Go)
                Import-Module $ModulePath -ErrorAction Stop
                $Ready.Set()
                $null = $Go.Wait([TimeSpan]::FromSeconds(60))
                $attempts = [System.Collections.Generic.List[object]]::new()
                $ackedAt = $null
                $n = 0
                while ($null -eq $ackedAt -and $Clock.Elapsed.TotalSeconds -lt $TimeoutSeconds) {
                    for ($k = 0; $k -lt $Endpoints.Count -and $null -eq $ackedAt; $k++) {
                        $n++
                        $key = "$Prefix-$n"
                        $sw = [System.Diagnostics.Stopwatch]::StartNew()
                        $err = $null
                        try { Set-SwarmNode -Endpoint $Endpoints[$k] -Id w1 -Label @{ $key = "$n" } -Confirm:$false -ErrorAction Stop }
                        catch { $err = $_ }
                        $attempts.Add([pscustomobject]@{ Key = $key; Value = "$n"; Via = $Names[$k]; Acked = ($null -eq $err); Error = $err; Seconds = $sw.Elapsed.TotalSeconds })
                        if ($null -eq $err) { $ackedAt = $Clock.Elapsed.TotalSeconds }
                    }
                    if ($null -eq $ackedAt) { Start-Sleep -Milliseconds 100 }
                }
                [pscustomobject]@{ Attempts = $attempts; AckedAt = $ackedAt }
            }
            $null = $ready.Wait([TimeSpan]::FromSeconds(30))
            $job
        }

        # Every manager's view of every node, one line per node ('host Status IsLeader Reachability').
        function Get-ClusterViews {
            foreach ($m in $managers) {
                , @(Get-SwarmNode -Endpoint $m.Endpoint -ErrorAction Stop | Sort-Object Hostname |
                    ForEach-Object { '{0} {1} {2} {3}' -f $_.Hostname, $_.Status, $_.IsLeader, $_.Reachability })
            }
        }

        # The labels on w1 as one manager lists them (its own endpoint).
        function Get-W1Labels([object] $Via) { (Get-SwarmNode -Endpoint $Via.Endpoint -Id w1 -ErrorAction Stop).Labels }

        # Waits (from Clock's current time) until the cluster has converged after a heal: one leader
        # named by all, identical views, every node Ready and every manager Reachable, and every
        # acknowledged write on every manager; and it must hold, with the same leader, for StableSeconds
        # (longer than a heartbeat period: a view taken just before a change of leader does not count).
        # Returns the seconds on Clock when the stable state began.
        function Wait-Converged([System.Diagnostics.Stopwatch] $Clock, [object[]] $Acked, [double] $TimeoutSeconds = 20, [double] $StableSeconds = 2) {
            $state = @{ Since = $null; Leader = $null }
            $null = Wait-Until -TimeoutSeconds $TimeoutSeconds -IntervalMilliseconds 200 -Because 'the managers to converge after the heal' -Condition {
                $ok = $false
                try {
                    $ok = & {
                        $leaders = @(foreach ($m in $managers) { , @(Get-LeaderName $m) })
                        foreach ($l in $leaders) { if ($l.Count -ne 1 -or $l[0] -ne $leaders[0][0]) { return $false } }
                        $views = @(Get-ClusterViews)
                        $first = $views[0] -join '; '
                        foreach ($v in $views) { if (($v -join '; ') -ne $first) { return $false } }
                        foreach ($line in $views[0]) {
                            $parts = $line -split ' '
                            if ($parts[1] -ne 'Ready') { return $false }
                            if ($parts[0] -like 'm*' -and $parts[3] -ne 'Reachable') { return $false }
                        }
                        foreach ($m in $managers) {
                            $labels = Get-W1Labels $m
                            foreach ($a in $Acked) { if ($labels[$a.Key] -ne $a.Value) { return $false } }
                        }
                        if ($null -ne $state.Leader -and $state.Leader -ne $leaders[0][0]) { $state.Since = $null }
                        $state.Leader = $leaders[0][0]
                        $true
                    }
                }
                catch { $ok = $false }
                if (-not $ok) { $state.Since = $null; $state.Leader = $null; return $false }
                if ($null -eq $state.Since) { $state.Since = $Clock.Elapsed.TotalSeconds }
                ($Clock.Elapsed.TotalSeconds - $state.Since) -ge $StableSeconds
            }
            $state.Since
        }

        $initialLeader = Wait-AgreedLeader -Managers $managers
        $null = Wait-NodeView -Manager $nodes[$initialLeader] -Id w1 -TimeoutSeconds 10 -Because 'the worker to be Ready' -Condition { param($n) "$($n.Status)" -eq 'Ready' }
        $null = Wait-Until -TimeoutSeconds 15 -Because 'every manager to be Reachable' -Condition {
            @(Get-SwarmNode -Endpoint $nodes[$initialLeader].Endpoint -Role Manager -ErrorAction Stop | Where-Object { "$($_.Reachability)" -eq 'Reachable' }).Count -eq 3
        }
        $timings = [ordered]@{}
        $acked = [System.Collections.Generic.List[object]]::new()   # every write acknowledged in the first partition, kept to the end
    }

    AfterAll {
        # Daemons first (by PID, through the registry), then every namespace created (veths go along).
        if ($root -and $env:PSSWARM_PARTITION_KEEPLOGS) {
            $keep = Join-Path $env:PSSWARM_PARTITION_KEEPLOGS (Split-Path -Leaf $root)
            $null = New-Item -ItemType Directory -Force -Path $keep
            Get-ChildItem -LiteralPath $root -Filter '*.out' -ErrorAction Ignore | Copy-Item -Destination $keep
            Write-Host "Daemon logs kept in $keep"
        }
        if ($root) { Remove-TestRoot $root }
        foreach ($ns in @($createdNamespaces)) {
            & ip netns del $ns 2>&1 | Out-Null
            if ($LASTEXITCODE -ne 0) { Write-Warning "Could not delete network namespace $ns" }
        }
        if ($timings -and $timings.Count) {
            Write-Host ('Partition timings: ' + (($timings.GetEnumerator() | ForEach-Object { '{0} = {1:0.00} s' -f $_.Key, $_.Value }) -join '; '))
        }
    }

    AfterEach { Write-TestNodeLogOnFailure -Root $root -Tail 25 }

    It 'starts with m1, the node that initialised the swarm, as the leader of three managers and a Ready worker' {
        $initialLeader | Should -Be 'm1'
        foreach ($name in $hostNames) {
            & readlink "/proc/$($nodes[$name].Pid)/ns/net" | Should -Not -Be (& readlink /proc/self/ns/net) -Because "$name runs in its own namespace"
        }
        @(Get-SwarmNode -Endpoint $nodes.m1.Endpoint | Sort-Object Hostname | ForEach-Object { "$($_.Hostname) $($_.Status)" }) |
            Should -Be @('m1 Ready', 'm2 Ready', 'm3 Ready', 'w1 Ready')
    }

    Context 'when the leader''s link is cut' {
        BeforeAll {
            $minorityAttempts = [System.Collections.Generic.List[object]]::new()
            $majorityAttempts = [System.Collections.Generic.List[object]]::new()

            $pre = Invoke-LabelWrite -Via $nodes.m1 -Key 'part-pre' -Value '1'
            if ($pre.Acked) { $acked.Add($pre) }

            $oldLeader = $nodes[$initialLeader]
            $majority = @($managers | Where-Object Name -NE $oldLeader.Name)

            $cutClock = [System.Diagnostics.Stopwatch]::new()
            $go = [System.Threading.ManualResetEventSlim]::new($false)
            $majorityJob = Start-MajorityProbe -Via $majority -Prefix 'part-maj-first' -Clock $cutClock -Go $go
            $cutClock.Start()
            Set-HostLink -Name $oldLeader.Name -State Down
            $go.Set()
            $minority = Invoke-MinorityProbe -Via $oldLeader -Prefix 'part-min' -Clock $cutClock
            $majorityResult = $majorityJob | Receive-Job -Wait -AutoRemoveJob -ErrorAction Continue | Select-Object -Last 1

            $minority.Attempts | ForEach-Object { $minorityAttempts.Add($_) }
            if ($majorityResult) { $majorityResult.Attempts | ForEach-Object { $majorityAttempts.Add($_) } }
            $timings['leader cut: minority refusal'] = if ($null -ne $minority.RefusedAt) { $minority.RefusedAt } else { [double]::NaN }
            $timings['leader cut: majority election + first write'] = if ($majorityResult -and $null -ne $majorityResult.AckedAt) { $majorityResult.AckedAt } else { [double]::NaN }
            Write-Host ("Leader cut: the old leader refused writes after {0:0.00} s ({1} attempts); the majority acknowledged its first write after {2:0.00} s ({3} attempts)" -f
                $timings['leader cut: minority refusal'], $minority.Attempts.Count, $timings['leader cut: majority election + first write'], $majorityAttempts.Count)
            foreach ($w in @($minorityAttempts) + @($majorityAttempts)) {
                Write-Host ("  {0,-18} via {1}: {2} in {3:0.000} s{4}" -f $w.Key, $w.Via, $(if ($w.Acked) { 'acked' } else { 'refused' }), $w.Seconds,
                    $(if ($w.Error) { ' -- ' + (Get-ErrorSummary $w.Error) } else { '' }))
            }
            foreach ($w in @($minorityAttempts) + @($majorityAttempts)) { if ($w.Acked) { $acked.Add($w) } }
        }

        # Issue 7: the minority stops accepting writes within the election timeout (500-1000 ms). The
        # old leader refuses once DotNext steps it down, when its heartbeats to the cut members time
        # out (RpcTimeout 1 s): measured 1.1-1.2 s from the cut (before: 4.4 s). Bounded at 3 s.
        It 'the old leader refuses writes with the no-leader error within 3 s' {
            $minority.RefusedAt | Should -Not -BeNullOrEmpty -Because "a write on the isolated old leader must be refused; attempts: $(($minority.Attempts | ForEach-Object { "$($_.Key) $($_.Acked) $([math]::Round($_.Seconds, 2))s $(Get-ErrorSummary $_.Error)" }) -join ' | ')"
            $minority.RefusedAt | Should -BeLessOrEqual 3
            $last = $minority.Attempts[-1]
            $last.Error.CategoryInfo.Category | Should -Be $ResourceUnavailable
            $last.Error.Exception.Message | Should -BeLike "*$NoLeaderText*"
        }

        It 'never hangs a call on the old leader (every write answers within 8 s)' {
            foreach ($w in $minorityAttempts) {
                $w.Seconds | Should -BeLessThan $CallLimitSeconds -Because "$($w.Key) on $($w.Via): $(Get-ErrorSummary $w.Error)"
            }
        }

        It 'the two others elect a new leader and acknowledge a write' {
            $majorityResult | Should -Not -BeNullOrEmpty
            $majorityResult.AckedAt | Should -Not -BeNullOrEmpty -Because "attempts: $(($majorityAttempts | ForEach-Object { "$($_.Key) via $($_.Via) $([math]::Round($_.Seconds, 2))s $(Get-ErrorSummary $_.Error)" }) -join ' | ')"
            $majorityResult.AckedAt | Should -BeLessThan 12
            $newLeader = Wait-AgreedLeader -Managers $majority -Not $oldLeader.Name -TimeoutSeconds 10
            $newLeader | Should -BeIn @($majority.Name)
        }

        It 'serves label writes through either manager of the majority, and the old leader refuses each write it is sent' {
            $majorityResult.AckedAt | Should -Not -BeNullOrEmpty -Because 'the majority never elected a leader during the probe (see the attempts above)'
            # All attempts first (so that every acknowledged write is recorded for the heal), then the checks.
            $round = for ($k = 1; $k -le 6; $k++) {
                $via = $majority[$k % 2]
                $w = Invoke-LabelWrite -Via $via -Key "part-maj-$k" -Value "v$k"
                $majorityAttempts.Add($w)
                if ($w.Acked) { $acked.Add($w) }
                $m = Invoke-LabelWrite -Via $oldLeader -Key "part-min-late-$k" -Value "x$k"
                $minorityAttempts.Add($m)
                if ($m.Acked) { $acked.Add($m) }
                [pscustomobject]@{ Majority = $w; Minority = $m }
            }
            foreach ($r in $round) {
                $r.Majority.Acked | Should -BeTrue -Because "a write through $($r.Majority.Via) in the majority must succeed: $(Get-ErrorSummary $r.Majority.Error)"
                $r.Majority.Seconds | Should -BeLessThan $CallLimitSeconds
                $r.Minority.Acked | Should -BeFalse -Because 'the isolated old leader has no quorum'
                Test-NoLeaderError $r.Minority.Error | Should -BeTrue -Because (Get-ErrorSummary $r.Minority.Error)
                $r.Minority.Seconds | Should -BeLessThan $CallLimitSeconds -Because "$($r.Minority.Key) on the old leader"
            }
        }

        It 'lists the old leader as an Unreachable manager on the new leader' {
            $newLeader = $nodes[(Wait-AgreedLeader -Managers $majority -Not $oldLeader.Name)]
            $view = Wait-NodeView -Manager $newLeader -Id $oldLeader.Name -TimeoutSeconds 10 -Because 'the cut leader to be unreachable' -Condition {
                param($n) "$($n.Reachability)" -eq 'Unreachable'
            }
            $view.IsLeader | Should -BeFalse
        }

        It 'keeps the worker Ready on the new leader' {
            $newLeader = $nodes[(Wait-AgreedLeader -Managers $majority -Not $oldLeader.Name)]
            $view = Wait-NodeView -Manager $newLeader -Id w1 -TimeoutSeconds 15 -Because 'the worker to be Ready under the new leader' -Condition { param($n) "$($n.Status)" -eq 'Ready' }
            $view.Status | Should -Be 'Ready'
            (Get-Swarm -Endpoint $w1.Endpoint -ErrorAction Stop).LocalNodeState | Should -Be 'Active'
        }

        It 'answers reads on the old leader within 8 s (a listing or the no-leader error)' {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $err = $null
            try { $null = Get-SwarmNode -Endpoint $oldLeader.Endpoint -ErrorAction Stop } catch { $err = $_ }
            $clock.Elapsed.TotalSeconds | Should -BeLessThan $CallLimitSeconds
            if ($err) { $err.CategoryInfo.Category | Should -Be $ResourceUnavailable -Because (Get-ErrorSummary $err) }
        }

        Context 'and healed' {
            BeforeAll {
                Write-Host ("Acknowledged writes before the heal: {0}" -f (($acked | ForEach-Object { "$($_.Key)@$($_.Via)" }) -join ', '))
                $healClock = [System.Diagnostics.Stopwatch]::StartNew()
                Set-HostLink -Name $oldLeader.Name -State Up
                $convergedAt = $null
                $convergeError = $null
                try { $convergedAt = Wait-Converged -Clock $healClock -Acked @($acked) -TimeoutSeconds 25 }
                catch { $convergeError = $_ }
                $timings['leader cut: heal to convergence'] = if ($null -ne $convergedAt) { $convergedAt } else { [double]::NaN }
                Write-Host ("Leader cut healed: converged after {0:0.00} s{1}" -f $timings['leader cut: heal to convergence'], $(if ($convergeError) { " ($convergeError)" } else { '' }))
            }

            It 'converges within about 15 s' {
                $convergeError | Should -BeNullOrEmpty
                $convergedAt | Should -BeLessOrEqual 15
            }

            It 'has every manager agree on one leader' {
                $agreed = Wait-AgreedLeader -Managers $managers -TimeoutSeconds 5
                $agreed | Should -BeIn @($managers.Name)
            }

            It 'lists the same Status, IsLeader and Reachability for every node on every manager, the old leader Reachable' {
                $views = @(Get-ClusterViews)
                $views.Count | Should -Be 3
                foreach ($v in $views) { ($v -join '; ') | Should -Be ($views[0] -join '; ') }
                @($views[0] | Where-Object { $_ -like "$($oldLeader.Name) *" }) | Should -BeLike "$($oldLeader.Name) Ready False Reachable"
            }

            It 'has every acknowledged write on <Name>' -ForEach @(
                @{ Name = 'm1' }
                @{ Name = 'm2' }
                @{ Name = 'm3' }
            ) {
                $labels = Get-W1Labels $nodes[$Name]
                $acked.Count | Should -BeGreaterThan 1 -Because 'writes were acknowledged before and during the partition'
                foreach ($a in $acked) { $labels[$a.Key] | Should -Be $a.Value -Because "$($a.Key) was acknowledged through $($a.Via)" }
            }

            It 'acknowledged no write on the isolated old leader' {
                @($minorityAttempts | Where-Object Acked | ForEach-Object Key) | Should -BeNullOrEmpty
            }

            It 'accepts writes through the old leader again' {
                $w = Invoke-LabelWrite -Via $oldLeader -Key 'part-after-heal' -Value 'yes'
                $w.Acked | Should -BeTrue -Because (Get-ErrorSummary $w.Error)
                foreach ($m in $managers) {
                    $null = Wait-Until -TimeoutSeconds 5 -Because "the write to reach $($m.Name)" -Condition { (Get-W1Labels $m)['part-after-heal'] -eq 'yes' }
                }
            }
        }
    }

    Context 'when a follower''s link is cut' {
        BeforeAll {
            $leaderName = Wait-AgreedLeader -Managers $managers
            $leader = $nodes[$leaderName]
            $follower = @($managers | Where-Object Name -NE $leaderName | Sort-Object Name)[0]
            $otherFollower = @($managers | Where-Object { $_.Name -ne $leaderName -and $_.Name -ne $follower.Name })[0]
            Write-Host "Follower cut: leader $leaderName, cut follower $($follower.Name), other follower $($otherFollower.Name)"

            $missed = [System.Collections.Generic.List[object]]::new()     # writes acknowledged while the follower was cut
            $leaderWrites = [System.Collections.Generic.List[object]]::new()
            $leaderSeen = [System.Collections.Generic.List[string]]::new()  # leader names seen on the leader and the other follower

            # The leader keeps serving while the follower's probe runs in parallel.
            $cutClock = [System.Diagnostics.Stopwatch]::new()
            $go = [System.Threading.ManualResetEventSlim]::new($false)
            $leaderJob = Start-MajorityProbe -Via @($leader) -Prefix 'part-f-first' -Clock $cutClock -Go $go
            $cutClock.Start()
            Set-HostLink -Name $follower.Name -State Down
            $go.Set()
            $followerProbe = Invoke-MinorityProbe -Via $follower -Prefix 'part-f-min' -Clock $cutClock
            $leaderFirst = $leaderJob | Receive-Job -Wait -AutoRemoveJob -ErrorAction Continue | Select-Object -Last 1
            if ($leaderFirst) { foreach ($w in $leaderFirst.Attempts) { $leaderWrites.Add($w); if ($w.Acked) { $missed.Add($w) } } }

            # Then writes through the leader for a few election timeouts, watching the leader's name.
            $k = 0
            while ($cutClock.Elapsed.TotalSeconds -lt 8 -or $k -lt 5) {
                $k++
                $w = Invoke-LabelWrite -Via $leader -Key "part-f-$k" -Value "f$k"
                $leaderWrites.Add($w)
                if ($w.Acked) { $missed.Add($w) }
                foreach ($m in $leader, $otherFollower) {
                    try { foreach ($n in @(Get-LeaderName $m)) { $leaderSeen.Add("$($m.Name):$n") } }
                    catch { $leaderSeen.Add("$($m.Name):error $($_.Exception.Message)") }
                }
                Start-Sleep -Milliseconds 200
            }
            $lateRefusals = @(1..3 | ForEach-Object { Invoke-LabelWrite -Via $follower -Key "part-f-min-late-$_" -Value "y$_" })

            $timings['follower cut: follower refusal'] = if ($null -ne $followerProbe.RefusedAt) { $followerProbe.RefusedAt } else { [double]::NaN }
            $timings['follower cut: leader first write'] = if ($leaderFirst -and $null -ne $leaderFirst.AckedAt) { $leaderFirst.AckedAt } else { [double]::NaN }
            Write-Host ("Follower cut: the cut follower refused writes after {0:0.00} s ({1} attempts); the leader's first write after {2:0.00} s; {3} writes acknowledged" -f
                $timings['follower cut: follower refusal'], $followerProbe.Attempts.Count, $timings['follower cut: leader first write'], $missed.Count)
            foreach ($w in @($followerProbe.Attempts) + @($lateRefusals) + @($leaderWrites | Where-Object { -not $_.Acked -or $_.Seconds -gt 1 })) {
                Write-Host ("  {0,-18} via {1}: {2} in {3:0.000} s{4}" -f $w.Key, $w.Via, $(if ($w.Acked) { 'acked' } else { 'refused' }), $w.Seconds,
                    $(if ($w.Error) { ' -- ' + (Get-ErrorSummary $w.Error) } else { '' }))
            }
            $followerAcked = @(@($followerProbe.Attempts) + @($lateRefusals) | Where-Object Acked)
        }

        It 'the leader serves every write without delay' {
            $leaderWrites.Count | Should -BeGreaterThan 5
            foreach ($w in $leaderWrites) {
                $w.Acked | Should -BeTrue -Because "$($w.Key): $(Get-ErrorSummary $w.Error)"
                $w.Seconds | Should -BeLessThan $CallLimitSeconds
            }
        }

        It 'keeps the same leader without an election' {
            @($leaderSeen | Select-Object -Unique) | Should -Be @("$($leader.Name):$leaderName", "$($otherFollower.Name):$leaderName") -Because ($leaderSeen -join ', ')
            Get-LeaderName $leader | Should -Be $leaderName
        }

        It 'the cut follower refuses writes with the no-leader error, each call within 8 s' {
            $followerProbe.RefusedAt | Should -Not -BeNullOrEmpty -Because "attempts: $(($followerProbe.Attempts | ForEach-Object { "$($_.Key) $($_.Acked) $([math]::Round($_.Seconds, 2))s $(Get-ErrorSummary $_.Error)" }) -join ' | ')"
            foreach ($w in @($followerProbe.Attempts) + @($lateRefusals)) {
                $w.Seconds | Should -BeLessThan $CallLimitSeconds -Because "$($w.Key): $(Get-ErrorSummary $w.Error)"
            }
            foreach ($w in $lateRefusals) {
                $w.Acked | Should -BeFalse
                Test-NoLeaderError $w.Error | Should -BeTrue -Because (Get-ErrorSummary $w.Error)
            }
        }

        # The cut follower gives up on its leader once no AppendEntries arrived for the upper election
        # timeout (1 s): measured 1.0 s from the cut (before: 3.2 s). Bounded at 3 s, as above.
        It 'the cut follower refuses within 3 s' {
            $followerProbe.RefusedAt | Should -BeLessOrEqual 3
        }

        Context 'and healed' {
            BeforeAll {
                $healClock = [System.Diagnostics.Stopwatch]::StartNew()
                Set-HostLink -Name $follower.Name -State Up
                $convergedAt = $null
                $convergeError = $null
                # Acknowledged writes of the earlier partition must still be there too.
                $allAcked = @($acked) + @($missed) + @($followerAcked)
                try { $convergedAt = Wait-Converged -Clock $healClock -Acked $allAcked -TimeoutSeconds 25 }
                catch { $convergeError = $_ }
                $timings['follower cut: heal to convergence'] = if ($null -ne $convergedAt) { $convergedAt } else { [double]::NaN }
                Write-Host ("Follower cut healed: converged after {0:0.00} s{1}" -f $timings['follower cut: heal to convergence'], $(if ($convergeError) { " ($convergeError)" } else { '' }))
            }

            It 'converges within about 15 s' {
                $convergeError | Should -BeNullOrEmpty
                $convergedAt | Should -BeLessOrEqual 15
            }

            It 'the follower has caught up with the writes it missed' {
                $labels = Get-W1Labels $follower
                $missed.Count | Should -BeGreaterThan 5
                foreach ($a in $missed) { $labels[$a.Key] | Should -Be $a.Value -Because "$($a.Key) was acknowledged while $($follower.Name) was cut off" }
            }

            It 'keeps the leader it had (the returning follower does not depose it)' {
                Wait-AgreedLeader -Managers $managers -TimeoutSeconds 5 | Should -Be $leaderName
            }

            It 'acknowledged no write on the cut follower' {
                @($followerAcked | ForEach-Object Key) | Should -BeNullOrEmpty
            }

            It 'accepts writes through the healed follower again' {
                $w = Invoke-LabelWrite -Via $follower -Key 'part-f-after-heal' -Value 'yes'
                $w.Acked | Should -BeTrue -Because (Get-ErrorSummary $w.Error)
                foreach ($m in $managers) {
                    $null = Wait-Until -TimeoutSeconds 5 -Because "the write to reach $($m.Name)" -Condition { (Get-W1Labels $m)['part-f-after-heal'] -eq 'yes' }
                }
            }
        }
    }
}
