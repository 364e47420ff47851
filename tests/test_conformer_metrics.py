"""Conformer metrics: Kabsch RMSD, COV-R/MAT-R, bond geometry, MMFF energies and the metric table."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from modelcollapse.metrics.conformers import (
    CONFORMER_METRICS,
    angle_triples,
    bond_angles,
    bond_lengths,
    bond_pairs,
    conformer_scores,
    coverage_matching,
    kabsch_rmsd,
    mmff_energies,
    rmsd_matrix,
)
from modelcollapse.metrics.sets import metric_set

ELEMENTS = ("H", "C", "N", "O", "F", "P", "S", "Cl", "Br", "I")
SMILES = ("c1ccccc1", "CC(=O)Nc1ccc(O)cc1", "CCOC(=O)C", "OCC(N)C(=O)O")  # molecule 0 is a training one


def _rdkit():  # type: ignore[no-untyped-def]
    chem = pytest.importorskip("rdkit.Chem")
    from rdkit.Chem import AllChem

    return chem, AllChem


def _embed(smiles: str, k: int, hydrogens: bool) -> np.ndarray:
    """K ETKDGv3 + MMFF conformers (centred), heavy atoms first as in Chem.AddHs."""
    chem, allchem = _rdkit()
    mol = chem.AddHs(chem.MolFromSmiles(smiles))
    params = allchem.ETKDGv3()
    params.randomSeed = 7
    cids = list(allchem.EmbedMultipleConfs(mol, k, params))
    allchem.MMFFOptimizeMoleculeConfs(mol, numThreads=1, maxIters=2000)
    n = mol.GetNumAtoms() if hydrogens else chem.MolFromSmiles(smiles).GetNumAtoms()
    x = np.array([mol.GetConformer(c).GetPositions()[:n] for c in cids])
    return x - x.mean(axis=1, keepdims=True)


def _truth(hydrogens: bool = False, k: int = 3, per: int = 2) -> SimpleNamespace:
    chem, _ = _rdkit()
    mols = [chem.MolFromSmiles(s) for s in SMILES]
    mols = [chem.AddHs(m) for m in mols] if hydrogens else mols
    m, a = len(mols), max(mol.GetNumAtoms() for mol in mols)
    atoms, bonds = np.zeros((m, a), np.int64), np.zeros((m, a, a), np.int64)
    references, n_atoms = np.zeros((m, k, a, 3)), np.zeros(m, np.int64)
    order = {chem.BondType.SINGLE: 1, chem.BondType.DOUBLE: 2, chem.BondType.TRIPLE: 3, chem.BondType.AROMATIC: 4}
    for i, (s, mol) in enumerate(zip(SMILES, mols, strict=True)):
        n = n_atoms[i] = mol.GetNumAtoms()
        atoms[i, :n] = [ELEMENTS.index(at.GetSymbol()) + 1 for at in mol.GetAtoms()]
        for b in mol.GetBonds():
            bonds[i, b.GetBeginAtomIdx(), b.GetEndAtomIdx()] = bonds[i, b.GetEndAtomIdx(), b.GetBeginAtomIdx()] = order[
                b.GetBondType()
            ]
        references[i, :, :n] = _embed(s, k, hydrogens)
    return SimpleNamespace(
        smiles=SMILES,
        atoms=atoms,
        bonds=bonds,
        n_atoms=n_atoms,
        train_mols=np.array([0]),
        test_mols=np.array([1, 2, 3]),
        references=references,
        hydrogens=hydrogens,
        rmsd_threshold=0.5,
        bond_tolerance=0.1,
        eval_per_reference=per,
        has_modes=False,
    )


@pytest.fixture(scope="module")
def truth() -> SimpleNamespace:
    return _truth()


def _copies(truth: SimpleNamespace) -> np.ndarray:
    """The references of each test molecule, eval_per_reference times each, in eval_molecules order."""
    return np.concatenate([np.tile(truth.references[m], (truth.eval_per_reference, 1, 1)) for m in truth.test_mols])


# ---- Kabsch RMSD


def test_kabsch_rotation_and_translation_is_zero() -> None:
    p = np.random.default_rng(0).normal(size=(9, 3))
    q = p @ Rotation.random(random_state=1).as_matrix().T + [3.0, -1.0, 2.0]
    assert float(kabsch_rmsd(p, q)) == pytest.approx(0.0, abs=1e-10)
    assert float(kabsch_rmsd(q, p)) == pytest.approx(0.0, abs=1e-10)


def test_kabsch_mirror_image_is_not_a_match() -> None:
    p = np.array([[0.0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3]])  # chiral: no proper rotation maps it to its mirror
    mirror = p * [-1.0, 1, 1]
    assert float(kabsch_rmsd(p, mirror)) > 0.5
    assert float(kabsch_rmsd(p, mirror @ Rotation.random(random_state=2).as_matrix().T)) == pytest.approx(
        float(kabsch_rmsd(p, mirror)), abs=1e-10
    )


@pytest.mark.parametrize(
    "p, q, ref",
    [
        ([[0.0, 0, 0], [2, 0, 0]], [[5.0, 5, 5], [5, 9, 5]], 1.0),  # centred ±1 vs ±2 on a line: 1 Å each
        (
            [[1.0, 1, 0], [1, -1, 0], [-1, -1, 0], [-1, 1, 0]],
            [[0.0, 2, 2], [0, 2, -2], [0, -2, -2], [0, -2, 2]],
            2**0.5,
        ),
        ([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]], [[1.0, 0, 0], [-1, 0, 0], [0, 0, 0], [0, 0, 0]], 0.5**0.5),
    ],
)
def test_kabsch_known_cases(p: list, q: list, ref: float) -> None:
    # a square vs the square twice as big (turned): each corner sqrt(2) off; a cross whose y-arm collapsed:
    # the two y atoms are 1 Å off each, the x atoms fit: sqrt(2/4)
    assert float(kabsch_rmsd(np.array(p), np.array(q))) == pytest.approx(ref, abs=1e-12)


def test_kabsch_is_batched_and_masked() -> None:
    rng = np.random.default_rng(3)
    p, q = rng.normal(size=(2, 1, 6, 3)), rng.normal(size=(1, 4, 6, 3))
    got = kabsch_rmsd(p, q)
    assert got.shape == (2, 4)
    assert got[1, 2] == pytest.approx(float(kabsch_rmsd(p[1, 0], q[0, 2])), abs=1e-12)
    padded = lambda x: np.concatenate([x, rng.normal(size=(*x.shape[:-2], 3, 3)) * 50], axis=-2)
    mask = np.arange(9) < 6
    np.testing.assert_allclose(kabsch_rmsd(padded(p), padded(q), mask), got, atol=1e-12)
    assert np.isnan(kabsch_rmsd(np.full((6, 3), np.nan), q[0, 0]))


def test_kabsch_agrees_with_rdkit() -> None:
    chem, allchem = _rdkit()
    from rdkit.Chem import rdMolAlign

    mol = chem.AddHs(chem.MolFromSmiles("CC(C)Cc1ccc(cc1)C(C)C(=O)O"))
    allchem.EmbedMultipleConfs(mol, 2, randomSeed=11)
    mol = chem.RemoveHs(mol)
    rdkit_rmsd, _ = rdMolAlign.GetAlignmentTransform(mol, mol, prbCid=1, refCid=0)  # no symmetry
    x = [mol.GetConformer(c).GetPositions() for c in (1, 0)]
    assert float(kabsch_rmsd(x[0], x[1])) == pytest.approx(rdkit_rmsd, abs=1e-6)
    assert rdkit_rmsd > 0.1


def test_rmsd_matrix_orientation() -> None:
    rng = np.random.default_rng(4)
    gen, ref = rng.normal(size=(5, 7, 3)), rng.normal(size=(3, 7, 3))
    m = rmsd_matrix(gen, ref)
    assert m.shape == (3, 5)
    assert m[2, 4] == pytest.approx(float(kabsch_rmsd(gen[4], ref[2])), abs=1e-12)


# ---- COV-R / MAT-R


def test_coverage_matching_identical_sets() -> None:
    x = np.random.default_rng(5).normal(size=(4, 8, 3))
    cov, mat = coverage_matching(rmsd_matrix(x, x), 0.5)
    assert cov == 1.0
    assert mat == pytest.approx(0.0, abs=1e-10)


def test_coverage_matching_by_hand() -> None:
    rmsd = np.array([[0.3, 1.2, 0.9], [0.5, 0.6, 2.0], [0.8, 0.7, 1.5], [2.0, 1.1, 3.0]])
    cov, mat = coverage_matching(rmsd, 0.5)  # best per reference: 0.3, 0.5 (inclusive), 0.7, 1.1
    assert cov == 0.5
    assert mat == pytest.approx((0.3 + 0.5 + 0.7 + 1.1) / 4, abs=1e-12)


# ---- bond geometry


def test_bond_lengths_and_angles_of_water() -> None:
    half = np.radians(104.5) / 2
    water = 0.9572 * np.array([[0.0, 0, 0], [np.sin(half), np.cos(half), 0], [-np.sin(half), np.cos(half), 0]])
    bonds = np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(bond_pairs(bonds), [[0, 1], [0, 2]])
    np.testing.assert_array_equal(angle_triples(bonds), [[1, 0, 2]])
    np.testing.assert_allclose(bond_lengths(water, bonds), [0.9572, 0.9572], atol=1e-12)
    np.testing.assert_allclose(bond_angles(np.stack([water, 2 * water]), bonds), [[104.5], [104.5]], atol=1e-10)


def test_angles_of_a_chain_and_a_branch() -> None:
    # propane-like chain 0-1-2 at 90 degrees, plus atom 3 on atom 1 opposite atom 0: angles 0-1-2, 0-1-3, 2-1-3
    x = np.array([[1.0, 0, 0], [0, 0, 0], [0, 1, 0], [-1, 0, 0]])
    bonds = np.zeros((4, 4), int)
    for i in (0, 2, 3):
        bonds[i, 1] = bonds[1, i] = 1
    np.testing.assert_array_equal(angle_triples(bonds), [[0, 1, 2], [0, 1, 3], [2, 1, 3]])
    np.testing.assert_allclose(bond_angles(x, bonds), [90.0, 180.0, 90.0], atol=1e-10)


# ---- MMFF


def test_mmff_of_references_and_of_a_stretched_conformer(truth: SimpleNamespace) -> None:
    m = 1
    n = truth.n_atoms[m]
    refs = truth.references[m, :, :n]
    energy, converged = mmff_energies(truth.smiles[m], refs, truth.hydrogens)
    assert np.isfinite(energy).all() and converged.all()
    stretched, ok = mmff_energies(truth.smiles[m], 1.5 * refs[:1], truth.hydrogens)
    assert stretched[0] - energy.min() > 100.0
    broken, ok = mmff_energies(truth.smiles[m], np.stack([np.zeros((n, 3)), np.full((n, 3), np.nan)]), False)
    assert np.isinf(broken).all() and not ok.any()


def test_scores_of_the_references(truth: SimpleNamespace) -> None:
    scores = conformer_scores(truth, _copies(truth))
    assert scores["cov_r"] == 1.0
    assert scores["mat_r"] == pytest.approx(0.0, abs=1e-8)
    assert scores["bond_length_w1"] == pytest.approx(0.0, abs=1e-12)
    assert scores["bond_angle_w1"] == pytest.approx(0.0, abs=1e-9)
    assert scores["plausible_bonds"] == 1.0
    assert scores["mmff_optimisable"] == 1.0
    assert 0.0 <= scores["mmff_energy"] < 5.0


def test_the_lowest_reference_scores_zero_energy(truth: SimpleNamespace) -> None:
    per = truth.eval_per_reference * truth.references.shape[1]
    best = []
    for m in truth.test_mols:
        n = truth.n_atoms[m]
        energy, _ = mmff_energies(truth.smiles[m], truth.references[m, :, :n], truth.hydrogens)
        best.append(np.repeat(truth.references[m, [np.argmin(energy)]], per, axis=0))
    scores = conformer_scores(truth, np.concatenate(best))
    assert scores["mmff_energy"] == 0.0


def test_scaled_conformers_are_implausible(truth: SimpleNamespace) -> None:
    scores = conformer_scores(truth, 1.5 * _copies(truth))
    assert scores["plausible_bonds"] == 0.0
    assert scores["mmff_energy"] > 100.0
    assert scores["bond_length_w1"] > 0.4  # lengths 1.1-1.5 Å grow by half
    assert scores["bond_angle_w1"] == pytest.approx(0.0, abs=1e-9)  # scaling keeps angles


def test_wrong_length_is_refused(truth: SimpleNamespace) -> None:
    with pytest.raises(ValueError, match="eval_molecules"):
        conformer_scores(truth, _copies(truth)[:-1])


# ---- the metric table


def test_metric_table_caches_per_fitted_model(truth: SimpleNamespace) -> None:
    assert metric_set("conformers") is CONFORMER_METRICS
    world: Any = SimpleNamespace(truth=truth, cache={})
    exact = SimpleNamespace(eval_samples=[_copies(truth)])
    noise = np.random.default_rng(6).normal(scale=0.2, size=exact.eval_samples[0].shape)
    noisy = SimpleNamespace(eval_samples=[exact.eval_samples[0] + noise * (exact.eval_samples[0] != 0)])
    first = {name: metric.fn(exact, world) for name, metric in CONFORMER_METRICS.items()}
    assert all(v.shape == (1,) and np.isfinite(v).all() for v in first.values())
    assert first["cov_r"][0] == 1.0 and first["mat_r"][0] == pytest.approx(0.0, abs=1e-8)
    assert "conformers/references" in world.cache and len(world.cache["conformers/scores"]) == 1
    second = {name: metric.fn(noisy, world) for name, metric in CONFORMER_METRICS.items()}
    assert len(world.cache["conformers/scores"]) == 2  # the noisy samples are scored anew, once
    assert second["mat_r"][0] > 0.1
    assert second["bond_length_w1"][0] > 0.05 and second["plausible_bonds"][0] < 0.5
    assert second["mmff_energy"][0] > first["mmff_energy"][0] + 10.0
    assert CONFORMER_METRICS["mat_r"].fn(exact, world)[0] == first["mat_r"][0]


def test_rmsd_uses_heavy_atoms_only() -> None:
    truth = _truth(hydrogens=True, k=2, per=1)
    x = _copies(truth)
    hydrogen = np.concatenate([truth.atoms[m] == 1 for m in truth.test_mols for _ in range(2)])
    moved = x + 0.3 * hydrogen.reshape(x.shape[:2])[..., None]  # every hydrogen shifted by 0.3 Å along each axis
    exact, shifted = conformer_scores(truth, x), conformer_scores(truth, moved)
    assert exact["mmff_optimisable"] == 1.0 and exact["plausible_bonds"] == 1.0
    assert shifted["cov_r"] == 1.0 and shifted["mat_r"] == pytest.approx(0.0, abs=1e-8)
    assert shifted["bond_length_w1"] > 0.01 and shifted["mmff_energy"] > exact["mmff_energy"]


def test_a_diverged_conformer_is_scored_not_raised(truth: SimpleNamespace) -> None:
    x = _copies(truth)
    x[0] = np.nan  # one generated conformer of the first test molecule
    scores = conformer_scores(truth, x)
    assert scores["cov_r"] == 1.0 and scores["mat_r"] == pytest.approx(0.0, abs=1e-8)  # its copies still match
    assert np.isnan(scores["bond_length_w1"]) and np.isnan(scores["bond_angle_w1"])
    n = len(x)
    assert scores["plausible_bonds"] == pytest.approx((n - 1) / n) and scores["mmff_optimisable"] == pytest.approx(
        (n - 1) / n
    )
