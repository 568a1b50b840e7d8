#Requires -Version 7.4
# psswarmd as a systemd service: the unit Install-SwarmDaemon writes (contents, mode, systemd-analyze
# verify), -WhatIf, -Force, Uninstall-SwarmDaemon; the systemctl calls against a stand-in systemctl that
# runs the unit's real ExecStart; and psswarmd's notify readiness (READY=1, STOPPING=1, WATCHDOG=1) on a
# Unix datagram socket the test binds, as systemd's NOTIFY_SOCKET. Loopback addresses: 127.0.53.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    $null = Import-PSSwarmUnderTest
    $root = New-TestRoot -Name svc
    $daemonPath = Get-PSSwarmDaemonPath
    # The client library holds the service logic. It loads in PSSwarm's own AssemblyLoadContext, where a
    # type literal does not find it: Assembly.Load goes through the module's resolver to that same copy.
    $client = [System.Reflection.Assembly]::Load('PSSwarm.Client')
    $service = $client.GetType('PSSwarm.Client.Service.DaemonService', $true)
    $systemdUnit = $client.GetType('PSSwarm.Client.Service.SystemdUnit', $true)
    # Whatever this machine runs, the cmdlets see "no systemd" unless a test says otherwise: a test never
    # enables a unit on the machine that runs it.
    $noSystemd = Join-Path $root 'no-systemd'
    $service::SystemdRunDirectory = $noSystemd
    $service::Systemctl = 'systemctl'
    # An existing group other than root's when there is one (Debian has 'daemon').
    $group = if ((Get-Content /etc/group) -match '^daemon:') { 'daemon' } else { 'root' }

    function New-UnitCase([string] $Name) {
        $dir = Join-Path $root $Name
        $null = New-Item -ItemType Directory -Path $dir
        [pscustomobject]@{
            Units    = Join-Path $dir 'units'
            Unit     = Join-Path $dir 'units/psswarmd.service'
            DataRoot = Join-Path $dir 'data'
            Socket   = Join-Path $dir 'd.sock'
            Endpoint = "unix://$(Join-Path $dir 'd.sock')"
        }
    }

    # "Key=value" lines per section; throws on a line that is none of blank, comment, [Section], Key=value.
    function Read-UnitFile([string] $Path) {
        $sections = [ordered]@{}
        $current = $null
        $n = 0
        foreach ($line in Get-Content -LiteralPath $Path) {
            $n++
            if ($line -match '^\s*$' -or $line -match '^\s*[#;]') { continue }
            if ($line -match '^\[(\w+)\]$') { $current = $Matches[1]; $sections[$current] = [ordered]@{}; continue }
            if ($null -eq $current) { throw "line ${n} is outside a [Section]: $line" }
            if ($line -notmatch '^([A-Za-z][A-Za-z0-9]*)=(.*)$') { throw "line ${n} is not Key=value: $line" }
            if (-not $sections[$current].Contains($Matches[1])) { $sections[$current][$Matches[1]] = @() }
            $sections[$current][$Matches[1]] += $Matches[2]
        }
        $sections
    }

    # The words of ExecStart=, split as systemd splits what Install-SwarmDaemon writes.
    function Get-ExecStartWord([string] $Path) {
        $exec = (Read-UnitFile $Path)['Service']['ExecStart'][0]
        , $systemdUnit::SplitCommandLine($exec).ToArray()
    }

    # A Unix datagram socket bound where NOTIFY_SOCKET will point ('@name': the abstract namespace).
    function New-NotifySocket([string] $Address) {
        $socket = [System.Net.Sockets.Socket]::new([System.Net.Sockets.AddressFamily]::Unix,
            [System.Net.Sockets.SocketType]::Dgram, [System.Net.Sockets.ProtocolType]::Unspecified)
        $bindTo = if ($Address.StartsWith('@')) { "`0" + $Address.Substring(1) } else { $Address }
        $socket.Bind([System.Net.Sockets.UnixDomainSocketEndPoint]::new($bindTo))
        $socket
    }

    # Datagrams received until one matches the pattern (returns them all, the match last); throws at the deadline.
    function Receive-Notify {
        param([System.Net.Sockets.Socket] $Socket, [string] $Pattern, [double] $TimeoutSeconds = 20, [System.Diagnostics.Process] $Process)
        $received = [System.Collections.Generic.List[string]]::new()
        $buffer = [byte[]]::new(4096)
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        while ($clock.Elapsed.TotalSeconds -lt $TimeoutSeconds) {
            if ($Socket.Poll(100000, [System.Net.Sockets.SelectMode]::SelectRead)) {
                $n = $Socket.Receive($buffer)
                $message = [System.Text.Encoding]::UTF8.GetString($buffer, 0, $n)
                $received.Add($message)
                if ($message -match $Pattern) { return , $received.ToArray() }
            }
            elseif ($Process -and $Process.HasExited) { throw "psswarmd exited with $($Process.ExitCode) before sending '$Pattern' (received: $($received -join ' | '))" }
        }
        throw "no datagram matching '$Pattern' within $TimeoutSeconds s (received: $($received -join ' | '))"
    }

    # psswarmd started directly (exec through bash: the PID is psswarmd's) with systemd's variables set;
    # its output in <root>/<Name>.out/.err; registered so that Remove-TestRoot stops it by PID.
    function Start-NotifyDaemon {
        param([string] $Name, [hashtable] $Environment, [string[]] $Command)
        $dataRoot = Join-Path $root $Name
        $endpoint = "unix://$(Join-Path $root "$Name.sock")"
        if (-not $Command) { $Command = @($daemonPath, '--data-root', $dataRoot, '--host', $endpoint, '--node-name', $Name) }
        $psi = [System.Diagnostics.ProcessStartInfo]::new('bash')
        foreach ($a in @('-c', 'out=$1; err=$2; shift 2; exec "$@" >"$out" 2>"$err"', 'bash', (Join-Path $root "$Name.out"), (Join-Path $root "$Name.err")) + $Command) {
            $psi.ArgumentList.Add($a)
        }
        foreach ($k in 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID') { $null = $psi.Environment.Remove($k) }
        foreach ($k in $Environment.Keys) { $psi.Environment[$k] = $Environment[$k] }
        $psi.UseShellExecute = $false
        $process = [System.Diagnostics.Process]::Start($psi)
        Register-TestProcess -Root $root -ProcessId $process.Id -Name $Name -Endpoint $endpoint -DataRoot $dataRoot
        [pscustomobject]@{ Name = $Name; Root = $root; Process = $process; Pid = $process.Id; Endpoint = $endpoint; DataRoot = $dataRoot }
    }
}

AfterAll {
    $service::SystemdRunDirectory = '/run/systemd/system'
    $service::Systemctl = 'systemctl'
    Remove-TestRoot $root
}

Describe 'Install-SwarmDaemon' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when systemd is not running here' {
        BeforeAll {
            $case = New-UnitCase 'plain'
            $result = Install-SwarmDaemon -DataRoot $case.DataRoot -Endpoint $case.Endpoint -Group $group -UnitPath $case.Units `
                -PassThru -WarningVariable warnings -WarningAction SilentlyContinue -ErrorAction Stop
            $unit = Read-UnitFile $case.Unit
        }

        It 'writes psswarmd.service with mode 0644' {
            $case.Unit | Should -Exist
            Get-FileMode $case.Unit | Should -Be '644'
        }

        It 'writes a unit whose every line is blank, a comment, a [Section] or Key=value under one' {
            { Read-UnitFile $case.Unit } | Should -Not -Throw
            @($unit.Keys) | Should -Be @('Unit', 'Service', 'Install')
        }

        It 'runs the module daemon with the given data root, socket and group in ExecStart' {
            $words = Get-ExecStartWord $case.Unit
            $words | Should -Be @($daemonPath, '--data-root', $case.DataRoot, '--host', $case.Endpoint, '--group', $group)
            [IO.Path]::IsPathRooted($words[0]) | Should -BeTrue
        }

        It 'is a notify service that systemd restarts on failure and stops with SIGTERM' {
            $unit.Service.Type | Should -Be 'notify'
            $unit.Service.NotifyAccess | Should -Be 'main'
            $unit.Service.Restart | Should -Be 'on-failure'
            $unit.Service.KillSignal | Should -Be 'SIGTERM'
            $unit.Service.TimeoutStopSec | Should -Not -BeNullOrEmpty
            $unit.Service.LimitNOFILE | Should -Not -BeNullOrEmpty
            $unit.Unit.After | Should -Contain 'network-online.target'
            $unit.Unit.Wants | Should -Contain 'network-online.target'
            $unit.Install.WantedBy | Should -Be 'multi-user.target'
        }

        It 'confines the daemon to writing its data root and its socket directory' {
            $unit.Service.NoNewPrivileges | Should -Be 'yes'
            $unit.Service.ProtectSystem | Should -Be 'strict'
            @($unit.Service.ReadWritePaths -split ' ') | Should -Be @($case.DataRoot, (Split-Path $case.Socket))
            $unit.Service.ProtectHome | Should -Be 'yes'
            # The test's paths are under /tmp: a private /tmp would hide them from the daemon.
            $unit.Service.PrivateTmp | Should -Be 'no'
        }

        It 'passes systemd-analyze verify' {
            $analyze = Get-Command systemd-analyze -CommandType Application -ErrorAction Ignore | Select-Object -First 1
            if (-not $analyze) { Set-ItResult -Skipped -Because 'systemd-analyze is not installed on this machine'; return }
            $output = & $analyze.Source verify $case.Unit 2>&1
            $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
            "$output" | Should -Not -Match 'psswarmd\.service:'
        }

        It 'is rejected by systemd-analyze verify when ExecStart names no executable (the check can fail)' {
            $analyze = Get-Command systemd-analyze -CommandType Application -ErrorAction Ignore | Select-Object -First 1
            if (-not $analyze) { Set-ItResult -Skipped -Because 'systemd-analyze is not installed on this machine'; return }
            $broken = Join-Path (Split-Path $case.Units) 'broken/psswarmd.service'
            $null = New-Item -ItemType Directory -Force (Split-Path $broken)
            (Get-Content -Raw $case.Unit) -replace [regex]::Escape($daemonPath), '/nonexistent/psswarmd' | Set-Content -NoNewline $broken
            $null = & $analyze.Source verify $broken 2>&1
            $LASTEXITCODE | Should -Not -Be 0
        }

        It 'warns that systemd is not running and says to use Start-SwarmDaemon' {
            $warnings | Should -HaveCount 1
            "$($warnings[0])" | Should -Match 'systemd is not running here'
            "$($warnings[0])" | Should -Match ([regex]::Escape("Start-SwarmDaemon -DataRoot '$($case.DataRoot)' -Endpoint '$($case.Endpoint)'"))
        }

        It 'returns a PSSwarm.SwarmDaemonService with -PassThru' {
            $result.PSObject.TypeNames[0] | Should -Be 'PSSwarm.SwarmDaemonService'
            $result.UnitPath | Should -Be $case.Unit
            $result.DataRoot | Should -Be $case.DataRoot
            $result.Endpoint | Should -Be $case.Endpoint
            $result.Group | Should -Be $group
            $result.ExecStart | Should -BeLike "$daemonPath --data-root *"
            $result.SystemdRunning | Should -BeFalse
            $result.Enabled | Should -BeFalse
            $result.Active | Should -BeFalse
        }

        It 'creates the data root with mode 0700' {
            Get-FileMode $case.DataRoot | Should -Be '700'
        }

        It 'leaves an identical unit as it is without -Force' {
            $before = (Get-Item $case.Unit).LastWriteTimeUtc
            { Install-SwarmDaemon -DataRoot $case.DataRoot -Endpoint $case.Endpoint -Group $group -UnitPath $case.Units -WarningAction SilentlyContinue -ErrorAction Stop } |
                Should -Not -Throw
            (Get-Item $case.Unit).LastWriteTimeUtc | Should -Be $before
        }

        It 'refuses to replace a different unit without -Force, with a clear error' {
            $before = Get-Content -Raw $case.Unit
            $err = Get-ErrorRecord { Install-SwarmDaemon -DataRoot "$($case.DataRoot)2" -Endpoint $case.Endpoint -UnitPath $case.Units -WarningAction SilentlyContinue -ErrorAction Stop }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmDaemonUnitExists*'
            "$($err.CategoryInfo.Category)" | Should -Be 'ResourceExists'
            $err.Exception.Message | Should -Match '-Force'
            $err.Exception.Message | Should -Match ([regex]::Escape($case.Unit))
            Get-Content -Raw $case.Unit | Should -Be $before
        }

        It 'replaces a different unit with -Force' {
            $case2 = New-UnitCase 'force'
            $null = New-Item -ItemType Directory $case2.Units
            Set-Content -LiteralPath $case2.Unit -Value "[Service]`nExecStart=/usr/bin/true"
            Install-SwarmDaemon -DataRoot $case2.DataRoot -Endpoint $case2.Endpoint -UnitPath $case2.Units -NodeName n1 -Force -WarningAction SilentlyContinue -ErrorAction Stop
            $words = Get-ExecStartWord $case2.Unit
            $words | Should -Be @($daemonPath, '--data-root', $case2.DataRoot, '--host', $case2.Endpoint, '--node-name', 'n1')
            Get-FileMode $case2.Unit | Should -Be '644'
        }

        It 'writes nothing with -WhatIf' {
            $case3 = New-UnitCase 'whatif'
            Install-SwarmDaemon -DataRoot $case3.DataRoot -Endpoint $case3.Endpoint -UnitPath $case3.Units -WhatIf -WarningVariable w -ErrorAction Stop
            $case3.Units | Should -Not -Exist
            $case3.DataRoot | Should -Not -Exist
            $w | Should -BeNullOrEmpty
        }

        It 'refuses a group that does not exist, saying how to create it' {
            $case4 = New-UnitCase 'nogroup'
            $err = Get-ErrorRecord { Install-SwarmDaemon -DataRoot $case4.DataRoot -Endpoint $case4.Endpoint -UnitPath $case4.Units -Group 'psswarm-no-such-group' -ErrorAction Stop }
            $err.FullyQualifiedErrorId | Should -BeLike 'SwarmGroupNotFound*'
            $err.Exception.Message | Should -Match 'groupadd'
            $case4.Unit | Should -Not -Exist
        }

        It 'writes a unit whose ExecStart starts a daemon that answers and reports ready' {
            $notify = Join-Path $TestDrive 'exec.notify'
            $socket = New-NotifySocket $notify
            try {
                $daemon = Start-NotifyDaemon -Name exec -Environment @{ NOTIFY_SOCKET = $notify } -Command (Get-ExecStartWord $case.Unit)
                $daemon.Endpoint = $case.Endpoint
                $null = Receive-Notify -Socket $socket -Pattern 'READY=1' -Process $daemon.Process
                (Get-Swarm -Endpoint $case.Endpoint -ErrorAction Stop).LocalNodeState | Should -Be 'Inactive'
                Get-FileKind $case.Socket | Should -Be 'socket'
                & stat -c '%G' -- $case.Socket | Should -Be $group
            }
            finally {
                if ($daemon) { & kill -TERM $daemon.Pid; $null = Wait-ProcessExit -ProcessId $daemon.Pid -TimeoutMilliseconds 10000 }
                $socket.Dispose()
            }
        }
    }

    Context 'when systemd runs (a stand-in systemctl that runs the unit ExecStart)' {
        BeforeAll {
            $case = New-UnitCase 'systemd'
            $fake = Join-Path $root 'systemd'
            $null = New-Item -ItemType Directory -Path "$fake/run"
            $log = Join-Path $fake 'calls.log'
            $systemctl = Join-Path $fake 'systemctl'
            # Records each call; 'enable --now' starts the unit's ExecStart in the background (its PID in
            # $fake/pid), 'disable --now' sends it SIGTERM and waits, is-active/is-enabled answer from that.
            Set-Content -LiteralPath $systemctl -Value @"
#!/bin/bash
fake='$fake'
unit='$($case.Unit)'
echo "`$*" >> "`$fake/calls.log"
pid=`$(cat "`$fake/pid" 2>/dev/null)
case "`$1" in
  daemon-reload|try-restart) exit 0 ;;
  enable)
    touch "`$fake/enabled"
    if [ "`$2" = "--now" ]; then
      exec_line=`$(sed -n 's/^ExecStart=//p' "`$unit")
      eval "set -- `$exec_line"
      setsid "`$@" </dev/null >"`$fake/daemon.out" 2>&1 &
      echo `$! > "`$fake/pid"
    fi ;;
  disable)
    rm -f "`$fake/enabled"
    if [ "`$2" = "--now" ] && [ -n "`$pid" ]; then
      kill -TERM "`$pid" 2>/dev/null
      for i in `$(seq 1 200); do kill -0 "`$pid" 2>/dev/null || break; sleep 0.05; done
      rm -f "`$fake/pid"
    fi ;;
  is-active) if [ -n "`$pid" ] && kill -0 "`$pid" 2>/dev/null; then echo active; else echo inactive; exit 3; fi ;;
  is-enabled) if [ -e "`$fake/enabled" ]; then echo enabled; else echo disabled; exit 1; fi ;;
  *) echo "unexpected: `$*" >&2; exit 1 ;;
esac
"@
            & chmod 755 $systemctl
            $service::SystemdRunDirectory = "$fake/run"
            $service::Systemctl = $systemctl
            try {
                $result = Install-SwarmDaemon -DataRoot $case.DataRoot -Endpoint $case.Endpoint -UnitPath $case.Units -NodeName sd1 -PassThru -WarningVariable warnings -ErrorAction Stop
            }
            finally {
                $service::SystemdRunDirectory = $noSystemd
                $service::Systemctl = 'systemctl'
            }
            $daemonPid = [int](Get-Content "$fake/pid")
            Register-TestProcess -Root $root -ProcessId $daemonPid -Name sd1 -Endpoint $case.Endpoint -DataRoot $case.DataRoot
        }

        It 'reloads systemd, then enables and starts the unit (by path: it is outside the search path)' {
            $calls = @(Get-Content $log)
            $calls[0] | Should -Be 'daemon-reload'
            $calls[1] | Should -Be "enable --now $($case.Unit)"
            $calls | Should -Not -Contain 'try-restart psswarmd.service'
        }

        It 'returns once the daemon answers, and reports it enabled and active' {
            (Get-Swarm -Endpoint $case.Endpoint -ErrorAction Stop).NodeName | Should -Be 'sd1'
            $result.SystemdRunning | Should -BeTrue
            $result.Enabled | Should -BeTrue
            $result.Active | Should -BeTrue
            $warnings | Should -BeNullOrEmpty
        }

        It 'runs the daemon that the unit names' {
            (Get-ProcessCommandLine $daemonPid)[0] | Should -Be $daemonPath
        }

        It 'is undone by Uninstall-SwarmDaemon: disable --now, the unit removed, daemon-reload' {
            $service::SystemdRunDirectory = "$fake/run"
            $service::Systemctl = $systemctl
            try { Uninstall-SwarmDaemon -UnitPath $case.Units -ErrorAction Stop }
            finally {
                $service::SystemdRunDirectory = $noSystemd
                $service::Systemctl = 'systemctl'
            }
            $calls = @(Get-Content $log)
            $calls[-2] | Should -Be 'disable --now psswarmd.service'
            $calls[-1] | Should -Be 'daemon-reload'
            $case.Unit | Should -Not -Exist
            Test-ProcessAlive $daemonPid | Should -BeFalse
            $case.DataRoot | Should -Exist
        }
    }
}

Describe 'Uninstall-SwarmDaemon' {
    BeforeEach {
        $case = New-UnitCase "un$(Get-Random)"
        Install-SwarmDaemon -DataRoot $case.DataRoot -Endpoint $case.Endpoint -UnitPath $case.Units -WarningAction SilentlyContinue -ErrorAction Stop
    }

    It 'removes the unit and keeps the data root' {
        Uninstall-SwarmDaemon -UnitPath $case.Units -ErrorAction Stop
        $case.Unit | Should -Not -Exist
        $case.DataRoot | Should -Exist
    }

    It 'removes nothing with -WhatIf' {
        Uninstall-SwarmDaemon -UnitPath $case.Units -RemoveData -WhatIf -ErrorAction Stop
        $case.Unit | Should -Exist
        $case.DataRoot | Should -Exist
    }

    It 'removes the data root with -RemoveData -Force' {
        Set-Content -LiteralPath (Join-Path $case.DataRoot 'marker') -Value x
        Uninstall-SwarmDaemon -UnitPath $case.Units -RemoveData -Force -ErrorAction Stop
        $case.Unit | Should -Not -Exist
        $case.DataRoot | Should -Not -Exist
    }

    It 'keeps the data root while a daemon still answers at the unit endpoint' {
        $node = Start-NotifyDaemon -Name "busy$(Get-Random)" -Environment @{} -Command (Get-ExecStartWord $case.Unit)
        $node.Endpoint = $case.Endpoint
        $null = Wait-Until -TimeoutSeconds 20 -Because 'the daemon to answer' -Condition { Get-Swarm -Endpoint $case.Endpoint -ErrorAction Stop }
        $err = Get-ErrorRecord { Uninstall-SwarmDaemon -UnitPath $case.Units -RemoveData -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'SwarmDaemonRunning*'
        $err.Exception.Message | Should -Match 'Stop-SwarmDaemon'
        $case.DataRoot | Should -Exist
        Stop-SwarmDaemon -Endpoint $case.Endpoint
        $null = Wait-ProcessExit -ProcessId $node.Pid
    }

    It 'says there is nothing to uninstall when there is no unit' {
        Uninstall-SwarmDaemon -UnitPath $case.Units -ErrorAction Stop
        $err = Get-ErrorRecord { Uninstall-SwarmDaemon -UnitPath $case.Units -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'SwarmDaemonUnitNotFound*'
        "$($err.CategoryInfo.Category)" | Should -Be 'ObjectNotFound'
    }
}

Describe 'psswarmd with NOTIFY_SOCKET' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'when the socket is a path' {
        BeforeAll {
            $notify = Join-Path $TestDrive 'n1.notify'
            $socket = New-NotifySocket $notify
            $n1 = Start-NotifyDaemon -Name n1 -Environment @{ NOTIFY_SOCKET = $notify }
            $ready = Receive-Notify -Socket $socket -Pattern 'READY=1' -Process $n1.Process
            # Right after READY=1, with no retry: readiness means the control socket answers.
            $firstAnswer = Get-Swarm -Endpoint $n1.Endpoint -ErrorAction Stop
        }
        AfterAll { $socket.Dispose() }

        It 'sends READY=1 with the daemon PID as MAINPID and a status' {
            $lines = $ready[-1] -split "`n"
            $lines | Should -Contain 'READY=1'
            $lines | Should -Contain "MAINPID=$($n1.Pid)"
            $lines | Should -Contain 'STATUS=inactive (not in a swarm)'
        }

        It 'answers on its control socket once it said READY=1' {
            $firstAnswer.LocalNodeState | Should -Be 'Inactive'
            $firstAnswer.NodeName | Should -Be 'n1'
        }

        It 'sends STOPPING=1 on SIGTERM, then exits' {
            & kill -TERM $n1.Pid
            $stopping = Receive-Notify -Socket $socket -Pattern 'STOPPING=1' -TimeoutSeconds 10
            ($stopping[-1] -split "`n") | Should -Contain 'STOPPING=1'
            Wait-ProcessExit -ProcessId $n1.Pid -TimeoutMilliseconds 10000 | Should -BeTrue
        }

        It 'reports a node that restarts in a swarm as ready with its state restored' {
            $restart = Start-NotifyDaemon -Name n2 -Environment @{}
            $null = Wait-Until -TimeoutSeconds 20 -Because 'n2 to answer' -Condition { Get-Swarm -Endpoint $restart.Endpoint -ErrorAction Stop }
            $swarm = Initialize-Swarm -Endpoint $restart.Endpoint -AdvertiseAddress 127.0.53.2 -ListenAddress 127.0.53.2:2377 -ErrorAction Stop
            & kill -TERM $restart.Pid
            Wait-ProcessExit -ProcessId $restart.Pid -TimeoutMilliseconds 15000 | Should -BeTrue
            $again = Start-NotifyDaemon -Name n2 -Environment @{ NOTIFY_SOCKET = $notify }
            $ready = Receive-Notify -Socket $socket -Pattern 'READY=1' -Process $again.Process
            $info = Get-Swarm -Endpoint $again.Endpoint -ErrorAction Stop
            $info.NodeId | Should -Be $swarm.NodeId
            ($ready[-1] -split "`n") | Should -Contain "MAINPID=$($again.Pid)"
            # The manager's store may or may not be up yet when the control socket answers.
            ($ready[-1] -split "`n") -match '^STATUS=' | Should -Match "^STATUS=manager of swarm $($swarm.Id.Substring(0, 12))(, starting)?$"
        }
    }

    It 'reaches an abstract-namespace NOTIFY_SOCKET (@name)' {
        $name = "@psswarm-svc-$(Get-Random)"
        $socket = New-NotifySocket $name
        try {
            $n3 = Start-NotifyDaemon -Name n3 -Environment @{ NOTIFY_SOCKET = $name }
            $ready = Receive-Notify -Socket $socket -Pattern 'READY=1' -Process $n3.Process
            ($ready[-1] -split "`n") | Should -Contain "MAINPID=$($n3.Pid)"
        }
        finally { $socket.Dispose() }
    }

    It 'sends WATCHDOG=1 every WATCHDOG_USEC/2 when WATCHDOG_USEC=200000' {
        $notify = Join-Path $TestDrive 'n4.notify'
        $socket = New-NotifySocket $notify
        try {
            $n4 = Start-NotifyDaemon -Name n4 -Environment @{ NOTIFY_SOCKET = $notify; WATCHDOG_USEC = '200000' }
            $null = Receive-Notify -Socket $socket -Pattern 'READY=1' -Process $n4.Process
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $pings = 0
            while ($pings -lt 5) {
                $null = Receive-Notify -Socket $socket -Pattern '^WATCHDOG=1$' -TimeoutSeconds 2 -Process $n4.Process
                $pings++
            }
            # Five pings 100 ms apart: about 0.4-0.5 s; far less than five times WATCHDOG_USEC.
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 1.0
        }
        finally { $socket.Dispose() }
    }

    It 'keeps serving when NOTIFY_SOCKET points nowhere, with one warning in its log' {
        $n5 = Start-NotifyDaemon -Name n5 -Environment @{ NOTIFY_SOCKET = (Join-Path $TestDrive 'nobody.notify'); WATCHDOG_USEC = '200000' }
        $info = Wait-Until -TimeoutSeconds 20 -Because 'n5 to answer' -Condition {
            if ($n5.Process.HasExited) { throw "n5 exited with $($n5.Process.ExitCode)" }
            Get-Swarm -Endpoint $n5.Endpoint -ErrorAction Stop
        }
        $info.LocalNodeState | Should -Be 'Inactive'
        $log = Join-Path $root 'n5.out'
        $null = Wait-Until -TimeoutSeconds 5 -Because 'the warning in the log' -Condition { Select-String -LiteralPath $log -Pattern 'Cannot notify systemd' -Quiet }
        @(Select-String -LiteralPath $log -Pattern 'Cannot notify systemd').Count | Should -Be 1
        Test-ProcessAlive $n5.Pid | Should -BeTrue
    }
}
