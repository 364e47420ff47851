"""Summary rows and figures specific to one reproduction (beyond metric-vs-generation overlays)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from modelcollapse.report.summary import SUMMARY_COLUMNS
from modelcollapse.store import Store


def summary(name: str, store: Store) -> pd.DataFrame:
    return pd.DataFrame(columns=SUMMARY_COLUMNS)


def figures(name: str, out: Path) -> list[Path]:
    return []
