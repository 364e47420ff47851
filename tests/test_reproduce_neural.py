"""The reproductions without a closed form (the neural ones, the fairness loop): the direction of the effect
against the seed spread."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelcollapse.report.reproduce import available, scaled

NEURAL = ["gerstgrasser2024-lm", "gerstgrasser2024-vae", "diffusion-2d", "molecules-smiles", "gerstgrasser2024-geodiff"]
EFFECTS = [*NEURAL, "wyllie2024-fairness"]  # the fairness loop's effect is also tested quickly in test_groups.py


def test_scale_multiplies_the_listed_fields_and_keeps_heads_dividing_width() -> None:
    repro = available()["gerstgrasser2024-lm"]
    cfg = scaled(repro.experiments[0], repro.scale, 2.5)
    base = repro.experiments[0]
    assert cfg["samples_per_generation"] == round(2.5 * base["samples_per_generation"])
    assert cfg["model"]["steps"] == round(2.5 * base["model"]["steps"])
    assert cfg["model"]["width"] % cfg["model"]["heads"] == 0 and cfg["model"]["width"] == 320
    assert cfg["model"]["layers"] == 5 and cfg["source"] == base["source"]
    assert base["model"]["width"] == 128  # the bundled config is untouched


@pytest.mark.parametrize("name", EFFECTS)
def test_neural_reproductions_are_bundled_with_an_effect(name: str) -> None:
    repro = available()[name]
    assert repro.effect is not None and set(repro.effect) == {"metric", "worse", "better"}
    labels = {w if isinstance(w, str) else w["kind"] for w in repro.experiments[0]["workflow"]}
    assert {repro.effect["worse"], repro.effect["better"]} <= labels


@pytest.mark.slow
@pytest.mark.parametrize("name", EFFECTS)
def test_replace_ends_worse_than_accumulate_beyond_the_seed_spread(tmp_path, name: str) -> None:  # type: ignore[no-untyped-def]
    from modelcollapse.report.reproduce import reproduce

    repro = available()[name]
    reproduce(name, tmp_path, replicates=repro.test_replicates, workers=2, device="cpu")
    effect = pd.read_csv(tmp_path / "effect.csv")
    last = effect.iloc[-1]
    assert last["generation"] == repro.experiments[0]["generations"]
    assert last["gap"] > last["spread"] > 0, effect.to_string()
    assert np.isfinite(effect["gap"]).all()
    assert any((tmp_path / "figures").glob("*.png"))
