"""A run killed with SIGKILL and rerun ends with exactly the numbers of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")


def command(config: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "modelcollapse",
        "sweep",
        str(config),
        "--out",
        str(out),
        "-q",
        "--executor",
        "inline",
    ]


def export(out: Path) -> bytes:
    csv = out.with_suffix(".csv")
    subprocess.run([sys.executable, "-m", "modelcollapse", "export", str(out), "--csv", str(csv)], check=True)
    return csv.read_bytes()


def kill_when(proc: subprocess.Popen, ready, timeout: float = 300, poll: float = 0.05) -> None:  # type: ignore[no-untyped-def, type-arg]
    start = time.time()
    while not ready():
        assert proc.poll() is None, "the run finished before it could be killed"
        assert time.time() - start < timeout
        time.sleep(poll)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def clean_and_killable(tmp_path: Path, cfg: dict) -> tuple[Path, Path, subprocess.Popen]:  # type: ignore[type-arg]
    """Run ``cfg`` once uninterrupted, then start it again into another folder, to be killed."""
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(cfg))
    clean = subprocess.run(command(config, tmp_path / "clean"), capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stderr
    killed = tmp_path / "killed"
    return (
        tmp_path / "clean",
        killed,
        subprocess.Popen(command(config, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    )


def rerun(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command(tmp_path / "cfg.yaml", tmp_path / "killed"), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done


def test_sigkill_mid_generation_then_rerun(tmp_path: Path) -> None:
    cfg = {
        "name": "kill",
        "source": {"kind": "shapes", "shape": "moons"},
        "model": {"kind": "ddpm", "steps": 150, "hidden": 32, "timesteps": 10, "device": "cpu"},
        "samples_per_generation": 100,
        "workflow": ["replace", "accumulate"],
        "generations": 5,
        "replicates": 2,
        "seed": 3,
        "metrics": ["sliced_w2", "variance_ratio"],
    }
    clean, killed, proc = clean_and_killable(tmp_path, cfg)
    # Kill once the second workflow of block 0 has finished a generation: block 0 is then half done.
    kill_when(proc, lambda: any(killed.glob("generations/*/block-0000/accumulate/gen-0002")))
    finished = sorted(p.name for p in killed.glob("generations/*/block-0000/*/gen-*"))
    assert 7 <= len(finished) < 10  # replace's 5 and some of accumulate's: a partial block
    assert not any(killed.glob("generations/*/block-0001/*/gen-0005"))

    assert "2 chunk(s) run, 0 already done" in rerun(tmp_path).stderr
    assert export(killed) == export(clean)


def test_sigkill_during_an_analytic_sweep_then_rerun(tmp_path: Path) -> None:
    cfg = {
        "name": "kill-grid",
        "source": {"kind": "gaussian", "dim": 3},
        "model": {"kind": "gaussian"},
        "samples_per_generation": 20,
        "workflow": ["replace", "accumulate", "accumulate-subsample"],
        "generations": 100,
        "replicates": 200,
        "seed": 1,
        "metrics": ["cov_trace_ratio", "w2_sq"],
        "sweep": {"samples_per_generation": [20, 40, 80], "source.dim": [2, 3]},
    }
    clean, killed, proc = clean_and_killable(tmp_path, cfg)
    wal = killed / "results.duckdb.wal"
    seen = [0]

    def checkpointed() -> bool:
        # The write-ahead log grows while a chunk commits and shrinks only at a checkpoint, which follows a
        # finished commit: kill at the first shrink, so at least one chunk is durable and most are not.
        size = wal.stat().st_size if wal.exists() else 0
        seen[0] = max(seen[0], size)
        return size < seen[0]

    kill_when(proc, checkpointed, poll=0.01)
    done = int(rerun(tmp_path).stderr.split(" already done")[0].split(", ")[-1])
    assert 0 < done < 24  # the rerun resumed: some chunks were durable, some were not
    assert export(killed) == export(clean)
