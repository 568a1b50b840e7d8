#Requires -Version 7.4
# Helpers for the multi-node end-to-end tests (JoinSwarm, NodeManagement, Managers, JoinNamespaces).
# They build on TestHelpers.psm1 (import that first); they start no process of their own.

Set-StrictMode -Version Latest

function Join-TestNode {
    <#
    Joins a test node (from Start-TestNode) to the swarm of a manager test node, the way a user would:
    Get-SwarmJoinToken -Role <Role> | Join-Swarm, with the node's own -ListenAddress and -AdvertiseAddress.
    Returns the PSSwarm.SwarmNode that Join-Swarm outputs.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [object] $Manager,
        [Parameter(Mandatory)] [object] $Node,
        [ValidateSet('Worker', 'Manager')] [string] $Role = 'Worker'
    )
    Get-SwarmJoinToken -Role $Role -Endpoint $Manager.Endpoint -ErrorAction Stop |
        Join-Swarm -Endpoint $Node.Endpoint -ListenAddress $Node.Listen -AdvertiseAddress $Node.Ip -ErrorAction Stop
}

function Get-NodeView {
    <# One node as a manager sees it (Get-SwarmNode -Id on that manager's endpoint); $null when it is not listed. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [object] $Manager, [Parameter(Mandatory)] [string] $Id)
    @(Get-SwarmNode -Endpoint $Manager.Endpoint -ErrorAction Stop) |
        Where-Object { $_.Id -eq $Id -or $_.Hostname -eq $Id } | Select-Object -First 1
}

function Wait-NodeView {
    <#
    Polls Get-SwarmNode on a manager until the node with this ID or hostname satisfies the condition
    (a script block that gets the SwarmNode, or $null when the node is not listed, as its first
    argument); returns that view (or $null).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [object] $Manager,
        [Parameter(Mandatory)] [string] $Id,
        [Parameter(Mandatory)] [scriptblock] $Condition,
        [double] $TimeoutSeconds = 10,
        [string] $Because = 'the node to change'
    )
    $found = Wait-Until -TimeoutSeconds $TimeoutSeconds -IntervalMilliseconds 100 -Because "$Because ($Id on $($Manager.Name))" -Condition {
        $view = Get-NodeView -Manager $Manager -Id $Id
        if (& $Condition $view) { [pscustomobject]@{ View = $view } }
    }
    $found.View
}

function Wait-LocalNodeState {
    <# Polls Get-Swarm on a node until LocalNodeState is the given one; returns the SwarmInfo. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [object] $Node,
        [Parameter(Mandatory)] [string] $State,
        [double] $TimeoutSeconds = 10
    )
    Wait-Until -TimeoutSeconds $TimeoutSeconds -Because "$($Node.Name) to report LocalNodeState $State" -Condition {
        $info = Get-Swarm -Endpoint $Node.Endpoint -ErrorAction Stop
        if ("$($info.LocalNodeState)" -eq $State) { $info }
    }
}

function Get-ErrorSummary {
    <# One line describing an ErrorRecord (id, category, message), for failure messages. #>
    param([object] $ErrorRecord)
    if ($null -eq $ErrorRecord) { return '<no error>' }
    "$($ErrorRecord.FullyQualifiedErrorId) [$($ErrorRecord.CategoryInfo.Category)] $($ErrorRecord.Exception.Message)"
}

function Get-RootCAFingerprintHex {
    <# The SHA-256 of a root CA certificate's Docker PEM text, as 64 lower-case hex characters. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [System.Security.Cryptography.X509Certificates.X509Certificate2] $RootCertificate)
    $pem = ConvertTo-DockerPem -Der $RootCertificate.RawData
    [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData([System.Text.Encoding]::ASCII.GetBytes($pem))).ToLowerInvariant()
}

function ConvertFrom-Base36Digest {
    <# A token's 50-character base-36 digest as the 64 lower-case hex characters of the 256-bit value. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Digest)
    $alphabet = '0123456789abcdefghijklmnopqrstuvwxyz'
    $n = [System.Numerics.BigInteger]::Zero
    foreach ($c in $Digest.ToLowerInvariant().ToCharArray()) {
        $n = $n * 36 + $alphabet.IndexOf($c)
    }
    $bytes = $n.ToByteArray($true, $true)
    ([Convert]::ToHexString($bytes).ToLowerInvariant()).PadLeft(64, '0')
}

function New-RandomBase36 {
    <# A random value of Bytes bytes in base 36, left-padded to Width (a valid-looking digest or secret). #>
    [CmdletBinding()]
    param([int] $Bytes = 32, [int] $Width = 50)
    $buffer = [byte[]]::new($Bytes)
    [System.Security.Cryptography.RandomNumberGenerator]::Fill($buffer)
    $buffer[0] = $buffer[0] -bor 0x80   # full length, so that the padding is not what makes it look valid
    ConvertTo-Base36 -Bytes $buffer -Width $Width
}

function Get-CertificateFile {
    <# Loads a PEM certificate file of a node's data root (e.g. certificates/swarm-node.crt). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [object] $Node, [string] $RelativePath = 'certificates/swarm-node.crt')
    $path = Join-Path $Node.DataRoot $RelativePath
    [System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPem([System.IO.File]::ReadAllText($path))
}

function Get-LeaderName {
    <# The hostname of the leader as one manager sees it ($null when it sees none). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [object] $Via)
    @(Get-SwarmNode -Endpoint $Via.Endpoint -ErrorAction Stop | Where-Object IsLeader).Hostname
}

function Wait-AgreedLeader {
    <# Waits until every given manager names the same single leader (not -Not); returns that hostname. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [object[]] $Managers, [double] $TimeoutSeconds = 15, [string] $Not)
    Wait-Until -TimeoutSeconds $TimeoutSeconds -Because "managers $($Managers.Name -join ', ') to agree on one leader" -Condition {
        $names = @(foreach ($mgr in $Managers) { , @(Get-LeaderName $mgr) })
        $first = $names[0]
        if ($first.Count -ne 1 -or ($Not -and $first[0] -eq $Not)) { return $null }
        foreach ($n in $names) { if ($n.Count -ne 1 -or $n[0] -ne $first[0]) { return $null } }
        $first[0]
    }
}

function Start-TestSwarm {
    <#
    The usual four nodes on <IpPrefix>.1-.4 (port 2377): m1 initialises the swarm and leads, m2 joins as
    a manager, w1 as a worker, o1 stays outside any swarm. Returns @{ m1; m2; w1; o1; Swarm (m1's
    Initialize-Swarm answer) }. When set-up fails it prints each started node's log, then throws.
    #>
    param([Parameter(Mandatory)] [string] $Root, [Parameter(Mandatory)] [string] $IpPrefix)
    $started = [System.Collections.Generic.List[object]]::new()
    try {
        $m1 = Start-TestNode -Root $Root -Name m1 -Ip "$IpPrefix.1"; $started.Add($m1)
        $swarm = Initialize-Swarm -Endpoint $m1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip -ErrorAction Stop
        $m2 = Start-TestNode -Root $Root -Name m2 -Ip "$IpPrefix.2"; $started.Add($m2)
        $null = Join-TestNode -Manager $m1 -Node $m2 -Role Manager
        $w1 = Start-TestNode -Root $Root -Name w1 -Ip "$IpPrefix.3"; $started.Add($w1)
        $null = Join-TestNode -Manager $m1 -Node $w1 -Role Worker
        $o1 = Start-TestNode -Root $Root -Name o1 -Ip "$IpPrefix.4"; $started.Add($o1)
    }
    catch {
        Write-Host "Setup failed: $_"
        foreach ($node in $started) { Get-TestNodeLog -Node $node -Tail 30 | Write-Host }
        throw
    }
    @{ m1 = $m1; m2 = $m2; w1 = $w1; o1 = $o1; Swarm = $swarm }
}

function Assert-Refused {
    <#
    The call fails with this error id (FullyQualifiedErrorId starts with it), this category and a
    message like -Message (wildcards; any message by default); each assertion says what came instead.
    Returns the ErrorRecord.
    #>
    param(
        [Parameter(Mandatory)] [scriptblock] $Call,
        [Parameter(Mandatory)] [string] $Id,
        [Parameter(Mandatory)] [System.Management.Automation.ErrorCategory] $Category,
        [string] $Message = '*'
    )
    $err = Get-ErrorRecord $Call
    $err | Should -Not -BeNullOrEmpty -Because 'the call must be refused'
    $err.FullyQualifiedErrorId | Should -BeLike "$Id*" -Because (Get-ErrorSummary $err)
    $err.CategoryInfo.Category | Should -Be $Category -Because (Get-ErrorSummary $err)
    $err.Exception.Message | Should -BeLike $Message -Because (Get-ErrorSummary $err)
    $err
}

# Docker's refusals of cluster commands on a node that is not a manager (defined once for the tests).
$script:NotManagerWorkerMessage = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager."
$script:NotManagerInactiveMessage = 'This node is not a swarm manager. Use Initialize-Swarm or Join-Swarm to connect this node to swarm and try again.'
function Get-NotManagerMessage {
    <# Docker's message for a cluster command on a worker (-Worker) or on a node outside any swarm. #>
    param([switch] $Worker)
    if ($Worker) { $script:NotManagerWorkerMessage } else { $script:NotManagerInactiveMessage }
}

Export-ModuleMember -Function Start-TestSwarm, Get-NotManagerMessage, Assert-Refused, Join-TestNode, Get-NodeView, Wait-NodeView, Wait-LocalNodeState, Get-ErrorSummary,
Get-RootCAFingerprintHex, ConvertFrom-Base36Digest, New-RandomBase36, Get-CertificateFile, Get-LeaderName, Wait-AgreedLeader
