#!/usr/bin/env bash
# Build demoapp releases 1.0.0, 2.0.0 and 3.0.0 from this one source tree, as a repository at three tags,
# plus every dependency's wheel for CPython 3.11 (Debian 12's python3), into one wheelhouse that installs offline:
#   pip install --no-index --find-links "${ARTISAN_CACHE:-<repo>/.cache}/wheelhouse" demoapp==2.0.0
# Skipped when nothing under examples/demoapp changed since the last build (a stamp of its content hash).
set -euo pipefail

APP=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$APP/../.." && pwd)
CACHE=${ARTISAN_CACHE:-$ROOT/.cache}
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

RELEASES="1.0.0 2.0.0 3.0.0"
WHEELHOUSE="$CACHE/wheelhouse"
BUILD="$CACHE/demoapp-build"
SETUPTOOLS_VERSION=84.2.1

# Paths relative to the app, so that a copy of the checkout elsewhere has the same key.
content_hash() {
  (cd "$APP" && find . -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) \
    | sha256sum | cut -c1-32
}

wheelhouse_complete() {
  local release
  for release in $RELEASES; do
    compgen -G "$WHEELHOUSE/demoapp-$release-py3-none-any.whl" >/dev/null || return 1
  done
}

build_venv() {  # a CPython 3.11 venv with the build backend, so that builds need no network
  local python=$1 key
  key="$("$python" --version 2>&1) setuptools==$SETUPTOOLS_VERSION"
  stamp_ok demoapp-build-venv "$key" && [ -x "$BUILD/venv/bin/python" ] && return 0
  step "demoapp: build venv with $("$python" --version 2>&1)"
  rm -rf "$BUILD/venv"
  "$python" -m venv "$BUILD/venv"
  "$BUILD/venv/bin/pip" install -q --disable-pip-version-check "setuptools==$SETUPTOOLS_VERSION" 2>&1 | quiet_pip
  stamp_set demoapp-build-venv "$key"
}

# A release's tree is this one with its version written in and the migrations of later releases left out.
release_tree() {  # release_tree RELEASE DEST
  local release=$1 dest=$2 major=${1%%.*} script number
  mkdir -p "$dest"
  tar -C "$APP" --exclude=__pycache__ --exclude='*.pyc' -cf - pyproject.toml README.md src | tar -C "$dest" -xf -
  printf '"""The release this tree was built as (written by build-wheels.sh)."""\n\nVERSION = %s\n' "'$release'" \
    >"$dest/src/demoapp/_release.py"
  for script in "$dest"/src/demoapp/migrations/versions/[0-9][0-9][0-9][0-9]_*.py; do
    number=$(basename "$script")
    number=$((10#${number:0:4}))
    [ "$number" -le "$major" ] || rm "$script"
  done
  # The unsafe migrations branch off revision 0002, which release 1 does not have.
  [ "$major" -ge 2 ] || rm -r "$dest/src/demoapp/migrations/unsafe"
}

build() {
  local stage=$1 release wheel pip="$BUILD/venv/bin/pip"
  for release in $RELEASES; do
    release_tree "$release" "$stage/src-$release"
    "$pip" wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$stage/apps" "$stage/src-$release" 2>&1 | quiet_pip
  done
  mkdir -p "$stage/wheelhouse"
  for release in $RELEASES; do
    # A file, not demoapp==X: an index could hold another project of that name.
    wheel="$stage/apps/demoapp-$release-py3-none-any.whl"
    [ -f "$wheel" ] || die "the build of demoapp $release made no $wheel"
    # The previous wheelhouse, or the previous release's dependencies, usually have them all: try offline first.
    if ! "$pip" wheel -q --disable-pip-version-check --no-index --find-links "$stage/wheelhouse" --find-links "$WHEELHOUSE" \
      -c "$APP/constraints.txt" -w "$stage/wheelhouse" "$wheel" >/dev/null 2>&1; then
      "$pip" wheel -q --disable-pip-version-check -c "$APP/constraints.txt" -w "$stage/wheelhouse" "$wheel" 2>&1 | quiet_pip
    fi
  done
  (cd "$stage/wheelhouse" && sha256sum -- *.whl >SHA256SUMS)
}

main() {
  local python key stage
  mkdir -p "$CACHE" "$BUILD"
  python=$(find_python 3.11 ARTISAN_PYTHON311)
  key="$(content_hash) $("$python" --version 2>&1)"
  stamp_ok demoapp-wheelhouse "$key" && wheelhouse_complete && return 0
  # Concurrent runs (tests, other checkouts' gates) share the wheelhouse: one builds, the others wait.
  exec 9>"$BUILD/lock"
  flock 9
  stamp_ok demoapp-wheelhouse "$key" && wheelhouse_complete && return 0
  step "demoapp: building wheels of $RELEASES and their dependencies into $WHEELHOUSE"
  build_venv "$python"
  stage=$(mktemp -d "$BUILD/stage.XXXXXX")
  # shellcheck disable=SC2064 # expand now: stage is local
  trap "rm -rf '$stage'" EXIT
  build "$stage"
  rm -rf "$WHEELHOUSE.old"
  [ ! -d "$WHEELHOUSE" ] || mv "$WHEELHOUSE" "$WHEELHOUSE.old"
  mv "$stage/wheelhouse" "$WHEELHOUSE"
  rm -rf "$WHEELHOUSE.old"
  stamp_set demoapp-wheelhouse "$key"
  step "demoapp: $(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels in $WHEELHOUSE"
}

main "$@"
