"""The conformers source: molecules filtered and split by molecule, RDKit references cached once, rows of a world."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import SMALL_MOLECULES
from modelcollapse._rng import Streams
from modelcollapse.registry import SOURCES
from modelcollapse.sources import conformers
from modelcollapse.sources.conformers import (
    ELEMENTS,
    ConformerSourceConfig,
    ConformerTruth,
    embed,
    eval_molecules,
    heavy_atom_counts,
    load_references,
)

chem = pytest.importorskip("rdkit.Chem")  # the module imports RDKit only when used

needs_moses = pytest.mark.skipif(
    importlib.util.find_spec("moses") is None,
    reason="MOSES is not installed (pip install --no-deps molsets==0.3.1; make test installs it)",
)
SMALL = {"molecules": 6, "test_molecules": 3, "conformers": 2}
GOOD = SMALL_MOLECULES  # 16 molecules of 6..12 heavy atoms with MMFF parameters
BAD = ["SMILES name", "CCO", "C1CC", "Oc1ccccc1", "CC(=O)[O-].[Na+]", "CCCCCCCCCCCCCCCC", "C[Se]CCCCC"]


def smi_file(folder: Path, good: list[str]) -> str:
    """A .smi file: a header, the good molecules (with names) and molecules the filter must drop."""
    path = folder / "mols.smi"
    path.write_text("\n".join([BAD[0], *(f"{s} mol{i}" for i, s in enumerate(good)), *BAD[1:], ""]))
    return str(path)


def source(**fields: Any) -> ConformerSourceConfig:
    return ConformerSourceConfig.model_validate({**SMALL, **fields})


def load(cfg: ConformerSourceConfig) -> ConformerTruth:
    load_references.cache_clear()  # the disk cache, not the in-process one, is under test
    return cfg.build().truth()


@pytest.fixture(scope="module")
def moses(tmp_path_factory: pytest.TempPathFactory) -> ConformerTruth:
    if importlib.util.find_spec("moses") is None:
        pytest.skip("MOSES is not installed")
    return load(source(cache=str(tmp_path_factory.mktemp("cache"))))


@pytest.fixture
def user(tmp_path: Path) -> dict[str, Any]:
    return {"path": smi_file(tmp_path, GOOD), "cache": str(tmp_path / "cache")}


@needs_moses
def test_moses_molecules_pass_the_filter_and_are_split_by_molecule(moses: ConformerTruth) -> None:
    assert len(moses.smiles) == 9 and len(set(moses.smiles)) == 9
    assert moses.train_mols.tolist() == list(range(6)) and moses.test_mols.tolist() == [6, 7, 8]
    train = {moses.smiles[i] for i in moses.train_mols}
    assert not train & {moses.smiles[i] for i in moses.test_mols}
    for s in moses.smiles:
        mol = chem.MolFromSmiles(s)
        assert chem.MolToSmiles(mol) == s  # stored canonical
        assert 6 <= mol.GetNumHeavyAtoms() <= 12 and len(chem.GetMolFrags(mol)) == 1


@needs_moses
def test_references_are_centred_padded_and_bonded_at_real_lengths(moses: ConformerTruth) -> None:
    m, a = moses.atoms.shape
    assert moses.references.shape == (m, 2, a, 3) and moses.references.dtype == np.float64
    assert a == moses.n_atoms.max() and moses.features.shape == (m, a, 6)
    for arr in (moses.atoms, moses.features, moses.bonds, moses.hops, moses.n_atoms):
        assert arr.dtype == np.int64
    for i, s in enumerate(moses.smiles):
        n = int(moses.n_atoms[i])
        mol = chem.MolFromSmiles(s)
        assert n == mol.GetNumAtoms()
        codes = [ELEMENTS.index(atom.GetSymbol()) + 1 for atom in mol.GetAtoms()]
        assert moses.atoms[i, :n].tolist() == codes and not moses.atoms[i, n:].any()
        assert not moses.features[i, n:].any() and (moses.features[i, :n] > 0).all()
        x = moses.references[i]
        np.testing.assert_allclose(x[:, :n].mean(axis=1), 0.0, atol=1e-9)
        assert not x[:, n:].any()
        b, h = moses.bonds[i], moses.hops[i]
        assert (b == b.T).all() and (h == h.T).all()
        assert ((h == 1) == (b > 0)).all() and not h.diagonal().any() and not h[n:].any()
        assert h.max() <= 4 and (h[:n, :n] + np.eye(n, dtype=int) > 0).all()  # one fragment
        i_, j_ = np.nonzero(np.triu(b))
        assert len(i_) == mol.GetNumBonds()
        lengths = np.linalg.norm(x[:, i_] - x[:, j_], axis=-1)
        assert ((lengths > 1.0) & (lengths < 2.0)).all()


def test_heavy_atom_counts_follow_rdkit() -> None:
    smiles = ["CCO", "Clc1ccccc1Br", "[2H]C([H])Br", "[13CH3][NH3+]", "[Hg]C", "OC(=O)[C@@H](N)C", "c1cc[nH]c1"]
    expected = [chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in smiles]
    assert expected == [3, 8, 2, 2, 2, 6, 5]
    assert heavy_atom_counts(smiles).tolist() == expected


def test_a_smi_file_is_filtered_deduplicated_and_cached_once(
    user: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load(source(**user))
    canonical = {chem.MolToSmiles(chem.MolFromSmiles(s)) for s in GOOD}
    assert set(first.smiles) <= canonical and len(set(first.smiles)) == 9
    files = list(Path(user["cache"]).iterdir())
    assert [f.suffix for f in files] == [".parquet"]  # one file, no temporary left behind

    def fail(*args: Any, **kwargs: Any) -> np.ndarray:
        raise AssertionError("embedded again instead of reading the cache")

    monkeypatch.setattr(conformers, "embed", fail)
    second = load(source(**user))
    assert second.smiles == first.smiles
    for name in ("references", "atoms", "features", "bonds", "hops", "n_atoms", "train_mols", "test_mols"):
        np.testing.assert_array_equal(getattr(second, name), getattr(first, name))
    assert list(Path(user["cache"]).iterdir()) == files


def test_a_corrupted_or_altered_cache_is_regenerated(user: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = load(source(**user))
    (file,) = Path(user["cache"]).iterdir()
    calls = []
    real = conformers.embed

    def counted(*args: Any) -> np.ndarray:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(conformers, "embed", counted)

    file.write_bytes(file.read_bytes()[:100])  # truncated
    again = load(source(**user))
    assert len(calls) == 9
    np.testing.assert_array_equal(again.references, first.references)

    table = pq.read_table(file)
    altered = table.slice(0, table.num_rows - 1).replace_schema_metadata(table.schema.metadata)  # a row short
    pq.write_table(altered, file)
    again = load(source(**user))
    assert len(calls) == 18
    np.testing.assert_array_equal(again.references, first.references)
    assert pq.read_table(file).num_rows == 18
    load(source(**user))
    assert len(calls) == 18  # the regenerated file is read

    table = pq.read_table(file)
    xyz = pa.array([[v + 1.0 for v in row] for row in table.column("xyz").to_pylist()], pa.list_(pa.float64()))
    pq.write_table(table.set_column(4, "xyz", xyz), file)  # shifted: no longer centred
    again = load(source(**user))
    assert len(calls) == 27
    np.testing.assert_array_equal(again.references, first.references)


def test_same_seed_same_references_other_seed_other_molecules(user: dict[str, Any], tmp_path: Path) -> None:
    first = load(source(**user))
    fresh = load(source(path=user["path"], cache=str(tmp_path / "elsewhere")))  # embedded anew
    assert fresh.smiles == first.smiles
    np.testing.assert_array_equal(fresh.references, first.references)
    other = load(source(**user, pool_seed=1))
    assert [other.smiles[i] for i in other.train_mols] != [first.smiles[i] for i in first.train_mols]
    assert len(list(Path(user["cache"]).iterdir())) == 2


def test_csv_and_sdf_files_give_the_same_molecules(user: dict[str, Any], tmp_path: Path) -> None:
    first = load(source(**user))
    csv = tmp_path / "mols.csv.gz"
    import pandas as pd

    listed = [*GOOD, *BAD[1:]]  # in the order of the .smi file: the same candidates, shuffled alike
    pd.DataFrame({"name": range(len(listed)), "smiles": listed}).to_csv(csv, index=False)
    sdf = tmp_path / "mols.sdf"
    writer = chem.SDWriter(str(sdf))
    for mol in filter(None, map(chem.MolFromSmiles, listed)):
        writer.write(chem.AddHs(mol))  # explicit hydrogens: the graph is what counts
    writer.close()
    for path in (csv, sdf):
        other = load(source(path=str(path), cache=user["cache"]))
        assert other.smiles == first.smiles
        np.testing.assert_array_equal(other.references, first.references)


def test_hydrogens_are_atoms_after_the_heavy_atoms(user: dict[str, Any]) -> None:
    heavy = load(source(**user))
    full = load(source(**user, hydrogens=True))
    assert full.smiles == heavy.smiles and full.hydrogens
    assert full.atoms.shape[1] > heavy.atoms.shape[1]
    for i, s in enumerate(full.smiles):
        n, h = int(heavy.n_atoms[i]), int(full.n_atoms[i])
        assert h == chem.AddHs(chem.MolFromSmiles(s)).GetNumAtoms() > n
        assert full.atoms[i, :n].tolist() == heavy.atoms[i, :n].tolist() and (full.atoms[i, n:h] == 1).all()
        assert (full.features[i, :n] == heavy.features[i, :n]).all()  # the H count of a heavy atom is the same
        np.testing.assert_allclose(full.references[i, :, :h].mean(axis=1), 0.0, atol=1e-9)
        c, hh = np.nonzero(full.bonds[i, :n, n:h])  # every hydrogen bonded to one heavy atom, at ~1.1 Å
        assert sorted(hh.tolist()) == list(range(h - n))
        lengths = np.linalg.norm(full.references[i][:, c] - full.references[i][:, n + hh], axis=-1)
        assert ((lengths > 0.9) & (lengths < 1.2)).all()
    assert ConformerSourceConfig(hydrogens=True).row_bytes == 8 * 3 * 38 + 8 > ConformerSourceConfig().row_bytes


def test_too_few_molecules_are_refused_with_the_reason(tmp_path: Path) -> None:
    path = smi_file(tmp_path, GOOD[:5])  # and the duplicate, small, large, invalid, salt and selenium ones
    with pytest.raises(ValueError) as err:
        load(source(path=path, cache=str(tmp_path), molecules=4, test_molecules=2))
    assert str(err.value) == (
        "only 5 distinct molecules pass the filter (min_heavy_atoms 6, max_heavy_atoms 12, one fragment, "
        "MMFF parameters, 2 conformers embedded); molecules + test_molecules asks for 6: widen the heavy-atom "
        "range or ask for fewer molecules"
    )
    assert not list(tmp_path.glob("*.parquet"))


def test_config_bounds() -> None:
    with pytest.raises(ValueError, match=r"min_heavy_atoms \(9\) must be at most max_heavy_atoms \(8\)"):
        ConformerSourceConfig(min_heavy_atoms=9, max_heavy_atoms=8)
    for bad in ({"max_heavy_atoms": 41}, {"conformers": 51}, {"conformers": 0}, {"bond_tolerance": 1.0}):
        with pytest.raises(ValueError):
            ConformerSourceConfig.model_validate(bad)
    cfg = SOURCES.parse({"kind": "conformers"})
    assert isinstance(cfg, ConformerSourceConfig) and cfg.metric_sets == ("conformers",)
    assert cfg.row_bytes == 8 * 3 * 12 + 8


@pytest.mark.parametrize("hydrogens", [False, True])
def test_dg_baseline_embeds_k_conformers(hydrogens: bool) -> None:
    s = "CC(=O)Nc1ccc(O)cc1"
    mol = chem.MolFromSmiles(s)
    n = chem.AddHs(mol).GetNumAtoms() if hydrogens else mol.GetNumAtoms()
    x = embed(s, 3, 7, "dg", hydrogens)
    assert x.shape == (3, n, 3)
    np.testing.assert_allclose(x.mean(axis=1), 0.0, atol=1e-9)
    assert not np.allclose(x[0], x[1])  # three different conformers
    np.testing.assert_array_equal(embed(s, 3, 7, "dg", hydrogens), x)  # a function of the seed
    ref = embed(s, 3, 7, "etkdg-mmff", hydrogens)
    assert ref.shape == x.shape and not np.allclose(ref, x)
    with pytest.raises(ValueError, match="not a valid SMILES"):
        embed("C1CC", 1, 0)


def test_world_rows(user: dict[str, Any]) -> None:
    src = source(**user).build()
    truth = src.truth()
    a = truth.atoms.shape[1]
    world = src.world(3, 10, Streams.keyed(0, "c0ffee00", 0, 3))
    x, mol = world.train.cols["x"], world.train.cols["mol"]
    assert x.shape == (3, 10, a, 3) and x.dtype == np.float64 and mol.shape == (3, 10) and mol.dtype == np.int64
    assert set(mol.ravel()) <= set(truth.train_mols.tolist())
    for b in range(3):  # each row is a reference of its molecule, n distinct ones per replicate
        conf = [
            int(np.flatnonzero((truth.references[m] == r).all(axis=(1, 2)))[0])
            for m, r in zip(mol[b], x[b], strict=True)
        ]
        assert len(set(zip(mol[b].tolist(), conf, strict=True))) == 10
    assert not (mol[0] == mol[1]).all()  # replicates draw from their own streams
    test = world.test
    assert test.cols["x"].shape == (3, 6, a, 3) and test.cols["mol"][1].tolist() == [6, 6, 7, 7, 8, 8]
    np.testing.assert_array_equal(test.cols["x"][2], truth.references[6:].reshape(6, a, 3))
    fresh = world.draw(20, Streams.keyed(0, "c0ffee00", 3, 3))
    assert fresh.cols["x"].shape == (3, 20, a, 3) and set(fresh.cols["mol"].ravel()) <= set(range(6))
    assert eval_molecules(truth).tolist() == [6] * 4 + [7] * 4 + [8] * 4
    assert world.truth.rmsd_threshold == 0.5 and world.truth.bond_tolerance == 0.1
    assert source(**user, rmsd_threshold=1.25).build().truth().rmsd_threshold == 1.25
    with pytest.raises(ValueError) as err:
        src.world(2, 13, np.random.default_rng(0))
    assert str(err.value) == (
        "samples_per_generation 13 is more than the 12 training conformers (6 molecules x 2 conformers): "
        "raise source.molecules or source.conformers"
    )


def test_molecule_files_are_refused_before_reading_when_too_large_or_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refusal(path: Path) -> str:
        with pytest.raises(ValueError) as err:
            conformers.read_smiles(path)
        return str(err.value).replace(conformers.short(str(path)), "FILE")

    big = tmp_path / "mols.smi"
    big.write_text("CCO\n" * 100)
    monkeypatch.setattr(conformers, "MAX_FILE_BYTES", 99)
    assert refusal(big) == "source.path: FILE has 400 bytes; molecules are read from at most 99"
    monkeypatch.undo()
    table = tmp_path / "mols.csv"
    table.write_text("name,formula\nethanol,C2H6O\n")
    assert refusal(table) == "source.path: FILE has no SMILES column (columns: ['name', 'formula'])"
    other = tmp_path / "mols.mol2"
    other.write_text("")
    assert refusal(other) == "source.path: FILE is not .smi, .txt, .csv, .csv.gz, .sdf or .sdf.gz"
