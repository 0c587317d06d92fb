# Activate a shipyard virtual environment in csh/tcsh: `source bin/activate.csh`.

alias deactivate 'test $?_SHIPYARD_SAVED_PATH != 0 && setenv PATH "$_SHIPYARD_SAVED_PATH" && unset _SHIPYARD_SAVED_PATH; test $?_SHIPYARD_SAVED_PROMPT != 0 && set prompt="$_SHIPYARD_SAVED_PROMPT" && unset _SHIPYARD_SAVED_PROMPT; unsetenv VIRTUAL_ENV; unsetenv VIRTUAL_ENV_PROMPT; rehash; test "\!:*" != "keep-alias" && unalias deactivate'

deactivate keep-alias

setenv VIRTUAL_ENV '__VENV_DIR__'
setenv VIRTUAL_ENV_PROMPT '__VENV_PROMPT__'
set _SHIPYARD_SAVED_PATH="$PATH"
setenv PATH "$VIRTUAL_ENV/__BIN_NAME__:$PATH"

if ( ! $?VIRTUAL_ENV_DISABLE_PROMPT ) then
    if ( $?prompt ) then
        set _SHIPYARD_SAVED_PROMPT="$prompt"
        set prompt="($VIRTUAL_ENV_PROMPT) $prompt"
    endif
endif

rehash
