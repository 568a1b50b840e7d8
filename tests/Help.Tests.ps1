#Requires -Version 7.4
# Module-level checks: manifest, verbs, ShouldProcess/ConfirmImpact, and help drift (every exported
# cmdlet and parameter documented in docs/en-US and in the built MAML, with examples).

BeforeDiscovery {
    $modulePath = if ($env:PSSWARM_TEST_MODULE) { $env:PSSWARM_TEST_MODULE } else { Join-Path $PSScriptRoot '../out/PSSwarm/PSSwarm.psd1' }
    $cmdlets = @()
    if (Test-Path -LiteralPath $modulePath) {
        $module = Import-Module $modulePath -Force -PassThru -ErrorAction Stop
        $readOnly = 'Get', 'Test', 'Find', 'Search', 'Measure', 'Resolve'
        $cmdlets = @($module.ExportedCmdlets.Keys | Sort-Object | ForEach-Object {
                @{ Name = $_; ReadOnly = ($_ -split '-')[0] -in $readOnly } })
    }
    $pages = @(Get-ChildItem (Join-Path $PSScriptRoot '../docs/en-US') -Filter '*-*.md' |
        Where-Object Name -NotLike 'about_*' | Sort-Object Name | ForEach-Object { @{ Page = $_.Name; Path = $_.FullName } })
}

BeforeAll {
    $script:ModulePath = if ($env:PSSWARM_TEST_MODULE) { $env:PSSWARM_TEST_MODULE } else { Join-Path $PSScriptRoot '../out/PSSwarm/PSSwarm.psd1' }
    $script:DocsPath = Join-Path $PSScriptRoot '../docs/en-US'
    $script:BuildHelp = Join-Path $PSScriptRoot '../tools/Build-Help.ps1'
    # Parameters every cmdlet gets from the engine; -WhatIf and -Confirm must be documented.
    $script:CommonParameters = [System.Management.Automation.Cmdlet]::CommonParameters
    $script:HighImpact = 'Exit-Swarm', 'Remove-SwarmNode', 'Update-SwarmCA'   # SPEC: only these prompt

    # The "### -Name" headings of a docs page.
    function Get-DocumentedParameter([string]$Path) {
        $inFence = $false
        foreach ($line in Get-Content -LiteralPath $Path) {
            if ($line -match '^\s*```') { $inFence = -not $inFence; continue }
            if (-not $inFence -and $line -match '^### -(\w+)\s*$') { $Matches[1] }
        }
    }
    function Get-CmdletAttribute([string]$Name) {
        $type = (Get-Command $Name -CommandType Cmdlet).ImplementingType
        [Attribute]::GetCustomAttribute($type, [System.Management.Automation.CmdletAttribute])
    }
}

Describe 'PSSwarm module' {
    BeforeAll {
        $script:Module = Import-Module $ModulePath -Force -PassThru -ErrorAction Stop
        $script:MamlPath = Join-Path $Module.ModuleBase 'en-US/PSSwarm.dll-Help.xml'
        $script:Maml = [xml](Get-Content -Raw -LiteralPath $MamlPath)
        $script:MamlNames = @($Maml.helpItems.command | ForEach-Object { $_.details.name.Trim() })
    }

    Context 'when the manifest is checked' {
        It 'passes Test-ModuleManifest' {
            { Test-ModuleManifest -Path $ModulePath -ErrorAction Stop } | Should -Not -Throw
        }

        It 'exports the cmdlets that the manifest lists' {
            $listed = @((Test-ModuleManifest -Path $ModulePath).ExportedCmdlets.Keys | Sort-Object)
            @($Module.ExportedCmdlets.Keys | Sort-Object) | Should -Be $listed
        }

        It 'exports at least one cmdlet' {
            $Module.ExportedCmdlets.Count | Should -BeGreaterThan 0
        }
    }

    Context 'when <Name> is exported' -ForEach $cmdlets {
        BeforeAll {
            $command = Get-Command $Name -CommandType Cmdlet
            $parameters = @($command.Parameters.Values | Where-Object Name -NotIn $CommonParameters)
            $page = Join-Path $DocsPath "$Name.md"
            $help = Get-Help $Name -Full
            $helpParameters = @($help.parameters.parameter)
        }

        It 'uses an approved verb' {
            (Get-Verb).Verb | Should -Contain $command.Verb
        }

        It 'has a docs page' {
            $page | Should -Exist
        }

        It 'has an entry in the MAML help file' {
            $MamlNames | Should -Contain $Name
        }

        It 'has a synopsis that is not the generated syntax' {
            $help.Synopsis | Should -Not -BeNullOrEmpty
            $help.Synopsis | Should -Not -Match "^\s*$([regex]::Escape($Name))(\s|$)"
        }

        It 'has a description' {
            ($help.description.Text -join '') | Should -Not -BeNullOrEmpty
        }

        It 'has at least one example with code' {
            @($help.examples.example).Count | Should -BeGreaterThan 0
            @($help.examples.example)[0].code | Should -Not -BeNullOrEmpty
        }

        It 'has a syntax item in help for each parameter set' {
            @($help.syntax.syntaxItem).Count | Should -Be @($command.ParameterSets).Count
        }

        It 'describes every parameter in Get-Help' {
            foreach ($p in $parameters) {
                $entry = $helpParameters | Where-Object name -EQ $p.Name
                $entry | Should -Not -BeNullOrEmpty -Because "-$($p.Name) should be in the help of $Name"
                ($entry.description.Text -join '') | Should -Not -BeNullOrEmpty -Because "-$($p.Name) should have a description"
            }
        }

        It 'documents every parameter in its docs page' {
            $documented = @(Get-DocumentedParameter $page)
            foreach ($p in $parameters) {
                $documented | Should -Contain $p.Name -Because "$Name.md should have a '### -$($p.Name)' section"
            }
        }

        It 'documents no parameter that the cmdlet does not have' {
            foreach ($d in @(Get-DocumentedParameter $page)) {
                $command.Parameters.Keys | Should -Contain $d -Because "$Name.md documents -$d"
            }
        }

        It 'documents the type, position, mandatory flag, pipeline input and wildcards that the cmdlet has' {
            foreach ($p in $parameters) {
                $entry = $helpParameters | Where-Object name -EQ $p.Name
                if (-not $entry) { continue }   # reported by 'describes every parameter in Get-Help'
                $sets = @($p.ParameterSets.Values)
                $because = "the help of -$($p.Name) of $Name should match the cmdlet"
                $type = [Nullable]::GetUnderlyingType($p.ParameterType) ?? $p.ParameterType
                $entry.type.name | Should -BeIn @($type.Name, $type.FullName) -Because $because
                $globbing = [bool]($p.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
                ($entry.globbing -eq 'true') | Should -Be $globbing -Because $because
                ($entry.required -eq 'true') | Should -Be ([bool]($sets | Where-Object IsMandatory)) -Because $because
                $position = @($sets.Position | Where-Object { $_ -ge 0 } | Select-Object -Unique)
                $expected = if ($position.Count) { "$($position[0])" } else { 'named' }
                $entry.position | Should -Be $expected -Because $because
                $byValue = [bool]($sets | Where-Object ValueFromPipeline)
                $byName = [bool]($sets | Where-Object ValueFromPipelineByPropertyName)
                ($entry.pipelineInput -match '^True') | Should -Be ($byValue -or $byName) -Because $because
                ($entry.pipelineInput -match 'ByValue') | Should -Be $byValue -Because $because
                ($entry.pipelineInput -match 'ByPropertyName') | Should -Be $byName -Because $because
            }
        }

        if (-not $ReadOnly) {
            It 'supports ShouldProcess because it changes state' {
                (Get-CmdletAttribute $Name).SupportsShouldProcess | Should -BeTrue
            }
        }

        It 'has ConfirmImpact High only when it is destructive' {
            $impact = (Get-CmdletAttribute $Name).ConfirmImpact
            if ($Name -in $HighImpact) { $impact | Should -Be 'High' }
            else { [int]$impact | Should -BeLessOrEqual ([int][System.Management.Automation.ConfirmImpact]::Medium) }
        }
    }

    Context 'when the docs page <Page> exists' -ForEach $pages {
        It 'names an exported cmdlet' {
            $title = (Select-String -LiteralPath $Path -Pattern '^# (\S+)\s*$' | Select-Object -First 1).Matches.Groups[1].Value
            $title | Should -Be ($Page -replace '\.md$', '')
            $Module.ExportedCmdlets.Keys | Should -Contain $title
        }
    }

    Context 'when the about topic is requested' {
        It 'is found by Get-Help about_PSSwarm' {
            $about = Get-Help about_PSSwarm
            $about | Should -Not -BeNullOrEmpty
            ($about | Out-String) | Should -Match 'PSSWARM_HOST'
        }

        It 'is installed as about_PSSwarm.help.txt' {
            Join-Path $Module.ModuleBase 'en-US/about_PSSwarm.help.txt' | Should -Exist
        }
    }
}

Describe 'Build-Help' {
    BeforeAll {
        $script:GoodPage = Join-Path $DocsPath 'Get-SwarmJoinToken.md'
        function Invoke-BuildHelpOn([string]$Text) {
            $docs = Join-Path $TestDrive ([guid]::NewGuid())
            $null = New-Item -ItemType Directory -Path $docs
            Set-Content -LiteralPath (Join-Path $docs 'Get-SwarmJoinToken.md') -Value $Text
            & $BuildHelp -DocsPath $docs -OutputPath (Join-Path $docs 'out')
        }
    }

    Context 'when the docs are complete' {
        BeforeAll {
            $out = Join-Path $TestDrive 'complete'
            & $BuildHelp -DocsPath $DocsPath -OutputPath $out
            $xml = [xml](Get-Content -Raw -LiteralPath (Join-Path $out 'PSSwarm.dll-Help.xml'))
        }

        It 'writes one MAML command per page and the about topic' {
            @($xml.helpItems.command).Count | Should -Be @(Get-ChildItem $DocsPath -Filter '*-*.md' | Where-Object Name -NotLike 'about_*').Count
            Join-Path $out 'about_PSSwarm.help.txt' | Should -Exist
        }

        It 'writes a syntax item for every command' {
            foreach ($c in $xml.helpItems.command) {
                @($c.syntax.syntaxItem).Count | Should -BeGreaterThan 0 -Because $c.details.name
            }
        }
    }

    Context 'when a page lacks <What>' -ForEach @(
        @{ What = 'SYNOPSIS'; Pattern = '(?ms)^## SYNOPSIS.*?(?=^## )'; Message = 'SYNOPSIS' }
        @{ What = 'SYNTAX'; Pattern = '(?ms)^## SYNTAX.*?(?=^## )'; Message = 'SYNTAX' }
        @{ What = 'an example'; Pattern = '(?ms)^### Example.*?(?=^## )'; Message = 'no example' }
        @{ What = 'a parameter yaml block'; Pattern = '(?ms)(?<=^### -Quiet.*?)^```yaml.*?^```\s*$'; Message = 'no yaml block' }
    ) {
        It 'throws' {
            $text = Get-Content -Raw -LiteralPath $GoodPage
            $broken = $text -replace $Pattern, ''
            $broken | Should -Not -Be $text
            { Invoke-BuildHelpOn $broken } | Should -Throw "*$Message*"
        }
    }
}
