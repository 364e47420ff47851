"""The workflow protocol: a pure rule from (state, generation, new data, rng) to a training set."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np
from pydantic import ValidationInfo, field_validator

from modelcollapse._rng import Streams
from modelcollapse.data import Part
from modelcollapse.registry import Config
from modelcollapse.theory import dey_donoho as dd

TrainingSet = Sequence[Part]
Step = Callable[[Any, int, Any, Any, Streams], tuple[Any, TrainingSet]]


class Workflow(NamedTuple):
    """A data-selection rule, as a pair of pure functions plus its data needs.

    Generation 1 is always the fit on the real data alone; ``init`` receives that
    real data set and ``step`` is called for every generation ``t >= 2`` with the
    synthetic data drawn from model ``t - 1`` (``synthetic_size(t)`` rows, or
    ``None`` when that is 0) and the fresh real data of generation ``t``
    (``fresh_size(t)`` rows, or ``None``). ``step`` returns the new state and the
    training set of model ``t``.
    """

    init: Callable[[Any], Any]  # real data set (rows or statistics) -> state
    step: Step
    synthetic_size: Callable[[int], int]
    fresh_size: Callable[[int], int] = lambda t: 0
    needs_rows: bool = False  # True when the rule subsamples individual rows
    weighted: bool = False  # True when parts may carry weights other than 1


def training_size(parts: TrainingSet) -> int:
    """Number of rows in a training set (weights do not change it)."""
    return sum(p.data.n for p in parts)


def proportional(parts: Sequence[tuple[Any, float]]) -> list[Part]:
    """Parts whose *shares* of the training set are the given fractions.

    Row weights are scaled so that data set ``j`` carries fraction ``w_j`` of the
    total weight while the total weight stays the number of rows used.
    """
    used = [(d, w) for d, w in parts if w > 0]
    total_w = sum(w for _, w in used)
    rows = sum(d.n for d, _ in used)
    return [Part(d, (w / total_w) * rows / d.n) for d, w in used]


class WorkflowConfig(Config):
    """A workflow's config (registered with ``@WORKFLOWS.register``): ``build`` makes the :class:`Workflow`.

    Besides the rule itself, a workflow says what theory needs of it: ``shares`` (the Dey & Donoho weights
    of whole data sets, when the rule is such a weighting) and ``rho`` (the risk of each generation's model
    relative to the real-data fit in their Gaussian-process limit).
    """

    name: str | None = None
    shared_generations: ClassVar[int] = 0  # leading generations that cells with the same chain() share
    theory_argument: ClassVar[str | None] = None  # the field that ``theory workflows --rule KIND:ARG`` sets
    scheduled: ClassVar[bool] = False  # True when synthetic_size may follow a schedule n_t (its rule ignores n)

    @field_validator("name")
    @classmethod
    def _folder_name(cls, v: str | None, info: ValidationInfo) -> str | None:
        """A label names a results row and a folder of durable generations: it must stay inside it (a stored
        label is only read, never a folder again)."""
        if (
            v is not None
            and not (info.context or {}).get("stored")
            and (not 0 < len(v) <= 64 or v.startswith(".") or any(c in "/\\" or not c.isprintable() for c in v))
        ):
            raise ValueError("a workflow name is 1-64 printable characters, without / or \\, not starting with '.'")
        return v

    @property
    def label(self) -> str:
        return self.name or self.kind  # type: ignore[attr-defined]

    def chain(self) -> dict[str, Any]:
        """What keys this workflow's random stream: its fields (cells differing elsewhere share the stream)."""
        return self.model_dump(mode="json")

    def build(self, n: int, generations: int) -> Workflow:
        raise NotImplementedError

    def fewest_rows(self, n: int) -> int:
        """The fewest rows a generation trains on (generation 1: the ``n`` real rows)."""
        return n

    def shares(self, n: int, generations: int) -> tuple[np.ndarray, np.ndarray | None] | None:
        """(weights, sizes): row ``k - 1`` of ``weights`` is model k's share of data sets ``0..k-1`` and
        ``sizes`` their sizes relative to ``n`` (None: all n); None when the rule is not such a weighting."""
        return None

    def rho(self, n: int, generations: int) -> np.ndarray | None:
        """rho_1..rho_K: risk of model k over that of the real-data fit (Dey & Donoho), or None."""
        shares = self.shares(n, generations)
        return None if shares is None else dd.rho(*shares)
