#Requires -Version 7.4
<#
.SYNOPSIS
    The command behind PSSwarm's DSC v3 resources PSSwarm/SwarmMembership and PSSwarm/SwarmNode.
.DESCRIPTION
    DSC runs it as the resource manifests in this folder say (psswarm.dsc.resource.json,
    psswarm.node.dsc.resource.json), with this folder as the working directory:

        pwsh -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -File ./PSSwarm.Dsc.ps1 <get|set|test> -Resource <SwarmMembership|SwarmNode>

    The instance comes as one compressed JSON object on stdin. get writes the actual state as one JSON
    line; test and set ("return": "stateAndDiff") write the state, then a JSON array: the properties
    that are not in the desired state (test) or that the operation changed (set). set tests first and
    changes only what differs, so a set on a desired state calls no state-changing cmdlet.
    Errors: one {"error": "..."} JSON line on stderr (DSC's message format) and an exit code that the
    manifests declare in exitCodes. A join token is never written to stdout or stderr.

    It imports the PSSwarm module that contains this folder (../PSSwarm.psd1), so it works from the
    staged and from the installed module, and uses the module's cmdlets.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory, Position = 0)]
    [ValidateSet('get', 'set', 'test')]
    [string] $Operation,

    [Parameter(Mandatory)]
    [ValidateSet('SwarmMembership', 'SwarmNode')]
    [string] $Resource
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
# Nothing but the JSON lines may reach stdout: no progress bars, warnings or information records.
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$InformationPreference = 'SilentlyContinue'
$VerbosePreference = 'SilentlyContinue'
$ConfirmPreference = 'None'

# The exit codes declared in both manifests' exitCodes.
$ExitInvalidInput = 1
$ExitUnreachable = 2
$ExitRefused = 3
$ExitNeedsManager = 4
$ExitUnexpected = 5

class DscResourceError : System.Exception {
    [int] $ExitCode
    DscResourceError([int] $exitCode, [string] $message) : base($message) { $this.ExitCode = $exitCode }
}

# Secrets given in the input: every message is scrubbed of them before it is written.
$script:Secrets = [System.Collections.Generic.List[string]]::new()

function Protect-Text([string] $Text) {
    foreach ($secret in $script:Secrets) { if ($secret) { $Text = $Text.Replace($secret, '<secureValue>') } }
    # Any join-token-shaped text (also a mistyped one that an error message might quote).
    $Text -replace 'SWMTKN-[^\s"'',;]*', '<secureValue>'
}

function Write-DscMessage([ValidateSet('error', 'warn', 'info')] [string] $Level, [string] $Message) {
    [Console]::Error.WriteLine((@{ $Level = (Protect-Text $Message) } | ConvertTo-Json -Compress))
}

function Write-JsonLine($Value) {
    $json = if ($Value -is [System.Collections.IList]) { ConvertTo-Json -InputObject ([object[]]@($Value)) -Compress -Depth 10 }
    else { ConvertTo-Json -InputObject $Value -Compress -Depth 10 }
    [Console]::Out.WriteLine((Protect-Text $json))
}

function Stop-Operation([int] $ExitCode, [string] $Message) { throw [DscResourceError]::new($ExitCode, $Message) }

# ---- input ---------------------------------------------------------------------------------------

$Properties = @{
    SwarmMembership = @{
        endpoint = 'string'; _exist = 'bool'; ensure = 'ensure'; role = 'role'; managerAddress = 'strings'
        joinToken = 'secret'; advertiseAddress = 'string'; listenAddress = 'string'; availability = 'availability'
        labels = 'labels'; _purge = 'bool'; force = 'bool'
        nodeId = 'readonly'; localNodeState = 'readonly'; _inDesiredState = 'readonly'
    }
    SwarmNode       = @{
        name = 'string'; endpoint = 'string'; _exist = 'bool'; role = 'role'; availability = 'availability'
        labels = 'labels'; _purge = 'bool'; force = 'bool'
        id = 'readonly'; hostname = 'readonly'; status = 'readonly'; _inDesiredState = 'readonly'
    }
}

function Get-EnumValue([string] $Name, $Value, [string[]] $Allowed) {
    if ($Value -isnot [string]) { Stop-Operation $ExitInvalidInput "Property '$Name' must be one of $($Allowed -join ', ')." }
    $match = $Allowed | Where-Object { $_ -eq $Value } | Select-Object -First 1   # -eq: case-insensitive
    if (-not $match) { Stop-Operation $ExitInvalidInput "Property '$Name' has the invalid value '$Value': use one of $($Allowed -join ', ')." }
    $match
}

function ConvertFrom-Instance([string] $Json) {
    # One JSON object: checks each property against the resource's schema, returns a hashtable.
    if ([string]::IsNullOrWhiteSpace($Json)) { $Json = '{}' }
    try { $parsed = ConvertFrom-Json -InputObject $Json -AsHashtable -Depth 20 -ErrorAction Stop }
    catch { Stop-Operation $ExitInvalidInput "The input is not valid JSON: $($_.Exception.Message)" }
    if ($parsed -isnot [System.Collections.IDictionary]) { Stop-Operation $ExitInvalidInput 'The input must be a JSON object (the resource instance).' }
    $schema = $Properties[$Resource]
    $instance = @{}
    foreach ($key in @($parsed.Keys)) {
        $kind = $schema.Keys | Where-Object { $_ -ceq $key } | ForEach-Object { $schema[$_] } | Select-Object -First 1
        if (-not $kind) { Stop-Operation $ExitInvalidInput "Unknown property '$key' for PSSwarm/$Resource. Valid properties: $(($schema.Keys | Sort-Object) -join ', ')." }
        $value = $parsed[$key]
        if ($null -eq $value) { continue }
        switch ($kind) {
            'string' {
                if ($value -isnot [string] -or $value.Trim() -eq '') { Stop-Operation $ExitInvalidInput "Property '$key' must be a non-empty string." }
                $instance[$key] = $value
            }
            'bool' {
                if ($value -isnot [bool]) { Stop-Operation $ExitInvalidInput "Property '$key' must be true or false." }
                $instance[$key] = $value
            }
            'ensure' { $instance[$key] = Get-EnumValue $key $value @('Present', 'Absent') }
            'role' { $instance[$key] = Get-EnumValue $key $value @('Worker', 'Manager') }
            'availability' { $instance[$key] = Get-EnumValue $key $value @('Active', 'Pause', 'Drain') }
            'strings' {
                $list = @($value)
                if ($list.Count -eq 0 -or @($list | Where-Object { $_ -isnot [string] -or $_.Trim() -eq '' }).Count) {
                    Stop-Operation $ExitInvalidInput "Property '$key' must be a non-empty array of host:port strings."
                }
                $instance[$key] = [string[]]$list
            }
            'secret' {
                # A plain string, or DSC's secure string wrapper {"secureString": "..."}.
                $secret = if ($value -is [string]) { $value }
                elseif ($value -is [System.Collections.IDictionary] -and $value.Count -eq 1 -and $value.Contains('secureString') -and $value['secureString'] -is [string]) { $value['secureString'] }
                else { Stop-Operation $ExitInvalidInput "Property '$key' must be a string or a secure string {`"secureString`": `"...`"}." }
                if ($secret.Trim() -eq '') { Stop-Operation $ExitInvalidInput "Property '$key' must not be empty." }
                $script:Secrets.Add($secret)
                $instance[$key] = $secret
            }
            'labels' {
                if ($value -isnot [System.Collections.IDictionary]) { Stop-Operation $ExitInvalidInput "Property '$key' must be an object of string values, e.g. {`"zone`": `"eu-1`"}." }
                $labels = [ordered]@{}
                foreach ($k in $value.Keys) {
                    if ($value[$k] -isnot [string]) { Stop-Operation $ExitInvalidInput "Label '$k' must have a string value." }
                    $labels[[string]$k] = $value[$k]
                }
                $instance[$key] = $labels
            }
            'readonly' { }  # returned by get/test: accepted in the input and ignored
        }
    }
    $instance
}

function Get-DesiredExist([hashtable] $Desired) {
    # _exist (DSC's canonical property) and ensure (Present/Absent) say the same; default: exists.
    $fromEnsure = if ($Desired.ContainsKey('ensure')) { $Desired.ensure -eq 'Present' } else { $null }
    if ($Desired.ContainsKey('_exist')) {
        if ($null -ne $fromEnsure -and $fromEnsure -ne $Desired._exist) {
            Stop-Operation $ExitInvalidInput "_exist ($($Desired._exist.ToString().ToLowerInvariant())) and ensure ($($Desired.ensure)) disagree: give one of them, or the same value in both."
        }
        return $Desired._exist
    }
    if ($null -ne $fromEnsure) { return $fromEnsure }
    $true
}

# ---- cmdlet calls --------------------------------------------------------------------------------

function Get-EndpointParameter([hashtable] $Desired) {
    # Without an endpoint the cmdlets use $env:PSSWARM_HOST, then the default socket.
    if ($Desired.ContainsKey('endpoint')) { @{ Endpoint = $Desired.endpoint } } else { @{} }
}

function Get-ExitCodeFor([System.Management.Automation.ErrorRecord] $ErrorRecord) {
    $id = "$($ErrorRecord.FullyQualifiedErrorId)"
    if ($id -like 'SwarmNotManager*') { return $ExitNeedsManager }
    switch ("$($ErrorRecord.CategoryInfo.Category)") {
        'ConnectionError' { return $ExitUnreachable }
        'OperationTimeout' { return $ExitUnreachable }
        'InvalidArgument' { return $ExitInvalidInput }
        'InvalidData' { return $ExitInvalidInput }
        'AuthenticationError' { return $ExitRefused }
        'SecurityError' { return $ExitRefused }
        'InvalidOperation' { return $ExitRefused }
        'ResourceExists' { return $ExitRefused }
        'ResourceUnavailable' { return $ExitRefused }
        'PermissionDenied' { return $ExitRefused }
        'ObjectNotFound' { return $ExitRefused }
    }
    $ExitUnexpected
}

function Invoke-Swarm([string] $What, [scriptblock] $Call) {
    # Runs one cmdlet call; a failure stops the operation with the cmdlet's message and error id.
    try { & $Call }
    catch [DscResourceError] { throw }
    catch {
        $id = ("$($_.FullyQualifiedErrorId)" -split ',')[0]
        Stop-Operation (Get-ExitCodeFor $_) "${What}: $($_.Exception.Message) ($id)"
    }
}

function ConvertTo-SortedLabels($Labels) {
    $sorted = [ordered]@{}
    if ($Labels) { foreach ($k in @($Labels.Keys | Sort-Object -CaseSensitive)) { $sorted[[string]$k] = [string]$Labels[$k] } }
    $sorted
}

function Get-LabelChange($Actual, $Desired, [bool] $Purge) {
    # What makes the node's labels match: Add (key -> value) and Remove (keys). Keys compare exactly.
    $add = [ordered]@{}
    $remove = [System.Collections.Generic.List[string]]::new()
    $actualKeys = @(if ($Actual) { $Actual.Keys | ForEach-Object { [string]$_ } })
    foreach ($k in $Desired.Keys) {
        $has = $actualKeys -ccontains $k
        if (-not $has -or [string]$Actual[$k] -cne $Desired[$k]) { $add[$k] = $Desired[$k] }
    }
    if ($Purge) { foreach ($k in $actualKeys) { if (-not ($Desired.Keys -ccontains $k)) { $remove.Add($k) } } }
    [pscustomobject]@{ Add = $add; Remove = @($remove); Any = ($add.Count + $remove.Count) -gt 0 }
}

# ---- PSSwarm/SwarmMembership ---------------------------------------------------------------------

function Get-MembershipState([hashtable] $Desired) {
    $ep = Get-EndpointParameter $Desired
    $info = Invoke-Swarm 'Get-Swarm' { Get-Swarm @ep -ErrorAction Stop }
    $state = [ordered]@{}
    if ($Desired.ContainsKey('endpoint')) { $state.endpoint = $Desired.endpoint }
    $exists = "$($info.LocalNodeState)" -ne 'Inactive'
    $state._exist = $exists
    $state.ensure = if ($exists) { 'Present' } else { 'Absent' }
    $state.localNodeState = "$($info.LocalNodeState)"
    $self = $null
    if ($exists) {
        if ($info.NodeId) { $state.nodeId = $info.NodeId }
        if ($info.NodeAddress) { $state.advertiseAddress = $info.NodeAddress }
        $state.role = if ($info.IsManager) { 'Manager' } else { 'Worker' }
        if ($info.IsManager) {
            # A manager sees itself as the swarm records it (role, availability, labels).
            $self = Invoke-Swarm 'Get-SwarmNode -Self' { Get-SwarmNode @ep -Self -ErrorAction Stop } | Select-Object -First 1
            if ($self) {
                $state.role = "$($self.Role)"
                $state.availability = "$($self.Availability)"
                $state.labels = ConvertTo-SortedLabels $self.Labels
            }
        }
    }
    [pscustomobject]@{ State = $state; Info = $info; Self = $self }
}

function Compare-Membership([hashtable] $Desired, $Actual) {
    # The properties out of the desired state, and the change that Set-SwarmNode would make on a member.
    $diff = [System.Collections.Generic.List[string]]::new()
    $state = $Actual.State
    $wantExist = Get-DesiredExist $Desired
    $update = @{}
    if ($wantExist -ne $state._exist) { $diff.Add('_exist') }
    elseif ($wantExist) {
        $isManager = $null -ne $Actual.Self
        if ($Desired.ContainsKey('role') -and $Desired.role -ne $state.role) { $diff.Add('role'); $update.Role = $Desired.role }
        # A worker cannot see its own availability: it is applied when joining, and managed on a manager afterwards.
        if ($isManager -and $Desired.ContainsKey('availability') -and $Desired.availability -ne $state.availability) {
            $diff.Add('availability'); $update.Availability = $Desired.availability
        }
        if ($Desired.ContainsKey('labels')) {
            if (-not $isManager) {
                Stop-Operation $ExitNeedsManager "This node is a worker: a worker cannot read or change node labels. Set this node's labels with the PSSwarm/SwarmNode resource (name: '$($state.nodeId)') on a manager, or remove 'labels' from this instance."
            }
            $change = Get-LabelChange $Actual.Self.Labels $Desired.labels ([bool]$Desired['_purge'])
            if ($change.Any) { $diff.Add('labels'); $update.Labels = $change }
        }
    }
    [pscustomobject]@{ Diff = @($diff); Update = $update; WantExist = $wantExist }
}

# A compare's Update (Role, Availability, Labels.Add/Remove) as one Set-SwarmNode call: the daemon writes the
# changes to one node in one step (all or none). Adds the names of the changed properties to $Changed.
function Set-NodeUpdate([hashtable] $Ep, [string] $Id, [hashtable] $Update, [System.Collections.Generic.List[string]] $Changed) {
    $params = @{ Id = $Id }
    if ($Update.ContainsKey('Role')) { $params.Role = $Update.Role; $Changed.Add('role') }
    if ($Update.ContainsKey('Availability')) { $params.Availability = $Update.Availability; $Changed.Add('availability') }
    if ($Update.ContainsKey('Labels')) {
        if ($Update.Labels.Add.Count) { $params.Label = [hashtable]$Update.Labels.Add }
        if ($Update.Labels.Remove.Count) { $params.RemoveLabel = $Update.Labels.Remove }
        $Changed.Add('labels')
    }
    Invoke-Swarm 'Set-SwarmNode' { Set-SwarmNode @Ep @params -Confirm:$false -ErrorAction Stop }
}

# get and test are the same for both resources, through Get-<Prefix>State and Compare-<Prefix>.
function Invoke-Get([string] $Prefix, [hashtable] $Desired) {
    Write-JsonLine (& "Get-${Prefix}State" $Desired).State
}

function Invoke-Test([string] $Prefix, [hashtable] $Desired) {
    $actual = & "Get-${Prefix}State" $Desired
    $compare = & "Compare-$Prefix" $Desired $actual
    $state = $actual.State
    $state._inDesiredState = $compare.Diff.Count -eq 0
    Write-JsonLine $state
    Write-JsonLine $compare.Diff
}

function Invoke-MembershipSet([hashtable] $Desired) {
    $ep = Get-EndpointParameter $Desired
    $actual = Get-MembershipState $Desired
    $compare = Compare-Membership $Desired $actual
    $changed = [System.Collections.Generic.List[string]]::new()
    $state = $actual.State
    if ($compare.Diff.Count -eq 0) {
        # Already in the desired state: nothing is called that changes the node.
        Write-JsonLine $state
        Write-JsonLine @()
        return
    }
    if (-not $compare.WantExist) {
        $force = [bool]$Desired['force']
        if ($state.role -eq 'Manager' -and -not $force) {
            Stop-Operation $ExitRefused "This node is a swarm manager: leaving may lose the swarm's quorum, and leaving the last manager erases the swarm. Demote it first with PSSwarm/SwarmNode (role: Worker) on another manager, or set 'force': true to leave anyway (docker swarm leave --force)."
        }
        Invoke-Swarm 'Exit-Swarm' { Exit-Swarm @ep -Force:$force -Confirm:$false -ErrorAction Stop }
        $changed.Add('_exist')
    }
    elseif (-not $state._exist) {
        foreach ($needed in 'joinToken', 'managerAddress') {
            if (-not $Desired.ContainsKey($needed)) { Stop-Operation $ExitInvalidInput "This node is not in a swarm: joining needs 'joinToken' and 'managerAddress'." }
        }
        if ($Desired.ContainsKey('labels') -and $Desired['role'] -ne 'Manager') {
            Stop-Operation $ExitNeedsManager "A worker cannot set node labels: set them with the PSSwarm/SwarmNode resource on a manager once this node has joined, or join as a manager (role: Manager, with the manager join token)."
        }
        $join = @{ Token = $Desired.joinToken; RemoteAddress = $Desired.managerAddress }
        if ($Desired.ContainsKey('advertiseAddress')) { $join.AdvertiseAddress = $Desired.advertiseAddress }
        if ($Desired.ContainsKey('listenAddress')) { $join.ListenAddress = $Desired.listenAddress }
        if ($Desired.ContainsKey('availability')) { $join.Availability = $Desired.availability }
        $node = Invoke-Swarm 'Join-Swarm' { Join-Swarm @ep @join -Confirm:$false -ErrorAction Stop }
        $changed.Add('_exist')
        if ($Desired.ContainsKey('availability')) { $changed.Add('availability') }
        $joinedAs = "$($node.Role)"
        if ($Desired.ContainsKey('role') -and $Desired.role -ne $joinedAs) {
            Stop-Operation $ExitRefused "This node joined the swarm as a $joinedAs, not as a $($Desired.role): the join token decides the role. Use the $($Desired.role.ToLowerInvariant()) join token, or change the role with PSSwarm/SwarmNode on a manager."
        }
        if ($Desired.ContainsKey('labels')) {
            $labels = ConvertTo-SortedLabels $Desired.labels
            Invoke-Swarm 'Set-SwarmNode' { Set-SwarmNode @ep -Id $node.Id -Label ([hashtable]$labels) -Confirm:$false -ErrorAction Stop }
            $changed.Add('labels')
        }
    }
    else {
        $update = $compare.Update
        if ($update.ContainsKey('Role') -and $state.role -ne 'Manager') {
            Stop-Operation $ExitNeedsManager "This node is a worker and cannot promote itself: promote it with the PSSwarm/SwarmNode resource (name: '$($state.nodeId)', role: Manager) on a manager."
        }
        Set-NodeUpdate $ep $state.nodeId $update $changed
    }
    Write-JsonLine (Get-MembershipState $Desired).State
    Write-JsonLine @($changed)
}

# ---- PSSwarm/SwarmNode ---------------------------------------------------------------------------

function Get-NodeState([hashtable] $Desired) {
    if (-not $Desired.ContainsKey('name')) { Stop-Operation $ExitInvalidInput "PSSwarm/SwarmNode needs 'name': the node's host name or ID." }
    $ep = Get-EndpointParameter $Desired
    $node = $null
    try { $node = Get-SwarmNode @ep -Id $Desired.name -ErrorAction Stop | Select-Object -First 1 }
    catch {
        if ("$($_.FullyQualifiedErrorId)" -notlike 'SwarmNodeNotFound*') {
            $code = Get-ExitCodeFor $_
            $hint = if ($code -eq $ExitNeedsManager) { ' PSSwarm/SwarmNode must run against a manager''s daemon.' } else { '' }
            Stop-Operation $code "Get-SwarmNode: $($_.Exception.Message) ($(("$($_.FullyQualifiedErrorId)" -split ',')[0]))$hint"
        }
    }
    $state = [ordered]@{ name = $Desired.name }
    if ($Desired.ContainsKey('endpoint')) { $state.endpoint = $Desired.endpoint }
    $state._exist = $null -ne $node
    if ($node) {
        $state.id = $node.Id
        $state.hostname = $node.Hostname
        $state.role = "$($node.Role)"
        $state.availability = "$($node.Availability)"
        $state.labels = ConvertTo-SortedLabels $node.Labels
        $state.status = "$($node.Status)"
    }
    [pscustomobject]@{ State = $state; Node = $node }
}

function Compare-Node([hashtable] $Desired, $Actual) {
    $diff = [System.Collections.Generic.List[string]]::new()
    $state = $Actual.State
    $wantExist = if ($Desired.ContainsKey('_exist')) { $Desired._exist } else { $true }
    $update = @{}
    if ($wantExist -ne $state._exist) { $diff.Add('_exist') }
    elseif ($wantExist) {
        if ($Desired.ContainsKey('role') -and $Desired.role -ne $state.role) { $diff.Add('role'); $update.Role = $Desired.role }
        if ($Desired.ContainsKey('availability') -and $Desired.availability -ne $state.availability) { $diff.Add('availability'); $update.Availability = $Desired.availability }
        if ($Desired.ContainsKey('labels')) {
            $change = Get-LabelChange $Actual.Node.Labels $Desired.labels ([bool]$Desired['_purge'])
            if ($change.Any) { $diff.Add('labels'); $update.Labels = $change }
        }
    }
    [pscustomobject]@{ Diff = @($diff); Update = $update; WantExist = $wantExist }
}

function Invoke-NodeSet([hashtable] $Desired) {
    $ep = Get-EndpointParameter $Desired
    $actual = Get-NodeState $Desired
    $compare = Compare-Node $Desired $actual
    $changed = [System.Collections.Generic.List[string]]::new()
    if ($compare.Diff.Count -eq 0) {
        Write-JsonLine $actual.State
        Write-JsonLine @()
        return
    }
    $id = $actual.State['id']
    if (-not $compare.WantExist) {
        $force = [bool]$Desired['force']
        Invoke-Swarm 'Remove-SwarmNode' { Remove-SwarmNode @ep -Id $id -Force:$force -Confirm:$false -ErrorAction Stop }
        $changed.Add('_exist')
    }
    elseif (-not $actual.State._exist) {
        Stop-Operation $ExitRefused "Node '$($Desired.name)' is not in the swarm. A node joins from its own host: use the PSSwarm/SwarmMembership resource there."
    }
    else {
        Set-NodeUpdate $ep $id $compare.Update $changed
    }
    Write-JsonLine (Get-NodeState $Desired).State
    Write-JsonLine @($changed)
}

# ---- main ----------------------------------------------------------------------------------------

try {
    $desired = ConvertFrom-Instance ([Console]::In.ReadToEnd())
    $manifest = Join-Path (Split-Path -Parent $PSScriptRoot) 'PSSwarm.psd1'
    try { Import-Module $manifest -ErrorAction Stop }
    catch { Stop-Operation $ExitUnexpected "Could not import the PSSwarm module from '$manifest': $($_.Exception.Message)" }
    $prefix = if ($Resource -eq 'SwarmMembership') { 'Membership' } else { 'Node' }
    switch ($Operation) {
        'get' { Invoke-Get $prefix $desired }
        'test' { Invoke-Test $prefix $desired }
        'set' { & "Invoke-${prefix}Set" $desired }
    }
    exit 0
}
catch [DscResourceError] {
    Write-DscMessage error $_.Exception.Message
    exit $_.Exception.ExitCode
}
catch {
    Write-DscMessage error "PSSwarm/${Resource} ${Operation} failed: $($_.Exception.Message)"
    exit $ExitUnexpected
}
