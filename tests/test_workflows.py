"""Every workflow's training-set size per generation, through the full loop."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import simulate
from modelcollapse.data import Rows
from modelcollapse.workflows import Part, proportional, weights

N = 10
CASES = [
    ("replace", {"kind": "replace"}, [10, 10, 10, 10, 10, 10]),
    ("accumulate", {"kind": "accumulate"}, [10, 20, 30, 40, 50, 60]),
    ("accumulate-subsample", {"kind": "accumulate-subsample"}, [10, 10, 10, 10, 10, 10]),
    ("subsample budget 15", {"kind": "accumulate-subsample", "budget": 15}, [10, 15, 15, 15, 15, 15]),
    ("mix 0.5", {"kind": "mix", "fraction": 0.5}, [10, 15, 15, 15, 15, 15]),
    ("mix 0", {"kind": "mix", "fraction": 0.0}, [10, 10, 10, 10, 10, 10]),
    ("real-fraction 0.3", {"kind": "real-fraction", "fraction": 0.3}, [10, 10, 10, 10, 10, 10]),
    ("fresh 0.5", {"kind": "fresh", "fraction": 0.5}, [10, 10, 10, 10, 10, 10]),
    ("fresh 4+12", {"kind": "fresh", "real_samples": 4, "synthetic_samples": 12}, [10, 16, 16, 16, 16, 16]),
    ("window 2", {"kind": "window", "size": 2}, [10, 20, 30, 30, 30, 30]),
    (
        "weights",
        {"kind": "weights", "matrix": [[1], [0, 1], [1, 1, 0], [0, 0, 0, 1], [1, 1, 1, 1, 1], [1]]},
        [10, 10, 20, 10, 50, 10],
    ),
]


@pytest.mark.parametrize("family", ["gaussian", "poisson"])
@pytest.mark.parametrize(("label", "spec", "sizes"), CASES, ids=[c[0] for c in CASES])
def test_training_sizes(label: str, spec: dict, sizes: list[int], family: str) -> None:
    source = {"kind": "gaussian", "dim": 2} if family == "gaussian" else {"kind": "poisson", "rate": 3.0}
    out = simulate(source=source, model={"kind": family}, workflow=[spec], samples_per_generation=N)
    got = next(iter(out.values()))["train_size"]
    assert got.shape == (6, 4)
    np.testing.assert_array_equal(got, np.repeat(np.array(sizes, float)[:, None], 4, axis=1))


def test_real_fraction_keeps_real_rows() -> None:
    # fraction 1: every generation trains on real rows only, so nothing drifts.
    out = simulate(workflow=[{"kind": "real-fraction", "fraction": 1.0}], generations=4)
    err = out["real-fraction"]["mean_sq_error"]
    np.testing.assert_allclose(err, np.repeat(err[:1], 4, axis=0), rtol=1e-12)


def test_proportional_shares_and_total_weight() -> None:
    a = Rows({"x": np.zeros((1, 10, 1))})
    b = Rows({"x": np.zeros((1, 30, 1))})
    parts = proportional([(a, 0.25), (b, 0.75), (a, 0.0)])
    assert len(parts) == 2
    rows = sum(p.data.n for p in parts)
    shares = [p.weight * p.data.n / rows for p in parts]
    assert rows == 40
    assert shares == pytest.approx([0.25, 0.75])


def test_weights_rule_normalises_each_row() -> None:
    wf = weights(5, [[1], [2, 6]])
    d0, d1 = Rows({"x": np.zeros((1, 5, 1))}), Rows({"x": np.zeros((1, 5, 1))})
    state = wf.init(d0)
    _, parts = wf.step(state, 2, d1, None, np.random.default_rng(0))
    assert [p.weight for p in parts] == pytest.approx([0.5, 1.5])
    assert all(isinstance(p, Part) for p in parts)
