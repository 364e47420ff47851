"""Real-valued data built with or shipped in scikit-learn: 2-D shapes and small real tables.

The held-out test set is always drawn from the *same* distribution as the training set: blob
centres are fixed by the config (never redrawn per call, the bug of one public implementation that
made every result meaningless), and tables are split per replicate into disjoint train and test rows.
Class labels, where they exist, mark the real modes (for the entanglement definition of collapse).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, PositiveInt, model_validator

from modelcollapse._rng import Streams, as_streams, child_seed
from modelcollapse.data import Rows
from modelcollapse.registry import SOURCES, Positive, Seed
from modelcollapse.sources.base import SourceConfig, World
from modelcollapse.sources.groups import (
    Groups,
    bayes_assign,
    class_names,
    classifier_assign,
    nearest_value,
    shares_of,
    under_represent,
)


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
    weights: np.ndarray | None = None  # blobs of unequal weights, each a group

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
        if self.weights is not None:
            return self._grouped(batch, n, rng)

        def draw(m: int, g: Streams, labels: bool = False) -> Rows:
            pairs = [self._one(m, gb) for gb in g]
            cols = {"x": np.stack([p[0] for p in pairs]).astype(float)}
            if labels:
                cols["label"] = np.stack([p[1] for p in pairs])
            return Rows(cols)

        truth = RealTruth(has_modes=self.shape != "swiss-roll")
        streams = as_streams(rng, batch)
        return World(draw(n, streams), draw(self.test_samples, streams, labels=True), truth, draw)

    def _grouped(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        """Blobs of unequal ``weights``: each blob a group; a point's group is the Bayes rule's."""
        assert self.centers is not None and self.weights is not None
        centers, w = self.centers, self.weights
        cdf = np.cumsum(w)

        def draw(m: int, g: Streams, labels: bool = False) -> Rows:
            blob = np.minimum(np.searchsorted(cdf, g.random((batch, m)) * cdf[-1], side="right"), len(w) - 1)
            x = centers[blob] + self.cluster_std * g.standard_normal((batch, m, 2))
            return Rows({"x": x, "group": blob} | ({"label": blob} if labels else {}))

        std = np.full(len(w), self.cluster_std)
        groups = Groups(class_names(len(w)), w / w.sum(), bayes_assign(centers, std, w, np.arange(len(w))))
        streams = as_streams(rng, batch)
        truth = RealTruth(has_modes=True)
        return World(draw(n, streams), draw(self.test_samples, streams, labels=True), truth, draw, groups=groups)


def load_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Standardised features and class labels of a table bundled with scikit-learn (no download).

    ``diabetes`` (442 patients, 10 features, sex the second) has a disease-progression score, not a class:
    its class is 1 when the score is above the median.
    """
    from sklearn import datasets

    loader = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast-cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
        "diabetes": lambda return_X_y: datasets.load_diabetes(return_X_y=return_X_y, scaled=False),
    }[name]
    x, y = loader(return_X_y=True)
    if name == "diabetes":
        y = (y > np.median(y)).astype(int)
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
    groups: str | None = None  # "class", or "attribute" (the table's protected attribute)
    class_shares: tuple[tuple[int, float], ...] = ()  # classes kept at a share of their rows

    def world(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        x, y = load_table(self.name)
        if self.class_shares:
            kept = under_represent(y, dict(self.class_shares))
            x, y = x[kept], y[kept]
        n_test = round(self.test_fraction * len(x))
        if n > len(x) - n_test:
            raise ValueError(f"{self.name} has {len(x) - n_test} rows outside the test set; asked for {n}")
        order = np.stack([g.permutation(len(x)) for g in as_streams(rng, batch)])
        test_idx, rest = order[:, :n_test], order[:, n_test:]
        group = None if self.groups is None else (y if self.groups == "class" else _attribute_codes(self.name, x))

        def rows(idx: np.ndarray, labels: bool = False) -> Rows:
            cols = {"x": x[idx]} | ({"label": y[idx]} if labels else {})
            return Rows(cols if group is None else cols | {"group": group[idx], "target": y[idx]})

        def draw(m: int, g: Streams) -> Rows:
            return rows(np.take_along_axis(rest, g.integers(0, rest.shape[1], size=(batch, m)), axis=1))

        truth = RealTruth(has_modes=True)
        if group is None:
            return World(rows(rest[:, :n]), rows(test_idx, labels=True), truth, draw)
        k = int(group.max()) + 1
        names = class_names(k) if self.groups == "class" else ATTRIBUTES[self.name][1]
        if self.groups == "class":
            assign = classifier_assign(x, y, k)  # fitted to the whole table: the same rule for every replicate
        else:
            assign = nearest_value(ATTRIBUTES[self.name][0], np.unique(x[:, ATTRIBUTES[self.name][0]]))
        groups = Groups(names, shares_of(group[None], k)[0], assign)
        return World(rows(rest[:, :n]), rows(test_idx, labels=True), truth, draw, groups=groups)


# (features, classes) of each bundled table: what a config knows of its rows before loading it.
TABLES = {"iris": (4, 3), "wine": (13, 3), "breast-cancer": (30, 2), "digits": (64, 10), "diabetes": (10, 2)}

# A table's protected attribute: (column, names of its values in increasing order). The diabetes table
# codes sex as 1 and 2 without saying which is which (Efron et al. 2004), so neither is named.
ATTRIBUTES = {"diabetes": (1, ("sex1", "sex2"))}


def _attribute_codes(name: str, x: np.ndarray) -> np.ndarray:
    """The group of each row of a table: the rank of its protected attribute's value."""
    column = ATTRIBUTES[name][0]
    return np.searchsorted(np.unique(x[:, column]), x[:, column])


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
    weights: list[Annotated[float, Field(gt=0.0)]] | None = None
    quiet_defaults: ClassVar[tuple[str, ...]] = ("weights",)

    @model_validator(mode="after")
    def _weights(self) -> ShapesSourceConfig:
        if self.weights is not None and (self.shape != "blobs" or len(self.weights) != self.centers):
            raise ValueError(f"weights: give one per blob (shape: blobs, centers: {self.centers})")
        return self

    def group_names(self) -> tuple[str, ...]:
        return class_names(self.centers) if self.weights is not None else ()

    @property
    def row_bytes(self) -> int:
        return 16 if self.weights is None else 24

    def build(self) -> ShapeSource:
        centers = blob_centers(self.centers, self.center_seed) if self.shape == "blobs" else None
        w = None if self.weights is None else np.asarray(self.weights, float) / sum(self.weights)
        return ShapeSource(self.shape, self.noise, centers, self.cluster_std, self.test_samples, w)


@SOURCES.register
class TabularSourceConfig(SourceConfig):
    """A real table bundled with scikit-learn, standardised: iris, wine, breast-cancer, digits, diabetes.

    ``groups: class`` makes each class a group; ``groups: attribute`` groups rows by the table's protected
    attribute (diabetes: sex). ``class_shares: {3: 0.1}`` keeps a tenth of class 3's rows. Grouped rows
    carry ``group`` and ``target`` (the class, for a downstream classifier).
    """

    kind: Literal["tabular"] = "tabular"
    name: Literal["iris", "wine", "breast-cancer", "digits", "diabetes"] = "wine"
    test_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.3
    groups: Literal["class", "attribute"] | None = None
    class_shares: dict[Annotated[int, Field(ge=0)], Annotated[float, Field(gt=0.0, le=1.0)]] | None = None
    quiet_defaults: ClassVar[tuple[str, ...]] = ("groups", "class_shares")

    @model_validator(mode="after")
    def _attribute(self) -> TabularSourceConfig:
        if self.groups == "attribute" and self.name not in ATTRIBUTES:
            raise ValueError(f"groups: attribute needs a table with one: {', '.join(ATTRIBUTES)}; got {self.name!r}")
        return self

    def group_names(self) -> tuple[str, ...]:
        if self.groups is None:
            return ()
        if self.groups == "attribute":
            return ATTRIBUTES[self.name][1]
        return class_names(TABLES[self.name][1])

    def has_targets(self) -> bool:
        return self.groups is not None

    @property
    def row_bytes(self) -> int:
        return 8 * TABLES[self.name][0] + (16 if self.groups else 0)

    def build(self) -> TableSource:
        shares = tuple(sorted((self.class_shares or {}).items()))
        return TableSource(self.name, self.test_fraction, self.groups, shares)
