"""Every bundled reproduction, at reduced replicates: |z| < 4 on every predicted point; figures match the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelcollapse.analysis.summary import SUMMARY_COLUMNS
from modelcollapse.report.reproduce import available, reproduce
from modelcollapse.sources.text import FORTUNES

NAMES = sorted(n for n, r in available().items() if r.effect is None)  # the neural ones: test_reproduce_neural.py


def test_the_bundled_set() -> None:
    assert set(NAMES) >= {
        "gerstgrasser2024-linear-regression",
        "kazdan2024-gaussian",
        "shumailov2024-gaussian-1d",
        "dey-donoho2024-universality",
        "seddik2024-categorical",
        "wright-fisher",
        "mixing-real-data",
    }


@pytest.mark.parametrize("name", NAMES)
def test_reproduction_agrees_with_theory(name: str, tmp_path: Path) -> None:
    if any(e["source"]["kind"] == "text" for e in available()[name].experiments) and not FORTUNES.is_dir():
        pytest.skip("Debian's fortunes corpus is not installed (make test installs it as root)")
    outcome = reproduce(name, tmp_path, replicates=available()[name].test_replicates, workers=1)
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert (summary.reproduction == name).all()
    assert np.isfinite(summary.z.astype(float)).all()
    if len(summary):
        worst = summary.loc[summary.z.abs().idxmax()]
        assert outcome.worst_z < 4, f"|z| = {outcome.worst_z:.2f} at {worst.to_dict()}"

    # Figures exist (PNG and PDF, non-trivial), and what they draw is the summary's data.
    assert outcome.figures
    for png in outcome.figures:
        assert png.stat().st_size > 10_000 and png.with_suffix(".pdf").stat().st_size > 5_000
    drawn = pd.concat([pd.read_csv(p.with_suffix(".csv")) for p in outcome.figures if p.with_suffix(".csv").exists()])
    predicted = drawn.dropna(subset=["predicted"])
    if summary.empty:  # no closed form for this model (e.g. n-gram text): the figures alone
        return
    assert len(predicted) > 0 and (predicted.statistic == "mean").all()
    merged = summary.dropna(subset=["generation"]).merge(
        predicted.assign(generation=predicted.generation.astype(float)),
        on=["setting", "metric", "workflow", "generation"],
        suffixes=("", "_drawn"),
    )
    assert len(merged) == len(predicted) == len(summary.dropna(subset=["generation"]))  # every point drawn once
    np.testing.assert_allclose(merged.centre, merged.simulated, rtol=1e-9)
    np.testing.assert_allclose(merged.predicted_drawn, merged.predicted, rtol=1e-12)
    if name == "definitions":
        check_definitions_table(tmp_path)


def check_definitions_table(out: Path) -> None:
    """Replace collapses by definitions 1-3 and 5 for the Gaussian; accumulate does not (its risk rises, by 2)."""
    from modelcollapse.analysis.definitions import COLLAPSES, STABLE

    table = pd.read_csv(out / "assess.csv")
    got = {(r.setting, r.workflow, r.definition): r.outcome for r in table.itertuples()}
    gauss = "gaussian [samples_per_generation=50]"
    assert [got[(gauss, "replace", d)] for d in (1, 2, 3, 5)] == [COLLAPSES] * 4
    assert [got[(gauss, "accumulate", d)] for d in (1, 3, 5)] == [STABLE] * 3
    assert got[(gauss, "accumulate", 2)] == COLLAPSES
    assert got[("categorical", "replace", 7)] == COLLAPSES  # the support shrinks
    assert got[("categorical", "fresh", 7)] == STABLE  # fresh real data keep it
    assert got[("kde-moons", "replace", 8)] == COLLAPSES  # samples leave the real manifold
    assert got[("gmm-blobs", "replace", 6)] == COLLAPSES  # mixture weights drift: mode shares move
    assert got[("gmm-blobs", "accumulate", 6)] == STABLE
    for d in range(1, 9):
        assert (out / "figures" / f"definition-{d}.png").stat().st_size > 5000
