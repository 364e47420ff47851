"""Strong model collapse in linear regression (Dohmatob et al. 2024): a share of the labels from another model.

The setting (docs/strong-collapse-theory.md has the derivations). ``n`` training rows, every one with fresh
covariates ``x ~ N(0, Sigma)``; a fixed set of ``n_s = p n`` of them is labelled by a second model ``w2``
(``y = x w2 + noise`` of variance ``s2``), the other ``n_r = n - n_s`` by the truth ``w1`` (noise ``sigma2``).
The test error is the excess risk ``(w_hat - w1)^T Sigma (w_hat - w1)``; ``gap = ||w2 - w1||_Sigma^2``.

* **OLS, exact for any n > d + 1, any Sigma, any fixed w2.** With W = X^T X, B = X_s^T X_s, the fit errs by
  W^-1 B (w2 - w1) plus noise, and E[B W^-2 B] is a multiple of the identity after whitening (the Gaussian
  design is rotation invariant), so a fixed ``w2`` and an isotropic random one give the same risk::

      E risk = sbar2 d / (n - d - 1)  +  p^2 gap  +  c(n, p, d) gap,   sbar2 = (1 - p) sigma2 + p s2,
      c = p (1 - p) / (n - 1) * [n (n - 2)(d + 2) / ((n + 2)(n - d - 1)) - 1]   (= synthetic_leverage / d - p^2).

  As n -> inf at fixed p the noise and c vanish like d / n, leaving the floor ``p^2 gap`` (strong collapse);
  at p = 0 the risk is sigma2 d / (n - d - 1).
* **Ridge** ``w_hat = (X^T X + alpha I)^-1 X^T y`` (the RIDGE family: penalty ``alpha`` on the summed squared
  error, no intercept, unit row weights), ``Sigma = I``. Exactly, the risk is a linear function of the three
  Wishart traces E tr (X^T X + alpha I)^-k, k = 1, 2, 3 (:func:`ridge_terms`); Marchenko-Pastur with the
  Bai-Silverstein O(1) term gives those to relative O(1/d^2) (:func:`ridge_moments`; measured risk error under
  0.1 / d, against up to 1 / d from Marchenko-Pastur alone). In the proportional limit (d / n -> gamma,
  lam = alpha / n, m = m(-lam), m' = -dm/dlam)
  mixed labels act as ridge on the truth ``(1 - p) w1 + p w2`` with label noise ``sbar2 + p (1 - p) gap``::

      E risk -> lam^2 m' ||w1||^2 - 2 p lam (m - lam m') w1.(w2 - w1) + p^2 (1 - 2 lam m + lam^2 m') gap
                + (sbar2 + p (1 - p) gap) gamma (m - lam m'),

  and as n -> inf at fixed lam, ``||p (w2 - w1) - lam w1||^2 / (1 + lam)^2``: the best lam shrinks the floor to
  ``p^2 gap ||w1||^2 / (||w1||^2 + p^2 gap)`` (:func:`ridge_optimal_limit`) but never removes it.
* **Fresh chain.** Each generation fits OLS to ``n`` fresh rows, a share ``p`` labelled by the previous
  generation's model: e_{t+1} = cardinality.regression_excess_risk(n_r, n_s, d, sigma2, e_t, v_t), exact,
  with v_t the synthetic noise the family draws with (:func:`fresh_chain`, :func:`fresh_stationary`).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from modelcollapse.theory import cardinality


def _split(n: int, p: float) -> tuple[int, int]:
    """(n_real, n_syn) for ``n`` rows of which a share ``p`` is synthetic; ``p n`` must be a whole number."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p}")
    n_syn = round(p * n)
    if abs(p * n - n_syn) > 1e-9 * n:
        raise ValueError(f"p must make p * n a whole number of rows, got p={p}, n={n}")
    return n - n_syn, n_syn


def _non_negative(**values: float) -> None:
    for name, v in values.items():
        if not v >= 0:
            raise ValueError(f"{name} must be >= 0, got {v}")


# ---- OLS ------------------------------------------------------------------------------------------


def ols_floor(p: float, gap: float) -> float:
    """lim_{n -> inf} E risk of OLS at fixed share ``p``: p^2 gap (gap = ||w2 - w1||_Sigma^2, or e_g averaged).

    >>> ols_floor(0.1, 0.5)
    0.005000000000000001
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p}")
    _non_negative(gap=gap)
    return p * p * gap


def ols_fluctuation(n: int, p: float, d: int) -> float:
    """c with E ||Sigma^1/2 W^-1 B (w2 - w1)||^2 = (p^2 + c) gap: the excess over the floor from which rows are
    synthetic (exact, Gaussian design; NaN where n <= d + 1). About p (1 - p)(d + 1) / n for n >> d."""
    n_real, n_syn = _split(n, p)
    if n <= d + 1:
        return float("nan")
    if n_real == 0 or n_syn == 0:
        return 0.0
    q = n_syn / n
    return q * (1 - q) / (n - 1) * (n * (n - 2) * (d + 2) / ((n + 2) * (n - d - 1)) - 1)


class OLSTerms(NamedTuple):
    """E risk of OLS on mixed labels, split: label noise, the floor p^2 gap, and the mask's fluctuation."""

    noise: float
    floor: float
    fluctuation: float

    @property
    def total(self) -> float:
        return self.noise + self.floor + self.fluctuation


def ols_terms(n: int, p: float, d: int, noise_var: float, gap: float, syn_noise_var: float | None = None) -> OLSTerms:
    """The module's OLS formula term by term (exact; NaN terms where n <= d + 1).

    >>> [round(x, 4) for x in ols_terms(200, 0.25, 10, noise_var=1.0, gap=0.5)]
    [0.0529, 0.0312, 0.0054]
    """
    n_real, n_syn = _split(n, p)
    s2 = noise_var if syn_noise_var is None else syn_noise_var
    _non_negative(noise_var=noise_var, gap=gap, syn_noise_var=s2)
    if n <= d + 1:
        return OLSTerms(float("nan"), float("nan"), float("nan"))
    noise = (n_real * noise_var + n_syn * s2) / n * d / (n - d - 1)
    return OLSTerms(noise, ols_floor(n_syn / n, gap), gap * ols_fluctuation(n, p, d))


def ols_risk(n: int, p: float, d: int, noise_var: float, gap: float, syn_noise_var: float | None = None) -> float:
    """E risk of OLS for a FIXED second model w2 with ||w2 - w1||_Sigma^2 = gap, any Sigma (exact).

    It equals :func:`cardinality.regression_excess_risk` with ``gen_risk = gap``: that formula needs no
    isotropy of the generator's error, only its independence of the fresh design.
    """
    n_real, n_syn = _split(n, p)
    _non_negative(noise_var=noise_var, gap=gap)
    return cardinality.regression_excess_risk(n_real, n_syn, d, noise_var, gap, syn_noise_var)


# ---- ridge ----------------------------------------------------------------------------------------


def mp_stieltjes(gamma: float, lam: float) -> tuple[float, float, float]:
    """(m1, m2, m3): the Marchenko-Pastur limits of tr (S + lam I)^-k / d, k = 1, 2, 3.

    S = X^T X / n with d / n -> gamma and Sigma = I. m1 = m(-lam), the Stieltjes transform, is the positive root
    of gamma lam m^2 + (1 - gamma + lam) m - 1 = 0; m2 = -dm1/dlam and m3 = d^2 m1/dlam^2 / 2 by implicit
    differentiation. Needs lam > 0, or lam = 0 with gamma < 1 (NaN otherwise).
    """
    _non_negative(gamma=gamma, lam=lam)
    if lam == 0 and gamma >= 1:
        return float("nan"), float("nan"), float("nan")
    b = 1 - gamma + lam
    m1 = 2 / (b + np.sqrt(b * b + 4 * gamma * lam))
    v = b + 2 * gamma * lam * m1
    m2 = (gamma * m1 * m1 + m1) / v  # -dm/dlam
    dv = 2 * gamma * m1 - 2 * gamma * lam * m2 + 1
    m3 = ((2 * gamma * m1 + 1) * m2 * v + (gamma * m1 * m1 + m1) * dv) / (2 * v * v)  # d^2m/dlam^2 / 2
    return float(m1), float(m2), float(m3)


class RidgeMoments(NamedTuple):
    """E tr A^-1, E tr A^-2, E tr A^-3 for A = X^T X + alpha I (n rows, Sigma = I)."""

    tr1: float
    tr2: float
    tr3: float


def edge_correction(gamma: float, lam: float) -> tuple[float, float, float]:
    """The O(1) terms of E tr (S + lam I)^-k - d m_k, k = 1, 2, 3, for real Gaussian data (Bai & Silverstein 2004):

        (f(a) + f(b)) / 4 - (1 / 2 pi) int_a^b f(x) / sqrt((b - x)(x - a)) dx,   a, b = (1 -+ sqrt(gamma))^2,

    with f(x) = (x + lam)^-k; the integral is pi ((a + lam)(b + lam))^-1/2 and its lam-derivatives.
    """
    _non_negative(gamma=gamma, lam=lam)
    if lam == 0 and gamma >= 1:
        return float("nan"), float("nan"), float("nan")
    a, b = (1 - np.sqrt(gamma)) ** 2, (1 + np.sqrt(gamma)) ** 2
    u, du = (a + lam) * (b + lam), a + b + 2 * lam
    j = (u**-0.5, 0.5 * u**-1.5 * du, 0.375 * u**-2.5 * du**2 - 0.5 * u**-1.5)  # the integrals / pi
    return tuple(float(((a + lam) ** -k + (b + lam) ** -k) / 4 - j[k - 1] / 2) for k in (1, 2, 3))  # type: ignore[return-value]


def ridge_moments(n: int, d: int, alpha: float, finite_n: bool = True) -> RidgeMoments:
    """Deterministic equivalents of :class:`RidgeMoments`: Marchenko-Pastur at gamma = d / n, lam = alpha / n,
    plus (``finite_n``) the O(1) :func:`edge_correction`, which brings the relative error from O(1/d) to O(1/d^2)
    (both measured in tests/test_theory_strong.py). Exact values replace them in :func:`ridge_terms` through
    ``moments``. NaN where alpha = 0 and d >= n.
    """
    if n < 1 or d < 1:
        raise ValueError(f"n and d must be at least 1, got n={n}, d={d}")
    gamma, lam = d / n, alpha / n
    m = np.array(mp_stieltjes(gamma, lam)) * d
    if finite_n:
        m += edge_correction(gamma, lam)
    tr1, tr2, tr3 = m / float(n) ** np.arange(1, 4)
    return RidgeMoments(float(tr1), float(tr2), float(tr3))


class RidgeTerms(NamedTuple):
    """E risk of ridge on mixed labels, split: shrinkage bias of w1, label noise, the w1.(w2 - w1) cross term,
    the (shrunk) floor p^2 gap, and the mask term from which rows carry w2's labels."""

    bias: float
    variance: float
    cross: float
    floor: float
    mask: float

    @property
    def total(self) -> float:
        return self.bias + self.variance + self.cross + self.floor + self.mask


def ridge_terms(
    n: int,
    p: float,
    d: int,
    alpha: float,
    noise_var: float,
    signal: float,
    gap: float,
    cross: float = 0.0,
    syn_noise_var: float | None = None,
    moments: RidgeMoments | None = None,
) -> RidgeTerms:
    """E risk of ridge (the RIDGE family's (X^T X + alpha I)^-1 X^T y) on mixed labels, Sigma = I.

    ``signal`` = ||w1||^2, ``gap`` = ||w2 - w1||^2, ``cross`` = w1.(w2 - w1) (or their expectations over random
    w1, w2 independent of the design). Exact given ``moments``; with the default :func:`ridge_moments`, up to
    their O(1/d^2) relative error. With V = tr1 - alpha tr2 and T = d - 2 alpha tr1 + alpha^2 tr2::

        bias = alpha^2 signal tr2 / d,   variance = sbar2 V,   cross = -2 alpha p cross V / d,
        floor = p^2 gap T / d,           mask = p (1 - p) gap (n^2 l - T) / (d (n - 1)),
        l = E ||x_1||^2 x_1^T A^-2 x_1 = (n d V - 2 tr1 + 6 alpha tr2 - 4 alpha^2 tr3 + 2 T) / (n (n + 2)).

    >>> round(ridge_terms(400, 0.25, 100, 40.0, 1.0, 1.0, 0.5).total, 4)
    0.3086
    """
    n_real, n_syn = _split(n, p)
    s2 = noise_var if syn_noise_var is None else syn_noise_var
    _non_negative(alpha=alpha, noise_var=noise_var, signal=signal, gap=gap, syn_noise_var=s2)
    if cross * cross > signal * gap * (1 + 1e-12):
        raise ValueError(f"cross must satisfy cross^2 <= signal * gap (Cauchy-Schwarz), got {cross}")
    if moments is None:
        moments = ridge_moments(n, d, alpha)
    tr1, tr2, tr3 = moments
    q = n_syn / n
    v = tr1 - alpha * tr2  # E tr(A^-2 W)
    t = d - 2 * alpha * tr1 + alpha**2 * tr2  # E tr(W^2 A^-2)
    lev = (n * d * v + 2 * (-tr1 + 3 * alpha * tr2 - 2 * alpha**2 * tr3) + 2 * t) / (n * (n + 2))
    mask = q * (1 - q) * gap * (n * n * lev - t) / (d * (n - 1)) if n > 1 else 0.0
    return RidgeTerms(
        bias=alpha**2 * signal * tr2 / d,
        variance=(n_real * noise_var + n_syn * s2) / n * v,
        cross=-2 * alpha * q * cross * v / d,
        floor=q * q * gap * t / d,
        mask=mask,
    )


def ridge_risk(
    n: int,
    p: float,
    d: int,
    alpha: float,
    noise_var: float,
    signal: float,
    gap: float,
    cross: float = 0.0,
    syn_noise_var: float | None = None,
) -> float:
    """:func:`ridge_terms` summed, with the :func:`ridge_moments` deterministic equivalents.

    >>> round(ridge_risk(1600, 0.5, 16, 0.5 * 1600, 1.0, 1.0, 1.0), 4)  # lam = 0.5: near ridge_limit's 0.2222
    0.229
    """
    return ridge_terms(n, p, d, alpha, noise_var, signal, gap, cross, syn_noise_var).total


def ridge_proportional(
    gamma: float,
    lam: float,
    p: float,
    noise_var: float,
    signal: float,
    gap: float,
    cross: float = 0.0,
    syn_noise_var: float | None = None,
) -> float:
    """The proportional limit d / n -> gamma, alpha / n -> lam of the ridge risk (module docstring)."""
    s2 = noise_var if syn_noise_var is None else syn_noise_var
    _non_negative(noise_var=noise_var, signal=signal, gap=gap, syn_noise_var=s2)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p}")
    m1, m2, _ = mp_stieltjes(gamma, lam)
    v = m1 - lam * m2
    target = lam**2 * m2 * signal - 2 * p * lam * v * cross + p * p * (1 - 2 * lam * m1 + lam**2 * m2) * gap
    return target + ((1 - p) * noise_var + p * s2 + p * (1 - p) * gap) * gamma * v


def ridge_limit(p: float, lam: float, signal: float, gap: float, cross: float = 0.0) -> float:
    """lim_{n -> inf} E risk at fixed lam = alpha / n (fixed d or gamma -> 0): ||p Delta - lam w1||^2 / (1 + lam)^2.

    At fixed alpha (lam -> 0) this is the OLS floor p^2 gap.
    """
    _non_negative(lam=lam, signal=signal, gap=gap)
    return (p * p * gap - 2 * p * lam * cross + lam * lam * signal) / (1 + lam) ** 2


def ridge_optimal_limit(p: float, signal: float, gap: float, cross: float = 0.0) -> tuple[float, float]:
    """(lam*, risk*): the lam minimising :func:`ridge_limit`, lam* = (p^2 gap + p cross) / (signal + p cross).

    With cross = 0, risk* = p^2 gap signal / (signal + p^2 gap) > 0 for every p > 0: tuning cannot remove the
    floor. (lam* = inf, the zero predictor, where signal + p cross <= 0.)

    >>> [round(x, 5) for x in ridge_optimal_limit(0.1, signal=1.0, gap=0.5)]
    [0.005, 0.00498]
    """
    _non_negative(signal=signal, gap=gap)
    num, den = p * p * gap + p * cross, signal + p * cross
    if den <= 0:
        return float("inf"), signal
    lam = max(num / den, 0.0)
    return lam, ridge_limit(p, lam, signal, gap, cross)


# ---- the fresh chain --------------------------------------------------------------------------------


def _residual_coefficients(n_real: int, n_syn: int, d: int) -> tuple[float, float]:
    """E RSS = (n_r sigma2 + n_s s2) * a + gap * b for OLS on mixed labels (gap = ||w_g - w*||_Sigma^2):
    a = (n - d) / n, b = n_s - n E tr(Q^2) / d with Q the synthetic rows' block of the hat matrix."""
    n = n_real + n_syn
    h2, _, hij = cardinality.hat_moments(n, d)
    return (n - d) / n, n_syn - n * (n_syn * h2 + n_syn * (n_syn - 1) * hij) / d


def _chain_step(n: int, p: float, d: int, sigma2: float, noise: str, estimator: str) -> tuple[np.ndarray, np.ndarray]:
    """(M, b) with (e, v)_{t+1} = M (e, v)_t + b: excess risk and E synthetic-noise variance per generation."""
    n_real, n_syn = _split(n, p)
    lev = cardinality.synthetic_leverage(n_real, n_syn, d) / d
    h = d / (n - d - 1)
    m = np.array([[lev, n_syn / n * h], [0.0, 0.0]])
    b = np.array([n_real / n * sigma2 * h, 0.0])
    if noise == "known":
        m[0, 1], b[0] = 0.0, sigma2 * h  # the synthetic labels carry the true noise sigma2
        b[1] = sigma2
    else:
        a, c = _residual_coefficients(n_real, n_syn, d)
        div = n - (d if estimator == "unbiased" else 0)
        m[1] = [c / div, n_syn * a / div]
        b[1] = n_real * sigma2 * a / div
    return m, b


def _check_chain(n: int, d: int, sigma2: float, noise: str, estimator: str) -> None:
    _non_negative(sigma2=sigma2)
    if d < 1:
        raise ValueError(f"d must be at least 1, got {d}")
    if noise not in ("known", "estimated"):
        raise ValueError(f"noise must be 'known' or 'estimated', got {noise!r}")
    if estimator not in ("mle", "unbiased"):
        raise ValueError(f"estimator must be 'mle' or 'unbiased', got {estimator!r}")


def fresh_chain(
    n: int,
    p: float,
    d: int,
    sigma2: float,
    generations: int,
    noise: Literal["known", "estimated"] = "known",
    estimator: Literal["mle", "unbiased"] = "mle",
) -> np.ndarray:
    """E excess risk e_1..e_G of OLS when each generation has n fresh rows, a share p labelled by the previous fit.

    e_1 = sigma2 d / (n - d - 1) (real rows only). The synthetic labels are the previous fit plus noise of the
    family's variance: ``noise="known"`` the true sigma2; ``"estimated"`` the residual variance RSS / n (mle) or
    RSS / (n - d) (unbiased), whose expectation is carried along exactly. The fresh workflow with
    ``fraction = 1 - p`` and a fresh design. NaN where n <= d + 1.

    >>> fresh_chain(20, 0.5, 4, 1.0, 4).round(4).tolist()  # e_1 = 4 / 15; the library's fresh workflow agrees
    [0.2667, 0.3528, 0.3806, 0.3896]
    """
    _check_chain(n, d, sigma2, noise, estimator)
    if generations < 1:
        raise ValueError(f"generations must be at least 1, got {generations}")
    _split(n, p)
    if n <= d + 1:
        return np.full(generations, np.nan)
    m, b = _chain_step(n, p, d, sigma2, noise, estimator)
    div = n - (d if estimator == "unbiased" else 0)
    x = np.array([sigma2 * d / (n - d - 1), sigma2 if noise == "known" else sigma2 * (n - d) / div])
    out = np.empty(generations)
    for t in range(generations):
        out[t] = x[0]
        x = m @ x + b
    return out


def fresh_stationary(
    n: int,
    p: float,
    d: int,
    sigma2: float,
    noise: Literal["known", "estimated"] = "known",
    estimator: Literal["mle", "unbiased"] = "mle",
) -> float:
    """lim_t of :func:`fresh_chain`: the fixed point. Known noise: sigma2 d / (n - d - 1) / (1 - p^2 - c), with
    c = :func:`ols_fluctuation` (exact; regression.fresh_stationary_error is its c = 0 approximation).

    >>> round(fresh_stationary(20, 0.5, 4, 1.0), 4)  # the c = 0 approximation gives 0.3556
    0.3939
    """
    _check_chain(n, d, sigma2, noise, estimator)
    _split(n, p)
    if n <= d + 1:
        return float("nan")
    m, b = _chain_step(n, p, d, sigma2, noise, estimator)
    if np.max(np.abs(np.linalg.eigvals(m))) >= 1:
        return float("inf")
    return float(np.linalg.solve(np.eye(2) - m, b)[0])
