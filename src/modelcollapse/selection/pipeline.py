"""A generation's selection: stages applied in order to synthetic batches, in one of two modes.

* ``oversample``: the workflow's sizes hold. Batches of ``m x expansion`` rows are drawn until ``m``
  rows per replicate have passed every stage; the first ``m`` that passed are kept.
* ``survivors``: one batch is drawn and what passes is the synthetic data; the workflow's sizes then
  count survivors, which differ between replicates (so such a chain runs one replicate at a time).

A replicate that needs another batch draws it from its own stream; the others draw nothing (their
places in the batch are filled from a scratch generator whose rows are thrown away), so a replicate's
numbers never depend on the replicates drawn beside it. What a stage draws (a detector's training
samples, a verifier's errors, curation's choices) comes from streams keyed under the replicate's, so the
chain's own stream draws only the model's samples: a stage that keeps every row leaves a chain that
draws rows exactly as it was without it. (A chain that holds sufficient statistics draws rows instead
once it has a stage.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from modelcollapse._rng import Streams, offshoot
from modelcollapse.data import Rows
from modelcollapse.selection.base import Generation, Screened, Setting, Stage, StageConfig

Mode = Literal["oversample", "survivors"]
ACCEPTANCE = "acceptance"
MAX_ROUNDS = 1000  # batches per generation before a stage that keeps (almost) nothing is refused
PROBE, SCREEN = 0x5E1EC7, 0x5C7EE4  # key the streams of a stage's start and screens (with generation, batch)


def series(configs: Sequence[StageConfig]) -> list[str]:
    """The names of the values a selection records every generation (NaN in generation 1)."""
    out = [ACCEPTANCE] if configs else []
    for c in configs:  # a stored stage of a kind this process does not know records no values of its own
        out += [f"{c.label}_{v}" for v in ("acceptance", "score_before", "score_after", *getattr(c, "records", ()))]
    return out


@dataclass
class _Tally:
    """Per replicate, over the batches a replicate drew: rows in and out of one stage, their score sums."""

    batch: int
    entered: np.ndarray = field(init=False)
    passed: np.ndarray = field(init=False)
    score_in: np.ndarray = field(init=False)
    score_out: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.entered, self.passed, self.score_in, self.score_out = (np.zeros(self.batch) for _ in range(4))

    def add(self, before: np.ndarray, out: Screened, active: np.ndarray) -> None:
        after = out.keep & before
        self.entered += np.where(active, before.sum(1), 0)
        self.passed += np.where(active, after.sum(1), 0)
        if out.score is not None:
            with np.errstate(invalid="ignore"):  # a score of -inf (a symbol the truth never draws)
                self.score_in += np.where(active, np.where(before, out.score, 0.0).sum(1), 0.0)
                self.score_out += np.where(active, np.where(after, out.score, 0.0).sum(1), 0.0)
        else:
            self.score_in[:] = self.score_out[:] = np.nan

    def values(self, label: str) -> dict[str, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            return {
                f"{label}_acceptance": self.passed / self.entered,
                f"{label}_score_before": self.score_in / self.entered,
                f"{label}_score_after": self.score_out / self.passed,
            }


@dataclass
class Selection:
    """The stages of one chain (built from ``configs``) and its mode."""

    configs: Sequence[StageConfig]
    stages: list[Stage]
    mode: Mode = "oversample"

    @classmethod
    def build(cls, configs: Sequence[StageConfig], mode: Mode, setting: Setting) -> Selection:
        return cls(configs, [c.build(setting) for c in configs], mode)

    @property
    def expansion(self) -> int:
        return math.prod(s.expansion for s in self.stages)

    def draw(
        self, sample: Callable[[int, Streams], Rows], m: int, t: int, world: object, rng: Streams
    ) -> tuple[Rows, dict[str, np.ndarray]]:
        """``m`` selected rows per replicate (``oversample``) or the survivors of one batch, and the values
        recorded for generation ``t``. ``sample(k, streams)`` draws ``k`` rows per replicate of the newest model."""
        batch = len(rng)
        values: dict[str, np.ndarray] = {}
        prepare = [s for s in self.stages if type(s).start is not Stage.start]
        if prepare:  # what stages draw to prepare: the chain's own draws stay as they were
            probe = offshoot(rng, PROBE, t)
            gen = Generation(t, world, probe, lambda k: sample(k, probe))  # type: ignore[arg-type]
            for stage in prepare:
                values |= {f"{stage.label}_{k}": np.asarray(v, float) for k, v in stage.start(gen).items()}
        tallies = [_Tally(batch) for _ in self.stages]
        size = m * self.expansion
        active = np.ones(batch, bool)
        passed, kept, drawn = np.zeros(batch, int), np.zeros(batch, int), np.zeros(batch)
        batches: list[tuple[Rows, np.ndarray]] = []  # per batch: the rows kept (first), and which of them count
        # Screening draws (a verifier's errors, curation's choices) come from streams of their own too, one a
        # generation: a replicate draws from its own in every batch until it is done, whatever the others do.
        screens = Generation(t, world, offshoot(rng, SCREEN, t), lambda k: sample(k, rng))  # type: ignore[arg-type]
        for round_ in range(MAX_ROUNDS):
            streams = rng if round_ == 0 else _only(rng, active)
            rows, keep = sample(size, streams), np.ones((batch, size), bool)
            for stage, tally in zip(self.stages, tallies, strict=True):
                out = stage.screen(rows, keep, screens)
                tally.add(keep, out, active)
                rows, keep = out.rows, out.keep & keep
            keep &= active[:, None]
            passed += keep.sum(1)
            drawn += np.where(active, size, 0)
            take = keep.sum(1) if self.mode == "survivors" else np.minimum(keep.sum(1), m - kept)
            if width := int(take.max()):  # hold only the rows kept, not the whole batch
                first = np.argsort(~keep, axis=1, kind="stable")[:, :width]  # kept rows first, in the order drawn
                batches.append((rows.index(first), np.arange(width) < take[:, None]))
            elif not batches:
                batches.append((rows.index(np.zeros((batch, 0), int)), np.zeros((batch, 0), bool)))
            kept += take
            active = kept < m
            if self.mode == "survivors" or not active.any():
                break
        else:
            worst = float((passed / drawn).min())
            raise RuntimeError(
                f"generation {t}: selection kept fewer than {m} rows per replicate in {MAX_ROUNDS} batches of "
                f"{size} (acceptance {worst:.2g}); loosen its stages or use selection_mode: survivors"
            )
        for stage, tally in zip(self.stages, tallies, strict=True):
            values |= tally.values(stage.label)
        with np.errstate(invalid="ignore", divide="ignore"):
            values[ACCEPTANCE] = passed / drawn
        return _kept(batches), values


def _only(rng: Streams, active: np.ndarray) -> Streams:
    """``rng`` for the active replicates; a scratch generator (its draws discarded) for the others."""
    return Streams([g if a else np.random.default_rng(0) for g, a in zip(rng, active, strict=True)])


def _kept(batches: list[tuple[Rows, np.ndarray]]) -> Rows:
    """Each replicate's kept rows over the batches, in the order drawn (as many for every replicate)."""
    rows = batches[0][0]
    for more, _ in batches[1:]:
        rows = rows + more
    keep = np.concatenate([k for _, k in batches], axis=1)
    counts = keep.sum(1)
    if len(set(counts.tolist())) > 1:
        raise ValueError("survivors differ in number between replicates: run them one replicate per block")
    order = np.argsort(~keep, axis=1, kind="stable")[:, : int(counts[0])]
    return rows.index(order)
