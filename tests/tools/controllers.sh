#!/usr/bin/env bash
# The controller range that meta/runtime.yml claims (requires_ansible), on
# its two ends: the integration playbooks (tests/integration/test_playbooks.py)
# and ansible-test sanity with the oldest supported ansible-core (2.16, on
# Python 3.11) and with the newest one that installs on Python 3.12 (from
# pyenv). The 2.19 middle is what the rest of `make test` runs.
#
# pylint and pep8 are left out here: each ansible-test pins its own linter
# versions and settings, so they judge style, not whether the collection works
# on that controller; `make sanity` (2.19) keeps the code clean of both.
#
# Each controller gets a cached virtual environment under .venvs/ (kept until
# the pins below change), so a warm run costs only the tests.
# ansible-core 2.16 is also the last ansible-test that can check module code
# on Python 3.6 (tests/config.yml: python_requires), so its sanity run adds
# `compile` and `import` on the pyenv 3.6 interpreter.
#
# Usage: tests/tools/controllers.sh [core216|core-newest]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
PYENV_ROOT="${PYENV_ROOT:-$HOME/.pyenv}"

pyenv_python() {
  find "$PYENV_ROOT/versions" -maxdepth 3 -path "*/versions/$1.*/bin/python" 2>/dev/null | sort -V | tail -1
}

declare -A PY=([core216]="$(pyenv_python 3.11)" [core-newest]="$(pyenv_python 3.12)")
declare -A PYVER=([core216]="3.11" [core-newest]="3.12")
# Pins: 2.16 is the floor of requires_ansible; the newest ansible-core
# released for Python 3.12 when this was last updated.
declare -A CORE=([core216]="ansible-core==2.16.19" [core-newest]="ansible-core==2.21.5")
COMMON="pytest==9.0.3"

venv_for() {
  local name=$1 venv=".venvs/$1" stamp
  stamp="${CORE[$name]} $COMMON"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.pins" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  if [ -z "${PY[$name]}" ] || ! command -v "${PY[$name]}" >/dev/null; then
    echo "controllers: no Python ${PYVER[$name]} for $name" >&2
    exit 1
  fi
  rm -rf "$venv"
  "${PY[$name]}" -m venv "$venv"
  # shellcheck disable=SC2086
  if ! "$venv/bin/pip" install -q --disable-pip-version-check ${CORE[$name]} $COMMON >"$venv/install.log" 2>&1; then
    cat "$venv/install.log" >&2
    rm -rf "$venv"
    exit 1
  fi
  echo "$stamp" >"$venv/.pins"
}

sanity() {
  local name=$1 venv="$REPO/.venvs/$1" root="$REPO/build/controllers/$1/ansible_collections/gpufleet/nvidia"
  local pipver status=0
  rm -rf "$REPO/build/controllers/$name" && mkdir -p "$root"
  git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$root"
  (cd "$root" && git init -q && git add -A)
  # ansible-test's pip bootstrap, offline (tests/sanity/offline_get_pip.py),
  # for each pip it pins: 2.16 pins an older pip for older Pythons.
  sed -n "s/^ *pip='\\([0-9.]*\\)',.*/\\1/p" "$venv"/lib/python*/site-packages/ansible_test/_internal/python_requirements.py |
    while read -r pipver; do
      case "$pipver" in 20.*) continue ;; esac   # only for Python 2.7/3.5, which nothing here runs
      "$venv/bin/python" tests/sanity/offline_get_pip.py "$pipver" >/dev/null
    done
  echo "== $name: ansible-test sanity (Python ${PYVER[$name]})"
  (cd "$root" && PATH="$venv/bin:$PATH" ansible-test sanity --local --python "${PYVER[$name]}" --color no \
    --skip-test pylint --skip-test pep8) || status=1
  if [ "$name" = core216 ]; then
    local py36
    py36=$(pyenv_python 3.6)
    echo "== $name: ansible-test sanity compile, import (Python 3.6, modules)"
    (cd "$root" && PATH="$venv/bin:$(dirname "$py36"):$PATH" ansible-test sanity --local --python 3.6 \
      --test compile --test import --color no) || status=1
  fi
  return $status
}

integration() {
  local name=$1
  echo "== $name: ansible-core $("$REPO/.venvs/$name/bin/python" -c 'from ansible.release import __version__; print(__version__)')"
  echo "== $name: tests/integration/test_playbooks.py"
  PYTHONDONTWRITEBYTECODE=1 ".venvs/$name/bin/python" -m pytest -q -p no:cacheprovider tests/integration/test_playbooks.py
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(core216 core-newest)
failed=()
for name in "${targets[@]}"; do
  [ -n "${CORE[$name]:-}" ] || { echo "controllers: unknown controller $name" >&2; exit 2; }
  start=$SECONDS
  venv_for "$name"
  rc=0
  integration "$name" || rc=1
  sanity "$name" || rc=1
  echo "== $name: $((SECONDS - start)) s, $([ $rc = 0 ] && echo passed || echo FAILED)"
  [ $rc = 0 ] || failed+=("$name")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "controllers: failed on ${failed[*]}" >&2
  exit 1
fi
