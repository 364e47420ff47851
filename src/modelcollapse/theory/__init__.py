"""Closed-form predictions (THEORY.md). Pure functions of the configuration; no simulation code."""

from modelcollapse.theory import dey_donoho, discrete, gaussian, gaussian1d, kde, mixing, regression

__all__ = ["dey_donoho", "discrete", "gaussian", "gaussian1d", "kde", "mixing", "regression"]
