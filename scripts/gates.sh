#!/usr/bin/env bash
# Run the quality gates named on the command line, in order, stopping at the first failure,
# then print one summary line per gate. `scripts/setup.sh` must have run first.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ARTISAN_CACHE:-$ROOT/.cache}
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

[ -x "$CACHE/venv/bin/ansible-test" ] || die "no toolchain in $CACHE/venv: run scripts/setup.sh (or make test)"
export PATH="$CACHE/venv/bin:$PATH"
# The copy of this collection the gates test (see sync_collection); ARTISAN_WORKDIR lets two runs coexist.
WORKDIR=${ARTISAN_WORKDIR:-$CACHE/work}
COLLECTION="$WORKDIR/ansible_collections/artisan/upgrade"
export ANSIBLE_COLLECTIONS_PATH="$WORKDIR:$CACHE/collections" ARTISAN_CACHE="$CACHE"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
PYTHON_VERSION=3.12
# Modules also run on managed hosts; Debian 12's python3 is 3.11, so compile and import them there too.
TARGET_PYTHON_VERSIONS="3.11"

# ansible-test insists on running inside .../ansible_collections/artisan/upgrade and resolves symlinks,
# so the gates work on a copy of the checkout's files (tracked and new, not ignored), made afresh each run.
# The copy is a git repository of its own: else ansible-test finds the checkout's .git above it, in
# which the copy is ignored, and tests nothing.
sync_collection() {
  rm -rf "$COLLECTION" && mkdir -p "$COLLECTION"
  git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
    | tar -C "$ROOT" --null -T - --ignore-failed-read -cf - 2>/dev/null \
    | tar -C "$COLLECTION" -xf -
  git -C "$COLLECTION" init -q && git -C "$COLLECTION" add -A
}

gate_sanity() {
  local nonempty
  nonempty=$(find "$ROOT/tests/sanity" -name 'ignore-*.txt' -size +0)
  [ -z "$nonempty" ] || { echo "sanity ignore files must stay empty: $nonempty"; return 1; }
  (cd "$COLLECTION" && ansible-test sanity --color no --python "$PYTHON_VERSION") || return 1
  local version
  for version in $TARGET_PYTHON_VERSIONS; do
    (cd "$COLLECTION" && ansible-test sanity --color no --test compile --test import --python "$version") || return 1
  done
}

gate_units() {
  (cd "$COLLECTION" && ansible-test units --color no --python "$PYTHON_VERSION")
}

# Integration tests mostly wait on containers, servers and ansible-playbook start-ups: a few files at once (one
# worker per file, so module fixtures are made once) use two cores better than one file after another.
INTEGRATION_WORKERS=${ARTISAN_INTEGRATION_WORKERS:-3}

gate_integration() {
  local rc=0
  (cd "$ROOT" && python -m pytest tests/integration tools/kubesim/tests -p no:cacheprovider --tb=short \
    -n "$INTEGRATION_WORKERS" --dist loadfile --durations=15) || rc=$?
  # Exit 5 means no test was collected: not a failure of the code under test.
  [ "$rc" -eq 5 ] && { echo "no integration tests collected"; return 0; }
  return "$rc"
}

gate_lint() {
  (cd "$ROOT" && ansible-lint --offline && antsibull-changelog lint)
}

gate_importer() {
  local build="$WORKDIR/build"
  rm -rf "$build" && mkdir -p "$build"
  (cd "$ROOT" && ansible-galaxy collection build --force --output-path "$build") || return 1
  # The importer's own ansible-test step wants --docker (image pulls): the sanity gate covers it.
  printf '[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\nLOG_LEVEL_MAIN = INFO\n' >"$build/importer.cfg"
  # It writes importer_result.json into the working directory: keep that in the build folder.
  (cd "$build" && GALAXY_IMPORTER_CONFIG="$build/importer.cfg" python -m galaxy_importer.main artisan-upgrade-*.tar.gz \
    >"$build/importer.log" 2>&1)
  local rc=$?
  cat "$build/importer.log"
  [ "$rc" -eq 0 ] || return "$rc"
  # The importer logs problems it does not fail on; any ERROR line is ours to fix.
  ! grep -E '^(ERROR|.*\bERROR\b:)' "$build/importer.log"
}

# Every scenario under molecule/, or only the one named by ARTISAN_MOLECULE_SCENARIO (make molecule SCENARIO=name).
# Scenarios have their own container names, ports and Molecule state, and mostly wait on containers: up to
# ARTISAN_MOLECULE_JOBS (default 2) run at once, each into a log that is printed when it ends.
MOLECULE_JOBS=${ARTISAN_MOLECULE_JOBS:-2}

gate_molecule() {
  local only=${ARTISAN_MOLECULE_SCENARIO:-} scenarios=() file name
  # Reverse name order: the systemd scenarios, the longest, start first.
  for file in $(printf '%s\n' "$ROOT"/molecule/*/molecule.yml | sort -r); do
    [ -e "$file" ] || continue
    name=$(basename "$(dirname "$file")")
    [ -z "$only" ] || [ "$name" = "$only" ] || continue
    scenarios+=("$name")
  done
  if [ -n "$only" ] && [ "${#scenarios[@]}" -eq 0 ]; then
    local all=()
    for file in "$ROOT"/molecule/*/molecule.yml; do all+=("$(basename "$(dirname "$file")")"); done
    echo "no Molecule scenario '$only'; there are: ${all[*]}"
    return 1
  fi
  [ "${#scenarios[@]}" -gt 0 ] || { echo "no Molecule scenario under molecule/"; return 0; }
  local logs="$WORKDIR/molecule-logs" status=0 pid rc
  local -A scenario_of=() started_at=()
  rm -rf "$logs" && mkdir -p "$logs"
  molecule_report() {  # pid rc: print the scenario's log and its result
    local scenario=${scenario_of[$1]}
    step "molecule test -s $scenario: $([ "$2" -eq 0 ] && echo PASS || echo "FAIL (rc $2)") in $(($(date +%s) - started_at[$1]))s"
    cat "$logs/$scenario.log"
    [ "$2" -eq 0 ] || status=1
  }
  for name in "${scenarios[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$MOLECULE_JOBS" ]; do
      rc=0; wait -n -p pid || rc=$?
      molecule_report "$pid" "$rc"
    done
    step "molecule test -s $name (log printed when it ends)"
    (cd "$COLLECTION" && exec molecule test -s "$name") >"$logs/$name.log" 2>&1 &
    scenario_of[$!]=$name started_at[$!]=$(date +%s)
  done
  while [ "$(jobs -rp | wc -l)" -gt 0 ]; do
    rc=0; wait -n -p pid || rc=$?
    molecule_report "$pid" "$rc"
  done
  return "$status"
}

sync_collection
# Not a gate of make test: benchmarks print numbers (docs/benchmarks.md records them), they assert nothing.
gate_bench() {
  local bench
  for bench in "$ROOT"/bench/[!_]*.py; do
    step "bench: $(basename "$bench")"
    # A package run from the root, so the benchmarks import the test helpers as tests.integration.helpers.
    (cd "$ROOT" && python -m "bench.$(basename "$bench" .py)") || return 1
  done
}

run_gate() {
  case "$1" in
    bench) gate_bench ;;
    sanity) gate_sanity ;;
    units) gate_units ;;
    integration) gate_integration ;;
    lint) gate_lint ;;
    importer) gate_importer ;;
    molecule) gate_molecule ;;
  esac
}

# A word such as integration+molecule runs those gates at the same time (each into a log printed when it ends):
# both mostly wait on containers, and one after the other they would take most of make test's time.
for word in "$@"; do
  for gate in ${word//+/ }; do
    case "$gate" in
      sanity | units | integration | lint | importer | molecule | bench) ;;
      *) die "unknown gate '$gate' (sanity units integration lint importer molecule bench; a+b runs a and b at once)" ;;
    esac
  done
done

names=() results=() durations=()
status=0
note_result() {  # gate rc started
  names+=("$1") results+=("$([ "$2" -eq 0 ] && echo PASS || echo FAIL)") durations+=("$(($(date +%s) - $3))")
  [ "$2" -eq 0 ] || status=1
}

for word in "$@"; do
  started=$(date +%s)
  if [[ "$word" != *+* ]]; then
    step "gate: $word"
    rc=0; run_gate "$word" || rc=$?
    note_result "$word" "$rc" "$started"
  else
    declare -A gate_of=()
    for gate in ${word//+/ }; do
      step "gate: $gate (at the same time as the others of $word; its log is printed when it ends)"
      run_gate "$gate" >"$WORKDIR/gate-$gate.log" 2>&1 &
      gate_of[$!]=$gate
    done
    while [ "${#gate_of[@]}" -gt 0 ]; do
      rc=0; wait -n -p pid "${!gate_of[@]}" || rc=$?
      gate=${gate_of[$pid]}
      unset "gate_of[$pid]"
      step "gate: $gate ended: $([ "$rc" -eq 0 ] && echo PASS || echo "FAIL (rc $rc)")"
      cat "$WORKDIR/gate-$gate.log"
      note_result "$gate" "$rc" "$started"
    done
  fi
  [ "$status" -eq 0 ] || break
done

echo
step "summary"
for i in "${!names[@]}"; do
  printf '  %-12s %s  %4ss\n' "${names[$i]}" "${results[$i]}" "${durations[$i]}"
done
for word in "$@"; do
  for gate in ${word//+/ }; do
    [[ " ${names[*]} " == *" $gate "* ]] || printf '  %-12s SKIPPED (an earlier gate failed)\n' "$gate"
  done
done
exit "$status"
