"""The user-model example in docs/custom-model.md runs as written and behaves as expected."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[1] / "docs" / "custom-model.md"


def test_docs_example_runs() -> None:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)  # type: ignore[union-attr]
    assert len(code.strip().splitlines()) <= 45
    scope: dict = {}
    exec(compile(code, str(DOC), "exec"), scope)
    replace, accumulate = scope["replace"], scope["accumulate"]
    assert replace.shape == accumulate.shape == (30, 20)
    assert np.array_equal(replace[0], accumulate[0])  # generation 1: the same real-data fit
    assert replace[-1].mean() > accumulate[-1].mean()  # replace drifts away from the real data


def test_weighted_workflow_needs_sample_weight() -> None:
    import modelcollapse as mc

    class Mean:
        def fit(self, X, rng):  # type: ignore[no-untyped-def]
            self.mu_ = X.mean(0)
            return self

        def sample(self, n, rng):  # type: ignore[no-untyped-def]
            return self.mu_ + rng.standard_normal((n, len(self.mu_)))

        def loss(self, X):  # type: ignore[no-untyped-def]
            return float(((X - self.mu_) ** 2).sum(1).mean())

    mc.register_model("mean-only", Mean)
    cfg = {
        "name": "w",
        "source": {"kind": "gaussian", "dim": 1},
        "model": {"kind": "mean-only"},
        "samples_per_generation": 10,
        "workflow": [{"kind": "weights", "matrix": [[1], [1, 3]]}],
        "generations": 2,
        "replicates": 1,
    }
    try:
        mc.load(cfg)
    except mc.ConfigError as e:
        assert (
            str(e) == "workflow[0]: model 'mean-only' has no fit(..., sample_weight=...); the weights workflow needs it"
        )
    else:
        raise AssertionError("expected a ConfigError")
