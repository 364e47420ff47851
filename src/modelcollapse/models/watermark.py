"""A soft watermark for token samplers and its z-test (Kirchenbauer et al. 2023, "A Watermark for Large
Language Models").

Green list. Token ``w`` is *green* after the previous token ``h`` when a keyed 64-bit integer hash of
``(key, h, w)`` falls below ``gamma * 2**64``: membership is a pure function of ``(key, gamma, h, w)``,
computed for any array of pairs without building permutations. Each (h, w) pair is green with probability
``gamma`` (to 2**-64) independently of every other pair, so the green list of ``h`` holds about
``gamma * V`` of the ``V`` tokens (Binomial(V, gamma): 1250 +- 31 for V = 5000, gamma = 0.25), where
Kirchenbauer's permutation takes exactly ``round(gamma * V)``. The hash is splitmix64's finaliser, applied
twice: ``mix(mix(mix(key) + (h + 1) * G) + (w + 1) * G')``.

Sampling. The soft watermark adds ``delta`` to the logit of every green token: ``q(w) ∝ p(w | ...)
e^{delta [w green after h]}`` (:class:`GreenList` caches the green rows of a vocabulary for samplers).

Detection. A document ``w_1 .. w_L`` (a row of ids padded with negative ids) is scored token by token
with its previous token; the first token's previous token is ``</s>`` (id 0): the document boundary that
the samplers condition the first token on. ``</s>`` itself is not in a stored row, so it is not scored.
A repeated (previous, token) pair is scored once (Kirchenbauer et al.'s later advice: a repeated pair
repeats its colour, and counting it again would widen the null beyond the binomial). Over the ``T``
distinct pairs, with ``|s|`` of them green,
``z = (|s| - gamma T) / sqrt(T gamma (1 - gamma))`` (0 when ``T = 0``). A document is flagged when
``T >= min_tokens`` and, by default (``exact``), the binomial upper tail ``P(Bin(T, gamma) >= |s|)`` is at
most the nominal rate ``1 - Phi(z_threshold)``: the exact form of the z-test, whose false-positive rate
is at most nominal at every ``T``. The normal approximation ``z > z_threshold`` (``exact: false``, the
paper's rule) is right-skewed at small ``T`` when ``gamma < 1/2``: at ``z_threshold = 4`` it flags up to
13 times the nominal rate of unwatermarked documents of 6 to 50 tokens.

Everything here is numpy and the standard library, besides the config (pydantic, as every config).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Annotated

import numpy as np
from pydantic import Field, PositiveInt

from modelcollapse.registry import Config, Seed

EOS = 0  # the previous token of a document's first token (``</s>``, as in sources.text)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)  # splitmix64's multipliers
_G1, _G2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xD1B54A32D192ED03)  # odd constants spreading h and w
CACHE_BYTES = 1 << 26  # the green rows a GreenList keeps (64 MiB)


class WatermarkConfig(Config):
    """A soft watermark: ``delta`` added to the logits of a ``gamma`` share of the vocabulary (a green list
    seeded by the previous token and ``key``). Documents of at least ``min_tokens`` scored tokens are
    flagged at the z-test's level 1 - Phi(``z_threshold``): by the exact binomial tail (``exact``), else
    when z > ``z_threshold`` (the paper's normal approximation)."""

    gamma: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.25
    delta: Annotated[float, Field(ge=0.0)] = 2.0
    key: Seed = 15485863
    z_threshold: float = 4.0
    min_tokens: PositiveInt = 1
    exact: bool = True

    @property
    def nominal_rate(self) -> float:
        """The one-sided normal tail 1 - Phi(z_threshold): the false-positive rate the z-test aims at."""
        return nominal_rate(self.z_threshold)


def nominal_rate(z: float) -> float:
    """1 - Phi(z), the standard normal's upper tail."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def _threshold(gamma: float) -> np.uint64:
    return np.uint64(min(int(gamma * 2.0**64), 2**64 - 1))


def green(key: int, gamma: float, prev: np.ndarray | int, token: np.ndarray | int) -> np.ndarray:
    """Whether ``token`` is on the green list of ``prev`` (arrays broadcast): hash(key, prev, token) < gamma 2^64."""
    with np.errstate(over="ignore"):
        h = np.asarray(prev).astype(np.int64).view(np.uint64) + np.uint64(1)
        w = np.asarray(token).astype(np.int64).view(np.uint64) + np.uint64(1)
        seed = _mix(np.array([key], np.uint64))[0]
        return _mix(_mix(seed + h * _G1) + w * _G2) < _threshold(gamma)


class GreenList:
    """The green rows ``(V,)`` of a vocabulary of ``vocab`` tokens, computed on first use and kept (up to
    64 MiB of them): what a sampler adds ``delta`` to, step after step."""

    def __init__(self, key: int, gamma: float, vocab: int) -> None:
        self.key, self.gamma, self.vocab = key, gamma, vocab
        self._rows: dict[int, np.ndarray] = {}
        self._limit = max(64, CACHE_BYTES // max(vocab, 1))
        self._tokens = np.arange(vocab)

    def row(self, prev: int) -> np.ndarray:
        """The green mask ``(V,)`` after token ``prev``."""
        got = self._rows.get(prev)
        if got is None:
            if len(self._rows) >= self._limit:
                self._rows.clear()
            got = self._rows[prev] = green(self.key, self.gamma, prev, self._tokens)
        return got

    def rows(self, prev: np.ndarray) -> np.ndarray:
        """The green masks ``(n, V)`` after each of the tokens ``prev`` ``(n,)``."""
        return (
            np.stack([self.row(int(h)) for h in np.asarray(prev).tolist()])
            if len(prev)
            else np.zeros((0, self.vocab), bool)
        )


def pairs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each token's previous token (``</s>`` before the first) and which positions hold a token: rows
    ``x`` ``(..., L)`` of ids padded with negative ids."""
    x = np.asarray(x)
    prev = np.concatenate([np.full((*x.shape[:-1], 1), EOS, x.dtype), x[..., :-1]], axis=-1)
    return prev, x >= 0


def counts(x: np.ndarray, key: int, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """Green tokens ``|s|`` and scored tokens ``T`` of each document ``(...)``: distinct (previous, token) pairs."""
    prev, valid = pairs(x)
    code = np.where(valid, (prev.astype(np.int64) << 32) | np.asarray(x, np.int64), -1)
    code = np.sort(code, axis=-1)  # padding (-1) first; a repeated pair lands next to its first copy
    first = code >= 0
    first[..., 1:] &= code[..., 1:] != code[..., :-1]
    is_green = green(key, gamma, code >> 32, code & 0xFFFFFFFF) & first
    return is_green.sum(-1), first.sum(-1)


def z_scores(x: np.ndarray, config: WatermarkConfig) -> tuple[np.ndarray, np.ndarray]:
    """The z-score of each document ``(...)`` and its number of scored tokens ``T`` (z = 0 where T = 0)."""
    g, t = counts(x, config.key, config.gamma)
    return _z(g, t, config.gamma), t


def _z(g: np.ndarray, t: np.ndarray, gamma: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (g - gamma * t) / np.sqrt(t * gamma * (1 - gamma))
    return np.where(t > 0, z, 0.0)


@lru_cache(maxsize=4096)
def critical(t: int, gamma: float, alpha: float) -> int:
    """The fewest green tokens of ``t`` whose binomial upper tail P(Bin(t, gamma) >= k) is at most ``alpha``
    (``t + 1`` when even ``t`` green tokens are not that rare)."""
    k = np.arange(1, t + 1)
    log_choose = np.concatenate([[0.0], np.cumsum(np.log(t - k + 1) - np.log(k))])
    pmf = np.exp(log_choose + np.arange(t + 1) * math.log(gamma) + (t - np.arange(t + 1)) * math.log1p(-gamma))
    tail = np.cumsum(pmf[::-1])[::-1]  # tail[k] = P(X >= k)
    return int(np.argmax(tail <= alpha)) if tail[-1] <= alpha else t + 1


def flagged(x: np.ndarray, config: WatermarkConfig) -> np.ndarray:
    """Documents the detector calls watermarked, over at least ``min_tokens`` scored tokens: with ``exact``,
    those whose green count's binomial upper tail is at most 1 - Phi(z_threshold) (the exact test at the
    z-test's nominal level); else those with z > z_threshold (the normal approximation)."""
    g, t = counts(x, config.key, config.gamma)
    if config.exact:
        alpha, top = config.nominal_rate, int(t.max(initial=0))
        need = np.array([critical(n, config.gamma, alpha) for n in range(top + 1)])
        hit = g >= need[t]
    else:
        hit = _z(g, t, config.gamma) > config.z_threshold
    return hit & (t >= max(config.min_tokens, 1))
