"""From YAML text and command-line overrides to validated experiments, with one-line errors."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from modelcollapse.registry import short
from modelcollapse.run.config import Experiment, GridConfig
from modelcollapse.store import GRID_AXES


class ConfigError(ValueError):
    """A configuration problem, explained in one line that names the field."""


def read_yaml(path: str | Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of fields, got {type(data).__name__}")
    return data


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``["workflow.kind=replace", "seed=3"]`` -> a new dict; values are parsed as YAML."""
    out = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects FIELD=VALUE, got {item!r}")
        set_path(out, key, yaml.safe_load(text))
    return out


def set_path(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for p in parents:
        if not isinstance(node.get(p), dict):
            node[p] = {"kind": node[p]} if isinstance(node.get(p), str) else {}
        node = node[p]
    node[leaf] = value


def validate(raw: dict[str, Any]) -> Experiment:
    try:
        return Experiment.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(explain(e.errors()[0])) from None


def _axes(sweep: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The sweep's axes: one per swept field, one per ``zip`` group (lists varied together)."""
    axes = []
    for key, values in sweep.items():
        if key == "zip":
            for i, group in enumerate(values if isinstance(values, list) else [values]):
                where = f"sweep.zip[{i}]" if isinstance(values, list) else "sweep.zip"
                if not isinstance(group, dict) or not group:
                    raise ConfigError(f"{where}: must map dotted field paths to lists of equal length")
                lengths = {k: len(v) if isinstance(v, list) else -1 for k, v in group.items()}
                if min(lengths.values()) < 1 or len(set(lengths.values())) != 1:
                    raise ConfigError(f"{where}: lists must be non-empty and of equal length, got lengths {lengths}")
                axes.append([dict(zip(group, combo, strict=True)) for combo in zip(*group.values(), strict=True)])
        elif not isinstance(values, list) or not values:
            raise ConfigError(f"sweep.{key}: must be a non-empty list of values, got {values!r}")
        else:
            axes.append([{key: v} for v in values])
    return axes


def expand(raw: dict[str, Any]) -> list[tuple[dict[str, Any], Experiment]]:
    """The cells of a sweep, each validated; one cell without a sweep.

    ``sweep`` maps dotted field paths to lists (a grid: every combination), and ``zip`` to one or
    more mappings of equal-length lists that vary together, e.g.
    ``{zip: {samples_per_generation: [10, 100], generations: [50, 5]}, source.dim: [2, 5]}`` is 4 cells.
    A ``grid`` (:class:`~modelcollapse.run.config.GridConfig`) adds one axis, ``(n_real, n_syn)``, whose
    cells set the workflow and the number of generations.
    """
    sweep = raw.get("sweep") or {}
    if not isinstance(sweep, dict):
        raise ConfigError("sweep: must map dotted field paths to lists of values")
    grid = _grid(raw)
    base = {k: v for k, v in raw.items() if k not in ("sweep", "grid")}
    axes = _axes(sweep)
    if grid is not None:
        axes.append([dict(zip(GRID_AXES, cell, strict=True)) for cell in grid.cells()])
    cells = []
    for combo in itertools.product(*axes):
        point = {k: v for part in combo for k, v in part.items()}
        cfg = copy.deepcopy(base)
        for key, value in point.items():
            if key not in GRID_AXES:
                set_path(cfg, key, value)
        if grid is not None:
            cfg["workflow"] = grid.workflow(point["n_real"], point["n_syn"])
            cfg["generations"] = grid.generator + 1
        try:
            cells.append((point, validate(cfg)))
        except ConfigError as e:
            where = ", ".join(f"{k}={v!r}" for k, v in point.items())
            raise ConfigError(f"{e} (sweep cell {where})" if point else str(e)) from None
    return cells


def _grid(raw: dict[str, Any]) -> GridConfig | None:
    if raw.get("grid") is None:
        return None
    if not isinstance(raw["grid"], dict):
        raise ConfigError("grid: must be a mapping with real, synthetic (lists of sizes) and optionally generator")
    for field in ("workflow", "generations"):
        if field in raw:
            raise ConfigError(f"{field}: a grid sets it (one real-synthetic cell per size pair); remove {field}")
    try:
        return GridConfig.model_validate(raw["grid"])
    except ValidationError as e:
        err = e.errors()[0]
        raise ConfigError(explain({**err, "loc": ("grid", *err["loc"])})) from None


def explain(err: Any) -> str:
    """One line: the dotted field, the bad value (a short prefix of it) and what is allowed."""
    field = _dotted(list(err["loc"]))
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    if kind == "kind_unknown":
        return f"{field}.kind: {ctx['kind']} is not one of: {ctx['allowed']}"
    if kind == "kind_missing":
        return f"{field}.kind: field required"
    if kind == "kind_needs_extra":
        return f"{field}.kind: {ctx['kind']} needs an optional extra: {ctx['reason']}"
    if kind == "missing":
        return f"{field}: field required"
    if kind == "literal_error":
        return f"{field}: {short(value)} is not one of: {ctx['expected'].replace(chr(39), '')}"
    if kind == "extra_forbidden":
        return f"{field}: unknown field"
    msg = err["msg"].removeprefix("Value error, ")
    if kind == "value_error":
        return f"{field}: {msg}" if field else msg
    return f"{field}: {short(value)} is invalid: {msg[0].lower() + msg[1:]}"


def _dotted(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
