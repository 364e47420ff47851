"""Discrete real data: categorical over K symbols, Bernoulli and Poisson."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, PositiveInt, model_validator

from modelcollapse._rng import Streams, as_streams, held_out
from modelcollapse.data import Rows
from modelcollapse.registry import SOURCES, Positive
from modelcollapse.sources.base import SourceConfig, World


def word_frequencies(k: int, language: str = "en") -> tuple[list[str], np.ndarray]:
    """The top-k words of a language and their probabilities renormalised over those k (PyPI ``wordfreq``).

    Real, heavy-tailed frequencies aggregated from many corpora (data CC BY-SA 4.0); installed with the
    package, nothing is downloaded at run time.
    """
    import wordfreq

    words = wordfreq.top_n_list(language, k)
    p = np.array([wordfreq.word_frequency(w, language) for w in words])
    return words, p / p.sum()


def zipf_probabilities(k: int, exponent: float) -> np.ndarray:
    """``p_i`` proportional to ``i^-exponent`` for ranks ``i = 1..k``."""
    p = np.arange(1, k + 1, dtype=float) ** -exponent
    return p / p.sum()


@dataclass(frozen=True)
class CategoricalSource:
    """Rows ``x`` of integer symbols in ``[0, K)`` drawn with probabilities ``p``."""

    p: np.ndarray
    test_samples: int = 1000

    def world(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        cdf = np.cumsum(self.p)

        def draw(m: int, g: Streams) -> Rows:
            x = np.searchsorted(cdf, g.random((batch, m)) * cdf[-1], side="right")
            return Rows({"x": np.minimum(x, len(self.p) - 1)})

        streams = as_streams(rng, batch)
        return World(draw(n, streams), lambda: draw(self.test_samples, held_out(streams)), self.p, draw)


@dataclass(frozen=True)
class BernoulliSource:
    """Rows ``x`` in {0, 1} with P(x = 1) = p."""

    p: float
    test_samples: int = 1000

    def world(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        def draw(m: int, g: Streams) -> Rows:
            return Rows({"x": (g.random((batch, m)) < self.p).astype(np.int64)})

        streams = as_streams(rng, batch)
        return World(draw(n, streams), lambda: draw(self.test_samples, held_out(streams)), self.p, draw)


@dataclass(frozen=True)
class PoissonSource:
    """Rows ``x`` of counts drawn from Poisson(rate)."""

    rate: float
    test_samples: int = 1000

    def world(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        def draw(m: int, g: Streams) -> Rows:
            return Rows({"x": g.poisson(self.rate, (batch, m))})

        streams = as_streams(rng, batch)
        return World(draw(n, streams), lambda: draw(self.test_samples, held_out(streams)), self.rate, draw)


@SOURCES.register
class CategoricalSourceConfig(SourceConfig):
    """K symbols: ``uniform``, ``zipf`` (p_i ~ i^-exponent), ``wordfreq`` (top-K English words) or ``probabilities``."""

    kind: Literal["categorical"] = "categorical"
    example: ClassVar[dict[str, Any]] = {"categories": 10}
    categories: PositiveInt | None = None
    distribution: Literal["uniform", "zipf", "wordfreq"] = "zipf"
    exponent: Positive = 1.0
    probabilities: list[Annotated[float, Field(ge=0.0)]] | None = None
    test_samples: PositiveInt = 1000

    @model_validator(mode="after")
    def _given(self) -> CategoricalSourceConfig:
        if self.probabilities is None and self.categories is None:
            raise ValueError("give categories (with a distribution) or probabilities")
        if self.probabilities is not None and sum(self.probabilities) <= 0:
            raise ValueError("probabilities must have a positive sum")
        return self

    @property
    def size(self) -> int:
        return len(self.probabilities) if self.probabilities is not None else int(self.categories or 0)

    def build(self) -> CategoricalSource:
        if self.probabilities is not None:
            p = np.asarray(self.probabilities, float)
            p = p / p.sum()
        elif self.distribution == "uniform":
            p = np.full(self.size, 1.0 / self.size)
        elif self.distribution == "wordfreq":
            p = word_frequencies(self.size)[1]
        else:
            p = zipf_probabilities(self.size, self.exponent)
        return CategoricalSource(p, self.test_samples)


@SOURCES.register
class BernoulliSourceConfig(SourceConfig):
    """Coin flips with P(1) = p."""

    kind: Literal["bernoulli"] = "bernoulli"
    p: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    test_samples: PositiveInt = 1000

    def build(self) -> BernoulliSource:
        return BernoulliSource(self.p, self.test_samples)


@SOURCES.register
class PoissonSourceConfig(SourceConfig):
    """Counts drawn from Poisson(rate)."""

    kind: Literal["poisson"] = "poisson"
    rate: Positive = 1.0
    test_samples: PositiveInt = 1000

    def build(self) -> PoissonSource:
        return PoissonSource(self.rate, self.test_samples)
