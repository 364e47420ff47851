"""Tracker sinks: a results folder logged to MLflow or Weights & Biases (``--log-to``, ``modelcollapse log``).

The DuckDB store stays the source of truth: a sink reads a finished (or partial) folder and copies it out,
one tracker run per cell and workflow, so a sink that fails loses nothing and is retried by logging the
folder again. Each sink is an optional extra, imported only when asked for.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

SINKS = {  # name -> (module, extra to install)
    "mlflow": ("modelcollapse.trackers.mlflow", "mlflow"),
    "wandb": ("modelcollapse.trackers.wandb", "wandb"),
}


@dataclass(frozen=True)
class Sink:
    """``--log-to NAME[:WHERE]``: ``WHERE`` is the MLflow tracking URI or the W&B folder (default: the
    tracker's environment variable, else inside the results folder)."""

    name: str
    where: str | None = None

    def __str__(self) -> str:
        return self.name + (f":{self.where}" if self.where else "")

    def check(self) -> None:
        """Fail now, before a run starts, if the tracker's package is missing."""
        extra = SINKS[self.name][1]
        try:
            importlib.import_module(extra)
        except ImportError:
            raise ValueError(
                f"--log-to {self.name}: the {extra} package is not installed; pip install 'modelcollapse[{extra}]'"
            ) from None

    def log(self, folder: str | Path) -> str:
        """Log ``folder``; returns where it went (for the user)."""
        module = importlib.import_module(SINKS[self.name][0])
        return str(module.log(Path(folder), self.where))


def parse(spec: str, option: str = "--log-to") -> Sink:
    """``mlflow``, ``mlflow:URI``, ``wandb`` or ``wandb:DIR``.

    >>> parse("mlflow:sqlite:///runs.db")
    Sink(name='mlflow', where='sqlite:///runs.db')
    >>> parse("tensorboard")
    Traceback (most recent call last):
    ...
    ValueError: --log-to: 'tensorboard' is not one of: mlflow, wandb (optionally NAME:WHERE)
    """
    name, _, where = spec.partition(":")
    if name not in SINKS:
        raise ValueError(f"{option}: {name[:40]!r} is not one of: {', '.join(SINKS)} (optionally NAME:WHERE)")
    return Sink(name, where or None)
