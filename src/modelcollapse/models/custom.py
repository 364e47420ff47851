"""A user's own :class:`~modelcollapse.models.base.Model`: registered by name, run one replicate at a time."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, create_model

from modelcollapse.data import Part, Rows
from modelcollapse.models.base import Family, FamilyConfig, Metric, Model
from modelcollapse.registry import MODELS
from modelcollapse.sources.base import World


@dataclass
class PerReplicate(Family):
    """Adapts a :class:`Model` prototype to the batched engine (a block of one replicate).

    Every generation fits a fresh deep copy of the prototype, so fitted state
    never leaks between generations. Data are the source's ``x`` rows.
    """

    prototype: Model
    streams = False  # a user's model takes one numpy Generator

    def __post_init__(self) -> None:
        self.metrics = {"test_loss": Metric(_test_loss, "the model's own loss on held-out real data")}
        self.supports_weights = "sample_weight" in inspect.signature(self.prototype.fit).parameters

    def fit(self, parts: Sequence[Part], world: World, rng: np.random.Generator, previous: Any = None) -> Any:
        x = np.concatenate([p.data.cols["x"][0] for p in parts])
        model = copy.deepcopy(self.prototype)
        if any(p.weight != 1.0 for p in parts):
            w = np.concatenate([np.full(p.data.n, p.weight) for p in parts])
            return model.fit(x, rng, sample_weight=w)  # type: ignore[call-arg]
        return model.fit(x, rng)

    def sample(self, fitted: Model, n: int, rng: np.random.Generator, world: World, rows: bool) -> Rows:
        return Rows({"x": np.asarray(fitted.sample(n, rng))[None]})


def _test_loss(fitted: Model, world: World) -> np.ndarray:
    return np.array([fitted.loss(world.test.cols["x"][0])], dtype=float)


class UserModelConfig(FamilyConfig):
    """A model registered with :func:`register_model`: ``params`` go to its constructor."""

    params: dict[str, Any] = Field(default_factory=dict)
    factory: ClassVar[type[Model]]
    sources: ClassVar[tuple[str, ...]] = ("gaussian", "categorical", "bernoulli", "poisson", "shapes", "tabular")

    def build(self, source: Any) -> PerReplicate:
        return PerReplicate(self.factory(**self.params))


def register_model(kind: str, factory: type[Model]) -> type[UserModelConfig]:
    """Make ``model: {kind: KIND, params: {...}}`` build ``factory(**params)``, run one replicate at a time."""
    cls = create_model(
        f"UserModel[{kind}]",
        __base__=UserModelConfig,
        __module__=factory.__module__,
        kind=(Literal[kind], kind),  # type: ignore[arg-type]
    )
    cls.factory = factory
    cls.__doc__ = (factory.__doc__ or "").strip() or f"a user's model ({factory.__name__})"
    MODELS.register(cls)
    return cls  # type: ignore[no-any-return]
