"""The named workflows. Each factory closes over its hyperparameters.

``n`` is the number of synthetic rows drawn per generation unless a rule says
otherwise; the real data set ``D_0`` is what the source drew.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from modelcollapse.data import RowPool
from modelcollapse.workflows.base import Part, Workflow, proportional


def replace(n: int) -> Workflow:
    """Model t trains on the synthetic data of model t-1 only (|train| = n)."""

    def step(state, t, synth, fresh, rng):
        return state, [Part(synth)]

    return Workflow(init=lambda real: None, step=step, synthetic_size=lambda t: n)


def accumulate(n: int) -> Workflow:
    """Model t trains on real data plus every synthetic batch so far (|train| = n0 + (t-1)n).

    The state is the running union, so with sufficient statistics a generation's
    cost does not grow with the pool.
    """

    def step(union, t, synth, fresh, rng):
        union = union + synth
        return union, [Part(union)]

    return Workflow(init=lambda real: real, step=step, synthetic_size=lambda t: n)


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


def mix(n: int, fraction: float) -> Workflow:
    """All real data plus ``round(fraction * n)`` synthetic rows from the latest model."""
    m = round(fraction * n)

    def step(real, t, synth, fresh, rng):
        return real, [Part(real)] + ([Part(synth)] if m else [])

    return Workflow(init=lambda real: real, step=step, synthetic_size=lambda t: m)


def real_fraction(n: int, fraction: float) -> Workflow:
    """``round(fraction * n)`` real rows (resampled each generation) plus synthetic rows to n."""
    k = round(fraction * n)

    def step(real, t, synth, fresh, rng):
        parts = [Part(real.take(k, rng))] if k else []
        return real, parts + ([Part(synth)] if n - k else [])

    return Workflow(init=lambda real: real, step=step, synthetic_size=lambda t: n - k, needs_rows=True)


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


def window(n: int, size: int) -> Workflow:
    """Real data plus the last ``size`` synthetic batches."""

    def init(real):
        return real, deque(maxlen=size)

    def step(state, t, synth, fresh, rng):
        real, recent = state
        recent.append(synth)
        return state, [Part(real)] + [Part(d) for d in recent]

    return Workflow(init=init, step=step, synthetic_size=lambda t: n)


def weights(n: int, matrix: Sequence[Sequence[float]]) -> Workflow:
    """Model t trains on data sets 0..t-1 with shares ``matrix[t-1][j]`` (Dey & Donoho, s4).

    Row ``t - 1`` of the matrix belongs to generation ``t``; missing trailing
    entries are 0 and each row is normalised to sum to 1.
    """

    def step(history, t, synth, fresh, rng):
        history = [*history, synth]
        return history, proportional(list(zip(history, matrix[t - 1], strict=False)))

    return Workflow(init=lambda real: [real], step=step, synthetic_size=lambda t: n, weighted=True)
