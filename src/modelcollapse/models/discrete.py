"""Count-based families: categorical over K symbols, Bernoulli, Poisson.

All three keep ``(count, sums)`` per replicate: symbol counts for the
categorical, the number of ones for the Bernoulli, the total for the Poisson.
Sampling draws those sums directly (multinomial, binomial, Poisson(n * rate)).
For these families the MLE and the unbiased estimator coincide (the sample
frequency and the sample mean are both), so ``estimator`` changes nothing.

The categorical family can sample with a bias towards likely symbols, as a language
model's decoder does (temperature, top-k, top-p): see :func:`biased`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, PositiveInt

from modelcollapse._rng import Streams
from modelcollapse.data import Part, Rows
from modelcollapse.models.base import Family, FamilyConfig, Metric
from modelcollapse.registry import MODELS, Estimator, Positive
from modelcollapse.sources.base import World


@dataclass(frozen=True)
class CountStats:
    rows: int
    count: float
    sums: np.ndarray  # (B, K)

    @property
    def n(self) -> int:
        return self.rows

    def __add__(self, other: CountStats) -> CountStats:
        return CountStats(self.rows + other.rows, self.count + other.count, self.sums + other.sums)

    def scaled(self, w: float) -> CountStats:
        return self if w == 1.0 else CountStats(self.rows, self.count * w, self.sums * w)


def _total(parts: Sequence[Part], prepare) -> CountStats:  # type: ignore[no-untyped-def]
    stats = [(p.data if isinstance(p.data, CountStats) else prepare(p.data)).scaled(p.weight) for p in parts]
    out = stats[0]
    for s in stats[1:]:
        out = out + s
    return out


def _bincount(x: np.ndarray, k: int) -> np.ndarray:
    b = x.shape[0]
    flat = (x + k * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * k).reshape(b, k).astype(float)


def biased(p: np.ndarray, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None) -> np.ndarray:
    """The distributions ``p`` ``(B, K)`` sharpened by ``temperature`` and truncated to ``top_k`` and ``top_p``.

    The convention of a language model's decoder (``filter_logits`` of the GPT family): first
    ``p^(1/temperature)``, normalised; then only the ``top_k`` most likely symbols are kept; then the
    nucleus: a symbol is dropped when the symbols more likely than it already hold more than ``top_p``
    of the mass that is left (the most likely symbol is always kept). Ties are broken by index (a
    stable sort: the lower index counts as the more likely). What is kept is renormalised. Symbols of
    probability zero stay at zero. With every argument at its default (or ``top_k >= K``,
    ``top_p = 1``) nothing is truncated and, at temperature 1, ``p`` itself is returned.

    >>> p = np.array([[0.5, 0.3, 0.2, 0.0]])
    >>> biased(p, temperature=0.5).round(4).tolist()  # squared: (0.25, 0.09, 0.04, 0) / 0.38
    [[0.6579, 0.2368, 0.1053, 0.0]]
    >>> biased(p, top_k=2).round(4).tolist()
    [[0.625, 0.375, 0.0, 0.0]]
    >>> biased(p, top_p=0.5).round(4).tolist()  # 0.3 follows a mass of 0.5, not more than top_p: kept
    [[0.625, 0.375, 0.0, 0.0]]
    >>> biased(p, top_p=0.45).round(4).tolist()
    [[1.0, 0.0, 0.0, 0.0]]
    """
    q = p
    if temperature != 1.0:  # in logs, so that a low temperature cannot underflow a whole row
        with np.errstate(divide="ignore"):
            logits = np.log(q) / temperature
        q = np.exp(logits - logits.max(axis=1, keepdims=True))
        q = q / q.sum(axis=1, keepdims=True)
    cut_k = top_k is not None and top_k < q.shape[1]
    cut_p = top_p is not None and top_p < 1.0
    if not (cut_k or cut_p):
        return q
    order = np.argsort(-q, axis=1, kind="stable")  # most likely first, ties in index order
    ranked = np.take_along_axis(q, order, axis=1)
    if cut_k:
        ranked[:, top_k:] = 0.0
    if cut_p:
        mass = ranked / ranked.sum(axis=1, keepdims=True)
        before = np.zeros_like(mass)  # the mass of the symbols ranked above each
        np.cumsum(mass[:, :-1], axis=1, out=before[:, 1:])
        ranked = np.where(before > top_p, 0.0, ranked)
    out = np.empty_like(q)
    np.put_along_axis(out, order, ranked, axis=1)
    return out / out.sum(axis=1, keepdims=True)


@dataclass
class CategoricalFamily(Family):
    """Frequencies over K symbols, with optional add-``smoothing`` (Laplace) counts."""

    config: CategoricalModelConfig
    categories: int
    block = 50

    def __post_init__(self) -> None:
        self.metrics = CATEGORICAL_METRICS

    def prepare(self, rows: Rows, world: World) -> CountStats:
        return CountStats(rows.n, float(rows.n), _bincount(rows.cols["x"], self.categories))

    def fit(self, parts: Sequence[Part], world: World, rng: Streams, previous: Any = None) -> np.ndarray:
        t = _total(parts, lambda r: self.prepare(r, world))
        c = t.sums + self.config.smoothing
        return c / c.sum(axis=1, keepdims=True)

    def sample(self, p: np.ndarray, n: int, rng: Streams, world: World, rows: bool):  # type: ignore[no-untyped-def]
        cfg = self.config
        p = biased(p, cfg.temperature, cfg.top_k, cfg.top_p)  # p itself (the old path) at the defaults
        if not rows:
            return CountStats(n, float(n), rng.multinomial(n, p).astype(float))
        cdf = np.cumsum(p, axis=1)
        u = rng.random((p.shape[0], n)) * cdf[:, -1:]
        x = np.stack([np.searchsorted(c, ub, side="right") for c, ub in zip(cdf, u, strict=True)])
        return Rows({"x": np.minimum(x, self.categories - 1)})


def _test_counts(world: World, k: int) -> np.ndarray:
    if "test_counts" not in world.cache:
        world.cache["test_counts"] = _bincount(world.test.cols["x"], k)
    return world.cache["test_counts"]


def _categorical_nll(p: np.ndarray, w: World) -> np.ndarray:
    c = _test_counts(w, p.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(c > 0, c * -np.log(p), 0.0)
    return terms.sum(1) / c.sum(1)


def _entropy(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(1)


CATEGORICAL_METRICS = {
    "support_size": Metric(lambda p, w: (p > 0).sum(1).astype(float), "number of symbols with positive probability"),
    "entropy": Metric(lambda p, w: _entropy(p), "Shannon entropy of the fitted distribution (nats)"),
    "gini_simpson": Metric(lambda p, w: 1.0 - (p**2).sum(1), "Gini-Simpson diversity 1 - sum p_i^2"),
    "tv_to_truth": Metric(lambda p, w: 0.5 * np.abs(p - w.truth).sum(1), "total-variation distance to the truth"),
    "l2_sq_to_truth": Metric(lambda p, w: ((p - w.truth) ** 2).sum(1), "squared Euclidean distance to the truth"),
    "missing_mass": Metric(
        lambda p, w: np.where(p > 0, 0.0, w.truth).sum(1),
        "true mass of the symbols the model never generates (Hutter's memorisation error; lost tails)",
    ),
    "absorbed": Metric(lambda p, w: ((p > 0).sum(1) == 1).astype(float), "1 once the fit is a single atom"),
    "test_nll": Metric(_categorical_nll, "mean negative log-likelihood of held-out real data (nats)"),
}


@dataclass
class _MeanFamily(Family):
    """Fits the sample mean of scalar rows: the Bernoulli probability, the Poisson rate."""

    config: BernoulliModelConfig | PoissonModelConfig
    block = 50

    def prepare(self, rows: Rows, world: World) -> CountStats:
        return CountStats(rows.n, float(rows.n), rows.cols["x"].sum(1, keepdims=True).astype(float))

    def fit(self, parts: Sequence[Part], world: World, rng: Streams, previous: Any = None) -> np.ndarray:
        t = _total(parts, lambda r: self.prepare(r, world))
        return t.sums[:, 0] / t.count


def _bernoulli_nll(p: np.ndarray, w: World) -> np.ndarray:
    ones = w.cache.setdefault("bernoulli_test", w.test.cols["x"].mean(1))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(ones > 0, -ones * np.log(p), 0.0)
        b = np.where(ones < 1, -(1 - ones) * np.log1p(-p), 0.0)
    return a + b


BERNOULLI_METRICS = {
    "param": Metric(lambda p, w: p, "fitted probability of a one"),
    "absorbed": Metric(lambda p, w: ((p == 0) | (p == 1)).astype(float), "1 once the fit is degenerate (p in {0, 1})"),
    "heterozygosity": Metric(lambda p, w: p * (1 - p), "p (1 - p): half the Gini-Simpson diversity of the fit"),
    "test_nll": Metric(_bernoulli_nll, "mean negative log-likelihood of held-out real data (nats)"),
}


def _poisson_nll(lam: np.ndarray, w: World) -> np.ndarray:
    if "poisson_test" not in w.cache:  # the test set's sufficient statistics, once per block
        x = w.test.cols["x"]
        from scipy.special import gammaln  # lazy: SciPy's special functions take 0.2 s to import

        w.cache["poisson_test"] = (x.mean(1), gammaln(x + 1.0).mean(1))
    mean_x, mean_lgx = w.cache["poisson_test"]
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = np.where(mean_x > 0, mean_x * np.log(lam), 0.0)
    return lam - cross + mean_lgx


POISSON_METRICS = {
    "param": Metric(lambda p, w: p, "fitted rate"),
    "absorbed": Metric(lambda p, w: (p == 0).astype(float), "1 once the fitted rate is 0 (absorbing)"),
    "test_nll": Metric(_poisson_nll, "mean negative log-likelihood of held-out real data (nats)"),
}


@dataclass
class BernoulliFamily(_MeanFamily):
    """The fitted probability of a one."""

    def __post_init__(self) -> None:
        self.metrics = BERNOULLI_METRICS

    def sample(self, p: np.ndarray, n: int, rng: Streams, world: World, rows: bool):  # type: ignore[no-untyped-def]
        if rows:
            return Rows({"x": (rng.random((p.shape[0], n)) < p[:, None]).astype(np.int64)})
        return CountStats(n, float(n), rng.binomial(n, p)[:, None].astype(float))


@dataclass
class PoissonFamily(_MeanFamily):
    """The fitted rate (sample mean)."""

    def __post_init__(self) -> None:
        self.metrics = POISSON_METRICS

    def sample(self, lam: np.ndarray, n: int, rng: Streams, world: World, rows: bool):  # type: ignore[no-untyped-def]
        if rows:
            return Rows({"x": rng.poisson(lam[:, None], (lam.shape[0], n))})
        return CountStats(n, float(n), rng.poisson(n * lam)[:, None].astype(float))


@MODELS.register
class CategoricalModelConfig(FamilyConfig):
    """Symbol frequencies, with optional add-``smoothing`` counts.

    Synthetic data can favour likely symbols (see :func:`biased`); the fit stays the frequencies of
    what was sampled:

    * ``temperature`` (> 0, default 1): sample from ``p^(1/temperature)``, normalised; below 1
      sharpens, above 1 flattens.
    * ``top_k`` (default none): keep only the ``top_k`` most likely symbols.
    * ``top_p`` (in (0, 1], default none): keep the nucleus: a symbol is dropped when the symbols
      more likely than it already hold more than ``top_p`` of the mass.

    Temperature comes first, then ``top_k``, then ``top_p`` (on what ``top_k`` kept, renormalised).

    At their defaults these fields are left out of the config's dump, so a config that does not use
    them keeps its identity and its random streams (they are keyed by the dump).
    """

    kind: Literal["categorical"] = "categorical"
    smoothing: Annotated[float, Field(ge=0.0)] = 0.0
    estimator: Estimator = "mle"
    temperature: Positive = 1.0
    top_k: PositiveInt | None = None
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    sources: ClassVar[tuple[str, ...]] = ("categorical",)
    quiet_defaults: ClassVar[tuple[str, ...]] = ("temperature", "top_k", "top_p")

    def build(self, source: Any) -> CategoricalFamily:
        return CategoricalFamily(self, source.size)


@MODELS.register
class BernoulliModelConfig(FamilyConfig):
    """The frequency of ones."""

    kind: Literal["bernoulli"] = "bernoulli"
    estimator: Estimator = "mle"
    sources: ClassVar[tuple[str, ...]] = ("bernoulli",)

    def build(self, source: Any) -> BernoulliFamily:
        return BernoulliFamily(self)


@MODELS.register
class PoissonModelConfig(FamilyConfig):
    """The sample mean as the rate."""

    kind: Literal["poisson"] = "poisson"
    estimator: Estimator = "mle"
    sources: ClassVar[tuple[str, ...]] = ("poisson",)

    def build(self, source: Any) -> PoissonFamily:
        return PoissonFamily(self)
