# The two commands of the README: `make book` builds the whole book (offline demo
# by default), `make test` runs the tests. Both set up a fresh machine first.
PARAMS ?= params/paper.yaml
VENV := .venv
# extra arguments for `make lab` (e.g. LAB_ARGS="--no-browser --port=8890")
LAB_ARGS ?=
# JupyterLab refuses to run as root unless told: pass --allow-root only when we are root
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

# `make lock` refreshes requirements.lock from pyproject.toml (dependencies + the test
# extra) for Python 3.11 on x86-64 Linux, with hashes. Packages released after LOCK_DATE are
# ignored, so the same pyproject.toml gives the same lock whenever it is run; move the date
# forward on purpose to take newer releases (`make lock LOCK_DATE=2027-06-01T00:00:00Z`).
LOCK_DATE ?= 2026-12-05T00:00:00Z
UV_VERSION := 0.13.9

.PHONY: setup book test bench lab clean lock

setup:
	@bash scripts/setup.sh

book: setup
	@$(VENV)/bin/mrbook build --params $(PARAMS)

test: setup
	$(VENV)/bin/python -m pytest

bench: setup
	$(VENV)/bin/python -m pip install -q -e ".[bench]" || echo "bench: optional comparison packages unavailable"
	$(VENV)/bin/python benchmarks/bench_engine.py

lab: setup
	$(VENV)/bin/jupyter lab notebooks/ $(ALLOW_ROOT) $(LAB_ARGS)

lock:
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q "uv==$(UV_VERSION)"
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu --exclude-newer $(LOCK_DATE) \
	  --generate-hashes --custom-compile-command "make lock" -q -o requirements.lock

clean:
	rm -rf _build book/*.ipynb
