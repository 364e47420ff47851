"""1-D Gaussian refitted on its own samples (THEORY.md s0-s1).

Generation ``g`` is the model fitted after ``g`` sampling steps: generation 1 is
the fit to the ``M`` real points. ``estimator`` is ``"mle"`` (divisor M) or
``"unbiased"`` (divisor M - 1).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln


def chi2_moment(r: float, k: np.ndarray | float) -> np.ndarray:
    """m_r(k) = E[S^r] for S ~ chi^2_k / k: (2/k)^r Gamma(k/2 + r) / Gamma(k/2)."""
    k = np.asarray(k, float)
    return np.exp(r * np.log(2.0 / k) + gammaln(k / 2 + r) - gammaln(k / 2))


def c4(m: np.ndarray | float) -> np.ndarray:
    """c_4(M) = E[sigma_hat] / sigma for the unbiased variance of M points."""
    return chi2_moment(0.5, np.asarray(m, float) - 1)


def _scale(m: int, estimator: str) -> float:
    """Factor q with fitted variance = q * unbiased variance."""
    return (m - 1) / m if estimator == "mle" else 1.0


def var_mean(g: np.ndarray | int, m: int, sigma2: float = 1.0, estimator: str = "unbiased") -> np.ndarray:
    """Var(mu_g) = sigma^2 sum_{i<g} q^i / M (q = 1 unbiased, (M-1)/M for the MLE)."""
    q = _scale(m, estimator)
    g = np.asarray(g, float)
    return sigma2 * (g / m if q == 1.0 else (1 - q**g) / (1 - q) / m)


def mean_log_var(g: np.ndarray | int, m: int, sigma2: float = 1.0, estimator: str = "unbiased") -> np.ndarray:
    """E log sigma_g^2 = log sigma^2 + g [psi((M-1)/2) + log(2/c)], c = M - 1 or M."""
    c = m if estimator == "mle" else m - 1
    return np.log(sigma2) + np.asarray(g, float) * (digamma((m - 1) / 2) + np.log(2.0 / c))


def expected_w2_sq(
    g: np.ndarray | int, m: int, sigma2: float = 1.0, estimator: str = "unbiased"
) -> np.ndarray:
    """Exact E W_2^2(N(mu, sigma^2), N(mu_g, sigma_g^2)).

    It equals Var mu_g + E sigma_g^2 - 2 sigma E sigma_g + sigma^2.

    For the unbiased estimator this is THEORY.md s1.3's exact form
    sigma^2 [sum_{i<g} 1/M + 2 (1 - c4(M)^g)].
    """
    q = _scale(m, estimator)
    g = np.asarray(g, float)
    sigma = np.sqrt(sigma2)
    e_var = sigma2 * q**g
    e_sd = sigma * (c4(m) * np.sqrt(q)) ** g
    return var_mean(g, m, sigma2, estimator) + e_var - 2 * sigma * e_sd + sigma2
