"""A Gaussian mixture whose components belong to groups: a majority and a minority, each with its classes.

The default is the two-group setting of fairness feedback loops (Wyllie et al. 2024) in 2-D: a majority
group (weight 0.9) and a minority group (0.1), each with two classes of equal weight, the minority's
classes laid out the other way round, so a classifier fitted mostly to the majority errs on the minority.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, PositiveInt, model_validator

from modelcollapse._rng import Streams, as_streams, held_out
from modelcollapse.data import Rows
from modelcollapse.registry import SOURCES, Positive
from modelcollapse.sources.base import SourceConfig, World
from modelcollapse.sources.groups import Groups, bayes_assign, names_or_default


@dataclass(frozen=True)
class MixtureTruth:
    """The mixture's parameters, its overall mean and covariance, and that its components are modes."""

    means: np.ndarray  # (K, d)
    std: np.ndarray  # (K,)
    weights: np.ndarray  # (K,)
    mean: np.ndarray  # (d,)
    cov: np.ndarray  # (d, d)
    has_modes: bool = True


@dataclass(frozen=True)
class MixtureSource:
    """Rows ``x`` (n, d) from the mixture, with ``group``, ``target`` and (test rows) ``label``, the component."""

    truth: MixtureTruth
    groups: np.ndarray  # (K,) group of each component
    targets: np.ndarray  # (K,) class of each component
    names: tuple[str, ...]
    test_samples: int = 1000

    def world(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        tr = self.truth
        cdf = np.cumsum(tr.weights)

        def draw(m: int, g: Streams, labels: bool = False) -> Rows:
            comp = np.minimum(np.searchsorted(cdf, g.random((batch, m)) * cdf[-1], side="right"), len(cdf) - 1)
            x = tr.means[comp] + tr.std[comp, None] * g.standard_normal((batch, m, tr.means.shape[1]))
            cols = {"x": x, "group": self.groups[comp], "target": self.targets[comp]}
            return Rows(cols | {"label": comp} if labels else cols)

        streams = as_streams(rng, batch)
        shares = np.bincount(self.groups, weights=tr.weights) / tr.weights.sum()
        groups = Groups(self.names, shares, bayes_assign(tr.means, tr.std, tr.weights, self.groups))
        test = lambda: draw(self.test_samples, held_out(streams), labels=True)
        return World(draw(n, streams), test, tr, draw, groups=groups)


@SOURCES.register
class MixtureSourceConfig(SourceConfig):
    """Isotropic Gaussian components, each in a ``group`` and a ``target`` class (a minority of weight pi_min).

    ``means`` (K points of the same dimension), ``weights`` (K, normalised), ``std`` (one or K), and for
    each component its group (index into ``names``) and its class for a downstream classifier.
    """

    kind: Literal["mixture"] = "mixture"
    means: list[list[float]] = Field(
        default_factory=lambda: [[-2.0, -2.0], [2.0, -2.0], [-2.0, 2.0], [2.0, 2.0]], min_length=1
    )
    weights: list[Annotated[float, Field(gt=0.0)]] = Field(default_factory=lambda: [0.45, 0.45, 0.05, 0.05])
    std: Positive | list[Positive] = 1.0
    groups: list[Annotated[int, Field(ge=0)]] = Field(default_factory=lambda: [0, 0, 1, 1])
    targets: list[Annotated[int, Field(ge=0)]] = Field(default_factory=lambda: [0, 1, 1, 0])
    names: list[str] | None = Field(default_factory=lambda: ["majority", "minority"])  # of the groups
    test_samples: PositiveInt = 1000

    @model_validator(mode="after")
    def _shapes(self) -> MixtureSourceConfig:
        k = len(self.means)
        if len({len(m) for m in self.means}) != 1:
            raise ValueError("means must all have the same dimension")
        for name in ("weights", "groups", "targets") + (("std",) if isinstance(self.std, list) else ()):
            if len(getattr(self, name)) != k:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries but means has {k}")
        used = sorted(set(self.groups))
        if used != list(range(len(used))):
            raise ValueError(f"groups must use every index 0..{len(used) - 1}; got {used}")
        if self.names is not None and len(self.names) != len(used):
            raise ValueError(f"names has {len(self.names)} names for {len(used)} groups")
        return self

    def group_names(self) -> tuple[str, ...]:
        return names_or_default(self.names, max(self.groups) + 1)

    def has_targets(self) -> bool:
        return True

    @property
    def row_bytes(self) -> int:
        return 8 * len(self.means[0]) + 16

    def build(self) -> MixtureSource:
        means = np.asarray(self.means, float)
        w = np.asarray(self.weights, float) / sum(self.weights)
        std = np.broadcast_to(np.asarray(self.std, float), w.shape).copy()
        mean = w @ means
        c = means - mean
        cov = (w[:, None, None] * (c[:, :, None] * c[:, None, :])).sum(0) + (w * std**2).sum() * np.eye(means.shape[1])
        truth = MixtureTruth(means, std, w, mean, cov)
        groups = np.asarray(self.groups)
        return MixtureSource(truth, groups, np.asarray(self.targets), self.group_names(), self.test_samples)
