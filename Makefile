# gpufleet.nvidia — developer entry points.
#   make site   run playbooks/site.yml against this machine (the main job)
#   make test   everything CI runs: lint, sanity, unit (3.11 + 3.6/3.8), integration,
#               the oldest and newest controllers, molecule
#   make docs   write the role variable tables from meta/argument_specs.yml
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.collections
SANITY_ROOT := $(CURDIR)/build/sanity/ansible_collections/gpufleet/nvidia
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS):$(CURDIR)/$(VENV)/lib/python3.11/site-packages
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := true
export PYTHONDONTWRITEBYTECODE := 1
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: site test site-venv venv install build units compat sanity lint docs changelog integration controllers molecule bench clean

# Two stages in one .venv: what the main job needs (requirements.txt:
# ansible-core), then the test stack on top (requirements-test.txt).
# `make site` builds only the first.
$(VENV)/.site-installed: requirements.txt
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed: $(VENV)/.site-installed requirements-test.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

site-venv: $(VENV)/.site-installed

venv: $(VENV)/.installed

build: site-venv
	rm -rf build/dist && mkdir -p build/dist
	$(BIN)/ansible-galaxy collection build --force --output-path build/dist .

install: build
	rm -rf $(COLLECTIONS)/ansible_collections/gpufleet/nvidia
	$(BIN)/ansible-galaxy collection install --force -p $(COLLECTIONS) build/dist/gpufleet-nvidia-*.tar.gz >/dev/null

site: install
	$(BIN)/ansible-playbook -i localhost, -c local -e ansible_python_interpreter=$(CURDIR)/$(BIN)/python playbooks/site.yml $(ARGS)

test: lint sanity units compat changelog integration controllers molecule

units: venv
	$(BIN)/python -m pytest -q tests/unit

compat:
	bash tests/compat/run.sh

sanity: venv
	rm -rf build/sanity && mkdir -p $(SANITY_ROOT)
	git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t $(SANITY_ROOT)
	# A repository of its own, so ansible-test does not see build/ as ignored by ours.
	cd $(SANITY_ROOT) && git init -q && git add -A
	$(BIN)/python tests/sanity/offline_get_pip.py $$(sed -n "s/^ *pip='\\([0-9.]*\\)',/\\1/p" $(VENV)/lib/python3.11/site-packages/ansible_test/_internal/python_requirements.py)
	cd $(SANITY_ROOT) && PATH=$(CURDIR)/$(BIN):$$PATH ansible-test sanity --local --python 3.11 --color no

# Role variable docs are generated from meta/argument_specs.yml (the one
# source); lint fails when a table is stale or defaults/main.yml and the spec
# name different variables.
lint: venv install
	$(BIN)/python tests/tools/role_docs.py check
	$(BIN)/ansible-lint --profile production --offline

docs: venv
	$(BIN)/python tests/tools/role_docs.py write

changelog: venv
	$(BIN)/antsibull-changelog lint

integration: venv
	$(BIN)/python -m pytest -q tests/integration

# requires_ansible's range on its two ends: ansible-core 2.16 (Python 3.11)
# and the newest ansible-core for Python 3.12; integration playbooks and
# sanity each (tests/tools/controllers.sh; venvs cached in .venvs/).
controllers:
	bash tests/tools/controllers.sh

molecule: venv install
	bash tests/molecule/run.sh

bench: venv install
	$(BIN)/python tests/perf/bench_facts.py

clean:
	rm -rf build .cache .collections .pytest_cache .hypothesis
