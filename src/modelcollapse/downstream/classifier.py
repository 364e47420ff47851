"""A classifier trained on every generation's training set: fairness feedback loops (Wyllie et al. 2024).

Each generation a classifier is fitted to the rows the generative model is fitted to (their ``x`` and
``target``) and scored on held-out real rows, per group: accuracy, and the demographic-parity and
equalised-odds differences of fairlearn. Synthetic rows carry no true class: the previous generation's
classifier labels them, so its errors on a group feed the next one's data (model-induced distribution
shift). Generation 1 trains on real rows only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from modelcollapse._rng import Streams, child_seed
from modelcollapse.data import Part
from modelcollapse.models.rowbased import one_thread
from modelcollapse.registry import DOWNSTREAM, Config
from modelcollapse.sources.base import World


def classifier_series(names: Sequence[str]) -> list[str]:
    """The values measured every generation, for groups ``names``."""
    groups = [f"clf_accuracy_{n}" for n in names]
    return ["clf_accuracy", *groups, "clf_accuracy_gap", "clf_dp_difference", "clf_eo_difference"]


class Classifiers:
    """One fitted classifier per replicate of a block."""

    def __init__(self, models: list[Any]) -> None:
        self.models = models

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(B, n)`` predicted classes of rows ``x`` (B, n, ...) (one OpenMP thread, as they were fitted)."""
        with one_thread():
            return np.stack([m.predict(xb.reshape(len(xb), -1)) for m, xb in zip(self.models, x, strict=True)])


@DOWNSTREAM.register
class ClassifierConfig(Config):
    """A classifier of ``target`` from ``x``: ``logistic`` regression or histogram gradient ``boosting``."""

    kind: Literal["classifier"] = "classifier"
    model: Literal["logistic", "boosting"] = "logistic"

    def series(self, names: Sequence[str]) -> list[str]:
        return classifier_series(names)

    def fit(self, parts: Sequence[Part], rng: Streams) -> Classifiers:
        """Classifiers of the training set ``parts`` (rows with ``x`` and ``target``; weights honoured).

        Boosting runs on one OpenMP thread (:func:`~modelcollapse.models.rowbased.one_thread`).
        """
        from sklearn.ensemble import HistGradientBoostingClassifier

        models = []
        with one_thread():
            for b, g in enumerate(rng):
                x = np.concatenate([p.data.cols["x"][b].reshape(p.data.n, -1) for p in parts])
                y = np.concatenate([p.data.cols["target"][b] for p in parts])
                w = np.concatenate([np.full(p.data.n, p.weight) for p in parts])
                models.append(self._one(x, y, w, child_seed(g, bits=31), HistGradientBoostingClassifier))
        return Classifiers(models)

    def _one(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int, boosting: Any) -> Any:
        from sklearn.dummy import DummyClassifier
        from sklearn.linear_model import LogisticRegression

        if len(np.unique(y)) < 2:  # one class left in the data: it is all a classifier can say
            return DummyClassifier(strategy="most_frequent").fit(x, y)
        if self.model == "logistic":
            return LogisticRegression(max_iter=1000).fit(x, y, sample_weight=w)
        return boosting(max_iter=100, random_state=seed).fit(x, y, sample_weight=w)

    def measure(self, clf: Classifiers, world: World) -> dict[str, np.ndarray]:
        """Accuracy overall and per group, and the fairness gaps, on the held-out real rows."""
        from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

        assert world.groups is not None
        test = world.test.cols
        pred, y, g = clf.predict(test["x"]), test["target"], test["group"]
        out = {"clf_accuracy": (pred == y).mean(axis=1)}
        per_group = []
        for i, name in enumerate(world.groups.names):
            inside = g == i
            with np.errstate(invalid="ignore", divide="ignore"):
                per_group.append(((pred == y) & inside).sum(axis=1) / inside.sum(axis=1))
            out[f"clf_accuracy_{name}"] = per_group[-1]
        out["clf_accuracy_gap"] = np.nanmax(per_group, axis=0) - np.nanmin(per_group, axis=0)
        binary = set(np.unique(y)) <= {0, 1}
        dp, eo = np.full(len(y), np.nan), np.full(len(y), np.nan)
        for b in range(len(y)) if binary else ():
            dp[b] = demographic_parity_difference(y[b], pred[b], sensitive_features=g[b])
            eo[b] = equalized_odds_difference(y[b], pred[b], sensitive_features=g[b])
        return out | {"clf_dp_difference": dp, "clf_eo_difference": eo}
