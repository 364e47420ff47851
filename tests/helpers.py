"""Shared test helpers."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelcollapse import load, simulate_experiment


def experiment(**fields: Any):  # type: ignore[no-untyped-def]
    base: dict[str, Any] = {
        "name": "t",
        "source": {"kind": "gaussian", "dim": 1},
        "model": {"kind": "gaussian"},
        "samples_per_generation": 10,
        "workflow": ["replace"],
        "generations": 6,
        "replicates": 4,
        "seed": 0,
    }
    base.update(fields)
    return load(base)


def simulate(**fields: Any) -> dict[str, dict[str, np.ndarray]]:
    return simulate_experiment(experiment(**fields))


def z_score(samples: np.ndarray, predicted: float) -> float:
    """(mean - predicted) / standard error of the mean."""
    samples = np.asarray(samples, float)
    return float((samples.mean() - predicted) / (samples.std(ddof=1) / np.sqrt(len(samples))))
