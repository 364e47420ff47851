"""theory.selection against independent computations: exact enumeration, scipy quadrature, and plain NumPy
Monte-Carlo runs of each selection stage (|z| < 4, z = (MC mean - formula) / standard error)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from helpers import z_score
from modelcollapse.theory import selection as S

P0 = np.array([0.35, 0.25, 0.2, 0.15, 0.05])
R0 = np.array([0.0, 1.0, 2.0, -0.5, 2.5])


def _freq_z(samples: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-category z of the observed frequencies of ``samples`` against ``predicted`` (binomial SE)."""
    freq = np.bincount(samples, minlength=len(predicted)) / len(samples)
    se = np.sqrt(predicted * (1 - predicted) / len(samples))
    return np.where(se > 0, (freq - predicted) / np.where(se > 0, se, 1), 0.0)


# ---- curation -------------------------------------------------------------------------------------


def _enumerated(p: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    """F(p) by summing over all K-tuples of draws (exact, small cases only)."""
    w, out = np.exp(r - r.max()), np.zeros(len(p))
    for tup in itertools.product(range(len(p)), repeat=k):
        idx = list(tup)
        np.add.at(out, idx, np.prod(p[idx]) * w[idx] / w[idx].sum())
    return out


@pytest.mark.parametrize(("k", "scale"), [(2, 1.0), (3, 3.0), (4, 0.3), (5, 40.0)])
def test_curated_matches_enumeration(k: int, scale: float) -> None:
    rng = np.random.default_rng(k)
    p, r = rng.dirichlet(np.ones(4)), scale * rng.standard_normal(4)
    assert np.max(np.abs(S.curated(p, r, k) - _enumerated(p, r, k))) < 1e-12
    assert abs(S._curated_quadrature(p, r, k).sum() - 1) < 1e-12  # before renormalisation


@pytest.mark.parametrize("k", [8, 64])
def test_curated_matches_scipy_quad(k: int) -> None:
    rng = np.random.default_rng(k)
    p, r = rng.dirichlet(np.ones(6)), 2 * rng.standard_normal(6)
    w = np.exp(r - r.max())

    def one(x: int) -> float:
        inner = integrate.quad(lambda u: np.exp(-u * w[x]) * (p @ np.exp(-u * w)) ** (k - 1), 0, np.inf, limit=400)
        return k * p[x] * w[x] * inner[0]

    assert S.curated(p, r, k) == pytest.approx([one(x) for x in range(6)], abs=1e-9)


def test_curated_exact_cases() -> None:
    p = np.array([0.3, 0.0, 0.7])
    assert S.curated(p, np.array([0.0, 1e6, -800.0]), 3) == pytest.approx([1 - 0.7**3, 0, 0.7**3], abs=1e-14)
    assert S.curated(np.array([0, 1.0, 0]), R0[:3], 4) == pytest.approx([0, 1, 0], abs=1e-15)  # point mass
    assert S.curated(P0, np.full(5, 3.7), 6) == pytest.approx(P0, abs=1e-13)  # constant reward
    assert S.curated(P0, R0 + 123.0, 3) == pytest.approx(S.curated(P0, R0, 3), abs=1e-13)  # shift invariance
    assert S.curated(P0, R0, 1) == pytest.approx(P0, abs=0)
    level = np.array([0.0, 0.6, 0.0, 0.0, 0.4])
    assert S.curated(level, np.array([0, 2.0, 5, 1, 2.0]), 5) == pytest.approx(level, abs=1e-13)  # level set
    assert S.curated_reward(P0, R0, 3) == pytest.approx(S.curated(P0, R0, 3) @ R0, abs=1e-15)


def test_curated_against_gumbel_selection() -> None:
    """K draws, keep argmax of r + Gumbel noise: softmax-proportional selection, exactly."""
    rng, n, k = np.random.default_rng(0), 200_000, 4
    draws = rng.choice(len(P0), size=(n, k), p=P0)
    kept = draws[np.arange(n), np.argmax(R0[draws] + rng.gumbel(size=(n, k)), axis=1)]
    z = _freq_z(kept, S.curated(P0, R0, k))
    assert np.max(np.abs(z)) < 4, z
    assert abs(z_score(R0[kept], S.curated_reward(P0, R0, k))) < 4


def test_fixed_point_stability_factor() -> None:
    """Near a point mass at level w_L, mass eps on y is multiplied by K w_y / (w_y + (K - 1) w_L)."""
    k, eps = 4, 1e-9
    w = np.exp(R0 - R0.max())
    for top in (2, 4):  # a sub-optimal level (unstable towards category 4) and the argmax (stable)
        for y in range(5):
            if y == top:
                continue
            p = np.zeros(5)
            p[top], p[y] = 1 - eps, eps
            factor = k * w[y] / (w[y] + (k - 1) * w[top])
            assert S.curated(p, R0, k)[y] / eps == pytest.approx(factor, rel=1e-6)
            assert (factor < 1) == (w[y] < w[top])


def test_curation_chain_collapses_to_argmax() -> None:
    chain = S.curation_chain(P0, R0, 4, 80)
    assert chain.shape == (80, 5)
    assert chain[0] == pytest.approx(P0, abs=0)
    assert chain[-1][4] > 1 - 1e-12
    tied = np.array([0.0, 2.5, 2.0, -0.5, 2.5])  # ties: the ratio within the argmax set is kept
    assert S.curation_chain(P0, tied, 4, 200)[-1] == pytest.approx([0, 0.25 / 0.3, 0, 0, 0.05 / 0.3], abs=1e-10)
    assert S.stationary_reward(P0, R0, 4, 0.0) == pytest.approx(2.5, abs=1e-9)
    support = np.array([0.5, 0.5, 0, 0, 0])  # the argmax within the support of p0
    assert S.stationary_reward(support, R0, 4, 0.0) == pytest.approx(1.0, abs=1e-9)


def test_stationary_reward_increases_with_synthetic_share() -> None:
    shares = [0.99, 0.9, 0.7, 0.5, 0.3, 0.1, 0.02]
    rewards = [S.stationary_reward(P0, R0, 3, lam) for lam in shares]
    assert np.all(np.diff(rewards) > 0), rewards
    assert P0 @ R0 < rewards[0] < rewards[-1] < 2.5
    lam = 0.3
    fixed = S.curation_chain(P0, R0, 3, 400, lam)[-1]
    assert np.all(fixed >= lam * P0)  # full support
    assert fixed == pytest.approx(lam * P0 + (1 - lam) * S.curated(fixed, R0, 3), abs=1e-12)
    assert fixed @ R0 == pytest.approx(S.stationary_reward(P0, R0, 3, lam), abs=1e-10)


# ---- temperature and truncation ---------------------------------------------------------------------


def test_tempered_exact() -> None:
    p = np.array([0.5, 0.3, 0.2, 0.0])
    assert S.tempered(p, 0.5) == pytest.approx(np.array([0.25, 0.09, 0.04, 0]) / 0.38, abs=1e-15)
    assert S.tempered(p, 2.0) == pytest.approx(np.sqrt(p) / np.sqrt(p).sum(), abs=1e-15)
    assert S.tempered(p, 0.7, 3) == pytest.approx(S.tempered(S.tempered(S.tempered(p, 0.7), 0.7), 0.7), abs=1e-14)
    assert S.tempered(p, 0.5, 60) == pytest.approx([1, 0, 0, 0], abs=1e-15)  # mode collapse
    assert S.tempered(p, 2.0, 80) == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0], abs=1e-12)  # uniform on the support
    assert S.tempered(np.array([0.4, 0.4, 0.2]), 0.3, 50) == pytest.approx([0.5, 0.5, 0], abs=1e-15)


@pytest.mark.parametrize("tau", [0.6, 1.7])
def test_tempered_against_sampling(tau: float) -> None:
    rng, n = np.random.default_rng(1), 200_000
    logits = np.log(P0) / tau
    samples = np.argmax(logits + rng.gumbel(size=(n, len(P0))), axis=1)
    z = _freq_z(samples, S.tempered(P0, tau))
    assert np.max(np.abs(z)) < 4, z


def _filter_logits(logits: np.ndarray, top_k: int, top_p: float) -> np.ndarray:
    """NumPy transcription of gpt.filter_logits (temperature 1), stable sort."""
    logits = logits.copy()
    if 0 < top_k < len(logits):
        logits[logits < np.sort(logits)[::-1][top_k - 1]] = -np.inf
    if top_p < 1.0:
        order = np.argsort(-logits, kind="stable")
        probs = np.exp(logits[order] - logits.max())
        probs /= probs.sum()
        logits[order[np.cumsum(probs) - probs > top_p]] = -np.inf
    return logits


def test_truncated_exact() -> None:
    p = np.array([0.1, 0.4, 0.2, 0.2, 0.1])
    assert S.truncated(p) == pytest.approx(p, abs=0)
    assert S.truncated(p, top_k=2) == pytest.approx([0, 2 / 3, 1 / 3, 0, 0], abs=1e-15)  # tie broken by index
    assert S.truncated(p, top_k=3) == pytest.approx([0, 0.5, 0.25, 0.25, 0], abs=1e-15)
    assert S.truncated(p, top_p=0.5) == pytest.approx([0, 2 / 3, 1 / 3, 0, 0], abs=1e-15)
    dyadic = np.array([0.125, 0.5, 0.25, 0.125])  # sums exact in floating point
    kept = S.truncated(dyadic, top_p=0.75)  # the first 0.125 follows a mass of exactly top_p: kept
    assert kept == pytest.approx([1 / 7, 4 / 7, 2 / 7, 0], abs=1e-15)
    assert S.truncated(p, top_p=0.6) == pytest.approx([0, 2 / 3, 1 / 3, 0, 0], abs=1e-15)  # 0.4 + 0.2 > 0.6 in floats
    assert S.truncated(p, top_p=0.0) == pytest.approx([0, 1, 0, 0, 0], abs=0)
    assert S.truncated(p, top_k=4, top_p=0.6) == pytest.approx([0, 2 / 3, 1 / 3, 0, 0], abs=1e-15)  # on the top-k law
    q = np.array([0.05, 0.3, 0.25, 0.2, 0.12, 0.08])
    for k, tp in [(0, 0.55), (4, 0.7), (3, 1.0), (0, 0.9)]:
        expect = np.exp(_filter_logits(np.log(q), k, tp))
        assert S.truncated(q, top_k=k, top_p=tp) == pytest.approx(expect / expect.sum(), abs=1e-15)


def test_truncated_against_sampling() -> None:
    rng, n = np.random.default_rng(2), 200_000
    logits = _filter_logits(np.log(P0), 4, 0.75)
    probs = np.exp(logits - logits.max())
    samples = rng.choice(len(P0), size=n, p=probs / probs.sum())
    z = _freq_z(samples, S.truncated(P0, top_k=4, top_p=0.75))
    assert np.max(np.abs(z)) < 4, z


def test_truncated_matches_gpt_filter_logits() -> None:
    torch = pytest.importorskip("torch")
    from modelcollapse.models.neural.gpt import filter_logits

    q = np.array([0.05, 0.3, 0.25, 0.2, 0.12, 0.08])
    for k, tp in [(0, 0.55), (4, 0.7), (3, 1.0), (0, 0.9)]:
        probs = filter_logits(torch.tensor(np.log(q)), 1.0, k, tp).softmax(-1).numpy()
        assert S.truncated(q, top_k=k, top_p=tp) == pytest.approx(probs, abs=1e-12)


# ---- variance shrinkage -----------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "shrink", "estimator"), [(10, 0.8, "mle"), (5, 1.15, "unbiased"), (30, 30 / 29, "mle")])
def test_shrunk_variance_monte_carlo(n: int, shrink: float, estimator: str) -> None:
    rng, reps, variance = np.random.default_rng(n), 40_000, 2.0
    x = rng.normal(1.0, np.sqrt(variance), (reps, n))
    predicted = S.shrunk_variance(np.arange(1, 7), n, shrink, variance, estimator)
    ddof = 0 if estimator == "mle" else 1
    for t in range(1, 7):
        mu, var = x.mean(axis=1), x.var(axis=1, ddof=ddof)
        assert abs(z_score(var, predicted[t - 1])) < 4
        x = mu[:, None] + np.sqrt(shrink * var)[:, None] * rng.standard_normal((reps, n))
    if n == 30:
        assert predicted == pytest.approx(variance * 29 / 30, rel=1e-12)  # shrink = 1/c holds E sigma^2 fixed


# ---- imperfect verifier ----------------------------------------------------------------------------


def _kept_by_quad(c: float, fa: float, fr: float, d: float) -> tuple[float, float, float]:
    pieces = [(-np.inf, -c, fa), (-c, c, 1 - fr), (c, np.inf, fa)]
    mom = [
        sum(a * integrate.quad(lambda x, j=j: x**j * stats.norm.pdf(x - d), lo, hi)[0] for lo, hi, a in pieces)
        for j in range(3)
    ]
    return mom[0], mom[1] / mom[0], mom[2] / mom[0] - (mom[1] / mom[0]) ** 2


def _verify(x: np.ndarray, c: float, fa: float, fr: float, rng: np.random.Generator) -> np.ndarray:
    return rng.random(x.shape) < np.where(np.abs(x) <= c, 1 - fr, fa)


@pytest.mark.parametrize(("c", "fa", "fr", "d"), [(1.0, 0.1, 0.2, 0.7), (0.5, 0.0, 0.0, -0.3), (2.0, 0.3, 0.05, 0)])
def test_verifier_kept(c: float, fa: float, fr: float, d: float) -> None:
    kept = S.verifier_kept(c, fa, fr, d)
    assert kept == pytest.approx(_kept_by_quad(c, fa, fr, d), abs=1e-10)
    rng = np.random.default_rng(4)
    x = rng.normal(d, 1.0, 400_000)
    keep = _verify(x, c, fa, fr, rng)
    y = x[keep]
    assert abs(z_score(keep, kept[0])) < 4
    assert abs(z_score(y, kept[1])) < 4
    assert abs(z_score((y - y.mean()) ** 2, kept[2])) < 4


@pytest.mark.parametrize(("c", "fa", "fr"), [(1.0, 0.1, 0.1), (0.3, 0.5, 0.0), (2.5, 0.02, 0.4)])
def test_kept_mean_slope_is_kept_variance(c: float, fa: float, fr: float) -> None:
    h = 1e-5
    slope = (S.verifier_kept(c, fa, fr, h)[1] - S.verifier_kept(c, fa, fr, -h)[1]) / (2 * h)
    assert S.verifier_kept(c, fa, fr)[1] == 0
    assert slope == pytest.approx(S.verifier_kept(c, fa, fr)[2], rel=1e-8)


def _kept_means(mu: np.ndarray, m: int, c: float, fa: float, fr: float, rng: np.random.Generator) -> np.ndarray:
    """Mean of the first m kept samples of N(mu_i, 1) per replicate (oversampling, redrawing short rows)."""
    width = int(1.5 * m / S.verifier_kept(c, fa, fr, float(np.max(np.abs(mu))))[0]) + 50
    x = mu[:, None] + rng.standard_normal((len(mu), width))
    keep = _verify(x, c, fa, fr, rng)
    use = keep & (np.cumsum(keep, axis=1) <= m)
    out = (x * use).sum(axis=1) / m
    short = use.sum(axis=1) < m
    if short.any():
        out[short] = _kept_means(mu[short], m, c, fa, fr, rng)
    return out


def _linearisation_bias(gens: int, n: int, m: int, v0: float, kappa4: float) -> np.ndarray:
    """Second-order correction b_t: b_{t+1} = v0^2 b_t + kappa4 e_t (v0 e_t + 1/(2m)), b_1 = 0."""
    e = np.empty(gens)
    e[0], b = 1 / n, np.zeros(gens)
    for t in range(1, gens):
        e[t] = v0**2 * e[t - 1] + v0 / m
        b[t] = v0**2 * b[t - 1] + kappa4 * e[t - 1] * (v0 * e[t - 1] + 1 / (2 * m))
    return b


@pytest.mark.parametrize(("c", "fa", "fr"), [(1.5, 0.05, 0.1), (1.0, 0.3, 0.3)])
def test_verified_mean_error_monte_carlo(c: float, fa: float, fr: float) -> None:
    n = m = 200
    gens, reps = 20, 4000
    rng = np.random.default_rng(5)
    predicted = S.verified_mean_error(np.arange(1, gens + 1), n, m, c, fa, fr)
    v0 = S.verifier_kept(c, fa, fr)[2]
    h = 1e-3
    kappa4 = 2 * (S.verifier_kept(c, fa, fr, h)[2] - v0) / h**2  # v(d) = v0 + kappa4 d^2 / 2 + O(d^4)
    bias = _linearisation_bias(gens, n, m, v0, kappa4)
    mu = rng.standard_normal((reps, n)).mean(axis=1)  # generation 1: the fit to n real points
    for t in range(1, gens + 1):
        if t in (1, 2, 3, 5, 10, 20):
            se = (mu**2).std(ddof=1) / np.sqrt(reps)
            assert abs(np.mean(mu**2) - predicted[t - 1]) < 4 * se + 2 * abs(bias[t - 1]), (t, z_score(mu**2, 0))
        mu = _kept_means(mu, m, c, fa, fr, rng)
    assert predicted[-1] == pytest.approx(v0 / (m * (1 - v0**2)), rel=1e-6)


def test_verified_mean_error_without_verification_grows_linearly() -> None:
    t = np.arange(1, 11)
    assert S.verified_mean_error(t, 100, 50, 1.0, 0.7, 0.3) == pytest.approx(1 / 100 + (t - 1) / 50, rel=1e-12)


def test_improvement_threshold() -> None:
    golden = (np.sqrt(5) - 1) / 2
    for c, fr in [(1.0, 0.0), (0.5, 0.2), (1.2, 0.1)]:
        alpha = S.improvement_threshold(c, 200, 200, fr)
        v0 = S.verifier_kept(c, alpha, fr)[2]
        assert v0 == pytest.approx(golden, abs=1e-12)
        e = S.verified_mean_error(np.array([1, 10_000]), 200, 200, c, alpha, fr)
        assert e[1] == pytest.approx(e[0], rel=1e-10)  # stationary error = real-data fit
        below = S.verified_mean_error(10_000, 200, 200, c, 0.9 * alpha, fr)
        above = S.verified_mean_error(10_000, 200, 200, c, min(1.1 * alpha, (alpha + 1 - fr) / 2), fr)
        assert below < 1 / 200 < above
    # independent closed form: v0(alpha) is a ratio of linear functions of alpha
    c, n, m, fr = 0.8, 100, 300, 0.15
    m0 = stats.norm.cdf(c) - stats.norm.cdf(-c)
    m2 = m0 - 2 * c * stats.norm.pdf(c)
    target = optimize.brentq(lambda v: v / (1 - v**2) - m / n, 0, 1 - 1e-12)
    closed = (1 - fr) * (target * m0 - m2) / ((1 - m2) - target * (1 - m0))
    assert S.improvement_threshold(c, n, m, fr) == pytest.approx(closed, abs=1e-12)
    assert np.isnan(S.improvement_threshold(2.0, 200, 200))  # even a perfect verifier keeps v0 > 0.618
