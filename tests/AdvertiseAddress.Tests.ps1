#Requires -Version 7.4
# Advertise-address detection by Initialize-Swarm, in network namespaces this file creates
# (psswarm-adv-<random>*), with veth interfaces addressed in 10.99.<n>.x/24. psswarmd runs inside a
# namespace (nsenter --net=...), so detection sees only that namespace's interfaces. No traffic
# leaves the namespaces: the test process only talks to the daemons over their Unix sockets.
# Needs root, iproute2 (ip netns) and nsenter; otherwise the whole file is skipped with the reason.

BeforeDiscovery {
    $skipReason = $null
    if (-not $IsLinux) {
        $skipReason = 'network namespaces need Linux'
    }
    elseif ("$(& id -u)".Trim() -ne '0') {
        $skipReason = 'creating network namespaces needs root'
    }
    elseif (-not (Get-Command ip -CommandType Application -ErrorAction Ignore)) {
        $skipReason = 'the ip command (iproute2) is not installed'
    }
    elseif (-not (Get-Command nsenter -CommandType Application -ErrorAction Ignore)) {
        $skipReason = 'nsenter (util-linux) is not installed'
    }
    else {
        # Probe: two namespaces joined by a veth pair, then remove them.
        $probe = "psswarm-adv-probe$(Get-Random -Maximum 99999)"
        $null = & ip netns add "${probe}a" 2>&1
        if ($LASTEXITCODE -ne 0) {
            $skipReason = '`ip netns add` failed (no CAP_SYS_ADMIN or no /run/netns?)'
        }
        else {
            $null = & ip netns add "${probe}b" 2>&1
            $null = & ip link add pswprobe0 netns "${probe}a" type veth peer name pswprobe1 netns "${probe}b" 2>&1
            if ($LASTEXITCODE -ne 0) { $skipReason = 'cannot create veth interfaces in a network namespace' }
            $null = & ip netns del "${probe}a" 2>&1
            $null = & ip netns del "${probe}b" 2>&1
        }
    }
    if ($skipReason) { Write-Warning "AdvertiseAddress.Tests.ps1 is skipped: $skipReason" }
}

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name adv
}

AfterAll {
    Remove-TestRoot $root
}

Describe "Initialize-Swarm advertise address detection$(if ($skipReason) { " (skipped: $skipReason)" })" -Skip:([bool]$skipReason) {
    BeforeAll {
        $tag = -join ((1..5) | ForEach-Object { [char](Get-Random -InputObject (97..122)) })
        $namespaces = [System.Collections.Generic.List[string]]::new()

        function Invoke-Ip {
            $output = & ip @args 2>&1
            if ($LASTEXITCODE -ne 0) { throw "ip $($args -join ' ') failed: $output" }
            $output
        }

        # A new namespace psswarm-adv-<tag><Suffix> with lo up; deleted in AfterAll.
        function New-TestNetns([string] $Suffix) {
            $name = "psswarm-adv-$tag$Suffix"
            Invoke-Ip netns add $name
            $namespaces.Add($name)
            Invoke-Ip -n $name link set lo up
            $name
        }

        # A veth interface in $Ns whose peer lives in the shared peer namespace; both up unless -Down.
        function Add-TestInterface([string] $Ns, [string] $Name, [string] $Peer, [string[]] $Address, [switch] $Down) {
            Invoke-Ip link add $Name netns $Ns type veth peer name $Peer netns $peerNs
            foreach ($a in $Address) {
                if ($a -like '*:*') { Invoke-Ip -n $Ns addr add $a dev $Name nodad }
                else { Invoke-Ip -n $Ns addr add $a dev $Name }
            }
            if (-not $Down) {
                Invoke-Ip -n $peerNs link set $Peer up
                Invoke-Ip -n $Ns link set $Name up
                # The kernel reports the operational state (carrier) a moment after "link set up".
                $null = Wait-Until -TimeoutSeconds 5 -Because "$Name in $Ns to be operationally up" -Condition {
                    "$(& ip -n $Ns -o link show dev $Name)" -match 'state UP'
                }
            }
        }

        function Assert-Inactive([object] $Node) {
            (Get-Swarm -Endpoint $Node.Endpoint).LocalNodeState | Should -Be 'Inactive'
            Join-Path $Node.DataRoot 'node.json' | Should -Not -Exist
        }

        $peerNs = New-TestNetns 'p'
    }

    AfterAll {
        # Daemons first (by PID), then the namespaces (deleting one end of a veth removes the pair).
        Remove-TestRoot $root
        foreach ($ns in $namespaces) { & ip netns del $ns 2>$null }
    }

    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when one interface has two IPv4 addresses' {
        BeforeAll {
            $ns = New-TestNetns 1
            Add-TestInterface -Ns $ns -Name psw0 -Peer p1a -Address '10.99.1.2/24', '10.99.1.3/24'
            $node = Start-TestNode -Root $root -Name a1 -NetNs $ns
        }

        It 'refuses to choose, lists both addresses and the interface, and asks for -AdvertiseAddress' {
            $err = Get-ErrorRecord { Initialize-Swarm -Endpoint $node.Endpoint }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmInvalidArgument*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
            $err.Exception.Message | Should -BeLike '*10.99.1.2*'
            $err.Exception.Message | Should -BeLike '*10.99.1.3*'
            $err.Exception.Message | Should -BeLike '*psw0*'
            $err.Exception.Message | Should -BeLike '*-AdvertiseAddress*'
            Assert-Inactive $node
        }

        It 'refuses -AdvertiseAddress psw0 because the interface has two addresses' {
            $err = Get-ErrorRecord { Initialize-Swarm -Endpoint $node.Endpoint -AdvertiseAddress psw0 }
            $err | Should -Not -BeNullOrEmpty
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
            $err.Exception.Message | Should -BeLike '*10.99.1.2*'
            $err.Exception.Message | Should -BeLike '*10.99.1.3*'
            Assert-Inactive $node
        }

        It 'accepts -AdvertiseAddress 10.99.1.3' {
            $info = Initialize-Swarm -Endpoint $node.Endpoint -AdvertiseAddress 10.99.1.3
            $info.NodeAddress | Should -Be '10.99.1.3'
            (Get-SwarmNode -Endpoint $node.Endpoint -Self).ManagerAddress | Should -Be '10.99.1.3:2377'
            Exit-Swarm -Endpoint $node.Endpoint -Force -Confirm:$false
        }
    }

    Context 'when two interfaces have one IPv4 address each' {
        BeforeAll {
            $ns = New-TestNetns 2
            Add-TestInterface -Ns $ns -Name psw0 -Peer p2a -Address '10.99.2.2/24'
            Add-TestInterface -Ns $ns -Name psw1 -Peer p2b -Address '10.99.3.2/24'
            $node = Start-TestNode -Root $root -Name a2 -NetNs $ns
        }

        It 'refuses to choose and lists both addresses with their interfaces' {
            $err = Get-ErrorRecord { Initialize-Swarm -Endpoint $node.Endpoint }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmInvalidArgument*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
            $err.Exception.Message | Should -BeLike '*10.99.2.2 on psw0*'
            $err.Exception.Message | Should -BeLike '*10.99.3.2 on psw1*'
            $err.Exception.Message | Should -BeLike '*-AdvertiseAddress*'
            Assert-Inactive $node
        }

        It 'resolves -AdvertiseAddress psw1 to that interface''s address' {
            $info = Initialize-Swarm -Endpoint $node.Endpoint -AdvertiseAddress psw1
            $info.NodeAddress | Should -Be '10.99.3.2'
            (Get-SwarmNode -Endpoint $node.Endpoint -Self).ManagerAddress | Should -Be '10.99.3.2:2377'
            Exit-Swarm -Endpoint $node.Endpoint -Force -Confirm:$false
        }
    }

    Context 'when exactly one interface has one IPv4 address (and its link-local IPv6 address)' {
        BeforeAll {
            $ns = New-TestNetns 3
            Add-TestInterface -Ns $ns -Name psw0 -Peer p3a -Address '10.99.4.2/24'
            $linkLocal = try {
                Wait-Until -TimeoutSeconds 5 -Because 'the fe80 address of psw0' -Condition {
                    "$(& ip -n $ns -6 addr show dev psw0 scope link)" -match 'fe80::'
                }
            }
            catch { $false }
            $node = Start-TestNode -Root $root -Name a3 -NetNs $ns
        }
        AfterEach {
            Reset-TestNode $node
        }

        It 'has the link-local IPv6 address (precondition)' {
            $linkLocal | Should -BeTrue
        }

        It 'advertises 10.99.4.2 with <Form>' -ForEach @(
            @{ Form = 'no -AdvertiseAddress or -ListenAddress'; Params = @{} }
            @{ Form = '-AdvertiseAddress psw0'; Params = @{ AdvertiseAddress = 'psw0' } }
            @{ Form = '-AdvertiseAddress 10.99.4.2'; Params = @{ AdvertiseAddress = '10.99.4.2' } }
        ) {
            $info = Initialize-Swarm -Endpoint $node.Endpoint @Params
            $info.NodeAddress | Should -Be '10.99.4.2'
            (Get-Swarm -Endpoint $node.Endpoint).NodeAddress | Should -Be '10.99.4.2'
            $self = Get-SwarmNode -Endpoint $node.Endpoint -Self
            $self.Address | Should -Be '10.99.4.2'
            $self.ManagerAddress | Should -Be '10.99.4.2:2377'
            (Get-SwarmJoinToken -Endpoint $node.Endpoint -Role Worker).RemoteAddress | Should -Contain '10.99.4.2:2377'
        }
    }

    Context 'when one interface has an IPv4 and a global IPv6 address' {
        BeforeAll {
            $ns = New-TestNetns 4
            Add-TestInterface -Ns $ns -Name psw0 -Peer p4a -Address '10.99.5.2/24', '2001:db8:99:5::2/64'
            $node = Start-TestNode -Root $root -Name a4 -NetNs $ns
        }

        It 'advertises the IPv4 address' {
            $info = Initialize-Swarm -Endpoint $node.Endpoint
            $info.NodeAddress | Should -Be '10.99.5.2'
            Exit-Swarm -Endpoint $node.Endpoint -Force -Confirm:$false
        }
    }

    Context 'when a second interface with an address is down' {
        BeforeAll {
            $ns = New-TestNetns 5
            Add-TestInterface -Ns $ns -Name psw0 -Peer p5a -Address '10.99.6.2/24'
            Add-TestInterface -Ns $ns -Name psw1 -Peer p5b -Address '10.99.7.2/24' -Down
            $node = Start-TestNode -Root $root -Name a5 -NetNs $ns
        }

        It 'ignores the down interface and advertises the address of the up one' {
            $info = Initialize-Swarm -Endpoint $node.Endpoint
            $info.NodeAddress | Should -Be '10.99.6.2'
            Exit-Swarm -Endpoint $node.Endpoint -Force -Confirm:$false
        }
    }

    Context 'when no interface but loopback is up' {
        BeforeAll {
            $ns = New-TestNetns 6
            Add-TestInterface -Ns $ns -Name psw0 -Peer p6a -Address '10.99.8.2/24' -Down
            $node = Start-TestNode -Root $root -Name a6 -NetNs $ns
        }

        It 'fails asking for -AdvertiseAddress and leaves the node Inactive' {
            $err = Get-ErrorRecord { Initialize-Swarm -Endpoint $node.Endpoint }
            $err | Should -Not -BeNullOrEmpty
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
            $err.Exception.Message | Should -BeLike '*-AdvertiseAddress*'
            $err.Exception.Message | Should -Not -BeLike '*10.99.8.2*'
            Assert-Inactive $node
        }

        It 'accepts loopback when given explicitly' {
            $info = Initialize-Swarm -Endpoint $node.Endpoint -AdvertiseAddress 127.0.0.1
            $info.NodeAddress | Should -Be '127.0.0.1'
            Exit-Swarm -Endpoint $node.Endpoint -Force -Confirm:$false
        }
    }
}
