# The two commands of the README: `make book` builds the whole book (offline demo
# by default), `make test` runs the tests. Both set up a fresh machine first.
PARAMS ?= params/paper.yaml
VENV := .venv
# extra arguments for `make lab` (e.g. LAB_ARGS="--no-browser --port=8890")
LAB_ARGS ?=
# JupyterLab refuses to run as root unless told: pass --allow-root only when we are root
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: setup book test bench lab clean

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

clean:
	rm -rf _build book/*.ipynb
