"""What a results folder is for: the number-changing part of its experiment's config.

A folder holds one experiment (or one bundle of them: a reproduction). Its identity is, per experiment,
the config fields that every sweep cell shares (name and replicates excluded: they change no number) and
the swept fields. A run or a merge whose identity differs is refused, naming the fields that differ; a
new name, another number of replicates or new cells along the same sweep axes are the same experiment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from modelcollapse._rng import stable_hash

NOT_NUMBERS = ("name", "replicates", "sweep", "grid")  # config fields that change no stored number
SETS = {"n_real": "workflow[0].real", "n_syn": "workflow[0].synthetic"}  # what a grid axis sets in each cell


class Refused(ValueError):
    """A write the folder cannot take (another experiment's, or a store that fails its checks); one line."""


@dataclass(frozen=True)
class Member:
    """One experiment of a folder: its name, the replicates shown, shared fields and sweep axes."""

    name: str
    replicates: int
    fields: dict[str, Any]
    axes: tuple[str, ...]


@dataclass(frozen=True)
class Identity:
    members: tuple[Member, ...]

    @property
    def hash(self) -> str:
        return stable_hash([[m.fields, list(m.axes)] for m in self.members])

    def mismatch(self, other: Identity) -> str:
        """The first difference with ``other`` and how many more ('' when it is this experiment)."""
        diff = self.differences(other)
        more = f" (and {len(diff) - 1} more)" if len(diff) > 1 else ""
        return f"{diff[0]}{more}" if diff else ""

    def differences(self, other: Identity) -> list[str]:
        """Why ``other`` is another experiment (empty when it is this one), most telling first."""
        if len(self.members) != len(other.members):
            return [f"{len(self.members)} experiment(s) there, {len(other.members)} here"]
        out = []
        for a, b in zip(self.members, other.members, strict=True):
            where = f"experiment {b.name!r}: " if len(self.members) > 1 else ""
            if a.axes != b.axes:
                out.append(f"{where}sweep axes {_list(a.axes)} there, {_list(b.axes)} here")
            for key in sorted(a.fields.keys() | b.fields.keys()):
                if a.fields.get(key, _ABSENT) != b.fields.get(key, _ABSENT):
                    out.append(f"{where}{key} is {_value(a.fields, key)} there, {_value(b.fields, key)} here")
        return out


_ABSENT = object()


def _value(fields: Mapping[str, Any], key: str) -> str:
    if key not in fields:
        return "not set"
    text = json.dumps(fields[key])
    return text if len(text) <= 40 else text[:37] + "..."


def _list(axes: tuple[str, ...]) -> str:
    return "(" + ", ".join(axes) + ")" if axes else "(none)"


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"source": {"dim": 2}}`` -> ``{"source.dim": 2}``; list items as ``workflow[0].kind``."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out |= flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, list) and value and any(isinstance(v, Mapping | list) for v in value):
        out = {}
        for i, v in enumerate(value):
            out |= flatten(v, f"{prefix}[{i}]")
        return out
    return {prefix: value}


def _under(path: str, axis: str) -> bool:
    """Whether ``path`` is the swept field ``axis`` or inside it; a swept ``x.kind`` sweeps all of ``x``."""
    root = SETS.get(axis, axis.removesuffix(".kind"))
    return path == root or path.startswith((root + ".", root + "["))


def member(name: str, replicates: int, configs: Iterable[Mapping[str, Any]], axes: Iterable[str]) -> Member:
    """The identity of one experiment from its cells' validated configs (JSON) and its swept fields."""
    axes = tuple(sorted(axes))
    flat = [
        {k: v for k, v in flatten(cfg).items() if k.split(".")[0].split("[")[0] not in NOT_NUMBERS} for cfg in configs
    ]
    shared = {
        k: v
        for k, v in flat[0].items()
        if not any(_under(k, a) for a in axes) and all(f.get(k, _ABSENT) == v for f in flat[1:])
    }
    if set(SETS) <= set(axes) and "workflow[0].generator" in shared:  # a grid: say what the user wrote
        shared.pop("generations", None)  # generator + 1
        shared["grid.generator"] = shared.pop("workflow[0].generator")
    return Member(name, replicates, shared, axes)


def from_cells(rows: Iterable[tuple[str, str, str]]) -> Identity | None:
    """The identity of a folder written before identities were recorded, from its ``cells`` rows
    ``(experiment, sweep JSON, config JSON)``: one member per experiment name, in name order."""
    by_name: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for name, sweep, config in rows:
        by_name.setdefault(name, []).append((json.loads(sweep), json.loads(config)))
    if not by_name:
        return None
    members = []
    for name in sorted(by_name):
        cells = by_name[name]
        axes = {k for point, _ in cells for k in point}
        replicates = max(int(cfg.get("replicates", 0)) for _, cfg in cells)
        members.append(member(name, replicates, [cfg for _, cfg in cells], axes))
    return Identity(tuple(members))
