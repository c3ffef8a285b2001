# Helpers shared by the harness scripts (sourced, not run).
# shellcheck shell=bash

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# A stamp records the inputs a step was last completed with; equal inputs mean the step can be skipped.
stamp_ok() { [ -f "$CACHE/stamps/$1" ] && [ "$(cat "$CACHE/stamps/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$CACHE/stamps" && printf '%s' "$2" >"$CACHE/stamps/$1"; }

# ansible-core 2.20+ needs Python >= 3.12; Debian 12's python3 is 3.11, so look for a 3.12 elsewhere.
python312() {
  local candidate
  for candidate in "${ARTISAN_PYTHON:-}" python3.12 /root/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  die "Python 3.12 not found: install it or set ARTISAN_PYTHON to its interpreter"
}

# This machine's pip config lists local indexes that lack most packages; drop pip's notes about them.
quiet_pip() { grep -v '^WARNING: Location .* is ignored' || true; }
