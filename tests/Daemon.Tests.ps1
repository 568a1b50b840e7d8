#Requires -Version 7.4
# psswarmd and Start-/Stop-SwarmDaemon: process model, files and modes, signals, stale sockets,
# several daemons per host, dead endpoints. Loopback addresses: 127.0.10.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name daemon
    $daemonPath = Get-PSSwarmDaemonPath
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'Start-SwarmDaemon' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when a daemon is started with -PassThru' {
        BeforeAll {
            $dataRoot = Join-Path $root 'd1'
            $dataRootExistedBefore = Test-Path -LiteralPath $dataRoot
            $node = Start-TestNode -Root $root -Name d1 -Ip 127.0.10.1
            # No sleep: the cmdlet must return only when the endpoint answers.
            $firstAnswer = Get-Swarm -Endpoint $node.Endpoint -ErrorAction Stop
            $info = $node.Info
        }

        It 'returns a PSSwarm.SwarmDaemonInfo describing the daemon' {
            $info.PSTypeNames[0] | Should -Be 'PSSwarm.SwarmDaemonInfo'
            $info.ProcessId | Should -BeGreaterThan 0
            $info.Endpoint | Should -Be $node.Endpoint
            $info.DataRoot | Should -Be $dataRoot
            $info.NodeName | Should -Be 'd1'
            $info.LogPath | Should -Be (Join-Path $dataRoot 'psswarmd.log')
            $info.Version | Should -Not -BeNullOrEmpty
        }

        It 'returns only when the endpoint answers' {
            $firstAnswer | Should -Not -BeNullOrEmpty
            $firstAnswer.PSTypeNames[0] | Should -Be 'PSSwarm.SwarmInfo'
        }

        It 'reports the PID of psswarmd itself, not of a wrapper' {
            Test-ProcessAlive $info.ProcessId | Should -BeTrue
            $argv = Get-ProcessCommandLine $info.ProcessId
            Split-Path -Leaf $argv[0] | Should -Be 'psswarmd'
            $argv -join ' ' | Should -Match ([regex]::Escape("--data-root $dataRoot"))
        }

        It 'creates the missing data root with mode 0700' {
            $dataRootExistedBefore | Should -BeFalse
            Get-FileKind $dataRoot | Should -Be 'directory'
            Get-FileMode $dataRoot | Should -Be '700'
        }

        It 'creates the control socket with mode 0660' {
            Get-FileKind $node.SocketPath | Should -Be 'socket'
            Get-FileMode $node.SocketPath | Should -Be '660'
        }

        It 'writes its log to psswarmd.log in the data root' {
            $info.LogPath | Should -Exist
            (Get-Item -LiteralPath $info.LogPath).Length | Should -BeGreaterThan 0
        }

        It 'shows a fresh node as Inactive in Get-Swarm' {
            $swarm = Get-Swarm -Endpoint $node.Endpoint
            $swarm.LocalNodeState | Should -Be ([PSSwarm.LocalNodeState]::Inactive)
            $swarm.IsManager | Should -BeFalse
            $swarm.Id | Should -BeNullOrEmpty
            $swarm.JoinTokens | Should -BeNullOrEmpty
        }

        It 'creates no swarm state in a fresh data root' {
            Join-Path $dataRoot 'node.json' | Should -Not -Exist
            Join-Path $dataRoot 'certificates' | Should -Not -Exist
        }
    }

    Context 'when the endpoint is already served by a running daemon' {
        BeforeAll {
            $first = Start-TestNode -Root $root -Name d2 -Ip 127.0.10.2
            $null = Initialize-Swarm -Endpoint $first.Endpoint -ListenAddress $first.Listen -AdvertiseAddress $first.Ip
            $swarmId = (Get-Swarm -Endpoint $first.Endpoint).Id
        }

        It 'refuses a second Start-SwarmDaemon on that endpoint and keeps the first daemon running' {
            $unexpected = $null
            $threw = $false
            try { $unexpected = Start-SwarmDaemon -DataRoot (Join-Path $root 'd2b') -Endpoint $first.Endpoint -NodeName d2b -PassThru -ErrorAction Stop }
            catch { $threw = $true }
            if ($unexpected) { Register-TestProcess -Root $root -ProcessId $unexpected.ProcessId -Name d2b -DataRoot (Join-Path $root 'd2b') }
            $threw | Should -BeTrue -Because 'the endpoint is already served'
            Test-ProcessAlive $first.Pid | Should -BeTrue
            (Get-Swarm -Endpoint $first.Endpoint).Id | Should -Be $swarmId
        }

        It 'makes a second psswarmd on that endpoint exit with an error while the first keeps serving' {
            $out = Join-Path $root 'd2c.out'
            $err = Join-Path $root 'd2c.err'
            $second = Start-Process -FilePath $daemonPath -PassThru -RedirectStandardOutput $out -RedirectStandardError $err `
                -ArgumentList '--data-root', (Join-Path $root 'd2c'), '--host', $first.Endpoint, '--node-name', 'd2c'
            Register-TestProcess -Root $root -ProcessId $second.Id -Name d2c -DataRoot (Join-Path $root 'd2c')
            $second.WaitForExit(15000) | Should -BeTrue -Because 'the second daemon must give up, not hang'
            $second.ExitCode | Should -Not -Be 0
            # Start-Process copies the redirected output asynchronously: it may land after the exit.
            $said = Wait-Until -TimeoutSeconds 5 -Because 'its message to reach the redirected output' -Condition {
                "$(Get-Content -Raw $out -ErrorAction Ignore)$(Get-Content -Raw $err -ErrorAction Ignore)"
            }
            $said | Should -Match 'already listening' -Because 'it must say why it exits'
            # the live socket was not stolen or removed
            Get-FileKind $first.SocketPath | Should -Be 'socket'
            Test-ProcessAlive $first.Pid | Should -BeTrue
            (Get-Swarm -Endpoint $first.Endpoint).Id | Should -Be $swarmId
        }
    }

    Context 'when several daemons run on one host' {
        BeforeAll {
            $nodes = @(
                Start-TestNode -Root $root -Name d3 -Ip 127.0.10.3
                Start-TestNode -Root $root -Name d4 -Ip 127.0.10.4
                Start-TestNode -Root $root -Name d5 -Ip 127.0.10.5
            )
            $swarms = foreach ($n in $nodes[0..1]) {
                Initialize-Swarm -Endpoint $n.Endpoint -ListenAddress $n.Listen -AdvertiseAddress $n.Ip
            }
        }

        It 'runs each as its own process' {
            @($nodes.Pid | Sort-Object -Unique).Count | Should -Be 3
            foreach ($n in $nodes) { Test-ProcessAlive $n.Pid | Should -BeTrue }
        }

        It 'lets each daemon hold its own swarm on its own listen address' {
            $swarms[0].Id | Should -Not -Be $swarms[1].Id
            (Get-Swarm -Endpoint $nodes[0].Endpoint).NodeAddress | Should -Be '127.0.10.3'
            (Get-Swarm -Endpoint $nodes[1].Endpoint).NodeAddress | Should -Be '127.0.10.4'
            Test-TcpPort -Address 127.0.10.3 | Should -BeTrue
            Test-TcpPort -Address 127.0.10.4 | Should -BeTrue
            (Get-Swarm -Endpoint $nodes[2].Endpoint).LocalNodeState | Should -Be 'Inactive'
        }
    }

    Context 'when $env:PSSWARM_HOST selects the daemon' {
        BeforeAll {
            $envNode = Start-TestNode -Root $root -Name d6 -Ip 127.0.10.6
        }
        BeforeEach { $savedHost = $env:PSSWARM_HOST }
        AfterEach { $env:PSSWARM_HOST = $savedHost }

        It 'is used when -Endpoint is not given' {
            $env:PSSWARM_HOST = $envNode.Endpoint
            $null = Initialize-Swarm -ListenAddress $envNode.Listen -AdvertiseAddress $envNode.Ip
            (Get-Swarm).NodeAddress | Should -Be '127.0.10.6'
            (Get-Swarm -Endpoint $envNode.Endpoint).LocalNodeState | Should -Be 'Active'
        }

        It 'is overridden by -Endpoint' {
            $env:PSSWARM_HOST = "unix://$root/nobody-here.sock"
            (Get-Swarm -Endpoint $envNode.Endpoint).NodeAddress | Should -Be '127.0.10.6'
        }

        It 'names the endpoint from the environment when that daemon is not running' {
            $env:PSSWARM_HOST = "unix://$root/nobody-here.sock"
            $err = Get-ErrorRecord { Get-Swarm }
            $err | Should -Not -BeNullOrEmpty
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ConnectionError)
            $err.Exception.Message | Should -BeLike "*unix://$root/nobody-here.sock*"
        }
    }
}

Describe 'Stop-SwarmDaemon' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when the daemon is running' {
        BeforeAll {
            $node = Start-TestNode -Root $root -Name s1 -Ip 127.0.10.11
            $null = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip
            $sw = [System.Diagnostics.Stopwatch]::StartNew()
            $stopped = Stop-SwarmDaemon -Endpoint $node.Endpoint -PassThru
            $exited = Wait-ProcessExit -ProcessId $node.Pid -TimeoutMilliseconds 5000
            $elapsed = $sw.ElapsedMilliseconds
        }

        It 'ends the daemon process within 5 seconds' {
            $exited | Should -BeTrue
            $elapsed | Should -BeLessThan 5000
        }

        It 'removes the socket file' {
            $node.SocketPath | Should -Not -Exist
        }

        It 'releases the listen address' {
            Test-TcpPort -Address 127.0.10.11 | Should -BeFalse
        }

        It 'returns the stopped daemon with -PassThru' {
            $stopped | Should -Not -BeNullOrEmpty
            $stopped.ProcessId | Should -Be $node.Pid
            $stopped.Endpoint | Should -Be $node.Endpoint
        }

        It 'leaves the endpoint unreachable afterwards' {
            $err = Get-ErrorRecord { Get-Swarm -Endpoint $node.Endpoint }
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmDaemonUnreachable*'
        }
    }

    Context 'when no daemon runs at the endpoint' {
        It 'fails with ConnectionError naming the endpoint' {
            $endpoint = "unix://$root/never-started.sock"
            $err = Get-ErrorRecord { Stop-SwarmDaemon -Endpoint $endpoint }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmDaemonUnreachable*'
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ConnectionError)
            $err.Exception.Message | Should -BeLike "*$endpoint*"
        }
    }
}

Describe 'psswarmd' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when it receives SIGTERM' {
        BeforeAll {
            $node = Start-TestNode -Root $root -Name t1 -Ip 127.0.10.21
            $null = Initialize-Swarm -Endpoint $node.Endpoint -ListenAddress $node.Listen -AdvertiseAddress $node.Ip
            $sw = [System.Diagnostics.Stopwatch]::StartNew()
            & kill -TERM $node.Pid
            $exited = Wait-ProcessExit -ProcessId $node.Pid -TimeoutMilliseconds 5000
            $elapsed = $sw.ElapsedMilliseconds
        }

        It 'exits within 5 seconds' {
            $exited | Should -BeTrue
            $elapsed | Should -BeLessThan 5000
        }

        It 'removes its socket and releases the listen address' {
            $node.SocketPath | Should -Not -Exist
            Test-TcpPort -Address 127.0.10.21 | Should -BeFalse
        }
    }

    Context 'when it is run directly in the foreground' {
        BeforeAll {
            $dataRoot = Join-Path $root 'f1'
            $endpoint = "unix://$root/f1.sock"
            $psi = [System.Diagnostics.ProcessStartInfo]::new($daemonPath)
            foreach ($a in '--data-root', $dataRoot, '--host', $endpoint, '--node-name', 'f1') { $psi.ArgumentList.Add($a) }
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $psi.UseShellExecute = $false
            $process = [System.Diagnostics.Process]::Start($psi)
            Register-TestProcess -Root $root -ProcessId $process.Id -Name f1 -Endpoint $endpoint -DataRoot $dataRoot
            $stdout = $process.StandardOutput.ReadToEndAsync()
            $stderr = $process.StandardError.ReadToEndAsync()
            $answered = Wait-Until -TimeoutSeconds 20 -Because "psswarmd to answer on $endpoint" -Condition {
                if ($process.HasExited) { throw "psswarmd exited with $($process.ExitCode)" }
                Get-Swarm -Endpoint $endpoint -ErrorAction Stop
            }
        }
        AfterAll {
            if ($process -and -not $process.HasExited) { $process.Kill() }
        }

        It 'serves the endpoint from the process that was started (no fork)' {
            $answered.LocalNodeState | Should -Be 'Inactive'
            $process.HasExited | Should -BeFalse
            Split-Path -Leaf (Get-ProcessCommandLine $process.Id)[0] | Should -Be 'psswarmd'
            Get-FileMode $dataRoot | Should -Be '700'
        }

        It 'runs a swarm' {
            $info = Initialize-Swarm -Endpoint $endpoint -ListenAddress 127.0.10.22:2377 -AdvertiseAddress 127.0.10.22
            $info.LocalNodeState | Should -Be 'Active'
        }

        It 'exits with code 0 on SIGTERM within 5 seconds, with its swarm active, and logs to stdout/stderr' {
            & kill -TERM $process.Id
            $process.WaitForExit(5000) | Should -BeTrue
            $process.ExitCode | Should -Be 0
            $null = $stdout.Wait(2000); $null = $stderr.Wait(2000)
            "$($stdout.Result)$($stderr.Result)" | Should -Not -BeNullOrEmpty
            "$($stdout.Result)$($stderr.Result)" | Should -Not -Match 'Unhandled exception'
        }
    }

    Context 'when a killed daemon left its socket file behind' {
        BeforeAll {
            $old = Start-TestNode -Root $root -Name k1 -Ip 127.0.10.31
            & kill -9 $old.Pid
            $killed = Wait-ProcessExit -ProcessId $old.Pid -TimeoutMilliseconds 5000
            $staleKind = Get-FileKind $old.SocketPath
        }

        It 'leaves a stale socket file (precondition)' {
            $killed | Should -BeTrue
            $staleKind | Should -Be 'socket'
        }

        It 'fails fast against the stale socket with ConnectionError' {
            $sw = [System.Diagnostics.Stopwatch]::StartNew()
            $err = Get-ErrorRecord { Get-Swarm -Endpoint $old.Endpoint }
            $sw.ElapsedMilliseconds | Should -BeLessThan 5000
            $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ConnectionError)
            $err.Exception.Message | Should -BeLike "*$($old.Endpoint)*"
        }

        It 'replaces the stale socket on restart' {
            $new = Start-TestNode -Root $root -Name k1 -Ip 127.0.10.31
            $new.Pid | Should -Not -Be $old.Pid
            Get-FileKind $new.SocketPath | Should -Be 'socket'
            Get-FileMode $new.SocketPath | Should -Be '660'
            (Get-Swarm -Endpoint $new.Endpoint).LocalNodeState | Should -Be 'Inactive'
        }
    }

    Context 'when asked for help or given an unknown option' {
        It 'prints usage and exits 0 with --help' {
            $output = & $daemonPath --help 2>&1
            $LASTEXITCODE | Should -Be 0
            ($output -join "`n") | Should -Match '--data-root'
            ($output -join "`n") | Should -Match '--host'
            ($output -join "`n") | Should -Match '--node-name'
        }

        It 'exits non-zero naming the bad option with --bogus' {
            $output = & $daemonPath --bogus 2>&1
            $LASTEXITCODE | Should -Not -Be 0
            ($output -join "`n") | Should -Match 'bogus'
        }
    }
}

Describe 'Cmdlets against a dead endpoint' {
    BeforeAll {
        $dead = "unix://$root/dead.sock"
    }

    It '<Name> fails with ConnectionError naming the endpoint within 5 seconds' -ForEach @(
        @{ Name = 'Get-Swarm'; Call = { Get-Swarm -Endpoint $dead } }
        @{ Name = 'Initialize-Swarm'; Call = { Initialize-Swarm -Endpoint $dead -ListenAddress 127.0.10.41:2377 -AdvertiseAddress 127.0.10.41 } }
        @{ Name = 'Get-SwarmNode'; Call = { Get-SwarmNode -Endpoint $dead } }
        @{ Name = 'Get-SwarmJoinToken'; Call = { Get-SwarmJoinToken -Endpoint $dead -Role Worker } }
        @{ Name = 'Update-SwarmJoinToken'; Call = { Update-SwarmJoinToken -Endpoint $dead -Role Worker } }
        @{ Name = 'Get-SwarmNetwork'; Call = { Get-SwarmNetwork -Endpoint $dead } }
        @{ Name = 'Exit-Swarm'; Call = { Exit-Swarm -Endpoint $dead -Force -Confirm:$false } }
    ) {
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $err = Get-ErrorRecord $Call
        $sw.ElapsedMilliseconds | Should -BeLessThan 5000
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'SwarmDaemonUnreachable*'
        $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ConnectionError)
        $err.Exception.Message | Should -BeLike "*$dead*"
    }
}
