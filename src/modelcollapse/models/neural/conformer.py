"""Conformer diffusion: a DDPM over atom coordinates conditioned on the molecular graph (GeoDiff's task), with
an E(3)-equivariant denoiser (an EGNN, as in Hoogeboom et al.'s equivariant diffusion).

Coordinates (Å) diffuse in the subspace of zero centre of mass: noise has its mean over the molecule's
atoms removed. The EGNN moves the atoms of x_t to its prediction of the clean conformer x_0 (rotating
x_t rotates the prediction, translating it changes nothing once centred, permuting atoms permutes it);
training minimises the x_0 error weighted by min(SNR_t, 5), the capped form of the usual noise loss,
which is the test loss reported. The noise schedule is linear in beta (Ho et al. 2020, rescaled to
``timesteps``); sampling is ancestral, through the posterior q(x_{t-1} | x_t, x_0).

A row is one conformer (``x`` (A, 3), ``mol`` the molecule whose graph, in the source's truth, conditions
it). A generation's synthetic rows are conformers sampled for the training molecules, each molecule as
often as the others, so the workflows mix them with real conformers as for every other family.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, PositiveInt
from torch import nn

from modelcollapse.data import Part, Rows
from modelcollapse.models.base import Metric
from modelcollapse.models.neural._torch import batches, generator, train
from modelcollapse.models.neural.base import NeuralFamily, TrainedConfig
from modelcollapse.models.neural.egnn import EGNN
from modelcollapse.models.rowbased import Fitted
from modelcollapse.registry import MODELS, Positive
from modelcollapse.sources.base import World
from modelcollapse.sources.conformers import FEATURE_SIZES, MAX_HOPS, eval_molecules

PAIR_SIZES = (5, MAX_HOPS + 1)  # bond type (none, single, double, triple, aromatic), graph distance
TEST_TIMES = 10  # diffusion times at which the test loss is taken, evenly spaced
PREVIEW_SDF = 20  # evaluation conformers written to a generation's samples.sdf


def linear_schedule(timesteps: int) -> torch.Tensor:
    """alpha_bar_t for t = 1..T: betas linear from 1e-4 to 0.02 at 1000 steps, rescaled to ``timesteps`` (Ho et al.).

    (The cosine schedule's last betas near 1 divide the sampler's error by sqrt(1 - beta) ~ 0.03 in few steps.)
    """
    betas = (torch.linspace(1e-4, 0.02, timesteps, dtype=torch.float64) * (1000 / timesteps)).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0).float()


def centred(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x (N, A, 3) minus its mean over the real atoms (mask (N, A, 1)), padding kept at 0."""
    return (x - (x * mask).sum(1, keepdim=True) / mask.sum(1, keepdim=True)) * mask


class Graphs:
    """The molecules' graphs as tensors on one device, gathered per batch of rows by molecule id."""

    def __init__(self, truth: Any, device: torch.device) -> None:
        self.features = torch.as_tensor(truth.features, device=device)
        self.pair = torch.as_tensor(np.stack([truth.bonds, truth.hops], -1), device=device)

    def __call__(self, mols: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feats = self.features[mols]
        return feats, self.pair[mols], (feats[..., :1] > 0).float()


def graphs_of(world: World, device: torch.device) -> Graphs:
    """The world's graphs on ``device``, built once per world (training, sampling and the test loss share them)."""
    key = f"graphs:{device}"
    if key not in world.cache:
        world.cache[key] = Graphs(world.truth, device)
    return world.cache[key]  # type: ignore[no-any-return]


class Denoiser(nn.Module):
    """Predicts the clean conformer x_0 from the graph, x_t and t (the EGNN moves x_t's atoms to it)."""

    alpha_bar: torch.Tensor
    freqs: torch.Tensor

    def __init__(self, hidden: int, layers: int, timesteps: int) -> None:
        super().__init__()
        self.egnn = EGNN(FEATURE_SIZES, PAIR_SIZES, hidden, layers)
        self.time = nn.Linear(hidden, hidden)
        self.register_buffer("freqs", torch.exp(-math.log(1000.0) * torch.arange(hidden // 2) / (hidden // 2)), False)
        self.register_buffer("alpha_bar", linear_schedule(timesteps), persistent=False)

    @property
    def timesteps(self) -> int:
        return len(self.alpha_bar)

    def forward(
        self, feats: torch.Tensor, pair: torch.Tensor, mask: torch.Tensor, x: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        angles = (t.float() * 1000 / self.timesteps)[:, None] * self.freqs[None]
        context = self.time(torch.cat([angles.sin(), angles.cos()], -1))
        return centred(self.egnn(feats, pair, x, context), mask)

    def loss(
        self, graph: tuple[torch.Tensor, ...], x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        """Squared error of x_0 per real coordinate (Å^2) weighted by min(SNR_t, 5) (Hang et al. 2023: the
        noise-prediction loss, SNR * that error, with the low-noise steps' weight capped), one value per conformer."""
        feats, pair, mask = graph
        ab = self.alpha_bar[t][:, None, None]
        pred = self(feats, pair, mask, ab.sqrt() * x0 + (1 - ab).sqrt() * centred(noise, mask), t)
        weight = (ab / (1 - ab)).clamp(max=5.0)[:, 0, 0]
        return weight * (pred - x0).square().sum((1, 2)) / (3 * mask.sum((1, 2)))

    @torch.no_grad()
    def sample(self, graph: tuple[torch.Tensor, ...], gen: torch.Generator) -> torch.Tensor:
        """Ancestral sampling: x_{t-1} from the posterior q(x_{t-1} | x_t, x_0 = the prediction)."""
        feats, pair, mask = graph
        x = centred(torch.randn(*mask.shape[:2], 3, generator=gen, device=mask.device), mask)
        prev = torch.cat([self.alpha_bar.new_ones(1), self.alpha_bar[:-1]])
        for t in range(self.timesteps - 1, -1, -1):
            ab, ab_prev = self.alpha_bar[t], prev[t]
            beta = 1 - ab / ab_prev
            x0 = self(feats, pair, mask, x, torch.full((len(x),), t, device=x.device))
            x = (ab_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - ab_prev) * x) / (1 - ab)
            if t:
                sigma = (beta * (1 - ab_prev) / (1 - ab)).sqrt()
                x = x + sigma * centred(torch.randn(x.shape, generator=gen, device=x.device), mask)
        return x


@MODELS.register
class ConformerDiffusionConfig(TrainedConfig):
    """A DDPM over 3-D conformers with an EGNN denoiser conditioned on the molecular graph."""

    kind: Literal["conformer-diffusion"] = "conformer-diffusion"
    hidden: PositiveInt = 64
    layers: PositiveInt = 4
    timesteps: Annotated[int, Field(ge=2)] = 50
    steps: PositiveInt = 500  # with the source's defaults: 10 s a generation on 2 cores (docs/conformers.md)
    batch_size: PositiveInt = 32
    lr: Positive = 1e-3
    device: str = "cpu"  # small graphs: a GPU pays off only at a larger --scale (--device cuda)
    sources: ClassVar[tuple[str, ...]] = ("conformers",)

    def build(self, source: Any) -> ConformerFamily:
        return ConformerFamily(self)


@dataclass
class ConformerFitted(Fitted):
    """A fitted generation: ``draw(net, n, rng)`` gives ``n`` conformers of the training molecules and
    ``conformers(net, mols, rng)`` those of the molecules ``mols``; the evaluation samples are conformers of
    the held-out molecules, in the order of :func:`~modelcollapse.sources.conformers.eval_molecules`."""

    conformers: Callable[[Any, np.ndarray, np.random.Generator], np.ndarray] | None = None
    eval_mols: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    @cached_property
    def eval_samples(self) -> list[np.ndarray]:
        assert self.conformers is not None
        return [self.conformers(self.models[0], self.eval_mols, np.random.default_rng(self.eval_seeds[0]))]


@dataclass
class ConformerFamily(NeuralFamily):
    """Conformer diffusion on the rows of a ``conformers`` source (``x`` coordinates, ``mol`` the molecule)."""

    config: ConformerDiffusionConfig
    sample_metrics = None

    def __post_init__(self) -> None:
        self.metrics = {"test_loss": Metric(_test_loss, "denoising loss on held-out molecules' reference conformers")}

    def new_net(self, world: World) -> Denoiser:
        return Denoiser(self.config.hidden, self.config.layers, self.config.timesteps)

    def graphs(self, world: World) -> Graphs:
        return graphs_of(world, self.torch_device)

    def train_net(self, net: Any, parts: Sequence[Part], world: World, rng: np.random.Generator) -> dict[str, Any]:
        device, graphs = self.torch_device, self.graphs(world)
        x = torch.as_tensor(np.concatenate([p.data.cols["x"][0] for p in parts]), dtype=torch.float32, device=device)
        mols = torch.as_tensor(np.concatenate([p.data.cols["mol"][0] for p in parts]), device=device)
        weights = np.concatenate([np.full(p.data.n, p.weight) for p in parts])
        gen = generator(rng, device)

        def loss(rows: torch.Tensor) -> torch.Tensor:
            x0 = x[rows]
            t = torch.randint(0, net.timesteps, (len(rows),), generator=gen, device=device)
            noise = torch.randn(x0.shape, generator=gen, device=device)
            return net.loss(graphs(mols[rows]), x0, t, noise).mean()

        cfg = self.config
        index = torch.arange(len(x), device=device)
        train(net, loss, index, weights / weights.sum(), cfg.steps, cfg.batch_size, cfg.lr, rng)
        return {}

    def fitted(self, net: torch.nn.Module, eval_seed: int, extra: dict[str, Any], world: World) -> Fitted:
        def conformers(m: Denoiser, mols: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            return self.generate(m, mols, rng, world)

        def draw(m: Denoiser, n: int, rng: np.random.Generator) -> np.ndarray:
            return conformers(m, training_molecules(world, n, rng), rng)

        return ConformerFitted([net], draw, [eval_seed], extra, conformers, eval_molecules(world.truth))

    def generate(self, net: Denoiser, mols: np.ndarray, rng: np.random.Generator, world: World) -> np.ndarray:
        """Conformers (len(mols), A, 3) of the molecules ``mols``, in Å, padding at 0."""
        gen, graphs = generator(rng, self.torch_device), self.graphs(world)
        ids = torch.as_tensor(mols, device=self.torch_device)
        out = [net.sample(graphs(ids[s]), gen) for s in batches(len(mols), 512)]
        return torch.cat(out).double().cpu().numpy() if out else np.empty((0, *world.truth.references.shape[2:]))

    def preview(self, params: Fitted, folder: Path, world: World) -> None:
        """Also the evaluation samples of the first held-out molecules as an SDF file (``samples.sdf``, 20
        conformers), for a molecule viewer."""
        super().preview(params, folder, world)
        from rdkit import Chem  # the conformers source has it

        truth, x = world.truth, params.eval_samples[0][:PREVIEW_SDF]
        with Chem.SDWriter(str(folder / "samples.sdf")) as out:
            for m, coords in zip(eval_molecules(truth), x, strict=False):
                mol = Chem.MolFromSmiles(truth.smiles[m])
                mol = Chem.AddHs(mol) if truth.hydrogens else mol
                conf = Chem.Conformer(mol.GetNumAtoms())
                conf.SetPositions(np.ascontiguousarray(coords[: mol.GetNumAtoms()], dtype=np.float64))
                mol.AddConformer(conf)
                out.write(mol)

    def sample(self, params: Fitted, n: int, rng: np.random.Generator, world: World, rows: bool) -> Rows:
        mols = training_molecules(world, n, rng)
        return Rows({"x": self.generate(params.models[0], mols, rng, world)[None], "mol": mols[None]})


def training_molecules(world: World, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` molecule ids of the training molecules in random order, each as often as the others (to one)."""
    return rng.permutation(np.resize(rng.permutation(world.truth.train_mols), n))


@torch.no_grad()
def _test_loss(p: Fitted, w: World) -> np.ndarray:
    """Every held-out reference conformer at ``TEST_TIMES`` evenly spaced times, with noise from a fixed
    generator: a function of the model alone, comparable across generations."""
    net: Denoiser = p.models[0]
    device = next(net.parameters()).device
    truth = w.test.cols
    x = torch.as_tensor(np.array(truth["x"][0]), dtype=torch.float32, device=device)
    mols = torch.as_tensor(np.array(truth["mol"][0]), device=device)
    graphs = graphs_of(w, device)
    times = torch.linspace(0, net.timesteps - 1, TEST_TIMES, device=device).round().long()
    gen = torch.Generator(device=device).manual_seed(0)
    total = 0.0
    for t in times:
        noise = torch.randn(x.shape, generator=gen, device=device)
        for s in batches(len(x), 512):
            total += float(net.loss(graphs(mols[s]), x[s], t.expand(s.stop - s.start), noise[s]).sum())
    return np.array([total / (len(x) * TEST_TIMES)])
