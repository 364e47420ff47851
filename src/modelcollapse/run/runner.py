"""Run an experiment (every sweep cell, every block of replicates) into a results folder."""

from __future__ import annotations

import platform
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse.run import executors
from modelcollapse.run.chunk import Chunk, block_count, cell_key, generations_folder, run_block
from modelcollapse.run.config import Experiment
from modelcollapse.run.loading import expand
from modelcollapse.store import Store

Progress = Callable[[str, int, int], None]  # (description, done, total)


@dataclass
class RunSummary:
    folder: Path
    cells: int
    chunks_run: int
    chunks_skipped: int
    rows: int
    seconds: float
    failed: int = 0  # chunks that raised (listed in the store's failures table)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("modelcollapse", "numpy", "scipy", "pydantic", "duckdb"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def run(
    raw: dict[str, Any],
    out: str | Path,
    progress: Progress | None = None,
    workers: int = 1,
    executor: str = "local",
    address: str | None = None,
) -> RunSummary:
    """Run (or resume) the experiment described by the raw config mapping into folder ``out``.

    The config is fully validated (every sweep cell) before anything is written. ``executor`` is
    ``inline``, ``local`` (``workers`` processes) or ``ray`` (a Ray cluster at ``address``, or a local
    one); the numbers are the same whatever the executor and the number of workers. Models registered
    with :func:`register_model` live in this process only, so they always run inline.
    """
    cells = expand(raw)
    started = time.time()
    rows = skipped = 0
    with Store.open(out) as store:
        todo = []
        for point, exp in cells:
            key = cell_key(exp)
            store.add_sweep_columns(point)
            store.register_cell(key, exp.name, point, exp.model_dump(mode="json"))
            size, nblocks = block_count(exp)
            durable = exp.family().durable
            for block in range(nblocks):
                keep = min(size, exp.replicates - block * size)
                if store.done(key, block, keep):
                    skipped += 1
                else:
                    folder = generations_folder(out, key, block) if durable else None
                    todo.append(Chunk(key, point, exp, block, block * size, keep, folder))
        total = len(todo) + skipped
        if any(not c.exp.portable for c in todo):  # kinds registered in this process alone
            executor = "inline"
        results = executors.executor(executor)(todo, workers, address)
        failed = 0
        left = Counter(c.key for c in todo)  # chunks still to do, per unfinished cell
        gens_total = sum(c.exp.generations * len(c.exp.workflow) * c.keep for c in todo)
        gens_done = 0
        for done, (c, res, seconds) in enumerate(results, start=skipped + 1):
            if isinstance(res, str):
                store.record_failure(c.key, c.block, c.exp.name, c.point, res)
                failed += 1
            else:
                rows += store.write_chunk(c.key, c.exp.name, c.point, c.block, c.first, res, seconds)
            left[c.key] -= 1
            gens_done += c.exp.generations * len(c.exp.workflow) * c.keep
            if progress:
                cells_done = len(cells) - sum(n > 0 for n in left.values())
                note = f"{c.exp.name}: {cells_done}/{len(cells)} cells, {gens_done:,}/{gens_total:,} generations"
                progress(note + (f", {failed} failed" if failed else ""), done, total)
        finished = time.time()
        first_exp = cells[0][1]
        store.record_run(
            {
                "started": started,
                "finished": finished,
                "experiment": first_exp.name,
                "seed": first_exp.seed,
                "config": raw,
                "versions": versions(),
                "cells": len(cells),
                "chunks_run": len(todo),
                "chunks_skipped": skipped,
            }
        )
    return RunSummary(Path(out), len(cells), len(todo), skipped, rows, finished - started, failed)


def simulate_experiment(exp: Experiment) -> dict[str, dict[str, np.ndarray]]:
    """All replicates of one experiment in memory: ``{workflow: {metric: (generations, replicates)}}``."""
    _, nblocks = block_count(exp)
    blocks = [run_block(exp, b) for b in range(nblocks)]
    return {
        w: {m: np.concatenate([b[w][m] for b in blocks], axis=1)[:, : exp.replicates] for m in blocks[0][w]}
        for w in blocks[0]
    }
