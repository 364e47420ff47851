"""Untrusted text in a results folder (names, sweep values, workflow labels) in the HTML report and the figures:
shown as written, never run as markup or mathtext, never a path out of the output folder."""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from modelcollapse.cli import app
from modelcollapse.report.html import _json
from modelcollapse.report.untrusted import file_stem, plain, slug
from test_report_html import _browser, _ink, run_together

# Opens an HTML comment and a script inside the data block, unbalanced and balanced mathtext, a path out of
# the folder, JavaScript line separators and HTML entities.
HOSTILE = "x<!--<script>alert(1)</script>$_{\\ $\\frac$ {$ ../../../escaped/ \u2028\u2029 &amp; \"q\" 'a' <b>"
WORKFLOW = "_r" + HOSTILE  # a leading '_' hides a label from a matplotlib legend
PLACEHOLDER = "_r-placeholder"  # no config may name a workflow WORKFLOW (it holds '/'); a store from elsewhere can
LONG = "L" * 10_000 + "$"
SMALL: dict[str, Any] = {
    "source": {"kind": "gaussian", "dim": 1},
    "model": {"kind": "gaussian"},
    "samples_per_generation": 10,
    "generations": 3,
    "replicates": 2,
    "metrics": ["mean_sq_error"],
}
CURVES = {
    **SMALL,
    "name": HOSTILE,
    "workflow": ["replace", "accumulate"],
    "sweep": {"workflow": [[{"kind": "replace", "name": PLACEHOLDER}, "accumulate"], ["replace", "accumulate"]]},
}
TALL = {**SMALL, "name": LONG, "workflow": ["replace", "accumulate"], "seed": 1}  # a cell unlike CURVES' cells
GRID = {  # a grid's file names hold its sweep values: a list here, with brackets, commas and spaces
    "name": HOSTILE + "grid",
    "source": {"kind": "linear-regression", "dim": 2, "design": "fresh"},
    "model": {"kind": "ols"},
    "samples_per_generation": 10,
    "grid": {"real": [0, 8], "synthetic": [0, 8]},
    "replicates": 4,
    "metrics": ["excess_risk"],
    "sweep": {"source.feature_variance": [[1.0, 2.0]]},
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile") / "deep" / "out"
    run_together([CURVES, TALL, GRID], out)
    quoted = json.dumps(WORKFLOW)[1:-1]  # as it reads inside JSON text
    with duckdb.connect(str(out / "results.duckdb")) as con:
        con.execute("UPDATE results SET workflow = ? WHERE workflow = ?", [WORKFLOW, PLACEHOLDER])
        con.execute('UPDATE results SET "sweep.workflow" = replace("sweep.workflow", ?, ?)', [PLACEHOLDER, quoted])
        for column in ("sweep", "config"):
            con.execute(f"UPDATE cells SET {column} = replace({column}::VARCHAR, ?, ?)::JSON", [PLACEHOLDER, quoted])
    return out


@pytest.fixture(scope="module")
def page(folder: Path) -> Path:
    result = CliRunner().invoke(app, ["report", str(folder), "--html", str(folder / "report.html")])
    assert result.exit_code == 0, result.output
    return folder / "report.html"


def data_block(html: str) -> str:
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert found is not None
    return found.group(1)


def test_the_data_block_holds_the_names_exactly_and_no_markup(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    block = data_block(html)
    assert not set(block) & set("<>&\u2028\u2029")  # nothing the HTML parser or old JavaScript reads as syntax
    data = json.loads(block)
    experiments = {c["experiment"] for c in data["charts"]}
    assert experiments == {HOSTILE, LONG}
    assert data["workflows"] == sorted([WORKFLOW, "accumulate", "replace"])
    assert [g["title"] for g in data["grids"]] == [f"{HOSTILE}grid [source.feature_variance=[1.0, 2.0]]: excess_risk"]
    assert len(data["charts"]) == 3  # three cells, one metric
    (hostile,) = [c for c in data["charts"] if WORKFLOW in {s["workflow"] for s in c["series"]}]
    assert hostile["experiment"] == HOSTILE and hostile["title"].startswith(f"{HOSTILE} [workflow=[")
    assert {s["workflow"] for s in hostile["series"]} == {WORKFLOW, "accumulate"}
    # The page's own two scripts and nothing else; every name shown escaped, as text.
    assert html.count("<script") == 2 and "<script>alert" not in html and "<!--" not in html
    assert "x&lt;!--&lt;script&gt;alert(1)&lt;/script&gt;$_{\\" in html
    assert f'class="wf-toggle" value="{escape(WORKFLOW)}"' in html
    # A 10 kB name is cut where it is shown (the whole of it on hover), so no line of text runs away.
    shown = re.sub(r"<(script|style|pre)\b.*?</\1>|<[^>]*>", "\n", html, flags=re.S)
    assert max(len(line) for line in shown.splitlines()) < 600
    assert f'title="{LONG}"' in html and "L" * 199 + "…" in html


def test_plot_writes_every_figure_inside_its_folder(folder: Path) -> None:
    before = {p for p in folder.parent.parent.rglob("*") if p.is_file()}
    result = CliRunner().invoke(app, ["plot", str(folder)])
    assert result.exit_code == 0, result.output
    made = {p for p in folder.parent.parent.rglob("*") if p.is_file()} - before
    figures = (folder / "figures").resolve()
    assert made and all(p.resolve().parent == figures for p in made)
    assert all(re.fullmatch(r"[A-Za-z0-9._-]{1,170}\.(png|pdf|csv)", p.name) for p in made)
    pngs = sorted(p for p in made if p.suffix == ".png")
    # Curves: one per experiment (its sweep cells are facets); grids: one per sweep cell.
    assert len(pngs) == 2 + 1 and all(p.stat().st_size > 10_000 for p in pngs)
    assert [p.name for p in pngs if "-source.feature_variance_1.0-2.0_-" in p.name and p.stem.endswith("-grid")]
    # The CSV beside a figure keeps the untrusted text whole.
    drawn = pd.concat([pd.read_csv(p) for p in made if p.suffix == ".csv" and not p.stem.endswith("-grid")])
    assert WORKFLOW in set(drawn.workflow) and LONG in set(drawn.setting)


def test_the_page_draws_its_figures_in_a_browser(page: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = _browser()
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("dialog", lambda d: errors.append(f"dialog {d.message}"))  # an injected alert(1)
        tab.goto(page.as_uri())
        tab.wait_for_selector("body[data-rendered=true]", timeout=20_000)
        assert tab.title().startswith("out") and "alert" not in tab.locator("h1").inner_text()
        charts = tab.locator("figure.chart")
        assert charts.count() == 3 + 1  # 3 cells, and the grid's cut at fixed N_real (it has no fixed totals)
        drawn = tab.locator("figure.chart svg, figure.grid-figure .heat svg")
        assert drawn.count() == charts.count() + 1
        for i in range(drawn.count()):
            assert _ink(drawn.nth(i).screenshot()) > 0.02
        assert tab.locator("h2").count() == 7  # every section after the data block is still a section
        assert tab.locator("figcaption", has_text=HOSTILE[:20]).count() >= 2

        # The hostile workflow's switch hides its series, matched by the exact label.
        box = tab.locator("input.wf-toggle").nth(0)
        assert box.get_attribute("value") == WORKFLOW
        series = tab.locator("g.series").count()
        box.uncheck()
        assert tab.locator("g.series").count() == series - 1
        box.check()
        assert tab.locator("g.series").count() == series
        browser.close()
    assert errors == []


def test_json_for_a_script_element_round_trips() -> None:
    value = {"k<>": ["</script><!--<script>", "a&b", "\u2028\u2029", None, 1.5, "é\u00a0\\\"'"]}
    text = _json(value)
    assert not set(text) & set("<>&\u2028\u2029")
    assert json.loads(text) == value


def test_file_names_stay_in_their_folder_and_apart() -> None:
    assert slug("kazdan2024-gaussian") == "kazdan2024-gaussian"  # ordinary names keep their files
    for text in ("../../x", "/etc/passwd", "a\x00b", "..", "", "é", "x" * 5000, "a b/c\\d"):
        s = slug(text)
        assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,80}", s), s
    assert slug("a/b") != slug("a_b") != slug("a:b")
    used: set[str] = set()
    stems = [file_stem(p, used) for p in (("a-b", "c"), ("a", "b-c"), ("A-B", "c"), ("y" * 999, "z" * 999, "m"))]
    assert len({s.lower() for s in stems}) == 4 and stems[0] == "a-b-c" and max(map(len, stems)) <= 160


def test_plain_labels_are_drawn_as_written() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.text import Text

    for text in ("$\\frac$", "$x_{$", "a\\$b$", "_hidden", "a\x00b\u2028c\nd"):
        label = plain(text)
        shown, math = Text(text=label)._preprocess_math(label)  # what matplotlib will draw
        assert not math and not shown.startswith("_")
        assert shown.strip() == text if text.isprintable() else "\N{REPLACEMENT CHARACTER}" in shown
    assert plain("y" * 1000, 60) == "y" * 59 + "…"
