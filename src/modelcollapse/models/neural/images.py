"""Metrics of model samples that are real-valued rows (pixels of images, points in the plane)."""

from __future__ import annotations

import numpy as np

from modelcollapse.models.base import Metric
from modelcollapse.models.rowbased import SAMPLE_METRICS, Fitted
from modelcollapse.sources.base import World


def _variance_ratio(p: Fitted, w: World) -> np.ndarray:
    real = w.test.cols["x"][0].var(axis=0).sum()
    return np.array([s.var(axis=0).sum() / real for s in p.eval_samples])


VARIANCE = {
    "variance_ratio": Metric(
        _variance_ratio, "total (per-pixel) variance of model samples / of held-out real data (1 if faithful)"
    )
}
ROW_METRICS = VARIANCE | SAMPLE_METRICS
IMAGE_METRICS = VARIANCE | {k: v for k, v in SAMPLE_METRICS.items() if k != "tail_mass_q95"}
IMAGE_METRICS["mode_share_tv"] = Metric(
    SAMPLE_METRICS["mode_share_tv"].fn,
    "class balance: TV distance between the class shares of samples (labelled by a 1-NN classifier on "
    "held-out real images) and of real images",
)
