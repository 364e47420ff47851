"""Summary rows and figures specific to one reproduction, beyond the metric-vs-generation overlays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from modelcollapse.analysis.summary import SUMMARY_COLUMNS, cells, statistics, z_score
from modelcollapse.report import conformers, floors, verification
from modelcollapse.report.figures import _pyplot
from modelcollapse.report.untrusted import plain
from modelcollapse.store import Store
from modelcollapse.theory import dey_donoho as dd
from modelcollapse.theory import discrete, mixing, regression


def summary(name: str, store: Store) -> pd.DataFrame:
    rows = []
    if name == "wright-fisher":
        first = store.table(
            """SELECT replicate, min(generation) AS g FROM results
               WHERE experiment = 'fixation' AND metric = 'absorbed' AND value = 1 GROUP BY replicate"""
        )["g"].to_numpy(float)
        exp = next(c.exp for c in cells(store) if c.experiment == "fixation")
        pred = discrete.time_to_fixation_two(exp.samples_per_generation, exp.source.p)  # type: ignore[union-attr]
        sim, se = float(first.mean()), float(first.std(ddof=1) / np.sqrt(len(first)))
        rows.append(
            [
                name,
                "time_to_single_atom",
                "replace",
                "fixation",
                np.nan,
                sim,
                se,
                pred,
                z_score(sim, se, pred, len(first)),
            ]
        )
    if name == "feng2024-verification":
        rows += verification.summary_rows(name, cells(store), statistics(store))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def figures(name: str, out: Path, keys: set[str] | None = None) -> list[Path]:
    if name == "definitions":
        return _definitions(out, keys)
    draw = {
        "gerstgrasser2024-linear-regression": _ceiling,
        "dey-donoho2024-universality": _rho,
        "mixing-real-data": _mixing,
        "feng2024-verification": lambda c, s, p: verification.figure(c, s, p, _pyplot()),
        "dohmatob2024-strong-collapse": lambda c, s, p: floors.strong_collapse(c, s, p, _pyplot()),
        "dohmatob2024-tails": lambda c, s, p: floors.truncated_tails(c, s, p, _pyplot()),
        "gerstgrasser2024-geodiff": lambda c, s, p: conformers.overview(c, s, p, _pyplot()),
    }
    if name not in draw:
        return []
    with Store.open(out, read_only=True) as store:
        all_cells, stats = cells(store, keys), statistics(store)
    path = out / "figures" / f"{name}-overview.png"
    draw[name](all_cells, stats, path)
    return [path]


def _save(fig, path: Path) -> None:  # type: ignore[no-untyped-def]
    fig.tight_layout()
    fig.savefig(path)
    fig.savefig(path.with_suffix(".pdf"))


def _ceiling(all_cells, stats: pd.DataFrame, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Excess risk over its generation-1 value: linear under replace, under pi^2/6 under accumulate."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for c in all_cells:
        base = regression.base_error(c.exp.source.dim, c.exp.samples_per_generation, c.exp.source.noise_std**2)
        for wf, style in (("replace", "-"), ("accumulate", "-")):
            s = stats[(stats.config_hash == c.key) & (stats.metric == "excess_risk") & (stats.workflow == wf)]
            ax.plot(
                s.generation,
                s["mean"] / base,
                style,
                lw=1,
                marker=".",
                ms=3,
                label=plain(f"{wf}: d={c.exp.source.dim}, T={c.exp.samples_per_generation}"),
            )
    g = np.arange(1, int(stats.generation.max()) + 1)
    ax.plot(g, g, "k--", lw=0.8, label="replace theory: t")
    ax.plot(g, np.cumsum(1 / g**2), "k-.", lw=0.8, label="accumulate theory: Σ 1/i²")
    ax.axhline(np.pi**2 / 6, color="red", ls=":", lw=1, label="π²/6 ceiling")
    ax.set(xlabel="generation", ylabel="E excess risk / (σ² d / (T − d − 1))", yscale="log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, frameon=False, ncol=2)
    _save(fig, path)
    plt.close(fig)


def _rho(all_cells, stats: pd.DataFrame, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Simulated risk ratios of two model families against one recursion per workflow."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    markers = {"gaussian-mean": "o", "linear-regression": "s"}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    labels = sorted({w.label for c in all_cells for w in c.exp.workflow})
    for c in all_cells:
        metric = "mean_sq_error" if c.experiment == "gaussian-mean" else "excess_risk"
        for wf in c.exp.workflow:
            s = stats[(stats.config_hash == c.key) & (stats.metric == metric) & (stats.workflow == wf.label)]
            base = float(s["mean"].iloc[0])  # generation 1: the real-data fit
            color = colors[labels.index(wf.label) % len(colors)]
            ax.plot(
                s.generation,
                s["mean"] / base,
                markers[c.experiment],
                color=color,
                ms=3.5,
                mfc="none",
                label=plain(f"{wf.label} ({c.experiment})"),
            )
            if c.experiment == "gaussian-mean":
                rho = wf.rho(c.exp.samples_per_generation, c.exp.generations)
                assert rho is not None  # every workflow of this reproduction weights whole data sets
                ax.plot(np.arange(1, len(rho) + 1), rho, "-", color=color, lw=0.9)
    ax.axhline(np.pi**2 / 6, color="black", ls=":", lw=0.8)
    ax.set(xlabel="generation k", ylabel="ρ_k = risk / risk at generation 1", yscale="log")
    ax.set_title("markers: simulation (○ Gaussian mean, □ regression); lines: GP recursion", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, frameon=False, ncol=2)
    _save(fig, path)
    plt.close(fig)


def _mixing(all_cells, stats: pd.DataFrame, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Final-generation error against the real share (fresh vs fixed), and against the real weight w."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.6, 3.4))
    by_name = {c.experiment: c for c in all_cells}
    c = by_name["fresh-vs-fixed"]
    mse = stats[stats.metric == "mean_sq_error"]
    last = mse[(mse.config_hash == c.key) & (mse.generation == c.exp.generations)]
    n = c.exp.samples_per_generation
    for kind, marker in (("fresh", "o"), ("fixed", "s")):
        rows = last[last.workflow.str.startswith(kind)]
        lam = rows.workflow.str.split("=").str[1].astype(float)
        left.errorbar(
            lam, rows["mean"] * n, yerr=1.96 * rows.se * n, fmt=marker, ms=4, capsize=2, label=f"{kind} real data"
        )
    grid = np.linspace(0.05, 1, 60)
    left.plot(grid, 1 / (grid * (2 - grid)), "k--", lw=0.8, label="fresh: 1/(λ(2−λ))")
    fixed = [dd.rho(dd.real_plus_last(c.exp.generations, lam))[-1] for lam in grid]
    left.plot(grid, fixed, "k:", lw=1.5, label="fixed: GP recursion (same limit)")
    left.set(xlabel="real share λ", ylabel=f"n · E(μ_T − μ)² at T={c.exp.generations}", yscale="log")
    left.legend(fontsize=7, frameon=False)
    left.grid(alpha=0.3)
    g = by_name["golden-ratio"]
    last = mse[(mse.config_hash == g.key) & (mse.generation == g.exp.generations)]
    w = last.workflow.str.split("=").str[1].astype(float)
    right.errorbar(w, last["mean"], yerr=1.96 * last.se, fmt="o", ms=4, capsize=2, label="simulation")
    ws = np.linspace(0.2, 1, 80)
    right.plot(ws, [mixing.weighted_stationary(20, x) for x in ws], "k--", lw=0.8, label="E∞(w), s6b")
    right.axvline(mixing.GOLDEN_WEIGHT, color="red", ls=":", lw=1, label="w* = 1/φ")
    right.set(xlabel="weight w on the fresh real data", ylabel=f"E(μ_T − μ)² at T={g.exp.generations}")
    right.legend(fontsize=7, frameon=False)
    right.grid(alpha=0.3)
    _save(fig, path)
    plt.close(fig)


def _definitions(out: Path, keys: set[str] | None) -> list[Path]:
    """The assess table (assess.csv) and, per definition, a case where it fires beside one where it does not."""
    from modelcollapse.analysis.assess import assess

    verdicts = pd.DataFrame(assess(out))
    with Store.open(out, read_only=True) as store:
        all_cells, stats = cells(store, keys), statistics(store)
    by_label = {c.label: c for c in all_cells}
    verdicts = verdicts[verdicts.setting.isin(by_label)]
    verdicts.to_csv(out / "assess.csv", index=False)
    plt = _pyplot()
    paths = []
    for number, group in verdicts.groupby("definition"):
        if number == 4:
            paths.append(_scaling_figure(group, all_cells, stats, out / "figures" / "definition-4.png"))
            continue
        fired = group[group.outcome == "collapses"]
        quiet = group[(group.outcome == "does not collapse") & group.metric.notna()]
        fig, ax = plt.subplots(figsize=(4.8, 3.3))
        for rows, style, tag in ((fired, "-", "collapses"), (quiet, "--", "does not")):
            if rows.empty:
                continue
            r = rows.iloc[0]
            cell = by_label[r.setting]
            s = stats[(stats.config_hash == cell.key) & (stats.workflow == r.workflow) & (stats.metric == r.metric)]
            label = f"{plain(f'{tag}: {r.workflow}, {r.setting}')}\n({plain(r.metric)})"
            ax.plot(s.generation, s["mean"], style, lw=1.3, label=label)
        ax.set(xlabel="generation", ylabel="mean of the metric used")
        ax.set_title(plain(f"{number}. {group.name.iloc[0]}"), fontsize=9)
        if fired.empty:
            ax.text(0.5, 0.5, "no bundled case fires", transform=ax.transAxes, ha="center")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, frameon=False)
        path = out / "figures" / f"definition-{number}.png"
        _save(fig, path)
        plt.close(fig)
        paths.append(path)
    return paths


def _scaling_figure(group: pd.DataFrame, all_cells, stats: pd.DataFrame, path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Definition 4: error against training-set size, at generation 1 and at the last generation."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 3.3))
    tested = group[group.metric.notna() & (group.outcome != "undetermined")]
    for (workflow, metric), _ in tested.groupby(["workflow", "metric"]):
        sized = [c for c in all_cells if "samples_per_generation" in c.point]
        points = []
        for c in sized:
            s = stats[(stats.config_hash == c.key) & (stats.workflow == workflow) & (stats.metric == metric)]
            if len(s):
                points.append((c.point["samples_per_generation"], s["mean"].iloc[0], s["mean"].iloc[-1]))
        n, first, last = (np.array(v) for v in zip(*sorted(points), strict=True))
        outcome = tested[(tested.workflow == workflow)].outcome.iloc[0]
        line = ax.plot(n, last, "o-", ms=3, label=plain(f"{workflow}, last generation ({outcome})"))
        ax.plot(n, first, "s:", ms=3, color=line[0].get_color(), label=plain(f"{workflow}, generation 1"))
    ax.set(xscale="log", yscale="log", xlabel="samples per generation n", ylabel="mean error (log)")
    ax.set_title("4. change in scaling law: error vs n", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, frameon=False)
    _save(fig, path)
    plt.close(fig)
    return path
