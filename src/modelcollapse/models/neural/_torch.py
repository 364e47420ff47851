"""What every neural family shares: the device, seeding from the engine's generator, a training loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

try:
    import torch
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the neural model families need PyTorch: pip install 'modelcollapse[torch]' "
        "(the CPU build: pip install torch==2.13.0)"
    ) from err

from modelcollapse._rng import child_seed
from modelcollapse.data import Part
from modelcollapse.models import rowbased


def resolve_device(device: str) -> torch.device:
    """``auto`` is the first CUDA GPU when one is present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"model.device is {device!r} but no CUDA GPU is available; use 'cpu' or 'auto'")
    return torch.device(device)


@contextmanager
def seeded(rng: np.random.Generator) -> Iterator[None]:
    """Torch's global generator seeded from ``rng`` inside the block, and restored after it.

    Layer initialisers and ``generate`` of other libraries take no generator argument; forking keeps
    the process-wide state untouched, so results depend on ``rng`` alone.
    """
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(child_seed(rng))
        yield


def generator(rng: np.random.Generator, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(child_seed(rng))


def stacked(parts: Sequence[Part]) -> tuple[np.ndarray, np.ndarray]:
    """Replicate 0's rows across the parts, and each row's probability of being drawn into a batch.

    Weighted workflows are honoured by drawing rows in proportion to their weight.
    """
    x, weights = rowbased.stacked(parts, 0)
    w = np.ones(len(x)) if weights is None else weights
    return x, w / w.sum()


def train(
    model: torch.nn.Module,
    loss: Callable[[torch.Tensor], torch.Tensor],
    data: torch.Tensor,
    prob: np.ndarray,
    steps: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
    weight_decay: float = 0.0,
) -> list[float]:
    """``steps`` AdamW steps on mini-batches drawn (with replacement, by ``prob``) from ``data``.

    Batches come from the engine's generator, so training is reproducible; the learning rate warms up
    over the first 5% of steps and then decays by a cosine. Returns the loss of every step.
    """
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(s, steps) / steps))
    )
    uniform = bool(np.allclose(prob, prob[0]))
    idx = (
        rng.integers(0, len(prob), size=(steps, batch_size))
        if uniform
        else rng.choice(len(prob), size=(steps, batch_size), p=prob)
    )
    index = torch.as_tensor(idx, device=data.device)
    model.train()
    history = []
    for s in range(steps):
        value = loss(data[index[s]])
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        sched.step()
        history.append(float(value.detach()))
    model.eval()
    return history


def batches(n: int, size: int) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


def save_module(module: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_model

    save_model(module, str(path))


def load_module(module: torch.nn.Module, path: Path) -> Any:
    from safetensors.torch import load_model

    load_model(module, str(path), device=str(next(module.parameters()).device))
    return module.eval()
