# Activate a shipyard virtual environment in fish: `source bin/activate.fish`.

function deactivate -d "Leave the shipyard virtual environment"
    if set -q _SHIPYARD_SAVED_PATH
        set -gx PATH $_SHIPYARD_SAVED_PATH
        set -e _SHIPYARD_SAVED_PATH
    end
    if set -q _SHIPYARD_SAVED_PYTHONHOME
        set -gx PYTHONHOME $_SHIPYARD_SAVED_PYTHONHOME
        set -e _SHIPYARD_SAVED_PYTHONHOME
    end
    if functions -q _shipyard_saved_fish_prompt
        functions -e fish_prompt
        functions -c _shipyard_saved_fish_prompt fish_prompt
        functions -e _shipyard_saved_fish_prompt
    end
    set -e VIRTUAL_ENV
    set -e VIRTUAL_ENV_PROMPT
    if test "$argv[1]" != "keep-function"
        functions -e deactivate
    end
end

deactivate keep-function

set -gx VIRTUAL_ENV '__VENV_DIR__'
set -gx VIRTUAL_ENV_PROMPT '__VENV_PROMPT__'
set -gx _SHIPYARD_SAVED_PATH $PATH
set -gx PATH "$VIRTUAL_ENV/__BIN_NAME__" $PATH

if set -q PYTHONHOME
    set -gx _SHIPYARD_SAVED_PYTHONHOME $PYTHONHOME
    set -e PYTHONHOME
end

if not set -q VIRTUAL_ENV_DISABLE_PROMPT
    functions -c fish_prompt _shipyard_saved_fish_prompt
    function fish_prompt
        printf "(%s) " $VIRTUAL_ENV_PROMPT
        _shipyard_saved_fish_prompt
    end
end
