#!/usr/bin/env bash
# Prove module code on the Pythons of older targets: 3.6 (Jetson Nano,
# Ubuntu 18.04) and 3.8 (JetPack 5, Ubuntu 20.04).  For each: byte-compile
# every module and module_utils file, then run the unit tests of
# module_utils and modules with an ansible-core that supports that Python
# (2.11 on 3.6, 2.13 on 3.8).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYENV_ROOT="${PYENV_ROOT:-$HOME/.pyenv}"
declare -A CORE=([3.6]="ansible-core==2.11.12" [3.8]="ansible-core==2.13.13")
declare -A HYP=([3.6]="hypothesis==6.31.6" [3.8]="hypothesis==6.113.0")
declare -A PYT=([3.6]="pytest==7.0.1" [3.8]="pytest==8.3.5")
# Last releases that still install on 3.6.
declare -A EXTRA=([3.6]="jinja2==3.0.3 markupsafe==2.0.1 cryptography==40.0.2 pyyaml==6.0.1 packaging==21.3" [3.8]="")
for ver in 3.6 3.8; do
  py=$(find "$PYENV_ROOT/versions" -maxdepth 3 -path "*/versions/$ver.*/bin/python" 2>/dev/null | sort -V | tail -1)
  if [ -z "$py" ]; then
    echo "compat: no Python $ver under $PYENV_ROOT/versions" >&2
    exit 1
  fi
  venv=".venvs/py${ver/./}"
  if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade "pip<22" >/dev/null 2>&1
    # shellcheck disable=SC2086
    if ! "$venv/bin/pip" install -q --disable-pip-version-check "${CORE[$ver]}" "${HYP[$ver]}" "${PYT[$ver]}" ${EXTRA[$ver]} >"$venv/install.log" 2>&1; then
      grep -v -e 'WARNING: Location' -e 'is ignored: it is neither' "$venv/install.log" >&2
      rm -rf "$venv"
      exit 1
    fi
  fi
  echo "== Python $ver: compile"
  "$venv/bin/python" -m compileall -q -f plugins/modules plugins/module_utils plugins/filter >/dev/null
  echo "== Python $ver: unit tests (modules and module_utils)"
  PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    tests/unit/plugins/module_utils tests/unit/plugins/modules
done
