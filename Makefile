# `make demo` runs the default experiments; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install corpus demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Real text for the language-model families: Debian's fortunes (BSD), installed where we may (root).
CORPUS := /usr/share/games/fortunes

$(CORPUS):
	-[ "$$(id -u)" = 0 ] && (apt-get install -y -qq --no-install-recommends fortunes >/dev/null 2>&1 || \
	  (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends fortunes >/dev/null 2>&1))

corpus: $(CORPUS)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/modelcollapse run src/modelcollapse/configs/demo-linear-regression.yaml --out results/demo/linear-regression
	$(BIN)/modelcollapse run src/modelcollapse/configs/demo-gaussian.yaml --out results/demo/gaussian

test: $(STAMP) corpus
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benches
	$(BIN)/mypy src

bench: $(STAMP)
	$(BIN)/python benches/bench_grid.py

clean:
	rm -rf $(VENV) results .pytest_cache
