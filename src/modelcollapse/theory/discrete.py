"""Categorical, Bernoulli and Poisson fits under multinomial resampling (THEORY.md s7, s8).

Generation ``m`` (or ``k``) is the fit after ``m`` sampling steps from the truth:
generation 1 is the fit to the ``n`` real draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

# ---- s7: Seddik et al. -------------------------------------------------------


def expected_gini_simpson(m: np.ndarray | int, n: int, p0: np.ndarray) -> np.ndarray:
    """E[1 - ||p^(m)||^2] = (1 - 1/n)^m (1 - ||p0||^2): the complement of Seddik et al.'s S_m."""
    return (1 - 1 / n) ** np.asarray(m, float) * (1 - float(np.sum(np.asarray(p0) ** 2)))


def expected_collision(m: np.ndarray | int, n: int, p0: np.ndarray) -> np.ndarray:
    """S_m = E ||p^(m)||^2 = 1 - (1 - 1/n)^m (1 - S_0)."""
    return 1 - expected_gini_simpson(m, n, p0)


def not_dirac_bounds(m: int, n: int, p0: np.ndarray) -> tuple[float, float]:
    """Bounds on P(p^(m) is not a Dirac mass) [derived in THEORY.md s7]."""
    p0 = np.asarray(p0, float)
    g = (1 - 1 / n) ** m * (1 - np.sum(p0**2))
    return float(g / (1 - 1 / len(p0))), float(min(1.0, n**2 / (2 * (n - 1)) * g))


def fixed_real_deviation(m: int, n_real: int, n_syn: int, c: float) -> float:
    """s7 (i): x_m = E ||p^(m) - p^(1)||^2 with the same N real samples every generation.

    alpha = n/(N + n), beta = alpha^2 (1 - 1/n), c = 1 - ||p^(1)||^2;
    x_m = alpha^2 c / (n (1 - beta)) (1 - beta^(m - 1)).
    """
    alpha = n_syn / (n_real + n_syn)
    beta = alpha**2 * (1 - 1 / n_syn)
    return float(alpha**2 * c / (n_syn * (1 - beta)) * (1 - beta ** (m - 1)))


def fresh_real_deviation(
    generations: int, n_real: int, n_syn: int, p0: np.ndarray, n0: int | None = None
) -> np.ndarray:
    """s7 (ii): y_m = E ||p^(m) - p||^2 with N fresh real samples each generation, m = 1..G.

    y_{m+1} = (1 - alpha)^2 c/N + alpha^2 [(1 - 1/n) y_m + c/n], c = 1 - ||p||^2, y_1 = c/n0
    (n0 real draws fit generation 1; default N + n).
    """
    c = 1 - float(np.sum(np.asarray(p0) ** 2))
    alpha = n_syn / (n_real + n_syn)
    y = np.empty(generations)
    y[0] = c / (n0 or n_real + n_syn)
    for t in range(1, generations):
        y[t] = (1 - alpha) ** 2 * c / n_real + alpha**2 * ((1 - 1 / n_syn) * y[t - 1] + c / n_syn)
    return y


# ---- s8: Wright-Fisher, Bernoulli, Poisson, support ---------------------------


def g_iterates(k: int) -> np.ndarray:
    """g_1..g_k with g_1 = 1 and g_{j+1} = 1 - exp(-g_j)."""
    out = np.empty(k)
    g = 1.0
    for j in range(k):
        out[j] = g
        g = 1 - np.exp(-g)
    return out


def g_approx(k: np.ndarray | int) -> np.ndarray:
    """g_k ~ 2 / (k + ln(k)/3 + 0.8) (relative error < 1.2% for k >= 5)."""
    k = np.asarray(k, float)
    return 2 / (k + np.log(k) / 3 + 0.8)


def heterozygosity(k: np.ndarray | int, n: int, p0: float) -> np.ndarray:
    """Bernoulli: E[P_k (1 - P_k)] = (1 - 1/n)^k p0 (1 - p0) (exact)."""
    return (1 - 1 / n) ** np.asarray(k, float) * p0 * (1 - p0)


def count_chain(k: int, n: int, p0: float) -> np.ndarray:
    """Exact law of n P_j for j = 1..k: rows are distributions over counts 0..n (binomial transition matrix)."""
    counts = np.arange(n + 1)
    trans = stats.binom.pmf(counts[None, :], n, counts[:, None] / n)
    out = np.empty((k, n + 1))
    out[0] = stats.binom.pmf(counts, n, p0)
    for j in range(1, k):
        out[j] = out[j - 1] @ trans
    return out


def bernoulli_not_zero(k: int, n: int, p0: float) -> np.ndarray:
    """Exact P(P_j != 0) for j = 1..k."""
    return 1 - count_chain(k, n, p0)[:, 0]


def bernoulli_not_absorbed(k: int, n: int, p0: float) -> np.ndarray:
    """Exact P(P_j not in {0, 1}) for j = 1..k."""
    chain = count_chain(k, n, p0)
    return 1 - chain[:, 0] - chain[:, -1]


def bernoulli_not_zero_bounds(k: int, n: int, p0: float) -> tuple[float, float]:
    """Rate of collapse Thm 1: P(P_k != 0) in [1 - e^{-n p0 g_k}, 1 - (1 - 3 n p0^2 - 3 k p0)_+ e^{-n p0 g_k}]."""
    g = g_iterates(k)[-1]
    return float(1 - np.exp(-n * p0 * g)), float(1 - max(0.0, 1 - 3 * n * p0**2 - 3 * k * p0) * np.exp(-n * p0 * g))


def bernoulli_not_absorbed_bounds(k: int, n: int, p0: float) -> tuple[float, float]:
    """Seddik et al. (as quoted): [4 p0 (1 - p0), n^2/(n - 1) p0 (1 - p0)] times (1 - 1/n)^k (sharper upper)."""
    h = heterozygosity(k, n, p0)
    return float(4 * h), float(np.minimum(1.0, n**2 / (n - 1) * h))


def time_to_fixation_two(n: int, p0: float) -> float:
    """Exact expected generation at which a two-symbol chain first has a single symbol (fit 1 = real fit)."""
    counts = np.arange(n + 1)
    trans = stats.binom.pmf(counts[None, :], n, counts[:, None] / n)
    inner = slice(1, n)
    steps = np.linalg.solve(np.eye(n - 1) - trans[inner, inner], np.ones(n - 1))  # steps to absorption
    start = stats.binom.pmf(counts, n, p0)
    return float(1 + start[inner] @ steps)


def time_to_single_atom(p: Sequence[float] | np.ndarray, n: int) -> float:
    """Diffusion approximation (Kimura): E T_fix ~ -2n sum_i (1 - p_i) ln(1 - p_i) (O(1) offset for small n)."""
    p = np.asarray(p, float)
    p = p[(p > 0) & (p < 1)]
    return float(-2 * n * np.sum((1 - p) * np.log1p(-p)))


def poisson_survival(k: int, n: int, rate: float) -> np.ndarray:
    """P(rate_j != 0) = 1 - exp(-n rate g_j) for j = 1..k (exact: a critical Galton-Watson process)."""
    return 1 - np.exp(-n * rate * g_iterates(k))


def poisson_survival_bounds(k: int, n: int, rate: float) -> tuple[float, float]:
    """Rate of collapse Thm 2: [1 - exp(-n rate / k), 1 - exp(-3 n rate / k)]."""
    return float(1 - np.exp(-n * rate / k)), float(1 - np.exp(-3 * n * rate / k))


def expected_support(k: int, n: int, p0: Sequence[float] | np.ndarray) -> np.ndarray:
    """Exact E[#symbols with positive probability] for j = 1..k: each symbol's count is a binomial chain."""
    p0 = np.asarray(p0, float)
    values, mult = np.unique(p0[p0 > 0], return_counts=True)
    return sum(m * bernoulli_not_zero(k, n, v) for v, m in zip(values, mult, strict=True))  # type: ignore[return-value]


def expected_support_bounds(k: int, n: int, p0: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Rate of collapse Cor. 1: sum_i (1 - e^{-n p_i g_k}) <= E uniq_k <= sum_i (1 - e^{-n p_i g_k} (...)_+)."""
    p0 = np.asarray(p0, float)
    g = g_iterates(k)[-1]
    lower = np.sum(1 - np.exp(-n * p0 * g))
    upper = np.sum(1 - np.exp(-n * p0 * g) * np.clip(1 - 3 * n * p0**2 - 3 * k * p0, 0, None))
    return float(lower), float(upper)


def token_survival(k: np.ndarray | int, count: float) -> np.ndarray:
    """A token with expected initial count c = n p0 survives k steps with probability ~ 1 - exp(-c g_k)."""
    k = np.atleast_1d(np.asarray(k, int))
    g = g_iterates(int(k.max()))
    return 1 - np.exp(-count * g[k - 1])


def median_forgetting_time(count: float) -> float:
    """k_1/2 solving k = 2c/ln 2 - ln(k)/3 - 0.8: about 2.9 c generations (linear in the token's count)."""
    k = 2 * count / np.log(2)
    for _ in range(50):
        k = 2 * count / np.log(2) - np.log(k) / 3 - 0.8
    return float(k)
