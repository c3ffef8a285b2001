# Helpers shared by the harness scripts (sourced, not run).
# shellcheck shell=bash

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# A stamp records the inputs a step was last completed with; equal inputs mean the step can be skipped.
stamp_ok() { [ -f "$CACHE/stamps/$1" ] && [ "$(cat "$CACHE/stamps/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$CACHE/stamps" && printf '%s' "$2" >"$CACHE/stamps/$1"; }

# find_python VERSION OVERRIDE_VAR: a CPython of that minor version that can make venvs, else die.
# The variable named OVERRIDE_VAR may point at one. pyenv's shims answer for versions that are not
# selected, with an error, so its folders are tried before the PATH.
find_python() {
  local version=$1 override_var=$2 candidate pyenv_root
  pyenv_root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo ~/.pyenv)}
  for candidate in "${!override_var:-}" "$pyenv_root"/versions/"$version".*/bin/python"$version" "python$version" \
    /usr/local/bin/python"$version" /usr/bin/python"$version"; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c "import sys, ensurepip; sys.exit('%d.%d' % sys.version_info[:2] != '$version')" 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  die "Python $version with venv support not found: install it or set $override_var to its interpreter"
}

# ansible-core 2.20+ needs Python >= 3.12; Debian 12's python3 is 3.11, so look for a 3.12 elsewhere.
python312() { find_python 3.12 ARTISAN_PYTHON; }

# This machine's pip config lists local indexes that lack most packages; drop pip's notes about them.
quiet_pip() { grep -v '^WARNING: Location .* is ignored' || true; }
