"""One registry per concept: every source, model family and workflow declares its config once, beside its code.

A config is a frozen pydantic model with a ``kind`` literal; registering it makes ``kind`` valid in an
experiment, lists it in ``modelcollapse list`` and in the allowed values of error messages:

>>> from typing import Literal
>>> from modelcollapse.workflows.base import WorkflowConfig
>>> @WORKFLOWS.register
... class Doubling(WorkflowConfig):
...     '''Example: a workflow config (its ``build`` is left out here).'''
...     kind: Literal["doubling-example"] = "doubling-example"
>>> "doubling-example" in WORKFLOWS.kinds()
True
>>> WORKFLOWS.unregister("doubling-example")

The package's own kinds are found by importing their modules, named below; those that need an optional
extra (PyTorch) are imported only when their kind is asked for, so ``import modelcollapse`` stays light.
This module imports nothing else of the package: every layer may use it.
"""

from __future__ import annotations

import builtins
import importlib
import itertools
import reprlib
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)
from pydantic_core import PydanticCustomError

C = TypeVar("C", bound=type["Config"])

# Field types the configs share.
Positive = Annotated[float, Field(gt=0.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Estimator = Literal["mle", "unbiased"]
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]  # a DuckDB BIGINT, a numpy seed


class Config(BaseModel):
    """Base of every config: unknown fields are errors, numbers are finite and never booleans or text (YAML's
    ``true`` is not 1, ``'2'`` is not 2), and a validated config never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    # Fields added after results existed: left out of a dump at their default, so that the hashes keying
    # every stored cell and random stream (a hash of the dump) stay those of the configs without them.
    quiet_defaults: ClassVar[tuple[str, ...]] = ()
    # Fields about where the work runs, not what it computes (the GPUs a Ray task asks for): never dumped,
    # so they key no cell or stream, and moving a config to a cluster keeps its results.
    unkeyed: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if not (self.quiet_defaults or self.unkeyed) or not isinstance(data, dict):
            return data
        fields = type(self).model_fields
        return {
            k: v
            for k, v in data.items()
            if k not in self.unkeyed
            and (k not in self.quiet_defaults or getattr(self, k) != fields[k].get_default(call_default_factory=True))
        }

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        odd = None if info.field_name is None else _odd_scalar(value)
        if odd is None:
            return value
        leaves = _leaves(cls.model_fields[info.field_name].annotation)  # type: ignore[index]
        if odd in leaves or Any in leaves or not leaves & {int, float} or (odd is str and leaves - {int, float}):
            return value  # allowed (or the field is not only numeric): pydantic decides
        what = "a number" if float in leaves else "an integer"
        name = "a boolean" if odd is bool else "text"
        raise PydanticCustomError("odd_number", "Input should be {what}, not {name}", {"what": what, "name": name})


def _leaves(annotation: Any) -> set[Any]:
    """The leaf types of an annotation, through Annotated, unions, Literal and containers."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return {type(a) for a in args}
    if origin is Annotated:
        return _leaves(args[0])
    if not args:
        return {annotation}
    return set().union(*(_leaves(a) for a in args if a is not Ellipsis))


def _odd_scalar(value: Any) -> type | None:
    """``bool`` or ``str`` when ``value`` is one or a list/tuple/dict holds one, at any depth (iterative)."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, bool | str):
            return type(v)
        if isinstance(v, list | tuple):
            todo.extend(v)
        elif isinstance(v, dict):
            todo.extend(v.values())
    return None


class Opaque(BaseModel):
    """A stored config whose kind this process does not know (a user's model, a missing extra): its fields,
    kept as they were, so a results folder can still be read."""

    model_config = ConfigDict(extra="allow", frozen=True)  # its fields read as attributes, as stored
    kind: str
    name: str | None = None

    @property
    def label(self) -> str:
        """A workflow's label (its ``name`` or ``kind``), as the stored results call it."""
        return self.name or self.kind


class UnknownKind(LookupError):
    """A kind no class is registered for: ``args = (kind as quoted, allowed kinds)``."""


class MissingKind(LookupError):
    """A config without a ``kind``."""


class KindNeedsExtra(LookupError):
    """A kind of the package whose optional extra is not installed: ``args = (kind as quoted, the reason)``."""


class Registry:
    """Kinds of one concept (``source``, ``model``, ``workflow``) -> their config classes.

    ``modules`` are imported on first use (they register their kinds); ``lazy`` maps a kind to the module
    that registers it, imported only when that kind is needed.
    """

    def __init__(self, concept: str, modules: tuple[str, ...] = (), lazy: Mapping[str, str] | None = None) -> None:
        self.concept = concept  # "source", "model", "workflow" or "stage"
        self._modules, self._lazy = modules, dict(lazy or {})
        self._kinds: dict[str, type[Config]] = {}
        self._aliases: dict[str, str] = {}
        self._loaded = False

    def register(self, cls: C | None = None, *, aliases: tuple[str, ...] = ()) -> Any:
        """Class decorator: registers ``cls`` under its ``kind`` literal (and ``aliases``, accepted in configs)."""

        def add(c: C) -> C:
            kind = kind_of(c)
            if not self._is_package(c):
                self._load()  # the package's kinds first, so a user's class cannot be replaced by one later
                taken = self._kinds.get(self.canonical(kind))
                if kind in self._aliases or kind in self._lazy or (taken is not None and self._is_package(taken)):
                    raise ValueError(f"{self.concept} kind {kind!r} is the package's own; choose another name")
            self._kinds[kind] = c
            for a in aliases:
                self._aliases[a] = kind
            return c

        return add(cls) if cls is not None else add

    def unregister(self, kind: str) -> None:
        self._kinds.pop(kind, None)
        self._aliases = {a: k for a, k in self._aliases.items() if k != kind}

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._modules:
                importlib.import_module(module)

    def aliases(self, kind: str) -> list[str]:
        return [a for a, k in self._aliases.items() if k == kind]

    def canonical(self, kind: str) -> str:
        return self._aliases.get(kind, kind)

    def get(self, kind: str) -> type[Config] | None:
        """The config class of ``kind`` (or an alias); None when unknown. May import a lazy builtin."""
        self._load()
        kind = self.canonical(kind)
        if kind not in self._kinds and kind in self._lazy:
            importlib.import_module(self._lazy[kind])  # ImportError names the missing extra
        return self._kinds.get(kind)

    def kinds(self) -> list[str]:
        """Every kind, the lazy ones included (without importing them): the package's in the order of their
        modules, then those registered by users."""
        self._load()
        modules = [*self._modules, *self._lazy.values()]
        found = {**dict.fromkeys(self._lazy), **self._kinds}

        def order(kind: str) -> int:
            module = self._kinds[kind].__module__ if kind in self._kinds else self._lazy[kind]
            return modules.index(module) if module in modules else len(modules)

        return sorted(found, key=order)  # stable: registration order within a module

    def is_builtin(self, kind: str) -> bool:
        """True for the package's own kinds (a fresh worker process finds them by importing the package)."""
        cls = self._kinds.get(self.canonical(kind))
        return cls is not None and self._is_package(cls)

    def _is_package(self, cls: type) -> bool:
        return cls.__module__ in (*self._modules, *self._lazy.values())

    def items(self) -> Iterator[tuple[str, type[Config] | ImportError]]:
        """``(kind, config class)`` for every kind; a lazy kind whose extra is missing gives its ImportError."""
        for kind in self.kinds():
            try:
                cls = self.get(kind)
            except ImportError as err:
                yield kind, err
                continue
            if cls is not None:
                yield kind, cls

    def parse(self, value: Any, context: Mapping[str, Any] | None = None) -> BaseModel:
        """Validate one ``{kind: ..., ...}`` mapping with its kind's class (pydantic adds the field to errors).

        When reading stored results (``context={"stored": True}``), an unknown kind is kept as :class:`Opaque`.
        """
        if isinstance(value, BaseModel):
            return value
        if isinstance(value, str):
            value = {"kind": value}
        if not isinstance(value, dict) or "kind" not in value:
            raise MissingKind()
        kind = value["kind"]
        stored = bool(context and context.get("stored"))
        try:
            cls = self.get(kind) if isinstance(kind, str) else None
        except ImportError as err:
            if stored:
                return Opaque.model_validate(value)
            raise KindNeedsExtra(short(kind), str(err)) from None
        if cls is None:
            if stored and isinstance(kind, str):
                return Opaque.model_validate(value)
            raise UnknownKind(short(kind), ", ".join(self.kinds()))
        if kind != kind_of(cls):
            value = {**value, "kind": kind_of(cls)}
        return cls.model_validate(value, context=context)


def kind_of(cls: type[BaseModel]) -> str:
    """The ``kind`` literal a config class declares."""
    field = cls.model_fields.get("kind")
    kinds = get_args(field.annotation) if field is not None else ()
    if len(kinds) != 1 or not isinstance(kinds[0], str):
        raise TypeError(f"{cls.__name__} must declare kind: Literal['its-kind']")
    return kinds[0]


class _Prefix(reprlib.Repr):
    """A repr that never walks or copies more of a value than a short prefix needs."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxother = 8, 200
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdict = 30  # 30 items > 60 chars

    def repr_str(self, x: str, level: int) -> str:
        return builtins.repr(x[:200])  # a prefix, not reprlib's middle cut

    def repr_dict(self, x: dict[Any, Any], level: int) -> str:  # in order, not sorted as reprlib does
        if not x or level <= 0:
            return "{...}" if x else "{}"
        items = itertools.islice(x.items(), self.maxdict)
        more = ", ..." if len(x) > self.maxdict else ""
        return "{" + ", ".join(f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}" for k, v in items) + more + "}"

    def repr_int(self, x: int, level: int) -> str:
        try:
            return builtins.repr(x)
        except ValueError:  # more digits than Python prints
            return f"<an int of {x.bit_length()} bits>"


_PREFIX = _Prefix()


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to a short prefix: an error line never quotes a whole (possibly huge) value."""
    text = _PREFIX.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def doc(obj: object) -> str:
    """The first paragraph of a docstring, on one line."""
    return " ".join((obj.__doc__ or "").strip().split("\n\n")[0].split())


SOURCES = Registry(
    "source",
    modules=(
        "modelcollapse.sources.gaussian",
        "modelcollapse.sources.regression",
        "modelcollapse.sources.discrete",
        "modelcollapse.sources.sklearn_data",
        "modelcollapse.sources.text",
        "modelcollapse.sources.molecules",
        "modelcollapse.sources.images",
        "modelcollapse.sources.mixture",
        "modelcollapse.sources.conformers",
    ),
)
MODELS = Registry(
    "model",
    modules=(
        "modelcollapse.models.gaussian",
        "modelcollapse.models.linear",
        "modelcollapse.models.discrete",
        "modelcollapse.models.kde",
        "modelcollapse.models.gmm",
        "modelcollapse.models.ngram",
    ),
    lazy={  # PyTorch, an optional extra, is imported only for these
        "gpt": "modelcollapse.models.neural.lm",
        "hf-lm": "modelcollapse.models.neural.hf",
        "vae": "modelcollapse.models.neural.vae",
        "ddpm": "modelcollapse.models.neural.ddpm",
        "conformer-diffusion": "modelcollapse.models.neural.conformer",
    },
)
WORKFLOWS = Registry("workflow", modules=("modelcollapse.workflows.rules",))
STAGES = Registry(
    "stage",
    modules=(
        "modelcollapse.selection.verifier",
        "modelcollapse.selection.curate",
        "modelcollapse.selection.detector",
        "modelcollapse.selection.watermark",
        "modelcollapse.selection.reparation",
    ),
)
DOWNSTREAM = Registry("downstream", modules=("modelcollapse.downstream.classifier",))
