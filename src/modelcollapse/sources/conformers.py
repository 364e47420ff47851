"""Small molecules' 3-D conformers, with RDKit's conformers of each molecule as the reference truth.

Molecules come from MOSES (the ``smiles`` source's training file; ``pip install --no-deps molsets==0.3.1``)
or from a user's file (``path``: SMILES one per line, a CSV with a SMILES column, or an SDF file whose
molecules' graphs are used). Those with ``min_heavy_atoms..max_heavy_atoms`` heavy atoms that sanitize, are
one fragment and have MMFF parameters are shuffled by ``pool_seed``; the first ``molecules`` are the training
molecules and the next ``test_molecules`` are held out (no molecule in both). Each gets ``conformers``
reference conformers (ETKDGv3, then MMFF), generated once and cached as Parquet keyed by the settings.

A row is one conformer (``x``: Å, centred, zero padded to the largest molecule) and its molecule id
(``mol``); the truth (:class:`ConformerTruth`) holds every molecule's graph and references. RDKit is an
optional extra: ``pip install 'modelcollapse[molecules]'``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, PositiveInt, model_validator

from modelcollapse._rng import Streams, as_streams, stable_hash
from modelcollapse.data import Rows
from modelcollapse.registry import SOURCES, Positive, Seed, short
from modelcollapse.sources.base import SourceConfig, World
from modelcollapse.sources.conformer_cache import FORMAT, cache_folder, fingerprint, read_references, write_references
from modelcollapse.sources.molecules import moses_folder

ELEMENTS = ("H", "C", "N", "O", "F", "P", "S", "Cl", "Br", "I")  # element code: index + 1; 11 = other
FEATURE_SIZES = (12, 3, 5, 5, 3, 4)  # element, aromatic, hybridisation, 1 + H count, in ring, charge
MAX_HOPS = 4
MAX_FILE_BYTES = 2**30  # a molecule file larger than this is refused before it is read
# Letters that start an atom outside brackets (the organic subset; "Cl" and "Br" count once by their first).
ATOM_LETTERS = np.zeros(256, bool)
ATOM_LETTERS[list(b"BCNOPSFIbcnops")] = True


def _chem() -> Any:
    try:
        from rdkit import Chem, rdBase
    except ImportError as err:  # pragma: no cover
        raise ImportError("the conformers source needs RDKit: pip install 'modelcollapse[molecules]'") from err
    rdBase.DisableLog("rdApp.*")  # unparsable candidates are skipped, not reported
    return Chem


def embed(
    smiles: str, k: int, seed: int, method: Literal["etkdg-mmff", "dg"] = "etkdg-mmff", hydrogens: bool = False
) -> np.ndarray:
    """``(k, a, 3)`` RDKit conformers of one molecule, centred, in the atom order of ``Chem.MolFromSmiles``.

    Embedded with explicit hydrogens (heavy atoms come first), which are kept only with ``hydrogens``.
    ``"etkdg-mmff"``: ETKDGv3, then MMFF optimisation (the references). ``"dg"``: plain distance geometry from
    random coordinates, without torsion preferences, basic knowledge or force field (a baseline). ``seed`` is
    taken modulo 2**31 (RDKit's seed is a C int); one thread, so the result is a function of the arguments.
    Raises ValueError if fewer than ``k`` conformers embed.
    """
    from rdkit.Chem import rdDistGeom, rdForceFieldHelpers

    if method not in ("etkdg-mmff", "dg"):
        raise ValueError(f"method must be 'etkdg-mmff' or 'dg', got {method!r}")
    chem = _chem()
    mol = chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"not a valid SMILES: {smiles!r}")
    heavy = mol.GetNumAtoms()
    mol = chem.AddHs(mol)
    if method == "etkdg-mmff":
        params: Any = rdDistGeom.ETKDGv3()
    else:
        params = rdDistGeom.EmbedParameters()
        params.useRandomCoords = True
        params.useExpTorsionAnglePrefs = False
        params.useBasicKnowledge = False
    params.randomSeed = int(seed) % 2**31
    params.numThreads = 1
    ids = list(rdDistGeom.EmbedMultipleConfs(mol, k, params))
    if len(ids) < k:
        raise ValueError(f"only {len(ids)} of {k} conformers of {smiles} embedded")
    if method == "etkdg-mmff":
        rdForceFieldHelpers.MMFFOptimizeMoleculeConfs(mol, numThreads=1, maxIters=2000)
    x = np.stack([mol.GetConformer(i).GetPositions() for i in ids[:k]])
    x = x if hydrogens else x[:, :heavy]
    return x - x.mean(axis=1, keepdims=True)


@dataclass(frozen=True)
class ConformerTruth:
    """Every molecule's graph and reference conformers (ids ``0..M-1``; see the module docstring).

    ``atoms`` ``(M, A)``: element codes (0 padding); ``features`` ``(M, A, 6)``: categorical atom features
    (vocabularies :data:`FEATURE_SIZES`); ``bonds`` and ``hops`` ``(M, A, A)``: bond types (1 single,
    2 double, 3 triple, 4 aromatic) and topological distances clipped to 4; ``references`` ``(M, K, A, 3)``.
    """

    smiles: tuple[str, ...]
    atoms: np.ndarray
    features: np.ndarray
    bonds: np.ndarray
    hops: np.ndarray
    n_atoms: np.ndarray
    train_mols: np.ndarray
    test_mols: np.ndarray
    references: np.ndarray
    hydrogens: bool = False
    rmsd_threshold: float = 0.5  # Å, delta of COV-R
    bond_tolerance: float = 0.1  # relative tolerance of a plausible bond length
    eval_per_reference: int = 2  # generated conformers per reference in evaluation (GeoDiff: 2x)
    has_modes: bool = False


def eval_molecules(truth: ConformerTruth) -> np.ndarray:
    """The molecule of each evaluation sample, in order: every test molecule, ``eval_per_reference * K`` times."""
    return np.repeat(truth.test_mols, truth.eval_per_reference * truth.references.shape[1])


def heavy_atom_counts(smiles: list[str]) -> np.ndarray:
    """Heavy atoms of each SMILES, counted on its characters (exact for the usual SMILES; RDKit confirms).

    An organic-subset letter outside brackets is an atom, and so is a bracket, unless it holds a hydrogen
    (``[H]``, ``[2H]``; not ``[Hg]``). Vectorised: parsing a million SMILES with RDKit takes minutes.
    """
    chunk = 1 << 16  # SMILES at a time: small arrays stay in cache (one array of 50M characters costs seconds)
    return np.concatenate(
        [np.zeros(0, np.int64)] + [_count(smiles[i : i + chunk]) for i in range(0, len(smiles), chunk)]
    )


def _count(smiles: list[str]) -> np.ndarray:
    text = np.frombuffer(("\n".join(smiles) + "\n").encode("ascii", "replace"), np.uint8)
    ends = np.flatnonzero(text == ord("\n"))
    step = (text == ord("[")).astype(np.int64) - (text == ord("]"))
    step[ends] -= np.diff(np.cumsum(step)[ends], prepend=0)  # a bracket left open stays within its line
    atom = (ATOM_LETTERS[text] & (np.cumsum(step) == 0)) | (text == ord("["))
    starts = np.flatnonzero(text == ord("["))
    j = starts + 1  # the element of a bracket: past its isotope digits (the text ends with a newline)
    for _ in range(3):
        j = j + ((text[j] >= ord("0")) & (text[j] <= ord("9")))
    hydrogen = (text[j] == ord("H")) & ~((text[j + 1] >= ord("a")) & (text[j + 1] <= ord("z")))
    atom[starts[hydrogen]] = False
    return np.diff(np.cumsum(atom)[ends], prepend=0)  # type: ignore[no-any-return]


def read_smiles(path: Path) -> list[str]:
    """The SMILES of a file: .smi/.txt (first token of a line), .csv[.gz] (a SMILES column), .sdf[.gz].

    A file is refused before it is read when it holds more than ``MAX_FILE_BYTES``.
    """
    name, quoted = path.name.lower(), short(str(path))
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(
            f"source.path: {quoted} has {path.stat().st_size:,} bytes; molecules are read from at most "
            f"{MAX_FILE_BYTES:,}"
        )
    if name.endswith((".csv", ".csv.gz")):
        import pandas as pd  # lazy: only reading molecules needs it

        table = pd.read_csv(path)
        column = next((c for c in table.columns if str(c).lower() == "smiles"), None)
        if column is None:
            raise ValueError(
                f"source.path: {quoted} has no SMILES column (columns: {short(list(map(str, table.columns)))})"
            )
        return table[column].dropna().astype(str).tolist()
    if name.endswith((".sdf", ".sdf.gz")):
        chem = _chem()
        with gzip.open(path) if name.endswith(".gz") else open(path, "rb") as f:
            return [chem.MolToSmiles(m) for m in chem.ForwardSDMolSupplier(f) if m is not None]
    if name.endswith((".smi", ".txt")):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        return [line.split()[0] for line in lines if line.strip()]
    raise ValueError(f"source.path: {quoted} is not .smi, .txt, .csv, .csv.gz, .sdf or .sdf.gz")


def _usable(smiles: str, lo: int, hi: int) -> str | None:
    """The canonical SMILES of a molecule that passes the filter (sanitizes, one fragment, heavy atoms in
    ``lo..hi``, MMFF parameters), else None."""
    from rdkit.Chem import rdForceFieldHelpers

    chem = _chem()
    mol = chem.MolFromSmiles(smiles)
    if mol is None or not lo <= mol.GetNumHeavyAtoms() <= hi or len(chem.GetMolFrags(mol)) != 1:
        return None
    canonical: str = chem.MolToSmiles(mol)
    mol = chem.MolFromSmiles(canonical)  # the atom order every later use has
    if mol is None or not rdForceFieldHelpers.MMFFHasAllMoleculeParams(chem.AddHs(mol)):
        return None
    return canonical


def reference_seed(pool_seed: int, smiles: str) -> int:
    """The embedding seed of a molecule's references: a function of the molecule, not of its place in the pool."""
    return int(stable_hash([pool_seed, smiles])[:8], 16) % 2**31


def choose(
    smiles: list[str], lo: int, hi: int, molecules: int, test: int, k: int, pool_seed: int, hydrogens: bool
) -> tuple[list[str], list[np.ndarray]]:
    """The first ``molecules + test`` usable molecules in ``pool_seed``'s order, and their references."""
    counts = heavy_atom_counts(smiles)
    order = np.random.default_rng(pool_seed).permutation(np.flatnonzero((counts >= lo) & (counts <= hi)))
    chosen: list[str] = []
    coords: list[np.ndarray] = []
    seen: set[str] = set()
    for i in order:
        canonical = _usable(smiles[i], lo, hi)
        if canonical is None or canonical in seen:
            continue
        seen.add(canonical)
        try:
            coords.append(embed(canonical, k, reference_seed(pool_seed, canonical), "etkdg-mmff", hydrogens))
        except ValueError:
            continue
        chosen.append(canonical)
        if len(chosen) == molecules + test:
            return chosen, coords
    raise ValueError(
        f"only {len(chosen)} distinct molecules pass the filter (min_heavy_atoms {lo}, max_heavy_atoms {hi}, "
        f"one fragment, MMFF parameters, {k} conformers embedded); molecules + test_molecules asks for "
        f"{molecules + test}: widen the heavy-atom range or ask for fewer molecules"
    )


def graph(smiles: str, hydrogens: bool, a: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(atoms (a,), features (a, 6), bonds (a, a), hops (a, a)) of one molecule, zero padded to ``a`` atoms."""
    chem = _chem()
    mol = chem.MolFromSmiles(smiles)
    mol = chem.AddHs(mol) if hydrogens else mol
    hyb = {chem.HybridizationType.SP: 1, chem.HybridizationType.SP2: 2, chem.HybridizationType.SP3: 3}
    kinds = {chem.BondType.DOUBLE: 2, chem.BondType.TRIPLE: 3, chem.BondType.AROMATIC: 4}  # others: single
    features = np.zeros((a, len(FEATURE_SIZES)), np.int64)
    for i, atom in enumerate(mol.GetAtoms()):
        symbol, charge = atom.GetSymbol(), atom.GetFormalCharge()
        features[i] = (
            ELEMENTS.index(symbol) + 1 if symbol in ELEMENTS else len(ELEMENTS) + 1,
            1 + atom.GetIsAromatic(),
            hyb.get(atom.GetHybridization(), 4),
            1 + min(atom.GetTotalNumHs(includeNeighbors=True), 3),  # the same with hydrogens as atoms or not
            1 + atom.IsInRing(),
            2 + int(np.sign(charge)),
        )
    bonds = np.zeros((a, a), np.int64)
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        bonds[i, j] = bonds[j, i] = kinds.get(bond.GetBondType(), 1)
    n = mol.GetNumAtoms()
    hops = np.zeros((a, a), np.int64)
    hops[:n, :n] = np.minimum(chem.GetDistanceMatrix(mol), MAX_HOPS)
    return features[:, 0].copy(), features, bonds, hops


@lru_cache(maxsize=4)
def load_references(
    path: str | None,
    min_heavy_atoms: int,
    max_heavy_atoms: int,
    molecules: int,
    test_molecules: int,
    conformers: int,
    pool_seed: int,
    hydrogens: bool,
    cache: str | None,
) -> ConformerTruth:
    """The truth of these settings: read from the cache, or chosen, embedded and cached once."""
    _chem()  # a clear error without RDKit
    import rdkit

    if path:
        file = Path(path).expanduser().resolve()
    else:
        file = moses_folder("a file of SMILES or an SDF file") / "train.csv.gz"
    settings = {
        "format": FORMAT,
        "file": fingerprint(file),
        "min_heavy_atoms": min_heavy_atoms,
        "max_heavy_atoms": max_heavy_atoms,
        "molecules": molecules,
        "test_molecules": test_molecules,
        "conformers": conformers,
        "pool_seed": pool_seed,
        "hydrogens": hydrogens,
        "rdkit": rdkit.__version__,
    }
    cached = cache_folder(cache) / f"{stable_hash(settings)}.parquet"

    def row_atoms(smiles: str) -> int | None:  # a row's atom count, for a molecule these settings could choose
        mol = _chem().MolFromSmiles(smiles)
        if mol is None or not min_heavy_atoms <= mol.GetNumHeavyAtoms() <= max_heavy_atoms:
            return None
        return int(_chem().AddHs(mol).GetNumAtoms() if hydrogens else mol.GetNumAtoms())

    found = read_references(cached, settings, molecules, test_molecules, conformers, row_atoms)
    if found is None:
        found = choose(
            read_smiles(file),
            min_heavy_atoms,
            max_heavy_atoms,
            molecules,
            test_molecules,
            conformers,
            pool_seed,
            hydrogens,
        )
        write_references(cached, settings, found[0], molecules, found[1])
    smiles, coords = found
    a = max(x.shape[1] for x in coords)
    graphs = [graph(s, hydrogens, a) for s in smiles]
    references = np.zeros((len(smiles), conformers, a, 3))
    for i, x in enumerate(coords):
        references[i, :, : x.shape[1]] = x
    atoms, features, bonds, hops = (np.stack(parts) for parts in zip(*graphs, strict=True))
    return ConformerTruth(
        smiles=tuple(smiles),
        atoms=atoms,
        features=features,
        bonds=bonds,
        hops=hops,
        n_atoms=np.array([x.shape[1] for x in coords], np.int64),
        train_mols=np.arange(molecules, dtype=np.int64),
        test_mols=np.arange(molecules, molecules + test_molecules, dtype=np.int64),
        references=references,
        hydrogens=hydrogens,
    )


@dataclass(frozen=True)
class ConformerSource:
    """Per replicate, ``n`` distinct (training molecule, reference conformer) pairs; test: every reference
    conformer of the held-out molecules. Fresh draws take pool rows with replacement."""

    path: str | None = None
    min_heavy_atoms: int = 6
    max_heavy_atoms: int = 12
    molecules: int = 40
    test_molecules: int = 16
    conformers: int = 5
    hydrogens: bool = False
    pool_seed: int = 0
    rmsd_threshold: float = 0.5
    bond_tolerance: float = 0.1
    cache: str | None = None

    def truth(self) -> ConformerTruth:
        truth = load_references(
            self.path,
            self.min_heavy_atoms,
            self.max_heavy_atoms,
            self.molecules,
            self.test_molecules,
            self.conformers,
            self.pool_seed,
            self.hydrogens,
            self.cache,
        )
        return replace(truth, rmsd_threshold=self.rmsd_threshold, bond_tolerance=self.bond_tolerance)

    def world(self, batch: int, n: int, rng: Streams | np.random.Generator) -> World:
        truth = self.truth()
        k, a = truth.references.shape[1:3]
        pool_x = truth.references[truth.train_mols].reshape(-1, a, 3)
        pool_mol = np.repeat(truth.train_mols, k)
        if n > len(pool_x):
            raise ValueError(
                f"samples_per_generation {n} is more than the {len(pool_x)} training conformers "
                f"({self.molecules} molecules x {k} conformers): raise source.molecules or source.conformers"
            )
        streams = as_streams(rng, batch)
        picks = np.stack([g.choice(len(pool_x), n, replace=False) for g in streams])
        test_x = truth.references[truth.test_mols].reshape(-1, a, 3)
        test = Rows(
            {
                "x": np.broadcast_to(test_x, (batch, *test_x.shape)),
                "mol": np.broadcast_to(np.repeat(truth.test_mols, k), (batch, len(test_x))),
            }
        )

        def rows(idx: np.ndarray) -> Rows:
            return Rows({"x": pool_x[idx], "mol": pool_mol[idx]})

        def draw(m: int, g: Streams) -> Rows:
            return rows(g.integers(0, len(pool_x), size=(len(g), m)))

        return World(rows(picks), test, truth, draw)


@SOURCES.register
class ConformerSourceConfig(SourceConfig):
    """Small molecules' 3-D conformers (MOSES, or ``path``), with RDKit's ETKDG + MMFF conformers as references."""

    kind: Literal["conformers"] = "conformers"
    metric_sets: ClassVar[tuple[str, ...]] = ("conformers",)  # RDKit: COV/MAT against the references, bonds
    path: str | None = None  # .smi/.txt, .csv[.gz] with a SMILES column, or .sdf[.gz]; None: MOSES train
    min_heavy_atoms: Annotated[int, Field(ge=1)] = 6
    max_heavy_atoms: Annotated[int, Field(ge=1, le=40)] = 12  # small: references embed quickly on 2 cores
    molecules: PositiveInt = 40  # training molecules
    test_molecules: PositiveInt = 16  # held-out molecules
    conformers: Annotated[int, Field(ge=1, le=50)] = 5  # reference conformers per molecule
    hydrogens: bool = False  # hydrogens as atoms of the rows
    pool_seed: Seed = 0
    rmsd_threshold: Positive = 0.5  # Å, delta of COV-R
    bond_tolerance: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1  # relative tolerance of a bond length
    cache: str | None = None  # folder; None: $MODELCOLLAPSE_CACHE/conformers or ~/.cache/modelcollapse/conformers

    @model_validator(mode="after")
    def _heavy_atoms(self) -> ConformerSourceConfig:
        if self.min_heavy_atoms > self.max_heavy_atoms:
            raise ValueError(
                f"min_heavy_atoms ({self.min_heavy_atoms}) must be at most max_heavy_atoms ({self.max_heavy_atoms})"
            )
        return self

    @property
    def max_atoms(self) -> int:
        """A bound on the atoms of a row (with hydrogens, as in an alkane: 2 n + 2 of them to n heavy atoms)."""
        return 3 * self.max_heavy_atoms + 2 if self.hydrogens else self.max_heavy_atoms

    @property
    def row_bytes(self) -> int:
        return 8 * 3 * self.max_atoms + 8

    def build(self) -> ConformerSource:
        return ConformerSource(
            path=self.path,
            min_heavy_atoms=self.min_heavy_atoms,
            max_heavy_atoms=self.max_heavy_atoms,
            molecules=self.molecules,
            test_molecules=self.test_molecules,
            conformers=self.conformers,
            hydrogens=self.hydrogens,
            pool_seed=self.pool_seed,
            rmsd_threshold=self.rmsd_threshold,
            bond_tolerance=self.bond_tolerance,
            cache=self.cache,
        )
