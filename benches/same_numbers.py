"""Same numbers before and after a change: byte-compare ``export --csv`` of two source trees.

Runs the demo configs and two bundled reproductions (replicates capped) with the working tree and with
a git revision (checked out in a temporary worktree), exports each results table as CSV and compares
the bytes. Both trees run on this machine in this run, so BLAS and platform differences cancel.

    python benches/same_numbers.py --base HEAD~3          # exit 1 and a list of differences if any
    python benches/same_numbers.py --base main --replicates 10
    python benches/same_numbers.py --reproduction kazdan2024-kde --config my.yaml   # other jobs instead

A refactoring must leave every line equal; a change that alters numbers on purpose says so.
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


def exports(tree: Path, out: Path, replicates: int, configs: list[str], reproductions: list[str]) -> dict[str, str]:
    """``{job: sha256 of its CSV}`` for every job run with the package in ``tree``."""
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


def _export(tree: Path, folder: Path) -> str:
    csv = folder / "export.csv"
    _cli(tree, "export", str(folder), "--csv", str(csv))
    return hashlib.sha256(csv.read_bytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="HEAD", help="git revision to compare the working tree with")
    ap.add_argument("--replicates", type=int, default=20, help="replicates of every job (capped)")
    ap.add_argument("--config", action="append", help="a config file to run (default: the demo configs)")
    ap.add_argument("--reproduction", action="append", help="a bundled reproduction (default: two analytic ones)")
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
    differ = [job for job in before if before[job] != after[job]]
    for job in before:
        print(f"{'same' if job not in differ else 'DIFFERENT':>9}  {job}  {after[job][:16]}")
    print(f"{len(before) - len(differ)} of {len(before)} exports byte-identical to {args.base}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
