"""Error floors against the amount of data: strong collapse (a share of synthetic labels) and truncated tails.

Both reproductions say the same thing in two settings: more data lowers the error of real data along a
power law, but not below a floor that synthetic data set. Each figure draws the last generation's mean
against the data size, theory dashed and the floor dotted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelcollapse.analysis.predictions import predict
from modelcollapse.report.untrusted import plain
from modelcollapse.theory import regression, tails


def strong_collapse(all_cells: list[Any], stats: pd.DataFrame, path: Path, plt: Any) -> None:
    """Excess risk of the real-synthetic cells against N = N_real + N_syn, one line per synthetic share p;
    the floor p^2 e_g (e_g the generator's own risk) dotted."""
    grid = [c for c in all_cells if c.is_grid]
    experiments = sorted({c.experiment for c in grid})
    fig, axes = plt.subplots(1, len(experiments), figsize=(4.6 * len(experiments), 3.6), squeeze=False)
    for ax, name in zip(axes[0], experiments, strict=True):
        cells = [c for c in grid if c.experiment == name]
        shares = sorted(
            {
                round(c.exp.workflow[0].synthetic / (c.exp.workflow[0].real + c.exp.workflow[0].synthetic), 3)
                for c in cells
            }
        )
        for p in shares:
            rows = []
            for c in cells:
                wf = c.exp.workflow[0]
                total = wf.real + wf.synthetic
                if round(wf.synthetic / total, 3) != p:
                    continue
                s = stats[(stats.config_hash == c.key) & (stats.metric == "excess_risk")]
                pred = predict(c.exp).get((wf.label, "excess_risk"))
                if len(s):
                    rows.append((total, s["mean"].iloc[-1], s["se"].iloc[-1], np.nan if pred is None else pred[-1]))
            n, mean, se, pred = (np.array(v) for v in zip(*sorted(rows), strict=True))
            line = ax.errorbar(n, mean, yerr=2 * se, fmt="o-", ms=3, lw=1, label=f"p = {p:g} synthetic")
            ax.plot(n, pred, "k--", lw=0.8)
            if p > 0 and c.exp.model.kind == "ols":
                e_g = regression.base_error(c.exp.source.dim, c.exp.samples_per_generation, c.exp.source.noise_std**2)
                ax.axhline(p**2 * e_g, color=line[0].get_color(), ls=":", lw=1)
        ax.set(xscale="log", yscale="log", xlabel="training rows N", ylabel="excess risk (last generation)")
        ax.set_title(plain(f"{name}: theory dashed, floor p² e_g dotted"), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    _save(fig, path, plt)


def truncated_tails(all_cells: list[Any], stats: pd.DataFrame, path: Path, plt: Any) -> None:
    """Missing mass against T at generation 1 and at the last generation, per experiment (untruncated and
    top-k), with exact E M_1 dashed and the top-k floor dotted."""
    sized = [c for c in all_cells if "samples_per_generation" in c.point and c.exp.source.kind == "categorical"]
    fig, ax = plt.subplots(figsize=(5.4, 3.8))
    for name in sorted({c.experiment for c in sized}):
        cells = sorted((c for c in sized if c.experiment == name), key=lambda c: c.exp.samples_per_generation)
        points = []
        for c in cells:
            s = stats[(stats.config_hash == c.key) & (stats.metric == "missing_mass") & (stats.workflow == "replace")]
            if len(s):
                points.append((c.exp.samples_per_generation, s["mean"].iloc[0], s["mean"].iloc[-1]))
        if not points:
            continue
        n, first, last = (np.array(v) for v in zip(*points, strict=True))
        line = ax.plot(n, last, "o-", ms=3, label=plain(f"{name}: replace, generation {cells[0].exp.generations}"))
        ax.plot(n, first, "s:", ms=3, color=line[0].get_color(), label=plain(f"{name}: generation 1"))
        p0 = cells[0].exp.source.build().p
        ax.plot(n, [tails.missing_mass(p0, int(t)) for t in n], "k--", lw=0.8)
        if cells[0].exp.model.top_k is not None:
            ax.axhline(tails.topk_floor(p0, cells[0].exp.model.top_k), color=line[0].get_color(), ls=":", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="samples per generation T", ylabel="missing mass (true mass unseen)")
    ax.set_title("error vs data: E M_1 dashed, top-k floor dotted", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, frameon=False)
    _save(fig, path, plt)


def _save(fig: Any, path: Path, plt: Any) -> None:
    fig.tight_layout()
    fig.savefig(path)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)
