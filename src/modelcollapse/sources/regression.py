"""Linear-regression real data: y = x^T w* + noise, with a fixed or fresh design."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, PositiveInt

from modelcollapse._rng import Streams, as_streams, held_out
from modelcollapse.data import Rows
from modelcollapse.registry import SOURCES, Positive
from modelcollapse.sources.base import SourceConfig, World


@dataclass(frozen=True)
class RegressionTruth:
    weights: np.ndarray  # (B, d): w*, drawn N(0, I/d) per replicate
    feature_var: np.ndarray  # (d,): diagonal of Sigma, the covariance of x
    noise_std: float
    design: np.ndarray | None  # (B, n, d) when the design is fixed, else None


def inputs_of(rows: Rows, truth: RegressionTruth) -> np.ndarray:
    """The inputs of regression rows: column ``x``, or design rows ``i`` under a fixed design."""
    if "x" in rows.cols:
        return rows.cols["x"]
    assert truth.design is not None
    return truth.design[np.arange(truth.design.shape[0])[:, None], rows.cols["i"]]


@dataclass(frozen=True)
class RegressionSource:
    """Rows ``x`` (n, d) with ``x ~ N(0, diag(feature_var))`` and ``y = x w* + N(0, noise_std^2)``.

    With ``design="fixed"`` the real inputs are reused by every generation (the
    protocol of Gerstgrasser et al. and Dohmatob et al.); with ``"fresh"`` each
    synthetic batch gets new inputs. Under a fixed design, training rows hold the
    index ``i`` of their design row instead of a copy of ``x`` (see :func:`inputs_of`).
    """

    dim: int
    noise_std: float = 1.0
    design: str = "fixed"
    feature_var: np.ndarray | None = None
    test_samples: int = 1000

    def world(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        var = np.ones(self.dim) if self.feature_var is None else np.asarray(self.feature_var)
        streams = as_streams(rng, batch)
        w = streams.standard_normal((batch, self.dim)) / np.sqrt(self.dim)

        def inputs(m: int, g: Streams) -> np.ndarray:
            return g.standard_normal((batch, m, self.dim)) * np.sqrt(var)

        def label(x: np.ndarray, g: Streams) -> Rows:
            y = np.einsum("bnd,bd->bn", x, w) + self.noise_std * g.standard_normal(x.shape[:2])
            return Rows({"x": x, "y": y})

        train = label(inputs(n, streams), streams)

        def test() -> Rows:
            other = held_out(streams)
            return label(inputs(self.test_samples, other), other)

        fixed = self.design == "fixed"
        x0 = train.cols["x"]
        if fixed:
            train = Rows({"i": np.broadcast_to(np.arange(n), (batch, n)), "y": train.cols["y"]})

        def covariates(m: int, g: Streams) -> np.ndarray:
            if fixed:
                return x0 if m == n else x0[:, np.arange(m) % n]
            return inputs(m, g)

        truth = RegressionTruth(w, var, self.noise_std, x0 if fixed else None)
        return World(train, test, truth, lambda m, g: label(inputs(m, g), g), covariates)


@SOURCES.register
class RegressionSourceConfig(SourceConfig):
    """y = x^T w* + noise; x ~ N(0, diag(feature_variance)); w* ~ N(0, I/dim) per replicate."""

    kind: Literal["linear-regression"] = "linear-regression"
    example: ClassVar[dict[str, Any]] = {"dim": 2}
    dim: PositiveInt
    noise_std: Annotated[float, Field(ge=0.0)] = 1.0
    design: Literal["fixed", "fresh"] = "fixed"
    feature_variance: Positive | list[Positive] = 1.0
    test_samples: PositiveInt = 1000

    @property
    def row_bytes(self) -> int:  # a fixed design stores (row index, label) per row
        return 16 if self.design == "fixed" else 8 * (self.dim + 1)

    def build(self) -> RegressionSource:
        var = np.broadcast_to(np.asarray(self.feature_variance, float), (self.dim,)).copy()
        return RegressionSource(self.dim, self.noise_std, self.design, var, self.test_samples)
