"""The real-synthetic grid: cells, workflow sizes, one-line errors, and the closed forms against simulation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from helpers import z_score
from modelcollapse import simulate_experiment
from modelcollapse.analysis.predictions import predict
from modelcollapse.cli import app
from modelcollapse.report.grid import grid_figures
from modelcollapse.run.loading import ConfigError, expand
from modelcollapse.run.runner import run
from modelcollapse.store import Store
from modelcollapse.theory import cardinality


def grid_config(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "g",
        "source": {"kind": "gaussian", "dim": 2},
        "model": {"kind": "gaussian"},
        "samples_per_generation": 12,
        "grid": {"real": [0, 4], "synthetic": [0, 8], "totals": [10], "proportions": [0.0, 0.5, 1.0]},
        "replicates": 3,
    }
    base.update(fields)
    return base


def test_grid_cells_are_the_grid_plus_the_proportion_design_without_the_empty_cell() -> None:
    cells = expand(grid_config())
    assert [(p["n_real"], p["n_syn"]) for p, _ in cells] == [(0, 8), (0, 10), (4, 0), (4, 8), (5, 5), (10, 0)]
    _, exp = cells[3]
    assert exp.generations == 2
    assert exp.workflow[0].model_dump() == {
        "name": None, "kind": "real-synthetic", "real": 4, "synthetic": 8, "generator": 1
    }  # fmt: skip


def test_grid_crossed_with_a_sweep() -> None:
    cells = expand(grid_config(sweep={"source.dim": [1, 3]}))
    assert len(cells) == 12
    assert {p["source.dim"] for p, _ in cells} == {1, 3}


SETS_IT = "a grid sets it (one real-synthetic cell per size pair)"
NON_NEGATIVE = "input should be greater than or equal to 0"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"workflow": ["replace"]}, f"workflow: {SETS_IT}; remove workflow"),
        ({"generations": 3}, f"generations: {SETS_IT}; remove generations"),
        ({"grid": {"real": [0, -1], "synthetic": [1]}}, "grid.real[1]: -1 is invalid: " + NON_NEGATIVE),
        ({"grid": {"real": [1]}}, "grid.synthetic: field required"),
        ({"grid": {"real": [1], "synthetic": [1], "generater": 2}}, "grid.generater: unknown field"),
        ({"grid": [1, 2]}, "grid: must be a mapping with real, synthetic (lists of sizes) and optionally generator"),
    ],
)
def test_grid_errors_name_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        expand(grid_config(**fields))
    assert str(e.value) == message


def test_a_hand_written_cell_must_measure_the_generation_after_its_generator() -> None:
    cfg = grid_config(workflow={"kind": "real-synthetic", "real": 3, "synthetic": 4, "generator": 2}, generations=2)
    del cfg["grid"]
    with pytest.raises(ConfigError) as e:
        expand(cfg)
    assert str(e.value) == "workflow[0]: real-synthetic measures generation generator + 1 = 3; generations is 2"
    cfg["workflow"] = {"kind": "real-synthetic", "real": 0, "synthetic": 0}
    with pytest.raises(ConfigError) as e:
        expand(cfg)
    assert str(e.value) == "workflow[0]: real + synthetic must be at least 1"


@pytest.mark.parametrize("model", [{"kind": "gaussian"}, {"kind": "kde"}])
def test_training_sizes_generator_chain_then_real_plus_synthetic(model: dict[str, Any]) -> None:
    cfg = grid_config(model=model, grid={"real": [0, 5], "synthetic": [0, 7], "generator": 3})
    for point, exp in expand(cfg):
        sizes = simulate_experiment(exp)["real-synthetic"]["train_size"]
        assert sizes.shape == (4, 3)
        assert (sizes[:3] == 12).all()  # generations 1..3: the generator's replace chain of n = 12 rows
        assert (sizes[3] == point["n_real"] + point["n_syn"]).all()


def test_synthetic_leverage_exact_cases() -> None:
    # d = 1: B / W ~ Beta(n_s / 2, n_r / 2), so E (B / W)^2 = a (a + 1) / ((a + b)(a + b + 1)).
    a, b = 15 / 2, 4 / 2
    assert cardinality.synthetic_leverage(4, 15, 1) == pytest.approx(a * (a + 1) / ((a + b) * (a + b + 1)))
    assert cardinality.synthetic_leverage(0, 12, 4) == 4.0  # synthetic rows only: W = B
    assert cardinality.synthetic_leverage(12, 0, 4) == 0.0


@pytest.mark.parametrize(("n_real", "n_syn", "d"), [(10, 3, 4), (3, 10, 4), (20, 20, 5)])
def test_synthetic_leverage_against_monte_carlo(n_real: int, n_syn: int, d: int) -> None:
    x = np.random.default_rng(5).standard_normal((40_000, n_real + n_syn, d))
    w = np.swapaxes(x, 1, 2) @ x
    xs = x[:, n_real:]
    m = np.linalg.solve(w, np.swapaxes(xs, 1, 2) @ xs)  # W^-1 B; ||W^-1 B||_F^2 = tr(W^-2 B^2)
    assert abs(z_score(np.einsum("bij,bij->b", m, m), cardinality.synthetic_leverage(n_real, n_syn, d))) < 4


GENERATOR_2 = {"real": [0, 6, 40], "synthetic": [0, 6, 40], "generator": 2}


@pytest.mark.parametrize(
    ("fields", "metrics"),
    [
        ({"source": {"kind": "gaussian", "dim": 2, "variance": [1.0, 0.3]}}, ["mean_sq_error"]),
        ({"model": {"kind": "gaussian", "covariance": "known"}}, ["mean_sq_error", "test_nll"]),
        ({"model": {"kind": "gaussian", "estimator": "unbiased"}}, ["mean_sq_error"]),
        (
            {"source": {"kind": "linear-regression", "dim": 2, "design": "fresh"}, "model": {"kind": "ols"}},
            ["excess_risk", "test_mse"],
        ),
        (
            {"source": {"kind": "categorical", "categories": 8}, "model": {"kind": "categorical"}},
            ["l2_sq_to_truth"],
        ),
    ],
)
def test_every_cell_agrees_with_its_closed_form(fields: dict[str, Any], metrics: list[str]) -> None:
    cfg = grid_config(grid=GENERATOR_2, replicates=3000, metrics=metrics, **fields)
    compared = 0
    for point, exp in expand(cfg):
        sims, preds = simulate_experiment(exp)["real-synthetic"], predict(exp)
        for m in metrics:
            pred = preds[("real-synthetic", m)]
            assert np.isnan(pred[:-1]).all()  # only the last generation (real + synthetic) is predicted
            assert abs(z_score(sims[m][-1], pred[-1])) < 4, (point, m)
            compared += 1
    assert compared == 8 * len(metrics)


def test_pooled_error_limits_and_crossover() -> None:
    # Synthetic data cannot beat their generator: the error tends to e_g as N_syn grows.
    assert cardinality.pooled_error(10, 10**9, 1.0, 0.9, 0.05) == pytest.approx(0.05, rel=1e-6)
    assert cardinality.pooled_error(10, 0, 1.0, 0.9, 0.05) == pytest.approx(0.1)
    # Below the crossover 20 synthetic points help, above it they hurt.
    n_r = cardinality.crossover(1.0, 0.9, 0.1, 20)
    assert n_r == pytest.approx(20 / 0.9)
    assert cardinality.pooled_error(22, 20, 1.0, 0.9, 0.1) < 1 / 22
    assert cardinality.pooled_error(23, 20, 1.0, 0.9, 0.1) > 1 / 23
    assert cardinality.crossover(1.0, 0.9, 0.05, 20) == float("inf")  # a good generator helps at every N_real


def test_cli_shows_the_grid_and_draws_it(tmp_path: Path) -> None:
    import yaml

    config = tmp_path / "g.yaml"
    config.write_text(yaml.safe_dump(grid_config(replicates=50, metrics=["mean_sq_error"])))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(config), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "g  metric=mean_sq_error" in result.output and "rows N_real, columns N_syn" in result.output
    assert "gen 1" not in result.output  # no per-cell generation tables for a grid
    (png,) = grid_figures(out)
    assert png.name == "g-mean_sq_error-grid.png" and png.stat().st_size > 20_000
    drawn = pd.read_csv(png.with_suffix(".csv"))
    assert sorted(zip(drawn.n_real, drawn.n_syn, strict=True)) == [(0, 8), (0, 10), (4, 0), (4, 8), (5, 5), (10, 0)]
    four = drawn[drawn.n_real == 4].set_index("n_syn")
    assert four.ratio[8] == pytest.approx(four.centre[8] / four.centre[0])
    assert np.isfinite(drawn.predicted).all() and np.isfinite(drawn.z).all()


def test_a_neural_generator_is_trained_once_per_block_and_shared_by_the_cells(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    cfg = grid_config(
        source={"kind": "shapes", "shape": "moons"},
        model={"kind": "ddpm", "steps": 30, "hidden": 16, "timesteps": 5, "device": "cpu"},
        samples_per_generation=40,
        grid={"real": [0, 20], "synthetic": [0, 30], "generator": 2},
        replicates=2,
        metrics=["sliced_w2"],
    )
    run(cfg, tmp_path / "grid", executor="inline")
    generations = tmp_path / "grid" / "generations"
    (shared,) = generations.glob("chain-*")
    assert sorted(p.name for p in shared.glob("block-*/gen-*")) == ["gen-0001", "gen-0001", "gen-0002", "gen-0002"]
    cells = sorted(p.name for p in generations.glob("[!c]*/block-*/real-synthetic/gen-*"))
    assert cells == ["gen-0003"] * 6  # 3 cells x 2 blocks, each only its own real + synthetic generation

    # The same numbers as a cell that trained its generator itself.
    alone = {**cfg, "grid": {"real": [20], "synthetic": [30], "generator": 2}}
    run(alone, tmp_path / "alone", executor="inline")
    query = "SELECT replicate, generation, metric, value FROM results WHERE n_real = 20 AND n_syn = 30 ORDER BY ALL"
    with Store.open(tmp_path / "grid", read_only=True) as a, Store.open(tmp_path / "alone", read_only=True) as b:
        assert a.table(query).equals(b.table(query))
