"""Executors: the same numbers, byte for byte, whatever runs the chunks (inline, processes, Ray)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SWEEP = {
    "name": "det",
    "source": {"kind": "gaussian", "dim": 3, "variance": 1.0},
    "model": {"kind": "gaussian", "covariance": "full", "estimator": "mle"},
    "samples_per_generation": 20,
    "workflow": ["replace", "accumulate", "accumulate-subsample"],
    "generations": 12,
    "replicates": 60,
    "seed": 9,
    "sweep": {"samples_per_generation": [20, 50], "source.dim": [2, 3]},
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "modelcollapse", *args], capture_output=True, text=True, timeout=600)


def sweep_csv(tmp_path: Path, label: str, *options: str) -> bytes:
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(SWEEP))
    out = tmp_path / label
    done = cli("sweep", str(config), "--out", str(out), "-q", *options)
    assert done.returncode == 0, done.stderr
    cli("export", str(out), "--csv", str(tmp_path / f"{label}.csv"))
    return (tmp_path / f"{label}.csv").read_bytes()


def test_inline_and_process_pools_agree_byte_for_byte(tmp_path: Path) -> None:
    reference = sweep_csv(tmp_path, "inline", "--executor", "inline")
    assert reference.count(b"\n") == 4 * 3 * 60 * 12 * 9 + 1  # cells x workflows x replicates x generations x metrics
    assert sweep_csv(tmp_path, "local1", "--executor", "local", "--workers", "1") == reference
    assert sweep_csv(tmp_path, "local2", "--executor", "local", "--workers", "2") == reference


def test_ray_agrees_with_the_local_executor(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'modelcollapse[ray]'; make test installs it)")
    reference = sweep_csv(tmp_path, "local", "--executor", "local", "--workers", "2")
    assert sweep_csv(tmp_path, "ray", "--executor", "ray", "--workers", "2") == reference


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--executor", "slurm"], "error: --executor: 'slurm' is not one of: inline, local, ray"),
        (["--address", "auto"], "error: --address: only the ray executor connects to a cluster; add --executor ray"),
    ],
)
def test_bad_executor_options(tmp_path: Path, options: list[str], message: str) -> None:
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(SWEEP))
    done = cli("sweep", str(config), "--out", str(tmp_path / "x"), *options)
    assert done.returncode == 2 and done.stderr.strip() == message
    assert not (tmp_path / "x").exists()
