"""theory.strong (strong model collapse in regression) against exact identities and plain NumPy Monte Carlo
(|z| < 4, z = (MC mean - formula) / standard error; ridge adds a measured approximation allowance)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from helpers import z_score
from modelcollapse import load, simulate_experiment
from modelcollapse.theory import cardinality, regression
from modelcollapse.theory import strong as S

# ---- OLS --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "p", "d"), [(13, 3 / 13, 4), (40, 0.5, 5), (200, 0.25, 10), (21, 20 / 21, 1), (9, 1.0, 3)]
)
def test_ols_terms_are_the_cardinality_formula(n: int, p: float, d: int) -> None:
    terms = S.ols_terms(n, p, d, noise_var=1.3, gap=0.7, syn_noise_var=0.4)
    assert terms.total == pytest.approx(S.ols_risk(n, p, d, 1.3, 0.7, 0.4), rel=1e-12)
    n_syn = round(p * n)
    lev = cardinality.synthetic_leverage(n - n_syn, n_syn, d) / d
    assert S.ols_fluctuation(n, p, d) == pytest.approx(lev - p * p, abs=1e-13)  # the closed form of E tr W^-2 B^2


def test_ols_without_synthetic_rows_and_the_floor() -> None:
    assert S.ols_risk(50, 0.0, 5, noise_var=2.0, gap=3.0) == pytest.approx(2.0 * 5 / 44)
    # Strong collapse: at fixed p the risk falls to p^2 gap, not to 0; the excess shrinks like d / n.
    risks = [S.ols_risk(n, 0.2, 10, 1.0, 0.5) for n in (100, 1000, 10_000, 100_000)]
    assert np.all(np.diff(risks) < 0)
    assert risks[-1] == pytest.approx(S.ols_floor(0.2, 0.5), rel=0.02)
    excess = np.array(risks) - S.ols_floor(0.2, 0.5)
    assert excess[1:] / excess[:-1] == pytest.approx(0.1, rel=0.1)
    assert S.ols_fluctuation(100_000, 0.2, 10) * 100_000 == pytest.approx(0.2 * 0.8 * 11, rel=1e-3)  # p(1-p)(d+1)/n


def _ols_mc(n: int, n_syn: int, d: int, delta: np.ndarray, chol: np.ndarray, reps: int, seed: int) -> np.ndarray:
    """Excess risk of OLS on n rows x ~ N(0, L L^T), the first n_syn labelled by w1 + delta (w1 = 0: OLS is
    equivariant), noise variance 1 for real rows and 0.25 for synthetic rows."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((reps, n, d)) @ chol.T
    sd = np.where(np.arange(n) < n_syn, 0.5, 1.0)
    y = sd * rng.standard_normal((reps, n))
    y[:, :n_syn] += x[:, :n_syn] @ delta
    w = np.linalg.solve(np.swapaxes(x, 1, 2) @ x, np.einsum("bnd,bn->bd", x, y)[..., None])[..., 0]
    return np.einsum("bi,ij,bj->b", w, chol @ chol.T, w)


OLS_CASES = [(30, 12, 5, 60_000), (400, 200, 4, 8000)]


@functools.cache
def ols_case(i: int) -> tuple[float, float, float, float]:
    """(gap, prediction, MC mean, MC standard error) for a fixed, anisotropic w2 - w1 and a correlated Sigma."""
    n, n_syn, d, reps = OLS_CASES[i]
    level = np.linspace(0.2, 1.0, d)
    chol = np.linalg.cholesky(0.5 * np.eye(d) + 0.5 * np.minimum.outer(level, level))  # correlated, unequal
    delta = np.zeros(d)
    delta[0], delta[-1] = 1.0, -0.5  # far from isotropic
    gap = float(delta @ chol @ chol.T @ delta)
    with threadpool_limits(1):  # many small solves: threads only contend
        risk = _ols_mc(n, n_syn, d, delta, chol, reps, seed=11 + i)
    pred = S.ols_risk(n, n_syn / n, d, 1.0, gap, syn_noise_var=0.25)
    return gap, pred, float(risk.mean()), float(risk.std(ddof=1) / np.sqrt(reps))


@pytest.mark.parametrize("i", range(len(OLS_CASES)))
def test_ols_fixed_w2_against_monte_carlo(i: int) -> None:
    _, pred, mean, se = ols_case(i)
    assert abs(mean - pred) < 4 * se, (pred, mean, se)


def test_ols_floor_dominates_at_large_n() -> None:
    n, n_syn, d, _ = OLS_CASES[1]
    gap, _, mean, se = ols_case(1)
    terms = S.ols_terms(n, n_syn / n, d, 1.0, gap, 0.25)
    assert terms.floor > 10 * (terms.noise + terms.fluctuation)
    assert mean - 4 * se > 10 * S.ols_risk(n, 0.0, d, 1.0, gap)  # real labels alone: d / (n - d - 1)


# ---- ridge --------------------------------------------------------------------------------------------

ALLOWANCE = 0.25  # relative approximation allowance per 1/d of the corrected deterministic equivalent (doc)


def _ridge_mc(
    n: int, n_syn: int, d: int, alphas: tuple[float, ...], w1: np.ndarray, delta: np.ndarray, reps: int, seed: int
) -> tuple[dict[float, np.ndarray], dict[float, np.ndarray]]:
    """Per replicate: excess risk of (X^T X + alpha I)^-1 X^T y (the RIDGE family) and tr A^-k, k = 1, 2, 3.
    Rows 0..n_syn-1 are labelled by w1 + delta, the rest by w1; unit noise. Solved in the eigenbasis of the
    smaller Gram matrix, so each alpha costs O(n d) per replicate."""
    rng = np.random.default_rng(seed)
    risks: dict[float, list[np.ndarray]] = {a: [] for a in alphas}
    traces: dict[float, list[np.ndarray]] = {a: [] for a in alphas}
    for r in np.diff(np.r_[0:reps:500, reps]):
        x = rng.standard_normal((r, n, d))
        y = x @ w1 + rng.standard_normal((r, n))
        y[:, :n_syn] += x[:, :n_syn] @ delta
        if d <= n:
            lam, v = np.linalg.eigh(np.swapaxes(x, 1, 2) @ x)
            b = np.einsum("bij,bi->bj", v, np.einsum("bnd,bn->bd", x, y))
            w = np.einsum("bij,i->bj", v, w1)
        else:  # X^T (X X^T + alpha)^-1 y
            lam, u = np.linalg.eigh(x @ np.swapaxes(x, 1, 2))
            uy = np.einsum("bij,bi->bj", u, y)
        for a in alphas:
            inv = 1 / (lam + a)
            if d <= n:
                risks[a].append(((b * inv - w) ** 2).sum(1))
                traces[a].append(np.stack([(inv**k).sum(1) for k in (1, 2, 3)], 1))
            else:
                fit = np.einsum("bnd,bn->bd", x, np.einsum("bij,bj->bi", u, uy * inv))
                risks[a].append(((fit - w1) ** 2).sum(1))
                traces[a].append(np.stack([(inv**k).sum(1) + (d - n) / a**k for k in (1, 2, 3)], 1))
    return {a: np.concatenate(v) for a, v in risks.items()}, {a: np.concatenate(v) for a, v in traces.items()}


# (n, p, d, alpha / n values, correlated generator, replicates)
RIDGE_CASES = [
    (100, 0.25, 50, (0.1, 1.0, 0.0), False, 2000),
    (400, 0.5, 100, (0.1, 1.0), True, 600),
    (100, 0.25, 200, (0.1, 1.0), False, 1000),
]


@functools.cache
def ridge_case(i: int) -> list[dict[str, float]]:
    """One row per alpha: the formula with MP moments, the MC mean +- SE, and the paired check of the exact
    reduction (MC risk minus the formula at that replicate's own traces: mean 0 exactly)."""
    n, p, d, lams, correlated, reps = RIDGE_CASES[i]
    rng = np.random.default_rng(100 + i)
    w1 = rng.standard_normal(d) / np.sqrt(d)
    delta = rng.standard_normal(d) * np.sqrt(0.5 / d) - (0.4 * w1 if correlated else 0.0)  # a shrunk generator
    signal, gap, cross = float(w1 @ w1), float(delta @ delta), float(w1 @ delta)
    alphas = tuple(lam * n for lam in lams)
    with threadpool_limits(1):  # many small eigh: threads only contend (80x slower on a busy 2-core machine)
        risks, traces = _ridge_mc(n, round(p * n), d, alphas, w1, delta, reps, seed=200 + i)
    rows = []
    for a in alphas:
        at = functools.partial(S.ridge_terms, n, p, d, a, 1.0, signal, gap, cross)
        own = np.array([at(moments=S.RidgeMoments(*t)).total for t in traces[a]])
        rows.append(
            {
                "alpha": a,
                "pred": at().total,
                "pred_mp_only": at(moments=S.ridge_moments(n, d, a, finite_n=False)).total,
                "mean": float(risks[a].mean()),
                "se": float(risks[a].std(ddof=1) / np.sqrt(reps)),
                "paired_z": z_score(risks[a] - own, 0.0),
                "approx": at().total / own.mean() - 1,  # the deterministic equivalent's own relative error
                "approx_se": float(own.std(ddof=1) / np.sqrt(reps) / own.mean()),
            }
        )
    return rows


@pytest.mark.parametrize("i", range(len(RIDGE_CASES)))
def test_ridge_exact_reduction_to_three_wishart_traces(i: int) -> None:
    for row in ridge_case(i):
        assert abs(row["paired_z"]) < 4, row


@pytest.mark.parametrize("i", range(len(RIDGE_CASES)))
def test_ridge_deterministic_equivalent_against_monte_carlo(i: int) -> None:
    d = RIDGE_CASES[i][2]
    for row in ridge_case(i):
        assert abs(row["mean"] - row["pred"]) < 4 * row["se"] + ALLOWANCE / d * row["pred"], row
        assert abs(row["approx"]) < 4 * row["approx_se"] + ALLOWANCE / d, row


def test_ridge_moments_exact_for_ols_up_to_second_order() -> None:
    for n, d in [(60, 10), (100, 50), (400, 100)]:
        tr1, tr2, _ = S.ridge_moments(n, d, 0.0)
        exact1, exact2 = d / (n - d - 1), d * (n - 1) / ((n - d) * (n - d - 1) * (n - d - 3))
        assert abs(tr1 / exact1 - 1) < 1.5 / d**2 and abs(tr2 / exact2 - 1) < 15 / d**2  # measured: 1 and 11
        mp1 = S.ridge_moments(n, d, 0.0, finite_n=False).tr1
        assert abs(mp1 / exact1 - 1) > 0.5 / n  # Marchenko-Pastur alone is off at O(1/n)
    assert S.ridge_terms(400, 0.25, 100, 0.0, 1.0, 1.0, 0.5).total == pytest.approx(
        S.ols_risk(400, 0.25, 100, 1.0, 0.5), rel=1e-3
    )


def test_ridge_limits() -> None:
    # The proportional limit: scale n and d together at fixed lam = alpha / n.
    limit = S.ridge_proportional(0.25, 0.3, 0.25, 1.0, 1.0, 0.5, -0.2)
    gaps = [abs(S.ridge_risk(4 * k, 0.25, k, 0.3 * 4 * k, 1.0, 1.0, 0.5, -0.2) - limit) for k in (50, 500, 5000)]
    assert gaps[2] < 1e-5 and gaps[1] < gaps[0] / 5
    # n -> inf at fixed d and lam: ||p Delta - lam w1||^2 / (1 + lam)^2; at fixed alpha, the OLS floor.
    assert S.ridge_risk(10**7, 0.5, 10, 0.4 * 10**7, 1.0, 1.0, 0.8, 0.1) == pytest.approx(
        S.ridge_limit(0.5, 0.4, 1.0, 0.8, 0.1), rel=1e-4
    )
    assert S.ridge_risk(10**7, 0.5, 10, 5.0, 1.0, 1.0, 0.8) == pytest.approx(S.ols_floor(0.5, 0.8), rel=1e-4)
    for cross in (0.0, 0.2, -0.3):
        _, best = S.ridge_optimal_limit(0.5, 1.0, 0.8, cross)
        assert best == pytest.approx(min(S.ridge_limit(0.5, g, 1.0, 0.8, cross) for g in np.linspace(0, 2, 20_001)))
        assert best > 0.1


def test_ridge_tuned_floor_persists() -> None:
    """Strong collapse under ridge: the best alpha at each n (grid) leaves p^2 gap r^2 / (r^2 + p^2 gap)."""
    alphas = np.geomspace(1e-3, 1e3, 241)

    def tuned(n: int, p: float) -> float:
        return min(S.ridge_risk(n, p, 20, lam * n, 1.0, 1.0, 0.5) for lam in alphas)

    clean = [tuned(n, 0.0) for n in (10**3, 10**5)]
    mixed = [tuned(n, 0.2) for n in (10**3, 10**5)]
    assert clean[1] < clean[0] / 50  # real data only: the tuned risk keeps falling
    limit = S.ridge_optimal_limit(0.2, 1.0, 0.5)[1]
    assert mixed[1] == pytest.approx(limit, rel=0.02) and limit > 0.019


RIDGE_TUNED = (1600, 0.5, 16, 600)


@functools.cache
def ridge_tuned_case() -> tuple[float, float, float, float]:
    """(lam*, prediction, MC mean, SE) for ridge at the asymptotically optimal lam, n >> d."""
    n, p, d, reps = RIDGE_TUNED
    rng = np.random.default_rng(7)
    w1 = rng.standard_normal(d) / np.sqrt(d)
    delta = rng.standard_normal(d) / np.sqrt(d)
    signal, gap, cross = float(w1 @ w1), float(delta @ delta), float(w1 @ delta)
    lam = S.ridge_optimal_limit(p, signal, gap, cross)[0]
    with threadpool_limits(1):
        risks, _ = _ridge_mc(n, round(p * n), d, (lam * n,), w1, delta, reps, seed=8)
    r = risks[lam * n]
    return (
        lam,
        S.ridge_risk(n, p, d, lam * n, 1.0, signal, gap, cross),
        float(r.mean()),
        float(r.std(ddof=1) / np.sqrt(reps)),
    )


def test_tuned_ridge_floor_against_monte_carlo() -> None:
    _, pred, mean, se = ridge_tuned_case()
    n, _, d, _ = RIDGE_TUNED
    assert abs(mean - pred) < 4 * se + ALLOWANCE / d * pred
    real_only = min(S.ridge_risk(n, 0.0, d, lam * n, 1.0, 1.0, 0.0) for lam in np.geomspace(1e-3, 10, 81))
    assert mean - 4 * se > 10 * real_only  # tuned ridge on real labels alone: about d / n = 0.01


RIDGE_LIBRARY = (20, 50, 30, 30, 10.0, 3000)  # d, generator rows, real rows, synthetic rows, alpha, replicates


@functools.cache
def ridge_library_case() -> tuple[float, float, float]:
    """The RIDGE family in the library's real-synthetic cell: a ridge generator fitted to n real rows labels the
    synthetic rows. Its expected ||w_g - w*||^2 is the p = 0 ridge risk, its E w*.(w_g - w*) = -alpha tr1 / d."""
    d, n, real, syn, alpha, reps = RIDGE_LIBRARY
    exp = load(
        {
            "name": "strong-ridge",
            "source": {"kind": "linear-regression", "dim": d, "design": "fresh"},
            "model": {"kind": "ridge", "alpha": alpha},
            "samples_per_generation": n,
            "workflow": [{"kind": "real-synthetic", "real": real, "synthetic": syn, "generator": 1}],
            "generations": 2,
            "replicates": reps,
            "seed": 5,
            "metrics": ["excess_risk"],
        }
    )
    risk = simulate_experiment(exp)["real-synthetic"]["excess_risk"][1]
    gap = S.ridge_risk(n, 0.0, d, alpha, 1.0, 1.0, 0.0)
    cross = -alpha * S.ridge_moments(n, d, alpha).tr1 / d
    pred = S.ridge_risk(real + syn, syn / (real + syn), d, alpha, 1.0, 1.0, gap, cross)
    return pred, float(risk.mean()), float(risk.std(ddof=1) / np.sqrt(reps))


def test_ridge_matches_the_library_ridge_family() -> None:
    pred, mean, se = ridge_library_case()
    assert abs(mean - pred) < 4 * se + ALLOWANCE / RIDGE_LIBRARY[0] * pred, (pred, mean, se)


# ---- the fresh chain -----------------------------------------------------------------------------------

CHAIN = (20, 0.5, 4, 6, 8000)  # n, p, d, generations, replicates


@functools.cache
def chain_case(noise: str) -> tuple[np.ndarray, np.ndarray]:
    """The library's own simulation (fresh workflow, fresh design, OLS): (mean excess risk, SE) per generation."""
    n, p, d, g, reps = CHAIN
    exp = load(
        {
            "name": "strong",
            "source": {"kind": "linear-regression", "dim": d, "design": "fresh"},
            "model": {"kind": "ols", "noise": noise},
            "samples_per_generation": n,
            "workflow": [{"kind": "fresh", "fraction": 1 - p}],
            "generations": g,
            "replicates": reps,
            "seed": 3,
            "metrics": ["excess_risk"],
        }
    )
    risk = simulate_experiment(exp)["fresh"]["excess_risk"]
    return risk.mean(1), risk.std(1, ddof=1) / np.sqrt(reps)


@pytest.mark.parametrize("noise", ["known", "estimated"])
def test_fresh_chain_against_the_library(noise: str) -> None:
    n, p, d, g, _ = CHAIN
    mean, se = chain_case(noise)
    pred = S.fresh_chain(n, p, d, 1.0, g, noise=noise)  # type: ignore[arg-type]
    assert np.all(np.abs(mean - pred) < 4 * se), (mean, pred, se)
    if noise == "known":  # the p^2-only approximation (regression.fresh_stationary_error) is visibly low
        approx = regression.fresh_stationary_error(round((1 - p) * n), round(p * n), d)
        assert mean[-1] - approx > 4 * se[-1]


def test_fresh_chain_exact_cases() -> None:
    assert S.fresh_chain(30, 0.0, 4, 2.0, 3) == pytest.approx([8 / 25] * 3)
    assert S.fresh_chain(30, 1.0, 4, 1.0, 5) == pytest.approx(regression.replace_error(np.arange(1, 6), 4, 30))
    assert S.fresh_stationary(30, 1.0, 4, 1.0) == float("inf")
    for noise in ("known", "estimated"):
        for est in ("mle", "unbiased"):
            chain = S.fresh_chain(40, 0.25, 5, 1.5, 300, noise, est)  # type: ignore[arg-type]
            assert chain[-1] == pytest.approx(S.fresh_stationary(40, 0.25, 5, 1.5, noise, est), rel=1e-12)  # type: ignore[arg-type]
    e, chain = 1.5 * 5 / 34, S.fresh_chain(40, 0.25, 5, 1.5, 4)
    for t in range(4):  # the recursion through cardinality's formula, generator error e_t
        assert chain[t] == pytest.approx(e, rel=1e-12)
        e = cardinality.regression_excess_risk(30, 10, 5, 1.5, e)
    e1 = 1.5 * 5 / 34
    lev = S.ols_fluctuation(40, 0.25, 5) + 0.25**2
    assert S.fresh_stationary(40, 0.25, 5, 1.5) == pytest.approx(e1 / (1 - lev))


# ---- input checks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: S.ols_risk(10, 0.33, 3, 1.0, 1.0), "p must make p \\* n a whole number"),
        (lambda: S.ols_floor(1.5, 1.0), "p must lie in \\[0, 1\\]"),
        (lambda: S.ols_terms(10, 0.5, 3, -1.0, 1.0), "noise_var must be >= 0"),
        (lambda: S.ridge_risk(10, 0.5, 3, -1.0, 1.0, 1.0, 1.0), "alpha must be >= 0"),
        (lambda: S.ridge_risk(10, 0.5, 3, 1.0, 1.0, 1.0, 1.0, cross=2.0), "cross must satisfy"),
        (lambda: S.fresh_chain(10, 0.5, 3, 1.0, 0), "generations must be at least 1"),
        (lambda: S.fresh_chain(10, 0.5, 3, 1.0, 2, noise="fitted"), "noise must be"),  # type: ignore[arg-type]
        (lambda: S.ridge_moments(0, 3, 1.0), "n and d must be at least 1"),
    ],
)
def test_invalid_input_names_the_argument(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        call()


def test_no_finite_mean_gives_nan() -> None:
    assert np.isnan(S.ols_risk(5, 0.2, 4, 1.0, 1.0)) and np.isnan(S.ols_fluctuation(5, 0.2, 4))
    assert np.isnan(S.fresh_chain(5, 0.2, 4, 1.0, 3)).all() and np.isnan(S.fresh_stationary(5, 0.2, 4, 1.0))
    assert np.isnan(S.ridge_risk(5, 0.2, 8, 0.0, 1.0, 1.0, 1.0))  # min-norm OLS (alpha = 0, d >= n)
