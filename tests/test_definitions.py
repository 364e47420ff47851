"""Each definition of collapse fires on a constructed collapsing trajectory and stays silent on a stable one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelcollapse import run_experiment
from modelcollapse.analysis.assess import assess
from modelcollapse.analysis.definitions import (
    COLLAPSES,
    STABLE,
    UNDETERMINED,
    Thresholds,
    any_increase,
    catastrophic,
    collapsing_variance,
    diverging,
    entangled_modes,
    hallucination,
    lost_tails,
    scaling_law,
)

R, G = 400, 30
RNG = np.random.default_rng(0)
T = np.arange(1, G + 1)


def noisy(curve: np.ndarray, sd: float = 0.05) -> np.ndarray:
    """Replicates scattered around a mean curve (positive)."""
    return np.abs(curve[None, :] * (1 + sd * RNG.standard_normal((R, G))))


LINEAR = noisy(1.0 + T)  # grows without bound
PLATEAU = noisy(1.0 + np.cumsum(1 / T**2) - 1)  # accumulate-like: rises, then flat
FLAT = noisy(np.ones(G))
SHRINKING = noisy(np.exp(-0.2 * (T - 1)))
KEPT = noisy(1 - 0.2 * (1 - np.exp(-0.3 * (T - 1))))


@pytest.mark.parametrize(
    ("check", "metric", "collapsing", "stable"),
    [
        (catastrophic, "test_nll", LINEAR, PLATEAU),
        (any_increase, "test_mse", LINEAR, FLAT),
        (diverging, "test_nll", LINEAR, PLATEAU),
        (collapsing_variance, "cov_trace_ratio", SHRINKING, KEPT),
        (lost_tails, "tail_mass_q95", SHRINKING, FLAT),
        (entangled_modes, "mode_share_tv", noisy(0.02 + 0.02 * T), noisy(np.full(G, 0.02))),
        (hallucination, "precision", noisy(0.95 - 0.02 * T), noisy(np.full(G, 0.95))),
        (hallucination, "plausible_bonds", noisy(0.6 - 0.015 * T), noisy(np.full(G, 0.6))),
    ],
)
def test_definition_fires_and_stays_silent(check, metric, collapsing, stable) -> None:  # type: ignore[no-untyped-def]
    th = Thresholds()
    fired = check({metric: collapsing}, th)
    assert fired.outcome == COLLAPSES, fired
    assert fired.metric == metric
    assert fired.first_generation is None or fired.first_generation >= 1
    quiet = check({metric: stable}, th)
    assert quiet.outcome == STABLE, quiet
    assert check({}, th).outcome == UNDETERMINED


def test_log_det_collapse_uses_differences() -> None:
    logdet = noisy(np.ones(G)) - 0.7 * T  # log det falls linearly: det -> 0
    assert collapsing_variance({"cov_logdet_change": logdet}, Thresholds()).outcome == COLLAPSES


def test_scaling_law_change() -> None:
    sizes = [50, 100, 200, 400]
    same = {n: noisy(np.full(G, 1.0 / n)) for n in sizes}  # error ~ 1/n at every generation
    flat = {n: noisy(np.linspace(1.0 / n, 1.0 / n**0.3, G)) for n in sizes}  # exponent -1 -> -0.3
    assert scaling_law(same, "mean_sq_error", Thresholds()).outcome == STABLE
    changed = scaling_law(flat, "mean_sq_error", Thresholds())
    assert changed.outcome == COLLAPSES and changed.statistic == pytest.approx(0.7, abs=0.05)
    assert scaling_law({50: same[50]}, "mean_sq_error", Thresholds()).outcome == UNDETERMINED


def test_assess_gaussian_replace_vs_accumulate(tmp_path: Path) -> None:
    cfg = {
        "name": "gauss",
        "source": {"kind": "gaussian", "dim": 5},
        "model": {"kind": "gaussian"},
        "samples_per_generation": 50,
        "workflow": ["replace", "accumulate"],
        "generations": 30,
        "replicates": 200,
        "metrics": ["test_nll", "cov_logdet_change", "mean_sq_error"],
        "sweep": {"samples_per_generation": [25, 50, 100]},
    }
    run_experiment(cfg, tmp_path)
    rows = assess(tmp_path)
    got = {(r["setting"], r["workflow"], r["definition"]): r["outcome"] for r in rows}
    cell = "gauss [samples_per_generation=50]"
    for d in (1, 2, 3, 5):
        assert got[(cell, "replace", d)] == COLLAPSES, d
    for d in (1, 3, 5):
        assert got[(cell, "accumulate", d)] == STABLE, d
    assert got[(cell, "accumulate", 2)] == COLLAPSES  # its risk does rise significantly, to the pi^2/6 plateau
    assert got[(cell, "replace", 6)] == UNDETERMINED  # no multi-modal source here
    assert got[(cell, "accumulate", 4)] in (STABLE, COLLAPSES)  # three sizes: the scaling law is testable


def test_infinite_losses() -> None:
    finite_then_inf = noisy(1.0 + T)
    finite_then_inf[:, G // 2 :] = np.inf
    for check in (catastrophic, any_increase, diverging):
        assert check({"test_nll": finite_then_inf}, Thresholds()).outcome == COLLAPSES
        assert check({"test_nll": np.full((R, G), np.inf)}, Thresholds()).outcome == UNDETERMINED
