"""The self-contained HTML report: its content, and the page in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from modelcollapse.cli import app
from modelcollapse.run.loading import expand
from modelcollapse.run.runner import identity, run
from modelcollapse.store import Identity

CURVES: dict[str, Any] = {
    "name": "curves",
    "source": {"kind": "gaussian", "dim": 2},
    "model": {"kind": "gaussian"},
    "samples_per_generation": 20,
    "workflow": ["replace", "accumulate"],
    "generations": 12,
    "replicates": 60,
    "seed": 1,
    "metrics": ["mean_sq_error", "cov_trace_ratio"],
}
GRID: dict[str, Any] = {
    "name": "cardinality",
    "source": {"kind": "linear-regression", "dim": 2, "design": "fresh"},
    "model": {"kind": "ols"},
    "samples_per_generation": 10,
    "grid": {"real": [0, 8, 32], "synthetic": [0, 8, 32], "totals": [16]},
    "replicates": 60,
    "metrics": ["excess_risk"],
}
FAILING: dict[str, Any] = {  # more components than points: the fit raises, the cell is recorded as failed
    "name": "failing",
    "source": {"kind": "gaussian", "dim": 1},
    "model": {"kind": "gmm", "components": 8},
    "samples_per_generation": 5,
    "workflow": ["replace"],
    "generations": 2,
    "replicates": 2,
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    run_together([CURVES, GRID, FAILING], out)
    result = CliRunner().invoke(app, ["report", str(out), "--html", str(out / "report.html")])
    assert result.exit_code == 0, result.output
    return out / "report.html"


def run_together(configs: list[dict[str, Any]], out: Path) -> None:
    """Run several experiments into one folder, declared together as a reproduction does."""
    bundle = Identity(tuple(identity(expand(cfg)) for cfg in configs))
    for cfg in configs:
        run(cfg, out, executor="inline", bundle=bundle)


def embedded(page: str) -> dict[str, Any]:
    text = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert text is not None
    return json.loads(text.group(1).replace("<\\/", "</"))  # type: ignore[no-any-return]


def test_the_page_holds_everything_and_fetches_nothing(report: Path) -> None:
    page = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # no external script, style or image
    assert "<link" not in page and "@import" not in page and "url(http" not in page
    assert page.count("<script") == 2 and "function drawChart" in page  # the data and the inlined script
    data = embedded(page)
    assert data["workflows"] == ["accumulate", "replace"]
    assert {c["title"] for c in data["charts"]} == {"curves: cov_trace_ratio", "curves: mean_sq_error"}
    (chart,) = [c for c in data["charts"] if c["metric"] == "mean_sq_error"]
    assert [s["workflow"] for s in chart["series"]] == ["accumulate", "replace"]
    assert chart["series"][0]["x"] == list(range(1, 13)) and chart["series"][0]["theory"][0] > 0
    (grid,) = data["grids"]
    assert (grid["reals"], grid["syns"]) == ([0, 8, 32], [0, 8, 32])
    assert len(grid["cells"]) == 8 + 4  # the 3 x 3 grid without (0, 0); splits of 16 off it: (0|4|12|16, rest)
    # Configs as run, the theory table, standard errors, run metadata and the failed cell with its error.
    for text in ("samples_per_generation: 20", "Theory vs simulation", "mean_sq_error", " ± ", "Versions: python"):
        assert text in page
    assert "failing" in page and "Failed cells" in page
    assert "catastrophic increase of population risk" in page  # the verdict table's definitions


def test_reproduce_writes_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["reproduce", "kazdan2024-gaussian", "--out", str(tmp_path), "--replicates", "40", "--html"]
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text()
    assert "kazdan2024-gaussian" in page and "<img" in page  # the reproduction's figure files, inlined
    assert embedded(page)["charts"]


def _browser() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is missing (pip install -e '.[dev]')")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no chromium to drive: install Debian's chromium (make test does, as root)")
    return path


def _ink(png: bytes) -> float:
    """Share of pixels that are not the background: 0 for a blank figure."""
    from PIL import Image

    counts = Image.open(io.BytesIO(png)).convert("L").histogram()
    return sum(counts[:235]) / sum(counts)


def test_the_page_in_a_headless_browser(report: Path) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_browser(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.wait_for_selector("body[data-rendered=true]", timeout=20_000)

        # Every figure is drawn: two metrics x two workflows, the grid's heatmap and its two cuts.
        drawn = page.locator("figure.chart svg, figure.grid-figure .heat svg")
        assert drawn.count() == 5
        for i in range(drawn.count()):
            assert _ink(drawn.nth(i).screenshot()) > 0.03
        share = page.locator('figure.chart[data-chart="grid-0-share"]')
        assert share.locator("g.series").count() == 1  # the one total, 16: N_real = 0, 4, 8, 12, 16

        chart = page.locator('figure.chart[data-chart="chart-1"]')  # mean_sq_error
        assert chart.locator('g.series[data-workflow="replace"]').count() == 1
        before = chart.locator("svg").screenshot()
        page.locator('input.wf-toggle[value="replace"]').uncheck()
        assert chart.locator('g.series[data-workflow="replace"]').count() == 0
        assert chart.locator('g.series[data-workflow="accumulate"]').count() == 1
        assert chart.locator("svg").screenshot() != before  # hiding replace changed what is shown
        page.locator('input.wf-toggle[value="replace"]').check()
        assert chart.locator('g.series[data-workflow="replace"]').count() == 1

        box = chart.locator("svg").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.5)
        tip = page.locator("#tooltip")
        assert tip.is_visible() and "generation 11" in tip.inner_text() and "replace:" in tip.inner_text()

        heat = page.locator("figure.grid-figure .heat")
        heat.locator('rect.cell[data-r="8"][data-s="32"]').hover()
        assert "N_real 8, N_syn 32" in tip.inner_text() and "theory" in tip.inner_text()
        colours = heat.locator("rect.cell").evaluate_all("cells => cells.map(c => c.getAttribute('fill'))")
        heat.locator('input[value="relative"]').check()
        assert heat.locator("rect.cell").evaluate_all("cells => cells.map(c => c.getAttribute('fill'))") != colours
        browser.close()
    assert errors == []
