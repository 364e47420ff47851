"""A small GPT (pre-norm decoder-only transformer) and its batched sampler with a KV cache."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Cache = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values (batch, heads, time, head width)


class Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        b, t, c = x.shape
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in self.qkv(self.ln1(x)).split(c, 2))
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        # A new query attends to every cached position; without a cache the block is causal.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=past is None and t > 1)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.ln2(x)), (k, v)


class GPT(nn.Module):
    """Token and position embeddings, ``layers`` blocks, a head tied to the token embedding.

    >>> net = GPT(vocab=50, context=16, layers=1, heads=2, width=32)
    >>> net(torch.zeros(3, 5, dtype=torch.long))[0].shape
    torch.Size([3, 5, 50])
    """

    def __init__(self, vocab: int, context: int, layers: int, heads: int, width: int) -> None:
        super().__init__()
        self.context = context
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.tok.weight
        for name, p in self.named_parameters():  # GPT-2's init: residual projections scaled by depth
            if p.dim() == 2:
                residual = name.endswith(("proj.weight", "2.weight"))
                nn.init.normal_(p, std=0.02 / (2 * layers) ** 0.5 if residual else 0.02)

    def forward(self, idx: torch.Tensor, cache: Cache | None = None) -> tuple[torch.Tensor, Cache]:
        start = 0 if cache is None else cache[0][0].shape[2]
        pos = torch.arange(start, start + idx.shape[1], device=idx.device)
        x = self.tok(idx) + self.pos(pos)
        new: Cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if cache is None else cache[i])
            new.append(kv)
        return self.head(self.ln(x)), new


def filter_logits(logits: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """Temperature, then keep the ``top_k`` most likely tokens (0: all), then the nucleus of mass ``top_p``."""
    logits = logits / temperature
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = sorted_logits.softmax(-1)
        drop = probs.cumsum(-1) - probs > top_p  # tokens whose predecessors already cover top_p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


@torch.no_grad()
def generate(
    net: GPT,
    prompt: torch.Tensor,
    new_tokens: int,
    gen: torch.Generator,
    eos: int = 0,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    use_cache: bool = True,
    bias: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Continue each row of ``prompt`` by up to ``new_tokens`` tokens; rows stop at ``eos``.

    Returns the new tokens, ``eos`` from a row's first end on. ``use_cache=False`` recomputes the
    whole context at every step (the baseline the KV cache is measured against). ``bias(previous)``
    gives logits ``(b, V)`` added at every step, before temperature, top-k and top-p, from each row's
    previous token ``(b,)`` (a watermark's green list).
    """
    b = prompt.shape[0]
    out = torch.full((b, new_tokens), eos, dtype=torch.long, device=prompt.device)
    done = torch.zeros(b, dtype=torch.bool, device=prompt.device)
    logits, cache = net(prompt)
    seq, prev = prompt, prompt[:, -1]
    for i in range(new_tokens):
        last = logits[:, -1] if bias is None else logits[:, -1] + bias(prev)
        probs = filter_logits(last, temperature, top_k, top_p).softmax(-1)
        nxt = torch.multinomial(probs, 1, generator=gen).squeeze(1)
        nxt = nxt.masked_fill(done, eos)
        out[:, i] = prev = nxt
        done |= nxt == eos
        if bool(done.all()) or i == new_tokens - 1:
            break
        if use_cache:
            logits, cache = net(nxt[:, None], cache)
        else:
            seq = torch.cat([seq, nxt[:, None]], 1)
            logits, _ = net(seq)
    return out
