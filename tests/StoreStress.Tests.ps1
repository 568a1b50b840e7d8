#Requires -Version 7.4
# The store under concurrent writes with frequent snapshots (DESIGN.md lists two DotNext defects
# seen around snapshots under load; snapshots are rare in production, so this file makes them
# frequent with PSSWARM_SNAPSHOT_INTERVAL), then kill -9 and a clean restart: nothing is lost.
# Loopback addresses: 127.0.30.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name stress
    $modulePath = (Get-Module PSSwarm).Path -replace '\.dll$', '.psd1'

    $previous = $env:PSSWARM_SNAPSHOT_INTERVAL
    $env:PSSWARM_SNAPSHOT_INTERVAL = '16'
    try { $node = Start-TestNode -Root $root -Name s1 -Ip 127.0.30.1 }
    finally { $env:PSSWARM_SNAPSHOT_INTERVAL = $previous }
    $null = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip -DispatcherHeartbeat '00:00:01'
    $nodeId = (Get-SwarmNode -Endpoint $node.Endpoint -Self).Id

    # Four writers at once: token rotations and node label changes, 50 writes each.
    $results = 1..4 | ForEach-Object -ThrottleLimit 4 -Parallel {
        Import-Module $using:modulePath
        $writer = $_
        $last = $null
        foreach ($i in 1..50) {
            if ($writer -le 2) {
                $last = Update-SwarmJoinToken -Endpoint $using:node.Endpoint -Role ($writer -eq 1 ? 'Worker' : 'Manager') -Confirm:$false
            }
            else {
                Set-SwarmNode -Endpoint $using:node.Endpoint -Id $using:nodeId -Label @{ "w$writer-$i" = "$i" } -Confirm:$false
            }
        }
        [pscustomobject]@{ Writer = $writer; Last = $last }
    }
    $expectedWorker = ($results | Where-Object Writer -EQ 1).Last.Token
    $expectedManager = ($results | Where-Object Writer -EQ 2).Last.Token

    function Restart-Node([string] $How) {
        if ($How -eq 'kill -9') { & kill -9 $node.Pid } else { Stop-SwarmDaemon -Endpoint $node.Endpoint }
        if (-not (Wait-ProcessExit -ProcessId $node.Pid -TimeoutMilliseconds 10000)) { throw "psswarmd did not exit after $How" }
        $script:node = Start-TestNode -Root $root -Name s1 -Ip 127.0.30.1
        $null = Wait-Until -TimeoutSeconds 15 -Because 'the node to be Active again' -Condition {
            (Get-Swarm -Endpoint $script:node.Endpoint -ErrorAction Stop).LocalNodeState -eq 'Active'
        }
    }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'The swarm store under concurrent writes with frequent snapshots' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'applied every write from four concurrent writers' {
        (Get-SwarmJoinToken -Endpoint $node.Endpoint -Role Worker).Token | Should -BeExactly $expectedWorker
        (Get-SwarmJoinToken -Endpoint $node.Endpoint -Role Manager).Token | Should -BeExactly $expectedManager
        (Get-SwarmNode -Endpoint $node.Endpoint -Self).Labels.Count | Should -Be 100
    }

    It 'took snapshots while writing' {
        @(Get-ChildItem (Join-Path $node.DataRoot 'raft/snapshots') -Recurse -File).Count | Should -BeGreaterThan 0
    }

    It 'keeps every write across kill -9 and a restart' -ForEach @(@{ How = 'kill -9' }, @{ How = 'SIGTERM' }) {
        Restart-Node $How
        (Get-SwarmJoinToken -Endpoint $node.Endpoint -Role Worker).Token | Should -BeExactly $expectedWorker
        (Get-SwarmJoinToken -Endpoint $node.Endpoint -Role Manager).Token | Should -BeExactly $expectedManager
        $self = Get-SwarmNode -Endpoint $node.Endpoint -Self
        $self.Labels.Count | Should -Be 100
        $self.Labels['w3-50'] | Should -Be '50'
    }

    It 'still accepts writes after the restarts' {
        $fresh = Update-SwarmJoinToken -Endpoint $node.Endpoint -Role Worker -Confirm:$false
        $fresh.Token | Should -Not -BeExactly $expectedWorker
        (Get-SwarmJoinToken -Endpoint $node.Endpoint -Role Worker).Token | Should -BeExactly $fresh.Token
    }
}
