"""Gaussian fitting by sample mean and covariance (full, diagonal or isotropic).

Data sets are held as sufficient statistics (count, mean, scatter) that merge
exactly, so accumulating costs O(1) per generation. Sampling draws the
statistics of ``n`` points directly (mean ~ Normal, scatter ~ Wishart via the
Bartlett decomposition), which is exact in distribution and free in ``n``.
Synthetic data may be drawn with the fitted covariance shrunk by ``shrink``
(sampling that favours likely outputs, like a temperature below 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Literal

import numpy as np

from modelcollapse._rng import Streams
from modelcollapse.data import Part, Rows
from modelcollapse.models import _linalg as la
from modelcollapse.models.base import Family, FamilyConfig, Metric
from modelcollapse.registry import MODELS, Estimator, Positive
from modelcollapse.sources.base import World


@dataclass(frozen=True)
class GaussianStats:
    """Weighted count, mean ``(B, d)`` and scatter ``(B, d, d)`` (or its diagonal ``(B, d)``).

    ``factor``, when known, satisfies ``scatter = factor @ factor^T`` and spares
    the fit a decomposition (``tri`` says it is lower-triangular and square).
    """

    rows: int
    count: float
    mean: np.ndarray
    scatter_: np.ndarray | None  # None when ``factor`` is given: built only if a merge needs it
    factor: np.ndarray | None = None
    tri: bool = False

    @property
    def n(self) -> int:
        return self.rows

    @cached_property
    def scatter(self) -> np.ndarray:
        if self.scatter_ is not None:
            return self.scatter_
        assert self.factor is not None
        return self.factor @ np.swapaxes(self.factor, 1, 2)

    def __add__(self, other: GaussianStats) -> GaussianStats:
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / count)
        if self.scatter.ndim == 2:
            cross = delta**2
        else:
            cross = delta[:, :, None] * delta[:, None, :]
        scatter = self.scatter + other.scatter + cross * (self.count * other.count / count)
        return GaussianStats(self.rows + other.rows, count, mean, scatter)

    def scaled(self, w: float) -> GaussianStats:
        if w == 1.0:
            return self
        return GaussianStats(self.rows, self.count * w, self.mean, self.scatter * w)


@dataclass(frozen=True)
class GaussianParams:
    mean: np.ndarray  # (B, d)
    factor: np.ndarray  # (B, d, k) with cov = factor factor^T
    tri: np.ndarray  # (B,) whether factor is square lower-triangular
    logdet: np.ndarray  # (B,)

    @cached_property
    def cov(self) -> np.ndarray:
        return self.factor @ np.swapaxes(self.factor, 1, 2)

    @cached_property
    def trace(self) -> np.ndarray:
        return (self.factor**2).sum(axis=(1, 2))


def stats_of(rows: Rows, diagonal: bool) -> GaussianStats:
    x = rows.cols["x"]
    mean = x.mean(axis=1)
    xc = x - mean[:, None, :]
    n, d = x.shape[1], x.shape[2]
    if diagonal:
        return GaussianStats(n, float(n), mean, (xc**2).sum(axis=1))
    xt = np.swapaxes(xc, 1, 2)
    if n <= d:  # the centred data are a cheaper square root than any decomposition
        return GaussianStats(n, float(n), mean, None, xt)
    return GaussianStats(n, float(n), mean, xt @ xc)


@dataclass
class GaussianFamily(Family):
    """Fits ``N(mean, cov)``; ``covariance`` in {full, diagonal, isotropic, known}, ``estimator`` in {mle, unbiased}.

    ``known`` keeps the true covariance and fits the mean only. Samples are drawn from
    ``N(mean, shrink * cov)`` (``shrink`` 1 by default).

    Examples
    --------
    >>> import numpy as np
    >>> from modelcollapse.data import Rows
    >>> from modelcollapse.sources import GaussianSource
    >>> from modelcollapse.workflows import Part
    >>> rng = np.random.default_rng(0)
    >>> world = GaussianSource(np.zeros(2), np.eye(2)).world(batch=3, n=100, rng=rng)
    >>> fam = GaussianModelConfig(covariance="full", estimator="mle").build(None)
    >>> params = fam.fit([Part(fam.prepare(world.train, world))], world, rng)
    >>> params.cov.shape
    (3, 2, 2)
    """

    config: GaussianModelConfig
    block = 50

    def __post_init__(self) -> None:
        self.metrics = METRICS

    @property
    def _diagonal(self) -> bool:
        return self.config.covariance in ("diagonal", "isotropic")

    def prepare(self, rows: Rows, world: World) -> GaussianStats:
        return stats_of(rows, self._diagonal)

    def fit(self, parts: Sequence[Part], world: World, rng: Streams, previous: Any = None) -> GaussianParams:
        stats = [
            (p.data if isinstance(p.data, GaussianStats) else self.prepare(p.data, world), p.weight) for p in parts
        ]
        total = stats[0][0].scaled(stats[0][1])
        for s, w in stats[1:]:
            total = total + s.scaled(w)
        divisor = total.count - (self.config.estimator == "unbiased")
        if self.config.covariance == "known":
            chol = np.broadcast_to(world.truth.chol, (total.mean.shape[0], *world.truth.cov.shape))
            logdet = np.full(total.mean.shape[0], np.linalg.slogdet(world.truth.cov)[1])
            return GaussianParams(total.mean, chol, np.ones(len(logdet), bool), logdet)
        if self._diagonal:
            var = total.scatter / divisor
            if self.config.covariance == "isotropic":
                var = np.repeat(var.mean(axis=1, keepdims=True), var.shape[1], axis=1)
            with np.errstate(divide="ignore"):
                logdet = np.log(var).sum(axis=1)
            factor = np.sqrt(var)[:, :, None] * np.eye(var.shape[1])
            return GaussianParams(total.mean, factor, np.ones(len(var), bool), logdet)
        if total.factor is not None:  # single unweighted part: reuse its square root
            factor, tri = total.factor / np.sqrt(divisor), np.full(total.mean.shape[0], total.tri)
        else:
            factor, tri = la.psd_factor(total.scatter / divisor)
        return GaussianParams(total.mean, factor, tri, la.logdet_from_factor(factor, tri))

    def sample(self, params: GaussianParams, n: int, rng: Streams, world: World, rows: bool) -> GaussianStats | Rows:
        shrink = self.config.shrink
        f = params.factor if shrink == 1.0 else params.factor * np.sqrt(shrink)  # cov -> shrink * cov
        batch, d, k = f.shape
        if rows:
            z = rng.standard_normal((batch, n, k))
            return Rows({"x": params.mean[:, None, :] + z @ np.swapaxes(f, 1, 2)})
        mean = params.mean + (f @ rng.standard_normal((batch, k, 1)))[..., 0] / np.sqrt(n)
        if self._diagonal:
            sd = np.diagonal(f, axis1=1, axis2=2)
            return GaussianStats(n, float(n), mean, sd**2 * rng.chisquare(n - 1, (batch, d)))
        if n - 1 >= k:  # Bartlett: f A is again lower-triangular when f is
            new = f @ la.bartlett(rng, batch, k, n - 1)
            tri = k == d and bool(params.tri.all())
        else:  # singular Wishart: a (k x (n-1)) Gaussian matrix
            new, tri = f @ rng.standard_normal((batch, k, n - 1)), False
        return GaussianStats(n, float(n), mean, None, new, tri)


def _test_moments(world: World) -> tuple[np.ndarray, np.ndarray]:
    if "gauss_test" not in world.cache:
        x = world.test.cols["x"]
        m = x.mean(axis=1)
        xc = x - m[:, None, :]
        world.cache["gauss_test"] = (m, np.swapaxes(xc, 1, 2) @ xc / x.shape[1])
    return world.cache["gauss_test"]


def _mean_sq_error(p: GaussianParams, w: World) -> np.ndarray:
    return ((p.mean - w.truth.mean) ** 2).sum(axis=1)


def _trace(p: GaussianParams) -> np.ndarray:
    return p.trace


def _w2_sq(p: GaussianParams, w: World) -> np.ndarray:
    if "sqrt_cov" not in w.cache:
        lam, v = np.linalg.eigh(w.truth.cov)
        w.cache["sqrt_cov"] = (v * np.sqrt(lam)) @ v.T
    r = w.cache["sqrt_cov"]
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(r @ p.cov @ r), 0.0, None)).sum(axis=1)
    return _mean_sq_error(p, w) + _trace(p) + np.trace(w.truth.cov) - 2.0 * cross


def _test_nll(p: GaussianParams, w: World) -> np.ndarray:
    m, s = _test_moments(w)
    delta = m - p.mean
    second = s + delta[:, :, None] * delta[:, None, :]
    out = np.full(p.mean.shape[0], np.inf)
    ok = np.isfinite(p.logdet)
    if ok.any():
        quad = np.trace(_solve_or_inf(p.cov[ok], second[ok]), axis1=1, axis2=2)
        out[ok] = 0.5 * (p.mean.shape[1] * np.log(2 * np.pi) + p.logdet[ok] + quad)
    return out


def _solve_or_inf(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched ``solve(a, b)``; a covariance that collapsed to numerical singularity (replace does that) gives
    inf for its replicate instead of failing the whole block."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        out = np.full(b.shape, np.inf)
        for i in range(len(a)):
            try:
                out[i] = np.linalg.solve(a[i], b[i])
            except np.linalg.LinAlgError:
                pass
        return out


def _tails(p: GaussianParams, w: World) -> tuple[np.ndarray, np.ndarray]:
    """Model mass below the real 2.5% quantile and above the real 97.5% quantile (exact, 1-D)."""
    from scipy.stats import norm

    mu, sd = float(w.truth.mean[0]), float(np.sqrt(w.truth.cov[0, 0]))
    lo, hi = mu + sd * norm.ppf(0.025), mu + sd * norm.ppf(0.975)
    m, s = p.mean[:, 0], np.sqrt(p.cov[:, 0, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        below = np.where(s > 0, norm.cdf((lo - m) / s), (m < lo).astype(float))
        above = np.where(s > 0, norm.sf((hi - m) / s), (m > hi).astype(float))
    return below, above


def _tail_mass(p: GaussianParams, w: World) -> np.ndarray:
    """Model mass beyond the real 2.5% and 97.5% quantiles (0.05 if faithful); 1-D only (NaN otherwise)."""
    if p.mean.shape[1] != 1:
        return np.full(p.mean.shape[0], np.nan)
    below, above = _tails(p, w)
    return below + above


def _tail_kept(p: GaussianParams, w: World) -> np.ndarray:
    """The smaller of the two real tails' model mass over its real mass 0.025: 1 if faithful, 0 once a tail is gone."""
    if p.mean.shape[1] != 1:
        return np.full(p.mean.shape[0], np.nan)
    below, above = _tails(p, w)
    return np.minimum(below, above) / 0.025


METRICS = {
    "mean_sq_error": Metric(_mean_sq_error, "||mu_hat - mu||^2, squared error of the fitted mean"),
    "cov_trace_ratio": Metric(lambda p, w: _trace(p) / np.trace(w.truth.cov), "tr(Sigma_hat) / tr(Sigma)"),
    "cov_logdet_change": Metric(
        lambda p, w: p.logdet - w.truth.logdet,
        "log det Sigma_hat - log det Sigma (-inf once singular)",
    ),
    "w2_sq": Metric(_w2_sq, "squared Wasserstein-2 distance to the truth (closed form)"),
    "second_moment": Metric(
        lambda p, w: _trace(p) + _mean_sq_error(p, w),
        "E||x - mu||^2 of a model sample about the true mean: tr Sigma_hat + ||mu_hat - mu||^2",
    ),
    "test_nll": Metric(_test_nll, "mean negative log-likelihood of held-out real data (nats)"),
    "tail_mass_q95": Metric(_tail_mass, "model mass beyond the real 2.5%/97.5% quantiles (0.05 if faithful; 1-D)"),
    "tail_kept": Metric(_tail_kept, "min over the two real 2.5% tails of model mass / 0.025 (1 if faithful; 1-D)"),
}


@MODELS.register
class GaussianModelConfig(FamilyConfig):
    """Sample mean and covariance (full / diagonal / isotropic, or the known true covariance).

    ``shrink`` (> 0, default 1) scales the fitted covariance that synthetic data are drawn from: they
    come from ``N(mean_hat, shrink * cov_hat)``, so below 1 they favour likely outputs. The fit is
    unchanged. At its default it is left out of the config's dump, so a config that does not use it
    keeps its identity and its random streams (they are keyed by the dump).
    """

    kind: Literal["gaussian"] = "gaussian"
    covariance: Literal["full", "diagonal", "isotropic", "known"] = "full"
    estimator: Estimator = "mle"
    shrink: Positive = 1.0
    sources: ClassVar[tuple[str, ...]] = ("gaussian",)
    quiet_defaults: ClassVar[tuple[str, ...]] = ("shrink",)

    def build(self, source: Any) -> GaussianFamily:
        return GaussianFamily(self)

    def min_rows(self, source: Any) -> tuple[int, str]:
        """The unbiased covariance divides by rows - 1: one row would give 0/0."""
        if self.estimator == "unbiased" and self.covariance != "known":
            return 2, "model.estimator: unbiased divides by rows - 1"
        return 1, ""
