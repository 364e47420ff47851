"""The Collapse-or-Thrive grids through the library, and the reference algorithm on a subset.

Run: ``python benches/bench_grid.py [--replicates R] [--generations T] [--ref-replicates K]``.
Prints wall times and the speed ratio against the reference algorithm (one replicate at a time,
refitting with pinv / np.cov on the whole stacked pool every generation), measured in this run.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time

import numpy as np

from modelcollapse import load, run_experiment, simulate_experiment

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


def reference_regression(
    d: int, n: int, sigma: float, gens: int, workflow: str, rng: np.random.Generator
) -> None:
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


def timed(fn, *args):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=100)
    ap.add_argument("--generations", type=int, default=100)
    ap.add_argument("--ref-replicates", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="processes for the grids (this machine: 2 cores)")
    ap.add_argument("--skip-grids", action="store_true", help="only the comparison with the reference")
    args = ap.parse_args()
    reps, gens = args.replicates, args.generations

    grids = (
        []
        if args.skip_grids
        else [("regression", regression_grid(reps, gens)), ("gaussian", gaussian_grid(reps, gens))]
    )
    for label, cfg in grids:
        cells = 1
        for v in cfg["sweep"].values():
            cells *= len(v)
        with tempfile.TemporaryDirectory() as out:
            t = timed(functools.partial(run_experiment, workers=args.workers), cfg, out)
        print(
            f"{label} grid: {cells} cells x {len(WORKFLOWS)} workflows x {reps} replicates "
            f"x {gens} generations: {t:.1f} s through `run` with {args.workers} worker(s), store included",
            flush=True,
        )

    # The same work, library vs reference, on a subset of cells (time per replicate, per workflow).
    subset = [("regression", 10, 100), ("regression", 32, 316), ("gaussian", 10, 100), ("gaussian", 31, 316)]
    rng = np.random.default_rng(0)
    print(f"{'cell':<24}{'workflow':<22}{'library ms/rep':>16}{'reference ms/rep':>18}{'ratio':>8}")
    for family, d, n in subset:
        if family == "regression":
            cfg = regression_grid(reps, gens)
            ref = functools.partial(reference_regression, d, n, 1.0, gens, rng=rng)
        else:
            cfg = gaussian_grid(reps, gens)
            ref = functools.partial(reference_gaussian, d, n, gens, rng=rng)
        del cfg["sweep"]
        cfg["source"]["dim"], cfg["samples_per_generation"] = d, n
        lib_total = ref_total = 0.0
        for wf in WORKFLOWS:
            lib = timed(simulate_experiment, load({**cfg, "workflow": [wf]})) / reps
            refs = sum(timed(ref, wf) for _ in range(args.ref_replicates)) / args.ref_replicates
            lib_total, ref_total = lib_total + lib, ref_total + refs
            label = f"{family} d={d} n={n}"
            print(f"{label:<24}{wf:<22}{lib * 1e3:>16.3f}{refs * 1e3:>18.1f}{refs / lib:>7.0f}x")
        print(
            f"{family + f' d={d} n={n}':<24}{'all three':<22}{lib_total * 1e3:>16.3f}{ref_total * 1e3:>18.1f}"
            f"{ref_total / lib_total:>7.0f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
