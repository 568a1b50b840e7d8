#Requires -Version 7.4
# Certificate lifecycle on a swarm with one-hour node certificates (-CertExpiry 01:00:00): every node
# renews between 50% and 80% of its certificate's validity, the swarm keeps working once the first
# certificates have expired, a worker that was off past its expiry comes back with Join-Swarm -Token
# (keeping its node ID), and a whole swarm left off past its expiry comes back by starting its managers.
#
# Certificate time is a clock this file controls: every psswarmd is started with
# PSSWARM_CLOCK_OFFSET_FILE=<root>/clock-offset (inherited from this process), and its certificate
# clock is system time + the seconds in that file. Raft and heartbeats use real time.
# Loopback addresses: 127.0.42.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name renew

    $ExpiredMessagePrefix = 'Swarm certificates have expired.'
    $clockFile = Join-Path $root 'clock-offset'
    $clock = @{ Offset = 0.0 }   # the offset last written (a hashtable: every scope sees the same one)
    Set-Content -LiteralPath $clockFile -Value '0' -NoNewline
    $env:PSSWARM_CLOCK_OFFSET_FILE = $clockFile

    function Set-SwarmClockOffset {
        # Moves every node's certificate clock to system time + Seconds.
        param([Parameter(Mandatory)] [double] $Seconds)
        $clock.Offset = [Math]::Round($Seconds)
        Set-Content -LiteralPath $clockFile -Value $clock.Offset.ToString([cultureinfo]::InvariantCulture) -NoNewline
    }

    function Get-SwarmNow {
        # The certificate clock the nodes read (to within their 100 ms re-read of the offset file).
        [DateTimeOffset]::UtcNow.AddSeconds($clock.Offset)
    }

    function Set-SwarmTime {
        # Moves the certificate clock so that it reads At now.
        param([Parameter(Mandatory)] [DateTimeOffset] $At)
        Set-SwarmClockOffset -Seconds ($At - [DateTimeOffset]::UtcNow).TotalSeconds
    }

    function Get-NotAfter {
        param([System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate)
        [DateTimeOffset]::new($Certificate.NotAfter.ToUniversalTime())
    }

    function Get-RenewalDeadline {
        # The latest point of a certificate's renewal window: 80% of its validity.
        param([System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate)
        $notBefore = [DateTimeOffset]::new($Certificate.NotBefore.ToUniversalTime())
        $notBefore + [TimeSpan]::FromTicks([long](((Get-NotAfter $Certificate) - $notBefore).Ticks * 0.8))
    }

    function Test-ChainAtSwarmTime {
        # True when the certificate chains to the root at the swarm clock's time (not system time).
        param($Certificate, $Root)
        $chain = [System.Security.Cryptography.X509Certificates.X509Chain]::new()
        try {
            $chain.ChainPolicy.TrustMode = [System.Security.Cryptography.X509Certificates.X509ChainTrustMode]::CustomRootTrust
            $chain.ChainPolicy.RevocationMode = [System.Security.Cryptography.X509Certificates.X509RevocationMode]::NoCheck
            $chain.ChainPolicy.VerificationTime = (Get-SwarmNow).UtcDateTime
            $null = $chain.ChainPolicy.CustomTrustStore.Add($Root)
            $chain.Build($Certificate)
        }
        finally { $chain.Dispose() }
    }

    function Get-CertificateTable {
        # Name -> the certificate in each node's data root.
        param([object[]] $Nodes)
        $table = @{}
        foreach ($n in $Nodes) { $table[$n.Name] = Get-CertificateFile -Node $n }
        $table
    }

    function Wait-CertificateRenewal {
        <#
        Polls the certificate files of the nodes until each has a certificate with a serial other
        than the one in Before and a NotAfter later than ValidUntilAfter; prints when each one
        appeared (seconds since Since started) and returns the new certificates by name. Throws
        naming the nodes that did not renew in time.
        ValidUntilAfter tells a certificate issued at the new swarm time from one a manager signed
        while its clock still read the old time: each daemon re-reads the offset file every 100 ms,
        so for that long after a jump the nodes disagree, and a worker may get a certificate that
        is already due for renewal (it renews again on its next check, a second later).
        #>
        param(
            [Parameter(Mandatory)] [object[]] $Nodes,
            [Parameter(Mandatory)] [hashtable] $Before,
            [Parameter(Mandatory)] [DateTimeOffset] $ValidUntilAfter,
            [Parameter(Mandatory)] [System.Diagnostics.Stopwatch] $Since,
            [Parameter(Mandatory)] [string] $Label,
            [double] $TimeoutSeconds = 15
        )
        $renewed = @{}
        $seconds = @{}
        try {
            $null = Wait-Until -TimeoutSeconds $TimeoutSeconds -IntervalMilliseconds 100 -Because "every node to renew its certificate ($Label)" -Condition {
                foreach ($n in $Nodes) {
                    if ($renewed.ContainsKey($n.Name)) { continue }
                    $cert = $null
                    try { $cert = Get-CertificateFile -Node $n } catch { continue }   # being replaced right now
                    if ($cert.SerialNumber -ne $Before[$n.Name].SerialNumber -and (Get-NotAfter $cert) -gt $ValidUntilAfter) {
                        $renewed[$n.Name] = $cert
                        $seconds[$n.Name] = $Since.Elapsed.TotalSeconds
                    }
                }
                $renewed.Count -eq $Nodes.Count
            }
        }
        catch {
            $missing = @($Nodes.Name | Where-Object { -not $renewed.ContainsKey($_) })
            throw "$($_.Exception.Message); not renewed: $($missing -join ', ')"
        }
        $detail = ($Nodes.Name | ForEach-Object { '{0} {1:0.0} s' -f $_, $seconds[$_] }) -join ', '
        $last = ($seconds.Values | Measure-Object -Maximum).Maximum
        Write-Host ("Renewal timing ({0}): last node renewed {1:0.0} s after the clock jump ({2})" -f $Label, $last, $detail)
        $renewed
    }

    function Get-ViewExpiry {
        # A node's CertificateExpiry as a manager lists it, or $null.
        param($Manager, $Id)
        $view = Get-NodeView -Manager $Manager -Id $Id
        if ($view -and $view.CertificateExpiry) { [DateTimeOffset]$view.CertificateExpiry } else { $null }
    }

    function Wait-Ready {
        param($Manager, $Id, [double] $TimeoutSeconds = 15)
        Wait-NodeView -Manager $Manager -Id $Id -TimeoutSeconds $TimeoutSeconds -Because 'the node to be Ready' -Condition {
            param($n) $n -and "$($n.Status)" -eq 'Ready'
        }
    }

    $nodes = [ordered]@{}
    $nodes.m1 = Start-TestNode -Root $root -Name m1 -Ip 127.0.42.1
    $swarm = Initialize-Swarm -Endpoint $nodes.m1.Endpoint -ListenAddress $nodes.m1.Listen -AdvertiseAddress $nodes.m1.Ip `
        -CertExpiry '01:00:00' -DispatcherHeartbeat '00:00:01'
    $issuedAt = [DateTimeOffset]::UtcNow
    $rootCA = $swarm.RootCACertificate
    $nodes.m2 = Start-TestNode -Root $root -Name m2 -Ip 127.0.42.2
    $null = Join-TestNode -Manager $nodes.m1 -Node $nodes.m2 -Role Manager
    $nodes.w1 = Start-TestNode -Root $root -Name w1 -Ip 127.0.42.3
    $null = Join-TestNode -Manager $nodes.m1 -Node $nodes.w1 -Role Worker
    $nodes.w2 = Start-TestNode -Root $root -Name w2 -Ip 127.0.42.4
    $null = Join-TestNode -Manager $nodes.m1 -Node $nodes.w2 -Role Worker

    $ids = @{}
    foreach ($n in Get-SwarmNode -Endpoint $nodes.m1.Endpoint -ErrorAction Stop) { $ids[$n.Hostname] = $n.Id }
    # The certificates as issued (serial, NotAfter), before any clock jump.
    $first = Get-CertificateTable -Nodes $nodes.Values
    $certs = @{}   # later generations, by step: certs.second, certs.third, certs.fourth
    $all = @($nodes.m1, $nodes.m2, $nodes.w1, $nodes.w2)
}

AfterAll {
    try { Remove-TestRoot $root }
    finally { Remove-Item -LiteralPath Env:PSSWARM_CLOCK_OFFSET_FILE -ErrorAction SilentlyContinue }
}

Describe 'Certificate lifecycle (-CertExpiry 01:00:00, a test-controlled certificate clock)' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root -Tail 25 }

    Context 'when the swarm is created' {
        It 'gives every node a certificate valid from one hour before issuance to one hour after' {
            foreach ($name in 'm1', 'm2', 'w1', 'w2') {
                $cert = $first[$name]
                ($cert.NotAfter - $cert.NotBefore) | Should -Be ([TimeSpan]::FromHours(2)) -Because "$name's validity is CertExpiry plus the 1 h backdate"
                $notAfter = Get-NotAfter $cert
                $notAfter | Should -BeGreaterThan $issuedAt.AddMinutes(59) -Because "$name's certificate expires an hour after issuance"
                $notAfter | Should -BeLessThan $issuedAt.AddMinutes(65)
                Get-DistinguishedNamePart $cert.Subject 'CN' | Should -BeExactly $ids[$name]
            }
            @($first.Values.SerialNumber | Sort-Object -Unique).Count | Should -Be 4
        }

        It 'shows each node''s certificate expiry in Get-SwarmNode' {
            foreach ($name in 'm1', 'm2', 'w1', 'w2') {
                $expiry = Get-ViewExpiry -Manager $nodes.m1 -Id $ids[$name]
                $expiry | Should -Not -BeNullOrEmpty -Because "m1 lists $name's certificate expiry"
                [Math]::Abs(($expiry - (Get-NotAfter $first[$name])).TotalSeconds) | Should -BeLessOrEqual 1
            }
        }
    }

    Context 'when the swarm clock passes 40 minutes' {
        BeforeAll {
            # Every certificate is past its renewal window (at most 36 min after issuance), none has expired.
            $jump = [System.Diagnostics.Stopwatch]::StartNew()
            Set-SwarmClockOffset -Seconds 2400
        }

        It 'gives every node a new certificate within 15 s, valid until later' {
            $certs.second = Wait-CertificateRenewal -Nodes $all -Before $first -ValidUntilAfter (Get-SwarmNow).AddMinutes(55) -Since $jump -Label 'offset 2400' -TimeoutSeconds 15
            foreach ($name in 'm1', 'm2', 'w1', 'w2') {
                (Get-NotAfter $certs.second[$name]) | Should -BeGreaterThan (Get-NotAfter $first[$name]).AddMinutes(35) -Because "$name's renewed certificate runs an hour from the new swarm time"
                ($certs.second[$name].NotAfter - $certs.second[$name].NotBefore) | Should -Be ([TimeSpan]::FromHours(2))
            }
        }

        It 'keeps the root, the node ID (CN) and the role (OU) in the new certificates' {
            foreach ($name in 'm1', 'm2', 'w1', 'w2') {
                $cert = $certs.second[$name]
                Test-ChainAtSwarmTime -Certificate $cert -Root $rootCA | Should -BeTrue -Because "$name's new certificate comes from the swarm's root"
                $cert.Issuer | Should -BeExactly $rootCA.Subject
                Get-DistinguishedNamePart $cert.Subject 'CN' | Should -BeExactly $ids[$name]
                Get-DistinguishedNamePart $cert.Subject 'OU' | Should -BeExactly (Get-DistinguishedNamePart $first[$name].Subject 'OU')
                Get-DistinguishedNamePart $cert.Subject 'O' | Should -BeExactly $swarm.Id
            }
            Get-DistinguishedNamePart $certs.second['m2'].Subject 'OU' | Should -BeExactly 'swarm-manager'
            Get-DistinguishedNamePart $certs.second['w1'].Subject 'OU' | Should -BeExactly 'swarm-worker'
        }

        It 'serves the renewed certificate on <Manager>''s listener without a restart' -ForEach @(
            @{ Manager = 'm1' }
            @{ Manager = 'm2' }
        ) {
            $served = Get-TlsServerCertificate -Address $nodes[$Manager].Ip
            $served.Certificate.SerialNumber | Should -Not -Be $first[$Manager].SerialNumber
            $served.Certificate.SerialNumber | Should -Be (Get-CertificateFile -Node $nodes[$Manager]).SerialNumber
            $served.Protocol | Should -Be 'h2'
        }

        It 'shows the later CertificateExpiry of every node on <Manager>' -ForEach @(
            @{ Manager = 'm1' }
            @{ Manager = 'm2' }
        ) {
            foreach ($name in 'm1', 'm2', 'w1', 'w2') {
                $expected = Get-NotAfter (Get-CertificateFile -Node $nodes[$name])
                $expected | Should -BeGreaterThan (Get-NotAfter $first[$name])
                $null = Wait-Until -TimeoutSeconds 10 -Because "$Manager to list $name's renewed certificate expiry $expected" -Condition {
                    $e = Get-ViewExpiry -Manager $nodes[$Manager] -Id $ids[$name]
                    $e -and [Math]::Abs(($e - $expected).TotalSeconds) -le 1
                }
            }
        }

        It 'keeps the swarm working: a label set on m1 is seen on m2, and the workers stay Ready' {
            Set-SwarmNode -Endpoint $nodes.m1.Endpoint -Id $ids['w1'] -Label @{ renewed = 'once' } -ErrorAction Stop
            $view = Wait-NodeView -Manager $nodes.m2 -Id $ids['w1'] -TimeoutSeconds 10 -Because 'the label to reach m2' -Condition {
                param($n) $n -and $n.Labels['renewed'] -eq 'once'
            }
            $view.Labels['renewed'] | Should -BeExactly 'once'
            foreach ($name in 'w1', 'w2') {
                (Wait-Ready -Manager $nodes.m1 -Id $ids[$name]).Status | Should -Be 'Ready'
            }
            (Get-Swarm -Endpoint $nodes.w1.Endpoint).LocalNodeState | Should -Be 'Active'
        }
    }

    Context 'when the old certificates have expired' {
        BeforeAll {
            # 90 minutes: past the first certificates' NotAfter (60 min); the renewed ones (about
            # 40 min + 1 h) are still valid, and past their own renewal window, so they renew again.
            $jump = [System.Diagnostics.Stopwatch]::StartNew()
            Set-SwarmClockOffset -Seconds 5400
        }

        It 'is past every first certificate''s expiry and within every renewed one''s (a precondition)' {
            $now = Get-SwarmNow
            foreach ($name in 'm1', 'm2', 'w1', 'w2') {
                (Get-NotAfter $first[$name]) | Should -BeLessThan $now
                (Get-NotAfter $certs.second[$name]) | Should -BeGreaterThan $now
            }
        }

        It 'renews every node again, from the still valid certificates' {
            $certs.third = Wait-CertificateRenewal -Nodes $all -Before $certs.second -ValidUntilAfter (Get-SwarmNow).AddMinutes(55) -Since $jump -Label 'offset 5400' -TimeoutSeconds 15
            foreach ($name in 'm1', 'm2', 'w1', 'w2') {
                (Get-NotAfter $certs.third[$name]) | Should -BeGreaterThan (Get-SwarmNow).AddMinutes(55)
            }
        }

        It 'carries a label written through m2 to m1' {
            Set-SwarmNode -Endpoint $nodes.m2.Endpoint -Id $ids['w2'] -Label @{ written = 'm2' } -ErrorAction Stop
            $view = Wait-NodeView -Manager $nodes.m1 -Id $ids['w2'] -TimeoutSeconds 10 -Because 'the label written on m2 to reach m1' -Condition {
                param($n) $n -and $n.Labels['written'] -eq 'm2'
            }
            $view.Labels['written'] | Should -BeExactly 'm2'
        }

        It 'keeps the workers Ready' {
            foreach ($name in 'w1', 'w2') {
                (Wait-Ready -Manager $nodes.m1 -Id $ids[$name]).Status | Should -Be 'Ready'
                (Get-Swarm -Endpoint $nodes[$name].Endpoint).LocalNodeState | Should -Be 'Active'
            }
            # And they stay Ready over three more heartbeat periods (1 s each), which run on the renewed certificates.
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            while ($watch.Elapsed.TotalSeconds -lt 3.5) {
                @(Get-SwarmNode -Endpoint $nodes.m1.Endpoint -Role Worker | Where-Object Status -NE 'Ready').Hostname | Should -BeNullOrEmpty
                Start-Sleep -Milliseconds 250
            }
        }

        It 'lets a new worker join' {
            $nodes.w3 = Start-TestNode -Root $root -Name w3 -Ip 127.0.42.5
            $joined = Join-TestNode -Manager $nodes.m2 -Node $nodes.w3 -Role Worker
            $joined.Id | Should -MatchExactly '^[0-9a-z]{25}$'
            $ids['w3'] = $joined.Id
            (Wait-Ready -Manager $nodes.m1 -Id $joined.Id).Status | Should -Be 'Ready'
            $cert = Get-CertificateFile -Node $nodes.w3
            (Get-NotAfter $cert) | Should -BeGreaterThan (Get-SwarmNow).AddMinutes(55)
            Test-ChainAtSwarmTime -Certificate $cert -Root $rootCA | Should -BeTrue
        }
    }

    Context 'when a worker was off past its expiry' {
        BeforeAll {
            Stop-TestNode $nodes.w2
            $w2Cert = Get-CertificateFile -Node $nodes.w2
            $running = @($nodes.m1, $nodes.m2, $nodes.w1, $nodes.w3)
        }

        It 'renews the running nodes while the worker is off' {
            # The running nodes and w2 hold certificates of about the same age: one jump past w2's
            # NotAfter would expire theirs too. So first past every renewal window (80% of validity),
            # and only once they renewed, past w2's NotAfter.
            $before = Get-CertificateTable -Nodes $running
            $deadline = ($running | ForEach-Object { Get-RenewalDeadline $before[$_.Name] } | Sort-Object | Select-Object -Last 1)
            $target = $deadline.AddSeconds(30)
            $target | Should -BeLessThan (Get-NotAfter $w2Cert).AddMinutes(-5) -Because 'the first step must leave w2''s certificate valid'
            $jump = [System.Diagnostics.Stopwatch]::StartNew()
            Set-SwarmTime -At $target
            $certs.fourth = Wait-CertificateRenewal -Nodes $running -Before $before -ValidUntilAfter $target.AddMinutes(55) -Since $jump -Label 'past the renewal window, w2 off' -TimeoutSeconds 15
            foreach ($n in $running) { (Get-NotAfter $certs.fourth[$n.Name]) | Should -BeGreaterThan (Get-NotAfter $w2Cert).AddMinutes(20) }
        }

        It 'reports LocalNodeState Error with the expired message when the worker starts after its expiry' {
            Set-SwarmTime -At (Get-NotAfter $w2Cert).AddMinutes(2)
            (Get-SwarmNow) | Should -BeGreaterThan (Get-NotAfter $w2Cert)
            $nodes.w2 = Start-TestNode -Root $root -Name w2 -Ip 127.0.42.4
            $info = Wait-LocalNodeState -Node $nodes.w2 -State Error -TimeoutSeconds 15
            "$($info.Error)" | Should -BeLike "$ExpiredMessagePrefix*"
            "$($info.Error)" | Should -BeLike '*Join-Swarm -Token*'
            $info.NodeId | Should -BeExactly $ids['w2']
        }

        It 'is not Ready on the managers with its expired certificate' {
            (Wait-NodeView -Manager $nodes.m1 -Id $ids['w2'] -TimeoutSeconds 10 -Because 'the expired worker to be Down' -Condition {
                    param($n) $n -and "$($n.Status)" -eq 'Down'
                }).Status | Should -Be 'Down'
            # Its heartbeats (retried every second or two) carry the expired certificate: it must stay Down.
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            while ($watch.Elapsed.TotalSeconds -lt 3) {
                "$((Get-NodeView -Manager $nodes.m1 -Id $ids['w2']).Status)" | Should -Be 'Down'
                Start-Sleep -Milliseconds 250
            }
        }

        It 'takes Get-SwarmJoinToken -Role Worker | Join-Swarm' {
            $out = Get-SwarmJoinToken -Role Worker -Endpoint $nodes.m1.Endpoint -ErrorAction Stop |
                Join-Swarm -Endpoint $nodes.w2.Endpoint -ErrorAction Stop
            $out.Id | Should -BeExactly $ids['w2']
        }

        It 'keeps its node ID, is Active, and is Ready on m1' {
            $info = Wait-LocalNodeState -Node $nodes.w2 -State Active -TimeoutSeconds 10
            $info.NodeId | Should -BeExactly $ids['w2']
            (Wait-Ready -Manager $nodes.m1 -Id $ids['w2']).Status | Should -Be 'Ready'
            @(Get-SwarmNode -Endpoint $nodes.m1.Endpoint | Where-Object Hostname -EQ 'w2').Count | Should -Be 1
            $cert = Get-CertificateFile -Node $nodes.w2
            $cert.SerialNumber | Should -Not -Be $w2Cert.SerialNumber
            (Get-NotAfter $cert) | Should -BeGreaterThan (Get-SwarmNow).AddMinutes(55)
            Get-DistinguishedNamePart $cert.Subject 'CN' | Should -BeExactly $ids['w2']
            Get-DistinguishedNamePart $cert.Subject 'OU' | Should -BeExactly 'swarm-worker'
        }
    }

    Context 'when the whole swarm was off past its expiry' {
        BeforeAll {
            $everyone = @($nodes.Values)
            $everyone | Stop-TestNode
            $offline = Get-CertificateTable -Nodes $everyone
            $latest = ($offline.Values | ForEach-Object { Get-NotAfter $_ } | Sort-Object | Select-Object -Last 1)
            Set-SwarmTime -At $latest.AddHours(10)
            # m1 first and alone: it cannot have a quorum (two managers) until m2 is back.
            $jump = [System.Diagnostics.Stopwatch]::StartNew()
            $nodes.m1 = Start-TestNode -Root $root -Name m1 -Ip 127.0.42.1
        }

        It 'lets a manager started alone sign itself a new certificate from its store''s CA key, without a quorum' {
            $renewed = Wait-CertificateRenewal -Nodes @($nodes.m1) -Before $offline -ValidUntilAfter (Get-SwarmNow).AddMinutes(55) -Since $jump -Label 'whole swarm off +10 h, m1 alone' -TimeoutSeconds 15
            $cert = $renewed['m1']
            (Get-NotAfter $cert) | Should -BeGreaterThan (Get-SwarmNow)
            Get-DistinguishedNamePart $cert.Subject 'CN' | Should -BeExactly $ids['m1']
            Get-DistinguishedNamePart $cert.Subject 'OU' | Should -BeExactly 'swarm-manager'
            Test-ChainAtSwarmTime -Certificate $cert -Root $rootCA | Should -BeTrue
            # Alone, it has no quorum: reads wait for a leader that cannot be elected.
            $err = Get-ErrorRecord { Get-SwarmNode -Endpoint $nodes.m1.Endpoint -ErrorAction Stop }
            $err | Should -Not -BeNullOrEmpty -Because 'one manager of two has no quorum'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceUnavailable)
        }

        It 'has a quorum again within 30 s of starting the second manager, both with new certificates' {
            $jump = [System.Diagnostics.Stopwatch]::StartNew()
            $nodes.m2 = Start-TestNode -Root $root -Name m2 -Ip 127.0.42.2
            $null = Wait-CertificateRenewal -Nodes @($nodes.m2) -Before $offline -ValidUntilAfter (Get-SwarmNow).AddMinutes(55) -Since $jump -Label 'whole swarm off +10 h, m2 started' -TimeoutSeconds 15
            $listed = Wait-Until -TimeoutSeconds 30 -IntervalMilliseconds 250 -Because 'm1 to answer Get-SwarmNode' -Condition {
                @(Get-SwarmNode -Endpoint $nodes.m1.Endpoint -ErrorAction Stop)
            }
            Write-Host ('Renewal timing (whole swarm off +10 h): m1 answered Get-SwarmNode {0:0.0} s after m2 was started' -f $jump.Elapsed.TotalSeconds)
            @($listed.Hostname | Sort-Object) | Should -Be @('m1', 'm2', 'w1', 'w2', 'w3')
            $now = Get-SwarmNow
            foreach ($name in 'm1', 'm2') {
                $cert = Get-CertificateFile -Node $nodes[$name]
                (Get-NotAfter $cert) | Should -BeGreaterThan $now -Because "$name signed itself a new certificate"
                Get-DistinguishedNamePart $cert.Subject 'CN' | Should -BeExactly $ids[$name]
                Test-ChainAtSwarmTime -Certificate $cert -Root $rootCA | Should -BeTrue
            }
            (Wait-LocalNodeState -Node $nodes.m2 -State Active -TimeoutSeconds 10).IsManager | Should -BeTrue
        }

        It 'shows both managers'' new CertificateExpiry in Get-SwarmNode (m1 renewed while it had no quorum)' {
            foreach ($name in 'm1', 'm2') {
                $expected = Get-NotAfter (Get-CertificateFile -Node $nodes[$name])
                $null = Wait-Until -TimeoutSeconds 15 -Because "m1 to list $name's new certificate expiry $expected" -Condition {
                    $e = Get-ViewExpiry -Manager $nodes.m1 -Id $ids[$name]
                    $e -and [Math]::Abs(($e - $expected).TotalSeconds) -le 1
                }
            }
        }

        It 'lists both managers as Reachable' {
            foreach ($name in 'm1', 'm2') {
                (Wait-NodeView -Manager $nodes.m1 -Id $ids[$name] -TimeoutSeconds 15 -Because 'the manager to be reachable' -Condition {
                        param($n) $n -and "$($n.Reachability)" -eq 'Reachable' -and "$($n.Status)" -eq 'Ready'
                    }).Reachability | Should -Be 'Reachable'
            }
        }

        It 'puts a worker started again in LocalNodeState Error with the expired message' {
            $nodes.w1 = Start-TestNode -Root $root -Name w1 -Ip 127.0.42.3
            $info = Wait-LocalNodeState -Node $nodes.w1 -State Error -TimeoutSeconds 15
            "$($info.Error)" | Should -BeLike "$ExpiredMessagePrefix*"
            "$($info.Error)" | Should -BeLike '*Join-Swarm -Token*'
        }

        It 'brings the worker back with Join-Swarm and the worker token, under its node ID' {
            $out = Get-SwarmJoinToken -Role Worker -Endpoint $nodes.m1.Endpoint -ErrorAction Stop |
                Join-Swarm -Endpoint $nodes.w1.Endpoint -ErrorAction Stop
            $out.Id | Should -BeExactly $ids['w1']
            $info = Wait-LocalNodeState -Node $nodes.w1 -State Active -TimeoutSeconds 10
            $info.NodeId | Should -BeExactly $ids['w1']
            (Wait-Ready -Manager $nodes.m1 -Id $ids['w1']).Status | Should -Be 'Ready'
            (Get-NotAfter (Get-CertificateFile -Node $nodes.w1)) | Should -BeGreaterThan (Get-SwarmNow).AddMinutes(55)
        }
    }

    Context 'when a worker is promoted, then demoted' {
        It 'gives it a manager certificate (OU swarm-manager) at once, served on its listener' {
            $before = Get-CertificateFile -Node $nodes.w1
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            Set-SwarmNode -Endpoint $nodes.m1.Endpoint -Id $ids['w1'] -Role Manager -ErrorAction Stop
            $cert = Wait-Until -TimeoutSeconds 20 -Because 'w1 to hold a manager certificate' -Condition {
                $c = Get-CertificateFile -Node $nodes.w1
                if ($c.SerialNumber -ne $before.SerialNumber -and (Get-DistinguishedNamePart $c.Subject 'OU') -eq 'swarm-manager') { $c }
            }
            Write-Host ('Renewal timing (promotion): w1 held a manager certificate {0:0.0} s after Set-SwarmNode -Role Manager' -f $watch.Elapsed.TotalSeconds)
            Get-DistinguishedNamePart $cert.Subject 'CN' | Should -BeExactly $ids['w1']
            Test-ChainAtSwarmTime -Certificate $cert -Root $rootCA | Should -BeTrue
            $served = Wait-Until -TimeoutSeconds 15 -Because 'w1 to serve its certificate on 127.0.42.3:2377' -Condition {
                Get-TlsServerCertificate -Address $nodes.w1.Ip -TimeoutMilliseconds 1000
            }
            (Get-DistinguishedNamePart $served.Certificate.Subject 'OU') | Should -BeExactly 'swarm-manager'
            $served.Certificate.SerialNumber | Should -Be (Get-CertificateFile -Node $nodes.w1).SerialNumber
        }

        It 'gives it a worker certificate (OU swarm-worker) at once when it is demoted, and it stays Ready' {
            $before = Get-CertificateFile -Node $nodes.w1
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            Set-SwarmNode -Endpoint $nodes.m1.Endpoint -Id $ids['w1'] -Role Worker -ErrorAction Stop
            $cert = Wait-Until -TimeoutSeconds 20 -Because 'w1 to hold a worker certificate' -Condition {
                $c = Get-CertificateFile -Node $nodes.w1
                if ($c.SerialNumber -ne $before.SerialNumber -and (Get-DistinguishedNamePart $c.Subject 'OU') -eq 'swarm-worker') { $c }
            }
            Write-Host ('Renewal timing (demotion): w1 held a worker certificate {0:0.0} s after Set-SwarmNode -Role Worker' -f $watch.Elapsed.TotalSeconds)
            Get-DistinguishedNamePart $cert.Subject 'CN' | Should -BeExactly $ids['w1']
            (Wait-NodeView -Manager $nodes.m1 -Id $ids['w1'] -TimeoutSeconds 15 -Because 'w1 to be a Ready worker' -Condition {
                    param($n) $n -and "$($n.Role)" -eq 'Worker' -and "$($n.Status)" -eq 'Ready'
                }).Status | Should -Be 'Ready'
        }
    }

    Context 'when the swarm''s CertExpiry changes' {
        BeforeAll {
            $running = @($nodes.m1, $nodes.m2, $nodes.w1)
        }

        It 'renews every running node at once with the new validity' {
            if (-not (Get-Command Set-Swarm -Module PSSwarm -ErrorAction Ignore)) {
                Set-ItResult -Skipped -Because 'the module does not export Set-Swarm yet'
                return
            }
            $before = Get-CertificateTable -Nodes $running
            $jump = [System.Diagnostics.Stopwatch]::StartNew()
            Set-Swarm -Endpoint $nodes.m1.Endpoint -CertExpiry '02:00:00' -ErrorAction Stop
            $renewed = Wait-CertificateRenewal -Nodes $running -Before $before -ValidUntilAfter (Get-SwarmNow).AddMinutes(115) -Since $jump -Label 'Set-Swarm -CertExpiry 02:00:00' -TimeoutSeconds 15
            foreach ($n in $running) {
                ($renewed[$n.Name].NotAfter - $renewed[$n.Name].NotBefore) | Should -Be ([TimeSpan]::FromHours(3)) -Because "$($n.Name)'s certificate follows the new CertExpiry (plus the 1 h backdate)"
                (Get-NotAfter $renewed[$n.Name]) | Should -BeGreaterThan (Get-SwarmNow).AddMinutes(115)
            }
        }
    }
}
