"""Run an experiment (every sweep cell, every block of replicates) into a results folder."""

from __future__ import annotations

import platform
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse._rng import STREAMS
from modelcollapse.run import executors, plan
from modelcollapse.run.chunk import Chunk, block_count, cell_key, generations_folder, run_block
from modelcollapse.run.config import Experiment
from modelcollapse.run.loading import expand
from modelcollapse.store import DB_NAME, Identity, Member, Store, member

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


class Interrupted(Exception):
    """Ctrl-C: the run stopped cleanly; ``saved`` of ``total`` chunks are in the folder and a rerun resumes."""

    def __init__(self, folder: Path, saved: int, total: int) -> None:
        super().__init__(
            f"interrupted: {saved} of {total} chunks are saved in {folder}; rerun the same command to resume"
        )
        self.saved, self.total = saved, total


def identity(cells: list[tuple[dict[str, Any], Experiment]]) -> Member:
    """What the cells of one experiment are: the config fields they share and the fields they sweep, and
    how its random numbers are drawn (a folder written when a block of replicates shared one stream is another)."""
    exp = cells[0][1]
    axes = {k for point, _ in cells for k in point}
    found = member(exp.name, exp.replicates, [e.model_dump(mode="json") for _, e in cells], axes)
    return replace(found, fields={**found.fields, "random_streams": STREAMS})


def run(
    raw: dict[str, Any],
    out: str | Path,
    progress: Progress | None = None,
    workers: int = 1,
    executor: str = "local",
    address: str | None = None,
    allow_large: bool = False,
    bundle: Identity | None = None,
    gpus_per_task: float | None = None,
) -> RunSummary:
    """Run (or resume) the experiment described by the raw config mapping into folder ``out``.

    The config is fully validated (every sweep cell, and the plan's size: ``allow_large`` lifts the
    limits) and the folder checked to hold this experiment or nothing (``bundle``: the experiments of a
    reproduction, which share a folder) before anything is written. ``executor`` is ``inline``, ``local``
    (``workers`` processes) or ``ray`` (a Ray cluster at ``address``, or a local one); the numbers are the
    same whatever the executor and the number of workers. On Ray, a neural cell's task asks for
    ``gpus_per_task`` GPUs (default: the config's, else one on a cluster with GPUs). Models registered
    with :func:`register_model` live in this process only, so they always run inline. Ctrl-C raises
    :class:`Interrupted` once the chunks already computed are saved.
    """
    cells = expand(raw)
    plan.check(cells, allow_large)
    claim = bundle or Identity((identity(cells),))
    points = [point for point, _ in cells]
    if (Path(out) / DB_NAME).is_file():  # refuse before the folder is opened for writing
        with Store.open(out, read_only=True) as store:
            store.check(claim)
            store.sweep_columns_for(points)
    started = time.time()
    rows = skipped = 0
    with Store.open(out) as store:
        store.claim(claim)
        store.add_sweep_columns(points)
        todo = []
        for point, exp in cells:
            key = cell_key(exp)
            store.register_cell(key, exp.name, point, exp.model_dump(mode="json"))
            size, nblocks = block_count(exp)
            durable = exp.family().durable
            done = store.done_blocks(key)
            for block in range(nblocks):
                keep = min(size, exp.replicates - block * size)
                if done.get(block, 0) >= keep:
                    skipped += 1
                else:
                    folder = generations_folder(out, key, block) if durable else None
                    todo.append(Chunk(key, point, exp, block, block * size, keep, folder))
        total = len(todo) + skipped
        if any(not c.exp.portable for c in todo):  # kinds registered in this process alone
            executor = "inline"
        results = executors.executor(executor)(todo, workers, address, gpus_per_task)
        failed = 0
        left = Counter(c.key for c in todo)  # chunks still to do, per unfinished cell
        gens_total = sum(c.exp.generations * len(c.exp.workflow) * c.keep for c in todo)
        gens_done = 0
        with _noting_ctrl_c() as ctrl_c:
            try:
                for done_, (c, res, seconds) in enumerate(results, start=skipped + 1):
                    if isinstance(res, str):
                        store.record_failure(c.key, c.block, c.exp.name, c.point, res)
                        failed += 1
                    else:
                        rows += store.write_chunk(c.key, c.exp.name, c.point, c.block, c.first, res, seconds)
                    left[c.key] -= 1
                    gens_done += c.exp.generations * len(c.exp.workflow) * c.keep
                    if progress:
                        cells_done = len(cells) - sum(n > 0 for n in left.values())
                        note = (
                            f"{c.exp.name}: {cells_done}/{len(cells)} cells, {gens_done:,}/{gens_total:,} generations"
                        )
                        progress(note + (f", {failed} failed" if failed else ""), done_, total)
            except BaseException as error:  # DuckDB may turn a Ctrl-C inside a query into any of its errors
                if not (ctrl_c.is_set() or isinstance(error, KeyboardInterrupt)):
                    raise
                results.close()  # stops the workers
                stored = {key: store.done_blocks(key) for key in left}  # what reached the disk, commit by commit
                saved = skipped + sum(stored[c.key].get(c.block, 0) >= c.keep for c in todo)
                raise Interrupted(Path(out), saved, total) from None
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
                "identity": claim.hash,
            }
        )
    return RunSummary(Path(out), len(cells), len(todo), skipped, rows, finished - started, failed)


@contextmanager
def _noting_ctrl_c() -> Iterator[threading.Event]:
    """Ctrl-C still raises KeyboardInterrupt, and is also noted: DuckDB reports a query it interrupts as
    its own error (InterruptException, a RuntimeError, an error quoting a Python traceback)."""
    noted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return

    def note(signum: int, frame: Any) -> None:
        noted.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)


def simulate_experiment(exp: Experiment) -> dict[str, dict[str, np.ndarray]]:
    """All replicates of one experiment in memory: ``{workflow: {metric: (generations, replicates)}}``."""
    _, nblocks = block_count(exp)
    blocks = [run_block(exp, b) for b in range(nblocks)]
    return {
        w: {m: np.concatenate([b[w][m] for b in blocks], axis=1) for m in blocks[0][w]}
        for w in blocks[0]
    }
