"""``mc.open(DIR)``: a results folder read back as tables, a figure and verdicts, exactly what the store holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import modelcollapse as mc

CONFIG = {
    "name": "demo",
    "source": {"kind": "gaussian", "dim": 1},
    "model": {"kind": "gaussian"},
    "samples_per_generation": 20,
    "workflow": ["replace", "accumulate"],
    "generations": 5,
    "replicates": 6,
    "seed": 3,
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results")
    mc.run_experiment(CONFIG, out)
    return out


def test_frame_is_every_value_of_the_run(folder: Path) -> None:
    res = mc.open(folder)
    frame = res.frame()
    metrics = res.metrics()
    assert len(frame) == len(metrics) * 2 * 5 * 6  # metrics x workflows x generations x replicates
    direct = mc.simulate_experiment(mc.load(CONFIG))
    for workflow in ("replace", "accumulate"):
        part = frame[(frame.workflow == workflow) & (frame.metric == "mean_sq_error")]
        values = part.pivot(index="generation", columns="replicate", values="value").to_numpy()
        assert np.array_equal(values, direct[workflow]["mean_sq_error"])
    assert set(res.frame(["train_size"]).metric) == {"train_size"}


def test_summary_is_mean_se_and_count_per_generation(folder: Path) -> None:
    res = mc.open(folder)
    summary = res.summary(["mean_sq_error"], generations=[1, 5])
    frame = res.frame(["mean_sq_error"])
    for row in summary.itertuples():
        x = frame[(frame.workflow == row.workflow) & (frame.generation == row.generation)].value.to_numpy()
        assert row.n == 6 and row.mean == pytest.approx(x.mean(), rel=1e-12)
        assert row.se == pytest.approx(x.std(ddof=1) / np.sqrt(6), rel=1e-12)
    assert sorted(summary.generation.unique().tolist()) == [1, 5]


def test_plot_draws_the_summary(folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    res = mc.open(folder)
    ax = res.plot("mean_sq_error")
    summary = res.summary(["mean_sq_error"])
    lines = {bars.get_label(): bars.lines[0] for bars in ax.containers}  # errorbar: (data line, caps, bars)
    assert set(lines) == {"replace", "accumulate"}
    for workflow, line in lines.items():
        assert np.allclose(line.get_ydata(), summary[summary.workflow == workflow]["mean"], rtol=1e-12)
    assert ax.get_xlabel() == "generation" and ax.get_ylabel() == "mean_sq_error"


def test_assess_gives_a_verdict_per_workflow_and_definition(folder: Path) -> None:
    verdicts = mc.open(folder).assess()
    assert len(verdicts) == 2 * 8 and set(verdicts.workflow) == {"replace", "accumulate"}
    assert sorted(verdicts.definition.unique().tolist()) == list(range(1, 9))


def test_bad_names_and_folders_are_refused(folder: Path, tmp_path: Path) -> None:
    res = mc.open(folder)
    with pytest.raises(ValueError) as err:
        res.summary(["test_nl"])
    assert str(err.value) == f"unknown metric 'test_nl'; measured here: {', '.join(res.metrics())}"
    with pytest.raises(ValueError) as err:
        res.plot("mean_sq_error", experiment="other")
    assert str(err.value) == "no experiment 'other' measured mean_sq_error; experiments here: demo"
    with pytest.raises(FileNotFoundError) as missing:
        mc.open(tmp_path)
    assert str(missing.value) == f"no results in {tmp_path} (expected {tmp_path / 'results.duckdb'})"
