"""The model-family protocols.

Two levels, one loop:

* :class:`Model` is the small protocol a user implements for their own model
  (scikit-learn style: ``fit`` returns the fitted object). The engine runs it one
  replicate at a time through :class:`~modelcollapse.models.custom.PerReplicate`.
* :class:`Family` is what the engine drives: replicates are a batch axis, data
  sets may be sufficient statistics, and metrics read the fitted parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from modelcollapse.data import Rows
from modelcollapse.sources.base import World
from modelcollapse.workflows.base import Part


@runtime_checkable
class Model(Protocol):
    """A user's model: fit on rows, sample rows, score held-out real rows.

    ``fit(X, rng)`` returns the fitted model (usually ``self``); it may also
    accept ``sample_weight`` for the weighted workflows. ``X`` is the source's
    rows, e.g. shape ``(n, d)`` for a Gaussian source.
    """

    def fit(self, X: np.ndarray, rng: np.random.Generator) -> Self: ...

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    def loss(self, X: np.ndarray) -> float: ...


@dataclass(frozen=True)
class Metric:
    """A named function of (fitted parameters, world) returning one value per replicate."""

    fn: Callable[[Any, World], np.ndarray]
    description: str


class Family(Protocol):
    """A model family with replicates as a batch axis (the engine's view)."""

    block: int  # replicates per random stream

    @property
    def metrics(self) -> Mapping[str, Metric]:
        """The metrics this family can measure, by name."""
        ...

    def prepare(self, rows: Rows, world: World) -> Any:
        """The representation workflows hold when they need no rows (e.g. statistics)."""
        ...

    def fit(self, parts: Sequence[Part], world: World, rng: np.random.Generator) -> Any: ...

    def sample(self, params: Any, n: int, rng: np.random.Generator, world: World, rows: bool) -> Any:
        """``n`` draws per replicate from the fitted model, as rows or as statistics."""
        ...
