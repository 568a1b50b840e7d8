#Requires -Version 7.4
# psswarmd and Start-/Stop-SwarmDaemon: process model, files and modes, signals, stale sockets,
# several daemons per host, dead endpoints. Loopback addresses: 127.0.10.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-PSSwarmUnderTest
    $root = New-TestRoot -Name daemon
    $daemonPath = Get-PSSwarmDaemonPath

    # psswarmd started directly with extra arguments, through bash for its umask (exec: the PID is psswarmd's),
    # its output in <root>/<Name>.out/.err; registered so that Remove-TestRoot stops it by PID.
    function Start-DirectDaemon {
        param(
            [Parameter(Mandatory)] [string] $Name,
            [Parameter(Mandatory)] [string] $SocketPath,
            [string[]] $Arguments = @(),
            [string] $Umask = '022'
        )
        $dataRoot = Join-Path $root $Name
        $endpoint = "unix://$SocketPath"
        $psi = [System.Diagnostics.ProcessStartInfo]::new('bash')
        $script = 'umask "$1"; out=$2; err=$3; shift 3; exec "$@" >"$out" 2>"$err"'
        $argv = @('-c', $script, 'bash', $Umask, (Join-Path $root "$Name.out"), (Join-Path $root "$Name.err"),
            $daemonPath, '--data-root', $dataRoot, '--host', $endpoint, '--node-name', $Name) + $Arguments
        foreach ($a in $argv) { $psi.ArgumentList.Add($a) }
        $psi.UseShellExecute = $false
        $process = [System.Diagnostics.Process]::Start($psi)
        Register-TestProcess -Root $root -ProcessId $process.Id -Name $Name -Endpoint $endpoint -DataRoot $dataRoot
        [pscustomobject]@{
            Name = $Name; Root = $root; Process = $process; Pid = $process.Id
            Endpoint = $endpoint; SocketPath = $SocketPath; DataRoot = $dataRoot
        }
    }

    # Waits (polling every 20 ms) until the daemon's endpoint answers; throws with its stderr when it exits instead.
    function Wait-DirectDaemon {
        param([Parameter(Mandatory)] [object] $Daemon)
        $null = Wait-Until -TimeoutSeconds 20 -IntervalMilliseconds 20 -Because "psswarmd '$($Daemon.Name)' to answer on $($Daemon.Endpoint)" -Condition {
            if ($Daemon.Process.HasExited) {
                throw "psswarmd '$($Daemon.Name)' exited with $($Daemon.Process.ExitCode): $(Get-Content -Raw -ErrorAction Ignore (Join-Path $root "$($Daemon.Name).err"))"
            }
            $null -ne (Get-Swarm -Endpoint $Daemon.Endpoint -ErrorAction Stop)
        }
    }

    # ModeWatcher samples a path's permission bits (stat) in a tight loop on its own thread, from before a
    # daemon starts. DirectoryEvents records a directory's inotify events (FileSystemWatcher): a chmod or
    # chown of an entry is a Changed event (IN_ATTRIB).
    if (-not ('PSSwarmTest.DirectoryEvents' -as [type])) {
        Add-Type -TypeDefinition @'
namespace PSSwarmTest
{
    public sealed class ModeWatcher
    {
        private readonly string path;
        private volatile bool stop;
        private System.Threading.Thread thread;
        public long Samples;
        public long Present;
        public readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> Modes = new();

        public ModeWatcher(string path) { this.path = path; }

        public void Start()
        {
            thread = new System.Threading.Thread(Run) { IsBackground = true };
            thread.Start();
        }

        public void Stop() { stop = true; thread.Join(); }

        private void Run()
        {
            while (!stop)
            {
                Samples++;
                var info = new System.IO.FileInfo(path);
                if (!info.Exists) continue;
                var mode = System.Convert.ToString((int)info.UnixFileMode, 8);
                Present++;
                Modes.AddOrUpdate(mode, 1, (_, n) => n + 1);
            }
        }
    }

    public sealed class DirectoryEvents : System.IDisposable
    {
        private readonly System.IO.FileSystemWatcher watcher;
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> events = new();

        public DirectoryEvents(string directory)
        {
            watcher = new System.IO.FileSystemWatcher(directory);
            watcher.NotifyFilter = System.IO.NotifyFilters.FileName | System.IO.NotifyFilters.DirectoryName |
                System.IO.NotifyFilters.Attributes | System.IO.NotifyFilters.Security | System.IO.NotifyFilters.LastWrite |
                System.IO.NotifyFilters.Size | System.IO.NotifyFilters.CreationTime;
            watcher.Created += (s, e) => events.Enqueue("Created " + e.Name);
            watcher.Changed += (s, e) => events.Enqueue("Changed " + e.Name);
            watcher.Deleted += (s, e) => events.Enqueue("Deleted " + e.Name);
            watcher.Renamed += (s, e) => events.Enqueue("Renamed " + e.OldName + " " + e.Name);
            watcher.Error += (s, e) => events.Enqueue("Error " + e.GetException().Message);
            watcher.EnableRaisingEvents = true;
        }

        public string[] Events => events.ToArray();

        public void Dispose() => watcher.Dispose();
    }
}
'@
    }
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

    Context 'when the data root is in use by a running daemon' {
        BeforeAll {
            $holder = Start-TestNode -Root $root -Name d9
            $otherSocket = Join-Path $root 'd9-other.sock'
        }

        It 'refuses a second daemon on that data root, naming the first one''s PID, and keeps the first serving' {
            $unexpected = $null
            $failed = $null
            try { $unexpected = Start-SwarmDaemon -DataRoot $holder.DataRoot -Endpoint "unix://$otherSocket" -NodeName d9b -PassThru -ErrorAction Stop }
            catch { $failed = $_ }
            if ($unexpected) { Register-TestProcess -Root $root -ProcessId $unexpected.ProcessId -Name d9b -DataRoot $holder.DataRoot }
            $unexpected | Should -BeNullOrEmpty -Because 'two daemons on one data root would write one Raft log at once'
            $failed.FullyQualifiedErrorId | Should -BeLike 'SwarmDaemonStartFailed*'
            $failed.Exception.Message | Should -BeLike "*another psswarmd (pid $($holder.Pid)) is running on the data root $($holder.DataRoot)*"
            $otherSocket | Should -Not -Exist
            Test-ProcessAlive $holder.Pid | Should -BeTrue
            (Get-Swarm -Endpoint $holder.Endpoint).LocalNodeState | Should -Be 'Inactive'
        }

        It 'lets a new daemon take the data root once the holder is killed (no stale lock)' {
            Stop-Process -Id $holder.Pid -Force
            Wait-ProcessExit $holder.Pid | Should -BeTrue
            $next = Start-SwarmDaemon -DataRoot $holder.DataRoot -Endpoint "unix://$otherSocket" -NodeName d9 -PassThru
            Register-TestProcess -Root $root -ProcessId $next.ProcessId -Name d9 -DataRoot $holder.DataRoot
            (Get-Swarm -Endpoint "unix://$otherSocket").LocalNodeState | Should -Be 'Inactive'
            (Get-Content -Raw (Join-Path $holder.DataRoot "psswarmd.pid")).Trim() | Should -Be "$($next.ProcessId)"
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

    Context 'when --group names the control socket''s group' {
        BeforeAll {
            # by name, with two missing directories above the socket
            $byName = Start-DirectDaemon -Name g1 -SocketPath (Join-Path $root 'g1run/sub/g1.sock') -Arguments '--group', 'nogroup'
            # by gid (-G GID), in an existing directory of another mode
            $existingDir = Join-Path $root 'g2run'
            $null = New-Item -ItemType Directory -Path $existingDir
            & chmod 711 $existingDir
            $existingGroup = & stat -c '%G' -- $existingDir
            $byGid = Start-DirectDaemon -Name g2 -SocketPath (Join-Path $existingDir 'g2.sock') -Arguments '-G', '65534'
            Wait-DirectDaemon $byName
            Wait-DirectDaemon $byGid
        }
        AfterAll {
            foreach ($d in @($byName, $byGid)) { if ($d) { Stop-TestNode $d } }
        }

        It 'gives the socket that group, keeps the daemon''s user as its owner and mode 0660' {
            Get-FileKind $byName.SocketPath | Should -Be 'socket'
            Get-FileMode $byName.SocketPath | Should -Be '660'
            & stat -c '%G' -- $byName.SocketPath | Should -Be 'nogroup'
            & stat -c '%U' -- $byName.SocketPath | Should -Be (& id -un)
        }

        It 'accepts a numeric gid' {
            Get-FileKind $byGid.SocketPath | Should -Be 'socket'
            Get-FileMode $byGid.SocketPath | Should -Be '660'
            & stat -c '%g' -- $byGid.SocketPath | Should -Be '65534'
        }

        It 'creates each missing socket directory with mode 0750 and that group' {
            foreach ($dir in (Join-Path $root 'g1run'), (Join-Path $root 'g1run/sub')) {
                Get-FileKind $dir | Should -Be 'directory'
                Get-FileMode $dir | Should -Be '750' -Because "$dir was created by psswarmd"
                & stat -c '%G' -- $dir | Should -Be 'nogroup'
            }
        }

        It 'leaves an existing socket directory alone' {
            Get-FileMode $existingDir | Should -Be '711'
            & stat -c '%G' -- $existingDir | Should -Be $existingGroup
        }

        It 'serves the endpoint' {
            (Get-Swarm -Endpoint $byName.Endpoint).LocalNodeState | Should -Be 'Inactive'
            (Get-Swarm -Endpoint $byGid.Endpoint).LocalNodeState | Should -Be 'Inactive'
        }

        It 'removes the socket on SIGTERM' {
            & kill -TERM $byName.Pid
            $byName.Process.WaitForExit(5000) | Should -BeTrue
            $byName.Process.ExitCode | Should -Be 0
            $byName.SocketPath | Should -Not -Exist
            Get-FileMode (Join-Path $root 'g1run/sub') | Should -Be '750' -Because 'the directory stays'
        }
    }

    Context 'when --group names no group' {
        It 'exits with code 2, says so and creates nothing' {
            $dataRoot = Join-Path $root 'g3'
            $socket = Join-Path $root 'g3run/g3.sock'
            $output = & $daemonPath --data-root $dataRoot --host "unix://$socket" --group=psswarm-no-such-group 2>&1
            $LASTEXITCODE | Should -Be 2
            ($output -join "`n") | Should -Match ([regex]::Escape('psswarmd: group "psswarm-no-such-group" not found'))
            $dataRoot | Should -Not -Exist
            Join-Path $root 'g3run' | Should -Not -Exist
        }
    }

    Context 'when the socket directory is missing (under the umask 000)' {
        BeforeAll {
            $missing = Start-DirectDaemon -Name m1 -SocketPath (Join-Path $root 'm1run/m1.sock') -Umask '000'
            Wait-DirectDaemon $missing
        }
        AfterAll { if ($missing) { Stop-TestNode $missing } }

        It 'creates it with mode 0750 (not the umask''s), owned by the daemon''s user and group' {
            $dir = Join-Path $root 'm1run'
            Get-FileKind $dir | Should -Be 'directory'
            Get-FileMode $dir | Should -Be '750'
            & stat -c '%U:%G' -- $dir | Should -Be "$(& id -un):$(& id -gn)"
        }

        It 'keeps the daemon''s own group on the socket without --group, mode 0660' {
            Get-FileMode $missing.SocketPath | Should -Be '660'
            & stat -c '%G' -- $missing.SocketPath | Should -Be (& id -gn)
        }

        It 'puts nothing but the socket in the directory it created' {
            @(Get-ChildItem -Force -LiteralPath (Join-Path $root 'm1run')).Name | Should -Be @('m1.sock')
        }
    }

    Context 'when it is started under a permissive umask (000)' {
        BeforeAll {
            $socketDir = Join-Path $root 'u1run'
            $null = New-Item -ItemType Directory -Path $socketDir
            $socket = Join-Path $socketDir 'u1.sock'
            $watcher = [PSSwarmTest.ModeWatcher]::new($socket)
            $inotify = [PSSwarmTest.DirectoryEvents]::new($socketDir)
            $watcher.Start()
            try {
                $permissive = Start-DirectDaemon -Name u1 -SocketPath $socket -Umask '000'
                Wait-DirectDaemon $permissive
                # the first moment the endpoint answers
                $modeAtFirstAnswer = Get-FileMode $socket
                Start-Sleep -Milliseconds 300 # inotify events are delivered asynchronously
            }
            finally {
                $watcher.Stop()
                $events = $inotify.Events
                $inotify.Dispose()
            }
        }
        AfterAll { if ($permissive) { Stop-TestNode $permissive } }

        It 'has the socket at mode 0660 from the first moment the endpoint answers' {
            $modeAtFirstAnswer | Should -Be '660'
        }

        It 'never shows the socket path with another mode, from the moment the process starts' {
            $watcher.Samples | Should -BeGreaterThan 1000 -Because 'stat was polled in a tight loop'
            $watcher.Present | Should -BeGreaterThan 0 -Because 'the socket appeared while it was watched'
            @($watcher.Modes.Keys) | Should -Be @('660')
        }

        It 'creates the socket with its mode: no chmod or chown after it appeared (inotify)' {
            # Deterministic where the stat loop is a sampling: a mode set after bind(2) is an IN_ATTRIB event.
            $events | Should -Contain 'Created u1.sock' -Because "inotify must have seen the socket appear (events: $($events -join '; '))"
            $events | Should -Not -Contain 'Changed u1.sock' -Because "the socket's mode must not change after it appeared (events: $($events -join '; '))"
        }

        It 'creates the data root with mode 0700' {
            Get-FileMode $permissive.DataRoot | Should -Be '700'
        }
    }

    Context 'when the socket path is taken by something that is not a socket' {
        It 'exits with an error and leaves the file alone' {
            $path = Join-Path $root 'r1.sock'
            Set-Content -LiteralPath $path -Value 'not a socket'
            $output = & $daemonPath --data-root (Join-Path $root 'r1') --host "unix://$path" 2>&1
            $LASTEXITCODE | Should -Be 1
            ($output -join "`n") | Should -Match 'is not a socket'
            Get-FileKind $path | Should -Be 'regular file'
            Get-Content -LiteralPath $path | Should -Be 'not a socket'
        }
    }

    Context 'when asked for help or given an unknown option' {
        It 'prints usage and exits 0 with --help' {
            $output = & $daemonPath --help 2>&1
            $LASTEXITCODE | Should -Be 0
            ($output -join "`n") | Should -Match '--data-root'
            ($output -join "`n") | Should -Match '--host'
            ($output -join "`n") | Should -Match '--node-name'
            ($output -join "`n") | Should -Match '--group'
        }

        It 'exits non-zero naming the bad option with --bogus' {
            $output = & $daemonPath --bogus 2>&1
            $LASTEXITCODE | Should -Not -Be 0
            ($output -join "`n") | Should -Match 'bogus'
        }

        It 'exits 2 with a clear message for a node name it would have to refuse in heartbeats (<Name>)' -ForEach @(
            @{ Name = 'bad name' }
            @{ Name = '-dash-first' }
            @{ Name = 'x' * 254 }
        ) {
            $output = & $daemonPath --data-root (Join-Path $root 'nn') --host "unix://$(Join-Path $root 'nn.sock')" --node-name $Name 2>&1
            $LASTEXITCODE | Should -Be 2
            ($output -join "`n") | Should -Match 'invalid node name'
            Test-Path (Join-Path $root 'nn.sock') | Should -BeFalse
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
