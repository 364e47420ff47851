"""d-dimensional Gaussian under replace, accumulate and accumulate-subsample (THEORY.md s2, s5).

``t`` is the generation (generation 1 = fit to the n real points); ``c`` is the
covariance divisor, n (MLE) or n - 1 (unbiased).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma


def _divisor(n: int, estimator: str) -> int:
    return n if estimator == "mle" else n - 1


def replace_trace(t: np.ndarray | int, n: int, trace0: float, estimator: str = "mle") -> np.ndarray:
    """E tr Sigma_t = kappa^t tr Sigma_0, kappa = (n - 1) / c."""
    return trace0 * ((n - 1) / _divisor(n, estimator)) ** np.asarray(t, float)


def replace_mean_sq_error(t: np.ndarray | int, n: int, trace0: float, estimator: str = "mle") -> np.ndarray:
    """E ||mu_t - mu_0||^2 = tr Sigma_0 / n * sum_{s<t} kappa^s."""
    kappa = (n - 1) / _divisor(n, estimator)
    t = np.asarray(t, float)
    total = t if kappa == 1.0 else (1 - kappa**t) / (1 - kappa)
    return trace0 / n * total


def replace_logdet_change(t: np.ndarray | int, n: int, d: int, estimator: str = "mle") -> np.ndarray:
    """E log det Sigma_t - log det Sigma_0 = t sum_{i=1}^d [psi((n - i)/2) + log(2/c)]."""
    i = np.arange(1, d + 1)
    step = (digamma((n - i) / 2) + np.log(2.0 / _divisor(n, estimator))).sum()
    return np.asarray(t, float) * step


def replace_det_ratio(t: np.ndarray | int, n: int, d: int, estimator: str = "mle") -> np.ndarray:
    """E det Sigma_t / det Sigma_0 = (prod_{i=1}^d (n - i) / c)^t: decays for d >= 2 even when unbiased."""
    i = np.arange(1, d + 1)
    return np.prod((n - i) / _divisor(n, estimator)) ** np.asarray(t, float)


def replace_top_eigen_rate(n: int, estimator: str = "mle") -> float:
    """Lyapunov exponent of lambda_max(Sigma_t): psi((n - 1)/2) + log(2/c), about -1/(n - 1) unbiased."""
    return float(digamma((n - 1) / 2) + np.log(2.0 / _divisor(n, estimator)))


def accumulate_cov_limit(n: int) -> float:
    """lim E Sigma_t / Sigma_0 under MLE accumulate: sin(pi / sqrt n) / (pi / sqrt n) (Euler's product)."""
    x = np.pi / np.sqrt(n)
    return float(np.sin(x) / x)


def accumulate_cov_factor(t: int, n: int, estimator: str = "mle") -> np.ndarray:
    """E Sigma_s / Sigma_0 for s = 1..t (s2.2).

    MLE: prod_{k<=s} (1 - 1/(n k^2)); unbiased: prod_{2<=k<=s} (1 - 1/(k(kn-1))).
    """
    k = np.arange(1, t + 1, dtype=float)
    if estimator == "mle":
        factors = 1 - 1 / (n * k**2)
    else:
        factors = np.where(k >= 2, 1 - 1 / (k * (k * n - 1)), 1.0)
    return np.cumprod(factors)


def accumulate_mean_sq_error(t: int, n: int, trace0: float, estimator: str = "mle") -> np.ndarray:
    """E ||mu_s - mu_0||^2 for s = 1..t: (1/n) sum_{r<s} tr E Sigma_r / (r + 1)^2, with Sigma_0 the truth."""
    cov = np.concatenate([[1.0], accumulate_cov_factor(t - 1, n, estimator)]) if t > 1 else np.array([1.0])
    r = np.arange(t, dtype=float)
    return np.cumsum(trace0 * cov / (r + 1) ** 2) / n


def second_moment(trace0: float) -> float:
    """s2.3: E ||mu_t - mu_0||^2 + E tr Sigma_t = tr Sigma_0 for every t (MLE; replace, accumulate, subsample)."""
    return float(trace0)


def subsample_limit_mean_sq_error(trace0: float, n: int) -> float:
    """Large-n plateau of accumulate-subsample: (pi^2/2 - 2) tr Sigma_0 / n (about 2.935 tr / n)."""
    return float((np.pi**2 / 2 - 2) * trace0 / n)


def subsample_recursion(t: int, n: int, trace0: float) -> tuple[np.ndarray, np.ndarray]:
    """Accumulate-subsample with a budget of n, MLE (s5): (E tr b_s, E ||a_s - mu_0||^2) for s = 1..t.

    The pool after s generations holds N_s = s n points with MLE covariance V_s
    and mean m_s; model s is the MLE (a_s, b_s) of a size-n subsample of it.
    """
    ev, em = (n - 1) / n * trace0, trace0 / n  # E tr V_1 and E ||m_1 - mu_0||^2 (pool = D_0)
    traces, errors = np.empty(t), np.empty(t)
    for s in range(1, t + 1):
        big, nxt = s * n, (s + 1) * n
        cov_a = (big - n) / (n * (big - 1))
        mean_b = (n - 1) / n * big / (big - 1)
        traces[s - 1], errors[s - 1] = mean_b * ev, em + ev * cov_a
        q = cov_a + (n - 1) / n**2 * big / (big - 1)
        em += (n / nxt) ** 2 * q * ev
        ev *= (big + n * ((n - 1) / n) ** 2 * big / (big - 1) + big * n / nxt * q) / nxt
    return traces, errors
