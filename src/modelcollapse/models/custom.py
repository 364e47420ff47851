"""Running a user's own :class:`~modelcollapse.models.base.Model` one replicate at a time."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelcollapse.data import Rows
from modelcollapse.models.base import Metric, Model
from modelcollapse.sources.base import World
from modelcollapse.workflows.base import Part


@dataclass
class PerReplicate:
    """Adapts a :class:`Model` prototype to the batched engine (a block of one replicate).

    Every generation fits a fresh deep copy of the prototype, so fitted state
    never leaks between generations. Data are the source's ``x`` rows.
    """

    prototype: Model
    block: int = 1
    metrics: dict[str, Metric] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.metrics = {"test_loss": Metric(_test_loss, "the model's own loss on held-out real data")}

    def prepare(self, rows: Rows, world: World) -> Rows:
        return rows

    def fit(self, parts: Sequence[Part], world: World, rng: np.random.Generator) -> Any:
        x = np.concatenate([p.data.cols["x"][0] for p in parts])
        model = copy.deepcopy(self.prototype)
        if any(p.weight != 1.0 for p in parts):
            w = np.concatenate([np.full(p.data.n, p.weight) for p in parts])
            return model.fit(x, rng, sample_weight=w)  # type: ignore[call-arg]
        return model.fit(x, rng)

    def sample(self, fitted: Model, n: int, rng: np.random.Generator, world: World, rows: bool) -> Rows:
        return Rows({"x": np.asarray(fitted.sample(n, rng))[None]})


def _test_loss(fitted: Model, world: World) -> np.ndarray:
    return np.array([fitted.loss(world.test.cols["x"][0])], dtype=float)
