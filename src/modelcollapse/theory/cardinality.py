"""Real plus synthetic data in one fit: the cardinality grid of Kazdan et al. (THEORY.md s6, extended here).

A *generator* is fitted to real data (optionally k generations down a replace chain). The model under
study trains on ``n_real`` fresh real points pooled with ``n_syn`` points drawn from the generator. Its
error is exact in three settings, derived here and checked by simulation in tests/test_cardinality.py:

* **a pooled mean** (Gaussian mean, categorical frequencies). With per-point variance ``v`` (tr Sigma_0,
  or 1 - ||p||^2), generator variance ``v_g`` (E tr Sigma_g, or E (1 - ||p_g||^2)) and generator error
  ``e_g`` (E ||mu_g - mu||^2)::

      E ||theta_hat - theta||^2 = (n_r v + n_s v_g + n_s^2 e_g) / N^2,   N = n_r + n_s.

  The n_s^2 term is the generator's own error, which no amount of synthetic data averages away: as
  n_s -> inf the error tends to e_g. Synthetic data help only while the real data are few.
* **OLS** on real rows plus synthetic rows with fresh Gaussian covariates and labels from ``w_g``, see
  :func:`regression_excess_risk`.
"""

from __future__ import annotations

import numpy as np


def pooled_error(n_real: int, n_syn: int, v: float, v_gen: float, e_gen: float) -> float:
    """E ||pooled mean - truth||^2 of n_real real and n_syn generator points (the module's first formula).

    >>> pooled_error(10, 0, v=1.0, v_gen=0.9, e_gen=0.05)  # real data alone: v / n_real
    0.1
    >>> round(pooled_error(10, 10**6, v=1.0, v_gen=0.9, e_gen=0.05), 4)  # the generator's own error remains
    0.05
    """
    n = n_real + n_syn
    return (n_real * v + n_syn * v_gen + n_syn**2 * e_gen) / n**2


def hat_moments(n: int, d: int) -> tuple[float, float, float]:
    """(E H_ii^2, E H_ii H_jj, E H_ij^2), i != j, for the hat matrix H of an n x d Gaussian design.

    H is a uniformly random rank-d projection: H_ii ~ Beta(d/2, (n-d)/2), tr H = d and sum_j H_ij^2 = H_ii
    give the three moments.
    """
    h2 = d * (d + 2) / (n * (n + 2))
    h11 = d * (d * n + d - 2) / (n * (n - 1) * (n + 2))
    hij = d * (n - d) / (n * (n - 1) * (n + 2))
    return h2, h11, hij


def synthetic_leverage(n_real: int, n_syn: int, d: int) -> float:
    """E tr(W^-2 B^2) for W = X^T X over all n rows and B = X_s^T X_s over the n_syn synthetic rows (Sigma = I).

    Write X = V W^(1/2) with V Haar on the Stiefel manifold and independent of W. Then tr(W^-2 B^2) =
    tr(W^-1 Q W Q) with Q = V_s^T V_s, whose law is invariant under rotation. Averaging over the rotation
    (degree-2 Weingarten) leaves E (tr Q)^2 and E tr Q^2, both sums of :func:`hat_moments`, and
    E[tr W^-1 tr W] = d (n d - 2) / (n - d - 1) (Stein's identity).
    """
    n = n_real + n_syn
    if n_syn == 0:
        return 0.0
    if n_real == 0:
        return float(d)
    h2, h11, hij = hat_moments(n, d)
    q1 = n_syn * h2 + n_syn * (n_syn - 1) * h11  # E (tr Q)^2
    q2 = n_syn * h2 + n_syn * (n_syn - 1) * hij  # E tr Q^2
    if d == 1:
        return q2
    beta = (q2 - q1 / d) / ((d - 1) * (d + 2))
    alpha = (q1 - 2 * d * beta) / d**2
    return (alpha + beta) * d + beta * d * (n * d - 2) / (n - d - 1)


def regression_excess_risk(
    n_real: int, n_syn: int, d: int, noise_var: float, gen_risk: float, gen_noise_var: float | None = None
) -> float:
    """E (w_hat - w*)^T Sigma (w_hat - w*) of OLS on n_real real rows and n_syn generator rows.

    Every row has covariates x ~ N(0, Sigma), drawn afresh; real labels have noise ``noise_var``, synthetic
    labels ``x^T w_g`` plus noise ``gen_noise_var``; ``gen_risk`` is the generator's own excess risk
    E (w_g - w*)^T Sigma (w_g - w*), with E (w_g - w*)(w_g - w*)^T proportional to Sigma^-1 (true of OLS
    generators on Gaussian designs). Then, exactly,

        E risk = (n_r s^2 + n_s s_g^2) / N * d / (N - d - 1)  +  gen_risk / d * E tr(W^-2 B^2),

    the first term the label noise of all N rows, the second the generator's error carried by the
    synthetic rows' share of the fit (:func:`synthetic_leverage`). NaN where N <= d + 1 (infinite mean).
    """
    n = n_real + n_syn
    if n <= d + 1:
        return float("nan")
    s_gen = noise_var if gen_noise_var is None else gen_noise_var
    noise = (n_real * noise_var + n_syn * s_gen) / n * d / (n - d - 1)
    return noise + gen_risk / d * synthetic_leverage(n_real, n_syn, d)


def crossover(v: float, v_gen: float, e_gen: float, n_syn: int) -> float:
    """The real-data size above which adding ``n_syn`` synthetic points raises the pooled-mean error.

    pooled_error(n_r, n_s) > v / n_r  <=>  n_r (v_g + n_s e_g - 2 v) > v n_s: linear in n_r. Infinite when
    the synthetic points help at every n_r (a generator far better than the real data).

    >>> round(crossover(v=1.0, v_gen=0.9, e_gen=0.1, n_syn=20), 2)  # 20 synthetic points hurt above 22 real
    22.22
    """
    gain = v_gen + n_syn * e_gen - 2 * v
    if gain <= 0:
        return float("inf")
    return float(v * n_syn / gain)


def grid(real: np.ndarray | list[int], syn: np.ndarray | list[int], v: float, v_gen: float, e_gen: float) -> np.ndarray:
    """:func:`pooled_error` over a grid, shape (len(real), len(syn)); NaN at (0, 0)."""
    out = np.full((len(real), len(syn)), np.nan)
    for i, r in enumerate(real):
        for j, s in enumerate(syn):
            if r + s:
                out[i, j] = pooled_error(int(r), int(s), v, v_gen, e_gen)
    return out
