"""A denoising diffusion probabilistic model (Ho et al. 2020) with an MLP noise predictor.

Data are standardised per fit (the scaling is kept with the checkpoint). The noise schedule is linear
in beta, rescaled for ``timesteps`` steps (1e-4..0.02 at 1000 steps); sampling is ancestral with
sigma_t^2 = beta_t.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, PositiveInt
from torch import nn

from modelcollapse.data import Part
from modelcollapse.models.neural._torch import generator, stacked, train
from modelcollapse.models.neural.base import NeuralFamily, TrainedConfig
from modelcollapse.models.neural.images import VARIANCE
from modelcollapse.models.neural.vae import mlp
from modelcollapse.models.rowbased import Fitted
from modelcollapse.registry import MODELS, Positive
from modelcollapse.sources.base import World


class Denoiser(nn.Module):
    """Predicts the noise in x_t from (x_t, sinusoidal embedding of t)."""

    freqs: torch.Tensor
    betas: torch.Tensor
    alpha_bar: torch.Tensor

    def __init__(self, dim: int, hidden: int, timesteps: int, embed: int = 32) -> None:
        super().__init__()
        self.net = mlp([dim + embed, hidden, hidden, hidden, dim])
        freqs = torch.exp(-math.log(1000.0) * torch.arange(embed // 2) / (embed // 2))
        self.register_buffer("freqs", freqs, persistent=False)
        betas = torch.linspace(1e-4, 0.02, timesteps) * (1000 / timesteps)
        self.register_buffer("betas", betas.clamp(max=0.999), persistent=False)
        self.register_buffer("alpha_bar", torch.cumprod(1 - self.betas, 0), persistent=False)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        angles = t[:, None].float() * self.freqs[None]
        return self.net(torch.cat([x, angles.sin(), angles.cos()], -1))

    def loss(self, x0: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        t = torch.randint(0, len(self.betas), (len(x0),), generator=gen, device=x0.device)
        noise = torch.randn(x0.shape, generator=gen, device=x0.device)
        ab = self.alpha_bar[t][:, None]
        return (self(ab.sqrt() * x0 + (1 - ab).sqrt() * noise, t) - noise).square().mean()

    @torch.no_grad()
    def sample(self, n: int, dim: int, gen: torch.Generator) -> torch.Tensor:
        device = self.betas.device
        x = torch.randn(n, dim, generator=gen, device=device)
        for t in range(len(self.betas) - 1, -1, -1):
            beta, ab = self.betas[t], self.alpha_bar[t]
            eps = self(x, torch.full((n,), t, device=device))
            x = (x - beta / (1 - ab).sqrt() * eps) / (1 - beta).sqrt()
            if t:
                x = x + beta.sqrt() * torch.randn(n, dim, generator=gen, device=device)
        return x


@MODELS.register
class DDPMModelConfig(TrainedConfig):
    """A DDPM with an MLP denoiser on 2-D shapes or flattened images."""

    kind: Literal["ddpm"] = "ddpm"
    hidden: PositiveInt = 256
    timesteps: Annotated[int, Field(ge=2)] = 100
    steps: PositiveInt = 3000
    batch_size: PositiveInt = 256
    lr: Positive = 1e-3
    sources: ClassVar[tuple[str, ...]] = ("shapes", "images")

    def build(self, source: Any) -> DDPMFamily:
        images = source.kind == "images"
        return DDPMFamily(self, source.dim if images else 2, images)


@dataclass
class DDPMFamily(NeuralFamily):
    """DDPM on real-valued rows: 2-D shapes or flattened images (``dim`` values each)."""

    config: DDPMModelConfig
    dim: int
    images: bool

    def __post_init__(self) -> None:
        self.metrics = VARIANCE
        self.sample_metrics = "images" if self.images else "rows"

    def new_net(self, world: World) -> Denoiser:
        return Denoiser(self.dim, self.config.hidden, self.config.timesteps)

    def train_net(self, net: Any, parts: Sequence[Part], world: World, rng: np.random.Generator) -> dict[str, Any]:
        x, prob = stacked(parts)
        mean, std = x.mean(0), x.std(0) + 1e-6
        if self.images:  # one scale for all pixels, so blank borders stay blank
            mean, std = np.full_like(mean, x.mean()), np.full_like(std, x.std())
        data = torch.as_tensor((x - mean) / std, dtype=torch.float32, device=self.torch_device)
        gen = generator(rng, self.torch_device)
        cfg = self.config
        train(net, lambda b: net.loss(b, gen), data, prob, cfg.steps, cfg.batch_size, cfg.lr, rng)
        return {"mean": mean.tolist(), "std": std.tolist()}

    def fitted(self, net: torch.nn.Module, eval_seed: int, extra: dict[str, Any], world: World) -> Fitted:
        return Fitted([net], lambda m, n, r: self._draw(m, n, r, extra), [eval_seed], extra)

    def _draw(self, net: Denoiser, n: int, rng: np.random.Generator, extra: dict[str, Any]) -> np.ndarray:
        z = net.sample(n, self.dim, generator(rng, self.torch_device)).double().cpu().numpy()
        out = z * np.asarray(extra["std"]) + np.asarray(extra["mean"])
        return np.clip(out, 0.0, 1.0) if self.images else out
