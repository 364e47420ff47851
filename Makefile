# `make demo` runs the default experiments; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/modelcollapse run src/modelcollapse/configs/demo-linear-regression.yaml --out results/demo/linear-regression
	$(BIN)/modelcollapse run src/modelcollapse/configs/demo-gaussian.yaml --out results/demo/gaussian

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benches
	$(BIN)/mypy src

bench: $(STAMP)
	$(BIN)/python benches/bench_grid.py

clean:
	rm -rf $(VENV) results .pytest_cache
