"""Gaussian real data, N(mean, cov) in d dimensions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from pydantic import PositiveInt, model_validator

from modelcollapse._rng import Streams, as_streams, held_out
from modelcollapse.data import Rows
from modelcollapse.registry import SOURCES, Positive
from modelcollapse.sources.base import SourceConfig, World


@dataclass(frozen=True)
class GaussianTruth:
    mean: np.ndarray  # (d,)
    cov: np.ndarray  # (d, d)

    @property
    def chol(self) -> np.ndarray:
        return np.linalg.cholesky(self.cov)

    @cached_property
    def logdet(self) -> float:
        """log det cov, once (metrics read it every generation)."""
        return float(np.linalg.slogdet(self.cov)[1])


@dataclass(frozen=True)
class GaussianSource:
    """Rows ``x`` of shape ``(n, d)`` drawn from ``N(mean, cov)``; the same truth for every replicate."""

    mean: np.ndarray
    cov: np.ndarray
    test_samples: int = 1000

    def world(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        truth = GaussianTruth(self.mean, self.cov)
        chol = truth.chol

        def draw(m: int, g: Streams) -> Rows:
            z = g.standard_normal((batch, m, len(self.mean)))
            return Rows({"x": self.mean + z @ chol.T})

        streams = as_streams(rng, batch)
        return World(draw(n, streams), lambda: draw(self.test_samples, held_out(streams)), truth, draw)


@SOURCES.register
class GaussianSourceConfig(SourceConfig):
    """N(mean, covariance); give ``variance`` (a number or per-dimension list) or a full ``covariance``."""

    kind: Literal["gaussian"] = "gaussian"
    dim: PositiveInt = 1
    mean: float | list[float] = 0.0
    variance: Positive | list[Positive] = 1.0
    covariance: list[list[float]] | None = None
    test_samples: PositiveInt = 1000

    @model_validator(mode="after")
    def _shapes(self) -> GaussianSourceConfig:
        for name in ("mean", "variance"):
            v = getattr(self, name)
            if isinstance(v, list) and len(v) != self.dim:
                raise ValueError(f"{name} has {len(v)} entries but dim is {self.dim}")
        if self.covariance is not None:
            c = np.asarray(self.covariance, dtype=float)
            if c.shape != (self.dim, self.dim) or not np.allclose(c, c.T):
                raise ValueError(f"covariance must be a symmetric {self.dim}x{self.dim} matrix")
            if np.linalg.eigvalsh(c)[0] <= 0:
                raise ValueError("covariance must be positive definite")
        return self

    @property
    def row_bytes(self) -> int:
        return 8 * self.dim

    def build(self) -> GaussianSource:
        mean = np.broadcast_to(np.asarray(self.mean, float), (self.dim,)).copy()
        if self.covariance is not None:
            cov = np.asarray(self.covariance, float)
        else:
            cov = np.diag(np.broadcast_to(np.asarray(self.variance, float), (self.dim,)))
        return GaussianSource(mean, cov, self.test_samples)
