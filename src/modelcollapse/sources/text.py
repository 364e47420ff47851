"""Real human-written text, as documents of tokens.

Default corpus: Debian's ``fortunes`` (BSD licence; quotations of mixed origin), installed at set-up
(``make test`` runs ``apt-get install fortunes`` where it can) and read from /usr/share/games/fortunes:
plain files whose records are separated by lines holding ``%``. Topics of ASCII art or code are left
out. Nothing is downloaded at run time and no text is committed. Users point ``paths`` at their own
documents instead: text files, a text ``column`` of JSONL/CSV/Parquet files, or a Hugging Face
``datasets`` folder (see ``sources.documents``).

The held-out test documents come from other topics (files) than the training pool, so test text is
unseen in kind as well as in instance; a datasets folder's ``test`` (or ``validation``) split is held out.

Tokenisers: ``words`` (lower-cased words and punctuation), ``chars``, ``bpe`` (byte-level BPE learned from the
training documents), or ``hf``: a pretrained model's own tokenizer (``tokenizer_path``; see ``sources.hf_tokens``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, PositiveInt, model_validator

from modelcollapse._rng import Streams, as_streams
from modelcollapse.data import Rows
from modelcollapse.registry import SOURCES
from modelcollapse.sources import documents
from modelcollapse.sources.base import SourceConfig, World
from modelcollapse.sources.hf_tokens import HFTokens

FORTUNES = Path("/usr/share/games/fortunes")
EXCLUDED = {"art", "ascii-art", "perl", "linuxcookie", "debian", "definitions"}  # pictures, code, jargon lists
PAD, EOS, UNK = -1, 0, 1  # token ids: padding, end of document, unknown word
TOKEN = re.compile(r"[a-z0-9']+|[.,!?;:]")


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def corpus_files(paths: tuple[str, ...] = ()) -> list[Path]:
    """The documents' files of a corpus (datasets folders kept whole): the user's paths, or the installed
    fortunes topics."""
    if paths:
        files = documents.expand(paths)
    else:
        if not FORTUNES.is_dir():
            raise FileNotFoundError(
                "the fortunes corpus is not installed: run `apt-get install --no-install-recommends fortunes` "
                "(make test does), or give source.paths to your own text files"
            )
        files = [
            p
            for p in sorted(FORTUNES.iterdir())
            if p.is_file() and not p.is_symlink() and not p.suffix and p.name not in EXCLUDED
        ]
    if not files:
        raise FileNotFoundError(f"no text files in {paths or FORTUNES}")
    return files


TOKENIZERS = ("words", "bpe", "chars", "hf")


@dataclass(frozen=True)
class Corpus:
    vocab: tuple[str, ...]  # id -> token; ids 0 and 1 are </s> and <unk>
    train: tuple[np.ndarray, ...]  # documents as token ids (no padding)
    test: tuple[np.ndarray, ...]
    counts: np.ndarray  # token counts of the training pool, by id
    tokenizer: str = "words"
    train_text: frozenset[str] = frozenset()  # the training documents as text (novelty of samples)
    hf: HFTokens | None = None  # tokenizer "hf": the pretrained tokenizer and its special tokens

    def decode(self, ids: np.ndarray) -> str:
        """Token ids back to text (padding and anything from </s> on dropped)."""
        ids = np.asarray(ids)
        ids = ids[: np.argmax(ids <= EOS)] if (ids <= EOS).any() else ids
        if self.hf is not None:
            return self.hf.decode(ids)
        tokens = [self.vocab[i] for i in ids.tolist()]
        if self.tokenizer == "bpe":
            return _bpe_decoder().decode(tokens)
        return ("" if self.tokenizer == "chars" else " ").join(tokens)


def _bpe_decoder():  # type: ignore[no-untyped-def]
    from tokenizers import decoders

    return decoders.ByteLevel()


def _bpe(texts: list[str], vocab_size: int):  # type: ignore[no-untyped-def]
    """A byte-level BPE tokeniser trained on the real training documents (frozen afterwards)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return tok


def encode_corpus(
    train_texts: list[str],
    test_texts: list[str],
    vocab_size: int,
    max_tokens: int,
    tokenizer: str,
    tokenizer_path: str | None = None,
) -> Corpus:
    """Tokenise documents with a vocabulary learned from the training documents only (or, ``hf``, the
    pretrained tokenizer's own)."""
    hf = None
    if tokenizer == "hf":
        if tokenizer_path is None:
            raise ValueError("source.tokenizer_path: tokenizer hf needs the folder of a pretrained tokenizer")
        hf = HFTokens.load(tokenizer_path)
        vocab = hf.vocab()

        def encode_all(texts: list[str]) -> list[np.ndarray]:
            return [ids[:max_tokens] for ids in hf.encode(texts)]
    elif tokenizer == "bpe":
        tok = _bpe(train_texts, vocab_size)
        vocab = tuple(sorted(tok.get_vocab(), key=tok.get_vocab().__getitem__))

        def encode_all(texts: list[str]) -> list[np.ndarray]:
            return [np.array(e.ids[:max_tokens], dtype=np.int32) for e in tok.encode_batch(texts)]
    else:
        split = list if tokenizer == "chars" else tokenize
        train_tokens = [split(t)[:max_tokens] for t in train_texts]
        freq = Counter(w for d in train_tokens for w in d)
        vocab = ("</s>", "<unk>", *[w for w, _ in freq.most_common(vocab_size - 2)])
        index = {w: i for i, w in enumerate(vocab)}

        def encode_all(texts: list[str]) -> list[np.ndarray]:
            return [np.array([index.get(w, UNK) for w in split(t)[:max_tokens]], dtype=np.int32) for t in texts]

    train = tuple(d for d in encode_all(train_texts) if len(d))
    test = tuple(d for d in encode_all(test_texts) if len(d))
    counts = np.bincount(np.concatenate(train), minlength=len(vocab)).astype(float)
    return Corpus(vocab, train, test, counts, tokenizer, frozenset(train_texts), hf)


@lru_cache(maxsize=8)
def load_corpus(
    paths: tuple[str, ...],
    vocab_size: int,
    max_tokens: int,
    test_every: int,
    tokenizer: str = "words",
    column: str = "text",
    tokenizer_path: str | None = None,
) -> Corpus:
    """Documents split by file (every ``test_every``-th file is held out; a datasets folder's test split
    instead, when it has one), tokenised by ``tokenizer``."""
    docs = {label: d for f in corpus_files(paths) for label, d in documents.read(f, column).items()}
    files = list(docs)
    test_files = documents.held_out(files) or (set(files[test_every - 1 :: test_every]) if len(files) >= 2 else set())
    train = [d for f in files if f not in test_files for d in docs[f]]
    test = [d for f in files if f in test_files for d in docs[f]] or train[::10]  # in file order, not set order
    if tokenizer != "words":  # characters and BPE see the text as written, whitespace normalised
        train, test = ([" ".join(d.split()) for d in part] for part in (train, test))
    return encode_corpus(train, test, vocab_size, max_tokens, tokenizer, tokenizer_path)


def pad(docs: list[np.ndarray], length: int) -> np.ndarray:
    out = np.full((len(docs), length), PAD, dtype=np.int32)
    for i, d in enumerate(docs):
        out[i, : len(d)] = d[:length]
    return out


@dataclass(frozen=True)
class TextSource:
    """Documents of word ids, padded with -1 to ``max_tokens``: a random n-document sample of the training pool
    per replicate; the held-out documents (other files) are the same for every replicate."""

    paths: tuple[str, ...] = ()
    vocab_size: int = 5000
    max_tokens: int = 48
    test_every: int = 5
    test_documents: int = 1000
    tokenizer: str = "words"
    column: str = "text"
    tokenizer_path: str | None = None

    def corpus(self) -> Corpus:
        return load_corpus(
            self.paths,
            self.vocab_size,
            self.max_tokens,
            self.test_every,
            self.tokenizer,
            self.column,
            self.tokenizer_path,
        )

    def world(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        c = self.corpus()
        if n > len(c.train):
            raise ValueError(f"the corpus has {len(c.train)} training documents; asked for {n}")

        def draw(m: int, g: Streams, replace: bool = True) -> Rows:
            picks = [gb.choice(len(c.train), size=m, replace=replace) for gb in g]
            return Rows({"x": np.stack([pad([c.train[i] for i in p], self.max_tokens) for p in picks])})

        test = pad(list(c.test[: self.test_documents]), self.max_tokens)
        test_rows = Rows({"x": np.broadcast_to(test, (batch, *test.shape))})
        return World(draw(n, as_streams(rng, batch), replace=False), test_rows, c, draw)


@SOURCES.register
class TextSourceConfig(SourceConfig):
    """Real text as documents of tokens: Debian's fortunes by default, or ``paths`` to your own documents (text
    files, a ``column`` of JSONL/CSV/Parquet files, a saved ``datasets`` folder); ``tokenizer: hf`` uses the
    pretrained tokenizer in ``tokenizer_path`` (``vocab_size`` is then the tokenizer's)."""

    kind: Literal["text"] = "text"
    paths: list[str] = Field(default_factory=list)
    vocab_size: Annotated[int, Field(ge=10)] = 5000
    max_tokens: PositiveInt = 48
    test_every: Annotated[int, Field(ge=2)] = 5
    test_documents: PositiveInt = 500
    tokenizer: Literal["words", "bpe", "chars", "hf"] = "words"
    column: Annotated[str, Field(min_length=1, max_length=200)] = "text"
    tokenizer_path: str | None = None
    quiet_defaults: ClassVar[tuple[str, ...]] = ("column", "tokenizer_path")

    @model_validator(mode="after")
    def _tokenizer_path(self) -> TextSourceConfig:
        if (self.tokenizer == "hf") != (self.tokenizer_path is not None):
            raise ValueError("tokenizer_path: give it with tokenizer hf (the pretrained tokenizer's folder), only then")
        return self

    @property
    def row_bytes(self) -> int:
        return 4 * self.max_tokens

    def build(self) -> TextSource:
        return TextSource(
            tuple(self.paths),
            self.vocab_size,
            self.max_tokens,
            self.test_every,
            self.test_documents,
            self.tokenizer,
            self.column,
            self.tokenizer_path,
        )
