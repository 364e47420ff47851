"""A pretrained Hugging Face tokenizer as the text source's tokeniser (``tokenizer: hf``).

Documents inside modelcollapse are rows of token ids padded with -1 in which id 0 ends a document (and
starts the next: ``sources.text``). A pretrained tokenizer has its own end-of-text id, so its ids are used
as they are except that 0 and its EOS id trade places (:meth:`HFTokens.swap`, its own inverse). The model
side (``models.neural.hf``) swaps back before the network sees them, puts the tokenizer's BOS (when it
has one) at the start of every document, and never sees padding: rows are right-padded and causal, so
padded positions only feed padded targets, which the loss ignores. Text is encoded without the
tokenizer's own special tokens; every document ends with its EOS, like the pretraining data.

The tokenizer is read from a local folder only (``save_pretrained``): nothing is downloaded at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np


@lru_cache(maxsize=4)
def _tokenizer(path: str) -> Any:
    try:
        import transformers
    except ImportError:
        raise ValueError("source.tokenizer: hf needs transformers; pip install 'modelcollapse[torch]'") from None
    transformers.logging.set_verbosity_error()
    try:
        return transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as err:
        raise ValueError(f"source.tokenizer_path: no tokenizer could be read from {path[:80]!r}: {err}") from None


@dataclass(frozen=True)
class HFTokens:
    """The tokenizer in ``path``: ``size`` ids, ``eos`` its end-of-text id, ``bos`` what starts a document
    (its BOS id, else its EOS id, as GPT-2 does)."""

    path: str
    size: int
    eos: int
    bos: int

    @classmethod
    def load(cls, path: str) -> HFTokens:
        tok = _tokenizer(path)
        if tok.eos_token_id is None:
            raise ValueError(f"source.tokenizer_path: the tokenizer in {path[:80]!r} has no EOS token to end documents")
        bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        return cls(path, len(tok), int(tok.eos_token_id), int(bos))

    def swap(self, ids: np.ndarray) -> np.ndarray:
        """Tokenizer ids <-> our ids: 0 and the EOS id trade places (padding, -1, stays).

        >>> HFTokens("", 10, 7, 7).swap(np.array([0, 3, 7, -1])).tolist()
        [7, 3, 0, -1]
        """
        return np.where(ids == 0, self.eos, np.where(ids == self.eos, 0, ids))

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Documents as our ids (no special tokens added: the family adds BOS, the loss the EOS)."""
        found = _tokenizer(self.path)(list(texts), add_special_tokens=False)["input_ids"]
        return [self.swap(np.asarray(ids, dtype=np.int32)) for ids in found]

    def decode(self, ids: np.ndarray) -> str:
        return str(_tokenizer(self.path).decode(self.swap(np.asarray(ids)).tolist(), skip_special_tokens=True))

    def vocab(self) -> tuple[str, ...]:
        """Every token's text, by our id."""
        tokens = _tokenizer(self.path).convert_ids_to_tokens(list(range(self.size)))
        return tuple(str(tokens[int(i)]) for i in self.swap(np.arange(self.size)))
