"""Figures of the samples themselves across generations, read from the durable generations folder.

Each finished generation of a neural family keeps a preview of its samples (``preview.parquet``); a
figure puts one panel per (workflow, generation) side by side: a grid of images, or a scatter of 2-D
points over the held-out real ones' range.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from modelcollapse.data import read_rows
from modelcollapse.report.figures import _pyplot
from modelcollapse.report.untrusted import plain, slug


def _panels(block: Path) -> dict[str, dict[int, np.ndarray]]:
    out: dict[str, dict[int, np.ndarray]] = {}
    for wf in sorted(p for p in block.iterdir() if p.is_dir()):
        for gen in sorted(wf.glob("gen-*")):
            if (gen / "preview.parquet").exists():
                out.setdefault(wf.name, {})[int(gen.name[4:])] = read_rows(gen / "preview.parquet").cols["x"][0]
    return out


def _shown(generations: list[int], k: int = 5) -> list[int]:
    """Up to ``k`` generations, first and last included, evenly spread."""
    if len(generations) <= k:
        return generations
    return [generations[round(i * (len(generations) - 1) / (k - 1))] for i in range(k)]


def sample_figures(out: Path, keys: set[str] | None = None) -> list[Path]:
    """One figure per cell whose generations hold image or 2-D previews (replicate 0)."""
    from modelcollapse.models.neural.images import image_grid

    plt = _pyplot()
    paths = []
    root = out / "generations"
    for cell in sorted(root.iterdir()) if root.is_dir() else []:
        if keys is not None and not any(k.startswith(cell.name) for k in keys):
            continue
        panels = _panels(cell / "block-0000")
        first = next((g for wf in panels.values() for g in wf.values()), None)
        if first is None or first.ndim != 2:
            continue
        dim = first.shape[1]
        side = math.isqrt(dim)
        if dim != 2 and side * side != dim:
            continue
        gens = _shown(sorted({g for wf in panels.values() for g in wf}))
        if dim == 2:  # one frame for every panel, from generation 1's samples, so drift shows as movement
            first_gen = np.concatenate([wf[min(wf)] for wf in panels.values()])
            lo, hi = np.percentile(first_gen, [1, 99], axis=0)
            pad = 0.25 * (hi - lo)
            frame = (lo - pad, hi + pad)
        fig, axes = plt.subplots(len(panels), len(gens), figsize=(2.2 * len(gens), 2.3 * len(panels)), squeeze=False)
        for i, (wf, by_gen) in enumerate(panels.items()):
            for j, g in enumerate(gens):
                ax = axes[i, j]
                x = by_gen.get(g)
                if x is not None and dim == 2:
                    ax.scatter(x[:, 0], x[:, 1], s=3, alpha=0.6)
                    ax.set_xlim(frame[0][0], frame[1][0])
                    ax.set_ylim(frame[0][1], frame[1][1])
                elif x is not None:
                    ax.imshow(1 - np.clip(image_grid(x[:16], side, 4), 0, 1), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(plain(f"{wf}, gen {g}", 30), fontsize=8)
        path = out / "figures" / f"samples-{slug(cell.name)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths
