#Requires -Version 7.4
# Test-Swarm: preflight on a node outside a swarm (daemon, data root, addresses, port, clock against a
# manager) and health on members (quorum, Down nodes, certificate, a locked state is not needed here),
# -Quiet, and a daemon that does not answer reported as a failed check.
# Loopback addresses: 127.0.51.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
    $null = Import-PSSwarmUnderTest
    $root = New-TestRoot -Name testswarm
    $nodes = Start-TestSwarm -Root $root -IpPrefix 127.0.51
    $m1 = $nodes.m1; $m2 = $nodes.m2; $w1 = $nodes.w1; $o1 = $nodes.o1

    function Get-Check([object[]] $Checks, [string] $Name) { @($Checks | Where-Object Name -eq $Name) }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'Test-Swarm before a join' {
    BeforeAll { $checks = @(Test-Swarm -Endpoint $o1.Endpoint -ListenAddress $o1.Listen -AdvertiseAddress $o1.Ip -RemoteAddress $m1.Listen -ErrorAction Stop) }

    It 'outputs PSSwarm.SwarmCheck objects with a Name, a Result and a Message' {
        $checks.Count | Should -BeGreaterThan 3
        foreach ($c in $checks) {
            $c.PSObject.TypeNames[0] | Should -Be 'PSSwarm.SwarmCheck'
            $c.Result | Should -BeOfType ([PSSwarm.SwarmCheckResult])
            $c.Message | Should -Not -BeNullOrEmpty
        }
    }

    It 'passes the daemon, the data root, the addresses and the clock against the manager' {
        foreach ($name in 'Daemon', 'DataRoot', 'AdvertiseAddress', 'ListenAddress', 'Clock') {
            $c = Get-Check $checks $name
            $c | Should -HaveCount 1 -Because "one $name check in: $(($checks | ForEach-Object Name) -join ', ')"
            "$($c[0].Result)" | Should -Be 'Pass' -Because $c[0].Message
        }
        (Get-Check $checks 'AdvertiseAddress')[0].Message | Should -BeLike "*$($o1.Ip):2377*"
    }

    It 'fails the listen address when the port is taken, saying what to do' {
        $c = Get-Check @(Test-Swarm -Endpoint $o1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip) 'ListenAddress'
        "$($c[0].Result)" | Should -Be 'Fail'
        $c[0].Message | Should -BeLike "*$($m1.Listen)*-ListenAddress*"
    }

    It 'fails an advertise address that cannot be resolved' {
        $c = Get-Check @(Test-Swarm -Endpoint $o1.Endpoint -AdvertiseAddress 'no-such-interface0') 'AdvertiseAddress'
        "$($c[0].Result)" | Should -Be 'Fail'
    }

    It 'takes a manager address without a port as port 2377, as Join-Swarm does' {
        $c = Get-Check @(Test-Swarm -Endpoint $o1.Endpoint -ListenAddress $o1.Listen -AdvertiseAddress $o1.Ip -RemoteAddress $m1.Ip) 'Clock'
        "$($c[0].Result)" | Should -Be 'Pass' -Because $c[0].Message
    }

    It 'warns about a malformed manager address without losing the other checks' {
        $checks = @(Test-Swarm -Endpoint $o1.Endpoint -ListenAddress $o1.Listen -AdvertiseAddress $o1.Ip -RemoteAddress 'not an address')
        "$((Get-Check $checks 'Clock')[0].Result)" | Should -Not -Be 'Pass'
        "$((Get-Check $checks 'DataRoot')[0].Result)" | Should -Be 'Pass'
    }

    It 'warns when no manager answers for the clock' {
        $c = Get-Check @(Test-Swarm -Endpoint $o1.Endpoint -ListenAddress $o1.Listen -AdvertiseAddress $o1.Ip -RemoteAddress '127.0.51.99:2377') 'Clock'
        "$($c[0].Result)" | Should -Be 'Warn'
    }

    It 'shows progress while a join waits on a manager that does not answer (then joins through the next one)' {
        # A TCP port that completes the handshake and never answers TLS: the join's CA fetch waits for it.
        $silent = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Parse('127.0.51.50'), 2377)
        $silent.Start()
        try {
            $token = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker -Quiet -ErrorAction Stop
            $ps = [powershell]::Create()
            $null = $ps.AddCommand('Import-Module').AddParameter('Name', (Get-Module PSSwarm).Path).AddStatement().
                AddCommand('Join-Swarm').AddParameter('Endpoint', $o1.Endpoint).AddParameter('Token', $token).
                AddParameter('RemoteAddress', @('127.0.51.50:2377', $m1.Listen)).AddParameter('ListenAddress', $o1.Listen).AddParameter('AdvertiseAddress', $o1.Ip)
            $joined = @($ps.Invoke())
            $progress = @($ps.Streams.Progress)
            $errors = @($ps.Streams.Error)
            $ps.Dispose()
        }
        finally { $silent.Stop() }
        $errors | Should -HaveCount 0 -Because ($errors -join '; ')
        $joined | Should -HaveCount 1
        $shown = @($progress | Where-Object { $_.Activity -eq 'Join-Swarm' -and $_.StatusDescription -like "Waiting for the daemon at $($o1.Endpoint)*" })
        $shown.Count | Should -BeGreaterThan 0 -Because (($progress | ForEach-Object { "$($_.Activity): $($_.StatusDescription)" }) -join ' | ')
        $progress[-1].RecordType | Should -Be 'Completed'
    }

    It 'reports a daemon that does not answer as a failed check, and -Quiet as $false' {
        $c = @(Test-Swarm -Endpoint "unix://$root/nobody.sock")
        $c | Should -HaveCount 1
        $c[0].Name | Should -Be 'Daemon'
        "$($c[0].Result)" | Should -Be 'Fail'
        $c[0].Message | Should -BeLike "*(there is no socket at $root/nobody.sock)"
        Test-Swarm -Endpoint "unix://$root/nobody.sock" -Quiet | Should -BeFalse
    }
}

Describe 'Test-Swarm on members' {
    It 'passes a healthy manager: quorum, certificate, clock, no node down' {
        $checks = @(Test-Swarm -Endpoint $m1.Endpoint)
        foreach ($name in 'SwarmState', 'Certificate', 'Quorum', 'NodesDown', 'Clock', 'JoinTokens') {
            $c = Get-Check $checks $name
            $c | Should -HaveCount 1 -Because "one $name check in: $(($checks | ForEach-Object Name) -join ', ')"
            "$($c[0].Result)" | Should -Be 'Pass' -Because $c[0].Message
        }
        Test-Swarm -Endpoint $m1.Endpoint -Quiet | Should -BeTrue
    }

    It 'says the join tokens are young, and never shows a token in a check' {
        $checks = @(Test-Swarm -Endpoint $m1.Endpoint)
        (Get-Check $checks 'JoinTokens')[0].Message | Should -BeLike '*younger than 6 months*'
        $tokens = (Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker).Token, (Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Manager).Token
        foreach ($t in $tokens) { ($checks.Message -join "`n") | Should -Not -BeLike "*$(($t -split '-')[-1])*" }
    }

    It 'warns about an even number of managers' {
        $c = Get-Check @(Test-Swarm -Endpoint $m1.Endpoint) 'ManagerCount'
        "$($c[0].Result)" | Should -Be 'Warn'
    }

    It 'checks a worker''s own certificate, without the managers-only checks' {
        $checks = @(Test-Swarm -Endpoint $w1.Endpoint)
        "$((Get-Check $checks 'Certificate')[0].Result)" | Should -Be 'Pass'
        Get-Check $checks 'Quorum' | Should -HaveCount 0
    }

    Context 'when the worker is stopped' {
        BeforeAll {
            Stop-TestNode $w1
            $null = Wait-NodeView -Manager $m1 -Id w1 -TimeoutSeconds 25 -Because 'w1 to be Down' -Condition { param($v) "$($v.Status)" -eq 'Down' }
        }

        It 'warns that a node is Down, naming it, and -Quiet stays $true' {
            $c = Get-Check @(Test-Swarm -Endpoint $m1.Endpoint) 'NodesDown'
            "$($c[0].Result)" | Should -Be 'Warn' -Because $c[0].Message
            $c[0].Message | Should -BeLike '*w1*Remove-SwarmNode*'
            Test-Swarm -Endpoint $m1.Endpoint -Quiet | Should -BeTrue
        }
    }

    Context 'when the second manager is stopped too' {
        BeforeAll { Stop-TestNode $m2 }

        It 'fails the quorum (one of two managers), saying how to recover' {
            # Until the leader's heartbeats to m2 fail it still counts m2: within a few seconds.
            $c = Wait-Until -TimeoutSeconds 15 -IntervalMilliseconds 250 -Because 'the quorum check to fail' -Condition {
                $q = Get-Check @(Test-Swarm -Endpoint $m1.Endpoint) 'Quorum'
                if ("$($q[0].Result)" -eq 'Fail') { ,$q }
            }
            "$($c[0].Result)" | Should -Be 'Fail' -Because $c[0].Message
            $c[0].Message | Should -BeLike '*ForceNewCluster*'
            Test-Swarm -Endpoint $m1.Endpoint -Quiet | Should -BeFalse
        }
    }
}
