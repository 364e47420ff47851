"""Selection stages between generations: curation, temperature, truncation, variance shrinkage, verifiers.

Derivations in docs/selection-theory.md. Population-limit maps act on a categorical ``p`` (a 1-D array
summing to 1, zeros allowed); the Gaussian results follow the generation convention of ``gaussian1d``:
generation 1 is the fit to the ``n`` real points.
"""

from __future__ import annotations

import numpy as np

_STEP = 0.2  # trapezoid step in s = log u: error ~ exp(-pi^2 / step), far below 1e-12
_TAIL = 40.0  # the integrand is below e^-40 outside [s_lo, s_hi]
_CELLS = 1 << 22  # grid points x categories per block of the quadrature (bounds its memory)


# ---- curation (Ferbach et al. 2024) ----------------------------------------------------------------


def curated(p: np.ndarray, reward: np.ndarray, k: int) -> np.ndarray:
    """Law of the sample kept by K-wise Bradley-Terry curation: of K iid draws from p, keep X_i w.p. ∝ e^{r(X_i)}.

    F(p)(x) = K p(x) w_x int_0^inf e^{-u w_x} phi(u)^{K-1} du with w = e^{r - max r} and
    phi(u) = sum_y p(y) e^{-u w_y}, by the trapezoid rule in s = log u (sums to 1 within ~1e-13 before
    the final renormalisation, which keeps iterates exactly normalised: F(c p) sums to c^K).
    """
    p = _as_categorical(p)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    out = _curated_quadrature(p, np.asarray(reward, float), k)
    return out / out.sum()


def _curated_quadrature(p: np.ndarray, reward: np.ndarray, k: int) -> np.ndarray:
    """F(p) by quadrature, not renormalised (see ``curated``)."""
    if k == 1:
        return p.copy()
    on = p > 0  # off the support F(p) = 0; r there is never used
    q, r = p[on], reward[on]
    lw = r - r.max()  # log w; the kept law is invariant to shifting r
    s = _log_grid(float(lw.min()), k)
    step = max(1, _CELLS // len(s))
    blocks = [slice(i, i + step) for i in range(0, len(q), step)]
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        log_phi = np.log(sum(np.exp(-np.exp(s[:, None] + lw[None, b])) @ q[b] for b in blocks))
        inner = [_trapezoid(s[:, None] + lw[None, b], (k - 1) * log_phi[:, None]) for b in blocks]
    out = np.zeros_like(p)
    out[on] = k * q * np.concatenate(inner)
    return out


def curated_reward(p: np.ndarray, reward: np.ndarray, k: int) -> float:
    """E_{F(p)}[r]: the expected reward of the curated sample."""
    return float(curated(p, reward, k) @ np.asarray(reward, float))


def curation_chain(p0: np.ndarray, reward: np.ndarray, k: int, generations: int, real_share: float = 0.0) -> np.ndarray:
    """Population-limit curation loop, rows t = 1..G: p_1 = p0, p_t = lambda p0 + (1 - lambda) F(p_{t-1})."""
    p0 = _as_categorical(p0)
    out = np.empty((generations, len(p0)))
    out[0] = p0
    for t in range(1, generations):
        out[t] = real_share * p0 + (1 - real_share) * curated(out[t - 1], reward, k)
    return out


def stationary_reward(
    p0: np.ndarray, reward: np.ndarray, k: int, real_share: float, tol: float = 1e-12, max_iter: int = 10000
) -> float:
    """E_{p*}[r] at the fixed point of ``curation_chain`` (iterated until max |p_t - p_{t-1}| < tol)."""
    p = p0 = _as_categorical(p0)
    for _ in range(max_iter):
        new = real_share * p0 + (1 - real_share) * curated(p, reward, k)
        if np.max(np.abs(new - p)) < tol:
            return float(new @ np.asarray(reward, float))
        p = new
    raise RuntimeError(f"no fixed point within {max_iter} iterations (tol {tol})")


# ---- temperature and truncation ---------------------------------------------------------------------


def tempered(p: np.ndarray, tau: float, t: int = 1) -> np.ndarray:
    """Population limit of t generations sampled at temperature tau: p_t ∝ p^{tau^{-t}}."""
    p = _as_categorical(p)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        logp = np.log(p)
        gap = logp - logp.max()  # <= 0, -inf off the support
        q = np.exp(np.where(gap == 0, 0.0, gap * float(tau) ** (-t)))
    return q / q.sum()


def truncated(p: np.ndarray, top_k: int | None = None, top_p: float | None = None) -> np.ndarray:
    """Top-k then nucleus (top-p) truncation of p, renormalised (the convention of gpt.filter_logits).

    Top-k keeps the k most likely symbols (None or 0: all); top-p then drops a symbol when the renormalised
    mass of the symbols ranked before it exceeds top_p (None or >= 1: none), in floating point exactly as the
    samplers compute it, so the kept set is the shortest prefix whose mass reaches top_p. Ties rank by index.
    """
    q = _as_categorical(p).copy()
    order = np.argsort(-q, kind="stable")
    if top_k and top_k < len(q):
        q[order[top_k:]] = 0.0
        q /= q.sum()
    if top_p is not None and top_p < 1.0:
        ranked = q[order]
        q[order[np.cumsum(ranked) - ranked > top_p]] = 0.0
        q /= q.sum()
    return q


# ---- variance shrinkage -------------------------------------------------------------------------------


def shrunk_variance(
    t: np.ndarray | int, n: int, shrink: float, variance: float = 1.0, estimator: str = "mle"
) -> np.ndarray:
    """E sigma_t^2 = sigma^2 c^t s^{t-1} when each generation samples n points from N(mu_hat, s sigma_hat^2).

    c = (n - 1)/n for ``"mle"``, 1 for ``"unbiased"``; generation 1 is the fit to the real data.
    """
    c = (n - 1) / n if estimator == "mle" else 1.0
    t = np.asarray(t, float)
    return variance * c**t * float(shrink) ** (t - 1)


# ---- imperfect verifier on a Gaussian mean -----------------------------------------------------------


def verifier_kept(
    c: float, false_accept: float, false_reject: float, offset: float = 0.0
) -> tuple[float, float, float]:
    """(acceptance, mean, variance) of x ~ N(offset, 1) kept by the verifier of the band |x| <= c.

    The verifier keeps x with probability 1 - false_reject inside the band and false_accept outside.
    """
    from scipy.stats import norm

    d = float(offset)
    lo, hi = -c - d, c - d  # the band in y = x - d ~ N(0, 1)
    m0 = norm.cdf(hi) - norm.cdf(lo)
    m1 = norm.pdf(lo) - norm.pdf(hi)  # int_band y phi(y) dy
    m2 = m0 + lo * norm.pdf(lo) - hi * norm.pdf(hi)  # int_band y^2 phi(y) dy
    a_in, a_out = 1 - false_reject, false_accept
    acc = a_in * m0 + a_out * (1 - m0)
    ey = (a_in - a_out) * m1 / acc
    ey2 = (a_in * m2 + a_out * (1 - m2)) / acc
    return float(acc), float(d + ey), float(ey2 - ey**2)


def verified_mean_error(
    t: np.ndarray | int, n: int, m: int, c: float, false_accept: float, false_reject: float
) -> np.ndarray:
    """Linearised E (mu_t - mu*)^2 of the verified loop: e_1 = 1/n, e_{t+1} = v0^2 e_t + v0/m.

    v0 is the kept variance at the truth; the relative error of the linearisation is O(1/m).
    """
    v0 = verifier_kept(c, false_accept, false_reject)[2]
    steps = np.asarray(t, float) - 1
    rho = v0**2
    geometric = steps if abs(1 - rho) < 1e-12 else (1 - rho**steps) / (1 - rho)  # sum_{j<t-1} rho^j
    return rho**steps / n + v0 / m * geometric


def improvement_threshold(c: float, n: int, m: int, false_reject: float = 0.0) -> float:
    """False-accept rate alpha* at which the stationary error v0/(m (1 - v0^2)) equals 1/n (nan if none in [0, 1]).

    Below alpha* the verified loop ends better than the real-data fit, above it worse.
    """
    from scipy.optimize import brentq

    if c <= 0 or false_reject >= 1:
        return float("nan")
    ratio = m / n
    target = (np.sqrt(1 + 4 * ratio**2) - 1) / (2 * ratio)  # v/(1 - v^2) = m/n; m = n: golden ratio - 1

    def gap(alpha: float) -> float:
        return verifier_kept(c, alpha, false_reject)[2] - target  # v0 increases with alpha, to 1 at 1 - f_r

    top = 1 - false_reject
    if gap(0.0) > 0:
        return float("nan")
    return float(brentq(gap, 0.0, top, xtol=1e-14, rtol=1e-13))


# ---- helpers ------------------------------------------------------------------------------------------


def _as_categorical(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, float)
    if p.ndim != 1 or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError("p must be a 1-D probability vector")
    return p


def _trapezoid(a: np.ndarray, log_rest: np.ndarray) -> np.ndarray:
    """Trapezoid sums over the grid (axis 0) of e^{a - e^a + log_rest}, a = log(u w_x)."""
    return _STEP * np.exp(a - np.exp(a) + log_rest).sum(axis=0)


def _log_grid(lw_min: float, k: int) -> np.ndarray:
    """Grid in s = log u covering the integrand: lower tail <= e^{s_lo}, upper <= e^{-e^{s_hi} K w_min}."""
    lo = -_TAIL - np.log(k)
    hi = np.log(_TAIL / k) - lw_min + 1.0
    return np.arange(lo, hi + _STEP, _STEP)
