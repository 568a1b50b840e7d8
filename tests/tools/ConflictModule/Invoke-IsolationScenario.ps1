#Requires -Version 7.4
# One session of tests/Isolation.Tests.ps1, run in its own pwsh process: ConflictModule (Google.Protobuf
# 3.25.1) and PSSwarm (3.36.2) in the same process, imported in the order given, and PSSwarm driven
# against real daemons. Every step's outcome (value or error) goes to -ResultFile as JSON, so the test
# asserts on each step and a failed step does not hide the others. The daemons' PIDs go to
# <Root>/<name>.pid as soon as they start, so the test can stop them even if this process dies.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $ConflictModulePath,
    [Parameter(Mandatory)] [ValidateSet('ConflictFirst', 'PSSwarmFirst')] [string] $Order,
    [Parameter(Mandatory)] [string] $Root,
    [Parameter(Mandatory)] [string] $ManagerIp,
    [Parameter(Mandatory)] [string] $WorkerIp,
    [Parameter(Mandatory)] [string] $ResultFile
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$result = [ordered]@{ Order = $Order }

# Runs one step: records its value (or its error's id, category and message) under $Name.
function Step([string] $Name, [scriptblock] $Body) {
    try { $result[$Name] = [ordered]@{ Ok = $true; Value = (& $Body) } }
    catch {
        $result[$Name] = [ordered]@{
            Ok = $false; ErrorId = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"
            Message = $_.Exception.Message; Type = $_.Exception.GetType().FullName
        }
    }
}

function Get-Conflict {
    $c = Get-ConflictProtobuf
    [ordered]@{ Version = $c.Version; InformationalVersion = $c.InformationalVersion; LoadContext = $c.LoadContext; RoundTrip = $c.RoundTrip; Json = $c.Json }
}

function Get-LoadedAssembly([string] $Name) {
    @([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq $Name } | ForEach-Object {
            [ordered]@{
                Version     = "$($_.GetName().Version)"
                LoadContext = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($_).Name
                Location    = $_.Location
            }
        })
}

function Start-Node([string] $Name) {
    $info = Start-SwarmDaemon -DataRoot (Join-Path $Root $Name) -Endpoint "unix://$Root/$Name.sock" -NodeName $Name -PassThru
    Set-Content -Path (Join-Path $Root "$Name.pid") -Value $info.ProcessId
    $info
}

$manager = "unix://$Root/iso-m.sock"
$worker = "unix://$Root/iso-w.sock"
try {
    if ($Order -eq 'ConflictFirst') {
        Step ImportConflict { $null = Import-Module $ConflictModulePath -PassThru; 'imported' }
        Step ConflictBefore { Get-Conflict }
    }
    Step ImportPSSwarm { $null = Import-Module $ModulePath -PassThru; 'imported' }
    Step StartDaemons {
        $m = Start-Node iso-m
        $w = Start-Node iso-w
        [ordered]@{ Manager = $m.ProcessId; Worker = $w.ProcessId; Type = $m.PSObject.TypeNames[0] }
    }
    Step Initialize {
        $info = Initialize-Swarm -Endpoint $manager -ListenAddress "${ManagerIp}:2377" -AdvertiseAddress $ManagerIp -InformationAction Ignore
        [ordered]@{ State = "$($info.LocalNodeState)"; Managers = $info.Managers; Type = $info.PSObject.TypeNames[0]; WorkerToken = "$($info.JoinTokens.Worker)" }
    }
    Step JoinToken {
        $t = Get-SwarmJoinToken -Endpoint $manager -Role Worker
        [ordered]@{ Token = $t.Token; Role = "$($t.Role)"; RemoteAddress = @($t.RemoteAddress); Type = $t.PSObject.TypeNames[0] }
    }
    Step BadJoin {
        # The worker token with a secret of zeros: refused by the manager, as an error record.
        $token = $result.JoinToken.Value.Token
        Join-Swarm -Endpoint $worker -Token ($token.Substring(0, $token.LastIndexOf('-') + 1) + ('0' * 25)) -RemoteAddress "${ManagerIp}:2377" `
            -ListenAddress "${WorkerIp}:2377" -AdvertiseAddress $WorkerIp
    }
    Step Join {
        $n = Get-SwarmJoinToken -Endpoint $manager -Role Worker |
            Join-Swarm -Endpoint $worker -ListenAddress "${WorkerIp}:2377" -AdvertiseAddress $WorkerIp
        [ordered]@{ Role = "$($n.Role)"; Hostname = $n.Hostname; Type = $n.PSObject.TypeNames[0] }
    }
    Step Nodes {
        @(Get-SwarmNode -Endpoint $manager | Sort-Object Hostname | ForEach-Object {
                [ordered]@{ Id = $_.Id; Hostname = $_.Hostname; Role = "$($_.Role)"; Status = "$($_.Status)"; IsLeader = $_.IsLeader; Type = $_.PSObject.TypeNames[0] }
            })
    }
    Step NodeNotFound {
        # Not terminating: Get-SwarmNode writes it and goes on.
        $null = Get-SwarmNode -Endpoint $manager -Id 'no-such-node' -ErrorVariable lookup -ErrorAction SilentlyContinue
        $e = $lookup[0]
        [ordered]@{ ErrorId = $e.FullyQualifiedErrorId; Category = "$($e.CategoryInfo.Category)"; Message = $e.Exception.Message }
    }
    Step Unreachable { Get-Swarm -Endpoint "unix://$Root/nobody.sock" }
    Step Completion {
        $line = "Get-SwarmNode -Endpoint $manager -Id "
        @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches | ForEach-Object CompletionText)
    }
    Step TestSwarm { @(Test-Swarm -Endpoint $manager | ForEach-Object { [ordered]@{ Name = $_.Name; Result = "$($_.Result)" } }) }
    Step UnlockKey {
        $null = Set-Swarm -Endpoint $manager -Autolock -InformationAction Ignore
        $key = Get-SwarmUnlockKey -Endpoint $manager
        [ordered]@{ Type = $key.PSObject.TypeNames[0]; KeyType = $key.Key.GetType().FullName; Plain = (Get-SwarmUnlockKey -Endpoint $manager -AsPlainText) -like 'SWMKEY-1-*' }
    }
    Step Reimport {
        # Remove-Module runs OnRemove, Import-Module OnImport again: the same bridge keeps working.
        Remove-Module PSSwarm
        $null = Import-Module $ModulePath -PassThru
        "$((Get-Swarm -Endpoint $manager).LocalNodeState)"
    }
    if ($Order -eq 'PSSwarmFirst') { Step ImportConflict { $null = Import-Module $ConflictModulePath -PassThru; 'imported' } }
    Step ConflictAfter { Get-Conflict }
    Step PSSwarmAfter { @(Get-SwarmNode -Endpoint $manager).Count }
    Step Assemblies {
        [ordered]@{
            Protobuf      = Get-LoadedAssembly Google.Protobuf
            Client        = Get-LoadedAssembly PSSwarm.Client
            Grpc          = Get-LoadedAssembly Grpc.Net.Client
            Logging       = Get-LoadedAssembly Microsoft.Extensions.Logging.Abstractions
            PSSwarm       = Get-LoadedAssembly PSSwarm
            Conflict      = Get-LoadedAssembly ConflictModule
        }
    }
}
finally {
    foreach ($endpoint in $worker, $manager) {
        try { $null = Stop-SwarmDaemon -Endpoint $endpoint -ErrorAction Stop } catch { $result["Stop $endpoint"] = "$_" }
    }
    $result | ConvertTo-Json -Depth 8 | Set-Content -Path $ResultFile
}
