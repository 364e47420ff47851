"""Discrete real data: categorical over K symbols, Bernoulli and Poisson."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modelcollapse.data import Rows
from modelcollapse.sources.base import World


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

    def world(self, batch: int, n: int, rng: np.random.Generator) -> World:
        cdf = np.cumsum(self.p)

        def draw(m: int, g: np.random.Generator) -> Rows:
            x = np.searchsorted(cdf, g.random((batch, m)) * cdf[-1], side="right")
            return Rows({"x": np.minimum(x, len(self.p) - 1)})

        return World(draw(n, rng), draw(self.test_samples, rng), self.p, draw)


@dataclass(frozen=True)
class BernoulliSource:
    """Rows ``x`` in {0, 1} with P(x = 1) = p."""

    p: float
    test_samples: int = 1000

    def world(self, batch: int, n: int, rng: np.random.Generator) -> World:
        def draw(m: int, g: np.random.Generator) -> Rows:
            return Rows({"x": (g.random((batch, m)) < self.p).astype(np.int64)})

        return World(draw(n, rng), draw(self.test_samples, rng), self.p, draw)


@dataclass(frozen=True)
class PoissonSource:
    """Rows ``x`` of counts drawn from Poisson(rate)."""

    rate: float
    test_samples: int = 1000

    def world(self, batch: int, n: int, rng: np.random.Generator) -> World:
        def draw(m: int, g: np.random.Generator) -> Rows:
            return Rows({"x": g.poisson(self.rate, (batch, m))})

        return World(draw(n, rng), draw(self.test_samples, rng), self.rate, draw)
