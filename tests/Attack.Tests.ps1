#Requires -Version 7.4
# Attacks on the 2377 listener, each made by hand on the wire, against a real swarm:
#   path variants of the managers-only endpoints with a worker certificate, a forged Raft sender,
#   a demoted manager's and a removed node's kept certificates, a fake manager during a join,
#   garbage, HTTP/1.1, an oversized message and a join flood (while a legitimate client works),
#   and a malformed command proposed by a manager.
# The access table these tests pin down (SPEC.md, DESIGN.md "Trust facts about the HTTP transport"):
#   Anonymous  NodeCA/GetRootCACertificate, NodeCA/IssueNodeCertificate
#   Member     Dispatcher/Heartbeat, Dispatcher/Leave, NodeCA/RenewNodeCertificate
#   Manager    RaftControl/AddMember
#   RaftMember RaftControl/Propose, RaftControl/RemoveMember, RaftControl/ReadIndex, the Raft endpoint
# decided from the route that matched; a refused caller never reaches a handler.
# Loopback addresses: 127.0.41.x only (port 2377); 127.0.41.200/.201 are flood/probe source addresses.

BeforeDiscovery {
    # Every variant of a path a router or a string check might treat differently.
    function Get-PathVariant([string] $Service, [string] $Method) {
        $exact = "/$Service/$Method"
        # aLtErNaTiNg case, letter by letter
        $mixed = -join ($exact.ToCharArray() | ForEach-Object -Begin { $i = 0 } -Process {
                if ([char]::IsLetter($_)) { $i++; if ($i % 2) { [char]::ToLowerInvariant($_) } else { [char]::ToUpperInvariant($_) } } else { $_ } })
        # the method's first letter percent-encoded (e.g. %72aft, %50ropose)
        $encoded = ('%{0:X2}' -f [int][char]$Method[0]) + $Method.Substring(1)
        $seen = [System.Collections.Generic.HashSet[string]]::new([StringComparer]::Ordinal)
        @(
            @{ Variant = 'exact'; Path = $exact }
            @{ Variant = 'UPPER CASE'; Path = $exact.ToUpperInvariant() }
            @{ Variant = 'lower case'; Path = $exact.ToLowerInvariant() }
            @{ Variant = 'mixed case'; Path = $mixed }
            @{ Variant = 'trailing slash'; Path = "$exact/" }
            @{ Variant = 'leading double slash'; Path = "/$exact" }
            @{ Variant = 'inner double slash'; Path = "/$Service//$Method" }
            @{ Variant = 'dot segment'; Path = "/$Service/./$Method" }
            @{ Variant = 'dot-dot segment'; Path = "/$Service/x/../$Method" }
            @{ Variant = 'percent-encoded letter'; Path = "/$Service/$encoded" }
            @{ Variant = 'percent-encoded slash'; Path = "/$Service%2F$Method" }
            @{ Variant = 'query string'; Path = "$($exact)?x=1" }
        ) | Where-Object { $seen.Add($_.Path) }
    }
    $raftVariants = Get-PathVariant 'cluster-consensus' 'raft'
    $grpcVariants = foreach ($method in 'Propose', 'AddMember', 'RemoveMember', 'ReadIndex') {
        foreach ($v in Get-PathVariant 'psswarm.cluster.v1.RaftControl' $method) { $v + @{ Method = $method } }
    }
}

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
    Import-Module $PSScriptRoot/Attack.Helpers.psm1 -Force
    $null = Import-PSSwarmUnderTest
    $root = New-TestRoot -Name attack

    # A setup failure fails every test of its block: print the daemons' logs with it.
    function Write-SetupFailure([object] $ErrorRecord) {
        Write-Host "Setup failed: $ErrorRecord"
        foreach ($name in 'm1', 'm2', 'w1', 'm3', 'w2', 'j6', 'j7') {
            $node = Get-Variable -Name $name -ValueOnly -ErrorAction Ignore
            if ($node) { Get-TestNodeLog -Node $node -Tail 30 | Write-Host }
        }
    }

    try {
        $m1 = Start-TestNode -Root $root -Name m1 -Ip 127.0.41.1
        $m2 = Start-TestNode -Root $root -Name m2 -Ip 127.0.41.2
        $w1 = Start-TestNode -Root $root -Name w1 -Ip 127.0.41.3
        $null = Initialize-Swarm -Endpoint $m1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip -ErrorAction Stop
        $m2Node = Join-TestNode -Manager $m1 -Node $m2 -Role Manager
        $w1Node = Join-TestNode -Manager $m1 -Node $w1 -Role Worker
    }
    catch { Write-SetupFailure $_; throw }

    $rootCaPath = Join-Path $m1.DataRoot 'certificates/swarm-root-ca.crt'
    $grpc = 'application/grpc'
    $raftPath = '/cluster-consensus/raft'
    $raftContentType = 'application/octet-stream'

    # Real member IDs need DotNext's own hashing: load it from the staged daemon.
    $memberIdsAvailable = Initialize-RaftMemberId -DaemonDirectory (Split-Path -Parent (Get-PSSwarmDaemonPath))
    if (-not $memberIdsAvailable) {
        Write-Warning "Could not load DotNext to compute Raft member IDs ($(Get-RaftMemberIdLoadError)); the forged-sender tests use random IDs only."
    }
    function Get-MemberIdOrRandom([object] $Node) {
        if ($memberIdsAvailable) { Get-RaftMemberId -Address $Node.Listen } else { New-RandomMemberId }
    }

    # The test node (of those given) that leads, by m1's view.
    function Get-LeaderNode([object[]] $Managers) {
        $leader = Wait-Until -TimeoutSeconds 15 -Because 'a Raft leader among the managers' -Condition {
            @(Get-SwarmNode -Endpoint $m1.Endpoint -ErrorAction Stop | Where-Object { $_.IsLeader }) | Select-Object -First 1
        }
        $Managers | Where-Object { $_.Ip -eq $leader.Address -or $_.Name -eq $leader.Hostname } | Select-Object -First 1
    }

    # A valid, harmless command: patch a node with nothing changed (camelCase JSON, as the store writes it).
    function New-NoOpCommand([string] $NodeId) {
        $at = [DateTimeOffset]::UtcNow.ToString('o')
        [System.Text.Encoding]::UTF8.GetBytes("{`"op`":`"patchNode`",`"v`":1,`"nodeId`":`"$NodeId`",`"at`":`"$at`"}")
    }

    function New-ProposeBody([byte[]] $Command) {
        ConvertTo-GrpcFrame (New-ProtoBytesField -Number 1 -Value $Command)
    }

    function New-HeartbeatBody([object] $Node) {
        ConvertTo-GrpcFrame ([PSSwarmAttack.Wire]::Concat((New-ProtoStringField 1 $Node.Ip), (New-ProtoStringField 2 $Node.Name)))
    }

    # A legitimate client: the time Get-SwarmNode on m1 takes (milliseconds); throws when it fails.
    function Measure-LegitimateCall {
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $nodes = @(Get-SwarmNode -Endpoint $m1.Endpoint -ErrorAction Stop)
        $clock.Stop()
        if ($nodes.Count -lt 3) { throw "Get-SwarmNode on m1 listed $($nodes.Count) nodes" }
        $clock.Elapsed.TotalMilliseconds
    }

    # After an attack: the control API answers quickly and the 2377 listener still serves the root CA.
    function Assert-StillServing([string] $After) {
        $ms = Measure-LegitimateCall
        $ms | Should -BeLessThan 2000 -Because "Get-SwarmNode on m1 must answer quickly after $After"
        $ca = Invoke-AttackCall -Address $m1.Listen -Path '/psswarm.cluster.v1.NodeCA/GetRootCACertificate' -TimeoutMilliseconds 5000
        $ca.GrpcStatus | Should -Be 0 -Because "the 2377 listener must keep serving after $After (got $ca)"
    }

    function Get-Median([double[]] $Values) {
        if (-not $Values) { return [double]::NaN }
        $sorted = @($Values | Sort-Object)
        $sorted[[int][Math]::Floor(($sorted.Count - 1) / 2)]
    }
}

AfterAll {
    # Stops every daemon and the fake managers by PID (Register-TestProcess), then removes the folder.
    Remove-TestRoot $root
}

Describe 'The cluster listener under attack' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when a worker certificate calls the managers-only endpoints by path variants' {
        BeforeAll {
            $workerCertificate = Get-AttackNodeCertificate $w1
            # As a worker would claim to be a Raft member: the ID its address would have.
            $workerSender = Get-MemberIdOrRandom $w1
        }

        It 'refuses the Raft endpoint by its <Variant> path (<Path>) with 403 or 404' -ForEach $raftVariants {
            # A Metadata request: if DotNext's handler runs, it answers 200 with the member metadata.
            $r = Invoke-AttackCall -Address $m1.Listen -Path $Path -Certificate $workerCertificate -ContentType $raftContentType `
                -Body @() -Header (New-RaftHeader -MessageType Metadata -Sender $workerSender)
            $r.Status | Should -BeIn @(403, 404) -Because "a worker certificate must never reach DotNext's Raft handler through '$Path' (got $r); 200/400/500 mean the handler ran"
        }

        It 'refuses RaftControl/<Method> by its <Variant> path (<Path>) before any handler runs' -ForEach $grpcVariants {
            # Two bodies: an empty message, and a truncated protobuf that fails to deserialize (status
            # 2 or 13) if the request got past authorization into the method's pipeline.
            $bodies = [byte[]](0, 0, 0, 0, 0), [byte[]](0, 0, 0, 0, 2, 0x0A, 0xFF)
            foreach ($body in $bodies) {
                $r = Invoke-AttackCall -Address $m1.Listen -Path $Path -Certificate $workerCertificate -ContentType $grpc -Body $body
                $refused = ($r.GrpcStatus -in 7, 12, 16) -or ($r.Status -eq 404 -and $null -eq $r.GrpcStatus)
                $refused | Should -BeTrue -Because "a worker certificate on '$Path' (body of $($body.Count) bytes) must be refused with grpc-status 7, 12 or 16 or HTTP 404, never reach the method (got $r)"
            }
        }
    }

    Context 'when a manager certificate claims another Raft sender' {
        BeforeAll {
            $m2Certificate = Get-AttackNodeCertificate $m2
            $m2Sender = Get-MemberIdOrRandom $m2
            $m1Sender = Get-MemberIdOrRandom $m1
            if ($memberIdsAvailable) {
                Write-Host "Raft member IDs: m1 $m1Sender, m2 $m2Sender"
            }
            function Invoke-RaftAs([string[]] $Sender, [switch] $NoSender) {
                Invoke-AttackCall -Address $m1.Listen -Path $raftPath -Certificate $m2Certificate -ContentType $raftContentType -Body @() `
                    -Header (New-RaftHeader -MessageType Metadata -Sender $Sender -NoSender:$NoSender)
            }
        }

        It 'computes real member IDs from DotNext (or falls back to random ones)' {
            $m2Sender | Should -Match '^[0-9A-F]{56}$' -Because 'a ClusterMemberId is 28 bytes written as upper-case hex'
            $memberIdsAvailable | Should -BeTrue -Because "the staged daemon's DotNext should load into the test host to compute member IDs ($(Get-RaftMemberIdLoadError))"
        }

        It 'lets m2''s certificate through with m2''s own member ID (positive control)' {
            $r = Invoke-RaftAs -Sender $m2Sender
            $r.Status | Should -Not -Be 403 -Because "m2 is a Raft member naming itself: the sender check must pass (got $r)"
            $r.Status | Should -Be 200 -Because "DotNext answers a Metadata request with 200 (got $r)"
        }

        It 'refuses m2''s certificate claiming a random member ID with 403' {
            $r = Invoke-RaftAs -Sender (New-RandomMemberId)
            $r.Status | Should -Be 403 -Because "X-Raft-Node-ID must be the member ID of the node the TLS certificate names (got $r)"
        }

        It 'refuses m2''s certificate claiming m1''s member ID with 403' {
            $r = Invoke-RaftAs -Sender $m1Sender
            $r.Status | Should -Be 403 -Because "m2 must not speak Raft as m1 (got $r)"
        }

        It 'refuses m2''s certificate without X-Raft-Node-ID with 403' {
            $r = Invoke-RaftAs -NoSender
            $r.Status | Should -Be 403 -Because "a Raft message without a sender header cannot be checked (got $r)"
        }

        It 'refuses m2''s certificate with X-Raft-Node-ID repeated with 403' {
            $r = Invoke-RaftAs -Sender $m2Sender, $m2Sender
            $r.Status | Should -Be 403 -Because "a repeated sender header is ambiguous (got $r)"
        }
    }

    Context 'when a demoted manager keeps its manager certificate' {
        BeforeAll {
            try {
                $m3 = Start-TestNode -Root $root -Name m3 -Ip 127.0.41.4
                $m3Node = Join-TestNode -Manager $m1 -Node $m3 -Role Manager
            }
            catch { Write-SetupFailure $_; throw }
            $kept = Copy-NodeCertificateFile -Node $m3 -Destination (Join-Path $root 'kept-m3')
            $m3Certificate = Get-AttackNodeCertificate -Directory $kept
            $m3Sender = Get-MemberIdOrRandom $m3
            function Invoke-M3Raft {
                Invoke-AttackCall -Address $m1.Listen -Path $raftPath -Certificate $m3Certificate -ContentType $raftContentType -Body @() `
                    -Header (New-RaftHeader -MessageType Metadata -Sender $m3Sender) -TimeoutMilliseconds 3000
            }
            function Invoke-M3Propose {
                $leader = Get-LeaderNode @($m1, $m2, $m3)
                Invoke-AttackCall -Address $leader.Listen -Path '/psswarm.cluster.v1.RaftControl/Propose' -Certificate $m3Certificate `
                    -Body (New-ProposeBody (New-NoOpCommand $m3Node.Id)) -TimeoutMilliseconds 3000
            }
        }

        It 'kept a manager certificate of m3 (harness check)' {
            (Get-DistinguishedNamePart -Name $m3Certificate.Subject -Part 'OU') | Should -Be 'swarm-manager' -Because 'the copy is taken while m3 is a manager'
        }

        It 'lets m3''s certificate speak Raft and propose while m3 is a manager (positive control)' {
            $raft = Invoke-M3Raft
            $raft.Status | Should -Be 200 -Because "m3 is a manager and a Raft member naming itself (got $raft)"
            $propose = Invoke-M3Propose
            $propose.GrpcStatus | Should -Be 0 -Because "a no-op command from a current Raft member must be accepted (got $propose)"
        }

        It 'refuses the kept manager certificate on Raft (403) and Propose (7) within 5 s of the demotion' {
            $null = Set-SwarmNode -Endpoint $m1.Endpoint -Id $m3Node.Id -Role Worker -Confirm:$false -ErrorAction Stop
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $firstRefusal = $null
            $state = @{ Raft = $null; Propose = $null; LastRaft = $null; LastPropose = $null }
            try {
                $null = Wait-Until -TimeoutSeconds 5 -IntervalMilliseconds 50 -Because 'the demoted manager certificate to be refused' -Condition {
                    if ($null -eq $state.Raft) {
                        $state.LastRaft = Invoke-M3Raft
                        if ($state.LastRaft.Status -eq 403) { $state.Raft = $clock.ElapsedMilliseconds }
                    }
                    if ($null -eq $state.Propose) {
                        $state.LastPropose = Invoke-M3Propose
                        if ($state.LastPropose.GrpcStatus -eq 7) { $state.Propose = $clock.ElapsedMilliseconds }
                    }
                    $null -ne $state.Raft -and $null -ne $state.Propose
                }
            }
            catch { Write-Host "demotion: $_" }
            $firstRefusal = @($state.Raft, $state.Propose) | Where-Object { $null -ne $_ } | Sort-Object | Select-Object -First 1
            if ($null -ne $firstRefusal) {
                Write-Host "demoted certificate refused after $firstRefusal ms (Raft: $($state.Raft) ms, Propose: $($state.Propose) ms)"
            }
            else { Write-Host "demoted certificate not refused within $([int]$clock.ElapsedMilliseconds) ms" }
            ($null -ne $state.Raft) | Should -BeTrue -Because "a demoted manager's kept certificate must lose the Raft endpoint (403) within 5 s (last answer: $($state.LastRaft))"
            ($null -ne $state.Propose) | Should -BeTrue -Because "a demoted manager's kept certificate must lose RaftControl/Propose (grpc-status 7) within 5 s (last answer: $($state.LastPropose))"
        }
    }

    Context 'when a removed node keeps its certificate' {
        BeforeAll {
            try {
                $w2 = Start-TestNode -Root $root -Name w2 -Ip 127.0.41.5
                $w2Node = Join-TestNode -Manager $m1 -Node $w2 -Role Worker
            }
            catch { Write-SetupFailure $_; throw }
            $keptW2 = Copy-NodeCertificateFile -Node $w2 -Destination (Join-Path $root 'kept-w2')
            $w2Certificate = Get-AttackNodeCertificate -Directory $keptW2
            function Invoke-W2Heartbeat {
                $leader = Get-LeaderNode @($m1, $m2)
                Invoke-AttackCall -Address $leader.Listen -Path '/psswarm.cluster.v1.Dispatcher/Heartbeat' -Certificate $w2Certificate -Body (New-HeartbeatBody $w2)
            }
        }

        AfterAll {
            # The removed daemon keeps knocking (and logging) every few seconds: quiet it.
            if (Get-Variable w2 -ErrorAction Ignore) { Stop-TestNode $w2 }
        }

        It 'accepts w2''s heartbeat while it is a member (positive control)' {
            $r = Invoke-W2Heartbeat
            $r.GrpcStatus | Should -Be 0 -Because "w2 is a member of the swarm (got $r)"
        }

        It 'refuses the removed node''s certificate with PermissionDenied naming the removal' {
            Remove-SwarmNode -Endpoint $m1.Endpoint -Id $w2Node.Id -Force -Confirm:$false -ErrorAction Stop
            $r = Wait-Until -TimeoutSeconds 5 -Because 'the removed node to be refused' -Condition {
                $answer = Invoke-W2Heartbeat
                if ($answer.GrpcStatus -ne 0) { $answer }
            }
            $r.GrpcStatus | Should -Be 7 -Because "a removed node's certificate is PermissionDenied (got $r)"
            $r.GrpcMessage | Should -Match "node $($w2Node.Id) was removed from swarm" -Because "the refusal names the removal in Docker's words (got $r)"
        }
    }

    Context 'when a fake manager serves a join' {
        BeforeAll {
            # Build the fake into the test root (its own obj/bin: concurrent runs do not collide).
            $fakeDir = Join-Path $root 'fake'
            $project = Join-Path $PSScriptRoot 'tools/FakeManager/FakeManager.csproj'
            $dotnet = (Get-Command dotnet -CommandType Application | Select-Object -First 1).Source
            $buildOutput = & $dotnet build $project -c Release -o (Join-Path $fakeDir 'bin') --artifacts-path (Join-Path $fakeDir 'artifacts') --disable-build-servers --nologo -v quiet 2>&1
            if ($LASTEXITCODE -ne 0) { throw "dotnet build of FakeManager failed ($LASTEXITCODE): $($buildOutput -join [Environment]::NewLine)" }
            $fakeExe = Join-Path $fakeDir 'bin/FakeManager'

            function Start-FakeManager([string] $Name, [string] $Ip, [string] $CertificateDirectory) {
                $tokens = Join-Path $root "$Name.tokens"
                $arguments = @('--listen', "${Ip}:2377", '--cert', (Join-Path $CertificateDirectory 'swarm-node.crt'),
                    '--key', (Join-Path $CertificateDirectory 'swarm-node.key'), '--root', $rootCaPath, '--tokens', $tokens)
                $process = Start-Process -FilePath $fakeExe -ArgumentList $arguments -PassThru `
                    -RedirectStandardOutput (Join-Path $root "$Name.out") -RedirectStandardError (Join-Path $root "$Name.err")
                Register-TestProcess -Root $root -ProcessId $process.Id -Name $Name -DataRoot (Join-Path $root $Name)
                $processId = $process.Id
                $null = Wait-Until -TimeoutSeconds 20 -Because "FakeManager $Name to listen on ${Ip}:2377" -Condition {
                    if (-not (Test-ProcessAlive $processId)) { throw "FakeManager $Name exited: $(Get-Content -Raw -ErrorAction Ignore (Join-Path $root "$Name.err"))" }
                    Test-TcpPort -Address $Ip -TimeoutMilliseconds 500
                }
                [pscustomobject]@{ Name = $Name; Ip = $Ip; Listen = "${Ip}:2377"; Tokens = $tokens; Pid = $processId }
            }

            # 1. w1's WORKER certificate: it chains to the real root, but it is not a manager's.
            $fakeWorker = Start-FakeManager -Name fake50 -Ip 127.0.41.50 -CertificateDirectory (Join-Path $w1.DataRoot 'certificates')
            # 2. A self-signed certificate.
            $selfSignedDir = Join-Path $root 'self-signed'
            $null = New-SelfSignedTestCertificate -Directory $selfSignedDir
            $fakeSelf = Start-FakeManager -Name fake51 -Ip 127.0.41.51 -CertificateDirectory $selfSignedDir

            $j7 = Start-TestNode -Root $root -Name j7 -Ip 127.0.41.7
            function Join-ViaFake([object] $Fake) {
                Get-ErrorRecord {
                    Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Manager -ErrorAction Stop |
                        Join-Swarm -Endpoint $j7.Endpoint -RemoteAddress $Fake.Listen -ListenAddress $j7.Listen -AdvertiseAddress $j7.Ip -ErrorAction Stop
                }
            }
            function Get-RecordedToken([object] $Fake) {
                if (Test-Path -LiteralPath $Fake.Tokens) { @(Get-Content -LiteralPath $Fake.Tokens | Where-Object { $_ }) } else { @() }
            }
        }

        It 'serves the real root CA byte for byte and w1''s worker certificate (harness check)' {
            $real = Invoke-AttackCall -Address $m1.Listen -Path '/psswarm.cluster.v1.NodeCA/GetRootCACertificate'
            $fake = Invoke-AttackCall -Address $fakeWorker.Listen -Path '/psswarm.cluster.v1.NodeCA/GetRootCACertificate'
            $fake.GrpcStatus | Should -Be 0 -Because "the fake answers the root CA request (got $fake)"
            [Convert]::ToHexString($fake.BodyBytes) | Should -BeExactly ([Convert]::ToHexString($real.BodyBytes)) -Because 'the fake must serve the root CA exactly as m1 does, so the token digest matches'
            $served = Get-TlsServerCertificate -Address $fakeWorker.Ip
            $served.Certificate.Thumbprint | Should -Be (Get-CertificateFile -Node $w1).Thumbprint -Because 'the fake presents w1''s worker certificate'
            Test-CertificateChain -Certificate $served.Certificate -Root (Get-CertificateFile -Node $m1 -RelativePath 'certificates/swarm-root-ca.crt') |
                Should -BeTrue -Because 'w1''s certificate chains to the real root: only its role is wrong'
        }

        It 'refuses to send the token to a server with a worker certificate of the swarm (SecurityError)' {
            $err = Join-ViaFake $fakeWorker
            $err | Should -Not -BeNullOrEmpty -Because 'a join through a fake manager must fail'
            "$($err.CategoryInfo.Category)" | Should -Be 'SecurityError' -Because "the joiner must check that the server is a manager before it sends the token (got $(Get-ErrorSummary $err))"
            $leaked = Get-RecordedToken $fakeWorker
            $leaked.Count | Should -Be 0 -Because 'the join token must never reach a server that is not a manager of the swarm (the fake recorded it)'
            (Get-Swarm -Endpoint $j7.Endpoint).LocalNodeState | Should -Be 'Inactive' -Because 'the refused join leaves the node outside any swarm'
        }

        It 'refuses to send the token to a server with a self-signed certificate (SecurityError)' {
            $err = Join-ViaFake $fakeSelf
            $err | Should -Not -BeNullOrEmpty -Because 'a join through a fake manager must fail'
            "$($err.CategoryInfo.Category)" | Should -Be 'SecurityError' -Because "a server certificate that does not chain to the pinned root is a security error (got $(Get-ErrorSummary $err))"
            $leaked = Get-RecordedToken $fakeSelf
            $leaked.Count | Should -Be 0 -Because 'the join token must never reach a server whose certificate does not chain to the root'
        }
    }

    Context 'when the listener is abused while a legitimate client keeps working' {
        BeforeAll {
            $workerCertificate = Get-AttackNodeCertificate $w1
            $m2Certificate = Get-AttackNodeCertificate $m2
            $m2Sender = Get-MemberIdOrRandom $m2
            $baseline = @(1..5 | ForEach-Object { Measure-LegitimateCall })
            Write-Host ("Get-SwarmNode on m1 before the abuse: median {0:0.0} ms" -f (Get-Median $baseline))
        }

        It 'negotiates h2 with a client that offers it (control)' {
            (Get-TlsServerCertificate -Address $m1.Ip).Protocol | Should -Be 'h2' -Because 'the listener speaks HTTP/2 over TLS with ALPN h2'
        }

        It 'survives random bytes over plain TCP and over TLS' {
            $received = foreach ($i in 1..20) {
                $garbage = [byte[]]::new(4096)
                [System.Security.Cryptography.RandomNumberGenerator]::Fill($garbage)
                [PSSwarmAttack.Wire]::RawTcp($m1.Ip, 2377, $garbage, 3000)
            }
            $received | Should -Not -Contain -1 -Because 'the listener accepts TCP connections'
            foreach ($i in 1..5) {
                $garbage = [byte[]]::new(4096)
                [System.Security.Cryptography.RandomNumberGenerator]::Fill($garbage)
                $probe = [PSSwarmAttack.Wire]::Tls($m1.Ip, 2377, [string[]]@('h2'), $garbage, 5000)
                $probe.HandshakeCompleted | Should -BeTrue -Because "a TLS client offering h2 completes the handshake ($probe)"
                $probe.Closed | Should -BeTrue -Because "garbage instead of the HTTP/2 preface gets the connection closed, not left hanging ($probe)"
            }
            Assert-StillServing 'garbage over TCP'
        }

        It 'gives no HTTP/1.1 answer to a TLS client offering only ALPN http/1.1' {
            $request = [System.Text.Encoding]::ASCII.GetBytes("GET / HTTP/1.1`r`nHost: $($m1.Listen)`r`nConnection: close`r`n`r`n")
            $probe = [PSSwarmAttack.Wire]::Tls($m1.Ip, 2377, [string[]]@('http/1.1'), $request, 5000)
            "$($probe.ResponseStart)" | Should -Not -BeLike 'HTTP/*' -Because "the listener is HTTP/2 only ($probe)"
            $probe.Alpn | Should -Not -Be 'http/1.1' -Because "the listener must not negotiate http/1.1 ($probe)"
            ((-not $probe.HandshakeCompleted) -or $probe.Closed) | Should -BeTrue -Because "the handshake fails or the connection is closed ($probe)"
            Assert-StillServing 'an http/1.1-only TLS client'
        }

        It 'answers no HTTP/1.1 request over TLS with 200, not even a manager''s Raft request' {
            $r = Invoke-AttackCall -Address $m1.Listen -Path $raftPath -Certificate $m2Certificate -ContentType $raftContentType -Body @() `
                -Header (New-RaftHeader -MessageType Metadata -Sender $m2Sender) -HttpVersion '1.1' -TimeoutMilliseconds 5000
            $r.Status | Should -Not -Be 200 -Because "HTTP/1.1 is refused on 2377 (got $r)"
            $r = Invoke-AttackCall -Address $m1.Listen -Path '/psswarm.cluster.v1.NodeCA/GetRootCACertificate' -HttpVersion '1.1' -TimeoutMilliseconds 5000
            $r.Status | Should -Not -Be 200 -Because "HTTP/1.1 is refused on 2377 (got $r)"
            Assert-StillServing 'HTTP/1.1 requests'
        }

        It 'refuses a 2 MiB gRPC message with ResourceExhausted or a reset' {
            $filler = [byte[]]::new(2MB)
            # Unknown field 15 on a real heartbeat: a handler that ran would simply ignore it.
            $message = [PSSwarmAttack.Wire]::Concat((New-ProtoStringField 1 $w1.Ip), (New-ProtoStringField 2 $w1.Name), (New-ProtoBytesField 15 $filler))
            $r = Invoke-AttackCall -Address $m1.Listen -Path '/psswarm.cluster.v1.Dispatcher/Heartbeat' -Certificate $workerCertificate `
                -Body (ConvertTo-GrpcFrame $message) -TimeoutMilliseconds 15000
            $refused = $r.GrpcStatus -eq 8 -or ($null -eq $r.GrpcStatus -and $r.Error)
            $refused | Should -BeTrue -Because "gRPC messages on 2377 are capped at 1 MiB (got $r)"
            Assert-StillServing 'an oversized message'
        }
    }

    Context 'when one address floods the join endpoint with wrong tokens' {
        BeforeAll {
            $issue = '/psswarm.cluster.v1.NodeCA/IssueNodeCertificate'
            $workerToken = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker -Quiet -ErrorAction Stop
            # Right format and digest, random secret.
            $wrongToken = $workerToken.Substring(0, $workerToken.Length - 25) + (New-RandomBase36 -Bytes 16 -Width 25)
            $wrongBody = ConvertTo-GrpcFrame (New-ProtoStringField 2 $wrongToken)
            $j6 = Start-TestNode -Root $root -Name j6 -Ip 127.0.41.6
            $m1Log = Join-Path $m1.DataRoot 'psswarmd.log'
            $logBefore = @(Get-Content -LiteralPath $m1Log).Count

            # 3000 attempts from 127.0.41.200, spread over >= 8 s, none started after 20 s; 8 in flight,
            # each call bounded to 5 s. Meanwhile: a real join from j6 and Get-SwarmNode on m1.
            $floodTask = [PSSwarmAttack.Wire]::FloodAsync($m1.Listen, '127.0.41.200', $issue, $wrongBody, 3000, 20000, 8000, 8, 5000)
            $latencies = [System.Collections.Generic.List[double]]::new()
            $latencyErrors = [System.Collections.Generic.List[string]]::new()
            $joinError = $null
            $joined = $null
            $joinMs = $null
            $again = $other = $null
            $probeDuringFlood = $false
            try {
                Start-Sleep -Milliseconds 500
                $joinClock = [System.Diagnostics.Stopwatch]::StartNew()
                try { $joined = Join-TestNode -Manager $m1 -Node $j6 -Role Worker }
                catch { $joinError = $_ }
                $joinMs = $joinClock.ElapsedMilliseconds
                $joinedDuringFlood = -not $floodTask.IsCompleted
                # While the flood goes on: the flooding address is refused, another one gets its token checked.
                $probeDuringFlood = -not $floodTask.IsCompleted
                $again = Invoke-AttackCall -Address $m1.Listen -Path $issue -Body $wrongBody -SourceAddress '127.0.41.200'
                $other = Invoke-AttackCall -Address $m1.Listen -Path $issue -Body $wrongBody -SourceAddress '127.0.41.201'
                $probeDuringFlood = $probeDuringFlood -and -not $floodTask.IsCompleted
                $deadline = [DateTime]::UtcNow.AddSeconds(30)
                while (-not $floodTask.IsCompleted -and [DateTime]::UtcNow -lt $deadline) {
                    try { $latencies.Add((Measure-LegitimateCall)) } catch { $latencyErrors.Add("$_") }
                    Start-Sleep -Milliseconds 100
                }
            }
            finally {
                $null = $floodTask.Wait(30000)
            }
            $flood = $floodTask.GetAwaiter().GetResult()
            $counts = $flood.Counts
            $exhausted = if ($counts.ContainsKey(8)) { $counts[8] } else { 0 }
            $checked = if ($counts.ContainsKey(16)) { $counts[16] } else { 0 }
            $median = Get-Median $latencies.ToArray()
            $maxLatency = if ($latencies.Count) { ($latencies | Measure-Object -Maximum).Maximum } else { [double]::NaN }
            Write-Host "join flood from 127.0.41.200: $flood"
            Write-Host ("Get-SwarmNode on m1 during the flood: median {0:0.0} ms, max {1:0.0} ms over {2} calls ({3} failed); the real join took {4} ms{5}" -f `
                    $median, $maxLatency, $latencies.Count, $latencyErrors.Count, $joinMs, $(if ($joinedDuringFlood) { ', during the flood' } else { ', the flood had ended' }))
        }

        It 'made thousands of attempts from 127.0.41.200 (harness check)' {
            $flood.Attempts | Should -BeGreaterOrEqual 1000 -Because "the flood must really flood ($flood)"
            $transportErrors = ($flood.Statuses | Where-Object { $_ -lt 0 }).Count
            $transportErrors | Should -BeLessOrEqual ($flood.Attempts / 100) -Because "nearly every attempt should get a gRPC answer, not a transport error or timeout ($flood)"
        }

        It 'checks the first few wrong tokens, then answers ResourceExhausted without checking' {
            $checked | Should -BeGreaterOrEqual 1 -Because "the first wrong tokens are checked and refused as Unauthenticated ($flood)"
            $checked | Should -BeLessOrEqual 40 -Because "after 5 quick failures an address is refused without checking the token ($flood)"
            ($exhausted / [Math]::Max(1, $flood.Attempts)) | Should -BeGreaterOrEqual 0.9 -Because "after the first few attempts, answers are ResourceExhausted ($flood)"
            "$($flood.SampleMessages[8])" | Should -Match 'too many failed join attempts from 127\.0\.41\.200; try again in \d+' -Because "the refusal says why and when to retry ($flood)"
        }

        It 'lets a real join from another address succeed during the flood' {
            $joinError | Should -BeNullOrEmpty -Because "a real join from another address must succeed during the flood ($(Get-ErrorSummary $joinError))"
            $joined.Id | Should -Not -BeNullOrEmpty -Because 'the real join returns the new node'
        }

        It 'keeps Get-SwarmNode on m1 fast during the flood' {
            $latencyErrors | Should -BeNullOrEmpty -Because 'no legitimate call fails during the flood'
            $latencies.Count | Should -BeGreaterThan 0 -Because 'Get-SwarmNode was measured during the flood (harness check)'
            $median | Should -BeLessThan 250 -Because 'the legitimate client stays fast during the flood'
            $maxLatency | Should -BeLessThan 3000 -Because 'no legitimate call stalls during the flood'
        }

        It 'refuses another attempt from the flooding address while another address still gets its token checked' {
            $probeDuringFlood | Should -BeTrue -Because 'the probes were made while the flood was going on (harness check)'
            $again.GrpcStatus | Should -Be 8 -Because "the flooding address is refused without a token check (got $again)"
            $other.GrpcStatus | Should -Be 16 -Because "another address is unaffected: its token is checked (got $other)"
        }

        It 'logs the refusals once per interval, not once per attempt' {
            $newLog = @(Get-Content -LiteralPath $m1Log | Select-Object -Skip $logBefore)
            $floodLines = @($newLog | Where-Object { $_ -match '127\.0\.41\.200|too many failed join attempts' })
            Write-Host "m1 logged $($floodLines.Count) lines about the flood ($($newLog.Count) new lines in all)"
            $floodLines.Count | Should -BeLessOrEqual 30 -Because "$($flood.Attempts) refused attempts must not flood m1's log (first line: $($floodLines | Select-Object -First 1))"
        }

        It 'keeps serving on 2377 after the flood' {
            Assert-StillServing 'the join flood'
        }
    }

    # Last on purpose: on a build that does not validate proposals, a putNode without a node halts
    # the store for good (DESIGN.md), so it is the last case, and nothing runs after this Context.
    Context 'when a manager proposes a malformed command' {
        BeforeAll {
            $leader = Get-LeaderNode @($m1, $m2)
            $caller = if ($leader.Name -eq 'm1') { $m2 } else { $m1 }
            $callerCertificate = Get-AttackNodeCertificate $caller
            Write-Host "Proposing malformed commands to the leader $($leader.Name) with $($caller.Name)'s certificate"
            function New-MalformedCommand([string] $Case) {
                switch ($Case) {
                    'random bytes' { $b = [byte[]]::new(64); [System.Security.Cryptography.RandomNumberGenerator]::Fill($b); , $b }
                    'the JSON literal null' { , [System.Text.Encoding]::UTF8.GetBytes('null') }
                    'an unknown op' { , [System.Text.Encoding]::UTF8.GetBytes('{"op":"dropEverything"}') }
                    'a putNode without a node' { , [System.Text.Encoding]::UTF8.GetBytes('{"op":"putNode","node":null}') }
                    default { throw "unknown case $Case" }
                }
            }
        }

        It 'refuses <Case> with InvalidArgument' -ForEach @(
            @{ Case = 'random bytes' }
            @{ Case = 'the JSON literal null' }
            @{ Case = 'an unknown op' }
            @{ Case = 'a putNode without a node' }
        ) {
            $r = Invoke-AttackCall -Address $leader.Listen -Path '/psswarm.cluster.v1.RaftControl/Propose' -Certificate $callerCertificate `
                -Body (New-ProposeBody (New-MalformedCommand $Case)) -TimeoutMilliseconds 15000
            $r.GrpcStatus | Should -Be 3 -Because "$Case must be refused before it is proposed (got $r)"
        }

        It 'keeps the store working: a write on m1 succeeds and every manager applies it' {
            $err = Get-ErrorRecord { Set-SwarmNode -Endpoint $m1.Endpoint -Id $w1Node.Id -Label @{ x = '1' } -Confirm:$false -ErrorAction Stop }
            $err | Should -BeNullOrEmpty -Because "the store must accept writes after malformed proposals ($(Get-ErrorSummary $err))"
            foreach ($manager in $m1, $m2) {
                $view = Wait-NodeView -Manager $manager -Id $w1Node.Id -TimeoutSeconds 10 -Because 'the label to be applied' -Condition { param($n) $n -and $n.Labels['x'] -eq '1' }
                $view.Labels['x'] | Should -Be '1' -Because "$($manager.Name) must apply writes made after the malformed proposals"
            }
        }
    }
}
