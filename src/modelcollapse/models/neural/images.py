"""The variance of model samples that are real-valued rows (pixels of images, points in the plane), and image grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelcollapse.models.base import Metric
from modelcollapse.models.rowbased import Fitted
from modelcollapse.sources.base import World


def _variance_ratio(p: Fitted, w: World) -> np.ndarray:
    real = w.test.cols["x"][0].var(axis=0).sum()
    return np.array([s.var(axis=0).sum() / real for s in p.eval_samples])


VARIANCE = {
    "variance_ratio": Metric(
        _variance_ratio, "total (per-pixel) variance of model samples / of held-out real data (1 if faithful)"
    )
}


def image_grid(images: np.ndarray, side: int, columns: int = 8) -> np.ndarray:
    """Flattened square images (k, side*side) tiled into one picture, a 1-pixel gap between tiles."""
    k = len(images)
    rows = -(-k // columns)
    grid = np.zeros((rows * (side + 1) - 1, columns * (side + 1) - 1))  # blank (white once inverted)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * (side + 1) : r * (side + 1) + side, c * (side + 1) : c * (side + 1) + side] = img.reshape(side, side)
    return grid


def save_grid(images: np.ndarray, side: int, path: Path) -> None:
    import matplotlib.image

    matplotlib.image.imsave(path, 1.0 - np.clip(image_grid(images, side), 0, 1), cmap="gray", vmin=0, vmax=1)
