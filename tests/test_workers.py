"""Local workers stop with their driver: killed (SIGKILL), interrupted (Ctrl-C), or no longer listened to."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads processes from /proc")

# 20 chunks of a few seconds: over 20 s with two workers, so a worker that outlived its driver would be seen.
LONG = {
    "name": "long",
    "source": {"kind": "gaussian", "dim": 20, "variance": 1.0},
    "model": {"kind": "gaussian", "covariance": "full", "estimator": "mle"},
    "samples_per_generation": 2000,
    "workflow": ["replace", "accumulate"],
    "generations": 200,
    "replicates": 1000,
    "seed": 1,
}
TICK = os.sysconf("SC_CLK_TCK")


def stat(pid: int) -> tuple[int, int, str, int, float] | None:
    """(parent, process group, state, start time, CPU seconds) of a live process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    f = text[text.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
    return int(f[1]), int(f[2]), f[0], int(f[19]), (int(f[11]) + int(f[12])) / TICK


def processes() -> Iterator[tuple[int, tuple[int, int, str, int, float]]]:
    for name in os.listdir("/proc"):
        if name.isdigit() and (s := stat(int(name))) and s[2] != "Z":  # a zombie has exited
            yield int(name), s


def alive(identities: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """The (pid, start time) pairs still running (a reused pid has another start time)."""
    return {(pid, start) for pid, start in identities if (s := stat(pid)) and s[2] != "Z" and s[3] == start}


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def start_run(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """``modelcollapse run -w 2`` in a session of its own (its process group is its pid)."""
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(LONG))
    err = tmp_path / "stderr.txt"
    with err.open("wb") as sink:
        args = [sys.executable, "-m", "modelcollapse", "run", str(config), "--out", str(tmp_path / "out"), "-w", "2"]
        proc = subprocess.Popen([*args, "-q"], stdout=subprocess.DEVNULL, stderr=sink, start_new_session=True)
    return proc, err


def computing_workers(driver: subprocess.Popen[bytes]) -> set[tuple[int, int]]:
    """The driver's two pool workers, once both have started computing (a CPU second each)."""
    found: set[tuple[int, int]] = set()

    def ready() -> bool:
        assert driver.poll() is None, "the run ended before its workers were seen"
        found.clear()
        for pid, (ppid, _, _, start, cpu) in processes():
            if ppid == driver.pid and b"spawn_main" in cmdline(pid) and cpu > 1:
                found.add((pid, start))
        return len(found) == 2

    wait_for(ready, 120, "two workers computing")
    return found


@pytest.fixture
def run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    proc, err = start_run(tmp_path)
    try:
        yield proc, err
    finally:  # whatever the test left, the whole session goes
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def test_sigkilled_driver_takes_its_workers_along(run: tuple[subprocess.Popen[bytes], Path]) -> None:
    driver, _ = run
    workers = computing_workers(driver)
    others = {(pid, s[3]) for pid, s in processes() if s[0] == driver.pid} - workers  # the resource tracker
    driver.kill()
    driver.wait()
    wait_for(lambda: not alive(workers | others), 5, "the driver's children exit")


def test_ctrl_c_stops_every_process_quietly(run: tuple[subprocess.Popen[bytes], Path]) -> None:
    driver, err = run
    computing_workers(driver)
    os.killpg(driver.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    wait_for(lambda: not any(s[1] == driver.pid for _, s in processes()), 10, "the process group exits")
    assert driver.wait() != 0
    # A worker's traceback runs through multiprocessing's bootstrap; the driver's own message is not tested here.
    assert "multiprocessing" not in err.read_text(), err.read_text()


def test_closing_the_results_stops_running_chunks(tmp_path: Path) -> None:
    """A consumer that stops listening (GeneratorExit) ends the pool now, not when its chunks finish."""
    from modelcollapse.run.chunk import Chunk, block_count, cell_key
    from modelcollapse.run.executors import local
    from modelcollapse.run.loading import expand

    # One chunk of minutes and one of moments: the short one comes back while the long one runs.
    cells = expand({**LONG, "replicates": 50, "sweep": {"generations": [2, 400]}})
    chunks = []
    for point, exp in cells:
        size, _ = block_count(exp)
        chunks.append(Chunk(cell_key(exp), point, exp, 0, 0, min(size, exp.replicates)))
    results = local(chunks, 2)
    chunk, values, _ = next(results)
    assert chunk.exp.generations == 2 and not isinstance(values, str)
    workers = multiprocessing.active_children()
    assert len(workers) == 2 and all(w.is_alive() for w in workers)
    started = time.monotonic()
    results.close()
    assert time.monotonic() - started < 2
    wait_for(lambda: not any(w.is_alive() for w in workers), 5, "the workers exit")
