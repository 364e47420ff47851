"""Groups of a source's rows (mixture components, classes, a protected attribute) and who belongs where.

A group-aware source labels its real rows with a ``group`` column (and, for a downstream classifier, a
``target`` column) and gives the world a :class:`Groups`: the group names, their true shares, and the
rule that assigns *any* row to a group, a model's synthetic rows included (the Bayes rule of a known
mixture, a classifier trained on the real rows, or the nearest value of an attribute column). The
engine labels synthetic rows with it, so per-group metrics and selection stages read one column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Assign = Callable[[np.ndarray], np.ndarray]  # x (B, n, ...) -> group index (B, n)


@dataclass(frozen=True)
class Groups:
    """Group ``names``, their true ``shares`` (summing to 1) and ``assign``, the rule for any row.

    >>> g = Groups(("left", "right"), np.array([0.9, 0.1]), lambda x: (x[..., 0] > 0).astype(int))
    >>> g.minority, g.assign(np.array([[[-1.0], [2.0]]])).tolist()
    (1, [[0, 1]])
    """

    names: tuple[str, ...]
    shares: np.ndarray
    assign: Assign

    @property
    def minority(self) -> int:
        """The group with the smallest true share (the first of equals)."""
        return int(np.argmin(self.shares))


def shares_of(assigned: np.ndarray, count: int) -> np.ndarray:
    """``(B, count)``: the share of each replicate's rows in each group."""
    return np.stack([(assigned == g).mean(axis=1) for g in range(count)], axis=1)


def bayes_assign(means: np.ndarray, std: np.ndarray, weights: np.ndarray, groups: np.ndarray) -> Assign:
    """The Bayes rule of an isotropic Gaussian mixture: the group whose components hold most posterior mass.

    ``means`` (K, d), ``std`` and ``weights`` (K,), ``groups`` (K,) the group of each component.
    """
    d = means.shape[1]
    log_prior = np.log(weights) - d * np.log(std)
    count = int(groups.max()) + 1

    def assign(x: np.ndarray) -> np.ndarray:
        sq = ((x[..., None, :] - means) ** 2).sum(-1)  # (B, n, K)
        logp = log_prior - 0.5 * sq / std**2
        post = np.exp(logp - logp.max(-1, keepdims=True))
        mass = np.stack([post[..., groups == g].sum(-1) for g in range(count)], axis=-1)
        return mass.argmax(-1)

    return assign


def nearest_value(column: int, values: Sequence[float] | np.ndarray) -> Assign:
    """Group = the index of the value of attribute ``column`` nearest to the row's (a synthetic row's
    attribute is a real number; the group it stands for is the nearest real code)."""
    codes = np.asarray(values, float)

    def assign(x: np.ndarray) -> np.ndarray:
        return np.abs(x[..., column, None] - codes).argmin(-1)

    return assign


def names_or_default(names: Sequence[str] | None, count: int) -> tuple[str, ...]:
    """The given names, or ``g0, g1, ...``."""
    return tuple(names) if names else tuple(f"g{i}" for i in range(count))


def under_represent(y: np.ndarray, class_shares: dict[int, float] | None) -> np.ndarray:
    """Indices of the rows kept when class ``c`` keeps only the first ``round(s * count)`` of its rows in
    their given order, for every ``c: s`` of ``class_shares`` (every row when None)."""
    keep = np.ones(len(y), bool)
    for c, share in (class_shares or {}).items():
        rows = np.flatnonzero(y == c)
        keep[rows[round(share * len(rows)) :]] = False
    return np.flatnonzero(keep)


def classifier_assign(x: np.ndarray, y: np.ndarray, classes: int) -> Assign:
    """Group = the class a logistic regression fitted once to real rows ``x`` (n, ...) predicts."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=2000).fit(x.reshape(len(x), -1), y)

    def assign(rows: np.ndarray) -> np.ndarray:
        flat = rows.reshape(-1, int(np.prod(rows.shape[2:], dtype=int)))
        return model.predict(flat).reshape(rows.shape[:2]).astype(int) % classes

    return assign


def class_names(classes: int) -> tuple[str, ...]:
    """``class0, class1, ...``: the group names of classes."""
    return tuple(f"class{c}" for c in range(classes))
