#Requires -Version 7.4
# Get-SwarmJoinToken and Update-SwarmJoinToken on a single manager.
# Loopback addresses: 127.0.12.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name token
    $TokenPattern = '^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$'

    $manager = Start-TestNode -Root $root -Name m1 -Ip 127.0.12.1
    $swarm = Initialize-Swarm -Endpoint $manager.Endpoint -ListenAddress $manager.Listen -AdvertiseAddress $manager.Ip
    $digest = Get-JoinTokenDigest -RootCertificate $swarm.RootCACertificate
    $inactive = Start-TestNode -Root $root -Name m2 -Ip 127.0.12.2

    # The current tokens of the manager, by role.
    function Get-CurrentTokens {
        $s = Get-Swarm -Endpoint $manager.Endpoint
        @{ Worker = $s.JoinTokens.Worker.Token; Manager = $s.JoinTokens.Manager.Token }
    }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'Get-SwarmJoinToken' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when the node is a manager' {
        It 'returns the <Role> token as a PSSwarm.SwarmJoinToken' -ForEach @(
            @{ Role = 'Worker' }
            @{ Role = 'Manager' }
        ) {
            $result = @(Get-SwarmJoinToken -Endpoint $manager.Endpoint -Role $Role)
            $result.Count | Should -Be 1
            $t = $result[0]
            $t.PSTypeNames[0] | Should -Be 'PSSwarm.SwarmJoinToken'
            $t.Role | Should -Be ([PSSwarm.NodeRole]$Role)
            $t.Token | Should -MatchExactly $TokenPattern
            $t.Token | Should -BeExactly $swarm.JoinTokens.$Role.Token
            (Split-JoinToken $t.Token).Digest | Should -BeExactly $digest
            , $t.RemoteAddress | Should -BeOfType ([string[]])
            $t.RemoteAddress | Should -Contain '127.0.12.1:2377'
            $t.JoinCommand | Should -BeLike "Join-Swarm -Token $($t.Token)*"
            $t.JoinCommand | Should -BeLike '*127.0.12.1:2377*'
        }

        It 'gives a <Role> JoinCommand that is a valid Join-Swarm command line' -ForEach @(
            @{ Role = 'Worker' }
            @{ Role = 'Manager' }
        ) {
            $t = Get-SwarmJoinToken -Endpoint $manager.Endpoint -Role $Role
            $tokens = $null; $parseErrors = $null
            $ast = [System.Management.Automation.Language.Parser]::ParseInput($t.JoinCommand, [ref]$tokens, [ref]$parseErrors)
            $parseErrors | Should -BeNullOrEmpty
            $commands = @($ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.CommandAst] }, $true))
            $commands.Count | Should -Be 1
            $commands[0].GetCommandName() | Should -Be 'Join-Swarm'
            $bound = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($commands[0], $false)
            $bound.BoundParameters['Token'].ConstantValue | Should -BeExactly $t.Token
            "$($bound.BoundParameters['RemoteAddress'].Value.Extent.Text)" | Should -BeLike '*127.0.12.1:2377*'
        }

        It 'returns only the <Role> token as a string with -Quiet' -ForEach @(
            @{ Role = 'Worker' }
            @{ Role = 'Manager' }
        ) {
            $result = @(Get-SwarmJoinToken -Endpoint $manager.Endpoint -Role $Role -Quiet)
            $result.Count | Should -Be 1
            $result[0] | Should -BeOfType ([string])
            $result[0] | Should -BeExactly $swarm.JoinTokens.$Role.Token
        }

        It 'returns the same tokens on repeated calls' {
            $first = Get-SwarmJoinToken -Endpoint $manager.Endpoint -Role Worker -Quiet
            $again = 1..5 | ForEach-Object { Get-SwarmJoinToken -Endpoint $manager.Endpoint -Role Worker -Quiet }
            $again.Count | Should -Be 5
            @($again | Sort-Object -Unique) | Should -BeExactly $first
            Get-SwarmJoinToken -Endpoint $manager.Endpoint -Role Manager -Quiet |
                Should -BeExactly (Get-SwarmJoinToken -Endpoint $manager.Endpoint -Role Manager -Quiet)
        }

        It 'gives different worker and manager tokens that share the digest' {
            $w = Get-SwarmJoinToken -Endpoint $manager.Endpoint -Role Worker -Quiet
            $m = Get-SwarmJoinToken -Endpoint $manager.Endpoint -Role Manager -Quiet
            $w | Should -Not -Be $m
            (Split-JoinToken $w).Digest | Should -BeExactly (Split-JoinToken $m).Digest
            (Split-JoinToken $w).Secret | Should -Not -Be (Split-JoinToken $m).Secret
        }

        It 'takes -Role by position and in any case' {
            Get-SwarmJoinToken -Endpoint $manager.Endpoint worker -Quiet | Should -BeExactly $swarm.JoinTokens.Worker.Token
            Get-SwarmJoinToken -Endpoint $manager.Endpoint MANAGER -Quiet | Should -BeExactly $swarm.JoinTokens.Manager.Token
        }

        It 'makes -Role mandatory' {
            $parameter = (Get-Command Get-SwarmJoinToken).Parameters['Role']
            @($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.Mandatory }).Count |
                Should -BeGreaterThan 0
        }

        It 'rejects a role other than Worker or Manager at parameter binding' {
            { Get-SwarmJoinToken -Endpoint $manager.Endpoint -Role Admin } |
                Should -Throw -ExceptionType ([System.Management.Automation.ParameterBindingException])
        }
    }

    Context 'when the node is not in a swarm' {
        It 'fails with SwarmNotManager (InvalidOperation)' {
            $err = Get-ErrorRecord { Get-SwarmJoinToken -Endpoint $inactive.Endpoint -Role Worker }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNotManager*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
            $err.Exception.Message | Should -BeExactly 'This node is not a swarm manager. Use Initialize-Swarm or Join-Swarm to connect this node to swarm and try again.'
        }
    }
}

Describe 'Update-SwarmJoinToken' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when the <Role> token is rotated' -ForEach @(
        @{ Role = 'Worker'; Other = 'Manager' }
        @{ Role = 'Manager'; Other = 'Worker' }
    ) {
        BeforeAll {
            $before = Get-CurrentTokens
            $result = @(Update-SwarmJoinToken -Endpoint $manager.Endpoint -Role $Role)
            $after = Get-CurrentTokens
        }

        It 'returns the new <Role> token as a PSSwarm.SwarmJoinToken' {
            $result.Count | Should -Be 1
            $result[0].PSTypeNames[0] | Should -Be 'PSSwarm.SwarmJoinToken'
            $result[0].Role | Should -Be ([PSSwarm.NodeRole]$Role)
            $result[0].Token | Should -MatchExactly $TokenPattern
            $result[0].Token | Should -Not -Be $before.$Role
            $result[0].RemoteAddress | Should -Contain '127.0.12.1:2377'
            $result[0].JoinCommand | Should -BeLike "Join-Swarm -Token $($result[0].Token)*"
        }

        It 'keeps the digest and changes the secret' {
            $old = Split-JoinToken $before.$Role
            $new = Split-JoinToken $result[0].Token
            $new.Digest | Should -BeExactly $old.Digest
            $new.Digest | Should -BeExactly $digest
            $new.Secret | Should -Not -Be $old.Secret
        }

        It 'makes the new token the current one' {
            $after.$Role | Should -BeExactly $result[0].Token
            Get-SwarmJoinToken -Endpoint $manager.Endpoint -Role $Role -Quiet | Should -BeExactly $result[0].Token
        }

        It 'leaves the <Other> token unchanged' {
            $after.$Other | Should -BeExactly $before.$Other
        }
    }

    Context 'when -Quiet is given' {
        It 'returns the new token as a string' {
            $before = Get-CurrentTokens
            $result = @(Update-SwarmJoinToken -Endpoint $manager.Endpoint -Role Worker -Quiet)
            $result.Count | Should -Be 1
            $result[0] | Should -BeOfType ([string])
            $result[0] | Should -MatchExactly $TokenPattern
            $result[0] | Should -Not -Be $before.Worker
            (Get-CurrentTokens).Worker | Should -BeExactly $result[0]
        }
    }

    Context 'when -WhatIf is given' {
        It 'changes neither token and returns nothing' {
            $before = Get-CurrentTokens
            $result = Update-SwarmJoinToken -Endpoint $manager.Endpoint -Role Worker -WhatIf
            $result2 = Update-SwarmJoinToken -Endpoint $manager.Endpoint -Role Manager -WhatIf
            $result | Should -BeNullOrEmpty
            $result2 | Should -BeNullOrEmpty
            $after = Get-CurrentTokens
            $after.Worker | Should -BeExactly $before.Worker
            $after.Manager | Should -BeExactly $before.Manager
        }
    }

    Context 'when a token is rotated 100 times' {
        BeforeAll {
            $managerBefore = (Get-CurrentTokens).Manager
            $tokens = @(1..100 | ForEach-Object { Update-SwarmJoinToken -Endpoint $manager.Endpoint -Role Worker -Quiet })
        }

        It 'gives 100 distinct well-formed tokens with the same digest' {
            $tokens.Count | Should -Be 100
            @($tokens | Sort-Object -Unique).Count | Should -Be 100
            @($tokens | Where-Object { $_ -cnotmatch $TokenPattern }).Count | Should -Be 0
            $digests = @($tokens | ForEach-Object { (Split-JoinToken $_).Digest } | Sort-Object -Unique)
            $digests.Count | Should -Be 1
            $digests[0] | Should -BeExactly $digest
        }

        It 'leaves the last one current and the manager token unchanged' {
            $current = Get-CurrentTokens
            $current.Worker | Should -BeExactly $tokens[-1]
            $current.Manager | Should -BeExactly $managerBefore
        }
    }

    Context 'when -Role is missing or invalid' {
        It 'makes -Role mandatory' {
            $parameter = (Get-Command Update-SwarmJoinToken).Parameters['Role']
            @($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.Mandatory }).Count |
                Should -BeGreaterThan 0
        }

        It 'rejects a role other than Worker or Manager at parameter binding' {
            $before = Get-CurrentTokens
            { Update-SwarmJoinToken -Endpoint $manager.Endpoint -Role Admin } |
                Should -Throw -ExceptionType ([System.Management.Automation.ParameterBindingException])
            $after = Get-CurrentTokens
            $after.Worker | Should -BeExactly $before.Worker
            $after.Manager | Should -BeExactly $before.Manager
        }
    }

    Context 'when the node is not in a swarm' {
        It 'fails with SwarmNotManager (InvalidOperation)' {
            $err = Get-ErrorRecord { Update-SwarmJoinToken -Endpoint $inactive.Endpoint -Role Worker }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNotManager*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
            $err.Exception.Message | Should -BeExactly 'This node is not a swarm manager. Use Initialize-Swarm or Join-Swarm to connect this node to swarm and try again.'
            (Get-Swarm -Endpoint $inactive.Endpoint).LocalNodeState | Should -Be 'Inactive'
        }
    }
}
