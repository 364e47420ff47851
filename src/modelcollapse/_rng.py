"""Explicit random streams: every stream is a pure function of (seed, key, block).

No global state is touched. A replicate belongs to a fixed-size *block* of
replicates; each block draws from its own stream, so replicate 0's numbers do
not depend on how many replicates a run asks for, nor on which worker runs it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def stable_hash(obj: Any) -> str:
    """Hex digest of a JSON-serialisable object, independent of dict order."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stream(seed: int, key: str, block: int) -> np.random.Generator:
    """The generator for one block of replicates, keyed by a hash string."""
    words = tuple(int(key[i : i + 8], 16) for i in range(0, len(key), 8))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(*words, block)))


def child_seed(rng: np.random.Generator, bits: int = 63) -> int:
    """A seed drawn from ``rng`` for a library that takes an integer (numpy, torch, scikit-learn).

    Every family and source derives its child seeds here. ``bits=31`` for scikit-learn and other APIs
    whose ``random_state`` must fit in 32 bits; 63 otherwise (a non-negative int64).
    """
    return int(rng.integers(2**bits - 1))
