"""One chunk of work: a block of replicates of one sweep cell, every workflow, and the keys of its streams.

Every random stream is keyed by the config and the replicate (``SeedSequence(seed, key, replicate)``), so a
chunk's numbers do not depend on where, when or next to what it runs, nor on the size of its block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse._rng import Streams, stable_hash
from modelcollapse.run.config import Experiment
from modelcollapse.run.engine import simulate
from modelcollapse.run.journal import Journal


def cell_key(exp: Experiment) -> str:
    """Identifies a cell's results: the config without replicates and name."""
    return stable_hash(exp.model_dump(mode="json", exclude={"replicates", "name", "sweep", "grid"}))


def real_key(exp: Experiment) -> str:
    """Keys the real data: cells with the same source, size and seed see the same real data."""
    return stable_hash(["real", exp.source.model_dump(mode="json"), exp.samples_per_generation])


def chain_key(exp: Experiment, workflow: Any) -> str:
    """Keys a chain's streams: cells that differ only in their selection share them (paired comparisons)."""
    parts = [exp.source.model_dump(mode="json"), exp.model.model_dump(mode="json"), workflow.chain()]
    return stable_hash(["chain", parts, exp.samples_per_generation])


def journal(exp: Experiment, workflow: Any, folder: Path) -> Journal:
    """Where a durable chain's generations go: ``folder/<workflow>``, except the leading generations that
    cells share (a grid's generator), which live once per block under ``generations/chain-<key>/``."""
    upto = workflow.shared_generations
    if not upto:
        return Journal(folder / workflow.label)
    selection = [[s.model_dump(mode="json") for s in exp.selection], exp.selection_mode] if exp.selection else []
    key = stable_hash([chain_key(exp, workflow), exp.metric_names(), *selection])
    return Journal(folder / workflow.label, folder.parent.parent / f"chain-{key[:16]}" / folder.name, upto)


POOL_BYTES_PER_BLOCK = 1 << 28


def block_size(exp: Experiment) -> int:
    """Replicates computed together (a batch axis): the family's block, shrunk so a row pool stays under 256 MiB.

    A pure function of the config (never of ``replicates``), so that the chunks a folder holds stay the
    same chunks when a rerun asks for more replicates. A selection that keeps its survivors runs one
    replicate per block.
    """
    size = exp.family().block
    if exp.selection and exp.selection_mode == "survivors":
        return 1  # survivors differ in number between replicates: a batch axis cannot hold them
    total = exp.samples_per_generation * exp.generations if exp.schedule is None else int(exp.sizes().sum())
    if any(exp.built(wf).needs_rows for wf in exp.workflow):
        per_replicate = total * exp.source.row_bytes
        size = max(1, min(size, POOL_BYTES_PER_BLOCK // per_replicate))
    return size


def block_count(exp: Experiment) -> tuple[int, int]:
    """(replicates per block, number of blocks)."""
    size = block_size(exp)
    return size, math.ceil(exp.replicates / size)


def run_block(exp: Experiment, block: int, folder: Path | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Every workflow of ``exp`` on the same real data for one block; values (generations, replicates).

    Only the block's replicates that ``exp.replicates`` asks for are computed. With a ``folder``, durable
    families write every generation under ``folder/<workflow>/`` and resume there. BLAS runs on one
    thread: the matrices of a block are small (threads cost more than they save: EM of a small
    mixture is 5-10x slower on two) and a result never depends on the machine's thread count.
    """
    import scipy.linalg  # noqa: F401  (loads SciPy's own BLAS, so that the limit reaches it too)
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    with threadpool_limits(limits=1, user_api="blas"):
        return _run_block(exp, block, folder)


def _run_block(exp: Experiment, block: int, folder: Path | None) -> dict[str, dict[str, np.ndarray]]:
    family = exp.family()
    size, _ = block_count(exp)
    first = block * size
    keep = min(size, exp.replicates - first)
    n, gens = exp.samples_per_generation, exp.generations
    world = exp.source.build().world(keep, n, Streams.keyed(exp.seed, real_key(exp), first, keep))
    buffered = not family.durable  # a durable chain resumes from its generator's saved state alone
    table = exp.metric_table()
    metrics = {m: table[m] for m in exp.metric_names()}
    return {
        wf.label: simulate(
            world,
            family,
            exp.built(wf),
            gens,
            Streams.keyed(exp.seed, chain_key(exp, wf), first, keep, buffered),
            metrics,
            None if folder is None else journal(exp, wf, folder),
            exp.selected(),
            exp.downstream,
        )
        for wf in exp.workflow
    }


def generations_folder(out: str | Path, key: str, block: int) -> Path:
    """Where the durable generations (checkpoints, synthetic data) of one block of one cell live."""
    return Path(out) / "generations" / key[:16] / f"block-{block:04d}"


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
