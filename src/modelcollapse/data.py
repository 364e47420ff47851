"""Batched data sets: the rows a workflow moves around, one data set per replicate, and their files.

Every column of a :class:`Rows` has shape ``(B, n, ...)``: ``B`` replicates that
each hold ``n`` rows. Sufficient-statistics classes of the analytic families
follow the same small protocol (``n`` and ``+``), so workflows never need to
know which representation they hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, Self

import numpy as np

if TYPE_CHECKING:
    from modelcollapse._rng import Streams


class Data(Protocol):
    """What a workflow needs of a data set: its size and a union."""

    @property
    def n(self) -> int: ...

    def __add__(self, other: Self) -> Self: ...


class Part(NamedTuple):
    """One piece of a training set: a data set and the weight each of its rows carries."""

    data: Any
    weight: float = 1.0


@dataclass(frozen=True)
class Rows:
    """Raw rows, ``cols[name].shape == (B, n, ...)`` for every column."""

    cols: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        return next(iter(self.cols.values())).shape[1]

    @property
    def batch(self) -> int:
        return next(iter(self.cols.values())).shape[0]

    def __add__(self, other: Rows) -> Rows:
        return Rows({k: np.concatenate([v, other.cols[k]], axis=1) for k, v in self.cols.items()})

    def take(self, k: int, rng: Streams) -> Rows:
        """A uniform subsample of ``k`` rows without replacement, drawn per replicate from its stream."""
        return self.index(_choose(self.batch, self.n, k, rng))

    def index(self, idx: np.ndarray) -> Rows:
        """Rows ``idx[b]`` of replicate ``b``; ``idx`` has shape ``(B, k)``."""
        return Rows({k: _gather(v, idx) for k, v in self.cols.items()})


class RowPool:
    """A growing union of row sets, stored in preallocated buffers.

    Appending costs the size of the new rows only; :meth:`take` draws a uniform
    subsample of the whole union without materialising it.
    """

    def __init__(self, first: Rows, capacity: int) -> None:
        self._bufs = {
            k: np.empty((v.shape[0], max(capacity, v.shape[1]), *v.shape[2:]), v.dtype) for k, v in first.cols.items()
        }
        self._n = 0
        self.append(first)

    @property
    def n(self) -> int:
        return self._n

    def append(self, rows: Rows) -> None:
        m = rows.n
        for k, v in rows.cols.items():
            buf = self._bufs[k]
            if self._n + m > buf.shape[1]:
                grown = np.empty((buf.shape[0], 2 * (self._n + m), *buf.shape[2:]), buf.dtype)
                grown[:, : self._n] = buf[:, : self._n]
                self._bufs[k] = buf = grown
            buf[:, self._n : self._n + m] = v
        self._n += m

    def rows(self) -> Rows:
        return Rows({k: v[:, : self._n] for k, v in self._bufs.items()})

    def take(self, k: int, rng: Streams) -> Rows:
        batch = next(iter(self._bufs.values())).shape[0]
        return self.rows().index(_choose(batch, self._n, k, rng))


def _choose(batch: int, n: int, k: int, rng: Streams) -> np.ndarray:
    """``(batch, k)`` indices, each row a uniform k-subset of ``range(n)`` (in no particular order).

    For ``k`` small against ``n`` this costs O(k log k) instead of O(n): draw
    with replacement, keep each value's first draw, and take the ``k`` earliest
    of those. The draws are exchangeable, so the first ``k`` distinct values
    form a uniform k-subset. One SIMD sort of packed (value, position) keys
    finds first draws.
    """
    if not 0 <= k <= n:
        raise ValueError(f"cannot take {k} rows without replacement from {n}")
    if 4 * k > n:
        return rng.permuted(np.broadcast_to(np.arange(n), (batch, n)), axis=1)[:, :k]
    m = k + int(2 * k * k / n) + 16  # enough draws for k distinct values with high probability
    draws = rng.integers(0, n, size=(batch, m))
    keys = np.sort(draws * m + np.arange(m), axis=1)
    value, pos = np.divmod(keys, m)
    first = np.ones_like(value, dtype=bool)
    first[:, 1:] = value[:, 1:] != value[:, :-1]
    earliest = np.sort(np.where(first, pos, m - 1), axis=1)[:, :k]
    out = np.take_along_axis(draws, earliest, axis=1)
    short = first.sum(axis=1) < k
    if short.any():  # very rare: too few distinct draws; those replicates draw again from their own streams
        out[short] = _choose(int(short.sum()), n, k, rng[short])
    return out


def _gather(v: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return v[np.arange(v.shape[0])[:, None], idx]


def write_rows(rows: Rows, path: Path) -> None:
    """Rows (every column shaped (batch, n, ...)) as one Parquet table of fixed-size lists."""
    import pyarrow as pa  # lazy: importing the package stays light
    import pyarrow.parquet as pq

    arrays, shapes = {}, {}
    for name, a in rows.cols.items():
        a = np.ascontiguousarray(a)
        shapes[name] = {"shape": list(a.shape), "dtype": a.dtype.str}
        width = int(np.prod(a.shape[2:], dtype=int))
        flat = pa.array(a.reshape(-1))
        arrays[name] = pa.FixedSizeListArray.from_arrays(flat, width) if a.ndim > 2 else flat
    table = pa.table(arrays).replace_schema_metadata({"modelcollapse.shapes": json.dumps(shapes)})
    pq.write_table(table, path)


def read_rows(path: Path) -> Rows:
    """What :func:`write_rows` wrote."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    shapes = json.loads(table.schema.metadata[b"modelcollapse.shapes"])
    cols = {}
    for name, spec in shapes.items():
        col = table.column(name).combine_chunks()
        values = col.flatten() if pa.types.is_fixed_size_list(col.type) else col
        cols[name] = values.to_numpy(zero_copy_only=False).astype(spec["dtype"]).reshape(spec["shape"])
    return Rows(cols)
