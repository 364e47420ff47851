"""Metrics and the definitions of collapse (``assess``)."""

from modelcollapse.metrics.definitions import COLLAPSES, STABLE, UNDETERMINED, Thresholds, Verdict

__all__ = ["COLLAPSES", "STABLE", "UNDETERMINED", "Thresholds", "Verdict"]
