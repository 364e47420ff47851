"""The experiment schema: YAML -> pydantic, validated at the boundary.

Sources, model families and workflows declare their own configs beside their code and register them
(:mod:`modelcollapse.registry`); this module holds what combines them: the experiment and the
real-synthetic grid. Validating an experiment checks that its pieces fit together and builds its family
once; reading one back from a results folder (:func:`stored`) checks its schema only, so any folder can
be read: one from a machine with a GPU, or one written with a model this process has not registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import (
    BeforeValidator,
    Field,
    PositiveInt,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from modelcollapse.metrics.groups import group_series
from modelcollapse.metrics.sets import table
from modelcollapse.models.base import Family, Metric
from modelcollapse.models.custom import register_model
from modelcollapse.registry import (
    DOWNSTREAM,
    MODELS,
    SOURCES,
    STAGES,
    WORKFLOWS,
    Config,
    Fraction,
    KindNeedsExtra,
    MissingKind,
    Registry,
    Seed,
    UnknownKind,
    short,
)
from modelcollapse.selection.base import Setting
from modelcollapse.selection.pipeline import Mode, Selection, series
from modelcollapse.workflows.base import Workflow
from modelcollapse.workflows.schedule import sizes

__all__ = ["Experiment", "GridConfig", "register_model", "stored"]


def _parser(registry: Registry) -> BeforeValidator:
    """Validate ``{kind: ..., ...}`` with the class its kind registered; errors keep the field's path."""

    def parse(value: Any, info: ValidationInfo) -> Any:
        try:
            return registry.parse(value, info.context)
        except MissingKind:
            raise PydanticCustomError("kind_missing", "kind: field required") from None
        except KindNeedsExtra as err:
            kind, reason = err.args
            raise PydanticCustomError(
                "kind_needs_extra", "kind: {kind} needs an optional extra: {reason}", {"kind": kind, "reason": reason}
            ) from None
        except UnknownKind as err:
            kind, allowed = err.args
            raise PydanticCustomError(
                "kind_unknown", "kind: {kind} is not one of: {allowed}", {"kind": kind, "allowed": allowed}
            ) from None

    return BeforeValidator(parse)


SourceField = Annotated[Any, _parser(SOURCES)]
ModelField = Annotated[Any, _parser(MODELS)]
WorkflowField = Annotated[Any, _parser(WORKFLOWS)]
StageField = Annotated[Any, _parser(STAGES)]
DownstreamField = Annotated[Any, _parser(DOWNSTREAM)]


class GridConfig(Config):
    """The real-synthetic grid (Kazdan et al. 2024): one cell per (N_real, N_syn), every family.

    Cells are ``real x synthetic`` (the cardinality grid) plus, for each total in ``totals``, the splits
    ``N_real = round(p * total)`` for ``p`` in ``proportions`` (the proportion curves); (0, 0) is left out.
    The generator is model ``generator`` of a replace chain started from ``samples_per_generation`` real
    points (1: fitted to them); no cell's real rows are ones it saw.
    """

    real: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)
    synthetic: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)
    generator: PositiveInt = 1
    totals: list[PositiveInt] = Field(default_factory=list)
    proportions: list[Fraction] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])

    def cells(self) -> list[tuple[int, int]]:
        pairs = {(r, s) for r in self.real for s in self.synthetic}
        pairs |= {(round(p * t), t - round(p * t)) for t in self.totals for p in self.proportions}
        return sorted(pairs - {(0, 0)})

    def workflow(self, real: int, synthetic: int) -> dict[str, Any]:
        return {"kind": "real-synthetic", "real": real, "synthetic": synthetic, "generator": self.generator}


class Experiment(Config):
    """One experiment: a source, a model family, workflows run side by side on the same real data."""

    name: str
    source: SourceField
    model: ModelField
    samples_per_generation: PositiveInt  # rows of generation 1 (and every generation, without a schedule)
    workflow: Annotated[list[WorkflowField], Field(min_length=1)]
    generations: Annotated[int, Field(gt=0, le=2**31 - 1)]  # the results table's columns are 32-bit
    replicates: Annotated[int, Field(gt=0, le=2**31 - 1)]
    seed: Seed = 0
    selection: list[StageField] = Field(default_factory=list)  # stages screening each synthetic batch, in order
    selection_mode: Mode = "oversample"  # oversample: sizes hold; survivors: sizes count what passes
    downstream: DownstreamField | None = None  # a classifier trained on every generation's data
    gpus_per_task: Annotated[float, Field(ge=0, le=1024)] | None = None  # Ray: GPUs of a neural cell's task
    schedule: list[PositiveInt] | str | dict[str, Any] | None = None  # n_t; set by a non-integer samples_per_generation
    metrics: list[str] | None = None
    sweep: dict[str, Any] | None = None  # expanded by run.loading.expand: lists, and zip groups
    grid: dict[str, Any] | None = None  # a real-synthetic grid, expanded by run.loading.expand
    quiet_defaults: ClassVar[tuple[str, ...]] = ("selection", "selection_mode", "downstream", "schedule")
    unkeyed: ClassVar[tuple[str, ...]] = ("gpus_per_task",)
    _family: Family | None = PrivateAttr(default=None)
    _workflows: dict[str, Workflow] = PrivateAttr(default_factory=dict)
    _sizes: np.ndarray | None = PrivateAttr(default=None)  # the schedule's n_t, evaluated once

    @model_validator(mode="before")
    @classmethod
    def _schedule(cls, data: Any) -> Any:
        """``samples_per_generation`` given as a schedule (a list, a formula) moves to ``schedule``; it keeps
        generation 1's size, so every reader of the size of the real data set finds a number."""
        if not isinstance(data, dict):
            return data
        given = data.get("samples_per_generation")
        if isinstance(given, list) and not all(type(n) is int for n in given):
            return data  # not a list of sizes: the field's own error names what it holds
        if isinstance(given, list | str | dict) and "generations" in data:
            if data.get("schedule") is not None:
                raise ValueError("give samples_per_generation as a schedule or schedule, not both")
            try:  # a list is checked whole here; a formula at every generation once generations is known
                first = int(sizes(given, max(len(given), 1) if isinstance(given, list) else 1)[0])  # type: ignore[arg-type]
            except (ValueError, TypeError, ArithmeticError) as err:
                raise ValueError(f"samples_per_generation: {err}") from None
            data = {**data, "samples_per_generation": first, "schedule": given}
        return data

    @model_validator(mode="before")
    @classmethod
    def _model_tokenizer(cls, data: Any) -> Any:
        """``source.tokenizer: hf`` with a pretrained ``model`` and no ``tokenizer_path``: the model's own."""
        source, model = (data.get(k) if isinstance(data, dict) else None for k in ("source", "model"))
        if isinstance(source, dict) and isinstance(model, dict) and source.get("tokenizer") == "hf":
            if source.get("tokenizer_path") is None and isinstance(model.get("model"), str):
                return {**data, "source": {**source, "tokenizer_path": model["model"]}}
        return data

    @field_validator("workflow", mode="before")
    @classmethod
    def _workflow_list(cls, v: Any) -> Any:
        items = v if isinstance(v, list) else [v]
        return [{"kind": w} if isinstance(w, str) else w for w in items]

    @field_validator("selection", mode="before")
    @classmethod
    def _stage_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict | str) else v

    @field_validator("workflow")
    @classmethod
    def _unique(cls, v: list[Any]) -> list[Any]:
        labels = [w.label for w in v]
        if len(set(labels)) != len(labels):
            twice = next(label for label in labels if labels.count(label) > 1)
            raise ValueError(f"workflow names must be unique, {short(twice)} is used twice; give each a 'name'")
        return v

    @model_validator(mode="after")
    def _fits(self, info: ValidationInfo) -> Experiment:
        if info.context and info.context.get("stored"):
            return self  # a stored config was checked when it ran
        if self.source.kind not in self.model.sources:
            allowed = ", ".join(self.model.sources)
            raise ValueError(
                f"model.kind {self.model.kind!r} cannot fit source.kind {self.source.kind!r}; it fits: {allowed}"
            )
        try:
            family = self.family()  # may read the source's files (a vocabulary)
        except OSError as err:
            raise ValueError(f"source: cannot read {short(err.filename)}: {err.strerror or err}") from None
        if not family.supports_weights:
            for i, wf in enumerate(self.workflow):
                if self.built(wf).weighted:
                    raise ValueError(
                        f"workflow[{i}]: model {self.model.kind!r} has no fit(..., sample_weight=...); "
                        f"the {wf.kind} workflow needs it"
                    )
        for i, wf in enumerate(self.workflow):
            if wf.shared_generations and self.generations != wf.shared_generations + 1:
                raise ValueError(
                    f"workflow[{i}]: real-synthetic measures generation generator + 1 = {wf.shared_generations + 1}; "
                    f"generations is {self.generations}"
                )
        self._stages_fit()
        self._downstream_fits(family)
        self._schedule_fits()
        if self.metrics is not None:
            known = self.metric_table()
            for m in self.metrics:
                if m not in known:
                    raise ValueError(f"metrics: unknown metric {short(m)}; allowed: {', '.join(known)}")
        self._enough_rows()
        return self

    def _stages_fit(self) -> None:
        if self.selection_mode != "oversample" and not self.selection:
            raise ValueError("selection_mode: survivors needs a selection (stages under selection)")
        setting = Setting(self.source, self.model)
        labels = [stage.label for stage in self.selection]
        for i, stage in enumerate(self.selection):
            if stage.label in labels[:i]:
                raise ValueError(f"selection[{i}]: stage names must be unique, {short(stage.label)} is used twice")
            try:
                stage.check(setting)
            except ValueError as err:
                raise ValueError(f"selection[{i}]: {err}") from None

    def _downstream_fits(self, family: Family) -> None:
        if self.downstream is None:
            return
        if not self.source.has_targets():
            raise ValueError(
                f"downstream: a classifier needs a source whose rows have classes and groups; "
                f"source.kind {self.source.kind!r} has none (mixture, or tabular with groups)"
            )
        if family.durable:
            raise ValueError(f"downstream: model {self.model.kind!r} saves its generations; a classifier cannot yet")

    def _schedule_fits(self) -> None:
        if self.schedule is None:
            return
        try:
            n = self.sizes()
        except ValueError as err:
            raise ValueError(f"samples_per_generation: {err}") from None
        if n[0] != self.samples_per_generation:
            first = self.samples_per_generation
            raise ValueError(f"samples_per_generation is {first} but the schedule starts at {n[0]}")
        for i, wf in enumerate(self.workflow):
            if not wf.scheduled:
                allowed = ", ".join(k for k, c in WORKFLOWS.items() if getattr(c, "scheduled", False))
                raise ValueError(f"workflow[{i}]: {wf.kind} has a fixed size; a schedule works with: {allowed}")

    def sizes(self) -> np.ndarray:
        """n_1..n_G: the rows of each generation's real or synthetic data set."""
        if self.schedule is None:
            return np.full(self.generations, self.samples_per_generation, dtype=np.int64)
        if self._sizes is None:
            self._sizes = sizes(self.schedule, self.generations)
        return self._sizes

    def _enough_rows(self) -> None:
        """A family that needs more rows than a generation trains on (an unbiased estimate's divisor) is refused."""
        need, why = self.model.min_rows(self.source)
        fewest = int(self.sizes().min()) if self.schedule is not None else self.samples_per_generation
        given = [("samples_per_generation", fewest)]
        given += [(f"workflow[{i}] ({wf.label})", wf.fewest_rows(fewest)) for i, wf in enumerate(self.workflow)]
        for where, rows in given:
            if rows < need:
                raise ValueError(f"{why}, so it needs at least {need} training rows; {where} gives {rows}")

    def __eq__(self, other: object) -> bool:  # the fields; the caches of built pieces are no part of it
        return isinstance(other, Experiment) and self.__dict__ == other.__dict__

    __hash__ = Config.__hash__

    def __getstate__(self) -> dict[Any, Any]:
        """What travels to a worker process: the config; the family and workflows are rebuilt there, once."""
        state = super().__getstate__()
        return {**state, "__pydantic_private__": {"_family": None, "_workflows": {}, "_sizes": None}}

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Experiment:
        """A copy (with ``update`` applied) that builds its own family and workflows."""
        copy = super().model_copy(update=update, deep=deep)
        copy._family, copy._workflows, copy._sizes = None, {}, None
        return copy

    @property
    def accelerated(self) -> bool:
        """A neural model that may run on a GPU (its device is not ``cpu``)."""
        return getattr(self.model, "device", "cpu") != "cpu"

    def family(self) -> Family:
        """The model family, built once per experiment (it may read the source, e.g. a vocabulary)."""
        if self._family is None:
            self._family = self.model.build(self.source)
        return self._family

    def built(self, workflow: Any) -> Workflow:
        """A workflow config's rule for this experiment's sizes, built once."""
        if workflow.label not in self._workflows:
            built = workflow.build(self.samples_per_generation, self.generations)
            if self.schedule is not None:
                n = self.sizes()
                built = built._replace(synthetic_size=lambda t: int(n[t - 1]))
            self._workflows[workflow.label] = built
        return self._workflows[workflow.label]

    @property
    def portable(self) -> bool:
        """True when every kind is the package's own, so a fresh worker process can rebuild this config."""
        pairs = [(SOURCES, self.source), (MODELS, self.model), *((WORKFLOWS, w) for w in self.workflow)]
        pairs += [(STAGES, s) for s in self.selection]
        return all(registry.is_builtin(c.kind) and getattr(c, "portable", True) for registry, c in pairs)

    def selected(self) -> Selection | None:
        """The selection stages of one chain, built anew (a stage may hold state across generations)."""
        if not self.selection:
            return None
        return Selection.build(self.selection, self.selection_mode, Setting(self.source, self.model))

    def metric_table(self) -> dict[str, Metric]:
        return table(self.family(), self.source)

    def metric_names(self) -> list[str]:
        return list(self.metrics) if self.metrics is not None else list(self.metric_table())

    def recorded(self) -> list[str]:
        """Every series a chain records: the metrics, ``train_size``, the selection's values, the per-group
        values of a group-aware source and its downstream classifier's."""
        names = self.source.group_names() if hasattr(self.source, "group_names") else ()
        out = [*self.metric_names(), "train_size", *series(self.selection)]
        if names:
            out += group_series(names) + (self.downstream.series(names) if self.downstream is not None else [])
        return out


def stored(config: dict[str, Any]) -> Experiment:
    """A config read back from a results folder: its schema is checked, nothing is built or probed, and a
    kind this process does not know (a user's model, an extra not installed) is kept as it was."""
    return Experiment.model_validate(config, context={"stored": True})
