"""A small GPT trained from scratch on token documents (real text, SMILES strings).

Documents are rows of token ids padded with -1 (see ``sources.text``). The network reads
``</s> w1 .. wL`` and predicts ``w1 .. wL </s>``: id 0 is both the start and the end of a document.
Sampling is batched with a KV cache, unconditional (from ``</s>``) or prompted with the first
``prompt_tokens`` tokens of real training documents (the document kept is prefix + continuation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, cast

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, PositiveInt, model_validator

from modelcollapse.data import Part
from modelcollapse.models.base import Metric
from modelcollapse.models.neural._torch import batches, generator, stacked, train
from modelcollapse.models.neural.base import NeuralFamily, TrainedConfig
from modelcollapse.models.neural.gpt import GPT, generate
from modelcollapse.models.ngram import TEXT_METRICS
from modelcollapse.models.rowbased import Fitted
from modelcollapse.models.watermark import GreenList, WatermarkConfig
from modelcollapse.registry import MODELS, Positive
from modelcollapse.sources.base import World
from modelcollapse.sources.text import EOS, PAD


def shifted(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``</s> doc`` and targets ``doc </s>`` (padding -1, ignored) from padded rows (n, L)."""
    n = rows.shape[0]
    pad = torch.full((n, 1), PAD, dtype=rows.dtype, device=rows.device)
    seq = torch.cat([torch.full_like(pad, EOS), rows, pad], 1)
    ends = (rows != PAD).sum(1) + 1  # where </s> goes
    seq[torch.arange(n, device=rows.device), ends] = EOS
    inputs = seq[:, :-1].clamp(min=0)  # a padded input only feeds padded targets (causal)
    return inputs, seq[:, 1:]


def token_loss(net: torch.nn.Module, rows: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    inputs, targets = shifted(rows)
    logits, _ = net(inputs)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=PAD, reduction=reduction)


class LanguageModelConfig(TrainedConfig):
    """What the token-document families (GPT, Hugging Face) share: the training budget and the sampler.

    ``watermark`` (see ``models.watermark``) adds ``delta`` to the logits of the previous token's green
    list before temperature, top-k and top-p. Without one it is left out of the config's dump, so a
    config that does not use it keeps its identity and its random streams (they are keyed by the dump).
    """

    epochs: Positive = 1.0
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0
    temperature: Positive = 1.0
    top_k: Annotated[int, Field(ge=0)] = 0
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    prompt_tokens: Annotated[int, Field(ge=0)] = 0
    watermark: WatermarkConfig | None = None
    sources: ClassVar[tuple[str, ...]] = ("text", "smiles")
    quiet_defaults: ClassVar[tuple[str, ...]] = ("watermark",)

    def vocabulary(self, source: Any) -> int:
        """The tokeniser is learned from the real training text: the network gets its exact vocabulary."""
        try:
            return len(source.build().corpus().vocab)
        except FileNotFoundError as err:
            raise ValueError(str(err)) from None


@MODELS.register
class GPTModelConfig(LanguageModelConfig):
    """A small GPT trained from scratch (``init: scratch``) or from the last generation (``continue``)."""

    kind: Literal["gpt"] = "gpt"
    layers: PositiveInt = 2
    heads: PositiveInt = 4
    width: PositiveInt = 128
    init: Literal["scratch", "continue"] = "scratch"

    @model_validator(mode="after")
    def _heads(self) -> GPTModelConfig:
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be a multiple of heads ({self.heads})")
        return self

    def build(self, source: Any) -> LMFamily:
        return LMFamily(self, self.vocabulary(source), source.max_tokens)


@dataclass
class LMFamily(NeuralFamily):
    """GPT language model over ``vocab`` token ids; ``config.init`` is ``scratch`` or ``continue``."""

    config: LanguageModelConfig
    vocab: int
    max_tokens: int
    sample_metrics = None  # its samples are token documents: TEXT_METRICS measure them

    def __post_init__(self) -> None:
        self.metrics = {
            "test_nll": Metric(_test_nll, "cross-entropy of held-out real text (nats per token); perplexity = exp"),
            **{k: v for k, v in TEXT_METRICS.items() if k != "test_nll"},
        }
        self.warm_start = isinstance(self.config, GPTModelConfig) and self.config.init == "continue"
        mark = self.config.watermark
        self.green = GreenList(mark.key, mark.gamma, self.vocab) if mark is not None else None

    def new_net(self, world: World) -> torch.nn.Module:
        cfg = cast(GPTModelConfig, self.config)  # the Hugging Face family builds its own network
        return GPT(self.vocab, self.max_tokens + 1, cfg.layers, cfg.heads, cfg.width)

    def steps_for(self, rows: int) -> int:
        return self.config.steps or max(1, math.ceil(self.config.epochs * rows / self.config.batch_size))

    def train_net(self, net: Any, parts: Sequence[Part], world: World, rng: np.random.Generator) -> dict[str, Any]:
        x, prob = stacked(parts)
        data = torch.as_tensor(x, dtype=torch.long, device=self.torch_device)
        cfg = self.config
        train(
            net,
            partial(token_loss, net),
            data,
            prob,
            self.steps_for(len(x)),
            cfg.batch_size,
            cfg.lr,
            rng,
            cfg.weight_decay,
        )
        return {}

    def fitted(self, net: torch.nn.Module, eval_seed: int, extra: dict[str, Any], world: World) -> Fitted:
        return Fitted([net], partial(self.draw, prompts=world.train.cols["x"][0]), [eval_seed], extra)

    def preview(self, params: Fitted, folder: Path, world: World) -> None:
        """Also the first 20 evaluation samples as text (``samples.txt``)."""
        super().preview(params, folder, world)
        docs = [world.truth.decode(row) for row in params.eval_samples[0][:20]]
        (folder / "samples.txt").write_text("\n".join(docs) + "\n", encoding="utf-8")

    def draw(  # type: ignore[override]
        self, net: GPT, n: int, rng: np.random.Generator, prompts: np.ndarray | None = None
    ) -> np.ndarray:
        """``n`` documents, padded to ``max_tokens`` with -1."""
        k = self.config.prompt_tokens
        if k and prompts is not None:
            long_enough = prompts[(prompts != PAD).sum(1) > k]
            prefix = long_enough[rng.integers(0, len(long_enough), n), :k]
        else:
            prefix = np.zeros((n, 0), dtype=np.int64)
        gen = generator(rng, self.torch_device)
        out = np.full((n, self.max_tokens), PAD, dtype=np.int32)
        for sl in batches(n, 512):
            start = torch.as_tensor(prefix[sl], dtype=torch.long, device=self.torch_device)
            start = torch.cat([torch.full((len(start), 1), EOS, device=start.device, dtype=torch.long), start], 1)
            cfg = self.config
            steps = self.max_tokens - prefix.shape[1]
            args = (cfg.temperature, cfg.top_k, cfg.top_p)
            new = generate(net, start, steps, gen, EOS, *args, bias=self.watermark_bias()).cpu().numpy()
            docs = np.concatenate([prefix[sl], new], 1)
            ended = np.cumsum(docs == EOS, axis=1) > 0
            ended[:, :k] = False
            out[sl] = np.where(ended, PAD, docs)
        return out

    def watermark_bias(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """+delta on the logits of each row's green tokens, given its previous token (None: no watermark)."""
        mark, green = self.config.watermark, self.green
        if mark is None or green is None:
            return None
        delta = mark.delta

        def bias(prev: torch.Tensor) -> torch.Tensor:
            rows = torch.from_numpy(green.rows(prev.cpu().numpy()))
            return rows.to(device=prev.device, dtype=torch.float32) * delta

        return bias


@torch.no_grad()
def _test_nll(p: Fitted, w: World) -> np.ndarray:
    net = p.models[0]
    device = next(net.parameters()).device
    test = torch.as_tensor(np.array(w.test.cols["x"][0]), dtype=torch.long, device=device)
    total = sum(float(token_loss(net, test[sl], "sum")) for sl in batches(len(test), 256))
    return np.array([total / int((test != PAD).sum() + len(test))])
