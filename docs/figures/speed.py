"""Draws docs/figures/speed.png: the time of one sweep cell against the replicates asked for.

Run: ``python docs/figures/speed.py`` (about a minute on two cores). One Gaussian cell (d = 10, n = 100,
100 generations, replace + accumulate + accumulate-subsample) is simulated in process for 1 to 200
replicates; beside it, the time the same replicates need for their standard normal draws alone.
"""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from modelcollapse import load, simulate_experiment

REPLICATES = [1, 2, 5, 10, 20, 50, 51, 100, 150, 200]
D, N, T = 10, 100, 100


def seconds(replicates: int) -> float:
    exp = load(
        {
            "name": "speed",
            "source": {"kind": "gaussian", "dim": D},
            "model": {"kind": "gaussian"},
            "samples_per_generation": N,
            "generations": T,
            "replicates": replicates,
            "workflow": ["replace", "accumulate", "accumulate-subsample"],
            "metrics": ["cov_trace_ratio"],
        }
    )
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        simulate_experiment(exp)
        best = min(best, time.perf_counter() - t0)
    return best


def draw_seconds() -> float:
    """Per replicate: the real and held-out rows, the sufficient statistics of replace and accumulate
    (d + d(d+1)/2 normals a generation each) and the rows of accumulate-subsample (n d a generation)."""
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    rng.standard_normal(10**7)
    per_draw = (time.perf_counter() - t0) / 10**7
    draws = (N + 1000) * D + (T - 1) * (2 * (D + D * (D + 1) // 2) + N * D)
    return draws * per_draw


def main() -> None:
    simulate_experiment(load({"name": "w", "source": {"kind": "gaussian", "dim": 2}, "model": {"kind": "gaussian"},
                              "samples_per_generation": 5, "generations": 3, "replicates": 2, "workflow": "replace"}))
    t = np.array([seconds(r) for r in REPLICATES])
    floor = draw_seconds() * np.array(REPLICATES)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(REPLICATES, t, "o-", label="one cell, in process (blocks of 50)")
    ax.plot(REPLICATES, floor, "--", color="gray", label="its standard normal draws alone")
    ax.set(xscale="log", yscale="log", xlabel="replicates asked for", ylabel="seconds",
           title=f"Gaussian d={D}, n={N}, {T} generations, 3 workflows")
    ax.legend(frameon=False)
    fig.tight_layout()
    out = Path(__file__).with_name("speed.png")
    fig.savefig(out, dpi=120)
    for r, s in zip(REPLICATES, t, strict=True):
        print(f"{r:4d} replicates: {s * 1e3:8.1f} ms ({s / r * 1e3:.2f} ms a replicate)")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
