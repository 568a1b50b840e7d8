#Requires -Version 7.4
# Autolock (docker swarm init --autolock, unlock, unlock-key [--rotate], update --autolock) on a swarm
# of three managers (m1 initialises it with -Autolock, m2, m3) and a worker (w1): the key shown once,
# Get-SwarmUnlockKey, what lies sealed in the data roots, a restarted manager Locked and its refusals,
# wrong keys, Unlock-Swarm from the pipeline, Update-SwarmUnlockKey (old key refused after), and
# autolock turned off and on again with Set-Swarm, and the data key in managers' renewal answers only.
# The Describe blocks run in file order and build on each other.
# Loopback addresses: 127.0.49.x (port 2377).

BeforeAll {
    Import-Module $PSScriptRoot/TestHelpers.psm1 -Force
    Import-Module $PSScriptRoot/MultiNode.Helpers.psm1 -Force
    Import-Module $PSScriptRoot/Attack.Helpers.psm1 -Force
    $null = Import-PSSwarmUnderTest
    $root = New-TestRoot -Name autolock

    $KeyPattern = '^SWMKEY-1-[A-Za-z0-9+/]{43}$'
    $LockedMessage = 'Swarm is encrypted and needs to be unlocked before it can be used. Use Unlock-Swarm to unlock it.'

    try {
        $m1 = Start-TestNode -Root $root -Name m1 -Ip 127.0.49.1
        $initInfo = @(Initialize-Swarm -Endpoint $m1.Endpoint -ListenAddress $m1.Listen -AdvertiseAddress $m1.Ip -Autolock -InformationVariable notice -ErrorAction Stop)
        $m2 = Start-TestNode -Root $root -Name m2 -Ip 127.0.49.2
        $null = Join-TestNode -Manager $m1 -Node $m2 -Role Manager
        $m3 = Start-TestNode -Root $root -Name m3 -Ip 127.0.49.3
        $null = Join-TestNode -Manager $m1 -Node $m3 -Role Manager
        $w1 = Start-TestNode -Root $root -Name w1 -Ip 127.0.49.4
        $null = Join-TestNode -Manager $m1 -Node $w1 -Role Worker
    }
    catch {
        Write-Host "Setup failed: $_"
        foreach ($n in 'm1', 'm2', 'm3', 'w1') { if (Get-Variable $n -ErrorAction Ignore) { Get-TestNodeLog -Node (Get-Variable $n -ValueOnly) -Tail 30 | Write-Host } }
        throw
    }

    function ConvertTo-Secure([string] $Text) { ConvertTo-SecureString $Text -AsPlainText -Force }

    function Get-KeyFile([object] $Node) { Get-Content -Raw (Join-Path $Node.DataRoot 'certificates/swarm-node.key') }
    function Get-DataKeyFile([object] $Node) { Get-Content -Raw (Join-Path $Node.DataRoot 'certificates/swarm-raft.dek') }

    # Every file under a data root that holds one of the strings (as UTF-8 text): "<file>: <which>".
    function Find-PlainText([object] $Node, [hashtable] $Secrets) {
        foreach ($file in Get-ChildItem -LiteralPath $Node.DataRoot -Recurse -File) {
            $text = [Text.Encoding]::UTF8.GetString([IO.File]::ReadAllBytes($file.FullName))
            foreach ($name in $Secrets.Keys) {
                if ($text.Contains($Secrets[$name])) { "$($file.FullName.Substring($Node.DataRoot.Length)): $name" }
            }
        }
    }

    # Starts a stopped node's daemon again on its data root; the node object gets the new PID
    # (the same object is used by every block, so nothing is reassigned).
    function Start-Again([object] $Node) {
        $new = Start-TestNode -Root $root -Name $Node.Name -Ip $Node.Ip
        $Node.Pid = $new.Pid
    }
    function Restart-Node([object] $Node) { Stop-TestNode $Node; Start-Again $Node }
}

AfterAll {
    Remove-TestRoot $root
}

Describe 'Initialize-Swarm -Autolock' {
    BeforeAll { $key = Get-SwarmUnlockKey -Endpoint $m1.Endpoint -AsPlainText -ErrorAction Stop }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'shows the unlock key once on the host, with Docker''s advice' {
        $text = ($notice | ForEach-Object { "$($_.MessageData)" }) -join "`n"
        $text.Contains('To unlock a swarm manager after it restarts, run the `Unlock-Swarm` command and provide the following key:') | Should -BeTrue -Because $text
        $text.Contains('Remember to store this key in a password manager, since without it you will not be able to restart the manager.') | Should -BeTrue -Because $text
        $shown = [regex]::Match($text, 'SWMKEY-1-[A-Za-z0-9+/]{43}').Value
        $shown | Should -Be $key
        @($notice | Where-Object { $_.Tags -contains 'PSHOST' }) | Should -Not -BeNullOrEmpty
    }

    It 'outputs one SwarmInfo with Autolock, and the key in no property of it' {
        $initInfo | Should -HaveCount 1
        $initInfo[0].Autolock | Should -BeTrue
        ($initInfo[0] | ConvertTo-Json -Depth 3 -WarningAction Ignore) | Should -Not -BeLike '*SWMKEY*'
    }

    It 'has a key of Docker''s format' {
        $key | Should -Match $KeyPattern
    }

    It 'gives the same key on every manager, as an object whose Key is a SecureString' {
        foreach ($m in $m2, $m3) {
            $object = Get-SwarmUnlockKey -Endpoint $m.Endpoint -ErrorAction Stop
            $object.PSObject.TypeNames[0] | Should -Be 'PSSwarm.SwarmUnlockKey'
            $object.Key | Should -BeOfType [securestring]
            "$object" | Should -Be 'SWMKEY-1-********'
            [System.Net.NetworkCredential]::new('', $object.Key).Password | Should -Be $key
        }
    }

    It 'refuses Get-SwarmUnlockKey on a worker with SwarmNotManager' {
        Assert-Refused { Get-SwarmUnlockKey -Endpoint $w1.Endpoint } 'SwarmNotManager' InvalidOperation (Get-NotManagerMessage -Worker)
    }

    It 'keeps every manager''s data key and node key sealed, in files only the owner reads' {
        foreach ($m in $m1, $m2, $m3) {
            $null = Wait-Until -TimeoutSeconds 10 -Because "$($m.Name) to seal its keys" -Condition {
                (Get-DataKeyFile $m).StartsWith('sealed:') -and (Get-KeyFile $m) -like '*-----BEGIN PSSWARM SEALED PRIVATE KEY-----*'
            }
            Get-FileMode (Join-Path $m.DataRoot 'certificates/swarm-raft.dek') | Should -Be '600'
            Get-FileMode (Join-Path $m.DataRoot 'certificates/swarm-node.key') | Should -Be '600'
        }
    }

    It 'leaves the worker''s key as it is (workers are not locked), without a data key' {
        Get-KeyFile $w1 | Should -BeLike '*-----BEGIN PRIVATE KEY-----*'
        Test-Path (Join-Path $w1.DataRoot 'certificates/swarm-raft.dek') | Should -BeFalse
    }
}

Describe 'A manager restarted while autolock is on' {
    BeforeAll {
        $key = Get-SwarmUnlockKey -Endpoint $m1.Endpoint -AsPlainText -ErrorAction Stop
        $secrets = @{
            'unlock key'         = $key
            'worker join token'  = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Worker -Quiet -ErrorAction Stop
            'manager join token' = Get-SwarmJoinToken -Endpoint $m1.Endpoint -Role Manager -Quiet -ErrorAction Stop
            'a PKCS#8 key'       = '-----BEGIN PRIVATE KEY-----'
            'an EC key'          = '-----BEGIN EC PRIVATE KEY-----'
            'the token prefix'   = 'SWMTKN-'
        }
        Stop-TestNode $m3
        $plain = @(Find-PlainText -Node $m3 -Secrets $secrets)
        Start-Again $m3
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'holds no key, token or unlock key in plain text anywhere in its data root (Raft log and snapshots included)' {
        $plain | Should -BeNullOrEmpty -Because ($plain -join '; ')
    }

    It 'reports LocalNodeState Locked' {
        $null = Wait-LocalNodeState -Node $m3 -State Locked -TimeoutSeconds 15
        (Get-Swarm -Endpoint $m3.Endpoint -ErrorAction Stop).LocalNodeState | Should -Be 'Locked'
    }

    It 'refuses other work with SwarmLocked and Docker''s message' {
        Assert-Refused { Get-SwarmNode -Endpoint $m3.Endpoint } 'SwarmLocked' ResourceUnavailable $LockedMessage
        Assert-Refused { Get-SwarmJoinToken -Endpoint $m3.Endpoint -Role Worker } 'SwarmLocked' ResourceUnavailable $LockedMessage
    }

    It 'refuses Exit-Swarm without -Force with Docker''s message' {
        Assert-Refused { Exit-Swarm -Endpoint $m3.Endpoint -Confirm:$false } 'SwarmLocked' InvalidOperation `
            'Swarm is encrypted and locked. Please unlock it first or use -Force to ignore this message.'
    }

    It 'is listed as an Unreachable manager by the others meanwhile' {
        $view = Wait-NodeView -Manager $m1 -Id m3 -TimeoutSeconds 15 -Because 'the locked manager to be unreachable' -Condition { param($v) "$($v.Reachability)" -eq 'Unreachable' }
        $view | Should -Not -BeNullOrEmpty
    }

    It 'refuses a malformed key with SwarmInvalidArgument ("invalid key string") and stays Locked' {
        Assert-Refused { Unlock-Swarm -Endpoint $m3.Endpoint -Key (ConvertTo-Secure 'SWMKEY-1-tooshort') } 'SwarmInvalidArgument' InvalidArgument 'invalid key string'
        (Get-Swarm -Endpoint $m3.Endpoint).LocalNodeState | Should -Be 'Locked'
    }

    It 'refuses a wrong key with SwarmInvalidUnlockKey (AuthenticationError) and stays Locked' {
        $wrong = 'SWMKEY-1-' + [Convert]::ToBase64String([byte[]]::new(32)).TrimEnd('=')
        Assert-Refused { Unlock-Swarm -Endpoint $m3.Endpoint -Key (ConvertTo-Secure $wrong) } 'SwarmInvalidUnlockKey' AuthenticationError `
            'swarm could not be unlocked: invalid key provided'
        (Get-Swarm -Endpoint $m3.Endpoint).LocalNodeState | Should -Be 'Locked'
    }

    It 'unlocks with the key from another manager''s Get-SwarmUnlockKey through the pipeline, and serves' {
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        Get-SwarmUnlockKey -Endpoint $m1.Endpoint -ErrorAction Stop | Unlock-Swarm -Endpoint $m3.Endpoint -ErrorAction Stop
        $list = @(Get-SwarmNode -Endpoint $m3.Endpoint -ErrorAction Stop)
        $clock.Stop()
        Write-Host ("Unlock-Swarm to a node list on the unlocked manager: {0:0} ms" -f $clock.Elapsed.TotalMilliseconds)
        $list | Should -HaveCount 4
        (Get-Swarm -Endpoint $m3.Endpoint).LocalNodeState | Should -Be 'Active'
    }

    It 'is a Reachable manager again on the leader' {
        $null = Wait-NodeView -Manager $m1 -Id m3 -TimeoutSeconds 15 -Because 'the unlocked manager to be reachable' -Condition { param($v) "$($v.Reachability)" -eq 'Reachable' }
    }

    It 'refuses a second Unlock-Swarm with SwarmNotLocked' {
        Assert-Refused { Unlock-Swarm -Endpoint $m3.Endpoint -Key (ConvertTo-Secure $key) } 'SwarmNotLocked' InvalidOperation 'swarm is not locked'
    }

    It 'does not lock a restarted worker' {
        Restart-Node $w1
        $null = Wait-LocalNodeState -Node $w1 -State Active -TimeoutSeconds 15
    }
}

Describe 'Update-SwarmUnlockKey' {
    BeforeAll {
        $oldKey = Get-SwarmUnlockKey -Endpoint $m1.Endpoint -AsPlainText -ErrorAction Stop
        $new = @(Update-SwarmUnlockKey -Endpoint $m2.Endpoint -ErrorAction Stop)
        $newKey = [System.Net.NetworkCredential]::new('', $new[0].Key).Password
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'outputs the new key as a SwarmUnlockKey, of Docker''s format and different from the old one' {
        $new | Should -HaveCount 1
        $new[0].PSObject.TypeNames[0] | Should -Be 'PSSwarm.SwarmUnlockKey'
        $newKey | Should -Match $KeyPattern
        $newKey | Should -Not -Be $oldKey
    }

    It 'gives the new key on every manager' {
        foreach ($m in $m1, $m2, $m3) { Get-SwarmUnlockKey -Endpoint $m.Endpoint -AsPlainText -ErrorAction Stop | Should -Be $newKey -Because $m.Name }
    }

    It 'changes nothing with -WhatIf' {
        Update-SwarmUnlockKey -Endpoint $m1.Endpoint -WhatIf
        Get-SwarmUnlockKey -Endpoint $m1.Endpoint -AsPlainText | Should -Be $newKey
    }

    Context 'when a manager restarts after the rotation' {
        BeforeAll {
            # Every manager re-seals as it applies the change; m2 proposed it and waited for its own.
            Restart-Node $m2
            $null = Wait-LocalNodeState -Node $m2 -State Locked -TimeoutSeconds 15
        }

        It 'refuses the old key' {
            Assert-Refused { Unlock-Swarm -Endpoint $m2.Endpoint -Key (ConvertTo-Secure $oldKey) } 'SwarmInvalidUnlockKey' AuthenticationError
        }

        It 'unlocks with the new key' {
            Unlock-Swarm -Endpoint $m2.Endpoint -Key (ConvertTo-Secure $newKey) -ErrorAction Stop
            (Get-Swarm -Endpoint $m2.Endpoint).LocalNodeState | Should -Be 'Active'
        }
    }
}

Describe 'Set-Swarm -Autolock' {
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    Context 'turned off' {
        BeforeAll { Set-Swarm -Endpoint $m1.Endpoint -Autolock:$false -ErrorAction Stop }

        It 'opens every manager''s data key and node key' {
            foreach ($m in $m1, $m2, $m3) {
                $null = Wait-Until -TimeoutSeconds 10 -Because "$($m.Name) to open its keys" -Condition {
                    (Get-DataKeyFile $m).StartsWith('plain:') -and (Get-KeyFile $m) -like '*-----BEGIN PRIVATE KEY-----*'
                }
            }
        }

        It 'has no unlock key any more' {
            Assert-Refused { Get-SwarmUnlockKey -Endpoint $m2.Endpoint } 'SwarmNoUnlockKey' ObjectNotFound 'no unlock key is set'
            Assert-Refused { Update-SwarmUnlockKey -Endpoint $m2.Endpoint } 'SwarmAutolockOff' InvalidOperation 'cannot rotate because autolock is not turned on'
            (Get-Swarm -Endpoint $m1.Endpoint).Autolock | Should -BeFalse
        }

        It 'still keeps the Raft log sealed: no join token in plain text in a manager''s data root' {
            $found = @(Find-PlainText -Node $m2 -Secrets @{ 'the token prefix' = 'SWMTKN-' })
            $found | Should -BeNullOrEmpty -Because ($found -join '; ')
        }

        It 'lets a restarted manager start without a key' {
            Restart-Node $m3
            $null = Wait-LocalNodeState -Node $m3 -State Active -TimeoutSeconds 15
            @(Get-SwarmNode -Endpoint $m3.Endpoint -ErrorAction Stop) | Should -HaveCount 4
        }
    }

    Context 'turned on again' {
        BeforeAll { Set-Swarm -Endpoint $m3.Endpoint -Autolock -InformationVariable again -ErrorAction Stop }

        It 'shows a new key once, the one Get-SwarmUnlockKey gives' {
            $shown = [regex]::Match((($again | ForEach-Object { "$($_.MessageData)" }) -join "`n"), 'SWMKEY-1-[A-Za-z0-9+/]{43}').Value
            $shown | Should -Match $KeyPattern
            Get-SwarmUnlockKey -Endpoint $m1.Endpoint -AsPlainText | Should -Be $shown
        }

        It 'seals every manager''s keys again' {
            foreach ($m in $m1, $m2, $m3) {
                $null = Wait-Until -TimeoutSeconds 10 -Because "$($m.Name) to seal its keys" -Condition {
                    (Get-DataKeyFile $m).StartsWith('sealed:') -and (Get-KeyFile $m) -like '*PSSWARM SEALED PRIVATE KEY*'
                }
            }
        }

        It 'keeps every node Ready' {
            @(Get-SwarmNode -Endpoint $m1.Endpoint | Where-Object { "$($_.Status)" -ne 'Ready' }) | Should -HaveCount 0
        }
    }
}

Describe 'The data key on the cluster port' {
    BeforeAll {
        # A manager's key file is sealed while autolock is on: off, to present its certificate here.
        Set-Swarm -Endpoint $m1.Endpoint -Autolock:$false -ErrorAction Stop
        $null = Wait-Until -TimeoutSeconds 10 -Because 'm2 to open its node key' -Condition { (Get-KeyFile $m2) -like '*-----BEGIN PRIVATE KEY-----*' }
        # The field numbers of a protobuf message (top level), from a gRPC response frame.
        function Get-ProtoFieldNumbers([byte[]] $Frame) {
            $numbers = [System.Collections.Generic.List[int]]::new()
            if ($null -eq $Frame -or $Frame.Length -lt 5) { return ,$numbers }
            $i = 5
            while ($i -lt $Frame.Length) {
                $key = [uint64]0; $shift = 0
                do { $b = $Frame[$i]; $i++; $key = $key -bor ([uint64]($b -band 0x7F) -shl $shift); $shift += 7 } while (($b -band 0x80) -and $i -lt $Frame.Length)
                $numbers.Add([int]($key -shr 3))
                $wire = [int]($key -band 7)
                if ($wire -eq 0) { do { $b = $Frame[$i]; $i++ } while (($b -band 0x80) -and $i -lt $Frame.Length) }
                elseif ($wire -eq 2) {
                    $len = [uint64]0; $shift = 0
                    do { $b = $Frame[$i]; $i++; $len = $len -bor ([uint64]($b -band 0x7F) -shl $shift); $shift += 7 } while (($b -band 0x80) -and $i -lt $Frame.Length)
                    $i += [int]$len
                }
                else { break }
            }
            ,$numbers
        }
        function Invoke-Renewal([object] $Node) {
            $key = [System.Security.Cryptography.ECDsa]::Create([System.Security.Cryptography.ECCurve+NamedCurves]::nistP256)
            $csr = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=swarm-node', $key, [System.Security.Cryptography.HashAlgorithmName]::SHA256).CreateSigningRequest()
            $certificate = Get-AttackNodeCertificate -Node $Node
            Invoke-AttackCall -Address $m1.Listen -Path '/psswarm.cluster.v1.NodeCA/RenewNodeCertificate' -Certificate $certificate `
                -Body (ConvertTo-GrpcFrame (New-ProtoBytesField 1 $csr))
        }
    }
    AfterEach { Write-TestNodeLogOnFailure -Root $root }

    It 'is in a manager''s renewal answer (positive control: field 11)' {
        $r = Invoke-Renewal $m2
        $r.GrpcStatus | Should -Be 0 -Because "$r"
        $fields = Get-ProtoFieldNumbers $r.BodyBytes
        $fields | Should -Contain 11
    }

    It 'is never in a worker''s renewal answer' {
        $r = Invoke-Renewal $w1
        $r.GrpcStatus | Should -Be 0 -Because "$r"
        $fields = Get-ProtoFieldNumbers $r.BodyBytes
        $fields | Should -Contain 2 -Because 'the answer carries the certificate'
        $fields | Should -Not -Contain 11
    }
}
