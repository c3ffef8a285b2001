#!/usr/bin/env bash
# Build every local image the tests and the demo use; nothing is pulled (no registry is reachable).
#
#   artisan-upgrade/base:bookworm          debootstrap root filesystem, entered into Docker by import
#   artisan-upgrade/systemd-host:bookworm  systemd as PID 1, python3 + venv: a VM stand-in
#   artisan-upgrade/postgres:15            Debian's PostgreSQL 15, initialised from POSTGRES_* env vars
#   artisan-upgrade/nginx:bookworm         Debian's nginx, config in /etc/nginx/conf.d
#   demoapp:1.0.0 demoapp:2.0.0 demoapp:3.0.0   the application, from the local wheelhouse
#
# Each image carries the hash of its inputs (its folder, its parent's hash, the wheels) as a label
# and is rebuilt only when that hash changes, so a warm run only inspects images.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${ARTISAN_CACHE:-$ROOT/.cache}
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

PREFIX=artisan-upgrade
DEMOAPP_VERSIONS="1.0.0 2.0.0 3.0.0"
# One root filesystem for all images: a second debootstrap would cost a minute, and a shared base layer
# is stored once. Services stay disabled in it; each image starts only its own.
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-venv,python3-requests,ca-certificates,procps,iproute2,curl,postgresql-15,nginx-light
HASH_LABEL=org.artisan.build-hash

image_hash() { docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
hash_dir() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16; }

debian_mirror() {
  local uri
  uri=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | head -n 1)
  echo "${uri:-http://deb.debian.org/debian}"
}

build_base() {  # build_base HASH
  local image="$PREFIX/base:bookworm" rootfs="$CACHE/rootfs-bookworm"
  [ "$(image_hash "$image")" = "$1" ] && return 0
  step "image $image: debootstrap bookworm (about a minute)"
  rm -rf "$rootfs" && mkdir -p "$rootfs"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$rootfs" "$(debian_mirror)" >"$CACHE/debootstrap.log" 2>&1 \
    || die "debootstrap failed; see $CACHE/debootstrap.log"
  # Images start their own process; the packaged cluster and the enabled units would only get in the way.
  chroot "$rootfs" pg_dropcluster 15 main >/dev/null 2>&1 || true
  chroot "$rootfs" systemctl disable postgresql.service nginx.service >/dev/null 2>&1
  rm -f "$rootfs"/etc/nginx/sites-enabled/default
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import --change "LABEL $HASH_LABEL=$1" - "$image" >/dev/null
  rm -rf "$rootfs"
}

build_image() {  # build_image TAG CONTEXT HASH [--build-arg ...]
  local tag=$1 context=$2 hash=$3
  shift 3
  [ "$(image_hash "$tag")" = "$hash" ] && return 0
  step "image $tag"
  docker build -q --label "$HASH_LABEL=$hash" -t "$tag" "$@" "$context" >"$CACHE/image-build.log" 2>&1 \
    || { cat "$CACHE/image-build.log" >&2; die "docker build of $tag failed"; }
}

mkdir -p "$CACHE"
# The base changes with its package list and recipe only, not with the rest of this script.
base_hash=$(printf '%s\n' "$PACKAGES" "$(declare -f build_base)" | sha256sum | cut -c1-16)
build_base "$base_hash"
for name in systemd-host postgres nginx; do
  tag="$PREFIX/$name:bookworm"
  [ "$name" = postgres ] && tag="$PREFIX/postgres:15"
  build_image "$tag" "$HERE/$name" "$base_hash-$(hash_dir "$HERE/$name")"
done

# The application: its wheels (and its dependencies' wheels) come from the local wheelhouse. Dependencies
# and the app go in separate folders so that the shared runtime stage stays cached across app changes.
"$ROOT/examples/demoapp/build-wheels.sh"
context="$CACHE/demoapp-image"
rm -rf "$context" && mkdir -p "$context/wheels/deps" "$context/wheels/app"
cp "$HERE/demoapp/"* "$context/"
for wheel in "$CACHE"/wheelhouse/*.whl; do
  case "$(basename "$wheel")" in
    demoapp-*) cp "$wheel" "$context/wheels/app/" ;;
    *) cp "$wheel" "$context/wheels/deps/" ;;
  esac
done
runtime_hash="$base_hash-$(hash_dir "$HERE/demoapp")-$(hash_dir "$context/wheels/deps")"
for version in $DEMOAPP_VERSIONS; do
  wheel=$(ls "$context"/wheels/app/demoapp-"$version"-*.whl 2>/dev/null) || die "no demoapp $version wheel in $CACHE/wheelhouse"
  build_image "demoapp:$version" "$context" "$runtime_hash-$(hash_of "$wheel")" --build-arg "DEMOAPP_VERSION=$version"
done
rm -rf "$context"
