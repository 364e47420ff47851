"""Figures of a real-synthetic grid: the loss over (N_real, N_syn), its ratio to real-only, and two cuts.

Each grid cell is measured at its last generation (the model trained on real plus synthetic data).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from modelcollapse.analysis.predictions import predict
from modelcollapse.analysis.summary import Cell, cells, statistics, z_score
from modelcollapse.report.figures import LABELS, _pyplot
from modelcollapse.report.untrusted import TITLE, file_stem, plain
from modelcollapse.store import GRID_AXES, Store


def table(group: Iterable[Cell], stats: pd.DataFrame) -> pd.DataFrame:
    """One row per (grid cell, metric) at the cell's last generation, with theory, z and the ratio to real-only."""
    rows = []
    for cell in group:
        last = cell.exp.generations
        preds = predict(cell.exp)
        data = stats[(stats.config_hash == cell.key) & (stats.generation == last) & (stats.metric != "train_size")]
        others = {k: v for k, v in cell.point.items() if k not in GRID_AXES}
        for r in data.to_dict("records"):
            pred = preds.get((r["workflow"], r["metric"]), np.full(last, np.nan))[-1]
            rows.append(
                {
                    "experiment": cell.experiment,
                    "facet": ", ".join(f"{k}={v}" for k, v in others.items()),
                    "setting": cell.label,
                    "n_real": int(cell.point["n_real"]),
                    "n_syn": int(cell.point["n_syn"]),
                    "metric": r["metric"],
                    "workflow": r["workflow"],
                    "generation": last,
                    "centre": r["mean"],
                    "se": r["se"],
                    "replicates": r["n"],
                    "statistic": "mean",
                    "predicted": pred,
                    "z": z_score(r["mean"], r["se"], pred, r["n"]) if np.isfinite(pred) else np.nan,
                }
            )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    keys = ["experiment", "facet", "metric", "n_real"]
    base = out[out.n_syn == 0].set_index(keys)["centre"].rename("real_only")
    out = out.join(base, on=keys)
    out["ratio"] = out.centre / out.real_only
    return out


LOG_LOSSES = {"test_nll"}  # log-likelihoods: compared by difference, not ratio


def declared_axes(store: Store) -> dict[str, tuple[list[int], list[int]]]:
    """Each grid experiment's N_real and N_syn lists, as its runs' configs declared them (their union)."""
    out: dict[str, tuple[set[int], set[int]]] = {}
    for name, config in store.con.execute("SELECT experiment, config FROM runs").fetchall():
        grid = json.loads(config).get("grid")
        if isinstance(grid, dict):
            reals, syns = out.setdefault(name, (set(), set()))
            reals.update(grid.get("real", []))
            syns.update(grid.get("synthetic", []))
    return {name: (sorted(r), sorted(s)) for name, (r, s) in out.items()}


def axes_of(t: pd.DataFrame, declared: tuple[list[int], list[int]] | None) -> tuple[list[int], list[int]]:
    """The cardinality grid's N_real and N_syn values present in ``t``: the declared ones (the proportion
    design adds cells off the grid), or every value when the folder has no record of the declaration."""
    present_r, present_s = set(t.n_real), set(t.n_syn)
    if declared is None:
        return sorted(present_r), sorted(present_s)
    return [r for r in declared[0] if r in present_r], [s for s in declared[1] if s in present_s]


def totals(t: pd.DataFrame) -> list[int]:
    """The fixed total sizes of the proportion design: sums shared by at least three cells."""
    counts = Counter((t.n_real + t.n_syn).tolist())
    return sorted(s for s, c in counts.items() if c >= 3)


def grid_figures(
    folder: str | Path, out: str | Path | None = None, metrics: list[str] | None = None, keys: set[str] | None = None
) -> list[Path]:
    """Draw every grid experiment of a results folder (default into ``figures/``); returns the PNG paths.

    A PDF and the CSV of the drawn values (with theory, z and the ratio to real-only) sit beside each.
    """
    with Store.open(folder, read_only=True) as store:
        group, stats, declared = [c for c in cells(store, keys) if c.is_grid], statistics(store), declared_axes(store)
    full = table(group, stats)
    if full.empty:
        return []
    if metrics:
        full = full[full.metric.isin(metrics)]
    out_dir = Path(out) if out else Path(folder) / "figures"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    used: set[str] = set()  # names, sweep values and metrics are untrusted text: file_stem keeps them in out_dir
    for (experiment, facet, metric), t in full.groupby(["experiment", "facet", "metric"], sort=True):
        experiment, facet, metric = str(experiment), str(facet), str(metric)
        stem = file_stem([experiment, facet.replace(", ", "-").replace("=", ""), metric, "grid"], used)
        path = out_dir / f"{stem}.png"
        draw(t, f"{experiment}{f' [{facet}]' if facet else ''}: {metric}", path, declared.get(experiment))
        t.drop(columns=["experiment", "facet"]).to_csv(path.with_suffix(".csv"), index=False)
        paths.append(path)
    return paths


def draw(t: pd.DataFrame, title: str, path: Path, declared: tuple[list[int], list[int]] | None = None) -> None:
    """Four panels: loss heatmap, ratio (or difference) to real-only, loss vs real share, loss vs N_syn."""
    plt = _pyplot()
    from matplotlib.colors import LogNorm, TwoSlopeNorm

    metric = t.metric.iloc[0]
    label = plain(LABELS.get(metric, metric))
    reals, syns = axes_of(t, declared)
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.6))
    positive = bool((t.centre > 0).all()) and metric not in LOG_LOSSES
    loss = _matrix(t, reals, syns, "centre")
    rel = _matrix(t, reals, syns, "ratio") if positive else loss - _matrix(t, reals, syns, "real_only")
    _heatmap(axes[0, 0], loss, reals, syns, LogNorm() if positive else None, "viridis", f"{label}: mean")
    finite = rel[np.isfinite(rel)]
    centre = 1.0 if positive else 0.0
    norm = None
    if len(finite) and finite.min() < centre < finite.max():
        norm = TwoSlopeNorm(vcenter=centre, vmin=finite.min(), vmax=finite.max())
    what = "ratio to real-only (same N_real)" if positive else "change from real-only (same N_real)"
    _heatmap(axes[0, 1], rel, reals, syns, norm, "RdBu_r", what)
    _curves(axes[1, 0], t, totals(t), "total", lambda s: s.n_real / (s.n_real + s.n_syn), "share of real data")
    _curves(axes[1, 1], t[t.n_syn.isin(syns)], reals, "n_real", lambda s: s.n_syn, "N_syn (synthetic points)")
    if any(s > 0 for s in syns):  # a grid of totals and proportions only has no N_syn axis
        axes[1, 1].set_xscale("symlog", linthresh=max(1, min(s for s in syns if s > 0)))
        axes[1, 1].set_xticks(syns, [str(s) for s in syns])
        axes[1, 1].minorticks_off()
    for ax in axes[1]:
        ax.set_ylabel(label)
        if positive and t.centre.max() / t.centre.min() > 30:
            ax.set_yscale("log")
    fig.suptitle(f"{plain(title, TITLE)}\n(mean ± 95% CI; theory dashed where exact)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)


def _matrix(t: pd.DataFrame, reals: list[int], syns: list[int], column: str) -> np.ndarray:
    m = np.full((len(reals), len(syns)), np.nan)
    for r in t.to_dict("records"):
        if r["n_real"] in reals and r["n_syn"] in syns:
            m[reals.index(r["n_real"]), syns.index(r["n_syn"])] = r[column]
    return m


def _heatmap(ax, m: np.ndarray, reals: list[int], syns: list[int], norm, cmap: str, title: str) -> None:  # type: ignore[no-untyped-def]
    if not np.isfinite(m).any():  # no cell on the real x synthetic axes (a grid of totals only)
        ax.text(0.5, 0.5, "no cell on the N_real x N_syn axes", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    image = ax.imshow(np.ma.masked_invalid(m), origin="lower", cmap=cmap, norm=norm, aspect="auto")
    ax.figure.colorbar(image, ax=ax, shrink=0.85)
    ax.set_xticks(range(len(syns)), [str(s) for s in syns])
    ax.set_yticks(range(len(reals)), [str(r) for r in reals])
    ax.set_xlabel("N_syn (synthetic points)")
    ax.set_ylabel("N_real (real points)")
    ax.set_title(title)
    loss = cmap == "viridis"
    for (i, j), v in np.ndenumerate(m):
        if np.isfinite(v):
            text = f"{v:.3g}" if loss else f"{v:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=6.5, color="white" if loss else "k")


def _curves(ax, t: pd.DataFrame, groups: list[int], by: str, x, xlabel: str) -> None:  # type: ignore[no-untyped-def]
    colors = _pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    key = t.n_real + t.n_syn if by == "total" else t[by]
    for i, g in enumerate(groups):
        s = t[key == g].sort_values(["n_real", "n_syn"])
        xs = x(s)
        color = colors[i % len(colors)]
        ax.errorbar(
            xs,
            s.centre,
            yerr=1.96 * s.se,
            color=color,
            marker="o",
            ms=3,
            lw=1.2,
            capsize=2,
            label=f"{'N_real + N_syn' if by == 'total' else 'N_real'} = {g}",
        )
        ok = np.isfinite(s.predicted.to_numpy(float))
        if ok.any():
            ax.plot(xs[ok], s.predicted[ok], color=color, ls="--", lw=0.9)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    if groups:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no such cells in this grid", ha="center", va="center", transform=ax.transAxes)
