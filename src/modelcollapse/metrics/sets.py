"""Tables of metrics that apply to many families, chosen by name.

A family measures its own ``metrics`` (functions of its fitted parameters) plus the table its
``sample_metrics`` names (functions of its samples against held-out real data); a source adds the
tables its ``metric_sets`` names (e.g. chemistry for SMILES). :func:`table` is the whole list.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from modelcollapse.models.base import Family, Metric
from modelcollapse.sources.base import SourceConfig

SETS = {  # name -> "module:table", imported when used (RDKit only for molecules)
    "rows": "modelcollapse.metrics.samples:SAMPLE_METRICS",
    "images": "modelcollapse.metrics.samples:IMAGE_METRICS",
    "molecules": "modelcollapse.metrics.molecules:MOLECULE_METRICS",
    "conformers": "modelcollapse.metrics.conformers:CONFORMER_METRICS",
}


def metric_set(name: str) -> Mapping[str, Metric]:
    module, _, attr = SETS[name].partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


def table(family: Family, source: SourceConfig | None = None) -> dict[str, Metric]:
    """Every metric of ``family`` fitted to data of ``source``, by name."""
    names = ([family.sample_metrics] if family.sample_metrics else []) + list(source.metric_sets if source else ())
    out = dict(family.metrics)
    for name in names:
        out |= metric_set(name)
    return out
