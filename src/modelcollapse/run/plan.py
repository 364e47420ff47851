"""What a run would cost, estimated before anything starts, and the limits that refuse an absurd one.

A config can ask for 10**12 replicates or 10**12 samples per generation in a few bytes; such a plan
would hang in the planner or die with a MemoryError hours later. It is refused at validation instead,
in one line naming the field and the estimate; ``--allow-large`` runs it anyway.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from modelcollapse.run.chunk import block_size
from modelcollapse.run.config import Experiment
from modelcollapse.run.loading import ConfigError

MAX_ROWS = 10**9  # result rows stored: ~10-20 GB of DuckDB
MAX_DRAWS = 10**12  # data rows drawn over the run: hours of even the fastest family
MAX_CHUNKS = 10**6  # units of work (one marker each)


def max_block_bytes() -> int:
    """Half of this machine's memory (8 GiB where it cannot be read)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 8 << 30


class PlanTooLarge(ConfigError):
    """A plan over the limits; the message names the field and the estimate."""


@dataclass(frozen=True)
class Plan:
    """Totals over every cell, and the largest block's memory."""

    cells: int
    chunks: int
    rows: int
    draws: int
    block_bytes: int


def cost(exp: Experiment) -> Plan:
    """One cell: chunks, result rows, data rows drawn, and the memory of one block (its data, the rows a
    pooling workflow keeps, and its metric values)."""
    size = block_size(exp)
    n, gens, reps, flows = exp.samples_per_generation, exp.generations, exp.replicates, len(exp.workflow)
    total = n * gens  # rows over all generations
    if exp.schedule is not None:
        sizes = exp.sizes()
        n, total = int(sizes.max()), int(sizes.sum())
    metrics = len(exp.recorded())
    pools = any(exp.built(wf).needs_rows for wf in exp.workflow)
    fit = max([n, *(getattr(wf, "real", 0) + getattr(wf, "synthetic", 0) for wf in exp.workflow)])  # a grid cell
    test = getattr(exp.source, "test_samples", 0) or 0  # held-out rows, drawn once per block
    expansion = selection.expansion if (selection := exp.selected()) else 1
    screened = n * expansion  # one batch a selection screens
    rows = (max(fit * gens, total) if pools else 3 * fit) + test + screened  # a pool keeps every generation
    data = size * rows * exp.source.row_bytes
    return Plan(
        1,
        -(-reps // size),
        reps * flows * gens * metrics,
        reps * flows * total * expansion,
        data + size * gens * metrics * 8 * flows,
    )


def check(cells: list[tuple[dict[str, Any], Experiment]], allow_large: bool = False) -> Plan:
    """The plan of a run's cells; refused (:class:`PlanTooLarge`) past the limits unless ``allow_large``."""
    costs = [(exp, cost(exp)) for _, exp in cells]
    plan = Plan(
        len(cells),
        sum(c.chunks for _, c in costs),
        sum(c.rows for _, c in costs),
        sum(c.draws for _, c in costs),
        max(c.block_bytes for _, c in costs),
    )
    if allow_large:
        return plan
    exp, worst = max(costs, key=lambda t: t[1].block_bytes)
    if worst.block_bytes > (limit := max_block_bytes()):
        field, value = max(_sizes(exp).items(), key=lambda kv: kv[1])
        _refuse(field, value, f"{_gib(worst.block_bytes)} of memory per block (limit {_gib(limit)})")
    exp, _ = max(costs, key=lambda t: t[1].draws)
    where = f" over {len(cells)} sweep cells" if len(cells) > 1 else ""
    for total, limit, what, fields in (
        (plan.rows, MAX_ROWS, "result rows", ("replicates", "generations")),
        (plan.draws, MAX_DRAWS, "data rows drawn", ("replicates", "generations", "samples_per_generation")),
        (plan.chunks, MAX_CHUNKS, "chunks of work", ("replicates",)),
    ):
        if total > limit:
            field = max(fields, key=lambda f: getattr(exp, f))
            _refuse(field, getattr(exp, field), f"{total:.2e} {what}{where} (limit {limit:.0e})")
    return plan


def _sizes(exp: Experiment) -> dict[str, int]:
    """The fields that size a block's data, with their values: the largest is named when it is too big."""
    out = {"samples_per_generation": exp.samples_per_generation, "generations": exp.generations}
    out["source.test_samples"] = getattr(exp.source, "test_samples", 0) or 0
    for wf in exp.workflow:
        if hasattr(wf, "real"):  # a real-synthetic grid cell trains on real + synthetic rows
            out |= {"grid.real": wf.real, "grid.synthetic": wf.synthetic}
    return out


def _refuse(field: str, value: int, estimate: str) -> None:
    raise PlanTooLarge(
        f"{field}: {value:,} is too large: the plan needs {estimate}; pass --allow-large to run it anyway"
    )


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.3g} GiB"
