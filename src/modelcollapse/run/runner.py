"""Run an experiment (every sweep cell, every block of replicates) into a results folder."""

from __future__ import annotations

import math
import platform
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse._rng import stable_hash, stream
from modelcollapse.run import executors
from modelcollapse.run.config import Experiment, UserModelConfig
from modelcollapse.run.engine import simulate
from modelcollapse.run.journal import Journal
from modelcollapse.run.loading import expand
from modelcollapse.store import Store

Progress = Callable[[str, int, int], None]  # (description, done, total)


def cell_key(exp: Experiment) -> str:
    """Identifies a cell's results: the config without replicates and name."""
    return stable_hash(exp.model_dump(mode="json", exclude={"replicates", "name", "sweep", "grid"}))


def real_key(exp: Experiment) -> str:
    """Keys the real data: cells with the same source, size and seed see the same real data."""
    return stable_hash(["real", exp.source.model_dump(mode="json"), exp.samples_per_generation])


def chain_key(exp: Experiment, workflow: Any) -> str:
    parts = [exp.source.model_dump(mode="json"), exp.model.model_dump(mode="json"), workflow.chain()]
    return stable_hash(["chain", parts, exp.samples_per_generation])


def journal(exp: Experiment, workflow: Any, folder: Path) -> Journal:
    """Where a durable chain's generations go: ``folder/<workflow>``, except the leading generations that
    cells share (a grid's generator), which live once per block under ``generations/chain-<key>/``."""
    upto = workflow.shared_generations
    if not upto:
        return Journal(folder / workflow.label)
    key = stable_hash([chain_key(exp, workflow), exp.metric_names()])
    return Journal(folder / workflow.label, folder.parent.parent / f"chain-{key[:16]}" / folder.name, upto)


POOL_BYTES_PER_BLOCK = 1 << 30


def block_size(exp: Experiment) -> int:
    """Replicates per random stream: the family's block, shrunk so a row pool stays under 1 GiB.

    A pure function of the config (never of ``replicates``), so replicate r's
    numbers do not depend on how many replicates run.
    """
    size = exp.family().block
    n, gens = exp.samples_per_generation, exp.generations
    if any(wf.build(n, gens).needs_rows for wf in exp.workflow):
        per_replicate = n * gens * exp.source.row_bytes
        size = max(1, min(size, POOL_BYTES_PER_BLOCK // per_replicate))
    return size


def block_count(exp: Experiment) -> tuple[int, int]:
    """(replicates per block, number of blocks)."""
    size = block_size(exp)
    return size, math.ceil(exp.replicates / size)


def run_block(exp: Experiment, block: int, folder: Path | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Every workflow of ``exp`` on the same real data for one block; values (generations, block size).

    With a ``folder``, durable families write every generation under ``folder/<workflow>/`` and resume there.
    """
    family = exp.family()
    size, _ = block_count(exp)
    n, gens = exp.samples_per_generation, exp.generations
    world = exp.source.build().world(size, n, stream(exp.seed, real_key(exp), block))
    metrics = exp.metric_names()
    return {
        wf.label: simulate(
            world,
            family,
            wf.build(n, gens),
            gens,
            stream(exp.seed, chain_key(exp, wf), block),
            metrics,
            None if folder is None else journal(exp, wf, folder),
        )
        for wf in exp.workflow
    }


def generations_folder(out: str | Path, key: str, block: int) -> Path:
    """Where the durable generations (checkpoints, synthetic data) of one block of one cell live."""
    return Path(out) / "generations" / key[:16] / f"block-{block:04d}"


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


@dataclass(frozen=True)
class Chunk:
    """One unit of work and of storage: a block of replicates of one cell, all workflows."""

    key: str
    point: dict[str, Any]
    exp: Experiment
    block: int
    first: int  # index of the block's first replicate
    keep: int  # replicates of the block that the run asked for
    folder: Path | None = None  # durable generations, for the families that write them


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
            durable = getattr(exp.family(), "durable", False)
            for block in range(nblocks):
                keep = min(size, exp.replicates - block * size)
                if store.done(key, block, keep):
                    skipped += 1
                else:
                    folder = generations_folder(out, key, block) if durable else None
                    todo.append(Chunk(key, point, exp, block, block * size, keep, folder))
        total = len(todo) + skipped
        if any(isinstance(c.exp.model, UserModelConfig) for c in todo):
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
