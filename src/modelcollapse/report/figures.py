"""Figures of metric vs generation: one line per workflow, a band, the theory dashed; a facet per sweep cell."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from modelcollapse.analysis.predictions import predict
from modelcollapse.analysis.summary import Cell, cells, statistics
from modelcollapse.report.untrusted import TITLE, file_stem, plain
from modelcollapse.store import Store

HEAVY_TAILED = {"cov_trace_ratio", "w2_sq", "test_nll", "second_moment"}  # summarised by median and quantiles
LABELS = {
    "mean_sq_error": "||μ̂ − μ||²",
    "cov_trace_ratio": "tr Σ̂ / tr Σ",
    "cov_logdet_change": "log det Σ̂ − log det Σ",
    "w2_sq": "W₂² to the truth",
    "second_moment": "tr Σ̂ + ||μ̂ − μ||²",
    "excess_risk": "excess risk (ŵ − w*)ᵀΣ(ŵ − w*)",
    "test_mse": "test MSE (held-out real)",
    "test_nll": "test NLL (nats)",
    "gini_simpson": "Gini–Simpson diversity",
    "support_size": "surviving support (symbols)",
    "absorbed": "share absorbed",
    "heterozygosity": "p(1 − p)",
    "l2_sq_to_truth": "||p̂ − p||²",
}


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "legend.fontsize": 8, "figure.dpi": 150})
    return plt


def plot_folder(
    folder: str | Path, out: str | Path | None = None, metrics: list[str] | None = None, keys: set[str] | None = None
) -> list[Path]:
    """Draw every metric of every experiment (of the cells in ``keys``, when given) in a results folder.

    Returns the PNG paths; a PDF and the CSV of the drawn series sit beside each. Real-synthetic grid
    cells are drawn by :func:`modelcollapse.report.grid.grid_figures` instead.
    """
    with Store.open(folder, read_only=True) as store:
        all_cells, stats = cells(store, keys), statistics(store)
    all_cells = [c for c in all_cells if not c.is_grid]
    out_dir = Path(out) if out else Path(folder) / "figures"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    used: set[str] = set()  # names and metrics are untrusted text: file_stem keeps each file apart, in out_dir
    for experiment in sorted({c.experiment for c in all_cells}):
        group = [c for c in all_cells if c.experiment == experiment]
        names = sorted(set(stats[stats.config_hash.isin([c.key for c in group])].metric) - _undrawn(group))
        for metric in metrics or names:
            if metric in names:
                path = out_dir / f"{file_stem([experiment, metric], used)}.png"
                paths.append(plot_metric(group, stats, metric, path))
    return paths


def _undrawn(group: list[Cell]) -> set[str]:
    """Series left out of the figures (the store and ``show`` keep them): the training size, and each
    selection stage's own acceptance and score before it (its score after, and the overall acceptance,
    are drawn)."""
    stages = [s for c in group for s in getattr(c.exp, "selection", [])]
    return {"train_size"} | {f"{s.label}_{v}" for s in stages for v in ("acceptance", "score_before")}


def plot_metric(group: list[Cell], stats: pd.DataFrame, metric: str, path: Path) -> Path:
    """One figure: a facet per sweep cell, a line per workflow, theory dashed where it exists."""
    plt = _pyplot()
    cols = min(3, len(group))
    rows = math.ceil(len(group) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(3.4 * cols, 4.6), 2.6 * rows + 0.9), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    workflows = sorted({w.label for c in group for w in c.exp.workflow})
    series = []  # what is drawn, saved beside the figure
    for ax, cell in zip(axes.flat, group, strict=False):
        preds = predict(cell.exp)
        data = stats[(stats.config_hash == cell.key) & (stats.metric == metric)]
        for i, wf in enumerate(workflows):
            s = data[data.workflow == wf]
            if s.empty:
                continue
            color = colors[i % len(colors)]
            pred = preds.get((wf, metric))
            robust = metric in HEAVY_TAILED and pred is None
            centre = s["median"] if robust else s["mean"]
            lo, hi = (s.q10, s.q90) if robust else (s["mean"] - 1.96 * s.se, s["mean"] + 1.96 * s.se)
            label = plain(f"{wf} (median, 10–90%)" if robust else wf)
            ax.plot(s.generation, centre, color=color, lw=1.4, label=label)
            ax.fill_between(s.generation, lo, hi, color=color, alpha=0.12 if robust else 0.2, lw=0)
            drawn = pd.DataFrame(
                {
                    "setting": cell.label,
                    "metric": metric,
                    "workflow": wf,
                    "generation": s.generation.to_numpy(),
                    "centre": centre.to_numpy(),
                    "low": lo.to_numpy(),
                    "high": hi.to_numpy(),
                    "statistic": "median" if robust else "mean",
                }
            )
            drawn["predicted"] = np.nan if pred is None else pred[drawn.generation.to_numpy() - 1]
            series.append(drawn)
            if pred is not None:
                g = np.arange(1, len(pred) + 1)
                ax.plot(g, pred, color="black", ls="--", lw=0.9, label="theory" if i == 0 else None)
        if cell.point:
            ax.set_title(plain(", ".join(f"{k}={v}" for k, v in cell.point.items())))
        _scale(ax, data)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(group) :]:
        ax.set_visible(False)
    for ax in axes.flat[: len(group)]:
        ax.set_xlabel("generation")
    for ax in axes[:, 0]:
        ax.set_ylabel(plain(LABELS.get(metric, metric)))
    seen: dict[str, object] = {}
    for ax in axes.flat[: len(group)]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, h)
    labels, handles = list(seen), list(seen.values())
    title = plain(f"{group[0].experiment}: {metric}", TITLE)
    fig.suptitle(f"{title}\n(mean with 95% CI unless marked; theory dashed)", fontsize=9)
    ncol = min(len(labels), 2 * cols)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 0.0))
    legend_rows = math.ceil(len(labels) / ncol)
    fig.tight_layout(rect=(0, 0.05 * legend_rows / rows, 1, 0.93))
    fig.savefig(path)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)
    pd.concat(series, ignore_index=True).to_csv(path.with_suffix(".csv"), index=False)
    return path


def _scale(ax, data: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    v = data["mean"].to_numpy()
    v = v[np.isfinite(v)]
    if len(v) and v.min() > 0 and v.max() / v.min() > 100:
        ax.set_yscale("log")
