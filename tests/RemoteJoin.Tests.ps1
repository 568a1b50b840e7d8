#Requires -Version 7.4
# The remote join users are promised, for real: hosts h1, h2, h3 are network namespaces, each with
# its own sshd and psswarmd (tools/testhost/TestHost.psm1); this process opens PowerShell remoting
# sessions over SSH into them (New-PSSession -HostName) and joins them to a manager's swarm with
#   Get-SwarmJoinToken -Role Worker | ForEach-Object { Invoke-Command -Session $s { $using:_ | Join-Swarm } }
# then fans Invoke-Command out to several hosts at once. Prints "Remote join timings:".
# The manager runs in its own namespace (10.99.77.10); the cmdlets here talk to it over its control
# socket. The SSH connections go through a ProxyCommand that enters the lab's controller namespace
# (10.99.77.254) and connects by TCP across the bridge to each host's sshd.
# Needs Linux, root, iproute2, util-linux and the OpenSSH server: when sshd is missing, BeforeAll
# fails naming tools/testhost/Install-Prerequisites.sh (it is not skipped). PSSWARM_REMOTE_TESTS=0 skips the file.
# Namespaces psw-ssh-<random>-*; addresses 10.99.77.1-3, .10, .254, inside them only.

BeforeDiscovery {
    $SkipReason = $null
    if ($env:PSSWARM_REMOTE_TESTS -eq '0') { $SkipReason = 'PSSWARM_REMOTE_TESTS=0' }
    elseif (-not $IsLinux) { $SkipReason = 'network namespaces need Linux' }
    elseif ((& id -u) -ne '0') { $SkipReason = 'network namespaces and sshd need root' }
    if ($SkipReason) { Write-Warning "RemoteJoin.Tests.ps1 is skipped: $SkipReason" }
}

Describe "Joining hosts through PowerShell remoting over SSH$(if ($SkipReason) { " (skipped: $SkipReason)" })" -Skip:([bool]$SkipReason) {
    BeforeAll {
        Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
        Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
        Import-Module $PSScriptRoot/../tools/testhost/TestHost.psm1 -Force
        $module = Import-PSSwarmUnderTest | Select-Object -First 1
        $modulePath = Join-Path $module.ModuleBase 'PSSwarm.psd1'

        # Not a skip: a machine that should run this file but lacks sshd fails here, naming the fix.
        $missing = Test-SwarmTestHostPrerequisite
        if ($missing) { throw "RemoteJoin.Tests.ps1 cannot run: $missing" }

        $timings = [ordered]@{}
        $sessions = [Collections.Generic.List[object]]::new()
        $savedHost = $env:PSSWARM_HOST
        $root = New-TestRoot -Name rj
        $lab = New-SwarmTestLab -ModulePath $modulePath -Parent $root
        $mgr = New-SwarmTestHost -Lab $lab -Name mgr -Number 10 -NoSsh
        $hosts = [ordered]@{}
        foreach ($n in 1..3) { $hosts["h$n"] = New-SwarmTestHost -Lab $lab -Name "h$n" -Number $n }
        $null = Initialize-Swarm -Endpoint $mgr.Endpoint -ListenAddress $mgr.Listen -AdvertiseAddress $mgr.Ip -DispatcherHeartbeat '00:00:01' -InformationAction Ignore -ErrorAction Stop
        # The promised pipeline names no endpoint: this process's daemon is the manager.
        $env:PSSWARM_HOST = $mgr.Endpoint

        $sshOptions = Get-SwarmTestSshOption $lab
        # New-PSSession -HostName <ip> -UserName root -KeyFilePath <key> -Options <ProxyCommand, pinned host keys>
        function New-HostSession([string[]] $Ip) {
            $session = New-PSSession -HostName $Ip -UserName root -KeyFilePath $lab.ClientKey -Options $sshOptions -ConnectingTimeout 30000 -ErrorAction Stop
            foreach ($s in $session) { $sessions.Add($s) }
            # New-PSSession opens the connections in parallel and returns them as they complete: in $Ip's order here.
            foreach ($address in $Ip) { $session | Where-Object ComputerName -EQ $address }
        }
        function Write-LabLogOnFailure {
            if (Test-CurrentTestFailed) { foreach ($h in @($mgr) + @($hosts.Values)) { Get-SwarmTestHostLog $h -Tail 15 | Write-Host } }
        }
        # Waits until the manager lists a node with this hostname Ready (the newest such node); returns it.
        function Wait-ReadyOnManager([string] $Hostname, [double] $TimeoutSeconds = 20) {
            Wait-Until -TimeoutSeconds $TimeoutSeconds -IntervalMilliseconds 50 -Because "$Hostname to be Ready on the manager" -Condition {
                @(Get-SwarmNode -Endpoint $mgr.Endpoint -ErrorAction Stop) |
                    Where-Object { $_.Hostname -eq $Hostname -and "$($_.Status)" -eq 'Ready' } | Select-Object -First 1
            }
        }
        # Makes the hosts leave (Exit-Swarm through their sessions, at once) and removes them on the manager.
        function Reset-RemoteWorker([object[]] $Session, [string[]] $Hostname) {
            Invoke-Command -Session $Session { Exit-Swarm -Confirm:$false } -ErrorAction Stop
            foreach ($name in $Hostname) {
                $null = Wait-Until -TimeoutSeconds 20 -Because "$name to be Down on the manager" -Condition {
                    -not @(Get-SwarmNode -Endpoint $mgr.Endpoint -ErrorAction Stop | Where-Object { $_.Hostname -eq $name -and "$($_.Status)" -ne 'Down' })
                }
                Get-SwarmNode -Endpoint $mgr.Endpoint -ErrorAction Stop | Where-Object Hostname -EQ $name |
                    ForEach-Object { Remove-SwarmNode -Endpoint $mgr.Endpoint -Id $_.Id -Confirm:$false -ErrorAction Stop }
            }
        }
    }

    AfterAll {
        if ($timings.Count) {
            Write-Host 'Remote join timings:'
            foreach ($entry in $timings.GetEnumerator()) { Write-Host ('  {0,-58} {1,8:N0} ms' -f $entry.Key, $entry.Value) }
        }
        if ($sessions) { $sessions | Remove-PSSession -ErrorAction SilentlyContinue }
        $env:PSSWARM_HOST = $savedHost
        if ($lab) { Remove-SwarmTestLab $lab }
        Remove-TestRoot $root
    }

    AfterEach { Write-LabLogOnFailure }

    Context 'a session into h1' {
        BeforeAll {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $s1 = New-HostSession $hosts.h1.Ip
            $timings['New-PSSession (one host)'] = $clock.Elapsed.TotalMilliseconds
        }

        It 'is an open SSH session whose connection came across the bridge from the controller' {
            $s1.State | Should -Be 'Opened'
            $s1.Transport | Should -Be 'SSH'
            $s1.ComputerName | Should -Be $hosts.h1.Ip
            $log = Get-Content -LiteralPath $hosts.h1.SshdLog -Raw
            $log | Should -Match ([regex]::Escape("Accepted publickey for root from $($lab.ControllerIp) port ")) -Because 'sshd on 10.99.77.1 accepted the TCP connection of the relay in the controller namespace'
            $log | Should -Match "Starting session: subsystem 'powershell' for root"
        }

        It 'runs in h1''s namespace, imports the module under test and sees h1''s own daemon' {
            $remote = Invoke-Command -Session $s1 {
                $info = Get-Swarm
                [pscustomobject]@{
                    ModulePath     = (Get-Module PSSwarm).Path
                    SwarmHost      = $env:PSSWARM_HOST
                    LocalNodeState = "$($info.LocalNodeState)"
                    NodeName       = $info.NodeName
                    NetNs          = "$(& readlink /proc/self/ns/net)"
                    Addresses      = @([System.Net.NetworkInformation.NetworkInterface]::GetAllNetworkInterfaces() |
                            ForEach-Object { $_.GetIPProperties().UnicastAddresses } | ForEach-Object { $_.Address.ToString() })
                }
            }
            $remote.LocalNodeState | Should -Be 'Inactive'
            $remote.NodeName | Should -Be 'h1'
            $remote.SwarmHost | Should -Be $hosts.h1.Endpoint
            $remote.ModulePath | Should -Be (Get-Module PSSwarm).Path
            $remote.Addresses | Should -Contain $hosts.h1.Ip
            $remote.Addresses | Should -Not -Contain $mgr.Ip
            $remote.NetNs | Should -Be "$(& readlink "/proc/$($hosts.h1.DaemonPid)/ns/net")"
            $remote.NetNs | Should -Not -Be "$(& readlink /proc/self/ns/net)"
        }

        It 'joins h1 with Get-SwarmJoinToken -Role Worker | ForEach-Object { Invoke-Command -Session $s { $using:_ | Join-Swarm } }' {
            $s = $s1
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $joined = @(Get-SwarmJoinToken -Role Worker | ForEach-Object { Invoke-Command -Session $s { $using:_ | Join-Swarm } })
            $timings['join h1 (session open, Join-Swarm returned)'] = $clock.Elapsed.TotalMilliseconds
            $view = Wait-ReadyOnManager h1
            $timings['join h1 (session open, Ready on the manager)'] = $clock.Elapsed.TotalMilliseconds

            $joined.Count | Should -Be 1
            $joined[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.PSSwarm.SwarmNode'
            $joined[0].PSComputerName | Should -Be $hosts.h1.Ip
            "$($joined[0].Status)" | Should -Be 'Ready'
            "$($joined[0].Role)" | Should -Be 'Worker'
            $joined[0].Hostname | Should -Be 'h1'
            $joined[0].Address | Should -Be $hosts.h1.Ip -Because 'Join-Swarm detected the address of h1''s eth0'
            $view.Id | Should -Be $joined[0].Id
            $view.Address | Should -Be $hosts.h1.Ip
            "$($view.Role)" | Should -Be 'Worker'
            (Invoke-Command -Session $s1 { "$((Get-Swarm).LocalNodeState)" }) | Should -Be 'Active'
        }
    }

    Context 'sessions into h2 and h3' {
        BeforeAll {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $s2, $s3 = New-HostSession $hosts.h2.Ip, $hosts.h3.Ip
            $timings['New-PSSession -HostName h2,h3'] = $clock.Elapsed.TotalMilliseconds
            $InvalidJoinToken = 'A valid join token is necessary to join this cluster'
        }

        It 'brings back the remote error of a wrong token with Docker''s message and category' {
            $real = Get-SwarmJoinToken -Role Worker
            $bad = "SWMTKN-1-$((Split-JoinToken $real.Token).Digest)-$(New-RandomBase36 -Bytes 16 -Width 25)"
            # As a user sees it by default: a non-terminating error record that names the remote host.
            $out = Invoke-Command -Session $s2 { Join-Swarm -Token $using:bad -RemoteAddress $using:real.RemoteAddress } -ErrorAction SilentlyContinue -ErrorVariable remoteErrors
            $out | Should -BeNullOrEmpty
            $remoteErrors.Count | Should -Be 1
            $err = $remoteErrors[0]
            $err | Should -BeOfType ([System.Management.Automation.Runspaces.RemotingErrorRecord])
            $err.OriginInfo.PSComputerName | Should -Be $hosts.h2.Ip
            $err.Exception | Should -BeOfType ([System.Management.Automation.RemoteException])
            $err.Exception.Message | Should -Be $InvalidJoinToken
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::AuthenticationError) -Because (Get-ErrorSummary $err)
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmInvalidJoinToken*' -Because (Get-ErrorSummary $err)
            "$err" | Should -Not -Match ([regex]::Escape((Split-JoinToken $bad).Secret)) -Because 'the secret is not echoed back'
            # With -ErrorAction Stop the same error is thrown here, and a script can catch it.
            $thrown = Get-ErrorRecord { Invoke-Command -Session $s2 { Join-Swarm -Token $using:bad -RemoteAddress $using:real.RemoteAddress } -ErrorAction Stop }
            $thrown.Exception.Message | Should -Be $InvalidJoinToken
            $thrown.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::AuthenticationError) -Because (Get-ErrorSummary $thrown)
            $thrown.FullyQualifiedErrorId | Should -BeLike 'SwarmInvalidJoinToken*' -Because (Get-ErrorSummary $thrown)
            (Invoke-Command -Session $s2 { "$((Get-Swarm).LocalNodeState)" }) | Should -Be 'Inactive'
        }

        It 'joins h2 and h3 at once with Invoke-Command -Session $s2, $s3' {
            $token = Get-SwarmJoinToken -Role Worker
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $joined = @(Invoke-Command -Session $s2, $s3 { $using:token | Join-Swarm })
            $timings['fan-out h2,h3 (sessions open, Join-Swarm returned)'] = $clock.Elapsed.TotalMilliseconds
            $views = foreach ($name in 'h2', 'h3') { Wait-ReadyOnManager $name }
            $timings['fan-out h2,h3 (sessions open, both Ready)'] = $clock.Elapsed.TotalMilliseconds

            $joined.Count | Should -Be 2
            @($joined.PSComputerName | Sort-Object) | Should -Be @($hosts.h2.Ip, $hosts.h3.Ip)
            foreach ($node in $joined) {
                $node.PSObject.TypeNames[0] | Should -Be 'Deserialized.PSSwarm.SwarmNode'
                "$($node.Status)" | Should -Be 'Ready'
                $node.Address | Should -Be $node.PSComputerName
            }
            @($views | ForEach-Object Address | Sort-Object) | Should -Be @($hosts.h2.Ip, $hosts.h3.Ip)
            @(Get-SwarmNode -Role Worker | Where-Object { "$($_.Status)" -eq 'Ready' } | ForEach-Object Hostname | Sort-Object) | Should -Be @('h1', 'h2', 'h3')
        }
    }

    Context 'three hosts at once, timed' {
        BeforeAll {
            $names = @($hosts.Keys)
            $ips = @($hosts.Values.Ip)
            # Everyone leaves and is removed, the sessions are closed: the next join starts from nothing.
            Reset-RemoteWorker -Session @($sessions) -Hostname $names
            $sessions | Remove-PSSession
            $sessions.Clear()
        }

        It 'creates three sessions and joins the three hosts with one Invoke-Command' {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $all = @(New-HostSession $ips)
            $timings['3 hosts: New-PSSession -HostName h1,h2,h3'] = $clock.Elapsed.TotalMilliseconds
            $token = Get-SwarmJoinToken -Role Worker
            $joined = @(Invoke-Command -Session $all { $using:token | Join-Swarm })
            $timings['3 hosts: sessions + Join-Swarm returned'] = $clock.Elapsed.TotalMilliseconds
            foreach ($name in $names) { $null = Wait-ReadyOnManager $name }
            $timings['3 hosts: sessions + join, all Ready (from nothing)'] = $clock.Elapsed.TotalMilliseconds

            $all.Count | Should -Be 3
            @($joined.PSComputerName | Sort-Object) | Should -Be $ips
            @($joined | Where-Object { "$($_.Status)" -eq 'Ready' }).Count | Should -Be 3
        }

        It 'joins the three hosts again through the open sessions' {
            $all = @($sessions)
            Reset-RemoteWorker -Session $all -Hostname $names
            $token = Get-SwarmJoinToken -Role Worker
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $joined = @(Invoke-Command -Session $all { $using:token | Join-Swarm })
            $timings['3 hosts: sessions open, Join-Swarm returned'] = $clock.Elapsed.TotalMilliseconds
            foreach ($name in $names) { $null = Wait-ReadyOnManager $name }
            $timings['3 hosts: sessions open, all Ready'] = $clock.Elapsed.TotalMilliseconds

            @($joined.PSComputerName | Sort-Object) | Should -Be $ips
            @(Get-SwarmNode -Role Worker | Where-Object { "$($_.Status)" -eq 'Ready' } | ForEach-Object Address | Sort-Object) | Should -Be $ips
        }
    }
}
