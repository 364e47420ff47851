"""The results store: one tidy long table in a DuckDB file, plus run metadata.

``results`` has one row per (experiment, cell, workflow, replicate, generation,
metric) with a column per swept field. A *chunk* (one block of replicates of
one cell, all workflows) is written in one transaction together with its marker
in ``chunks``, so a killed run leaves either the whole chunk or none of it and a
rerun skips what is done. ``experiments`` records what the folder is for
(:mod:`modelcollapse.store.identity`) and how many replicates its last run asked
for: readers see exactly those.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelcollapse.store.identity import Identity, Member, Refused, from_cells

if TYPE_CHECKING:
    import pandas as pd

DB_NAME = "results.duckdb"
GRID_AXES = ("n_real", "n_syn")  # the sweep columns of a real-synthetic grid
TABLES = ("results", "chunks", "cells", "failures", "runs", "experiments")


class StoreError(RuntimeError):
    """A results store that cannot be opened (locked by another run, damaged); one line."""


def _duckdb():  # type: ignore[no-untyped-def]
    import duckdb  # lazy: importing the package must stay light

    return duckdb


# What each fixed results column is made of when a chunk is written: "?" for the chunk's constants (query
# parameters), else a column of its Arrow table; NaN ("not defined for this setting") is stored as NULL.
CHUNK_ROWS = {
    "experiment": "?",
    "config_hash": "?",
    "workflow": "workflow::VARCHAR",
    "replicate": "replicate",
    "generation": "generation",
    "metric": "metric::VARCHAR",
    "value": "CASE WHEN isnan(value) THEN NULL ELSE value END",
}
FIXED = tuple(CHUNK_ROWS)  # the results columns every row has; a swept field never takes one of their names


def _col(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column(key: str) -> str:
    """The results column of a swept field: its dotted path, or ``sweep.<path>`` where that names a fixed
    column (a sweep over ``workflow`` must not overwrite the workflow labels)."""
    return f"sweep.{key}" if key in FIXED else key


def cell_value(value: Any) -> float | str:
    """A swept value as stored: numbers as DOUBLE, anything else as text (JSON for lists and mappings)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def rollback(con: Any) -> None:
    """Undo the open transaction; a statement interrupted by Ctrl-C may have ended it already."""
    try:
        con.execute("ROLLBACK")
    except _duckdb().Error:
        pass


def _opening_error(folder: Path, err: Exception) -> StoreError:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    if any(words in text.lower() for words in ("set lock", "conflicting lock", "in use", "existing connections")):
        return StoreError(f"{folder}: the results store is in use by another run (or connection); wait for it")
    return StoreError(f"{folder}: {DB_NAME} is not a readable results store ({text[:120]})")


class Store:
    """A results folder. Open it with :meth:`open`; it is a context manager."""

    def __init__(self, path: Path, con: Any) -> None:
        self.path, self.con = path, con

    @classmethod
    def open(cls, folder: str | Path, read_only: bool = False) -> Store:
        """Open (``read_only``: read) a results folder; a write creates it. A reader sees each experiment's
        replicates up to the count its last run asked for; a writer sees every stored row."""
        folder = Path(folder)
        db = folder / DB_NAME
        if "\\" in str(db):
            raise Refused(f"{folder}: a results folder's path cannot hold a backslash (DuckDB reads it as a separator)")
        if read_only and not db.is_file():
            raise FileNotFoundError(f"no results in {folder} (expected {db})")
        duckdb = _duckdb()
        try:
            if read_only:
                con = duckdb.connect(str(db), read_only=True)
            else:
                folder.mkdir(parents=True, exist_ok=True)
                con = duckdb.connect(str(db))
        except duckdb.Error as err:
            raise _opening_error(folder, err) from None
        store = cls(folder, con)
        try:
            store._views() if read_only else store._schema()
        except duckdb.Error as err:
            con.close()
            raise _opening_error(folder, err) from None
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
            ALTER TABLE runs ADD COLUMN IF NOT EXISTS identity VARCHAR;
            CREATE TABLE IF NOT EXISTS experiments (
                position INTEGER, name VARCHAR, replicates BIGINT, fields JSON, axes JSON, identity VARCHAR);
            """
        )

    def _views(self) -> None:
        """Read-only: temporary views, named like the store's tables, over its base tables (never over a view
        it defines); ``results`` shows the replicates asked for."""
        row = self.con.execute("SELECT current_database()").fetchone()
        db = _col(row[0] if row else "results")
        tables = "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'"
        have = {r[0] for r in self.con.execute(tables, [row[0] if row else "results"]).fetchall()}
        for name in TABLES:
            if name in have and name != "results":
                self.con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM {db}.main.{name}")
        if "experiments" in have:
            self.con.execute(
                f"""CREATE TEMP VIEW results AS SELECT r.* FROM {db}.main.results r WHERE NOT EXISTS (
                    SELECT 1 FROM {db}.main.experiments e
                    WHERE e.name = r.experiment AND r.replicate >= e.replicates)"""
            )
        elif "results" in have:  # written before experiments were recorded: every row
            self.con.execute(f"CREATE TEMP VIEW results AS SELECT * FROM {db}.main.results")

    def identity(self) -> Identity | None:
        """What this folder holds (None while it holds nothing)."""
        rows = self.con.execute("SELECT name, replicates, fields, axes FROM experiments ORDER BY position").fetchall()
        if rows:
            return Identity(tuple(Member(n, int(r), json.loads(f), tuple(json.loads(a))) for n, r, f, a in rows))
        return from_cells(self.con.execute("SELECT experiment, sweep, config FROM cells").fetchall())

    def check(self, identity: Identity) -> None:
        """Refuse, in one line naming the fields that differ, an identity that is another experiment's."""
        have = self.identity()
        if have is not None and (why := have.mismatch(identity)):
            raise Refused(f"{self.path} holds another experiment: {why}; use another --out, or the same config")

    def claim(self, identity: Identity) -> None:
        """Make this folder ``identity``'s (checked first): names and replicate counts become the new ones."""
        self.check(identity)
        have = self.identity()
        self.con.execute("BEGIN TRANSACTION")
        try:
            for old, new in zip(have.members if have else identity.members, identity.members, strict=True):
                if old.name != new.name:
                    for table in ("results", "cells", "failures"):
                        self.con.execute(
                            f"UPDATE {table} SET experiment = ? WHERE experiment = ?", [new.name, old.name]
                        )
            self.record_identity(identity)
            self.con.execute("COMMIT")
        except BaseException:
            rollback(self.con)
            raise

    def sweep_columns_for(self, points: Iterable[Mapping[str, Any]]) -> dict[str, str]:
        """The columns (name -> type) the swept fields still need: DOUBLE when every value is a number, else
        text. A field whose values were numbers in this folder and are text now is refused (one column
        cannot hold both)."""
        kinds: dict[str, str] = {}
        for point in points:
            for key, value in point.items():
                text = isinstance(cell_value(value), str)
                kinds[column(key)] = "VARCHAR" if text or kinds.get(column(key)) == "VARCHAR" else "DOUBLE"
        have = dict(self.con.execute("SELECT column_name, column_type FROM (DESCRIBE results)").fetchall())
        for name, kind in kinds.items():
            if have.get(name) == "DOUBLE" and kind == "VARCHAR":
                raise Refused(f"sweep.{name}: this folder's values are numbers, this run's are not")
        return {name: kind for name, kind in kinds.items() if name not in have}

    def record_identity(self, identity: Identity) -> None:
        """Write ``identity`` as the folder's (inside the caller's transaction)."""
        self.con.execute("DELETE FROM experiments")
        for i, m in enumerate(identity.members):
            self.con.execute(
                "INSERT INTO experiments VALUES (?, ?, ?, ?, ?, ?)",
                [i, m.name, m.replicates, json.dumps(m.fields), json.dumps(list(m.axes)), identity.hash],
            )

    def add_sweep_columns(self, points: Iterable[Mapping[str, Any]]) -> None:
        for name, kind in self.sweep_columns_for(points).items():
            self.con.execute(f"ALTER TABLE results ADD COLUMN {_col(name)} {kind}")

    def done_blocks(self, key: str) -> dict[int, int]:
        """The finished blocks of a cell: block -> replicates it holds."""
        rows = self.con.execute(
            "SELECT block, max(replicates) FROM chunks WHERE config_hash = ? GROUP BY block", [key]
        ).fetchall()
        return {int(b): int(r) for b, r in rows}

    def register_cell(self, key: str, experiment: str, point: Mapping[str, Any], config: dict) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?)",
            [key, experiment, json.dumps(dict(point)), json.dumps(config)],
        )

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
        """Store ``results[workflow][metric]`` of shape (generations, replicates) atomically.

        The rows are built as whole columns (one Arrow table a chunk); the columns every row of the chunk
        shares (experiment, cell, swept values) go in as query parameters; NaN is stored as NULL.
        """
        import pyarrow as pa  # lazy, like duckdb: importing the package must stay light

        parts = [(w, m, np.asarray(v, float)) for w, metrics in results.items() for m, v in metrics.items()]
        index = np.repeat(np.arange(len(parts), dtype=np.int32), [v.size for *_, v in parts])
        table = pa.table(
            {
                "workflow": pa.DictionaryArray.from_arrays(index, pa.array([w for w, _, _ in parts])),
                "metric": pa.DictionaryArray.from_arrays(index, pa.array([m for _, m, _ in parts])),
                "replicate": np.concatenate(
                    [np.tile(np.arange(first, first + v.shape[1], dtype=np.int32), v.shape[0]) for *_, v in parts]
                ),
                "generation": np.concatenate(
                    [np.repeat(np.arange(1, v.shape[0] + 1, dtype=np.int32), v.shape[1]) for *_, v in parts]
                ),
                "value": np.concatenate([v.ravel() for *_, v in parts]),
            }
        )
        swept = [column(k) for k in point]
        cols = ", ".join(_col(c) for c in [*CHUNK_ROWS, *swept])
        values = ", ".join([*CHUNK_ROWS.values(), *["?"] * len(swept)])
        constants = [experiment, key, *(cell_value(v) for v in point.values())]
        reps = parts[0][2].shape[1]
        self.con.execute("BEGIN TRANSACTION")
        try:
            # Rows are only ever stored with their chunk's marker: a cell without markers has no rows to
            # replace, and the scan of the results table that finding them costs is spared.
            if self.con.execute("SELECT count(*) FROM chunks WHERE config_hash = ?", [key]).fetchone()[0]:
                self.con.execute(
                    "DELETE FROM results WHERE config_hash = ? AND replicate >= ? AND replicate < ?",
                    [key, first, first + reps],
                )
            self.con.execute("DELETE FROM chunks WHERE config_hash = ? AND block = ?", [key, block])
            self.con.execute("DELETE FROM failures WHERE config_hash = ? AND block = ?", [key, block])
            self.con.register("chunk_rows", table)
            self.con.execute(f"INSERT INTO results ({cols}) SELECT {values} FROM chunk_rows", constants)
            self.con.unregister("chunk_rows")
            self.con.execute("INSERT INTO chunks VALUES (?, ?, ?, ?, ?)", [key, block, reps, seconds, time.time()])
            self.con.execute("COMMIT")
        except BaseException:
            rollback(self.con)
            raise
        return table.num_rows

    def record_failure(self, key: str, block: int, experiment: str, point: Mapping[str, Any], error: str) -> None:
        """A chunk that raised: kept with its error until a rerun computes it."""
        self.con.execute("DELETE FROM failures WHERE config_hash = ? AND block = ?", [key, block])
        self.con.execute(
            "INSERT INTO failures VALUES (?, ?, ?, ?, ?, ?)",
            [key, block, experiment, json.dumps(dict(point)), error, time.time()],
        )

    def failures(self) -> pd.DataFrame:
        return self.table("SELECT experiment, sweep, block, error FROM failures ORDER BY experiment, sweep, block")

    def nonfinite(self, from_generation_2: Sequence[str] = ()) -> pd.DataFrame:
        """Metric values stored as NaN (NULL in the table: undefined) and as +-inf (diverged, absorbed,
        singular), counted apart per experiment, workflow and metric; the series in ``from_generation_2``
        (a selection's values: there is no synthetic batch in generation 1) are counted from generation 2."""
        return self.table(
            """SELECT experiment, workflow, metric,
                      count(*) FILTER (WHERE value IS NULL OR isnan(value)) AS nan,
                      count(*) FILTER (WHERE isinf(value)) AS inf, count(*) AS total,
                      min(generation) FILTER (WHERE value IS NULL OR NOT isfinite(value)) AS first_generation
               FROM results WHERE generation > 1 OR NOT list_contains(?, metric)
               GROUP BY ALL HAVING nan + inf > 0 ORDER BY ALL""",
            [list(from_generation_2)],
        )

    def record_run(self, meta: Mapping[str, Any]) -> None:
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                meta["identity"],
            ],
        )

    def table(self, query: str = "SELECT * FROM results", params: list[Any] | None = None) -> pd.DataFrame:
        return self.con.execute(query, params or []).df()

    def sweep_columns(self) -> list[str]:
        fixed = {"experiment", "config_hash", "workflow", "replicate", "generation", "metric", "value"}
        cols = [r[0] for r in self.con.execute("SELECT column_name FROM (DESCRIBE results)").fetchall()]
        return [c for c in cols if c not in fixed]

    def summary(self, generations: list[int] | None = None, metrics: list[str] | None = None) -> pd.DataFrame:
        """Mean, standard error and count per (sweep cell, workflow, metric, generation); cells are told apart
        by their key too, never pooled because their swept values read alike (a large integer as a DOUBLE)."""
        cols = ["experiment", *self.sweep_columns(), "config_hash", "workflow", "metric", "generation"]
        group = ", ".join(_col(c) for c in cols)
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

    def count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM results").fetchone()
        return int(row[0]) if row else 0

    def export(self, csv: str | Path | None = None, parquet: str | Path | None = None) -> None:
        """The results table, sorted, to CSV and/or Parquet (paths are passed as values, never into SQL)."""
        rows = self.con.sql(
            "SELECT * FROM results ORDER BY experiment, config_hash, workflow, metric, generation, replicate"
        )
        if csv:
            rows.write_csv(str(csv), header=True, sep=",")
        if parquet:
            rows.write_parquet(str(parquet))
