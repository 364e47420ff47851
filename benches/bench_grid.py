"""The Collapse-or-Thrive grids through the library, and the reference algorithm on a subset.

Run: ``python benches/bench_grid.py [--replicates R] [--generations T] [--ref-replicates K]``.
Prints wall times and the speed ratio against the reference algorithm (one replicate at a time,
refitting with pinv / np.cov on the whole stacked pool every generation), measured in this run.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
from pathlib import Path

import numpy as np

from modelcollapse import load, run_experiment, simulate_experiment

sys.path.insert(0, str(Path(__file__).parent))
from _reference import (
    WORKFLOWS,
    gaussian_grid,
    reference_gaussian,
    reference_regression,
    regression_grid,
    timed,
)


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
