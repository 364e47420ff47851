"""feng2024-verification: the false-accept rate at which a verified loop stops improving on real data.

A sweep over ``selection.false_accept`` measures the last generation's error relative to the error of
the fit to real data; the threshold is where that ratio crosses 1, found by linear interpolation
between the two sweep points that bracket it. Theory's threshold is interpolated between the same two
points of its own curve, so the two are compared like for like (z from the delta method).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelcollapse.analysis.selected import band
from modelcollapse.theory import selection as th

METRICS = {"gaussian-mean": "mean_sq_error", "regression": "excess_risk"}


def last_generation(all_cells: list[Any], stats: pd.DataFrame, experiment: str) -> pd.DataFrame:
    """Per false-accept rate: the last generation's mean error over generation 1's, with its standard error."""
    rows = []
    for c in (c for c in all_cells if c.experiment == experiment):
        s = stats[(stats.config_hash == c.key) & (stats.metric == METRICS[experiment])].set_index("generation")
        first, last = s.loc[1], s.loc[c.exp.generations]
        alpha = c.exp.selection[0].false_accept
        rows.append({"alpha": alpha, "ratio": last["mean"] / first["mean"], "se": last.se / first["mean"], "cell": c})
    return pd.DataFrame(rows).sort_values("alpha").reset_index(drop=True)


def predicted_ratio(cell: Any, alpha: float) -> float:
    """Theory's last-generation error over 1/n (Gaussian mean of known variance)."""
    exp, v = cell.exp, cell.exp.selection[0]
    var = float(exp.source.build().cov[0, 0])
    c = band(v.threshold, v.quantile, var)
    n = exp.samples_per_generation
    return float(th.verified_mean_error(exp.generations, n, n, c, alpha, v.false_reject) * n)


def crossing(alpha: np.ndarray, ratio: np.ndarray, se: np.ndarray | None = None) -> tuple[float, float]:
    """Where ``ratio`` first crosses 1 (linear between bracketing points) and its delta-method SE."""
    above = np.flatnonzero(ratio >= 1)
    if not len(above) or above[0] == 0:
        return float("nan"), float("nan")
    a, b = above[0] - 1, above[0]
    w = (1 - ratio[a]) / (ratio[b] - ratio[a])
    step = alpha[b] - alpha[a]
    value = alpha[a] + w * step
    if se is None:
        return float(value), float("nan")
    spread = step / abs(ratio[b] - ratio[a]) * np.hypot((1 - w) * se[a], w * se[b])
    return float(value), float(spread)


def summary_rows(name: str, all_cells: list[Any], stats: pd.DataFrame) -> list[list[Any]]:
    """One row: the Gaussian mean's threshold, simulated against theory at the same sweep points."""
    last = last_generation(all_cells, stats, "gaussian-mean")
    sim, se = crossing(last.alpha.to_numpy(), last.ratio.to_numpy(), last.se.to_numpy())
    cell = last.cell.iloc[0]
    theory = np.array([predicted_ratio(cell, a) for a in last.alpha])
    pred, _ = crossing(last.alpha.to_numpy(), theory)
    return [[name, "improvement_threshold", "replace", "gaussian-mean", np.nan, sim, se, pred, (sim - pred) / se]]


def figure(all_cells: list[Any], stats: pd.DataFrame, path: Path, plt: Any) -> None:
    """Last-generation error over the real-data fit's, against the false-accept rate, for both models."""
    fig, ax = plt.subplots(figsize=(5.4, 3.6))
    for experiment, marker in (("gaussian-mean", "o"), ("regression", "s")):
        last = last_generation(all_cells, stats, experiment)
        if last.empty:
            continue
        ax.errorbar(last.alpha, last.ratio, yerr=1.96 * last.se, fmt=marker, ms=4, capsize=2, label=experiment)
        found, _ = crossing(last.alpha.to_numpy(), last.ratio.to_numpy())
        if np.isfinite(found):
            ax.axvline(found, ls=":", lw=0.8, color=ax.lines[-1].get_color())
        if experiment == "gaussian-mean":
            grid = np.linspace(0, 1, 101)
            theory = [predicted_ratio(last.cell.iloc[0], a) for a in grid]
            ax.plot(grid, theory, "k--", lw=0.8, label="theory (linearised recursion)")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set(xlabel="verifier false-accept rate α", ylabel="error at the last generation / generation 1", yscale="log")
    ax.legend(fontsize=7, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)
