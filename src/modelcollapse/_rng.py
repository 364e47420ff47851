"""Explicit random streams: every stream is a pure function of (seed, key, replicate).

No global state is touched. Each replicate draws from its own stream, so its numbers do not depend on
how many replicates a run asks for, on which of them are computed together (a block is only a batch
axis), nor on which worker runs it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np

RUN_VALUES = 1024  # values per replicate a buffered draw takes ahead (draws of more than 1/8 of it are direct)
# Draws with parameters that are drawn ahead: those whose parameters repeat every generation (a Bartlett
# factor's chi-squares). A subsample's integers change bound as the pool grows: ahead, they would be waste.
RUN_METHODS = ("chisquare",)
STREAMS = "one per replicate"  # how a replicate's numbers are drawn; a results folder records it


def stable_hash(obj: Any) -> str:
    """Hex digest of a JSON-serialisable object, independent of dict order."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stream(seed: int, key: str, replicate: int) -> np.random.Generator:
    """The generator of one replicate, keyed by a hash string."""
    words = tuple(int(key[i : i + 8], 16) for i in range(0, len(key), 8))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(*words, replicate)))


def child_seed(rng: np.random.Generator, bits: int = 63) -> int:
    """A seed drawn from ``rng`` for a library that takes an integer (numpy, torch, scikit-learn).

    Every family and source derives its child seeds here. ``bits=31`` for scikit-learn and other APIs
    whose ``random_state`` must fit in 32 bits; 63 otherwise (a non-negative int64).
    """
    return int(rng.integers(2**bits - 1))


class Streams:
    """One random stream per replicate, drawn together: the leading axis of every draw is the replicate.

    ``streams.standard_normal((B, n, d))`` gives replicate ``b`` the next ``n * d`` normals of its own
    generator, so a replicate's numbers do not depend on which other replicates are drawn with it (nor
    on how many). Parameters broadcast against ``size`` as in :class:`numpy.random.Generator`; indexing
    gives one replicate's generator (``streams[b]``) or a sub-batch (``streams[mask]``).

    ``buffered`` streams draw small, repeated draws (normals, uniforms and chi-squares of the same
    parameters and shape, generation after generation) ahead, a run of them per replicate at a time,
    and hand them out in order: a numpy call per replicate per generation would cost more than the
    draws. Each replicate still reads only its own stream, and every replicate refills at the same
    call, so the numbers depend on neither the block nor the batch; they are not those of unbuffered
    streams. Durable chains, which save the generator's state to resume, use unbuffered streams.

    >>> three = Streams.keyed(seed=0, key="00ff00ff", first=0, count=3)
    >>> last_two = Streams.keyed(seed=0, key="00ff00ff", first=1, count=2)
    >>> bool((three.standard_normal((3, 2))[1:] == last_two.standard_normal((2, 2))).all())
    True
    """

    def __init__(self, generators: Sequence[np.random.Generator], buffered: bool = False) -> None:
        self._gens = list(generators)
        self._buffered = buffered
        self._runs: dict[Any, list[Any]] = {}  # draw key -> [values (B, count, *shape), next index]

    @classmethod
    def keyed(cls, seed: int, key: str, first: int, count: int, buffered: bool = False) -> Streams:
        """The streams of replicates ``first .. first + count - 1`` of the stream family ``(seed, key)``."""
        return cls([stream(seed, key, r) for r in range(first, first + count)], buffered)

    def __len__(self) -> int:
        return len(self._gens)

    def __iter__(self) -> Iterator[np.random.Generator]:
        return iter(self._gens)

    @overload
    def __getitem__(self, b: int) -> np.random.Generator: ...
    @overload
    def __getitem__(self, b: slice | np.ndarray) -> Streams: ...
    def __getitem__(self, b: int | slice | np.ndarray) -> np.random.Generator | Streams:
        if isinstance(b, (int, np.integer)):
            return self._gens[b]
        if isinstance(b, slice):  # a sub-batch draws unbuffered: its runs would not be the batch's
            return Streams(self._gens[b])
        idx = np.flatnonzero(b) if np.asarray(b).dtype == bool else np.asarray(b)
        return Streams([self._gens[i] for i in idx])

    def _shape(self, size: Any, *params: Any) -> tuple[int, ...]:
        if size is None:
            shape = np.broadcast_shapes(*(np.shape(p) for p in params))
        elif isinstance(size, tuple):
            shape = tuple(int(s) for s in size)
        else:
            shape = tuple(map(int, np.atleast_1d(size)))
        if not shape or shape[0] != len(self):
            raise ValueError(f"a draw's leading axis is the replicate ({len(self)}), got shape {shape}")
        return shape

    def _draw(self, method: str, size: Any, *params: Any) -> np.ndarray:
        shape = self._shape(size, *params)
        # A parameter of lower rank than the draw broadcasts within each replicate as it is; one of full
        # rank varies along the replicate axis too, and each replicate takes its own slice.
        per = [np.ndim(p) == len(shape) for p in params]
        if self._buffered and method in RUN_METHODS and not any(per) and math.prod(shape[1:]) <= RUN_VALUES // 8:
            return self._from_run(method, shape[1:], params)
        params = tuple(np.broadcast_to(p, shape) if v else p for p, v in zip(params, per, strict=True))
        out: np.ndarray | None = None
        for b, g in enumerate(self._gens):
            v = getattr(g, method)(*(p[b] if v else p for p, v in zip(params, per, strict=True)), size=shape[1:])
            if out is None:
                out = np.empty(shape, np.asarray(v).dtype)
            out[b] = v
        assert out is not None
        return out

    def standard_normal(self, size: Any) -> np.ndarray:
        return self._fill("standard_normal", size)

    def random(self, size: Any) -> np.ndarray:
        return self._fill("random", size)

    def _from_run(self, method: str, shape: tuple[int, ...], params: tuple[Any, ...]) -> np.ndarray:
        """The next draw of ``shape`` per replicate from a run of such draws drawn ahead."""
        key = (method, shape, tuple((np.shape(p), np.asarray(p, float).tobytes()) for p in params))
        run = self._runs.get(key)
        if run is None or run[1] == run[0].shape[1]:
            count = max(1, RUN_VALUES // max(1, math.prod(shape)))
            values = np.stack([getattr(g, method)(*params, size=(count, *shape)) for g in self._gens])
            run = self._runs[key] = [values, 0]
        run[1] += 1
        return run[0][:, run[1] - 1]

    def _fill(self, method: str, size: Any) -> np.ndarray:
        """A draw without parameters, written in place (the hot path of the analytic families)."""
        shape = self._shape(size)
        if self._buffered and math.prod(shape[1:]) <= RUN_VALUES // 8:
            return self._from_run(method, shape[1:], ())
        out = np.empty(shape)
        if out.ndim == 1:
            for b, g in enumerate(self._gens):
                out[b] = getattr(g, method)()
        else:
            for b, g in enumerate(self._gens):
                getattr(g, method)(out=out[b])
        return out

    def integers(self, low: Any, high: Any = None, size: Any = None) -> np.ndarray:
        if high is None:
            low, high = 0, low
        return self._draw("integers", size, low, high)

    def chisquare(self, df: Any, size: Any = None) -> np.ndarray:
        return self._draw("chisquare", size, df)

    def poisson(self, lam: Any, size: Any = None) -> np.ndarray:
        return self._draw("poisson", size, lam)

    def binomial(self, n: Any, p: Any, size: Any = None) -> np.ndarray:
        return self._draw("binomial", size, n, p)

    def multinomial(self, n: Any, pvals: np.ndarray) -> np.ndarray:
        """Counts ``(B, k)`` of ``n`` draws (per replicate, or one ``n`` for all) over ``pvals`` ``(B, k)``."""
        ns = np.broadcast_to(n, (len(self),))
        return np.stack([g.multinomial(int(m), p) for g, m, p in zip(self._gens, ns, pvals, strict=True)])

    def permuted(self, x: np.ndarray, axis: int = 1) -> np.ndarray:
        """Each replicate's slice ``x[b]`` shuffled along ``axis`` (an axis of ``x``, >= 1)."""
        if axis < 1:
            raise ValueError("Streams.permuted shuffles within a replicate: axis >= 1")
        return np.stack([g.permuted(xb, axis=axis - 1) for g, xb in zip(self._gens, x, strict=True)])

    def child_seeds(self, bits: int = 63) -> list[int]:
        """One seed per replicate for a library that takes an integer (see :func:`child_seed`)."""
        return [child_seed(g, bits) for g in self._gens]

    def spawn(self, n: int) -> list[Streams]:
        children = [g.spawn(n) for g in self._gens]
        return [Streams([c[i] for c in children]) for i in range(n)]


def offshoot(streams: Streams, *key: int) -> Streams:
    """Streams keyed by ``key`` under each replicate's own: drawing from them leaves the replicate's
    stream as it was, and they are a pure function of (its stream's seed, ``key``), never of a counter,
    so a chain resumed from a saved state draws the same ones."""
    out = []
    for g in streams:
        seq = g.bit_generator.seed_seq
        assert isinstance(seq, np.random.SeedSequence)
        out.append(np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, *key))))
    return Streams(out)


def held_out(streams: Streams) -> Streams:
    """The streams of a block's held-out rows: children of ``streams``, so that drawing them (or not, when
    no metric reads them) changes nothing else."""
    return Streams([g.spawn(1)[0] for g in streams], buffered=False)


def as_streams(rng: Streams | np.random.Generator, batch: int) -> Streams:
    """``rng`` as one stream per replicate: a :class:`Streams` as it is, a generator split into ``batch``."""
    if isinstance(rng, Streams):
        if len(rng) != batch:
            raise ValueError(f"{len(rng)} streams for a batch of {batch} replicates")
        return rng
    return Streams(rng.spawn(batch))
