"""Closed-form predictions (THEORY.md). Pure functions of the configuration; no simulation code."""

from modelcollapse.theory import discrete, gaussian, gaussian1d, regression

__all__ = ["discrete", "gaussian", "gaussian1d", "regression"]
