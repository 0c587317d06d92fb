# Activate the virtual environment __SHIPYARD_ROOT_TEXT__ in csh or tcsh.
# Use it with `source __SHIPYARD_BIN_NAME__/activate.csh`; `deactivate` undoes it.
# Written by shipyard.

alias deactivate 'if ($?_shipyard_saved_path) setenv PATH "$_shipyard_saved_path:q"; unset _shipyard_saved_path; if ($?_shipyard_saved_pythonhome) setenv PYTHONHOME "$_shipyard_saved_pythonhome:q"; unset _shipyard_saved_pythonhome; if ($?_shipyard_saved_prompt) set prompt="$_shipyard_saved_prompt:q"; unset _shipyard_saved_prompt; unsetenv VIRTUAL_ENV; unsetenv VIRTUAL_ENV_PROMPT; rehash; test "\!*" != "nondestructive" && unalias deactivate'

deactivate nondestructive

setenv VIRTUAL_ENV __SHIPYARD_ROOT__
setenv VIRTUAL_ENV_PROMPT __SHIPYARD_PROMPT__

set _shipyard_saved_path="$PATH:q"
setenv PATH "${VIRTUAL_ENV}/__SHIPYARD_BIN_NAME__:${PATH}"

if ($?PYTHONHOME) then
    set _shipyard_saved_pythonhome="$PYTHONHOME:q"
    unsetenv PYTHONHOME
endif

if (! $?VIRTUAL_ENV_DISABLE_PROMPT) then
    if ($?prompt) then
        set _shipyard_saved_prompt="$prompt:q"
        set prompt="(${VIRTUAL_ENV_PROMPT}) $prompt:q"
    endif
endif

rehash
