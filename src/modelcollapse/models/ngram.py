"""n-gram language models (unigram to 4-gram): add-k, or interpolated Kneser-Ney.

Documents are rows of word ids padded with -1 (see ``sources.text``); each ends with ``</s>`` (id 0).
Kneser-Ney: p(w|h) = max(c(h w) - D, 0) / c(h) + D N1+(h .) / c(h) p(w|h'), with continuation counts at
the lower orders and a uniform floor under the unigrams, so every word has positive probability.
Sampling follows the same mixture (keep a discounted observed continuation, or back off), so it is exact.

With a ``watermark`` or a ``temperature`` other than 1 the sampler draws from the next-word distribution
reweighted ``q(w) ∝ (p(w | h) e^{delta [w green after the previous word]})^(1 / temperature)`` (see
``models.watermark``), exactly: at temperature 1 part by part from the mixture ``p = a base + observed
continuations`` (:meth:`NGramModel.draw_reweighted`), otherwise by inversion of the full distribution over
the vocabulary (:meth:`NGramModel.distribution`, equal to ``prob`` word for word). A model keeps the
pieces it computed for the contexts it met. Without either, sampling is the mixture above, unchanged.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

import numpy as np
from pydantic import Field, PositiveInt

from modelcollapse._rng import Streams
from modelcollapse.data import Part
from modelcollapse.models.base import FamilyConfig, Metric
from modelcollapse.models.discrete import biased
from modelcollapse.models.rowbased import Fitted, RowFamily
from modelcollapse.models.watermark import GreenList, WatermarkConfig
from modelcollapse.registry import MODELS, Positive
from modelcollapse.sources.base import World
from modelcollapse.sources.text import EOS, PAD, pad

BOS = -2  # context padding before the first word; never predicted
EVAL_DOCS = 200
CONTEXT_CACHE = 50_000  # reweighted mixtures a model keeps (small: a context's observed words)
DENSE_CACHE = 256  # full reweighted distributions (V floats each) a model keeps, at a temperature other than 1


@dataclass
class Table:
    """Counts of the words that follow each context of one length."""

    follow: dict[tuple[int, ...], dict[int, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float))
    )

    @cached_property
    def stats(self) -> dict[tuple[int, ...], tuple[float, int, np.ndarray, np.ndarray]]:
        """context -> (total count, distinct continuations, words, counts)."""
        out = {}
        for ctx, c in self.follow.items():
            words = np.fromiter(c.keys(), dtype=np.int64, count=len(c))
            counts = np.fromiter(c.values(), dtype=float, count=len(c))
            out[ctx] = (float(counts.sum()), len(c), words, counts)
        return out


class _Piece(NamedTuple):
    """The reweighted next-word distribution of one (context, previous word): masses ``head`` (the base,
    of which ``green`` is green words) and ``total``; the observed words and their cumulative masses
    (from ``head``); the green mask."""

    head: float
    total: float
    green: float
    words: list[int]
    rest: list[float]
    row: np.ndarray


@dataclass
class NGramModel:
    order: int
    vocab: int
    smoothing: str
    k: float
    discount: float
    tables: list[Table]  # tables[j]: contexts of length j
    watermark: WatermarkConfig | None = None
    temperature: float = 1.0
    green: GreenList | None = None  # the watermark's green rows (shared by the models of a family)
    top_k: int | None = None
    top_p: float | None = None

    @property
    def truncated(self) -> bool:
        """True when sampling keeps only the top k words (fewer than the vocabulary) or a nucleus."""
        return (self.top_k is not None and self.top_k < self.vocab) or (self.top_p is not None and self.top_p < 1)

    @property
    def reweighted(self) -> bool:
        """True when sampling reweights the next-word distribution (a watermark, a temperature other than 1,
        or a truncation to the top k words or the nucleus)."""
        return self.watermark is not None or self.temperature != 1.0 or self.truncated

    def prob(self, w: int, ctx: tuple[int, ...]) -> float:
        if self.smoothing == "add-k":
            st = self.tables[len(ctx)].stats.get(ctx)
            c = self.tables[len(ctx)].follow[ctx].get(w, 0.0) if st else 0.0
            return (c + self.k) / ((st[0] if st else 0.0) + self.k * self.vocab)
        return self._kn(w, ctx)

    def _kn(self, w: int, ctx: tuple[int, ...]) -> float:
        st = self.tables[len(ctx)].stats.get(ctx)
        lower = self._kn(w, ctx[1:]) if ctx else 1.0 / self.vocab
        if st is None:
            return lower
        total, distinct = st[0], st[1]
        c = self.tables[len(ctx)].follow[ctx].get(w, 0.0)
        return max(c - self.discount, 0.0) / total + self.discount * distinct / total * lower

    def distribution(self, ctx: tuple[int, ...]) -> np.ndarray:
        """p(w | ctx) for every word ``(V,)``: :meth:`prob` of each word, computed at once."""
        if self.smoothing == "add-k":
            st = self.tables[len(ctx)].stats.get(ctx)
            if st is None:
                return np.full(self.vocab, 1.0 / self.vocab)
            total, _, words, counts = st
            p = np.full(self.vocab, self.k / (total + self.k * self.vocab))
            p[words] = (counts + self.k) / (total + self.k * self.vocab)
            return p
        p = np.full(self.vocab, 1.0 / self.vocab)
        for j in range(len(ctx) + 1):  # the shortest context first: each level interpolates the one below
            st = self.tables[j].stats.get(ctx[len(ctx) - j :])
            if st is not None:
                total, distinct, words, counts = st
                p *= self.discount * distinct / total
                p[words] += np.maximum(counts - self.discount, 0.0) / total
        return p

    @cached_property
    def base(self) -> np.ndarray:
        """The context-free distribution ``(V,)`` every context backs off to: the unigram level (add-k: uniform)."""
        return np.full(self.vocab, 1.0 / self.vocab) if self.smoothing == "add-k" else self.distribution(())

    def mixture(self, ctx: tuple[int, ...]) -> tuple[float, np.ndarray, np.ndarray]:
        """p(. | ctx) = a base + the rest: ``a`` and the rest's words and weights (a word listed twice adds up)."""
        empty = np.zeros(0)
        if self.smoothing == "add-k":
            st = self.tables[len(ctx)].stats.get(ctx)
            if st is None:
                return 1.0, empty.astype(np.int64), empty
            norm = st[0] + self.k * self.vocab
            return self.k * self.vocab / norm, st[2], st[3] / norm
        a, words, weights = 1.0, [], []
        for j in range(len(ctx), 0, -1):  # the longest context first; level 0 is the base
            st = self.tables[j].stats.get(ctx[len(ctx) - j :])
            if st is not None:
                total, distinct, w, counts = st
                words.append(w)
                weights.append(a * np.maximum(counts - self.discount, 0.0) / total)
                a *= self.discount * distinct / total
        if not words:
            return a, empty.astype(np.int64), empty
        return a, np.concatenate(words), np.concatenate(weights)

    def draw_reweighted(self, ctx: tuple[int, ...], prev: int, rng: np.random.Generator) -> int:
        """One word of ``q(w) ∝ (p(w | ctx) e^{delta [w green after prev]})^(1 / temperature)``.

        At temperature 1, ``q`` is the mixture ``p = a base + rest`` reweighted part by part: the rest (the
        context's observed words) by inversion, the base by choosing green or red by their reweighted
        masses and drawing base words until one of that colour comes (exact, a few draws). Otherwise by
        inversion of the full reweighted distribution.
        """
        if self.temperature != 1.0 or self.truncated:
            cum = self._cached((ctx, prev), lambda: np.cumsum(self._tempered(ctx, prev)), "_dense", DENSE_CACHE)
            return min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), self.vocab - 1)
        piece: _Piece = self._cached((ctx, prev), lambda: self._piece(ctx, prev))
        u = rng.random() * piece.total
        if u >= piece.head and piece.words:
            return piece.words[min(bisect_right(piece.rest, u), len(piece.words) - 1)]
        colour = u < piece.green  # green, or red, by their reweighted shares of the base
        cum, row = self._base_cumsum, piece.row
        while True:
            w = min(bisect_right(cum, rng.random() * cum[-1]), self.vocab - 1)
            if row[w] == colour:
                return w

    def _piece(self, ctx: tuple[int, ...], prev: int) -> _Piece:
        """The reweighted mixture of one (context, previous word), ready to draw from."""
        a, words, weights = self.mixture(ctx)
        lift = math.exp(self.watermark.delta) if self.watermark is not None else 1.0
        row = self._green_row(prev)
        base_green = self._cached(("green", prev), lambda: float(self.base @ row))
        green = a * lift * base_green  # the reweighted base mass of green words
        head = green + a * (self._base_cumsum[-1] - base_green)
        rest = head + np.cumsum(weights * np.where(row[words], lift, 1.0))
        return _Piece(head, float(rest[-1]) if len(rest) else head, green, words.tolist(), rest.tolist(), row)

    @cached_property
    def _base_cumsum(self) -> list[float]:
        return np.cumsum(self.base).tolist()

    def _green_row(self, prev: int) -> np.ndarray:
        """The green mask ``(V,)`` after ``prev`` (all red without a watermark)."""
        mark = self.watermark
        if mark is None:
            return np.zeros(self.vocab, bool)
        if self.green is None:
            self.green = GreenList(mark.key, mark.gamma, self.vocab)
        return self.green.row(prev)

    def _tempered(self, ctx: tuple[int, ...], prev: int) -> np.ndarray:
        lift = self.watermark.delta if self.watermark is not None else 0.0
        logits = np.log(self.distribution(ctx)) + lift * self._green_row(prev)
        q = np.exp((logits - logits.max()) / self.temperature)
        return biased(q[None] / q.sum(), 1.0, self.top_k, self.top_p)[0] if self.truncated else q

    def _cached(
        self, key: tuple[Any, ...], make: Callable[[], Any], store: str = "_pieces", limit: int = CONTEXT_CACHE
    ) -> Any:
        """A per-model cache of the reweighted sampler's pieces (cleared when it holds ``limit``)."""
        cache = self.__dict__.setdefault(store, {})
        got = cache.get(key)
        if got is None:
            if len(cache) >= limit:
                cache.clear()
            got = cache[key] = make()
        return got

    def draw_word(self, ctx: tuple[int, ...], rng: np.random.Generator) -> int:
        while True:
            st = self.tables[len(ctx)].stats.get(ctx)
            if st is not None:
                total, _, words, counts = st
                if self.smoothing == "add-k":
                    if rng.random() * (total + self.k * self.vocab) < total:
                        return int(words[np.searchsorted(np.cumsum(counts), rng.random() * total, side="right")])
                    return int(rng.integers(self.vocab))
                kept = counts - self.discount
                if rng.random() * total < kept.sum():
                    return int(words[np.searchsorted(np.cumsum(kept), rng.random() * kept.sum(), side="right")])
            elif self.smoothing == "add-k":
                return int(rng.integers(self.vocab))
            if not ctx:
                return int(rng.integers(self.vocab))
            ctx = ctx[1:]

    def generate(self, max_tokens: int, rng: np.random.Generator) -> np.ndarray:
        """One document: its words, without ``</s>``."""
        if self.reweighted:
            return self._generate_reweighted(max_tokens, rng)
        ctx: tuple[int, ...] = (BOS,) * (self.order - 1)
        out: list[int] = []
        while len(out) < max_tokens:
            w = self.draw_word(ctx, rng)
            if w == EOS:
                break
            out.append(w)
            ctx = (*ctx, w)[1:] if self.order > 1 else ()
        return np.array(out, dtype=np.int32)

    def _generate_reweighted(self, max_tokens: int, rng: np.random.Generator) -> np.ndarray:
        ctx: tuple[int, ...] = (BOS,) * (self.order - 1)
        out: list[int] = []
        prev = EOS  # the watermark's previous token of the first word: the document boundary
        while len(out) < max_tokens:
            w = self.draw_reweighted(ctx, prev, rng)
            if w == EOS:
                break
            out.append(w)
            prev = w
            ctx = (*ctx, w)[1:] if self.order > 1 else ()
        return np.array(out, dtype=np.int32)


def count_tables(docs: Sequence[np.ndarray], weights: Sequence[float], order: int, smoothing: str) -> list[Table]:
    """Highest-order counts; Kneser-Ney lower orders count distinct left extensions (continuation counts)."""
    top = Table()
    for doc, wgt in zip(docs, weights, strict=True):
        seq = [BOS] * (order - 1) + [int(t) for t in doc] + [EOS]
        for i in range(order - 1, len(seq)):
            top.follow[tuple(seq[i - order + 1 : i])][seq[i]] += wgt
    tables = [Table() for _ in range(order)]
    tables[order - 1] = top
    if smoothing == "kneser-ney":
        for j in range(order - 2, -1, -1):
            for ctx, c in tables[j + 1].follow.items():
                for w in c:
                    tables[j].follow[ctx[1:]][w] += 1.0
    return tables


@dataclass
class NGramFamily(RowFamily):
    """n-gram LM over a frozen vocabulary; ``smoothing`` in {add-k, kneser-ney}."""

    config: NGramModelConfig
    vocab: int
    max_tokens: int
    block = 4
    sample_metrics = None  # its samples are token documents: TEXT_METRICS measure them

    def __post_init__(self) -> None:
        self.metrics = TEXT_METRICS
        mark = self.config.watermark
        self.green = GreenList(mark.key, mark.gamma, self.vocab) if mark is not None else None

    def fit(self, parts: Sequence[Part], world: World, rng: Streams, previous: Any = None) -> Fitted:
        cfg, models = self.config, []
        for b in range(parts[0].data.batch):
            docs, weights = [], []
            for p in parts:
                for row in p.data.cols["x"][b]:
                    docs.append(row[row != PAD])
                    weights.append(p.weight)
            tables = count_tables(docs, weights, cfg.order, cfg.smoothing)
            model = NGramModel(cfg.order, self.vocab, cfg.smoothing, cfg.k, cfg.discount, tables)
            models.append(self.sampler(model))
        return Fitted(models, self.draw, rng.child_seeds())

    def sampler(self, model: NGramModel) -> NGramModel:
        """``model`` with this family's sampling settings (watermark, temperature, truncation)."""
        cfg = self.config
        if cfg.watermark is not None or cfg.temperature != 1.0:
            model.watermark, model.temperature, model.green = cfg.watermark, cfg.temperature, self.green
        model.top_k, model.top_p = cfg.top_k, cfg.top_p
        return model

    def draw(self, model: NGramModel, n: int, rng: np.random.Generator) -> np.ndarray:  # type: ignore[override]
        return pad([model.generate(self.max_tokens, rng) for _ in range(n)], self.max_tokens)


def _docs(rows: np.ndarray) -> list[np.ndarray]:
    return [r[r != PAD] for r in rows]


def token_nll(model: NGramModel, docs: Sequence[np.ndarray], length: int | None = None) -> float:
    """Mean negative log-likelihood per token (nats) of ``docs`` under ``model``, ``</s>`` counted after each
    document (after those shorter than ``length`` only, when a sampler cut documents at ``length`` words)."""
    total, tokens = 0.0, 0
    for doc in docs:
        ctx: tuple[int, ...] = (BOS,) * (model.order - 1)
        for tok in [*doc.tolist(), *([EOS] if length is None or len(doc) < length else [])]:
            total -= math.log(model.prob(tok, ctx))
            tokens += 1
            ctx = (*ctx, tok)[1:] if model.order > 1 else ()
    return total / max(tokens, 1)


def _test_nll(p: Fitted, w: World) -> np.ndarray:
    """Mean negative log-likelihood per token (nats) of the held-out documents, </s> included."""
    test = _docs(w.test.cols["x"][0])
    return np.array([token_nll(m, test) for m in p.models])


def _per_sample(fn: Callable[..., float]) -> Callable[[Fitted, World], np.ndarray]:
    def metric(p: Fitted, w: World) -> np.ndarray:
        corpus = w.truth
        real = _docs(w.test.cols["x"][0][:EVAL_DOCS])
        return np.array([fn(_docs(s), real, corpus) for s in p.eval_samples])

    return metric


def distinct(docs: list[np.ndarray], n: int) -> float:
    """Distinct n-grams over all n-grams of the samples (diversity)."""
    grams = [tuple(d[i : i + n]) for d in docs for i in range(len(d) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def unigram_entropy(docs: list[np.ndarray]) -> float:
    tokens = np.concatenate(docs) if docs else np.array([], int)
    if not len(tokens):
        return 0.0
    p = np.bincount(tokens) / len(tokens)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def rare_words(counts: np.ndarray, mass: float = 0.9) -> np.ndarray:
    """Word ids beyond the ``mass`` most frequent share of real tokens (the real tail)."""
    order = np.argsort(-counts)
    cum = np.cumsum(counts[order]) / counts.sum()
    return order[cum > mass]


def _rare_share(docs, real, corpus) -> float:  # type: ignore[no-untyped-def]
    tokens = np.concatenate(docs) if docs else np.array([], int)
    rare = np.isin(tokens, rare_words(corpus.counts))
    return float(rare.mean()) if len(tokens) else 0.0


TEXT_METRICS = {
    "test_nll": Metric(_test_nll, "cross-entropy of held-out real text (nats per token); perplexity = exp"),
    "distinct_1": Metric(_per_sample(lambda s, r, c: distinct(s, 1)), "distinct unigrams / unigrams in samples"),
    "distinct_2": Metric(_per_sample(lambda s, r, c: distinct(s, 2)), "distinct bigrams / bigrams in samples"),
    "unigram_entropy": Metric(_per_sample(lambda s, r, c: unigram_entropy(s)), "entropy of sample word frequencies"),
    "vocab_kept": Metric(
        _per_sample(
            lambda s, r, c: len(set(np.concatenate(s).tolist())) / max(1, len(set(np.concatenate(r).tolist())))
        ),
        "word types in samples / in as many real documents",
    ),
    "mean_length": Metric(_per_sample(lambda s, r, c: float(np.mean([len(d) for d in s]))), "mean sample length"),
    "rare_token_share": Metric(
        _per_sample(_rare_share), "share of sample tokens among the real tail words (~0.1 real)"
    ),
}


@MODELS.register
class NGramModelConfig(FamilyConfig):
    """n-gram language model (order 1-4) with add-k or interpolated Kneser-Ney smoothing.

    Sampling: ``watermark`` (a soft watermark, see ``models.watermark``) and ``temperature`` reweight the
    next-word distribution, then ``top_k`` and ``top_p`` truncate it as a decoder does (see
    ``models.discrete.biased``). At their defaults (none, 1, none, none) they are left out of the config's
    dump, so a config that does not use them keeps its identity and its random streams (keyed by the dump).
    """

    kind: Literal["ngram"] = "ngram"
    order: Annotated[int, Field(ge=1, le=4)] = 3
    smoothing: Literal["kneser-ney", "add-k"] = "kneser-ney"
    k: Positive = 0.1
    discount: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.75
    watermark: WatermarkConfig | None = None
    temperature: Positive = 1.0
    top_k: PositiveInt | None = None
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    sources: ClassVar[tuple[str, ...]] = ("text",)
    quiet_defaults: ClassVar[tuple[str, ...]] = ("watermark", "temperature", "top_k", "top_p")

    def build(self, source: Any) -> NGramFamily:
        return NGramFamily(self, source.vocab_size, source.max_tokens)
