"""Reading results: summaries, theory's predictions and z-scores, and verdicts per definition of collapse."""

from modelcollapse.analysis.definitions import COLLAPSES, STABLE, UNDETERMINED, Thresholds, Verdict

__all__ = ["COLLAPSES", "STABLE", "UNDETERMINED", "Thresholds", "Verdict"]
