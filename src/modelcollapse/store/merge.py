"""Merging another folder's results: an untrusted store, checked before anything here is touched.

The source is opened read-only with file access disabled, so a view or macro it defines cannot read a
local file; only its base tables are read, and only after their columns and types are checked. Its
experiment must be this folder's (:mod:`modelcollapse.store.identity`). Then everything (new sweep
columns included) goes in one transaction: a failed merge leaves the destination as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelcollapse.store.identity import Identity, Member, Refused, from_cells

if TYPE_CHECKING:
    import pyarrow as pa

    from modelcollapse.store.database import Store

COLUMNS = {  # the columns a results store's tables must have, with their types
    "results": {
        "experiment": "VARCHAR",
        "config_hash": "VARCHAR",
        "workflow": "VARCHAR",
        "replicate": "INTEGER",
        "generation": "INTEGER",
        "metric": "VARCHAR",
        "value": "DOUBLE",
    },
    "chunks": {
        "config_hash": "VARCHAR",
        "block": "INTEGER",
        "replicates": "INTEGER",
        "seconds": "DOUBLE",
        "finished": "DOUBLE",
    },
    "cells": {"config_hash": "VARCHAR", "experiment": "VARCHAR", "sweep": "JSON", "config": "JSON"},
    "failures": {
        "config_hash": "VARCHAR",
        "block": "INTEGER",
        "experiment": "VARCHAR",
        "sweep": "JSON",
        "error": "VARCHAR",
        "finished": "DOUBLE",
    },
    "runs": {
        "started": "DOUBLE",
        "finished": "DOUBLE",
        "seconds": "DOUBLE",
        "experiment": "VARCHAR",
        "seed": "BIGINT",
        "config": "JSON",
        "versions": "JSON",
        "cells": "INTEGER",
        "chunks_run": "INTEGER",
        "chunks_skipped": "INTEGER",
    },
}
SWEEP_TYPES = ("DOUBLE", "VARCHAR")
MAX_NAME = 200  # characters of a sweep column's name


@dataclass(frozen=True)
class Incoming:
    """A checked source store, read into memory: its tables, sweep columns and identity."""

    source: Path
    tables: dict[str, pa.Table]
    sweep: dict[str, str]
    identity: Identity | None


def read(source: Path, dest: Path) -> Incoming:
    """Open ``source`` read-only with file access disabled, check it, and read its base tables."""
    from modelcollapse.store.database import DB_NAME, _duckdb

    db = source / DB_NAME
    if not db.is_file():
        raise Refused(f"no results in {source} (expected {db})")
    if db.resolve() == (dest / DB_NAME).resolve():
        raise Refused(f"{source}: a folder cannot be merged into itself")
    duckdb = _duckdb()
    try:
        with duckdb.connect(str(db), read_only=True, config={"enable_external_access": False}) as src:
            tables, sweep, identity = _checked(src, source)
            frames = {n: src.sql(f"SELECT {c} FROM main.{n}").to_arrow_table() for n, c in tables.items()}
    except duckdb.Error as err:
        raise Refused(f"{source}: not a readable results store ({_first(err)})") from None
    return Incoming(source, frames, sweep, identity)


def target(have: Identity | None, incoming: list[Incoming], dest: Path) -> Identity | None:
    """The destination's identity after the merge (refused when a source holds another experiment):
    the destination's names, and the largest replicate count of each experiment."""
    for inc in incoming:
        if inc.identity is None:
            continue
        if have is None:
            have = inc.identity
        elif why := have.mismatch(inc.identity):
            raise Refused(f"{inc.source} holds another experiment than {dest}: {why}")
        else:
            have = Identity(
                tuple(
                    Member(d.name, max(d.replicates, s.replicates), d.fields, d.axes)
                    for s, d in zip(inc.identity.members, have.members, strict=True)
                )
            )
    return have


def merge(dest: Store, sources: list[Path]) -> list[int]:
    """Merge other folders (other machines' shares of a sweep) into ``dest``, all or nothing; returns the
    rows each added."""
    return add(dest, [read(Path(s), dest.path) for s in sources])


def add(dest: Store, incoming: list[Incoming]) -> list[int]:
    """Add the checked sources' (:func:`read`) finished chunks, cells, runs and pending failures to
    ``dest`` in one transaction; returns the rows each added.

    Rows ``dest`` already has (same cell, same replicate) are skipped: equal keys hold equal numbers, so
    merging twice adds nothing. The sources' experiment names become the destination's.
    """
    from modelcollapse.store.database import rollback

    identity = target(dest.identity(), incoming, dest.path)
    if identity is None:
        return [0 for _ in incoming]  # nothing anywhere
    have = dict(dest.con.execute("SELECT column_name, column_type FROM (DESCRIBE results)").fetchall())
    for inc in incoming:
        for name, kind in inc.sweep.items():
            if have.setdefault(name, kind) != kind:
                raise Refused(f"{inc.source}: results column {name[:40]!r} is {kind} there, {have[name]} here")
    added = []
    con = dest.con
    con.execute("BEGIN TRANSACTION")
    try:
        for inc in incoming:
            before = dest.count()
            if inc.identity is not None:
                names = {s.name: d.name for s, d in zip(inc.identity.members, identity.members, strict=True)}
                _add(con, {n: _renamed(t, names) for n, t in inc.tables.items()}, inc.sweep)
            added.append(dest.count() - before)
        dest.record_identity(identity)
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    return added


def _add(con: Any, frames: dict[str, pa.Table], sweep: dict[str, str]) -> None:
    """Insert one checked source's rows that the destination lacks (inside the caller's transaction)."""
    from modelcollapse.store.database import _col

    existing = {r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE results)").fetchall()}
    for name, kind in sweep.items():
        if name not in existing:
            con.execute(f"ALTER TABLE results ADD COLUMN {_col(name)} {kind}")
    for name, frame in frames.items():
        con.register(f"src_{name}", frame)
    try:
        cols = ", ".join(_col(c) for c in frames["results"].column_names)
        con.execute(
            f"""INSERT INTO results ({cols}) SELECT {cols} FROM src_results r WHERE NOT EXISTS (
                SELECT 1 FROM results x WHERE x.config_hash = r.config_hash AND x.replicate = r.replicate)"""
        )
        con.execute(
            """INSERT INTO chunks SELECT * FROM src_chunks c WHERE NOT EXISTS (
               SELECT 1 FROM chunks x WHERE x.config_hash = c.config_hash AND x.block = c.block)"""
        )
        con.execute("INSERT OR IGNORE INTO cells SELECT * FROM src_cells")
        if "runs" in frames:
            run_cols = ", ".join(frames["runs"].column_names)
            con.execute(
                f"""INSERT INTO runs ({run_cols}) SELECT {run_cols} FROM src_runs r WHERE NOT EXISTS (
                    SELECT 1 FROM runs x WHERE x.started = r.started AND x.experiment = r.experiment)"""
            )
        con.execute(  # failures of chunks that are now done (here or merged) are history
            """DELETE FROM failures f WHERE EXISTS (
               SELECT 1 FROM chunks c WHERE c.config_hash = f.config_hash AND c.block = f.block)"""
        )
        if "failures" in frames:
            con.execute(
                """INSERT INTO failures SELECT * FROM src_failures f WHERE NOT EXISTS (
                   SELECT 1 FROM chunks c WHERE c.config_hash = f.config_hash AND c.block = f.block)
                   AND NOT EXISTS (SELECT 1 FROM failures x WHERE x.config_hash = f.config_hash
                                   AND x.block = f.block AND x.finished = f.finished)"""
            )
    finally:
        for name in frames:
            con.unregister(f"src_{name}")


def _checked(src: Any, source: Path) -> tuple[dict[str, str], dict[str, str], Identity | None]:
    """The tables to read (name -> quoted columns), the sweep columns (name -> type) and the identity of an
    untrusted store, after checking that its tables are base tables with the columns a store has."""
    from modelcollapse.store.database import _col

    rows = src.execute(
        """SELECT table_name, column_name, data_type FROM duckdb_columns()
           WHERE schema_name = 'main' AND table_name IN (
               SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary)"""
    ).fetchall()
    found: dict[str, dict[str, str]] = {}
    for table, name, kind in rows:
        found.setdefault(table, {})[name] = kind
    tables: dict[str, str] = {}
    sweep: dict[str, str] = {}
    for table, want in COLUMNS.items():
        have = found.get(table)
        if have is None:
            if table in ("results", "chunks", "cells"):
                raise Refused(f"{source}: not a results store (no table {table!r})")
            continue
        for name, kind in want.items():
            if have.get(name) != kind:
                got = have.get(name, "missing")
                raise Refused(f"{source}: not a results store ({table}.{name} is {got[:20]}, expected {kind})")
        extra = {k: v for k, v in have.items() if k not in want}
        if table == "results":
            for name, kind in extra.items():
                if kind not in SWEEP_TYPES or len(name) > MAX_NAME or not name.isprintable():
                    raise Refused(f"{source}: not a results store (results column {name[:40]!r} of type {kind[:20]})")
            sweep = extra
            tables[table] = ", ".join(_col(c) for c in [*want, *extra])
        else:
            tables[table] = ", ".join(_col(c) for c in want)
    identity = _identity(src, found, source)
    _consistent(src, source, set(sweep), identity)
    return tables, sweep, identity


CHECKS = {  # what a store's rows must satisfy, each a query counting the rows that break it
    "rows with an empty key": """SELECT count(*) FROM main.results WHERE experiment IS NULL OR config_hash IS NULL
        OR workflow IS NULL OR replicate IS NULL OR generation IS NULL OR metric IS NULL""",
    "rows stored twice": """SELECT count(*) FROM (SELECT config_hash, workflow, replicate, generation, metric
        FROM main.results GROUP BY ALL HAVING count(*) > 1)""",
    "rows of no cell": """SELECT count(*) FROM main.results r WHERE NOT EXISTS (
        SELECT 1 FROM main.cells c WHERE c.config_hash = r.config_hash)""",
    "rows outside their cell's replicates or generations": """SELECT count(*) FROM main.results r
        JOIN main.cells c USING (config_hash) WHERE r.replicate < 0 OR r.generation < 1
        OR r.generation > TRY_CAST(c.config->>'generations' AS BIGINT)
        OR r.replicate >= TRY_CAST(c.config->>'replicates' AS BIGINT)""",
    "chunk markers without their rows": """SELECT count(*) FROM main.chunks k WHERE k.config_hash IS NULL
        OR k.block IS NULL OR k.replicates IS NULL OR k.block < 0 OR k.replicates < 1
        OR NOT EXISTS (SELECT 1 FROM main.results r WHERE r.config_hash = k.config_hash)""",
}


def _consistent(src: Any, source: Path, sweep: set[str], identity: Identity | None) -> None:
    """Refuse a store whose rows contradict themselves: what an honest run cannot write."""
    from modelcollapse.store.database import column

    for what, query in CHECKS.items():
        (count,) = src.execute(query).fetchall()[0]
        if count:
            raise Refused(f"{source}: not a results store ({count} {what})")
    axes = {column(a) for m in (identity.members if identity else ()) for a in m.axes}
    if extra := sorted(sweep - axes):
        raise Refused(f"{source}: not a results store (results column {extra[0][:40]!r} is no sweep axis)")


def _identity(src: Any, found: dict[str, dict[str, str]], source: Path) -> Identity | None:
    try:
        if "experiments" in found:
            rows = src.execute(
                "SELECT name, replicates, fields, axes FROM main.experiments ORDER BY position"
            ).fetchall()
            if rows:
                return Identity(
                    tuple(
                        Member(str(n), int(r), dict(json.loads(f)), tuple(map(str, json.loads(a))))
                        for n, r, f, a in rows
                    )
                )
        return from_cells(src.execute("SELECT experiment, sweep, config FROM main.cells").fetchall())
    except (TypeError, ValueError) as err:
        raise Refused(f"{source}: not a results store (its experiments cannot be read: {str(err)[:80]})") from None


def _renamed(frame: pa.Table, names: dict[str, str]) -> pa.Table:
    """``frame`` with its experiment names mapped to the destination's."""
    if "experiment" not in frame.column_names or all(k == v for k, v in names.items()):
        return frame
    import pyarrow as pa

    i = frame.column_names.index("experiment")
    column = pa.array([names.get(x, x) for x in frame.column(i).to_pylist()], pa.string())
    return frame.set_column(i, "experiment", column)


def _first(err: Exception) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0][:120]
