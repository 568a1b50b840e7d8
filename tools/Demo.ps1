<#
.SYNOPSIS
    The README demo: start a daemon, create a one-node swarm, show it, then clean up.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [string] $Address = '127.0.0.1',
    # Leave the daemon running (and its data) for a look around afterwards.
    [switch] $Keep
)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath -Force

$root = '/tmp/psswarm-demo'
$endpoint = "unix://$root/node1.sock"
function Step([string] $text) { Write-Host "`n>>> $text" -ForegroundColor Cyan }

if (Test-Path "$root/node1.sock") {
    try { Stop-SwarmDaemon -Endpoint $endpoint -ErrorAction Stop } catch { }
}
Remove-Item $root -Recurse -Force -ErrorAction SilentlyContinue

Step "Start-SwarmDaemon -DataRoot $root/node1 -Endpoint $endpoint -NodeName node1 -PassThru"
$daemon = Start-SwarmDaemon -DataRoot "$root/node1" -Endpoint $endpoint -NodeName node1 -PassThru
$daemon | Format-Table -AutoSize | Out-Host
$env:PSSWARM_HOST = $endpoint
try {
    Step "Get-Swarm   # not in a swarm yet"
    Get-Swarm | Format-Table Id, LocalNodeState, IsManager, NodeName -AutoSize | Out-Host

    Step "Initialize-Swarm -ListenAddress ${Address}:2377 -AdvertiseAddress $Address"
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $swarm = Initialize-Swarm -ListenAddress "${Address}:2377" -AdvertiseAddress $Address
    Write-Host ("Swarm initialized in {0:0} ms: current node ({1}) is now a manager." -f $sw.Elapsed.TotalMilliseconds, $swarm.NodeId)

    Step 'Get-Swarm | Format-List'
    Get-Swarm | Format-List Id, Name, NodeId, NodeAddress, LocalNodeState, IsManager, Managers, Nodes, CreatedAt, CertExpiry, DispatcherHeartbeat, @{ n = 'RootCA'; e = { $_.RootCACertificate.Subject } } | Out-Host

    Step 'Get-SwarmNode'
    Get-SwarmNode | Out-Host

    Step 'Get-SwarmJoinToken -Role Worker; Get-SwarmJoinToken -Role Manager'
    'Worker', 'Manager' | Get-SwarmJoinToken | Format-Table Role, Token, @{ n = 'RemoteAddress'; e = { $_.RemoteAddress -join ',' } } -AutoSize -Wrap | Out-Host
    Write-Host 'To add a worker to this swarm, run on the other host:'
    Write-Host "    $((Get-SwarmJoinToken -Role Worker).JoinCommand)"

    Step 'Update-SwarmJoinToken -Role Worker   # the old worker token stops working at once'
    Update-SwarmJoinToken -Role Worker | Format-Table Role, Token -AutoSize | Out-Host

    Step 'Get-SwarmNetwork'
    Get-SwarmNetwork | Out-Host
}
finally {
    if ($Keep) {
        Write-Host "`nThe daemon keeps running (PID $($daemon.ProcessId)). Stop it with: Stop-SwarmDaemon -Endpoint $endpoint" -ForegroundColor Yellow
    } else {
        Step "Stop-SwarmDaemon -Endpoint $endpoint   # and remove $root"
        Stop-SwarmDaemon -Endpoint $endpoint
        Remove-Item $root -Recurse -Force -ErrorAction SilentlyContinue
    }
    Remove-Item Env:PSSWARM_HOST -ErrorAction SilentlyContinue
}
