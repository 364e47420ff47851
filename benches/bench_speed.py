"""The speed and memory targets of the fast-simulation issue, each against the reference algorithm in this run.

Run: ``python benches/bench_speed.py [--part grid1,grid100,per-replicate,process,memory] [--grid gaussian,regression]
[--generations T] [--replicates R] [--process-replicates R] [--ref-replicates K] [--values K] [--workers N]
[--ref-threads N] [--quick]``; e.g. ``python benches/bench_speed.py --part grid1,memory --grid gaussian``.

Ours is the library (the ``modelcollapse`` CLI as a subprocess, or ``simulate_experiment`` in process); the
reference is the algorithm of the Collapse-or-Thrive scripts (``_reference.py``: one replicate at a time,
refitting with pinv / np.cov on the whole stacked pool every generation). Every number is measured here, now.

* ``grid1``: one seed of each grid, whole processes with start-up: ``sweep --workers N`` (the median of 3
  runs, each into a fresh folder) against ``python benches/_reference.py FAMILY --seeds 1`` (every cell x 3
  workflows). Target: >= 5x.
* ``grid100``: R seeds (default 100) of each grid through ``sweep --workers N``: under 20 s, and >= 100x
  R reference seeds, extrapolated as R x the measured one-seed reference.
* ``per-replicate``: in process, per replicate, on a subset of cells. Targets: accumulate >= 1000x,
  replace >= 100x, accumulate-subsample >= 10x. Also the floor set by the random numbers alone
  (``normal_draws`` x the measured cost of one standard normal draw) and the ratio it would allow.
* ``process``: regression accumulate, d=32, n=316, T generations: ``run`` of a one-cell config with R
  replicates (default 1000) as a subprocess, divided by R, against the median of K reference replicates
  in process (the median, as one replicate slowed by a busy machine would flatter us). Target: >= 400x.
* ``memory``: peak RSS of the one-seed Gaussian grid as whole processes (``_peak.py``), ours against the
  reference runner: with ``--workers 1`` exact, and with ``--workers N`` summed over the process tree
  (sampled). Target: <= 2x.

The reference uses numpy's default BLAS threads (both cores here) unless ``--ref-threads`` caps them. On a
busy machine multithreaded BLAS can be many times slower: the header prints the load average, check it.

``--quick`` shrinks everything (T=5, 2 values per sweep axis, few replicates) for a smoke check; its
"met" column then says nothing about the full-size targets.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

from modelcollapse import load, simulate_experiment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _reference import GRIDS, WORKFLOWS, cells, reference_cell, shrink, timed

HERE = Path(__file__).resolve().parent

PARTS = ("grid1", "grid100", "per-replicate", "process", "memory")
PER_REPLICATE_TARGETS = {"accumulate": 1000.0, "replace": 100.0, "accumulate-subsample": 10.0}
SUBSET = [("regression", 10, 100), ("regression", 32, 316), ("gaussian", 10, 100), ("gaussian", 31, 316)]
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
TEST_SAMPLES = 1000  # the sources' default test set, drawn with every replicate's world


@dataclass
class Row:
    what: str
    ours: float | None
    ref: float | None
    ratio: float | None  # reference / ours for times, ours / reference for memory
    target: str
    met: bool | None
    extra: tuple[str, ...] = ()


@dataclass
class Bench:
    args: argparse.Namespace
    tmp: Path
    ref_grid_s: dict[str, float] = field(default_factory=dict)  # one-seed reference grid, per family
    runs: int = 0
    verdicts: list[bool] = field(default_factory=list)

    def out_dir(self, name: str) -> Path:
        self.runs += 1
        return self.tmp / f"{name}-{self.runs}"


# --- the floor set by the random numbers -----------------------------------------------------------


def normal_draws(family: str, workflow: str, d: int, n: int, gens: int, test: int = TEST_SAMPLES) -> tuple[int, int]:
    """ESTIMATE of the standard normal draws one replicate needs: ``(world, generations)``.

    Not a count of what the library does today, but what its representation must draw at least:
    a chi-square (or a Bartlett diagonal entry) counts as one draw, the uniform draws of subsampling
    are left out, and the world (truth, real training data, the ``test``-row test set) is drawn once.
    The held-out rows are drawn only when a metric reads them: the regression grid's ``test_mse`` does,
    none of the Gaussian grid's metrics do.

    world       regression: d (w*) + (n + test) d (inputs) + n + test (label noise);  gaussian: n d
    each of the T - 1 synthetic generations:
      regression replace / accumulate (fixed design, sufficient statistics): d + 1
                  (X^T eps in the design's eigenbasis, plus a chi-square for the residual)
      regression accumulate-subsample (rows of the fixed design): n (fresh label noise)
      gaussian replace / accumulate (sufficient statistics): d (mean) + d(d+1)/2 (Bartlett: d(d-1)/2
                  normals and d chi-squares) when n > d, else d + d(n-1) (a singular Wishart factor)
      gaussian accumulate-subsample (rows): n d
    """
    if family == "regression":
        world = d + (n + test) * d + n + test
        per_gen = n if workflow == "accumulate-subsample" else d + 1
    else:
        world = n * d
        if workflow == "accumulate-subsample":
            per_gen = n * d
        else:
            per_gen = d + (d * (d + 1) // 2 if n > d else d * (n - 1))
    return world, (gens - 1) * per_gen


def draw_cost() -> float:
    """Seconds per standard normal draw on this machine (best of three batches of 10^7)."""
    rng = np.random.default_rng()
    rng.standard_normal(10**6)
    return min(timed(rng.standard_normal, 10**7) for _ in range(3)) / 10**7


# --- processes ----------------------------------------------------------------------------------


def check(proc: subprocess.CompletedProcess | subprocess.Popen, cmd: list[str], err: str) -> None:
    if proc.returncode:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err[-3000:]}")


def run_timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Wall seconds of a whole process, start-up included."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    seconds = time.perf_counter() - t0
    check(proc, cmd, proc.stderr)
    return seconds


def peak_memory(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Peak RSS in MB of a whole process: ``(largest single process, sum over its process tree)``.

    Measured by ``_peak.py`` (see there): a tiny parent, so the fork image does not inflate the first.
    """
    wrapper = [sys.executable, str(HERE / "_peak.py"), *cmd]
    proc = subprocess.run(wrapper, capture_output=True, text=True, env=env)
    check(proc, cmd, proc.stderr)
    largest, tree = (int(v) / 1024 for v in proc.stdout.split())
    return largest, tree


def write_config(bench: Bench, cfg: dict, name: str) -> Path:
    path = bench.tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def cli(bench: Bench, command: str, config: Path, workers: int) -> list[str]:
    out = bench.out_dir(config.stem)
    return [sys.executable, "-m", "modelcollapse", command, str(config), "--out", str(out), "-q",
            "--executor", "local", "--workers", str(workers)]  # fmt: skip


def reference_cmd(bench: Bench, family: str) -> list[str]:
    cmd = [sys.executable, str(HERE / "_reference.py"), family, "--seeds", "1", "--generations", str(bench.args.gens)]
    return cmd + (["--values", str(bench.args.values)] if bench.args.values else [])


def grid_config(bench: Bench, family: str, reps: int) -> tuple[dict, int]:
    cfg = shrink(GRIDS[family](reps, bench.args.gens), bench.args.values)
    return cfg, len(list(cells(cfg)))


def reference_env(bench: Bench) -> dict[str, str] | None:
    """The reference process's environment: BLAS threads capped only if ``--ref-threads`` says so."""
    n = bench.args.ref_threads
    return None if n is None else {**os.environ, **dict.fromkeys(THREAD_VARS, str(n))}


def reference_per_replicate(bench: Bench, family: str, cell: dict, workflow: str) -> float:
    """Median seconds of ``--ref-replicates`` reference replicates in this process (robust to a busy machine)."""
    a, rng = bench.args, np.random.default_rng(0)
    with threadpool_limits(a.ref_threads) if a.ref_threads else nullcontext():
        return float(np.median([timed(reference_cell, family, cell, a.gens, workflow, rng) for _ in range(a.ref_reps)]))


def reference_grid(bench: Bench, family: str) -> float:
    """Wall seconds of the one-seed reference grid as its own process (measured once per run)."""
    if family not in bench.ref_grid_s:
        bench.ref_grid_s[family] = run_timed(reference_cmd(bench, family), reference_env(bench))
    return bench.ref_grid_s[family]


# --- the parts ----------------------------------------------------------------------------------


def part_grid1(bench: Bench) -> list[Row]:
    a, rows = bench.args, []
    for family in a.grids:
        cfg, ncells = grid_config(bench, family, 1)
        path = write_config(bench, cfg, f"{family}-1seed")
        ours = float(np.median([run_timed(cli(bench, "sweep", path, a.workers)) for _ in range(3)]))
        ref = reference_grid(bench, family)
        what = f"{family}: 1 seed, {ncells} cells x 3 workflows x T={a.gens}"
        rows.append(Row(what, ours, ref, ref / ours, ">= 5x", ref / ours >= 5))
    return rows


def part_grid100(bench: Bench) -> list[Row]:
    a, rows = bench.args, []
    for family in a.grids:
        cfg, ncells = grid_config(bench, family, a.replicates)
        ours = run_timed(cli(bench, "sweep", write_config(bench, cfg, f"{family}-seeds"), a.workers))
        ref = a.replicates * reference_grid(bench, family)
        rows.append(Row(f"{family}: {a.replicates} seeds, {ncells} cells, wall", ours, None, None, "< 20 s", ours < 20))
        what = f"{family}: vs {a.replicates} ref seeds (extrapolated: {a.replicates} x 1 seed)"
        rows.append(Row(what, ours, ref, ref / ours, ">= 100x", ref / ours >= 100))
    return rows


def one_cell(family: str, d: int, n: int, reps: int, gens: int, workflow: str) -> dict:
    cfg = GRIDS[family](reps, gens)
    del cfg["sweep"]
    cfg["source"]["dim"], cfg["samples_per_generation"], cfg["workflow"] = d, n, [workflow]
    return cfg


def warm_up(families: set[str]) -> None:
    """Run each path once, small, outside the timings (imports, BLAS and numpy's lazy set-up, caches)."""
    small = {"source.dim": 2, "samples_per_generation": 4, "source.noise_std": 1.0}
    for family in families:
        for wf in WORKFLOWS:
            simulate_experiment(load(one_cell(family, 2, 4, 1, 2, wf)))
            reference_cell(family, small, 3, wf, np.random.default_rng(0))


def part_per_replicate(bench: Bench) -> list[Row]:
    a, rows = bench.args, []
    cost = draw_cost()
    print(f"one standard normal draw: {cost * 1e9:.2f} ns (measured now); floor = draws x that", flush=True)
    warm_up({f for f, _, _ in SUBSET})
    subset = SUBSET[::2] if a.quick else SUBSET
    for family, d, n in subset:
        cell = {"source.dim": d, "samples_per_generation": n, "source.noise_std": 1.0}
        for wf in WORKFLOWS:
            exp = load(one_cell(family, d, n, a.replicates, a.gens, wf))
            ours = timed(simulate_experiment, exp) / a.replicates
            ref = reference_per_replicate(bench, family, cell, wf)
            world, gens = normal_draws(family, wf, d, n, a.gens)
            floor = (world + gens) * cost
            target = PER_REPLICATE_TARGETS[wf]
            extra = (f"{world}+{gens}", f"{floor:.3g}", f"{ref / floor:.0f}x")
            rows.append(Row(f"{family} d={d} n={n} {wf}", ours, ref, ref / ours, f">= {target:.0f}x",
                            ref / ours >= target, extra))  # fmt: skip
    return rows


def part_process(bench: Bench) -> list[Row]:
    a, d, n = bench.args, 32, 316
    cfg = one_cell("regression", d, n, a.process_replicates, a.gens, "accumulate")
    ours = run_timed(cli(bench, "run", write_config(bench, cfg, "regression-accumulate"), a.workers))
    ours /= a.process_replicates
    warm_up({"regression"})
    cell = {"source.dim": d, "samples_per_generation": n, "source.noise_std": 1.0}
    ref = reference_per_replicate(bench, "regression", cell, "accumulate")
    what = (f"regression accumulate d={d} n={n} T={a.gens}, per replicate: `run` of {a.process_replicates} "
            f"(whole process) / ref median of {a.ref_reps} in process")  # fmt: skip
    return [Row(what, ours, ref, ref / ours, ">= 400x", ref / ours >= 400)]


def part_memory(bench: Bench) -> list[Row]:
    a = bench.args
    cfg, ncells = grid_config(bench, "gaussian", 1)
    config = write_config(bench, cfg, "gaussian-memory")
    ref_one, ref_tree = peak_memory(reference_cmd(bench, "gaussian"), reference_env(bench))
    one, _ = peak_memory(cli(bench, "sweep", config, 1))
    rows = [Row(f"gaussian 1 seed ({ncells} cells), --workers 1: peak RSS, largest process (exact)",
                one, ref_one, one / ref_one, "<= 2x", one / ref_one <= 2)]  # fmt: skip
    if a.workers > 1:
        _, tree = peak_memory(cli(bench, "sweep", config, a.workers))
        what = f"  --workers {a.workers}: peak RSS summed over the process tree (sampled, shared pages per process)"
        rows.append(Row(what, tree, ref_tree, tree / ref_tree, "<= 2x", tree / ref_tree <= 2))
    return rows


# --- output -------------------------------------------------------------------------------------


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"


def table(title: str, rows: list[Row], unit: str = "s", extra: tuple[str, ...] = ()) -> None:
    head = ("what", f"ours ({unit})", f"reference ({unit})", "ratio", "target", "met", *extra)
    body = [
        (r.what, fmt(r.ours), fmt(r.ref), "-" if r.ratio is None else f"{r.ratio:.3g}x", r.target,
         {True: "met", False: "not met", None: "-"}[r.met], *r.extra)
        for r in rows
    ]  # fmt: skip
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    print(f"\n{title}")
    for line in [head, *body]:
        cols = [line[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True))]
        print("  ".join(cols))
    print(flush=True)


PART_FUNCS: dict[str, tuple[Callable[[Bench], list[Row]], str, str, tuple[str, ...]]] = {
    "grid1": (part_grid1, "grid1: one seed per grid, whole processes (start-up included)", "s", ()),
    "grid100": (part_grid100, "grid100: many seeds per grid, whole process", "s", ()),
    "per-replicate": (
        part_per_replicate,
        "per-replicate: in process, seconds per replicate; floor = normal draws (estimate) x cost per draw",
        "s",
        ("draws (world+gens)", "floor (s)", "ref / floor"),
    ),
    "process": (part_process, "process: whole process per replicate (start-up included, divided by R)", "s", ()),
    "memory": (
        part_memory,
        "memory: peak RSS of whole processes (start-up included), ratio = ours / reference",
        "MB",
        (),
    ),
}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    ap.add_argument("--grid", default="regression,gaussian", help="grids for grid1 / grid100")
    ap.add_argument("--generations", type=int, help="T (default 100; quick 5)")
    ap.add_argument("--replicates", type=int, help="seeds of grid100, library replicates of per-replicate "
                    "(default 100; quick 4)")  # fmt: skip
    ap.add_argument("--process-replicates", type=int, help="replicates of the process part (default 1000; quick 20)")
    ap.add_argument("--ref-replicates", type=int, help="reference replicates in process, median (default 3; quick 1)")
    ap.add_argument("--values", type=int, help="only the first K values of each sweep axis (default all; quick 2)")
    ap.add_argument("--workers", type=int, default=2, help="processes of our CLI (this machine: 2 cores)")
    ap.add_argument("--ref-threads", type=int, help="cap the reference's BLAS threads (default: numpy's own)")
    ap.add_argument("--quick", action="store_true", help="shrink everything: a smoke check, not the targets")
    a = ap.parse_args()
    pick = lambda value, full, quick: value if value is not None else (quick if a.quick else full)
    a.gens = pick(a.generations, 100, 5)
    a.replicates = pick(a.replicates, 100, 4)
    a.process_replicates = pick(a.process_replicates, 1000, 20)
    a.ref_reps = pick(a.ref_replicates, 3, 1)
    a.values = pick(a.values, None, 2)
    a.parts = [p.strip() for p in a.part.split(",") if p.strip()]
    a.grids = [g.strip() for g in a.grid.split(",") if g.strip()]
    for name in a.parts:
        if name not in PARTS:
            ap.error(f"unknown part {name!r}: choose from {', '.join(PARTS)}")
    for g in a.grids:
        if g not in GRIDS:
            ap.error(f"unknown grid {g!r}: choose from {', '.join(GRIDS)}")
    return a


def main() -> None:
    a = parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs; our CLI with "
          f"--workers {a.workers}; T={a.gens}, replicates {a.replicates}, process replicates "
          f"{a.process_replicates}, reference replicates {a.ref_reps}, sweep values {a.values or 'all'}"
          + ("  [quick: shrunk sizes, the targets are for the full sizes]" if a.quick else ""), flush=True)  # fmt: skip
    load1 = os.getloadavg()[0]
    print(f"load average {load1:.2f}" + (": the machine is busy, timings are noisy" if load1 > 0.5 else ""))
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(a, Path(tmp))
        for part in a.parts:
            fn, title, unit, extra = PART_FUNCS[part]
            rows = fn(bench)
            table(title, rows, unit, extra)
            bench.verdicts += [r.met for r in rows if r.met is not None]
    print(f"targets met: {sum(bench.verdicts)} of {len(bench.verdicts)}")


if __name__ == "__main__":
    main()
