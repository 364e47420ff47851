"""One random stream per replicate: a replicate's numbers do not depend on the block it is computed in,
nor on how many replicates a run asks for, so a block computes only the replicates asked for."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelcollapse import load, simulate_experiment
from modelcollapse._rng import Streams
from modelcollapse.run import chunk

DRAWS = [
    ("standard_normal", lambda s, b: s.standard_normal((b, 3))),
    ("standard_normal 1 per replicate", lambda s, b: s.standard_normal((b,))),
    ("chisquare by column", lambda s, b: s.chisquare(np.arange(5.0, 9.0), size=(b, 4))),
    ("chisquare per replicate", lambda s, b: s.chisquare(np.arange(1.0, b + 1.0))),
    ("integers", lambda s, b: s.integers(0, 1000, size=(b, 7))),
    ("multinomial", lambda s, b: s.multinomial(20, np.full((b, 4), 0.25))),
    ("permuted", lambda s, b: s.permuted(np.tile(np.arange(9), (b, 1)), axis=1)),
]


@pytest.mark.parametrize("buffered", [False, True])
def test_a_replicate_draws_the_same_numbers_in_any_batch(buffered: bool) -> None:
    whole = Streams.keyed(7, "0123abcd", first=0, count=5, buffered=buffered)
    alone = Streams.keyed(7, "0123abcd", first=3, count=1, buffered=buffered)
    for _ in range(300):  # past a buffered run's end: the refills agree too
        for name, draw in DRAWS:
            if name == "chisquare per replicate":  # replicate 3's own parameter is 4.0
                a, b = whole.chisquare(np.arange(1.0, 6.0)), alone.chisquare(np.array([4.0]))
            else:
                a, b = draw(whole, 5), draw(alone, 1)
            np.testing.assert_array_equal(a[3], b[0], err_msg=name)


def test_a_draw_names_its_replicate_axis() -> None:
    with pytest.raises(ValueError, match=r"a draw's leading axis is the replicate \(2\), got shape \(3, 4\)$"):
        Streams.keyed(0, "00ff00ff", 0, 2).standard_normal((3, 4))


CONFIGS: dict[str, dict[str, Any]] = {
    "gaussian full": {"source": {"kind": "gaussian", "dim": 3}, "model": {"kind": "gaussian"}},
    "gaussian diagonal unbiased": {
        "source": {"kind": "gaussian", "dim": 2},
        "model": {"kind": "gaussian", "covariance": "diagonal", "estimator": "unbiased"},
    },
    "ols fixed design": {
        "source": {"kind": "linear-regression", "dim": 4, "design": "fixed"},
        "model": {"kind": "ols", "noise": "estimated"},
    },
    "categorical": {"source": {"kind": "categorical", "categories": 6}, "model": {"kind": "categorical"}},
    "kde": {"source": {"kind": "gaussian", "dim": 2}, "model": {"kind": "kde", "bandwidth": 0.3}},
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_replicates_are_the_same_whatever_the_block_and_the_count(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    base = {
        **CONFIGS[name],
        "samples_per_generation": 12,
        "generations": 6,
        "workflow": ["replace", "accumulate", "accumulate-subsample", {"kind": "fresh", "fraction": 0.5}],
        "seed": 3,
        "name": "streams",
    }
    five = simulate_experiment(load({**base, "replicates": 5}))
    three = simulate_experiment(load({**base, "replicates": 3}))
    monkeypatch.setattr(chunk, "block_size", lambda exp: 2)  # blocks of 2: replicates (0, 1), (2, 3), (4)
    in_twos = simulate_experiment(load({**base, "replicates": 5}))
    for wf, metrics in five.items():
        for m, v in metrics.items():
            assert v.shape == (6, 5)
            np.testing.assert_array_equal(v[:, :3], three[wf][m], err_msg=f"{wf} {m}: 3 replicates")
            np.testing.assert_array_equal(v, in_twos[wf][m], err_msg=f"{wf} {m}: blocks of 2")
