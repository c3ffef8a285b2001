#!/usr/bin/env bash
# make demo / make demo-down: the systemd demo of scripts/demo.py (up | down). `scripts/setup.sh` must have run
# first (make demo does); the demo runs this checkout as the collection artisan.upgrade.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ARTISAN_CACHE:-$ROOT/.cache}
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

[ -x "$CACHE/venv/bin/python" ] || die "no toolchain in $CACHE/venv: run make demo (it runs scripts/setup.sh first)"
STATE=${ARTISAN_WORKDIR:-$CACHE/work}/demo
# A collections path whose artisan.upgrade is this checkout.
mkdir -p "$STATE/collections/ansible_collections/artisan"
ln -sfn "$ROOT" "$STATE/collections/ansible_collections/artisan/upgrade"
export PATH="$CACHE/venv/bin:$PATH" ARTISAN_CACHE="$CACHE" PYTHONPATH="$ROOT" ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 \
  ANSIBLE_COLLECTIONS_PATH="$STATE/collections:$CACHE/collections"
cd "$ROOT"
exec python scripts/demo.py --state "$STATE" "${1:-up}"
