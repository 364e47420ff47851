"""Sources: the real distribution, drawn one block of replicates at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import numpy as np

from modelcollapse._rng import Streams
from modelcollapse.data import Rows
from modelcollapse.registry import Config
from modelcollapse.sources.groups import Groups


class World:
    """The real side of one block of replicates.

    ``train`` is the real data set ``D_0``; ``test`` is held out and never trained
    on (given as rows, or as a function drawing them when a metric first reads them:
    metrics computed from the truth cost no test draws); ``truth`` holds the true
    parameters where they are known. ``draw`` gives fresh real rows and
    ``covariates`` the inputs that a conditional model is asked to label (the fixed
    design, or fresh inputs), each replicate from its own stream. ``cache`` is
    scratch space for per-block precomputations of a model family. ``groups``, for a group-aware
    source, names its groups and assigns any row to one (real rows also carry a ``group`` column).
    """

    def __init__(
        self,
        train: Rows,
        test: Rows | Callable[[], Rows],
        truth: Any,
        draw: Callable[[int, Streams], Rows],
        covariates: Callable[[int, Streams], np.ndarray] | None = None,
        groups: Groups | None = None,
    ) -> None:
        self.train, self._test, self.truth, self.draw, self.covariates = train, test, truth, draw, covariates
        self.groups = groups
        self.cache: dict[str, Any] = {}

    @property
    def test(self) -> Rows:
        if not isinstance(self._test, Rows):
            self._test = self._test()
        return self._test


class Source(Protocol):
    """A real distribution that draws a :class:`World` per block of ``batch`` replicates."""

    def world(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        """``rng``: one stream per replicate (a generator is split into ``batch``)."""
        ...


class SourceConfig(Config):
    """A source's config: registered with ``@SOURCES.register``; ``build()`` makes the :class:`Source`."""

    metric_sets: ClassVar[tuple[str, ...]] = ()  # tables of sample metrics this kind of data adds (metrics.sets)
    example: ClassVar[dict[str, Any]] = {}  # the fields a minimal valid config needs (``list`` builds one)

    def group_names(self) -> tuple[str, ...]:
        """The names of the groups its rows belong to (a group-aware source); empty when it has none."""
        return ()

    def has_targets(self) -> bool:
        """True when its rows carry a ``target`` class for a downstream classifier."""
        return False

    @property
    def row_bytes(self) -> int:
        """Bytes one data row takes when a workflow keeps rows (sources override this)."""
        return 8

    def build(self) -> Source:
        raise NotImplementedError
