"""The results store: one tidy long table in a DuckDB file, plus run metadata.

``results`` has one row per (experiment, cell, workflow, replicate, generation,
metric) with a column per swept field. A *chunk* (one block of replicates of
one cell, all workflows) is written in one transaction together with its marker
in ``chunks``, so a killed run leaves either the whole chunk or none of it and a
rerun skips what is done.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

DB_NAME = "results.duckdb"
GRID_AXES = ("n_real", "n_syn")  # the sweep columns of a real-synthetic grid


def _duckdb():  # type: ignore[no-untyped-def]
    import duckdb  # lazy: importing the package must stay light

    return duckdb


def _col(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Store:
    """A results folder. Open it with :meth:`open`; it is a context manager."""

    def __init__(self, path: Path, con: Any) -> None:
        self.path, self.con = path, con

    @classmethod
    def open(cls, folder: str | Path, read_only: bool = False) -> Store:
        folder = Path(folder)
        db = folder / DB_NAME
        if read_only and not db.exists():
            raise FileNotFoundError(f"no results in {folder} (expected {db})")
        folder.mkdir(parents=True, exist_ok=True)
        con = _duckdb().connect(str(db), read_only=read_only)
        store = cls(folder, con)
        if not read_only:
            store._schema()
        return store

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()

    def _schema(self) -> None:
        self.con.execute(
            """
            CREATE TABLE IF NOT EXISTS results (
                experiment VARCHAR, config_hash VARCHAR, workflow VARCHAR,
                replicate INTEGER, generation INTEGER, metric VARCHAR, value DOUBLE);
            CREATE TABLE IF NOT EXISTS chunks (
                config_hash VARCHAR, block INTEGER, replicates INTEGER, seconds DOUBLE, finished DOUBLE);
            CREATE TABLE IF NOT EXISTS cells (
                config_hash VARCHAR PRIMARY KEY, experiment VARCHAR, sweep JSON, config JSON);
            CREATE TABLE IF NOT EXISTS failures (
                config_hash VARCHAR, block INTEGER, experiment VARCHAR, sweep JSON, error VARCHAR, finished DOUBLE);
            CREATE TABLE IF NOT EXISTS runs (
                started DOUBLE, finished DOUBLE, seconds DOUBLE, experiment VARCHAR, seed BIGINT,
                config JSON, versions JSON, cells INTEGER, chunks_run INTEGER, chunks_skipped INTEGER);
            """
        )

    def add_sweep_columns(self, point: Mapping[str, Any]) -> None:
        have = {r[0] for r in self.con.execute("SELECT column_name FROM (DESCRIBE results)").fetchall()}
        for key, value in point.items():
            if key not in have:
                kind = "DOUBLE" if isinstance(value, int | float) and not isinstance(value, bool) else "VARCHAR"
                self.con.execute(f"ALTER TABLE results ADD COLUMN {_col(key)} {kind}")

    def register_cell(self, key: str, experiment: str, point: Mapping[str, Any], config: dict) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?)",
            [key, experiment, json.dumps(dict(point)), json.dumps(config)],
        )

    def done(self, key: str, block: int, replicates: int) -> bool:
        row = self.con.execute(
            "SELECT max(replicates) FROM chunks WHERE config_hash = ? AND block = ?", [key, block]
        ).fetchone()
        return row is not None and row[0] is not None and row[0] >= replicates

    def write_chunk(
        self,
        key: str,
        experiment: str,
        point: Mapping[str, Any],
        block: int,
        first: int,
        results: Mapping[str, Mapping[str, np.ndarray]],
        seconds: float,
    ) -> int:
        """Store ``results[workflow][metric]`` of shape (generations, replicates) atomically."""
        import pandas as pd  # lazy, like duckdb: importing the package must stay light

        frames = []
        for workflow, metrics in results.items():
            for metric, values in metrics.items():
                gens, reps = values.shape
                frames.append(
                    pd.DataFrame(
                        {
                            "workflow": workflow,
                            "replicate": np.tile(np.arange(first, first + reps, dtype=np.int32), gens),
                            "generation": np.repeat(np.arange(1, gens + 1, dtype=np.int32), reps),
                            "metric": metric,
                            "value": values.ravel(),
                        }
                    )
                )
        df = pd.concat(frames, ignore_index=True)
        df.insert(0, "config_hash", key)
        df.insert(0, "experiment", experiment)
        for k, v in point.items():
            df[k] = v
        reps = next(iter(next(iter(results.values())).values())).shape[1]
        cols = ", ".join(_col(c) for c in df.columns)
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(
                "DELETE FROM results WHERE config_hash = ? AND replicate >= ? AND replicate < ?",
                [key, first, first + reps],
            )
            self.con.execute("DELETE FROM chunks WHERE config_hash = ? AND block = ?", [key, block])
            self.con.execute("DELETE FROM failures WHERE config_hash = ? AND block = ?", [key, block])
            self.con.register("chunk_df", df)
            self.con.execute(f"INSERT INTO results ({cols}) SELECT {cols} FROM chunk_df")
            self.con.unregister("chunk_df")
            self.con.execute("INSERT INTO chunks VALUES (?, ?, ?, ?, ?)", [key, block, reps, seconds, time.time()])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return len(df)

    def record_failure(self, key: str, block: int, experiment: str, point: Mapping[str, Any], error: str) -> None:
        """A chunk that raised: kept with its error until a rerun computes it."""
        self.con.execute("DELETE FROM failures WHERE config_hash = ? AND block = ?", [key, block])
        self.con.execute(
            "INSERT INTO failures VALUES (?, ?, ?, ?, ?, ?)",
            [key, block, experiment, json.dumps(dict(point)), error, time.time()],
        )

    def failures(self) -> pd.DataFrame:
        return self.table("SELECT experiment, sweep, block, error FROM failures ORDER BY experiment, sweep, block")

    def nonfinite(self) -> pd.DataFrame:
        """Metric values stored as NaN (NULL in the table) or +-inf, counted per experiment, workflow and metric."""
        return self.table(
            """SELECT experiment, workflow, metric,
                      count(*) FILTER (WHERE value IS NULL OR NOT isfinite(value)) AS values, count(*) AS total,
                      min(generation) FILTER (WHERE value IS NULL OR NOT isfinite(value)) AS first_generation
               FROM results GROUP BY ALL HAVING values > 0 ORDER BY ALL"""
        )

    def record_run(self, meta: Mapping[str, Any]) -> None:
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                meta["started"],
                meta["finished"],
                meta["finished"] - meta["started"],
                meta["experiment"],
                meta["seed"],
                json.dumps(meta["config"]),
                json.dumps(meta["versions"]),
                meta["cells"],
                meta["chunks_run"],
                meta["chunks_skipped"],
            ],
        )

    def table(self, query: str = "SELECT * FROM results", params: list[Any] | None = None) -> pd.DataFrame:
        return self.con.execute(query, params or []).df()

    def sweep_columns(self) -> list[str]:
        fixed = {"experiment", "config_hash", "workflow", "replicate", "generation", "metric", "value"}
        cols = [r[0] for r in self.con.execute("SELECT column_name FROM (DESCRIBE results)").fetchall()]
        return [c for c in cols if c not in fixed]

    def summary(self, generations: list[int] | None = None, metrics: list[str] | None = None) -> pd.DataFrame:
        """Mean, standard error and count per (sweep cell, workflow, metric, generation)."""
        group = ", ".join(_col(c) for c in ["experiment", *self.sweep_columns(), "workflow", "metric", "generation"])
        where: list[str] = []
        params: list[Any] = []
        if generations:
            where.append(f"generation IN ({', '.join('?' * len(generations))})")
            params += generations
        if metrics:
            where.append(f"metric IN ({', '.join('?' * len(metrics))})")
            params += metrics
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return self.table(
            f"""SELECT {group}, avg(value) AS mean, stddev_samp(value) / sqrt(count(*)) AS se,
                       count(*) AS n, sum(CASE WHEN isfinite(value) THEN 0 ELSE 1 END) AS nonfinite
                FROM results {clause} GROUP BY {group} ORDER BY {group}""",
            params,
        )

    def merge(self, source: str | Path) -> int:
        """Add the finished chunks of another results folder (e.g. another machine's) to this store.

        A replicate's rows come from one chunk and equal keys hold equal numbers (every stream is keyed by
        the config), so rows this store already has are skipped and merging twice adds nothing. Cells, runs
        and the failures of chunks still missing come along; one transaction. Returns the rows added.
        """
        db = Path(source) / DB_NAME
        if not db.exists():
            raise FileNotFoundError(f"no results in {source} (expected {db})")
        self.con.execute(f"ATTACH '{str(db.resolve()).replace(chr(39), chr(39) * 2)}' AS src (READ_ONLY)")
        try:
            have = {r[0] for r in self.con.execute("SELECT column_name FROM (DESCRIBE results)").fetchall()}
            for name, kind in self.con.execute(
                "SELECT column_name, column_type FROM (DESCRIBE src.results)"
            ).fetchall():
                if name not in have:
                    self.con.execute(f"ALTER TABLE results ADD COLUMN {_col(name)} {kind}")
            cols = ", ".join(_col(r[0]) for r in self.con.execute("DESCRIBE src.results").fetchall())
            before = self._count()
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.execute(
                    f"""INSERT INTO results ({cols}) SELECT {cols} FROM src.results r WHERE NOT EXISTS (
                        SELECT 1 FROM results x WHERE x.config_hash = r.config_hash AND x.replicate = r.replicate)"""
                )
                self.con.execute(
                    """INSERT INTO chunks SELECT * FROM src.chunks c WHERE NOT EXISTS (
                       SELECT 1 FROM chunks x WHERE x.config_hash = c.config_hash AND x.block = c.block)"""
                )
                self.con.execute("INSERT OR IGNORE INTO cells SELECT * FROM src.cells")
                self.con.execute(
                    """INSERT INTO runs SELECT * FROM src.runs r WHERE NOT EXISTS (
                       SELECT 1 FROM runs x WHERE x.started = r.started AND x.experiment = r.experiment)"""
                )
                self.con.execute(  # failures of chunks that are now done (here or merged) are history
                    """DELETE FROM failures f WHERE EXISTS (
                       SELECT 1 FROM chunks c WHERE c.config_hash = f.config_hash AND c.block = f.block)"""
                )
                self.con.execute(
                    """INSERT INTO failures SELECT * FROM src.failures f WHERE NOT EXISTS (
                       SELECT 1 FROM chunks c WHERE c.config_hash = f.config_hash AND c.block = f.block)
                       AND NOT EXISTS (SELECT 1 FROM failures x WHERE x.config_hash = f.config_hash
                                       AND x.block = f.block AND x.finished = f.finished)"""
                )
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            return self._count() - before
        finally:
            self.con.execute("DETACH src")

    def _count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM results").fetchone()
        return int(row[0]) if row else 0

    def export(self, csv: str | Path | None = None, parquet: str | Path | None = None) -> None:
        order = "ORDER BY experiment, config_hash, workflow, metric, generation, replicate"
        if csv:
            self.con.execute(f"COPY (SELECT * FROM results {order}) TO '{Path(csv)}' (HEADER, DELIMITER ',')")
        if parquet:
            self.con.execute(f"COPY (SELECT * FROM results {order}) TO '{Path(parquet)}' (FORMAT PARQUET)")
