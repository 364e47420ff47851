"""Early warning: the first generation each definition of collapse fires, and its lead over the test loss.

From :func:`~modelcollapse.analysis.assess.assess`'s verdicts, per cell and workflow: every definition
whose condition held at some generation, in the order they fired, with ``lead``: how many generations
before the population risk rose (definition 2, a significant rise of test loss, else definition 1) it
fired (negative: after; None when the loss never rose or the definition has no first generation).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

LOSS_DEFINITIONS = (2, 1)  # a significant rise of the test loss first, then its catastrophic increase


def timeline(verdicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (cell, workflow, definition that fired), earliest first within each cell and workflow.

    >>> rows = [
    ...     {"experiment": "e", "setting": "s", "workflow": "replace", "definition": 2, "name": "loss",
    ...      "metric": "test_nll", "outcome": "collapses", "first_generation": 9},
    ...     {"experiment": "e", "setting": "s", "workflow": "replace", "definition": 7, "name": "tails",
    ...      "metric": "tail_kept", "outcome": "collapses", "first_generation": 4},
    ... ]
    >>> [(r["definition"], r["first_generation"], r["lead"]) for r in timeline(rows)]
    [(7, 4, 5), (2, 9, 0)]
    """
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for v in verdicts:
        groups[(v["experiment"], v["setting"], v["workflow"])].append(v)
    out = []
    for (experiment, setting, workflow), rows in groups.items():
        first = {r["definition"]: r["first_generation"] for r in rows}
        loss = next((first[d] for d in LOSS_DEFINITIONS if first.get(d) is not None), None)
        fired = sorted((r for r in rows if r["first_generation"] is not None), key=lambda r: r["first_generation"])
        for r in fired:
            out.append(
                {
                    "experiment": experiment,
                    "setting": setting,
                    "workflow": workflow,
                    "definition": r["definition"],
                    "name": r["name"],
                    "metric": r["metric"],
                    "first_generation": r["first_generation"],
                    "outcome": r["outcome"],
                    "lead": None if loss is None else loss - r["first_generation"],
                }
            )
    return out
