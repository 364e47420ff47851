"""The early-warning timeline of ``assess``: which definition fired first, and its lead over the test loss."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from modelcollapse import run_experiment
from modelcollapse.analysis.assess import assess
from modelcollapse.analysis.timeline import timeline
from modelcollapse.cli import app

CONFIG = {
    "name": "warn",
    "source": {"kind": "gaussian", "dim": 1},
    "model": {"kind": "gaussian", "estimator": "unbiased"},
    "samples_per_generation": 10,
    "workflow": ["replace", "accumulate"],
    "generations": 40,
    "replicates": 200,
    "metrics": ["test_nll", "tail_kept", "cov_logdet_change", "mean_sq_error"],
}


def test_timeline_orders_and_leads(tmp_path: Path) -> None:
    run_experiment(CONFIG, tmp_path / "r")
    verdicts = assess(tmp_path / "r")
    rows = timeline(verdicts)
    replace = [r for r in rows if r["workflow"] == "replace"]
    firsts = {r["definition"]: r["first_generation"] for r in verdicts if r["workflow"] == "replace"}
    loss = firsts[2]
    assert loss is not None
    assert [r["first_generation"] for r in replace] == sorted(r["first_generation"] for r in replace)
    assert {r["definition"] for r in replace} == {d for d, f in firsts.items() if f is not None}
    for r in replace:
        assert r["lead"] == loss - r["first_generation"]
    assert any(r["lead"] < 0 for r in replace)  # definitions with stricter thresholds fire after the loss


def test_cli_timeline(tmp_path: Path) -> None:
    run_experiment(CONFIG | {"replicates": 50, "generations": 20}, tmp_path / "r")
    out = CliRunner().invoke(app, ["assess", str(tmp_path / "r"), "--timeline", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert rows == json.loads(json.dumps(timeline(assess(tmp_path / "r")), default=float))
    text = CliRunner().invoke(app, ["assess", str(tmp_path / "r"), "--timeline"])
    assert text.exit_code == 0 and "Early warning" in text.output
