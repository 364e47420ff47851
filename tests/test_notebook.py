"""The docs notebook runs from top to bottom (nbclient, a fresh kernel), so its example never goes stale."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).parents[1] / "docs" / "notebooks" / "explore-results.ipynb"


def test_the_docs_notebook_runs_and_shows_collapse_under_replace_only(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3")
    client.execute(cwd=str(tmp_path))
    outputs = {i: cell.get("outputs", []) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"}
    assert all(o.get("output_type") != "error" for out in outputs.values() for o in out)
    text = [o["data"].get("text/plain", "") for out in outputs.values() for o in out if "data" in o]
    verdicts = text[-1]  # the pivot of outcomes: definition x workflow
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in verdicts.splitlines()[2:]}
    assert rows["5"] == "does not collapse collapses"  # collapsing variance; columns: accumulate, replace
    assert any(o.get("data", {}).get("image/png") for out in outputs.values() for o in out)  # the figure
