"""The selection-stage protocol: what may enter the next training set of a generation's synthetic rows.

A stage sees a synthetic batch before the workflow does. It is built once per chain from its config
(:class:`StageConfig`, registered with ``@STAGES.register``) and asked, every generation ``t >= 2``:

* :meth:`Stage.start` once, to prepare (a detector trains on fresh samples here) and to report values
  measured that generation (a detector's AUC);
* :meth:`Stage.screen` for every batch drawn, to say which rows pass (and to rewrite rows where the stage
  is an oracle that relabels them), with a score per row: the quality the stage selects for.

Stages compose in order: each screens only the rows the stages before it let through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
from pydantic import field_validator

from modelcollapse._rng import Streams
from modelcollapse.data import Rows
from modelcollapse.registry import Config
from modelcollapse.sources.base import World


@dataclass(frozen=True)
class Generation:
    """What a stage may use in generation ``t``: the real world, the chain's streams, and a sampler of the
    newest model (``sample(m)``: ``m`` more synthetic rows per replicate, drawn from those streams)."""

    t: int
    world: World
    rng: Streams
    sample: Callable[[int], Rows]


class Screened(NamedTuple):
    """A stage's answer for one batch: the rows (rewritten or as given), which pass, and each row's score."""

    rows: Rows
    keep: np.ndarray  # (B, N) bool, within the keep mask the stage was given
    score: np.ndarray | None = None  # (B, N): the quality the stage selects for (higher is better)


class Stage:
    """A selection stage of one chain (subclasses implement :meth:`screen`)."""

    label: str
    expansion: int = 1  # rows it screens for each row it can keep at most (K-wise curation: K)

    def start(self, gen: Generation) -> Mapping[str, np.ndarray]:
        """Prepare for generation ``gen.t``; values ``(B,)`` to record that generation, by name."""
        return {}

    def screen(self, rows: Rows, keep: np.ndarray, gen: Generation) -> Screened:
        raise NotImplementedError


@dataclass(frozen=True)
class Setting:
    """The experiment a stage is built for: its source and model configs."""

    source: Any
    model: Any


class StageConfig(Config):
    """A stage's config (registered with ``@STAGES.register``): ``build`` makes the :class:`Stage`.

    ``sources`` and ``models`` name the kinds a stage can work with (empty: any); ``records`` names what
    :meth:`Stage.start` records each generation.
    """

    name: str | None = None
    sources: ClassVar[tuple[str, ...]] = ()
    models: ClassVar[tuple[str, ...]] = ()
    records: ClassVar[tuple[str, ...]] = ()

    @field_validator("name")
    @classmethod
    def _series_name(cls, v: str | None) -> str | None:
        """A label prefixes the names of recorded series: short, lower-case, no spaces."""
        if v is not None and not re.fullmatch(r"[a-z][a-z0-9-]{0,31}", v):
            raise ValueError("a stage name is 1-32 characters of a-z, 0-9 and -, starting with a letter")
        return v

    @property
    def label(self) -> str:
        return self.name or self.kind  # type: ignore[attr-defined]

    def build(self, setting: Setting) -> Stage:
        raise NotImplementedError

    def check(self, setting: Setting) -> None:
        """Refuse (ValueError naming the field) a setting the stage cannot work in."""
        kind = self.kind  # type: ignore[attr-defined]
        for field, allowed in (("source", self.sources), ("model", self.models)):
            got = getattr(setting, field).kind
            if allowed and got not in allowed:
                raise ValueError(f"stage {kind!r} needs {field}.kind in: {', '.join(allowed)}; got {got!r}")
