"""Every theory function against an independent computation: the sheet's reference values (computed
with other code), a recursion against its closed form, or a plain NumPy Monte-Carlo run (|z| < 4)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from helpers import z_score
from modelcollapse.theory import dey_donoho as dd
from modelcollapse.theory import discrete as D
from modelcollapse.theory import gaussian as G
from modelcollapse.theory import gaussian1d as G1
from modelcollapse.theory import mixing as MX
from modelcollapse.theory import regression as RG

S2 = 1.3**2


# ---- s1 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fn", "args", "ref"),
    [
        (G1.expected_var, (10, 50, S2), 1.69),
        (G1.expected_sd, (10, 50, S2), 1.23534),
        (G1.expected_sd, (5, 200, S2), 1.29186),
        (G1.mean_log_var, (10, 50, S2), 0.31926),
        (G1.var_log_var, (10, 50), 0.41661),
        (G1.var_log_var, (5, 200), 0.050505),
        (G1.var_mean, (10, 50, S2), 0.33800),
        (G1.var_sample, (10, 50, S2), 2.0280),
        (G1.var_sample, (5, 200, S2), 1.73225),
        (G1.expected_w2_sq, (10, 50, S2), 0.50611),
        (G1.expected_w2_sq, (5, 200, S2), 0.063415),
        (G1.expected_w2_sq_leading, (10, 50, S2), 0.50700),
        (G1.var_w2_sq, (10, 50, S2), 0.37797),
        (G1.var_w2_sq, (5, 200, S2), 0.0045995),
        (G1.var_w2_sq, (10, 10, S2), 26.28),
        (G1.var_w2_sq_leading, (10, 50, S2), 0.28561),
        (G1.var_w2_sq_quoted, (10, 50, S2), 0.22278),
        (G1.expected_var, (10, 20, 1.0, "mle"), 0.59874),
        (G1.expected_sd, (10, 20, 1.0, "mle"), 0.67842),
        (G1.mean_log_var, (10, 20, 1.0, "mle"), -1.0485),
        (G1.var_mean, (10, 20, 1.0, "mle"), 0.40126),
        (G1.sd_tail_bound, (200, 10, 0.1), 0.0593),
        (G1.sd_tail_bound_markov, (200, 10, 0.1), 0.0391),
    ],
)
def test_s1_sheet_values(fn, args, ref) -> None:  # type: ignore[no-untyped-def]
    assert fn(*args) == pytest.approx(ref, rel=2e-4, abs=1e-4)


def test_s1_single_step_w2_variance() -> None:
    assert 1000**2 * G1.var_w2_sq(1, 1000) == pytest.approx(2.5006, abs=1e-4)
    assert G1.var_w2_sq_quoted(1, 1000) < 2.0 / 1000**2  # the quoted form is below Var[(mu_1 - mu)^2] alone


def _pivotal(g: int, m: int | list[int], reps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(mu_g - mu, sigma_g) by the Cochran representation, unbiased, sigma = 1 (not the library's code)."""
    ms = G1.sizes(g, m)
    mu, var = np.zeros(reps), np.ones(reps)
    for mi in ms:
        mu = mu + np.sqrt(var / mi) * rng.standard_normal(reps)
        var = var * rng.chisquare(mi - 1, reps) / (mi - 1)
    return mu, np.sqrt(var)


@pytest.mark.parametrize("m", [30, [10, 40, 25, 60, 15]])
def test_s1_monte_carlo_with_unequal_sizes(m) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    mu, sd = _pivotal(5, m, 200_000, rng)
    w2 = mu**2 + (sd - 1) ** 2
    assert abs(z_score(mu**2, G1.var_mean(5, m))) < 4
    assert abs(z_score(np.log(sd**2), G1.mean_log_var(5, m))) < 4
    assert abs(z_score(w2, G1.expected_w2_sq(5, m))) < 4
    dev = (w2 - w2.mean()) ** 2  # variance of W2^2, SE from the fourth moment
    assert abs(z_score(dev, G1.var_w2_sq(5, m))) < 4


# ---- s2, s5 --------------------------------------------------------------------------------------
def test_s2_sheet_values() -> None:
    assert G.replace_trace(50, 100, 12.96) == pytest.approx(7.841, abs=1e-3)
    assert G.replace_mean_sq_error(50, 100, 12.96) == pytest.approx(5.119, abs=1e-3)
    assert G.replace_mean_sq_error(50, 100, 12.96, "unbiased") == pytest.approx(6.480, abs=1e-3)
    assert G.replace_logdet_change(50, 100, 10) == pytest.approx(-33.83, abs=0.01)
    assert G.replace_logdet_change(50, 100, 10, "unbiased") == pytest.approx(-28.81, abs=0.01)
    assert G.replace_det_ratio(10, 100, 10) == pytest.approx(0.003335, rel=1e-3)
    assert 12.96 * G.accumulate_cov_factor(50, 100)[-1] == pytest.approx(12.7506, abs=5e-4)
    assert 12.96 * G.accumulate_cov_factor(50, 100, "unbiased")[-1] == pytest.approx(12.8791, abs=5e-4)
    assert G.accumulate_mean_sq_error(50, 100, 12.96)[-1] == pytest.approx(0.20961, abs=1e-5)
    assert G.accumulate_mean_sq_error(50, 100, 12.96, "unbiased")[-1] == pytest.approx(0.21042, abs=1e-5)
    assert G.replace_top_eigen_rate(100, "unbiased") == pytest.approx(-0.010135, abs=2e-6)


def test_s2_accumulate_product_reaches_euler_limit() -> None:
    assert G.accumulate_cov_factor(200_000, 50)[-1] == pytest.approx(G.accumulate_cov_limit(50), rel=1e-6)
    invariant = G.accumulate_mean_sq_error(30, 40, 2.0)[-1] + 2.0 * G.accumulate_cov_factor(30, 40)[-1]
    assert invariant == pytest.approx(G.second_moment(2.0), rel=1e-12)  # s2.3 holds for the closed forms


def test_s5_sheet_values_and_plateau() -> None:
    traces, errors = G.subsample_recursion(30, 50, 1.5)
    np.testing.assert_allclose(traces[[0, 4, 9, 29]], [1.47000, 1.42941, 1.42206, 1.41678], atol=1e-5)
    np.testing.assert_allclose(errors[[0, 4, 9, 29]], [0.030000, 0.070591, 0.077936, 0.083221], atol=1e-6)
    np.testing.assert_allclose(traces + errors, 1.5, rtol=1e-12)  # s2.3
    _, big = G.subsample_recursion(4000, 2000, 1.0)
    assert big[-1] == pytest.approx(G.subsample_limit_mean_sq_error(1.0, 2000), rel=2e-2)


# ---- s3 ------------------------------------------------------------------------------------------
def test_s3_values() -> None:
    assert RG.base_error(10, 100) == pytest.approx(0.112360, abs=1e-6)
    np.testing.assert_allclose(
        RG.accumulate_error(20, 10, 100)[[0, 1, 4, 9, 19]],
        [0.11236, 0.14045, 0.16445, 0.17413, 0.17934],
        atol=1e-5,
    )
    np.testing.assert_allclose(RG.replace_error_sizes([100] * 20, 10), RG.replace_error(np.arange(1, 21), 10, 100))
    assert RG.fresh_stationary_error(100, 100, 10) == pytest.approx(0.07055, abs=2e-4)
    with pytest.raises(ValueError, match="T > d \\+ 1"):
        RG.base_error(10, 11)


def test_s3_fixed_design_monte_carlo() -> None:
    rng = np.random.default_rng(1)
    d, t_rows, reps = 4, 12, 40_000
    x = rng.standard_normal((reps, t_rows, d))
    proj = np.linalg.pinv(x)  # (reps, d, T)
    eps = rng.standard_normal((3, reps, t_rows))
    steps = np.einsum("rdt,krt->krd", proj, eps)  # P eps^(i)
    replace = (steps.sum(0) ** 2).sum(1)
    accumulate = ((steps / np.arange(1, 4)[:, None, None]).sum(0) ** 2).sum(1)
    assert abs(z_score(replace, RG.replace_error(3, d, t_rows))) < 4
    assert abs(z_score(accumulate, RG.accumulate_error(3, d, t_rows)[-1])) < 4


# ---- s4 ------------------------------------------------------------------------------------------
def test_s4_named_workflows() -> None:
    np.testing.assert_allclose(dd.rho(dd.discard(7)), np.arange(1, 8))
    np.testing.assert_allclose(dd.rho(dd.augment(10)), np.cumsum(1 / np.arange(1, 11) ** 2))
    assert dd.rho(dd.real_plus_last(80))[-1] == pytest.approx(4 / 3)
    np.testing.assert_allclose(dd.rho(dd.window(12, 100)), dd.rho(dd.augment(12)))  # a window longer than t
    w, c = dd.mix(15, 1.0)
    np.testing.assert_allclose(dd.rho(w, c), dd.rho(dd.real_plus_last(15)))
    assert dd.fresh(400, 0.3)[-1] == pytest.approx(1 / (0.3 * 1.7))


def test_s4_rho_matches_direct_gp_simulation() -> None:
    rng = np.random.default_rng(2)
    k, reps = 6, 200_000
    weights = np.tril(rng.random((k, k)))
    sizes = rng.uniform(0.5, 2.0, k)
    z = np.zeros((k + 1, reps))  # Z_0 = 0, then the recursion itself, with fresh xi_j per data set
    xi = rng.standard_normal((k, reps)) / np.sqrt(sizes)[:, None]
    w = dd.weight_matrix(weights)
    for m in range(1, k + 1):
        z[m] = sum(w[m - 1, j] * (z[j] + xi[j]) for j in range(m))
    pred = dd.rho(weights, sizes)
    for m in range(1, k + 1):
        assert abs(z_score(z[m] ** 2, pred[m - 1])) < 4


# ---- s6 ------------------------------------------------------------------------------------------
def test_s6_sheet_values() -> None:
    e, v = MX.fresh_pooled(40, 10, 10)
    assert (e[-1], v[-1]) == (pytest.approx(0.067857, abs=1e-6), pytest.approx(1.03571, abs=1e-5))
    assert MX.fresh_pooled(40, 25, 25)[0][-1] == pytest.approx(0.026849, abs=1e-6)
    assert MX.fresh_pooled_stationary(10, 10) == pytest.approx(0.0667, abs=1e-4)
    for w, ref in [(0.3, 0.056863), (0.5, 0.033333), (0.618, 0.030902), (0.8, 0.035417), (1.0, 0.05)]:
        assert MX.weighted_stationary(20, w) == pytest.approx(ref, abs=1e-6)
        assert MX.weighted_known_variance(200, 20, w)[-1] == pytest.approx(ref, abs=1e-6)


def test_s6_golden_ratio_is_the_minimum() -> None:
    best = optimize.minimize_scalar(lambda w: MX.weighted_stationary(20, w), bounds=(0.01, 1), method="bounded")
    assert best.x == pytest.approx(MX.GOLDEN_WEIGHT, abs=1e-5)
    assert best.fun == pytest.approx(2 / ((1 + np.sqrt(5)) * 20), rel=1e-6)


def test_s6_fixed_real_monte_carlo() -> None:
    rng = np.random.default_rng(3)
    reps, n_r, n_s, gens = 200_000, 8, 24, 12
    lam = n_r / (n_r + n_s)
    e0 = rng.standard_normal(reps) / np.sqrt(n_r)
    err = e0.copy()
    for _ in range(gens - 1):
        err = lam * e0 + (1 - lam) * (err + rng.standard_normal(reps) / np.sqrt(n_s))
    assert abs(z_score(err**2, MX.fixed_real_known_variance(gens, n_r, n_s)[-1])) < 4


# ---- s7, s8 --------------------------------------------------------------------------------------
def _wright_fisher(p0: np.ndarray, n: int, gens: int, reps: int, rng: np.random.Generator) -> np.ndarray:
    p = np.tile(p0, (reps, 1))
    out = np.empty((gens, reps, len(p0)))
    for g in range(gens):
        p = rng.multinomial(n, p) / n
        out[g] = p
    return out


def test_s7_s8_categorical_monte_carlo() -> None:
    rng = np.random.default_rng(4)
    p0 = np.arange(1, 13.0) ** -1.2
    p0 /= p0.sum()
    path = _wright_fisher(p0, 25, 30, 20_000, rng)
    gini = 1 - (path**2).sum(-1)
    support = (path > 0).sum(-1)
    pred_support = D.expected_support(30, 25, p0)
    for g in (1, 10, 30):
        assert abs(z_score(gini[g - 1], D.expected_gini_simpson(g, 25, p0))) < 4
        assert abs(z_score(support[g - 1], pred_support[g - 1])) < 4
        lo, hi = D.expected_support_bounds(g, 25, p0)
        assert lo - 1e-9 <= pred_support[g - 1] <= hi + 1e-9
    lo, hi = D.not_dirac_bounds(30, 25, p0)
    assert lo <= (support[29] > 1).mean() <= hi


def test_s7_partially_synthetic() -> None:
    p = np.ones(30) / 30
    y = D.fresh_real_deviation(400, 200, 200, p)
    c = 1 - 1 / 30
    alpha = 0.5
    assert y[-1] == pytest.approx(c / (400 * (1 - alpha**2 * (1 - 1 / 200))), rel=1e-9)  # y_inf
    assert D.fixed_real_deviation(2, 200, 200, c) == pytest.approx(alpha**2 * c / 200)


def test_s8_sheet_values() -> None:
    assert D.bernoulli_not_zero(20, 100, 0.01)[-1] == pytest.approx(0.0909, abs=1e-4)
    assert D.bernoulli_not_zero(50, 100, 0.2)[-1] == pytest.approx(0.5946, abs=1e-4)
    np.testing.assert_allclose(D.bernoulli_not_zero_bounds(20, 100, 0.01), [0.0876, 0.6624], atol=1e-4)
    assert D.poisson_survival(100, 10, 1.0)[-1] == pytest.approx(0.17752, abs=1e-5)
    assert D.poisson_survival(500, 100, 0.05)[-1] == pytest.approx(0.019689, abs=1e-6)
    assert D.time_to_fixation_two(50, 0.5) == pytest.approx(67.5, abs=0.05)
    assert D.time_to_fixation_two(200, 0.5) == pytest.approx(275.0, abs=0.05)
    assert D.time_to_single_atom([0.5, 0.5], 50) == pytest.approx(69.3, abs=0.05)
    assert D.time_to_single_atom(np.full(20, 0.05), 100) == pytest.approx(194.9, abs=0.05)
    assert D.median_forgetting_time(10) == pytest.approx(27.0, abs=0.05)
    assert D.median_forgetting_time(20) == pytest.approx(55.6, abs=0.05)
    k = np.arange(5, 2001)
    assert np.max(np.abs(D.g_approx(k) / D.g_iterates(2000)[4:] - 1)) < 0.012


def test_s8_heterozygosity_equals_chain_moment() -> None:
    chain = D.count_chain(40, 30, 0.3)
    p = np.arange(31) / 30
    np.testing.assert_allclose(chain @ (p * (1 - p)), D.heterozygosity(np.arange(1, 41), 30, 0.3), rtol=1e-10)
    lo, hi = D.bernoulli_not_absorbed_bounds(40, 30, 0.3)
    assert lo <= D.bernoulli_not_absorbed(40, 30, 0.3)[-1] <= hi


def test_s8_token_survival_approximates_exact_chain() -> None:
    exact = D.bernoulli_not_zero(60, 2_000, 0.005)  # expected initial count c = n p0 = 10
    approx = D.token_survival(np.arange(1, 61), 10.0)
    np.testing.assert_allclose(approx[9:], exact[9:], rtol=0.03)
