"""Categorical, Bernoulli and Poisson fits under multinomial resampling (THEORY.md s7, s8).

Generation ``m`` is the fit after ``m`` sampling steps from the truth
(generation 1 = the fit to the n real draws).
"""

from __future__ import annotations

import numpy as np


def expected_gini_simpson(m: np.ndarray | int, n: int, p0: np.ndarray) -> np.ndarray:
    """E[1 - ||p^(m)||^2] = (1 - 1/n)^m (1 - ||p0||^2): Seddik et al.'s S_m, as diversity."""
    return (1 - 1 / n) ** np.asarray(m, float) * (1 - float(np.sum(np.asarray(p0) ** 2)))


def g_iterates(k: int) -> np.ndarray:
    """g_1..g_k with g_1 = 1 and g_{j+1} = 1 - exp(-g_j)."""
    out = np.empty(k)
    g = 1.0
    for j in range(k):
        out[j] = g
        g = 1 - np.exp(-g)
    return out


def poisson_survival(k: int, n: int, rate: float) -> np.ndarray:
    """P(rate_j != 0) = 1 - exp(-n rate g_j) for j = 1..k (exact: a critical Galton-Watson process)."""
    return 1 - np.exp(-n * rate * g_iterates(k))
