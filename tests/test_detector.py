"""The detector stage against known truths: chance AUC when synthetic rows are real ones, the optimal AUC
Phi(delta / sqrt 2) on a shifted 1-D Gaussian, TPR and FPR at the closed-form cut-off of the threshold;
sizes exact in both selection modes; a replicate's numbers independent of its batch; every claimed source
kind run; bad configs refused in one line.

Tolerances: the AUC of fixed scores on independent evaluation rows is a Mann-Whitney statistic, with
variance [A(1 - A) + (n1 - 1)(Q1 - A^2) + (n0 - 1)(Q2 - A^2)] / (n0 n1) for n1 synthetic and n0 real rows,
Q1 = P(S1 > R, S2 > R), Q2 = P(S > R1, S > R2); under the null (A = 1/2, Q1 = Q2 = 1/3) this is
(n0 + n1 + 1) / (12 n0 n1). Ties (gradient boosting's step-wise scores) only lower it.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import integrate, stats

from modelcollapse import load, simulate_experiment
from modelcollapse._rng import Streams
from modelcollapse.data import Rows
from modelcollapse.run.loading import ConfigError
from modelcollapse.selection import Generation, Selection, Setting
from modelcollapse.selection.detector import Detector, DetectorConfig
from modelcollapse.sources.gaussian import GaussianSourceConfig
from modelcollapse.sources.images import ImageSourceConfig
from modelcollapse.sources.molecules import SmilesSourceConfig

BATCH = 20  # replicates pooled by the direct tests
REAL, TRAIN_ROWS = 1000, 500  # held-out real rows and synthetic rows per replicate: 500 and 250 evaluate
N0, N1 = REAL - REAL // 2, TRAIN_ROWS - TRAIN_ROWS // 2
Sampler = Callable[[int, Streams], Rows]


def streams(batch: int, seed: int = 0) -> Streams:
    return Streams([np.random.default_rng([seed, b]) for b in range(batch)])


def gaussian_world(batch: int = BATCH) -> Any:
    """Real N(0, 1) rows: ``world.test`` holds ``REAL`` held-out rows per replicate."""
    return GaussianSourceConfig(dim=1, test_samples=REAL).build().world(batch, 10, streams(batch, seed=99))


def shifted(delta: float) -> Sampler:
    return lambda k, rng: Rows({"x": delta + rng.standard_normal((len(rng), k, 1))})


def measure(config: DetectorConfig, world: Any, sample: Sampler, source: Any = None) -> tuple[Detector, dict]:
    """The stage's ``start`` in generation 2, called directly with ``sample`` as the newest model; its real rows
    are the world's held-out rows (``real: test``: ``REAL`` of them, so ``N0`` evaluate)."""
    config = config.model_copy(update={"real": "test"})
    stage = config.build(Setting(source or GaussianSourceConfig(), None))
    rng = streams(world.train.batch)
    return stage, dict(stage.start(Generation(2, world, rng, lambda k: sample(k, rng))))


def auc_sd(a: float, q1: float, q2: float, n0: int = N0, n1: int = N1) -> float:
    """Standard deviation of a Mann-Whitney AUC (see the module's docstring)."""
    return float(np.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n0 * n1)))


@pytest.mark.parametrize(("classifier", "batch"), [("logistic", BATCH), ("boosting", 10)])
def test_identical_distributions_give_chance_auc(classifier: str, batch: int) -> None:
    world = gaussian_world(batch)
    _, got = measure(DetectorConfig(classifier=classifier), world, world.draw)
    auc = got["auc"]
    sd = np.sqrt((N0 + N1 + 1) / (12 * N0 * N1))  # 0.0224 per replicate
    assert auc.shape == (batch,) and abs(auc.mean() - 0.5) < 4 * sd / np.sqrt(batch)
    assert (abs(auc - 0.5) < 4.5 * sd).all()


def test_fresh_real_rows_are_the_sources_own_draws() -> None:
    """By default the real rows are fresh draws of the source (never the test rows the metrics read): with
    identical distributions the AUC is at chance for n0 = n1 = TRAIN_ROWS / 2 evaluation rows."""
    world = gaussian_world()
    stage = DetectorConfig().build(Setting(GaussianSourceConfig(), None))
    rng = streams(BATCH)
    auc = stage.start(Generation(2, world, rng, lambda k: world.draw(k, rng)))["auc"]
    n = TRAIN_ROWS // 2
    assert abs(auc.mean() - 0.5) < 4 * np.sqrt((2 * n + 1) / (12 * n * n)) / np.sqrt(BATCH)
    shifted_test = type(world)(world.train, Rows({"x": world.test.cols["x"] + 5.0}), world.truth, world.draw)
    moved = stage.start(Generation(2, shifted_test, streams(BATCH), lambda k: world.draw(k, rng)))["auc"]
    assert abs(moved.mean() - 0.5) < 0.1  # a far-off test set changes nothing: it is not read


@pytest.mark.parametrize("delta", [0.5, 1.0])
def test_shifted_gaussian_auc_is_the_optimal_one(delta: float) -> None:
    """Real N(0, 1), synthetic N(delta, 1): any increasing score ranks as x does, so A = Phi(delta / sqrt 2)."""
    _, got = measure(DetectorConfig(), gaussian_world(), shifted(delta))
    a = stats.norm.cdf(delta / np.sqrt(2))
    q1 = integrate.quad(lambda r: stats.norm.pdf(r) * stats.norm.cdf(delta - r) ** 2, -np.inf, np.inf)[0]
    q2 = integrate.quad(lambda s: stats.norm.pdf(s - delta) * stats.norm.cdf(s) ** 2, -np.inf, np.inf)[0]
    se = auc_sd(a, q1, q2) / np.sqrt(BATCH)
    assert abs(got["auc"].mean() - a) < 4 * se, (got["auc"].mean(), a, se)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_rates_follow_the_thresholds_cut_off(threshold: float) -> None:
    """Equal-prior P(synthetic | x) = sigmoid(delta x - delta^2 / 2) exceeds t above c = delta / 2 + logit(t) / delta:
    TPR = 1 - Phi(c - delta), FPR = 1 - Phi(c). The fitted cut-off varies by replicate: z from their spread."""
    delta = 1.0
    stage, got = measure(DetectorConfig(threshold=threshold), gaussian_world(), shifted(delta))
    c = delta / 2 + np.log(threshold / (1 - threshold)) / delta
    for name, want in (("tpr", stats.norm.sf(c - delta)), ("fpr", stats.norm.sf(c))):
        v = got[name]
        assert abs(v.mean() - want) / (v.std(ddof=1) / np.sqrt(BATCH)) < 4, (name, v.mean(), want)
    rows = shifted(delta)(2000, streams(BATCH, seed=5))  # screening keeps exactly the rows at or below threshold
    out = stage.screen(rows, np.ones((BATCH, 2000), bool), None)  # type: ignore[arg-type]
    p = np.stack([f.p_synthetic(x) for f, x in zip(stage.fitted, rows.cols["x"], strict=True)])
    np.testing.assert_array_equal(out.keep, p <= threshold)
    np.testing.assert_array_equal(out.score, 1 - p)
    kept = out.keep.mean(1)  # 1 - TPR on fresh synthetic rows
    assert abs(kept.mean() - stats.norm.cdf(c - delta)) / (kept.std(ddof=1) / np.sqrt(BATCH)) < 4


def test_threshold_one_measures_only_and_zero_flags_all() -> None:
    world = gaussian_world(4)
    for threshold, rate in ((1.0, 0.0), (0.0, 1.0)):
        stage, got = measure(DetectorConfig(threshold=threshold), world, shifted(1.0))
        assert (got["tpr"] == rate).all() and (got["fpr"] == rate).all()
        rows = shifted(1.0)(100, streams(4, seed=1))
        assert stage.screen(rows, np.ones((4, 100), bool), None).keep.all() == (threshold == 1.0)  # type: ignore[arg-type]


SHAPES = {
    "source": {"kind": "shapes", "shape": "moons", "test_samples": 400},
    "model": {"kind": "kde", "bandwidth": 0.1},
}


def experiment(setting: dict[str, Any], **fields: Any) -> Any:
    base = {
        "name": "t",
        "samples_per_generation": 100,
        "workflow": ["replace", "accumulate"],
        "generations": 4,
        "replicates": 2,
        "seed": 3,
        "metrics": [],  # the stage's own series and train_size
        "selection": [{"kind": "detector", "train_rows": 200}],
    }
    return load({**base, **setting, **fields})


def test_oversampling_keeps_the_workflows_sizes() -> None:
    plain = simulate_experiment(experiment(SHAPES, selection=[]))
    out = simulate_experiment(experiment(SHAPES))
    for wf in plain:
        np.testing.assert_array_equal(out[wf]["train_size"], plain[wf]["train_size"])  # 100, 100 | 100, 200, ...
        auc, rate = out[wf]["detector_auc"], out[wf]["detector_acceptance"]
        assert np.isnan(auc[0]).all() and ((auc[1:] > 0) & (auc[1:] < 1)).all()
        assert ((rate[1:] > 0) & (rate[1:] < 1)).all()  # it flags rows, and more batches make up for them


def test_survivors_are_exactly_the_unflagged_rows() -> None:
    world = gaussian_world(1)
    drawn: list[Rows] = []

    def sample(k: int, rng: Streams) -> Rows:
        drawn.append(shifted(1.0)(k, rng))
        return drawn[-1]

    selection = Selection.build([DetectorConfig()], "survivors", Setting(GaussianSourceConfig(), None))
    rows, values = selection.draw(sample, 300, 2, world, streams(1))
    assert [d.n for d in drawn] == [TRAIN_ROWS, 300]  # the detector's fresh rows, then the batch it screened
    stage = selection.stages[0]
    batch = drawn[1].cols["x"][0]
    p = stage.fitted[0].p_synthetic(batch)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(rows.cols["x"][0], batch[p <= 0.5])
    assert values["detector_acceptance"][0] == values["acceptance"][0] == np.mean(p <= 0.5)
    out = simulate_experiment(experiment(SHAPES, selection_mode="survivors"))["replace"]
    np.testing.assert_allclose(out["train_size"][1:], out["detector_acceptance"][1:] * 100)
    assert (out["train_size"][1:] < 100).all()


def test_a_replicates_numbers_do_not_depend_on_its_batch() -> None:
    sel = [{"kind": "detector", "classifier": "boosting", "train_rows": 100}]
    fields = {"selection": sel, "workflow": ["replace"], "generations": 3}
    three = simulate_experiment(experiment(SHAPES, replicates=3, **fields))
    five = simulate_experiment(experiment(SHAPES, replicates=5, **fields))
    for wf in three:
        for series, values in three[wf].items():
            np.testing.assert_array_equal(values, five[wf][series][:, :3], err_msg=f"{wf} {series}")


def _corpus(folder: Path) -> Path:
    """A small text corpus: 300 records of words drawn from a fixed Markov chain."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    nxt = rng.dirichlet(np.full(40, 0.2), size=40)
    records = []
    for _ in range(300):
        w = [int(rng.integers(40))]
        for _ in range(int(rng.integers(4, 14))):
            w.append(int(rng.choice(40, p=nxt[w[-1]])))
        records.append(" ".join(words[i] for i in w))
    path = folder / "corpus.txt"
    path.write_text("\n%\n".join(records))
    return path


def _smiles(folder: Path) -> Path:
    """SMILES-like strings (not chemistry: a source reads them as characters), in train.csv.gz and test.csv.gz."""
    rng = np.random.default_rng(1)
    parts = ["C", "CC", "O", "N", "c1ccccc1", "C(=O)", "Cl", "F", "CN(C)", "S(=O)(=O)"]
    for name, count in (("train", 400), ("test", 200)):
        smiles = ["".join(rng.choice(parts, size=rng.integers(3, 8))) for _ in range(count)]
        with gzip.open(folder / f"{name}.csv.gz", "wt") as f:
            f.write("SMILES\n" + "\n".join(smiles) + "\n")
    return folder


def _reversed(world: Any) -> Sampler:
    """Real documents with their characters reversed: the same unigrams, other bigrams."""

    def sample(k: int, rng: Streams) -> Rows:
        x = world.draw(k, rng).cols["x"].copy()
        for doc in x.reshape(-1, x.shape[-1]):
            n = int((doc >= 0).sum())
            doc[:n] = doc[:n][::-1]
        return Rows({"x": x})

    return sample


def _mirrored(world: Any) -> Sampler:
    """Real digits mirrored left to right (8 x 8 pixels)."""
    return lambda k, rng: Rows({"x": world.draw(k, rng).cols["x"].reshape(-1, k, 8, 8)[..., ::-1].reshape(-1, k, 64)})


def test_every_claimed_source_kind_runs(tmp_path: Path) -> None:
    ran: dict[str, float] = {}
    runs = {
        "gaussian": ({"kind": "gaussian", "dim": 2}, {"kind": "gaussian"}),
        "shapes": (SHAPES["source"], SHAPES["model"]),
        "tabular": ({"kind": "tabular", "name": "iris"}, {"kind": "gmm", "components": 2}),
        "text": (
            {"kind": "text", "paths": [str(_corpus(tmp_path))], "vocab_size": 50, "max_tokens": 16},
            {"kind": "ngram", "order": 2},
        ),
    }
    for kind, (source, model) in runs.items():  # in a run, oversampling
        out = simulate_experiment(experiment({"source": source, "model": model}, workflow=["replace"]))["replace"]
        assert (out["train_size"] == 100).all() and np.isfinite(out["detector_auc"][1:]).all(), kind
        ran[kind] = float(out["detector_auc"][1:].mean())
    for kind, config, sampler in (  # sources no light model fits: synthetic rows made from real ones
        ("images", ImageSourceConfig(test_samples=300), _mirrored),
        ("smiles", SmilesSourceConfig(path=str(_smiles(tmp_path)), test_documents=200), _reversed),
    ):
        world = config.build().world(2, 50, streams(2))
        for classifier in ("logistic", "boosting"):  # boosting reads TF-IDF weights made dense
            stage, got = measure(DetectorConfig(classifier=classifier, train_rows=200), world, sampler(world), config)
            assert stage.tfidf == (kind == "smiles")
            rows = sampler(world)(30, streams(2, seed=4))
            assert stage.screen(rows, np.ones((2, 30), bool), None).keep.shape == (2, 30)  # type: ignore[arg-type]
            ran[f"{kind} {classifier}"] = float(got["auc"].mean())
    assert {k.split()[0] for k in ran} == set(DetectorConfig.sources), "every claimed source kind is tested here"
    chance = np.sqrt((150 + 100 + 1) / (12 * 150 * 100))  # the null SD of one replicate's AUC here: 0.037
    seen = [v for k, v in ran.items() if k.startswith(("images", "smiles"))]  # mirrored digits, reversed strings
    assert len(seen) == 4 and min(seen) > 0.5 + 6 * chance, ran


def _error(setting: dict[str, Any], **fields: Any) -> str:
    with pytest.raises(ConfigError) as err:
        experiment(setting, **fields)
    return str(err.value)


def test_bad_configs_are_refused_naming_the_field() -> None:
    gauss = {"source": {"kind": "gaussian", "dim": 1}, "model": {"kind": "gaussian"}}

    def bad(**stage: Any) -> str:
        return _error(gauss, selection=[{"kind": "detector", **stage}])

    assert bad(classifier="forest") == "selection[0].classifier: 'forest' is not one of: logistic or boosting"
    assert bad(threshold=1.5) == "selection[0].threshold: 1.5 is invalid: input should be less than or equal to 1"
    assert bad(train_rows=3) == "selection[0].train_rows: 3 is invalid: input should be greater than or equal to 4"
    assert bad(features="words") == "selection[0].features: 'words' is not one of: auto, flat or tfidf"
    assert bad(features="tfidf") == (
        "selection[0]: features: tfidf reads documents of token ids (source.kind text or smiles); got 'gaussian'"
    )
    few = {"source": {"kind": "gaussian", "test_samples": 3}, "model": {"kind": "gaussian"}}
    assert _error(few, selection=[{"kind": "detector", "real": "test"}]) == (
        "selection[0]: the detector needs 4 held-out real rows or more; the source holds 3"
    )
    assert bad(real="train") == "selection[0].real: 'train' is not one of: fresh or test"
    cat = {"source": {"kind": "categorical", "categories": 5}, "model": {"kind": "categorical"}}
    assert _error(cat) == (
        "selection[0]: stage 'detector' needs source.kind in: gaussian, shapes, tabular, images, text, smiles; "
        "got 'categorical'"
    )
