"""Metrics of generated 3-D conformers: coverage and matching RMSD, bond geometry, MMFF energy.

Generated conformers of the held-out molecules (in the order of ``eval_molecules``: each test molecule
``eval_per_reference * K`` times) are compared with the molecule's ``K`` reference conformers (RDKit
ETKDGv3 + MMFF minima). COV-R and MAT-R follow GeoDiff (Xu et al. 2022): heavy-atom RMSD after the
optimal proper rotation (Kabsch). Bond lengths and angles are compared by the 1-D Wasserstein distance,
and RDKit's MMFF94 scores the energy of each conformer relative to the best reference. The geometry is
pure numpy; RDKit (``pip install modelcollapse[molecules]``) is needed only for the MMFF part.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.stats import wasserstein_distance

from modelcollapse.models.base import Metric
from modelcollapse.sources.base import World

MMFF_ITERS = 200  # optimisation steps in which a plausible conformer's MMFF minimisation converges


def kabsch_rmsd(p: np.ndarray, q: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """RMSD (same unit as the coordinates) of ``p`` onto ``q`` after the best translation and proper rotation.

    ``p`` and ``q`` are ``(..., A, 3)`` (leading axes broadcast); only atoms where ``mask`` ``(..., A)`` is
    true count (nan where one of them is not finite). The rotation is Kabsch's: the SVD ``U S V^T`` of the
    3x3 covariance ``P^T Q`` of the centred sets gives ``R = U diag(1, 1, d) V^T`` with
    ``d = sign det(U V^T)``, so a mirror image is not a match.

    >>> p = np.array([[0.0, 0, 0], [2, 0, 0]])
    >>> float(kabsch_rmsd(p, 2 * p @ np.array([[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]])))  # each atom 1 Å off
    1.0
    """
    p, q = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(q, dtype=float))
    w = np.ones(p.shape[:-1]) if mask is None else np.broadcast_to(np.asarray(mask, dtype=float), p.shape[:-1])
    bad = ((~np.isfinite(p) | ~np.isfinite(q)).any(-1) & (w > 0)).any(-1)
    p, q = np.where(np.isfinite(p), p, 0.0), np.where(np.isfinite(q), q, 0.0)
    n = w.sum(-1)[..., None, None]
    pc = (p - (w[..., None] * p).sum(-2, keepdims=True) / n) * w[..., None]
    qc = (q - (w[..., None] * q).sum(-2, keepdims=True) / n) * w[..., None]
    u, _, vt = np.linalg.svd(np.swapaxes(pc, -1, -2) @ qc)
    d = np.sign(np.linalg.det(u @ vt))
    u[..., :, 2] *= d[..., None]  # the sign correction: a proper rotation (det +1)
    diff = pc @ (u @ vt) - qc  # masked atoms are 0 in both
    return np.where(bad, np.nan, np.sqrt((diff**2).sum((-1, -2)) / n[..., 0, 0]))


def rmsd_matrix(generated: np.ndarray, references: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Kabsch RMSD of every generated conformer ``(G, A, 3)`` to every reference ``(R, A, 3)``: ``(R, G)``."""
    return kabsch_rmsd(generated[None], references[:, None], mask)


def coverage_matching(rmsd: np.ndarray, threshold: float) -> tuple[float, float]:
    """GeoDiff's COV-R and MAT-R of one molecule from its ``(R, G)`` RMSD matrix.

    COV-R is the share of references with some generated conformer within ``threshold`` (inclusive);
    MAT-R is the mean over references of the RMSD to the closest generated conformer. A faithful model
    gives COV-R near 1 and MAT-R near 0.

    >>> coverage_matching(np.array([[0.25, 1.0], [0.5, 0.75], [1.0, 0.75]]), 0.5)  # best: 0.25, 0.5, 0.75
    (0.6666666666666666, 0.5)
    """
    best = rmsd.min(axis=1)
    return float(np.mean(best <= threshold)), float(np.mean(best))


def bond_pairs(bonds: np.ndarray) -> np.ndarray:
    """The bonded atom pairs ``(i, j)``, ``i < j``, of a bond matrix ``(A, A)``: ``(nb, 2)``."""
    return np.argwhere(np.triu(bonds > 0, 1))


def angle_triples(bonds: np.ndarray) -> np.ndarray:
    """The bond angles ``(i, j, k)``: ``j`` bonded to ``i`` and ``k``, ``i < k``: ``(na, 3)``."""
    b = bonds > 0
    j, i, k = np.nonzero(b[:, :, None] & b[:, None, :] & np.triu(np.ones_like(b), 1)[None])
    return np.stack([i, j, k], axis=1)


def bond_lengths(x: np.ndarray, bonds: np.ndarray) -> np.ndarray:
    """Lengths of the bonds of conformers ``x`` ``(..., A, 3)`` (order of :func:`bond_pairs`): ``(..., nb)``."""
    ij = bond_pairs(bonds)
    return np.linalg.norm(x[..., ij[:, 0], :] - x[..., ij[:, 1], :], axis=-1)


def bond_angles(x: np.ndarray, bonds: np.ndarray) -> np.ndarray:
    """Bond angles i-j-k in degrees of conformers ``x`` ``(..., A, 3)`` (order of :func:`angle_triples`).

    >>> half = np.radians(104.5) / 2
    >>> water = np.array([[0.0, 0, 0], [np.sin(half), np.cos(half), 0], [-np.sin(half), np.cos(half), 0]])
    >>> bond_angles(water, np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]])).round(6)
    array([104.5])
    """
    t = angle_triples(bonds)
    a, b = x[..., t[:, 0], :] - x[..., t[:, 1], :], x[..., t[:, 2], :] - x[..., t[:, 1], :]
    with np.errstate(invalid="ignore", divide="ignore"):  # coincident atoms: nan
        cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _rdkit():  # type: ignore[no-untyped-def]
    try:
        from rdkit import Chem, RDLogger
        from rdkit.Chem import AllChem
    except ImportError as err:  # pragma: no cover
        raise ImportError("MMFF metrics need RDKit: pip install 'modelcollapse[molecules]'") from err
    RDLogger.DisableLog("rdApp.*")
    return Chem, AllChem


@lru_cache(maxsize=4096)
def _mmff_setup(smiles: str) -> tuple[Any, Any]:
    """The heavy-atom molecule and the MMFF94 properties of its explicit-hydrogen form (None: no parameters)."""
    chem, allchem = _rdkit()
    mol = chem.MolFromSmiles(smiles)
    return mol, allchem.MMFFGetMoleculeProperties(chem.AddHs(mol))


def mmff_energies(smiles: str, x: np.ndarray, hydrogens: bool) -> tuple[np.ndarray, np.ndarray]:
    """MMFF94 energy (kcal/mol) of conformers ``x`` ``(C, a, 3)`` of one molecule, and whether each minimises.

    The molecule is ``Chem.MolFromSmiles(smiles)`` in that atom order (with ``Chem.AddHs`` when ``hydrogens``);
    without hydrogens they are added at RDKit's positions for the given heavy atoms, for generated and
    reference conformers alike. Returns the single-point energies ``(C,)`` (inf where the geometry gives no
    finite energy, e.g. overlapping atoms; nan when MMFF has no parameters for the molecule) and whether
    MMFF optimisation from each converges within ``MMFF_ITERS`` steps ``(C,)``.
    """
    chem, allchem = _rdkit()
    mol, props = _mmff_setup(smiles)
    energy, converged = np.full(len(x), np.nan), np.zeros(len(x), dtype=bool)
    if props is None:
        return energy, converged
    base = chem.AddHs(mol) if hydrogens else chem.Mol(mol)
    finite = np.isfinite(x).all(axis=(1, 2))
    for c in np.asarray(x, dtype=np.float64)[finite]:
        conf = chem.Conformer(base.GetNumAtoms())
        conf.SetPositions(np.ascontiguousarray(c))
        base.AddConformer(conf, assignId=True)
    full = base if hydrogens else chem.AddHs(base, addCoords=True)
    for cid, c in enumerate(np.flatnonzero(finite)):
        ff = allchem.MMFFGetMoleculeForceField(full, props, confId=cid)
        energy[c] = ff.CalcEnergy()
        converged[c] = np.isfinite(energy[c]) and ff.Minimize(maxIts=MMFF_ITERS) == 0
    energy[~np.isfinite(energy)] = np.inf
    return energy, converged


def _w1(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    u, v = np.concatenate(a), np.concatenate(b)
    return float(wasserstein_distance(u, v)) if len(u) and len(v) and np.isfinite(u).all() else float("nan")


def _references(truth: Any, cache: dict[str, Any]) -> list[dict[str, Any]]:
    """Per test molecule: heavy mask, bond matrix, reference conformers, their bond geometry and best energy."""
    if "conformers/references" not in cache:
        out = []
        for m in truth.test_mols:
            n = int(truth.n_atoms[m])
            refs, bonds = truth.references[m, :, :n], truth.bonds[m, :n, :n]
            lengths = bond_lengths(refs, bonds)
            energy, _ = mmff_energies(truth.smiles[m], refs, truth.hydrogens)
            out.append(
                {
                    "n": n,
                    "heavy": truth.atoms[m, :n] != 1,
                    "bonds": bonds,
                    "refs": refs,
                    "lengths": lengths,
                    "angles": bond_angles(refs, bonds),
                    "mean_length": lengths.mean(axis=0),
                    "best_energy": float(np.min(energy)),
                }
            )
        cache["conformers/references"] = out
    return cache["conformers/references"]  # type: ignore[no-any-return]


def conformer_scores(truth: Any, samples: np.ndarray, cache: dict[str, Any] | None = None) -> dict[str, float]:
    """Every conformer metric of ``samples`` ``(len(eval_molecules(truth)), A, 3)``, in eval order.

    ``cache`` (e.g. ``world.cache``) keeps the reference side between calls. Keys are those of
    :data:`CONFORMER_METRICS`.
    """
    refs = _references(truth, {} if cache is None else cache)
    per = truth.eval_per_reference * truth.references.shape[1]
    if len(samples) != len(refs) * per:
        raise ValueError(f"expected {len(refs) * per} conformers (eval_molecules order), got {len(samples)}")
    samples = np.asarray(samples, dtype=float)
    samples = samples.reshape(len(refs), per, *samples.shape[1:])
    cov, mat, gl, rl, ga, ra, delta, converged, plausible = ([] for _ in range(9))
    for m, r, x in zip(truth.test_mols, refs, samples, strict=True):
        x = x[:, : r["n"]]
        rmsd = rmsd_matrix(x, r["refs"], r["heavy"])
        c, a = coverage_matching(np.where(np.isnan(rmsd), np.inf, rmsd), truth.rmsd_threshold)  # nan: no match
        cov.append(c)
        mat.append(a)
        lengths = bond_lengths(x, r["bonds"])
        gl.append(lengths.ravel())
        rl.append(r["lengths"].ravel())
        ga.append(bond_angles(x, r["bonds"]).ravel())
        ra.append(r["angles"].ravel())
        ok = np.abs(lengths - r["mean_length"]) <= truth.bond_tolerance * r["mean_length"]
        plausible.append(ok.all(axis=1))
        energy, conv = mmff_energies(truth.smiles[m], x, truth.hydrogens)
        scored = ~np.isnan(energy)  # molecules MMFF cannot parameterise do not count
        delta.append(energy[scored] - r["best_energy"])
        converged.append(conv[scored])
    delta_all, conv_all = np.concatenate(delta), np.concatenate(converged)
    return {
        "cov_r": float(np.mean(cov)),
        "mat_r": float(np.mean(mat)),
        "bond_length_w1": _w1(gl, rl),
        "bond_angle_w1": _w1(ga, ra),
        "mmff_energy": float(np.median(delta_all)) if len(delta_all) else float("nan"),
        "mmff_optimisable": float(np.mean(conv_all)) if len(conv_all) else float("nan"),
        "plausible_bonds": float(np.mean(np.concatenate(plausible))),
    }


def _scores(samples: np.ndarray, world: World) -> dict[str, float]:
    """:func:`conformer_scores` of one fitted model's samples, computed once (keyed by the array itself)."""
    done: list[tuple[np.ndarray, dict[str, float]]] = world.cache.setdefault("conformers/scores", [])
    for s, scores in done:
        if s is samples:
            return scores
    scores = conformer_scores(world.truth, samples, world.cache)
    done[:] = [*done[-3:], (samples, scores)]  # a few recent models, not every generation's samples
    return scores


def _metric(name: str) -> Callable[..., np.ndarray]:
    def fn(p, w: World) -> np.ndarray:  # type: ignore[no-untyped-def]
        return np.array([_scores(s, w)[name] for s in p.eval_samples])

    return fn


CONFORMER_METRICS = {
    "cov_r": Metric(
        _metric("cov_r"),
        "COV-R: share of reference conformers with a generated one within rmsd_threshold Å heavy-atom RMSD, "
        "averaged over held-out molecules (near 1 if faithful)",
    ),
    "mat_r": Metric(
        _metric("mat_r"),
        "MAT-R: mean heavy-atom RMSD (Å) from each reference conformer to the closest generated one, "
        "averaged over held-out molecules (near 0 if faithful)",
    ),
    "bond_length_w1": Metric(
        _metric("bond_length_w1"),
        "Wasserstein-1 (Å) between generated and reference bond lengths, pooled (0 if faithful)",
    ),
    "bond_angle_w1": Metric(
        _metric("bond_angle_w1"),
        "Wasserstein-1 (degrees) between generated and reference bond angles, pooled (0 if faithful)",
    ),
    "mmff_energy": Metric(
        _metric("mmff_energy"),
        "median MMFF94 energy (kcal/mol) of a generated conformer above its molecule's lowest reference "
        "(near 0 if faithful; the references are MMFF minima)",
    ),
    "mmff_optimisable": Metric(
        _metric("mmff_optimisable"),
        f"share of generated conformers whose MMFF optimisation converges in {MMFF_ITERS} steps (1 if faithful)",
    ),
    "plausible_bonds": Metric(
        _metric("plausible_bonds"),
        "share of generated conformers with every bond within bond_tolerance (relative) of its mean reference "
        "length (1 if faithful)",
    ),
}
