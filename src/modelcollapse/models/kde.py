"""Kernel density estimation (scikit-learn ``KernelDensity``) as a model family.

Sampling picks a training row (by weight) and adds kernel noise scaled by the bandwidth: Gaussian
noise, a uniform point of the unit ball (tophat) or a point whose squared radius is Beta(d/2, 2)
(Epanechnikov), so every kernel can be sampled with the engine's own generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from modelcollapse._rng import Streams
from modelcollapse.data import Part
from modelcollapse.models.base import FamilyConfig, Metric
from modelcollapse.models.rowbased import Fitted, RowFamily, common_metrics, stacked
from modelcollapse.registry import MODELS, Positive
from modelcollapse.sources.base import World

# Total variance of each kernel at bandwidth 1 in d dimensions: the variance a KDE adds to its data.
KERNEL_VARIANCE = {
    "gaussian": lambda d: float(d),
    "tophat": lambda d: d / (d + 2),
    "epanechnikov": lambda d: d / (d + 4),
}


@dataclass(frozen=True)
class KDEModel:
    x: np.ndarray  # (N, d) training rows
    p: np.ndarray | None  # row probabilities (None: uniform)
    bandwidth: float
    kernel: str
    kde: object  # the fitted sklearn KernelDensity, for scoring

    @property
    def mean(self) -> np.ndarray:
        return np.average(self.x, axis=0, weights=self.p)

    @property
    def variance(self) -> float:
        """Total variance: the weighted covariance trace of the data plus the kernel's."""
        mean = np.average(self.x, axis=0, weights=self.p)
        data = np.average(((self.x - mean) ** 2).sum(axis=1), weights=self.p)
        return float(data + self.bandwidth**2 * KERNEL_VARIANCE[self.kernel](self.x.shape[1]))


def kernel_noise(kernel: str, n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """n draws from the unit-bandwidth kernel in d dimensions."""
    z = rng.standard_normal((n, d))
    if kernel == "gaussian":
        return z
    direction = z / np.linalg.norm(z, axis=1, keepdims=True)
    radius = rng.random(n) ** (1 / d) if kernel == "tophat" else np.sqrt(rng.beta(d / 2, 2, size=n))
    return direction * radius[:, None]


@dataclass
class KDEFamily(RowFamily):
    """Kernel density estimate; ``bandwidth`` a number or ``"scott"`` / ``"silverman"`` (scikit-learn's rules)."""

    config: KDEModelConfig
    block = 10

    def __post_init__(self) -> None:
        self.metrics = {
            "test_nll": Metric(_test_nll, "mean negative log-likelihood of held-out real data (nats)"),
            "mean_sq_error": Metric(_mean_sq_error, "||mean of the KDE - true mean||^2 (sources with a known mean)"),
            **common_metrics(lambda m: m.variance),
        }

    def fit(self, parts: Sequence[Part], world: World, rng: Streams, previous: Any = None) -> Fitted:
        from sklearn.neighbors import KernelDensity

        cfg, models = self.config, []
        for b in range(parts[0].data.batch):
            x, w = stacked(parts, b)
            kde = KernelDensity(kernel=cfg.kernel, bandwidth=cfg.bandwidth).fit(x, sample_weight=w)
            models.append(KDEModel(x, None if w is None else w / w.sum(), float(kde.bandwidth_), cfg.kernel, kde))
        return Fitted(models, self.draw, rng.child_seeds())

    def row_loss(self, params: Fitted, x: np.ndarray, world: World) -> np.ndarray:
        """Negative log-likelihood of each row."""
        return np.stack([-m.kde.score_samples(xb) for m, xb in zip(params.models, x, strict=True)])

    def draw(self, m: KDEModel, n: int, rng: np.random.Generator) -> np.ndarray:
        idx = rng.choice(len(m.x), size=n, p=m.p)
        return m.x[idx] + m.bandwidth * kernel_noise(m.kernel, n, m.x.shape[1], rng)


def _test_nll(p: Fitted, w: World) -> np.ndarray:
    test = w.test.cols["x"]
    return np.array([-np.mean(m.kde.score_samples(test[b])) for b, m in enumerate(p.models)])


def _mean_sq_error(p: Fitted, w: World) -> np.ndarray:
    mu = getattr(w.truth, "mean", None)
    if mu is None:
        return np.full(len(p.models), np.nan)
    return np.array([float(((m.mean - mu) ** 2).sum()) for m in p.models])


@MODELS.register
class KDEModelConfig(FamilyConfig):
    """Kernel density estimate (scikit-learn): gaussian, tophat or epanechnikov kernel."""

    kind: Literal["kde"] = "kde"
    kernel: Literal["gaussian", "tophat", "epanechnikov"] = "gaussian"
    bandwidth: Positive | Literal["scott", "silverman"] = "scott"
    sources: ClassVar[tuple[str, ...]] = ("gaussian", "shapes", "tabular", "mixture")

    def build(self, source: Any) -> KDEFamily:
        return KDEFamily(self)
