"""The full 100-replicate Collapse-or-Thrive grids through ``modelcollapse sweep``, by executor.

Run: ``python benches/bench_sweep.py [--replicates R] [--generations T] [--grid gaussian|regression|both]``.

For each grid: the local executor with 1 and 2 workers (target: 2 workers >= 1.7x one), and the Ray
executor with 2 CPUs on this machine against local with 2 workers (target: Ray within 1.3x). Every run
is the full command (validation, store, summary), timed from the outside, all in this run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _reference import gaussian_grid, regression_grid


def sweep(config: Path, out: Path, *options: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "modelcollapse", "sweep", str(config), "--out", str(out), "-q", *options],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=100)
    ap.add_argument("--generations", type=int, default=100)
    ap.add_argument("--grid", choices=["gaussian", "regression", "both"], default="both")
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    grids = {"gaussian": gaussian_grid, "regression": regression_grid}
    names = list(grids) if args.grid == "both" else [args.grid]
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            cfg = grids[name](args.replicates, args.generations)
            config = Path(tmp) / f"{name}.yaml"
            config.write_text(yaml.safe_dump(cfg))
            one = sweep(config, Path(tmp) / f"{name}-1", "--executor", "local", "--workers", "1")
            two = sweep(config, Path(tmp) / f"{name}-2", "--executor", "local", "--workers", "2")
            print(
                f"{name:10s} local 1 worker {one:7.1f} s   2 workers {two:7.1f} s   "
                f"scaling {one / two:.2f}x (target >= 1.7x)",
                flush=True,
            )
            if not args.no_ray:
                ray = sweep(config, Path(tmp) / f"{name}-ray", "--executor", "ray", "--workers", "2")
                print(
                    f"{name:10s} ray 2 CPUs     {ray:7.1f} s   vs local 2 workers {ray / two:.2f}x (target <= 1.3x)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
