"""The reference conformers of a ``conformers`` source on disk: one Parquet file per settings, written once.

A file is keyed by a hash of every setting that changes its content (the molecule file's content hash
among them) and written atomically; reading it back checks that it is exactly what those settings ask
for (the settings stored in it, the columns, every molecule's ids, split and atom count, finite centred
coordinates) and returns None otherwise, so that a stale, altered or corrupted file is regenerated and
never trusted. No pickle: coordinates are lists of floats.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1  # of the cached table: a change here regenerates every cache
COLUMNS = ["molecule", "smiles", "split", "conformer", "xyz"]
META = b"modelcollapse.conformers"


def fingerprint(path: Path) -> dict[str, Any]:
    """A file's name, size and SHA-256: what identifies its content in a cache key."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"name": path.name, "size": path.stat().st_size, "sha256": digest.hexdigest()}


def cache_folder(cache: str | None) -> Path:
    """``cache``, or ``$MODELCOLLAPSE_CACHE/conformers`` (default ``~/.cache/modelcollapse/conformers``)."""
    if cache:
        return Path(cache).expanduser()
    return Path(os.environ.get("MODELCOLLAPSE_CACHE") or Path.home() / ".cache" / "modelcollapse") / "conformers"


def write_references(
    file: Path, settings: dict[str, Any], smiles: list[str], train: int, coords: list[np.ndarray]
) -> None:
    """One row per (molecule, conformer), written to a temporary file beside ``file`` and moved into place."""
    import pyarrow as pa  # lazy: importing the package stays light
    import pyarrow.parquet as pq

    k = coords[0].shape[0]
    table = pa.table(
        {
            "molecule": pa.array(np.repeat(np.arange(len(smiles)), k), pa.int64()),
            "smiles": pa.array([s for s in smiles for _ in range(k)], pa.string()),
            "split": pa.array(["train" if i < train else "test" for i in range(len(smiles)) for _ in range(k)]),
            "conformer": pa.array(np.tile(np.arange(k), len(smiles)), pa.int64()),
            "xyz": pa.array([c.reshape(-1) for x in coords for c in x], pa.list_(pa.float64())),
        }
    ).replace_schema_metadata({META: json.dumps(settings, sort_keys=True)})
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=file.parent, prefix=file.stem, suffix=".tmp", delete=False) as tmp:
            temp = Path(tmp.name)
        try:
            pq.write_table(table, temp)
            os.replace(temp, file)  # atomic: a reader sees the old file or the whole new one
        finally:
            temp.unlink(missing_ok=True)
    except OSError as err:  # a read-only cache costs time, not results
        warnings.warn(f"cannot cache the reference conformers in {file.parent}: {err}", stacklevel=2)


def read_references(
    file: Path, settings: dict[str, Any], molecules: int, test: int, k: int, atoms: Callable[[str], int | None]
) -> tuple[list[str], list[np.ndarray]] | None:
    """What :func:`write_references` wrote for ``settings``, or None when the file is missing or not exactly
    that; ``atoms(smiles)`` is the atom count of a row of that molecule, None for a molecule the settings
    would not have chosen."""
    import pyarrow.parquet as pq

    if not file.is_file():
        return None
    m = molecules + test
    try:  # any surprise in a file on disk means it is regenerated, never trusted
        table = pq.read_table(file)
        if json.loads(table.schema.metadata[META]) != settings or table.schema.names != COLUMNS:
            return None
        cols = table.to_pydict()
        split = ["train"] * (molecules * k) + ["test"] * (test * k)
        if (
            cols["molecule"] != np.repeat(np.arange(m), k).tolist()
            or cols["conformer"] != np.tile(np.arange(k), m).tolist()
            or cols["split"] != split
        ):
            return None
        smiles = cols["smiles"][::k]
        if cols["smiles"] != [s for s in smiles for _ in range(k)] or len(set(smiles)) != m:
            return None
        coords = []
        for i, s in enumerate(smiles):
            n = atoms(s)
            if n is None:
                return None
            x = np.asarray(cols["xyz"][i * k : (i + 1) * k], np.float64)
            if x.shape != (k, 3 * n) or not np.isfinite(x).all():
                return None
            x = x.reshape(k, n, 3)
            if np.abs(x.mean(axis=1)).max() > 1e-9:
                return None
            coords.append(x)
        return smiles, coords
    except Exception:
        return None
