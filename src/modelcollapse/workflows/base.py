"""The workflow protocol: a pure rule from (state, generation, new data, rng) to a training set."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np


class Part(NamedTuple):
    """One piece of a training set: a data set and the weight each of its rows carries."""

    data: Any
    weight: float = 1.0


TrainingSet = Sequence[Part]
Step = Callable[[Any, int, Any, Any, np.random.Generator], tuple[Any, TrainingSet]]


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
