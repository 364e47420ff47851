"""The named workflows: each factory closes over its hyperparameters, and its config sits right below it.

``n`` is the number of synthetic rows drawn per generation unless a rule says
otherwise; the real data set ``D_0`` is what the source drew. ``shares`` states a rule
as Dey & Donoho's weighting of whole data sets where it is one (theory reads it from here).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, PositiveInt, field_validator, model_validator

from modelcollapse.data import RowPool
from modelcollapse.registry import WORKFLOWS, Fraction
from modelcollapse.theory import dey_donoho as dd
from modelcollapse.workflows.base import Part, Workflow, WorkflowConfig, proportional

Shares = tuple[np.ndarray, np.ndarray | None]


def replace(n: int) -> Workflow:
    """Model t trains on the synthetic data of model t-1 only (|train| = n)."""

    def step(state, t, synth, fresh, rng):
        return state, [Part(synth)]

    return Workflow(init=lambda real: None, step=step, synthetic_size=lambda t: n)


@WORKFLOWS.register(aliases=("discard",))
class ReplaceConfig(WorkflowConfig):
    """Model t trains on the synthetic data of model t-1 only."""

    kind: Literal["replace"] = "replace"
    scheduled: ClassVar[bool] = True

    def build(self, n: int, generations: int) -> Workflow:
        return replace(n)

    def shares(self, n: int | None, generations: int) -> Shares:
        return dd.discard(generations), None


def accumulate(n: int) -> Workflow:
    """Model t trains on real data plus every synthetic batch so far (|train| = n0 + (t-1)n).

    The state is the running union, so with sufficient statistics a generation's
    cost does not grow with the pool.
    """

    def step(union, t, synth, fresh, rng):
        union = union + synth
        return union, [Part(union)]

    return Workflow(init=lambda real: real, step=step, synthetic_size=lambda t: n)


@WORKFLOWS.register(aliases=("augment",))
class AccumulateConfig(WorkflowConfig):
    """Real data plus every synthetic batch so far."""

    kind: Literal["accumulate"] = "accumulate"
    scheduled: ClassVar[bool] = True

    def build(self, n: int, generations: int) -> Workflow:
        return accumulate(n)

    def shares(self, n: int | None, generations: int) -> Shares:
        return dd.augment(generations), None


def accumulate_subsample(n: int, budget: int, capacity: int = 0) -> Workflow:
    """A uniform subsample without replacement of ``budget`` rows from everything so far."""

    def step(pool, t, synth, fresh, rng):
        pool.append(synth)
        return pool, [Part(pool.take(min(budget, pool.n), rng))]

    return Workflow(
        init=lambda real: RowPool(real, capacity),
        step=step,
        synthetic_size=lambda t: n,
        needs_rows=True,
    )


@WORKFLOWS.register
class AccumulateSubsampleConfig(WorkflowConfig):
    """A uniform subsample (without replacement) of ``budget`` rows (default n) from everything so far."""

    kind: Literal["accumulate-subsample"] = "accumulate-subsample"
    budget: PositiveInt | None = None

    def build(self, n: int, generations: int) -> Workflow:
        return accumulate_subsample(n, self.budget or n, capacity=n * generations)

    def fewest_rows(self, n: int) -> int:
        return min(n, self.budget or n)


def mix(n: int, fraction: float) -> Workflow:
    """All real data plus ``round(fraction * n)`` synthetic rows from the latest model."""
    m = round(fraction * n)

    def step(real, t, synth, fresh, rng):
        return real, [Part(real)] + ([Part(synth)] if m else [])

    return Workflow(init=lambda real: real, step=step, synthetic_size=lambda t: m)


@WORKFLOWS.register
class MixConfig(WorkflowConfig):
    """All real data plus ``fraction * n`` synthetic rows from the latest model."""

    kind: Literal["mix"] = "mix"
    fraction: Fraction = 1.0
    theory_argument: ClassVar[str | None] = "fraction"

    def build(self, n: int, generations: int) -> Workflow:
        return mix(n, self.fraction)

    def shares(self, n: int | None, generations: int) -> Shares:
        """Synthetic sets of ``round(fraction * n)`` rows (of ``fraction`` n in the limit, ``n=None``)."""
        return dd.mix(generations, round(self.fraction * n) / n if n else self.fraction)


def real_fraction(n: int, fraction: float) -> Workflow:
    """``round(fraction * n)`` real rows (resampled each generation) plus synthetic rows to n."""
    k = round(fraction * n)

    def step(real, t, synth, fresh, rng):
        parts = [Part(real.take(k, rng))] if k else []
        return real, parts + ([Part(synth)] if n - k else [])

    return Workflow(init=lambda real: real, step=step, synthetic_size=lambda t: n - k, needs_rows=True)


@WORKFLOWS.register
class RealFractionConfig(WorkflowConfig):
    """A fraction of the real set (resampled each generation) plus synthetic rows to the same total n."""

    kind: Literal["real-fraction"] = "real-fraction"
    fraction: Fraction = 0.5

    def build(self, n: int, generations: int) -> Workflow:
        return real_fraction(n, self.fraction)


def fresh(real_samples: int, synthetic_samples: int, real_weight: float | None = None) -> Workflow:
    """``real_samples`` fresh real rows plus ``synthetic_samples`` synthetic rows per generation.

    With ``real_weight = w`` the real part carries share ``w`` of the fit (the
    weighted estimator of THEORY.md s6b); by default rows are pooled.
    """

    def step(state, t, synth, new_real, rng):
        pieces = [(d, 1.0) for d in (new_real, synth) if d is not None]
        if real_weight is not None and len(pieces) == 2:
            pieces = [(new_real, real_weight), (synth, 1.0 - real_weight)]
        return state, proportional(pieces) if real_weight is not None else [Part(d) for d, _ in pieces]

    return Workflow(
        init=lambda real: None,
        step=step,
        synthetic_size=lambda t: synthetic_samples,
        fresh_size=lambda t: real_samples,
        weighted=real_weight is not None,
    )


@WORKFLOWS.register
class FreshConfig(WorkflowConfig):
    """Fresh real rows plus synthetic rows each generation; ``real_weight`` is the real part's share."""

    kind: Literal["fresh"] = "fresh"
    fraction: Fraction = 0.5
    real_samples: PositiveInt | None = None
    synthetic_samples: Annotated[int, Field(ge=0)] | None = None
    real_weight: Fraction | None = None
    theory_argument: ClassVar[str | None] = "fraction"

    def sizes(self, n: int) -> tuple[int, int]:
        """(fresh real rows, synthetic rows) per generation."""
        n_r = self.real_samples if self.real_samples is not None else max(1, round(self.fraction * n))
        n_s = self.synthetic_samples if self.synthetic_samples is not None else n - round(self.fraction * n)
        return n_r, n_s

    def build(self, n: int, generations: int) -> Workflow:
        return fresh(*self.sizes(n), self.real_weight)

    def fewest_rows(self, n: int) -> int:
        return min(n, sum(self.sizes(n)))

    def rho(self, n: int | None, generations: int) -> np.ndarray | None:
        """Fresh real data with share lambda each generation: 1 + (1 - lambda)^2 rho_{k-1} (pooled rows)."""
        if self.real_weight is not None:
            return None
        n_r, n_s = self.sizes(n) if n else (self.fraction, 1 - self.fraction)
        return dd.fresh(generations, n_r / (n_r + n_s))


def real_synthetic(n: int, real: int, synthetic: int, generator: int = 1) -> Workflow:
    """Kazdan et al.'s real-synthetic cell: ``real`` fresh real rows plus ``synthetic`` rows from a generator.

    Generations ``1..generator`` are a replace chain from the ``n`` real rows (generation 1 fits them);
    its last model is the generator. Generation ``generator + 1`` trains on the new real rows, which no
    generator saw, pooled with the generator's samples (|train| = real + synthetic).
    """
    last = generator + 1

    def step(state, t, synth, fresh, rng):
        if t < last:
            return state, [Part(synth)]
        return state, [Part(d) for d in (fresh, synth) if d is not None]

    return Workflow(
        init=lambda real_rows: None,
        step=step,
        synthetic_size=lambda t: n if t < last else synthetic,
        fresh_size=lambda t: real if t == last else 0,
    )


@WORKFLOWS.register
class RealSyntheticConfig(WorkflowConfig):
    """``real`` fresh real rows plus ``synthetic`` rows from generation ``generator`` of a replace chain.

    One cell of the real-synthetic grid (see :class:`~modelcollapse.run.config.GridConfig`); it measures
    generation ``generator + 1``.
    """

    kind: Literal["real-synthetic"] = "real-synthetic"
    real: Annotated[int, Field(ge=0)]
    synthetic: Annotated[int, Field(ge=0)]
    generator: PositiveInt = 1

    @model_validator(mode="after")
    def _some_data(self) -> RealSyntheticConfig:
        if self.real + self.synthetic == 0:
            raise ValueError("real + synthetic must be at least 1")
        return self

    def chain(self) -> dict[str, Any]:
        """The cells of a grid share the generator's chain: its stream, and (durable families) its saved
        generations, so a neural generator is trained once per block, not once per cell."""
        return self.model_dump(mode="json", exclude={"real", "synthetic"})

    @property
    def shared_generations(self) -> int:  # type: ignore[override]
        return self.generator

    def build(self, n: int, generations: int) -> Workflow:
        return real_synthetic(n, self.real, self.synthetic, self.generator)

    def fewest_rows(self, n: int) -> int:
        return min(n, self.real + self.synthetic)


def window(n: int, size: int) -> Workflow:
    """Real data plus the last ``size`` synthetic batches."""

    def init(real):
        return real, deque(maxlen=size)

    def step(state, t, synth, fresh, rng):
        real, recent = state
        recent.append(synth)
        return state, [Part(real)] + [Part(d) for d in recent]

    return Workflow(init=init, step=step, synthetic_size=lambda t: n)


@WORKFLOWS.register
class WindowConfig(WorkflowConfig):
    """Real data plus the last ``size`` synthetic batches."""

    kind: Literal["window"] = "window"
    size: PositiveInt = 1
    scheduled: ClassVar[bool] = True
    theory_argument: ClassVar[str | None] = "size"

    def build(self, n: int, generations: int) -> Workflow:
        return window(n, self.size)

    def shares(self, n: int | None, generations: int) -> Shares:
        return dd.window(generations, self.size), None


def weights(n: int, matrix: Sequence[Sequence[float]]) -> Workflow:
    """Model t trains on data sets 0..t-1 with shares ``matrix[t-1][j]`` (Dey & Donoho, s4).

    Row ``t - 1`` of the matrix belongs to generation ``t``; missing trailing
    entries are 0 and each row is normalised to sum to 1.
    """

    def step(history, t, synth, fresh, rng):
        history = [*history, synth]
        return history, proportional(list(zip(history, matrix[t - 1], strict=False)))

    return Workflow(init=lambda real: [real], step=step, synthetic_size=lambda t: n, weighted=True)


@WORKFLOWS.register
class WeightsConfig(WorkflowConfig):
    """Row t of ``matrix`` gives generation t+1's shares of data sets 0..t (normalised)."""

    kind: Literal["weights"] = "weights"
    matrix: list[list[Annotated[float, Field(ge=0.0)]]]

    @field_validator("matrix")
    @classmethod
    def _rows(cls, m: list[list[float]]) -> list[list[float]]:
        for t, row in enumerate(m, start=1):
            if len(row) > t:
                raise ValueError(f"row {t - 1} (generation {t}) has {len(row)} entries; at most {t} allowed")
            if sum(row) <= 0:
                raise ValueError(f"row {t - 1} (generation {t}) must have a positive sum")
        return m

    def build(self, n: int, generations: int) -> Workflow:
        return weights(n, self.matrix)

    def shares(self, n: int | None, generations: int) -> Shares | None:
        return (self.matrix[:generations], None) if len(self.matrix) >= generations else None  # type: ignore[return-value]


@WORKFLOWS.register(aliases=("real+last",))
class RealPlusLastConfig(WorkflowConfig):
    """Real data with share ``share`` plus the latest synthetic batch (a weighting; 50/50: rho -> 4/3)."""

    kind: Literal["real-plus-last"] = "real-plus-last"
    share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    theory_argument: ClassVar[str | None] = "share"

    def build(self, n: int, generations: int) -> Workflow:
        return weights(n, dd.real_plus_last(generations, self.share).tolist())

    def shares(self, n: int | None, generations: int) -> Shares:
        return dd.real_plus_last(generations, self.share), None
