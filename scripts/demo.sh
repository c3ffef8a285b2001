#!/usr/bin/env bash
# make demo / make demo-down: scripts/demo.sh up|down [compose|systemd|k8s] (compose the default) runs scripts/demo.py
# for that target. `scripts/setup.sh` must have run first (make demo does: the venv, the local images); the demo
# runs this checkout as the collection artisan.upgrade, and this checkout's kubesim.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ARTISAN_CACHE:-$ROOT/.cache}
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

ACTION=${1:-up}
TARGET=${2:-compose}
case "$ACTION" in up | down) ;; *) die "usage: scripts/demo.sh up|down [compose|systemd|k8s]" ;; esac
case "$TARGET" in compose | systemd | k8s) ;; *) die "unknown TARGET '$TARGET': compose, systemd or k8s" ;; esac
[ -x "$CACHE/venv/bin/python" ] || die "no toolchain in $CACHE/venv: run make demo (it runs scripts/setup.sh first)"
# One state folder per target (ids, inventory, records, the runs' artifacts); systemd's is where it always was.
STATE=${ARTISAN_WORKDIR:-$CACHE/work}/demo
[ "$TARGET" = systemd ] || STATE=$STATE-$TARGET
# A collections path whose artisan.upgrade is this checkout.
mkdir -p "$STATE/collections/ansible_collections/artisan"
ln -sfn "$ROOT" "$STATE/collections/ansible_collections/artisan/upgrade"
export PATH="$CACHE/venv/bin:$PATH" ARTISAN_CACHE="$CACHE" PYTHONPATH="$ROOT:$ROOT/tools/kubesim/src" \
  ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 ANSIBLE_COLLECTIONS_PATH="$STATE/collections:$CACHE/collections"
cd "$ROOT"
exec python scripts/demo.py --target "$TARGET" --state "$STATE" "$ACTION"
