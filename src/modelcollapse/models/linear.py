"""Linear regression by OLS (minimum-norm, as ``pinv``) or ridge.

Data sets are held as sufficient statistics ``(X^T X, X^T y, y^T y)``. Under a
fixed design every data set shares ``X``, so ``X^T X`` is a multiple of the
design Gram matrix: one eigendecomposition per replicate serves every
generation, and a synthetic data set's statistics are drawn exactly
(``X^T y = G w + X^T eps`` with ``X^T eps ~ N(0, sigma^2 G)``) in O(d^2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from modelcollapse._rng import Streams
from modelcollapse.data import Part, Rows
from modelcollapse.models import _linalg as la
from modelcollapse.models.base import Family, FamilyConfig, Metric
from modelcollapse.registry import MODELS, Estimator, Positive
from modelcollapse.sources.base import World
from modelcollapse.sources.regression import inputs_of

LARGE_GRAM = 100_000  # n d^2 above which a subsample's Gram matrix is built per replicate (the loop is cheap)


@dataclass(frozen=True)
class RegressionStats:
    """Weighted ``X^T X``, ``X^T y`` and ``y^T y`` of a data set, per replicate.

    ``X^T X`` is either ``gram`` or, under a fixed design, ``design_mult`` times
    the design's Gram matrix ``base`` (kept by reference, never copied).
    """

    rows: int
    count: float
    xty: np.ndarray  # (B, d)
    yty: np.ndarray  # (B,)
    gram: np.ndarray | None = None  # (B, d, d)
    design_mult: float = 0.0
    base: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.rows

    def full_gram(self) -> np.ndarray:
        if self.gram is not None:
            return self.gram
        assert self.base is not None
        return self.design_mult * self.base

    def __add__(self, other: RegressionStats) -> RegressionStats:
        rows, count = self.rows + other.rows, self.count + other.count
        xty, yty = self.xty + other.xty, self.yty + other.yty
        if self.gram is None and other.gram is None:
            mult = self.design_mult + other.design_mult
            return RegressionStats(rows, count, xty, yty, None, mult, self.base)
        return RegressionStats(rows, count, xty, yty, self.full_gram() + other.full_gram())

    def scaled(self, w: float) -> RegressionStats:
        if w == 1.0:
            return self
        gram = None if self.gram is None else self.gram * w
        return RegressionStats(
            self.rows, self.count * w, self.xty * w, self.yty * w, gram, self.design_mult * w, self.base
        )


@dataclass(frozen=True)
class RegressionParams:
    weights: np.ndarray  # (B, d)
    noise_var: np.ndarray  # (B,)


def _design(world: World) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues, eigenvectors and Gram matrix of the fixed design, once per block."""
    if "design_eig" not in world.cache:
        x = world.truth.design
        gram = np.swapaxes(x, 1, 2) @ x
        lam, v = np.linalg.eigh(gram)
        world.cache["design_eig"] = (np.clip(lam, 0.0, None), v, gram)
    return world.cache["design_eig"]


def stats_of(rows: Rows, world: World) -> RegressionStats:
    x, y = inputs_of(rows, world.truth), rows.cols["y"]
    xt = np.swapaxes(x, 1, 2)
    return RegressionStats(x.shape[1], float(x.shape[1]), (xt @ y[..., None])[..., 0], (y**2).sum(1), xt @ x)


@dataclass
class LinearRegressionFamily(Family):
    """OLS (``alpha = 0``: minimum-norm least squares) or ridge regression.

    ``noise`` says how synthetic labels are drawn: ``"known"`` uses the true
    noise level (the protocol of the papers), ``"estimated"`` uses the residual
    variance with divisor ``N`` (``estimator="mle"``) or ``N - d`` (``"unbiased"``).
    """

    config: OLSModelConfig | RidgeModelConfig
    block = 50

    def __post_init__(self) -> None:
        self.metrics = METRICS

    def prepare(self, rows: Rows, world: World) -> RegressionStats:
        if world.truth.design is not None and rows is world.train:
            x, y = world.truth.design, rows.cols["y"]
            xty = (np.swapaxes(x, 1, 2) @ y[..., None])[..., 0]
            return RegressionStats(rows.n, float(rows.n), xty, (y**2).sum(1), None, 1.0, _design(world)[2])
        return stats_of(rows, world)

    def fit(
        self, parts: Sequence[Part], world: World, rng: Streams, previous: Any = None
    ) -> RegressionParams:
        if all(isinstance(p.data, Rows) and "i" in p.data.cols for p in parts):
            return self._fit_design_rows(parts, world)
        total = None
        for p in parts:
            s = (p.data if isinstance(p.data, RegressionStats) else stats_of(p.data, world)).scaled(p.weight)
            total = s if total is None else total + s
        assert total is not None
        if total.gram is None:
            lam, v, _ = _design(world)
            w = la.eig_pinv_solve(total.design_mult * lam, v, total.xty, self.config.alpha)
        else:
            gram = total.full_gram()
            if self.config.alpha:
                gram = gram + self.config.alpha * np.eye(gram.shape[-1])
            w = la.pinv_solve(gram, total.xty)
        return RegressionParams(w, self._noise_var(total, w, world))

    def _fit_design_rows(self, parts: Sequence[Part], world: World) -> RegressionParams:
        """Rows of a fixed design: duplicates reduce to distinct design rows with counts.

        With counts ``c_i`` and label sums, the least-squares problem is a weighted
        one over the distinct rows. Where they span R^d the normal equations are
        nonsingular (Cholesky); where there are ``u < d`` of them, the minimum-norm
        solution interpolates their mean labels, ``w = X_U^T (X_U X_U^T)^{-1} ybar``,
        a ``u x u`` solve. Both equal ``pinv(X_sub) y_sub``.
        """
        x0 = world.truth.design
        batch, n, d = x0.shape
        offset = n * np.arange(batch)[:, None]
        counts, ysum, yty = np.zeros(batch * n), np.zeros(batch * n), np.zeros(batch)
        rows = 0
        for p in parts:
            idx, y = (p.data.cols["i"] + offset).ravel(), p.data.cols["y"]
            counts += p.weight * np.bincount(idx, minlength=batch * n)
            ysum += p.weight * np.bincount(idx, weights=y.ravel(), minlength=batch * n)
            yty += p.weight * (y**2).sum(1)
            rows += p.data.n
        counts, ysum = counts.reshape(batch, n), ysum.reshape(batch, n)
        xty = (ysum[:, None, :] @ x0)[:, 0]
        w = np.empty((batch, d))
        full = ((counts > 0).sum(1) >= d) | (self.config.alpha > 0)
        if full.all():  # the usual case: no copies of the design
            w[:] = la.pinv_solve(self._weighted_gram(x0, counts), xty)
        elif full.any():
            w[full] = la.pinv_solve(self._weighted_gram(x0[full], counts[full]), xty[full])
        for b in np.flatnonzero(~full):
            keep = counts[b] > 0
            xu = x0[b, keep]
            w[b] = xu.T @ la.pinv_solve((xu @ xu.T)[None], (ysum[b, keep] / counts[b, keep])[None])[0]
        if self.config.noise == "known":
            return RegressionParams(w, np.full(batch, world.truth.noise_std**2))
        pred = np.einsum("bnd,bd->bn", x0, w)
        rss = yty - 2 * (pred * ysum).sum(1) + (counts * pred**2).sum(1)
        divisor = counts.sum(1) - (d if self.config.estimator == "unbiased" else 0)
        return RegressionParams(w, np.clip(rss, 0.0, None) / np.maximum(divisor, 1.0))

    def _weighted_gram(self, x: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """``X^T diag(counts) X + alpha I`` per replicate: the n d^2 product that bounds a subsample's fit
        (as ``S^T S`` with ``S = sqrt(counts) X``, which BLAS computes as a symmetric rank-k update)."""
        batch, n, d = x.shape
        if n * d * d < LARGE_GRAM:
            s = np.sqrt(counts)[:, :, None] * x
            gram = np.swapaxes(s, 1, 2) @ s
        else:  # one replicate at a time, over the rows it drew (about 63% of them in a subsample)
            gram = np.empty((batch, d, d))
            for b in range(batch):
                drawn = counts[b] > 0
                s = x[b, drawn] * np.sqrt(counts[b, drawn])[:, None]
                gram[b] = s.T @ s
        if self.config.alpha:
            gram += self.config.alpha * np.eye(x.shape[2])
        return gram

    def _noise_var(self, s: RegressionStats, w: np.ndarray, world: World) -> np.ndarray:
        if self.config.noise == "known":
            return np.full(w.shape[0], world.truth.noise_std**2)
        gw = np.einsum("bij,bj->bi", s.full_gram(), w)
        rss = s.yty - 2 * (w * s.xty).sum(1) + (w * gw).sum(1)
        divisor = s.count - (w.shape[1] if self.config.estimator == "unbiased" else 0)
        return np.clip(rss, 0.0, None) / max(divisor, 1.0)

    def sample(
        self, params: RegressionParams, n: int, rng: Streams, world: World, rows: bool
    ) -> RegressionStats | Rows:
        assert world.covariates is not None
        fixed = world.truth.design is not None and n == world.train.n
        if fixed and not rows:
            return self._sample_fixed_stats(params, rng, world)
        x = world.covariates(n, rng)
        sd = np.sqrt(params.noise_var)[:, None]
        y = np.einsum("bnd,bd->bn", x, params.weights) + sd * rng.standard_normal(x.shape[:2])
        if rows and world.truth.design is not None:  # keep design indices, not copies of x
            m = world.train.n
            return Rows({"i": np.broadcast_to(np.arange(n) % m, y.shape), "y": y})
        out = Rows({"x": x, "y": y})
        return out if rows else stats_of(out, world)

    def _sample_fixed_stats(self, params: RegressionParams, rng: Streams, world: World) -> RegressionStats:
        # y = X w + s eps. In the eigenbasis of G = X^T X, X^T eps = V sqrt(lam) z with z ~ N(0, I),
        # ||eps||^2 = ||z_{lam>0}||^2 + chi^2_{n - rank}: the law of (X^T y, y^T y) is exact. The chi^2 is
        # the squares of the first n - rank unused z (d - rank of them), plus chi^2_{n - d} when n > d:
        # one degree of freedom for every replicate, drawn ahead with the others.
        lam, v, gram = _design(world)
        n = world.train.n
        batch, d = params.weights.shape
        s = np.sqrt(params.noise_var)
        z = rng.standard_normal((batch, d))
        pos = lam > la.PINV_RTOL * lam.max(axis=1, keepdims=True)
        unused = ~pos
        rest = unused & (np.cumsum(unused, axis=1) <= (n - pos.sum(1))[:, None])
        eps2 = (z**2 * (pos | rest)).sum(1) + (rng.chisquare(n - d, size=batch) if n > d else 0.0)
        z = np.where(pos, z, 0.0)
        xte = s[:, None] * np.einsum("bij,bj->bi", v, np.sqrt(lam) * z)
        gw = np.einsum("bij,bj->bi", gram, params.weights)
        yty = (params.weights * gw).sum(1) + 2 * (params.weights * xte).sum(1) + s**2 * eps2
        return RegressionStats(n, float(n), gw + xte, yty, None, 1.0, gram)


def _test_stats(world: World) -> RegressionStats:
    if "reg_test" not in world.cache:
        world.cache["reg_test"] = stats_of(world.test, world)
    return world.cache["reg_test"]


def _excess_risk(p: RegressionParams, w: World) -> np.ndarray:
    return ((p.weights - w.truth.weights) ** 2 * w.truth.feature_var).sum(1)


def _test_mse(p: RegressionParams, w: World) -> np.ndarray:
    t = _test_stats(w)
    assert t.gram is not None
    quad = (p.weights * np.einsum("bij,bj->bi", t.gram, p.weights)).sum(1)
    return (quad - 2 * (p.weights * t.xty).sum(1) + t.yty) / t.count


METRICS = {
    "excess_risk": Metric(_excess_risk, "(w_hat - w*)^T Sigma (w_hat - w*), exact test error without noise"),
    "test_mse": Metric(_test_mse, "mean squared error on held-out noisy real data"),
    "noise_var": Metric(lambda p, w: p.noise_var, "noise variance used to draw synthetic labels"),
}


def _min_rows(cfg: OLSModelConfig | RidgeModelConfig, source: Any) -> tuple[int, str]:
    """The unbiased noise estimate divides the residuals by rows - dim: it needs more rows than dimensions
    (the fit would otherwise clamp the divisor to 1)."""
    if cfg.noise == "estimated" and cfg.estimator == "unbiased":
        return source.dim + 1, "model.estimator: unbiased (noise: estimated) divides by rows - source.dim"
    return 1, ""


@MODELS.register
class OLSModelConfig(FamilyConfig):
    """Least squares (minimum-norm where the design is rank deficient)."""

    kind: Literal["ols"] = "ols"
    alpha: ClassVar[float] = 0.0  # no penalty
    noise: Literal["known", "estimated"] = "known"
    estimator: Estimator = "mle"
    sources: ClassVar[tuple[str, ...]] = ("linear-regression",)

    def build(self, source: Any) -> LinearRegressionFamily:
        return LinearRegressionFamily(self)

    def min_rows(self, source: Any) -> tuple[int, str]:
        return _min_rows(self, source)


@MODELS.register
class RidgeModelConfig(FamilyConfig):
    """Ridge regression with penalty ``alpha`` on the summed squared error."""

    kind: Literal["ridge"] = "ridge"
    alpha: Positive = 1.0
    noise: Literal["known", "estimated"] = "known"
    estimator: Estimator = "mle"
    sources: ClassVar[tuple[str, ...]] = ("linear-regression",)

    def build(self, source: Any) -> LinearRegressionFamily:
        return LinearRegressionFamily(self)

    def min_rows(self, source: Any) -> tuple[int, str]:
        return _min_rows(self, source)
