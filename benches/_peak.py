"""Peak memory of a whole process and its descendants, measured from a tiny parent.

Run: ``python benches/_peak.py COMMAND [ARGS...]``: runs the command and prints one line,
``LARGEST_KB TREE_KB`` (exit status 1 and the command's stderr if it fails).

* LARGEST_KB is exact: ``wait4``'s ``ru_maxrss``, the largest RSS of the child or of any descendant it
  reaped (Linux). It also counts the image the child was forked from until its ``exec``, which is why
  this parent imports nothing: measured from a process holding numpy or torch, every child would
  seem at least as large as that process.
* TREE_KB is RSS summed over the child and its descendants, sampled from /proc every 20 ms (a peak
  shorter than that can be missed; pages shared between processes count once in each).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])  # after "(comm)": state, ppid, ...
            kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root: int) -> int:
    """RSS summed over ``root`` and its descendants, now."""
    kids, todo, total = children(), [root], 0
    while todo:
        pid = todo.pop()
        todo.extend(kids.get(pid, []))
        total += rss_kb(pid)
    return total


def peak(cmd: list[str], every: float = 0.02) -> tuple[int, int]:
    """``(largest single process, sampled tree sum)`` in kB; exits with the stderr if ``cmd`` fails."""
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True)
        tree = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            tree = max(tree, tree_rss_kb(proc.pid))
            time.sleep(every)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            sys.stderr.write(err.read())
            sys.exit(1)
    return usage.ru_maxrss, max(tree, usage.ru_maxrss)


if __name__ == "__main__":
    largest, tree = peak(sys.argv[1:])
    print(largest, tree)
