#!/usr/bin/env bash
# Set up everything mrbook needs on a fresh Debian machine: system packages
# (chromium for the browser tests, figure export and the PDF, plink1.9 for LD clumping,
# poppler-utils for the PDF test)
# and the Python environment in .venv. Safe to re-run; it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="chromium plink1.9 poppler-utils"
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v plink1.9 >/dev/null 2>&1 || missing="$missing plink1.9"
command -v pdftoppm >/dev/null 2>&1 || missing="$missing poppler-utils"
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing system packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $missing >/dev/null
  else
    echo "setup: warning: $missing not installed and cannot apt-get install as non-root;" \
         "the browser tests, the PDF and plink clumping will be skipped (install: $APT_PACKAGES)" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
# Exactly the versions of requirements.lock (with their hashes), then mrbook itself
# without resolving anything: a book built today and in a year runs the same versions.
# Refresh the lock after changing dependencies in pyproject.toml: `make lock`.
stamp=.venv/.mrbook-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  echo "setup: installing the locked dependencies (requirements.lock) and mrbook into .venv"
  .venv/bin/python -m pip install -q --require-hashes -r requirements.lock
  .venv/bin/python -m pip install -q --no-deps -e .
  touch "$stamp"
fi
