"""Accumulate keeps sufficient statistics: memory does not grow with the pool."""

from __future__ import annotations

import tracemalloc

import pytest

from helpers import simulate


@pytest.mark.parametrize(
    ("source", "model"),
    [
        ({"kind": "gaussian", "dim": 10}, {"kind": "gaussian"}),
        ({"kind": "linear-regression", "dim": 10}, {"kind": "ols"}),
        ({"kind": "categorical", "categories": 100}, {"kind": "categorical"}),
    ],
)
def test_accumulate_1000_generations_bounded_memory(source: dict, model: dict) -> None:
    def peak(generations: int) -> int:
        tracemalloc.start()
        out = simulate(
            source=source,
            model=model,
            workflow=["accumulate"],
            samples_per_generation=100,
            generations=generations,
            replicates=50,
            metrics=None,
        )
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert out["accumulate"]["train_size"][-1, 0] == 100 * generations
        return top

    small, large = peak(100), peak(1000)
    # A pool of rows would hold 1000 x 100 rows x 50 replicates (>= 40 MB here); the statistics do not grow.
    # The only growth allowed: the (generations x replicates) arrays of <= 8 metrics, held twice
    # (per block, then concatenated), plus 1 MiB of slack.
    assert large - small < 2 * 8 * 8 * 50 * 900 + (1 << 20)
