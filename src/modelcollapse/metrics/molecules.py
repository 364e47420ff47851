"""Metrics of generated molecules (SMILES) with RDKit: validity, uniqueness, novelty, descriptor drift.

RDKit is an optional extra (``pip install modelcollapse[molecules]``). Descriptor distributions (QED,
Crippen logP, molecular weight) of the valid samples are compared with the held-out real molecules by
the 1-D Wasserstein distance.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy.stats import wasserstein_distance

from modelcollapse.models.base import Metric
from modelcollapse.sources.base import World

DESCRIPTORS = ("qed", "logp", "weight")


def _chem():  # type: ignore[no-untyped-def]
    try:
        from rdkit import Chem, RDLogger
        from rdkit.Chem import QED, Crippen, Descriptors
    except ImportError as err:  # pragma: no cover
        raise ImportError("molecule metrics need RDKit: pip install 'modelcollapse[molecules]'") from err
    RDLogger.DisableLog("rdApp.*")
    return Chem, QED, Crippen, Descriptors


@lru_cache(maxsize=200_000)
def canonical(smiles: str) -> str | None:
    """RDKit's canonical SMILES, or None when the string is not a valid molecule."""
    chem = _chem()[0]
    mol = chem.MolFromSmiles(smiles) if smiles else None
    return None if mol is None else chem.MolToSmiles(mol)


@lru_cache(maxsize=200_000)
def descriptors(smiles: str) -> tuple[float, float, float]:
    chem, qed, crippen, desc = _chem()
    mol = chem.MolFromSmiles(smiles)
    return qed.qed(mol), crippen.MolLogP(mol), desc.MolWt(mol)


def decoded(rows: np.ndarray, world: World) -> list[str]:
    return [world.truth.decode(r) for r in rows]


def _real(world: World) -> tuple[set[str], np.ndarray]:
    """Canonical training molecules of the replicate, and descriptors of the held-out molecules (cached)."""
    if "molecules" not in world.cache:
        train = {c for s in decoded(world.train.cols["x"][0], world) if (c := canonical(s))}
        test = [c for s in decoded(world.test.cols["x"][0], world) if (c := canonical(s))]
        world.cache["molecules"] = (train, np.array([descriptors(s) for s in test]))
    return world.cache["molecules"]


def summary(samples: list[str], world: World) -> dict[str, float]:
    train, real = _real(world)
    valid = [c for s in samples if (c := canonical(s))]
    unique = set(valid)
    out = {
        "validity": len(valid) / len(samples),
        "uniqueness": len(unique) / len(valid) if valid else 0.0,
        "novelty": len(unique - train) / len(unique) if unique else 0.0,
    }
    values = np.array([descriptors(s) for s in unique]) if unique else np.empty((0, 3))
    for j, name in enumerate(DESCRIPTORS):
        out[f"{name}_w1"] = wasserstein_distance(values[:, j], real[:, j]) if len(values) else float("nan")
    return out


def _metric(name: str) -> Callable[..., np.ndarray]:
    def fn(p, w: World) -> np.ndarray:  # type: ignore[no-untyped-def]
        return np.array([summary(decoded(s, w), w)[name] for s in p.eval_samples])

    return fn


MOLECULE_METRICS = {
    "validity": Metric(_metric("validity"), "share of sampled SMILES that RDKit parses"),
    "uniqueness": Metric(_metric("uniqueness"), "distinct valid molecules / valid samples"),
    "novelty": Metric(_metric("novelty"), "distinct valid molecules not in the replicate's real training set"),
    "qed_w1": Metric(_metric("qed_w1"), "Wasserstein-1 between sample and held-out real QED"),
    "logp_w1": Metric(_metric("logp_w1"), "Wasserstein-1 between sample and held-out real Crippen logP"),
    "weight_w1": Metric(_metric("weight_w1"), "Wasserstein-1 between sample and held-out real molecular weight"),
}
