"""Closed-form predictions (THEORY.md). Pure functions of the configuration; no simulation code.

Import the module you need (``from modelcollapse.theory import gaussian``): each loads only what it uses,
so the workflows, which state their Dey & Donoho weights, do not pull in SciPy's statistics.
"""

__all__ = [
    "cardinality",
    "dey_donoho",
    "discrete",
    "gaussian",
    "gaussian1d",
    "growth",
    "kde",
    "mixing",
    "regression",
    "selection",
    "strong",
    "tails",
]
