"""Real human-written text, as documents of word tokens.

Default corpus: Debian's ``fortunes`` (BSD licence; quotations of mixed origin), installed at set-up
(``make test`` runs ``apt-get install fortunes`` where it can) and read from /usr/share/games/fortunes:
plain files whose records are separated by lines holding ``%``. Topics of ASCII art or code are left
out. Nothing is downloaded at run time and no text is committed. Users point ``paths`` at their own
text files instead (records separated by ``%`` lines or blank lines).

The held-out test documents come from other topics (files) than the training pool, so test text is
unseen in kind as well as in instance.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from modelcollapse.data import Rows
from modelcollapse.sources.base import World

FORTUNES = Path("/usr/share/games/fortunes")
EXCLUDED = {"art", "ascii-art", "perl", "linuxcookie", "debian", "definitions"}  # pictures, code, jargon lists
PAD, EOS, UNK = -1, 0, 1  # token ids: padding, end of document, unknown word
TOKEN = re.compile(r"[a-z0-9']+|[.,!?;:]")


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def read_records(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    parts = re.split(r"^%\s*$", text, flags=re.M) if re.search(r"^%\s*$", text, flags=re.M) else text.split("\n\n")
    return [p.strip() for p in parts if p.strip()]


def corpus_files(paths: tuple[str, ...] = ()) -> list[Path]:
    """The text files of a corpus: the user's paths, or the installed fortunes topics."""
    if paths:
        files = [p for q in map(Path, paths) for p in (sorted(q.iterdir()) if q.is_dir() else [q]) if p.is_file()]
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


@dataclass(frozen=True)
class Corpus:
    vocab: tuple[str, ...]  # id -> word; ids 0 and 1 are </s> and <unk>
    train: tuple[np.ndarray, ...]  # documents as token ids (no padding)
    test: tuple[np.ndarray, ...]
    counts: np.ndarray  # token counts of the training pool, by id


@lru_cache(maxsize=8)
def load_corpus(paths: tuple[str, ...], vocab_size: int, max_tokens: int, test_every: int) -> Corpus:
    """Tokenised documents split by file (every ``test_every``-th file is held out); top words as vocabulary."""
    files = corpus_files(paths)
    docs = {f: [tokenize(r)[:max_tokens] for r in read_records(f)] for f in files}
    test_files = set(files[test_every - 1 :: test_every]) if len(files) >= 2 else set()
    train_docs = [d for f in files if f not in test_files for d in docs[f] if d]
    test_docs = [d for f in test_files for d in docs[f] if d] or train_docs[::10]
    freq = Counter(w for d in train_docs for w in d)
    words = ("</s>", "<unk>", *[w for w, _ in freq.most_common(vocab_size - 2)])
    index = {w: i for i, w in enumerate(words)}

    def ids(d: list[str]) -> np.ndarray:
        return np.array([index.get(w, UNK) for w in d], dtype=np.int32)

    train, test = tuple(ids(d) for d in train_docs), tuple(ids(d) for d in test_docs)
    counts = np.bincount(np.concatenate(train), minlength=len(words)).astype(float)
    return Corpus(words, train, test, counts)


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

    def corpus(self) -> Corpus:
        return load_corpus(self.paths, self.vocab_size, self.max_tokens, self.test_every)

    def world(self, batch: int, n: int, rng: np.random.Generator) -> World:
        c = self.corpus()
        if n > len(c.train):
            raise ValueError(f"the corpus has {len(c.train)} training documents; asked for {n}")

        def draw(m: int, g: np.random.Generator, replace: bool = True) -> Rows:
            picks = [g.choice(len(c.train), size=m, replace=replace) for _ in range(batch)]
            return Rows({"x": np.stack([pad([c.train[i] for i in p], self.max_tokens) for p in picks])})

        test = pad(list(c.test[: self.test_documents]), self.max_tokens)
        world = World(draw(n, rng, replace=False), Rows({"x": np.broadcast_to(test, (batch, *test.shape))}), c, draw)
        return world
