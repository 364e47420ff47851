"""Row containers and subsampling without replacement."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from modelcollapse.data import RowPool, Rows, _choose


@pytest.mark.parametrize(("n", "k"), [(40, 5), (40, 30), (1000, 20)])
def test_choose_is_a_uniform_subset(n: int, k: int) -> None:
    rng = np.random.default_rng(7)
    idx = _choose(20000, n, k, rng)
    assert idx.shape == (20000, k)
    assert (np.sort(idx, axis=1)[:, 1:] != np.sort(idx, axis=1)[:, :-1]).all()  # distinct
    counts = np.bincount(idx.ravel(), minlength=n)
    assert stats.chisquare(counts).pvalue > 1e-3  # every element equally likely (alpha 0.001)
    both = ((idx == 0).any(1) & (idx == 1).any(1)).mean()  # pairs too, not only marginals
    p = k * (k - 1) / (n * (n - 1))
    assert abs(both - p) < 4 * np.sqrt(p * (1 - p) / 20000)


def test_row_pool_appends_and_takes() -> None:
    first = Rows({"x": np.arange(6.0).reshape(2, 3)})
    pool = RowPool(first, capacity=4)
    pool.append(Rows({"x": np.arange(6.0, 16.0).reshape(2, 5)}))  # grows past its capacity
    assert pool.n == 8
    np.testing.assert_array_equal(pool.rows().cols["x"][1], [3, 4, 5, 11, 12, 13, 14, 15])
    taken = pool.take(8, np.random.default_rng(0)).cols["x"]
    np.testing.assert_array_equal(np.sort(taken, axis=1), pool.rows().cols["x"])
