"""Model families: fast statistic paths agree with the data paths; pinv semantics; estimators."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from helpers import experiment
from modelcollapse.data import Rows
from modelcollapse.models.gaussian import GaussianModelConfig
from modelcollapse.models.linear import OLSModelConfig, RidgeModelConfig
from modelcollapse.run.engine import simulate
from modelcollapse.sources import RegressionSource
from modelcollapse.workflows import Part, accumulate, replace

ALPHA = 1e-3  # per KS test


def _paths(exp, workflow, metric: str, gen: int) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """The metric at ``gen`` through the statistics path and through the row path (same law, other draws)."""
    fam, src = exp.family(), exp.source.build()
    out = []
    for needs_rows in (False, True):
        wf = workflow._replace(needs_rows=needs_rows)
        vals = []
        for b in range(8):
            world = src.world(fam.block, exp.samples_per_generation, np.random.default_rng([b, needs_rows]))
            rng = np.random.default_rng([99, b, needs_rows])
            vals.append(simulate(world, fam, wf, gen, rng, {metric: exp.metric_table()[metric]})[metric][-1])
        out.append(np.concatenate(vals))
    return out[0], out[1]


@pytest.mark.parametrize("covariance", ["full", "diagonal", "isotropic"])
@pytest.mark.parametrize("n", [4, 30])  # n <= d: singular Wishart path; n > d: Bartlett
def test_gaussian_sampled_statistics_match_data(covariance: str, n: int) -> None:
    exp = experiment(
        source={"kind": "gaussian", "dim": 5, "variance": [0.5, 1, 1, 2, 3]},
        model={"kind": "gaussian", "covariance": covariance},
        samples_per_generation=n,
    )
    for metric in ("cov_trace_ratio", "mean_sq_error"):
        fast, slow = _paths(exp, replace(n), metric, 4)
        assert stats.ks_2samp(fast, slow).pvalue > ALPHA, metric


@pytest.mark.parametrize("dim", [3, 30])  # n = 20 < 30: minimum-norm fits
def test_regression_sampled_statistics_match_data(dim: int) -> None:
    exp = experiment(source={"kind": "linear-regression", "dim": dim}, model={"kind": "ols"}, samples_per_generation=20)
    for wf in (replace(20), accumulate(20)):
        fast, slow = _paths(exp, wf, "excess_risk", 4)
        assert stats.ks_2samp(fast, slow).pvalue > ALPHA


@pytest.mark.parametrize(("n", "d"), [(5, 12), (12, 12), (40, 12)])
def test_ols_is_pinv(n: int, d: int) -> None:
    rng = np.random.default_rng(0)
    world = RegressionSource(d).world(3, n, rng)
    x, y = world.truth.design, world.train.cols["y"]
    fam = OLSModelConfig().build(None)
    paths = {
        "rows": fam.fit([Part(Rows({"x": x, "y": y}))], world, rng).weights,  # Cholesky / eigh pinv
        "design stats": fam.fit([Part(fam.prepare(world.train, world))], world, rng).weights,  # eigenbasis
        "design rows": fam.fit([Part(world.train)], world, rng).weights,  # distinct design rows
    }
    for b in range(3):
        ref = np.linalg.pinv(x[b]) @ y[b]
        for name, w in paths.items():
            np.testing.assert_allclose(w[b], ref, rtol=1e-6, atol=1e-9, err_msg=name)


@pytest.mark.parametrize(("n", "d", "k"), [(6, 12, 9), (12, 12, 12), (30, 8, 25), (160, 30, 150)])
def test_ols_on_duplicated_design_rows_is_pinv(n: int, d: int, k: int) -> None:
    # accumulate-subsample picks design rows with repeats and different labels: still pinv(X_sub) y_sub
    # (the last case has n d^2 > LARGE_GRAM: its Gram matrix is built one replicate at a time).
    rng = np.random.default_rng(3)
    world = RegressionSource(d).world(4, n, rng)
    idx = rng.integers(0, n, size=(4, k))
    y = rng.standard_normal((4, k))
    w = OLSModelConfig().build(None).fit([Part(Rows({"i": idx, "y": y}))], world, rng).weights
    for b in range(4):
        x_sub = world.truth.design[b, idx[b]]
        np.testing.assert_allclose(w[b], np.linalg.pinv(x_sub) @ y[b], rtol=1e-6, atol=1e-9)


def test_ridge_solution() -> None:
    rng = np.random.default_rng(1)
    world = RegressionSource(4).world(2, 30, rng)
    fam = RidgeModelConfig(alpha=2.0).build(None)
    w = fam.fit([Part(fam.prepare(world.train, world))], world, rng).weights
    x, y = world.truth.design[0], world.train.cols["y"][0]
    np.testing.assert_allclose(w[0], np.linalg.solve(x.T @ x + 2.0 * np.eye(4), x.T @ y), rtol=1e-8)


@pytest.mark.parametrize(("estimator", "divisor"), [("mle", 10), ("unbiased", 9)])
def test_gaussian_estimator_divisor(estimator: str, divisor: int) -> None:
    x = np.arange(20.0).reshape(1, 10, 2)
    fam = GaussianModelConfig(estimator=estimator).build(None)
    p = fam.fit([Part(Rows({"x": x}))], None, np.random.default_rng(0))  # type: ignore[arg-type]
    xc = x[0] - x[0].mean(0)
    np.testing.assert_allclose(p.cov[0], xc.T @ xc / divisor)


def test_weighted_parts_are_shares() -> None:
    # Two data sets with shares 0.25 / 0.75 give the weighted mean, whatever their sizes.
    a, b = Rows({"x": np.zeros((1, 4, 1))}), Rows({"x": np.ones((1, 40, 1))})
    fam = GaussianModelConfig(covariance="diagonal").build(None)
    from modelcollapse.workflows import proportional

    p = fam.fit(proportional([(a, 0.25), (b, 0.75)]), None, np.random.default_rng(0))  # type: ignore[arg-type]
    assert p.mean[0, 0] == pytest.approx(0.75)


def test_wordfreq_source_is_real_and_heavy_tailed() -> None:
    from modelcollapse.sources import word_frequencies

    words, p = word_frequencies(500)
    assert words[:3] == ["the", "to", "and"] and p.sum() == pytest.approx(1.0)
    assert (np.diff(p) <= 0).all() and p[0] / p[-1] > 100
    exp = experiment(
        source={"kind": "categorical", "categories": 500, "distribution": "wordfreq"},
        model={"kind": "categorical"},
        samples_per_generation=2000,
    )
    np.testing.assert_allclose(exp.source.build().p, p)


def test_gaussian_tail_mass_is_exact_in_1d() -> None:
    from modelcollapse.models.gaussian import GaussianParams, _tail_mass
    from modelcollapse.sources import GaussianTruth

    mean, sd = np.array([[0.3], [0.0]]), np.array([0.8, 1.0])
    params = GaussianParams(mean, sd[:, None, None], np.ones(2, bool), 2 * np.log(sd))
    world = type("W", (), {"truth": GaussianTruth(np.zeros(1), np.eye(1))})()
    mass = _tail_mass(params, world)  # type: ignore[arg-type]
    assert mass[1] == pytest.approx(0.05, abs=1e-9)  # the truth itself
    x = mean[0, 0] + sd[0] * np.random.default_rng(0).standard_normal(400_000)
    assert mass[0] == pytest.approx((np.abs(x) > 1.959964).mean(), abs=2e-3)
