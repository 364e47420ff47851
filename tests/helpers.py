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


class Interrupt(Exception):
    """Raised by :func:`interrupt_and_resume`'s failing fit."""


def interrupt_and_resume(chain: Any, family: Any, journal: Any, fail_at: int) -> Any:
    """Run ``chain(journal, family)`` with ``family.fit`` raising at fit ``fail_at``, check the journal kept
    the generations before it, then rerun ``chain(journal)`` (a fresh family) and return its results."""
    import pytest

    fits = {"n": 0}
    original = family.fit

    def failing_fit(*args: Any, **kw: Any) -> Any:
        fits["n"] += 1
        if fits["n"] == fail_at:
            raise Interrupt
        return original(*args, **kw)

    object.__setattr__(family, "fit", failing_fit)
    with pytest.raises(Interrupt):
        chain(journal, family)
    assert journal.finished() == fail_at - 1
    return chain(journal)


# Small molecules (6..12 heavy atoms) that RDKit embeds and MMFF parameterises: a user's file in tests.
SMALL_MOLECULES = [
    "c1ccccc1O",
    "CC(=O)Nc1ccc(O)cc1",
    "CCOC(C)=O",
    "Cc1cccnc1",
    "CC(C)Cc1ccccc1",
    "O=C(O)c1ccccc1",
    "CCN(CC)CC",
    "OC1CCCCC1",
    "Clc1ccccc1Cl",
    "CC(C)(C)OC(N)=O",
    "CCCCCCO",
    "c1ccc2ccccc2c1",
    "CC(=O)OC1CCCCC1",
    "NCCc1ccccc1",
    "COc1ccccc1OC",
    "CC1=CC(=O)CC(C)(C)C1",
]
