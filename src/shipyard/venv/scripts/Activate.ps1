# Activate the virtual environment __SHIPYARD_ROOT_TEXT__ in PowerShell.
# Dot-source it: `. __SHIPYARD_BIN_NAME__/Activate.ps1`; `deactivate` undoes it.
# Written by shipyard.

function global:deactivate([switch] $NonDestructive) {
    if (Test-Path -Path variable:global:_shipyard_saved_path) {
        $env:PATH = $global:_shipyard_saved_path
        Remove-Variable -Name _shipyard_saved_path -Scope Global
    }
    if (Test-Path -Path variable:global:_shipyard_saved_pythonhome) {
        $env:PYTHONHOME = $global:_shipyard_saved_pythonhome
        Remove-Variable -Name _shipyard_saved_pythonhome -Scope Global
    }
    if (Test-Path -Path function:global:_shipyard_saved_prompt) {
        Set-Item -Path function:global:prompt -Value $function:global:_shipyard_saved_prompt
        Remove-Item -Path function:global:_shipyard_saved_prompt
    }
    Remove-Item -Path env:VIRTUAL_ENV -ErrorAction SilentlyContinue
    Remove-Item -Path env:VIRTUAL_ENV_PROMPT -ErrorAction SilentlyContinue
    if (-not $NonDestructive) {
        Remove-Item -Path function:global:deactivate
    }
}

deactivate -NonDestructive

$env:VIRTUAL_ENV = __SHIPYARD_ROOT__
$env:VIRTUAL_ENV_PROMPT = __SHIPYARD_PROMPT__

$global:_shipyard_saved_path = $env:PATH
$env:PATH = (Join-Path -Path $env:VIRTUAL_ENV -ChildPath '__SHIPYARD_BIN_NAME__') + [System.IO.Path]::PathSeparator + $env:PATH

if (Test-Path -Path env:PYTHONHOME) {
    $global:_shipyard_saved_pythonhome = $env:PYTHONHOME
    Remove-Item -Path env:PYTHONHOME
}

if (-not $env:VIRTUAL_ENV_DISABLE_PROMPT) {
    Set-Item -Path function:global:_shipyard_saved_prompt -Value $function:prompt
    function global:prompt {
        Write-Host -NoNewline "($env:VIRTUAL_ENV_PROMPT) "
        & $function:global:_shipyard_saved_prompt
    }
}
