#Requires -Version 7.4
# Three managers and a worker: one leader that every manager agrees on, writes through followers,
# a rotated token refused through every manager, Exit-Swarm's warnings on managers, the quorum-loss
# demote refusal, and a leader that stops: a new leader is elected, the worker stays Ready, and the
# old leader comes back as a follower.
# Loopback addresses: 127.0.22.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name mgrs

    $LeavePrefix = 'You are attempting to leave the swarm on a node that is participating as a manager. '
    $LeaveSuffix = 'Use `-Force` to suppress this message.'
    $InvalidJoinToken = 'A valid join token is necessary to join this cluster'

    $nodes = [ordered]@{}
    foreach ($i in 1..3) { $nodes["n$i"] = Start-TestNode -Root $root -Name "n$i" -Ip "127.0.22.$i" }
    $w1 = Start-TestNode -Root $root -Name w1 -Ip 127.0.22.4
    $j1 = Start-TestNode -Root $root -Name j1 -Ip 127.0.22.5   # stays outside until it joins with a rotated token
    $swarm = Initialize-Swarm -Endpoint $nodes.n1.Endpoint -ListenAddress $nodes.n1.Listen -AdvertiseAddress $nodes.n1.Ip -DispatcherHeartbeat '00:00:01'
    $null = Join-TestNode -Manager $nodes.n1 -Node $nodes.n2 -Role Manager
    $null = Join-TestNode -Manager $nodes.n1 -Node $nodes.n3 -Role Manager
    # The worker joins with the token a follower hands out.
    $null = Get-SwarmJoinToken -Role Worker -Endpoint $nodes.n2.Endpoint |
        Join-Swarm -Endpoint $w1.Endpoint -ListenAddress $w1.Listen -AdvertiseAddress $w1.Ip

    # The test node a hostname belongs to.
    function Get-TestNodeByName([string] $Name) { if ($Name -eq 'w1') { $w1 } else { $nodes[$Name] } }


    function Assert-JoinRefusedWithOldToken([string] $Token, [string] $Via) {
        $err = Get-ErrorRecord { Join-Swarm -Endpoint $j1.Endpoint -Token $Token -RemoteAddress $Via -ListenAddress $j1.Listen -AdvertiseAddress $j1.Ip }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'SwarmInvalidJoinToken*' -Because (Get-ErrorSummary $err)
        $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::AuthenticationError)
        $err.Exception.Message | Should -BeLike "*$InvalidJoinToken*"
        (Get-Swarm -Endpoint $j1.Endpoint).LocalNodeState | Should -Be 'Inactive'
    }

    $leaderName = Wait-AgreedLeader -Managers @($nodes.Values)
    $followers = @($nodes.Values | Where-Object Name -NE $leaderName)
    $leader = $nodes[$leaderName]
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'A swarm of three managers and a worker' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'has n1, the node that initialised the swarm, as its leader' {
        $leaderName | Should -Be 'n1'
    }

    It 'lists three Reachable managers and a Ready worker on <Name>' -ForEach @(
        @{ Name = 'n1' }
        @{ Name = 'n2' }
        @{ Name = 'n3' }
    ) {
        $list = @(Get-SwarmNode -Endpoint $nodes[$Name].Endpoint)
        @($list.Hostname | Sort-Object) | Should -Be @('n1', 'n2', 'n3', 'w1')
        $managers = @($list | Where-Object Role -EQ 'Manager')
        $managers.Count | Should -Be 3
        $managers | ForEach-Object {
            $_.Reachability | Should -Be 'Reachable' -Because "$($_.Hostname) is running"
            $_.ManagerAddress | Should -Be "$($nodes[$_.Hostname].Ip):2377"
        }
        $worker = $list | Where-Object Hostname -EQ 'w1'
        $worker.Role | Should -Be 'Worker'
        $worker.Status | Should -Be 'Ready'
    }

    It 'has exactly one leader in every manager''s view, the same one' {
        $views = foreach ($mgr in $nodes.Values) { , @(Get-LeaderName $mgr) }
        foreach ($v in $views) {
            $v.Count | Should -Be 1
            $v[0] | Should -Be $leaderName
        }
    }

    It 'reports IsManager on every manager (3 managers, 4 nodes) and not on the worker' {
        foreach ($mgr in $nodes.Values) {
            $info = Get-Swarm -Endpoint $mgr.Endpoint
            $info.IsManager | Should -BeTrue -Because "$($mgr.Name) is a manager"
            $info.Managers | Should -Be 3
            $info.Nodes | Should -Be 4
            $info.Id | Should -BeExactly $swarm.Id
        }
        (Get-Swarm -Endpoint $w1.Endpoint).IsManager | Should -BeFalse
    }

    It 'gives the same join tokens on every manager, each with its own address' {
        foreach ($mgr in $nodes.Values) {
            $t = Get-SwarmJoinToken -Role Worker -Endpoint $mgr.Endpoint
            $t.Token | Should -BeExactly $swarm.JoinTokens.Worker.Token
            $t.RemoteAddress | Should -Contain "$($mgr.Ip):2377"
        }
    }
}

Describe 'Writes through a follower' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'Set-SwarmNode on a follower' {
        BeforeAll {
            Set-SwarmNode -Endpoint $followers[0].Endpoint -Id w1 -Label @{ written = "via-$($followers[0].Name)" } -Availability Pause
        }

        It 'is visible on <Name>' -ForEach @(
            @{ Name = 'n1' }
            @{ Name = 'n2' }
            @{ Name = 'n3' }
        ) {
            $view = Wait-NodeView -Manager $nodes[$Name] -Id w1 -TimeoutSeconds 5 -Because 'the follower''s write to replicate' -Condition {
                param($n) $n.Labels['written'] -eq "via-$($followers[0].Name)"
            }
            $view.Availability | Should -Be 'Pause'
        }

        AfterAll {
            Set-SwarmNode -Endpoint $leader.Endpoint -Id w1 -Availability Active -RemoveLabel written -ErrorAction Continue
        }
    }

    Context 'Update-SwarmJoinToken on a follower' {
        BeforeAll {
            $oldWorker = Get-SwarmJoinToken -Role Worker -Endpoint $leader.Endpoint -Quiet
            $oldManager = Get-SwarmJoinToken -Role Manager -Endpoint $leader.Endpoint -Quiet
            $newWorker = Update-SwarmJoinToken -Role Worker -Endpoint $followers[1].Endpoint -Quiet
        }

        It 'returns a new worker token' {
            $newWorker | Should -MatchExactly '^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$'
            $newWorker | Should -Not -BeExactly $oldWorker
        }

        It 'changes the worker token on <Name> and leaves the manager token' -ForEach @(
            @{ Name = 'n1' }
            @{ Name = 'n2' }
            @{ Name = 'n3' }
        ) {
            $seen = Wait-Until -TimeoutSeconds 5 -Because "the new token to reach $Name" -Condition {
                $t = Get-SwarmJoinToken -Role Worker -Endpoint $nodes[$Name].Endpoint -Quiet
                if ($t -ceq $newWorker) { $t }
            }
            $seen | Should -BeExactly $newWorker
            Get-SwarmJoinToken -Role Manager -Endpoint $nodes[$Name].Endpoint -Quiet | Should -BeExactly $oldManager
        }

        It 'refuses the old worker token at once through <Name>' -ForEach @(
            @{ Name = 'n1' }
            @{ Name = 'n2' }
            @{ Name = 'n3' }
        ) {
            Assert-JoinRefusedWithOldToken -Token $oldWorker -Via $nodes[$Name].Listen
        }

        It 'accepts the new worker token through a follower' {
            $joined = Join-Swarm -Endpoint $j1.Endpoint -Token $newWorker -RemoteAddress $followers[0].Listen -ListenAddress $j1.Listen -AdvertiseAddress $j1.Ip
            $joined.Role | Should -Be 'Worker'
            $joined.Status | Should -Be 'Ready'
            (Wait-NodeView -Manager $leader -Id j1 -TimeoutSeconds 5 -Condition { param($n) "$($n.Status)" -eq 'Ready' }).Status | Should -Be 'Ready'
        }
    }
}

Describe 'Exit-Swarm on a manager without -Force' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'with three reachable managers' {
        It 'refuses on <Name> with SwarmLeaveManager and Docker''s warning' -ForEach @(
            @{ Name = 'n1' }
            @{ Name = 'n2' }
        ) {
            $err = Get-ErrorRecord { Exit-Swarm -Endpoint $nodes[$Name].Endpoint -Confirm:$false }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmLeaveManager*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
            $err.Exception.Message.StartsWith($LeavePrefix) | Should -BeTrue -Because $err.Exception.Message
            $err.Exception.Message.EndsWith($LeaveSuffix) | Should -BeTrue -Because $err.Exception.Message
            $err.Exception.Message | Should -Not -BeLike '*Removing this node leaves*' -Because 'two of three managers keep a quorum'
        }

        It 'leaves all three managers in place' {
            foreach ($mgr in $nodes.Values) { (Get-Swarm -Endpoint $mgr.Endpoint).LocalNodeState | Should -Be 'Active' }
            @(Get-SwarmNode -Endpoint $leader.Endpoint -Role Manager).Count | Should -Be 3
        }
    }

    Context 'with two managers' {
        BeforeAll {
            $demotedName = $followers[1].Name
            $remaining = @($nodes.Values | Where-Object Name -NE $demotedName)
        }

        It 'demotes a follower to reach two managers' {
            Set-SwarmNode -Endpoint $leader.Endpoint -Id $demotedName -Role Worker
            $view = Wait-NodeView -Manager $leader -Id $demotedName -TimeoutSeconds 15 -Because 'the follower to be demoted' -Condition { param($n) "$($n.Role)" -eq 'Worker' }
            $view.Role | Should -Be 'Worker'
            $null = Wait-Until -TimeoutSeconds 15 -Because "$demotedName to be a worker" -Condition { -not (Get-Swarm -Endpoint $nodes[$demotedName].Endpoint).IsManager }
        }

        It 'refuses on the <Which> with the quorum warning "leaves 1 managers out of 2"' -ForEach @(
            @{ Which = 'leader' }
            @{ Which = 'follower' }
        ) {
            $target = if ($Which -eq 'leader') { $leader } else { $remaining | Where-Object Name -NE $leader.Name }
            $err = Get-ErrorRecord { Exit-Swarm -Endpoint $target.Endpoint -Confirm:$false }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmLeaveManager*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
            $err.Exception.Message.StartsWith($LeavePrefix) | Should -BeTrue -Because $err.Exception.Message
            $err.Exception.Message | Should -BeLike '*Removing this node leaves 1 managers out of 2. Without a Raft quorum your swarm will be inaccessible.*'
            $err.Exception.Message.EndsWith($LeaveSuffix) | Should -BeTrue -Because $err.Exception.Message
        }

        It 'promotes the demoted node back to a Reachable manager' {
            Set-SwarmNode -Endpoint $leader.Endpoint -Id $demotedName -Role Manager
            $view = Wait-NodeView -Manager $leader -Id $demotedName -TimeoutSeconds 15 -Because 'the node to be a reachable manager again' -Condition {
                param($n) "$($n.Role)" -eq 'Manager' -and "$($n.Reachability)" -eq 'Reachable' -and $n.ManagerAddress
            }
            $view.ManagerAddress | Should -Be "$($nodes[$demotedName].Ip):2377"
            $null = Wait-Until -TimeoutSeconds 15 -Because "$demotedName to report IsManager" -Condition { (Get-Swarm -Endpoint $nodes[$demotedName].Endpoint).IsManager }
            Wait-AgreedLeader -Managers @($nodes.Values) | Should -Be $leader.Name
        }
    }
}

Describe 'When the leader stops' {
    BeforeAll {
        $oldLeader = $leader
        $oldLeaderId = (Get-SwarmNode -Endpoint $oldLeader.Endpoint -Self).Id
        $survivors = @($nodes.Values | Where-Object Name -NE $oldLeader.Name)
        Stop-TestNode $oldLeader

        # Poll a survivor for a new leader, keeping every error seen while there was none.
        $electionErrors = [System.Collections.Generic.List[object]]::new()
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $newLeaderName = $null
        while ($clock.Elapsed.TotalSeconds -lt 20 -and -not $newLeaderName) {
            try {
                $l = @(Get-LeaderName $survivors[0])
                if ($l.Count -eq 1 -and $l[0] -ne $oldLeader.Name) { $newLeaderName = $l[0] }
            }
            catch { $electionErrors.Add($_) }
            if (-not $newLeaderName) { Start-Sleep -Milliseconds 100 }
        }
        $electionTime = $clock.Elapsed
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'elects a new leader among the two survivors within 10 s' {
        $newLeaderName | Should -Not -BeNullOrEmpty
        $newLeaderName | Should -BeIn @($survivors.Name)
        $electionTime.TotalSeconds | Should -BeLessThan 10
    }

    It 'fails reads during the election, if at all, with ResourceUnavailable (no leader)' {
        foreach ($e in $electionErrors) {
            $e.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceUnavailable) -Because (Get-ErrorSummary $e)
        }
    }

    It 'has both survivors agree on the new leader' {
        Wait-AgreedLeader -Managers $survivors -Not $oldLeader.Name | Should -Be $newLeaderName
    }

    It 'lists the old leader as an Unreachable manager that is not the leader' {
        $view = Wait-NodeView -Manager $survivors[0] -Id $oldLeaderId -TimeoutSeconds 10 -Because 'the stopped leader to be unreachable' -Condition {
            param($n) "$($n.Reachability)" -eq 'Unreachable'
        }
        $view.IsLeader | Should -BeFalse
        $view.Role | Should -Be 'Manager'
    }

    It 'keeps the worker Ready under the new leader' {
        $newLeader = $nodes[$newLeaderName]
        $view = Wait-NodeView -Manager $newLeader -Id w1 -TimeoutSeconds 15 -Because 'the worker''s session to move to the new leader' -Condition { param($n) "$($n.Status)" -eq 'Ready' }
        $view.Status | Should -Be 'Ready'
        (Get-Swarm -Endpoint $w1.Endpoint).LocalNodeState | Should -Be 'Active'
    }

    It 'marks the stopped leader Down' {
        $view = Wait-NodeView -Manager $nodes[$newLeaderName] -Id $oldLeaderId -TimeoutSeconds 15 -Because 'the stopped leader to be Down' -Condition { param($n) "$($n.Status)" -eq 'Down' }
        $view.Status | Should -Be 'Down'
    }

    It 'accepts writes through either survivor' {
        foreach ($s in $survivors) {
            Set-SwarmNode -Endpoint $s.Endpoint -Id w1 -Label @{ "after-$($s.Name)" = 'yes' }
        }
        $labels = (Get-SwarmNode -Endpoint $nodes[$newLeaderName].Endpoint -Id w1).Labels
        $survivors | ForEach-Object { $labels["after-$($_.Name)"] | Should -Be 'yes' }
    }

    Context 'when the old leader is restarted' {
        BeforeAll {
            $nodes[$oldLeader.Name] = Start-TestNode -Root $root -Name $oldLeader.Name -Ip $oldLeader.Ip
            $restarted = $nodes[$oldLeader.Name]
        }

        It 'rejoins as a Reachable follower with the same node ID' {
            $view = Wait-NodeView -Manager $nodes[$newLeaderName] -Id $oldLeaderId -TimeoutSeconds 15 -Because 'the old leader to be reachable again' -Condition {
                param($n) "$($n.Reachability)" -eq 'Reachable' -and "$($n.Status)" -eq 'Ready'
            }
            $view.IsLeader | Should -BeFalse
            $view.Role | Should -Be 'Manager'
            $info = Get-Swarm -Endpoint $restarted.Endpoint
            $info.NodeId | Should -BeExactly $oldLeaderId
            $info.IsManager | Should -BeTrue
            $info.LocalNodeState | Should -Be 'Active'
        }

        It 'agrees with the others on the new leader' {
            Wait-AgreedLeader -Managers @($nodes.Values) | Should -Be $newLeaderName
        }

        It 'is listed with the same Status, IsLeader and Reachability by every manager' {
            # Reachability is the leader's view on every manager (a follower's own view of another
            # follower went stale: the restarted node stayed Unreachable there for over a minute).
            $views = Wait-Until -TimeoutSeconds 6 -Because 'every manager to list the same view of every node' -Condition {
                $all = foreach ($m in $nodes.Values) {
                    , @(Get-SwarmNode -Endpoint $m.Endpoint -ErrorAction Stop | Sort-Object Id |
                        ForEach-Object { '{0} {1} {2} {3}' -f $_.Hostname, $_.Status, $_.IsLeader, $_.Reachability })
                }
                $first = $all[0] -join '; '
                if (@($all | Where-Object { ($_ -join '; ') -ne $first }).Count -eq 0 -and $first -match "$($restarted.Name) Ready False Reachable") { , $all }
            }
            $views.Count | Should -Be 3
        }

        It 'has caught up with the writes made while it was stopped' {
            $view = Wait-NodeView -Manager $restarted -Id w1 -TimeoutSeconds 10 -Because 'the restarted manager to catch up' -Condition {
                param($n) $n.Labels.ContainsKey("after-$($survivors[0].Name)")
            }
            $survivors | ForEach-Object { $view.Labels["after-$($_.Name)"] | Should -Be 'yes' }
        }

        It 'lists every node Ready again' {
            $null = Wait-Until -TimeoutSeconds 10 -Because 'every node to be Ready' -Condition {
                @(Get-SwarmNode -Endpoint $nodes[$newLeaderName].Endpoint | Where-Object Status -NE 'Ready').Count -eq 0
            }
            @(Get-SwarmNode -Endpoint $nodes[$newLeaderName].Endpoint).Count | Should -Be 5
        }
    }
}

# Last, because a demote that wrongly goes through here breaks the quorum for everything after it.
Describe 'A manager stopped among three' {
    BeforeAll {
        # The leader now (after the failover above) and its two followers.
        $currentLeader = $nodes[(Wait-AgreedLeader -Managers @($nodes.Values))]
        $currentFollowers = @($nodes.Values | Where-Object Name -NE $currentLeader.Name)
        $stopped = $currentFollowers[1]
        $other = $currentFollowers[0]
        Stop-TestNode $stopped
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'is listed as Unreachable by the leader' {
        $view = Wait-NodeView -Manager $currentLeader -Id $stopped.Name -TimeoutSeconds 15 -Because 'the stopped manager to be unreachable' -Condition {
            param($n) "$($n.Reachability)" -eq 'Unreachable'
        }
        $view.Role | Should -Be 'Manager'
    }

    It 'warns on Exit-Swarm of a running manager that 1 of 3 managers would be left' {
        $err = Get-ErrorRecord { Exit-Swarm -Endpoint $other.Endpoint -Confirm:$false }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'SwarmLeaveManager*'
        $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
        $err.Exception.Message.StartsWith($LeavePrefix) | Should -BeTrue -Because $err.Exception.Message
        $err.Exception.Message | Should -BeLike '*Removing this node leaves 1 managers out of 3. Without a Raft quorum your swarm will be inaccessible.*'
    }

    It 'refuses to demote another manager with SwarmQuorumLoss' {
        $err = Get-ErrorRecord { Set-SwarmNode -Endpoint $currentLeader.Endpoint -Id $other.Name -Role Worker }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'SwarmQuorumLoss*' -Because (Get-ErrorSummary $err)
        $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
        $err.Exception.Message | Should -BeExactly "can't remove member from the raft: this would result in a loss of quorum"
        (Get-SwarmNode -Endpoint $currentLeader.Endpoint -Id $other.Name).Role | Should -Be 'Manager'
    }

    It 'comes back Reachable when its daemon restarts' {
        $nodes[$stopped.Name] = Start-TestNode -Root $root -Name $stopped.Name -Ip $stopped.Ip
        $view = Wait-NodeView -Manager $currentLeader -Id $stopped.Name -TimeoutSeconds 15 -Because 'the restarted manager to be reachable' -Condition {
            param($n) "$($n.Reachability)" -eq 'Reachable' -and "$($n.Status)" -eq 'Ready'
        }
        $view.Role | Should -Be 'Manager'
        Wait-AgreedLeader -Managers @($nodes.Values) | Should -Be $currentLeader.Name
    }
}

# Last of all: a manager leaves for good.
Describe 'Exit-Swarm -Force on a follower manager' {
    BeforeAll {
        $leaderNow = $nodes[(Wait-AgreedLeader -Managers @($nodes.Values))]
        $leaving = @($nodes.Values | Where-Object Name -NE $leaderNow.Name)[0]
        $leavingId = (Get-Swarm -Endpoint $leaving.Endpoint).NodeId
        Exit-Swarm -Endpoint $leaving.Endpoint -Force -Confirm:$false
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'is listed by the leader as a Down worker without a manager address' {
        $view = Wait-NodeView -Manager $leaderNow -Id $leavingId -TimeoutSeconds 10 -Because 'the leaving manager to be recorded as a Down worker' -Condition {
            param($n) "$($n.Status)" -eq 'Down' -and "$($n.Role)" -eq 'Worker'
        }
        $view.ManagerAddress | Should -BeNullOrEmpty
        $view.IsLeader | Should -BeFalse
    }

    It 'leaves two managers that still accept writes' {
        Set-SwarmNode -Endpoint $leaderNow.Endpoint -Id w1 -Label @{ 'after-leave' = 'yes' }
        @(Get-SwarmNode -Endpoint $leaderNow.Endpoint -Role Manager).Count | Should -Be 2
        (Get-SwarmNode -Endpoint $leaderNow.Endpoint -Id w1).Labels['after-leave'] | Should -Be 'yes'
    }

    It 'lets the other follower demote itself through its own endpoint' {
        $self = @($nodes.Values | Where-Object { $_.Name -ne $leaderNow.Name -and $_.Name -ne $leaving.Name })[0]
        $out = Set-SwarmNode -Endpoint $self.Endpoint -Id $self.Name -Role Worker -Label @{ demoted = 'itself' } -PassThru
        $out.Role | Should -Be 'Worker'
        $view = Wait-NodeView -Manager $leaderNow -Id $self.Name -TimeoutSeconds 10 -Because 'the self-demoted manager to be a worker on the leader' -Condition {
            param($n) "$($n.Role)" -eq 'Worker'
        }
        $view.Labels['demoted'] | Should -Be 'itself'
        $view.ManagerAddress | Should -BeNullOrEmpty
        $null = Wait-Until -TimeoutSeconds 10 -Because "$($self.Name) to run as a worker" -Condition { -not (Get-Swarm -Endpoint $self.Endpoint).IsManager }
        Set-SwarmNode -Endpoint $leaderNow.Endpoint -Id w1 -Label @{ 'one-manager' = 'yes' }
        (Get-SwarmNode -Endpoint $leaderNow.Endpoint -Id w1).Labels['one-manager'] | Should -Be 'yes'
    }
}
