#Requires -Version 7.4
<#
Test hosts for PowerShell remoting over SSH, on one Linux machine (root, iproute2, util-linux,
OpenSSH: tools/testhost/Install-Prerequisites.sh installs the server).

A lab is a bridge in a namespace of its own (psw-ssh-<tag>-br) and a controller namespace
(psw-ssh-<tag>-ctl, 10.99.77.254) on it. Each test host is a namespace psw-ssh-<tag>-<name> with
eth0 = 10.99.77.<n>/24 on that bridge, running its own psswarmd (the staged daemon, its own data
root and control socket) and its own sshd (ListenAddress 10.99.77.<n>:22, key-only root login,
Subsystem powershell = $PSHOME/pwsh -sshs, SetEnv PSSWARM_HOST = that host's daemon and
PSModulePath = the module under test).

The ssh client that New-PSSession -HostName starts runs in the caller's (root) namespace, where
10.99.77.x is not reachable (such a packet would leave the machine). Get-SwarmTestSshOption gives
New-PSSession -Options a ProxyCommand that enters the controller namespace (nsenter --net) and
relays stdin/stdout to %h:%p by TCP (bash's /dev/tcp): the SSH connection crosses the bridge to
the listening sshd. Host keys are pinned (StrictHostKeyChecking yes, a known_hosts file this
module writes).

Every process is tracked by PID; Remove-SwarmTestHost and Remove-SwarmTestLab stop them (and
anything left inside the lab's own namespaces), delete the namespaces and the lab's folder, and
work on a half-created lab or host. Nothing is stopped by name.

    $lab = New-SwarmTestLab -ModulePath /abs/out/PSSwarm/PSSwarm.psd1
    $h1  = New-SwarmTestHost -Lab $lab -Name h1 -Number 1
    $s   = New-PSSession -HostName $h1.Ip -UserName root -KeyFilePath $lab.ClientKey -Options (Get-SwarmTestSshOption $lab)
    ...
    Remove-SwarmTestLab $lab
#>

Set-StrictMode -Version Latest

$script:Subnet = '10.99.77'
$script:ControllerNumber = 254
$script:Installer = 'tools/testhost/Install-Prerequisites.sh'

function Invoke-LabIp {
    # Runs ip with the given arguments; throws with its output when it fails.
    $out = & ip @args 2>&1
    if ($LASTEXITCODE -ne 0) { throw "ip $($args -join ' ') failed: $out" }
}

function Invoke-LabTool {
    # Runs a program; throws with its output when it fails.
    param([string] $FilePath, [string[]] $ArgumentList)
    $out = & $FilePath @ArgumentList 2>&1
    if ($LASTEXITCODE -ne 0) { throw "$FilePath $($ArgumentList -join ' ') failed: $out" }
}

function Test-LabProcessAlive([int] $ProcessId) {
    $statPath = "/proc/$ProcessId/stat"
    if (-not (Test-Path -LiteralPath $statPath)) { return $false }
    try {
        $stat = [IO.File]::ReadAllText($statPath)
        $state = $stat.Substring($stat.LastIndexOf(')') + 2, 1)
        $state -ne 'Z' -and $state -ne 'X'
    }
    catch { $false }
}

function Get-LabCommandLine([int] $ProcessId) {
    try { ([IO.File]::ReadAllText("/proc/$ProcessId/cmdline")).Replace([char]0, ' ') } catch { '' }
}

function Wait-LabProcessExit([int] $ProcessId, [int] $TimeoutMilliseconds = 5000) {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    while ((Test-LabProcessAlive $ProcessId) -and $clock.ElapsedMilliseconds -lt $TimeoutMilliseconds) { Start-Sleep -Milliseconds 50 }
    -not (Test-LabProcessAlive $ProcessId)
}

function Get-LabDescendant([int] $ProcessId) {
    # Every descendant of a process (children before grandchildren), from /proc/<pid>/stat.
    $parentOf = @{}
    foreach ($dir in [IO.Directory]::GetDirectories('/proc')) {
        $leaf = [IO.Path]::GetFileName($dir)
        if ($leaf -notmatch '^\d+$') { continue }
        try {
            $stat = [IO.File]::ReadAllText("$dir/stat")
            $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
            $parentOf[[int]$leaf] = [int]$fields[1]
        }
        catch { }
    }
    $found = [Collections.Generic.List[int]]::new()
    $queue = [Collections.Generic.Queue[int]]::new()
    $queue.Enqueue($ProcessId)
    while ($queue.Count) {
        $current = $queue.Dequeue()
        foreach ($entry in $parentOf.GetEnumerator()) {
            if ($entry.Value -eq $current -and -not $found.Contains($entry.Key)) { $found.Add($entry.Key); $queue.Enqueue($entry.Key) }
        }
    }
    $found
}

function Stop-LabProcess {
    # SIGTERM, then SIGKILL after the timeout; only when the PID still runs a command line containing
    # -Expect (guards against PID reuse). Descendants (sshd's session processes) go first.
    param([int] $ProcessId, [string] $Expect, [switch] $WithDescendants)
    if (-not $ProcessId -or -not (Test-LabProcessAlive $ProcessId)) { return }
    if ($Expect -and -not ((Get-LabCommandLine $ProcessId).Contains($Expect))) { return }
    $targets = @()
    if ($WithDescendants) { $targets += @(Get-LabDescendant $ProcessId) }
    $targets += $ProcessId
    foreach ($target in $targets) { & kill -TERM $target 2>$null }
    foreach ($target in $targets) {
        if (-not (Wait-LabProcessExit $target 3000)) { & kill -KILL $target 2>$null; $null = Wait-LabProcessExit $target 3000 }
    }
}

function Stop-LabNamespaceProcess([string] $Namespace) {
    # Anything still running inside one of the lab's own namespaces was started for the lab
    # (sshd sessions, remote pwsh, relays): SIGKILL it, so that the namespace really goes away.
    if (-not (Test-Path -LiteralPath "/run/netns/$Namespace")) { return }
    $ids = @(& ip netns pids $Namespace 2>$null | Where-Object { $_ -match '^\d+$' } | ForEach-Object { [int]$_ })
    foreach ($id in $ids) { & kill -KILL $id 2>$null }
    foreach ($id in $ids) { $null = Wait-LabProcessExit $id 3000 }
}

function Remove-LabNamespace([string] $Namespace) {
    if (-not (Test-Path -LiteralPath "/run/netns/$Namespace")) { return }
    Stop-LabNamespaceProcess $Namespace
    $out = & ip netns del $Namespace 2>&1
    if ($LASTEXITCODE -ne 0) { Write-Warning "Could not delete network namespace ${Namespace}: $out" }
}

function Wait-LabCondition {
    # Polls the condition until it returns a truthy value (returned); throws after the deadline.
    param([scriptblock] $Condition, [double] $TimeoutSeconds, [string] $Because)
    $clock = [Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        $value = & $Condition
        if ($value) { return $value }
        if ($clock.Elapsed.TotalSeconds -ge $TimeoutSeconds) { throw "timed out after $TimeoutSeconds s waiting for $Because" }
        Start-Sleep -Milliseconds 100
    }
}

function Test-SwarmTestHostPrerequisite {
    <#
    $null when this machine can run test hosts; otherwise why not (naming the installer for what it
    installs). Never installs anything.
    #>
    [CmdletBinding()]
    param()
    if (-not $IsLinux) { return 'test hosts need Linux network namespaces' }
    if ((& id -u) -ne '0') { return 'test hosts need root (network namespaces, sshd)' }
    if (-not (Get-Command ip -CommandType Application -ErrorAction Ignore)) { return 'the ip command (iproute2) is missing' }
    if (-not (Get-Command nsenter -CommandType Application -ErrorAction Ignore)) { return 'the nsenter command (util-linux) is missing' }
    if (-not (Test-Path -LiteralPath /usr/sbin/sshd)) { return "the OpenSSH server (/usr/sbin/sshd) is not installed: run $script:Installer (as root)" }
    foreach ($tool in 'ssh', 'ssh-keygen') {
        if (-not (Get-Command $tool -CommandType Application -ErrorAction Ignore)) { return "the OpenSSH client ($tool) is not installed: run $script:Installer (as root)" }
    }
    if (-not (Test-Path -LiteralPath /bin/bash)) { return '/bin/bash is missing (the SSH relay uses its /dev/tcp)' }
    $null
}

function New-SwarmTestLab {
    <#
    Creates a lab: its folder (under -Parent, default the temp folder), the bridge and controller
    namespaces, the client key pair, an empty known_hosts file and the relay script. Imports the
    module at -ModulePath (globally) when PSSwarm is not imported yet. Returns the lab object.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $ModulePath,
        [string] $Parent = [IO.Path]::GetTempPath()
    )
    $reason = Test-SwarmTestHostPrerequisite
    if ($reason) { throw "Cannot create SSH test hosts: $reason" }
    $ModulePath = [IO.Path]::GetFullPath($ModulePath)
    if (-not (Test-Path -LiteralPath $ModulePath)) { throw "The module was not found at '$ModulePath'." }
    if (-not (Get-Module PSSwarm)) { Import-Module $ModulePath -Global -ErrorAction Stop }
    $pwshPath = Join-Path $PSHOME 'pwsh'
    if (-not (Test-Path -LiteralPath $pwshPath)) { throw "No pwsh executable at '$pwshPath' for the sshd powershell subsystem." }

    $tag = -join ((1..4) | ForEach-Object { [char](Get-Random -InputObject (97..122)) })
    $root = Join-Path $Parent "psw-ssh-$tag"
    $lab = [pscustomobject]@{
        PSTypeName     = 'PSSwarm.TestLab'
        Tag            = $tag
        Root           = $root
        ModulePath     = $ModulePath
        ModuleParent   = Split-Path (Split-Path $ModulePath)   # the folder holding PSSwarm/: what PSModulePath needs
        DaemonPath     = Join-Path (Split-Path $ModulePath) 'daemon/psswarmd'
        PwshPath       = $pwshPath
        BridgeNs       = "psw-ssh-$tag-br"
        ControllerNs   = "psw-ssh-$tag-ctl"
        ControllerIp   = "$script:Subnet.$script:ControllerNumber"
        ClientKey      = Join-Path $root 'ssh/id_ed25519'
        AuthorizedKeys = Join-Path $root 'ssh/authorized_keys'
        KnownHosts     = Join-Path $root 'ssh/known_hosts'
        RelayScript    = Join-Path $root 'ssh/relay.sh'
        Hosts          = [Collections.Generic.List[object]]::new()
        Namespaces     = [Collections.Generic.List[string]]::new()
    }
    try {
        $null = New-Item -ItemType Directory -Path (Join-Path $root 'ssh') -Force
        & chmod 0700 $root (Join-Path $root 'ssh')

        # The bridge, in a namespace of its own; the controller on it.
        Invoke-LabIp netns add $lab.BridgeNs; $lab.Namespaces.Add($lab.BridgeNs)
        Invoke-LabIp -n $lab.BridgeNs link add br0 type bridge
        Invoke-LabIp -n $lab.BridgeNs link set br0 up
        Invoke-LabIp -n $lab.BridgeNs link set lo up
        Add-LabPort -Lab $lab -Namespace $lab.ControllerNs -Port 'p-ctl' -Ip $lab.ControllerIp

        # The client's key pair (root's identity on every host of this lab) and its pinned host keys.
        Invoke-LabTool ssh-keygen @('-q', '-t', 'ed25519', '-N', '', '-C', "psswarm-testlab-$tag", '-f', $lab.ClientKey)
        Copy-Item -LiteralPath "$($lab.ClientKey).pub" -Destination $lab.AuthorizedKeys
        $null = New-Item -ItemType File -Path $lab.KnownHosts -Force
        & chmod 0600 $lab.ClientKey $lab.AuthorizedKeys $lab.KnownHosts

        # The ProxyCommand's relay (run inside the controller namespace): stdin -> TCP, TCP -> stdout.
        # stdout is held only by the reader, so that ssh sees EOF when the server closes.
        Set-Content -LiteralPath $lab.RelayScript -Value @'
#!/bin/bash
# ssh ProxyCommand relay for PSSwarm test hosts: connects to $1:$2 by TCP from the namespace it
# runs in (nsenter --net) and copies stdin to the connection and the connection to stdout.
exec 3<>"/dev/tcp/$1/$2" || exit 1
exec 4>&1 1>/dev/null
cat <&3 >&4 4>&- &
reader=$!
exec 4>&-
trap 'kill "$reader" 2>/dev/null' EXIT
cat >&3
'@
        & chmod 0700 $lab.RelayScript

        # sshd's privilege separation directory (Debian's package creates it at service start only).
        if (-not (Test-Path -LiteralPath /run/sshd)) { $null = New-Item -ItemType Directory -Path /run/sshd; & chmod 0755 /run/sshd }
    }
    catch {
        $failure = $_
        Remove-SwarmTestLab -Lab $lab
        throw "New-SwarmTestLab failed: $($failure.Exception.Message)"
    }
    $lab
}

function Add-LabPort {
    # A namespace with eth0 = <Ip>/24, the peer of bridge port <Port>.
    param($Lab, [string] $Namespace, [string] $Port, [string] $Ip)
    Invoke-LabIp netns add $Namespace; $Lab.Namespaces.Add($Namespace)
    Invoke-LabIp -n $Lab.BridgeNs link add $Port type veth peer name eth0 netns $Namespace
    Invoke-LabIp -n $Lab.BridgeNs link set $Port master br0
    Invoke-LabIp -n $Lab.BridgeNs link set $Port up
    Invoke-LabIp -n $Namespace addr add "$Ip/24" dev eth0
    Invoke-LabIp -n $Namespace link set lo up
    Invoke-LabIp -n $Namespace link set eth0 up
}

function Get-SwarmTestSshOption {
    <#
    The -Options hashtable for New-PSSession -HostName <host ip>: the ProxyCommand through the
    controller namespace, the lab's pinned host keys, batch mode (never a prompt).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] [object] $Lab)
    $nsenter = (Get-Command nsenter -CommandType Application | Select-Object -First 1).Source
    @{
        ProxyCommand          = "$nsenter --net=/run/netns/$($Lab.ControllerNs) /bin/bash $($Lab.RelayScript) %h %p"
        StrictHostKeyChecking = 'yes'
        UserKnownHostsFile    = $Lab.KnownHosts
        GlobalKnownHostsFile  = '/dev/null'
        BatchMode             = 'yes'
        IdentitiesOnly        = 'yes'
        ConnectTimeout        = '10'
    }
}

function New-SwarmTestHost {
    <#
    A host of the lab: namespace psw-ssh-<tag>-<Name> at 10.99.77.<Number>, its psswarmd (node name
    <Name>, socket <lab>/<Name>/d.sock) and, unless -NoSsh, its sshd on 10.99.77.<Number>:22.
    Waits until the daemon answers and sshd listens. Returns the host object.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [object] $Lab,
        [Parameter(Mandatory)] [ValidatePattern('^[a-z][a-z0-9]{0,7}$')] [string] $Name,
        [Parameter(Mandatory)] [ValidateRange(1, 253)] [int] $Number,
        [switch] $NoSsh
    )
    if ($Lab.Hosts | Where-Object { $_.Name -eq $Name -or $_.Number -eq $Number }) { throw "The lab already has a host named $Name or numbered $Number." }
    $dir = Join-Path $Lab.Root $Name
    $testHost = [pscustomobject]@{
        PSTypeName = 'PSSwarm.TestHost'
        Lab        = $Lab
        Name       = $Name
        Number     = $Number
        Namespace  = "psw-ssh-$($Lab.Tag)-$Name"
        Ip         = "$script:Subnet.$Number"
        Listen     = "$script:Subnet.${Number}:2377"
        Dir        = $dir
        DataRoot   = Join-Path $dir 'data'
        Endpoint   = "unix://$(Join-Path $dir 'd.sock')"
        DaemonPid  = $null
        DaemonLog  = Join-Path $dir 'psswarmd.err'
        SshdPid    = $null
        SshdConfig = Join-Path $dir 'sshd_config'
        SshdLog    = Join-Path $dir 'sshd.log'
    }
    $Lab.Hosts.Add($testHost)   # first: a half-created host is still removed with the lab
    try {
        $null = New-Item -ItemType Directory -Path $testHost.DataRoot -Force
        & chmod 0700 $dir
        Add-LabPort -Lab $Lab -Namespace $testHost.Namespace -Port "p-$Name" -Ip $testHost.Ip
        $nsenter = (Get-Command nsenter -CommandType Application | Select-Object -First 1).Source

        # psswarmd inside the namespace (nsenter execs it: the PID is the daemon's).
        $daemon = Start-Process -FilePath $nsenter -PassThru `
            -ArgumentList "--net=/run/netns/$($testHost.Namespace)", $Lab.DaemonPath, '--data-root', $testHost.DataRoot, '--host', $testHost.Endpoint, '--node-name', $Name `
            -RedirectStandardOutput (Join-Path $dir 'psswarmd.out') -RedirectStandardError $testHost.DaemonLog
        $testHost.DaemonPid = $daemon.Id

        if (-not $NoSsh) {
            $hostKey = Join-Path $dir 'ssh_host_ed25519_key'
            Invoke-LabTool ssh-keygen @('-q', '-t', 'ed25519', '-N', '', '-C', "psswarm-testhost-$Name", '-f', $hostKey)
            & chmod 0600 $hostKey
            $homeDir = Join-Path $dir 'home'
            $null = New-Item -ItemType Directory -Path $homeDir -Force
            Set-Content -LiteralPath $testHost.SshdConfig -Value @"
# sshd of PSSwarm test host $Name (tools/testhost/TestHost.psm1), started inside namespace $($testHost.Namespace)
ListenAddress $($testHost.Ip):22
HostKey $hostKey
PidFile $(Join-Path $dir 'sshd.pid')
AuthorizedKeysFile $($Lab.AuthorizedKeys)
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# the keys live under /tmp (world-writable): StrictModes would refuse them
StrictModes no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
LogLevel VERBOSE
# What the remote PowerShell session sees: this host's daemon and the module under test.
SetEnv PSSWARM_HOST=$($testHost.Endpoint) PSModulePath=$($Lab.ModuleParent) HOME=$homeDir
Subsystem powershell $($Lab.PwshPath) -sshs -NoLogo -NoProfile
"@
            Invoke-LabTool /usr/sbin/sshd @('-t', '-f', $testHost.SshdConfig)
            $sshd = Start-Process -FilePath $nsenter -PassThru `
                -ArgumentList "--net=/run/netns/$($testHost.Namespace)", '/usr/sbin/sshd', '-D', '-E', $testHost.SshdLog, '-f', $testHost.SshdConfig `
                -RedirectStandardOutput (Join-Path $dir 'sshd.out') -RedirectStandardError (Join-Path $dir 'sshd.err')
            $testHost.SshdPid = $sshd.Id
            $sshdPid = $sshd.Id
            $log = $testHost.SshdLog
            $null = Wait-LabCondition -TimeoutSeconds 15 -Because "sshd of $Name to listen on $($testHost.Ip):22" -Condition {
                if (-not (Test-LabProcessAlive $sshdPid)) {
                    throw "sshd of $Name exited: $(Get-Content -Raw -ErrorAction Ignore $log) $(Get-Content -Raw -ErrorAction Ignore (Join-Path $dir 'sshd.err'))"
                }
                (Test-Path -LiteralPath $log) -and (Select-String -LiteralPath $log -SimpleMatch "Server listening on $($testHost.Ip) port 22" -Quiet)
            }
            $publicKey = (Get-Content -LiteralPath "$hostKey.pub" -Raw).Trim().Split(' ')
            Add-Content -LiteralPath $Lab.KnownHosts -Value "$($testHost.Ip) $($publicKey[0]) $($publicKey[1])"
        }

        $daemonPid = $testHost.DaemonPid
        $endpoint = $testHost.Endpoint
        $daemonLog = $testHost.DaemonLog
        $null = Wait-LabCondition -TimeoutSeconds 30 -Because "psswarmd of $Name to answer on $endpoint" -Condition {
            if (-not (Test-LabProcessAlive $daemonPid)) { throw "psswarmd of $Name exited: $(Get-Content -Raw -ErrorAction Ignore $daemonLog)" }
            try { $null -ne (Get-Swarm -Endpoint $endpoint -ErrorAction Stop) } catch { $false }
        }
    }
    catch {
        $failure = $_
        Remove-SwarmTestHost -TestHost $testHost
        throw "New-SwarmTestHost ${Name}: $($failure.Exception.Message)"
    }
    $testHost
}

function Remove-SwarmTestHost {
    <#
    Stops a host's sshd (and its session processes) and psswarmd by PID, kills anything left in its
    namespace, deletes the namespace (the veth pair goes with it). Never throws.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] [object] $TestHost)
    try { Stop-LabProcess -ProcessId $TestHost.SshdPid -Expect $TestHost.SshdConfig -WithDescendants } catch { Write-Warning "Stopping sshd of $($TestHost.Name): $_" }
    if ($TestHost.DaemonPid -and (Test-LabProcessAlive $TestHost.DaemonPid)) {
        try {
            $null = Stop-SwarmDaemon -Endpoint $TestHost.Endpoint -ErrorAction Stop
            $null = Wait-LabProcessExit $TestHost.DaemonPid 10000
        }
        catch { Write-Verbose "Stop-SwarmDaemon $($TestHost.Endpoint): $_" }
        try { Stop-LabProcess -ProcessId $TestHost.DaemonPid -Expect $TestHost.DataRoot } catch { Write-Warning "Stopping psswarmd of $($TestHost.Name): $_" }
    }
    Remove-LabNamespace $TestHost.Namespace
    $null = $TestHost.Lab.Namespaces.Remove($TestHost.Namespace)
    $null = $TestHost.Lab.Hosts.Remove($TestHost)
}

function Remove-SwarmTestLab {
    <# Removes every host of the lab, the controller and bridge namespaces, and the lab's folder. Never throws. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] [AllowNull()] [object] $Lab)
    if (-not $Lab) { return }
    foreach ($testHost in @($Lab.Hosts)) { Remove-SwarmTestHost -TestHost $testHost }
    foreach ($ns in @($Lab.Namespaces)) { Remove-LabNamespace $ns; $null = $Lab.Namespaces.Remove($ns) }
    if ($Lab.Root -and (Split-Path -Leaf $Lab.Root) -like 'psw-ssh-*' -and (Test-Path -LiteralPath $Lab.Root)) {
        Remove-Item -LiteralPath $Lab.Root -Recurse -Force -ErrorAction SilentlyContinue
    }
}

function Get-SwarmTestHostLog {
    <# The last lines of a host's sshd and psswarmd logs (for failure messages). #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [object] $TestHost, [int] $Tail = 20)
    process {
        foreach ($file in $TestHost.SshdLog, $TestHost.DaemonLog, (Join-Path $TestHost.DataRoot 'psswarmd.log')) {
            if (Test-Path -LiteralPath $file) {
                "----- $file (last $Tail lines) -----"
                Get-Content -LiteralPath $file -Tail $Tail
            }
        }
    }
}

Export-ModuleMember -Function Test-SwarmTestHostPrerequisite, New-SwarmTestLab, Get-SwarmTestSshOption, New-SwarmTestHost,
Remove-SwarmTestHost, Remove-SwarmTestLab, Get-SwarmTestHostLog
