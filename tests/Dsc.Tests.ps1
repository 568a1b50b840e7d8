#Requires -Version 7.4
# The DSC v3 command resources PSSwarm/SwarmMembership (psswarm.dsc.resource.json) and PSSwarm/SwarmNode
# (psswarm.node.dsc.resource.json) of the staged module, driven as a DSC engine drives them: no DSC
# engine is available here, so Invoke-DscResource below reads a manifest and runs exactly its
# get/set/test executable and arguments, in the manifest's folder, with the instance as compressed JSON
# on stdin, and parses the JSON lines on stdout, the messages on stderr and the exit code. It validates
# every instance it sends and every state it gets back against the manifest's embedded JSON schema, as
# DSC does. Real daemons: m1 initializes a swarm; w1 joins, is promoted, drained, labelled, demoted and
# leaves through the resources; w2 shows the refusals.
# Loopback addresses: 127.0.54.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
    $module = Import-PSSwarmUnderTest
    $root = New-TestRoot -Name dsc

    $MembershipManifest = Join-Path $module.ModuleBase 'dsc/psswarm.dsc.resource.json'
    $NodeManifest = Join-Path $module.ModuleBase 'dsc/psswarm.node.dsc.resource.json'
    # Everything the resources wrote, to check that no join token ever appears in it.
    $Transcript = [System.Collections.Generic.List[string]]::new()

    function Get-InstanceSchema([string] $Manifest) {
        # The embedded instance schema, with DSC's canonical-property $refs replaced by their definitions
        # (the published schemas at those URLs: https://aka.ms/dsc/schemas/v3/resource/properties/*.json).
        $json = (Get-Content -Raw -LiteralPath $Manifest | ConvertFrom-Json -AsHashtable).schema.embedded | ConvertTo-Json -Depth 20
        $json = $json -replace '\{\s*"\$ref":\s*"https://raw\.githubusercontent\.com/PowerShell/DSC/main/schemas/v3/resource/properties/exist\.json"\s*\}', '{ "type": "boolean" }'
        $json = $json -replace '\{\s*"\$ref":\s*"https://raw\.githubusercontent\.com/PowerShell/DSC/main/schemas/v3/resource/properties/inDesiredState\.json"\s*\}', '{ "type": ["boolean", "null"], "readOnly": true }'
        $json = $json -replace '\{\s*"\$ref":\s*"https://raw\.githubusercontent\.com/PowerShell/DSC/main/schemas/v3/resource/properties/purge\.json"\s*\}', '{ "type": ["boolean", "null"], "writeOnly": true }'
        if ($json -match '"\$ref"') { throw "the instance schema of $Manifest has a `$ref this test cannot resolve offline" }
        $json
    }

    function Invoke-DscResource {
        <#
        Runs one operation of a command resource as DSC does: the manifest's executable with its args,
        working directory = the manifest's folder, input "stdin" = the instance as compressed JSON.
        -Json sends raw text instead (malformed input). Returns ExitCode, ExitCodeMeaning (from the
        manifest's exitCodes), Stdout, Stderr, State (first JSON line), Diff (second line, for
        "return": "stateAndDiff"), Messages (stderr JSON lines) and StateValid (schema check).
        #>
        param(
            [Parameter(Mandatory)] [string] $Manifest,
            [Parameter(Mandatory)] [ValidateSet('get', 'set', 'test')] [string] $Operation,
            [System.Collections.IDictionary] $Instance,
            [string] $Json,
            [int] $TimeoutSeconds = 90
        )
        $definition = Get-Content -Raw -LiteralPath $Manifest | ConvertFrom-Json -AsHashtable
        $method = $definition[$Operation]
        if (-not $method) { throw "$Manifest defines no $Operation" }
        if ($method.input -ne 'stdin') { throw "this harness sends input on stdin; $Manifest says '$($method.input)'" }
        $schema = Get-InstanceSchema $Manifest
        if ($PSBoundParameters.ContainsKey('Instance')) {
            $Json = $Instance | ConvertTo-Json -Compress -Depth 10
            # DSC validates the desired state against the instance schema before it calls the resource.
            if (-not (Test-Json -Json $Json -Schema $schema -ErrorAction SilentlyContinue)) { throw "the instance is invalid for the schema of ${Manifest}: $Json" }
        }
        # The executable as DSC finds it: on PATH, here with this PowerShell's $PSHOME first.
        $path = "$PSHOME$([IO.Path]::PathSeparator)$env:PATH"
        $exe = $path.Split([IO.Path]::PathSeparator) | Where-Object { $_ } |
            ForEach-Object { Join-Path $_ $method.executable } | Where-Object { Test-Path -LiteralPath $_ -PathType Leaf } | Select-Object -First 1
        if (-not $exe) { throw "$($method.executable) is not on PATH" }
        $psi = [System.Diagnostics.ProcessStartInfo]::new($exe)
        foreach ($arg in $method.args) {
            if ($arg -isnot [string]) { throw 'this harness does not pass JSON input arguments' }
            $psi.ArgumentList.Add($arg)
        }
        $psi.WorkingDirectory = Split-Path -Parent $Manifest
        $psi.UseShellExecute = $false
        $psi.RedirectStandardInput = $true
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.Environment['PATH'] = $path
        $psi.Environment['NO_COLOR'] = '1'
        $process = [System.Diagnostics.Process]::Start($psi)
        try {
            $stdoutTask = $process.StandardOutput.ReadToEndAsync()
            $stderrTask = $process.StandardError.ReadToEndAsync()
            $process.StandardInput.Write($Json)
            $process.StandardInput.Close()
            if (-not $process.WaitForExit($TimeoutSeconds * 1000)) {
                $process.Kill($true)   # this process (by its handle) and its children: all started here
                throw "PSSwarm/$($definition.type) $Operation did not end within $TimeoutSeconds s"
            }
            $process.WaitForExit()
            $stdout = $stdoutTask.GetAwaiter().GetResult()
            $stderr = $stderrTask.GetAwaiter().GetResult()
            $code = $process.ExitCode
        }
        finally { $process.Dispose() }
        $Transcript.Add($stdout)
        $Transcript.Add($stderr)
        $lines = @($stdout -split "`n" | Where-Object { $_.Trim() })
        $state = if ($lines.Count -ge 1) { $lines[0] | ConvertFrom-Json -AsHashtable } else { $null }
        # The diff line is a JSON array: ConvertFrom-Json enumerates it ("[]" gives an empty array).
        $diff = if ($lines.Count -ge 2) { @($lines[1] | ConvertFrom-Json) } else { $null }
        [pscustomobject]@{
            ExitCode        = $code
            ExitCodeMeaning = $definition.exitCodes["$code"]
            Stdout          = $stdout
            Stderr          = $stderr
            Lines           = $lines
            State           = $state
            Diff            = $diff
            Messages        = @($stderr -split "`n" | Where-Object { $_.Trim() } | ForEach-Object { try { $_ | ConvertFrom-Json -AsHashtable } catch { @{ raw = $_ } } })
            StateValid      = if ($lines.Count -ge 1) { [bool](Test-Json -Json $lines[0] -Schema $schema -ErrorAction SilentlyContinue) } else { $false }
        }
    }

    function Assert-DscSuccess($Result, [int] $Lines = 1) {
        $Result.ExitCode | Should -Be 0 -Because "stderr: $($Result.Stderr)"
        $Result.Lines.Count | Should -Be $Lines -Because "stdout: $($Result.Stdout)"
        $Result.StateValid | Should -BeTrue -Because "the state must validate against the manifest's schema: $($Result.Lines[0])"
    }

    function Assert-DscFailure($Result, [int] $ExitCode, [string] $Like) {
        # A declared exit code, no JSON state on stdout, and DSC's {"error": "..."} message on stderr.
        $Result.ExitCode | Should -Be $ExitCode -Because "stdout: $($Result.Stdout) stderr: $($Result.Stderr)"
        $Result.ExitCodeMeaning | Should -Not -BeNullOrEmpty -Because "exit code $($Result.ExitCode) must be declared in exitCodes"
        $Result.Stdout.Trim() | Should -BeNullOrEmpty
        $Result.Messages.Count | Should -Be 1 -Because "stderr: $($Result.Stderr)"
        $Result.Messages[0].Keys | Should -Be @('error')
        $Result.Messages[0].error | Should -BeLike $Like
        $Result.Stderr | Should -Not -Match 'at line:|ScriptStackTrace|   at '
    }

    $m1 = Start-TestNode -Root $root -Name m1 -Ip 127.0.54.1
    $null = Initialize-Swarm -Endpoint $m1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip -DispatcherHeartbeat '00:00:01'
    $w1 = Start-TestNode -Root $root -Name w1 -Ip 127.0.54.2
    $w2 = Start-TestNode -Root $root -Name w2 -Ip 127.0.54.3
    $WorkerToken = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker -Quiet
    $ManagerToken = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Manager -Quiet
    $parts = Split-JoinToken $WorkerToken
    $WrongToken = "SWMTKN-1-$($parts.Digest)-$(New-RandomBase36 -Bytes 16 -Width 25)"

    # w1's desired membership: a worker of m1's swarm, joined with the worker token as a DSC secure string.
    $W1Member = [ordered]@{
        endpoint = $w1.Endpoint; ensure = 'Present'; role = 'Worker'
        managerAddress = @($m1.Listen); joinToken = @{ secureString = $WorkerToken }
        advertiseAddress = $w1.Ip; listenAddress = $w1.Listen
    }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'The DSC resource manifests' {
    It '<Name> follows the DSC v3 resource manifest schema' -ForEach @(
        @{ Name = 'psswarm.dsc.resource.json'; Type = 'PSSwarm/SwarmMembership'; Resource = 'SwarmMembership' }
        @{ Name = 'psswarm.node.dsc.resource.json'; Type = 'PSSwarm/SwarmNode'; Resource = 'SwarmNode' }
    ) {
        $path = Join-Path $module.ModuleBase "dsc/$Name"
        $path | Should -Exist
        $m = Get-Content -Raw -LiteralPath $path | ConvertFrom-Json -AsHashtable
        $m['$schema'] | Should -BeExactly 'https://aka.ms/dsc/schemas/v3/bundled/resource/manifest.json'
        $m.type | Should -BeExactly $Type
        $m.type | Should -MatchExactly '^\w+(\.\w+){0,3}/\w+$'
        $m.version | Should -MatchExactly '^\d+\.\d+\.\d+$'
        foreach ($op in 'get', 'set', 'test') {
            $m[$op].executable | Should -BeExactly 'pwsh'
            $m[$op].input | Should -BeExactly 'stdin'
            $m[$op].args | Should -Be @('-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', './PSSwarm.Dsc.ps1', $op, '-Resource', $Resource)
        }
        $m.set.return | Should -BeExactly 'stateAndDiff'
        $m.set.handlesExist | Should -BeTrue
        $m.set.implementsPretest | Should -BeTrue
        $m.test.return | Should -BeExactly 'stateAndDiff'
        @($m.exitCodes.Keys | Sort-Object) | Should -Be @('0', '1', '2', '3', '4', '5')
        $m.exitCodes['0'] | Should -BeExactly 'Success'
        $e = $m.schema.embedded
        $e['$schema'] | Should -BeExactly 'https://json-schema.org/draft/2020-12/schema'
        $e.type | Should -BeExactly 'object'
        $e.properties._exist['$ref'] | Should -BeExactly 'https://raw.githubusercontent.com/PowerShell/DSC/main/schemas/v3/resource/properties/exist.json'
        $e.properties._inDesiredState['$ref'] | Should -BeExactly 'https://raw.githubusercontent.com/PowerShell/DSC/main/schemas/v3/resource/properties/inDesiredState.json'
        $e.properties._purge['$ref'] | Should -BeExactly 'https://raw.githubusercontent.com/PowerShell/DSC/main/schemas/v3/resource/properties/purge.json'
        Join-Path (Split-Path $path) 'PSSwarm.Dsc.ps1' | Should -Exist
    }

    It 'takes the join token as a string or a DSC secure string, write-only' {
        $token = (Get-Content -Raw -LiteralPath $MembershipManifest | ConvertFrom-Json -AsHashtable).schema.embedded.properties.joinToken
        $token.writeOnly | Should -BeTrue
        $token.oneOf[0].type | Should -BeExactly 'string'
        $token.oneOf[1].required | Should -Be @('secureString')
    }

    It 'documents every property and exit code of both resources in about_PSSwarm_Dsc' {
        $about = Join-Path $module.ModuleBase 'en-US/about_PSSwarm_Dsc.help.txt'
        $about | Should -Exist
        $text = Get-Content -Raw -LiteralPath $about
        foreach ($manifest in $MembershipManifest, $NodeManifest) {
            $m = Get-Content -Raw -LiteralPath $manifest | ConvertFrom-Json -AsHashtable
            $text | Should -Match ([regex]::Escape($m.type))
            foreach ($property in $m.schema.embedded.properties.Keys | Where-Object { $_ -ne '_inDesiredState' }) {
                $text | Should -Match "(?m)^\s+(\S+, )*$([regex]::Escape($property))\b" -Because "$($m.type) property $property must be documented"
            }
            foreach ($code in $m.exitCodes.Keys) { $text | Should -Match "(?m)^\s+$code\s{2,}" }
        }
    }
}

Describe 'PSSwarm/SwarmMembership joins a node' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'get reports a node outside any swarm as _exist false (ensure Absent)' {
        $r = Invoke-DscResource $MembershipManifest get -Instance @{ endpoint = $w1.Endpoint }
        Assert-DscSuccess $r
        $r.State._exist | Should -BeFalse
        $r.State.ensure | Should -BeExactly 'Absent'
        $r.State.localNodeState | Should -BeExactly 'Inactive'
        $r.State.Keys | Should -Not -Contain '_inDesiredState'
    }

    It 'test reports it out of the desired state (_exist differs)' {
        $r = Invoke-DscResource $MembershipManifest test -Instance $W1Member
        Assert-DscSuccess $r -Lines 2
        $r.State._inDesiredState | Should -BeFalse
        $r.Diff | Should -Be @('_exist')
        (Get-Swarm -Endpoint $w1.Endpoint).LocalNodeState | Should -Be 'Inactive'   # test changes nothing
    }

    It 'set joins it with the worker token and returns the new state and what changed' {
        $r = Invoke-DscResource $MembershipManifest set -Instance $W1Member
        Assert-DscSuccess $r -Lines 2
        $r.Diff | Should -Be @('_exist')
        $r.State._exist | Should -BeTrue
        $r.State.ensure | Should -BeExactly 'Present'
        $r.State.role | Should -BeExactly 'Worker'
        $r.State.localNodeState | Should -BeExactly 'Active'
        $r.State.advertiseAddress | Should -BeExactly $w1.Ip
        $info = Get-Swarm -Endpoint $w1.Endpoint
        $r.State.nodeId | Should -BeExactly $info.NodeId
        (Get-NodeView -Manager $m1 -Id w1).Role | Should -Be 'Worker'
    }

    It 'get and test then show a member in the desired state' {
        $r = Invoke-DscResource $MembershipManifest get -Instance @{ endpoint = $w1.Endpoint }
        Assert-DscSuccess $r
        $r.State._exist | Should -BeTrue
        $r.State.role | Should -BeExactly 'Worker'
        $t = Invoke-DscResource $MembershipManifest test -Instance $W1Member
        Assert-DscSuccess $t -Lines 2
        $t.State._inDesiredState | Should -BeTrue
        $t.Diff.Count | Should -Be 0
    }

    It 'set on the desired state changes nothing: the node''s record on the manager keeps its UpdatedAt' {
        $before = Wait-NodeView -Manager $m1 -Id w1 -Because 'w1 to be Ready' -Condition { param($n) $n -and "$($n.Status)" -eq 'Ready' }
        $r = Invoke-DscResource $MembershipManifest set -Instance $W1Member
        Assert-DscSuccess $r -Lines 2
        $r.Diff.Count | Should -Be 0
        $r.State._exist | Should -BeTrue
        $after = Get-NodeView -Manager $m1 -Id w1
        $after.UpdatedAt | Should -Be $before.UpdatedAt
        $after.Id | Should -BeExactly $before.Id
    }
}

Describe 'PSSwarm/SwarmNode on a manager' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'get shows w1 as the manager sees it' {
        $r = Invoke-DscResource $NodeManifest get -Instance @{ endpoint = $m1.Endpoint; name = 'w1' }
        Assert-DscSuccess $r
        $r.State._exist | Should -BeTrue
        $r.State.hostname | Should -BeExactly 'w1'
        $r.State.id | Should -BeExactly (Get-Swarm -Endpoint $w1.Endpoint).NodeId
        $r.State.role | Should -BeExactly 'Worker'
        $r.State.availability | Should -BeExactly 'Active'
    }

    It 'set promotes w1 (role Manager) and w1 becomes a manager' {
        $r = Invoke-DscResource $NodeManifest set -Instance @{ endpoint = $m1.Endpoint; name = 'w1'; role = 'Manager' }
        Assert-DscSuccess $r -Lines 2
        $r.Diff | Should -Be @('role')
        $r.State.role | Should -BeExactly 'Manager'
        $null = Wait-Until -TimeoutSeconds 30 -Because 'w1 to act on its promotion' -Condition { (Get-Swarm -Endpoint $w1.Endpoint).IsManager }
        $m = Invoke-DscResource $MembershipManifest get -Instance @{ endpoint = $w1.Endpoint }
        Assert-DscSuccess $m
        $m.State.role | Should -BeExactly 'Manager'
    }

    It 'set drains w1 and sets its labels in one step' {
        $desired = @{ endpoint = $m1.Endpoint; name = 'w1'; role = 'Manager'; availability = 'Drain'; labels = @{ zone = 'eu-1'; disk = 'ssd' } }
        $before = Get-NodeView -Manager $m1 -Id w1
        $t = Invoke-DscResource $NodeManifest test -Instance $desired
        Assert-DscSuccess $t -Lines 2
        $t.State._inDesiredState | Should -BeFalse
        $t.Diff | Should -Be @('availability', 'labels')
        $r = Invoke-DscResource $NodeManifest set -Instance $desired
        Assert-DscSuccess $r -Lines 2
        $r.Diff | Should -Be @('availability', 'labels')
        $r.State.availability | Should -BeExactly 'Drain'
        $r.State.labels.zone | Should -BeExactly 'eu-1'
        $r.State.labels.disk | Should -BeExactly 'ssd'
        $view = Get-NodeView -Manager $m1 -Id w1
        $view.Availability | Should -Be 'Drain'
        $view.Labels['zone'] | Should -BeExactly 'eu-1'
        # A real change moves the record's UpdatedAt: the no-op checks rely on that.
        $view.UpdatedAt | Should -BeGreaterThan $before.UpdatedAt
    }

    It 'set on the desired state again changes nothing (UpdatedAt unchanged)' {
        $desired = @{ endpoint = $m1.Endpoint; name = 'w1'; role = 'Manager'; availability = 'Drain'; labels = @{ zone = 'eu-1' } }
        $before = Get-NodeView -Manager $m1 -Id w1
        $t = Invoke-DscResource $NodeManifest test -Instance $desired
        Assert-DscSuccess $t -Lines 2
        $t.State._inDesiredState | Should -BeTrue
        $r = Invoke-DscResource $NodeManifest set -Instance $desired
        Assert-DscSuccess $r -Lines 2
        $r.Diff.Count | Should -Be 0
        $after = Get-NodeView -Manager $m1 -Id w1
        $after.UpdatedAt | Should -Be $before.UpdatedAt
        $after.Labels['disk'] | Should -BeExactly 'ssd' -Because 'labels not listed are kept without _purge'
    }

    It 'with _purge true the node ends up with exactly the listed labels' {
        $r = Invoke-DscResource $NodeManifest set -Instance @{ endpoint = $m1.Endpoint; name = 'w1'; labels = @{ zone = 'eu-1' }; _purge = $true }
        Assert-DscSuccess $r -Lines 2
        $r.Diff | Should -Be @('labels')
        @($r.State.labels.Keys) | Should -Be @('zone')
        @((Get-NodeView -Manager $m1 -Id w1).Labels.Keys) | Should -Be @('zone')
        $r.State.Keys | Should -Not -Contain '_purge' -Because '_purge is write-only'
    }

    It 'reports a node that is not in the swarm as _exist false' {
        $r = Invoke-DscResource $NodeManifest get -Instance @{ endpoint = $m1.Endpoint; name = 'nosuchnode' }
        Assert-DscSuccess $r
        $r.State._exist | Should -BeFalse
        $r.State.name | Should -BeExactly 'nosuchnode'
    }

    It 'against a daemon that is not a manager exits 4 and says it needs a manager' {
        $r = Invoke-DscResource $NodeManifest test -Instance @{ endpoint = $w2.Endpoint; name = 'w1'; role = 'Worker' }
        Assert-DscFailure $r -ExitCode 4 -Like '*not a swarm manager*PSSwarm/SwarmNode must run against a manager*'
    }
}

Describe 'PSSwarm/SwarmMembership on a manager, a demotion and leaving' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'on a manager it reads and changes the node''s own availability and labels' {
        $desired = @{ endpoint = $w1.Endpoint; availability = 'Active'; labels = @{ zone = 'eu-2' } }
        $t = Invoke-DscResource $MembershipManifest test -Instance $desired
        Assert-DscSuccess $t -Lines 2
        $t.State.availability | Should -BeExactly 'Drain'
        $t.Diff | Should -Be @('availability', 'labels')
        $r = Invoke-DscResource $MembershipManifest set -Instance $desired
        Assert-DscSuccess $r -Lines 2
        $r.Diff | Should -Be @('availability', 'labels')
        $view = Get-NodeView -Manager $m1 -Id w1
        $view.Availability | Should -Be 'Active'
        $view.Labels['zone'] | Should -BeExactly 'eu-2'
        $again = Invoke-DscResource $MembershipManifest set -Instance $desired
        Assert-DscSuccess $again -Lines 2
        $again.Diff.Count | Should -Be 0
    }

    It 'refuses ensure Absent on a manager without force (exit 3) and the node stays' {
        $r = Invoke-DscResource $MembershipManifest set -Instance @{ endpoint = $w1.Endpoint; ensure = 'Absent' }
        Assert-DscFailure $r -ExitCode 3 -Like '*manager*force*'
        (Get-Swarm -Endpoint $w1.Endpoint).LocalNodeState | Should -Be 'Active'
    }

    It 'after a demotion through PSSwarm/SwarmNode, the worker cannot set its own labels: exit 4 naming PSSwarm/SwarmNode' {
        $r = Invoke-DscResource $NodeManifest set -Instance @{ endpoint = $m1.Endpoint; name = 'w1'; role = 'Worker' }
        Assert-DscSuccess $r -Lines 2
        $r.Diff | Should -Be @('role')
        $null = Wait-Until -TimeoutSeconds 30 -Because 'w1 to act on its demotion' -Condition { -not (Get-Swarm -Endpoint $w1.Endpoint).IsManager }
        $l = Invoke-DscResource $MembershipManifest set -Instance @{ endpoint = $w1.Endpoint; labels = @{ zone = 'eu-3' } }
        Assert-DscFailure $l -ExitCode 4 -Like '*worker*PSSwarm/SwarmNode*manager*'
        (Get-NodeView -Manager $m1 -Id w1).Labels['zone'] | Should -BeExactly 'eu-2'
    }

    It 'ensure Absent on a worker leaves the swarm (Exit-Swarm), and again is a no-op' {
        $desired = @{ endpoint = $w1.Endpoint; ensure = 'Absent' }
        $r = Invoke-DscResource $MembershipManifest set -Instance $desired
        Assert-DscSuccess $r -Lines 2
        $r.Diff | Should -Be @('_exist')
        $r.State._exist | Should -BeFalse
        $r.State.ensure | Should -BeExactly 'Absent'
        (Get-Swarm -Endpoint $w1.Endpoint).LocalNodeState | Should -Be 'Inactive'
        $null = Wait-NodeView -Manager $m1 -Id w1 -TimeoutSeconds 20 -Because 'the manager to see w1 Down' -Condition { param($n) $n -and "$($n.Status)" -eq 'Down' }
        $again = Invoke-DscResource $MembershipManifest set -Instance $desired
        Assert-DscSuccess $again -Lines 2
        $again.Diff.Count | Should -Be 0
        $t = Invoke-DscResource $MembershipManifest test -Instance @{ endpoint = $w1.Endpoint; _exist = $false }
        $t.State._inDesiredState | Should -BeTrue
    }
}

Describe 'Resource errors' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'malformed JSON gives exit 1 and a message' {
        $r = Invoke-DscResource $MembershipManifest get -Json '{"endpoint": '
        Assert-DscFailure $r -ExitCode 1 -Like 'The input is not valid JSON*'
    }

    It 'an unknown property gives exit 1 naming it' {
        $r = Invoke-DscResource $NodeManifest get -Json '{"name":"w1","colour":"blue"}'
        Assert-DscFailure $r -ExitCode 1 -Like "Unknown property 'colour'*"
    }

    It '_exist and ensure that disagree give exit 1' {
        $r = Invoke-DscResource $MembershipManifest test -Instance @{ endpoint = $w2.Endpoint; _exist = $true; ensure = 'Absent' }
        Assert-DscFailure $r -ExitCode 1 -Like '*disagree*'
    }

    It 'a wrong join token gives exit 3, the node stays outside, and the message does not show the token' {
        $desired = @{ endpoint = $w2.Endpoint; ensure = 'Present'; managerAddress = @($m1.Listen); joinToken = @{ secureString = $WrongToken }; advertiseAddress = $w2.Ip; listenAddress = $w2.Listen }
        $r = Invoke-DscResource $MembershipManifest set -Instance $desired
        Assert-DscFailure $r -ExitCode 3 -Like 'Join-Swarm:*'
        $r.Stderr | Should -Not -BeLike "*$($parts.Secret)*"
        (Get-Swarm -Endpoint $w2.Endpoint).LocalNodeState | Should -Be 'Inactive'
    }

    It 'joining without a token gives exit 1 saying what is missing' {
        $r = Invoke-DscResource $MembershipManifest set -Instance @{ endpoint = $w2.Endpoint; managerAddress = @($m1.Listen) }
        Assert-DscFailure $r -ExitCode 1 -Like "*needs 'joinToken' and 'managerAddress'*"
    }

    It 'a missing daemon gives exit 2 naming the endpoint' {
        $endpoint = "unix://$root/nodaemon.sock"
        $r = Invoke-DscResource $MembershipManifest get -Instance @{ endpoint = $endpoint }
        Assert-DscFailure $r -ExitCode 2 -Like "*$endpoint*"
        $n = Invoke-DscResource $NodeManifest set -Instance @{ endpoint = $endpoint; name = 'w1'; availability = 'Drain' }
        Assert-DscFailure $n -ExitCode 2 -Like "*$endpoint*"
    }

    It 'a worker token with role Manager joins as a worker and exits 3: the token decides the role' {
        $desired = @{ endpoint = $w2.Endpoint; role = 'Manager'; managerAddress = @($m1.Listen); joinToken = $WorkerToken; advertiseAddress = $w2.Ip; listenAddress = $w2.Listen }
        $r = Invoke-DscResource $MembershipManifest set -Instance $desired
        Assert-DscFailure $r -ExitCode 3 -Like '*joined the swarm as a Worker, not as a Manager*join token decides*'
        $t = Invoke-DscResource $MembershipManifest test -Instance $desired
        Assert-DscSuccess $t -Lines 2
        $t.Diff | Should -Be @('role')
        $w = Invoke-DscResource $MembershipManifest set -Instance $desired
        Assert-DscFailure $w -ExitCode 4 -Like '*cannot promote itself*PSSwarm/SwarmNode*'
    }

    It 'no join token ever appeared on stdout or stderr' {
        $Transcript.Count | Should -BeGreaterThan 20
        $all = $Transcript -join "`n"
        foreach ($token in $WorkerToken, $ManagerToken, $WrongToken) {
            $secret = (Split-JoinToken $token).Secret
            $all.Contains($secret) | Should -BeFalse -Because 'a join token secret must never be written'
        }
        $all | Should -Not -Match 'SWMTKN'
    }
}
