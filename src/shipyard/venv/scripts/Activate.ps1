# Activate a shipyard virtual environment in PowerShell: `. .\Scripts\Activate.ps1`.

function global:deactivate ([switch]$KeepFunction) {
    if (Test-Path variable:_SHIPYARD_SAVED_PATH) {
        $env:PATH = $variable:_SHIPYARD_SAVED_PATH
        Remove-Variable -Name _SHIPYARD_SAVED_PATH -Scope Global
    }
    if (Test-Path variable:_SHIPYARD_SAVED_PYTHONHOME) {
        $env:PYTHONHOME = $variable:_SHIPYARD_SAVED_PYTHONHOME
        Remove-Variable -Name _SHIPYARD_SAVED_PYTHONHOME -Scope Global
    }
    if (Test-Path function:_shipyard_saved_prompt) {
        Copy-Item -Path function:_shipyard_saved_prompt -Destination function:prompt
        Remove-Item -Path function:_shipyard_saved_prompt
    }
    Remove-Item -Path env:VIRTUAL_ENV -ErrorAction SilentlyContinue
    Remove-Item -Path env:VIRTUAL_ENV_PROMPT -ErrorAction SilentlyContinue
    if (-not $KeepFunction) {
        Remove-Item -Path function:deactivate
    }
}

deactivate -KeepFunction

$env:VIRTUAL_ENV = '__VENV_DIR__'
$env:VIRTUAL_ENV_PROMPT = '__VENV_PROMPT__'
New-Variable -Name _SHIPYARD_SAVED_PATH -Value $env:PATH -Scope Global
$env:PATH = "$env:VIRTUAL_ENV/__BIN_NAME__" + [System.IO.Path]::PathSeparator + $env:PATH

if (Test-Path env:PYTHONHOME) {
    New-Variable -Name _SHIPYARD_SAVED_PYTHONHOME -Value $env:PYTHONHOME -Scope Global
    Remove-Item -Path env:PYTHONHOME
}

if (-not $env:VIRTUAL_ENV_DISABLE_PROMPT) {
    Copy-Item -Path function:prompt -Destination function:_shipyard_saved_prompt
    function global:prompt {
        Write-Host -NoNewline "($env:VIRTUAL_ENV_PROMPT) "
        _shipyard_saved_prompt
    }
}
