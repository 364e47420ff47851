"""One self-contained HTML report of a results folder: configs, tables with standard errors, interactive
figures, theory z-scores, collapse verdicts and run metadata. Scripts, styles and images are inlined, so
the file opens anywhere, offline.

The figures are drawn in the browser (``assets/report.js``, plain SVG) from the data embedded in the page:
hovering shows the values, the workflow switches show and hide a workflow in every figure.
"""

from __future__ import annotations

import base64
import html
import json
import math
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from modelcollapse.analysis.assess import assess
from modelcollapse.analysis.summary import Cell, cells, statistics, theory_comparison
from modelcollapse.report import figure_data, grid
from modelcollapse.report.untrusted import shorten
from modelcollapse.store import Store

SHORT = 200  # characters of untrusted text shown in a heading, caption or table cell; the rest on hover
MAX_CHARTS = 300  # figures and cell tables in one page; a larger sweep is summarised (plot/export have it all)
TABLE_GENERATIONS = 8


def write_html(
    folder: str | Path,
    path: str | Path,
    keys: set[str] | None = None,
    title: str | None = None,
    claim: str | None = None,
    theory: pd.DataFrame | None = None,
) -> Path:
    """Write the report of ``folder`` (only the cells in ``keys``, when given) to ``path``.

    ``claim`` is a paragraph under the title, e.g. the published result a reproduction checks; ``theory``
    replaces the computed theory comparison (a reproduction's summary, with its extra rows).
    """
    folder, path = Path(folder), Path(path)
    with Store.open(folder, read_only=True) as store:
        all_cells, stats = cells(store, keys), statistics(store)
        theory = theory_comparison(store, keys=keys) if theory is None else theory
        runs = store.table("SELECT * FROM runs ORDER BY started")
        chunks = store.table("SELECT config_hash, sum(seconds) AS seconds FROM chunks GROUP BY ALL")
        failures, nonfinite = store.failures(), store.nonfinite()
        declared = grid.declared_axes(store)
    chosen, experiments = {c.key for c in all_cells}, sorted({c.experiment for c in all_cells})
    stats, failures = stats[stats.config_hash.isin(chosen)], failures[failures.experiment.isin(experiments)]
    runs, nonfinite = runs[runs.experiment.isin(experiments)], nonfinite[nonfinite.experiment.isin(experiments)]
    curves = [c for c in all_cells if not c.is_grid]
    grids = grid.table([c for c in all_cells if c.is_grid], stats)
    charts = figure_data.charts(curves, stats)
    data = {
        "workflows": sorted({str(w) for w in stats.workflow.unique()} - {"real-synthetic"}),
        "charts": charts[:MAX_CHARTS],
        "omitted": len(charts[MAX_CHARTS:]),
        "grids": figure_data.grids(grids, declared),
    }
    verdicts = pd.DataFrame(assess(folder))
    if len(verdicts):
        verdicts = verdicts[verdicts.setting.isin({c.label for c in curves})]
    name = title or (experiments[0] if len(experiments) == 1 else folder.name)
    body = [
        f"<header><h1>{_clip(name)}</h1><p class=meta>modelcollapse report of <code>{_clip(folder)}</code>, "
        f"written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {len(all_cells)} cell(s), "
        f"{len(failures)} failed chunk(s)</p>"
        + (f"<p class=claim>{_e(claim)}</p>" if claim else "")
        + f"{_nav()}</header>",
        _section("verdicts", "Does it collapse? Verdicts per definition", _verdicts(verdicts)),
        _section("figures", "Figures", _figure_shells(data)),
        _section("theory", "Theory vs simulation", _theory(theory)),
        _section(
            "tables",
            "Metrics per workflow and generation (mean ± standard error)",
            _tables(curves, grids, stats, declared),
        ),
        _section("static", "Figure files", _static(folder / "figures")),
        _section("configs", "Configurations", _configs(runs, all_cells)),
        _section("metadata", "Run metadata", _metadata(runs, chunks, failures, nonfinite, all_cells)),
    ]
    page = _PAGE.format(
        title=_e(shorten(name, SHORT)),
        css=_asset("report.css"),
        js=_asset("report.js"),
        data=_json(data),
        body="\n".join(body),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8", errors="replace")  # a lone surrogate must not lose the page
    return path


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head>
<body>{body}
<div id="tooltip" role="tooltip"></div>
<script type="application/json" id="report-data">{data}</script>
<script>{js}</script>
</body></html>
"""


def _asset(name: str) -> str:
    return (resources.files("modelcollapse.report") / "assets" / name).read_text(encoding="utf-8")


def _e(text: object) -> str:
    """Text for HTML content or a quoted attribute value."""
    return html.escape(str(text), quote=True)


def _clip(text: object, limit: int = SHORT) -> str:
    """Escaped text cut to ``limit`` characters (a long name must not stretch the page), whole on hover."""
    s = str(text)
    return _e(s) if len(s) <= limit else f'<span title="{_e(s)}">{_e(shorten(s, limit))}</span>'


# In a <script> element '<!--', '<script' and '</script' change how the browser finds its end; U+2028/9 end
# a line in old JavaScript. Escaped as \uXXXX they cannot occur, and JSON.parse reads them back unchanged.
_SCRIPT_SAFE = str.maketrans({c: f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"})


def _json(data: Any) -> str:
    """JSON to embed in a <script> element, with none of ``< > &`` U+2028 U+2029 raw (NaN/inf: pass None)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False, default=str).translate(_SCRIPT_SAFE)


def _nav() -> str:
    names = ["verdicts", "figures", "theory", "tables", "static", "configs", "metadata"]
    return "<nav>" + " · ".join(f'<a href="#{n}">{n}</a>' for n in names) + "</nav>"


def _section(anchor: str, heading: str, content: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(heading)}</h2>{content}</section>'


def _figure_shells(data: dict[str, Any]) -> str:
    """Containers the script draws into, and the workflow switches shared by every figure."""
    parts = []
    if data["workflows"]:
        boxes = "".join(
            f'<label class="toggle"><input type="checkbox" class="wf-toggle" value="{_e(w)}" checked>'
            f'<span class="swatch" data-workflow="{_e(w)}"></span>{_clip(w, 80)}</label>'
            for w in data["workflows"]
        )
        parts.append(f'<div class="toggles"><b>Workflows</b> (shown in every figure): {boxes}</div>')
    for g in data["grids"]:
        cuts = "".join(
            f'<figure class="chart" data-chart="{_e(c["id"])}"></figure>' for c in g["curves"] if c["series"]
        )
        parts.append(
            f'<figure class="grid-figure" data-grid="{_e(g["id"])}"><figcaption>{_clip(g["title"])}</figcaption>'
            f'<div class="heat"></div><div class="cuts">{cuts}</div></figure>'
        )
    charts = "".join(
        f'<figure class="chart" data-chart="{_e(c["id"])}"><figcaption>{_clip(c["title"])}</figcaption></figure>'
        for c in data["charts"]
    )
    if charts:
        parts.append(f'<div class="charts">{charts}</div>')
    if data["omitted"]:
        parts.append(
            f"<p class=hint>{data['omitted']} more figure(s) not drawn here, to keep the page light: "
            "<code>modelcollapse plot DIR</code> draws every one.</p>"
        )
    parts.append("<p class=hint>Hover a figure for values; theory is dashed where a closed form exists.</p>")
    return "".join(parts)


def _table(df: pd.DataFrame, classes: str = "") -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>" for r in df.itertuples(index=False))
    return f'<table class="{classes}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _cell(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return "" if not math.isfinite(v) else _e(f"{v:.4g}")
    return _clip(v)


def _fmt(mean: float, se: float) -> str:
    return f"{mean:.4g} ± {se:.2g}" if math.isfinite(se) else f"{mean:.4g}"


def _verdicts(v: pd.DataFrame) -> str:
    if v.empty:
        return "<p>No trajectories to judge (real-synthetic grid cells each measure one model: see the figures).</p>"
    names = dict(zip(v.definition, v.name, strict=False))
    rows = []
    for (setting, workflow), part in v.groupby(["setting", "workflow"], sort=True):
        by = {r["definition"]: r for r in part.to_dict("records")}
        tds = []
        for d in sorted(names):
            r = by.get(d)
            verdict = "" if r is None else str(r["outcome"])
            note = "" if r is None else _evidence(r)
            cls = {"collapses": "bad", "does not collapse": "good"}.get(verdict, "undetermined")
            tds.append(f'<td class="{cls}" title="{_e(note)}">{_e(verdict)}</td>')
        rows.append(f"<tr><td>{_clip(setting)}</td><td>{_clip(workflow)}</td>{''.join(tds)}</tr>")
    head = "".join(f"<th>{d}. {_e(names[d])}</th>" for d in sorted(names))
    return (
        "<p>Each definition of collapse (Schaeffer et al. 2025) judged from the metric trajectories; "
        "hover a verdict for its evidence.</p>"
        f'<table class="verdicts"><thead><tr><th>setting</th><th>workflow</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _evidence(r: dict[Any, Any]) -> str:
    parts = [f"metric {r['metric']}"] if r.get("metric") else []
    if figure_data.num(r["statistic"]) is not None:
        parts.append(
            f"statistic {r['statistic']:.4g} ({r['threshold']})"
            if r.get("threshold")
            else f"statistic {r['statistic']:.4g}"
        )
    if r.get("first_generation") is not None and figure_data.num(r["first_generation"]) is not None:
        parts.append(f"from generation {int(r['first_generation'])}")
    if figure_data.num(r["confidence"]) is not None:
        parts.append(f"z {r['confidence']:.3g}")
    return "; ".join([*parts, str(r["note"])] if r.get("note") else parts)


def _theory(t: pd.DataFrame) -> str:
    if t.empty:
        return "<p>No closed form applies to these cells; the figures show the simulations alone.</p>"
    t = t.assign(abs_z=t.z.abs())
    by = t.groupby(["reproduction", "metric"]).agg(points=("z", "size"), worst_abs_z=("abs_z", "max"))
    by["mean_z_sq"] = t.assign(z2=t.z**2).groupby(["reproduction", "metric"]).z2.mean()
    worst = t.sort_values("abs_z", ascending=False).head(400).drop(columns=["abs_z", "reproduction"])
    return (
        f"<p>{len(t)} simulated points have an exact prediction; z = (simulated − predicted) / standard error. "
        "Without error in the theory |z| exceeds 3 in about 1 point in 370.</p>"
        + _table(by.reset_index().rename(columns={"reproduction": "experiment"}))
        + f"<details><summary>every compared point, largest |z| first ({len(worst)} shown)</summary>"
        + _table(worst, "wide")
        + "</details>"
    )


def _tables(group: list[Cell], grids: pd.DataFrame, stats: pd.DataFrame, declared: dict[str, Any]) -> str:
    parts = []
    if len(group) > MAX_CHARTS:
        parts.append(
            f"<p>The first {MAX_CHARTS} of {len(group)} cells; <code>modelcollapse export DIR</code> has all.</p>"
        )
    for cell in group[:MAX_CHARTS]:
        data = stats[stats.config_hash == cell.key]
        gens = sorted(data.generation.unique())
        shown = [
            gens[i]
            for i in np.unique(np.linspace(0, len(gens) - 1, min(len(gens), TABLE_GENERATIONS)).round().astype(int))
        ]
        pick = data[data.generation.isin(shown)]
        wide = pick.assign(v=[_fmt(m, s) for m, s in zip(pick["mean"], pick.se, strict=True)]).pivot_table(
            index=["metric", "workflow"], columns="generation", values="v", aggfunc="first"
        )
        wide.columns = [f"gen {g}" for g in wide.columns]
        parts.append(f"<details open><summary>{_clip(cell.label)}</summary>{_table(wide.reset_index())}</details>")
    if not grids.empty:
        for (experiment, facet, metric), part in grids.groupby(["experiment", "facet", "metric"], sort=True):
            reals, syns = grid.axes_of(part, declared.get(str(experiment)))
            cellv = {(r["n_real"], r["n_syn"]): _fmt(r["centre"], r["se"]) for r in part.to_dict("records")}
            df = pd.DataFrame(
                [[r, *(cellv.get((r, s), "") for s in syns)] for r in reals], columns=["N_real \\ N_syn", *syns]
            )
            title = f"{experiment}{f' [{facet}]' if facet else ''}: {metric} (real-synthetic grid, last generation)"
            parts.append(f"<details open><summary>{_clip(title)}</summary>{_table(df)}</details>")
    return "".join(parts) or "<p>No results.</p>"


def _static(figures: Path) -> str:
    pngs = sorted(figures.glob("*.png")) if figures.is_dir() else []
    if not pngs:
        return "<p>No figure files in this folder (<code>modelcollapse plot DIR</code> writes them).</p>"
    items = "".join(
        f'<figure class="static"><img alt="{_e(p.name)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"><figcaption>{_clip(p.name)}</figcaption></figure>'
        for p in pngs
    )
    return f"<details><summary>{len(pngs)} PNG file(s) from {_clip(figures)}</summary>{items}</details>"


def _configs(runs: pd.DataFrame, group: list[Cell]) -> str:
    parts = []
    seen = set()
    for r in runs.to_dict("records"):
        text = yaml.safe_dump(json.loads(r["config"]), sort_keys=False)
        if text not in seen:
            seen.add(text)
            parts.append(
                f"<details open><summary>{_clip(r['experiment'])} (as run)</summary><pre>{_e(text)}</pre></details>"
            )
    if not parts:  # a run killed before it recorded itself: the cells' validated configs
        for c in group:
            text = yaml.safe_dump(c.exp.model_dump(mode="json", exclude_none=True), sort_keys=False)
            parts.append(f"<details><summary>{_clip(c.label)}</summary><pre>{_e(text)}</pre></details>")
    return "".join(parts)


def _metadata(
    runs: pd.DataFrame, chunks: pd.DataFrame, failures: pd.DataFrame, nonfinite: pd.DataFrame, group: list[Cell]
) -> str:
    parts = []
    if len(runs):
        table = runs.assign(
            started=[time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(s)) for s in runs.started],
            seconds=runs.seconds.round(1),
        )[["experiment", "seed", "started", "seconds", "cells", "chunks_run", "chunks_skipped"]]
        parts.append(_table(table))
        versions = json.loads(runs.versions.iloc[-1])
        parts.append("<p>Versions: " + ", ".join(f"{_clip(k)} {_clip(v)}" for k, v in versions.items()) + "</p>")
    seconds = chunks[chunks.config_hash.isin({c.key for c in group})].seconds
    if len(seconds):
        parts.append(
            f"<p>Time per cell: mean {seconds.mean():.2f} s, median {seconds.median():.2f} s, "
            f"slowest {seconds.max():.2f} s, total {seconds.sum():.1f} s.</p>"
        )
    if len(failures):
        parts.append("<h3>Failed cells</h3>" + _table(failures[["experiment", "sweep", "block", "error"]], "failures"))
    else:
        parts.append("<p>No failed cells.</p>")
    if len(nonfinite):
        parts.append("<h3>Non-finite values (NaN or inf)</h3>" + _table(nonfinite))
    return "".join(parts)
