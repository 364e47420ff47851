"""A results folder is read from its stored data and a schema-level parse of its configs alone: in another
process that never registered the user's model, and when the config asks for a GPU this machine lacks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

WRITE = textwrap.dedent(
    """
    import sys
    from typing import Literal

    import modelcollapse as mc
    from modelcollapse.data import Part
    from modelcollapse.registry import WORKFLOWS
    from modelcollapse.workflows.base import Workflow, WorkflowConfig

    class Mean:
        def fit(self, X, rng):
            self.mu_ = X.mean(0)
            return self

        def sample(self, n, rng):
            return self.mu_ + rng.standard_normal((n, len(self.mu_)))

        def loss(self, X):
            return float(((X - self.mu_) ** 2).sum(1).mean())

    @WORKFLOWS.register
    class Latest(WorkflowConfig):
        # the latest synthetic batch, halved

        kind: Literal["my-latest-half"] = "my-latest-half"

        def build(self, n, generations):
            return Workflow(lambda real: None, lambda s, t, synth, fresh, rng: (s, [Part(synth)]), lambda t: n // 2)

    mc.register_model("my-mean", Mean)
    mc.run_experiment({"name": "mine", "source": {"kind": "gaussian", "dim": 2}, "model": {"kind": "my-mean"},
                       "samples_per_generation": 20, "workflow": ["my-latest-half", "accumulate"], "generations": 4,
                       "replicates": 6}, sys.argv[1])
    """
)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "modelcollapse", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mine") / "out"
    subprocess.run([sys.executable, "-c", WRITE, str(out)], check=True, timeout=300)
    return out


def test_an_unregistered_user_model_is_read_by_every_command(written: Path, tmp_path: Path) -> None:
    """A user's model and a user's workflow, written in one process, read in others that know neither."""
    shown = cli("show", str(written))
    assert shown.returncode == 0, shown.stderr
    assert "test_loss" in shown.stdout and "my-latest-half" in shown.stdout
    assert cli("export", str(written), "--csv", str(tmp_path / "x.csv")).returncode == 0
    assert (tmp_path / "x.csv").read_text().count("\n") == 1 + 2 * 2 * 4 * 6  # header, 2 workflows x 2 metrics
    plotted = cli("plot", str(written), "--out", str(tmp_path / "figs"))
    assert plotted.returncode == 0, plotted.stderr
    assert list((tmp_path / "figs").glob("*.png"))
    assessed = cli("assess", str(written), "--json")
    assert assessed.returncode == 0, assessed.stderr
    assert {r["workflow"] for r in json.loads(assessed.stdout)} == {"my-latest-half", "accumulate"}
    reported = cli("report", str(written), "--html", str(tmp_path / "r.html"))
    assert reported.returncode == 0, reported.stderr
    assert "my-mean" in (tmp_path / "r.html").read_text()


def test_a_config_asking_for_a_gpu_reads_on_a_cpu(tmp_path: Path) -> None:
    """The stored config names a device this machine lacks; reading it probes nothing."""
    pytest.importorskip("torch")
    import torch

    from modelcollapse import ConfigError, load
    from modelcollapse.analysis.summary import cells
    from modelcollapse.store import Store

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: nothing to show")
    cfg = {"name": "gpu", "source": {"kind": "shapes"}, "model": {"kind": "ddpm", "device": "cuda"},
           "samples_per_generation": 10, "workflow": ["replace"], "generations": 2, "replicates": 1}
    with pytest.raises(ConfigError, match="no CUDA GPU is available here"):
        load(cfg)  # running it here is refused, with a reason
    with Store.open(tmp_path) as store:  # a folder written on a GPU machine: its cell, and one result row
        store.register_cell("k" * 16, "gpu", {}, cfg)
        store.con.execute("INSERT INTO results VALUES ('gpu', ?, 'replace', 0, 1, 'sliced_w2', 0.5)", ["k" * 16])
    with Store.open(tmp_path, read_only=True) as store:
        (cell,) = cells(store)
    assert (cell.exp.model.kind, cell.exp.model.device) == ("ddpm", "cuda")
    shown = cli("show", str(tmp_path))
    assert shown.returncode == 0 and "sliced_w2" in shown.stdout, shown.stderr
