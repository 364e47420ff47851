# `make demo` runs the default experiments; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install corpus browser demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0  # the CPU build, before anything that depends on torch
	$(BIN)/pip install --quiet -e ".[dev,torch,molecules,ray,mlflow,wandb,datasets]"
	$(BIN)/pip install --quiet --no-deps molsets==0.3.1  # MOSES SMILES files only (never imported)
	touch $(STAMP)

# Real data from Debian, installed where we may (root): fortunes (BSD) for the language models and
# Fashion-MNIST (MIT) for the image models. Tests that need them skip, saying why, where they are missing.
CORPUS := /usr/share/games/fortunes
FASHION := /usr/share/datasets/fashion-mnist
# A headless browser for the HTML report's test (driven by playwright); the test skips, saying why, without it.
CHROMIUM := /usr/bin/chromium
APT := apt-get install -y -qq --no-install-recommends

$(CORPUS) $(FASHION) $(CHROMIUM):
	-[ "$$(id -u)" = 0 ] && ($(APT) $(PACKAGE) >/dev/null 2>&1 || \
	  (apt-get update -qq >/dev/null 2>&1 && $(APT) $(PACKAGE) >/dev/null 2>&1))

$(CORPUS): PACKAGE := fortunes
$(FASHION): PACKAGE := dataset-fashion-mnist
$(CHROMIUM): PACKAGE := chromium

corpus: $(CORPUS) $(FASHION)

browser: $(CHROMIUM)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/modelcollapse run src/modelcollapse/configs/demo-linear-regression.yaml --out results/demo/linear-regression
	$(BIN)/modelcollapse run src/modelcollapse/configs/demo-gaussian.yaml --out results/demo/gaussian

# Tests run on every core (pytest-xdist), one BLAS/OpenMP/PyTorch thread each so the workers do not
# oversubscribe them; `.venv/bin/pytest` alone runs them in one process.
test: $(STAMP) corpus browser
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(BIN)/pytest -n auto

lint: $(STAMP)
	$(BIN)/ruff check src tests benches
	$(BIN)/mypy src

bench: $(STAMP)
	$(BIN)/python benches/bench_speed.py
	$(BIN)/python benches/bench_grid.py
	$(BIN)/python benches/bench_lm.py
	$(BIN)/python benches/bench_sweep.py

clean:
	rm -rf $(VENV) results .pytest_cache
