"""theory.tails against a plain NumPy simulation of the categorical loop (|sim - formula| < 4 SE), an exact
enumeration of the joint multinomial chain, Hurwitz-zeta sums and theory.discrete's binomial chain."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import special, stats

from modelcollapse.theory import discrete as D
from modelcollapse.theory import tails as L

GAPPED = np.r_[0.5, 0.3, 0.1, np.full(20, 0.005)]  # a gap after rank 3: the fitted top-3 is the true one


# ---- the loop, simulated -------------------------------------------------------------------------------


def _truncate(f: np.ndarray, top_k: int | None, top_p: float | None) -> np.ndarray:
    """Rows of ``f`` cut to their top_k, then their nucleus (ties by index: stable sort on -f), renormalised."""
    order = np.argsort(-f, axis=1, kind="stable")
    ranked = np.take_along_axis(f, order, axis=1)
    if top_k is not None:
        ranked[:, top_k:] = 0.0
    if top_p is not None:
        mass = ranked / ranked.sum(axis=1, keepdims=True)
        ranked[np.cumsum(mass, axis=1) - mass > top_p] = 0.0
    out = np.empty_like(f)
    np.put_along_axis(out, order, ranked, axis=1)
    return out / out.sum(axis=1, keepdims=True)


def _simulate(
    p: np.ndarray,
    T: int,
    G: int,
    R: int,
    seed: int,
    top_k: int | None = None,
    top_p: float | None = None,
    accumulate: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(missing mass of the fit, of the law the fit samples from): (G, R) each, generation 1 = real fit."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(T, p, size=R)
    pooled = counts.astype(float)
    fit = counts / T
    fits, decoders = np.empty((G, R)), np.empty((G, R))
    for t in range(G):
        law = _truncate(fit, top_k, top_p)
        fits[t], decoders[t] = (fit == 0) @ p, (law == 0) @ p
        if t + 1 < G:
            counts = rng.multinomial(T, law)
            pooled += counts
            fit = pooled / pooled.sum(axis=1, keepdims=True) if accumulate else counts / T
    return fits, decoders


def _z(sim: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per generation: (MC mean - formula) / SE; a generation whose replicates all agree has SE 0."""
    return (sim.mean(axis=1) - predicted) / (sim.std(axis=1, ddof=1) / np.sqrt(sim.shape[1]))


# ---- exact oracles ------------------------------------------------------------------------------------------


def _joint_chain(p: np.ndarray, T: int, G: int, top_k: int | None = None, top_p: float | None = None) -> np.ndarray:
    """Exact E M_t, t = 1..G, from the Markov chain of the whole count vector (all compositions of T)."""
    states = np.array([c for c in itertools.product(range(T + 1), repeat=len(p)) if sum(c) == T])
    laws = _truncate(states / T, top_k, top_p)
    trans = np.stack([stats.multinomial.pmf(states, T, law) for law in laws])
    dist, missing, out = stats.multinomial.pmf(states, T, p), (states == 0) @ p, []
    for _ in range(G):
        out.append(dist @ missing)
        dist = dist @ trans
    return np.array(out)


def _infinite_zipf_missing_mass(beta: float, T: int, K: int = 10**6) -> float:
    """sum_{i>=1} p_i (1 - p_i)^T for p_i = i^-beta / zeta(beta): K terms plus the tail to second order in T p."""
    p = np.arange(1, K + 1.0) ** -beta / special.zeta(beta)
    z = special.zeta(beta)
    tail = special.zeta(beta, K + 1) / z - T * special.zeta(2 * beta, K + 1) / z**2
    return float(p @ np.exp(special.xlog1py(T, -p)) + tail)


# ---- generation 1 --------------------------------------------------------------------------------------------


def test_missing_mass_enumerated() -> None:
    p, T = np.array([0.5, 0.3, 0.15, 0.05]), 5
    total = 0.0
    for draws in itertools.product(range(4), repeat=T):
        seen = np.isin(np.arange(4), draws)
        total += np.prod(p[list(draws)]) * p[~seen].sum()
    assert L.missing_mass(p, T) == pytest.approx(total, abs=1e-15)
    assert L.missing_mass(np.array([0.5, 0.3, 0.2]), 2) == pytest.approx(0.4, abs=1e-15)


@pytest.mark.parametrize(("beta", "T"), [(1.5, 50), (2.0, 400)])
def test_missing_mass_monte_carlo(beta: float, T: int) -> None:
    p = L.zipf(200, beta)
    sim, _ = _simulate(p, T, 1, 4000, seed=int(T))
    assert abs(_z(sim, np.array([L.missing_mass(p, T)]))[0]) < 4


@pytest.mark.parametrize("beta", [1.5, 2.0, 3.0])
def test_missing_mass_asymptotic(beta: float) -> None:
    """E M_1 / (C T^-a) = 1 + c1/T + O(T^-2), c1 = -(1 - 1/beta)(2 - 1/beta)/2 from (1-p)^T = e^{-Tp}(1 - Tp^2/2).

    The sum differs from the integral by terms that vanish faster than any power of T. The O(T^-2) coefficient is
    below 3 for these beta (2.5 for beta = 3), so T (ratio - 1) must equal c1 within 5/T.
    """
    c1 = -(1 - 1 / beta) * (2 - 1 / beta) / 2
    for T in (1000, 10_000):
        ratio = _infinite_zipf_missing_mass(beta, T) / L.missing_mass_asymptotic(beta, T)
        assert abs(T * (ratio - 1) - c1) < 5 / T, (T, ratio)


# ---- the top-k and top-p floors -------------------------------------------------------------------------------


def test_floors_exact() -> None:
    p = np.array([0.1, 0.4, 0.2, 0.2, 0.1])
    assert L.topk_floor(p, 2) == pytest.approx(0.4, abs=1e-15)  # ties do not change the mass
    assert L.topk_floor(p, 5) == 0.0
    assert L.topk_floor(L.zipf(4, 1.0), 2) == pytest.approx(7 / 25, abs=1e-15)
    assert L.topp_floor(p, 0.5) == pytest.approx(0.4, abs=1e-15)  # kept: 0.4, then 0.2 (0.4 before it)
    assert L.topp_floor(p, 1.0) == 0.0
    assert L.topp_floor(np.array([0.7, 0.25, 0.05]), 0.6) == pytest.approx(0.3, abs=1e-15)


@pytest.mark.parametrize("beta", [1.5, 2.0, 3.0])
@pytest.mark.parametrize("k", [3, 5, 10, 50])
def test_topk_floor_asymptotic(beta: float, k: int) -> None:
    """Euler-Maclaurin for the completely monotone i^-beta: the remainder is below the first omitted term."""
    exact = special.zeta(beta, k + 1) / special.zeta(beta)  # sum_{i>k} p_i, infinite vocabulary
    ratio = exact / L.topk_floor_asymptotic(beta, k)
    two_terms = 1 - (beta - 1) / (2 * k) + beta * (beta - 1) / (12 * k**2)
    assert abs(ratio - two_terms) <= (beta - 1) * beta * (beta + 1) * (beta + 2) / (720 * k**4)
    mid = exact / L.topk_floor_asymptotic(beta, k, midpoint=True)  # convex: the midpoint rule overestimates
    assert 0 <= 1 - mid <= beta * (beta - 1) / (24 * (k + 0.5) ** 2)
    end = special.zeta(beta, 10**4 + 1)  # a finite vocabulary renormalises what is left of the series
    finite = (special.zeta(beta, k + 1) - end) / (special.zeta(beta) - end)
    assert L.topk_floor(L.zipf(10**4, beta), k) == pytest.approx(finite, rel=1e-9)


# ---- replace, no truncation: exact -------------------------------------------------------------------------------


def test_replace_exact_against_joint_chain_and_count_chain() -> None:
    p = np.array([0.4, 0.3, 0.2, 0.1])
    assert L.replace_missing_mass(p, 6, 6) == pytest.approx(_joint_chain(p, 6, 6), abs=1e-14)
    q = L.zipf(12, 1.3)
    by_symbol = sum(pi * D.count_chain(7, 25, pi)[:, 0] for pi in q)
    assert L.replace_missing_mass(q, 25, 7) == pytest.approx(by_symbol, abs=1e-13)
    assert L.replace_missing_mass(q, 25, 7, top_k=12) == pytest.approx(by_symbol, abs=1e-13)  # top_k = K: no cut
    assert L.replace_missing_mass(q, 25, 1, top_k=2)[0] == pytest.approx(L.missing_mass(q, 25), abs=1e-15)
    x = np.array([0.0, 0.013, 0.5, 1.0])
    assert L._binom(40, x) == pytest.approx(stats.binom.pmf(np.arange(41)[None, :], 40, x[:, None]), abs=1e-14)


def test_replace_monte_carlo() -> None:
    p = L.zipf(200, 1.5)
    sim, _ = _simulate(p, 50, 8, 4000, seed=1)
    z = _z(sim, L.replace_missing_mass(p, 50, 8))
    assert np.max(np.abs(z)) < 4, z


@pytest.mark.parametrize(("beta", "K", "T"), [(2.0, 50_000, 200), (3.0, 5000, 1000)])
def test_replace_asymptotic(beta: float, K: int, T: int) -> None:
    """Poisson limit of the binomial steps (drops O(c^2/T) per step): relative error O(t/T), measured <= t/(4T).

    Also the finite vocabulary: K^(1 - beta)/((beta - 1) zeta) is below 2e-4 of E M_t here.
    """
    exact = L.replace_missing_mass(L.zipf(K, beta), T, 10)
    for t in range(1, 11):
        assert abs(exact[t - 1] / L.replace_missing_mass_asymptotic(beta, T, t) - 1) < (t + 1) / T
    if beta == 3.0:  # with top-k = 10 the midpoint floor adds beta (beta - 1)/(24 (k + 1/2)^2) = 2.3e-3
        cut = L.replace_missing_mass(L.zipf(K, beta), T, 10, top_k=10)
        for t in range(2, 11):
            asym = L.replace_missing_mass_asymptotic(beta, T, t, 10)
            assert abs(cut[t - 1] / asym - 1) < (t + 1) / T + beta * (beta - 1) / (24 * 10.5**2)
    g = D.g_iterates(10)
    ratios = [L.replace_missing_mass_asymptotic(beta, T, t) / L.missing_mass_asymptotic(beta, T) for t in (1, 5, 10)]
    assert ratios == pytest.approx(g[[0, 4, 9]] ** (1 / beta - 1), rel=1e-12)  # T is worth g_t T ~ 2T/t


# ---- replace with truncation: approximate --------------------------------------------------------------------------


def test_replace_topk_monte_carlo_where_it_holds() -> None:
    """Gap after rank 3 at T = 200: P(fitted top-3 != true top-3) ~ 2e-6; the chain of rank 3 dies slowly."""
    T, G = 200, 30
    sim, _ = _simulate(GAPPED, T, G, 4000, seed=2, top_k=3)
    pred = L.replace_missing_mass(GAPPED, T, G, top_k=3)
    floor = L.topk_floor(GAPPED, 3)
    assert np.all(sim[1:] >= floor - 1e-12)  # every path, every generation t >= 2: at most 3 symbols survive
    assert np.all(sim[1] == sim[1, 0]) and abs(sim[1, 0] - floor) < 1e-12  # generation 2: exactly the floor ...
    assert 0 <= pred[1] - floor < 1e-6  # ... and the formula's excess is below what 4000 replicates can see
    z = _z(sim[[0, 4, 9, 19, 29]], pred[[0, 4, 9, 19, 29]])
    assert np.max(np.abs(z)) < 4, z


def test_replace_topk_monte_carlo_where_it_fails() -> None:
    """Zipf(1.2) with k = 20 at T = 50: the fitted top-20 is often not the true one. At generation 2 unseen top-k
    symbols are replaced by seen tail symbols (sim below the formula); later those weak symbols die (sim above)."""
    p = L.zipf(200, 1.2)
    sim, _ = _simulate(p, 50, 5, 4000, seed=3, top_k=20)
    z = _z(sim, L.replace_missing_mass(p, 50, 5, top_k=20))
    assert z[1] < -5 and z[4] > 8, z


def test_replace_truncated_exact_small_cases() -> None:
    """At tiny T the formula misses the randomness of the kept set, which the joint chain has exactly."""
    p = np.array([0.4, 0.3, 0.2, 0.1])
    exact, approx = _joint_chain(p, 10, 5, top_k=2), L.replace_missing_mass(p, 10, 5, top_k=2)
    assert exact[0] == pytest.approx(approx[0], abs=1e-14)
    assert np.all(exact[1:] > approx[1:] + 0.015)  # 0.360 vs 0.327 at generation 2
    assert np.all(exact[1:] >= L.topk_floor(p, 2))
    q = np.array([0.7, 0.25, 0.05])  # nucleus 0.6 sits 1.2 SE from the top symbol's fitted mass at T = 30
    assert _joint_chain(q, 30, 3, top_p=0.6)[1] < L.replace_missing_mass(q, 30, 3, top_p=0.6)[1] - 0.02


def test_replace_topp_monte_carlo() -> None:
    """Nucleus 0.7 of (.36, .26, .17, .12, .09): the population kept sets are {1,2,3}, then {1,2} for good. At
    T = 2000 every boundary is >= 4.9 SE from the fitted masses up to generation 5 (Wright-Fisher drift included)
    and the kept symbols never die."""
    p, T, G = np.array([0.36, 0.26, 0.17, 0.12, 0.09]), 2000, 5
    sim, _ = _simulate(p, T, G, 500, seed=4, top_p=0.7)
    pred = L.replace_missing_mass(p, T, G, top_p=0.7)
    assert pred[1] == pytest.approx(L.topp_floor(p, 0.7), abs=1e-12)
    assert pred[1:] == pytest.approx([0.21, 0.38, 0.38, 0.38], abs=1e-12)  # the nucleus of the nucleus
    assert np.all(np.abs(sim[1:] - pred[1:, None]) < 1e-12)  # every replicate


# ---- accumulate -------------------------------------------------------------------------------------------------


def test_accumulate_monte_carlo() -> None:
    p, T, k = L.zipf(100, 1.5), 50, 5
    fits, decoders = _simulate(p, T, 6, 3000, seed=5, top_k=k, accumulate=True)
    assert np.all(fits == fits[0])  # a pooled count is zero iff the real count is: every path, every generation
    assert abs(_z(fits[:1], L.accumulate_missing_mass(p, T, 6)[:1])[0]) < 4
    assert np.all(decoders >= L.topk_floor(p, k) - 1e-12)  # the decoder keeps at most k symbols ...
    assert np.all(decoders == decoders[0])  # ... and always the same ones: only they gain counts


# ---- scaling laws -----------------------------------------------------------------------------------------------


def test_local_slope_monte_carlo() -> None:
    """Secant slopes between T = 40 and 160 (ratio 2 around 80), generation 1 and 3; SE by the delta method."""
    p, R = L.zipf(200, 1.5), 4000
    lo, hi = (_simulate(p, n, 3, R, seed=n)[0] for n in (40, 160))
    for t in (1, 3):
        a, b = lo[t - 1], hi[t - 1]
        slope = np.log(b.mean() / a.mean()) / np.log(4)
        se = np.hypot(a.std(ddof=1) / a.mean(), b.std(ddof=1) / b.mean()) / np.sqrt(R) / np.log(4)
        assert abs(slope - L.local_slope(p, 80, t, ratio=2.0)) < 4 * se, (t, slope)


def test_scaling_law_and_its_change() -> None:
    beta, T = 2.0, 10_000
    p = L.zipf(10**6, beta)
    tail = (10**6) ** (1 - beta) / ((beta - 1) * special.zeta(beta))  # mass beyond the vocabulary
    # neglected: the 1/T correction of the slope (|c1|/T = 4e-5) and the vocabulary's end (tail / E M_1, 9e-5)
    c1 = (1 - 1 / beta) * (2 - 1 / beta) / 2
    tol = 2 * (c1 / T + tail / L.missing_mass(p, T))
    assert abs(L.local_slope(p, T, 1) - L.scaling_exponent(beta)) < tol
    q = L.zipf(2000, 3.0)
    for t in (2, 5):  # replace without truncation keeps the exponent (O(t/T) as in test_replace_asymptotic)
        assert abs(L.local_slope(q, 400, t) - L.scaling_exponent(3.0)) < (t + 1) / 400
    q, grid = L.zipf(1000, 2.0), (30, 100, 300, 1000)
    first = [L.local_slope(q, n, 1) for n in grid]  # the real-data fit keeps its exponent (within 3%) ...
    assert np.allclose(first, -0.5, rtol=0.03), first
    cut = [L.local_slope(q, n, 2, top_k=5) for n in grid]  # ... the top-5 loop flattens to 0 by T = 1000
    assert np.all(np.diff(cut) > 0) and cut[0] < -0.2 and abs(cut[-1]) < 1e-5, cut
    assert L.replace_missing_mass(q, 1000, 2, top_k=5)[-1] == pytest.approx(L.topk_floor(q, 5), rel=1e-6)


# ---- validation and speed ---------------------------------------------------------------------------------------


def test_validation() -> None:
    with pytest.raises(ValueError, match="p must be"):
        L.missing_mass(np.array([0.5, 0.6]), 3)
    with pytest.raises(ValueError, match="T must be"):
        L.replace_missing_mass(L.zipf(3, 1.0), 0, 2)
    with pytest.raises(ValueError, match="generations must be"):
        L.replace_missing_mass(L.zipf(3, 1.0), 5, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top_k must be"):
        L.replace_missing_mass(L.zipf(3, 1.0), 5, 2, top_k=0)
    with pytest.raises(ValueError, match="top_p must be"):
        L.topp_floor(L.zipf(3, 1.0), 1.5)
    with pytest.raises(ValueError, match="beta must be"):
        L.missing_mass_asymptotic(1.0, 10)
    with pytest.raises(ValueError, match="k must be"):
        L.topk_floor(L.zipf(3, 1.0), 0)
    with pytest.raises(ValueError, match="ratio must be"):
        L.local_slope(L.zipf(3, 1.0), 10, ratio=1.0)


def test_chain_is_vectorised() -> None:
    """K = 1000 distinct probabilities, T = 1000, 10 generations: two binomial matrices of 1e6 cells."""
    out = L.replace_missing_mass(L.zipf(1000, 1.5), 1000, 10, top_k=50)
    assert out.shape == (10,) and np.all(np.diff(out) > 0)


def test_topk_gap_gates_the_truncated_predictions() -> None:
    """z_k by hand; a top-k replace curve is drawn where z_k >= 3 (the bundled top-2 Zipf(2) cells) and not
    where the fitted top k is a coin toss (top-20 of Zipf(1.2) at T = 50, z_20 ~ 0.02), nor for top-p."""
    from modelcollapse import load
    from modelcollapse.analysis.predictions import predict

    p = np.array([0.5, 0.3, 0.2])
    assert L.topk_gap(p, 1, 100) == pytest.approx(10 * 0.2 / np.sqrt(0.8))
    assert L.topk_gap(p, 3, 100) == float("inf")

    def curves(k: int | None, top_p: float | None, categories: int, exponent: float, n: int) -> set[str]:
        exp = load(
            {
                "name": "t",
                "source": {"kind": "categorical", "categories": categories, "exponent": exponent},
                "model": {"kind": "categorical", "top_k": k, "top_p": top_p},
                "samples_per_generation": n,
                "workflow": ["replace", "accumulate"],
                "generations": 3,
                "replicates": 2,
            }
        )
        return {wf for wf, _ in predict(exp)}

    assert curves(2, None, 200, 2.0, 300) == {"replace", "accumulate"}
    assert curves(20, None, 200, 1.2, 50) == {"accumulate"}
    assert curves(None, 0.5, 200, 2.0, 300) == {"accumulate"}
