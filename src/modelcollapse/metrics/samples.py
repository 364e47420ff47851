"""Sample-based metrics: model samples against held-out real data.

They name the definitions of collapse they measure: ``tail_mass`` (7, lost tails), ``precision``
(8, hallucinated samples) and ``recall`` (improved precision/recall of Kynkaanniemi et al. 2019),
``mode_share_tv`` (6, entangled modes), ``mmd_rbf`` and ``sliced_w2`` (overall sample quality).
Everything that depends on the real data alone is computed once in :class:`RealReference`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np

from modelcollapse.models.base import Metric
from modelcollapse.models.rowbased import Fitted
from modelcollapse.sources.base import World

K_NEIGHBOURS = 5
MMD_REAL = 500  # real points used by the MMD (a fixed subset)


class RealReference:
    """Held-out real rows (and optional mode labels) with their derived quantities, computed once."""

    def __init__(self, real: np.ndarray, labels: np.ndarray | None = None, k: int = K_NEIGHBOURS) -> None:
        self.real, self.labels, self.k = real, labels, k

    @cached_property
    def _nn(self):  # type: ignore[no-untyped-def]
        from sklearn.neighbors import NearestNeighbors

        return NearestNeighbors(n_neighbors=min(50, len(self.real))).fit(self.real)

    @cached_property
    def radii(self) -> np.ndarray:
        return _kth_radius(self.real, self.k)

    @cached_property
    def _mahalanobis(self) -> tuple[np.ndarray, np.ndarray, float]:
        mean = self.real.mean(axis=0)
        inv = np.linalg.inv(np.atleast_2d(np.cov(self.real, rowvar=False)) + 1e-9 * np.eye(self.real.shape[1]))
        c = self.real - mean
        return mean, inv, float(np.quantile(np.einsum("ij,jk,ik->i", c, inv, c), 0.95))

    @cached_property
    def _classifier(self):  # type: ignore[no-untyped-def]
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=1).fit(self.real, self.labels)

    @cached_property
    def _mmd(self) -> tuple[np.ndarray, float, float]:
        from scipy.spatial.distance import pdist

        sub = self.real[:MMD_REAL]
        scale = float(np.median(pdist(sub)) ** 2) or 1.0
        return sub, scale, _mean_kernel(sub, sub, scale, same=True)

    def precision(self, samples: np.ndarray) -> float:
        """Share of samples inside the real manifold (union of k-NN balls around real points). Definition 8."""
        dist, idx = self._nn.kneighbors(samples)
        return float((dist <= self.radii[idx]).any(axis=1).mean())

    def recall(self, samples: np.ndarray) -> float:
        """Share of real points inside the sample manifold: falls when modes or tails are lost."""
        from sklearn.neighbors import NearestNeighbors

        radii = _kth_radius(samples, self.k)
        dist, idx = NearestNeighbors(n_neighbors=min(50, len(samples))).fit(samples).kneighbors(self.real)
        return float((dist <= radii[idx]).any(axis=1).mean())

    def tail_mass(self, samples: np.ndarray) -> float:
        """Share of samples beyond the real 95% quantile of Mahalanobis radius (0.05 if faithful). Definition 7."""
        mean, inv, q95 = self._mahalanobis
        c = samples - mean
        return float((np.einsum("ij,jk,ik->i", c, inv, c) > q95).mean())

    def mode_share_tv(self, samples: np.ndarray) -> float:
        """TV distance between the samples' shares of the real modes and the real shares. Definition 6.

        A sample belongs to the mode (class label) of its nearest real point.
        """
        assert self.labels is not None
        assigned = self._classifier.predict(samples)
        classes = np.unique(self.labels)
        real_share = np.array([(self.labels == c).mean() for c in classes])
        sample_share = np.array([(assigned == c).mean() for c in classes])
        return float(0.5 * np.abs(real_share - sample_share).sum())

    def mmd_rbf(self, samples: np.ndarray) -> float:
        """Unbiased squared MMD with an RBF kernel at the median real pairwise distance."""
        sub, scale, real_term = self._mmd
        return (
            _mean_kernel(samples, samples, scale, same=True)
            + real_term
            - 2 * _mean_kernel(samples, sub, scale, same=False)
        )

    def sliced_w2(self, samples: np.ndarray, seed: int = 0, projections: int = 64) -> float:
        """Sliced Wasserstein-2 distance (POT)."""
        import ot

        return float(ot.sliced_wasserstein_distance(samples, self.real, n_projections=projections, seed=seed))


def _kth_radius(points: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    return dist[:, -1]  # column 0 is the point itself


def _mean_kernel(a: np.ndarray, b: np.ndarray, scale: float, same: bool) -> float:
    from scipy.spatial.distance import cdist

    k = np.exp(-cdist(a, b, "sqeuclidean") / scale)
    if same:
        n = len(a)
        return float((k.sum() - np.trace(k)) / (n * (n - 1)))
    return float(k.mean())


def references(world: World) -> list[RealReference]:
    """One :class:`RealReference` per replicate of the held-out real data, cached on the world."""
    if "real_references" not in world.cache:
        labels = world.test.cols.get("label") if getattr(world.truth, "has_modes", False) else None
        world.cache["real_references"] = [
            RealReference(x, None if labels is None else labels[b]) for b, x in enumerate(world.test.cols["x"])
        ]
    return world.cache["real_references"]


def _per_replicate(name: str) -> Callable[[Fitted, World], np.ndarray]:
    def metric(p: Fitted, w: World) -> np.ndarray:
        refs = references(w)
        if name == "mode_share_tv" and refs[0].labels is None:
            return np.full(len(p.models), np.nan)
        if name == "sliced_w2":
            pairs = zip(refs, p.eval_samples, p.eval_seeds, strict=True)  # projections: the replicate's own
            return np.array([r.sliced_w2(s, seed=seed % 2**32) for r, s, seed in pairs])
        return np.array([getattr(r, name)(s) for r, s in zip(refs, p.eval_samples, strict=True)])

    return metric


SAMPLE_METRICS = {
    "tail_mass_q95": Metric(
        _per_replicate("tail_mass"), "share of model samples beyond the real 95% Mahalanobis radius (0.05 if faithful)"
    ),
    "precision": Metric(_per_replicate("precision"), "share of model samples inside the real k-NN manifold"),
    "recall": Metric(_per_replicate("recall"), "share of real points inside the model-sample k-NN manifold"),
    "mode_share_tv": Metric(
        _per_replicate("mode_share_tv"), "TV distance between model-sample and real shares of the real modes"
    ),
    "mmd_rbf": Metric(_per_replicate("mmd_rbf"), "squared MMD to held-out real data (RBF, median bandwidth)"),
    "sliced_w2": Metric(_per_replicate("sliced_w2"), "sliced Wasserstein-2 distance to held-out real data (POT)"),
}

IMAGE_METRICS = {k: v for k, v in SAMPLE_METRICS.items() if k != "tail_mass_q95"}
IMAGE_METRICS["mode_share_tv"] = Metric(
    SAMPLE_METRICS["mode_share_tv"].fn,
    "class balance: TV distance between the class shares of samples (labelled by a 1-NN classifier on "
    "held-out real images) and of real images",
)
