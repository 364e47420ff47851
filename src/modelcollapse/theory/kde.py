"""Kernel density estimation refitted on its own samples: exact variance and mean recursions [derived here].

A KDE with bandwidth h is the training data's empirical distribution convolved with the kernel, so its
total variance is the data's (MLE) covariance trace plus ``k = h^2 c_K(d)``, where c_K(d) = d (Gaussian),
d/(d+2) (tophat), d/(d+4) (Epanechnikov). Sampling from it therefore adds k to the variance every
replace generation (shrunk by the (1 - 1/n) of the empirical variance). ``kernel_var[t-1]`` is the
kernel's variance k for model t (a constant, or per generation when the bandwidth rule depends on
the training-set size). ``var0 = tr Sigma_0`` of the real data, n rows per data set.
"""

from __future__ import annotations

import numpy as np


def _per_generation(kernel_var: float | np.ndarray, t: int) -> np.ndarray:
    return (
        np.broadcast_to(np.asarray(kernel_var, float), (t,)) if np.ndim(kernel_var) == 0 else np.asarray(kernel_var)[:t]
    )


def replace(t: int, n: int, kernel_var: float | np.ndarray, var0: float) -> tuple[np.ndarray, np.ndarray]:
    """(E total variance of model s, E ||mean of model s - mu||^2) for s = 1..t under replace.

    v_1 = (1 - 1/n) var0 + k_1, v_{s+1} = (1 - 1/n) v_s + k_{s+1}: about var0 + s k for s << n.
    e_1 = var0 / n, e_{s+1} = e_s + v_s / n.
    """
    k = _per_generation(kernel_var, t)
    v, e = np.empty(t), np.empty(t)
    v[0], e[0] = (1 - 1 / n) * var0 + k[0], var0 / n
    for s in range(1, t):
        v[s] = (1 - 1 / n) * v[s - 1] + k[s]
        e[s] = e[s - 1] + v[s - 1] / n
    return v, e


def accumulate(t: int, n: int, kernel_var: float | np.ndarray, var0: float) -> tuple[np.ndarray, np.ndarray]:
    """(E total variance of model s, E ||mean of model s - mu||^2) for s = 1..t under accumulate.

    With pool size N_s = s n and pool MLE variance S_s (S_1 = (1 - 1/n) var0), v_s = S_s + k_s and
    S_{s+1} = [N_s S_s + (n - 1) v_s + (N_s / N_{s+1}) v_s] / N_{s+1};
    e_1 = var0 / n, e_{s+1} = e_s + (n / N_{s+1})^2 v_s / n.
    """
    k = _per_generation(kernel_var, t)
    v, e = np.empty(t), np.empty(t)
    pool, err = (1 - 1 / n) * var0, var0 / n
    for s in range(1, t + 1):
        big, nxt = s * n, (s + 1) * n
        v[s - 1], e[s - 1] = pool + k[s - 1], err
        pool = (big * pool + (n - 1) * v[s - 1] + big / nxt * v[s - 1]) / nxt
        err += (n / nxt) ** 2 * v[s - 1] / n
    return v, e


def scott_kernel_var(t: int, rows: int | np.ndarray, d: int, kernel_factor: float | None = None) -> np.ndarray:
    """k_s for scikit-learn's 'scott' bandwidth h = N^(-1/(d+4)) on N training rows (Gaussian kernel: c = d)."""
    n = np.broadcast_to(np.asarray(rows, float), (t,))
    return n ** (-2 / (d + 4)) * (d if kernel_factor is None else kernel_factor)
