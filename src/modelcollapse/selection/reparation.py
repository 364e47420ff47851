"""Algorithmic reparation (Wyllie et al. 2024): resample each synthetic batch to target group shares.

Each generation the stage estimates the newest model's group shares ``s_g`` from ``probe`` rows of its
own, then keeps a synthetic row of group ``g`` with probability ``a_g = (pi_g / s_g) / max_h (pi_h / s_h)``
(rejection sampling): the rows it keeps come in the target shares ``pi`` (the truth's by default), as far
as the model still generates each group. A group the model no longer generates cannot be restored; the
target is renormalised over the groups it does. Its score is 1 for a row of the minority group, so
``{label}_score_before/_after`` are the minority's share before and after reparation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, PositiveInt

from modelcollapse.data import Rows
from modelcollapse.registry import STAGES
from modelcollapse.selection.base import Generation, Screened, Setting, Stage, StageConfig
from modelcollapse.sources.groups import shares_of


class Reparation(Stage):
    def __init__(self, config: ReparationConfig) -> None:
        self.config, self.label = config, config.label
        self.accept = np.ones((1, 1))

    def start(self, gen: Generation) -> Mapping[str, np.ndarray]:
        groups = gen.world.groups
        assert groups is not None
        target = np.asarray(self.config.shares if self.config.shares is not None else groups.shares, float)
        model = shares_of(gen.sample(self.config.probe).cols["group"], len(groups.names))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(model > 0, target / model, 0.0)
        self.accept = ratio / ratio.max(axis=1, keepdims=True)
        self.minority = groups.minority
        return {"model_minority_share": model[:, groups.minority]}

    def screen(self, rows: Rows, keep: np.ndarray, gen: Generation) -> Screened:
        group = rows.cols["group"]
        a = np.take_along_axis(self.accept, group, axis=1)
        return Screened(rows, gen.rng.random(group.shape) < a, (group == self.minority).astype(float))


@STAGES.register
class ReparationConfig(StageConfig):
    """Resample synthetic rows to target group ``shares`` (the truth's when not given), by rejection."""

    kind: Literal["reparation"] = "reparation"
    shares: list[Annotated[float, Field(ge=0.0)]] | None = None
    probe: PositiveInt = 2000
    records: ClassVar[tuple[str, ...]] = ("model_minority_share",)

    def check(self, setting: Setting) -> None:
        names = setting.source.group_names() if hasattr(setting.source, "group_names") else ()
        if not names:
            raise ValueError(
                f"stage 'reparation' needs a source with groups; source.kind {setting.source.kind!r} has none"
            )
        if self.shares is not None and (len(self.shares) != len(names) or sum(self.shares) <= 0):
            raise ValueError(f"shares: give {len(names)} non-negative shares with a positive sum ({', '.join(names)})")

    def build(self, setting: Setting) -> Reparation:
        return Reparation(self)
