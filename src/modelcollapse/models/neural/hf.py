"""Any Hugging Face causal language model, fine-tuned on the workflow's data every generation.

The Collapse-or-Thrive SFT chain: each generation starts again from the same *base* model (a local
folder, or a hub name already in the local cache: nothing is downloaded; or a randomly initialised GPT-2 of a given
config, seeded by ``base_seed``) and fine-tunes it on that generation's training set. Documents are the
source's token ids: with ``tokenizer: hf`` the pretrained model's own tokenizer (its special tokens: BOS
starts and EOS ends every document; see ``sources.hf_tokens``), else a vocabulary learned from the real
text, for which the model's embeddings are resized. Training, sampling (temperature, top-k, top-p,
prompts, KV cache) and metrics are the :class:`LMFamily`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from modelcollapse.models.neural.lm import LanguageModelConfig, LMFamily
from modelcollapse.registry import MODELS, Positive
from modelcollapse.sources.base import World
from modelcollapse.sources.hf_tokens import HFTokens


class CausalLM(nn.Module):
    """A ``transformers`` causal LM behind the ``(logits, cache) = net(ids, cache)`` call of our GPT.

    With a pretrained tokenizer (``tokens``), our ids are the tokenizer's with 0 and EOS swapped: they are
    swapped back on the way in (a document's first token, our 0, becomes the tokenizer's BOS) and the
    logits, cut to the tokenizer's ids, on the way out.
    """

    perm: torch.Tensor  # a buffer: moves with the module to its device

    def __init__(self, model: Any, tokens: HFTokens | None = None) -> None:
        super().__init__()
        self.model, self.tokens = model, tokens
        if tokens is not None:
            perm = torch.from_numpy(tokens.swap(np.arange(tokens.size))).long()
            self.register_buffer("perm", perm, persistent=False)

    def forward(self, idx: torch.Tensor, cache: Any = None) -> tuple[torch.Tensor, Any]:
        tokens = self.tokens
        if tokens is not None:
            idx = self.perm[idx]
            if cache is None and tokens.bos != tokens.eos:  # a document starts with BOS, not with EOS
                first = idx[:, :1]
                idx = torch.cat([torch.where(first == tokens.eos, tokens.bos, first), idx[:, 1:]], 1)
        out = self.model(input_ids=idx, past_key_values=cache, use_cache=True)
        logits = out.logits if tokens is None else out.logits[..., : tokens.size][..., self.perm]
        return logits, out.past_key_values


@MODELS.register
class HFModelConfig(LanguageModelConfig):
    """A Hugging Face causal LM (``model``: a local folder; else a GPT-2 from ``config``), fine-tuned each
    generation from the same base. With ``source.tokenizer: hf`` its own tokenizer is used (the source's
    ``tokenizer_path`` defaults to ``model``)."""

    kind: Literal["hf-lm"] = "hf-lm"
    model: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    base_seed: Annotated[int, Field(ge=0)] = 0
    lr: Positive = 1e-3

    def build(self, source: Any) -> HFFamily:
        return HFFamily(self, self.vocabulary(source), source.max_tokens)


@dataclass
class HFFamily(LMFamily):
    """``config.model``: a local folder; without it, a GPT-2 built from ``config.config`` (tiny by default)."""

    config: HFModelConfig

    def new_net(self, world: World) -> CausalLM:
        import transformers

        transformers.logging.set_verbosity_error()
        cfg = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.base_seed)  # the same base weights every generation
            base: Any
            tokens = getattr(world.truth, "hf", None)
            if cfg.model:
                base = transformers.AutoModelForCausalLM.from_pretrained(cfg.model, local_files_only=True)
                rows = base.get_input_embeddings().num_embeddings
                if rows < self.vocab or (tokens is None and rows != self.vocab):  # its own tokenizer: kept
                    base.resize_token_embeddings(self.vocab)
            else:
                sizes = {"n_layer": 2, "n_head": 2, "n_embd": 64} | cfg.config
                base = transformers.GPT2LMHeadModel(
                    transformers.GPT2Config(vocab_size=self.vocab, n_positions=self.max_tokens + 1, **sizes)
                )
        return CausalLM(base, tokens)
