"""modelcollapse: simulate, measure and explain model collapse.

>>> from modelcollapse import load, simulate_experiment
>>> exp = load({"name": "demo", "source": {"kind": "gaussian", "dim": 2},
...             "model": {"kind": "gaussian"}, "samples_per_generation": 20,
...             "workflow": ["replace", "accumulate"], "generations": 5, "replicates": 3})
>>> out = simulate_experiment(exp)
>>> out["accumulate"]["train_size"][:, 0].tolist()
[20.0, 40.0, 60.0, 80.0, 100.0]
"""

from pathlib import Path
from typing import TYPE_CHECKING

from modelcollapse.run.config import Experiment, register_model
from modelcollapse.run.loading import ConfigError
from modelcollapse.run.loading import validate as load
from modelcollapse.run.runner import run as run_experiment
from modelcollapse.run.runner import simulate_experiment

if TYPE_CHECKING:
    from modelcollapse.report.results import Results


def open(folder: str | Path) -> "Results":
    """The results folder ``folder`` (what ``modelcollapse run ... --out`` wrote) for reading in Python: tables,
    a figure and the verdicts (:class:`~modelcollapse.report.results.Results`)."""
    from modelcollapse.report.results import Results  # lazy: importing the package stays light

    return Results(folder)


__all__ = ["ConfigError", "Experiment", "load", "open", "register_model", "run_experiment", "simulate_experiment"]
