"""The watermark filter: drop the synthetic documents a watermark detector flags (Kirchenbauer et al. 2023).

The chain's model samples with a soft watermark (``model.watermark``; see ``models.watermark``). Every
synthetic document gets its z-score, and those flagged (exact binomial test at the nominal level of
``z_threshold``, over at least ``min_tokens`` scored tokens) are dropped; a document's score is ``-z``
(higher: less watermarked). With ``drop: false`` the stage only measures and keeps every document.

Recorded each generation (``watermark-filter_<name>``):

* ``detection_rate``: the share of ``probe`` fresh documents of the newest model that are flagged;
* ``mean_z``: their mean z-score;
* ``false_positive_rate``: the share of the held-out real documents (``world.test``) flagged; the
  detector is fixed, so this is the same every generation. It sits at or below 1 - Phi(z_threshold);
* ``quality_cost``: what the watermark costs in text quality, in nats per token: the mean per-token
  negative log-likelihood, under a model without the watermark, of ``probe`` documents it samples with
  the watermark minus that of ``probe`` it samples without (``</s>`` counted where a document ends). A
  stage sees the newest model only through its sampler, not its likelihood, so the model is a reference:
  an n-gram fitted to the replicate's real training documents (the chain's own n-gram config and
  temperature, so for an n-gram chain it is exactly the generation-1 model; a Kneser-Ney trigram for a
  GPT). Its expectation is the same every generation: each generation is a fresh Monte-Carlo estimate
  (standard error about 0.1 nat at 200 documents), so average it over generations and replicates.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field

from modelcollapse.data import Rows
from modelcollapse.models.ngram import NGramModel, NGramModelConfig, count_tables, token_nll
from modelcollapse.models.watermark import GreenList, WatermarkConfig, flagged, z_scores
from modelcollapse.registry import STAGES
from modelcollapse.selection.base import Generation, Screened, Setting, Stage, StageConfig
from modelcollapse.sources.base import World
from modelcollapse.sources.text import PAD


def watermark_of(setting: Setting) -> WatermarkConfig:
    """The model's watermark settings (``model.watermark``); ValueError naming the field without one."""
    mark = getattr(setting.model, "watermark", None)
    if mark is None:
        raise ValueError(
            f"model.watermark: stage 'watermark-filter' detects the model's watermark, and model "
            f"{setting.model.kind!r} has none; give it one, e.g. watermark: {{gamma: 0.25, delta: 2.0}}"
        )
    return mark


class WatermarkFilter(Stage):
    """Drops (or, with ``drop: false``, only scores) the documents the watermark detector flags."""

    def __init__(self, config: WatermarkFilterConfig, setting: Setting) -> None:
        self.config, self.label = config, config.label
        self.mark = watermark_of(setting)
        ngram = isinstance(setting.model, NGramModelConfig)
        self.reference = setting.model.model_copy(update={"watermark": None}) if ngram else NGramModelConfig()
        self.vocab = int(setting.source.vocab_size)
        self.green = GreenList(self.mark.key, self.mark.gamma, self.vocab)
        self._fpr: float | None = None

    def start(self, gen: Generation) -> dict[str, np.ndarray]:
        x = gen.sample(self.config.probe).cols["x"]
        z, _ = z_scores(x, self.mark)
        return {
            "detection_rate": flagged(x, self.mark).mean(1),
            "mean_z": z.mean(1),
            "false_positive_rate": np.full(len(x), self.false_positive_rate(gen.world)),
            "quality_cost": self.quality_cost(gen),
        }

    def screen(self, rows: Rows, keep: np.ndarray, gen: Generation) -> Screened:
        x = rows.cols["x"]
        z, _ = z_scores(x, self.mark)
        passes = ~flagged(x, self.mark) if self.config.drop else np.ones(z.shape, bool)
        return Screened(rows, passes, -z)

    def false_positive_rate(self, world: World) -> float:
        """The share of held-out real documents flagged (every replicate holds the same ones)."""
        if self._fpr is None:
            self._fpr = float(flagged(world.test.cols["x"][0], self.mark).mean())
        return self._fpr

    def quality_cost(self, gen: Generation) -> np.ndarray:
        """Per replicate: NLL per token of the reference's watermarked samples minus its plain ones (nats)."""
        out = []
        length = gen.world.train.cols["x"].shape[-1]
        for b, g in enumerate(gen.rng):
            ref = self.reference_model(gen.world, b)
            marked = dataclasses.replace(ref, watermark=self.mark, green=self.green)
            docs = [[m.generate(length, g) for _ in range(self.config.probe)] for m in (marked, ref)]
            out.append(token_nll(ref, docs[0], length) - token_nll(ref, docs[1], length))
        return np.array(out)

    def reference_model(self, world: World, b: int) -> NGramModel:
        """The n-gram of replicate ``b``'s real training documents (kept in the block's ``world.cache``)."""
        r = self.reference
        key = f"watermark-reference-{r.model_dump_json()}-{self.vocab}-{b}"
        if key not in world.cache:
            docs = [row[row != PAD] for row in world.train.cols["x"][b]]
            tables = count_tables(docs, [1.0] * len(docs), r.order, r.smoothing)
            world.cache[key] = NGramModel(r.order, self.vocab, r.smoothing, r.k, r.discount, tables)
        model: NGramModel = world.cache[key]
        return dataclasses.replace(model, temperature=r.temperature)


@STAGES.register
class WatermarkFilterConfig(StageConfig):
    """Drop synthetic documents the model's watermark detector flags (``model.watermark``); ``probe`` fresh
    documents a generation measure the detection rate and the watermark's quality cost."""

    kind: Literal["watermark-filter"] = "watermark-filter"
    probe: Annotated[int, Field(ge=1, le=100_000)] = 200
    drop: bool = True  # false: measure only, keep every document
    sources: ClassVar[tuple[str, ...]] = ("text", "smiles")
    models: ClassVar[tuple[str, ...]] = ("ngram", "gpt", "hf-lm")
    records: ClassVar[tuple[str, ...]] = ("detection_rate", "false_positive_rate", "mean_z", "quality_cost")

    def check(self, setting: Setting) -> None:
        super().check(setting)
        watermark_of(setting)

    def build(self, setting: Setting) -> WatermarkFilter:
        return WatermarkFilter(self, setting)
