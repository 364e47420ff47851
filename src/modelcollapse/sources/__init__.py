"""Sources: real distributions with known truth, drawn a block of replicates at a time."""

from modelcollapse.sources.base import Source, World
from modelcollapse.sources.discrete import (
    BernoulliSource,
    CategoricalSource,
    PoissonSource,
    word_frequencies,
    zipf_probabilities,
)
from modelcollapse.sources.gaussian import GaussianSource, GaussianTruth
from modelcollapse.sources.regression import RegressionSource, RegressionTruth

__all__ = [
    "BernoulliSource",
    "CategoricalSource",
    "GaussianSource",
    "GaussianTruth",
    "PoissonSource",
    "RegressionSource",
    "RegressionTruth",
    "Source",
    "World",
    "word_frequencies",
    "zipf_probabilities",
]
