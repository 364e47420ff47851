"""Per-group metrics of a group-aware source: how much of the model each group keeps, and its test loss.

Each generation the engine draws ``EVAL_ROWS`` rows per replicate from the model (from streams of their
own, so measuring changes no draw of the chain) and assigns them to groups with the source's rule:

* ``group_share_<name>``: the model's mass on each group (the truth's share if faithful);
* ``minority_share``: the model's mass on the smallest group over its true share (1 if faithful, 0 lost);
* ``group_share_tv``: total-variation distance between the model's and the true group shares;
* ``groups_lost``: groups whose mass fell below ``LOST`` times their true share;
* ``group_loss_<name>``: the mean test loss of held-out real rows of each group (families with a
  per-row loss; NaN for the others).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from modelcollapse.sources.groups import Groups, shares_of

EVAL_ROWS = 500
LOST = 0.1  # a group is lost when the model keeps less than this share of its true mass


def group_series(names: Sequence[str]) -> list[str]:
    """The names of the values :func:`measure` returns, for groups ``names``."""
    shares = [f"group_share_{n}" for n in names]
    return [*shares, "minority_share", "group_share_tv", "groups_lost", *(f"group_loss_{n}" for n in names)]


def measure(
    groups: Groups, samples: np.ndarray, losses: np.ndarray | None, test_groups: np.ndarray
) -> dict[str, np.ndarray]:
    """Every per-group value, ``(B,)`` each, from model ``samples`` (B, m, ...) and per-row test ``losses``
    (B, n) of real rows in ``test_groups`` (B, n).

    >>> g = Groups(("a", "b"), np.array([0.8, 0.2]), lambda x: (x[..., 0] > 0).astype(int))
    >>> v = measure(g, np.array([[[-1.0], [-2.0], [-3.0], [4.0]]]), None, np.array([[0, 1]]))
    >>> [round(float(v[k][0]), 6) for k in ("minority_share", "group_share_tv", "groups_lost")]
    [1.25, 0.05, 0.0]
    """
    k = len(groups.names)
    model = shares_of(groups.assign(samples), k)
    out = {f"group_share_{n}": model[:, i] for i, n in enumerate(groups.names)}
    out["minority_share"] = model[:, groups.minority] / groups.shares[groups.minority]
    out["group_share_tv"] = 0.5 * np.abs(model - groups.shares).sum(axis=1)
    out["groups_lost"] = (model < LOST * groups.shares).sum(axis=1).astype(float)
    for i, n in enumerate(groups.names):
        if losses is None:
            out[f"group_loss_{n}"] = np.full(samples.shape[0], np.nan)
            continue
        inside = test_groups == i
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"group_loss_{n}"] = np.where(inside, losses, 0.0).sum(axis=1) / inside.sum(axis=1)
    return out
