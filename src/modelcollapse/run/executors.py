"""Where chunks of work run: in this process, in a local process pool, or on a Ray cluster.

An executor takes the chunks still to do and yields ``(chunk, values, seconds)`` in completion
order. A chunk's values are a pure function of its config and block (its random streams are keyed
by both), so every executor, worker count and order gives the same numbers.

Stopping is the driver's: workers ignore Ctrl-C (it reaches the whole process group), the pools stop
their work when the driver stops consuming (KeyboardInterrupt, or the generator closed), and local
workers exit by themselves when the driver dies (SIGKILL leaves no one to stop them).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any

import numpy as np

from modelcollapse.run.chunk import run_block
from modelcollapse.run.loading import ConfigError

Values = dict[str, dict[str, np.ndarray]]
Result = tuple[Any, Values | str, float]  # (chunk, values or the error it raised, seconds)
Results = Generator[Result, None, None]  # close() it to stop the work early
EXECUTORS = ("inline", "local", "ray")


def pin_threads() -> None:
    """One BLAS/OpenMP thread per worker: oversubscribed BLAS makes small solves many times slower.

    PyTorch is imported later, in the task; it reads its thread count from the environment then.
    """
    from threadpoolctl import threadpool_limits

    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    threadpool_limits(1)


def _watch_driver(driver: int) -> None:
    while os.getppid() == driver:  # a dead driver's children are re-parented
        time.sleep(0.25)
    os._exit(1)


@contextmanager
def _sigint_held() -> Iterator[None]:
    """Start processes out of Ctrl-C's reach, and hold the driver's own Ctrl-C until they are up.

    Ctrl-C signals the whole process group: a worker killed half-started prints a traceback, Ray's
    daemons killed under a driver leave their agents behind, and an interrupted ``ray.init`` leaves a
    node that ``ray.shutdown`` cannot stop. Children inherit the blocked SIGINT, across exec too.
    """
    held: list[int] = []
    main = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous = signal.signal(signal.SIGINT, lambda *_: held.append(1)) if main else None
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if main:
            signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
        if held:
            signal.raise_signal(signal.SIGINT)  # now, to whatever handler the driver has


def start_worker(driver: int) -> None:
    """Initializer of a local worker: ignore Ctrl-C, exit when ``driver`` dies, one BLAS thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # see _sigint_held
    threading.Thread(target=_watch_driver, args=(driver,), daemon=True).start()
    pin_threads()


def compute(chunk: Any) -> tuple[Values | str, float]:
    """A chunk's values, or the error it raised (one line), so that a failing cell never stops the others."""
    t0 = time.perf_counter()
    try:
        res = run_block(chunk.exp, chunk.block, chunk.folder)
    except Exception as err:  # recorded with the chunk; the sweep goes on
        return f"{type(err).__name__}: {err}".splitlines()[0], time.perf_counter() - t0
    return res, time.perf_counter() - t0


def _cost(chunk: Any) -> float:
    """A rough relative cost, only to order work: rows x (values per row)^2 x generations."""
    exp = chunk.exp
    return exp.samples_per_generation * (exp.source.row_bytes / 8) ** 2 * exp.generations


def inline(chunks: list[Any], workers: int = 1, address: str | None = None, gpus: float | None = None) -> Results:
    for c in chunks:
        yield c, *compute(c)


def local(chunks: list[Any], workers: int = 1, address: str | None = None, gpus: float | None = None) -> Results:
    """A pool of ``workers`` spawned processes (inline for one worker or one chunk)."""
    if workers <= 1 or len(chunks) <= 1:
        yield from inline(chunks)
        return
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=start_worker, initargs=(os.getpid(),))
    try:
        with _sigint_held():  # submit spawns the workers
            # Largest first, so that no big chunk starts last and runs alone.
            futures = {pool.submit(compute, c): c for c in sorted(chunks, key=_cost, reverse=True)}
        for f in as_completed(futures):
            yield futures[f], *f.result()
    except BaseException:  # KeyboardInterrupt, GeneratorExit (the consumer stopped), a broken pool
        _halt(pool)
        raise
    pool.shutdown()


def _halt(pool: ProcessPoolExecutor) -> None:
    """Drop the queued chunks and end the running ones now rather than when they finish: the driver
    has stopped listening, and a rerun redoes whatever it did not store. Python 3.14's
    ``terminate_workers`` does the same; 3.11 has no public way."""
    running = list(pool._processes.values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in running:
        p.terminate()  # the pool's manager thread reaps them


def _ray_compute(chunk: Any) -> tuple[Values | str, float]:
    pin_threads()
    return compute(chunk)


def gpus_for(chunk: Any, gpus: float | None, node_gpus: float) -> float:
    """The GPUs a chunk's Ray task asks for: none for a cell that runs on CPUs (every non-neural family,
    a neural one on ``device: cpu``); else ``gpus`` (``--gpus-per-task``), else the config's
    ``gpus_per_task``, else one GPU where the cluster's nodes have any.

    >>> from types import SimpleNamespace as Chunk, SimpleNamespace as Exp
    >>> gpu_cell = Chunk(exp=Exp(accelerated=True, gpus_per_task=None))
    >>> gpus_for(gpu_cell, None, 8), gpus_for(gpu_cell, 0.5, 8), gpus_for(gpu_cell, None, 0)
    (1.0, 0.5, 0.0)
    >>> gpus_for(Chunk(exp=Exp(accelerated=False, gpus_per_task=None)), 0.5, 8)
    0.0
    """
    if not chunk.exp.accelerated:
        return 0.0
    for asked in (gpus, chunk.exp.gpus_per_task):
        if asked is not None:
            return float(asked)
    return 1.0 if node_gpus > 0 else 0.0


def ray(chunks: list[Any], workers: int = 1, address: str | None = None, gpus: float | None = None) -> Results:
    """Ray tasks of one CPU each, and a neural cell's GPUs (:func:`gpus_for`): on the cluster at ``address``
    (``auto``: the one this machine belongs to), or on a local Ray instance of ``workers`` CPUs (and this
    machine's GPUs) started for this run. A task asking for GPUs sees only its own (Ray sets
    ``CUDA_VISIBLE_DEVICES``), so ``device: auto`` lands on it."""
    try:
        import ray as ray_
    except ImportError as err:
        raise RuntimeError("the ray executor needs Ray: pip install 'modelcollapse[ray]'") from err
    started = not ray_.is_initialized()
    pending: dict[Any, Any] = {}
    try:
        if started:
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            with _sigint_held():
                if address:
                    ray_.init(address=address, **options)
                else:
                    ray_.init(num_cpus=workers, **options)
        task = ray_.remote(num_cpus=1)(_ray_compute)
        node_gpus = max((float(n["Resources"].get("GPU", 0)) for n in ray_.nodes() if n["Alive"]), default=0.0)
        asked = {id(c): gpus_for(c, gpus, node_gpus) for c in chunks}
        most = max(asked.values(), default=0.0)
        if most > node_gpus:  # Ray would wait for it forever
            raise ConfigError(
                f"gpus_per_task: a neural cell asks for {most:g} GPU(s); "
                f"the Ray cluster's largest node has {node_gpus:g}"
            )
        order = sorted(chunks, key=_cost, reverse=True)
        pending = {task.options(num_gpus=asked[id(c)]).remote(c): c for c in order}
        while pending:
            done, _ = ray_.wait(list(pending), num_returns=1)
            chunk = pending.pop(done[0])
            yield chunk, *ray_.get(done[0])
    except BaseException:  # as in local: stop the work nobody will collect (on a cluster it outlives us)
        for ref in pending:
            ray_.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray_.shutdown()


def executor(name: str) -> Callable[..., Results]:
    return {"inline": inline, "local": local, "ray": ray}[name]
