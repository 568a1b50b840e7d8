#Requires -Version 7.4
# Shared helpers for the PSSwarm end-to-end Pester suite.
#
# Every daemon a test starts is recorded here (by PID, with its test root), so that
# Remove-TestRoot can stop exactly the processes this suite started, and nothing else.
# Daemons are stopped by endpoint (Stop-SwarmDaemon) or by PID; never by name.

Set-StrictMode -Version Latest

$script:TestBase = '/tmp/psswarm-tests'
# Every process started for a test: @{ Root; Name; Pid; Endpoint; DataRoot }.
$script:Registry = [System.Collections.Generic.List[object]]::new()

function Import-PSSwarmUnderTest {
    <# Imports the module under test into the global scope: $env:PSSWARM_TEST_MODULE, else the staged build in out/. #>
    [CmdletBinding()]
    param()
    $path = if ($env:PSSWARM_TEST_MODULE) { $env:PSSWARM_TEST_MODULE } else { Join-Path $PSScriptRoot '../out/PSSwarm/PSSwarm.psd1' }
    if (-not (Test-Path -LiteralPath $path)) {
        throw "The module under test was not found at '$path'. Build it (dotnet pwsh ./build.ps1 Build) or set `$env:PSSWARM_TEST_MODULE."
    }
    Import-Module $path -Force -Global -ErrorAction Stop -PassThru
}

function Get-PSSwarmDaemonPath {
    <# The psswarmd executable that ships with the imported module. #>
    [CmdletBinding()]
    param()
    $module = Get-Module PSSwarm | Select-Object -First 1
    if (-not $module) { throw 'PSSwarm is not imported: call Import-PSSwarmUnderTest first.' }
    Join-Path $module.ModuleBase 'daemon/psswarmd'
}

function New-TestRoot {
    <# A fresh, short folder /tmp/psswarm-tests/<Name>-<random> (Unix socket paths must stay short). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Name)
    $null = New-Item -ItemType Directory -Force -Path $script:TestBase
    do {
        $suffix = -join ((1..6) | ForEach-Object { [char](Get-Random -InputObject (97..122)) })
        $path = Join-Path $script:TestBase "$Name-$suffix"
    } while (Test-Path -LiteralPath $path)
    $null = New-Item -ItemType Directory -Path $path
    $path
}

function Register-TestProcess {
    <# Records a process started by a test so that Remove-TestRoot stops it. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Root,
        [Parameter(Mandatory)] [int] $ProcessId,
        [string] $Name,
        [string] $Endpoint,
        [string] $DataRoot
    )
    $script:Registry.Add([pscustomobject]@{
            Root = $Root; Name = $Name; Pid = $ProcessId; Endpoint = $Endpoint; DataRoot = $DataRoot
        })
}

function Test-ProcessAlive {
    <# True while the process exists and is not a zombie. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [int] $ProcessId)
    $statPath = "/proc/$ProcessId/stat"
    if (-not (Test-Path -LiteralPath $statPath)) { return $false }
    try {
        $stat = [System.IO.File]::ReadAllText($statPath)
        # the state is the field after the ')' that closes the command name
        $state = $stat.Substring($stat.LastIndexOf(')') + 2, 1)
        return $state -ne 'Z' -and $state -ne 'X'
    }
    catch { return $false }
}

function Get-ProcessCommandLine {
    <# The argv of a process, from /proc/<pid>/cmdline (empty when it is gone). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [int] $ProcessId)
    try {
        $raw = [System.IO.File]::ReadAllText("/proc/$ProcessId/cmdline")
        @($raw.Split([char]0, [StringSplitOptions]::RemoveEmptyEntries))
    }
    catch { @() }
}

function Wait-ProcessExit {
    <# Waits until the process is gone; returns $true if it exited within the timeout. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [int] $ProcessId, [int] $TimeoutMilliseconds = 5000)
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    while ($sw.ElapsedMilliseconds -lt $TimeoutMilliseconds) {
        if (-not (Test-ProcessAlive $ProcessId)) { return $true }
        Start-Sleep -Milliseconds 50
    }
    -not (Test-ProcessAlive $ProcessId)
}

function Wait-Until {
    <#
    Polls the condition until it returns a truthy value; returns that value.
    Throws "timed out after N s waiting for <Because>" when it never does.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [scriptblock] $Condition,
        [double] $TimeoutSeconds = 10,
        [int] $IntervalMilliseconds = 100,
        [string] $Because = 'the condition'
    )
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $lastError = $null
    while ($true) {
        try {
            $value = & $Condition
            if ($value) { return $value }
        }
        catch { $lastError = $_ }
        if ($sw.Elapsed.TotalSeconds -ge $TimeoutSeconds) {
            $detail = if ($lastError) { " (last error: $lastError)" } else { '' }
            throw "Timed out after $TimeoutSeconds s waiting for $Because$detail"
        }
        Start-Sleep -Milliseconds $IntervalMilliseconds
    }
}

function Start-TestNode {
    <#
    Starts psswarmd for one test node: data root <Root>/<Name>, endpoint unix://<Root>/<Name>.sock.
    By default through Start-SwarmDaemon -PassThru. With -NetNs, psswarmd is started directly inside
    that network namespace (nsenter --net=/run/netns/<NetNs>), its output going to <Root>/<Name>.out,
    and this waits until the endpoint answers.
    Returns: Name, Endpoint, DataRoot, Pid, Ip, Listen ("<Ip>:2377"), Info (the SwarmDaemonInfo), Root.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Root,
        [Parameter(Mandatory)] [string] $Name,
        [string] $Ip,
        [string] $NetNs,
        [string] $LogLevel
    )
    $dataRoot = Join-Path $Root $Name
    $endpoint = "unix://$(Join-Path $Root "$Name.sock")"
    $info = $null
    if ($NetNs) {
        $daemon = Get-PSSwarmDaemonPath
        $arguments = @("--net=/run/netns/$NetNs", $daemon, '--data-root', $dataRoot, '--host', $endpoint, '--node-name', $Name)
        if ($LogLevel) { $arguments += @('--log-level', $LogLevel) }
        $process = Start-Process -FilePath (Get-Command nsenter -CommandType Application | Select-Object -First 1).Source `
            -ArgumentList $arguments -PassThru `
            -RedirectStandardOutput (Join-Path $Root "$Name.out") -RedirectStandardError (Join-Path $Root "$Name.err")
        Register-TestProcess -Root $Root -ProcessId $process.Id -Name $Name -Endpoint $endpoint -DataRoot $dataRoot
        $processId = $process.Id
        try {
            $null = Wait-Until -TimeoutSeconds 20 -Because "psswarmd '$Name' in namespace $NetNs to answer on $endpoint" -Condition {
                if (-not (Test-ProcessAlive $processId)) { throw "psswarmd '$Name' exited: $(Get-Content -Raw -ErrorAction Ignore (Join-Path $Root "$Name.err"))" }
                $null -ne (Get-Swarm -Endpoint $endpoint -ErrorAction Stop)
            }
        }
        catch {
            throw "Start-TestNode: $($_.Exception.Message)"
        }
    }
    else {
        $params = @{ DataRoot = $dataRoot; Endpoint = $endpoint; NodeName = $Name; PassThru = $true; ErrorAction = 'Stop' }
        if ($LogLevel) { $params.LogLevel = $LogLevel }
        try { $info = Start-SwarmDaemon @params }
        catch {
            # A daemon that did not answer in time keeps running: this test started it, so it stops it now
            # (not when the refusal is that a daemon already runs there: that one is not this call's).
            if ("$($_.FullyQualifiedErrorId)" -notlike 'SwarmDaemonRunning*') { Stop-UnregisteredDaemon -DataRoot $dataRoot }
            throw
        }
        $processId = [int]$info.ProcessId
        Register-TestProcess -Root $Root -ProcessId $processId -Name $Name -Endpoint $endpoint -DataRoot $dataRoot
    }
    [pscustomobject]@{
        PSTypeName = 'PSSwarmTest.Node'
        Name       = $Name
        Root       = $Root
        Endpoint   = $endpoint
        DataRoot   = $dataRoot
        SocketPath = Join-Path $Root "$Name.sock"
        Pid        = $processId
        Ip         = $Ip
        Listen     = if ($Ip) { "${Ip}:2377" } else { $null }
        Info       = $info
    }
}

function Stop-TestNode {
    <#
    Stops a test node: Stop-SwarmDaemon on its endpoint, then waits for its PID to exit;
    falls back to kill -9 <pid> when that fails. Never stops anything by name.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipeline)] [object] $Node,
        [int] $TimeoutMilliseconds = 10000
    )
    process {
        if (-not (Test-ProcessAlive $Node.Pid)) { return }
        try { $null = Stop-SwarmDaemon -Endpoint $Node.Endpoint -ErrorAction Stop }
        catch { Write-Verbose "Stop-SwarmDaemon -Endpoint $($Node.Endpoint) failed: $_" }
        if (-not (Wait-ProcessExit -ProcessId $Node.Pid -TimeoutMilliseconds $TimeoutMilliseconds)) {
            Write-Warning "psswarmd '$($Node.Name)' (pid $($Node.Pid)) did not stop; killing it with SIGKILL"
            & kill -9 $Node.Pid 2>$null
            $null = Wait-ProcessExit -ProcessId $Node.Pid -TimeoutMilliseconds 5000
        }
    }
}

function Stop-TestProcessById {
    # SIGKILL one registered process, after checking that the PID still belongs to it.
    param([object] $Entry)
    if (-not (Test-ProcessAlive $Entry.Pid)) { return }
    $argv = Get-ProcessCommandLine $Entry.Pid
    # Guard against PID reuse: only a psswarmd (or nsenter) started for this root.
    if (-not (($argv -join ' ') -like "*$($Entry.Root)*")) { return }
    if ($Entry.Endpoint) {
        try {
            $null = Stop-SwarmDaemon -Endpoint $Entry.Endpoint -ErrorAction Stop
            if (Wait-ProcessExit -ProcessId $Entry.Pid -TimeoutMilliseconds 5000) { return }
        }
        catch { Write-Verbose "Stop-SwarmDaemon failed for pid $($Entry.Pid): $_" }
    }
    & kill -9 $Entry.Pid 2>$null
    $null = Wait-ProcessExit -ProcessId $Entry.Pid -TimeoutMilliseconds 5000
}

function Reset-TestNode {
    <# For AfterEach: makes the node leave its swarm (Exit-Swarm -Force) if it is in one; never throws. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [object] $Node)
    try {
        $state = (Get-Swarm -Endpoint $Node.Endpoint -ErrorAction Stop).LocalNodeState
        if ("$state" -ne 'Inactive') { Exit-Swarm -Endpoint $Node.Endpoint -Force -Confirm:$false -ErrorAction Stop }
    }
    catch { Write-Warning "Reset-TestNode $($Node.Name): $_" }
}

function Stop-UnregisteredDaemon {
    <#
    Stops, by PID, every psswarmd whose --data-root is DataRoot, or lies under Under: daemons a test
    started whose start failed or timed out before their PID was registered (a loaded host).
    #>
    [CmdletBinding()]
    param([string] $DataRoot, [string] $Under)
    foreach ($dir in @(Get-ChildItem -LiteralPath /proc -Directory -ErrorAction SilentlyContinue | Where-Object Name -Match '^\d+$')) {
        $argv = @(Get-ProcessCommandLine ([int]$dir.Name))
        if ($argv.Count -lt 3 -or (Split-Path -Leaf $argv[0]) -ne 'psswarmd') { continue }
        $at = [array]::IndexOf($argv, '--data-root')
        if ($at -lt 0 -or $at + 1 -ge $argv.Count) { continue }
        $daemonRoot = $argv[$at + 1]
        if (-not (($DataRoot -and $daemonRoot -eq $DataRoot) -or ($Under -and $daemonRoot.StartsWith("$Under/")))) { continue }
        Write-Warning "Stopping unregistered psswarmd pid $($dir.Name): $($argv -join ' ')"
        & kill -TERM ([int]$dir.Name) 2>$null
        if (-not (Wait-ProcessExit -ProcessId ([int]$dir.Name) -TimeoutMilliseconds 5000)) { & kill -9 ([int]$dir.Name) 2>$null }
    }
}

function Remove-TestRoot {
    <# Stops (by PID) every process registered under the root, and any unregistered psswarmd on a data root in it, then deletes the folder. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [AllowNull()] [AllowEmptyString()] [string] $Root)
    if (-not $Root) { return }
    $entries = @($script:Registry | Where-Object { $_.Root -eq $Root })
    foreach ($entry in $entries) {
        try { Stop-TestProcessById $entry } catch { Write-Warning "Could not stop pid $($entry.Pid): $_" }
        $null = $script:Registry.Remove($entry)
    }
    Stop-UnregisteredDaemon -Under $Root
    if ($Root.StartsWith("$script:TestBase/") -and (Test-Path -LiteralPath $Root)) {
        Remove-Item -LiteralPath $Root -Recurse -Force -ErrorAction SilentlyContinue
    }
}

function Get-TestNodeLog {
    <# The daemon log of a node (<DataRoot>/psswarmd.log, plus <Root>/<Name>.out/.err for directly started daemons). #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipeline)] [object] $Node,
        [int] $Tail = 60
    )
    process {
        $files = @(
            Join-Path $Node.DataRoot 'psswarmd.log'
            Join-Path $Node.Root "$($Node.Name).out"
            Join-Path $Node.Root "$($Node.Name).err"
        ) | Where-Object { Test-Path -LiteralPath $_ }
        foreach ($file in $files) {
            "----- $file (last $Tail lines) -----"
            Get-Content -LiteralPath $file -Tail $Tail
        }
    }
}

function Test-PesterErrorState {
    # Pester 5 keeps the errors of the running test in the hashtable $______parameters.ErrorRecord,
    # visible to AfterEach (the test's Passed flag is only set after the teardowns).
    param([System.Management.Automation.SessionState] $SessionState)
    $parameters = $SessionState.PSVariable.GetValue('______parameters')
    if ($parameters -is [System.Collections.IDictionary] -and $parameters.Contains('ErrorRecord')) {
        return @($parameters['ErrorRecord']).Count -gt 0
    }
    $false
}

function Test-CurrentTestFailed {
    <# In AfterEach: whether the test that just ran has failed so far (reads Pester 5's runtime state). #>
    [CmdletBinding()]
    param()
    Test-PesterErrorState $PSCmdlet.SessionState
}

function Write-TestNodeLogOnFailure {
    <# For AfterEach: when the current test failed, prints the logs of every node registered under the root. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [AllowNull()] [string] $Root, [int] $Tail = 15)
    if (-not $Root -or -not (Test-PesterErrorState $PSCmdlet.SessionState)) { return }
    $seen = @{}
    foreach ($entry in @($script:Registry | Where-Object { $_.Root -eq $Root })) {
        if ($seen.ContainsKey($entry.Name)) { continue }
        $seen[$entry.Name] = $true
        $node = [pscustomobject]@{ Name = $entry.Name; Root = $entry.Root; DataRoot = $entry.DataRoot }
        $lines = Get-TestNodeLog -Node $node -Tail $Tail | ForEach-Object { if ($_.Length -gt 400) { $_.Substring(0, 400) + ' ...' } else { $_ } }
        Write-Host ($lines -join [Environment]::NewLine)
    }
}

function Get-FileMode {
    <# The octal permission bits of a path, as stat -c %a prints them (e.g. '700'). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)
    $mode = & stat -c '%a' -- $Path 2>$null
    if ($LASTEXITCODE -ne 0) { return $null }
    "$mode".Trim()
}

function Get-FileKind {
    <# The file type as stat -c %F prints it (e.g. 'socket', 'directory', 'regular file'). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)
    $kind = & stat -c '%F' -- $Path 2>$null
    if ($LASTEXITCODE -ne 0) { return $null }
    "$kind".Trim()
}

function Test-TcpPort {
    <# True if a TCP connection to Address:Port is accepted within the timeout. Only for 127.0.0.0/8. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Address, [int] $Port = 2377, [int] $TimeoutMilliseconds = 2000)
    Assert-LoopbackAddress $Address
    $client = [System.Net.Sockets.TcpClient]::new()
    try {
        $task = $client.ConnectAsync($Address, $Port)
        $task.Wait($TimeoutMilliseconds) -and $client.Connected
    }
    catch { $false }
    finally { $client.Dispose() }
}

function Assert-LoopbackAddress {
    param([string] $Address)
    $ip = $null
    if (-not [System.Net.IPAddress]::TryParse($Address, [ref]$ip) -or -not [System.Net.IPAddress]::IsLoopback($ip)) {
        throw "Refusing to connect to '$Address': the test suite only talks to 127.0.0.0/8."
    }
}

function Get-TlsServerCertificate {
    <#
    Connects to Address:Port with TLS (no client certificate, any server certificate accepted,
    ALPN h2 offered) and returns the server certificate and the negotiated protocol.
    The handshake runs synchronously on this thread (the validation callback is a script block).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Address, [int] $Port = 2377, [int] $TimeoutMilliseconds = 5000)
    Assert-LoopbackAddress $Address
    $client = [System.Net.Sockets.TcpClient]::new()
    try {
        if (-not $client.ConnectAsync($Address, $Port).Wait($TimeoutMilliseconds)) { throw "TCP connect to ${Address}:$Port timed out" }
        $client.ReceiveTimeout = $TimeoutMilliseconds
        $client.SendTimeout = $TimeoutMilliseconds
        $callback = [System.Net.Security.RemoteCertificateValidationCallback] { param($s, $c, $ch, $e) $true }
        $ssl = [System.Net.Security.SslStream]::new($client.GetStream(), $false, $callback)
        try {
            $options = [System.Net.Security.SslClientAuthenticationOptions]::new()
            $options.TargetHost = 'swarm-ca'
            $options.ApplicationProtocols = [System.Collections.Generic.List[System.Net.Security.SslApplicationProtocol]]::new()
            $options.ApplicationProtocols.Add([System.Net.Security.SslApplicationProtocol]::Http2)
            $ssl.AuthenticateAsClient($options)
            [pscustomobject]@{
                Certificate = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($ssl.RemoteCertificate)
                Protocol    = "$($ssl.NegotiatedApplicationProtocol)"
            }
        }
        finally { $ssl.Dispose() }
    }
    finally { $client.Dispose() }
}

function Test-CertificateChain {
    <# True when the certificate chains to the given root (custom trust store only, no revocation check). #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate,
        [Parameter(Mandatory)] [System.Security.Cryptography.X509Certificates.X509Certificate2] $Root
    )
    $chain = [System.Security.Cryptography.X509Certificates.X509Chain]::new()
    try {
        $chain.ChainPolicy.TrustMode = [System.Security.Cryptography.X509Certificates.X509ChainTrustMode]::CustomRootTrust
        $chain.ChainPolicy.RevocationMode = [System.Security.Cryptography.X509Certificates.X509RevocationMode]::NoCheck
        $null = $chain.ChainPolicy.CustomTrustStore.Add($Root)
        $chain.Build($Certificate)
    }
    finally { $chain.Dispose() }
}

function ConvertTo-DockerPem {
    <# The PEM text Docker writes for a certificate: 64-character base64 lines, LF line ends, a trailing LF. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [byte[]] $Der)
    $b64 = [Convert]::ToBase64String($Der)
    $lines = for ($i = 0; $i -lt $b64.Length; $i += 64) { $b64.Substring($i, [Math]::Min(64, $b64.Length - $i)) }
    "-----BEGIN CERTIFICATE-----`n" + ($lines -join "`n") + "`n-----END CERTIFICATE-----`n"
}

function ConvertTo-Base36 {
    <# A byte string read as an unsigned big-endian integer, in base 36 (0-9a-z), left-padded with 0 to Width. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [byte[]] $Bytes, [int] $Width = 0)
    $n = [System.Numerics.BigInteger]::new([byte[]]$Bytes, $true, $true)
    $alphabet = '0123456789abcdefghijklmnopqrstuvwxyz'
    $sb = [System.Text.StringBuilder]::new()
    while ($n -gt [System.Numerics.BigInteger]::Zero) {
        $rem = [int][System.Numerics.BigInteger]::Remainder($n, 36)
        $null = $sb.Insert(0, $alphabet[$rem])
        $n = [System.Numerics.BigInteger]::Divide($n, 36)
    }
    $sb.ToString().PadLeft($Width, '0')
}

function Get-JoinTokenDigest {
    <# The 50-character digest part a join token must carry for this root CA (SHA-256 of Docker's PEM text). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [System.Security.Cryptography.X509Certificates.X509Certificate2] $RootCertificate)
    $pem = ConvertTo-DockerPem -Der $RootCertificate.RawData
    $hash = [System.Security.Cryptography.SHA256]::HashData([System.Text.Encoding]::ASCII.GetBytes($pem))
    ConvertTo-Base36 -Bytes $hash -Width 50
}

function Split-JoinToken {
    <# SWMTKN-1-<digest>-<secret> into its parts. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Token)
    $parts = $Token.Split('-')
    [pscustomobject]@{ Prefix = $parts[0]; Version = $parts[1]; Digest = $parts[2]; Secret = $parts[3]; PartCount = $parts.Count }
}

function Get-ErrorRecord {
    <# Runs the script block and returns the ErrorRecord it throws (or $null when it does not throw). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [scriptblock] $ScriptBlock)
    try { $null = & $ScriptBlock; $null }
    catch { $_ }
}

function Get-DistinguishedNamePart {
    <# The value of one RDN (CN, OU, O) of an X500 distinguished name. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Part)
    foreach ($rdn in ($Name -split ',\s*')) {
        $kv = $rdn -split '=', 2
        if ($kv.Count -eq 2 -and $kv[0].Trim() -eq $Part) { return $kv[1].Trim() }
    }
    $null
}

Export-ModuleMember -Function Import-PSSwarmUnderTest, Get-PSSwarmDaemonPath, New-TestRoot, Register-TestProcess,
Test-ProcessAlive, Get-ProcessCommandLine, Wait-ProcessExit, Wait-Until, Start-TestNode, Stop-TestNode, Reset-TestNode, Remove-TestRoot,
Get-TestNodeLog, Test-CurrentTestFailed, Write-TestNodeLogOnFailure, Get-FileMode, Get-FileKind, Test-TcpPort,
Get-TlsServerCertificate, Test-CertificateChain, ConvertTo-DockerPem, ConvertTo-Base36, Get-JoinTokenDigest,
Split-JoinToken, Get-ErrorRecord, Get-DistinguishedNamePart
