"""n-gram language models on real text (Debian fortunes, installed by `make test`)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from helpers import simulate
from modelcollapse.models.ngram import BOS, NGramModel, count_tables, distinct, rare_words
from modelcollapse.sources.text import EOS, FORTUNES, TextSource, tokenize

needs_corpus = pytest.mark.skipif(
    not FORTUNES.is_dir(), reason="Debian's fortunes corpus is not installed (make test installs it as root)"
)

DOCS = [np.array([2, 3, 4]), np.array([2, 3, 5]), np.array([3, 4])]


@pytest.mark.parametrize("smoothing", ["kneser-ney", "add-k"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_probabilities_sum_to_one(smoothing: str, order: int) -> None:
    m = NGramModel(order, 8, smoothing, 0.1, 0.75, count_tables(DOCS, [1.0] * 3, order, smoothing))
    for ctx in [(BOS,) * (order - 1), (2, 3)[-(order - 1) :] if order > 1 else (), (7, 7)[: order - 1]]:
        assert sum(m.prob(w, ctx) for w in range(8)) == pytest.approx(1.0)


@pytest.mark.parametrize("smoothing", ["kneser-ney", "add-k"])
def test_sampler_matches_probabilities(smoothing: str) -> None:
    m = NGramModel(2, 8, smoothing, 0.5, 0.75, count_tables(DOCS, [1.0] * 3, 2, smoothing))
    rng = np.random.default_rng(0)
    draws = Counter(m.draw_word((3,), rng) for _ in range(40_000))
    for w in range(8):
        p = m.prob(w, (3,))
        assert abs(draws[w] / 40_000 - p) < 4 * math.sqrt(p * (1 - p) / 40_000) + 1e-9


def test_kneser_ney_continuation_counts() -> None:
    tables = count_tables(DOCS, [1.0] * 3, 3, "kneser-ney")
    # Word 3 follows contexts (BOS, 2) twice and (BOS, BOS) once: two distinct left extensions of (2,) ... (3,)
    assert tables[2].follow[(BOS, 2)][3] == 2
    assert tables[1].follow[(2,)][3] == 1  # one distinct extension: BOS
    assert tables[0].follow[()][EOS] == 2  # </s> follows two distinct one-word contexts: (4,) and (5,)


def test_text_helpers() -> None:
    assert tokenize("Don't panic, it's 42!") == ["don't", "panic", ",", "it's", "42", "!"]
    assert distinct([np.array([1, 2, 1, 2])], 2) == pytest.approx(2 / 3)
    counts = np.array([90.0, 5, 3, 2])
    assert set(rare_words(counts).tolist()) == {1, 2, 3}


@needs_corpus
def test_fortunes_split_by_topic() -> None:
    corpus = TextSource().corpus()
    assert len(corpus.train) > 5000 and len(corpus.test) > 1000 and len(corpus.vocab) == 5000
    train = {tuple(d) for d in corpus.train}
    assert len([d for d in corpus.test if tuple(d) in train]) < 0.05 * len(corpus.test)  # other files


@needs_corpus
def test_replace_raises_cross_entropy_more_than_accumulate() -> None:
    out = simulate(
        source={"kind": "text", "test_documents": 200},
        model={"kind": "ngram", "order": 2},
        samples_per_generation=400,
        workflow=["replace", "accumulate"],
        generations=5,
        replicates=2,
        metrics=["test_nll", "mean_length"],
    )
    rep, acc = out["replace"]["test_nll"], out["accumulate"]["test_nll"]
    np.testing.assert_array_equal(rep[0], acc[0])  # the same real fit
    assert (rep[-1] > acc[-1]).all() and (acc[-1] > acc[0]).all()
    assert out["accumulate"]["train_size"][:, 0].tolist() == [400, 800, 1200, 1600, 2000]


def test_held_out_documents_do_not_depend_on_the_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The held-out set is read in file order: the same in every process whatever its hash seed (a set of
    paths once ordered it, so two runs, or two workers of one run, held out different documents)."""
    import os
    import subprocess
    import sys

    for k in range(4):  # files 0, 2, 4, 6 train (every word); 1, 3, 5, 7 are held out, one word each
        (tmp_path / f"{2 * k}").write_text("w0 w1 w2 w3\n")
        (tmp_path / f"{2 * k + 1}").write_text(f"w{k}\n")
    code = (
        "from modelcollapse.sources.text import load_corpus\n"
        f"c = load_corpus(({str(tmp_path)!r},), 50, 8, 2)\n"
        "print([[c.vocab[i] for i in d] for d in c.test])\n"
    )
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert outs == {"[['w0'], ['w1'], ['w2'], ['w3']]\n"}
