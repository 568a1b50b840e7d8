#!/usr/bin/env pwsh
<#
.SYNOPSIS
    PSSwarm's front door: Build, Test, Package, Docs, Demo, Bench, Clean.
.EXAMPLE
    dotnet tool restore; dotnet pwsh ./build.ps1 Test
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Build', 'Test', 'UnitTest', 'PesterTest', 'Package', 'Docs', 'Demo', 'Bench', 'Clean')]
    [string] $Task = 'Build',

    # Debug or Release; any other name builds like Debug into its own obj/bin folders (parallel work).
    [ValidatePattern('^[A-Za-z][A-Za-z0-9]*$')]
    [string] $Configuration = 'Release',

    # Where the staged module, test results and bench figures go (default: out/ beside this script).
    [string] $OutputRoot,

    # Pester: only these test files (names or paths under tests/).
    [string[]] $TestPath,

    # Skip the build (Test and Package tasks): use the module already staged in out/.
    [switch] $NoBuild
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$out = if ($OutputRoot) { [IO.Path]::GetFullPath($OutputRoot) } else { Join-Path $root 'out' }
$staged = Join-Path $out 'PSSwarm'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'
$env:DOTNET_SKIP_FIRST_TIME_EXPERIENCE = '1'

function Invoke-Native {
    param([string] $File, [string[]] $Arguments)
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Get-ModuleVersion {
    (Import-PowerShellDataFile (Join-Path $root 'PSSwarm.psd1')).ModuleVersion
}

function Invoke-Build {
    $version = Get-ModuleVersion
    Write-Host "Building PSSwarm $version ($Configuration)" -ForegroundColor Cyan
    if (Test-Path $staged) { Remove-Item $staged -Recurse -Force }
    $common = @('-c', $Configuration, "-p:Version=$version", '--nologo', '-v', 'quiet', '-clp:ErrorsOnly')
    # ReadyToRun (precompiled) code where the crossgen package exists for this machine: it cuts the
    # daemon's first Initialize-Swarm from ~1 s of JIT to a fraction, and the module's first call.
    $rid = switch ([Runtime.InteropServices.RuntimeInformation]::OSArchitecture) { 'X64' { 'linux-x64' } 'Arm64' { 'linux-arm64' } default { $null } }
    $r2r = if ($rid -and $Configuration -eq 'Release') { @('-r', $rid, '-p:PublishReadyToRun=true') } else { @() }
    Invoke-Native dotnet (@('publish', (Join-Path $root 'src/PSSwarm/PSSwarm.csproj'), '-o', $staged, '--no-self-contained') + $r2r + $common)
    Invoke-Native dotnet (@('publish', (Join-Path $root 'src/PSSwarm.Daemon/PSSwarm.Daemon.csproj'), '-o', (Join-Path $staged 'daemon'), '--no-self-contained') + $r2r + $common)
    Remove-Item (Join-Path $staged '*.pdb'), (Join-Path $staged 'daemon/*.pdb') -ErrorAction SilentlyContinue
    # What the web SDK stages for IIS and static files, and other platforms' runtimes (builds without a RID): unused here.
    Remove-Item (Join-Path $staged 'daemon/web.config'), (Join-Path $staged 'daemon/*.staticwebassets.*.json'), (Join-Path $staged 'daemon/runtimes/win*') -Recurse -ErrorAction SilentlyContinue
    # Dependency isolation (DESIGN.md): only PSSwarm.dll (cmdlets, output types) in the module root; the client
    # (the bridge) and its Grpc, Protobuf and Microsoft.Extensions assemblies in Dependencies/, which PSSwarm.dll
    # loads in its own AssemblyLoadContext. The deps.json described the flat layout: dropped.
    $dependencies = New-Item -ItemType Directory -Path (Join-Path $staged 'Dependencies') -Force
    Get-ChildItem $staged -File -Filter '*.dll' | Where-Object Name -ne 'PSSwarm.dll' | Move-Item -Destination $dependencies
    Remove-Item (Join-Path $staged 'PSSwarm.deps.json') -ErrorAction SilentlyContinue
    Copy-Item (Join-Path $root 'PSSwarm.psd1'), (Join-Path $root 'LICENSE') $staged
    Copy-Item (Join-Path $root 'src/PSSwarm/PSSwarm.format.ps1xml'), (Join-Path $root 'src/PSSwarm/PSSwarm.types.ps1xml') $staged
    Copy-Item (Join-Path $root 'src/PSSwarm/psswarmd.service') $staged
    Copy-Item (Join-Path $root 'src/PSSwarm/dsc') $staged -Recurse   # DSC v3 resource manifests + their script
    Invoke-Docs
    $daemon = Join-Path $staged 'daemon/psswarmd'
    if (-not (Test-Path $daemon)) { throw "the daemon was not staged at $daemon" }
    Write-Host "Staged the module in $staged" -ForegroundColor Green
}

function Invoke-Docs {
    $converter = Join-Path $root 'tools/Build-Help.ps1'
    if (-not (Test-Path $converter)) { Write-Warning 'tools/Build-Help.ps1 is missing: no MAML help staged'; return }
    & $converter -DocsPath (Join-Path $root 'docs/en-US') -OutputPath (Join-Path $staged 'en-US')
}

# <OutputRoot>/PSSwarm.<version>.nupkg from the staged module, with PSResourceGet's Compress-PSResource
# (ships with PowerShell 7.4+; works offline). Install it with Install-PSResource from a folder repository.
function Invoke-Package {
    $version = Get-ModuleVersion
    $manifest = Join-Path $staged 'PSSwarm.psd1'
    if (-not (Test-Path $manifest)) { throw "No staged module at ${staged}: run 'build.ps1 Build' first, or Package without -NoBuild." }
    $stagedVersion = (Import-PowerShellDataFile $manifest).ModuleVersion
    if ($stagedVersion -ne $version) { throw "The staged module is version $stagedVersion but PSSwarm.psd1 says ${version}: rebuild it (Package without -NoBuild)." }
    if (-not (Test-Path (Join-Path $staged 'daemon/psswarmd'))) { throw "The staged module at $staged has no daemon/psswarmd: rebuild it." }
    # A copy of the staged module without debug symbols, obj/ folders or test assemblies.
    $work = Join-Path $out 'package-work'
    if (Test-Path $work) { Remove-Item $work -Recurse -Force }
    $module = Join-Path $work 'PSSwarm'
    try {
        Copy-Item $staged $module -Recurse
        $dropped = @(Get-ChildItem $module -Recurse -Force | Where-Object {
                ($_.PSIsContainer -and $_.Name -eq 'obj') -or
                (-not $_.PSIsContainer -and ($_.Name -like '*.pdb' -or $_.Name -like '*.Tests.dll' -or $_.Name -like 'xunit.*'))
            })
        foreach ($item in $dropped) {
            if (Test-Path $item.FullName) { Remove-Item $item.FullName -Recurse -Force }
            Write-Host "  not packaged: $([IO.Path]::GetRelativePath($module, $item.FullName))"
        }
        $nupkg = Join-Path $out "PSSwarm.$version.nupkg"
        Remove-Item $nupkg -ErrorAction SilentlyContinue
        Import-Module Microsoft.PowerShell.PSResourceGet -ErrorAction Stop
        Compress-PSResource -Path $module -DestinationPath $out
        if (-not (Test-Path $nupkg)) { throw "Compress-PSResource did not write $nupkg" }
    }
    finally { Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue }
    $size = (Get-Item $nupkg).Length
    Write-Host ('Packaged {0} ({1:0.0} MB)' -f $nupkg, ($size / 1MB)) -ForegroundColor Green
    $nupkg
}

function Get-PesterModule {
    $pester = Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages/pester/5.7.1/tools/Pester.psd1'
    if (-not (Test-Path $pester)) {
        Invoke-Native dotnet @('restore', (Join-Path $root 'tests/tools/Pester.Restore.csproj'), '--nologo', '-v', 'quiet')
    }
    if (-not (Test-Path $pester)) { throw "Pester 5.7.1 was not restored to $pester" }
    $pester
}

# Runs the xunit projects; returns @{ Passed; Failed; Skipped }.
function Invoke-UnitTest {
    $results = Join-Path $out 'TestResults'
    if (Test-Path $results) { Remove-Item $results -Recurse -Force }
    $counts = @{ Passed = 0; Failed = 0; Skipped = 0; FailedTests = @() }
    foreach ($project in Get-ChildItem (Join-Path $root 'tests') -Recurse -Filter '*.Tests.csproj') {
        Write-Host "xunit: $($project.BaseName)" -ForegroundColor Cyan
        & dotnet test $project.FullName -c $Configuration --nologo -v quiet --logger 'trx;LogFileName=unit.trx' --logger 'console;verbosity=minimal' --results-directory (Join-Path $results $project.BaseName) | Out-Host
        $code = $LASTEXITCODE
        $trx = Get-ChildItem (Join-Path $results $project.BaseName) -Filter *.trx -Recurse -ErrorAction SilentlyContinue | Select-Object -First 1
        if (-not $trx) {
            Write-Host "  no results from $($project.BaseName) (exit code $code): counted as one failure" -ForegroundColor Red
            $counts.Failed++
            $counts.FailedTests += "$($project.BaseName): no results (exit code $code)"
            continue
        }
        $run = ([xml](Get-Content $trx.FullName -Raw)).TestRun
        $c = $run.ResultSummary.Counters
        foreach ($result in @($run.Results.UnitTestResult | Where-Object { $_ -and $_.outcome -ne 'Passed' -and $_.outcome -ne 'NotExecuted' })) {
            $message = "$($result.Output.ErrorInfo.Message)".Trim() -split "`n" | Select-Object -First 1
            $counts.FailedTests += "$($project.BaseName): $($result.testName): $message"
        }
        $counts.Passed += [int]$c.passed
        $counts.Failed += [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted
        $counts.Skipped += [int]$c.notExecuted
        if ($code -ne 0 -and ([int]$c.failed + [int]$c.error) -eq 0) { $counts.Failed++ }
    }
    $counts
}

# Runs Pester in a child pwsh (a fresh process imports the staged module); returns counts.
function Invoke-PesterTest {
    $pester = Get-PesterModule
    $paths = if ($TestPath) {
        $TestPath | ForEach-Object { $_ -split ',' } | Where-Object { $_ } | ForEach-Object { if (Test-Path $_) { (Resolve-Path $_).Path } else { Join-Path $root "tests/$_" } }
    } else { (Get-ChildItem (Join-Path $root 'tests') -Filter '*.Tests.ps1').FullName }
    $resultFile = Join-Path $out 'pester-result.json'
    Remove-Item $resultFile -ErrorAction SilentlyContinue
    $env:NO_COLOR = '1'
    $env:PSSWARM_TEST_MODULE = Join-Path $staged 'PSSwarm.psd1'
    & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -File (Join-Path $root 'tools/Invoke-PesterRun.ps1') `
        -Pester $pester -Path ($paths -join ',') -ResultFile $resultFile | Out-Host
    if (-not (Test-Path $resultFile)) {
        Write-Host "Pester did not report results (exit code $LASTEXITCODE): counted as one failure" -ForegroundColor Red
        return @{ Passed = 0; Failed = 1; Skipped = 0; FailedTests = @("Pester: no results (exit code $LASTEXITCODE)") }
    }
    $r = Get-Content $resultFile -Raw | ConvertFrom-Json
    if ($null -eq $r -or $null -eq $r.PSObject.Properties['Passed']) {
        Write-Host 'Pester reported no counts: counted as one failure' -ForegroundColor Red
        return @{ Passed = 0; Failed = 1; Skipped = 0; FailedTests = @('Pester: no counts') }
    }
    @{ Passed = [int]$r.Passed; Failed = [int]$r.Failed; Skipped = [int]$r.Skipped; FailedTests = @($r.FailedTests | Where-Object { $_ }) }
}

function Write-Summary($counts) {
    if (@($counts.FailedTests).Count) {
        # At most 40 lines: a broken build fails hundreds of tests for one reason.
        $all = @($counts.FailedTests)
        Write-Host "Failed ($($all.Count)):" -ForegroundColor Red
        foreach ($failed in $all | Select-Object -First 40) { Write-Host "  $failed" -ForegroundColor Red }
        if ($all.Count -gt 40) { Write-Host "  ... and $($all.Count - 40) more" -ForegroundColor Red }
    }
    $line = "$($counts.Passed) passed, $($counts.Failed) failed"
    if ($counts.Skipped) { $line += ", $($counts.Skipped) skipped" }
    Write-Host $line
    exit ([int]($counts.Failed -gt 0))
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Package' {
        if (-not $NoBuild) { Invoke-Build }
        $null = Invoke-Package
    }
    'Docs' { Invoke-Docs }
    'Clean' { if (Test-Path $out) { Remove-Item $out -Recurse -Force } }
    'UnitTest' {
        Write-Summary (Invoke-UnitTest)
    }
    'PesterTest' {
        if (-not $NoBuild) { Invoke-Build }
        Write-Summary (Invoke-PesterTest)
    }
    'Test' {
        $start = Get-Date
        if (-not $NoBuild) { Invoke-Build }
        $unit = Invoke-UnitTest
        $pester = Invoke-PesterTest
        Write-Host ("xunit: {0} passed, {1} failed; Pester: {2} passed, {3} failed, {4} skipped; {5:0} s" -f
            $unit.Passed, $unit.Failed, $pester.Passed, $pester.Failed, $pester.Skipped, ((Get-Date) - $start).TotalSeconds)
        Write-Summary @{
            Passed  = $unit.Passed + $pester.Passed
            Failed  = $unit.Failed + $pester.Failed
            Skipped = $unit.Skipped + $pester.Skipped
            FailedTests = @($unit.FailedTests) + @($pester.FailedTests)
        }
    }
    'Demo' {
        if (-not (Test-Path (Join-Path $staged 'PSSwarm.psd1'))) { Invoke-Build }
        & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -File (Join-Path $root 'tools/Demo.ps1') -ModulePath (Join-Path $staged 'PSSwarm.psd1')
        exit $LASTEXITCODE
    }
    'Bench' {
        if (-not (Test-Path (Join-Path $staged 'PSSwarm.psd1'))) { Invoke-Build }
        & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -File (Join-Path $root 'tools/Bench.ps1') -ModulePath (Join-Path $staged 'PSSwarm.psd1')
        exit $LASTEXITCODE
    }
}
