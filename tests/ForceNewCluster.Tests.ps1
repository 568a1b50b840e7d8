#Requires -Version 7.4
# Initialize-Swarm -ForceNewCluster: the way out of a lost quorum. Three managers and a worker lose
# two managers for good; the last one re-creates the swarm as a one-manager swarm with the same ID,
# nodes, tokens, networks and CA; the lost managers are listed as such; a new manager joins with the
# same token; the worker carries on; a lost manager that comes back with its old log cannot disturb
# the new swarm, and is cleaned up by demotion, removal and a fresh join.
# Also: -ForceNewCluster on a worker, on a single manager, and while a quorum still exists.
# Loopback addresses: 127.0.43.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name fnc

    $nodes = [ordered]@{}
    foreach ($i in 1..3) { $nodes["m$i"] = Start-TestNode -Root $root -Name "m$i" -Ip "127.0.43.$i" }
    $w1 = Start-TestNode -Root $root -Name w1 -Ip 127.0.43.4
    $m4 = Start-TestNode -Root $root -Name m4 -Ip 127.0.43.5
    $s1 = Start-TestNode -Root $root -Name s1 -Ip 127.0.43.6   # a single-manager swarm of its own

    $swarm = Initialize-Swarm -Endpoint $nodes.m1.Endpoint -ListenAddress $nodes.m1.Listen -AdvertiseAddress $nodes.m1.Ip -DispatcherHeartbeat '00:00:01'
    $null = Join-TestNode -Manager $nodes.m1 -Node $nodes.m2 -Role Manager
    $null = Join-TestNode -Manager $nodes.m1 -Node $nodes.m3 -Role Manager
    $null = Join-TestNode -Manager $nodes.m1 -Node $w1 -Role Worker
    $ids = @{}
    foreach ($n in @($nodes.Values) + $w1) { $ids[$n.Name] = (Get-Swarm -Endpoint $n.Endpoint).NodeId }

    # The Raft log folders -ForceNewCluster moved aside in a node's data root.
    function Get-RaftBackup([object] $Node) {
        @(Get-ChildItem -LiteralPath $Node.DataRoot -Directory -Filter 'raft.before-force-new-cluster-*' -ErrorAction SilentlyContinue)
    }

    $null = Wait-Until -TimeoutSeconds 15 -Because 'three reachable managers led by m1 and a Ready worker' -Condition {
        $list = @(Get-SwarmNode -Endpoint $nodes.m1.Endpoint -ErrorAction Stop)
        @($list | Where-Object { "$($_.Role)" -eq 'Manager' -and "$($_.Reachability)" -eq 'Reachable' }).Count -eq 3 -and
        (Get-LeaderName $nodes.m1) -eq 'm1' -and "$(($list | Where-Object Hostname -EQ 'w1').Status)" -eq 'Ready'
    }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'Initialize-Swarm -ForceNewCluster where no quorum is lost' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'fails on a worker with SwarmAlreadyExists, as without -ForceNewCluster' {
        $err = Get-ErrorRecord { Initialize-Swarm -Endpoint $w1.Endpoint -ForceNewCluster }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'SwarmAlreadyExists*' -Because (Get-ErrorSummary $err)
        $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceExists)
        $err.Exception.Message | Should -BeLike 'This node is already part of a swarm.*'
        (Get-Swarm -Endpoint $w1.Endpoint).IsManager | Should -BeFalse
    }

    It 'is refused on a manager that still reaches a quorum, with SwarmQuorumAvailable, and changes nothing' {
        $err = Get-ErrorRecord { Initialize-Swarm -Endpoint $nodes.m2.Endpoint -ForceNewCluster }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'SwarmQuorumAvailable*' -Because (Get-ErrorSummary $err)
        $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
        $err.Exception.Message | Should -BeLike '*only for a swarm that has lost its quorum*'
        @(Get-SwarmNode -Endpoint $nodes.m1.Endpoint -Role Manager | Where-Object Reachability -EQ 'Reachable').Count | Should -Be 3
        Get-LeaderName $nodes.m2 | Should -Be 'm1'
        Get-RaftBackup $nodes.m2 | Should -BeNullOrEmpty
    }

    Context 'on a single manager' {
        BeforeAll {
            $single = Initialize-Swarm -Endpoint $s1.Endpoint -ListenAddress $s1.Listen -AdvertiseAddress $s1.Ip
        }

        It 'returns the same swarm, with the same tokens, and changes nothing' {
            $again = Initialize-Swarm -Endpoint $s1.Endpoint -ForceNewCluster
            $again.Id | Should -BeExactly $single.Id
            $again.NodeId | Should -BeExactly $single.NodeId
            $again.LocalNodeState | Should -Be 'Active'
            $again.JoinTokens.Manager.Token | Should -BeExactly $single.JoinTokens.Manager.Token
            $again.JoinTokens.Worker.Token | Should -BeExactly $single.JoinTokens.Worker.Token
            Get-RaftBackup $s1 | Should -BeNullOrEmpty
            Set-SwarmNode -Endpoint $s1.Endpoint -Id s1 -Label @{ still = 'writable' }
            (Get-SwarmNode -Endpoint $s1.Endpoint -Id s1).Labels['still'] | Should -Be 'writable'
        }

        AfterAll { Reset-TestNode $s1 }
    }
}

Describe 'Initialize-Swarm -ForceNewCluster on the last of three managers' {
    BeforeAll {
        $m1 = $nodes.m1
        $rootCA = (Get-Swarm -Endpoint $m1.Endpoint).RootCACertificate
        $ingress = Get-SwarmNetwork -Endpoint $m1.Endpoint -Name ingress
        Set-SwarmNode -Endpoint $m1.Endpoint -Id w1 -Label @{ before = 'yes' }

        Stop-TestNode $nodes.m2
        Stop-TestNode $nodes.m3

        # Without a quorum, a write fails (it may take a few seconds for the leader to give up).
        $writeError = Get-ErrorRecord { Set-SwarmNode -Endpoint $m1.Endpoint -Id w1 -Label @{ lost = 'quorum' } }

        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $forced = Initialize-Swarm -Endpoint $m1.Endpoint -ForceNewCluster
        $forceTime = $clock.Elapsed
        # The first write the re-created swarm accepts.
        $null = Wait-Until -TimeoutSeconds 15 -IntervalMilliseconds 50 -Because 'the first write after -ForceNewCluster' -Condition {
            Set-SwarmNode -Endpoint $m1.Endpoint -Id w1 -Label @{ after = 'force-new-cluster' } -ErrorAction Stop
            $true
        }
        $firstWriteTime = $clock.Elapsed
        Write-Host ("    -ForceNewCluster returned in {0:0} ms; first accepted write {1:0} ms after the call" -f $forceTime.TotalMilliseconds, $firstWriteTime.TotalMilliseconds)
        # w1 as the new leader lists it, from the moment the swarm is re-created until its session has
        # moved there (w1 heartbeats every second): the new leader's first sweep and expiry included.
        $workerStatus = [System.Collections.Generic.List[string]]::new()
        while ($clock.Elapsed - $forceTime -lt [TimeSpan]::FromSeconds(4)) {
            $workerStatus.Add("$((Get-SwarmNode -Endpoint $m1.Endpoint -Id w1).Status)")
            Start-Sleep -Milliseconds 100
        }
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'is preceded by a write that fails on the survivor with ResourceUnavailable (no quorum)' {
        $writeError | Should -Not -BeNullOrEmpty
        $writeError.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceUnavailable) -Because (Get-ErrorSummary $writeError)
    }

    It 'returns the swarm with the same Id, this node an Active manager' {
        $forced.Id | Should -BeExactly $swarm.Id
        $forced.NodeId | Should -BeExactly $ids.m1
        $forced.LocalNodeState | Should -Be 'Active'
        $forced.IsManager | Should -BeTrue
        $forced.Nodes | Should -Be 4
    }

    It 'accepts writes at once (within 5 s of the call)' {
        $firstWriteTime.TotalSeconds | Should -BeLessThan 5
        (Get-SwarmNode -Endpoint $m1.Endpoint -Id w1).Labels['after'] | Should -Be 'force-new-cluster'
    }

    It 'keeps the join tokens, the root CA, the settings, the networks and the labels' {
        $info = Get-Swarm -Endpoint $m1.Endpoint
        $info.JoinTokens.Manager.Token | Should -BeExactly $swarm.JoinTokens.Manager.Token
        $info.JoinTokens.Worker.Token | Should -BeExactly $swarm.JoinTokens.Worker.Token
        $info.RootCACertificate.Thumbprint | Should -Be $rootCA.Thumbprint
        $info.DispatcherHeartbeat | Should -Be ([TimeSpan]::FromSeconds(1))
        $info.CreatedAt | Should -Be $swarm.CreatedAt
        $net = Get-SwarmNetwork -Endpoint $m1.Endpoint -Name ingress
        $net.Id | Should -BeExactly $ingress.Id
        $net.Subnet | Should -Be $ingress.Subnet
        (Get-SwarmNode -Endpoint $m1.Endpoint -Id w1).Labels['before'] | Should -Be 'yes'
    }

    It 'lists m1 as the leader and only reachable manager' {
        $view = Get-SwarmNode -Endpoint $m1.Endpoint -Id m1
        $view.IsLeader | Should -BeTrue
        $view.Reachability | Should -Be 'Reachable'
        $view.Status | Should -Be 'Ready'
        $view.ManagerAddress | Should -Be $m1.Listen
    }

    It 'lists <Name> as a lost manager: Manager, Down, Unreachable, with the reason' -ForEach @(
        @{ Name = 'm2' }
        @{ Name = 'm3' }
    ) {
        $view = Get-SwarmNode -Endpoint $m1.Endpoint -Id $ids[$Name]
        $view.Hostname | Should -Be $Name
        $view.Role | Should -Be 'Manager'
        $view.Status | Should -Be 'Down'
        $view.Reachability | Should -Be 'Unreachable'
        $view.IsLeader | Should -BeFalse
        $view.ManagerAddress | Should -Be $nodes[$Name].Listen
        $view.StatusMessage | Should -Be 'lost: the swarm was re-created with -ForceNewCluster on m1'
    }

    It 'keeps the worker Ready through the change (sampled for 4 heartbeat periods from the re-creation)' {
        $workerStatus.Count | Should -BeGreaterThan 10
        @($workerStatus | Select-Object -Unique) | Should -Be @('Ready') -Because "w1 was seen as: $($workerStatus -join ', ')"
        (Get-Swarm -Endpoint $w1.Endpoint).LocalNodeState | Should -Be 'Active'
    }

    It 'keeps the previous Raft log in the data root, mode 0700' {
        $backup = @(Get-RaftBackup $m1)
        $backup.Count | Should -Be 1
        $backup[0].Name | Should -Match '^raft\.before-force-new-cluster-\d{8}T\d{6}\.\d{3}Z$'
        Get-FileMode $backup[0].FullName | Should -Be '700'
        Test-Path -LiteralPath (Join-Path $backup[0].FullName 'wal') | Should -BeTrue
        Get-FileMode (Join-Path $m1.DataRoot 'raft') | Should -Be '700'
    }

    It 'logs what it did' {
        $log = Get-Content -Raw -LiteralPath (Join-Path $m1.DataRoot 'psswarmd.log')
        $log | Should -BeLike "*re-created with -ForceNewCluster*"
        $log | Should -BeLike "*raft.before-force-new-cluster-*"
    }

    It 'does nothing when run again: the swarm is a cluster of one already' {
        $again = Initialize-Swarm -Endpoint $m1.Endpoint -ForceNewCluster
        $again.Id | Should -BeExactly $swarm.Id
        @(Get-RaftBackup $m1).Count | Should -Be 1
        (Get-SwarmNode -Endpoint $m1.Endpoint -Id m1).IsLeader | Should -BeTrue
    }

    It 'comes back after a daemon restart as the leader of the re-created swarm' {
        Stop-TestNode $m1
        $nodes.m1 = Start-TestNode -Root $root -Name m1 -Ip $m1.Ip
        $m1 = $nodes.m1
        $null = Wait-Until -TimeoutSeconds 15 -Because 'the restarted survivor to lead again' -Condition { (Get-LeaderName $m1) -eq 'm1' }
        (Get-Swarm -Endpoint $m1.Endpoint).Id | Should -BeExactly $swarm.Id
        @(Get-SwarmNode -Endpoint $m1.Endpoint -Role Manager | Where-Object Reachability -EQ 'Unreachable').Hostname | Sort-Object | Should -Be @('m2', 'm3')
        Set-SwarmNode -Endpoint $m1.Endpoint -Id w1 -Label @{ restarted = 'yes' }
        (Get-SwarmNode -Endpoint $m1.Endpoint -Id w1).Labels['restarted'] | Should -Be 'yes'
    }

    It 'refuses to demote m1, the only Raft member, as the last manager (the lost managers do not count)' {
        $err = Get-ErrorRecord { Set-SwarmNode -Endpoint $nodes.m1.Endpoint -Id m1 -Role Worker }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'SwarmLastManager*' -Because (Get-ErrorSummary $err)
        $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
        (Get-SwarmNode -Endpoint $nodes.m1.Endpoint -Id m1).Role | Should -Be 'Manager'
    }

    Context 'a new manager joining with the same manager token' {
        BeforeAll {
            $joined = Join-Swarm -Endpoint $m4.Endpoint -Token $swarm.JoinTokens.Manager.Token -RemoteAddress $m1.Listen -ListenAddress $m4.Listen -AdvertiseAddress $m4.Ip
        }

        It 'joins as a manager' {
            $joined.Role | Should -Be 'Manager'
            (Get-Swarm -Endpoint $m4.Endpoint).Id | Should -BeExactly $swarm.Id
        }

        It 'is listed as a Reachable manager by m1, which stays the leader' {
            $view = Wait-NodeView -Manager $m1 -Id m4 -TimeoutSeconds 10 -Because 'the new manager to be reachable' -Condition {
                param($n) "$($n.Reachability)" -eq 'Reachable' -and "$($n.Status)" -eq 'Ready'
            }
            $view.Role | Should -Be 'Manager'
            $view.ManagerAddress | Should -Be $m4.Listen
            Get-LeaderName $m1 | Should -Be 'm1'
            Get-LeaderName $m4 | Should -Be 'm1'
        }

        It 'sees the same nodes as m1, the lost managers Unreachable' {
            $list = @(Get-SwarmNode -Endpoint $m4.Endpoint)
            @($list.Hostname | Sort-Object) | Should -Be @('m1', 'm2', 'm3', 'm4', 'w1')
            @($list | Where-Object { $_.Hostname -in 'm2', 'm3' } | ForEach-Object { "$($_.Reachability)" } | Select-Object -Unique) | Should -Be @('Unreachable')
        }

        It 'accepts writes through the new manager' {
            Set-SwarmNode -Endpoint $m4.Endpoint -Id w1 -Label @{ via = 'm4' }
            (Get-SwarmNode -Endpoint $m1.Endpoint -Id w1).Labels['via'] | Should -Be 'm4'
        }
    }

    Context 'a lost manager restarted on its old data root' {
        BeforeAll {
            $nodes.m2 = Start-TestNode -Root $root -Name m2 -Ip 127.0.43.2
            $m2 = $nodes.m2
        }

        It 'is refused by m1 when its old Raft log asks for votes or leadership' {
            $null = Wait-Until -TimeoutSeconds 15 -Because 'm1 to refuse the lost manager''s Raft messages' -Condition {
                (Get-Content -Raw -LiteralPath (Join-Path $m1.DataRoot 'psswarmd.log')) -match "Refused raft /cluster-consensus/raft from \S+: node $($ids.m2) is not a Raft member"
            }
        }

        It 'does not take leadership: m1 stays the leader and writes keep working' {
            foreach ($i in 1..5) {
                Get-LeaderName $m1 | Should -Be 'm1'
                Get-LeaderName $m4 | Should -Be 'm1'
                Set-SwarmNode -Endpoint $m1.Endpoint -Id w1 -Label @{ round = "$i" }
                (Get-SwarmNode -Endpoint $m4.Endpoint -Id w1).Labels['round'] | Should -Be "$i"
                Start-Sleep -Milliseconds 500
            }
        }

        It 'is refused -ForceNewCluster itself, with SwarmRecreatedElsewhere: m1 no longer counts it as a Raft member' {
            $err = Get-ErrorRecord { Initialize-Swarm -Endpoint $m2.Endpoint -ForceNewCluster }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmRecreatedElsewhere*' -Because (Get-ErrorSummary $err)
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
            $err.Exception.Message | Should -BeLike "*the manager at $($m1.Listen) runs this swarm without this node as a Raft member*"
            Get-RaftBackup $m2 | Should -BeNullOrEmpty
            Get-LeaderName $m1 | Should -Be 'm1'
        }

        It 'reports on its own node that it is not part of the working swarm (Error or Pending)' {
            $info = Wait-Until -TimeoutSeconds 20 -Because 'the lost manager to report that it has no working swarm' -Condition {
                $i = Get-Swarm -Endpoint $m2.Endpoint -ErrorAction Stop
                if ("$($i.LocalNodeState)" -in 'Error', 'Pending') { $i }
            }
            $info.NodeId | Should -BeExactly $ids.m2
        }

        It 'stays listed by m1 as an Unreachable manager' {
            $view = Get-SwarmNode -Endpoint $m1.Endpoint -Id $ids.m2
            $view.Role | Should -Be 'Manager'
            $view.Reachability | Should -Be 'Unreachable'
            $view.IsLeader | Should -BeFalse
        }
    }

    Context 'cleaning up the lost managers' {
        It 'demotes <Name> on the survivor' -ForEach @(
            @{ Name = 'm2' }
            @{ Name = 'm3' }
        ) {
            $out = Set-SwarmNode -Endpoint $m1.Endpoint -Id $ids[$Name] -Role Worker -PassThru
            $out.Role | Should -Be 'Worker'
            $view = Get-SwarmNode -Endpoint $m1.Endpoint -Id $ids[$Name]
            $view.Role | Should -Be 'Worker'
            $view.ManagerAddress | Should -BeNullOrEmpty
        }

        It 'turns the running lost manager m2 into a worker of the re-created swarm' {
            $null = Wait-Until -TimeoutSeconds 20 -Because 'm2 to run as a worker' -Condition {
                $i = Get-Swarm -Endpoint $nodes.m2.Endpoint -ErrorAction Stop
                -not $i.IsManager -and "$($i.LocalNodeState)" -eq 'Active'
            }
            Test-Path -LiteralPath (Join-Path $nodes.m2.DataRoot 'raft') | Should -BeFalse -Because 'a demoted manager forgets its Raft log'
        }

        It 'removes both with Remove-SwarmNode -Force' {
            foreach ($name in 'm2', 'm3') { Remove-SwarmNode -Endpoint $m1.Endpoint -Id $ids[$name] -Force -Confirm:$false }
            @(Get-SwarmNode -Endpoint $m1.Endpoint).Hostname | Sort-Object | Should -Be @('m1', 'm4', 'w1')
            @(Get-SwarmNode -Endpoint $m1.Endpoint -Role Manager | Where-Object Reachability -NE 'Reachable') | Should -BeNullOrEmpty
        }

        It 'brings m2 back as a new manager with Exit-Swarm -Force and Join-Swarm with the manager token' {
            $m2 = $nodes.m2
            Exit-Swarm -Endpoint $m2.Endpoint -Force -Confirm:$false
            (Get-Swarm -Endpoint $m2.Endpoint).LocalNodeState | Should -Be 'Inactive'
            $back = Join-Swarm -Endpoint $m2.Endpoint -Token $swarm.JoinTokens.Manager.Token -RemoteAddress $m1.Listen -ListenAddress $m2.Listen -AdvertiseAddress $m2.Ip
            $back.Role | Should -Be 'Manager'
            $back.Id | Should -Not -Be $ids.m2
            $view = Wait-NodeView -Manager $m1 -Id $back.Id -TimeoutSeconds 10 -Because 'm2 to be a reachable manager again' -Condition {
                param($n) "$($n.Reachability)" -eq 'Reachable' -and "$($n.Status)" -eq 'Ready'
            }
            $view.ManagerAddress | Should -Be $m2.Listen
            $managers = @(Get-SwarmNode -Endpoint $m1.Endpoint -Role Manager)
            @($managers.Hostname | Sort-Object) | Should -Be @('m1', 'm2', 'm4')
            @($managers | Where-Object Reachability -EQ 'Reachable').Count | Should -Be 3
            foreach ($m in $m1, $m2, $m4) { Get-LeaderName $m | Should -Be 'm1' }
        }

        It 'ends with the worker still Ready and writes accepted through every manager' {
            foreach ($m in $m1, $nodes.m2, $m4) { Set-SwarmNode -Endpoint $m.Endpoint -Id w1 -Label @{ "end-$($m.Name)" = 'yes' } }
            $view = Get-SwarmNode -Endpoint $m1.Endpoint -Id w1
            $view.Status | Should -Be 'Ready'
            foreach ($name in 'm1', 'm2', 'm4') { $view.Labels["end-$name"] | Should -Be 'yes' }
            (Get-Swarm -Endpoint $w1.Endpoint).LocalNodeState | Should -Be 'Active'
        }
    }
}
