"""Selection stages in the loop: sizes exact in both modes, selection probabilities against closed forms,
a replicate's numbers independent of its batch, and bad configs refused in one line."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats

from modelcollapse import load, simulate_experiment
from modelcollapse._rng import Streams
from modelcollapse.data import Rows
from modelcollapse.run.loading import ConfigError
from modelcollapse.selection import Generation, Setting
from modelcollapse.selection.curate import CurateConfig
from modelcollapse.selection.verifier import VerifierConfig
from modelcollapse.sources import GaussianSource
from modelcollapse.store import Store

SETTINGS = {  # source, model: one per family a stage claims (the row families measure one cheap metric)
    "gaussian": ({"kind": "gaussian", "dim": 2}, {"kind": "gaussian"}),
    "regression": ({"kind": "linear-regression", "dim": 3}, {"kind": "ols"}),
    "categorical": ({"kind": "categorical", "categories": 8}, {"kind": "categorical"}),
    "shapes-kde": ({"kind": "shapes", "shape": "blobs"}, {"kind": "kde"}, ["model_variance"]),
    "tabular-kde": ({"kind": "tabular", "name": "iris"}, {"kind": "kde"}, ["model_variance"]),
}
STAGES = {
    "verifier": ({"kind": "verifier", "quantile": 0.2, "false_accept": 0.1}, ["gaussian", "regression", "categorical"]),
    "curate": ({"kind": "curate", "candidates": 3}, ["gaussian", "categorical", "shapes-kde", "tabular-kde"]),
}
WORKFLOWS = ["replace", "accumulate", "accumulate-subsample", {"kind": "mix", "fraction": 0.5}]
N, GENS = 40, 4


def experiment(setting: str, **fields: Any):  # type: ignore[no-untyped-def]
    source, model, *metrics = SETTINGS[setting]  # row families: two workflows (sklearn fits are slow)
    base = {
        "name": "t",
        "source": source,
        "model": model,
        "samples_per_generation": N,
        "workflow": WORKFLOWS[::2] if metrics else WORKFLOWS,
        "generations": GENS,
        "replicates": 3,
        "seed": 1,
        "metrics": metrics[0] if metrics else None,
    }
    return load({**base, **fields})


CLAIMED = [(stage, setting) for stage, (_, settings) in STAGES.items() for setting in settings]


@pytest.mark.parametrize(("stage", "setting"), CLAIMED)
def test_oversampling_keeps_every_workflows_sizes(stage: str, setting: str) -> None:
    plain = simulate_experiment(experiment(setting))
    chosen = simulate_experiment(experiment(setting, selection=[STAGES[stage][0]]))
    for wf in plain:
        np.testing.assert_array_equal(chosen[wf]["train_size"], plain[wf]["train_size"])
        rate = chosen[wf]["acceptance"]
        assert np.isnan(rate[0]).all() and ((rate[1:] > 0) & (rate[1:] <= 1)).all()


def test_survivors_count_what_passes() -> None:
    exp = experiment("gaussian", selection=[{"kind": "verifier", "quantile": 0.5}], selection_mode="survivors")
    out = simulate_experiment(exp)
    kept = out["replace"]["acceptance"][1:] * N  # one batch of N per generation
    np.testing.assert_allclose(out["replace"]["train_size"][1:], kept)
    assert len(set(out["replace"]["train_size"][1:].ravel())) > 1  # survivors vary between replicates
    sizes = out["accumulate"]["train_size"]
    np.testing.assert_allclose(np.diff(sizes, axis=0), out["accumulate"]["acceptance"][1:] * N)
    curated = simulate_experiment(experiment("categorical", selection=[{"kind": "curate"}], selection_mode="survivors"))
    assert (curated["replace"]["train_size"] == N).all()  # one of every K: exactly N of N * K


def test_a_replicates_numbers_do_not_depend_on_its_batch() -> None:
    strict = [{"kind": "verifier", "quantile": 0.7}, {"kind": "curate", "candidates": 2}]  # several batches
    three = simulate_experiment(experiment("gaussian", selection=strict, replicates=3))
    five = simulate_experiment(experiment("gaussian", selection=strict, replicates=5))
    for wf in three:
        for series, values in three[wf].items():
            np.testing.assert_array_equal(values, five[wf][series][:, :3], err_msg=f"{wf} {series}")


KEEP_ALL = {  # a stage that keeps every row, on a chain that draws rows anyway: (setting, workflows, stage)
    "a detector that only measures": (
        "tabular-kde",
        ["accumulate-subsample", {"kind": "window", "size": 2}],
        {"kind": "detector", "threshold": 1.0, "train_rows": 40},
    ),
    "a verifier that accepts every error": (
        "gaussian",
        ["accumulate-subsample"],
        {"kind": "verifier", "false_accept": 1.0},
    ),
}


@pytest.mark.parametrize("name", KEEP_ALL)
def test_a_stage_that_keeps_everything_leaves_the_chain_as_it_was(name: str) -> None:
    """Cells differing only in their selection share their streams, and what a stage draws (a detector's
    training rows, a verifier's coins) comes from streams of its own: a stage that keeps every row changes
    no number of a chain that draws rows anyway (a chain of sufficient statistics draws rows once screened)."""
    setting, workflows, stage = KEEP_ALL[name]
    plain = simulate_experiment(experiment(setting, workflow=workflows))
    watched = simulate_experiment(experiment(setting, workflow=workflows, selection=[stage]))
    for wf in plain:
        for metric, values in plain[wf].items():
            np.testing.assert_array_equal(watched[wf][metric], values, err_msg=f"{wf} {metric}")


def _screen(config: Any, rows: Rows, world: Any, seed: int = 0) -> np.ndarray:
    stage = config.build(Setting(None, None))
    rng = Streams([np.random.default_rng(seed)])
    gen = Generation(2, world, rng, lambda m: rows)
    return stage.screen(rows, np.ones(rows.cols["x" if "x" in rows.cols else "y"].shape[:2], bool), gen).keep


@pytest.mark.parametrize(("q", "alpha", "beta"), [(0.05, 0.0, 0.0), (0.3, 0.2, 0.1), (0.5, 1.0, 0.0)])
def test_verifier_accepts_real_rows_at_its_nominal_rates(q: float, alpha: float, beta: float) -> None:
    """On draws of the truth itself a share 1 - q is correct: acceptance (1 - beta)(1 - q) + alpha q."""
    source = GaussianSource(np.array([1.0, -2.0]), np.array([[2.0, 0.5], [0.5, 1.0]]))
    world = source.world(1, 10, np.random.default_rng(0))
    rows = world.draw(40_000, Streams([np.random.default_rng(1)]))
    cfg = VerifierConfig(quantile=q, false_accept=alpha, false_reject=beta)
    kept = _screen(cfg, rows, world)
    expected = (1 - beta) * (1 - q) + alpha * q
    se = np.sqrt(expected * (1 - expected) / kept.size) or 1e-12
    assert abs(kept.mean() - expected) / se < 4


def test_regression_oracle_relabels_its_share() -> None:
    """Relabelled rows carry true labels: with share 1 every residual is noise, so |r| / sd <= c holds with
    probability 2 Phi(c) - 1; with share 0 the labels are left as they were."""
    exp = experiment("regression")
    from modelcollapse.run.chunk import real_key

    world = exp.source.build().world(1, N, Streams.keyed(0, real_key(exp), 0, 1))
    wrong = Rows({"i": np.tile(np.arange(N), (1, 500)), "y": np.full((1, 500 * N), 50.0)})  # labels far off
    kept = _screen(VerifierConfig(threshold=-1.0, relabel=1.0), wrong, world)
    p = 2 * stats.norm.cdf(1.0) - 1
    assert abs(kept.mean() - p) / np.sqrt(p * (1 - p) / kept.size) < 4
    assert not _screen(VerifierConfig(threshold=-1.0, relabel=0.0), wrong, world).any()


def _curated_exactly(p: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    """The kept symbol's law by enumerating every K-tuple: P(tuple) x softmax share of each member."""
    out = np.zeros(len(p))
    for tup in itertools.product(range(len(p)), repeat=k):
        weight = np.prod(p[list(tup)])
        e = np.exp(r[list(tup)])
        for x, share in zip(tup, e / e.sum(), strict=True):
            out[x] += weight * share
    return out


@pytest.mark.parametrize("k", [2, 3])
def test_curation_keeps_symbols_with_the_bradley_terry_law(k: int) -> None:
    p, values = np.array([0.5, 0.3, 0.15, 0.05]), [0.0, 0.5, 1.0, 2.5]
    rows = Rows({"x": np.random.default_rng(2).choice(4, size=(1, 300_000 * k), p=p)})
    kept = _screen(CurateConfig(candidates=k, reward="table", values=values), rows, None)
    counts = np.bincount(rows.cols["x"][kept], minlength=4)
    assert counts.sum() == 300_000
    expected = _curated_exactly(p, np.array(values), k)
    assert stats.chisquare(counts, expected * counts.sum()).pvalue > 1e-3


def test_curation_groups_only_the_rows_that_passed() -> None:
    """After a filter, groups of K are formed among the rows it let through; an incomplete group keeps none."""
    rows = Rows({"x": np.arange(10.0)[None, :, None]})
    keep = np.array([[1, 0, 1, 1, 0, 1, 1, 1, 0, 1]], bool)  # 7 passed: groups (0, 2, 3), (5, 6, 7); 9 left over
    stage = CurateConfig(candidates=3, reward="first-coordinate", scale=100.0).build(Setting(None, None))
    gen = Generation(2, None, Streams([np.random.default_rng(0)]), lambda m: rows)  # type: ignore[arg-type]
    chosen = np.flatnonzero(stage.screen(rows, keep, gen).keep)
    assert chosen.tolist() == [3, 7]  # the largest reward of each group, at this scale


def _error(**fields: Any) -> str:
    with pytest.raises(ConfigError) as err:
        experiment(fields.pop("setting", "gaussian"), **fields)
    return str(err.value)


def test_bad_selections_are_refused_naming_the_field() -> None:
    assert _error(setting="shapes-kde", selection=[{"kind": "verifier"}]) == (
        "selection[0]: stage 'verifier' needs source.kind in: gaussian, linear-regression, categorical; got 'shapes'"
    )
    assert _error(selection=[{"kind": "verifier", "threshold": -1, "quantile": 0.1}]) == (
        "selection[0]: give threshold or quantile, not both"
    )
    assert _error(selection=[{"kind": "verifier", "relabel": 0.5}]) == (
        "selection[0]: relabel: an oracle relabels regression rows only; source.kind is 'gaussian'"
    )
    assert _error(setting="categorical", selection=[{"kind": "curate", "reward": "table", "values": [1.0, 2.0]}]) == (
        "selection[0]: values: reward 'table' needs one value per symbol of a categorical source (8)"
    )
    assert _error(selection=[{"kind": "curate", "reward": "table"}]).startswith(
        "selection[0]: reward 'table' needs values (one per symbol)"
    )
    assert _error(setting="regression", selection=[{"kind": "curate"}]) == (
        "selection[0]: reward 'first-coordinate' scores rows x of source.kind in: "
        "gaussian, categorical, shapes, tabular; got 'linear-regression'"
    )
    assert _error(selection=[{"kind": "curate"}, {"kind": "curate"}]) == (
        "selection[1]: stage names must be unique, 'curate' is used twice"
    )
    assert _error(selection=[{"kind": "curate", "candidates": 1}]).startswith("selection[0].candidates: ")
    assert _error(selection_mode="all") == "selection_mode: 'all' is not one of: oversample or survivors"
    assert _error(selection_mode="survivors") == (
        "selection_mode: survivors needs a selection (stages under selection)"
    )
    assert _error(selection=[{"kind": "verifier", "false_reject": 1.0}]) == (
        "selection[0]: false_reject 1 with false_accept 0 keeps no row"
    )
    assert _error(selection=[{"kind": "verifier", "quantile": 1.0}]) == (
        "selection[0].quantile: 1.0 is invalid: input should be less than 1"
    )
    assert _error(selection=[{"kind": "curate", "reward": "closeness", "target": [1.0, 2.0, 3.0]}]) == (
        "selection[0]: target: reward 'closeness' needs a point of 2 coordinates; got 3"
    )
    table = {"kind": "curate", "reward": "table", "values": [1.0, 2.0, 3.0]}
    four = {"kind": "categorical", "categories": 3, "probabilities": [0.1, 0.2, 0.3, 0.4]}
    assert _error(setting="categorical", source=four, selection=[table]) == (
        "selection[0]: values: reward 'table' needs one value per symbol of a categorical source (4)"
    )


def test_a_stages_fields_are_swept_by_index() -> None:
    from modelcollapse.run.loading import expand

    raw = {
        "name": "t",
        "source": {"kind": "gaussian"},
        "model": {"kind": "gaussian"},
        "samples_per_generation": 10,
        "workflow": ["replace"],
        "generations": 2,
        "replicates": 1,
        "selection": [{"kind": "verifier"}, "curate"],
    }
    cells = expand(raw | {"sweep": {"selection.0.false_accept": [0.1, 0.2], "selection.1.candidates": [3, 4]}})
    got = [(e.selection[0].false_accept, e.selection[1].candidates) for _, e in cells]
    assert got == [(0.1, 3), (0.1, 4), (0.2, 3), (0.2, 4)]
    with pytest.raises(ConfigError) as err:
        expand(raw | {"sweep": {"selection.0": [{"kind": "curate"}]}})
    assert str(err.value) == "selection.0: names a list item; set a field of it (selection.0.FIELD)"


def test_a_selection_that_keeps_nothing_stops_with_the_reason() -> None:
    never = [{"kind": "verifier", "threshold": 1e9}]
    with pytest.raises(RuntimeError, match=r"^generation 2: selection kept fewer than 40 rows per replicate in 1000 "):
        simulate_experiment(experiment("gaussian", selection=never, workflow=["replace"]))
    with pytest.raises(ValueError, match=r"^generation 2: the selection kept no synthetic row$"):
        simulate_experiment(experiment("gaussian", selection=never, workflow=["replace"], selection_mode="survivors"))


def test_a_selection_runs_through_the_command_line(tmp_path: Path) -> None:
    """config -> run -> store -> show and assess: a sweep over a stage's field; the stage's values are stored
    per generation (none in generation 1, which is not reported as non-finite)."""
    cfg = {
        "name": "sel",
        "source": {"kind": "categorical", "categories": 8},
        "model": {"kind": "categorical"},
        "samples_per_generation": 50,
        "workflow": ["replace"],
        "generations": 4,
        "replicates": 3,
        "selection": {"kind": "curate", "candidates": 3},
        "sweep": {"selection.candidates": [2, 5]},
    }
    path = tmp_path / "sel.yaml"
    path.write_text(yaml.safe_dump(cfg))
    ran = subprocess.run(
        [sys.executable, "-m", "modelcollapse", "run", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert "curate_score_after" in ran.stdout
    assert "non-finite: sel replace test_nll" in ran.stderr  # symbols curation dropped: infinite test loss
    assert "acceptance" not in ran.stderr and "curate" not in ran.stderr
    with Store.open(tmp_path / "out", read_only=True) as store:
        rows = store.table(
            "SELECT sweep, generation, value FROM results JOIN cells USING (config_hash) "
            "WHERE metric = 'acceptance' ORDER BY ALL"
        )
    assert len(rows) == 2 * 4 * 3 and rows.value.isna().sum() == 2 * 3  # generation 1 of each cell
    rates = rows.dropna().groupby("sweep").value.unique()
    assert sorted(float(r[0]) for r in rates) == [0.2, 0.5]  # one of every K: exactly 1/K


# Experiments whose predictions (analysis/selected.py) the loop must meet, |z| < 4 at every point:
# (fields, workflows, samples per generation, replicates).
ORACLES = {
    "shrink, known covariance": (
        {"source": {"kind": "gaussian", "dim": 2}, "model": {"kind": "gaussian", "covariance": "known", "shrink": 0.7}},
        ["replace", "accumulate", {"kind": "mix", "fraction": 0.5}, {"kind": "window", "size": 2}],
        20,
        2000,
    ),
    "shrink, fitted covariance": (
        {"source": {"kind": "gaussian", "dim": 2}, "model": {"kind": "gaussian", "shrink": 0.8}},
        ["replace"],
        20,
        2000,
    ),
    "verifier on a Gaussian mean": (
        {
            "source": {"kind": "gaussian", "dim": 1, "variance": 2.0},
            "model": {"kind": "gaussian", "covariance": "known"},
            "selection": {"kind": "verifier", "threshold": -2.0, "false_accept": 0.3, "false_reject": 0.1},
        },
        ["replace"],
        100,
        2000,
    ),
    "curation on a categorical": (
        {
            "source": {"kind": "categorical", "categories": 6},
            "model": {"kind": "categorical"},
            "selection": {"kind": "curate", "candidates": 3, "reward": "table", "values": [0, 2, 1, 0, 3, 1]},
        },
        ["replace", {"kind": "mix", "fraction": 0.5}],
        10_000,
        200,  # the population limit's bias is O(1/n): small against the standard error when R << n
    ),
}


@pytest.mark.parametrize("name", ORACLES)
def test_the_loop_meets_the_closed_forms_of_selection(name: str) -> None:
    from modelcollapse.analysis.predictions import predict

    fields, workflows, n, replicates = ORACLES[name]
    base = {"name": "t", "samples_per_generation": n, "workflow": workflows, "generations": 6, "replicates": replicates}
    exp = load(base | fields)
    out, predicted = simulate_experiment(exp), predict(exp)
    assert {wf for wf, _ in predicted} == {w.label for w in exp.workflow}
    for (wf, metric), curve in predicted.items():
        values = out[wf][metric]
        se = values.std(axis=1, ddof=1) / np.sqrt(values.shape[1])
        z = (values.mean(axis=1) - curve) / se
        assert np.nanmax(np.abs(z)) < 4, f"{wf} {metric}: z = {np.round(z, 2)}"
