"""Drug-like molecules as SMILES strings, from the MOSES benchmark (PyPI ``molsets``, MIT licence).

Install with ``pip install --no-deps molsets==0.3.1``; its gzipped CSV files are read directly (we
never ``import moses``, whose ``__init__`` needs old pins). 1,584,663 training and 176,074 test
molecules, all valid in RDKit. A fixed random pool of the training file is the real training pool;
the test file is the held-out real set. Users may point ``path`` at a folder with their own
``train.csv.gz`` and ``test.csv.gz`` (a ``SMILES`` column).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, PositiveInt

from modelcollapse.registry import SOURCES, Seed
from modelcollapse.sources.base import SourceConfig
from modelcollapse.sources.text import Corpus, TextSource, encode_corpus


def moses_folder(instead: str = "a folder with train.csv.gz and test.csv.gz") -> Path:
    """The folder of the installed MOSES files; the error names ``instead``, what source.path may give."""
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the MOSES molecules are not installed: pip install --no-deps molsets==0.3.1 "
            f"(or give source.path to {instead})"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "dataset" / "data"


@lru_cache(maxsize=4)
def load_smiles(path: str | None, pool: int, test_pool: int, pool_seed: int, max_tokens: int) -> Corpus:
    """A fixed random pool of training SMILES and of test SMILES, as character tokens."""
    folder = Path(path) if path else moses_folder()
    rng = np.random.default_rng(pool_seed)

    def read(name: str, k: int) -> list[str]:
        import pandas as pd  # lazy: only a SMILES source needs it

        smiles = pd.read_csv(folder / name)["SMILES"].to_numpy()
        return [str(s) for s in smiles[np.sort(rng.choice(len(smiles), min(k, len(smiles)), replace=False))]]

    return encode_corpus(read("train.csv.gz", pool), read("test.csv.gz", test_pool), 64, max_tokens, "chars")


@dataclass(frozen=True)
class SmilesSource(TextSource):
    """SMILES strings as documents of characters (see :class:`TextSource` for the row layout)."""

    max_tokens: int = 60  # the longest MOSES SMILES has 57 characters
    path: str | None = None
    pool: int = 20000
    pool_seed: int = 0

    def corpus(self) -> Corpus:
        return load_smiles(self.path, self.pool, self.test_documents, self.pool_seed, self.max_tokens)


@SOURCES.register
class SmilesSourceConfig(SourceConfig):
    """Drug-like molecules as SMILES characters (MOSES, ``pip install --no-deps molsets==0.3.1``), or ``path``."""

    kind: Literal["smiles"] = "smiles"
    metric_sets: ClassVar[tuple[str, ...]] = ("molecules",)  # RDKit: validity, novelty, property distances
    path: str | None = None
    pool: PositiveInt = 20000
    pool_seed: Seed = 0
    max_tokens: Annotated[int, Field(ge=57)] = 60
    test_documents: PositiveInt = 1000
    vocab_size: ClassVar[int] = 64

    @property
    def row_bytes(self) -> int:
        return 4 * self.max_tokens

    def build(self) -> SmilesSource:
        return SmilesSource(
            max_tokens=self.max_tokens,
            test_documents=self.test_documents,
            path=self.path,
            pool=self.pool,
            pool_seed=self.pool_seed,
        )
