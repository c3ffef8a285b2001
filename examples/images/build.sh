#!/usr/bin/env bash
# Build the local base image every container test starts from: Debian bookworm with systemd as PID 1.
# No registry is reachable, so the root filesystem comes from debootstrap and enters Docker by import.
# Rebuilt only when this script changes (the image carries the script's hash as a label).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${ARTISAN_CACHE:-$ROOT/.cache}
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

IMAGE=${ARTISAN_BASE_IMAGE:-artisan-upgrade/debian-systemd:bookworm}
# python3 + requests: our modules run inside the container when it is an Ansible target.
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-requests,ca-certificates,procps,iproute2
HASH=$(sha256sum "$0" | cut -c1-16)

if [ "$(docker image inspect -f '{{ index .Config.Labels "org.artisan.build-hash" }}' "$IMAGE" 2>/dev/null)" = "$HASH" ]; then
  exit 0
fi

debian_mirror() {
  local uri
  uri=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | head -n 1)
  echo "${uri:-http://deb.debian.org/debian}"
}

step "image $IMAGE: debootstrap bookworm ($PACKAGES)"
rootfs="$CACHE/rootfs-bookworm"
rm -rf "$rootfs" && mkdir -p "$rootfs"
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$rootfs" "$(debian_mirror)" >"$CACHE/debootstrap.log" 2>&1 \
  || die "debootstrap failed; see $CACHE/debootstrap.log"
# Units that need a real console or kernel facilities a container lacks only add failed states.
chroot "$rootfs" systemctl mask getty.target console-getty.service systemd-udevd.service \
  systemd-modules-load.service sys-kernel-debug.mount sys-kernel-tracing.mount >/dev/null 2>&1
chroot "$rootfs" systemctl set-default multi-user.target >/dev/null 2>&1
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import - "$IMAGE-rootfs" >/dev/null
rm -rf "$rootfs"
# docker import cannot set STOPSIGNAL: a one-line build on the imported layer does (nothing is pulled).
printf '%s\n' "FROM $IMAGE-rootfs" 'ENV container=docker' 'STOPSIGNAL SIGRTMIN+3' \
  'CMD ["/lib/systemd/systemd"]' "LABEL org.artisan.build-hash=$HASH" \
  | docker build -q -t "$IMAGE" - >"$CACHE/image-build.log" 2>&1 || die "docker build failed; see $CACHE/image-build.log"
docker rmi "$IMAGE-rootfs" >/dev/null
step "image $IMAGE built"
