"""The eight definitions of model collapse (Schaeffer et al., 2025), as tests on metric trajectories.

Each definition reads ``(replicates, generations)`` arrays of the metrics it needs and returns a
:class:`Verdict` with its evidence: the statistic, the threshold, the first generation where the
condition held, and a confidence (a z-score on replicate-level standard errors). Thresholds are
parameters of :class:`Thresholds` so a user can state their own definition precisely.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import numpy as np

COLLAPSES, STABLE, UNDETERMINED = "collapses", "does not collapse", "undetermined"
Trajectories = Mapping[str, np.ndarray]  # metric -> (replicates, generations)

LOSSES = ("test_loss", "test_nll", "test_mse", "excess_risk")  # population risk, in order of preference
# errors that tend to 0 with n
ERRORS = ("excess_risk", "mean_sq_error", "w2_sq", "l2_sq_to_truth", "tv_to_truth", "sliced_w2", "missing_mass")
VARIANCES = ("cov_logdet_change", "cov_trace_ratio", "variance_ratio", "entropy", "gini_simpson", "heterozygosity")


@dataclass(frozen=True)
class Thresholds:
    z: float = 3.0  # one-sided significance, p < 0.0013
    catastrophic_factor: float = 2.0  # definition 1: loss above this multiple of its generation-1 value
    growth_ratio: float = 0.5  # definition 3: late increase / early increase at least this means still growing
    plateau_ratio: float = 0.25  # ... at most this means a plateau
    exponent_change: float = 0.25  # definition 4: |alpha_T - alpha_1|
    variance_collapsed: float = 0.1  # definition 5: variance ratio to generation 1 below this
    variance_kept: float = 0.5  # ... above this (and no steady decline) means no collapse
    mode_shift: float = 0.1  # definition 6: rise of the TV distance between sample and real mode shares
    tail_kept: float = 0.5  # definition 7: tail mass or support relative to generation 1
    precision_drop: float = 0.1  # definition 8: fall of k-NN precision


@dataclass(frozen=True)
class Verdict:
    definition: int
    name: str
    outcome: str
    metric: str | None = None
    statistic: float = float("nan")
    threshold: str = ""
    first_generation: int | None = None
    confidence: float = float("nan")  # z-score of the evidence
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _pick(traj: Trajectories, names: tuple[str, ...]) -> str | None:
    return next((m for m in names if m in traj), None)


def _paired_z(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean of b - a over replicates and its z-score (finite pairs only)."""
    with np.errstate(invalid="ignore"):  # inf - inf: a pair that is not finite, dropped next
        d = b - a
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return float("nan"), float("nan")
    se = d.std(ddof=1) / np.sqrt(len(d))
    mean = float(d.mean())
    return mean, (mean / se if se > 0 else (np.inf * np.sign(mean) if mean else 0.0))


def _first(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) + 1 if len(idx) else None


def _loss(traj: Trajectories, number: int, name: str) -> tuple[str, np.ndarray] | Verdict:
    """The test-loss metric and its trajectories, or an undetermined verdict if it is missing or starts infinite."""
    m = _pick(traj, LOSSES)
    if m is None:
        return Verdict(number, name, UNDETERMINED, note="no test-loss metric")
    if (~np.isfinite(traj[m][:, 0])).mean() > 0.5:
        return Verdict(number, name, UNDETERMINED, m, note="the generation-1 loss is already infinite (use smoothing)")
    return m, traj[m]


def catastrophic(traj: Trajectories, th: Thresholds) -> Verdict:
    """1. Catastrophic increase of population risk: test loss exceeds k times its generation-1 value, or diverges."""
    name = "catastrophic increase of population risk"
    got = _loss(traj, 1, name)
    if isinstance(got, Verdict):
        return got
    m, x = got
    nonfinite = (~np.isfinite(x)).mean(axis=0)
    means = np.array([col[np.isfinite(col)].mean() if np.isfinite(col).any() else np.inf for col in x.T])
    base = means[0]
    bound = th.catastrophic_factor * base if base > 0 else base + th.catastrophic_factor * abs(base)
    over = (means > bound) | (nonfinite > 0.5)
    last = x[:, -1][np.isfinite(x[:, -1])]
    z = (last.mean() - bound) / (last.std(ddof=1) / np.sqrt(len(last))) if len(last) > 1 else float("nan")
    collapsed = bool(over[-1]) and (nonfinite[-1] > 0.5 or z > th.z)
    return Verdict(
        1,
        name,
        COLLAPSES if collapsed else STABLE,
        m,
        float(means[-1] / base) if base else float("nan"),
        f"mean loss > {th.catastrophic_factor:g} x generation 1 (or non-finite in most replicates)",
        _first(over),
        float(z),
    )


def _diverged(x: np.ndarray, number: int, name: str, metric: str) -> Verdict | None:
    """A collapse verdict when the loss is non-finite in most replicates at the last generation."""
    share = (~np.isfinite(x)).mean(axis=0)
    if share[-1] > 0.5:
        return Verdict(
            number,
            name,
            COLLAPSES,
            metric,
            float(share[-1]),
            "loss non-finite in most replicates",
            _first(share > 0.5),
            float("inf"),
            note="the loss diverged to infinity",
        )
    return None


def any_increase(traj: Trajectories, th: Thresholds) -> Verdict:
    """2. Any increase of population risk: a significant rise of test loss over generation 1 (paired by replicate)."""
    name = "any increase of population risk"
    got = _loss(traj, 2, name)
    if isinstance(got, Verdict):
        return got
    m, x = got
    if (v := _diverged(x, 2, name, m)) is not None:
        return v
    zs = np.array([_paired_z(x[:, 0], x[:, g])[1] for g in range(x.shape[1])])
    rise, z = _paired_z(x[:, 0], x[:, -1])
    return Verdict(
        2, name, COLLAPSES if z > th.z else STABLE, m, rise, f"paired z of the rise > {th.z:g}", _first(zs > th.z), z
    )


def diverging(traj: Trajectories, th: Thresholds) -> Verdict:
    """3. Asymptotically diverging population risk: the loss still grows over the late generations (no plateau).

    Compares the late increase (T/2 -> T) with the early one (1 -> T/2): about 1 for linear growth,
    about 0 for a plateau such as accumulate's sum 1/i^2.
    """
    name = "asymptotically diverging population risk"
    got = _loss(traj, 3, name)
    if isinstance(got, Verdict):
        return got
    m, x = got
    if x.shape[1] < 4:
        return Verdict(3, name, UNDETERMINED, m, note="needs the test loss over at least 4 generations")
    if (v := _diverged(x, 3, name, m)) is not None:
        return v
    mid = x.shape[1] // 2
    early, _ = _paired_z(x[:, 0], x[:, mid - 1])
    late, z = _paired_z(x[:, mid - 1], x[:, -1])
    ratio = late / early if early > 0 else (np.inf if late > 0 else 0.0)
    if z > th.z and ratio >= th.growth_ratio:
        outcome = COLLAPSES
    elif z <= th.z or ratio <= th.plateau_ratio:
        outcome = STABLE
    else:
        outcome = UNDETERMINED
    return Verdict(
        3,
        name,
        outcome,
        m,
        float(ratio),
        f"late/early increase >= {th.growth_ratio:g} with late z > {th.z:g} (plateau: <= {th.plateau_ratio:g})",
        None,
        float(z),
    )


def collapsing_variance(traj: Trajectories, th: Thresholds) -> Verdict:
    """5. Collapsing variance: the model's variance (det, trace, entropy, diversity) goes to 0.

    Uses the geometric mean of the ratio to generation 1 (log det differences for Gaussians).
    """
    name = "collapsing variance"
    m = _pick(traj, VARIANCES)
    if m is None:
        return Verdict(5, name, UNDETERMINED, note="no variance metric")
    x = traj[m]
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = x - x[:, :1] if m == "cov_logdet_change" else np.log(x) - np.log(x[:, :1])
    logs = np.where(np.isnan(logs), -np.inf, logs)
    zero_share = np.isneginf(logs).mean(axis=0)
    finite = np.where(np.isfinite(logs), logs, np.nan)
    with warnings.catch_warnings():  # a generation where every replicate's variance vanished: NaN, judged below
        warnings.simplefilter("ignore", RuntimeWarning)
        geo = np.exp(np.nanmean(finite, axis=0)) * (zero_share < 0.5)
    mid = x.shape[1] // 2
    early, _ = _paired_z(finite[:, 0], finite[:, max(mid - 1, 0)])
    late, zlate = _paired_z(finite[:, max(mid - 1, 0)], finite[:, -1])
    steady = early < 0 and late < 0 and -zlate > th.z and late / early >= th.growth_ratio
    gone = (geo < th.variance_collapsed) | (zero_share >= 0.5)
    if gone[-1] or steady:
        outcome = COLLAPSES
    elif geo[-1] >= th.variance_kept:
        outcome = STABLE
    else:
        outcome = UNDETERMINED
    return Verdict(
        5,
        name,
        outcome,
        m,
        float(geo[-1]),
        f"geometric-mean ratio to generation 1 < {th.variance_collapsed:g}, or a steady log decline; "
        f">= {th.variance_kept:g} kept",
        _first(gone),
        float(-zlate),
    )


def _relative_drop(
    traj: Trajectories, metric: str, kept: float, th: Thresholds, number: int, name: str, what: str
) -> Verdict:
    x = traj[metric]
    with warnings.catch_warnings():  # a metric undefined for this setting is NaN everywhere: its verdict is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(x, axis=0)
    ratio = means / means[0] if means[0] > 0 else np.full_like(means, np.nan)
    _, z = _paired_z(x[:, 0], x[:, -1])
    lost = ratio < kept
    outcome = COLLAPSES if lost[-1] and -z > th.z else STABLE
    return Verdict(
        number, name, outcome, metric, float(ratio[-1]), f"{what} < {kept:g} x generation 1", _first(lost), float(-z)
    )


def lost_tails(traj: Trajectories, th: Thresholds) -> Verdict:
    """7. Disappearance of real tail data: a minority group's share, mass beyond real quantiles, surviving
    support, rare tokens."""
    name = "disappearance of real tail data"
    m = _pick(traj, ("minority_share", "tail_kept", "support_size", "tail_mass_q95", "rare_token_share"))
    if m is None:
        return Verdict(7, name, UNDETERMINED, note="no tail metric")
    return _relative_drop(traj, m, th.tail_kept, th, 7, name, m)


def entangled_modes(traj: Trajectories, th: Thresholds) -> Verdict:
    """6. Entanglement of real data modes: samples' shares of the real modes drift from the real shares."""
    name = "entanglement of real data modes"
    if "mode_share_tv" not in traj:
        return Verdict(6, name, UNDETERMINED, note="no mode metric (needs a multi-modal real source)")
    x = traj["mode_share_tv"]
    if not np.isfinite(x).any():
        return Verdict(6, name, UNDETERMINED, note="the source has no labelled modes")
    rise, z = _paired_z(x[:, 0], x[:, -1])
    means = np.nanmean(x, axis=0)
    over = means - means[0] > th.mode_shift
    return Verdict(
        6,
        name,
        COLLAPSES if over[-1] and z > th.z else STABLE,
        "mode_share_tv",
        rise,
        f"TV of mode shares rises by > {th.mode_shift:g}",
        _first(over),
        z,
    )


def hallucination(traj: Trajectories, th: Thresholds) -> Verdict:
    """8. Appearance of hallucinated data: fewer model samples look real (k-NN precision falls, or for conformers
    the share with chemically plausible bonds)."""
    name = "appearance of hallucinated data"
    metric = next((m for m in HALLUCINATION if m in traj), None)
    if metric is None:
        return Verdict(8, name, UNDETERMINED, note="no precision metric (needs sample-based families)")
    x = traj[metric]
    drop, z = _paired_z(x[:, -1], x[:, 0])
    means = np.nanmean(x, axis=0)
    fell = means[0] - means > th.precision_drop
    return Verdict(
        8,
        name,
        COLLAPSES if fell[-1] and z > th.z else STABLE,
        metric,
        -drop,
        f"{HALLUCINATION[metric]} falls by > {th.precision_drop:g}",
        _first(fell),
        z,
    )


HALLUCINATION = {"precision": "k-NN precision", "plausible_bonds": "share of plausible conformers"}


PER_CELL: dict[int, Callable[[Trajectories, Thresholds], Verdict]] = {
    1: catastrophic,
    2: any_increase,
    3: diverging,
    5: collapsing_variance,
    6: entangled_modes,
    7: lost_tails,
    8: hallucination,
}


def scaling_law(curves: Mapping[int, np.ndarray], metric: str, th: Thresholds) -> Verdict:
    """4. Change in scaling law: the exponent of error vs training-set size differs between generation 1 and T.

    ``curves[n]`` is the (replicates, generations) error array at sample size n (a sweep over n).
    The exponent is the least-squares slope of log mean error on log n; its standard error comes from
    a bootstrap over replicates.
    """
    name = "change in scaling law"
    sizes = sorted(curves)
    if len(sizes) < 3:
        return Verdict(4, name, UNDETERMINED, metric, note="needs a sweep over samples_per_generation (>= 3 sizes)")
    rng = np.random.default_rng(0)

    def slopes(pick: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        logn = np.log(sizes)
        out = []
        for g in (0, -1):
            y = np.log([pick(curves[n])[:, g].mean() for n in sizes])
            out.append(np.polyfit(logn, y, 1)[0])
        return np.array(out)

    first, last = slopes(lambda a: a)
    boots = [np.diff(slopes(lambda a: a[rng.integers(0, len(a), len(a))]))[0] for _ in range(200)]
    change = last - first
    se = float(np.std(boots, ddof=1))
    z = abs(change) / se if se > 0 else float("inf")
    outcome = COLLAPSES if abs(change) > th.exponent_change and z > th.z else STABLE
    return Verdict(
        4,
        name,
        outcome,
        metric,
        float(change),
        f"|exponent(T) - exponent(1)| > {th.exponent_change:g} (exponents {first:.2f} -> {last:.2f})",
        None,
        z,
    )
