#Requires -Version 7.4
# Join-Swarm fed the way remoting feeds it: Invoke-Command sends a deserialized copy of the
# token object (a property bag named Deserialized.PSSwarm.SwarmJoinToken) to the other host.
# Loopback addresses: 127.0.32.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name remoting
    $m1 = Start-TestNode -Root $root -Name m1 -Ip 127.0.32.1
    $w1 = Start-TestNode -Root $root -Name w1 -Ip 127.0.32.2
    $w2 = Start-TestNode -Root $root -Name w2 -Ip 127.0.32.3
    $null = Initialize-Swarm -Endpoint $m1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip

    # What a remote session receives: the object serialized and rebuilt as a property bag.
    # Serialize(object) uses the type's SerializationDepth (PSSwarm.types.ps1xml), as remoting does.
    function ConvertTo-Remoted($InputObject) {
        [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($InputObject))
    }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'Join-Swarm with a token that crossed a remoting boundary' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'binds Token and RemoteAddress from a deserialized SwarmJoinToken' {
        $remoted = ConvertTo-Remoted (Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker)
        $remoted.PSObject.TypeNames[0] | Should -Be 'Deserialized.PSSwarm.SwarmJoinToken'
        $node = $remoted | Join-Swarm -Endpoint $w1.Endpoint -ListenAddress $w1.Listen -AdvertiseAddress $w1.Ip
        $node.Role | Should -Be ([PSSwarm.NodeRole]::Worker)
        (Get-SwarmNode -Endpoint $m1.Endpoint -Id w1).Status | Should -Be ([PSSwarm.NodeStatus]::Ready)
    }

    It 'joins inside an Invoke-Command script block given the token as an argument' {
        $token = ConvertTo-Remoted (Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker)
        $node = Invoke-Command -ArgumentList $token, $w2 -ScriptBlock {
            param($Token, $Node)
            $Token | Join-Swarm -Endpoint $Node.Endpoint -ListenAddress $Node.Listen -AdvertiseAddress $Node.Ip
        }
        $node.Hostname | Should -Be 'w2'
        (Get-SwarmNode -Endpoint $m1.Endpoint -Id w2).Role | Should -Be ([PSSwarm.NodeRole]::Worker)
    }

    It 'round-trips the joined node and the swarm info as property bags with the contract''s names' {
        $remotedNode = ConvertTo-Remoted (Get-SwarmNode -Endpoint $m1.Endpoint -Id w1)
        $remotedNode.PSObject.TypeNames[0] | Should -Be 'Deserialized.PSSwarm.SwarmNode'
        "$($remotedNode.Role)" | Should -Be 'Worker'
        $remotedNode.Id | Should -Match '^[0-9a-z]{25}$'
        $remotedInfo = ConvertTo-Remoted (Get-Swarm -Endpoint $m1.Endpoint)
        $remotedInfo.JoinTokens.Worker.Token | Should -Match '^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$'
    }
}
