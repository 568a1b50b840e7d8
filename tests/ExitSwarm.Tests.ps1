#Requires -Version 7.4
# Exit-Swarm on a single manager, and the read cmdlets Get-Swarm, Get-SwarmNode, Get-SwarmNetwork.
# Loopback addresses: 127.0.14.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name exit
    $NotManager = 'This node is not a swarm manager. Use Initialize-Swarm or Join-Swarm to connect this node to swarm and try again.'
    $LastManager = 'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `-Force` to ignore this message.'
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'Exit-Swarm' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when the node is the only manager' {
        BeforeAll {
            $node = Start-TestNode -Root $root -Name e1 -Ip 127.0.14.1
            $swarm = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip
        }

        It 'refuses to leave without -Force with SwarmLastManager and Docker''s message' {
            $err = Get-ErrorRecord { Exit-Swarm -Endpoint $node.Endpoint -Confirm:$false }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmLastManager*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
            $err.Exception.Message | Should -BeExactly $LastManager
        }

        It 'leaves the swarm intact after the refusal' {
            $s = Get-Swarm -Endpoint $node.Endpoint
            $s.LocalNodeState | Should -Be 'Active'
            $s.Id | Should -BeExactly $swarm.Id
            (Get-SwarmNode -Endpoint $node.Endpoint -Self).IsLeader | Should -BeTrue
            Join-Path $node.DataRoot 'node.json' | Should -Exist
        }

        It 'does nothing with -WhatIf' {
            $result = Exit-Swarm -Endpoint $node.Endpoint -Force -WhatIf
            $result | Should -BeNullOrEmpty
            (Get-Swarm -Endpoint $node.Endpoint).Id | Should -BeExactly $swarm.Id
            Test-TcpPort -Address 127.0.14.1 | Should -BeTrue
        }

        It 'does nothing with -Force under $WhatIfPreference' {
            $WhatIfPreference = $true
            try { $result = Exit-Swarm -Endpoint $node.Endpoint -Force }
            finally { $WhatIfPreference = $false }
            $result | Should -BeNullOrEmpty
            (Get-Swarm -Endpoint $node.Endpoint).Id | Should -BeExactly $swarm.Id
        }

        It 'still asks with -Force and an explicit -Confirm (here: a non-interactive host refuses the prompt)' {
            if ([Environment]::GetCommandLineArgs() -notcontains '-NonInteractive') {
                Set-ItResult -Skipped -Because 'the prompt is only observable as an error in a non-interactive host'
                return
            }
            { Exit-Swarm -Endpoint $node.Endpoint -Force -Confirm } | Should -Throw '*NonInteractive*'
            (Get-Swarm -Endpoint $node.Endpoint).Id | Should -BeExactly $swarm.Id
        }

        It 'leaves with -Force alone, without a prompt, returning nothing and saying so with -Verbose' {
            $all = @(Exit-Swarm -Endpoint $node.Endpoint -Force -Verbose 4>&1)
            $result = @($all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
            $result | Should -BeNullOrEmpty
            $verbose = @($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
            $verbose -like '*"Leave the swarm (force)" on target "*-Force: not confirmed*' | Should -HaveCount 1 -Because ($verbose -join '; ')
            $s = Get-Swarm -Endpoint $node.Endpoint
            $s.LocalNodeState | Should -Be ([PSSwarm.LocalNodeState]::Inactive)
            $s.IsManager | Should -BeFalse
            $s.Id | Should -BeNullOrEmpty
        }

        It 'stops listening on 2377 after leaving' {
            Wait-Until -TimeoutSeconds 5 -Because 'the listener to close' -Condition { -not (Test-TcpPort -Address 127.0.14.1) } |
                Should -BeTrue
        }

        It 'makes Get-SwarmNode fail with SwarmNotManager after leaving' {
            $err = Get-ErrorRecord { Get-SwarmNode -Endpoint $node.Endpoint }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNotManager*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
            $err.Exception.Message | Should -BeExactly $NotManager
        }

        It 'lets the node initialise a new swarm with a new ID' {
            $again = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip
            $again.LocalNodeState | Should -Be 'Active'
            $again.Id | Should -MatchExactly '^[0-9a-z]{25}$'
            $again.Id | Should -Not -Be $swarm.Id
        }
    }

    Context 'when the node leaves right after each of several inits' {
        BeforeAll {
            $cycler = Start-TestNode -Root $root -Name e3 -Ip 127.0.14.7
        }

        It 'leaves cleanly every time (10 init/leave cycles)' {
            $ids = foreach ($i in 1..10) {
                $info = Initialize-Swarm -Endpoint $cycler.Endpoint -ListenAddress $cycler.Listen -AdvertiseAddress $cycler.Ip
                Exit-Swarm -Endpoint $cycler.Endpoint -Force -Confirm:$false
                (Get-Swarm -Endpoint $cycler.Endpoint).LocalNodeState | Should -Be 'Inactive' -Because "cycle $i must end Inactive"
                $info.Id
            }
            @($ids | Sort-Object -Unique).Count | Should -Be 10
        }
    }

    Context 'when the node is not in a swarm' {
        BeforeAll {
            $idle = Start-TestNode -Root $root -Name e2 -Ip 127.0.14.2
        }

        It 'fails with SwarmNotActive <Label>' -ForEach @(
            @{ Label = 'without -Force'; Force = $false }
            @{ Label = 'with -Force'; Force = $true }
        ) {
            $err = Get-ErrorRecord { Exit-Swarm -Endpoint $idle.Endpoint -Force:$Force -Confirm:$false }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNotActive*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
            $err.Exception.Message | Should -BeExactly 'This node is not part of a swarm'
        }

        It 'is available as Leave-Swarm' {
            $alias = Get-Alias -Name Leave-Swarm -ErrorAction Stop
            $alias.ResolvedCommandName | Should -Be 'Exit-Swarm'
            $alias.ModuleName | Should -Be 'PSSwarm'
            $err = Get-ErrorRecord { Leave-Swarm -Endpoint $idle.Endpoint -Confirm:$false }
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNotActive*'
        }
    }
}

Describe 'Get-Swarm' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    BeforeAll {
        $idle = Start-TestNode -Root $root -Name g1 -Ip 127.0.14.3
    }

    It 'describes an Inactive node' {
        $result = @(Get-Swarm -Endpoint $idle.Endpoint)
        $result.Count | Should -Be 1
        $result[0].PSTypeNames[0] | Should -Be 'PSSwarm.SwarmInfo'
        $result[0].LocalNodeState | Should -Be ([PSSwarm.LocalNodeState]::Inactive)
        $result[0].IsManager | Should -BeFalse
        $result[0].Id | Should -BeNullOrEmpty
        $result[0].NodeId | Should -BeNullOrEmpty
        $result[0].JoinTokens | Should -BeNullOrEmpty
        $result[0].RootCACertificate | Should -BeNullOrEmpty
    }
}

Describe 'Get-SwarmNode' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    BeforeAll {
        $node = Start-TestNode -Root $root -Name n1 -Ip 127.0.14.4
        $swarm = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip
        $nodeId = $swarm.NodeId
    }

    Context 'when nodes are listed or selected' {
        It 'lists the one node without parameters' {
            $all = @(Get-SwarmNode -Endpoint $node.Endpoint)
            $all.Count | Should -Be 1
            $all[0].PSTypeNames[0] | Should -Be 'PSSwarm.SwarmNode'
            $all[0].Id | Should -BeExactly $nodeId
            $all[0].Hostname | Should -Be 'n1'
            $all[0].Labels | Should -BeOfType ([hashtable])
        }

        It 'returns this node with -Self' {
            $self = @(Get-SwarmNode -Endpoint $node.Endpoint -Self)
            $self.Count | Should -Be 1
            $self[0].Id | Should -BeExactly $nodeId
        }

        It 'finds the node by <Label>' -ForEach @(
            @{ Label = 'hostname'; Key = 'n1' }
            @{ Label = 'full ID'; Key = '<full>' }
            @{ Label = 'unique ID prefix'; Key = '<prefix>' }
        ) {
            $lookup = switch ($Key) { '<full>' { $nodeId } '<prefix>' { $nodeId.Substring(0, 6) } default { $Key } }
            $found = @(Get-SwarmNode -Endpoint $node.Endpoint -Id $lookup)
            $found.Count | Should -Be 1
            $found[0].Id | Should -BeExactly $nodeId
        }

        It 'takes -Id by position' {
            (Get-SwarmNode -Endpoint $node.Endpoint n1).Id | Should -BeExactly $nodeId
        }

        It 'returns the manager with -Role Manager and nothing with -Role Worker' {
            $managers = @(Get-SwarmNode -Endpoint $node.Endpoint -Role Manager)
            $managers.Count | Should -Be 1
            $managers[0].Id | Should -BeExactly $nodeId
            $workers = @(Get-SwarmNode -Endpoint $node.Endpoint -Role Worker -ErrorVariable roleErrors)
            $workers.Count | Should -Be 0
            $roleErrors.Count | Should -Be 0
        }
    }

    Context 'when an ID is unknown' {
        It 'writes a non-terminating ObjectNotFound error "node xyz not found"' {
            $result = @(Get-SwarmNode -Endpoint $node.Endpoint -Id xyz -ErrorAction SilentlyContinue -ErrorVariable lookupErrors)
            $result.Count | Should -Be 0
            $lookupErrors.Count | Should -Be 1
            $lookupErrors[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ObjectNotFound)
            $lookupErrors[0].Exception.Message | Should -BeExactly 'node xyz not found'
        }

        It 'still returns the other nodes asked for' {
            $result = @(Get-SwarmNode -Endpoint $node.Endpoint -Id 'xyz', $nodeId -ErrorAction SilentlyContinue -ErrorVariable lookupErrors)
            $result.Count | Should -Be 1
            $result[0].Id | Should -BeExactly $nodeId
            $lookupErrors.Count | Should -Be 1
        }

        It 'does not stop the pipeline under the default ErrorAction' {
            # Should -Not -Throw would turn the non-terminating error into a terminating one.
            $ErrorActionPreference = 'Continue'
            $reached = $false
            Get-SwarmNode -Endpoint $node.Endpoint -Id xyz 2>$null
            $reached = $true
            $reached | Should -BeTrue
        }
    }
}

Describe 'Get-SwarmNetwork' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    BeforeAll {
        $node = Start-TestNode -Root $root -Name w1 -Ip 127.0.14.5
        $null = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip
        $ingress = @(Get-SwarmNetwork -Endpoint $node.Endpoint)
        $idle = Start-TestNode -Root $root -Name w2 -Ip 127.0.14.6
    }

    It 'lists only the ingress network on a new swarm' {
        $ingress.Count | Should -Be 1
        $ingress[0].Name | Should -BeExactly 'ingress'
    }

    It 'finds the network by <Label>' -ForEach @(
        @{ Label = 'name'; Name = 'ingress' }
        @{ Label = 'a trailing wildcard'; Name = 'ing*' }
        @{ Label = 'a leading wildcard'; Name = '*gress' }
    ) {
        $found = @(Get-SwarmNetwork -Endpoint $node.Endpoint -Name $Name)
        $found.Count | Should -Be 1
        $found[0].Id | Should -BeExactly $ingress[0].Id
        $found[0].Subnet | Should -Be '10.0.0.0/24'
    }

    It 'takes -Name by position' {
        (Get-SwarmNetwork -Endpoint $node.Endpoint ingress).Id | Should -BeExactly $ingress[0].Id
    }

    It 'writes an ObjectNotFound error for an unknown name' {
        $result = @(Get-SwarmNetwork -Endpoint $node.Endpoint -Name nope -ErrorAction SilentlyContinue -ErrorVariable netErrors)
        $result.Count | Should -Be 0
        $netErrors.Count | Should -Be 1
        $netErrors[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ObjectNotFound)
        $netErrors[0].Exception.Message | Should -BeLike '*nope*'
    }

    It 'returns nothing and no error for a wildcard that matches nothing' {
        $result = @(Get-SwarmNetwork -Endpoint $node.Endpoint -Name 'zz*' -ErrorVariable netErrors)
        $result.Count | Should -Be 0
        $netErrors.Count | Should -Be 0
    }

    It 'fails with SwarmNotManager on a node outside any swarm' {
        $err = Get-ErrorRecord { Get-SwarmNetwork -Endpoint $idle.Endpoint }
        $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNotManager*'
        $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
        $err.Exception.Message | Should -BeExactly $NotManager
    }
}
