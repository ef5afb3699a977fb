"""Named shells: the bash text that carries a shell's working directory and exported environment
from one command to the next. Each command still runs in a fresh login bash; before it, the state
the shell's previous command left is loaded, and on exit (also on `exit N` or a syntax error) the
new state is written. The state lives on the devbox's own disk (its /tmp), under the devbox's id,
so it lasts exactly as long as the devbox's files do, and a devbox made from a snapshot starts
with no named shells. No processes or records here."""

from __future__ import annotations

import hashlib
import shlex

STATE_DIR = ".rlstate-shells"

_WRAPPER = """\
__rl_state={state}
if [ -r "$__rl_state" ]; then
  . "$__rl_state" 2>/dev/null
  for __rl_v in $(compgen -e); do
    case " $__rl_names " in *" $__rl_v "*) ;; *) unset "$__rl_v" ;; esac
  done
  unset __rl_v __rl_names
fi
__rl_save() {{
  mkdir -p {folder} 2>/dev/null && {{
    printf '__rl_names=%q\\n' "$(compgen -e | tr '\\n' ' ')"
    export -p
    printf 'cd -- %q 2>/dev/null\\n' "$PWD"
  }} > "$__rl_state.tmp" 2>/dev/null && mv -f "$__rl_state.tmp" "$__rl_state"
}}
trap __rl_save EXIT
"""


def state_file(tmp_dir: str, devbox_id: str, shell_name: str) -> tuple[str, str]:
    """(folder, file) of a shell's state as the command sees them; any name maps to a safe file."""
    folder = f"{tmp_dir.rstrip('/')}/{STATE_DIR}/{devbox_id}"
    digest = hashlib.sha256(shell_name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return folder, f"{folder}/{digest}"


def in_shell(command: str, tmp_dir: str, devbox_id: str, shell_name: str) -> str:
    """`command` wrapped so that it starts in, and leaves behind, the named shell's state."""
    folder, state = state_file(tmp_dir, devbox_id, shell_name)
    prefix = _WRAPPER.format(state=shlex.quote(state), folder=shlex.quote(folder))
    return f"{prefix}{command}"
