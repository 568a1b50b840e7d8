#Requires -Version 7.4
# Joining across two network namespaces connected by a veth pair, so that address detection sees
# a real, non-loopback interface: Initialize-Swarm and Join-Swarm without addresses, and a manager
# join that names its interface in -AdvertiseAddress.
# Needs root and `ip netns`; otherwise the whole file is skipped with the reason.
# Addresses: 10.99.<random>.1 (namespace a) and 10.99.<random>.2 (namespace b), inside the namespaces only.

BeforeDiscovery {
    $SkipReason = $null
    if ($IsWindows -or $IsMacOS) { $SkipReason = 'network namespaces need Linux' }
    elseif ((& id -u) -ne '0') { $SkipReason = 'network namespaces need root' }
    elseif (-not (Get-Command ip -CommandType Application -ErrorAction Ignore)) { $SkipReason = 'the ip command (iproute2) is missing' }
    elseif (-not (Get-Command nsenter -CommandType Application -ErrorAction Ignore)) { $SkipReason = 'the nsenter command (util-linux) is missing' }
    else {
        # Probe: can this host create (and delete) a network namespace?
        $probe = "psswarm-jn-probe-$(Get-Random -Minimum 100000 -Maximum 999999)"
        $out = & ip netns add $probe 2>&1
        if ($LASTEXITCODE -ne 0) { $SkipReason = "ip netns add failed: $out" }
        else { & ip netns del $probe 2>&1 | Out-Null }
    }
    if ($SkipReason) { Write-Warning "JoinNamespaces.Tests.ps1 is skipped: $SkipReason" }
}

Describe "Join-Swarm across network namespaces$(if ($SkipReason) { " (skipped: $SkipReason)" })" -Skip:([bool]$SkipReason) {
    BeforeAll {
        Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
        Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
        Import-PSSwarmUnderTest

        # Runs ip with the given arguments; throws with its output when it fails.
        function Invoke-Ip {
            $out = & ip @args 2>&1
            if ($LASTEXITCODE -ne 0) { throw "ip $($args -join ' ') failed: $out" }
        }

        $tag = -join ((1..5) | ForEach-Object { [char](Get-Random -InputObject (97..122)) })
        $octet = Get-Random -Minimum 1 -Maximum 255
        $nsA = "psswarm-jn-$tag-a"
        $nsB = "psswarm-jn-$tag-b"
        $ifA = "vjn$tag" + 'a'
        $ifB = "vjn$tag" + 'b'
        $ipA = "10.99.$octet.1"
        $ipB = "10.99.$octet.2"
        $createdNamespaces = [System.Collections.Generic.List[string]]::new()
        $root = New-TestRoot -Name netns

        foreach ($ns in $nsA, $nsB) { Invoke-Ip netns add $ns; $createdNamespaces.Add($ns) }
        Invoke-Ip link add $ifA netns $nsA type veth peer name $ifB netns $nsB
        Invoke-Ip -n $nsA addr add "$ipA/24" dev $ifA
        Invoke-Ip -n $nsB addr add "$ipB/24" dev $ifB
        foreach ($pair in @(@($nsA, $ifA), @($nsB, $ifB))) {
            Invoke-Ip -n $pair[0] link set lo up
            Invoke-Ip -n $pair[0] link set $pair[1] up
        }

        # psswarmd inside each namespace (nsenter --net=/run/netns/<ns> <daemon> ...), by PID.
        $a = Start-TestNode -Root $root -Name a -NetNs $nsA
        $b = Start-TestNode -Root $root -Name b -NetNs $nsB
        $c = Start-TestNode -Root $root -Name c -NetNs $nsB   # a second node in b's namespace, for the manager join
    }

    AfterAll {
        # Daemons first (by PID, through the registry), then the namespaces (which takes the veth pair along).
        Remove-TestRoot $root
        foreach ($ns in @($createdNamespaces)) {
            & ip netns del $ns 2>&1 | Out-Null
            if ($LASTEXITCODE -ne 0) { Write-Warning "Could not delete network namespace $ns" }
        }
    }

    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'runs each daemon inside its namespace, as the process that was started' {
        foreach ($node in $a, $b, $c) {
            Test-ProcessAlive $node.Pid | Should -BeTrue
            (Get-ProcessCommandLine $node.Pid)[0] | Should -BeLike '*psswarmd' -Because 'nsenter execs the daemon, so the PID is the daemon'
        }
        & readlink "/proc/$($a.Pid)/ns/net" | Should -Not -Be (& readlink "/proc/$($b.Pid)/ns/net")
        & readlink "/proc/$($a.Pid)/ns/net" | Should -Not -Be (& readlink /proc/self/ns/net)
    }

    Context 'when the swarm is initialised in namespace a without -AdvertiseAddress or -ListenAddress' {
        BeforeAll {
            $swarm = Initialize-Swarm -Endpoint $a.Endpoint -DispatcherHeartbeat '00:00:01'
        }

        It 'detects the veth address 10.99.x.1 as the node address' {
            $swarm.LocalNodeState | Should -Be 'Active'
            $swarm.NodeAddress | Should -Be $ipA
        }

        It 'advertises 10.99.x.1:2377 as the manager address' {
            $self = Get-SwarmNode -Endpoint $a.Endpoint -Self
            $self.Address | Should -Be $ipA
            $self.ManagerAddress | Should -Be "${ipA}:2377"
            (Get-SwarmJoinToken -Role Worker -Endpoint $a.Endpoint).RemoteAddress | Should -Contain "${ipA}:2377"
        }
    }

    Context 'when a worker in namespace b joins without -AdvertiseAddress' {
        BeforeAll {
            $joined = @(Get-SwarmJoinToken -Role Worker -Endpoint $a.Endpoint | Join-Swarm -Endpoint $b.Endpoint)
        }

        It 'outputs a Ready worker with the address 10.99.x.2' {
            $joined.Count | Should -Be 1
            $joined[0].Role | Should -Be 'Worker'
            $joined[0].Status | Should -Be 'Ready'
            $joined[0].Address | Should -Be $ipB
        }

        It 'is listed Ready on the manager with the address 10.99.x.2' {
            $view = Wait-NodeView -Manager $a -Id b -TimeoutSeconds 5 -Condition { param($n) "$($n.Status)" -eq 'Ready' }
            $view.Role | Should -Be 'Worker'
            $view.Address | Should -Be $ipB
        }

        It 'reports 10.99.x.2 as its own node address' {
            $info = Get-Swarm -Endpoint $b.Endpoint
            $info.LocalNodeState | Should -Be 'Active'
            $info.NodeAddress | Should -Be $ipB
        }

        It 'stays Ready over several heartbeat periods' {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            while ($clock.Elapsed.TotalSeconds -lt 3.5) {
                (Get-SwarmNode -Endpoint $a.Endpoint -Id b).Status | Should -Be 'Ready'
                Start-Sleep -Milliseconds 250
            }
        }
    }

    Context 'when a manager in namespace b joins with -AdvertiseAddress set to the name of its interface' {
        BeforeAll {
            $joined = @(Get-SwarmJoinToken -Role Manager -Endpoint $a.Endpoint | Join-Swarm -Endpoint $c.Endpoint -AdvertiseAddress $ifB)
        }

        It 'outputs a manager whose ManagerAddress is the interface''s address' {
            $joined.Count | Should -Be 1
            $joined[0].Role | Should -Be 'Manager'
            $joined[0].ManagerAddress | Should -Be "${ipB}:2377"
            $joined[0].Address | Should -Be $ipB
        }

        It 'is listed on the first manager as a Reachable manager at 10.99.x.2:2377' {
            $view = Wait-NodeView -Manager $a -Id c -TimeoutSeconds 10 -Because 'the new manager to be reachable' -Condition {
                param($n) "$($n.Reachability)" -eq 'Reachable'
            }
            $view.Role | Should -Be 'Manager'
            $view.ManagerAddress | Should -Be "${ipB}:2377"
            $view.IsLeader | Should -BeFalse
        }

        It 'answers Get-SwarmNode itself, naming a as the leader' {
            $nodes = @(Get-SwarmNode -Endpoint $c.Endpoint)
            @($nodes.Hostname | Sort-Object) | Should -Be @('a', 'b', 'c')
            @($nodes | Where-Object IsLeader).Hostname | Should -Be 'a'
            (Get-Swarm -Endpoint $c.Endpoint).IsManager | Should -BeTrue
        }

        It 'hands out join tokens that name its own address' {
            (Get-SwarmJoinToken -Role Worker -Endpoint $c.Endpoint).RemoteAddress | Should -Contain "${ipB}:2377"
        }
    }
}
