"""Gaussian mixtures (scikit-learn ``GaussianMixture``, EM) as a model family."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import PositiveInt

from modelcollapse._rng import Streams, child_seed
from modelcollapse.data import Part
from modelcollapse.models.base import FamilyConfig, Metric
from modelcollapse.models.rowbased import Fitted, RowFamily, common_metrics, one_thread, stacked
from modelcollapse.registry import MODELS
from modelcollapse.sources.base import World


def mixture_variance(g) -> float:  # type: ignore[no-untyped-def]
    """Total variance of a fitted mixture: sum_k pi_k (tr S_k + ||m_k||^2) - ||sum_k pi_k m_k||^2."""
    covs = g.covariances_ if g.covariance_type == "full" else np.stack([np.diag(c) for c in g.covariances_])
    traces = np.trace(covs, axis1=1, axis2=2)
    mean = g.weights_ @ g.means_
    return float(g.weights_ @ (traces + (g.means_**2).sum(1)) - mean @ mean)


@dataclass
class GMMFamily(RowFamily):
    """K-component Gaussian mixture fitted by EM; ``covariance`` in {full, diag}. No row weights."""

    config: GMMModelConfig
    block = 10
    supports_weights = False

    def __post_init__(self) -> None:
        self.metrics = {
            "test_nll": Metric(
                lambda p, w: np.array([-m.score(w.test.cols["x"][b]) for b, m in enumerate(p.models)]),
                "mean negative log-likelihood of held-out real data (nats)",
            ),
            **common_metrics(mixture_variance),
        }

    def fit(self, parts: Sequence[Part], world: World, rng: Streams, previous: Any = None) -> Fitted:
        from sklearn.mixture import GaussianMixture

        cfg, models = self.config, []
        with one_thread():
            for b in range(parts[0].data.batch):
                x, _ = stacked(parts, b)
                seed = child_seed(rng[b], bits=31)
                g = GaussianMixture(cfg.components, covariance_type=cfg.covariance, random_state=seed)
                models.append(g.fit(x))
        return Fitted(models, self.draw, rng.child_seeds())

    def row_loss(self, params: Fitted, x: np.ndarray, world: World) -> np.ndarray:
        """Negative log-likelihood of each row."""
        return np.stack([-m.score_samples(xb) for m, xb in zip(params.models, x, strict=True)])

    def draw(self, g, n: int, rng: np.random.Generator) -> np.ndarray:  # type: ignore[no-untyped-def]
        comp = rng.choice(len(g.weights_), size=n, p=g.weights_)
        z = rng.standard_normal((n, g.means_.shape[1]))
        if g.covariance_type == "full":
            noise = np.einsum("nij,nj->ni", np.linalg.cholesky(g.covariances_)[comp], z)
        else:
            noise = np.sqrt(g.covariances_[comp]) * z
        return g.means_[comp] + noise


@MODELS.register
class GMMModelConfig(FamilyConfig):
    """Gaussian mixture fitted by EM (scikit-learn), K components, full or diagonal covariances."""

    kind: Literal["gmm"] = "gmm"
    components: PositiveInt = 3
    covariance: Literal["full", "diag"] = "full"
    sources: ClassVar[tuple[str, ...]] = ("gaussian", "shapes", "tabular", "mixture")

    def build(self, source: Any) -> GMMFamily:
        return GMMFamily(self)
