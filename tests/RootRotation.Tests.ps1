#Requires -Version 7.4
# Update-SwarmCA (docker swarm ca --rotate) on a swarm of two managers (m1 leads, m2), two workers
# (w1 up, w2 stopped during the first rotation) and a node outside (o1), with a 1 s heartbeat:
# the refusals; a rotation to a generated root with a node down (new root everywhere, new tokens,
# old tokens and old certificates refused, the down node back with Join-Swarm and its node ID);
# a rotation to a root given as files with -Detach (progress in Get-SwarmCA); a rotation that
# replaces one in progress; and Write-Progress while Update-SwarmCA waits.
# The Describe blocks run in file order and build on each other.
# Loopback addresses: 127.0.48.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
    Import-Module $PSScriptRoot/Attack.Helpers.psm1 -Force
    $modulePath = (Import-PSSwarmUnderTest).Path
    $root = New-TestRoot -Name rootrotation

    $nodes = Start-TestSwarm -Root $root -IpPrefix 127.0.48
    $m1 = $nodes.m1; $m2 = $nodes.m2; $w1 = $nodes.w1; $o1 = $nodes.o1
    $w2 = Start-TestNode -Root $root -Name w2 -Ip 127.0.48.5
    $w2Node = Join-TestNode -Manager $m1 -Node $w2 -Role Worker
    # A 1 s heartbeat: nodes learn of a rotation within about a second.
    Set-Swarm -Endpoint $m1.Endpoint -DispatcherHeartbeat ([TimeSpan]::FromSeconds(1)) -ErrorAction Stop

    function Get-TokenDigest([string] $Token) { 'sha256:' + (ConvertFrom-Base36Digest (Split-JoinToken $Token).Digest) }

    function Get-FileCertificate([object] $Node, [string] $File) {
        [System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPem((Get-Content -Raw (Join-Path $Node.DataRoot "certificates/$File")))
    }

    # A root CA as an operator would bring one: ECDSA P-256, CA:true, written as PEM files.
    function New-RootCAFile([string] $Name) {
        $key = [System.Security.Cryptography.ECDsa]::Create([System.Security.Cryptography.ECCurve+NamedCurves]::nistP256)
        $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=swarm-ca', $key, [System.Security.Cryptography.HashAlgorithmName]::SHA256)
        $request.CertificateExtensions.Add([System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension]::new($true, $false, 0, $true))
        $request.CertificateExtensions.Add([System.Security.Cryptography.X509Certificates.X509KeyUsageExtension]::new(
            [System.Security.Cryptography.X509Certificates.X509KeyUsageFlags]'KeyCertSign, CrlSign', $true))
        $request.CertificateExtensions.Add([System.Security.Cryptography.X509Certificates.X509SubjectKeyIdentifierExtension]::new($request.PublicKey, $false))
        $now = [DateTimeOffset]::UtcNow
        $cert = $request.CreateSelfSigned($now.AddHours(-1), $now.AddYears(10))
        $certPath = Join-Path $root "$Name.crt"
        $keyPath = Join-Path $root "$Name.key"
        Set-Content -Path $certPath -Value (ConvertTo-DockerPem $cert.RawData) -NoNewline
        Set-Content -Path $keyPath -Value $key.ExportPkcs8PrivateKeyPem() -NoNewline
        [pscustomobject]@{ Certificate = $certPath; Key = $keyPath; Pem = ConvertTo-DockerPem $cert.RawData }
    }

    function Get-PemDigest([string] $Pem) {
        'sha256:' + [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($Pem))).ToLowerInvariant()
    }

    function Wait-RotationDone([object] $Manager, [string] $Digest, [double] $TimeoutSeconds = 30) {
        Wait-Until -TimeoutSeconds $TimeoutSeconds -IntervalMilliseconds 200 -Because "the rotation to $Digest to complete" -Condition {
            $ca = Get-SwarmCA -Endpoint $Manager.Endpoint -ErrorAction Stop
            if (-not $ca.RotationInProgress -and $ca.Digest -eq $Digest) { $ca }
        }
    }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'Update-SwarmCA refusals' {
    BeforeAll { $before = Get-SwarmCA -Endpoint $m1.Endpoint -ErrorAction Stop }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'refuses to run on a worker with SwarmNotManager (InvalidOperation)' {
        Assert-Refused { Update-SwarmCA -Endpoint $w1.Endpoint -Confirm:$false } 'SwarmNotManager' InvalidOperation (Get-NotManagerMessage -Worker)
    }

    It 'refuses to run on a node outside any swarm with SwarmNotManager (InvalidOperation)' {
        Assert-Refused { Update-SwarmCA -Endpoint $o1.Endpoint -Confirm:$false } 'SwarmNotManager' InvalidOperation (Get-NotManagerMessage)
    }

    It 'refuses -Certificate without -Key with SwarmInvalidArgument' {
        $ca = New-RootCAFile 'nokey'
        Assert-Refused { Update-SwarmCA -Endpoint $m1.Endpoint -Certificate $ca.Certificate -Confirm:$false } 'SwarmInvalidArgument' InvalidArgument '*without its key*'
    }

    It 'refuses -Key without -Certificate with SwarmInvalidArgument' {
        $ca = New-RootCAFile 'nocert'
        Assert-Refused { Update-SwarmCA -Endpoint $m1.Endpoint -Key $ca.Key -Confirm:$false } 'SwarmInvalidArgument' InvalidArgument '*without its CA certificate*'
    }

    It 'refuses a certificate file that does not exist with SwarmInvalidArgument naming it' {
        $missing = Join-Path $root 'missing.crt'
        Assert-Refused { Update-SwarmCA -Endpoint $m1.Endpoint -Certificate $missing -Key $missing -Confirm:$false } 'SwarmInvalidArgument' InvalidArgument "*missing.crt*"
    }

    It 'refuses a node certificate (not a CA) with SwarmInvalidArgument' {
        $certificates = Join-Path $w1.DataRoot 'certificates'
        Assert-Refused { Update-SwarmCA -Endpoint $m1.Endpoint -Certificate (Join-Path $certificates 'swarm-node.crt') -Key (Join-Path $certificates 'swarm-node.key') -Confirm:$false } `
            'SwarmInvalidArgument' InvalidArgument '*not a CA certificate*'
    }

    It 'refuses a key that does not belong to the certificate with SwarmInvalidArgument' {
        $a = New-RootCAFile 'mismatch-a'
        $b = New-RootCAFile 'mismatch-b'
        Assert-Refused { Update-SwarmCA -Endpoint $m1.Endpoint -Certificate $a.Certificate -Key $b.Key -Confirm:$false } 'SwarmInvalidArgument' InvalidArgument '*does not match*'
    }

    It 'changes nothing with -WhatIf' {
        Update-SwarmCA -Endpoint $m1.Endpoint -WhatIf
        $now = Get-SwarmCA -Endpoint $m1.Endpoint -ErrorAction Stop
        $now.Digest | Should -Be $before.Digest
        $now.RotationInProgress | Should -BeFalse
    }

    It 'leaves the root and the rotation state as they were after every refusal' {
        foreach ($m in $m1, $m2) {
            $now = Get-SwarmCA -Endpoint $m.Endpoint -ErrorAction Stop
            $now.Digest | Should -Be $before.Digest
            $now.RotationInProgress | Should -BeFalse
        }
    }
}

Describe 'Update-SwarmCA with a worker down' {
    BeforeAll {
        try {
            $old = Get-SwarmCA -Endpoint $m1.Endpoint -ErrorAction Stop
            $oldWorker = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker -Quiet -ErrorAction Stop
            $oldManager = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Manager -Quiet -ErrorAction Stop
            $extra = New-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker -ErrorAction Stop
            $keptW1 = Copy-NodeCertificateFile -Node $w1 -Destination (Join-Path $root 'kept-w1')
            $oldW1Certificate = Get-AttackNodeCertificate -Directory $keptW1

            Stop-TestNode $w2
            $null = Wait-NodeView -Manager $m1 -Id w2 -TimeoutSeconds 30 -Because 'the stopped worker to be Down' -Condition { param($v) "$($v.Status)" -eq 'Down' }

            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $result = @(Update-SwarmCA -Endpoint $m1.Endpoint -Confirm:$false -ErrorAction Stop)
            $clock.Stop()
            Write-Host ("Rotation with 2 managers, 1 worker up and 1 down (1 s heartbeat): {0:0.00} s" -f $clock.Elapsed.TotalSeconds)
            $new = $result[0]
        }
        catch {
            Write-Host "Setup failed: $_"
            foreach ($n in $m1, $m2, $w1, $w2) { Get-TestNodeLog -Node $n -Tail 30 | Write-Host }
            throw
        }
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'outputs one PSSwarm.SwarmCA for the new root, the rotation complete' {
        $result.Count | Should -Be 1
        $new.PSObject.TypeNames[0] | Should -Be 'PSSwarm.SwarmCA'
        $new.RotationInProgress | Should -BeFalse
        $new.Digest | Should -Not -Be $old.Digest
        $new.Digest | Should -Be (Get-PemDigest $new.Pem)
        $new.Subject | Should -Be 'CN=swarm-ca'
        $new.NextCertificate | Should -BeNullOrEmpty
    }

    It 'finishes within 20 s' {
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 20
    }

    It 'has every manager answer with the new root' {
        foreach ($m in $m1, $m2) { (Get-SwarmCA -Endpoint $m.Endpoint -ErrorAction Stop).Digest | Should -Be $new.Digest -Because $m.Name }
        (Get-Swarm -Endpoint $m2.Endpoint -ErrorAction Stop).RootCACertificate.RawData | Should -Be $new.Certificate.RawData
    }

    It 'regenerated both join tokens, which pin the new root' {
        $worker = Get-SwarmJoinToken -Endpoint $m2.Endpoint -Role Worker -Quiet -ErrorAction Stop
        $manager = Get-SwarmJoinToken -Endpoint $m2.Endpoint -Role Manager -Quiet -ErrorAction Stop
        $worker | Should -Not -Be $oldWorker
        $manager | Should -Not -Be $oldManager
        Get-TokenDigest $worker | Should -Be $new.Digest
        Get-TokenDigest $manager | Should -Be $new.Digest
    }

    It 'dropped the extra join token, which pinned the old root' {
        @(Get-SwarmJoinToken -Endpoint $m1.Endpoint -All -ErrorAction Stop | Where-Object { $_.Token -eq $extra.Token }) | Should -HaveCount 0
    }

    It 'gave every node that was up a certificate from the new root, and the new root in its data root' {
        foreach ($n in $m1, $m2, $w1) {
            $null = Wait-Until -TimeoutSeconds 10 -Because "$($n.Name) to save the new root" -Condition {
                (Get-Content -Raw (Join-Path $n.DataRoot 'certificates/swarm-root-ca.crt')) -eq $new.Pem
            }
            $cert = Get-FileCertificate $n 'swarm-node.crt'
            Test-CertificateChain -Certificate $cert -Root $new.Certificate | Should -BeTrue -Because "$($n.Name)'s certificate"
            Test-CertificateChain -Certificate $cert -Root $old.Certificate | Should -BeFalse -Because "$($n.Name)'s certificate"
        }
    }

    It 'serves a cluster port certificate from the new root on every manager' {
        foreach ($m in $m1, $m2) {
            $served = Get-TlsServerCertificate -Address $m.Ip
            Test-CertificateChain -Certificate $served.Certificate -Root $new.Certificate | Should -BeTrue -Because $m.Name
        }
    }

    It 'keeps every node that was up Ready, on every manager, and the stopped worker Down' {
        foreach ($m in $m1, $m2) {
            $list = @(Get-SwarmNode -Endpoint $m.Endpoint -ErrorAction Stop)
            foreach ($name in 'm1', 'm2', 'w1') { "$(($list | Where-Object Hostname -eq $name).Status)" | Should -Be 'Ready' -Because "$name on $($m.Name)" }
            "$(($list | Where-Object Hostname -eq 'w2').Status)" | Should -Be 'Down'
        }
    }

    It 'refuses a join with the old worker token (it pins the old root) with SwarmCAMismatch' {
        Assert-Refused { Join-Swarm -Endpoint $o1.Endpoint -Token $oldWorker -RemoteAddress $m1.Listen -ListenAddress $o1.Listen -AdvertiseAddress $o1.Ip } `
            'SwarmCAMismatch' SecurityError '*does not match*'
        "$((Get-Swarm -Endpoint $o1.Endpoint -ErrorAction Stop).LocalNodeState)" | Should -Be 'Inactive'
    }

    It 'refuses the old root''s certificate of a live node with Unauthenticated' {
        $r = Invoke-AttackCall -Address $m1.Listen -Path '/psswarm.cluster.v1.Dispatcher/Heartbeat' -Certificate $oldW1Certificate `
            -Body (ConvertTo-GrpcFrame ([PSSwarmAttack.Wire]::Concat((New-ProtoStringField 1 $w1.Ip), (New-ProtoStringField 2 $w1.Name))))
        $r.GrpcStatus | Should -Be 16 -Because "a certificate from the old root must be refused after the rotation (got $r)"
    }

    It 'admits a new node with the new worker token' {
        $joined = Join-TestNode -Manager $m2 -Node $o1 -Role Worker
        $joined.Status | Should -Be 'Ready'
        Test-CertificateChain -Certificate (Get-FileCertificate $o1 'swarm-node.crt') -Root $new.Certificate | Should -BeTrue
    }

    Context 'when the worker that was down comes back' {
        BeforeAll {
            $w2 = Start-TestNode -Root $root -Name w2 -Ip 127.0.48.5
        }

        It 'is refused by the swarm until it joins again (its certificate is from the old root)' {
            Start-Sleep -Seconds 2
            "$((Get-NodeView -Manager $m1 -Id $w2Node.Id).Status)" | Should -Be 'Down'
            "$((Get-Swarm -Endpoint $w2.Endpoint -ErrorAction Stop).LocalNodeState)" | Should -Not -Be 'Inactive'
        }

        It 'comes back with Join-Swarm and the new worker token, keeping its node ID' {
            $back = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker -ErrorAction Stop | Join-Swarm -Endpoint $w2.Endpoint -ErrorAction Stop
            $back.Id | Should -Be $w2Node.Id
            $view = Wait-NodeView -Manager $m1 -Id $w2Node.Id -TimeoutSeconds 10 -Because 'w2 to be Ready again' -Condition { param($v) "$($v.Status)" -eq 'Ready' }
            $view.Id | Should -Be $w2Node.Id
        }

        It 'is listed once, with a certificate and a root from the new CA' {
            @(Get-SwarmNode -Endpoint $m2.Endpoint -ErrorAction Stop | Where-Object Hostname -eq 'w2') | Should -HaveCount 1
            Test-CertificateChain -Certificate (Get-FileCertificate $w2 'swarm-node.crt') -Root $new.Certificate | Should -BeTrue
            Get-Content -Raw (Join-Path $w2.DataRoot 'certificates/swarm-root-ca.crt') | Should -Be $new.Pem
        }

        It 'refuses Join-Swarm on a member whose root did not change (SwarmAlreadyExists)' {
            Assert-Refused { Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker -ErrorAction Stop | Join-Swarm -Endpoint $w1.Endpoint } 'SwarmAlreadyExists' ResourceExists
        }
    }
}

Describe 'Update-SwarmCA -Certificate -Key -Detach' {
    BeforeAll {
        try {
            $given = New-RootCAFile 'given'
            # Every node Ready first (w2 came back a moment ago): the progress counts the nodes that are not Down.
            $null = Wait-Until -TimeoutSeconds 15 -Because 'every node to be Ready' -Condition {
                $list = @(Get-SwarmNode -Endpoint $m1.Endpoint -ErrorAction Stop)
                $list.Count -eq 5 -and @($list | Where-Object { "$($_.Status)" -ne 'Ready' }).Count -eq 0
            }
            $before = Get-SwarmCA -Endpoint $m1.Endpoint -ErrorAction Stop
            $started = @(Update-SwarmCA -Endpoint $m1.Endpoint -Certificate $given.Certificate -Key $given.Key -Detach -Confirm:$false -ErrorAction Stop)[0]
            $done = Wait-RotationDone -Manager $m1 -Digest (Get-PemDigest $given.Pem)
        }
        catch {
            Write-Host "Setup failed: $_"
            foreach ($n in $m1, $m2, $w1, $w2, $o1) { Get-TestNodeLog -Node $n -Tail 40 | Write-Host }
            throw
        }
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'returns at once with the rotation in progress and its progress' {
        $started.RotationInProgress | Should -BeTrue
        $started.Digest | Should -Be $before.Digest
        $started.NextDigest | Should -Be (Get-PemDigest $given.Pem)
        $started.NextCertificate.RawData | Should -Be ([System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPem($given.Pem).RawData)
        # Every node is up: m1, m2, w1, w2, o1.
        $started.NodesTotal | Should -Be 5
        $started.NodesRotated | Should -BeLessThan 5
        $started.RotationStartedAt | Should -BeGreaterThan ([DateTimeOffset]::UtcNow.AddMinutes(-2))
    }

    It 'completes with the given certificate as the root, exactly as given' {
        $done.Pem | Should -Be $given.Pem
        (Get-SwarmCA -Endpoint $m2.Endpoint -ErrorAction Stop).Digest | Should -Be $done.Digest
    }

    It 'moved every node to a certificate from the given root' {
        foreach ($n in $m1, $m2, $w1, $w2, $o1) {
            $null = Wait-Until -TimeoutSeconds 10 -Because "$($n.Name) to have a certificate from the given root" -Condition {
                Test-CertificateChain -Certificate (Get-FileCertificate $n 'swarm-node.crt') -Root $done.Certificate
            }
        }
    }

    It 'keeps every node Ready' {
        $list = @(Get-SwarmNode -Endpoint $m1.Endpoint -ErrorAction Stop)
        $list | Should -HaveCount 5
        $list | ForEach-Object { "$($_.Status)" | Should -Be 'Ready' -Because $_.Hostname }
    }
}

Describe 'Update-SwarmCA replacing a rotation in progress' {
    BeforeAll {
        $first = New-RootCAFile 'first'
        $second = New-RootCAFile 'second'
        $null = Update-SwarmCA -Endpoint $m1.Endpoint -Certificate $first.Certificate -Key $first.Key -Detach -Confirm:$false -ErrorAction Stop
        $replaced = @(Update-SwarmCA -Endpoint $m2.Endpoint -Certificate $second.Certificate -Key $second.Key -Detach -Confirm:$false -ErrorAction Stop)[0]
        $done = Wait-RotationDone -Manager $m1 -Digest (Get-PemDigest $second.Pem)
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'rotates to the second root (started through the other manager)' {
        $replaced.NextDigest | Should -Be (Get-PemDigest $second.Pem)
        $done.Pem | Should -Be $second.Pem
    }

    It 'leaves every node with a certificate from the second root, none from the first' {
        foreach ($n in $m1, $m2, $w1, $w2, $o1) {
            $null = Wait-Until -TimeoutSeconds 10 -Because "$($n.Name) to have a certificate from the second root" -Condition {
                Test-CertificateChain -Certificate (Get-FileCertificate $n 'swarm-node.crt') -Root $done.Certificate
            }
        }
        @(Get-SwarmNode -Endpoint $m1.Endpoint -ErrorAction Stop | Where-Object { "$($_.Status)" -ne 'Ready' }) | Should -HaveCount 0
    }
}

Describe 'Update-SwarmCA progress' {
    BeforeAll {
        $ps = [powershell]::Create()
        $null = $ps.AddCommand('Import-Module').AddParameter('Name', $modulePath).AddStatement().
            AddCommand('Update-SwarmCA').AddParameter('Endpoint', $m1.Endpoint).AddParameter('Confirm', $false)
        $output = $ps.Invoke()
        $progress = @($ps.Streams.Progress)
        $errors = @($ps.Streams.Error)
        $ps.Dispose()
    }

    It 'completes without an error' {
        $errors | Should -HaveCount 0 -Because ($errors -join '; ')
        $output | Should -HaveCount 1
        $output[0].RotationInProgress | Should -BeFalse
    }

    It 'writes progress records that count the nodes with a certificate from the new root, and completes them' {
        $counted = @($progress | Where-Object { $_.StatusDescription -match '^\d+ of 5 nodes have a certificate from the new root$' })
        $counted.Count | Should -BeGreaterThan 0 -Because (($progress | ForEach-Object StatusDescription) -join ' | ')
        $progress[-1].RecordType | Should -Be 'Completed'
    }
}
