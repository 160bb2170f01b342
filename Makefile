# Vigil — the two commands of the README, plus benchmarks and checks.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Generate demo data if the database is empty, ingest it, serve the API on :8000.
demo: $(STAMP)
	$(BIN)/vigil demo

## Lint, type-check and run the whole test suite on two processes (installs the test
## servers and Chromium when missing).
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	scripts/install-servers
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --durations=25

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

## Benchmark suite; figures go to benchmarks/results/latest.json.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run --out benchmarks/results/latest.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis build *.egg-info src/*.egg-info
