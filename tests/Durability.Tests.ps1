#Requires -Version 7.4
# State in the data root survives daemon restarts (clean stop and kill -9); a corrupt node.json is
# reported and recoverable; leaving clears the state. Loopback addresses: 127.0.13.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name durable

    # Ends the node's daemon: cleanly (Stop-SwarmDaemon) or with SIGKILL.
    function Stop-NodeHard([object] $Node, [string] $How) {
        if ($How -eq 'kill -9') {
            & kill -9 $Node.Pid
        }
        else {
            Stop-SwarmDaemon -Endpoint $Node.Endpoint
        }
        if (-not (Wait-ProcessExit -ProcessId $Node.Pid -TimeoutMilliseconds 10000)) { throw "psswarmd $($Node.Pid) did not exit after $How" }
    }

    # Waits (up to 10 s) until the node reports LocalNodeState Active; returns Get-Swarm's answer or $null.
    function Wait-SwarmActive([object] $Node) {
        try {
            Wait-Until -TimeoutSeconds 10 -Because "$($Node.Name) to be Active again" -Condition {
                $s = Get-Swarm -Endpoint $Node.Endpoint -ErrorAction Stop
                if ($s.LocalNodeState -eq 'Active') { $s }
            }
        }
        catch { $null }
    }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'A manager restarted on the same data root' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when it was stopped with <How>' -ForEach @(
        @{ How = 'Stop-SwarmDaemon'; Name = 'r1'; Ip = '127.0.13.1' }
        @{ How = 'kill -9'; Name = 'r2'; Ip = '127.0.13.2' }
    ) {
        BeforeAll {
            $node = Start-TestNode -Root $root -Name $Name -Ip $Ip
            $null = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip `
                -CertExpiry '2.00:00:00' -DispatcherHeartbeat '00:00:07'
            $rotatedWorker = Update-SwarmJoinToken -Endpoint $node.Endpoint -Role Worker -Quiet
            $before = Get-Swarm -Endpoint $node.Endpoint
            $beforeNet = Get-SwarmNetwork -Endpoint $node.Endpoint -Name ingress

            Stop-NodeHard $node $How
            $restarted = Start-TestNode -Root $root -Name $Name -Ip $Ip
            $after = Wait-SwarmActive $restarted
        }

        It 'comes back Active within 10 seconds without any cmdlet call' {
            $restarted.Pid | Should -Not -Be $node.Pid
            $after | Should -Not -BeNullOrEmpty -Because 'Get-Swarm must report LocalNodeState Active again'
            $after.LocalNodeState | Should -Be 'Active'
        }

        It 'keeps the swarm ID, node ID, role and address' {
            $after.Id | Should -BeExactly $before.Id
            $after.NodeId | Should -BeExactly $before.NodeId
            $after.IsManager | Should -BeTrue
            $after.NodeAddress | Should -Be $Ip
            $after.Managers | Should -Be 1
            $after.Nodes | Should -Be 1
        }

        It 'keeps both join tokens, including the rotated worker token' {
            $after.JoinTokens.Worker.Token | Should -BeExactly $rotatedWorker
            $after.JoinTokens.Worker.Token | Should -BeExactly $before.JoinTokens.Worker.Token
            $after.JoinTokens.Manager.Token | Should -BeExactly $before.JoinTokens.Manager.Token
            Get-SwarmJoinToken -Endpoint $restarted.Endpoint -Role Worker -Quiet | Should -BeExactly $rotatedWorker
        }

        It 'keeps the root CA and the swarm settings' {
            $after.RootCACertificate.Thumbprint | Should -Be $before.RootCACertificate.Thumbprint
            $after.CertExpiry | Should -Be ([TimeSpan]::FromDays(2))
            $after.DispatcherHeartbeat | Should -Be ([TimeSpan]::FromSeconds(7))
        }

        It 'shows the node as the Ready leader within a few seconds' {
            $self = Wait-Until -TimeoutSeconds 10 -Because 'the node to be the Ready leader' -Condition {
                $n = Get-SwarmNode -Endpoint $restarted.Endpoint -Self -ErrorAction Stop
                if ($n.Status -eq 'Ready' -and $n.IsLeader) { $n }
            }
            $self.Id | Should -BeExactly $before.NodeId
            $self.Role | Should -Be 'Manager'
            $self.Reachability | Should -Be 'Reachable'
            $self.ManagerAddress | Should -Be "${Ip}:2377"
        }

        It 'keeps the ingress network' {
            (Get-SwarmNetwork -Endpoint $restarted.Endpoint -Name ingress).Id | Should -BeExactly $beforeNet.Id
        }

        It 'listens on 2377 again with its manager certificate' {
            $tls = Wait-Until -TimeoutSeconds 10 -Because "TLS on ${Ip}:2377" -Condition { Get-TlsServerCertificate -Address $Ip }
            Get-DistinguishedNamePart $tls.Certificate.Subject 'CN' | Should -BeExactly $before.NodeId
            Get-DistinguishedNamePart $tls.Certificate.Subject 'O' | Should -BeExactly $before.Id
            Test-CertificateChain -Certificate $tls.Certificate -Root $before.RootCACertificate | Should -BeTrue
        }
    }

    Context 'when it was killed right after 20 rotations of each token' {
        BeforeAll {
            $node = Start-TestNode -Root $root -Name r3 -Ip 127.0.13.3
            $swarm = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip
            $lastWorker = $null; $lastManager = $null
            foreach ($i in 1..20) {
                $lastWorker = Update-SwarmJoinToken -Endpoint $node.Endpoint -Role Worker -Quiet
                $lastManager = Update-SwarmJoinToken -Endpoint $node.Endpoint -Role Manager -Quiet
            }
            Stop-NodeHard $node 'kill -9'
            $restarted = Start-TestNode -Root $root -Name r3 -Ip 127.0.13.3
            $after = Wait-SwarmActive $restarted
        }

        It 'comes back with the last rotated tokens' {
            $after | Should -Not -BeNullOrEmpty -Because 'Get-Swarm must report LocalNodeState Active again'
            $after.Id | Should -BeExactly $swarm.Id
            $after.JoinTokens.Worker.Token | Should -BeExactly $lastWorker
            $after.JoinTokens.Manager.Token | Should -BeExactly $lastManager
        }
    }
}

Describe 'A node whose node.json is corrupt' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    BeforeAll {
        $node = Start-TestNode -Root $root -Name c1 -Ip 127.0.13.4
        $old = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip
        Stop-TestNode $node
        $nodeJson = Join-Path $node.DataRoot 'node.json'
        Set-Content -LiteralPath $nodeJson -Value '{ "swarmId": "broken' -NoNewline
        $corrupt = Start-TestNode -Root $root -Name c1 -Ip 127.0.13.4
        $state = Get-Swarm -Endpoint $corrupt.Endpoint
    }

    It 'reports LocalNodeState Error with a message naming the file' {
        $state.LocalNodeState | Should -Be ([PSSwarm.LocalNodeState]::Error)
        $state.Error | Should -BeLike "*$nodeJson*"
    }

    It 'keeps the daemon running and answering' {
        Start-Sleep -Milliseconds 500
        Test-ProcessAlive $corrupt.Pid | Should -BeTrue
        (Get-Swarm -Endpoint $corrupt.Endpoint).LocalNodeState | Should -Be 'Error'
    }

    It 'recovers to Inactive with Exit-Swarm -Force' {
        Exit-Swarm -Endpoint $corrupt.Endpoint -Force -Confirm:$false
        (Get-Swarm -Endpoint $corrupt.Endpoint).LocalNodeState | Should -Be 'Inactive'
        $nodeJson | Should -Not -Exist
    }

    It 'can then initialise a new swarm' {
        $new = Initialize-Swarm -Endpoint $corrupt.Endpoint -ListenAddress $corrupt.Listen -AdvertiseAddress $corrupt.Ip
        $new.LocalNodeState | Should -Be 'Active'
        $new.Id | Should -Not -Be $old.Id
    }
}

Describe 'A node that leaves its swarm' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    BeforeAll {
        $node = Start-TestNode -Root $root -Name l1 -Ip 127.0.13.5
        $first = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip
        Exit-Swarm -Endpoint $node.Endpoint -Force -Confirm:$false
    }

    It 'keeps no swarm state in the data root' {
        Join-Path $node.DataRoot 'node.json' | Should -Not -Exist
        Join-Path $node.DataRoot 'certificates' | Should -Not -Exist
        Join-Path $node.DataRoot 'raft' | Should -Not -Exist
        $node.DataRoot | Should -Exist
    }

    It 'stays Inactive after a daemon restart' {
        Stop-TestNode $node
        $script:restarted = Start-TestNode -Root $root -Name l1 -Ip 127.0.13.5
        (Get-Swarm -Endpoint $restarted.Endpoint).LocalNodeState | Should -Be 'Inactive'
        Test-TcpPort -Address 127.0.13.5 | Should -BeFalse
    }

    It 'initialises a new swarm with new IDs, a new root CA and new tokens' {
        $second = Initialize-Swarm -Endpoint $restarted.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip
        $second.Id | Should -Not -Be $first.Id
        $second.NodeId | Should -Not -Be $first.NodeId
        $second.RootCACertificate.Thumbprint | Should -Not -Be $first.RootCACertificate.Thumbprint
        $second.JoinTokens.Worker.Token | Should -Not -Be $first.JoinTokens.Worker.Token
        (Split-JoinToken $second.JoinTokens.Worker.Token).Digest | Should -Be (Get-JoinTokenDigest -RootCertificate $second.RootCACertificate)
    }
}
