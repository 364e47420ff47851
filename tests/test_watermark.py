"""The soft watermark (Kirchenbauer et al. 2023): green lists, the z-test, the samplers, the filter stage.

Tolerances are Monte-Carlo standard errors (4 of them) or tests that reject at 1e-3; every random draw is
seeded, so each test is deterministic.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from helpers import experiment, simulate
from modelcollapse.models.ngram import BOS, NGramModel, count_tables
from modelcollapse.models.watermark import (
    GreenList,
    WatermarkConfig,
    counts,
    critical,
    flagged,
    green,
    nominal_rate,
    z_scores,
)
from modelcollapse.sources.text import FORTUNES, PAD, TextSource, pad

needs_corpus = pytest.mark.skipif(
    not FORTUNES.is_dir(), reason="Debian's fortunes corpus is not installed (make test installs it as root)"
)
MARK = WatermarkConfig()


def ngram_experiment(**fields):  # type: ignore[no-untyped-def]
    """A small watermarked bigram chain on fortunes (a 2000-word vocabulary, 100 documents a generation)."""
    base = {
        "source": {"kind": "text", "vocab_size": 2000, "test_documents": 300},
        "model": {"kind": "ngram", "order": 2, "watermark": {"delta": 4.0}},
        "samples_per_generation": 100,
        "workflow": ["replace"],
        "generations": 3,
        "replicates": 2,
        "metrics": ["mean_length"],
    }
    return base | fields


# --- green lists -------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.1, 0.25, 0.5])
def test_green_share_is_gamma(gamma: float) -> None:
    rng = np.random.default_rng(0)
    h, w = rng.integers(0, 50_000, 400_000), rng.integers(0, 50_000, 400_000)
    share = green(MARK.key, gamma, h, w).mean()
    assert abs(share - gamma) < 4 * math.sqrt(gamma * (1 - gamma) / len(h))


def test_green_list_is_keyed_and_deterministic() -> None:
    rng = np.random.default_rng(1)
    h, w = rng.integers(0, 5000, 200_000), rng.integers(0, 5000, 200_000)
    a = green(15485863, 0.25, h, w)
    assert np.array_equal(a, green(15485863, 0.25, h, w))  # a pure function of (key, gamma, h, w)
    b = green(15485864, 0.25, h, w)
    agree = (a == b).mean()  # independent lists agree on gamma^2 + (1 - gamma)^2 of the pairs
    p = 0.25**2 + 0.75**2
    assert abs(agree - p) < 4 * math.sqrt(p * (1 - p) / len(h))
    neighbour = green(15485863, 0.25, h, w + 1)  # no correlation between a token and the next id
    assert abs(np.corrcoef(a, neighbour)[0, 1]) < 4 / math.sqrt(len(h))


def test_green_rows_of_a_vocabulary() -> None:
    rows = GreenList(MARK.key, 0.25, 5000).rows(np.arange(400))
    assert rows.shape == (400, 5000)
    assert np.array_equal(rows[7], green(MARK.key, 0.25, 7, np.arange(5000)))
    sizes = rows.sum(1)  # Binomial(V, gamma): 1250 +- 30.6
    assert abs(sizes.mean() - 1250) < 4 * math.sqrt(5000 * 0.25 * 0.75 / 400)
    assert abs(sizes.std() / math.sqrt(5000 * 0.25 * 0.75) - 1) < 4 / math.sqrt(2 * 400)


# --- the z-test --------------------------------------------------------------------------------------


def test_z_of_unwatermarked_random_documents() -> None:
    """Uniform random tokens: z has mean 0 and sd 1 (up to Monte-Carlo error), and the exact test flags
    at most the nominal rate."""
    rng = np.random.default_rng(2)
    n = 4000
    x = rng.integers(1, 5000, (n, 48))
    z, t = z_scores(x, MARK)
    assert (t == 48).mean() > 0.9  # almost no repeated pair
    assert abs(z.mean()) < 4 / math.sqrt(n)
    assert abs(z.std() - 1) < 4 / math.sqrt(2 * n) + 0.01  # + the kurtosis of a 48-token binomial
    hits = int(flagged(x, MARK.model_copy(update={"z_threshold": 1.645})).sum())
    assert stats.binomtest(hits, n, nominal_rate(1.645), alternative="greater").pvalue > 1e-3


def test_padding_repeats_and_the_first_token() -> None:
    x = np.array([[5, 9, 5, 9, PAD, PAD], [PAD] * 6, [3, PAD, PAD, PAD, PAD, PAD]])
    g, t = counts(x, MARK.key, MARK.gamma)
    assert t.tolist() == [3, 0, 1]  # (</s>, 5), (5, 9), (9, 5); the repeated (5, 9) once; padding never
    expected = [int(green(MARK.key, MARK.gamma, [0, 5, 9], [5, 9, 5]).sum()), 0, int(green(MARK.key, MARK.gamma, 0, 3))]
    assert g.tolist() == expected
    z, _ = z_scores(x, MARK)
    assert z[1] == 0.0 and not flagged(x, MARK)[1]


def test_exact_test_keeps_the_nominal_rate_where_the_normal_one_does_not() -> None:
    """At every document length the exact rule flags at most 1 - Phi(z) of unwatermarked documents; the
    normal approximation z > 4 flags up to ~13 times that at 6-50 tokens (gamma = 1/4 is right-skewed)."""
    worst_normal = 0.0
    for z_threshold in (1.645, 2.326, 4.0):
        alpha = nominal_rate(z_threshold)
        for t in range(1, 200):
            k = critical(t, 0.25, alpha)
            assert stats.binom.sf(k - 1, t, 0.25) <= alpha < (stats.binom.sf(k - 2, t, 0.25) if k >= 2 else 1.0)
            ks = np.arange(t + 1)
            normal = stats.binom.pmf(ks[(ks - t / 4) / math.sqrt(t * 3 / 16) > z_threshold], t, 0.25).sum()
            worst_normal = max(worst_normal, normal / alpha)
    assert worst_normal > 5


@needs_corpus
def test_false_positive_rate_on_real_text() -> None:
    """Held-out fortunes (other topics than the training pool): the share flagged at z = 1.645 (nominal
    5%) does not exceed the nominal rate by a one-sided binomial test at 1e-3; at z = 4 none is flagged."""
    docs = pad(list(TextSource().corpus().test), 48)
    n = len(docs)
    for z_threshold in (1.645, 2.326, 4.0):
        hits = int(flagged(docs, MARK.model_copy(update={"z_threshold": z_threshold})).sum())
        assert stats.binomtest(hits, n, nominal_rate(z_threshold), alternative="greater").pvalue > 1e-3
    assert not flagged(docs, MARK).any()


# --- the n-gram sampler ------------------------------------------------------------------------------


def small_model(smoothing: str, **sampling) -> NGramModel:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    docs = [rng.integers(1, 30, rng.integers(2, 9)) for _ in range(40)]
    return NGramModel(2, 30, smoothing, 0.5, 0.75, count_tables(docs, [1.0] * len(docs), 2, smoothing), **sampling)


@pytest.mark.parametrize("smoothing", ["kneser-ney", "add-k"])
def test_full_distribution_equals_prob(smoothing: str) -> None:
    m = small_model(smoothing)
    for ctx in [(BOS,), (3,), (29,)]:
        assert np.array_equal(m.distribution(ctx), [m.prob(w, ctx) for w in range(30)])


@pytest.mark.parametrize(
    ("smoothing", "temperature"), [("kneser-ney", 1.0), ("add-k", 1.0), ("kneser-ney", 0.7), ("kneser-ney", 1.5)]
)
def test_watermarked_next_word_distribution_is_exact(smoothing: str, temperature: float) -> None:
    """Drawn words follow q(w) ∝ (p(w|h) e^{delta [w green]})^(1/T): a chi-square test does not reject."""
    mark = WatermarkConfig(delta=2.0, gamma=0.25, key=7)
    m = small_model(smoothing, watermark=mark, temperature=temperature)
    ctx, prev, n = (4,), 4, 40_000
    p = np.array([m.prob(w, ctx) for w in range(30)])
    q = (p * np.exp(mark.delta * green(mark.key, mark.gamma, prev, np.arange(30)))) ** (1 / temperature)
    q /= q.sum()
    rng = np.random.default_rng(4)
    drawn = Counter(m.draw_reweighted(ctx, prev, rng) for _ in range(n))
    observed = np.array([drawn[w] for w in range(30)])
    assert stats.chisquare(observed, q * n).pvalue > 1e-3
    assert (q * n).min() > 5  # the chi-square approximation holds
    assert not np.allclose(q, p / p.sum(), atol=0.01)  # the watermark moved the distribution


@needs_corpus
def test_watermarked_ngram_documents_are_detected() -> None:
    """A bigram on 2000 fortunes, delta 2, gamma 1/4, z 4: more than 85% of documents of >= 32 scored
    tokens are flagged (high-entropy text would reach ~97%), and no unwatermarked one is."""
    corpus = TextSource().corpus()
    docs = list(corpus.train[:2000])
    tables = count_tables(docs, [1.0] * len(docs), 2, "kneser-ney")
    marked = NGramModel(2, 5000, "kneser-ney", 0.1, 0.75, tables, watermark=MARK)
    plain = NGramModel(2, 5000, "kneser-ney", 0.1, 0.75, tables)
    rng = np.random.default_rng(5)
    a = pad([marked.generate(48, rng) for _ in range(600)], 48)
    b = pad([plain.generate(48, rng) for _ in range(600)], 48)
    z, t = z_scores(a, MARK)
    long = t >= 32
    assert long.sum() > 50
    assert flagged(a, MARK)[long].mean() > 0.85 and z[long].mean() > 5
    assert not flagged(b, MARK).any()
    green_share = counts(a, MARK.key, MARK.gamma)[0].sum() / t.sum()
    upper = 0.25 * math.e**2 / (1 + 0.25 * (math.e**2 - 1))  # the green share of a flat distribution
    assert 0.55 < green_share < upper + 0.02


@needs_corpus
def test_default_path_is_unchanged() -> None:
    """No watermark field, ``watermark: null`` and ``temperature: 1`` are one config with the same numbers."""
    fields = ngram_experiment(model={"kind": "ngram", "order": 2}, generations=2)
    same = {"kind": "ngram", "order": 2, "watermark": None, "temperature": 1.0}
    a, b = experiment(**fields), experiment(**fields | {"model": same})
    dump = {"kind": "ngram", "order": 2, "smoothing": "kneser-ney", "k": 0.1, "discount": 0.75}
    assert a.model.model_dump(mode="json") == b.model.model_dump(mode="json") == dump  # the streams' keys
    x, y = simulate(**fields), simulate(**fields | {"model": same})
    for series in x["replace"]:
        assert np.array_equal(x["replace"][series], y["replace"][series]), series
    marked = simulate(**fields | {"model": {"kind": "ngram", "order": 2, "watermark": {}}})
    assert not np.array_equal(marked["replace"]["mean_length"][1], x["replace"]["mean_length"][1])


# --- the filter stage --------------------------------------------------------------------------------


@needs_corpus
def test_filter_keeps_the_sizes_in_oversample_mode() -> None:
    """delta 4: most documents of the first synthetic generation are flagged and dropped, the sizes hold."""
    out = simulate(**ngram_experiment(selection=[{"kind": "watermark-filter", "probe": 100}]))["replace"]
    assert out["train_size"].tolist() == [[100, 100]] * 3
    assert np.isnan(out["watermark-filter_acceptance"][0]).all()  # generation 1 trains on real data
    acceptance, detected = out["watermark-filter_acceptance"][1], out["watermark-filter_detection_rate"][1]
    assert (acceptance < 0.6).all() and (detected > 0.3).all()
    assert (np.abs(detected - (1 - acceptance)) < 0.25).all()  # two estimates of one share (~4 standard errors)
    later = slice(1, None)
    assert (out["watermark-filter_false_positive_rate"][later] <= nominal_rate(4.0)).all()
    assert (out["watermark-filter_score_after"][later] > out["watermark-filter_score_before"][later]).all()
    assert (out["watermark-filter_mean_z"][later] > 2).all()
    assert np.isfinite(out["watermark-filter_quality_cost"][later]).all()


@needs_corpus
def test_filter_in_survivors_mode_and_measure_only() -> None:
    """Survivors: the training set is what passed. The filter keeps the documents too short to be flagged,
    so its chain's documents shorten faster than those of a chain that only measures (``drop: false``)."""
    stage = {"kind": "watermark-filter", "probe": 50}
    out = simulate(**ngram_experiment(selection=[stage], selection_mode="survivors"))["replace"]
    kept = out["train_size"][1:]
    assert (kept < 100).all() and (kept > 0).all()
    np.testing.assert_allclose(kept / 100, out["watermark-filter_acceptance"][1:])
    everything = simulate(**ngram_experiment(selection=[stage | {"drop": False}]))["replace"]
    assert (everything["watermark-filter_acceptance"][1:] == 1).all()
    assert (everything["watermark-filter_detection_rate"][1:] > 0.4).all()
    assert (out["mean_length"][-1] < everything["mean_length"][-1]).all()


@needs_corpus
def test_filter_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"selection\[0\]: model.watermark: stage 'watermark-filter' detects"):
        experiment(**ngram_experiment(model={"kind": "ngram"}, selection=[{"kind": "watermark-filter"}]))
    wrong_source = r"selection\[0\]: stage 'watermark-filter' needs source.kind in: text, smiles"
    with pytest.raises(ValueError, match=wrong_source):
        experiment(source={"kind": "gaussian", "dim": 1}, selection=[{"kind": "watermark-filter"}])
    # Every document with a scored token is flagged; only empty ones (about 1 in 100) would pass: seed 4
    # draws none in generation 2.
    everything = {"kind": "ngram", "order": 2, "watermark": {"z_threshold": -100.0}}
    fields = ngram_experiment(model=everything, selection=[{"kind": "watermark-filter", "probe": 10}], seed=4)
    with pytest.raises(ValueError, match="generation 2: the selection kept no synthetic row"):
        simulate(**fields | {"selection_mode": "survivors", "replicates": 1})
    monkeypatch.setattr("modelcollapse.selection.pipeline.MAX_ROUNDS", 3)
    with pytest.raises(RuntimeError, match="selection kept fewer than 100 rows per replicate in 3 batches"):
        simulate(**fields)


# --- the GPT sampler ---------------------------------------------------------------------------------


@needs_corpus
def test_gpt_samples_with_the_watermark() -> None:
    torch = pytest.importorskip("torch")
    from modelcollapse.models.neural.gpt import GPT, generate

    net = GPT(vocab=50, context=12, layers=1, heads=2, width=16).eval()
    prompt = torch.zeros(5, 1, dtype=torch.long)
    plain = generate(net, prompt, 10, torch.Generator().manual_seed(0))
    zero = generate(net, prompt, 10, torch.Generator().manual_seed(0), bias=lambda prev: torch.zeros(len(prev), 50))
    assert torch.equal(plain, zero)  # no bias, no change

    text = {"kind": "text", "vocab_size": 300, "max_tokens": 24, "test_documents": 50}
    tiny = {"kind": "gpt", "layers": 1, "heads": 2, "width": 32, "device": "cpu"}
    z, rate = {}, {}
    for name, model in (("plain", tiny), ("marked", tiny | {"watermark": {}})):
        exp = experiment(source=text, model=model, samples_per_generation=20)
        fam, world = exp.family(), exp.source.build().world(1, 20, np.random.default_rng(0))
        torch.manual_seed(0)  # an untrained network: the sampler is what is tested
        x = fam.draw(fam.new_net(world).eval(), 100, np.random.default_rng(2))
        z[name], rate[name] = z_scores(x, MARK)[0], flagged(x, MARK).mean()
    assert abs(z["plain"].mean()) < 4 / math.sqrt(100)
    assert z["marked"].mean() > 3 and rate["marked"] > rate["plain"] + 0.3
