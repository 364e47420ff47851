"""Dey & Donoho: any workflow as a weighting of past data sets, judged by a Gaussian process (s4).

Data set ``j`` (``j = 0`` real, ``j >= 1`` drawn from model ``j``) has ``c_j n``
points; model ``k`` is fitted to a mixture in which data set ``j`` has share
``w[k-1][j]``. In normalised coordinates the errors follow
``Z_0 = 0, Z_k = sum_{j<k} w_kj (Z_j + xi_j / sqrt(c_j))``, so
``Z_k = sum_j a_kj xi_j / sqrt(c_j)`` and the risk of model ``k`` relative to the
real-data-only fit is ``rho_k = sum_j a_kj^2 / c_j``, the same for every smooth
loss. For a Gaussian mean with known covariance, or OLS on a fixed design, the
recursion is exact at every n.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Matrix = Sequence[Sequence[float]] | np.ndarray


def weight_matrix(rows: Matrix, generations: int | None = None) -> np.ndarray:
    """Square ``(K, K)`` matrix with row ``k - 1`` = shares of model ``k`` over data sets ``0..k-1``, normalised."""
    k = generations or len(rows)
    w = np.zeros((k, k))
    for i, row in enumerate(list(rows)[:k]):
        r = np.asarray(row, float)[: i + 1]
        if r.sum() <= 0 or np.any(r < 0):
            raise ValueError(f"row {i} (model {i + 1}) needs non-negative shares with a positive sum")
        w[i, : len(r)] = r / r.sum()
    return w


def coefficients(weights: Matrix) -> np.ndarray:
    """``a[k-1, j]``: coefficient of ``xi_j / sqrt(c_j)`` in ``Z_k``."""
    w = weight_matrix(weights)
    k = len(w)
    a = np.zeros((k + 1, k))  # row 0 is Z_0 = 0
    for m in range(1, k + 1):
        for j in range(m):
            if w[m - 1, j]:
                a[m] += w[m - 1, j] * a[j]
                a[m, j] += w[m - 1, j]
    return a[1:]


def rho(weights: Matrix, sizes: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """rho_k for k = 1..K: risk of model k over that of the real-data-only fit (sizes c_j, default 1)."""
    a = coefficients(weights)
    c = np.ones(a.shape[1]) if sizes is None else np.asarray(sizes, float)[: a.shape[1]]
    return (a**2 / c).sum(axis=1)


def discard(k: int) -> np.ndarray:
    """Replace: model k trains on data set k - 1 (rho_k = k)."""
    return np.eye(k)


def augment(k: int) -> np.ndarray:
    """Accumulate: equal shares 1/k of data sets 0..k-1 (rho_k = sum 1/i^2 -> pi^2/6)."""
    return np.tril(np.ones((k, k)))


def real_plus_last(k: int, real_share: float = 0.5) -> np.ndarray:
    """Real data with share ``real_share`` plus the latest synthetic set (50/50: rho -> 4/3)."""
    w = np.zeros((k, k))
    w[0, 0] = 1.0
    for m in range(1, k):
        w[m, 0], w[m, m] = real_share, 1 - real_share
    return w


def window(k: int, size: int) -> np.ndarray:
    """Real data plus the last ``size`` synthetic sets, equal shares (the library's ``window``)."""
    w = np.zeros((k, k))
    for m in range(k):
        w[m, 0] = 1.0
        w[m, max(1, m - size + 1) : m + 1] = 1.0
    return w


def mix(k: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Real data plus ``fraction * n`` rows from the latest model (the library's ``mix``): (weights, sizes)."""
    if fraction == 0:
        return np.tril(np.ones((k, k)))[:, :1] * np.eye(k)[0], np.ones(k)
    sizes = np.concatenate([[1.0], np.full(k - 1, fraction)])
    return real_plus_last(k, 1 / (1 + fraction)), sizes


def fresh(k: int, real_fraction: float) -> np.ndarray:
    """rho_k when every model sees fresh real data with share lambda plus the latest synthetic set.

    Sizes lambda n and (1 - lambda) n: rho_1 = 1, rho_k = 1 + (1 - lambda)^2 rho_{k-1} -> 1 / (lambda (2 - lambda)).
    """
    out = np.ones(k)
    for m in range(1, k):
        out[m] = 1 + (1 - real_fraction) ** 2 * out[m - 1]
    return out


NAMED = {
    "discard": lambda k: rho(discard(k)),
    "augment": lambda k: rho(augment(k)),
    "real+last": lambda k: rho(real_plus_last(k)),
}
