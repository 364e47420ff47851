"""The Collapse-or-Thrive grids and the reference algorithm of the papers' scripts, shared by the benches.

Run: ``python benches/_reference.py gaussian|regression [--seeds S] [--generations T] [--values K]``
runs the whole reference grid (every cell x 3 workflows x S seeds, one replicate at a time) in this
process, so that timing it from the outside includes start-up. It imports numpy only, never the library.

The reference refits on the whole stacked pool every generation: OLS with ``pinv``, the Gaussian with
``np.cov`` and ``multivariate_normal``.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

WORKFLOWS = ["replace", "accumulate", "accumulate-subsample"]


def regression_grid(reps: int, gens: int) -> dict:
    return {
        "name": "cot-linear-regression",
        "source": {"kind": "linear-regression", "dim": 1, "noise_std": 1.0, "design": "fixed"},
        "model": {"kind": "ols"},
        "samples_per_generation": 10,
        "workflow": WORKFLOWS,
        "generations": gens,
        "replicates": reps,
        "metrics": ["excess_risk", "test_mse"],
        "sweep": {
            "source.dim": [1, 3, 10, 32, 100],
            "samples_per_generation": [10, 32, 100, 316, 1000],
            "source.noise_std": [float(np.sqrt(v)) for v in (0.1, 1.0, 10.0)],
        },
    }


def gaussian_grid(reps: int, gens: int) -> dict:
    return {
        "name": "cot-gaussian",
        "source": {"kind": "gaussian", "dim": 1, "variance": 1.0},
        "model": {"kind": "gaussian", "covariance": "full", "estimator": "mle"},
        "samples_per_generation": 10,
        "workflow": WORKFLOWS,
        "generations": gens,
        "replicates": reps,
        "metrics": ["mean_sq_error", "cov_trace_ratio", "cov_logdet_change"],
        "sweep": {"source.dim": [1, 3, 10, 31, 100], "samples_per_generation": [10, 32, 100, 316, 1000]},
    }


GRIDS: dict[str, Callable[[int, int], dict]] = {"regression": regression_grid, "gaussian": gaussian_grid}


def shrink(cfg: dict, values: int | None) -> dict:
    """The grid with only the first ``values`` entries of each sweep axis (None: all of them)."""
    if values is not None:
        cfg["sweep"] = {k: v[:values] for k, v in cfg["sweep"].items()}
    return cfg


def cells(cfg: dict) -> Iterator[dict[str, Any]]:
    """Every cell of the config's sweep grid, as ``{"source.dim": 3, ...}``."""
    keys = list(cfg["sweep"])
    for combo in itertools.product(*cfg["sweep"].values()):
        yield dict(zip(keys, combo, strict=True))


def reference_regression(d: int, n: int, sigma: float, gens: int, workflow: str, rng: np.random.Generator) -> None:
    """One replicate, refitting OLS with pinv on the whole stacked pool (the papers' scripts)."""
    w_star = rng.standard_normal(d) / np.sqrt(d)
    x = rng.standard_normal((n, d))
    xs, ys = [x], [x @ w_star + sigma * rng.standard_normal(n)]
    w = np.linalg.pinv(x) @ ys[0]
    for _ in range(2, gens + 1):
        y_new = x @ w + sigma * rng.standard_normal(n)
        if workflow == "replace":
            xs, ys = [x], [y_new]
        else:
            xs, ys = [*xs, x], [*ys, y_new]
        big_x, big_y = np.concatenate(xs), np.concatenate(ys)
        if workflow == "accumulate-subsample":
            idx = rng.choice(len(big_y), n, replace=False)
            big_x, big_y = big_x[idx], big_y[idx]
        w = np.linalg.pinv(big_x) @ big_y


def reference_gaussian(d: int, n: int, gens: int, workflow: str, rng: np.random.Generator) -> None:
    """One replicate, refitting with np.cov on the whole stacked pool and sampling n points."""
    pool = [rng.standard_normal((n, d))]
    data = pool[0]
    for _ in range(2, gens + 1):
        mu, cov = data.mean(0), np.atleast_2d(np.cov(data, rowvar=False, bias=True))
        new = rng.multivariate_normal(mu, cov, size=n, method="eigh")
        pool = [new] if workflow == "replace" else [*pool, new]
        data = np.concatenate(pool)
        if workflow == "accumulate-subsample":
            data = data[rng.choice(len(data), n, replace=False)]


def reference_cell(family: str, cell: dict[str, Any], gens: int, workflow: str, rng: np.random.Generator) -> None:
    """One reference replicate of one grid cell and workflow."""
    d, n = cell["source.dim"], cell["samples_per_generation"]
    if family == "regression":
        reference_regression(d, n, cell.get("source.noise_std", 1.0), gens, workflow, rng)
    else:
        reference_gaussian(d, n, gens, workflow, rng)


def run_grid(family: str, seeds: int, gens: int, values: int | None = None) -> int:
    """The whole reference grid: every cell x workflow x seed, one replicate at a time. Returns the count."""
    count = 0
    for seed in range(seeds):
        for i, cell in enumerate(cells(shrink(GRIDS[family](1, gens), values))):
            for j, wf in enumerate(WORKFLOWS):
                reference_cell(family, cell, gens, wf, np.random.default_rng([seed, i, j]))
                count += 1
    return count


def timed(fn, *args) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description="the reference algorithm over a whole grid, in this process")
    ap.add_argument("family", choices=list(GRIDS))
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--generations", type=int, default=100)
    ap.add_argument("--values", type=int, default=None, help="only the first K values of each sweep axis")
    args = ap.parse_args()
    run_grid(args.family, args.seeds, args.generations, args.values)


if __name__ == "__main__":
    main()
