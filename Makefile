# artisan.upgrade developer entry points. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
GATES_ALL := sanity units integration lint importer molecule

.PHONY: test check setup bench demo clean $(GATES_ALL)

test: setup  ## install everything from nothing, then run every gate (every Molecule scenario)
	ARTISAN_MOLECULE_SCENARIO= scripts/gates.sh $(GATES_ALL)

check: setup  ## the quick edit loop: sanity, unit tests, lint
	scripts/gates.sh sanity units lint

setup:
	scripts/setup.sh

$(filter-out molecule,$(GATES_ALL)): setup
	scripts/gates.sh $@

molecule: setup  ## every Molecule scenario, or one: make molecule SCENARIO=systemd
	ARTISAN_MOLECULE_SCENARIO=$(SCENARIO) scripts/gates.sh molecule

bench: setup  ## benchmarks (bench/): print side-by-side numbers for docs/benchmarks.md
	scripts/gates.sh bench

demo:
	@echo "make demo arrives with the demo issue: it will upgrade a demo stack from v1 to v2."

clean:  ## remove caches, venvs and build outputs (not the Docker images)
	rm -rf .cache tests/output
