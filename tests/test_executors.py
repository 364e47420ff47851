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
        (
            ["--gpus-per-task", "1"],
            "error: --gpus-per-task: only the ray executor schedules GPUs; add --executor ray",
        ),
    ],
)
def test_bad_executor_options(tmp_path: Path, options: list[str], message: str) -> None:
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(SWEEP))
    done = cli("sweep", str(config), "--out", str(tmp_path / "x"), *options)
    assert done.returncode == 2 and done.stderr.strip() == message
    assert not (tmp_path / "x").exists()


def mixed_sweep(folder: Path) -> dict:  # type: ignore[type-arg]
    """A sweep of a CPU cell (a Gaussian) and a neural one (a tiny GPT on characters): a zip over two fields."""
    text = folder / "docs.txt"
    text.write_text("\n%\n".join(f"the cat number {i} sat on the mat." for i in range(30)))
    gpt = {"kind": "gpt", "layers": 1, "heads": 2, "width": 16, "steps": 2, "batch_size": 4, "device": "auto"}
    source = {"kind": "text", "paths": [str(text)], "tokenizer": "chars", "vocab_size": 40, "max_tokens": 12}
    return {
        "name": "mixed",
        "source": {"kind": "gaussian", "dim": 1},
        "model": {"kind": "gaussian"},
        "samples_per_generation": 8,
        "workflow": ["replace", "accumulate"],
        "generations": 2,
        "replicates": 2,
        "sweep": {"zip": {"source": [{"kind": "gaussian", "dim": 1}, source], "model": [{"kind": "gaussian"}, gpt]}},
    }


def test_a_mixed_sweep_schedules_neural_cells_on_gpus(tmp_path: Path) -> None:
    """On a Ray instance with two (logical) GPUs, the neural cell's task asks for half a GPU and the Gaussian's
    for none; the numbers are those of the local process pool (workers, like Ray's, run PyTorch on one thread:
    its CPU reductions round by thread count). Asking for more than a node has is refused."""
    ray = pytest.importorskip("ray", reason="Ray is not installed")
    import modelcollapse as mc
    from modelcollapse.run.loading import ConfigError, expand

    raw = mixed_sweep(tmp_path)
    local = mc.run_experiment(raw, tmp_path / "local", executor="local", workers=2)
    assert local.cells == 2 and local.failed == 0
    cells = {exp.model.kind: exp for _, exp in expand(raw)}
    assert cells["gpt"].accelerated and not cells["gaussian"].accelerated
    from modelcollapse.run.chunk import cell_key

    asking = mc.load({**raw, "sweep": None, "gpus_per_task": 0.5})
    assert asking.gpus_per_task == 0.5 and cell_key(asking) == cell_key(mc.load({**raw, "sweep": None}))  # unkeyed
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        summary = mc.run_experiment(raw, tmp_path / "ray", executor="ray", gpus_per_task=0.5)
        assert summary.failed == 0
        with pytest.raises(ConfigError, match=r"^gpus_per_task: a neural cell asks for 3 GPU\(s\); the Ray "):
            mc.run_experiment(raw, tmp_path / "too-many", executor="ray", gpus_per_task=3)
    finally:
        ray.shutdown()
    assert mc.open(tmp_path / "ray").frame().equals(mc.open(tmp_path / "local").frame())
