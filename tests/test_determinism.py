"""Same config and seed -> same numbers; replicate counts do not change earlier replicates."""

from __future__ import annotations

import numpy as np

from helpers import simulate

WF = ["replace", "accumulate", "accumulate-subsample", {"kind": "fresh"}]


def test_same_seed_same_numbers() -> None:
    a = simulate(workflow=WF, replicates=60)
    b = simulate(workflow=WF, replicates=60)
    for w in a:
        for m in a[w]:
            np.testing.assert_array_equal(a[w][m], b[w][m])


def test_replicate_count_does_not_change_replicate_zero() -> None:
    small = simulate(workflow=WF, replicates=3, source={"kind": "linear-regression", "dim": 3}, model={"kind": "ols"})
    large = simulate(workflow=WF, replicates=120, source={"kind": "linear-regression", "dim": 3}, model={"kind": "ols"})
    for w in small:
        for m in small[w]:
            np.testing.assert_array_equal(small[w][m], large[w][m][:, :3])


def test_different_seed_different_numbers() -> None:
    a = simulate(seed=1)["replace"]["mean_sq_error"]
    b = simulate(seed=2)["replace"]["mean_sq_error"]
    assert not np.array_equal(a, b)


def test_workflows_share_real_data() -> None:
    out = simulate(workflow=WF, replicates=20)
    first = [out[w]["mean_sq_error"][0] for w in ["replace", "accumulate", "accumulate-subsample"]]
    np.testing.assert_array_equal(first[0], first[1])
    np.testing.assert_array_equal(first[0], first[2])
