"""The one model-family protocol the engine drives, its config, and the small protocol a user implements.

* :class:`Family` is what the engine drives: replicates are a batch axis, data sets may be sufficient
  statistics, and metrics read the fitted parameters. Its capabilities are explicit attributes
  (``supports_weights``, ``durable``, ``warm_start``), never probed.
* :class:`FamilyConfig` is a family's hyperparameters, declared once: registered with
  ``@MODELS.register``, validated at the boundary, and handed to the family it ``build``\\ s.
* :class:`Model` is a user's own model (scikit-learn style: ``fit`` returns the fitted object); the
  :class:`~modelcollapse.models.custom.PerReplicate` adapter makes it a :class:`Family`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from modelcollapse.data import Part, Rows
from modelcollapse.registry import Config
from modelcollapse.sources.base import World


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


class Family:
    """A model family with replicates as a batch axis.

    Subclasses set ``metrics`` (a mapping built once) and implement ``fit`` and ``sample``; the
    class attributes below state what the family can do, and the engine reads them as they are.
    """

    block: int = 1  # replicates computed together (a batch axis of at most this size)
    streams: bool = True  # fit/sample draw from a Streams (one per replicate); False: one Generator, block 1
    supports_weights: bool = True  # fit honours the weights of the parts (weighted workflows need it)
    durable: bool = False  # save/load a generation, so the engine can journal and resume a chain
    warm_start: bool = False  # fit continues from ``previous`` (the last generation's fit)
    sample_metrics: str | None = None  # the table of sample-based metrics that applies (metrics.sets)
    metrics: Mapping[str, Metric]

    def prepare(self, rows: Rows, world: World) -> Any:
        """The representation workflows hold when they need no rows (e.g. statistics); rows by default."""
        return rows

    def fit(self, parts: Sequence[Part], world: World, rng: Any, previous: Any = None) -> Any:
        """The fitted parameters of every replicate of the block.

        ``rng`` is a :class:`~modelcollapse._rng.Streams`, one stream per replicate (a replicate's draws
        come from its own), or, where ``streams`` is False, the one replicate's numpy Generator.
        """
        raise NotImplementedError

    def sample(self, params: Any, n: int, rng: Any, world: World, rows: bool) -> Any:
        """``n`` draws per replicate from the fitted model, as rows or as statistics."""
        raise NotImplementedError

    def row_loss(self, params: Any, x: np.ndarray, world: World) -> np.ndarray | None:
        """The test loss of each row of ``x`` (B, n, ...), ``(B, n)``, for per-group losses; None where the
        family has no per-row loss."""
        return None

    def save(self, params: Any, folder: Path, world: World) -> None:
        """Write a fitted generation into ``folder`` (durable families)."""
        raise NotImplementedError(f"{type(self).__name__} is not durable")

    def load(self, folder: Path, world: World) -> Any:
        """Read back what :meth:`save` wrote (durable families)."""
        raise NotImplementedError(f"{type(self).__name__} is not durable")


class FamilyConfig(Config):
    """A family's hyperparameters (registered with ``@MODELS.register``); ``build`` makes the family."""

    sources: ClassVar[tuple[str, ...]] = ()  # the source kinds it can fit

    def build(self, source: Any) -> Family:
        raise NotImplementedError

    def min_rows(self, source: Any) -> tuple[int, str]:
        """The fewest training rows a fit needs from ``source``, and why (naming the field that asks for them)."""
        return 1, ""
