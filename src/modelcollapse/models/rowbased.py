"""Shared machinery of families fitted row by row with scikit-learn (KDE, Gaussian mixtures).

Each replicate is fitted separately (a Python loop over a small block). Sampling uses the engine's
explicit generator, never a library's global or internal state. Sample-based metrics read one set of
``EVAL_SAMPLES`` model samples per fit, drawn from a seed taken at fit time, so the chain's random
stream does not depend on which metrics are asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from modelcollapse.data import Part, Rows
from modelcollapse.models.base import Family, Metric
from modelcollapse.sources.base import World

EVAL_SAMPLES = 500


@dataclass
class Fitted:
    """The per-replicate fitted models of one block, and a sampler bound to the family."""

    models: list[Any]
    draw: Callable[[Any, int, np.random.Generator], np.ndarray]
    eval_seeds: Sequence[int]  # one per model
    extra: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def eval_samples(self) -> list[np.ndarray]:
        pairs = zip(self.models, self.eval_seeds, strict=True)
        return [self.draw(m, EVAL_SAMPLES, np.random.default_rng(s)) for m, s in pairs]


def one_thread() -> Any:
    """One OpenMP thread for scikit-learn's fits (k-means in a mixture's start, gradient boosting): they are
    small, and threads contending for busy cores make them many times slower (10-40x on two); the numbers
    do not change. scikit-learn's OpenMP runtime is loaded first, so that the limit reaches it."""
    import sklearn.utils._openmp_helpers  # noqa: F401  (links the OpenMP runtime scikit-learn uses)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="openmp")


def stacked(parts: Sequence[Part], b: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows of replicate ``b`` across the parts, and per-row weights (None when all are 1)."""
    x = np.concatenate([p.data.cols["x"][b] for p in parts])
    if all(p.weight == 1.0 for p in parts):
        return x, None
    return x, np.concatenate([np.full(p.data.n, p.weight) for p in parts])


def real_cov_trace(world: World) -> np.ndarray:
    """tr of the real covariance: the truth's when known, else the held-out set's, per replicate."""
    cov = getattr(world.truth, "cov", None)
    if cov is not None:
        return np.full(world.train.batch, float(np.trace(cov)))
    x = world.test.cols["x"]
    return np.array([np.trace(np.atleast_2d(np.cov(xb, rowvar=False))) for xb in x])


def rows_of(samples: list[np.ndarray]) -> Rows:
    return Rows({"x": np.stack(samples)})


def common_metrics(variance: Callable[[Any], float]) -> dict[str, Metric]:
    """The variance metrics every row-based family offers, given the closed-form total variance of one fitted model.

    Their sample-based metrics (precision, recall, MMD, ...) come from the metrics layer (``sample_metrics``).
    """

    def values(p: Fitted) -> np.ndarray:
        return np.array([variance(m) for m in p.models])

    return {
        "model_variance": Metric(lambda p, w: values(p), "total variance of the fitted model (covariance trace)"),
        "variance_ratio": Metric(lambda p, w: values(p) / real_cov_trace(w), "model variance / real variance (traces)"),
    }


class RowFamily(Family):
    """Rows in, rows out: subclasses fit one model per replicate and ``draw`` from one fitted model."""

    sample_metrics: str | None = "rows"

    def draw(self, model: Any, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def sample(self, params: Fitted, n: int, rng: Any, world: World, rows: bool) -> Rows:
        """``n`` rows per replicate, each replicate's from its own stream (``rng``: a Streams)."""
        return rows_of([self.draw(m, n, g) for m, g in zip(params.models, rng, strict=True)])
