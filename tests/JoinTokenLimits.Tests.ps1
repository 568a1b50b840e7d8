#Requires -Version 7.4
# Extra join tokens (beyond Docker, moby#29489): New-SwarmJoinToken -ExpiresIn/-MaxUses/-Description,
# Get-SwarmJoinToken -All, Revoke-SwarmJoinToken, on a swarm of two managers (m1 leads, m2) that gains
# a third (m3, through an extra manager token), one worker (w1) and two joiner daemons (j1, j2) that
# join and leave again and again. Covers: the token format, -Quiet and -WhatIf; a single-use token
# admitting one node and refusing the next; two joins racing for one single-use token through the two
# managers (3 rounds: exactly one wins); expiry; revocation (by Id, Id prefix, string, pipeline);
# replication and a manager restart; the standing tokens unchanged; no token in any daemon log.
# The Describe blocks run in file order and build on each other.
# Failed joins are rate-limited per source address (5, then one every 2 s) on each manager: the
# refused joins of this file are spread over m1 and m2 so that none of them hits that limit.
# Loopback addresses: 127.0.45.1-6 (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
    Import-PSSwarmUnderTest
    $modulePath = (Get-Module PSSwarm | Select-Object -First 1).Path
    $root = New-TestRoot -Name jtlimit
    $TokenPattern = '^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$'
    $Auth = [System.Management.Automation.ErrorCategory]::AuthenticationError
    # Every token string this file saw (extra and standing ones): none may appear in a daemon log.
    $seenTokens = [System.Collections.Generic.HashSet[string]]::new()
    $jobs = [System.Collections.Generic.List[object]]::new()

    $started = [System.Collections.Generic.List[object]]::new()
    try {
        $m1 = Start-TestNode -Root $root -Name m1 -Ip 127.0.45.1 -LogLevel debug; $started.Add($m1)
        $swarm = Initialize-Swarm -Endpoint $m1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip -ErrorAction Stop
        $m2 = Start-TestNode -Root $root -Name m2 -Ip 127.0.45.2 -LogLevel debug; $started.Add($m2)
        $null = Join-TestNode -Manager $m1 -Node $m2 -Role Manager
        $w1 = Start-TestNode -Root $root -Name w1 -Ip 127.0.45.5; $started.Add($w1)
        $null = Join-TestNode -Manager $m1 -Node $w1 -Role Worker
        $j1 = Start-TestNode -Root $root -Name j1 -Ip 127.0.45.3 -LogLevel debug; $started.Add($j1)
        $j2 = Start-TestNode -Root $root -Name j2 -Ip 127.0.45.4 -LogLevel debug; $started.Add($j2)
        $m3 = Start-TestNode -Root $root -Name m3 -Ip 127.0.45.6 -LogLevel debug; $started.Add($m3)
    }
    catch {
        Write-Host "Setup failed: $_"
        foreach ($node in $started) { Get-TestNodeLog -Node $node -Tail 30 | Write-Host }
        throw
    }
    $digest = Get-JoinTokenDigest -RootCertificate $swarm.RootCACertificate
    $null = $seenTokens.Add($swarm.JoinTokens.Worker.Token)
    $null = $seenTokens.Add($swarm.JoinTokens.Manager.Token)

    # The error record has this error id and category (and message, a -like pattern); returns it.
    # Get-ErrorSummary (shared helper) says what came instead.
    function Assert-SwarmError([object] $ErrorRecord, [string] $Id, [System.Management.Automation.ErrorCategory] $Category, [string] $Message) {
        $ErrorRecord | Should -Not -BeNullOrEmpty -Because 'the call must be refused'
        $ErrorRecord.FullyQualifiedErrorId | Should -BeLike "$Id,*" -Because (Get-ErrorSummary $ErrorRecord)
        $ErrorRecord.CategoryInfo.Category | Should -Be $Category -Because (Get-ErrorSummary $ErrorRecord)
        if ($Message) { $ErrorRecord.Exception.Message | Should -BeLike $Message -Because (Get-ErrorSummary $ErrorRecord) }
        $ErrorRecord
    }

    # The call fails (shared helper Get-ErrorRecord) with this error id, category and message.
    function Assert-Refused([scriptblock] $Call, [string] $Id, [System.Management.Automation.ErrorCategory] $Category, [string] $Message) {
        Assert-SwarmError (Get-ErrorRecord $Call) -Id $Id -Category $Category -Message $Message
    }

    # New-SwarmJoinToken on a manager; remembers the token string for the log check.
    function New-Token([object] $Via = $m1) {
        $t = New-SwarmJoinToken -Endpoint $Via.Endpoint @args -ErrorAction Stop
        foreach ($one in @($t)) { $null = $seenTokens.Add("$(if ($one -is [string]) { $one } else { $one.Token })") }
        $t
    }

    # Joins a joiner daemon with this token through one manager (its listen address only).
    function Join-With([object] $Node, [string] $Token, [object] $Via) {
        Join-Swarm -Endpoint $Node.Endpoint -Token $Token -RemoteAddress $Via.Listen -ListenAddress $Node.Listen `
            -AdvertiseAddress $Node.Ip -ErrorAction Stop
    }

    # Makes a joiner leave its swarm (if it is in one) so that it can join again.
    function Reset-Joiner([object] $Node) {
        if ("$((Get-Swarm -Endpoint $Node.Endpoint -ErrorAction Stop).LocalNodeState)" -ne 'Inactive') {
            Exit-Swarm -Endpoint $Node.Endpoint -Force -Confirm:$false -ErrorAction Stop
        }
        $null = Wait-LocalNodeState -Node $Node -State Inactive
    }

    # The extra token with this Id as a manager lists it ($null when it is not listed).
    function Get-ListedToken([object] $Via, [string] $Id) {
        @(Get-SwarmJoinToken -All -Endpoint $Via.Endpoint -ErrorAction Stop) | Where-Object { $_.Id -eq $Id } | Select-Object -First 1
    }

    # Polls a manager until the listed extra token satisfies the condition (it gets the token or $null).
    function Wait-ListedToken([object] $Via, [string] $Id, [scriptblock] $Condition, [string] $Because = 'the token to change') {
        $found = Wait-Until -TimeoutSeconds 15 -Because "$Because ($Id on $($Via.Name))" -Condition {
            $t = Get-ListedToken -Via $Via -Id $Id
            if (& $Condition $t) { [pscustomobject]@{ Token = $t } }
        }
        $found.Token
    }

    # The node IDs that a manager lists.
    function Get-NodeIdSet([object] $Via) {
        @(Get-SwarmNode -Endpoint $Via.Endpoint -ErrorAction Stop | ForEach-Object Id | Sort-Object)
    }
}

AfterAll {
    foreach ($job in @($jobs)) { Remove-Job -Job $job -Force -ErrorAction SilentlyContinue }
    Remove-TestRoot $root
}

Describe 'New-SwarmJoinToken' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when a worker token with limits is created' {
        BeforeAll {
            $before = @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint)
            $created = @(New-Token -Role Worker -ExpiresIn (New-TimeSpan -Minutes 10) -MaxUses 3 -Description 'three workers')
            $createdAt = [DateTimeOffset]::UtcNow
        }

        It 'returns one PSSwarm.SwarmJoinToken with an Id, the limits and the description' {
            $created.Count | Should -Be 1
            $t = $created[0]
            $t.PSTypeNames[0] | Should -Be 'PSSwarm.SwarmJoinToken'
            $t.Role | Should -Be ([PSSwarm.NodeRole]::Worker)
            $t.Id | Should -MatchExactly '^[0-9a-z]{25}$'
            $t.Description | Should -BeExactly 'three workers'
            $t.MaxUses | Should -Be 3
            $t.Uses | Should -Be 0
            $t.UsesLeft | Should -Be 3
            $t.IsValid | Should -BeTrue
            $t.ExpiresAt | Should -BeOfType ([DateTimeOffset])
            ($t.ExpiresAt - $t.CreatedAt) | Should -Be (New-TimeSpan -Minutes 10)
            [Math]::Abs(($t.CreatedAt - $createdAt).TotalSeconds) | Should -BeLessThan 5
            $t.RemoteAddress | Should -Contain '127.0.45.1:2377'
            $t.JoinCommand | Should -BeLike "Join-Swarm -Token $($t.Token) -RemoteAddress *127.0.45.1:2377*"
        }

        It "has Docker's format: the standing token's digest and a secret of its own" {
            $t = $created[0]
            $t.Token | Should -MatchExactly $TokenPattern
            $parts = Split-JoinToken $t.Token
            $parts.Digest | Should -BeExactly $digest
            $parts.Digest | Should -BeExactly (Split-JoinToken $swarm.JoinTokens.Worker.Token).Digest
            $parts.Secret | Should -Not -Be (Split-JoinToken $swarm.JoinTokens.Worker.Token).Secret
            $parts.Secret | Should -Not -Be (Split-JoinToken $swarm.JoinTokens.Manager.Token).Secret
            $t.Token | Should -Not -BeIn @($before.Token)
        }

        It 'is listed by Get-SwarmJoinToken -All after the standing tokens, as created' {
            $all = @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint)
            $all.Count | Should -Be ($before.Count + 1)
            $all[0].Role | Should -Be ([PSSwarm.NodeRole]::Worker)
            $all[0].Id | Should -BeNullOrEmpty
            $all[1].Role | Should -Be ([PSSwarm.NodeRole]::Manager)
            $all[1].Id | Should -BeNullOrEmpty
            $listed = $all[-1]
            $listed.Id | Should -BeExactly $created[0].Id
            $listed.Token | Should -BeExactly $created[0].Token
            $listed.Description | Should -BeExactly 'three workers'
            $listed.ExpiresAt | Should -Be $created[0].ExpiresAt
            $listed.UsesLeft | Should -Be 3
        }

        It 'returns the token strings with -All -Quiet' {
            $strings = @(Get-SwarmJoinToken -All -Quiet -Endpoint $m1.Endpoint)
            $strings | Should -Contain $created[0].Token
            @($strings | Where-Object { $_ -isnot [string] -or $_ -cnotmatch $TokenPattern }).Count | Should -Be 0
            $strings[0] | Should -BeExactly $swarm.JoinTokens.Worker.Token
        }
    }

    Context 'when a token has no limits' {
        It 'never expires, admits any number of nodes and has an empty description' {
            $t = New-Token -Role Manager
            $t.Role | Should -Be ([PSSwarm.NodeRole]::Manager)
            $t.Id | Should -Not -BeNullOrEmpty
            $t.ExpiresAt | Should -BeNullOrEmpty
            $t.MaxUses | Should -BeNullOrEmpty
            $t.UsesLeft | Should -BeNullOrEmpty
            $t.Description | Should -BeNullOrEmpty
            $t.IsValid | Should -BeTrue
            $t.Token | Should -Not -Be $swarm.JoinTokens.Manager.Token
            $null = Revoke-SwarmJoinToken -Id $t.Id -Endpoint $m1.Endpoint -ErrorAction Stop
        }
    }

    Context 'when -Quiet is given' {
        It 'returns only the new token string' {
            $result = @(New-Token -Role Worker -MaxUses 1 -Quiet)
            $result.Count | Should -Be 1
            $result[0] | Should -BeOfType ([string])
            $result[0] | Should -MatchExactly $TokenPattern
            @(Get-SwarmJoinToken -All -Quiet -Endpoint $m1.Endpoint) | Should -Contain $result[0]
        }
    }

    Context 'when -WhatIf is given' {
        It 'creates nothing and returns nothing' {
            $before = @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint)
            $result = New-SwarmJoinToken -Role Worker -MaxUses 1 -ExpiresIn 00:01:00 -Endpoint $m1.Endpoint -WhatIf
            $result2 = New-SwarmJoinToken -Role Manager -Endpoint $m1.Endpoint -WhatIf
            $result | Should -BeNullOrEmpty
            $result2 | Should -BeNullOrEmpty
            $after = @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint)
            $after.Count | Should -Be $before.Count
            @($after.Token) | Should -Be @($before.Token)
        }
    }

    Context 'when a limit is out of range' {
        It 'refuses -ExpiresIn below 1 second with SwarmInvalidArgument and creates nothing' {
            $before = @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint).Count
            $null = Assert-Refused { New-SwarmJoinToken -Role Worker -ExpiresIn (New-TimeSpan -Milliseconds 500) -Endpoint $m1.Endpoint } `
                -Id SwarmInvalidArgument -Category InvalidArgument -Message '*at least 1 second*'
            $null = Assert-Refused { New-SwarmJoinToken -Role Worker -ExpiresIn ([TimeSpan]::Zero) -Endpoint $m1.Endpoint } `
                -Id SwarmInvalidArgument -Category InvalidArgument -Message '*at least 1 second*'
            @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint).Count | Should -Be $before
        }

        It 'refuses -MaxUses 0 at parameter binding' {
            { New-SwarmJoinToken -Role Worker -MaxUses 0 -Endpoint $m1.Endpoint } |
                Should -Throw -ExceptionType ([System.Management.Automation.ParameterBindingException])
        }
    }

    Context 'when the node is a worker' {
        It 'refuses <Command> with SwarmNotManager (InvalidOperation)' -ForEach @(
            @{ Command = 'New-SwarmJoinToken'; Call = { New-SwarmJoinToken -Role Worker -MaxUses 1 -Endpoint $w1.Endpoint } }
            @{ Command = 'Get-SwarmJoinToken -All'; Call = { Get-SwarmJoinToken -All -Endpoint $w1.Endpoint } }
            @{ Command = 'Revoke-SwarmJoinToken'; Call = { Revoke-SwarmJoinToken -Id abc -Endpoint $w1.Endpoint } }
        ) {
            $before = @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint).Count
            $null = Assert-Refused $Call -Id SwarmNotManager -Category InvalidOperation -Message "This node is not a swarm manager. Worker nodes can't*"
            @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint).Count | Should -Be $before
        }
    }
}

Describe 'A single-use worker token' {
    BeforeAll {
        $single = New-Token -Role Worker -MaxUses 1 -Description 'one worker'
        $first = Join-With -Node $j1 -Token $single.Token -Via $m1
        $refused = Get-ErrorRecord { Join-With -Node $j2 -Token $single.Token -Via $m1 }
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }
    AfterAll { Reset-Joiner $j1 }

    It 'admits the first node as a worker' {
        $first.Role | Should -Be ([PSSwarm.NodeRole]::Worker)
        (Get-NodeView -Manager $m1 -Id $first.Id).Hostname | Should -Be 'j1'
        (Get-Swarm -Endpoint $j1.Endpoint).LocalNodeState | Should -Be 'Active'
    }

    It 'refuses the next node with SwarmJoinTokenUsedUp (AuthenticationError)' {
        $null = Assert-SwarmError $refused -Id SwarmJoinTokenUsedUp -Category $Auth `
            -Message '*has admitted all the nodes it may (1)*'
        (Get-Swarm -Endpoint $j2.Endpoint).LocalNodeState | Should -Be 'Inactive'
        @(Get-SwarmNode -Endpoint $m1.Endpoint | Where-Object Hostname -EQ 'j2').Count | Should -Be 0
    }

    It 'is listed with UsesLeft 0 and IsValid false on both managers' {
        foreach ($mgr in $m1, $m2) {
            $t = Wait-ListedToken -Via $mgr -Id $single.Id -Because 'the use to be counted' -Condition { param($t) $t -and $t.Uses -eq 1 }
            $t.MaxUses | Should -Be 1
            $t.UsesLeft | Should -Be 0
            $t.IsValid | Should -BeFalse
            $t.Description | Should -BeExactly 'one worker'
        }
    }
}

Describe 'Two joins racing for one single-use token through two managers' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'round <Round>' -ForEach @(
        @{ Round = 1; ViaA = 'm1'; ViaB = 'm2' }
        @{ Round = 2; ViaA = 'm2'; ViaB = 'm1' }
        @{ Round = 3; ViaA = 'm1'; ViaB = 'm2' }
    ) {
        BeforeAll {
            $managerOf = @{ m1 = $m1; m2 = $m2 }
            $token = New-Token -Role Worker -MaxUses 1 -Description "race $Round"
            $null = Wait-ListedToken -Via $m2 -Id $token.Id -Because 'm2 to know the token' -Condition { param($t) $null -ne $t }
            $idsBefore = Get-NodeIdSet $m1
            $ready = [System.Threading.CountdownEvent]::new(2)
            $gate = [System.Threading.ManualResetEventSlim]::new($false)
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $pair = @(
                @{ Node = $j1; Via = $managerOf[$ViaA] }
                @{ Node = $j2; Via = $managerOf[$ViaB] }
            )
            $raceJobs = foreach ($p in $pair) {
                $job = Start-ThreadJob -ArgumentList $modulePath, $p.Node.Endpoint, $token.Token, $p.Via.Listen, $p.Node.Listen, $p.Node.Ip, $ready, $gate, $clock -ScriptBlock {
                    param($ModulePath, $Endpoint, $Token, $Remote, $Listen, $Ip, $Ready, $Gate, $Clock)
                    Import-Module $ModulePath -ErrorAction Stop
                    $null = $Ready.Signal()
                    $null = $Gate.Wait(30000)
                    $startedAt = $Clock.Elapsed.TotalMilliseconds
                    $node = $null; $err = $null
                    try { $node = Join-Swarm -Endpoint $Endpoint -Token $Token -RemoteAddress $Remote -ListenAddress $Listen -AdvertiseAddress $Ip -ErrorAction Stop }
                    catch { $err = $_ }
                    [pscustomobject]@{ Endpoint = $Endpoint; Node = $node; Error = $err; StartedAt = $startedAt; EndedAt = $Clock.Elapsed.TotalMilliseconds }
                }
                $jobs.Add($job)
                $job
            }
            $allReady = $ready.Wait(30000)
            $gate.Set()
            $null = Wait-Job -Job $raceJobs -Timeout 60
            $results = @($raceJobs | Where-Object State -EQ 'Completed' | Receive-Job)
            $raceJobs | Remove-Job -Force
            $gate.Dispose(); $ready.Dispose()
            $winners = @($results | Where-Object { $null -eq $_.Error })
            $losers = @($results | Where-Object { $null -ne $_.Error })
        }
        AfterAll {
            Reset-Joiner $j1
            Reset-Joiner $j2
        }

        It 'starts both joins at the same moment' {
            $allReady | Should -BeTrue
            $results.Count | Should -Be 2
            # A join takes about a second: calls that start within half a second race for the token.
            [Math]::Abs($results[0].StartedAt - $results[1].StartedAt) | Should -BeLessThan 500
        }

        It 'lets exactly one join succeed' {
            $winners.Count | Should -Be 1 -Because (($results | ForEach-Object { "$($_.Endpoint): $(Get-ErrorSummary $_.Error)" }) -join '; ')
            $winners[0].Node.Role | Should -Be ([PSSwarm.NodeRole]::Worker)
        }

        It 'refuses the other with SwarmJoinTokenUsedUp (AuthenticationError) and leaves it Inactive' {
            $losers.Count | Should -Be 1
            $loser = $losers[0]
            $null = Assert-SwarmError $loser.Error -Id SwarmJoinTokenUsedUp -Category $Auth -Message '*has admitted all the nodes it may (1)*'
            (Get-Swarm -Endpoint $loser.Endpoint).LocalNodeState | Should -Be 'Inactive'
        }

        It 'adds exactly one node, the winner, on both managers' {
            $winnerId = $winners[0].Node.Id
            foreach ($mgr in $m1, $m2) {
                $null = Wait-NodeView -Manager $mgr -Id $winnerId -Because 'the winner to be listed' -Condition { param($v) $null -ne $v }
                $new = @(Get-NodeIdSet $mgr | Where-Object { $_ -notin $idsBefore })
                $new.Count | Should -Be 1 -Because "$($mgr.Name) must list one new node"
                $new[0] | Should -BeExactly $winnerId
            }
        }

        It 'counts one use' {
            foreach ($mgr in $m1, $m2) {
                $t = Wait-ListedToken -Via $mgr -Id $token.Id -Because 'the use to be counted' -Condition { param($t) $t -and $t.Uses -ge 1 }
                $t.Uses | Should -Be 1
                $t.UsesLeft | Should -Be 0
                $t.IsValid | Should -BeFalse
            }
        }
    }
}

Describe 'A token that expires' {
    BeforeAll {
        $expiring = New-Token -Role Worker -ExpiresIn (New-TimeSpan -Seconds 2) -Description 'two seconds'
        $early = $null; $earlyNode = $null
        try { $earlyNode = Join-With -Node $j1 -Token $expiring.Token -Via $m1 } catch { $early = $_ }
        # m2 refuses it once the expiry has passed (the refusal goes to the other manager than the join).
        $wait = ($expiring.ExpiresAt - [DateTimeOffset]::UtcNow).TotalMilliseconds + 700
        if ($wait -gt 0) { Start-Sleep -Milliseconds ([int]$wait) }
        $late = Get-ErrorRecord { Join-With -Node $j2 -Token $expiring.Token -Via $m2 }
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }
    AfterAll { Reset-Joiner $j1 }

    It 'admits a node before it expires' {
        Get-ErrorSummary $early | Should -Be '<no error>'
        $earlyNode.Role | Should -Be ([PSSwarm.NodeRole]::Worker)
        (Get-Swarm -Endpoint $j1.Endpoint).LocalNodeState | Should -Be 'Active'
    }

    It 'refuses a node after it expired with SwarmJoinTokenExpired, naming the expiry' {
        $expiry = $expiring.ExpiresAt.UtcDateTime.ToString('yyyy-MM-dd HH:mm:ss', [cultureinfo]::InvariantCulture)
        $null = Assert-SwarmError $late -Id SwarmJoinTokenExpired -Category $Auth `
            -Message "This join token expired at $expiry UTC.*"
        (Get-Swarm -Endpoint $j2.Endpoint).LocalNodeState | Should -Be 'Inactive'
    }

    It 'is listed as no longer valid' {
        $t = Get-ListedToken -Via $m1 -Id $expiring.Id
        $t.ExpiresAt | Should -BeLessThan ([DateTimeOffset]::UtcNow)
        $t.Uses | Should -Be 1
        $t.IsValid | Should -BeFalse
    }
}

Describe 'A manager token from New-SwarmJoinToken' {
    BeforeAll {
        $managerToken = New-Token -Role Manager -MaxUses 1 -ExpiresIn 00:05:00 -Description 'm3'
        $joined = Join-With -Node $m3 -Token $managerToken.Token -Via $m2
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'makes a manager' {
        $joined.Role | Should -Be ([PSSwarm.NodeRole]::Manager)
        (Get-Swarm -Endpoint $m3.Endpoint).IsManager | Should -BeTrue
        $view = Wait-NodeView -Manager $m1 -Id $joined.Id -Because 'm3 to be a reachable manager' -Condition { param($v) $v -and "$($v.Reachability)" -eq 'Reachable' }
        $view.Role | Should -Be ([PSSwarm.NodeRole]::Manager)
    }

    It 'lets the new manager list the tokens' {
        $t = Wait-ListedToken -Via $m3 -Id $managerToken.Id -Because 'm3 to list its token' -Condition { param($t) $t -and $t.Uses -eq 1 }
        $t.Role | Should -Be ([PSSwarm.NodeRole]::Manager)
        $t.UsesLeft | Should -Be 0
    }
}

Describe 'Revoke-SwarmJoinToken' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when tokens are revoked by Id, Id prefix, string and from the pipeline' {
        BeforeAll {
            $byId, $byPrefix, $byString, $byPipe = 1..4 | ForEach-Object { New-Token -Role Worker -Description "revoke $_" }
            $otherIds = @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint | Where-Object { $_.Id -and $_.Id -ne $byPrefix.Id } | ForEach-Object Id)
            $prefixLength = 4
            while (@($otherIds | Where-Object { $_.StartsWith($byPrefix.Id.Substring(0, $prefixLength)) }).Count -gt 0) { $prefixLength++ }
            $prefix = $byPrefix.Id.Substring(0, $prefixLength)

            $passId = @(Revoke-SwarmJoinToken -Id $byId.Id -PassThru -Endpoint $m1.Endpoint -Confirm:$false)
            $passPrefix = @(Revoke-SwarmJoinToken $prefix -PassThru -Endpoint $m1.Endpoint -Confirm:$false)
            $passString = @(Revoke-SwarmJoinToken -Id $byString.Token -PassThru -Endpoint $m2.Endpoint -Confirm:$false)
            $passPipe = @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint | Where-Object Id -EQ $byPipe.Id |
                Revoke-SwarmJoinToken -PassThru -Endpoint $m1.Endpoint -Confirm:$false)
        }

        It 'revokes by <Way> and returns the token with -PassThru' -ForEach @(
            @{ Way = 'Id'; Name = 'passId'; Of = 'byId' }
            @{ Way = 'unique Id prefix'; Name = 'passPrefix'; Of = 'byPrefix' }
            @{ Way = 'token string'; Name = 'passString'; Of = 'byString' }
            @{ Way = 'pipeline'; Name = 'passPipe'; Of = 'byPipe' }
        ) {
            $pass = @(Get-Variable -Name $Name -ValueOnly)
            $of = Get-Variable -Name $Of -ValueOnly
            $pass.Count | Should -Be 1
            $pass[0].Id | Should -BeExactly $of.Id
            $pass[0].Description | Should -BeExactly $of.Description
            foreach ($mgr in $m1, $m2) {
                $null = Wait-ListedToken -Via $mgr -Id $of.Id -Because 'the token to be gone' -Condition { param($t) $null -eq $t }
                @(Get-SwarmJoinToken -All -Quiet -Endpoint $mgr.Endpoint) | Should -Not -Contain $of.Token
            }
        }

        It 'refuses a join with a revoked token as SwarmInvalidJoinToken' {
            $null = Assert-Refused { Join-With -Node $j2 -Token $byString.Token -Via $m2 } -Id SwarmInvalidJoinToken -Category $Auth `
                -Message 'A valid join token is necessary to join this cluster'
            (Get-Swarm -Endpoint $j2.Endpoint).LocalNodeState | Should -Be 'Inactive'
        }

        It 'refuses a second revocation with SwarmJoinTokenNotFound (ObjectNotFound)' {
            $null = Assert-Refused { Revoke-SwarmJoinToken -Id $byId.Id -Endpoint $m1.Endpoint -Confirm:$false } `
                -Id SwarmJoinTokenNotFound -Category ObjectNotFound -Message "join token `"$($byId.Id)`" not found"
        }
    }

    Context 'when a token that admitted a node is revoked' {
        BeforeAll {
            $open = New-Token -Role Worker -Description 'open'
            $admitted = Join-With -Node $j1 -Token $open.Token -Via $m1
            $null = Revoke-SwarmJoinToken -Id $open.Id -Endpoint $m1.Endpoint -Confirm:$false -ErrorAction Stop
        }
        AfterAll { Reset-Joiner $j1 }

        It 'keeps the node it admitted' {
            $view = Get-NodeView -Manager $m1 -Id $admitted.Id
            $view | Should -Not -BeNullOrEmpty
            "$($view.Status)" | Should -Be 'Ready'
            (Get-Swarm -Endpoint $j1.Endpoint).LocalNodeState | Should -Be 'Active'
        }

        It 'refuses the next node as SwarmInvalidJoinToken' {
            $null = Assert-Refused { Join-With -Node $j2 -Token $open.Token -Via $m1 } -Id SwarmInvalidJoinToken -Category $Auth
        }
    }

    Context 'when -WhatIf is given' {
        It 'revokes nothing' {
            $kept = New-Token -Role Worker -Description 'kept'
            $result = Revoke-SwarmJoinToken -Id $kept.Id -Endpoint $m1.Endpoint -WhatIf
            $result | Should -BeNullOrEmpty
            (Get-ListedToken -Via $m1 -Id $kept.Id).Token | Should -BeExactly $kept.Token
            $null = Revoke-SwarmJoinToken -Id $kept.Id -Endpoint $m1.Endpoint -Confirm:$false -ErrorAction Stop
        }
    }

    Context 'when the invalid tokens are revoked from Get-SwarmJoinToken -All' {
        It 'revokes every used-up or expired token and leaves the standing ones' {
            $invalid = @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint | Where-Object { $_.Id -and -not $_.IsValid })
            $invalid.Count | Should -Be 6 -Because 'the single-use, the 3 race, the expiring and the m3 tokens are used up or expired'
            $revoked = @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint | Where-Object { $_.Id -and -not $_.IsValid } |
                Revoke-SwarmJoinToken -PassThru -Endpoint $m1.Endpoint -Confirm:$false)
            @($revoked.Id | Sort-Object) | Should -Be @($invalid.Id | Sort-Object)
            $after = @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint)
            @($after | Where-Object { -not $_.IsValid }).Count | Should -Be 0
            @($after | Where-Object { -not $_.Id }).Count | Should -Be 2
        }
    }

    Context 'when the token is a standing token' {
        It 'refuses <Way> with SwarmStandingJoinToken (InvalidOperation) and the token still works' -ForEach @(
            @{ Way = 'the worker token string'; Call = { Revoke-SwarmJoinToken -Id (Get-SwarmJoinToken -Role Worker -Quiet -Endpoint $m1.Endpoint) -Endpoint $m1.Endpoint -Confirm:$false } }
            @{ Way = 'the manager token from the pipeline'; Call = { Get-SwarmJoinToken -Role Manager -Endpoint $m1.Endpoint | Revoke-SwarmJoinToken -Endpoint $m1.Endpoint -Confirm:$false } }
        ) {
            $before = Get-Swarm -Endpoint $m1.Endpoint
            $err = Assert-Refused $Call -Id SwarmStandingJoinToken -Category InvalidOperation -Message '*rotate it with Update-SwarmJoinToken instead'
            $err.Exception.Message | Should -Not -Match 'SWMTKN'
            $after = Get-Swarm -Endpoint $m1.Endpoint
            $after.JoinTokens.Worker.Token | Should -BeExactly $before.JoinTokens.Worker.Token
            $after.JoinTokens.Manager.Token | Should -BeExactly $before.JoinTokens.Manager.Token
        }

        It 'still admits a worker with the standing worker token' {
            $node = Join-TestNode -Manager $m1 -Node $j2 -Role Worker
            $node.Role | Should -Be ([PSSwarm.NodeRole]::Worker)
            Reset-Joiner $j2
        }
    }

    Context 'when the token is unknown' {
        It 'refuses <Way> with SwarmJoinTokenNotFound (ObjectNotFound)' -ForEach @(
            @{ Way = 'an unknown Id'; Target = 'zzzzzzzzzzzzzzzzzzzzzzzzz' }
            @{ Way = 'an unknown token string'; Target = "SWMTKN-1-$('0' * 50)-$('1' * 25)" }
        ) {
            $before = @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint).Count
            $err = Assert-Refused { Revoke-SwarmJoinToken -Id $Target -Endpoint $m1.Endpoint -Confirm:$false } -Id SwarmJoinTokenNotFound -Category ObjectNotFound
            if ($Target.StartsWith('SWMTKN-')) { $err.Exception.Message | Should -Not -Match 'SWMTKN' }
            @(Get-SwarmJoinToken -All -Endpoint $m1.Endpoint).Count | Should -Be $before
        }
    }
}

Describe 'Tokens in the replicated store' {
    BeforeAll {
        $stored = New-Token -Via $m1 -Role Worker -MaxUses 2 -ExpiresIn 01:00:00 -Description 'survives a restart'
        $beforeRestart = Join-With -Node $j1 -Token $stored.Token -Via $m1
        $onM2 = Wait-ListedToken -Via $m2 -Id $stored.Id -Because 'm2 to count the use' -Condition { param($t) $t -and $t.Uses -eq 1 }

        Stop-TestNode $m1
        $m1Restarted = Start-TestNode -Root $root -Name m1 -Ip 127.0.45.1 -LogLevel debug
        $null = Wait-AgreedLeader -Managers @($m1Restarted, $m2, $m3) -TimeoutSeconds 20
        $afterRestartOnM1 = Wait-ListedToken -Via $m1Restarted -Id $stored.Id -Because 'the restarted m1 to list the token' -Condition { param($t) $null -ne $t }
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }
    AfterAll {
        Reset-Joiner $j1
        Reset-Joiner $j2
    }

    It 'shows a token created on m1 on m2, with the same limits and uses' {
        $onM2.Token | Should -BeExactly $stored.Token
        $onM2.Description | Should -BeExactly 'survives a restart'
        $onM2.ExpiresAt | Should -Be $stored.ExpiresAt
        $onM2.CreatedAt | Should -Be $stored.CreatedAt
        $onM2.MaxUses | Should -Be 2
        $onM2.UsesLeft | Should -Be 1
    }

    It "keeps the token and its uses across m1's restart" {
        $m1Restarted.Pid | Should -Not -Be $m1.Pid
        $afterRestartOnM1.Token | Should -BeExactly $stored.Token
        $afterRestartOnM1.ExpiresAt | Should -Be $stored.ExpiresAt
        $afterRestartOnM1.Uses | Should -Be 1
        $afterRestartOnM1.UsesLeft | Should -Be 1
    }

    It 'still admits a node through the restarted m1, then is used up' {
        $node = Join-With -Node $j2 -Token $stored.Token -Via $m1Restarted
        $node.Role | Should -Be ([PSSwarm.NodeRole]::Worker)
        $t = Wait-ListedToken -Via $m2 -Id $stored.Id -Because 'the second use to be counted' -Condition { param($t) $t -and $t.Uses -eq 2 }
        $t.UsesLeft | Should -Be 0
        $t.IsValid | Should -BeFalse
    }
}

Describe 'The standing tokens' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'are unchanged by the extra tokens' {
        Get-SwarmJoinToken -Role Worker -Quiet -Endpoint $m2.Endpoint | Should -BeExactly $swarm.JoinTokens.Worker.Token
        Get-SwarmJoinToken -Role Manager -Quiet -Endpoint $m2.Endpoint | Should -BeExactly $swarm.JoinTokens.Manager.Token
        $worker = Get-SwarmJoinToken -Role Worker -Endpoint $m2.Endpoint
        $worker.Id | Should -BeNullOrEmpty
        $worker.ExpiresAt | Should -BeNullOrEmpty
        $worker.UsesLeft | Should -BeNullOrEmpty
        $worker.IsValid | Should -BeTrue
        $all = @(Get-SwarmJoinToken -All -Endpoint $m2.Endpoint)
        $all[0].Token | Should -BeExactly $swarm.JoinTokens.Worker.Token
        $all[1].Token | Should -BeExactly $swarm.JoinTokens.Manager.Token
    }

    It 'rotate with Update-SwarmJoinToken as before, leaving the extra tokens as they are' {
        $extra = New-Token -Role Worker -MaxUses 1 -Description 'after rotation'
        $beforeExtra = @(Get-SwarmJoinToken -All -Endpoint $m2.Endpoint | Where-Object Id | ForEach-Object { "$($_.Id) $($_.Token) $($_.Uses)" })
        $rotated = Update-SwarmJoinToken -Role Worker -Endpoint $m2.Endpoint -Confirm:$false
        $null = $seenTokens.Add($rotated.Token)
        $rotated.Token | Should -MatchExactly $TokenPattern
        $rotated.Token | Should -Not -Be $swarm.JoinTokens.Worker.Token
        $rotated.Id | Should -BeNullOrEmpty
        $all = @(Get-SwarmJoinToken -All -Endpoint $m2.Endpoint)
        $all[0].Token | Should -BeExactly $rotated.Token
        $all[1].Token | Should -BeExactly $swarm.JoinTokens.Manager.Token
        @($all | Where-Object Id | ForEach-Object { "$($_.Id) $($_.Token) $($_.Uses)" }) | Should -Be $beforeExtra
        # The extra token still admits a node after the rotation.
        $node = Join-With -Node $j1 -Token $extra.Token -Via $m2
        $node.Role | Should -Be ([PSSwarm.NodeRole]::Worker)
        Reset-Joiner $j1
    }
}

Describe 'The daemon logs' {
    BeforeAll {
        # Every log file of this root (the restarted m1 appended to the same file).
        $logs = @(Get-ChildItem -LiteralPath $root -Recurse -File -Filter 'psswarmd.log' | ForEach-Object {
                [pscustomobject]@{ Path = $_.FullName; Text = [System.IO.File]::ReadAllText($_.FullName) } })
        $allLogText = ($logs.Text -join "`n")
    }

    It 'were read for every daemon and name the extra tokens by Id' {
        $logs.Count | Should -Be 6
        $allLogText | Should -Match 'Created Worker join token [0-9a-z]{25}'
        $allLogText | Should -Match 'joined as Worker with join token [0-9a-z]{25}'
        $allLogText | Should -Match 'Revoked Worker join token [0-9a-z]{25}'
        $seenTokens.Count | Should -BeGreaterThan 15
    }

    It 'contain no token string and no token secret' {
        $leaks = foreach ($token in $seenTokens) {
            $secret = (Split-JoinToken $token).Secret
            foreach ($log in $logs) {
                if ($log.Text.Contains($token) -or $log.Text.Contains($secret)) { "$($log.Path) holds a token (secret $($secret.Substring(0, 4))...)" }
            }
        }
        @($leaks) | Should -BeNullOrEmpty
    }
}
