"""Gaussian real data, N(mean, cov) in d dimensions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modelcollapse.data import Rows
from modelcollapse.sources.base import World


@dataclass(frozen=True)
class GaussianTruth:
    mean: np.ndarray  # (d,)
    cov: np.ndarray  # (d, d)

    @property
    def chol(self) -> np.ndarray:
        return np.linalg.cholesky(self.cov)


@dataclass(frozen=True)
class GaussianSource:
    """Rows ``x`` of shape ``(n, d)`` drawn from ``N(mean, cov)``; the same truth for every replicate."""

    mean: np.ndarray
    cov: np.ndarray
    test_samples: int = 1000

    def world(self, batch: int, n: int, rng: np.random.Generator) -> World:
        truth = GaussianTruth(self.mean, self.cov)
        chol = truth.chol

        def draw(m: int, g: np.random.Generator) -> Rows:
            z = g.standard_normal((batch, m, len(self.mean)))
            return Rows({"x": self.mean + z @ chol.T})

        return World(draw(n, rng), draw(self.test_samples, rng), truth, draw)
