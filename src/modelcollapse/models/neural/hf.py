"""Any Hugging Face causal language model, fine-tuned on the workflow's data every generation.

The Collapse-or-Thrive SFT chain: each generation starts again from the same *base* model (a local
path or hub name, which needs network the first time; or a randomly initialised GPT-2 of a given
config, seeded by ``base_seed``) and fine-tunes it on that generation's training set. Documents are the
source's token ids, so the model's vocabulary is the source's (``vocab_size``); training, sampling
(temperature, top-k, top-p, prompts, KV cache) and metrics are the :class:`LMFamily`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from modelcollapse.models.neural.lm import LMFamily
from modelcollapse.sources.base import World


class CausalLM(nn.Module):
    """A ``transformers`` causal LM behind the ``(logits, cache) = net(ids, cache)`` call of our GPT."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, idx: torch.Tensor, cache: Any = None) -> tuple[torch.Tensor, Any]:
        out = self.model(input_ids=idx, past_key_values=cache, use_cache=True)
        return out.logits, out.past_key_values


@dataclass
class HFFamily(LMFamily):
    """``model``: a path or hub name; without it, a GPT-2 built from ``config`` (a tiny one by default)."""

    model: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    base_seed: int = 0

    def new_net(self, world: World) -> CausalLM:
        import transformers

        transformers.logging.set_verbosity_error()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.base_seed)  # the same base weights every generation
            base: Any
            if self.model:
                base = transformers.AutoModelForCausalLM.from_pretrained(self.model)
                if base.get_input_embeddings().num_embeddings != self.vocab:
                    base.resize_token_embeddings(self.vocab)
            else:
                cfg = {"n_layer": 2, "n_head": 2, "n_embd": 64} | self.config
                base = transformers.GPT2LMHeadModel(
                    transformers.GPT2Config(vocab_size=self.vocab, n_positions=self.max_tokens + 1, **cfg)
                )
        return CausalLM(base)
