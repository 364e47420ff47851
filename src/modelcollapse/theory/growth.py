"""Growing sample sizes n_1, n_2, ...: when does a replace chain of Gaussian fits avoid collapse?

Replace with the MLE variance: sigma_t^2 = sigma_{t-1}^2 chi^2_{n_t - 1} / n_t, so (THEORY.md s1, with
per-generation sizes; exact)

    E sigma_T^2 = sigma^2 prod_{t<=T} (1 - 1/n_t),
    E log sigma_T^2 = log sigma^2 + sum_{t<=T} [psi((n_t - 1)/2) + log(2/n_t)].

The product has a positive limit iff sum_t 1/n_t < inf: for n_t = n_0 t^a, iff a > 1 (superlinear growth).
At a = 1 it decays like T^(-1/n_0), slowly but to 0; at a < 1 faster; constant n like (1 - 1/n)^T. The
log variance, whose mean is not dominated by rare paths, has the same threshold: its terms are
psi((n_t-1)/2) + log(2/n_t) = -2/n_t + O(n_t^-2), so it converges iff sum 1/n_t does.

>>> round(float(variance_factor([10, 20, 40])[-1]), 4)  # 0.9 * 0.95 * 0.975
0.8336
>>> collapse_avoided(1.5), collapse_avoided(1.0)
(True, False)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import digamma, zeta


def _sizes(n: Sequence[int] | np.ndarray) -> np.ndarray:
    out = np.asarray(n, float)
    if out.ndim != 1 or not len(out) or np.any(out < 2):
        raise ValueError("sizes must be a non-empty list of integers >= 2")
    return out


def variance_factor(n: Sequence[int] | np.ndarray, estimator: str = "mle") -> np.ndarray:
    """E sigma_t^2 / sigma^2 for t = 1..T: prod_{s<=t} (1 - 1/n_s) (MLE); 1 for the unbiased estimator."""
    ns = _sizes(n)
    return np.cumprod((ns - 1) / ns) if estimator == "mle" else np.ones_like(ns)


def log_variance_change(n: Sequence[int] | np.ndarray, estimator: str = "mle") -> np.ndarray:
    """E log sigma_t^2 - log sigma^2 for t = 1..T (1-D): sum_{s<=t} psi((n_s-1)/2) + log(2/c_s), c = n or n-1."""
    ns = _sizes(n)
    c = ns if estimator == "mle" else ns - 1
    return np.cumsum(digamma((ns - 1) / 2) + np.log(2.0 / c))


def mean_error(n: Sequence[int] | np.ndarray, trace0: float = 1.0, estimator: str = "mle") -> np.ndarray:
    """E ||mu_t - mu||^2 for t = 1..T: tr Sigma_0 sum_{s<=t} (prod_{l<s} q_l) / n_s, q the estimator's factor."""
    ns = _sizes(n)
    q = (ns - 1) / ns if estimator == "mle" else np.ones_like(ns)
    carried = np.concatenate([[1.0], np.cumprod(q)[:-1]])
    return trace0 * np.cumsum(carried / ns)


def collapse_avoided(a: float) -> bool:
    """For n_t = n_0 t^a: True iff prod (1 - 1/n_t) stays positive, i.e. sum t^-a < inf, i.e. a > 1."""
    return a > 1


def power_limit(n0: float, a: float) -> float:
    """lim_T E sigma_T^2 / sigma^2 for n_t = n0 t^a (0 when a <= 1).

    log prod = -sum_k zeta-weighted powers: sum_t log(1 - x_t) = -sum_{k>=1} sum_t x_t^k / k with
    x_t = 1/(n0 t^a), and sum_t t^(-a k) = zeta(a k); the series converges fast for n0 >= 2.
    """
    if n0 < 2:
        raise ValueError(f"n0 must be at least 2, got {n0}")
    if not collapse_avoided(a):
        return 0.0
    k = np.arange(1, 200, dtype=float)
    return float(np.exp(-np.sum(zeta(a * k) / (k * float(n0) ** k))))
