"""The shared shape of the neural families: one replicate per block, checkpoints in safetensors."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import PositiveInt, ValidationInfo, field_validator

from modelcollapse._rng import child_seed
from modelcollapse.data import Part, Rows, write_rows
from modelcollapse.models.base import FamilyConfig
from modelcollapse.models.neural._torch import load_module, resolve_device, save_module, seeded
from modelcollapse.models.rowbased import Fitted, RowFamily
from modelcollapse.registry import Positive
from modelcollapse.sources.base import World

PREVIEW = 64
DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]+)?|mps")


class TrainedConfig(FamilyConfig):
    """What every neural family's config shares: the optimiser's budget and the device."""

    steps: PositiveInt | None = None
    batch_size: PositiveInt = 32
    lr: Positive = 3e-3
    device: str = "auto"

    @field_validator("device")
    @classmethod
    def _device(cls, v: str, info: ValidationInfo) -> str:
        if not DEVICE.fullmatch(v):
            raise ValueError(f"{v!r} is not a device; allowed: auto, cpu, cuda, cuda:N, mps")
        stored = bool(info.context and info.context.get("stored"))  # reading results: no GPU needed
        if v.startswith("cuda") and not stored and not torch.cuda.is_available():
            raise ValueError(f"{v!r} asked for, but no CUDA GPU is available here; use auto or cpu")
        return v


class NeuralFamily(RowFamily):
    """Subclasses hold ``config`` (a :class:`TrainedConfig`) and give ``new_net(world)`` and
    ``train_net(net, parts, world, rng)``.

    ``fit`` builds a fresh network (or, with ``warm_start``, continues from the previous generation's)
    and returns a :class:`Fitted` holding it; ``save``/``load`` make a generation durable.
    """

    block = 1
    streams = False  # one replicate, one generator (torch seeds and data order come from it)
    durable = True
    config: Any

    @property
    def torch_device(self) -> torch.device:
        return resolve_device(self.config.device)

    def new_net(self, world: World) -> torch.nn.Module:
        raise NotImplementedError

    def train_net(self, net: Any, parts: Sequence[Part], world: World, rng: np.random.Generator) -> dict[str, Any]:
        """Train ``net`` in place; returns extra state to keep with it (e.g. data scaling)."""
        raise NotImplementedError

    def fitted(self, net: torch.nn.Module, eval_seed: int, extra: dict[str, Any], world: World) -> Fitted:
        return Fitted([net], self.draw, [eval_seed], extra)

    def fit(
        self, parts: Sequence[Part], world: World, rng: np.random.Generator, previous: Fitted | None = None
    ) -> Fitted:
        with seeded(rng):  # initialisers and dropout draw from torch's global generator
            net = self.new_net(world).to(self.torch_device)
            if self.warm_start and previous is not None:
                net.load_state_dict(previous.models[0].state_dict())
            extra = self.train_net(net, parts, world, rng)
        return self.fitted(net.eval(), child_seed(rng), extra, world)

    def sample(self, params: Fitted, n: int, rng: np.random.Generator, world: World, rows: bool) -> Rows:
        return Rows({"x": params.draw(params.models[0], n, rng)[None]})

    def save(self, params: Fitted, folder: Path, world: World) -> None:
        save_module(params.models[0], folder / "model.safetensors")
        (folder / "model.json").write_text(json.dumps({"eval_seed": params.eval_seeds[0], "extra": params.extra}))
        self.preview(params, folder, world)

    def preview(self, params: Fitted, folder: Path, world: World) -> None:
        """What a reader looks at: the first 64 evaluation samples (``preview.parquet``; ``samples.png`` for images)."""
        from modelcollapse.models.neural.images import save_grid

        samples = params.eval_samples[0][:PREVIEW]
        write_rows(Rows({"x": samples[None]}), folder / "preview.parquet")
        side = getattr(world.truth, "side", None)
        if side:
            save_grid(samples, side, folder / "samples.png")

    def load(self, folder: Path, world: World) -> Fitted:
        meta = json.loads((folder / "model.json").read_text())
        net = load_module(self.new_net(world).to(self.torch_device), folder / "model.safetensors")
        return self.fitted(net, meta["eval_seed"], meta["extra"], world)
