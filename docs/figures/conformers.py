"""Draws conformers.png from a gerstgrasser2024-geodiff results folder (python conformers.py RESULTS_DIR):
a held-out molecule's reference conformers and the model's conformers of it, at generation 1 and at the
last generation under replace and accumulate, each aligned to the first reference (Kabsch)."""

import sys
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from modelcollapse.data import read_rows
from modelcollapse.metrics.conformers import bond_pairs
from modelcollapse.report.reproduce import available
from modelcollapse.sources.conformers import ConformerSourceConfig

MOLECULE = 1  # the held-out molecule drawn (its index among the test molecules)


def aligned(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``x`` rotated onto ``ref`` (both centred), the proper rotation of least RMSD."""
    u, _, vt = np.linalg.svd(x.T @ ref)
    u[:, 2] *= np.sign(np.linalg.det(u @ vt))
    return x @ u @ vt  # type: ignore[no-any-return]


def main(folder: Path) -> None:
    cfg = available()["gerstgrasser2024-geodiff"].experiments[0]
    truth = ConformerSourceConfig.model_validate(cfg["source"]).build().truth()
    m, per = truth.test_mols[MOLECULE], truth.eval_per_reference * truth.references.shape[1]
    n, last = int(truth.n_atoms[m]), cfg["generations"]
    refs, pairs = truth.references[m, :, :n], bond_pairs(truth.bonds[m, :n, :n])
    axes_of = np.linalg.svd(refs[0], full_matrices=False)[2][:2].T  # the reference's principal plane
    panels = [("references (RDKit ETKDG + MMFF)", np.stack([aligned(r, refs[0]) for r in refs]))]
    for wf, g in (("replace", 1), ("replace", last), ("accumulate", last)):
        path = next(folder.glob(f"generations/*/block-0000/{wf}/gen-{g:04d}/preview.parquet"))
        x = read_rows(path).cols["x"][0][MOLECULE * per : (MOLECULE + 1) * per, :n]
        panels.append((f"{wf}, generation {g}", np.stack([aligned(s, refs[0]) for s in x])))
    fig, axs = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 3.1), sharex=True, sharey=True)
    for ax, (title, confs) in zip(axs, panels):
        for c in confs:
            p = c @ axes_of
            ax.plot(*np.stack([p[pairs[:, 0]], p[pairs[:, 1]], np.full((len(pairs), 2), np.nan)], 1).reshape(-1, 2).T,
                    lw=0.8, alpha=0.6)
        ax.set_title(title, fontsize=8)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.suptitle(f"{truth.smiles[m]}: heavy atoms, bonds projected on the first reference's principal plane",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(Path(__file__).with_name("conformers.png"), dpi=130)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
