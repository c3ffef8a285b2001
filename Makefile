# artisan.upgrade developer entry points. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
GATES_ALL := sanity units integration lint importer molecule

.PHONY: test check setup bench demo demo-down clean $(GATES_ALL)

test: setup  ## install everything from nothing, then run every gate (every Molecule scenario; integration beside molecule)
	ARTISAN_MOLECULE_SCENARIO= scripts/gates.sh sanity+importer units+lint integration+molecule

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

TARGET ?= compose

demo: setup  ## one target live on 127.0.0.1 (TARGET=compose|systemd|k8s): 1.0.0 -> 2.0.0 under load, then a crashing 3.0.0 rolled back
	scripts/demo.sh up $(TARGET)

demo-down:  ## remove what make demo TARGET=... created (containers, networks, volumes, the simulator; nothing else)
	scripts/demo.sh down $(TARGET)

clean:  ## remove caches, venvs and build outputs (not the Docker images)
	rm -rf .cache tests/output
