# Activate the virtual environment __SHIPYARD_ROOT_TEXT__ in fish.
# Use it with `source __SHIPYARD_BIN_NAME__/activate.fish`; `deactivate` undoes it.
# Written by shipyard.

if functions -q deactivate
    deactivate nondestructive
end

function deactivate --description "Leave the virtual environment activated by shipyard"
    if set -q _shipyard_saved_path
        set -gx PATH $_shipyard_saved_path
        set -e _shipyard_saved_path
    end
    if set -q _shipyard_saved_pythonhome
        set -gx PYTHONHOME $_shipyard_saved_pythonhome
        set -e _shipyard_saved_pythonhome
    end
    if functions -q _shipyard_saved_fish_prompt
        functions -e fish_prompt
        functions -c _shipyard_saved_fish_prompt fish_prompt
        functions -e _shipyard_saved_fish_prompt
        functions -e _shipyard_status
    end
    set -e VIRTUAL_ENV
    set -e VIRTUAL_ENV_PROMPT
    if test "$argv[1]" != nondestructive
        functions -e deactivate
    end
end

set -gx VIRTUAL_ENV __SHIPYARD_ROOT__
set -gx VIRTUAL_ENV_PROMPT __SHIPYARD_PROMPT__

set -g _shipyard_saved_path $PATH
set -gx PATH "$VIRTUAL_ENV/__SHIPYARD_BIN_NAME__" $PATH

if set -q PYTHONHOME
    set -g _shipyard_saved_pythonhome $PYTHONHOME
    set -e PYTHONHOME
end

if test -z "$VIRTUAL_ENV_DISABLE_PROMPT"; and functions -q fish_prompt
    functions -c fish_prompt _shipyard_saved_fish_prompt
    # Hands the exit status of the last command on to the saved prompt.
    function _shipyard_status
        return $argv[1]
    end
    function fish_prompt
        set -l last_status $status
        printf '(%s) ' $VIRTUAL_ENV_PROMPT
        _shipyard_status $last_status
        _shipyard_saved_fish_prompt
    end
end
