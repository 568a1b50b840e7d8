<#
.SYNOPSIS
    The module's own costs: Import-Module time (cold and warm), the first cmdlet call after the import,
    the size of the package (build.ps1 Package) and of the staged module.
    Run: dotnet pwsh -NoProfile -File tools/bench/Module.ps1 -ModulePath /abs/out/PSSwarm/PSSwarm.psd1 [-Runs 5] [-OutputPath x.json]
.DESCRIPTION
    Each measured run is a NEW pwsh process ($PSHOME/pwsh -NoProfile -NonInteractive) that times, with a
    Stopwatch inside the process: Import-Module <ModulePath>, then the first Get-Swarm (a real psswarmd
    started here on a Unix socket in a temp folder, outside any swarm), then a second Get-Swarm. The wall
    time of the whole process (pwsh start-up included) is recorded too.
    Cold: before each run `sync` and `echo 3 > /proc/sys/vm/drop_caches` (page cache, dentries and inodes
    dropped: pwsh, .NET and the module are read from disk again); when that file cannot be written the
    figures are still taken and the note "page cache not dropped" says they are not cold.
    Warm: one unmeasured run, then -Runs runs with every file in the page cache.
    Package: the staged module copied to a temp folder and packed by the real task
    (build.ps1 Package -NoBuild -OutputRoot <temp>) in a child pwsh whose HOME/XDG_DATA_HOME are in the
    temp folder (PSResourceGet's repository store is not touched).
    Medians of -Runs each. The daemon is stopped by PID and the temp folder removed in a finally block.
    Emits one object (importColdMs, importWarmMs, firstCallMs, firstCallColdMs, processWarmMs, nupkgBytes,
    nupkgMB, stagedBytes, stagedMB, details); -OutputPath also writes it as JSON. Exit code: non-zero only
    when the run failed with an error.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [ValidateRange(1, 50)] [int] $Runs = 5,
    [string] $OutputPath
)
$ErrorActionPreference = 'Stop'
$clock = [Diagnostics.Stopwatch]::StartNew()
$ModulePath = [IO.Path]::GetFullPath($ModulePath)
$moduleDir = Split-Path $ModulePath
Import-Module $ModulePath -Force
Import-Module (Join-Path $PSScriptRoot 'Processes.psm1') -Force
$pwsh = Join-Path $PSHOME 'pwsh'
$buildScript = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../build.ps1'))

$root = Join-Path ([IO.Path]::GetTempPath()) "psswarm-module-$PID"
New-Item -ItemType Directory $root -Force | Out-Null
$startedPids = [Collections.Generic.List[int]]::new()
$exitCode = 0

$mod = [ordered]@{
    importColdMs    = $null
    importWarmMs    = $null
    firstCallMs     = $null   # warm process: the first Get-Swarm after Import-Module
    firstCallColdMs = $null
    processWarmMs   = $null   # wall time of a whole warm pwsh -File (start-up, import, two calls, exit)
    nupkgBytes      = $null
    nupkgMB         = $null
    stagedBytes     = $null
    stagedMB        = $null
    details         = [ordered]@{
        runs = $Runs; pageCacheDropped = $null
        importColdRuns = @(); importWarmRuns = @(); firstCallColdRuns = @(); firstCallRuns = @(); secondCallMs = $null
        processColdMs = $null; stagedFiles = $null; nupkgFiles = $null; packageSeconds = $null
        notes = [Collections.Generic.List[string]]::new(); error = $null; elapsedSeconds = $null
    }
}
function Say([string] $Text = '') { Write-Host $Text }
function Note([string] $Text) { $mod.details.notes.Add($Text); Say "  note: $Text" }
function Round2($value) { Get-Round2 $value }
function Median([double[]] $v) { Get-Median $v }
function Runs([object[]] $v) { @($v | ForEach-Object { Round2 $_ }) }

# A new pwsh running the script file; bounded. Returns ExitCode, Out, Err, WallMs.
function Invoke-Child([string[]] $Arguments, [hashtable] $Environment = @{}, [int] $TimeoutSeconds = 120) {
    $psi = [Diagnostics.ProcessStartInfo]::new($pwsh)
    foreach ($a in @('-NoProfile', '-NonInteractive') + $Arguments) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.WorkingDirectory = $root
    $psi.Environment['NO_COLOR'] = '1'
    $null = $psi.Environment.Remove('PSSWARM_HOST')
    foreach ($k in $Environment.Keys) { $psi.Environment[$k] = $Environment[$k] }
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $p = [Diagnostics.Process]::Start($psi)
    try {
        $out = $p.StandardOutput.ReadToEndAsync(); $err = $p.StandardError.ReadToEndAsync()
        if (-not $p.WaitForExit($TimeoutSeconds * 1000)) { $p.Kill($true); throw "pwsh $($Arguments -join ' ') did not finish within $TimeoutSeconds s" }
        $p.WaitForExit()
        [pscustomobject]@{ ExitCode = $p.ExitCode; Out = $out.GetAwaiter().GetResult(); Err = $err.GetAwaiter().GetResult(); WallMs = $sw.Elapsed.TotalMilliseconds }
    }
    finally { $p.Dispose() }
}

# Drops the page cache (after sync); false when /proc/sys/vm/drop_caches cannot be written.
function Clear-PageCache {
    try {
        & sync
        [IO.File]::WriteAllText('/proc/sys/vm/drop_caches', '3')
        $true
    }
    catch { $false }
}

$probe = Join-Path $root 'probe.ps1'
Set-Content $probe -Value @'
param([string] $ModulePath, [string] $Endpoint)
$ErrorActionPreference = 'Stop'
$sw = [Diagnostics.Stopwatch]::StartNew()
Import-Module $ModulePath
$import = $sw.Elapsed.TotalMilliseconds
$sw.Restart()
$null = Get-Swarm -Endpoint $Endpoint
$first = $sw.Elapsed.TotalMilliseconds
$sw.Restart()
$null = Get-Swarm -Endpoint $Endpoint
$second = $sw.Elapsed.TotalMilliseconds
@{ importMs = $import; firstCallMs = $first; secondCallMs = $second } | ConvertTo-Json -Compress
'@
function Invoke-Probe([string] $Endpoint) {
    $run = Invoke-Child @('-File', $probe, '-ModulePath', $ModulePath, '-Endpoint', $Endpoint)
    if ($run.ExitCode -ne 0) { throw "the import probe failed (exit $($run.ExitCode)): $($run.Err.Trim()) $($run.Out.Trim())" }
    $figures = ($run.Out.Trim() -split "`n")[-1] | ConvertFrom-Json
    $figures | Add-Member wallMs $run.WallMs -PassThru
}

try {
    # ---- sizes
    $files = @(Get-ChildItem $moduleDir -Recurse -File -Force)
    $mod.stagedBytes = [long]($files | Measure-Object Length -Sum).Sum
    $mod.stagedMB = Round2 ($mod.stagedBytes / 1MB)
    $mod.details.stagedFiles = $files.Count

    $packOut = Join-Path $root 'out'
    $packHome = Join-Path $root 'home'
    New-Item -ItemType Directory (Join-Path $packHome '.local/share') -Force | Out-Null
    Copy-Item $moduleDir (Join-Path $packOut 'PSSwarm') -Recurse
    $pack = Invoke-Child @('-File', $buildScript, 'Package', '-NoBuild', '-OutputRoot', $packOut) @{ HOME = $packHome; XDG_DATA_HOME = (Join-Path $packHome '.local/share') }
    if ($pack.ExitCode -ne 0) { throw "build.ps1 Package failed (exit $($pack.ExitCode)): $($pack.Err.Trim()) $($pack.Out.Trim())" }
    $nupkg = @(Get-ChildItem $packOut -Filter 'PSSwarm.*.nupkg')
    if ($nupkg.Count -ne 1) { throw "build.ps1 Package wrote $($nupkg.Count) .nupkg files in $packOut" }
    $mod.nupkgBytes = $nupkg[0].Length
    $mod.nupkgMB = Round2 ($mod.nupkgBytes / 1MB)
    $mod.details.packageSeconds = Round2 ($pack.WallMs / 1000)
    Add-Type -AssemblyName System.IO.Compression.FileSystem
    $zip = [IO.Compression.ZipFile]::OpenRead($nupkg[0].FullName)
    try { $mod.details.nupkgFiles = $zip.Entries.Count } finally { $zip.Dispose() }
    Say ('{0,-52} {1,9:0.00} MB   ({2} bytes, {3} files)' -f 'staged module', $mod.stagedMB, $mod.stagedBytes, $mod.details.stagedFiles)
    Say ('{0,-52} {1,9:0.00} MB   ({2} bytes, {3} entries; build.ps1 Package took {4:0.0} s)' -f $nupkg[0].Name, $mod.nupkgMB, $mod.nupkgBytes, $mod.details.nupkgFiles, $mod.details.packageSeconds)

    # ---- a daemon for the first call
    $endpoint = "unix://$root/m.sock"
    $d = Start-SwarmDaemon -DataRoot (Join-Path $root 'm') -Endpoint $endpoint -NodeName module -PassThru
    $startedPids.Add($d.ProcessId)

    # ---- cold: a new process after dropping the page cache
    $cold = foreach ($i in 1..$Runs) {
        $dropped = Clear-PageCache
        if ($null -eq $mod.details.pageCacheDropped) { $mod.details.pageCacheDropped = $dropped }
        elseif (-not $dropped) { $mod.details.pageCacheDropped = $false }
        Invoke-Probe $endpoint
    }
    if (-not $mod.details.pageCacheDropped) { Note 'page cache not dropped (/proc/sys/vm/drop_caches is not writable): the "cold" figures are warm ones' }
    # ---- warm: files in the page cache
    $null = Invoke-Probe $endpoint
    $warm = foreach ($i in 1..$Runs) { Invoke-Probe $endpoint }

    $mod.details.importColdRuns = Runs $cold.importMs
    $mod.details.importWarmRuns = Runs $warm.importMs
    $mod.details.firstCallColdRuns = Runs $cold.firstCallMs
    $mod.details.firstCallRuns = Runs $warm.firstCallMs
    $mod.importColdMs = Round2 (Median $cold.importMs)
    $mod.importWarmMs = Round2 (Median $warm.importMs)
    $mod.firstCallColdMs = Round2 (Median $cold.firstCallMs)
    $mod.firstCallMs = Round2 (Median $warm.firstCallMs)
    $mod.details.secondCallMs = Round2 (Median $warm.secondCallMs)
    $mod.processWarmMs = Round2 (Median $warm.wallMs)
    $mod.details.processColdMs = Round2 (Median $cold.wallMs)
    $coldLabel = if ($mod.details.pageCacheDropped) { 'cold, page cache dropped' } else { 'NOT cold: page cache not dropped' }
    $line = { param($name, $median, $values) Say ('{0,-52} median {1,9:0.00} ms   (min {2:0.00}, max {3:0.00}, n={4})' -f $name, $median, ($values | Measure-Object -Minimum).Minimum, ($values | Measure-Object -Maximum).Maximum, @($values).Count) }
    & $line "Import-Module, new process ($coldLabel)" $mod.importColdMs $cold.importMs
    & $line 'Import-Module, new process (warm)' $mod.importWarmMs $warm.importMs
    & $line "first Get-Swarm after the import ($coldLabel)" $mod.firstCallColdMs $cold.firstCallMs
    & $line 'first Get-Swarm after the import (warm)' $mod.firstCallMs $warm.firstCallMs
    & $line 'second Get-Swarm (warm)' $mod.details.secondCallMs $warm.secondCallMs
    & $line "whole pwsh process: start, import, 2 calls, exit ($coldLabel)" $mod.details.processColdMs $cold.wallMs
    & $line 'whole pwsh process: start, import, 2 calls, exit (warm)' $mod.processWarmMs $warm.wallMs
}
catch {
    $exitCode = 1
    $mod.details.error = "$($_.Exception.Message) at $($_.InvocationInfo.PositionMessage -replace '\s+', ' ')"
    Write-Host "module run failed: $($mod.details.error)" -ForegroundColor Red
}
finally {
    Stop-BenchDaemons -Pids $startedPids
    Remove-Item $root -Recurse -Force -ErrorAction SilentlyContinue
}

$mod.details.elapsedSeconds = Round2 $clock.Elapsed.TotalSeconds
if ($written = Write-BenchFigures $mod $OutputPath) { Say "Figures written to $written" }
[pscustomobject]$mod
if ($exitCode) { exit $exitCode }
