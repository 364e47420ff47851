"""A trained detector of synthetic rows: every generation a scikit-learn classifier learns to tell real
rows from fresh samples of the newest model, and the synthetic rows it flags are discarded.

Each generation, for each replicate and from that replicate's stream only, ``train_rows`` fresh synthetic
rows and as many fresh real rows (``real: fresh``, the source's own draw; ``real: test`` reads the
held-out rows instead) are each split at random into a training half and an evaluation half. The
classifier (logistic regression, or histogram gradient boosting) is fitted on the training halves, and
its log-odds are corrected to equal class priors (less log(n_synthetic / n_real)), so that P(synthetic)
weighs the two classes equally whatever their sizes; the evaluation halves give the
recorded ``tpr`` (synthetic rows flagged), ``fpr`` (real rows flagged) and ``auc``. A screened row is
flagged when P(synthetic) > ``threshold``; its score is P(real) (higher: looks more real).

Features: rows of numbers are flattened; documents of token ids (text, SMILES) become TF-IDF weights of
their id unigrams and bigrams, learned on the training half.

With ``real: test`` the real rows are those the test metrics read too, so a filtering detector carries
information about them into the loop (docs/detector.md measures how much); the default keeps them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from modelcollapse._rng import child_seed
from modelcollapse.data import Rows
from modelcollapse.models.rowbased import one_thread
from modelcollapse.registry import STAGES, Fraction
from modelcollapse.selection.base import Generation, Screened, Setting, Stage, StageConfig

NUMERIC = ("gaussian", "shapes", "tabular", "images")  # rows x of numbers: flattened
DOCUMENTS = ("text", "smiles")  # rows x of token ids padded with -1: TF-IDF of id n-grams
MIN_ROWS = 4  # per class: two to train on, two to evaluate
MAX_TERMS = 2048  # TF-IDF keeps the most frequent id n-grams of the training half


def documents(x: np.ndarray) -> list[str]:
    """Rows of token ids padded with -1 as text: each row's ids, padding dropped, joined by spaces."""
    return [" ".join(map(str, row[row >= 0].tolist())) for row in x]


def flat(x: np.ndarray) -> np.ndarray:
    """Rows ``(n, ...)`` of numbers as a ``(n, d)`` float matrix."""
    return x.reshape(len(x), -1).astype(float)


def _dense(m: Any) -> np.ndarray:
    """A sparse matrix as a dense one (gradient boosting reads dense input only)."""
    return np.asarray(m.toarray())


def halves(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``x`` shuffled by ``rng`` and cut into a training half (``n // 2`` rows) and an evaluation half."""
    order = rng.permutation(len(x))
    cut = len(x) // 2
    return x[order[:cut]], x[order[cut:]]


def rates(p_real: np.ndarray, p_synthetic: np.ndarray, threshold: float) -> dict[str, float]:
    """TPR, FPR and AUC of P(synthetic) on real and synthetic evaluation rows (synthetic: the positive class)."""
    from sklearn.metrics import roc_auc_score

    labels = np.r_[np.zeros(len(p_real)), np.ones(len(p_synthetic))]
    return {
        "tpr": float(np.mean(p_synthetic > threshold)),
        "fpr": float(np.mean(p_real > threshold)),
        "auc": float(roc_auc_score(labels, np.r_[p_real, p_synthetic])),
    }


@dataclass(frozen=True)
class Fitted:
    """One replicate's fitted pipeline, and the log prior ratio log(n_synthetic / n_real) it was fitted with."""

    model: Any
    prior: float
    tfidf: bool

    def p_synthetic(self, x: np.ndarray) -> np.ndarray:
        """P(synthetic) of rows ``x`` at equal class priors: the pipeline's log-odds less the log prior ratio."""
        from scipy.special import expit

        features = documents(x) if self.tfidf else flat(x)
        return np.asarray(expit(self.model.decision_function(features) - self.prior))


class Detector(Stage):
    """One chain's detector: a classifier per replicate, refitted at every :meth:`start`."""

    def __init__(self, config: DetectorConfig, tfidf: bool) -> None:
        self.config, self.label, self.tfidf = config, config.label, tfidf
        self.fitted: list[Fitted] = []  # the current generation's classifiers, one per replicate

    def start(self, gen: Generation) -> dict[str, np.ndarray]:
        synthetic = gen.sample(self.config.train_rows).cols["x"]
        fresh = self.config.real == "fresh"
        real = (gen.world.draw(self.config.train_rows, gen.rng) if fresh else gen.world.test).cols["x"]
        if real.shape[1] < MIN_ROWS:
            raise ValueError(
                f"the detector needs {MIN_ROWS} held-out real rows or more; the source holds {real.shape[1]}"
            )
        with one_thread():
            out = [self._fit(real[b], synthetic[b], g) for b, g in enumerate(gen.rng)]
        self.fitted = [fitted for fitted, _ in out]
        return {name: np.array([values[name] for _, values in out]) for name in self.config.records}

    def _fit(
        self, real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator
    ) -> tuple[Fitted, dict[str, float]]:
        """One replicate's classifier, fitted on training halves, and its rates on the evaluation halves."""
        (real_fit, real_eval), (synth_fit, synth_eval) = halves(real, rng), halves(synthetic, rng)
        model = self.config.pipeline(child_seed(rng, bits=31), self.tfidf)
        x = np.concatenate([real_fit, synth_fit])
        model.fit(documents(x) if self.tfidf else flat(x), np.r_[np.zeros(len(real_fit)), np.ones(len(synth_fit))])
        fitted = Fitted(model, float(np.log(len(synth_fit) / len(real_fit))), self.tfidf)
        return fitted, rates(fitted.p_synthetic(real_eval), fitted.p_synthetic(synth_eval), self.config.threshold)

    def screen(self, rows: Rows, keep: np.ndarray, gen: Generation) -> Screened:
        x = rows.cols["x"]
        with one_thread():
            p = np.stack([f.p_synthetic(xb) for f, xb in zip(self.fitted, x, strict=True)])
        return Screened(rows, keep & (p <= self.config.threshold), 1.0 - p)


@STAGES.register
class DetectorConfig(StageConfig):
    """Discard synthetic rows that a classifier, trained every generation to tell real rows from fresh
    synthetic ones, gives P(synthetic) > ``threshold``; record its TPR, FPR and AUC."""

    kind: Literal["detector"] = "detector"
    classifier: Literal["logistic", "boosting"] = "logistic"
    threshold: Fraction = 0.5  # 1.0: flag nothing (measure only)
    train_rows: Annotated[int, Field(ge=MIN_ROWS, le=1_000_000)] = 500  # synthetic rows drawn to train and evaluate
    features: Literal["auto", "flat", "tfidf"] = "auto"  # auto: tfidf for documents, flat otherwise
    real: Literal["fresh", "test"] = "fresh"  # real rows: fresh draws of the source, or the held-out test rows
    sources: ClassVar[tuple[str, ...]] = (*NUMERIC, *DOCUMENTS)
    records: ClassVar[tuple[str, ...]] = ("tpr", "fpr", "auc")

    def check(self, setting: Setting) -> None:
        super().check(setting)
        source = setting.source
        if self.features == "tfidf" and source.kind not in DOCUMENTS:
            raise ValueError(
                f"features: tfidf reads documents of token ids (source.kind text or smiles); got {source.kind!r}"
            )
        held = getattr(source, "test_samples", None) or getattr(source, "test_documents", None)
        if self.real == "test" and held is not None and held < MIN_ROWS:
            raise ValueError(f"the detector needs {MIN_ROWS} held-out real rows or more; the source holds {held}")

    def uses_tfidf(self, source_kind: str | None) -> bool:
        """Whether rows of a source of this kind are read as documents."""
        return self.features == "tfidf" or (self.features == "auto" and source_kind in DOCUMENTS)

    def pipeline(self, seed: int, tfidf: bool) -> Any:
        """An unfitted scikit-learn pipeline: features (TF-IDF, or standardised numbers) then the classifier."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer, StandardScaler

        boosting = self.classifier == "boosting"
        steps: list[Any] = []
        if tfidf:
            steps.append(
                TfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2), max_features=MAX_TERMS)
            )
            if boosting:
                steps.append(FunctionTransformer(_dense, accept_sparse=True))
        elif not boosting:
            steps.append(StandardScaler())
        if boosting:
            steps.append(HistGradientBoostingClassifier(random_state=seed))
        else:
            steps.append(LogisticRegression(max_iter=1000, random_state=seed))
        return make_pipeline(*steps)

    def build(self, setting: Setting) -> Detector:
        return Detector(self, self.uses_tfidf(getattr(setting.source, "kind", None)))
