"""The library's GPT against plain PyTorch loops over the same model, measured in the same run.

Run: ``python benches/bench_lm.py [--steps S] [--new-tokens N] [--device cpu|cuda]``.

* Training tokens per second: the library's ``train`` (mini-batches from the engine's generator,
  warm-up + cosine schedule, the shifted-document loss) against a bare AdamW loop written here.
  Target: at least 0.9x.
* Sampling tokens per second: the KV-cached sampler against recomputing the whole context at every
  step (``use_cache=False``), ``N`` new tokens per row. Target: at least 3x at 256 tokens.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from modelcollapse.models.neural._torch import resolve_device, train
from modelcollapse.models.neural.gpt import GPT, generate
from modelcollapse.models.neural.lm import token_loss

VOCAB, LENGTH, BATCH = 1000, 64, 32


def model(device: torch.device, context: int) -> GPT:
    torch.manual_seed(0)
    return GPT(VOCAB, context, layers=2, heads=4, width=128).to(device)


def plain_training(net: GPT, data: torch.Tensor, steps: int) -> None:
    """The loop a researcher writes by hand: random batches, next-token loss, AdamW."""
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    gen = torch.Generator(device=data.device).manual_seed(0)
    for _ in range(steps):
        batch = data[torch.randint(0, len(data), (BATCH,), generator=gen, device=data.device)]
        eos = torch.zeros_like(batch[:, :1])  # </s> starts and ends every document
        logits, _ = net(torch.cat([eos, batch], 1))
        loss = F.cross_entropy(logits.flatten(0, 1), torch.cat([batch, eos], 1).flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def library_training(net: GPT, data: torch.Tensor, steps: int) -> None:
    prob = np.full(len(data), 1 / len(data))
    train(net, partial(token_loss, net), data, prob, steps, BATCH, 3e-3, np.random.default_rng(0))


def timed(fn, *args) -> float:  # type: ignore[no-untyped-def]
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn(*args)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, GPT 2x128, vocab {VOCAB}")

    data = torch.randint(1, VOCAB, (4096, LENGTH), device=device)
    tokens = args.steps * BATCH * (LENGTH + 1)
    for fn in (plain_training, library_training):  # warm up both paths
        fn(model(device, LENGTH + 1), data, 5)
    plain = timed(plain_training, model(device, LENGTH + 1), data, args.steps)
    lib = timed(library_training, model(device, LENGTH + 1), data, args.steps)
    print(f"training   plain {tokens / plain:10.0f} tok/s   library {tokens / lib:10.0f} tok/s   "
          f"ratio {plain / lib:.2f}x (target >= 0.9x)")

    net = model(device, args.new_tokens + 1).eval()
    prompt = torch.zeros(args.rows, 1, dtype=torch.long, device=device)
    gen = torch.Generator(device=device)
    new = args.rows * args.new_tokens
    run = lambda cache: generate(net, prompt, args.new_tokens, gen.manual_seed(0), eos=-1, use_cache=cache)
    run(True)
    cached, full = timed(run, True), timed(run, False)
    print(f"sampling   full-context {new / full:8.0f} tok/s   KV cache {new / cached:8.0f} tok/s   "
          f"speed-up {full / cached:.1f}x at {args.new_tokens} tokens (target >= 3x)")


if __name__ == "__main__":
    main()
