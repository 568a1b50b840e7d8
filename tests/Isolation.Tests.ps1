#Requires -Version 7.4
# Dependency isolation (issue 9 item 7): PSSwarm's gRPC, Protobuf and logging assemblies load in its own
# AssemblyLoadContext, so a session that already holds another Google.Protobuf (ConflictModule, a test
# binary module built here against 3.25.1) can still use PSSwarm, and PSSwarm does not break it; the
# same the other way round. Each order runs in a fresh pwsh (tools/ConflictModule/Invoke-IsolationScenario.ps1)
# against real daemons. Also: PSSwarm.dll references none of those assemblies, and the staged layout.
# Loopback addresses: 127.0.55.x (port 2377).

BeforeDiscovery {
    $orders = @(
        @{ Order = 'ConflictFirst'; ManagerIp = '127.0.55.1'; WorkerIp = '127.0.55.2' }
        @{ Order = 'PSSwarmFirst'; ManagerIp = '127.0.55.3'; WorkerIp = '127.0.55.4' }
    )
}

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    $modulePath = if ($env:PSSWARM_TEST_MODULE) { $env:PSSWARM_TEST_MODULE } else { Join-Path $PSScriptRoot '../out/PSSwarm/PSSwarm.psd1' }
    if (-not (Test-Path -LiteralPath $modulePath)) { throw "The module under test was not found at '$modulePath'. Build it (dotnet pwsh ./build.ps1 Build)." }
    $moduleBase = Split-Path -Parent (Resolve-Path -LiteralPath $modulePath).Path
    $root = New-TestRoot -Name isolation
    $pwsh = Join-Path $PSHOME 'pwsh'

    # The other module: built here, in its own folder (its Google.Protobuf 3.25.1 next to it).
    $conflictDir = Join-Path $root 'ConflictModule'
    $project = Join-Path $PSScriptRoot 'tools/ConflictModule/ConflictModule.csproj'
    $build = & dotnet build $project -c Release -o $conflictDir --nologo -v quiet -clp:ErrorsOnly 2>&1
    if ($LASTEXITCODE -ne 0) { throw "Building ConflictModule failed (exit code $LASTEXITCODE): $($build -join [Environment]::NewLine)" }
    $conflictPath = Join-Path $conflictDir 'ConflictModule.dll'

    # Runs one order in a fresh pwsh; returns the steps' outcomes. The daemons it started are
    # registered (from their PID files) so that Remove-TestRoot stops them even if it died.
    function Invoke-Scenario([string] $Order, [string] $ManagerIp, [string] $WorkerIp) {
        $dir = Join-Path $root $Order
        $null = New-Item -ItemType Directory -Path $dir
        $resultFile = Join-Path $dir 'result.json'
        $output = & $pwsh -NoProfile -NonInteractive -File (Join-Path $PSScriptRoot 'tools/ConflictModule/Invoke-IsolationScenario.ps1') `
            -ModulePath $modulePath -ConflictModulePath $conflictPath -Order $Order -Root $dir `
            -ManagerIp $ManagerIp -WorkerIp $WorkerIp -ResultFile $resultFile 2>&1
        foreach ($name in 'iso-m', 'iso-w') {
            $pidFile = Join-Path $dir "$name.pid"
            if (Test-Path $pidFile) {
                Register-TestProcess -Root $root -ProcessId ([int](Get-Content $pidFile)) -Name $name -Endpoint "unix://$dir/$name.sock" -DataRoot (Join-Path $dir $name)
            }
        }
        if (-not (Test-Path $resultFile)) { throw "The $Order session wrote no result (exit code $LASTEXITCODE): $($output -join [Environment]::NewLine)" }
        Get-Content $resultFile -Raw | ConvertFrom-Json
    }

    # A step's value (a list comes out as its items: wrap in @()); fails the test with the step's error when it did not succeed.
    function Get-StepValue($Result, [string] $Step) {
        $s = $Result.$Step
        $s | Should -Not -BeNullOrEmpty -Because "the session records step $Step"
        $s.Ok | Should -BeTrue -Because "step $Step failed: $($s.ErrorId) $($s.Category): $($s.Message)"
        $s.Value
    }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'PSSwarm.dll' {
    It 'references no Google.Protobuf, Grpc or Microsoft.Extensions assembly (only the bridge, PSSwarm.Client)' {
        $stream = [IO.File]::OpenRead((Join-Path $moduleBase 'PSSwarm.dll'))
        try {
            $pe = [Reflection.PortableExecutable.PEReader]::new($stream)
            $md = [Reflection.Metadata.PEReaderExtensions]::GetMetadataReader($pe)
            $references = @(foreach ($h in $md.AssemblyReferences) { $md.GetString($md.GetAssemblyReference($h).Name) })
            $pe.Dispose()
        }
        finally { $stream.Dispose() }
        $references | Should -Contain 'PSSwarm.Client'
        $references | Should -Contain 'System.Management.Automation'
        @($references | Where-Object { $_ -like 'Google.*' -or $_ -like 'Grpc.*' -or $_ -like 'Microsoft.Extensions.*' }) | Should -BeNullOrEmpty
    }

    It 'is the only assembly in the module root; the client and its dependencies are in Dependencies/' {
        @(Get-ChildItem $moduleBase -File -Filter *.dll).Name | Should -Be @('PSSwarm.dll')
        $dependencies = @(Get-ChildItem (Join-Path $moduleBase 'Dependencies') -File -Filter *.dll).Name
        foreach ($name in 'PSSwarm.Client.dll', 'Google.Protobuf.dll', 'Grpc.Net.Client.dll', 'Grpc.Core.Api.dll', 'Microsoft.Extensions.Logging.Abstractions.dll') {
            $dependencies | Should -Contain $name
        }
        $dependencies | Should -Not -Contain 'PSSwarm.dll'
    }
}

Describe 'PSSwarm and a module with another Google.Protobuf in one session (<Order>)' -ForEach $orders {
    BeforeAll {
        $r = Invoke-Scenario -Order $Order -ManagerIp $ManagerIp -WorkerIp $WorkerIp
    }

    if ($Order -eq 'ConflictFirst') {
        It 'ConflictModule works before PSSwarm is imported, with its own Google.Protobuf 3.25.1' {
            $c = Get-StepValue $r ConflictBefore
            $c.Version | Should -Be '3.25.1.0'
            $c.LoadContext | Should -Be 'Default'
            $c.RoundTrip | Should -BeTrue
        }
    }

    It 'PSSwarm starts daemons and initializes a swarm' {
        (Get-StepValue $r ImportPSSwarm) | Should -Be 'imported'
        (Get-StepValue $r StartDaemons).Type | Should -Be 'PSSwarm.SwarmDaemonInfo'
        $init = Get-StepValue $r Initialize
        $init.State | Should -Be 'Active'
        $init.Managers | Should -Be 1
        $init.Type | Should -Be 'PSSwarm.SwarmInfo'
        $init.WorkerToken | Should -BeLike 'SWMTKN-1-*'
    }

    It 'PSSwarm gets a join token, joins a worker with it and lists both nodes' {
        $token = Get-StepValue $r JoinToken
        $token.Type | Should -Be 'PSSwarm.SwarmJoinToken'
        $token.Role | Should -Be 'Worker'
        $token.RemoteAddress | Should -Be @("$($ManagerIp):2377")
        $joined = Get-StepValue $r Join
        $joined.Type | Should -Be 'PSSwarm.SwarmNode'
        $joined.Role | Should -Be 'Worker'
        $nodes = @(Get-StepValue $r Nodes)
        $nodes.Hostname | Should -Be @('iso-m', 'iso-w')
        $nodes.Role | Should -Be @('Manager', 'Worker')
        $nodes[0].IsLeader | Should -BeTrue
        $nodes.Type | Should -Be @('PSSwarm.SwarmNode', 'PSSwarm.SwarmNode')
    }

    It 'keeps the error records: a wrong join token, an unknown node, a daemon that is not there' {
        $bad = $r.BadJoin
        $bad.Ok | Should -BeFalse
        $bad.ErrorId | Should -BeLike 'SwarmInvalidJoinToken,*'
        $bad.Category | Should -Be 'AuthenticationError'
        $bad.Type | Should -Be 'PSSwarm.Commands.SwarmException'
        $missing = Get-StepValue $r NodeNotFound
        $missing.ErrorId | Should -BeLike 'SwarmNodeNotFound,*'
        $missing.Category | Should -Be 'ObjectNotFound'
        $missing.Message | Should -Be 'node no-such-node not found'
        $gone = $r.Unreachable
        $gone.Ok | Should -BeFalse
        $gone.ErrorId | Should -BeLike 'SwarmDaemonUnreachable,*'
        $gone.Category | Should -Be 'ConnectionError'
        $gone.Message | Should -BeLike '*there is no socket at*nobody.sock*'
    }

    It 'completes -Id with the nodes through TabExpansion2' {
        $offered = @(Get-StepValue $r Completion)
        $offered | Should -Contain 'iso-m'
        $offered | Should -Contain 'iso-w'
        foreach ($n in @(Get-StepValue $r Nodes)) { $offered | Should -Contain $n.Id }
    }

    It 'runs Test-Swarm and hands out the unlock key as a SecureString' {
        $checks = @(Get-StepValue $r TestSwarm)
        ($checks | Where-Object Name -eq 'Daemon').Result | Should -Be 'Pass'
        ($checks | Where-Object Name -eq 'Quorum').Result | Should -Be 'Pass'
        $key = Get-StepValue $r UnlockKey
        $key.Type | Should -Be 'PSSwarm.SwarmUnlockKey'
        $key.KeyType | Should -Be 'System.Security.SecureString'
        $key.Plain | Should -BeTrue
    }

    It 'still works after Remove-Module and Import-Module in the same session' {
        Get-StepValue $r Reimport | Should -Be 'Active'
        Get-StepValue $r PSSwarmAfter | Should -Be 2
    }

    It 'leaves ConflictModule working, still with its Google.Protobuf 3.25.1' {
        $c = Get-StepValue $r ConflictAfter
        $c.Version | Should -Be '3.25.1.0'
        $c.InformationalVersion | Should -BeLike '3.25.1*'
        $c.LoadContext | Should -Be 'Default'
        $c.RoundTrip | Should -BeTrue
        $c.Json | Should -Match '"module":\s*"conflict"'
    }

    It 'holds two Google.Protobuf versions in two load contexts: 3.25.1 in the default one, 3.36.2 in PSSwarm''s' {
        $a = Get-StepValue $r Assemblies
        $protobuf = @($a.Protobuf)
        $protobuf | Should -HaveCount 2
        ($protobuf | Where-Object LoadContext -eq 'Default').Version | Should -Be '3.25.1.0'
        $mine = $protobuf | Where-Object LoadContext -eq 'PSSwarm'
        $mine.Version | Should -Be '3.36.2.0'
        $mine.Location | Should -Be (Join-Path $moduleBase 'Dependencies/Google.Protobuf.dll')
        foreach ($name in 'Client', 'Grpc', 'Logging') {
            @($a.$name) | Should -HaveCount 1
            @($a.$name)[0].LoadContext | Should -Be 'PSSwarm' -Because "$name loads from Dependencies/ in PSSwarm's context"
        }
        @($a.PSSwarm)[0].LoadContext | Should -Be 'Default' -Because 'the output types must resolve from script'
        @($a.Conflict)[0].LoadContext | Should -Be 'Default'
    }
}
