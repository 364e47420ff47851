"""1-D Gaussian refitted on its own samples (THEORY.md s0-s1).

Generation ``g`` is the model fitted after ``g`` sampling steps: generation 1 is
the fit to the ``M_0`` real points, generation ``g`` is fitted to ``M_{g-1}``
points drawn from generation ``g - 1``. ``M`` is one size for every generation
or a sequence ``(M_0, M_1, ...)``. ``estimator`` is ``"mle"`` (divisor M) or
``"unbiased"`` (divisor M - 1). Functions take a generation ``g`` (int) and
return a float; ``curve(fn, generations, ...)`` evaluates one over 1..G.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.special import digamma, gammaln, polygamma

Sizes = int | Sequence[int]


def chi2_moment(r: float, k: np.ndarray | float) -> np.ndarray:
    """m_r(k) = E[S^r] for S ~ chi^2_k / k: (2/k)^r Gamma(k/2 + r) / Gamma(k/2)."""
    k = np.asarray(k, float)
    return np.exp(r * np.log(2.0 / k) + gammaln(k / 2 + r) - gammaln(k / 2))


def c4(m: np.ndarray | float) -> np.ndarray:
    """c_4(M) = E[sigma_hat] / sigma for the unbiased variance of M points."""
    return chi2_moment(0.5, np.asarray(m, float) - 1)


def sizes(g: int, m: Sizes) -> np.ndarray:
    """(M_0, ..., M_{g-1}) as an array."""
    if isinstance(m, int | np.integer):
        return np.full(g, int(m), dtype=float)
    out = np.asarray(m, float)[:g]
    if len(out) < g:
        raise ValueError(f"need {g} sample sizes, got {len(out)}")
    return out


def _q(ms: np.ndarray, estimator: str) -> np.ndarray:
    """Per-step factor q_i with fitted variance = q_i * unbiased variance."""
    return (ms - 1) / ms if estimator == "mle" else np.ones_like(ms)


def curve(fn: Callable[..., float], generations: int, *args: object, **kwargs: object) -> np.ndarray:
    """``[fn(1, ...), ..., fn(generations, ...)]``."""
    return np.array([fn(g, *args, **kwargs) for g in range(1, generations + 1)])


def var_mean(g: int, m: Sizes, sigma2: float = 1.0, estimator: str = "unbiased") -> float:
    """Var(mu_g) = sigma^2 sum_{i<g} (prod_{l<i} q_l) / M_i (exact; q = 1 unbiased)."""
    ms = sizes(g, m)
    carried = np.concatenate([[1.0], np.cumprod(_q(ms, estimator))[:-1]])
    return float(sigma2 * np.sum(carried / ms))


def expected_var(g: int, m: Sizes, sigma2: float = 1.0, estimator: str = "unbiased") -> float:
    """E sigma_g^2 = sigma^2 prod q_i (sigma^2 for the unbiased estimator: a positive martingale)."""
    return float(sigma2 * np.prod(_q(sizes(g, m), estimator)))


def expected_var_power(g: int, m: Sizes, r: float, sigma2: float = 1.0) -> float:
    """E sigma_g^{2r} = sigma^{2r} prod_i m_r(M_i - 1) (unbiased estimator)."""
    return float(sigma2**r * np.prod(chi2_moment(r, sizes(g, m) - 1)))


def expected_sd(g: int, m: Sizes, sigma2: float = 1.0, estimator: str = "unbiased") -> float:
    """E sigma_g = sigma prod_i c4(M_i) sqrt(q_i) (Bertrand et al.'s alpha^g for constant M)."""
    ms = sizes(g, m)
    return float(np.sqrt(sigma2) * np.prod(c4(ms) * np.sqrt(_q(ms, estimator))))


def mean_log_var(g: int, m: Sizes, sigma2: float = 1.0, estimator: str = "unbiased") -> float:
    """E log sigma_g^2 = log sigma^2 + sum_i [psi((M_i - 1)/2) + log(2/c_i)], c_i = M_i - 1 or M_i."""
    ms = sizes(g, m)
    c = ms if estimator == "mle" else ms - 1
    return float(np.log(sigma2) + np.sum(digamma((ms - 1) / 2) + np.log(2.0 / c)))


def var_log_var(g: int, m: Sizes) -> float:
    """Var log sigma_g^2 = sum_i psi'((M_i - 1)/2) (either estimator: a constant factor)."""
    return float(np.sum(polygamma(1, (sizes(g, m) - 1) / 2)))


def var_sample(g: int, m: Sizes, sigma2: float = 1.0, estimator: str = "unbiased") -> float:
    """Var X^g_j of one sample of model g: E sigma_g^2 + Var mu_g (= sigma^2 (1 + sum 1/M_i) unbiased)."""
    return expected_var(g, m, sigma2, estimator) + var_mean(g, m, sigma2, estimator)


def expected_w2_sq(g: int, m: Sizes, sigma2: float = 1.0, estimator: str = "unbiased") -> float:
    """Exact E W_2^2(N(mu, sigma^2), N(mu_g, sigma_g^2)).

    It is Var mu_g + E sigma_g^2 - 2 sigma E sigma_g + sigma^2, which for the
    unbiased estimator is s1.3's sigma^2 [sum_{i<g} 1/M_i + 2 (1 - prod c4(M_i))].
    """
    sigma = np.sqrt(sigma2)
    e_sd = expected_sd(g, m, sigma2, estimator)
    return var_mean(g, m, sigma2, estimator) + expected_var(g, m, sigma2, estimator) - 2 * sigma * e_sd + sigma2


def expected_w2_sq_leading(g: int, m: Sizes, sigma2: float = 1.0) -> float:
    """Leading order (Shumailov et al.): 3/2 sigma^2 sum_{i<g} 1/M_i."""
    return float(1.5 * sigma2 * np.sum(1 / sizes(g, m)))


def var_w2_sq(g: int, m: Sizes, sigma2: float = 1.0) -> float:
    """Exact Var W_2^2 for the unbiased estimator (s1.3), with W = (mu_g - mu)^2 + (sigma_g - sigma)^2.

    With k_l = M_l - 1, Q_i = prod_{l<i} m_2(k_l), A_i = prod_{l<i} m_{3/2}(k_l)
    prod_{l>=i} m_{1/2}(k_l) and h_r = prod_l m_r(k_l) (l, i < g):
    E W^2 = sigma^4 [3 sum_{i,j} Q_min(i,j) / (M_i M_j) + 2 sum_i (Q_i - 2 A_i + 1) / M_i
    + h_2 - 4 h_{3/2} + 7 - 4 h_{1/2}].
    """
    ms = sizes(g, m)
    k = ms - 1
    m2, m32, m12 = chi2_moment(2, k), chi2_moment(1.5, k), chi2_moment(0.5, k)
    q = np.concatenate([[1.0], np.cumprod(m2)[:-1]])
    before = np.concatenate([[1.0], np.cumprod(m32)[:-1]])
    after = np.cumprod(m12[::-1])[::-1]
    a = before * after
    idx = np.arange(g)
    qmin = q[np.minimum(idx[:, None], idx[None, :])]
    ew2 = (
        3 * np.sum(qmin / np.outer(ms, ms))
        + 2 * np.sum((q - 2 * a + 1) / ms)
        + (np.prod(m2) - 4 * np.prod(m32) + 7 - 4 * np.prod(m12))
    )
    return float(sigma2**2 * ew2 - expected_w2_sq(g, m, sigma2) ** 2)


def var_w2_sq_leading(g: int, m: Sizes, sigma2: float = 1.0) -> float:
    """Correct leading order: 5/2 sigma^4 (sum_{i<g} 1/M_i)^2."""
    return float(2.5 * sigma2**2 * np.sum(1 / sizes(g, m)) ** 2)


def var_w2_sq_quoted(g: int, m: Sizes, sigma2: float = 1.0) -> float:
    """The commonly quoted form 1/2 sigma^4 (3 sum 1/M_i^2 + 4 sum_{i!=j} 1/(M_i M_j)).

    THEORY.md s1.3 warns that it is inconsistent (for one generation it gives
    1.5 sigma^4/M^2 while Var[(mu_1 - mu)^2] alone is 2 sigma^4/M^2); kept only
    to show the disagreement. Do not use it as a test target.
    """
    inv = 1 / sizes(g, m)
    return float(0.5 * sigma2**2 * (3 * np.sum(inv**2) + 4 * (np.sum(inv) ** 2 - np.sum(inv**2))))


def sd_tail_bound(k: int, n: int, eps: float, sigma: float = 1.0) -> float:
    """Rate of collapse Thm 3: P(Sigma_k > eps) <= sigma / eps exp(-k / (4n - 1)) (Sigma_k the fitted sd)."""
    return float(sigma / eps * np.exp(-k / (4 * n - 1)))


def sd_tail_bound_markov(k: int, n: int, eps: float, sigma: float = 1.0, r: float = 1.0) -> float:
    """Markov with power r: P(Sigma_k > eps) <= (sigma / eps)^r m_{r/2}(n - 1)^k (r = 1: Bertrand et al.)."""
    return float((sigma / eps) ** r * chi2_moment(r / 2, n - 1) ** k)
