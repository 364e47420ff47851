"""Real-valued data built with or shipped in scikit-learn: 2-D shapes and small real tables.

The held-out test set is always drawn from the *same* distribution as the training set: blob
centres are fixed by the config (never redrawn per call, the bug of one public implementation that
made every result meaningless), and tables are split per replicate into disjoint train and test rows.
Class labels, where they exist, mark the real modes (for the entanglement definition of collapse).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, PositiveInt

from modelcollapse._rng import Streams, as_streams, child_seed
from modelcollapse.data import Rows
from modelcollapse.registry import SOURCES, Positive, Seed
from modelcollapse.sources.base import SourceConfig, World


@dataclass(frozen=True)
class RealTruth:
    """What is known of a real source without a parametric truth: whether its test labels mark modes."""

    has_modes: bool
    cov: np.ndarray | None = None  # the population covariance, when known


def blob_centers(k: int, seed: int, spread: float = 4.0) -> np.ndarray:
    """Fixed blob centres: a function of (k, seed) only, shared by training and test draws."""
    return np.random.default_rng(seed).uniform(-spread, spread, size=(k, 2))


@dataclass(frozen=True)
class ShapeSource:
    """moons, circles, blobs (fixed centres) or a swiss roll projected to 2-D (columns x and z, scaled by 1/5)."""

    shape: str
    noise: float = 0.1
    centers: np.ndarray | None = None
    cluster_std: float = 0.5
    test_samples: int = 1000

    def _one(self, m: int, g: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        from sklearn import datasets

        seed = child_seed(g, bits=31)
        if self.shape == "moons":
            return datasets.make_moons(m, noise=self.noise, random_state=seed)
        if self.shape == "circles":
            return datasets.make_circles(m, noise=self.noise, factor=0.5, random_state=seed)
        if self.shape == "blobs":
            return datasets.make_blobs(m, centers=self.centers, cluster_std=self.cluster_std, random_state=seed)
        x, _ = datasets.make_swiss_roll(m, noise=self.noise, random_state=seed)
        return x[:, [0, 2]] / 5.0, np.zeros(m, dtype=int)

    def world(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        def draw(m: int, g: Streams, labels: bool = False) -> Rows:
            pairs = [self._one(m, gb) for gb in g]
            cols = {"x": np.stack([p[0] for p in pairs]).astype(float)}
            if labels:
                cols["label"] = np.stack([p[1] for p in pairs])
            return Rows(cols)

        truth = RealTruth(has_modes=self.shape != "swiss-roll")
        streams = as_streams(rng, batch)
        return World(draw(n, streams), draw(self.test_samples, streams, labels=True), truth, draw)


def load_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Standardised features and class labels of a table bundled with scikit-learn (no download)."""
    from sklearn import datasets

    loader = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast-cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
    }[name]
    x, y = loader(return_X_y=True)
    x = x.astype(float)
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0), y


@dataclass(frozen=True)
class TableSource:
    """A real table: per replicate, a random disjoint split into ``n`` training rows and the test rows.

    Fresh real rows (the ``fresh`` workflow) are drawn with replacement from the non-test rows.
    """

    name: str
    test_fraction: float = 0.3

    def world(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        x, y = load_table(self.name)
        n_test = round(self.test_fraction * len(x))
        if n > len(x) - n_test:
            raise ValueError(f"{self.name} has {len(x) - n_test} rows outside the test set; asked for {n}")
        order = np.stack([g.permutation(len(x)) for g in as_streams(rng, batch)])
        test_idx, rest = order[:, :n_test], order[:, n_test:]
        train = Rows({"x": x[rest[:, :n]]})
        test = Rows({"x": x[test_idx], "label": y[test_idx]})

        def draw(m: int, g: Streams) -> Rows:
            pick = np.take_along_axis(rest, g.integers(0, rest.shape[1], size=(batch, m)), axis=1)
            return Rows({"x": x[pick]})

        return World(train, test, RealTruth(has_modes=True), draw)


@SOURCES.register
class ShapesSourceConfig(SourceConfig):
    """2-D shapes from scikit-learn: moons, circles, blobs (fixed centres), swiss roll projected to 2-D."""

    kind: Literal["shapes"] = "shapes"
    shape: Literal["moons", "circles", "blobs", "swiss-roll"] = "moons"
    noise: Annotated[float, Field(ge=0.0)] = 0.1
    centers: PositiveInt = 3
    center_seed: Seed = 0
    cluster_std: Positive = 0.5
    test_samples: PositiveInt = 1000

    @property
    def row_bytes(self) -> int:
        return 16

    def build(self) -> ShapeSource:
        centers = blob_centers(self.centers, self.center_seed) if self.shape == "blobs" else None
        return ShapeSource(self.shape, self.noise, centers, self.cluster_std, self.test_samples)


@SOURCES.register
class TabularSourceConfig(SourceConfig):
    """A real table bundled with scikit-learn, standardised: iris, wine, breast-cancer, digits."""

    kind: Literal["tabular"] = "tabular"
    name: Literal["iris", "wine", "breast-cancer", "digits"] = "wine"
    test_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.3

    @property
    def row_bytes(self) -> int:
        return 8 * {"iris": 4, "wine": 13, "breast-cancer": 30, "digits": 64}[self.name]

    def build(self) -> TableSource:
        return TableSource(self.name, self.test_fraction)
