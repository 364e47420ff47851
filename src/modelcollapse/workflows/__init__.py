"""Workflows: which rows train each generation."""

from modelcollapse.workflows.base import Part, TrainingSet, Workflow, proportional, training_size
from modelcollapse.workflows.rules import (
    accumulate,
    accumulate_subsample,
    fresh,
    mix,
    real_fraction,
    real_synthetic,
    replace,
    weights,
    window,
)

__all__ = [
    "Part",
    "TrainingSet",
    "Workflow",
    "accumulate",
    "accumulate_subsample",
    "fresh",
    "mix",
    "proportional",
    "real_fraction",
    "real_synthetic",
    "replace",
    "training_size",
    "weights",
    "window",
]
