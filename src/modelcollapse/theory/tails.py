"""Missing mass of a categorical fit and the tails it loses ("A Tale of Tails", Dohmatob et al. 2024).

Setting: ``p`` over ``K`` symbols (Zipf: ``p_i ∝ i^-beta``). Generation 1 is the frequency fit to ``T`` real
draws from ``p``; generation ``t >= 2`` (replace) fits ``T`` draws from the fit of generation ``t - 1``,
truncated to its ``top_k`` symbols and/or its nucleus ``top_p`` (``theory.selection.truncated``, ties by
index). The error is Hutter's memorisation error, the missing mass ``M_t = sum_i p_i 1{fit_t(i) = 0}``
(no smoothing). ``a = 1 - 1/beta``, ``zeta`` is Riemann's zeta, ``g_t`` the iterates of ``theory.discrete``.
Derivations and Monte-Carlo checks: docs/tails-theory.md, tests/test_theory_tails.py.

* exact: ``E M_1 = sum_i p_i (1 - p_i)^T``; ``E M_t`` under replace without truncation, from the marginal
  binomial chain of each symbol's count; under accumulate ``M_t = M_1`` on every path, with or without
  truncation (the real sample stays in the pool); the top-k floor ``sum_{i>k} p_i``, which bounds ``M_t``
  (t >= 2, replace, top-k) and the decoder's missing mass (any workflow) from below on every path.
* asymptotic (infinite Zipf vocabulary): ``E M_1 ~ C T^-a`` with ``C = Gamma(a) / (beta zeta(beta)^(1/beta))``;
  floor ``~ k^(1 - beta) / ((beta - 1) zeta(beta))``; replace ``E M_t ~ C (h_t T)^-a`` (``h_t = g_t ~ 2/t``).
* approx. (truncation): the kept set of each generation is the population one and the fitted kept mass is
  its mean; then ``E M_t ~ floor + sum_kept p_i P(c_t^i = 0)`` for a binomial chain with a renormalised step.

>>> round(missing_mass(np.array([0.5, 0.3, 0.2]), 2), 12)  # .5 .5^2 + .3 .7^2 + .2 .8^2
0.4
>>> round(topk_floor(zipf(4, 1.0), 2), 12)  # (1/3 + 1/4) / (1 + 1/2 + 1/3 + 1/4)
0.28
>>> round(missing_mass_asymptotic(2.0, 10_000), 5)  # sqrt(pi / zeta(2)) / 2 T^-1/2
0.00691
"""

from __future__ import annotations

import numpy as np
from scipy.special import gamma, gammaincc, gammaln, xlog1py, xlogy, zeta

from modelcollapse.theory.discrete import g_iterates
from modelcollapse.theory.selection import truncated

_CELLS = 1 << 22  # symbols x counts per block of binomial laws (bounds the memory of K x (T + 1))


MAX_EXACT_ROWS = 4000  # replace_missing_mass holds a (T+1) x (T+1) transition matrix: 128 MB at 4000


def zipf(K: int, beta: float) -> np.ndarray:
    """``p_i = i^-beta / sum_{j<=K} j^-beta`` for ranks ``i = 1..K``."""
    _count("K", K)
    p = np.arange(1, K + 1, dtype=float) ** -float(beta)
    return p / p.sum()


def missing_mass(p: np.ndarray, T: int) -> float:
    """Exact ``E M_1 = sum_i p_i (1 - p_i)^T``: the true mass of the symbols unseen in ``T`` draws."""
    p = _as_p(p)
    return float(p @ np.exp(xlog1py(_count("T", T), -p)))


def missing_mass_asymptotic(beta: float, T: float) -> float:
    """``C T^-(1 - 1/beta)``, ``C = Gamma(1 - 1/beta) / (beta zeta(beta)^(1/beta))`` (infinite Zipf, T -> inf).

    Exact / this ``= 1 - (1 - 1/beta)(2 - 1/beta) / (2T) + O(T^-2)`` (``(1 - p)^T = e^{-Tp}(1 - Tp^2/2 + ...)``).
    """
    a = 1 - 1 / _beta(beta)
    return float(gamma(a) / (beta * zeta(beta) ** (1 / beta)) * float(T) ** -a)


def scaling_exponent(beta: float) -> float:
    """``-(1 - 1/beta)``: the log-log slope of ``E M_1`` (and of replace's ``E M_t``) in ``T``."""
    return -(1 - 1 / _beta(beta))


def topk_floor(p: np.ndarray, k: int) -> float:
    """Exact ``sum_{i>k} p_(i)``: the mass outside the ``k`` most likely symbols."""
    return float(-np.sort(-_as_p(p))[_count("k", k) :].sum())


def topk_floor_asymptotic(beta: float, k: int, midpoint: bool = False) -> float:
    """``k^(1 - beta) / ((beta - 1) zeta(beta))`` (infinite Zipf); exact / this ``= 1 - (beta - 1)/(2k) + O(k^-2)``.

    ``midpoint=True`` puts the boundary at ``k + 1/2``: exact / this ``in [1 - beta (beta - 1) / (24 (k + 1/2)^2), 1]``.
    """
    return float((_count("k", k) + 0.5 * midpoint) ** (1 - _beta(beta)) / ((beta - 1) * zeta(beta)))


def topk_gap(p: np.ndarray, k: int, T: int) -> float:
    """``z_k = sqrt(T) (p_(k) - p_(k+1)) / sqrt(p_(k) + p_(k+1))``: how surely T samples rank the true top k
    first (the truncated replace forms need ``z_k >> 1``); infinite when nothing lies beyond rank k."""
    ranked = -np.sort(-_as_p(p))
    k = _count("k", k)
    if k >= len(ranked) or ranked[k] == 0:
        return float("inf")
    return float(np.sqrt(_count("T", T)) * (ranked[k - 1] - ranked[k]) / np.sqrt(ranked[k - 1] + ranked[k]))


def topp_floor(p: np.ndarray, top_p: float) -> float:
    """Mass outside the nucleus of ``p``: the shortest prefix of ranks whose mass reaches ``top_p``."""
    p = _as_p(p)
    return float(p[truncated(p, top_p=_top_p(top_p)) == 0].sum())


def replace_missing_mass(
    p: np.ndarray, T: int, generations: int, top_k: int | None = None, top_p: float | None = None
) -> np.ndarray:
    """``E M_t`` under replace for ``t = 1..generations``: exact untruncated, approx. with ``top_k``/``top_p``.

    Symbol i's count is a Markov chain ``c_1 ~ Bin(T, p_i)``, ``c_{s+1} ~ Bin(T, min(1, c_s / (T r_s)))`` while
    i is in the population kept set ``S_s`` (``S_0`` all symbols, ``S_s = supp truncated(p_s)``, ``p_{s+1} =
    truncated(p_s)``, ``p_1 = p``) and ``r_s = p_s(S_s)``; then ``E M_t = p(not S_{t-1}) + sum_{S_{t-1}} p_i
    P(c_t^i = 0)``. Without truncation every ``r_s = 1`` and each symbol's marginal chain is exactly this one.
    With truncation two approximations: the fitted kept set is ``S_s`` and its fitted mass is ``r_s`` (top-k:
    only step 1 renormalises; later fits have at most k symbols, so the cut is a no-op).
    """
    sets, zero = _chains(p, T, generations, top_k, top_p)
    p = _as_p(p)
    return np.array([p[~on].sum() + p[on] @ zero[on, t] for t, on in enumerate(sets)])


def expected_support(p: np.ndarray, T: int, generations: int) -> np.ndarray:
    """Exact ``E #{symbols the fit keeps}`` under replace, t = 1..generations: ``sum_i P(c_t^i > 0)`` of the
    same chains (``theory.discrete.expected_support``, computed here in one product per generation)."""
    _, zero = _chains(p, T, generations)
    return (1.0 - zero).sum(axis=0)


def _chains(
    p: np.ndarray, T: int, generations: int, top_k: int | None = None, top_p: float | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """The population kept sets ``S_0..S_{G-1}`` and ``P(c_t^i = 0)`` ``(K, G)`` of :func:`replace_missing_mass`."""
    p, T, G = _as_p(p), _count("T", T), _count("generations", generations)
    if top_k is not None:
        _count("top_k", top_k)
    sets, ratios, law = [np.ones(len(p), bool)], [], p
    for _ in range(1, G):
        nxt = truncated(law, top_k, None if top_p is None else _top_p(top_p))
        on = nxt > 0
        ratios.append(1.0 if on.sum() == (law > 0).sum() else float(law[on].sum()))
        sets.append(on)
        law = nxt
    last = max((s for s, r in enumerate(ratios, 1) if r != 1.0), default=0)  # step s > last: plain Wright-Fisher
    x = np.arange(T + 1) / T
    plain = _binom(T, x)
    hit = [np.eye(T + 1)[:, 0]]  # hit[j] = P(count is 0 after j plain steps | count)
    for _ in range(1, G):
        hit.append(plain @ hit[-1])
    steps = [_binom(T, np.minimum(1.0, x / r)) for r in ratios[:last]]  # steps 1..last renormalise
    cols = []
    for t in range(1, G + 1):
        v = hit[max(0, t - 1 - last)]
        for s in range(min(last, t - 1), 0, -1):
            v = steps[s - 1] @ v
        cols.append(v)
    values, inverse = np.unique(p, return_inverse=True)
    return sets, _mix(T, values, np.stack(cols, axis=1))[inverse]  # (K, G): P(c_t^i = 0) along the chain


def replace_missing_mass_asymptotic(beta: float, T: float, t: int, k: int | None = None) -> float:
    """Approx. ``E M_t`` of a Zipf law (infinite vocabulary, Poisson limit of the chain, large ``T``):

    ``floor + C (h_t T)^-a Q(a, h_t T (k + 1/2)^-beta / zeta(beta))``, ``h_t = 1 - exp(-g_{t-1} / (1 - floor))``
    (``h_1 = 1``; ``= g_t`` untruncated), floor ``topk_floor_asymptotic(beta, k, midpoint=True)`` for ``t >= 2``
    (0 if ``k`` is None), ``Q`` the regularised upper incomplete gamma (1 when ``k`` is None).
    """
    a, t = 1 - 1 / _beta(beta), _count("t", t)
    floor = 0.0 if k is None or t == 1 else topk_floor_asymptotic(beta, k, midpoint=True)
    h = 1.0 if t == 1 else 1 - np.exp(-g_iterates(t - 1)[-1] / (1 - floor))
    cut = 1.0 if k is None or t == 1 else gammaincc(a, h * T * (_count("k", k) + 0.5) ** -beta / zeta(beta))
    return float(floor + cut * missing_mass_asymptotic(beta, h * T))


def accumulate_missing_mass(p: np.ndarray, T: int, generations: int) -> np.ndarray:
    """Exact ``E M_t = E M_1`` for all t under accumulate, truncated or not: a pooled count is 0 iff the real one is.

    (On every path ``M_t = M_1``; with ``top_k`` the decoder's kept set is frozen at the real fit's top k.)
    """
    return np.full(_count("generations", generations), missing_mass(p, T))


def local_slope(
    p: np.ndarray, T: int, t: int = 1, top_k: int | None = None, top_p: float | None = None, ratio: float = 1.25
) -> float:
    """Secant ``d log E M_t / d log T`` of :func:`replace_missing_mass` over ``[round(T/ratio), round(T ratio)]``."""
    if not ratio > 1:
        raise ValueError(f"ratio must be > 1, got {ratio}")
    lo, hi = max(1, round(_count("T", T) / ratio)), round(T * ratio)
    if _count("t", t) == 1:  # generation 1 is the real-data fit: no chain, no truncation
        e_lo, e_hi = missing_mass(p, lo), missing_mass(p, hi)
    else:
        e_lo, e_hi = (replace_missing_mass(p, n, t, top_k, top_p)[-1] for n in (lo, hi))
    return float(np.log(e_hi / e_lo) / np.log(hi / lo))


# ---- helpers ------------------------------------------------------------------------------------------


def _binom(T: int, x: np.ndarray) -> np.ndarray:
    """Rows ``Bin(T, x_j)`` over counts ``0..T`` (log space; exact at x = 0 and 1)."""
    c = np.arange(T + 1.0)
    log_choose = gammaln(T + 1.0) - gammaln(c + 1) - gammaln(T - c + 1)
    x = np.asarray(x, float)[:, None]
    return np.exp(log_choose + xlogy(c, x) + xlog1py(T - c, -x))


def _mix(T: int, values: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``Bin(T, values) @ v`` in blocks of symbols."""
    step = max(1, _CELLS // (T + 1))
    return np.concatenate([_binom(T, values[i : i + step]) @ v for i in range(0, len(values), step)])


def _as_p(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, float)
    if p.ndim != 1 or p.size == 0 or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError("p must be a 1-D probability vector")
    return p


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _beta(beta: float) -> float:
    if not beta > 1:
        raise ValueError(f"beta must be > 1 (an infinite Zipf law must be normalisable), got {beta}")
    return float(beta)


def _top_p(top_p: float) -> float:
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    return float(top_p)
