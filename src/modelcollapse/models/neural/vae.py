"""A variational autoencoder on images in [0, 1]: MLP encoder and decoder, Bernoulli likelihood.

A sample is a draw from the model's own distribution: z ~ N(0, I), then every pixel ~ Bernoulli(p(z)).
(Decoder means, the usual picture of a VAE's samples, are not draws: trained on them, the next model
sees no pixel noise and the chain contracts to the mean image within a few generations, whatever the
workflow.)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import PositiveInt
from torch import nn

from modelcollapse.data import Part
from modelcollapse.models.base import Metric
from modelcollapse.models.neural._torch import batches, generator, stacked, train
from modelcollapse.models.neural.base import NeuralFamily, TrainedConfig
from modelcollapse.models.neural.images import VARIANCE
from modelcollapse.models.rowbased import Fitted
from modelcollapse.registry import MODELS, Positive
from modelcollapse.sources.base import World


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.SiLU()]
    return nn.Sequential(*layers[:-1])


class VAE(nn.Module):
    """Encoder to (mean, log-variance) of q(z|x), decoder to Bernoulli logits of every pixel.

    >>> VAE(dim=64, hidden=32, latent=4).neg_elbo(torch.rand(5, 64)).shape
    torch.Size([5])
    """

    def __init__(self, dim: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = mlp([dim, hidden, hidden, 2 * latent])
        self.decoder = mlp([latent, hidden, hidden, dim])

    def neg_elbo(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
        """-ELBO per image (nats): reconstruction cross-entropy plus KL(q(z|x) || N(0, I))."""
        mu, logvar = self.encoder(x).chunk(2, -1)
        eps = torch.randn_like(mu) if eps is None else eps
        logits = self.decoder(mu + (0.5 * logvar).exp() * eps)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        return rec + 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(-1)


@MODELS.register
class VAEModelConfig(TrainedConfig):
    """A VAE (MLP encoder/decoder, Bernoulli likelihood) on images in [0, 1]."""

    kind: Literal["vae"] = "vae"
    hidden: PositiveInt = 256
    latent: PositiveInt = 8
    epochs: Positive = 20.0
    batch_size: PositiveInt = 64
    lr: Positive = 1e-3
    sources: ClassVar[tuple[str, ...]] = ("images",)

    def build(self, source: Any) -> VAEFamily:
        return VAEFamily(self, source.dim)


@dataclass
class VAEFamily(NeuralFamily):
    """VAE on ``dim`` pixels; ``config.steps`` AdamW steps per generation (or ``config.epochs`` over the data)."""

    config: VAEModelConfig
    dim: int
    sample_metrics = "images"

    def __post_init__(self) -> None:
        self.metrics = {
            "test_neg_elbo": Metric(_test_neg_elbo, "negative ELBO of held-out real images (nats per image)"),
            **VARIANCE,
        }

    def new_net(self, world: World) -> VAE:
        return VAE(self.dim, self.config.hidden, self.config.latent)

    def train_net(self, net: Any, parts: Sequence[Part], world: World, rng: np.random.Generator) -> dict[str, Any]:
        x, prob = stacked(parts)
        data = torch.as_tensor(x, dtype=torch.float32, device=self.torch_device)
        steps = self.config.steps or max(1, round(self.config.epochs * len(x) / self.config.batch_size))
        gen = generator(rng, self.torch_device)

        def loss(batch: torch.Tensor) -> torch.Tensor:
            eps = torch.randn(len(batch), self.config.latent, generator=gen, device=batch.device)
            return net.neg_elbo(batch, eps).mean()

        train(net, loss, data, prob, steps, self.config.batch_size, self.config.lr, rng)
        return {}

    @torch.no_grad()
    def draw(self, net: VAE, n: int, rng: np.random.Generator) -> np.ndarray:  # type: ignore[override]
        gen = generator(rng, self.torch_device)
        z = torch.randn(n, net.latent, generator=gen, device=self.torch_device)
        return torch.bernoulli(net.decoder(z).sigmoid(), generator=gen).double().cpu().numpy()


@torch.no_grad()
def _test_neg_elbo(p: Fitted, w: World) -> np.ndarray:
    """Averaged over 8 posterior draws per image from a fixed generator, so it is a function of the model."""
    net = p.models[0]
    device = next(net.parameters()).device
    x = torch.as_tensor(np.array(w.test.cols["x"][0]), dtype=torch.float32, device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    total = 0.0
    for sl in batches(len(x), 512):
        for _ in range(8):
            eps = torch.randn(sl.stop - sl.start, net.latent, generator=gen, device=device)
            total += float(net.neg_elbo(x[sl], eps).sum()) / 8
    return np.array([total / len(x)])
