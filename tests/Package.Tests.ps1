#Requires -Version 7.4
# The package (issue 9 item 1): build.ps1 Package turns the staged module into PSSwarm.<version>.nupkg;
# a child pwsh whose HOME, XDG_* folders, PSModulePath and working folder are all in $TestDrive (so the
# repository registration and the CurrentUser install never touch the real profile) registers a folder
# repository, installs the package with Install-PSResource, imports PSSwarm by name and runs a swarm from
# the installed copy; then uninstalls it. The daemon's execute bit (lost in the zip) is restored by
# Start-SwarmDaemon, and a daemon that cannot be made executable is a clear error.
# Loopback addresses: 127.0.52.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    $root = New-TestRoot -Name pkg
    $pwsh = Join-Path $PSHOME 'pwsh'
    $sourceVersion = (Import-PowerShellDataFile (Join-Path $PSScriptRoot '../PSSwarm.psd1')).ModuleVersion

    # The staged module under test (as Import-PSSwarmUnderTest finds it), copied to <TestDrive>/out/PSSwarm
    # so that build.ps1 Package -NoBuild -OutputRoot <TestDrive>/out packages it without writing into out/.
    $stagedManifest = if ($env:PSSWARM_TEST_MODULE) { $env:PSSWARM_TEST_MODULE } else { Join-Path $PSScriptRoot '../out/PSSwarm/PSSwarm.psd1' }
    if (-not (Test-Path -LiteralPath $stagedManifest)) { throw "No staged module at ${stagedManifest}: run 'dotnet pwsh ./build.ps1 Build' first." }
    $outRoot = Join-Path $TestDrive 'out'
    $null = New-Item -ItemType Directory $outRoot
    Copy-Item (Split-Path ([IO.Path]::GetFullPath($stagedManifest))) (Join-Path $outRoot 'PSSwarm') -Recurse

    # The isolated profile of every child process.
    $homeDir = Join-Path $TestDrive 'home'
    $dataHome = Join-Path $homeDir '.local/share'
    $userModules = Join-Path $dataHome 'powershell/Modules'
    $workDir = Join-Path $TestDrive 'cwd'
    # XDG_DATA_HOME must exist: when it does not, .NET reports no LocalApplicationData and PSResourceGet
    # writes its repository store to ./PSResourceGet in the working folder.
    foreach ($dir in $dataHome, (Join-Path $homeDir '.config'), (Join-Path $homeDir '.cache'), $workDir) { $null = New-Item -ItemType Directory $dir -Force }
    $realStore = Join-Path ([Environment]::GetFolderPath('UserProfile')) '.local/share/PSResourceGet/PSResourceRepository.xml'
    $realStoreBefore = if (Test-Path $realStore) { (Get-Item $realStore).LastWriteTimeUtc } else { $null }

    # Runs a child process with the isolated environment; bounded (killed after the timeout). Returns
    # ExitCode, Out, Err, TimedOut. $Prefix runs it through another program (unshare).
    function Invoke-Isolated {
        param([Parameter(Mandatory)] [string[]] $ArgumentList, [string[]] $Prefix = @(), [int] $TimeoutSeconds = 180)
        $argv = @($Prefix) + @($pwsh, '-NoProfile', '-NonInteractive') + $ArgumentList
        $psi = [Diagnostics.ProcessStartInfo]::new($argv[0])
        foreach ($a in $argv | Select-Object -Skip 1) { $psi.ArgumentList.Add($a) }
        $psi.UseShellExecute = $false
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.WorkingDirectory = $workDir
        $psi.Environment['HOME'] = $homeDir
        $psi.Environment['XDG_DATA_HOME'] = $dataHome
        $psi.Environment['XDG_CONFIG_HOME'] = Join-Path $homeDir '.config'
        $psi.Environment['XDG_CACHE_HOME'] = Join-Path $homeDir '.cache'
        $psi.Environment['PSModulePath'] = $userModules
        $psi.Environment['NO_COLOR'] = '1'
        foreach ($name in 'PSSWARM_HOST', 'PSSWARM_TEST_MODULE') { $null = $psi.Environment.Remove($name) }
        $process = [Diagnostics.Process]::Start($psi)
        try {
            $out = $process.StandardOutput.ReadToEndAsync()
            $err = $process.StandardError.ReadToEndAsync()
            $exited = $process.WaitForExit($TimeoutSeconds * 1000)
            if (-not $exited) { $process.Kill($true); $null = $process.WaitForExit(5000) }
            else { $process.WaitForExit() }
            [pscustomobject]@{
                ExitCode = if ($exited) { $process.ExitCode } else { $null }
                Out      = $out.GetAwaiter().GetResult()
                Err      = $err.GetAwaiter().GetResult()
                TimedOut = -not $exited
            }
        }
        finally { $process.Dispose() }
    }
    function Format-Child($run) { "exit $($run.ExitCode)$(if ($run.TimedOut) { ' (timed out)' }); stdout: $($run.Out.Trim()); stderr: $($run.Err.Trim())" }

    # build.ps1 Package, the real task, in the isolated environment.
    $package = Invoke-Isolated -ArgumentList @('-File', (Join-Path $PSScriptRoot '../build.ps1'), 'Package', '-NoBuild', '-OutputRoot', $outRoot)
    $nupkgPath = Join-Path $outRoot "PSSwarm.$sourceVersion.nupkg"
    $repo = Join-Path $TestDrive 'repo'
    $null = New-Item -ItemType Directory $repo
    if (Test-Path $nupkgPath) { Copy-Item $nupkgPath $repo }
}

AfterAll {
    # The daemon the child started, by the PID it wrote (Remove-TestRoot checks its command line names $root).
    foreach ($file in Get-ChildItem $root -Filter '*.pid' -ErrorAction Ignore) {
        $daemonPid = [int](Get-Content $file.FullName -Raw)
        Register-TestProcess -Root $root -ProcessId $daemonPid -Name $file.BaseName -Endpoint "unix://$root/$($file.BaseName).sock" -DataRoot (Join-Path $root $file.BaseName)
    }
    Remove-TestRoot $root
}

Describe 'build.ps1 Package' {
    It 'writes PSSwarm.(version).nupkg into the output root, with the version of PSSwarm.psd1' {
        $package.ExitCode | Should -Be 0 -Because (Format-Child $package)
        $nupkgPath | Should -Exist
        $package.Out | Should -BeLike "*Packaged $nupkgPath*"
    }

    Context 'the package' {
        BeforeAll {
            Add-Type -AssemblyName System.IO.Compression.FileSystem
            $zip = [IO.Compression.ZipFile]::OpenRead($nupkgPath)
            try {
                $entries = @($zip.Entries | ForEach-Object FullName)
                $nuspecEntry = $zip.Entries | Where-Object FullName -eq 'PSSwarm.nuspec'
                $reader = [IO.StreamReader]::new($nuspecEntry.Open())
                try { $nuspec = [xml]$reader.ReadToEnd() } finally { $reader.Dispose() }
            }
            finally { $zip.Dispose() }
            $metadata = $nuspec.package.metadata
        }

        It 'names PSSwarm at the manifest version, tagged for PowerShell 7 on Linux' {
            $metadata.id | Should -Be 'PSSwarm'
            $metadata.version | Should -Be $sourceVersion
            $metadata.tags -split ' ' | Should -Contain 'PSEdition_Core'
            $metadata.tags -split ' ' | Should -Contain 'Linux'
            $metadata.description | Should -Not -BeNullOrEmpty
        }

        It 'contains <_>' -ForEach @('PSSwarm.psd1', 'PSSwarm.dll', 'PSSwarm.format.ps1xml', 'PSSwarm.types.ps1xml',
            'en-US/PSSwarm.dll-Help.xml', 'en-US/about_PSSwarm.help.txt', 'daemon/psswarmd', 'daemon/psswarmd.dll') {
            $entries | Should -Contain $_
        }

        It 'contains no debug symbols, obj/ files or test assemblies' {
            @($entries | Where-Object { $_ -like '*.pdb' }) | Should -BeNullOrEmpty
            @($entries | Where-Object { $_ -match '(^|/)obj/' }) | Should -BeNullOrEmpty
            @($entries | Where-Object { $_ -match '(?i)(\.Tests\.dll$|(^|/)xunit\.|testhost|Pester)' }) | Should -BeNullOrEmpty
        }
    }
}

Describe 'Install-PSResource from a folder repository' {
    BeforeAll {
        $ip = '127.0.52.1'
        $installScript = Join-Path $TestDrive 'install.ps1'
        $resultFile = Join-Path $TestDrive 'install.json'
        Set-Content $installScript -Value @'
param([string] $Repo, [string] $Root, [string] $Ip, [string] $ResultFile)
$ErrorActionPreference = 'Stop'
$r = [ordered]@{}
function Get-Mode([string] $Path) { "$(& stat -c '%a' -- $Path)".Trim() }
try {
    Register-PSResourceRepository -Name PSSwarmTest -Uri $Repo -Trusted
    $r.repositoryStore = @(Get-ChildItem (Join-Path $env:XDG_DATA_HOME 'PSResourceGet') -Filter *.xml).FullName
    Install-PSResource -Name PSSwarm -Repository PSSwarmTest -TrustRepository -Scope CurrentUser
    $installed = Get-InstalledPSResource -Name PSSwarm
    $r.installedVersion = "$($installed.Version)"
    $available = @(Get-Module PSSwarm -ListAvailable)
    $r.available = @($available.ModuleBase)
    $r.daemonModeInstalled = Get-Mode (Join-Path $available[0].ModuleBase 'daemon/psswarmd')

    $m = Import-Module PSSwarm -PassThru
    $r.moduleBase = $m.ModuleBase
    $r.moduleVersion = "$($m.Version)"
    $r.cmdletCount = $m.ExportedCmdlets.Count
    $r.manifestName = (Test-ModuleManifest (Join-Path $m.ModuleBase 'PSSwarm.psd1')).Name
    $help = Get-Help Initialize-Swarm -Full
    $r.helpDescription = ($help.description | Out-String).Trim()
    $r.helpExamples = @($help.examples.example).Count
    $r.aboutHelp = (Get-Help about_PSSwarm | Out-String).Trim().Length

    $endpoint = "unix://$Root/n1.sock"
    $d = Start-SwarmDaemon -DataRoot (Join-Path $Root 'n1') -Endpoint $endpoint -NodeName pkg1 -PassThru
    Set-Content (Join-Path $Root 'n1.pid') $d.ProcessId
    $r.daemonPid = $d.ProcessId
    $r.daemonExe = "$(& readlink "/proc/$($d.ProcessId)/exe")".Trim()
    $r.daemonModeStarted = Get-Mode (Join-Path $m.ModuleBase 'daemon/psswarmd')
    $null = Initialize-Swarm -Endpoint $endpoint -ListenAddress "${Ip}:2377" -AdvertiseAddress $Ip
    $r.localNodeState = "$((Get-Swarm -Endpoint $endpoint).LocalNodeState)"
    Stop-SwarmDaemon -Endpoint $endpoint
    $sw = [Diagnostics.Stopwatch]::StartNew()
    while ((Test-Path "/proc/$($d.ProcessId)") -and $sw.Elapsed.TotalSeconds -lt 15) { Start-Sleep -Milliseconds 50 }
    $r.daemonGone = -not (Test-Path "/proc/$($d.ProcessId)")
}
catch { $r.error = "$($_.Exception.Message) ($($_.FullyQualifiedErrorId)) $($_.InvocationInfo.PositionMessage)" }
finally { $r | ConvertTo-Json -Depth 4 | Set-Content $ResultFile }
'@
        $install = Invoke-Isolated -ArgumentList @('-File', $installScript, '-Repo', $repo, '-Root', $root, '-Ip', $ip, '-ResultFile', $resultFile)
        $r = if (Test-Path $resultFile) { Get-Content $resultFile -Raw | ConvertFrom-Json } else { [pscustomobject]@{ error = 'no result file' } }
        $because = "$($r.PSObject.Properties['error'].Value) / $(Format-Child $install)"
    }

    It 'registers the repository and installs into the temporary profile only' {
        $install.ExitCode | Should -Be 0 -Because $because
        $r.PSObject.Properties['error'] | Should -BeNullOrEmpty -Because $because
        $r.repositoryStore | Should -Be (Join-Path $dataHome 'PSResourceGet/PSResourceRepository.xml')
        $r.installedVersion | Should -Be $sourceVersion
        $r.available | Should -HaveCount 1
        $r.available[0] | Should -Be (Join-Path $userModules "PSSwarm/$sourceVersion")
        Test-Path (Join-Path $workDir 'PSResourceGet') | Should -BeFalse
        $after = if (Test-Path $realStore) { (Get-Item $realStore).LastWriteTimeUtc } else { $null }
        $after | Should -Be $realStoreBefore -Because "the real repository store $realStore is not touched"
    }

    It 'imports PSSwarm by name from the install folder, with a valid manifest' {
        $r.moduleBase | Should -Be (Join-Path $userModules "PSSwarm/$sourceVersion") -Because $because
        $r.moduleVersion | Should -Be $sourceVersion
        $r.manifestName | Should -Be 'PSSwarm'
        $r.cmdletCount | Should -Be @((Import-PowerShellDataFile (Join-Path $PSScriptRoot '../PSSwarm.psd1')).CmdletsToExport).Count
    }

    It 'has its MAML help and about_PSSwarm' {
        $r.helpDescription | Should -Not -BeNullOrEmpty -Because $because
        $r.helpExamples | Should -BeGreaterThan 0
        $r.aboutHelp | Should -BeGreaterThan 1000
    }

    It 'runs the installed daemon, made executable by Start-SwarmDaemon' {
        $r.daemonExe | Should -Be (Join-Path $userModules "PSSwarm/$sourceVersion/daemon/psswarmd") -Because $because
        $r.daemonModeStarted | Should -Match '^[0-7]*[1357][0-7][0-7]$' -Because "the owner may execute it (mode after Install-PSResource: $($r.daemonModeInstalled))"
    }

    It 'initializes a swarm on 127.0.52.1 from the installed copy and stops the daemon' {
        $r.localNodeState | Should -Be 'Active' -Because $because
        $r.daemonGone | Should -BeTrue
    }

    Context 'when the daemon cannot be made executable' {
        BeforeAll {
            # A copy of the installed module with the daemon 0644, on a read-only bind mount in the child's
            # own mount namespace (unshare --mount: the mount never leaves that process).
            $roModule = Join-Path $TestDrive 'ro/PSSwarm'
            $null = New-Item -ItemType Directory (Split-Path $roModule)
            $installedBase = Join-Path $userModules "PSSwarm/$sourceVersion"
            if (Test-Path $installedBase) { Copy-Item $installedBase $roModule -Recurse }
            $roDaemon = Join-Path $roModule 'daemon/psswarmd'
            if (Test-Path $roDaemon) { & chmod 0644 $roDaemon }
            $roScript = Join-Path $TestDrive 'ro.ps1'
            $roResult = Join-Path $TestDrive 'ro.json'
            Set-Content $roScript -Value @'
param([string] $Manifest, [string] $Root, [string] $ResultFile)
$r = [ordered]@{}
try {
    Import-Module $Manifest -ErrorAction Stop
    try { $null = Start-SwarmDaemon -DataRoot (Join-Path $Root 'ro') -Endpoint "unix://$Root/ro.sock" -ErrorAction Stop; $r.started = $true }
    catch { $r.errorId = $_.FullyQualifiedErrorId; $r.category = "$($_.CategoryInfo.Category)"; $r.message = $_.Exception.Message }
    $r.mode = "$(& stat -c '%a' -- (Join-Path (Split-Path $Manifest) 'daemon/psswarmd'))".Trim()
}
catch { $r.error = "$_" }
$r | ConvertTo-Json | Set-Content $ResultFile
'@
            $canMount = (Get-Command unshare -ErrorAction Ignore) -and ((& id -u) -eq '0')
            if ($canMount -and (Test-Path $roDaemon)) {
                $mount = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 97; shift; exec "$@"'
                $ro = Invoke-Isolated -Prefix @('unshare', '--mount', '--propagation', 'private', 'sh', '-c', $mount, 'sh', $roModule) `
                    -ArgumentList @('-File', $roScript, '-Manifest', (Join-Path $roModule 'PSSwarm.psd1'), '-Root', $root, '-ResultFile', $roResult) -TimeoutSeconds 120
            }
        }

        It 'Start-SwarmDaemon fails with SwarmDaemonNotExecutable, saying what to do' {
            if (-not $canMount) { Set-ItResult -Skipped -Because 'a read-only bind mount needs root and unshare'; return }
            if ($ro.ExitCode -eq 97) { Set-ItResult -Skipped -Because "this machine refused the read-only bind mount: $($ro.Err)"; return }
            $ro.ExitCode | Should -Be 0 -Because (Format-Child $ro)
            $e = Get-Content $roResult -Raw | ConvertFrom-Json
            $e.PSObject.Properties['started'] | Should -BeNullOrEmpty -Because 'no daemon can start'
            $e.errorId | Should -BeLike 'SwarmDaemonNotExecutable,*'
            $e.category | Should -Be 'PermissionDenied'
            $e.message | Should -BeLike "*$roDaemon*chmod +x*"
            $e.mode | Should -Be '644'
            Test-Path (Join-Path $root 'ro.sock') | Should -BeFalse
        }
    }

    Context 'Uninstall-PSResource' {
        BeforeAll {
            $uninstall = Invoke-Isolated -ArgumentList @('-Command', 'Uninstall-PSResource -Name PSSwarm -Scope CurrentUser -ErrorAction Stop; @(Get-InstalledPSResource -Name PSSwarm -ErrorAction Ignore).Count')
        }

        It 'leaves nothing behind in the temporary module path' {
            $uninstall.ExitCode | Should -Be 0 -Because (Format-Child $uninstall)
            $uninstall.Out.Trim() | Should -Be '0'
            @(Get-ChildItem $userModules -Recurse -Force -ErrorAction Ignore).FullName | Should -BeNullOrEmpty
        }
    }
}
