#Requires -Version 7.4
# Initialize-Swarm on a single node: output, node, ingress network, settings, validation before
# anything is created, the TLS listener, the join-token digest and the files written.
# Loopback addresses: 127.0.11.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name init

    $TokenPattern = '^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$'
    $IdPattern = '^[0-9a-z]{25}$'

    # Asserts that the data root holds no swarm state.
    function Assert-NoSwarmState([object] $Node) {
        Join-Path $Node.DataRoot 'node.json' | Should -Not -Exist
        Join-Path $Node.DataRoot 'certificates' | Should -Not -Exist
        Join-Path $Node.DataRoot 'raft' | Should -Not -Exist
    }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'Initialize-Swarm' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when a node initialises a new swarm with default settings' {
        BeforeAll {
            $node = Start-TestNode -Root $root -Name i1 -Ip 127.0.11.1
            $output = @(Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip -InformationVariable shown)
            $info = $output[0]
            $swarm = Get-Swarm -Endpoint $node.Endpoint
            $self = @(Get-SwarmNode -Endpoint $node.Endpoint)
            $networks = @(Get-SwarmNetwork -Endpoint $node.Endpoint)
        }

        It 'returns one PSSwarm.SwarmInfo' {
            $output.Count | Should -Be 1
            $info.PSTypeNames[0] | Should -Be 'PSSwarm.SwarmInfo'
        }

        It 'shows on the host, as Docker prints it, a ready Join-Swarm line for workers and how to add a manager' {
            $text = ($shown | Where-Object { $_.Tags -contains 'PSHOST' } | ForEach-Object { "$($_.MessageData)" }) -join "`n"
            $text.Contains("Swarm initialized: current node ($($info.NodeId)) is now a manager.") | Should -BeTrue -Because $text
            $text.Contains("    Join-Swarm -Token $($info.JoinTokens.Worker.Token) -RemoteAddress $($node.Listen)") | Should -BeTrue -Because $text
            $text.Contains("To add a manager to this swarm, run 'Get-SwarmJoinToken -Role Manager' and follow the instructions.") | Should -BeTrue -Because $text
            $text | Should -Not -BeLike "*$($info.JoinTokens.Manager.Token)*"
        }

        It 'gives the swarm and the node distinct 25-character base-36 IDs' {
            $info.Id | Should -MatchExactly $IdPattern
            $info.NodeId | Should -MatchExactly $IdPattern
            $info.NodeId | Should -Not -Be $info.Id
        }

        It 'names the swarm default' {
            $info.Name | Should -BeExactly 'default'
        }

        It 'reports this node as the active manager of a one-node swarm' {
            $info.LocalNodeState | Should -BeOfType ([PSSwarm.LocalNodeState])
            $info.LocalNodeState | Should -Be ([PSSwarm.LocalNodeState]::Active)
            $info.IsManager | Should -BeTrue
            $info.Managers | Should -Be 1
            $info.Nodes | Should -Be 1
            $info.NodeAddress | Should -Be '127.0.11.1'
            $info.Autolock | Should -BeFalse
        }

        It 'uses the default certificate expiry of 90 days and heartbeat of 5 seconds' {
            $info.CertExpiry | Should -BeOfType ([TimeSpan])
            $info.CertExpiry | Should -Be ([TimeSpan]::FromDays(90))
            $info.DispatcherHeartbeat | Should -BeOfType ([TimeSpan])
            $info.DispatcherHeartbeat | Should -Be ([TimeSpan]::FromSeconds(5))
        }

        It 'records when the swarm was created' {
            $info.CreatedAt | Should -BeOfType ([DateTimeOffset])
            ([DateTimeOffset]::UtcNow - $info.CreatedAt).TotalMinutes | Should -BeLessThan 5
            ([DateTimeOffset]::UtcNow - $info.CreatedAt).TotalMinutes | Should -BeGreaterThan -1
            $info.UpdatedAt | Should -BeGreaterOrEqual $info.CreatedAt
        }

        It 'reports the same swarm through Get-Swarm' {
            $swarm.Id | Should -Be $info.Id
            $swarm.NodeId | Should -Be $info.NodeId
            $swarm.LocalNodeState | Should -Be 'Active'
            $swarm.RootCACertificate.Thumbprint | Should -Be $info.RootCACertificate.Thumbprint
            $swarm.JoinTokens.Worker.Token | Should -Be $info.JoinTokens.Worker.Token
            $swarm.JoinTokens.Manager.Token | Should -Be $info.JoinTokens.Manager.Token
        }

        It 'creates a self-signed root CA named swarm-ca' {
            $ca = $info.RootCACertificate
            $ca | Should -BeOfType ([System.Security.Cryptography.X509Certificates.X509Certificate2])
            $ca.Subject | Should -Be 'CN=swarm-ca'
            $ca.Issuer | Should -Be 'CN=swarm-ca'
            $constraints = $ca.Extensions | Where-Object { $_ -is [System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension] }
            $constraints.CertificateAuthority | Should -BeTrue
            $ca.NotAfter | Should -BeGreaterThan ([DateTime]::UtcNow.AddYears(10))
        }

        It 'generates distinct worker and manager join tokens in Docker''s format' {
            $info.JoinTokens.Worker.PSTypeNames[0] | Should -Be 'PSSwarm.SwarmJoinToken'
            $info.JoinTokens.Manager.PSTypeNames[0] | Should -Be 'PSSwarm.SwarmJoinToken'
            $info.JoinTokens.Worker.Role | Should -Be ([PSSwarm.NodeRole]::Worker)
            $info.JoinTokens.Manager.Role | Should -Be ([PSSwarm.NodeRole]::Manager)
            $info.JoinTokens.Worker.Token | Should -MatchExactly $TokenPattern
            $info.JoinTokens.Manager.Token | Should -MatchExactly $TokenPattern
            $info.JoinTokens.Worker.Token | Should -Not -Be $info.JoinTokens.Manager.Token
        }

        It 'puts the SHA-256 of the root CA PEM text in both tokens' {
            $expected = Get-JoinTokenDigest -RootCertificate $info.RootCACertificate
            (Split-JoinToken $info.JoinTokens.Worker.Token).Digest | Should -BeExactly $expected
            (Split-JoinToken $info.JoinTokens.Manager.Token).Digest | Should -BeExactly $expected
        }

        It 'lists this node as the Ready leader, named by --node-name' {
            $self.Count | Should -Be 1
            $n = $self[0]
            $n.PSTypeNames[0] | Should -Be 'PSSwarm.SwarmNode'
            $n.Id | Should -Be $info.NodeId
            $n.Hostname | Should -Be 'i1'
            $n.Role | Should -BeOfType ([PSSwarm.NodeRole])
            $n.Role | Should -Be ([PSSwarm.NodeRole]::Manager)
            $n.IsLeader | Should -BeTrue
            $n.Reachability | Should -Be ([PSSwarm.Reachability]::Reachable)
            $n.Status | Should -Be ([PSSwarm.NodeStatus]::Ready)
            $n.Availability | Should -Be ([PSSwarm.NodeAvailability]::Active)
            $n.ManagerAddress | Should -Be '127.0.11.1:2377'
            $n.Address | Should -Be '127.0.11.1'
        }

        It 'issues the node a certificate valid for about 90 days' {
            $expiry = $self[0].CertificateExpiry
            $expiry | Should -BeOfType ([DateTimeOffset])
            ($expiry - [DateTimeOffset]::UtcNow).TotalDays | Should -BeGreaterThan 89.9
            ($expiry - [DateTimeOffset]::UtcNow).TotalDays | Should -BeLessThan 90.1
        }

        It 'creates the ingress overlay network 10.0.0.0/24' {
            $networks.Count | Should -Be 1
            $net = $networks[0]
            $net.PSTypeNames[0] | Should -Be 'PSSwarm.SwarmNetwork'
            $net.Name | Should -BeExactly 'ingress'
            $net.Id | Should -MatchExactly $IdPattern
            $net.Subnet | Should -Be '10.0.0.0/24'
            $net.Ingress | Should -BeTrue
            $net.Driver | Should -Be 'overlay'
            $net.Scope | Should -Be 'swarm'
        }

        It 'serves TLS on the listen address with a manager certificate issued by the swarm root CA' {
            $tls = Get-TlsServerCertificate -Address 127.0.11.1 -Port 2377
            $cert = $tls.Certificate
            Get-DistinguishedNamePart $cert.Subject 'CN' | Should -BeExactly $info.NodeId
            Get-DistinguishedNamePart $cert.Subject 'OU' | Should -BeExactly 'swarm-manager'
            Get-DistinguishedNamePart $cert.Subject 'O' | Should -BeExactly $info.Id
            $cert.Issuer | Should -Be 'CN=swarm-ca'
            Test-CertificateChain -Certificate $cert -Root $info.RootCACertificate | Should -BeTrue
            $tls.Protocol | Should -Be 'h2'
        }

        It 'keeps the data root 0700 and the node state and key files 0600' {
            Get-FileMode $node.DataRoot | Should -Be '700'
            Get-FileMode (Join-Path $node.DataRoot 'node.json') | Should -Be '600'
            Get-FileMode (Join-Path $node.DataRoot 'certificates/swarm-node.key') | Should -Be '600'
            Join-Path $node.DataRoot 'certificates/swarm-node.crt' | Should -Exist
            Join-Path $node.DataRoot 'certificates/swarm-root-ca.crt' | Should -Exist
            Get-FileKind (Join-Path $node.DataRoot 'raft') | Should -Be 'directory'
        }

        It 'stores the root CA it serves and a node certificate for this node' {
            $stored = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new((Join-Path $node.DataRoot 'certificates/swarm-root-ca.crt'))
            $stored.Thumbprint | Should -Be $info.RootCACertificate.Thumbprint
            $nodeCert = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new((Join-Path $node.DataRoot 'certificates/swarm-node.crt'))
            Get-DistinguishedNamePart $nodeCert.Subject 'CN' | Should -BeExactly $info.NodeId
        }

        It 'refuses a second init with SwarmAlreadyExists and Docker''s message' {
            $err = Get-ErrorRecord { Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmAlreadyExists*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceExists)
            $err.Exception.Message | Should -BeExactly 'This node is already part of a swarm. Use Exit-Swarm to leave this swarm and join another one.'
            (Get-Swarm -Endpoint $node.Endpoint).Id | Should -Be $info.Id
        }

        It 'makes the second init a terminating error' {
            { Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip -ErrorAction Continue } |
                Should -Throw -ErrorId 'SwarmAlreadyExists*'
        }
    }

    Context 'when the addresses take another form' {
        BeforeAll {
            $node = Start-TestNode -Root $root -Name i2
        }
        AfterEach {
            Reset-TestNode $node
        }

        It 'advertises <Ip> when <Case>' -ForEach @(
            @{ Case = 'only -ListenAddress names a specific IP'; Ip = '127.0.11.2'; Params = @{ ListenAddress = '127.0.11.2:2377' } }
            @{ Case = '-AdvertiseAddress is IP:port'; Ip = '127.0.11.3'; Params = @{ ListenAddress = '127.0.11.3:2377'; AdvertiseAddress = '127.0.11.3:2377' } }
            @{ Case = '-ListenAddress has no port'; Ip = '127.0.11.4'; Params = @{ ListenAddress = '127.0.11.4'; AdvertiseAddress = '127.0.11.4' } }
        ) {
            $info = Initialize-Swarm -Endpoint $node.Endpoint @Params
            $info.NodeAddress | Should -Be $Ip
            (Get-SwarmNode -Endpoint $node.Endpoint -Self).ManagerAddress | Should -Be "${Ip}:2377"
            (Get-SwarmJoinToken -Endpoint $node.Endpoint -Role Worker).RemoteAddress | Should -Contain "${Ip}:2377"
            Test-TcpPort -Address $Ip -Port 2377 | Should -BeTrue
        }
    }

    Context 'when settings are given' {
        BeforeAll {
            $node = Start-TestNode -Root $root -Name i3
        }
        AfterEach {
            Reset-TestNode $node
        }

        It 'stores -CertExpiry <Shown> and -DispatcherHeartbeat <ShownHeartbeat>' -ForEach @(
            @{ Ip = '127.0.11.10'; Shown = "'2.00:00:00'"; CertExpiry = '2.00:00:00'; ShownHeartbeat = "'00:00:10'"; Heartbeat = '00:00:10'
                ExpectedExpiry = [TimeSpan]::FromDays(2); ExpectedHeartbeat = [TimeSpan]::FromSeconds(10) }
            @{ Ip = '127.0.11.11'; Shown = '(New-TimeSpan -Hours 5)'; CertExpiry = (New-TimeSpan -Hours 5); ShownHeartbeat = '(New-TimeSpan -Seconds 2)'; Heartbeat = (New-TimeSpan -Seconds 2)
                ExpectedExpiry = [TimeSpan]::FromHours(5); ExpectedHeartbeat = [TimeSpan]::FromSeconds(2) }
            @{ Ip = '127.0.11.12'; Shown = '[TimeSpan]::FromHours(720)'; CertExpiry = [TimeSpan]::FromHours(720); ShownHeartbeat = '[TimeSpan]::FromMilliseconds(1500)'; Heartbeat = [TimeSpan]::FromMilliseconds(1500)
                ExpectedExpiry = [TimeSpan]::FromDays(30); ExpectedHeartbeat = [TimeSpan]::FromMilliseconds(1500) }
            @{ Ip = '127.0.11.13'; Shown = "'01:00:00' (the minimum)"; CertExpiry = '01:00:00'; ShownHeartbeat = "'00:00:01'"; Heartbeat = '00:00:01'
                ExpectedExpiry = [TimeSpan]::FromHours(1); ExpectedHeartbeat = [TimeSpan]::FromSeconds(1) }
        ) {
            $info = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress "${Ip}:2377" -AdvertiseAddress $Ip `
                -CertExpiry $CertExpiry -DispatcherHeartbeat $Heartbeat
            $info.CertExpiry | Should -Be $ExpectedExpiry
            $info.DispatcherHeartbeat | Should -Be $ExpectedHeartbeat
            $stored = Get-Swarm -Endpoint $node.Endpoint
            $stored.CertExpiry | Should -Be $ExpectedExpiry
            $stored.DispatcherHeartbeat | Should -Be $ExpectedHeartbeat
        }

        It 'makes the node <Availability> with -Availability <Availability>' -ForEach @(
            @{ Ip = '127.0.11.14'; Availability = 'Drain' }
            @{ Ip = '127.0.11.15'; Availability = 'Pause' }
            @{ Ip = '127.0.11.16'; Availability = 'Active' }
        ) {
            $null = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress "${Ip}:2377" -AdvertiseAddress $Ip -Availability $Availability
            $self = Get-SwarmNode -Endpoint $node.Endpoint -Self
            $self.Availability | Should -BeOfType ([PSSwarm.NodeAvailability])
            $self.Availability | Should -Be ([PSSwarm.NodeAvailability]$Availability)
            $self.Status | Should -Be 'Ready'
            $self.IsLeader | Should -BeTrue
        }
    }

    Context 'when a parameter is invalid' {
        BeforeAll {
            $node = Start-TestNode -Root $root -Name i4 -Ip 127.0.11.20
            $valid = @{ Endpoint = $node.Endpoint; ListenAddress = $node.Listen; AdvertiseAddress = $node.Ip }
        }

        It 'refuses <Case> with InvalidArgument before creating anything' -ForEach @(
            @{ Case = 'a 30-minute -CertExpiry'; Params = @{ CertExpiry = (New-TimeSpan -Minutes 30) }
                Message = 'minimum certificate expiry time is: 1h0m0s' }
            @{ Case = "-CertExpiry '00:59:59'"; Params = @{ CertExpiry = '00:59:59' }
                Message = 'minimum certificate expiry time is: 1h0m0s' }
            @{ Case = 'a zero -DispatcherHeartbeat'; Params = @{ DispatcherHeartbeat = [TimeSpan]::Zero }
                Message = 'heartbeat time period must be greater than zero' }
            @{ Case = 'a negative -DispatcherHeartbeat'; Params = @{ DispatcherHeartbeat = '-00:00:05' }
                Message = 'heartbeat time period cannot be a negative duration' }
            @{ Case = '-AdvertiseAddress 0.0.0.0'; Params = @{ AdvertiseAddress = '0.0.0.0' }
                Message = 'advertise address must be a non-zero IP address or network interface (with optional port number)' }
            @{ Case = 'an -AdvertiseAddress that is neither an IP nor an interface'; Params = @{ AdvertiseAddress = 'no-such-if0' }
                Message = 'advertise address must be a non-zero IP address or network interface (with optional port number)' }
            @{ Case = 'a garbage -ListenAddress'; Params = @{ ListenAddress = 'garbage!!' }
                Message = 'listen address must be an IP address or network interface (with optional port number)' }
        ) {
            $call = $valid.Clone()
            foreach ($k in $Params.Keys) { $call[$k] = $Params[$k] }
            $err = Get-ErrorRecord { Initialize-Swarm @call }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmInvalidArgument*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
            $err.Exception.Message | Should -BeExactly $Message
            (Get-Swarm -Endpoint $node.Endpoint).LocalNodeState | Should -Be 'Inactive'
            Assert-NoSwarmState $node
            Test-TcpPort -Address $node.Ip | Should -BeFalse
        }

        It 'refuses an availability other than Active, Pause or Drain at parameter binding' {
            { Initialize-Swarm @valid -Availability Bogus } |
                Should -Throw -ExceptionType ([System.Management.Automation.ParameterBindingException])
            (Get-Swarm -Endpoint $node.Endpoint).LocalNodeState | Should -Be 'Inactive'
        }

        It 'creates nothing with -WhatIf' {
            $result = Initialize-Swarm @valid -WhatIf
            $result | Should -BeNullOrEmpty
            (Get-Swarm -Endpoint $node.Endpoint).LocalNodeState | Should -Be 'Inactive'
            Assert-NoSwarmState $node
            Test-TcpPort -Address $node.Ip | Should -BeFalse
        }

        It 'accepts a valid init afterwards' {
            $info = Initialize-Swarm @valid
            $info.LocalNodeState | Should -Be 'Active'
            (Get-Swarm -Endpoint $node.Endpoint).LocalNodeState | Should -Be 'Active'
            Test-TcpPort -Address $node.Ip | Should -BeTrue
        }
    }

    Context 'when another swarm already listens on the listen address' {
        BeforeAll {
            $owner = Start-TestNode -Root $root -Name i5 -Ip 127.0.11.30
            $ownerSwarm = Initialize-Swarm -Endpoint $owner.Endpoint -ListenAddress $owner.Listen -AdvertiseAddress $owner.Ip
            $node = Start-TestNode -Root $root -Name i6 -Ip 127.0.11.31
            $err = Get-ErrorRecord { Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $owner.Listen -AdvertiseAddress $owner.Ip }
        }

        It 'fails with SwarmListenFailed (ResourceUnavailable) naming the address' {
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmListenFailed*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceUnavailable)
            $err.Exception.Message | Should -BeLike '*127.0.11.30:2377*'
        }

        It 'leaves the node Inactive with nothing created' {
            (Get-Swarm -Endpoint $node.Endpoint).LocalNodeState | Should -Be 'Inactive'
            Assert-NoSwarmState $node
        }

        It 'leaves the other swarm running' {
            $s = Get-Swarm -Endpoint $owner.Endpoint
            $s.Id | Should -Be $ownerSwarm.Id
            $s.LocalNodeState | Should -Be 'Active'
            (Get-TlsServerCertificate -Address 127.0.11.30).Certificate.Subject | Should -BeLike "*O=$($ownerSwarm.Id)*"
        }

        It 'lets the node initialise on a free address afterwards' {
            $info = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip
            $info.LocalNodeState | Should -Be 'Active'
            $info.Id | Should -Not -Be $ownerSwarm.Id
        }
    }
}
