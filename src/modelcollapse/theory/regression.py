"""Linear regression on a fixed design (THEORY.md s3): the exact test error by generation.

``t`` is the generation (1 = fit to real labels), ``T`` rows, ``d`` features,
noise variance ``sigma2``; the error is the excess risk without the noise term.
"""

from __future__ import annotations

import numpy as np


def base_error(d: int, T: int, sigma2: float = 1.0) -> float:
    """E test error of the real-data OLS fit: sigma^2 d / (T - d - 1) (needs T > d + 1)."""
    if T <= d + 1:
        raise ValueError(f"the closed form needs T > d + 1, got T={T}, d={d}")
    return sigma2 * d / (T - d - 1)


def replace_error(t: np.ndarray | int, d: int, T: int, sigma2: float = 1.0) -> np.ndarray:
    """sigma^2 d / (T - d - 1) * t: linear growth (Dohmatob et al. 2024)."""
    return base_error(d, T, sigma2) * np.asarray(t, float)


def accumulate_error(t: int, d: int, T: int, sigma2: float = 1.0) -> np.ndarray:
    """sigma^2 d / (T - d - 1) * sum_{i<=s} 1/i^2 for s = 1..t (Gerstgrasser et al. 2024).

    Bounded by pi^2/6 times the generation-1 error.
    """
    i = np.arange(1, t + 1, dtype=float)
    return base_error(d, T, sigma2) * np.cumsum(1 / i**2)


def replace_error_sizes(
    rows: np.ndarray | list[int], d: int, noise_var: np.ndarray | list[float] | float = 1.0
) -> np.ndarray:
    """Replace with per-generation sizes T_i and noise sigma_i^2: cumulative sum of sigma_i^2 d / (T_i - d - 1).

    Holds whether or not the design is redrawn each generation (s3, generalisations).
    """
    t = np.asarray(rows, float)
    s2 = np.broadcast_to(np.asarray(noise_var, float), t.shape)
    if np.any(t <= d + 1):
        raise ValueError(f"the closed form needs every T_i > d + 1 (d={d})")
    return np.cumsum(s2 * d / (t - d - 1))


def fresh_stationary_error(real_rows: int, synthetic_rows: int, d: int, sigma2: float = 1.0) -> float:
    """s6c (approximate, T >> d): (sigma^2 d / (T - d - 1)) / (1 - (1 - lambda)^2), T = T_r + T_s, lambda = T_r / T."""
    total = real_rows + synthetic_rows
    lam = real_rows / total
    return float(base_error(d, total, sigma2) / (1 - (1 - lam) ** 2))
