"""A cell that raises is recorded with its error and the sweep goes on; NaN/inf values are flagged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from modelcollapse.store import Store

FAILING = {
    "name": "failing",
    "source": {"kind": "shapes", "shape": "blobs"},
    "model": {"kind": "gmm", "components": 2},
    "samples_per_generation": 8,
    "workflow": ["replace"],
    "generations": 3,
    "replicates": 2,
    "sweep": {"model.components": [2, 12]},  # 12 components cannot be fitted to 8 points
}


def sweep(tmp_path: Path, cfg: dict) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(cfg))
    return subprocess.run(
        [sys.executable, "-m", "modelcollapse", "sweep", str(config), "--out", str(tmp_path / "out"), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_failing_cell_is_recorded_and_the_others_finish(tmp_path: Path) -> None:
    done = sweep(tmp_path, FAILING)
    assert done.returncode == 1
    assert "2 cell(s), 2 chunk(s) run, 0 already done, 1 failed" in done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("failed:"))
    assert line.startswith('failed: failing {"model.components": 12} block 0: ValueError: Expected n_samples')
    with Store.open(tmp_path / "out", read_only=True) as store:
        stored = store.table('SELECT DISTINCT "model.components" AS k FROM results')["k"].tolist()
        assert stored == [2.0]
        assert len(store.failures()) == 1
    again = sweep(tmp_path, FAILING)  # a rerun skips the finished cell and retries the failed one
    assert "1 chunk(s) run, 1 already done, 1 failed" in again.stderr


def test_non_finite_values_are_stored_and_flagged(tmp_path: Path) -> None:
    # An unsmoothed categorical model loses categories under replace; the held-out log-likelihood of a lost
    # category is -inf, so test_nll is +inf in some replicates and generations: stored, reported, not a crash.
    cfg = {
        **FAILING,
        "source": {"kind": "categorical", "categories": 5, "distribution": "uniform"},
        "model": {"kind": "categorical"},
        "samples_per_generation": 10,
        "generations": 30,
        "replicates": 20,
        "metrics": ["test_nll", "entropy"],
    }
    del cfg["sweep"]
    done = sweep(tmp_path, cfg)
    assert done.returncode == 0, done.stderr
    flagged = [x for x in done.stderr.splitlines() if x.startswith("non-finite:")]
    with Store.open(tmp_path / "out", read_only=True) as store:
        values = store.table("SELECT value FROM results WHERE metric = 'test_nll'")["value"].to_numpy()
    n_inf = int(np.isinf(values).sum())
    assert 0 < n_inf < len(values)
    assert flagged == [f"non-finite: failing replace test_nll: {n_inf} inf of {len(values)} values, from generation 1"]


def test_a_covariance_collapsed_to_singular_gives_an_infinite_nll_not_a_failed_cell() -> None:
    from helpers import simulate

    # by generation 150 a few of 100 replicates are numerically singular (5 and 6 with seeds 0 and 1)
    fields = {"source": {"kind": "gaussian", "dim": 5}, "samples_per_generation": 20, "generations": 150}
    nll = simulate(**fields, replicates=100, metrics=["test_nll"])["replace"]["test_nll"]  # raised LinAlgError
    assert np.isfinite(nll[0]).all() and np.isposinf(nll[-1]).any()


def test_assess_judges_the_scaling_law_from_the_cells_that_finished(tmp_path: Path) -> None:
    from modelcollapse.analysis.assess import assess

    cfg = {**FAILING, "generations": 4, "sweep": {"samples_per_generation": [1, 8, 16, 32]}}  # n = 1 < 2 components
    assert sweep(tmp_path, cfg).returncode == 1
    rows = [r for r in assess(tmp_path / "out") if r["definition"] == 4]
    assert len(rows) == 3  # the three cells that ran
    assert all("needs a sweep" not in r["note"] for r in rows)
