# `make run` and `make test` set everything up on a fresh machine and are quick when nothing changed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch is enough for the app; override TORCH to pick another build.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test,video]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/seq-playground --device cpu

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engines.py
	$(BIN)/python benchmarks/bench_gui.py
	$(BIN)/python benchmarks/bench_experiment.py

clean:
	rm -rf $(VENV) build *.egg-info
