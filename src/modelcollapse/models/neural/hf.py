"""Any Hugging Face causal language model, fine-tuned on the workflow's data every generation.

The Collapse-or-Thrive SFT chain: each generation starts again from the same *base* model (a local
path or hub name, which needs network the first time; or a randomly initialised GPT-2 of a given
config, seeded by ``base_seed``) and fine-tunes it on that generation's training set. Documents are the
source's token ids, so the model's vocabulary is the source's (``vocab_size``); training, sampling
(temperature, top-k, top-p, prompts, KV cache) and metrics are the :class:`LMFamily`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn

from modelcollapse.models.neural.lm import LanguageModelConfig, LMFamily
from modelcollapse.registry import MODELS, Positive
from modelcollapse.sources.base import World


class CausalLM(nn.Module):
    """A ``transformers`` causal LM behind the ``(logits, cache) = net(ids, cache)`` call of our GPT."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, idx: torch.Tensor, cache: Any = None) -> tuple[torch.Tensor, Any]:
        out = self.model(input_ids=idx, past_key_values=cache, use_cache=True)
        return out.logits, out.past_key_values


@MODELS.register
class HFModelConfig(LanguageModelConfig):
    """A Hugging Face causal LM (``model``: path or hub name; else a GPT-2 from ``config``), fine-tuned each
    generation from the same base."""

    kind: Literal["hf-lm"] = "hf-lm"
    model: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    base_seed: Annotated[int, Field(ge=0)] = 0
    lr: Positive = 1e-3

    def build(self, source: Any) -> HFFamily:
        return HFFamily(self, self.vocabulary(source), source.max_tokens)


@dataclass
class HFFamily(LMFamily):
    """``config.model``: a path or hub name; without it, a GPT-2 built from ``config.config`` (tiny by default)."""

    config: HFModelConfig

    def new_net(self, world: World) -> CausalLM:
        import transformers

        transformers.logging.set_verbosity_error()
        cfg = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.base_seed)  # the same base weights every generation
            base: Any
            if cfg.model:
                base = transformers.AutoModelForCausalLM.from_pretrained(cfg.model)
                if base.get_input_embeddings().num_embeddings != self.vocab:
                    base.resize_token_embeddings(self.vocab)
            else:
                sizes = {"n_layer": 2, "n_head": 2, "n_embd": 64} | cfg.config
                base = transformers.GPT2LMHeadModel(
                    transformers.GPT2Config(vocab_size=self.vocab, n_positions=self.max_tokens + 1, **sizes)
                )
        return CausalLM(base)
