"""Metrics that apply to many families (sample-based, chemistry), chosen by name (:mod:`.sets`)."""

from modelcollapse.metrics.sets import table

__all__ = ["table"]
