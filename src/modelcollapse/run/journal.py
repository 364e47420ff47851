"""Durable generations: each finished generation of a chain is a folder, written atomically.

``gen-0003/`` holds the fitted model (the family's ``save``: safetensors for neural families), the
synthetic and fresh real rows drawn for that generation (Parquet), the metric values and the random
stream's state (``state.json``). A generation's folder is renamed into place only when complete, so a
killed run leaves either a whole generation or none, and a rerun resumes after the last one.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse.data import Rows, read_rows, write_rows


class Journal:
    """The durable generations of one chain (one workflow, one block of replicates).

    Generations ``1..upto`` may live in a ``shared`` folder that several chains start from (the cells of a
    real-synthetic grid share their generator): whichever chain writes one first keeps it, the others find
    it there and resume after it, exactly as if they had computed it (their streams are the same).
    """

    def __init__(self, folder: Path, shared: Path | None = None, upto: int = 0) -> None:
        self.folder, self.shared, self.upto = folder, shared, upto if shared is not None else 0

    def path(self, t: int) -> Path:
        root = self.shared if self.shared is not None and t <= self.upto else self.folder
        return root / f"gen-{t:04d}"

    def finished(self) -> int:
        """The last generation written in full (0 when none)."""
        t = 0
        while self.path(t + 1).is_dir():
            t += 1
        return t

    def write(
        self,
        t: int,
        save: Any,
        synthetic: Rows | None,
        fresh: Rows | None,
        values: Mapping[str, np.ndarray],
        rng: np.random.Generator,
    ) -> None:
        """Write generation ``t``: ``save(folder)`` stores the model; then the folder is renamed into place."""
        target = self.path(t)
        tmp = target.parent / f".gen-{t:04d}.{os.getpid()}.partial"  # per process: shared folders have several
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save(tmp)
        for name, rows in (("synthetic", synthetic), ("fresh", fresh)):
            if rows is not None:
                write_rows(rows, tmp / f"{name}.parquet")
        state = {
            "values": {k: np.asarray(v, float).tolist() for k, v in values.items()},
            "rng": rng.bit_generator.state,
        }
        (tmp / "state.json").write_text(json.dumps(state))
        with open(tmp / "state.json", "rb+") as f:  # the data reach the disk before the rename
            os.fsync(f.fileno())
        try:
            os.replace(tmp, target)
        except OSError:
            if not target.is_dir():
                raise
            shutil.rmtree(tmp)  # a chain with the same stream wrote this shared generation first

    def rows(self, t: int, name: str) -> Rows | None:
        path = self.path(t) / f"{name}.parquet"
        return read_rows(path) if path.exists() else None

    def state(self, t: int) -> dict[str, Any]:
        return json.loads((self.path(t) / "state.json").read_text())
