"""The conformer reproduction's overview: what the model's conformers match, generation by generation, against
what RDKit's own embeddings and an untrained model of the same family match.

The baselines are scored exactly as a generation's samples are (same held-out molecules, as many conformers
per molecule, :func:`~modelcollapse.metrics.conformers.conformer_scores`), so a reader sees whether the first
generation learned something before judging its collapse; they are written to ``baselines.csv``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelcollapse.metrics.conformers import conformer_scores
from modelcollapse.report.untrusted import plain
from modelcollapse.sources.base import World
from modelcollapse.sources.conformers import ConformerTruth, embed, eval_molecules

BASELINES = {
    "dg": "RDKit random embedding (distance geometry)",
    "etkdg-mmff": "RDKit ETKDG + MMFF (the references' method)",
}
SHOWN = ("mat_r", "cov_r", "plausible_bonds", "mmff_energy")


def rdkit_conformers(truth: ConformerTruth, method: str, seed: int = 0) -> np.ndarray:
    """RDKit conformers of the held-out molecules in evaluation order (seeds other than the references')."""
    per = truth.eval_per_reference * truth.references.shape[1]
    x = np.zeros((len(eval_molecules(truth)), *truth.references.shape[2:]))
    for j, m in enumerate(truth.test_mols):
        x[j * per : (j + 1) * per, : truth.n_atoms[m]] = embed(truth.smiles[m], per, 10_000 + seed + j, method)  # type: ignore[arg-type]
    return x


def untrained_conformers(exp: Any, world: World, seed: int = 0) -> np.ndarray:
    """Samples of the family's network at its initialisation, in evaluation order."""
    from modelcollapse.models.neural._torch import seeded  # lazy: PyTorch is an optional extra

    family = exp.family()
    with seeded(np.random.default_rng(seed)):
        net = family.new_net(world).to(family.torch_device).eval()
    return family.fitted(net, seed, {}, world).eval_samples[0]  # type: ignore[no-any-return]


def baselines(exp: Any) -> pd.DataFrame:
    """One row per baseline: its scores on the experiment's held-out molecules."""
    world = exp.source.build().world(1, exp.samples_per_generation, np.random.default_rng(0))
    truth = world.truth
    rows = {label: conformer_scores(truth, rdkit_conformers(truth, method)) for method, label in BASELINES.items()}
    rows["untrained model"] = conformer_scores(truth, untrained_conformers(exp, world))
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("baseline").reset_index()


def overview(all_cells: list[Any], stats: pd.DataFrame, path: Path, plt: Any) -> None:
    """MAT-R, COV-R, plausible bonds and MMFF energy against generation per workflow, the RDKit baselines as
    horizontal lines; ``baselines.csv`` beside the figures folder."""
    cell = all_cells[0]
    table = baselines(cell.exp)
    table.to_csv(path.parent.parent / "baselines.csv", index=False)
    fig, axes = plt.subplots(1, len(SHOWN), figsize=(3.3 * len(SHOWN), 3.2))
    for ax, metric in zip(axes, SHOWN, strict=True):
        for wf in cell.exp.workflow:
            s = stats[(stats.config_hash == cell.key) & (stats.metric == metric) & (stats.workflow == wf.label)]
            ax.errorbar(s.generation, s["mean"], yerr=2 * s["se"], fmt="o-", ms=3, lw=1, label=plain(wf.label))
        for (_, row), style in zip(table.iloc[:2].iterrows(), (":", "--"), strict=True):
            ax.axhline(row[metric], color="k", ls=style, lw=0.8, label=row["baseline"])
        ax.set(xlabel="generation", title=metric, yscale="symlog" if metric == "mmff_energy" else "linear")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)
