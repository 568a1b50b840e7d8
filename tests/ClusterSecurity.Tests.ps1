#Requires -Version 7.4
# The 2377 listener authenticates every call: Raft only from a current manager of this swarm,
# node sessions only with a certificate of this swarm, the CA fetch and the join without one.
# Loopback addresses: 127.0.31.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name sec

    $m1 = Start-TestNode -Root $root -Name m1 -Ip 127.0.31.1
    $m2 = Start-TestNode -Root $root -Name m2 -Ip 127.0.31.2
    $w1 = Start-TestNode -Root $root -Name w1 -Ip 127.0.31.3
    $other = Start-TestNode -Root $root -Name x1 -Ip 127.0.31.9
    $null = Initialize-Swarm -Endpoint $m1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip -DispatcherHeartbeat '00:00:01'
    $null = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Manager | Join-Swarm -Endpoint $m2.Endpoint -ListenAddress $m2.Listen -AdvertiseAddress $m2.Ip
    $null = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker | Join-Swarm -Endpoint $w1.Endpoint -ListenAddress $w1.Listen -AdvertiseAddress $w1.Ip
    # A manager of another swarm: a valid-looking certificate from the wrong CA.
    $null = Initialize-Swarm -Endpoint $other.Endpoint -ListenAddress $other.Listen -AdvertiseAddress $other.Ip

    # The TLS handshake of HttpClient runs on pool threads, where script blocks cannot: a compiled callback.
    if (-not ('PSSwarmTests.AcceptAnyServer' -as [type])) {
        Add-Type -TypeDefinition @'
namespace PSSwarmTests {
    public static class AcceptAnyServer {
        public static readonly System.Net.Security.RemoteCertificateValidationCallback Callback = (s, c, ch, e) => true;
    }
}
'@
    }

    function Get-NodeCertificate($Node) {
        $dir = Join-Path $Node.DataRoot 'certificates'
        [System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPemFile(
            (Join-Path $dir 'swarm-node.crt'), (Join-Path $dir 'swarm-node.key'))
    }

    # One HTTP/2 POST to m1's listener, with or without a client certificate; returns status and grpc-status.
    function Invoke-ClusterCall([string] $Path, $Certificate, [string] $ContentType = 'application/grpc') {
        $handler = [System.Net.Http.SocketsHttpHandler]::new()
        $handler.SslOptions.RemoteCertificateValidationCallback = [PSSwarmTests.AcceptAnyServer]::Callback
        if ($Certificate) {
            $handler.SslOptions.ClientCertificates = [System.Security.Cryptography.X509Certificates.X509CertificateCollection]::new()
            $null = $handler.SslOptions.ClientCertificates.Add($Certificate)
        }
        $client = [System.Net.Http.HttpClient]::new($handler)
        try {
            $request = [System.Net.Http.HttpRequestMessage]::new('POST', "https://$($m1.Listen)$Path")
            $request.Version = [version]'2.0'
            $request.VersionPolicy = 'RequestVersionExact'
            # An empty gRPC message: flag 0, length 0.
            $request.Content = [System.Net.Http.ByteArrayContent]::new([byte[]](0, 0, 0, 0, 0))
            $request.Content.Headers.ContentType = $ContentType
            $response = $client.SendAsync($request).GetAwaiter().GetResult()
            $null = $response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult()
            $grpc = $null
            $values = $null
            if ($response.TrailingHeaders.TryGetValues('grpc-status', [ref] $values)) { $grpc = [int]@($values)[0] }
            elseif ($response.Headers.TryGetValues('grpc-status', [ref] $values)) { $grpc = [int]@($values)[0] }
            [pscustomobject]@{ Status = [int]$response.StatusCode; GrpcStatus = $grpc }
        }
        finally { $client.Dispose() }
    }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'The cluster listener' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when a caller speaks Raft' {
        It 'refuses a caller without a certificate' {
            (Invoke-ClusterCall '/cluster-consensus/raft' $null 'application/octet-stream').Status | Should -Be 403
        }

        It 'refuses a worker certificate of this swarm' {
            (Invoke-ClusterCall '/cluster-consensus/raft' (Get-NodeCertificate $w1) 'application/octet-stream').Status | Should -Be 403
        }

        It 'refuses a manager certificate of another swarm' {
            (Invoke-ClusterCall '/cluster-consensus/raft' (Get-NodeCertificate $other) 'application/octet-stream').Status | Should -Be 403
        }

        It 'refuses a manager certificate of this swarm that does not name its sender (no X-Raft-Node-ID)' {
            # A Raft message must say which member sends it, and that must be the certificate's node
            # (Attack.Tests.ps1 covers forged senders and lets the right one through).
            (Invoke-ClusterCall '/cluster-consensus/raft' (Get-NodeCertificate $m2) 'application/octet-stream').Status | Should -Be 403
        }
    }

    Context 'when a caller opens a node session' {
        It 'refuses a caller without a certificate with Unauthenticated' {
            (Invoke-ClusterCall '/psswarm.cluster.v1.Dispatcher/Heartbeat' $null).GrpcStatus | Should -Be 16
        }

        It 'refuses a certificate of another swarm with Unauthenticated' {
            (Invoke-ClusterCall '/psswarm.cluster.v1.Dispatcher/Heartbeat' (Get-NodeCertificate $other)).GrpcStatus | Should -Be 16
        }

        It 'accepts a worker certificate of this swarm' {
            (Invoke-ClusterCall '/psswarm.cluster.v1.Dispatcher/Heartbeat' (Get-NodeCertificate $w1)).GrpcStatus | Should -Be 0
        }
    }

    Context 'when a worker calls the managers-only service' {
        It 'refuses a forwarded write from a worker certificate with PermissionDenied' {
            (Invoke-ClusterCall '/psswarm.cluster.v1.RaftControl/Propose' (Get-NodeCertificate $w1)).GrpcStatus | Should -Be 7
        }
    }

    Context 'when nodes heartbeat and nothing changes' {
        It 'writes nothing to the store: the worker''s UpdatedAt stays while it stays Ready' {
            $before = Get-SwarmNode -Endpoint $m1.Endpoint -Id w1
            $before.Status | Should -Be 'Ready'
            Start-Sleep -Seconds 3.5   # three heartbeat periods of 1 s: what is measured is that nothing happens
            $after = Get-SwarmNode -Endpoint $m1.Endpoint -Id w1
            $after.Status | Should -Be 'Ready'
            $after.UpdatedAt | Should -Be $before.UpdatedAt -Because 'a heartbeat that changes nothing must not be written through Raft'
        }
    }

    Context 'when a user labels a node beyond the limits' {
        It 'refuses a label key with a space, with SwarmInvalidArgument' {
            $err = Get-ErrorRecord { Set-SwarmNode -Endpoint $m1.Endpoint -Id w1 -Label @{ 'bad key' = 'x' } }
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmInvalidArgument*'
            $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
            (Get-SwarmNode -Endpoint $m1.Endpoint -Id w1).Labels.ContainsKey('bad key') | Should -BeFalse
        }
    }

    Context 'when a node without a certificate joins' {
        It 'serves the root CA without a client certificate' {
            (Invoke-ClusterCall '/psswarm.cluster.v1.NodeCA/GetRootCACertificate' $null).GrpcStatus | Should -Be 0
        }

        It 'refuses a join request without a valid token with Unauthenticated' {
            (Invoke-ClusterCall '/psswarm.cluster.v1.NodeCA/IssueNodeCertificate' $null).GrpcStatus | Should -Be 16
        }
    }

    Context 'when the daemons have logged a swarm''s life' {
        It 'wrote no join token and no private key to any log' {
            # Rotations, joins and refused calls have all happened above.
            $null = Update-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker -Confirm:$false
            $logs = Get-ChildItem $root -Recurse -File -Filter 'psswarmd.log'
            $logs.Count | Should -BeGreaterOrEqual 4
            $logs | Select-String -Pattern 'SWMTKN-', 'PRIVATE KEY', 'SWMKEY-' | Should -BeNullOrEmpty
        }
    }
}
