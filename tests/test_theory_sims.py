"""Simulations against the closed forms of THEORY.md, with |z| < 4 from Monte-Carlo standard errors."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import simulate, z_score
from modelcollapse.theory import discrete, gaussian, gaussian1d, regression

Z = 4.0
SIGMA2 = 1.3**2


def _gauss1d(estimator: str, m: int, reps: int, gens: int, workflow="replace"):  # type: ignore[no-untyped-def]
    return simulate(
        source={"kind": "gaussian", "dim": 1, "variance": SIGMA2},
        model={"kind": "gaussian", "estimator": estimator},
        samples_per_generation=m,
        workflow=[workflow],
        generations=gens,
        replicates=reps,
        seed=11,
    )["replace"]


@pytest.mark.parametrize(("estimator", "m"), [("unbiased", 50), ("mle", 20)])
def test_s1_gaussian_1d_replace(estimator: str, m: int) -> None:
    out = _gauss1d(estimator, m, 6000, 10)
    for g in (1, 5, 10):
        var_mu = out["mean_sq_error"][g - 1]
        assert abs(z_score(var_mu, gaussian1d.var_mean(g, m, SIGMA2, estimator))) < Z
        log_var = np.log(SIGMA2 * out["cov_trace_ratio"][g - 1])
        assert abs(z_score(log_var, gaussian1d.mean_log_var(g, m, SIGMA2, estimator))) < Z
        w2 = out["w2_sq"][g - 1]
        assert abs(z_score(w2, gaussian1d.expected_w2_sq(g, m, SIGMA2, estimator))) < Z


def test_s1_exact_w2_matches_sheet_reference() -> None:
    # THEORY.md s1.4: M = 50, n = 10, sigma = 1.3 -> exact E W2^2 = 0.50611.
    assert gaussian1d.expected_w2_sq(10, 50, SIGMA2) == pytest.approx(0.50611, abs=5e-5)


COV0 = np.diag([0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.5, 1.7, 1.96, 3.0])  # trace 12.96, as in s2.4


def _gauss_nd(estimator: str, workflows: list, reps: int, gens: int, n: int = 100, cov=COV0):  # type: ignore[no-untyped-def]
    return simulate(
        source={"kind": "gaussian", "dim": len(cov), "covariance": cov.tolist()},
        model={"kind": "gaussian", "estimator": estimator},
        samples_per_generation=n,
        workflow=workflows,
        generations=gens,
        replicates=reps,
        seed=5,
    )


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_s2_replace_logdet_trace_mean(estimator: str) -> None:
    out = _gauss_nd(estimator, ["replace"], 1000, 50)["replace"]
    tr0 = np.trace(COV0)
    for t in (1, 10, 50):
        assert abs(z_score(out["cov_logdet_change"][t - 1], gaussian.replace_logdet_change(t, 100, 10, estimator))) < Z
    for t in (1, 10):  # raw means of heavy-tailed products only at small t (s0)
        assert abs(z_score(tr0 * out["cov_trace_ratio"][t - 1], gaussian.replace_trace(t, 100, tr0, estimator))) < Z
        assert abs(z_score(out["mean_sq_error"][t - 1], gaussian.replace_mean_sq_error(t, 100, tr0, estimator))) < Z


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_s2_accumulate_trace_and_mean(estimator: str) -> None:
    out = _gauss_nd(estimator, ["accumulate"], 1000, 50)["accumulate"]
    tr0 = np.trace(COV0)
    factor = gaussian.accumulate_cov_factor(50, 100, estimator)
    err = gaussian.accumulate_mean_sq_error(50, 100, tr0, estimator)
    for t in (1, 10, 50):
        assert abs(z_score(tr0 * out["cov_trace_ratio"][t - 1], tr0 * factor[t - 1])) < Z
        assert abs(z_score(out["mean_sq_error"][t - 1], err[t - 1])) < Z
    assert err[-1] < np.pi**2 / 6 * tr0 / 100


def test_s2_3_second_moment_invariant_mle() -> None:
    out = _gauss_nd("mle", ["replace", "accumulate", "accumulate-subsample"], 1000, 10, n=30, cov=COV0[:4, :4])
    tr0 = np.trace(COV0[:4, :4])
    for w, r in out.items():
        for t in (1, 5, 10):
            total = r["mean_sq_error"][t - 1] + tr0 * r["cov_trace_ratio"][t - 1]
            assert abs(z_score(total, tr0)) < Z, (w, t)


def test_s5_accumulate_subsample_recursion() -> None:
    cov = np.diag([0.5, 1.0])  # trace 1.5, as in s5's table
    out = _gauss_nd("mle", ["accumulate-subsample"], 4000, 30, n=50, cov=cov)["accumulate-subsample"]
    traces, errors = gaussian.subsample_recursion(30, 50, 1.5)
    for t in (1, 5, 10, 30):
        assert abs(z_score(1.5 * out["cov_trace_ratio"][t - 1], traces[t - 1])) < Z
        assert abs(z_score(out["mean_sq_error"][t - 1], errors[t - 1])) < Z


@pytest.mark.parametrize("design", ["fixed", "fresh"])
def test_s3_linear_regression(design: str) -> None:
    out = simulate(
        source={"kind": "linear-regression", "dim": 10, "noise_std": 1.0, "design": design},
        model={"kind": "ols"},
        samples_per_generation=100,
        workflow=["replace", "accumulate"],
        generations=20,
        replicates=2000,
        seed=3,
    )
    rep = regression.replace_error(np.arange(1, 21), 10, 100)
    acc = regression.accumulate_error(20, 10, 100)
    for t in (1, 2, 5, 10, 20):
        assert abs(z_score(out["replace"]["excess_risk"][t - 1], rep[t - 1])) < Z
        if design == "fixed":  # s3: with a fresh design, accumulate is not exactly sum 1/i^2
            assert abs(z_score(out["accumulate"]["excess_risk"][t - 1], acc[t - 1])) < Z
    assert acc[-1] < np.pi**2 / 6 * regression.base_error(10, 100)


def test_s3_noisy_test_mse_adds_noise() -> None:
    out = simulate(
        source={"kind": "linear-regression", "dim": 5, "noise_std": 1.0},
        model={"kind": "ols"},
        samples_per_generation=50,
        workflow=["replace"],
        generations=5,
        replicates=2000,
    )["replace"]
    gap = out["test_mse"][4] - out["excess_risk"][4]
    assert abs(z_score(gap, 1.0)) < Z


def test_s7_categorical_gini_simpson() -> None:
    p0 = 1.0 / np.arange(1, 31) ** 1.1
    p0 /= p0.sum()
    out = simulate(
        source={"kind": "categorical", "probabilities": p0.tolist()},
        model={"kind": "categorical"},
        samples_per_generation=50,
        workflow=["replace"],
        generations=60,
        replicates=4000,
        seed=2,
    )["replace"]
    for m in (1, 20, 60):
        pred = discrete.expected_gini_simpson(m, 50, p0)
        assert abs(z_score(out["gini_simpson"][m - 1], pred)) < Z


def test_s8_poisson_survival() -> None:
    out = simulate(
        source={"kind": "poisson", "rate": 1.0},
        model={"kind": "poisson"},
        samples_per_generation=10,
        workflow=["replace"],
        generations=100,
        replicates=20000,
        seed=4,
    )["replace"]
    pred = discrete.poisson_survival(100, 10, 1.0)
    assert pred[-1] == pytest.approx(0.17752, abs=5e-5)  # THEORY.md s8 reference value
    for k in (1, 10, 100):
        alive = 1.0 - out["absorbed"][k - 1]
        # survival is 0/1 per replicate: the standard error is the predicted binomial one (at k = 1 all of
        # 20000 replicates may survive, p = 0.99995, and their sample deviation is 0)
        se = np.sqrt(pred[k - 1] * (1 - pred[k - 1]) / len(alive))
        assert abs(alive.mean() - pred[k - 1]) / se < Z
