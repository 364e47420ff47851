"""A verifier: keep a synthetic row when the truth the source knows scores it well enough.

The score is the true log-likelihood (Gaussian, categorical) or, for regression, minus the label's
distance to the true regression line in noise standard deviations. A row is *correct* when its score
clears the threshold; an imperfect verifier rejects a correct row with probability ``false_reject``
and accepts an incorrect one with probability ``false_accept``. For regression an oracle may first
relabel a share ``relabel`` of the rows with true labels (Feng et al. 2024).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from modelcollapse.data import Rows
from modelcollapse.registry import STAGES, Fraction
from modelcollapse.selection.base import Generation, Screened, Setting, Stage, StageConfig
from modelcollapse.sources.gaussian import GaussianTruth
from modelcollapse.sources.regression import RegressionTruth, inputs_of


def truth_score(rows: Rows, truth: Any) -> np.ndarray:
    """``(B, N)`` scores of rows under the truth: log-density, log-probability, or -|y - x w*| / noise sd."""
    if isinstance(truth, GaussianTruth):
        z = np.linalg.solve(truth.chol, (rows.cols["x"] - truth.mean)[..., None])[..., 0]
        d = truth.mean.shape[0]
        return -0.5 * ((z**2).sum(-1) + d * np.log(2 * np.pi) + truth.logdet)
    if isinstance(truth, RegressionTruth):
        return -np.abs(_residual(rows, truth)) / (truth.noise_std or 1.0)
    with np.errstate(divide="ignore"):  # a categorical truth: symbol probabilities
        return np.log(np.asarray(truth))[rows.cols["x"]]


def _residual(rows: Rows, truth: RegressionTruth) -> np.ndarray:
    return rows.cols["y"] - np.einsum("bnd,bd->bn", inputs_of(rows, truth), truth.weights)


def real_quantile(truth: Any, q: float) -> float:
    """The score below which a share ``q`` of the truth's own draws fall (its nominal false-reject rate)."""
    from scipy import stats

    if isinstance(truth, GaussianTruth):  # -2 (score + const) is chi-square with d degrees of freedom
        d = truth.mean.shape[0]
        return float(-0.5 * (stats.chi2.ppf(1 - q, d) + d * np.log(2 * np.pi) + truth.logdet))
    if isinstance(truth, RegressionTruth):  # |noise| / sd is half-normal
        return float(-stats.norm.ppf(1 - q / 2))
    p = np.sort(np.asarray(truth, float))  # the largest log p whose lighter symbols hold at most q
    below = np.cumsum(p) - p
    return float(np.log(p[below <= q + 1e-12][-1]))


class Verifier(Stage):
    def __init__(self, config: VerifierConfig) -> None:
        self.config, self.label = config, config.label

    def screen(self, rows: Rows, keep: np.ndarray, gen: Generation) -> Screened:
        c, truth = self.config, gen.world.truth
        if c.relabel:
            rows = _relabel(rows, truth, c.relabel, gen)
        score = truth_score(rows, truth)
        threshold = c.threshold if c.threshold is not None else real_quantile(truth, c.quantile)  # type: ignore[arg-type]
        u = gen.rng.random(score.shape)
        correct = score >= threshold
        passes = np.where(correct, u >= c.false_reject, u < c.false_accept)
        return Screened(rows, passes, score)


def _relabel(rows: Rows, truth: RegressionTruth, share: float, gen: Generation) -> Rows:
    """A share of rows (each with probability ``share``) get a true label: x w* plus fresh noise."""
    shape = rows.cols["y"].shape
    pick = gen.rng.random(shape) < share
    true = rows.cols["y"] - _residual(rows, truth) + truth.noise_std * gen.rng.standard_normal(shape)
    return Rows({**rows.cols, "y": np.where(pick, true, rows.cols["y"])})


@STAGES.register
class VerifierConfig(StageConfig):
    """Keep rows whose true score clears a threshold (``threshold`` in score units, or the ``quantile`` of
    real data's scores: the share of real rows a perfect verifier would reject), with error rates."""

    kind: Literal["verifier"] = "verifier"
    threshold: float | None = None
    quantile: Annotated[float, Field(ge=0.0, lt=1.0)] | None = None
    false_accept: Fraction = 0.0
    false_reject: Fraction = 0.0
    relabel: Fraction = 0.0
    sources: ClassVar[tuple[str, ...]] = ("gaussian", "linear-regression", "categorical")

    @model_validator(mode="before")
    @classmethod
    def _one_threshold(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = [k for k in ("threshold", "quantile") if data.get(k) is not None]
            if len(given) == 2:
                raise ValueError("give threshold or quantile, not both")
            if not given:
                data = {**data, "quantile": 0.05}
            if data.get("false_reject") == 1 and not data.get("false_accept"):
                raise ValueError("false_reject 1 with false_accept 0 keeps no row")
        return data

    def check(self, setting: Setting) -> None:
        super().check(setting)
        if self.relabel and setting.source.kind != "linear-regression":
            kind = setting.source.kind
            raise ValueError(f"relabel: an oracle relabels regression rows only; source.kind is {kind!r}")

    def build(self, setting: Setting) -> Verifier:
        return Verifier(self)
