#Requires -Version 7.4
# Join-Swarm: workers and managers joining a swarm, the node certificates they get, and every
# way a join is refused (token format, root CA pinning, secret, rotation, unreachable managers,
# the order of those checks), after which the node must still be Inactive.
# Loopback addresses: 127.0.20.x (port 2377).

BeforeDiscovery {
    # Tokens that Join-Swarm must refuse as malformed; each script block gets a valid worker token.
    $MalformedTokens = @(
        @{ Case = 'invalidtoken'; Make = { param($t) 'invalidtoken' } }
        @{ Case = 'a v1 token whose secret is 24 characters'; Make = { param($t) $t.Substring(0, $t.Length - 1) } }
        @{ Case = 'a v1 token whose digest is 49 characters'; Make = { param($t) $p = Split-JoinToken $t; "SWMTKN-1-$($p.Digest.Substring(1))-$($p.Secret)" } }
        @{ Case = 'SWMTKN-2 with only 4 parts'; Make = { param($t) $t -replace '^SWMTKN-1-', 'SWMTKN-2-' } }
        @{ Case = 'SWMTKN-0'; Make = { param($t) $t -replace '^SWMTKN-1-', 'SWMTKN-0-' } }
        @{ Case = 'a v1 token with a fifth part'; Make = { param($t) "$t-abc" } }
        @{ Case = 'a prefix other than SWMTKN'; Make = { param($t) $t -replace '^SWMTKN-', 'SWMTKX-' } }
        @{ Case = 'the prefix and version alone'; Make = { param($t) 'SWMTKN-1' } }
    )
}

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name join

    $IdPattern = '^[0-9a-z]{25}$'
    $AlreadyInSwarm = 'This node is already part of a swarm. Use Exit-Swarm to leave this swarm and join another one.'
    $NotManagerWorker = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager."
    $InvalidJoinToken = 'A valid join token is necessary to join this cluster'
    $DeadManager = '127.0.20.99:2377'   # nothing listens here

    $m1 = Start-TestNode -Root $root -Name m1 -Ip 127.0.20.1
    $swarm = Initialize-Swarm -Endpoint $m1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip -DispatcherHeartbeat '00:00:01'
    $w1 = Start-TestNode -Root $root -Name w1 -Ip 127.0.20.2
    $m2 = Start-TestNode -Root $root -Name m2 -Ip 127.0.20.3
    $j1 = Start-TestNode -Root $root -Name j1 -Ip 127.0.20.4   # the target of every refused join
    $j2 = Start-TestNode -Root $root -Name j2 -Ip 127.0.20.5

    # A second, separate swarm: its tokens carry another root CA's digest.
    $o1 = Start-TestNode -Root $root -Name o1 -Ip 127.0.20.9
    $otherSwarm = Initialize-Swarm -Endpoint $o1.Endpoint -ListenAddress $o1.Listen -AdvertiseAddress $o1.Ip
    $otherWorkerToken = Get-SwarmJoinToken -Role Worker -Endpoint $o1.Endpoint -Quiet

    function Get-WorkerToken { Get-SwarmJoinToken -Role Worker -Endpoint $m1.Endpoint -Quiet }

    # A join attempt of j1 against the given managers; returns the ErrorRecord (or $null) and how long it took.
    function Invoke-RefusedJoin {
        param([string] $Token, [string[]] $RemoteAddress = @($m1.Listen), [object] $Node = $j1)
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $err = Get-ErrorRecord { Join-Swarm -Endpoint $Node.Endpoint -Token $Token -RemoteAddress $RemoteAddress -ListenAddress $Node.Listen -AdvertiseAddress $Node.Ip }
        $clock.Stop()
        [pscustomobject]@{ Error = $err; Elapsed = $clock.Elapsed; Summary = Get-ErrorSummary $err }
    }

    # j1 must still be outside any swarm, with nothing bound on its listen address.
    function Assert-StillInactive {
        $info = Get-Swarm -Endpoint $j1.Endpoint
        $info.LocalNodeState | Should -Be 'Inactive'
        $info.NodeId | Should -BeNullOrEmpty
        $info.IsManager | Should -BeFalse
        Test-TcpPort -Address $j1.Ip -TimeoutMilliseconds 500 | Should -BeFalse -Because 'a refused join must not bind the listen address'
        $j1.Name | Should -Not -BeIn @(Get-SwarmNode -Endpoint $m1.Endpoint).Hostname
    }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'Join-Swarm' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when a worker joins through the pipeline' {
        BeforeAll {
            $joined = @(Get-SwarmJoinToken -Role Worker -Endpoint $m1.Endpoint |
                    Join-Swarm -Endpoint $w1.Endpoint -ListenAddress $w1.Listen -AdvertiseAddress $w1.Ip)
        }

        It 'outputs one PSSwarm.SwarmNode: the joined worker, Ready' {
            $joined.Count | Should -Be 1
            $node = $joined[0]
            $node.PSTypeNames[0] | Should -Be 'PSSwarm.SwarmNode'
            $node.Id | Should -MatchExactly $IdPattern
            $node.Hostname | Should -Be 'w1'
            $node.Role | Should -Be 'Worker'
            $node.Status | Should -Be 'Ready'
            $node.Availability | Should -Be 'Active'
            $node.Address | Should -Be '127.0.20.2'
            $node.IsLeader | Should -BeFalse
            $node.Reachability | Should -BeNullOrEmpty
            $node.ManagerAddress | Should -BeNullOrEmpty
        }

        It 'makes the worker report an active, non-manager member of the same swarm' {
            $info = Get-Swarm -Endpoint $w1.Endpoint
            $info.LocalNodeState | Should -Be 'Active'
            $info.IsManager | Should -BeFalse
            $info.Id | Should -BeExactly $swarm.Id
            $info.NodeId | Should -BeExactly $joined[0].Id
            $info.NodeAddress | Should -Be '127.0.20.2'
            $info.JoinTokens | Should -BeNullOrEmpty
        }

        It 'lists the worker on the manager as a Ready worker with its address' {
            $view = Get-SwarmNode -Endpoint $m1.Endpoint -Id $joined[0].Id
            $view.Hostname | Should -Be 'w1'
            $view.Role | Should -Be 'Worker'
            $view.Status | Should -Be 'Ready'
            $view.Address | Should -Be '127.0.20.2'
            $view.IsLeader | Should -BeFalse
            $view.Reachability | Should -BeNullOrEmpty
            $view.ManagerAddress | Should -BeNullOrEmpty
        }

        It 'does not bind the listen address on a worker' {
            Test-TcpPort -Address $w1.Ip -TimeoutMilliseconds 500 | Should -BeFalse
        }

        It 'refuses <Command> on the worker with SwarmNotManager' -ForEach @(
            @{ Command = 'Get-SwarmNode'; Call = { param($e) Get-SwarmNode -Endpoint $e } }
            @{ Command = 'Get-SwarmJoinToken'; Call = { param($e) Get-SwarmJoinToken -Endpoint $e -Role Worker } }
        ) {
            $err = Get-ErrorRecord { & $Call $w1.Endpoint }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmNotManager*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
            $err.Exception.Message | Should -BeExactly $NotManagerWorker
        }
    }

    Context 'when a manager joins with the manager token' {
        BeforeAll {
            $joined = @(Get-SwarmJoinToken -Role Manager -Endpoint $m1.Endpoint |
                    Join-Swarm -Endpoint $m2.Endpoint -ListenAddress $m2.Listen -AdvertiseAddress $m2.Ip)
        }

        It 'outputs the joined node as a reachable manager that is not the leader' {
            $joined.Count | Should -Be 1
            $node = $joined[0]
            $node.PSTypeNames[0] | Should -Be 'PSSwarm.SwarmNode'
            $node.Id | Should -MatchExactly $IdPattern
            $node.Hostname | Should -Be 'm2'
            $node.Role | Should -Be 'Manager'
            $node.Status | Should -Be 'Ready'
            $node.ManagerAddress | Should -Be '127.0.20.3:2377'
            $node.Reachability | Should -Be 'Reachable'
            $node.IsLeader | Should -BeFalse
        }

        It 'makes the new manager report IsManager and listen on its address' {
            $info = Get-Swarm -Endpoint $m2.Endpoint
            $info.LocalNodeState | Should -Be 'Active'
            $info.IsManager | Should -BeTrue
            $info.Id | Should -BeExactly $swarm.Id
            $info.NodeId | Should -BeExactly $joined[0].Id
            Test-TcpPort -Address $m2.Ip | Should -BeTrue
        }

        It 'shows every node with its role and address on the first manager' {
            $nodes = @(Get-SwarmNode -Endpoint $m1.Endpoint)
            $nodes.Count | Should -Be 3
            $byName = @{}; foreach ($n in $nodes) { $byName[$n.Hostname] = $n }
            $byName['m1'].Role | Should -Be 'Manager'
            $byName['m1'].IsLeader | Should -BeTrue
            $byName['m1'].ManagerAddress | Should -Be '127.0.20.1:2377'
            $byName['m2'].Role | Should -Be 'Manager'
            $byName['m2'].IsLeader | Should -BeFalse
            $byName['m2'].ManagerAddress | Should -Be '127.0.20.3:2377'
            $byName['m2'].Address | Should -Be '127.0.20.3'
            $byName['m2'].Reachability | Should -Be 'Reachable'
            $byName['w1'].Role | Should -Be 'Worker'
            $byName['w1'].Address | Should -Be '127.0.20.2'
            @($nodes | Where-Object Status -NE 'Ready').Hostname | Should -BeNullOrEmpty
        }

        It 'lets the new manager answer Get-SwarmNode with the same nodes and leader' {
            $nodes = @(Get-SwarmNode -Endpoint $m2.Endpoint)
            @($nodes.Hostname | Sort-Object) | Should -Be @('m1', 'm2', 'w1')
            @($nodes | Where-Object IsLeader).Hostname | Should -Be 'm1'
        }

        It 'lets the new manager hand out the same join tokens' {
            Get-SwarmJoinToken -Role Worker -Endpoint $m2.Endpoint -Quiet | Should -BeExactly (Get-WorkerToken)
            (Get-SwarmJoinToken -Role Worker -Endpoint $m2.Endpoint).RemoteAddress | Should -Contain '127.0.20.3:2377'
        }
    }

    Context 'when -RemoteAddress lists a dead manager before a live one' {
        BeforeAll {
            $joined = @(Join-Swarm -Endpoint $j2.Endpoint -Token (Get-WorkerToken) -ManagerAddress $DeadManager, $m1.Listen `
                    -ListenAddress $j2.Listen -AdvertiseAddress $j2.Ip)
        }

        It 'tries them in turn and joins through the live one' {
            $joined.Count | Should -Be 1
            $joined[0].Role | Should -Be 'Worker'
            $joined[0].Status | Should -Be 'Ready'
            (Get-Swarm -Endpoint $j2.Endpoint).LocalNodeState | Should -Be 'Active'
        }

        It 'is listed Ready on the manager from the start, never Down' {
            # Sampled right after the join for two heartbeat periods: a new node must not flap to Down.
            $seen = [System.Collections.Generic.List[string]]::new()
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            while ($clock.Elapsed.TotalSeconds -lt 2) {
                $seen.Add("$((Get-SwarmNode -Endpoint $m1.Endpoint -Id j2).Status)")
                Start-Sleep -Milliseconds 100
            }
            @($seen | Sort-Object -Unique) | Should -Be @('Ready') -Because 'the manager must list a freshly joined node as Ready'
        }
    }

    Context 'the certificates a joined node gets' {
        It 'gives the worker a certificate with CN = node ID, OU = swarm-worker, O = swarm ID' {
            $cert = Get-CertificateFile -Node $w1
            $nodeId = (Get-Swarm -Endpoint $w1.Endpoint).NodeId
            Get-DistinguishedNamePart -Name $cert.Subject -Part CN | Should -BeExactly $nodeId
            Get-DistinguishedNamePart -Name $cert.Subject -Part OU | Should -BeExactly 'swarm-worker'
            Get-DistinguishedNamePart -Name $cert.Subject -Part O | Should -BeExactly $swarm.Id
        }

        It 'gives the manager a certificate with OU = swarm-manager' {
            $cert = Get-CertificateFile -Node $m2
            Get-DistinguishedNamePart -Name $cert.Subject -Part CN | Should -BeExactly (Get-Swarm -Endpoint $m2.Endpoint).NodeId
            Get-DistinguishedNamePart -Name $cert.Subject -Part OU | Should -BeExactly 'swarm-manager'
            Get-DistinguishedNamePart -Name $cert.Subject -Part O | Should -BeExactly $swarm.Id
        }

        It 'issues <Name>''s certificate from the swarm root CA and stores that root' -ForEach @(
            @{ Name = 'w1' }
            @{ Name = 'm2' }
        ) {
            $node = Get-Variable -Name $Name -ValueOnly
            $cert = Get-CertificateFile -Node $node
            Test-CertificateChain -Certificate $cert -Root $swarm.RootCACertificate | Should -BeTrue
            (Get-CertificateFile -Node $node -RelativePath certificates/swarm-root-ca.crt).Thumbprint |
                Should -Be $swarm.RootCACertificate.Thumbprint
        }

        It 'keeps <Name>''s private key file at mode 0600' -ForEach @(
            @{ Name = 'w1' }
            @{ Name = 'm2' }
        ) {
            $node = Get-Variable -Name $Name -ValueOnly
            Get-FileMode -Path (Join-Path $node.DataRoot 'certificates/swarm-node.key') | Should -Be '600'
        }
    }
}

Describe 'Join-Swarm refusals' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    # First on purpose: the first CA-mismatch attempt is j1's first join attempt ever, and must be fast too.
    Context 'when the token root CA digest does not match the manager' {
        It 'refuses <Case> with SwarmCAMismatch (SecurityError) within 1 s' -ForEach @(
            @{ Case = 'the digest of a second, separate swarm'; Make = { param($t) "SWMTKN-1-$((Split-JoinToken $otherWorkerToken).Digest)-$((Split-JoinToken $t).Secret)" } }
            @{ Case = 'a random 256-bit digest'; Make = { param($t) "SWMTKN-1-$(New-RandomBase36 -Bytes 32 -Width 50)-$((Split-JoinToken $t).Secret)" } }
            @{ Case = 'another swarm''s digest and a wrong secret (CA checked before the secret)'; Make = { param($t) "SWMTKN-1-$((Split-JoinToken $otherWorkerToken).Digest)-$(New-RandomBase36 -Bytes 16 -Width 25)" } }
        ) {
            $token = & $Make (Get-WorkerToken)
            $expectedHex = ConvertFrom-Base36Digest (Split-JoinToken $token).Digest
            $attempt = Invoke-RefusedJoin -Token $token
            $attempt.Error | Should -Not -BeNullOrEmpty
            $attempt.Error.FullyQualifiedErrorId | Should -BeLike 'SwarmCAMismatch*' -Because $attempt.Summary
            $attempt.Error.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::SecurityError)
            $attempt.Error.Exception.Message | Should -BeExactly "remote CA does not match fingerprint. Expected: $expectedHex"
            $attempt.Elapsed.TotalMilliseconds | Should -BeLessThan 1000 -Because 'a CA mismatch cannot be fixed by retrying, so it must fail at once'
            Assert-StillInactive
        }

        It 'reports the digest of the token, which for another swarm is that swarm''s root CA fingerprint' {
            $token = "SWMTKN-1-$((Split-JoinToken $otherWorkerToken).Digest)-$((Split-JoinToken (Get-WorkerToken)).Secret)"
            $attempt = Invoke-RefusedJoin -Token $token
            $attempt.Error.Exception.Message | Should -BeExactly "remote CA does not match fingerprint. Expected: $(Get-RootCAFingerprintHex $otherSwarm.RootCACertificate)"
        }
    }

    Context 'when the token is malformed' {
        It 'refuses <Case> with SwarmInvalidArgument (InvalidArgument)' -ForEach $MalformedTokens {
            $attempt = Invoke-RefusedJoin -Token (& $Make (Get-WorkerToken))
            $attempt.Error | Should -Not -BeNullOrEmpty
            $attempt.Error.FullyQualifiedErrorId | Should -BeLike 'SwarmInvalidArgument*' -Because $attempt.Summary
            $attempt.Error.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
            $attempt.Error.Exception.Message | Should -BeLike '*invalid join token*'
            Assert-StillInactive
        }
    }

    Context 'when the secret is wrong' {
        It 'refuses <Case> with SwarmInvalidJoinToken (AuthenticationError)' -ForEach @(
            @{ Case = 'a different 25-character secret'; Make = { param($t) "SWMTKN-1-$((Split-JoinToken $t).Digest)-$(New-RandomBase36 -Bytes 16 -Width 25)" } }
            @{ Case = 'the worker token with its last character changed'; Make = { param($t) $t.Substring(0, $t.Length - 1) + $(if ($t[-1] -eq 'a') { 'b' } else { 'a' }) } }
            @{ Case = 'a secret of zeros'; Make = { param($t) "SWMTKN-1-$((Split-JoinToken $t).Digest)-$('0' * 25)" } }
        ) {
            $attempt = Invoke-RefusedJoin -Token (& $Make (Get-WorkerToken))
            $attempt.Error | Should -Not -BeNullOrEmpty
            $attempt.Error.FullyQualifiedErrorId | Should -BeLike 'SwarmInvalidJoinToken*' -Because $attempt.Summary
            $attempt.Error.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::AuthenticationError)
            $attempt.Error.Exception.Message | Should -BeLike "*$InvalidJoinToken*"
            Assert-StillInactive
        }
    }

    Context 'when no manager can be reached' {
        BeforeAll {
            # A TCP listener that accepts connections (the kernel completes the handshake) but never speaks TLS.
            $silent = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Parse('127.0.20.98'), 2377)
            $silent.Start()
        }
        AfterAll {
            if ($silent) { $silent.Stop() }
        }

        It 'fails with SwarmManagerUnreachable (ConnectionError) within 10 s when <Case>' -ForEach @(
            @{ Case = 'nothing listens on the address'; Remote = @('127.0.20.99:2377') }
            @{ Case = 'the address accepts TCP but never answers'; Remote = @('127.0.20.98:2377') }
            @{ Case = 'every address in the list is dead'; Remote = @('127.0.20.99:2377', '127.0.20.97:2377') }
        ) {
            $attempt = Invoke-RefusedJoin -Token (Get-WorkerToken) -RemoteAddress $Remote
            $attempt.Error | Should -Not -BeNullOrEmpty
            $attempt.Error.FullyQualifiedErrorId | Should -BeLike 'SwarmManagerUnreachable*' -Because $attempt.Summary
            $attempt.Error.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ConnectionError)
            $attempt.Error.Exception.Message | Should -BeLike "*$($Remote[0])*"
            $attempt.Elapsed.TotalSeconds | Should -BeLessThan 10
            Assert-StillInactive
        }
    }

    Context 'the order of the checks: own state, token format, root CA, secret' {
        It 'reports a malformed token before an unreachable manager (InvalidArgument)' {
            $attempt = Invoke-RefusedJoin -Token 'invalidtoken' -RemoteAddress $DeadManager
            $attempt.Error.FullyQualifiedErrorId | Should -BeLike 'SwarmInvalidArgument*' -Because $attempt.Summary
            $attempt.Error.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
            Assert-StillInactive
        }

        It 'reports a node already in a swarm before a <Case> (ResourceExists)' -ForEach @(
            @{ Case = 'malformed token'; Token = { 'invalidtoken' }; Remote = { $m1.Listen } }
            @{ Case = 'wrong secret'; Token = { "SWMTKN-1-$((Split-JoinToken (Get-WorkerToken)).Digest)-$('0' * 25)" }; Remote = { $m1.Listen } }
            @{ Case = 'valid token and an unreachable manager'; Token = { Get-WorkerToken }; Remote = { $DeadManager } }
        ) {
            $err = Get-ErrorRecord { Join-Swarm -Endpoint $w1.Endpoint -Token (& $Token) -RemoteAddress (& $Remote) }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmAlreadyExists*' -Because (Get-ErrorSummary $err)
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceExists)
            $err.Exception.Message | Should -BeExactly $AlreadyInSwarm
            (Get-Swarm -Endpoint $w1.Endpoint).Id | Should -BeExactly $swarm.Id
            (Get-SwarmNode -Endpoint $m1.Endpoint -Id w1).Status | Should -Be 'Ready'
        }
    }

    Context 'when the join tokens have been rotated' {
        BeforeAll {
            $oldWorker = Get-SwarmJoinToken -Role Worker -Endpoint $m1.Endpoint -Quiet
            $oldManager = Get-SwarmJoinToken -Role Manager -Endpoint $m1.Endpoint -Quiet
            $newWorker = Update-SwarmJoinToken -Role Worker -Endpoint $m1.Endpoint -Quiet
            $newManager = Update-SwarmJoinToken -Role Manager -Endpoint $m1.Endpoint -Quiet
        }

        It 'refuses the old <Role> token at once with SwarmInvalidJoinToken (AuthenticationError)' -ForEach @(
            @{ Role = 'Worker' }
            @{ Role = 'Manager' }
        ) {
            $old = Get-Variable -Name "old$Role" -ValueOnly
            $old | Should -Not -BeExactly (Get-Variable -Name "new$Role" -ValueOnly)
            $attempt = Invoke-RefusedJoin -Token $old
            $attempt.Error | Should -Not -BeNullOrEmpty
            $attempt.Error.FullyQualifiedErrorId | Should -BeLike 'SwarmInvalidJoinToken*' -Because $attempt.Summary
            $attempt.Error.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::AuthenticationError)
            $attempt.Error.Exception.Message | Should -BeLike "*$InvalidJoinToken*"
            Assert-StillInactive
        }

        It 'refuses the old worker token through the second manager too' {
            $attempt = Invoke-RefusedJoin -Token $oldWorker -RemoteAddress $m2.Listen
            $attempt.Error.FullyQualifiedErrorId | Should -BeLike 'SwarmInvalidJoinToken*' -Because $attempt.Summary
            $attempt.Error.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::AuthenticationError)
            Assert-StillInactive
        }

        It 'keeps the members that joined with the old tokens' {
            (Get-SwarmNode -Endpoint $m1.Endpoint -Id w1).Status | Should -Be 'Ready'
            (Get-SwarmNode -Endpoint $m1.Endpoint -Id m2).Reachability | Should -Be 'Reachable'
        }
    }

    Context 'after all those refusals' {
        It 'lets the same node join with a correct token' {
            Assert-StillInactive
            $node = Get-SwarmJoinToken -Role Worker -Endpoint $m1.Endpoint |
                Join-Swarm -Endpoint $j1.Endpoint -ListenAddress $j1.Listen -AdvertiseAddress $j1.Ip
            $node.Role | Should -Be 'Worker'
            $node.Status | Should -Be 'Ready'
            (Get-Swarm -Endpoint $j1.Endpoint).LocalNodeState | Should -Be 'Active'
            (Get-SwarmNode -Endpoint $m1.Endpoint -Id j1).Status | Should -Be 'Ready'
        }
    }
}
