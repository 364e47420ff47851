"""Mixing real and synthetic data every generation (THEORY.md s6).

Generation 1 is the fit to the n real points; generation ``t + 1`` trains on
``n_r`` real points (fresh, or the same fixed ones) plus ``n_s`` points from
generation ``t``.
"""

from __future__ import annotations

import numpy as np

GOLDEN_WEIGHT = (np.sqrt(5) - 1) / 2  # 1 / phi


def fresh_pooled(generations: int, n_real: int, n_syn: int, sigma2: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """s6a, exact: (E_t, V_t) for t = 1..G with E_t = E (mu_t - mu)^2 and V_t = E sigma_t^2.

    Pooled fit (sample mean, unbiased variance) of n_r fresh real plus n_s synthetic points:
    E_{t+1} = lam sigma^2/n + (1 - lam) V_t / n + (1 - lam)^2 E_t,
    V_{t+1} = [(n_r - 1 + n_s/n) sigma^2 + (n_s - 1 + n_r/n) V_t + n_r n_s / n E_t] / (n - 1).
    """
    n = n_real + n_syn
    lam = n_real / n
    e, v = np.empty(generations), np.empty(generations)
    e[0], v[0] = sigma2 / n, sigma2
    for t in range(1, generations):
        e[t] = lam * sigma2 / n + (1 - lam) * v[t - 1] / n + (1 - lam) ** 2 * e[t - 1]
        v[t] = (
            (n_real - 1 + n_syn / n) * sigma2 + (n_syn - 1 + n_real / n) * v[t - 1] + n_real * n_syn / n * e[t - 1]
        ) / (n - 1)
    return e, v


def fresh_pooled_stationary(n_real: int, n_syn: int, sigma2: float = 1.0) -> float:
    """Large-n stationary error of s6a: sigma^2 / (n lam (2 - lam))."""
    n = n_real + n_syn
    lam = n_real / n
    return float(sigma2 / (n * lam * (2 - lam)))


def weighted_known_variance(
    generations: int, m: int, weight: float, sigma2: float = 1.0, n0: int | None = None
) -> np.ndarray:
    """s6b: E (mu_t - mu)^2 for mu_{t+1} = w xbar_real + (1 - w) xbar_syn, m fresh real and m synthetic points.

    Known variance; E_{t+1} = w^2 sigma^2/m + (1 - w)^2 (E_t + sigma^2/m), E_1 = sigma^2/n0 (n0 = 2m).
    """
    e = np.empty(generations)
    e[0] = sigma2 / (n0 or 2 * m)
    for t in range(1, generations):
        e[t] = weight**2 * sigma2 / m + (1 - weight) ** 2 * (e[t - 1] + sigma2 / m)
    return e


def fresh_known_variance(
    generations: int, n_real: int, n_syn: int, weight: float | None = None, sigma2: float = 1.0, n0: int | None = None
) -> np.ndarray:
    """s6b generalised: E (mu_t - mu)^2 with n_r fresh real and n_s synthetic points, known variance.

    The real part has share w (default: pooled, w = n_r / (n_r + n_s)):
    E_{t+1} = w^2 sigma^2 / n_r + (1 - w)^2 (E_t + sigma^2 / n_s), E_1 = sigma^2 / n0 (default n0 = n_r + n_s).
    """
    w = n_real / (n_real + n_syn) if weight is None else weight
    e = np.empty(generations)
    e[0] = sigma2 / (n0 or n_real + n_syn)
    for t in range(1, generations):
        e[t] = w**2 * sigma2 / n_real + (1 - w) ** 2 * (e[t - 1] + sigma2 / n_syn)
    return e


def weighted_stationary(m: int, weight: float, sigma2: float = 1.0) -> float:
    """s6b: E_inf = (sigma^2/m) (w^2 + (1 - w)^2) / (1 - (1 - w)^2); minimised at w = 1/phi (sigma^2 / (phi m))."""
    return float(sigma2 / m * (weight**2 + (1 - weight) ** 2) / (1 - (1 - weight) ** 2))


def fixed_real_known_variance(generations: int, n_real: int, n_syn: int, sigma2: float = 1.0) -> np.ndarray:
    """Fixed real data, known variance, pooled mean [derived here]: E (mu_t - mu)^2 for t = 1..G.

    mu_{t+1} = lam xbar_0 + (1 - lam)(mu_t + eps_t), lam = n_r/(n_r + n_s), the same real points every
    generation, eps_t ~ N(0, sigma^2/n_s). With e_0 = sigma^2/n_r, a_t = E[err_t err_0], b_t = E err_t^2:
    a_{t+1} = lam e_0 + (1 - lam) a_t, b_{t+1} = lam^2 e_0 + 2 lam (1 - lam) a_t + (1 - lam)^2 (b_t + sigma^2/n_s).
    Generation 1 is the fit to the real points alone (b_1 = a_1 = e_0).
    """
    lam = n_real / (n_real + n_syn)
    e0 = sigma2 / n_real
    a = b = e0
    out = np.empty(generations)
    out[0] = b
    for t in range(1, generations):
        a, b = (
            lam * e0 + (1 - lam) * a,
            lam**2 * e0 + 2 * lam * (1 - lam) * a + (1 - lam) ** 2 * (b + sigma2 / n_syn),
        )
        out[t] = b
    return out
