<#
.SYNOPSIS
Builds the module's help from docs/en-US: MAML for the cmdlets, plain text for the about topic.
.DESCRIPTION
Reads every platyPS-style cmdlet page (<Verb>-<Noun>.md) in DocsPath and writes one MAML file,
PSSwarm.dll-Help.xml, to OutputPath; converts about_*.help.md to about_*.help.txt. Throws when a page
lacks SYNOPSIS, SYNTAX, an example, or the yaml block of a parameter.
.EXAMPLE
./tools/Build-Help.ps1 -DocsPath ./docs/en-US -OutputPath ./out/PSSwarm/en-US
#>
[CmdletBinding()]
param(
    [string]$DocsPath = (Join-Path $PSScriptRoot '../docs/en-US'),
    [string]$OutputPath = (Join-Path $PSScriptRoot '../out/PSSwarm/en-US')
)
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

# ---- markdown reading -------------------------------------------------------------------------

# Splits a page into its title (# ...) and its ## sections; each section is a list of
# @{ Heading = <### text or $null>; Lines = <lines> }. Headings inside code fences are text.
function Read-Page([string]$Path) {
    $lines = @((Get-Content -LiteralPath $Path -Encoding utf8) -replace '\s+$', '')
    $start = 0
    if ($lines.Count -gt 0 -and $lines[0] -eq '---') {
        $end = [Array]::IndexOf($lines, '---', 1)
        if ($end -lt 0) { throw "${Path}: unterminated front matter." }
        $start = $end + 1
    }
    $page = @{ Title = $null; Sections = [ordered]@{} }
    $item = $null; $inFence = $false
    for ($i = $start; $i -lt $lines.Count; $i++) {
        $line = $lines[$i]
        if (-not $inFence -and $line -match '^(#{1,3}) +(.+)$') {
            $level, $text = $Matches[1].Length, $Matches[2].Trim()
            if ($level -eq 1) { $page.Title = $text; $item = $null; continue }
            if ($level -eq 2) {
                $item = [pscustomobject]@{ Heading = $null; Lines = [Collections.Generic.List[string]]::new() }
                $page.Sections[$text.ToUpperInvariant()] = [Collections.Generic.List[object]]@($item)
                continue
            }
            if ($page.Sections.Count -eq 0) { continue }
            $item = [pscustomobject]@{ Heading = $text; Lines = [Collections.Generic.List[string]]::new() }
            $page.Sections[$page.Sections.Count - 1].Add($item)
            continue
        }
        if ($line -match '^\s*```') { $inFence = -not $inFence }
        if ($null -ne $item) { $item.Lines.Add($line) }
    }
    $page
}

# Code fences of some lines: @{ Lang; Text }.
function Get-Fence([string[]]$Lines) {
    $fence = $null
    foreach ($line in $Lines) {
        if ($line -match '^\s*```\s*(\S*)') {
            if ($null -eq $fence) { $fence = @{ Lang = $Matches[1]; Body = [Collections.Generic.List[string]]::new() } }
            else { [pscustomobject]@{ Lang = $fence.Lang; Text = ($fence.Body -join "`n") }; $fence = $null }
        }
        elseif ($null -ne $fence) { $fence.Body.Add($line) }
    }
}

# Paragraphs outside code fences (list items start a new paragraph), each joined to one line.
function Get-Paragraph([string[]]$Lines) {
    $para = [Collections.Generic.List[string]]::new(); $inFence = $false
    foreach ($line in $Lines) {
        if ($line -match '^\s*```') { $inFence = -not $inFence; continue }
        if ($inFence) { continue }
        if ($line -match '^\s*$' -or $line -match '^\s*([-*]|\d+\.) ') {
            if ($para.Count) { $para -join ' '; $para.Clear() }
        }
        if ($line -notmatch '^\s*$') { $para.Add($line.Trim()) }
    }
    if ($para.Count) { $para -join ' ' }
}

function Get-Section($Page, [string]$Name, [switch]$Required) {
    $s = $Page.Sections[$Name]
    if ($null -eq $s -and $Required) { throw "$($Page.Path): the page has no '## $Name' section." }
    $s
}

# Converts one cmdlet page to a data object, validating what MAML needs.
function ConvertFrom-CmdletPage([string]$Path) {
    $page = Read-Page $Path
    $page.Path = $Path
    $name = $page.Title
    if ($name -notmatch '^(\w+)-(\w+)$') { throw "${Path}: the title '# $name' is not a cmdlet name." }
    $verb, $noun = $Matches[1], $Matches[2]
    $synopsis = @(Get-Paragraph @(Get-Section $page 'SYNOPSIS' -Required)[0].Lines)
    if (-not $synopsis) { throw "${Path}: SYNOPSIS is empty." }

    $params = [ordered]@{}
    foreach ($p in @(Get-Section $page 'PARAMETERS' -Required | Where-Object Heading)) {
        if ($p.Heading -eq 'CommonParameters') { continue }
        if ($p.Heading -notmatch '^-(\w+)$') { throw "${Path}: parameter heading '### $($p.Heading)' must be '### -Name'." }
        $pname = $Matches[1]
        $yaml = @(Get-Fence $p.Lines | Where-Object Lang -eq 'yaml')
        if ($yaml.Count -ne 1) { throw "${Path}: parameter -$pname has no yaml block." }
        $meta = @{}
        foreach ($l in $yaml[0].Text -split "`n") { if ($l -match '^([\w ]+):\s*(.*)$') { $meta[$Matches[1]] = $Matches[2].Trim() } }
        foreach ($key in 'Type', 'Parameter Sets', 'Required', 'Position') {
            if (-not $meta[$key]) { throw "${Path}: the yaml block of -$pname has no '$key'." }
        }
        $params[$pname] = [pscustomobject]@{
            Name = $pname; Type = $meta['Type']; Description = @(Get-Paragraph $p.Lines)
            Sets = @($meta['Parameter Sets'] -split ',\s*'); Aliases = $meta['Aliases']
            AcceptedValues = @(if ($meta['Accepted values']) { $meta['Accepted values'] -split ',\s*' })
            Required = $meta['Required'] -match '^True'; Position = $meta['Position']
            Default = $meta['Default value']; Pipeline = $meta['Accept pipeline input']
            Globbing = $meta['Accept wildcard characters'] -match '^True'
        }
        if (-not $params[$pname].Description) { throw "${Path}: parameter -$pname has no description." }
    }

    $syntax = foreach ($s in @(Get-Section $page 'SYNTAX' -Required)) {
        $setName = if ($s.Heading) { $s.Heading -replace '\s*\(Default\)$', '' } else { '(All)' }
        foreach ($f in @(Get-Fence $s.Lines)) {
            $names = [regex]::Matches(($f.Text -replace '\s+', ' '), '(?<![\w-])-(\w+)') | ForEach-Object { $_.Groups[1].Value }
            $setParams = foreach ($n in $names) {
                if (-not $params.Contains($n)) { throw "${Path}: -$n is in SYNTAX but not in PARAMETERS." }
                $params[$n]
            }
            [pscustomobject]@{ Set = $setName; Parameters = @($setParams) }
        }
    }
    if (-not $syntax) { throw "${Path}: SYNTAX has no code block." }

    $examples = foreach ($e in @(Get-Section $page 'EXAMPLES' -Required | Where-Object Heading)) {
        $code = @(Get-Fence $e.Lines | ForEach-Object Text) -join "`n`n"
        if (-not $code) { throw "${Path}: '$($e.Heading)' has no code block." }
        [pscustomobject]@{ Title = $e.Heading; Code = $code; Remarks = @(Get-Paragraph $e.Lines) }
    }
    if (-not $examples) { throw "${Path}: the page has no example." }

    $typeList = {
        param($section)
        foreach ($t in @(Get-Section $page $section | Where-Object Heading)) {
            [pscustomobject]@{ Name = $t.Heading; Description = @(Get-Paragraph $t.Lines) }
        }
    }
    $links = foreach ($l in @(Get-Section $page 'RELATED LINKS')) {
        foreach ($m in [regex]::Matches(($l.Lines -join "`n"), '\[([^\]]+)\]\(([^)]*)\)')) {
            [pscustomobject]@{ Text = $m.Groups[1].Value; Uri = if ($m.Groups[2].Value -match '^https?://') { $m.Groups[2].Value } else { '' } }
        }
    }
    [pscustomobject]@{
        Name = $name; Verb = $verb; Noun = $noun; Synopsis = $synopsis
        Description = @((Get-Section $page 'DESCRIPTION') | ForEach-Object { Get-Paragraph $_.Lines })
        Syntax = @($syntax); Parameters = @($params.Values); Examples = @($examples)
        Inputs = @(& $typeList 'INPUTS'); Outputs = @(& $typeList 'OUTPUTS')
        Notes = @((Get-Section $page 'NOTES') | ForEach-Object { Get-Paragraph $_.Lines }); Links = @($links)
    }
}

# ---- MAML writing (through $script:w, an XmlWriter, which escapes) ----------------------------

$ns = @{
    maml = 'http://schemas.microsoft.com/maml/2004/10'; command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev = 'http://schemas.microsoft.com/maml/dev/2004/10'
}
function Open([string]$QName) { $p, $n = $QName -split ':'; $w.WriteStartElement($p, $n, $ns[$p]) }
function Leaf([string]$QName, [string]$Value) { $p, $n = $QName -split ':'; $w.WriteElementString($p, $n, $ns[$p], $Value) }
function Close { $w.WriteEndElement() }
function Paras([string]$QName, [string[]]$Paras) {
    Open $QName; foreach ($p in @(if ($Paras) { $Paras } else { '' })) { Leaf 'maml:para' $p }; Close
}
function Write-Parameter($p, [switch]$InSyntax) {
    Open 'command:parameter'
    $attrs = [ordered]@{ required = "$($p.Required)".ToLower(); variableLength = 'true'; globbing = "$($p.Globbing)".ToLower()
        pipelineInput = $(if ($p.Pipeline) { $p.Pipeline } else { 'False' }); position = $p.Position.ToLower()
        aliases = $(if ($p.Aliases) { $p.Aliases } else { 'none' }) }
    foreach ($a in $attrs.GetEnumerator()) { $w.WriteAttributeString($a.Key, $a.Value) }
    Leaf 'maml:name' $p.Name; Paras 'maml:description' $p.Description
    if ($p.AcceptedValues) {   # shown by Get-Help as -Role {Worker | Manager}
        Open 'command:parameterValueGroup'
        foreach ($v in $p.AcceptedValues) {
            Open 'command:parameterValue'; $w.WriteAttributeString('required', 'false')
            $w.WriteAttributeString('variableLength', 'false'); $w.WriteString($v); Close
        }
        Close
    }
    $isSwitch = $p.Type -eq 'SwitchParameter'
    if (-not ($isSwitch -and $InSyntax)) {   # a switch has no value in the syntax
        Open 'command:parameterValue'; $w.WriteAttributeString('required', "$(-not $isSwitch)".ToLower())
        $w.WriteAttributeString('variableLength', 'false'); $w.WriteString($p.Type); Close
    }
    Open 'dev:type'; Leaf 'maml:name' $p.Type; Leaf 'maml:uri' ''; Close
    Leaf 'dev:defaultValue' $(if ($p.Default) { $p.Default } else { 'None' })
    Close
}
function Write-TypeList([string]$Outer, [string]$Inner, $Types) {
    Open $Outer
    foreach ($t in $Types) { Open $Inner; Open 'dev:type'; Leaf 'maml:name' $t.Name; Close; Paras 'maml:description' $t.Description; Close }
    Close
}
function Write-Command($c) {
    Open 'command:command'
    foreach ($p in 'maml', 'command', 'dev') { $w.WriteAttributeString('xmlns', $p, $null, $ns[$p]) }
    Open 'command:details'
    Leaf 'command:name' $c.Name; Leaf 'command:verb' $c.Verb; Leaf 'command:noun' $c.Noun; Paras 'maml:description' $c.Synopsis
    Close
    Paras 'maml:description' $c.Description
    Open 'command:syntax'
    foreach ($s in $c.Syntax) {
        Open 'command:syntaxItem'; Leaf 'maml:name' $c.Name
        foreach ($p in $s.Parameters) { Write-Parameter $p -InSyntax }
        Close
    }
    Close
    Open 'command:parameters'; foreach ($p in $c.Parameters) { Write-Parameter $p }; Close
    Write-TypeList 'command:inputTypes' 'command:inputType' $c.Inputs
    Write-TypeList 'command:returnValues' 'command:returnValue' $c.Outputs
    Open 'maml:alertSet'; Paras 'maml:alert' $c.Notes; Close
    Open 'command:examples'
    foreach ($e in $c.Examples) {
        Open 'command:example'
        Leaf 'maml:title' "-------------------------- $($e.Title) --------------------------"
        Leaf 'dev:code' $e.Code; Paras 'dev:remarks' $e.Remarks
        Close
    }
    Close
    Open 'command:relatedLinks'
    foreach ($l in $c.Links) { Open 'maml:navigationLink'; Leaf 'maml:linkText' $l.Text; Leaf 'maml:uri' $l.Uri; Close }
    Close
    Close
}

# ---- about topic -------------------------------------------------------------------------------

function Format-Wrapped([string]$Text, [int]$Indent, [int]$Hanging = $Indent, [int]$Width = 80) {
    $line = ' ' * $Indent
    foreach ($word in $Text -split '\s+' | Where-Object { $_ }) {
        if ($line.Trim() -and $line.Length + 1 + $word.Length -gt $Width) { $line.TrimEnd(); $line = ' ' * $Hanging }
        $line += $(if ($line.Trim()) { ' ' } else { '' }) + $word
    }
    if ($line.Trim()) { $line.TrimEnd() }
}
function ConvertTo-AboutText([string]$Path) {
    $out = [Collections.Generic.List[string]]::new(); $para = [Collections.Generic.List[string]]::new()
    $table = [Collections.Generic.List[string[]]]::new(); $inFence = $false
    $gap = { if ($out.Count -and $out[$out.Count - 1] -match '^    ') { $out.Add('') } }   # not after a heading
    $flush = {
        if ($para.Count) {
            $text = $para -join ' '
            if ($text -match '^([-*]|\d+\.) ') { Format-Wrapped $text 4 6 | ForEach-Object { $out.Add($_) } }
            else { & $gap; Format-Wrapped $text 4 | ForEach-Object { $out.Add($_) }; $out.Add('') }
            $para.Clear()
        }
        if ($table.Count) {
            & $gap
            $widths = foreach ($i in 0..($table[0].Count - 1)) { ($table | ForEach-Object { if ($i -lt $_.Count) { $_[$i].Length } else { 0 } } | Measure-Object -Maximum).Maximum }
            foreach ($row in $table) { $out.Add(('    ' + ((0..($row.Count - 1) | ForEach-Object { $row[$_].PadRight($widths[$_]) }) -join '  ')).TrimEnd()) }
            $out.Add(''); $table.Clear()
        }
    }
    foreach ($line in (Get-Content -LiteralPath $Path -Encoding utf8) -replace '\s+$', '') {
        if ($line -match '^\s*```') { & $flush; $inFence = -not $inFence; if ($inFence) { & $gap } else { $out.Add('') }; continue }
        if ($inFence) { $out.Add(('        ' + $line).TrimEnd()); continue }
        if ($line -match '^# +(.+)$') { $out.Add('TOPIC'); $out.Add("    $($Matches[1].Trim())"); $out.Add(''); continue }
        if ($line -match '^## +(.+)$') { & $flush; & $gap; $out.Add($Matches[1].Trim().ToUpperInvariant()); continue }
        if ($line -match '^###+ +(.+)$') { & $flush; & $gap; $out.Add("  $($Matches[1].Trim())"); continue }
        if ($line -match '^\s*\|(.*)\|\s*$') {
            if ($para.Count) { & $flush }
            $cells = @($Matches[1] -split '\|' | ForEach-Object Trim)
            if (-not ($cells -match '^:?-+:?$').Count -or ($cells -match '^:?-+:?$').Count -ne $cells.Count) { $table.Add($cells) }
            continue
        }
        if ($line -match '^\s*$' -or $line -match '^\s*([-*]|\d+\.) ') { & $flush }
        if ($line -notmatch '^\s*$') { $para.Add($line.Trim()) }
    }
    & $flush
    ($out -join "`n").TrimEnd() + "`n"
}

# ---- main --------------------------------------------------------------------------------------

$DocsPath = (Resolve-Path -LiteralPath $DocsPath).Path
$pages = @(Get-ChildItem -LiteralPath $DocsPath -Filter '*-*.md' | Where-Object Name -NotLike 'about_*' | Sort-Object Name)
if (-not $pages) { throw "No cmdlet pages (*-*.md) in $DocsPath." }
$commands = foreach ($p in $pages) { ConvertFrom-CmdletPage $p.FullName }   # validate every page before writing

$null = New-Item -ItemType Directory -Force -Path $OutputPath
$mamlPath = Join-Path (Resolve-Path -LiteralPath $OutputPath).Path 'PSSwarm.dll-Help.xml'
$settings = [Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [Text.UTF8Encoding]::new($false) }
$script:w = [Xml.XmlWriter]::Create($mamlPath, $settings)
try {
    $w.WriteStartDocument(); $w.WriteStartElement('helpItems', 'http://msh'); $w.WriteAttributeString('schema', 'maml')
    foreach ($c in $commands) { Write-Command $c }
    $w.WriteEndElement(); $w.WriteEndDocument()
}
finally { $w.Dispose() }
Write-Verbose "Wrote $($commands.Count) commands to $mamlPath"

foreach ($about in Get-ChildItem -LiteralPath $DocsPath -Filter 'about_*.help.md') {
    $target = Join-Path $OutputPath ($about.Name -replace '\.md$', '.txt')
    [IO.File]::WriteAllText($target, (ConvertTo-AboutText $about.FullName), [Text.UTF8Encoding]::new($false))
    Write-Verbose "Wrote $target"
}
