"""Real images as rows of pixel intensities in [0, 1], with their class labels.

With ``groups: true`` every row carries its class as ``group`` (and ``target``, for a downstream
classifier), a model's images are assigned a class by a logistic regression fitted once to the real
training images, and ``class_shares: {3: 0.1}`` keeps only a tenth of class 3's training images.

* ``digits``: scikit-learn's 1,797 handwritten digits (8x8, BSD), bundled; a fixed split holds out
  ``test_fraction`` of them.
* ``fashion-mnist``: Zalando's Fashion-MNIST (28x28, MIT), from Debian's ``dataset-fashion-mnist``
  (``apt-get install dataset-fashion-mnist``: the original IDX files under
  /usr/share/datasets/fashion-mnist); its own 60,000 / 10,000 train / test split.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, PositiveInt

from modelcollapse._rng import Streams, as_streams
from modelcollapse.data import Rows
from modelcollapse.registry import SOURCES
from modelcollapse.sources.base import SourceConfig, World
from modelcollapse.sources.groups import Assign, Groups, class_names, classifier_assign, shares_of, under_represent
from modelcollapse.sources.sklearn_data import RealTruth

FASHION = Path("/usr/share/datasets/fashion-mnist")
SIDE = {"digits": 8, "fashion-mnist": 28}


def read_idx(path: Path, header: int) -> np.ndarray:
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


@lru_cache(maxsize=4)
def load_images(name: str, test_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train x, train labels, test x, test labels); x flattened, in [0, 1]."""
    if name == "digits":
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        order = np.random.default_rng(0).permutation(len(x))
        k = round(test_fraction * len(x))
        return x[order[k:]] / 16.0, y[order[k:]], x[order[:k]] / 16.0, y[order[:k]]
    if not FASHION.is_dir():
        raise FileNotFoundError(
            f"Fashion-MNIST is not installed under {FASHION}: apt-get install dataset-fashion-mnist"
        )
    parts = []
    for split in ("train", "t10k"):
        x = read_idx(FASHION / f"{split}-images-idx3-ubyte.gz", 16).reshape(-1, 784) / 255.0
        parts += [x, read_idx(FASHION / f"{split}-labels-idx1-ubyte.gz", 8).astype(np.int64)]
    return parts[0], parts[1], parts[2], parts[3]


@dataclass(frozen=True)
class ImageTruth(RealTruth):
    side: int = 8
    classes: int = 10
    pool: tuple[np.ndarray, np.ndarray] | None = None  # the real training pool (for a one-off classifier)


@dataclass(frozen=True)
class ImageSource:
    """Per replicate, ``n`` distinct training images from the pool; the test images are held out."""

    name: str = "digits"
    test_fraction: float = 0.25
    test_samples: int = 1000
    groups: bool = False  # rows carry their class as ``group`` and ``target``
    class_shares: tuple[tuple[int, float], ...] = ()  # classes kept at a share of their rows

    def world(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        x, y, xt, yt = load_images(self.name, self.test_fraction)
        if self.class_shares:
            kept = under_represent(y, dict(self.class_shares))
            x, y = x[kept], y[kept]
        if n > len(x):
            raise ValueError(f"{self.name} has {len(x)} training images; asked for {n}")
        streams = as_streams(rng, batch)
        picks = np.stack([g.choice(len(x), n, replace=False) for g in streams])
        test = Rows(
            {
                "x": np.broadcast_to(xt[: self.test_samples], (batch, *xt[: self.test_samples].shape)),
                "label": np.broadcast_to(yt[: self.test_samples], (batch, len(yt[: self.test_samples]))),
            }
        )

        def rows(idx: np.ndarray) -> Rows:
            return Rows({"x": x[idx], "group": y[idx], "target": y[idx]} if self.groups else {"x": x[idx]})

        def draw(m: int, g: Streams) -> Rows:
            return rows(g.integers(0, len(x), size=(batch, m)))

        truth = ImageTruth(has_modes=True, side=SIDE[self.name], pool=(x, y))
        if not self.groups:
            return World(rows(picks), test, truth, draw)
        test = Rows({**test.cols, "group": test.cols["label"], "target": test.cols["label"]})
        groups = Groups(class_names(10), shares_of(y[None], 10)[0], _oracle(self.name, self.test_fraction))
        return World(rows(picks), test, truth, draw, groups=groups)


@lru_cache(maxsize=4)
def _oracle(name: str, test_fraction: float) -> Assign:
    """The class of any image: a logistic regression fitted once to (at most 10,000 of) the real training images."""
    x, y, _, _ = load_images(name, test_fraction)
    return classifier_assign(x[:10_000], y[:10_000], 10)


@SOURCES.register
class ImageSourceConfig(SourceConfig):
    """Real images in [0, 1]: scikit-learn's digits (8x8), or Fashion-MNIST (28x28) from Debian."""

    kind: Literal["images"] = "images"
    name: Literal["digits", "fashion-mnist"] = "digits"
    test_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.25
    test_samples: PositiveInt = 1000
    groups: bool = False
    class_shares: dict[Annotated[int, Field(ge=0, le=9)], Annotated[float, Field(gt=0.0, le=1.0)]] | None = None
    quiet_defaults: ClassVar[tuple[str, ...]] = ("groups", "class_shares")

    def group_names(self) -> tuple[str, ...]:
        return class_names(10) if self.groups else ()

    def has_targets(self) -> bool:
        return self.groups

    @property
    def dim(self) -> int:
        return {"digits": 64, "fashion-mnist": 784}[self.name]

    @property
    def row_bytes(self) -> int:
        return 8 * self.dim

    def build(self) -> ImageSource:
        shares = tuple(sorted((self.class_shares or {}).items()))
        return ImageSource(self.name, self.test_fraction, self.test_samples, self.groups, shares)
