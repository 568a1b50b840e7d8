#Requires -Version 7.4
# Node management on a swarm of one manager and five workers: Get-SwarmNode lookups and filters,
# Set-SwarmNode (availability through the pipeline, labels, promote/demote, the last-manager
# refusal), Remove-SwarmNode (refusals and success), nodes going Down (stopped daemon, Exit-Swarm)
# and a removed node that cannot come back with its old certificate.
# Loopback addresses: 127.0.21.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name nodes

    $IdPattern = '^[0-9a-z]{25}$'
    $NotManagerWorker = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager."

    $m1 = Start-TestNode -Root $root -Name m1 -Ip 127.0.21.1
    $swarm = Initialize-Swarm -Endpoint $m1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip -DispatcherHeartbeat '00:00:01'
    $workers = [ordered]@{}
    foreach ($i in 1..5) {
        $node = Start-TestNode -Root $root -Name "w$i" -Ip "127.0.21.$($i + 1)"
        $null = Join-TestNode -Manager $m1 -Node $node -Role Worker
        $workers["w$i"] = $node
    }
    $ids = @{}
    foreach ($n in Get-SwarmNode -Endpoint $m1.Endpoint) { $ids[$n.Hostname] = $n.Id }
    $m = $m1.Endpoint   # every Set-/Remove-/Get-SwarmNode below goes to the manager
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'Get-SwarmNode' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'lists the manager and the five workers once each, all Ready' {
        $nodes = @(Get-SwarmNode -Endpoint $m)
        $nodes.Count | Should -Be 6
        @($nodes.Hostname | Sort-Object) | Should -Be @('m1', 'w1', 'w2', 'w3', 'w4', 'w5')
        $nodes | ForEach-Object {
            $_.PSTypeNames[0] | Should -Be 'PSSwarm.SwarmNode'
            $_.Id | Should -MatchExactly $IdPattern
            $_.Status | Should -Be 'Ready' -Because "$($_.Hostname) is running"
        }
        @($nodes.Id | Sort-Object -Unique).Count | Should -Be 6
        @($nodes | Where-Object IsLeader).Hostname | Should -Be 'm1'
    }

    It 'finds a node by <Key>' -ForEach @(
        @{ Key = 'hostname'; Make = { 'w2' } }
        @{ Key = 'full ID'; Make = { $ids['w2'] } }
        @{ Key = 'unique ID prefix'; Make = {
                # the shortest prefix of w2's ID that no other node's ID shares
                $others = @($ids.Keys | Where-Object { $_ -ne 'w2' } | ForEach-Object { $ids[$_] })
                $len = 1
                while (@($others | Where-Object { $_.StartsWith($ids['w2'].Substring(0, $len)) }).Count -gt 0) { $len++ }
                $ids['w2'].Substring(0, [Math]::Max($len, 3))
            }
        }
    ) {
        $key = & $Make
        $found = @(Get-SwarmNode -Endpoint $m -Id $key)
        $found.Count | Should -Be 1
        $found[0].Id | Should -BeExactly $ids['w2']
        $found[0].Hostname | Should -Be 'w2'
    }

    It 'returns several nodes for several IDs, also from the pipeline' {
        @(Get-SwarmNode -Endpoint $m -Id w1, w3).Hostname | Should -Be @('w1', 'w3')
        @('w4', $ids['w5'] | Get-SwarmNode -Endpoint $m).Hostname | Should -Be @('w4', 'w5')
    }

    It 'reports an unknown node with SwarmNodeNotFound (ObjectNotFound)' {
        $err = Get-ErrorRecord { Get-SwarmNode -Endpoint $m -Id nosuchnode -ErrorAction Stop }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNodeNotFound*'
        $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ObjectNotFound)
        $err.Exception.Message | Should -BeExactly 'node nosuchnode not found'
    }

    It 'filters by -Role <Role>' -ForEach @(
        @{ Role = 'Worker'; Expected = @('w1', 'w2', 'w3', 'w4', 'w5') }
        @{ Role = 'Manager'; Expected = @('m1') }
    ) {
        $nodes = @(Get-SwarmNode -Endpoint $m -Role $Role)
        @($nodes.Hostname | Sort-Object) | Should -Be $Expected
        $nodes | ForEach-Object { "$($_.Role)" | Should -Be $Role }
    }

    It 'shows manager fields only on managers' {
        $manager = Get-SwarmNode -Endpoint $m -Id m1
        $manager.ManagerAddress | Should -Be '127.0.21.1:2377'
        $manager.Reachability | Should -Be 'Reachable'
        $worker = Get-SwarmNode -Endpoint $m -Id w1
        $worker.ManagerAddress | Should -BeNullOrEmpty
        $worker.Reachability | Should -BeNullOrEmpty
        $worker.IsLeader | Should -BeFalse
        $worker.Address | Should -Be '127.0.21.2'
    }

    It 'returns the answering manager with -Self' {
        $self = @(Get-SwarmNode -Endpoint $m -Self)
        $self.Count | Should -Be 1
        $self[0].Hostname | Should -Be 'm1'
        $self[0].Id | Should -BeExactly $swarm.NodeId
    }
}

Describe 'Set-SwarmNode -Availability' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'drains every worker through the pipeline, outputting nothing without -PassThru' {
        $out = Get-SwarmNode -Role Worker -Endpoint $m | Set-SwarmNode -Endpoint $m -Availability Drain
        $out | Should -BeNullOrEmpty
        $nodes = @(Get-SwarmNode -Endpoint $m)
        @($nodes | Where-Object Role -EQ 'Worker' | ForEach-Object { "$($_.Availability)" } | Sort-Object -Unique) | Should -Be @('Drain')
        (Get-SwarmNode -Endpoint $m -Id m1).Availability | Should -Be 'Active'
        @($nodes | Where-Object Status -NE 'Ready').Hostname | Should -BeNullOrEmpty -Because 'draining does not change the status'
    }

    It 'makes the workers Active again and outputs them with -PassThru' {
        $out = @(Get-SwarmNode -Role Worker -Endpoint $m | Set-SwarmNode -Endpoint $m -Availability Active -PassThru)
        $out.Count | Should -Be 5
        $out | ForEach-Object {
            $_.PSTypeNames[0] | Should -Be 'PSSwarm.SwarmNode'
            $_.Availability | Should -Be 'Active'
        }
        @(Get-SwarmNode -Endpoint $m -Role Worker | Where-Object Availability -NE 'Active').Hostname | Should -BeNullOrEmpty
    }

    It 'pauses one node named by hostname, leaving the others alone' {
        Set-SwarmNode -Endpoint $m -Id w2 -Availability Pause
        (Get-SwarmNode -Endpoint $m -Id w2).Availability | Should -Be 'Pause'
        (Get-SwarmNode -Endpoint $m -Id w1).Availability | Should -Be 'Active'
        Set-SwarmNode -Endpoint $m -Id w2 -Availability Active
        (Get-SwarmNode -Endpoint $m -Id w2).Availability | Should -Be 'Active'
    }

    It 'changes nothing with -WhatIf' {
        Set-SwarmNode -Endpoint $m -Id w1 -Availability Drain -WhatIf
        (Get-SwarmNode -Endpoint $m -Id w1).Availability | Should -Be 'Active'
    }

    It 'rejects an unknown availability at parameter binding' {
        { Set-SwarmNode -Endpoint $m -Id w1 -Availability Sleeping } |
            Should -Throw -ExceptionType ([System.Management.Automation.ParameterBindingException])
    }

    It 'reports an unknown node with SwarmNodeNotFound (ObjectNotFound)' {
        $err = Get-ErrorRecord { Set-SwarmNode -Endpoint $m -Id nosuchnode -Availability Drain -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNodeNotFound*'
        $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ObjectNotFound)
        $err.Exception.Message | Should -BeExactly 'node nosuchnode not found'
    }
}

Describe 'Set-SwarmNode -Label and -RemoveLabel' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'adds labels from a hashtable' {
        $out = Set-SwarmNode -Endpoint $m -Id w1 -Label @{ zone = 'a'; rack = '1' } -PassThru
        $out.Labels['zone'] | Should -BeExactly 'a'
        $out.Labels['rack'] | Should -BeExactly '1'
        $labels = (Get-SwarmNode -Endpoint $m -Id w1).Labels
        $labels | Should -BeOfType ([hashtable])
        $labels.Count | Should -Be 2
        $labels['zone'] | Should -BeExactly 'a'
    }

    It 'adds to the existing labels and overwrites a value' {
        Set-SwarmNode -Endpoint $m -Id w1 -Label @{ env = 'prod'; rack = '2' }
        $labels = (Get-SwarmNode -Endpoint $m -Id w1).Labels
        @($labels.Keys | Sort-Object) | Should -Be @('env', 'rack', 'zone')
        $labels['rack'] | Should -BeExactly '2'
    }

    It 'removes a label whose value is $null' {
        Set-SwarmNode -Endpoint $m -Id w1 -Label @{ zone = $null }
        @((Get-SwarmNode -Endpoint $m -Id w1).Labels.Keys | Sort-Object) | Should -Be @('env', 'rack')
    }

    It 'removes labels with -RemoveLabel' {
        Set-SwarmNode -Endpoint $m -Id w1 -RemoveLabel env, rack
        (Get-SwarmNode -Endpoint $m -Id w1).Labels.Count | Should -Be 0
    }

    It 'refuses to remove a label the node does not have (InvalidArgument)' {
        $err = Get-ErrorRecord { Set-SwarmNode -Endpoint $m -Id w1 -RemoveLabel nosuchkey }
        $err | Should -Not -BeNullOrEmpty
        $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
        $err.Exception.Message | Should -BeExactly "key nosuchkey doesn't exist in node's labels"
    }

    It 'labels every worker through the pipeline' {
        Get-SwarmNode -Endpoint $m -Role Worker | Set-SwarmNode -Endpoint $m -Label @{ tier = 'edge' }
        @(Get-SwarmNode -Endpoint $m -Role Worker | Where-Object { $_.Labels['tier'] -ne 'edge' }).Hostname | Should -BeNullOrEmpty
        (Get-SwarmNode -Endpoint $m -Id m1).Labels.ContainsKey('tier') | Should -BeFalse
    }
}

Describe 'Set-SwarmNode -Role (promote and demote)' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when the only manager is demoted' {
        It 'refuses with SwarmLastManager (InvalidOperation)' {
            $err = Get-ErrorRecord { Set-SwarmNode -Endpoint $m -Id m1 -Role Worker }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmLastManager*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
            $err.Exception.Message | Should -BeExactly 'attempting to demote the last manager of the swarm'
        }

        It 'keeps it the manager and leader' {
            $view = Get-SwarmNode -Endpoint $m -Id m1
            $view.Role | Should -Be 'Manager'
            $view.IsLeader | Should -BeTrue
            (Get-Swarm -Endpoint $m).IsManager | Should -BeTrue
        }
    }

    Context 'when a worker is promoted' {
        BeforeAll {
            $w1 = $workers['w1']
            $promoted = @(Set-SwarmNode -Endpoint $m -Id w1 -Role Manager -PassThru)
        }

        It 'outputs the node with Role Manager' {
            $promoted.Count | Should -Be 1
            $promoted[0].Id | Should -BeExactly $ids['w1']
            $promoted[0].Role | Should -Be 'Manager'
        }

        It 'lists it on the leader as a Reachable manager with a ManagerAddress' {
            $view = Wait-NodeView -Manager $m1 -Id w1 -TimeoutSeconds 15 -Because 'the promoted node to become a reachable manager' -Condition {
                param($n) $n -and "$($n.Role)" -eq 'Manager' -and "$($n.Reachability)" -eq 'Reachable' -and $n.ManagerAddress
            }
            $view.ManagerAddress | Should -Be '127.0.21.2:2377'
            $view.IsLeader | Should -BeFalse
            $view.Status | Should -Be 'Ready'
        }

        It 'makes the node itself report IsManager' {
            $info = Wait-Until -TimeoutSeconds 15 -Because 'w1 to report IsManager' -Condition {
                $i = Get-Swarm -Endpoint $w1.Endpoint; if ($i.IsManager) { $i }
            }
            $info.LocalNodeState | Should -Be 'Active'
            $info.NodeId | Should -BeExactly $ids['w1']
        }

        It 'lets the promoted node answer Get-SwarmNode with every node and the same leader' {
            $nodes = Wait-Until -TimeoutSeconds 10 -Because 'w1 to answer Get-SwarmNode' -Condition { @(Get-SwarmNode -Endpoint $w1.Endpoint -ErrorAction Stop) }
            @($nodes.Hostname | Sort-Object) | Should -Be @('m1', 'w1', 'w2', 'w3', 'w4', 'w5')
            @($nodes | Where-Object IsLeader).Hostname | Should -Be 'm1'
        }

        It 'makes the promoted node listen on its listen address' {
            Wait-Until -TimeoutSeconds 10 -Because 'w1 to listen on 127.0.21.2:2377' -Condition { Test-TcpPort -Address 127.0.21.2 -TimeoutMilliseconds 500 } |
                Should -BeTrue
        }

        It 'accepts promoting it again as a no-op' {
            { Set-SwarmNode -Endpoint $m -Id w1 -Role Manager } | Should -Not -Throw
            (Get-SwarmNode -Endpoint $m -Role Manager).Count | Should -Be 2
        }
    }

    Context 'when the promoted node is demoted again' {
        BeforeAll {
            $w1 = $workers['w1']
        }

        It 'demotes it without an error, outputting the node with Role Worker' {
            $demoted = @(Set-SwarmNode -Endpoint $m -Id w1 -Role Worker -PassThru)
            $demoted.Count | Should -Be 1
            $demoted[0].Role | Should -Be 'Worker'
        }

        It 'lists it on the leader as a Ready worker without manager fields' {
            $view = Wait-NodeView -Manager $m1 -Id w1 -TimeoutSeconds 15 -Because 'the demoted node to become a worker' -Condition {
                param($n) $n -and "$($n.Role)" -eq 'Worker' -and -not $n.ManagerAddress
            }
            $view.Reachability | Should -BeNullOrEmpty
            $view.IsLeader | Should -BeFalse
            (Wait-NodeView -Manager $m1 -Id w1 -TimeoutSeconds 10 -Condition { param($n) "$($n.Status)" -eq 'Ready' }).Status | Should -Be 'Ready'
            @(Get-SwarmNode -Endpoint $m -Role Manager).Hostname | Should -Be 'm1'
        }

        It 'makes the node itself a worker that refuses Get-SwarmNode' {
            $null = Wait-Until -TimeoutSeconds 15 -Because 'w1 to report IsManager false' -Condition { -not (Get-Swarm -Endpoint $w1.Endpoint).IsManager }
            $err = Get-ErrorRecord { Get-SwarmNode -Endpoint $w1.Endpoint }
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNotManager*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
            $err.Exception.Message | Should -BeExactly $NotManagerWorker
        }

        It 'stops listening on the demoted node''s address' {
            Wait-Until -TimeoutSeconds 10 -Because 'w1 to close 127.0.21.2:2377' -Condition { -not (Test-TcpPort -Address 127.0.21.2 -TimeoutMilliseconds 500) } |
                Should -BeTrue
        }

        It 'keeps m1 the leader' {
            (Get-SwarmNode -Endpoint $m -Id m1).IsLeader | Should -BeTrue
        }
    }
}

Describe 'Remove-SwarmNode' {
    BeforeAll {
        # Precondition: m1 leads and answers (the previous Describe changed the membership).
        $null = Wait-Until -TimeoutSeconds 15 -Because 'm1 to lead the swarm' -Condition { (Get-SwarmNode -Endpoint $m -Id m1 -ErrorAction Stop).IsLeader }
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'refusals' {
        It 'refuses a node that is not down without -Force (SwarmNodeNotDown)' {
            $err = Get-ErrorRecord { Remove-SwarmNode -Endpoint $m -Id w2 -Confirm:$false }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNodeNotDown*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
            $err.Exception.Message | Should -BeExactly "node $($ids['w2']) is not down and can't be removed"
        }

        It 'refuses a manager, even with -Force (SwarmNodeIsManager)' {
            $err = Get-ErrorRecord { Remove-SwarmNode -Endpoint $m -Id m1 -Force }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNodeIsManager*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
            $err.Exception.Message | Should -BeLike "node $($ids['m1']) is a cluster manager*"
        }

        It 'refuses an unknown node (SwarmNodeNotFound)' {
            $err = Get-ErrorRecord { Remove-SwarmNode -Endpoint $m -Id nosuchnode -Force }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNodeNotFound*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ObjectNotFound)
            $err.Exception.Message | Should -BeExactly 'node nosuchnode not found'
        }

        It 'removes nothing with -WhatIf' {
            Remove-SwarmNode -Endpoint $m -Id w2 -Force -WhatIf
            (Get-SwarmNode -Endpoint $m -Id w2).Status | Should -Be 'Ready'
        }

        It 'removes nothing with -Force under $WhatIfPreference' {
            $WhatIfPreference = $true
            try { Remove-SwarmNode -Endpoint $m -Id w2 -Force }
            finally { $WhatIfPreference = $false }
            (Get-SwarmNode -Endpoint $m -Id w2).Status | Should -Be 'Ready'
        }

        It 'leaves every node in place after the refusals' {
            @(Get-SwarmNode -Endpoint $m).Count | Should -Be 6
        }
    }

    Context 'when a worker daemon is stopped' {
        BeforeAll {
            $w3 = $workers['w3']
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            Stop-TestNode $w3
        }

        It 'marks it Down after about three heartbeat periods (1 s each)' {
            $view = Wait-NodeView -Manager $m1 -Id w3 -TimeoutSeconds 8 -Because 'the stopped worker to be Down' -Condition { param($n) "$($n.Status)" -eq 'Down' }
            $view.Status | Should -Be 'Down'
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 8
        }

        It 'removes the Down node without -Force, outputting nothing' {
            $out = Remove-SwarmNode -Endpoint $m -Id w3 -Confirm:$false
            $out | Should -BeNullOrEmpty
            @(Get-SwarmNode -Endpoint $m).Hostname | Should -Not -Contain 'w3'
            $err = Get-ErrorRecord { Get-SwarmNode -Endpoint $m -Id $ids['w3'] -ErrorAction Stop }
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNodeNotFound*'
        }
    }

    Context 'when a worker leaves with Exit-Swarm' {
        BeforeAll {
            $w4 = $workers['w4']
        }

        It 'leaves without -Force (a worker), outputting nothing' {
            $out = Exit-Swarm -Endpoint $w4.Endpoint -Confirm:$false
            $out | Should -BeNullOrEmpty
            (Get-Swarm -Endpoint $w4.Endpoint).LocalNodeState | Should -Be 'Inactive'
        }

        It 'is listed as Down on the manager' {
            (Wait-NodeView -Manager $m1 -Id w4 -TimeoutSeconds 5 -Because 'the node that left to be Down' -Condition { param($n) "$($n.Status)" -eq 'Down' }).Status |
                Should -Be 'Down'
        }

        It 'stays listed as Down (it is not pruned)' {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            while ($clock.Elapsed.TotalSeconds -lt 3.5) {
                (Get-SwarmNode -Endpoint $m -Id $ids['w4'] -ErrorAction Stop).Status | Should -Be 'Down'
                Start-Sleep -Milliseconds 250
            }
        }

        It 'is removed by Remove-SwarmNode' {
            Remove-SwarmNode -Endpoint $m -Id $ids['w4'] -Confirm:$false
            @(Get-SwarmNode -Endpoint $m).Id | Should -Not -Contain $ids['w4']
        }

        It 'can join again, under a new node ID' {
            $again = Join-TestNode -Manager $m1 -Node $w4 -Role Worker
            $again.Status | Should -Be 'Ready'
            $again.Id | Should -MatchExactly $IdPattern
            $again.Id | Should -Not -Be $ids['w4']
            @(Get-SwarmNode -Endpoint $m | Where-Object Hostname -EQ 'w4').Count | Should -Be 1
        }
    }

    Context 'when a running worker is removed with -Force' {
        BeforeAll {
            $w5 = $workers['w5']
            $out = Remove-SwarmNode -Endpoint $m -Id w5 -Force
        }

        It 'removes it at once, outputting nothing' {
            $out | Should -BeNullOrEmpty
            @(Get-SwarmNode -Endpoint $m).Id | Should -Not -Contain $ids['w5']
        }

        It 'puts the removed node itself in LocalNodeState Error, saying it was removed' {
            $info = Wait-LocalNodeState -Node $w5 -State Error -TimeoutSeconds 10
            "$($info.Error)" | Should -BeLike '*removed*'
        }

        It 'does not let it come back when its daemon restarts with the old certificate' {
            Stop-TestNode $workers['w5']
            $workers['w5'] = Start-TestNode -Root $root -Name w5 -Ip 127.0.21.6
            # Three heartbeat periods and more: the node must never reappear on the manager.
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            while ($clock.Elapsed.TotalSeconds -lt 4) {
                @(Get-SwarmNode -Endpoint $m).Id | Should -Not -Contain $ids['w5']
                Start-Sleep -Milliseconds 250
            }
            @(Get-SwarmNode -Endpoint $m | Where-Object Hostname -EQ 'w5') | Should -BeNullOrEmpty
        }

        It 'keeps the restarted node in LocalNodeState Error, saying it was removed' {
            $info = Wait-LocalNodeState -Node $workers['w5'] -State Error -TimeoutSeconds 10
            "$($info.Error)" | Should -BeLike '*removed*'
            $info.NodeId | Should -BeExactly $ids['w5']
        }
    }
}
