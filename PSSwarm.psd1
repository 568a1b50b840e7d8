@{
    RootModule           = 'PSSwarm.dll'
    ModuleVersion        = '0.1.0'
    CompatiblePSEditions = @('Core')
    GUID                 = '5d7c2f0e-6a8b-4c1e-9d3f-2b7a1e4c8f60'
    Author               = 'PSSwarm contributors'
    CompanyName          = 'PSSwarm'
    Copyright            = '(c) PSSwarm contributors. MIT licence.'
    Description          = "Docker Engine's swarm mode as a PowerShell module: a Raft-replicated store among managers, a swarm root CA, join tokens and a mutually authenticated TLS listener, driven by cmdlets and the psswarmd daemon."
    PowerShellVersion    = '7.4'
    FormatsToProcess     = @('PSSwarm.format.ps1xml')
    TypesToProcess       = @('PSSwarm.types.ps1xml')
    CmdletsToExport      = @(
        'Start-SwarmDaemon'
        'Stop-SwarmDaemon'
        'Install-SwarmDaemon'
        'Uninstall-SwarmDaemon'
        'Initialize-Swarm'
        'Get-Swarm'
        'Set-Swarm'
        'Get-SwarmCA'
        'Update-SwarmCA'
        'Unlock-Swarm'
        'Get-SwarmUnlockKey'
        'Update-SwarmUnlockKey'
        'Test-Swarm'
        'Exit-Swarm'
        'Get-SwarmJoinToken'
        'Update-SwarmJoinToken'
        'New-SwarmJoinToken'
        'Revoke-SwarmJoinToken'
        'Join-Swarm'
        'Get-SwarmNode'
        'Set-SwarmNode'
        'Remove-SwarmNode'
        'Get-SwarmNetwork'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @('Leave-Swarm')
    PrivateData          = @{
        PSData = @{
            # No ProjectUri, LicenseUri or IconUri: the project has no public address yet. The licence (MIT) is the
            # LICENSE file in the module folder.
            Tags         = @('Docker', 'Swarm', 'Raft', 'Cluster', 'Linux', 'PSEdition_Core')
            ReleaseNotes = 'First packaged release: swarm init/join/leave, join tokens, node management, the swarm root CA and its rotation, autolock, Test-Swarm; the psswarmd daemon ships in the module (daemon/psswarmd, Linux, .NET 10).'
        }
    }
}
