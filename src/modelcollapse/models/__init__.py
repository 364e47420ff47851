"""Model families."""

from modelcollapse.models.base import Family, Metric, Model
from modelcollapse.models.custom import PerReplicate
from modelcollapse.models.discrete import BernoulliFamily, CategoricalFamily, PoissonFamily
from modelcollapse.models.gaussian import GaussianFamily
from modelcollapse.models.linear import LinearRegressionFamily

__all__ = [
    "BernoulliFamily",
    "CategoricalFamily",
    "Family",
    "GaussianFamily",
    "LinearRegressionFamily",
    "Metric",
    "Model",
    "PerReplicate",
    "PoissonFamily",
]
