#Requires -Version 7.4
# Get-SwarmCA (docker swarm ca, the read-only part) on a swarm of two managers (m1 leads) and one
# worker, plus one node outside any swarm: the object and its certificate, the digest against the PEM
# and against both join tokens, the PEM against Get-Swarm and every node's pinned root, the same answer
# from the second manager, the refusals on a worker and outside a swarm, the default table view, and
# the same root after m1's daemon restarts on its data root.
# The Describe blocks run in file order (the restart is last).
# Loopback addresses: 127.0.46.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name swarmca

    $NotManagerWorker = Get-NotManagerMessage -Worker
    $NotManagerInactive = Get-NotManagerMessage
    # swarmkit's RootCAExpiration: 630720000 s, that is 20 x 365 days.
    $RootLifetime = [TimeSpan]::FromDays(20 * 365)

    $initStarted = [DateTimeOffset]::UtcNow
    $nodes = Start-TestSwarm -Root $root -IpPrefix 127.0.46
    $m1 = $nodes.m1; $m2 = $nodes.m2; $w1 = $nodes.w1; $outside = $nodes.o1

    # The call fails with this error id, category and exact message (Get-ErrorSummary says what came instead).
    function Assert-Refused([scriptblock] $Call, [string] $Id, [System.Management.Automation.ErrorCategory] $Category, [string] $Message) {
        $err = Get-ErrorRecord $Call
        $err | Should -Not -BeNullOrEmpty -Because 'the call must be refused'
        $err.FullyQualifiedErrorId | Should -BeLike "$Id*" -Because (Get-ErrorSummary $err)
        $err.CategoryInfo.Category | Should -Be $Category -Because (Get-ErrorSummary $err)
        $err.Exception.Message | Should -BeExactly $Message -Because (Get-ErrorSummary $err)
        $err
    }

    # Get-SwarmCA on a manager, waiting while it is still starting (just after a join or a restart).
    function Wait-SwarmCA([object] $Manager, [double] $TimeoutSeconds = 15) {
        Wait-Until -TimeoutSeconds $TimeoutSeconds -IntervalMilliseconds 200 -Because "Get-SwarmCA to answer on $($Manager.Name)" -Condition {
            Get-SwarmCA -Endpoint $Manager.Endpoint -ErrorAction Stop
        }
    }

    # The digest part of a join token, as "sha256:<64 hex>".
    function Get-TokenDigest([string] $Token) {
        $parts = Split-JoinToken $Token
        $parts.Prefix | Should -Be 'SWMTKN'
        $parts.Digest.Length | Should -Be 50
        'sha256:' + (ConvertFrom-Base36Digest $parts.Digest)
    }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'Get-SwarmCA on the first manager' {
    BeforeAll {
        $out = @(Get-SwarmCA -Endpoint $m1.Endpoint -ErrorAction Stop)
        $ca = $out[0]
        $swarm = Get-Swarm -Endpoint $m1.Endpoint -ErrorAction Stop
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'returns one PSSwarm.SwarmCA' {
        $out.Count | Should -Be 1
        $ca | Should -BeOfType ([PSSwarm.SwarmCA])
        $ca.PSObject.TypeNames[0] | Should -Be 'PSSwarm.SwarmCA'
        $ca.Certificate | Should -BeOfType ([System.Security.Cryptography.X509Certificates.X509Certificate2])
    }

    It 'has the subject CN=swarm-ca, on the object and on its certificate' {
        $ca.Subject | Should -BeExactly 'CN=swarm-ca'
        $ca.Certificate.Subject | Should -BeExactly 'CN=swarm-ca'
        $ca.Certificate.Issuer | Should -BeExactly 'CN=swarm-ca' -Because 'the root is self-signed'
    }

    It 'is valid for 20 years (630720000 s, +- 1 day) from about the time of Initialize-Swarm' {
        $ca.NotBefore | Should -BeOfType ([DateTimeOffset])
        $ca.NotAfter | Should -BeOfType ([DateTimeOffset])
        $ca.NotBefore | Should -Be ([DateTimeOffset]$ca.Certificate.NotBefore.ToUniversalTime())
        $ca.NotAfter | Should -Be ([DateTimeOffset]$ca.Certificate.NotAfter.ToUniversalTime())
        [Math]::Abs((($ca.NotAfter - $ca.NotBefore) - $RootLifetime).TotalDays) | Should -BeLessOrEqual 1
        # swarmkit backdates certificates by 1 h
        $ca.NotBefore | Should -BeGreaterOrEqual $initStarted.AddHours(-1).AddMinutes(-5)
        $ca.NotBefore | Should -BeLessOrEqual ([DateTimeOffset]::UtcNow)
    }

    It 'has a digest that is sha256: and the SHA-256 of the UTF-8 bytes of Pem' {
        $ca.Digest | Should -MatchExactly '^sha256:[0-9a-f]{64}$'
        $hash = [System.Security.Cryptography.SHA256]::HashData([System.Text.Encoding]::UTF8.GetBytes($ca.Pem))
        $ca.Digest | Should -BeExactly ('sha256:' + [Convert]::ToHexString($hash).ToLowerInvariant())
        "$ca" | Should -BeExactly $ca.Digest -Because 'the string form of the object is its digest'
    }

    It 'has the digest that both join tokens pin' {
        $worker = Get-SwarmJoinToken -Role Worker -Quiet -Endpoint $m1.Endpoint -ErrorAction Stop
        $manager = Get-SwarmJoinToken -Role Manager -Quiet -Endpoint $m1.Endpoint -ErrorAction Stop
        $worker | Should -Not -Be $manager
        Get-TokenDigest $worker | Should -BeExactly $ca.Digest
        Get-TokenDigest $manager | Should -BeExactly $ca.Digest
        # and the digest Get-Swarm's tokens carry is the one of Get-Swarm's root certificate
        (Split-JoinToken $swarm.JoinTokens.Worker.Token).Digest | Should -BeExactly (Get-JoinTokenDigest -RootCertificate $swarm.RootCACertificate)
        'sha256:' + (Get-RootCAFingerprintHex -RootCertificate $swarm.RootCACertificate) | Should -BeExactly $ca.Digest
    }

    It 'has the PEM Docker writes for the certificate of Get-Swarm (LF line ends, a trailing LF)' {
        $ca.Pem | Should -BeOfType ([string])
        $ca.Pem | Should -BeExactly (ConvertTo-DockerPem -Der $swarm.RootCACertificate.RawData)
        $ca.Pem.EndsWith("-----END CERTIFICATE-----`n") | Should -BeTrue
        $ca.Pem.Contains("`r") | Should -BeFalse
        $ca.Pem | Should -BeExactly (ConvertTo-DockerPem -Der $ca.Certificate.RawData) -Because 'Certificate is parsed from Pem'
    }

    It 'has the same certificate as the RootCACertificate of Get-Swarm' {
        $ca.Certificate.Thumbprint | Should -BeExactly $swarm.RootCACertificate.Thumbprint
        $ca.Certificate.SerialNumber | Should -BeExactly $swarm.RootCACertificate.SerialNumber
        $ca.Certificate.RawData | Should -Be $swarm.RootCACertificate.RawData
    }

    It 'is the root that every node pins in its data root and that the cluster port certificate chains to' {
        foreach ($node in $m1, $m2, $w1) {
            $pinned = [System.IO.File]::ReadAllText((Join-Path $node.DataRoot 'certificates/swarm-root-ca.crt'))
            $pinned | Should -BeExactly $ca.Pem -Because "$($node.Name) pins the root it got at init or join"
        }
        $tls = Wait-Until -TimeoutSeconds 10 -Because "TLS on $($m1.Listen)" -Condition { Get-TlsServerCertificate -Address $m1.Ip }
        Test-CertificateChain -Certificate $tls.Certificate -Root $ca.Certificate | Should -BeTrue
    }

    It 'reports no rotation in progress' {
        $ca.RotationInProgress | Should -BeOfType ([bool])
        $ca.RotationInProgress | Should -BeFalse
    }

    It 'renders the default table view without error' {
        $text = Get-SwarmCA -Endpoint $m1.Endpoint -ErrorAction Stop | Format-Table | Out-String -Width 250 -ErrorAction Stop
        $text | Should -Match '\bDigest\b.*\bSubject\b.*\bNotAfter\b.*\bRotationInProgress\b'
        $text | Should -Match ([regex]::Escape($ca.Digest))
        $text | Should -Match 'CN=swarm-ca'
        $text | Should -Match ([regex]::Escape($ca.NotAfter.ToLocalTime().ToString('yyyy-MM-dd HH:mm:ss')))
        $text | Should -Not -Match 'BEGIN CERTIFICATE' -Because 'the table does not show the PEM'
        # a column whose script block fails shows #ERR with -DisplayError
        $checked = Get-SwarmCA -Endpoint $m1.Endpoint -ErrorAction Stop | Format-Table -DisplayError | Out-String -Width 250
        $checked | Should -Not -Match '#ERR'
    }

    It 'can be written byte for byte to a PEM file with Set-Content -NoNewline' {
        $file = Join-Path $root 'ca.pem'
        $ca.Pem | Set-Content -NoNewline -LiteralPath $file
        [System.IO.File]::ReadAllBytes($file) | Should -Be ([System.Text.Encoding]::UTF8.GetBytes($ca.Pem))
        ([System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPem([System.IO.File]::ReadAllText($file))).Thumbprint | Should -BeExactly $ca.Certificate.Thumbprint
    }
}

Describe 'Get-SwarmCA on the second manager' {
    BeforeAll {
        $first = Get-SwarmCA -Endpoint $m1.Endpoint -ErrorAction Stop
        $second = @(Wait-SwarmCA $m2)
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'answers with the same root CA as the first manager' {
        $second.Count | Should -Be 1
        $second[0] | Should -BeOfType ([PSSwarm.SwarmCA])
        $second[0].Digest | Should -BeExactly $first.Digest
        $second[0].Pem | Should -BeExactly $first.Pem
        $second[0].Certificate.Thumbprint | Should -BeExactly $first.Certificate.Thumbprint
        $second[0].RotationInProgress | Should -BeFalse
    }

    It 'has the digest of the join tokens it hands out' {
        Get-TokenDigest (Get-SwarmJoinToken -Role Worker -Quiet -Endpoint $m2.Endpoint -ErrorAction Stop) | Should -BeExactly $second[0].Digest
        Get-TokenDigest (Get-SwarmJoinToken -Role Manager -Quiet -Endpoint $m2.Endpoint -ErrorAction Stop) | Should -BeExactly $second[0].Digest
    }
}

Describe 'Get-SwarmCA refusals' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'refuses to run on a worker with SwarmNotManager (InvalidOperation) and Docker''s message' {
        $null = Assert-Refused { Get-SwarmCA -Endpoint $w1.Endpoint -ErrorAction Stop } -Id SwarmNotManager -Category InvalidOperation -Message $NotManagerWorker
        $out = try { Get-SwarmCA -Endpoint $w1.Endpoint } catch { }
        $out | Should -BeNullOrEmpty -Because 'a refused call outputs nothing'
    }

    It 'refuses to run on a node outside any swarm with SwarmNotManager (InvalidOperation)' {
        $null = Assert-Refused { Get-SwarmCA -Endpoint $outside.Endpoint -ErrorAction Stop } -Id SwarmNotManager -Category InvalidOperation -Message $NotManagerInactive
        (Get-Swarm -Endpoint $outside.Endpoint -ErrorAction Stop).LocalNodeState | Should -Be 'Inactive'
    }

    It 'reports SwarmDaemonUnreachable (ConnectionError) when no daemon answers' {
        $err = Get-ErrorRecord { Get-SwarmCA -Endpoint "unix://$(Join-Path $root 'none.sock')" -ErrorAction Stop }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'SwarmDaemonUnreachable*' -Because (Get-ErrorSummary $err)
        $err.CategoryInfo.Category | Should -Be 'ConnectionError' -Because (Get-ErrorSummary $err)
    }
}

Describe 'Get-SwarmCA after the first manager''s daemon restarts' {
    BeforeAll {
        $before = Get-SwarmCA -Endpoint $m1.Endpoint -ErrorAction Stop
        $oldPid = $m1.Pid
        Stop-TestNode $m1
        $m1 = Start-TestNode -Root $root -Name m1 -Ip 127.0.46.1
        $after = Wait-SwarmCA $m1 -TimeoutSeconds 30
        $afterSecond = Wait-SwarmCA $m2 -TimeoutSeconds 30
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'keeps the same digest, PEM and certificate on the restarted manager' {
        $m1.Pid | Should -Not -Be $oldPid -Because 'a new daemon process answers'
        Test-ProcessAlive $oldPid | Should -BeFalse
        $after.Digest | Should -BeExactly $before.Digest
        $after.Pem | Should -BeExactly $before.Pem
        $after.Certificate.Thumbprint | Should -BeExactly $before.Certificate.Thumbprint
        $after.RotationInProgress | Should -BeFalse
    }

    It 'keeps the same root on the other manager and in the join tokens' {
        $afterSecond.Digest | Should -BeExactly $before.Digest
        Get-TokenDigest (Get-SwarmJoinToken -Role Worker -Quiet -Endpoint $m1.Endpoint -ErrorAction Stop) | Should -BeExactly $before.Digest
        Get-TokenDigest (Get-SwarmJoinToken -Role Manager -Quiet -Endpoint $m1.Endpoint -ErrorAction Stop) | Should -BeExactly $before.Digest
    }
}
