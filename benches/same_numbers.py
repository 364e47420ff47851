"""Same numbers before and after a change: byte-compare ``export --csv`` of two source trees.

Runs the demo configs and two bundled reproductions (replicates capped) with the working tree and with
a git revision (checked out in a temporary worktree), exports each results table as CSV and compares
the bytes. Both trees run on this machine in this run, so BLAS and platform differences cancel.

    python benches/same_numbers.py --base HEAD~3          # exit 1 and a list of differences if any
    python benches/same_numbers.py --base main --replicates 10
    python benches/same_numbers.py --reproduction kazdan2024-kde --config my.yaml   # other jobs instead

A refactoring must leave every line equal; a change that alters numbers on purpose says so, and
``--distributions`` then checks that it changed only the random numbers, not their law: every series
(cell, workflow, metric, generation) is compared across replicates with a Mann-Whitney rank test (heavy
tails, e.g. variances under replace, make tests of means useless), and the run fails when the smallest
p-value, Bonferroni-corrected over the series, is below 0.001.

    python benches/same_numbers.py --base REV --replicates 200 --distributions
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ["src/modelcollapse/configs/demo-linear-regression.yaml", "src/modelcollapse/configs/demo-gaussian.yaml"]
REPRODUCTIONS = ["gerstgrasser2024-linear-regression", "kazdan2024-cardinality"]


def _cli(tree: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}  # ahead of the editable install's path
    subprocess.run([sys.executable, "-m", "modelcollapse", *args], cwd=tree, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def exports(tree: Path, out: Path, replicates: int, configs: list[str], reproductions: list[str]) -> dict[str, Path]:
    """``{job: its exported CSV}`` for every job run with the package in ``tree``."""
    digests = {}
    for name in configs:
        folder = out / Path(name).stem
        _cli(tree, "run", str((ROOT / name).resolve()), "--out", str(folder), "-q", "--set", f"replicates={replicates}")
        digests[name] = _export(tree, folder)
    for name in reproductions:
        folder = out / name
        _cli(tree, "reproduce", name, "--out", str(folder), "--replicates", str(replicates))
        digests[name] = _export(tree, folder)
    return digests


def _export(tree: Path, folder: Path) -> Path:
    csv = folder / "export.csv"
    _cli(tree, "export", str(folder), "--csv", str(csv))
    return csv


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def differences(before: Path, after: Path) -> list[str]:
    """Which (workflow, metric) series differ, and by how much at most."""
    import pandas as pd

    a, b = pd.read_csv(before), pd.read_csv(after)
    keys = [c for c in a.columns if c not in ("value", "config_hash")]
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return [f"columns or rows differ: {list(a.columns)} ({len(a)}) vs {list(b.columns)} ({len(b)})"]
    both = a.merge(b, on=keys, how="outer", suffixes=("_before", "_after"), indicator=True)
    out = []
    for (workflow, metric), part in both.groupby(["workflow", "metric"]):
        gap = (part.value_before - part.value_after).abs()
        same = ((part.value_before == part.value_after) | (part.value_before.isna() & part.value_after.isna())).all()
        if not same or (part._merge != "both").any():
            out.append(f"{workflow} {metric}: max |difference| {gap.max():.3g}")
    return out


def same_law(before: Path, after: Path) -> tuple[int, int, float]:
    """(series, series with p < 0.001, smallest p) of rank tests between the replicates before and after."""
    import numpy as np
    import pandas as pd
    from scipy.stats import mannwhitneyu

    a, b = pd.read_csv(before), pd.read_csv(after)
    keys = [c for c in a.columns if c not in ("value", "config_hash", "replicate")]
    later = {k: g.value.to_numpy() for k, g in b.groupby(keys, dropna=False)}
    ps = []
    for key, part in a.groupby(keys, dropna=False):
        x, y = part.value.to_numpy(), later.get(key, np.array([]))
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        if len(x) < 5 or len(y) < 5 or (np.ptp(x) == 0 and np.ptp(y) == 0 and x[0] == y[0]):
            continue  # too few finite values, or a constant (train_size) that agrees
        ps.append(float(mannwhitneyu(x, y).pvalue))
    return len(ps), sum(p < 1e-3 for p in ps), min(ps, default=1.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="HEAD", help="git revision to compare the working tree with")
    ap.add_argument("--replicates", type=int, default=20, help="replicates of every job (capped)")
    ap.add_argument("--config", action="append", help="a config file to run (default: the demo configs)")
    ap.add_argument("--reproduction", action="append", help="a bundled reproduction (default: two analytic ones)")
    ap.add_argument("--distributions", action="store_true", help="numbers changed on purpose: compare their laws")
    args = ap.parse_args()
    configs = args.config or ([] if args.reproduction else CONFIGS)
    reproductions = args.reproduction or ([] if args.config else REPRODUCTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            before = exports(base, Path(tmp) / "before", args.replicates, configs, reproductions)
            after = exports(ROOT, Path(tmp) / "after", args.replicates, configs, reproductions)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
        if args.distributions:
            return _compare_laws(before, after, args.base)
        differ = [job for job in before if digest(before[job]) != digest(after[job])]
        for job in before:
            print(f"{'same' if job not in differ else 'DIFFERENT':>9}  {job}  {digest(after[job])[:16]}")
            for line in differences(before[job], after[job]) if job in differ else []:
                print(f"{'':>11}{line}")
    print(f"{len(before) - len(differ)} of {len(before)} exports byte-identical to {args.base}")
    return 1 if differ else 0


def _compare_laws(before: dict[str, Path], after: dict[str, Path], base: str) -> int:
    worst = 1.0
    for job in before:
        series, low, p = same_law(before[job], after[job])
        worst = min(worst, p * series)
        print(f"{job}: {series} series, {low} with p < 0.001 (expected {series / 1000:.1f}), "
              f"smallest p {p:.2g} (x {series} series: {min(1.0, p * series):.2g})")
    verdict = "the same law" if worst >= 1e-3 else "DIFFERENT laws"
    print(f"{verdict} as {base}: smallest Bonferroni-corrected p {min(worst, 1.0):.2g}")
    return 0 if worst >= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
