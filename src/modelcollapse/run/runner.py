"""Run an experiment (every sweep cell, every block of replicates) into a results folder."""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse._rng import stable_hash, stream
from modelcollapse.run.config import Experiment
from modelcollapse.run.engine import simulate
from modelcollapse.run.loading import expand
from modelcollapse.store import Store

Progress = Callable[[str, int, int], None]  # (description, done, total)


def cell_key(exp: Experiment) -> str:
    """Identifies a cell's results: the config without replicates and name."""
    return stable_hash(exp.model_dump(mode="json", exclude={"replicates", "name", "sweep"}))


def real_key(exp: Experiment) -> str:
    """Keys the real data: cells with the same source, size and seed see the same real data."""
    return stable_hash(["real", exp.source.model_dump(mode="json"), exp.samples_per_generation])


def chain_key(exp: Experiment, workflow: Any) -> str:
    parts = [exp.source, exp.model, workflow]
    return stable_hash(["chain", [p.model_dump(mode="json") for p in parts], exp.samples_per_generation])


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


def run_block(exp: Experiment, block: int) -> dict[str, dict[str, np.ndarray]]:
    """Every workflow of ``exp`` on the same real data for one block; values (generations, block size)."""
    family = exp.family()
    size, _ = block_count(exp)
    n, gens = exp.samples_per_generation, exp.generations
    world = exp.source.build().world(size, n, stream(exp.seed, real_key(exp), block))
    metrics = exp.metric_names()
    return {
        wf.label: simulate(
            world, family, wf.build(n, gens), gens, stream(exp.seed, chain_key(exp, wf), block), metrics
        )
        for wf in exp.workflow
    }


@dataclass
class RunSummary:
    folder: Path
    cells: int
    chunks_run: int
    chunks_skipped: int
    rows: int
    seconds: float


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("modelcollapse", "numpy", "scipy", "pydantic", "duckdb"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def run(raw: dict[str, Any], out: str | Path, progress: Progress | None = None) -> RunSummary:
    """Run (or resume) the experiment described by the raw config mapping into folder ``out``.

    The config is fully validated (every sweep cell) before anything is written.
    """
    cells = expand(raw)
    started = time.time()
    plan = [(point, exp, *block_count(exp)) for point, exp in cells]
    total = sum(nb for *_, nb in plan)
    done = ran = skipped = rows = 0
    with Store.open(out) as store:
        for point, exp, size, nblocks in plan:
            key = cell_key(exp)
            store.add_sweep_columns(point)
            store.register_cell(key, exp.name, point, exp.model_dump(mode="json"))
            for block in range(nblocks):
                first = block * size
                keep = min(size, exp.replicates - first)
                if store.done(key, block, keep):
                    skipped += 1
                else:
                    t0 = time.perf_counter()
                    res = run_block(exp, block)
                    trimmed = {w: {m: v[:, :keep] for m, v in r.items()} for w, r in res.items()}
                    rows += store.write_chunk(
                        key, exp.name, point, block, first, trimmed, time.perf_counter() - t0
                    )
                    ran += 1
                done += 1
                if progress:
                    progress(exp.name, done, total)
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
                "chunks_run": ran,
                "chunks_skipped": skipped,
            }
        )
    return RunSummary(Path(out), len(cells), ran, skipped, rows, finished - started)


def simulate_experiment(exp: Experiment) -> dict[str, dict[str, np.ndarray]]:
    """All replicates of one experiment in memory: ``{workflow: {metric: (generations, replicates)}}``."""
    _, nblocks = block_count(exp)
    blocks = [run_block(exp, b) for b in range(nblocks)]
    return {
        w: {m: np.concatenate([b[w][m] for b in blocks], axis=1)[:, : exp.replicates] for m in blocks[0][w]}
        for w in blocks[0]
    }
