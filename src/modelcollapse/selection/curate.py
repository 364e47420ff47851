"""K-wise curation by a reward (Ferbach et al. 2024): of every K synthetic rows keep one, chosen with
probability proportional to ``exp(scale * reward)`` (a Bradley-Terry choice among K).

The choice is the Gumbel-max trick: each candidate's ``scale * reward`` plus a standard Gumbel draw,
and the largest of its group of K wins, which is exactly the softmax choice. Rewards are named functions
of a batch of rows; a user adds one with :func:`register_reward`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from modelcollapse.data import Rows
from modelcollapse.registry import STAGES, Positive, short
from modelcollapse.selection.base import Generation, Screened, Setting, Stage, StageConfig

Reward = Callable[[Rows, "CurateConfig"], np.ndarray]  # rows (B, N, ...) -> rewards (B, N)


def _first_coordinate(rows: Rows, config: CurateConfig) -> np.ndarray:
    x = rows.cols["x"]
    return x[..., 0].astype(float) if x.ndim == 3 else x.astype(float)  # a vector's first entry; a symbol itself


def _closeness(rows: Rows, config: CurateConfig) -> np.ndarray:
    x = rows.cols["x"].astype(float)
    x = x[..., None] if x.ndim == 2 else x
    return -((x - np.asarray(config.target or 0.0)) ** 2).sum(-1)


def _table(rows: Rows, config: CurateConfig) -> np.ndarray:
    return np.asarray(config.values, float)[rows.cols["x"]]


REWARDS: dict[str, Reward] = {
    "first-coordinate": _first_coordinate,  # x_0 (a symbol's index for categorical rows)
    "closeness": _closeness,  # -||x - target||^2
    "table": _table,  # values[x] for categorical rows
}
BUILTIN = frozenset(REWARDS)
VECTOR_SOURCES = ("gaussian", "categorical", "shapes", "tabular")  # rows x: vectors, or symbols


def register_reward(name: str, fn: Reward) -> None:
    """Make ``reward: name`` valid in a curate stage: ``fn(rows, config)`` gives ``(B, N)`` rewards."""
    if name in BUILTIN:
        raise ValueError(f"reward {name!r} is the package's own; choose another name")
    REWARDS[name] = fn


class Curate(Stage):
    def __init__(self, config: CurateConfig) -> None:
        self.config, self.label, self.expansion = config, config.label, config.candidates

    def screen(self, rows: Rows, keep: np.ndarray, gen: Generation) -> Screened:
        k = self.config.candidates
        reward = REWARDS[self.config.reward](rows, self.config)
        noisy = self.config.scale * reward - np.log(-np.log(gen.rng.random(reward.shape)))
        batch, size = keep.shape
        group = (np.cumsum(keep, axis=1) - 1) // k  # the K-group of each kept row, in the order drawn
        valid = keep & (group < (keep.sum(1) // k)[:, None])  # an incomplete last group chooses nothing
        slot = np.where(valid, np.arange(batch)[:, None] * size + group, 0)
        best = np.full(batch * size, -np.inf)
        np.maximum.at(best, slot[valid], noisy[valid])
        return Screened(rows, valid & (noisy == best[slot]), reward)


@STAGES.register
class CurateConfig(StageConfig):
    """Keep one of every ``candidates`` rows, with probability proportional to exp(scale * reward(x))."""

    kind: Literal["curate"] = "curate"
    candidates: Annotated[int, Field(ge=2, le=1024)] = 2
    reward: str = "first-coordinate"
    scale: Positive = 1.0
    target: float | list[float] | None = None  # the point ``closeness`` rewards
    values: list[float] | None = None  # ``table``: the reward of each symbol

    @field_validator("reward")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in REWARDS:
            raise ValueError(f"unknown reward {short(v)}; allowed: {', '.join(REWARDS)}")
        return v

    @model_validator(mode="after")
    def _table_given(self) -> CurateConfig:
        if (self.reward == "table") != (self.values is not None):
            raise ValueError("reward 'table' needs values (one per symbol), and values need reward 'table'")
        return self

    @property
    def portable(self) -> bool:
        return self.reward in BUILTIN

    def check(self, setting: Setting) -> None:
        kind = setting.source.kind
        if self.reward == "table":
            size = setting.source.size if kind == "categorical" else 0
            if kind != "categorical" or len(self.values or []) != size:
                raise ValueError(f"values: reward 'table' needs one value per symbol of a categorical source ({size})")
        elif self.reward in BUILTIN and kind not in VECTOR_SOURCES:
            allowed = ", ".join(VECTOR_SOURCES)
            raise ValueError(f"reward {self.reward!r} scores rows x of source.kind in: {allowed}; got {kind!r}")
        dim = setting.source.row_bytes // 8  # numbers per row x (1: a symbol)
        if self.reward == "closeness" and isinstance(self.target, list) and len(self.target) != dim:
            raise ValueError(f"target: reward 'closeness' needs a point of {dim} coordinates; got {len(self.target)}")

    def build(self, setting: Setting) -> Curate:
        return Curate(self)
