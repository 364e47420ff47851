"""The generation loop for one block of replicates.

real data -> fit model 1 -> sample -> workflow picks the training set -> fit
model 2 -> ...; every generation is measured against the held-out real data.

Families marked ``durable`` (the neural ones, whose generations take minutes) may be given a
:class:`~modelcollapse.run.journal.Journal`: every finished generation is written to it and a rerun
resumes after the last one. Their workflow draws from its own stream, so that replaying the saved
data through the workflow rebuilds its state exactly; the numbers are the same with or without a
journal, interrupted or not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modelcollapse._rng import Streams, offshoot
from modelcollapse.data import Part, Rows
from modelcollapse.metrics import groups as per_group
from modelcollapse.models.base import Family, Metric
from modelcollapse.run.journal import Journal
from modelcollapse.selection.pipeline import Selection, series
from modelcollapse.sources.base import World
from modelcollapse.workflows.base import Workflow, training_size

TRAIN_SIZE = "train_size"
GROUPS, CLASSIFIER = 0x6E0_05, 0xC1A55  # key the streams of the group measurements and the classifier


def simulate(
    world: World,
    family: Family,
    workflow: Workflow,
    generations: int,
    rng: Streams,
    metrics: Mapping[str, Metric],
    journal: Journal | None = None,
    selection: Selection | None = None,
    downstream: Any = None,
) -> dict[str, np.ndarray]:
    """Run ``generations`` generations, measuring ``metrics``; returns ``{metric: array (generations, B)}``.

    ``rng`` holds one stream per replicate. ``train_size`` (rows in each generation's training set) is
    always recorded, and so are the values of a ``selection`` that screens every synthetic batch
    (NaN in generation 1, which trains on real data alone). A group-aware world adds the per-group
    values (:mod:`~modelcollapse.metrics.groups`), its synthetic rows labelled with their group; a
    ``downstream`` classifier is trained on every generation's training set and labels the next
    generation's synthetic rows.
    """
    batch = world.train.batch
    groups = world.groups
    out = {m: np.empty((generations, batch)) for m in (*metrics, TRAIN_SIZE)}
    selected = series(selection.configs) if selection is not None else []
    out |= {v: np.full((generations, batch), np.nan) for v in selected}
    extra = per_group.group_series(groups.names) if groups is not None else []
    extra += downstream.series(groups.names) if downstream is not None and groups is not None else []
    out |= {v: np.full((generations, batch), np.nan) for v in extra}
    keep_rows = workflow.needs_rows or downstream is not None  # a classifier trains on rows
    durable = family.durable
    journal = journal if durable else None
    step_rng = rng.spawn(1)[0] if durable else rng
    if not family.streams and len(rng) != 1:
        raise ValueError(f"{type(family).__name__} draws from one generator: its block is 1 replicate, got {len(rng)}")
    draws = rng if family.streams else rng[0]  # what fit and sample draw from

    def prepare(rows):  # type: ignore[no-untyped-def]
        return rows if keep_rows else family.prepare(rows, world)

    clf: Any = None  # the latest generation's classifier

    def annotate(rows: Any) -> Any:
        """Synthetic rows with the columns of real ones: their group and (the classifier's) target."""
        if groups is None or not isinstance(rows, Rows):
            return rows
        x = rows.cols["x"]
        cols = {**rows.cols, "group": groups.assign(x)}
        if "target" in world.train.cols:
            cols["target"] = clf.predict(x) if clf is not None else np.full(x.shape[:2], -1)
        return Rows(cols)

    def fit(parts: Sequence[Part], previous: object) -> object:
        return family.fit(parts, world, draws, previous if family.warm_start else None)

    def synthetic(t: int, params: object, m: int) -> object:
        if selection is None:
            return annotate(family.sample(params, m, draws, world, rows=keep_rows))
        rows, values = selection.draw(
            lambda k, s: annotate(family.sample(params, k, s if family.streams else s[0], world, rows=True)),
            m,
            t,
            world,
            rng,
        )
        for v in selected:
            out[v][t - 1] = values[v]
        if not rows.n:  # survivors: none passed (a data set of no rows has no statistics)
            raise ValueError(f"generation {t}: the selection kept no synthetic row")
        return prepare(rows)

    def record(t: int, params: object, parts: Sequence[Part], synth: object = None, fresh: object = None) -> None:
        nonlocal clf
        for m in metrics:
            out[m][t - 1] = metrics[m].fn(params, world)
        out[TRAIN_SIZE][t - 1] = training_size(parts)
        if groups is not None:
            measure_groups(t, params)
        if downstream is not None:
            clf = downstream.fit(parts, offshoot(rng, CLASSIFIER, t))
            for k, v in downstream.measure(clf, world).items():
                out[k][t - 1] = v
        if journal is not None:
            save = lambda folder: family.save(params, folder, world)
            journal.write(t, save, synth, fresh, {m: out[m][t - 1] for m in out}, rng[0])  # type: ignore[arg-type]

    def measure_groups(t: int, params: object) -> None:
        assert groups is not None
        s = offshoot(rng, GROUPS, t)
        x = family.sample(params, per_group.EVAL_ROWS, s if family.streams else s[0], world, rows=True).cols["x"]
        test = world.test
        losses = family.row_loss(params, test.cols["x"], world)
        for k, v in per_group.measure(groups, x, losses, test.cols["group"]).items():
            out[k][t - 1] = v

    real = prepare(world.train)
    state = workflow.init(real)
    done = journal.finished() if journal is not None else 0
    if done:  # resume: reload the values, replay the workflow over the saved data, reload the model
        for t in range(1, done + 1):
            for m, v in journal.state(t)["values"].items():  # type: ignore[union-attr]
                if m in out:
                    out[m][t - 1] = v
        for t in range(2, done + 1):
            state, _ = workflow.step(state, t, journal.rows(t, "synthetic"), journal.rows(t, "fresh"), step_rng)  # type: ignore[union-attr]
        params = family.load(journal.path(done), world)  # type: ignore[union-attr]
        rng[0].bit_generator.state = journal.state(done)["rng"]  # type: ignore[union-attr]
    else:
        parts: Sequence[Part] = [Part(real)]
        params = fit(parts, None)
        record(1, params, parts)
    for t in range(max(done, 1) + 1, generations + 1):
        m, k = workflow.synthetic_size(t), workflow.fresh_size(t)
        synth = synthetic(t, params, m) if m else None
        fresh = prepare(world.draw(k, rng)) if k else None
        state, parts = workflow.step(state, t, synth, fresh, step_rng)
        params = fit(parts, params)
        record(t, params, parts, synth, fresh)
    return out
