"""The generation loop for one block of replicates.

real data -> fit model 1 -> sample -> workflow picks the training set -> fit
model 2 -> ...; every generation is measured against the held-out real data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from modelcollapse.models.base import Family
from modelcollapse.sources.base import World
from modelcollapse.workflows.base import Part, Workflow, training_size

TRAIN_SIZE = "train_size"


def simulate(
    world: World,
    family: Family,
    workflow: Workflow,
    generations: int,
    rng: np.random.Generator,
    metrics: Sequence[str],
) -> dict[str, np.ndarray]:
    """Run ``generations`` generations; returns ``{metric: array (generations, B)}``.

    ``train_size`` (rows in each generation's training set) is always recorded.
    """
    batch = world.train.batch
    out = {m: np.empty((generations, batch)) for m in (*metrics, TRAIN_SIZE)}

    def prepare(rows):  # type: ignore[no-untyped-def]
        return rows if workflow.needs_rows else family.prepare(rows, world)

    def record(t: int, params: object, parts: Sequence[Part]) -> None:
        for m in metrics:
            out[m][t] = family.metrics[m].fn(params, world)
        out[TRAIN_SIZE][t] = training_size(parts)

    real = prepare(world.train)
    parts: Sequence[Part] = [Part(real)]
    params = family.fit(parts, world, rng)
    record(0, params, parts)
    state = workflow.init(real)
    for t in range(2, generations + 1):
        m, k = workflow.synthetic_size(t), workflow.fresh_size(t)
        synth = family.sample(params, m, rng, world, rows=workflow.needs_rows) if m else None
        fresh = prepare(world.draw(k, rng)) if k else None
        state, parts = workflow.step(state, t, synth, fresh, rng)
        params = family.fit(parts, world, rng)
        record(t - 1, params, parts)
    return out
