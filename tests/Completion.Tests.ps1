#Requires -Version 7.4
# Argument completion (TabExpansion2, as the console's Tab key asks for it): -Id from the nodes the
# selected daemon lists, -Endpoint from the local psswarmd processes, -Role from its values; a daemon
# that does not answer completes nothing, quickly.
# Loopback addresses: 127.0.50.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
    $null = Import-PSSwarmUnderTest
    $root = New-TestRoot -Name completion
    $m1 = Start-TestNode -Root $root -Name m1 -Ip 127.0.50.1
    $null = Initialize-Swarm -Endpoint $m1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip -ErrorAction Stop
    $w1 = Start-TestNode -Root $root -Name worker-one -Ip 127.0.50.2
    $w1Node = Join-TestNode -Manager $m1 -Node $w1 -Role Worker
    $m1Node = Get-SwarmNode -Endpoint $m1.Endpoint -Self -ErrorAction Stop

    # What Tab offers at the end of the line.
    function Get-Completion([string] $Line) {
        $r = TabExpansion2 -inputScript $Line -cursorColumn $Line.Length
        @($r.CompletionMatches | ForEach-Object CompletionText)
    }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'Completion of -Id' {
    It 'offers every node''s hostname and ID from the daemon named by -Endpoint' {
        $offered = Get-Completion "Get-SwarmNode -Endpoint $($m1.Endpoint) -Id "
        $offered | Should -Contain 'm1'
        $offered | Should -Contain 'worker-one'
        $offered | Should -Contain $m1Node.Id
        $offered | Should -Contain $w1Node.Id
    }

    It 'offers only what starts with the typed text' {
        $offered = Get-Completion "Set-SwarmNode -Endpoint $($m1.Endpoint) -Id work"
        $offered | Should -Be @('worker-one')
    }

    It 'completes an ID prefix to the whole ID' {
        $offered = Get-Completion "Remove-SwarmNode -Endpoint $($m1.Endpoint) -Id $($w1Node.Id.Substring(0, 6))"
        $offered | Should -Contain $w1Node.Id
        $offered | Should -Not -Contain $m1Node.Id
    }

    It 'uses $env:PSSWARM_HOST when -Endpoint is not given' {
        $saved = $env:PSSWARM_HOST
        try {
            $env:PSSWARM_HOST = $m1.Endpoint
            Get-Completion 'Get-SwarmNode -Id worker' | Should -Be @('worker-one')
        }
        finally { $env:PSSWARM_HOST = $saved }
    }

    It 'offers nothing, within 3 s, when the daemon does not answer or is a worker' {
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        Get-Completion "Get-SwarmNode -Endpoint unix://$root/nobody.sock -Id " | Should -BeNullOrEmpty
        Get-Completion "Get-SwarmNode -Endpoint $($w1.Endpoint) -Id " | Should -BeNullOrEmpty
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 3
    }
}

Describe 'Completion of -Endpoint and -Role' {
    It 'offers the control sockets of the psswarmd processes running here' {
        $offered = Get-Completion 'Get-Swarm -Endpoint '
        $offered | Should -Contain $m1.Endpoint
        $offered | Should -Contain $w1.Endpoint
    }

    It 'filters the sockets by what was typed' {
        $offered = Get-Completion "Get-Swarm -Endpoint unix://$root/work"
        $offered | Should -Contain $w1.Endpoint
        $offered | Should -Not -Contain $m1.Endpoint
    }

    It 'offers Worker and Manager for -Role' {
        $offered = Get-Completion 'Get-SwarmJoinToken -Role '
        $offered | Should -Contain 'Worker'
        $offered | Should -Contain 'Manager'
    }
}
