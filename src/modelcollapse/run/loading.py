"""From YAML text and command-line overrides to validated experiments, with one-line errors.

Hostile input is bounded before anything walks it: a config file is at most ``MAX_BYTES``, a config (YAML
aliases expanded) at most ``MAX_VALUES`` values ``MAX_DEPTH`` deep, a sweep at most ``MAX_CELLS`` cells, and
an error line quotes a short prefix of a value and is at most ``MAX_MESSAGE`` characters.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from modelcollapse._rng import stable_hash
from modelcollapse.registry import short
from modelcollapse.run.config import Experiment, GridConfig
from modelcollapse.store import GRID_AXES

MAX_BYTES = 1 << 20
MAX_VALUES = 100_000
MAX_DEPTH = 32
MAX_CELLS = 10_000
MAX_MESSAGE = 400
MAX_KEY = 100
UNSWEPT = ("name", "replicates", "sweep", "grid", *GRID_AXES)  # cells differing only there would collide
_KEY = re.compile(r"[^\W\d]\w*(?:\.(?:[^\W\d]\w*|\d{1,3}))*")  # dotted identifiers; a list item by its index
_TYPES = {"int", "float", "str", "bool", "list", "dict", "tuple", "set", "none"}
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: safe_load's rules, faster, depth-limited
PLAIN = (dict, list, str, int, float, bool, type(None))  # what a config holds (YAML's !!binary, !!set: not)


class _LOADER(_BASE_LOADER):  # type: ignore[valid-type, misc]
    """safe_load's rules, refusing a key given twice (YAML keeps the last one silently)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {short(key)}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


class ConfigError(ValueError):
    """A configuration problem, explained in one line that names the field."""

    def __init__(self, message: str) -> None:
        line = " ".join(str(message).splitlines())  # one line, whatever a value or a library put in it
        super().__init__(line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "...")


def read_yaml(path: str | Path) -> dict[str, Any]:
    if Path(path).exists() and not Path(path).is_dir() and not Path(path).is_file():  # a pipe would block
        raise ConfigError(f"config file {path} is not a regular file (a pipe or a device?)")
    try:
        with Path(path).open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory") from None
    except PermissionError:
        raise ConfigError(f"config file {path} cannot be read: permission denied") from None
    except (OSError, ValueError) as e:  # ValueError: a path with a NUL byte
        raise ConfigError(f"config file {path} cannot be read: {getattr(e, 'strerror', None) or e}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"config file {path} is larger than 1 MiB ({MAX_BYTES} bytes), the most a config may be")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {e.start})") from None
    raw = parse_yaml(text, str(path))
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a mapping of fields, got {type(raw).__name__}")
    return bounded(raw, "config")


def parse_yaml(text: str, where: str) -> Any:
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {str(e).splitlines()[0]}") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid YAML: nested too deeply") from None
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        raise ConfigError(f"{where}: not valid YAML: {e}") from None


def bounded(data: Any, where: str) -> Any:
    """``data`` itself, once it has at most MAX_VALUES values and MAX_DEPTH levels as a tree (each alias of a
    shared node counts again: this is what validation would walk). Iterative, and stops at the budget."""
    todo, count = [(data, 0)], 1
    while todo:
        node, depth = todo.pop()
        if not isinstance(node, PLAIN):
            raise ConfigError(f"{where}: a value of type {type(node).__name__} (a YAML tag?) is not allowed")
        if depth > MAX_DEPTH:
            raise ConfigError(f"{where}: nested more than {MAX_DEPTH} levels deep")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        count += len(children)
        if count > MAX_VALUES:
            raise ConfigError(f"{where}: more than {MAX_VALUES} values once YAML aliases are expanded")
        todo.extend((c, depth + 1) for c in children)
    return data


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``["workflow.kind=replace", "seed=3"]`` -> a new dict; values are parsed as YAML."""
    out = copy.deepcopy(bounded(raw, "config"))
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects FIELD=VALUE, got {short(item)}")
        check_key(key, "--set")
        set_path(out, key, bounded(parse_yaml(text, f"--set {key}"), f"--set {key}"))
    return bounded(out, "config")


def check_key(key: Any, where: str) -> str:
    if not isinstance(key, str) or len(key) > MAX_KEY or not _KEY.fullmatch(key):
        raise ConfigError(f"{where}: {short(key)} is not a dotted path of field names (at most {MAX_KEY} characters)")
    return key


def set_path(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c``; a parent that is not a mapping becomes one (a kind string becomes ``{kind: ...}``),
    except that an item of a list is named by its index (``selection.0.threshold``)."""
    parts = dotted.split(".")
    *parents, leaf = parts
    node: Any = raw
    for i, p in enumerate(parents):
        if isinstance(node, list):
            node = _item(node, p, dotted)
            continue
        if isinstance(node.get(p), list) and parts[i + 1].isdigit():
            node = node[p]
            continue
        if not isinstance(node.get(p), dict):
            node[p] = {"kind": node[p]} if isinstance(node.get(p), str) else {}
        node = node[p]
    if isinstance(node, list):
        raise ConfigError(f"{dotted}: names a list item; set a field of it ({dotted}.FIELD)")
    node[leaf] = value


def _item(items: list[Any], index: str, dotted: str) -> dict[str, Any]:
    """Item ``index`` of a list on a dotted path, as a mapping (a kind string becomes ``{kind: ...}``)."""
    if not index.isdigit() or int(index) >= len(items):
        last = len(items) - 1
        raise ConfigError(f"{dotted}: {short(index)} is not an index of a list of {len(items)} (use 0-{last})")
    i = int(index)
    if isinstance(items[i], str):
        items[i] = {"kind": items[i]}
    if not isinstance(items[i], dict):
        raise ConfigError(f"{dotted}: item {i} is not a mapping of fields")
    return items[i]


def validate(raw: dict[str, Any]) -> Experiment:
    if not isinstance(raw, dict):
        raise ConfigError(f"config: a config must be a mapping of fields, got {type(raw).__name__}")
    return _validate(bounded(raw, "config"))


def _validate(raw: dict[str, Any]) -> Experiment:
    try:
        return Experiment.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(explain(_reported(e.errors()))) from None


def _axes(sweep: dict[str, Any], grid: bool) -> list[list[dict[str, Any]]]:
    """The sweep's axes: one per swept field, one per ``zip`` group (lists varied together)."""
    axes: list[list[dict[str, Any]]] = []
    seen: list[str] = []
    for key, values in sweep.items():
        if key == "zip":
            for i, group in enumerate(values if isinstance(values, list) else [values]):
                where = f"sweep.zip[{i}]" if isinstance(values, list) else "sweep.zip"
                if not isinstance(group, dict) or not group:
                    raise ConfigError(f"{where}: must map dotted field paths to lists of equal length")
                seen += [_sweepable(k, where, seen, grid) for k in group]
                lengths = [len(v) if isinstance(v, list) else -1 for v in group.values()]
                if min(lengths) < 1 or len(set(lengths)) != 1:
                    got = dict(zip(group, lengths, strict=True))
                    raise ConfigError(f"{where}: lists must be non-empty and of equal length, got lengths {short(got)}")
                axes.append([dict(zip(group, combo, strict=True)) for combo in zip(*group.values(), strict=True)])
            continue
        seen.append(_sweepable(key, "sweep", seen, grid))
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep.{key}: must be a non-empty list of values, got {short(values)}")
        axes.append([{key: v} for v in values])
    return axes


def _sweepable(key: Any, where: str, seen: list[str], grid: bool) -> str:
    """``key`` when a sweep may vary it: a field path, not one that names or counts cells, not swept twice."""
    head = check_key(key, where).split(".")[0]
    if head in UNSWEPT:
        raise ConfigError(f"{where}.{key}: cannot be swept; sweep any field but {', '.join(UNSWEPT)}")
    if grid and head in ("workflow", "generations"):
        raise ConfigError(f"{where}.{key}: a grid sets it (one real-synthetic cell per size pair); do not sweep it")
    for other in seen:
        if other == key or other.startswith(key + ".") or key.startswith(other + "."):
            raise ConfigError(f"{where}.{key}: swept twice (also as {other})")
    return key


def expand(raw: dict[str, Any]) -> list[tuple[dict[str, Any], Experiment]]:
    """The cells of a sweep, each validated; one cell without a sweep.

    ``sweep`` maps dotted field paths to lists (a grid: every combination), and ``zip`` to one or
    more mappings of equal-length lists that vary together, e.g.
    ``{zip: {samples_per_generation: [10, 100], generations: [50, 5]}, source.dim: [2, 5]}`` is 4 cells.
    A ``grid`` (:class:`~modelcollapse.run.config.GridConfig`) adds one axis, ``(n_real, n_syn)``, whose
    cells set the workflow and the number of generations.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"config: a config must be a mapping of fields, got {type(raw).__name__}")
    sweep = bounded(raw, "config").get("sweep") or {}
    if not isinstance(sweep, dict):
        raise ConfigError("sweep: must map dotted field paths to lists of values")
    grid = _grid(raw)
    base = {k: v for k, v in raw.items() if k not in ("sweep", "grid")}
    axes = _axes(sweep, grid is not None)
    if grid is not None:
        bound = len(grid.real) * len(grid.synthetic) + len(grid.totals) * len(grid.proportions)
        if bound > MAX_CELLS:  # before the pairs are built
            raise ConfigError(f"grid: up to {bound} cells; at most {MAX_CELLS}")
        if not grid.cells():
            raise ConfigError("grid: no cells (every size pair is (0, 0)); give a size above 0")
        axes.append([dict(zip(GRID_AXES, cell, strict=True)) for cell in grid.cells()])
    cells = math.prod(len(a) for a in axes)
    if cells > MAX_CELLS:
        raise ConfigError(f"sweep: {cells} cells; at most {MAX_CELLS}")
    out: list[tuple[dict[str, Any], Experiment]] = []
    seen: dict[str, dict[str, Any]] = {}
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
            exp = _validate(cfg)
        except ConfigError as e:
            where = ", ".join(f"{k}={short(v)}" for k, v in point.items())
            raise ConfigError(f"{e} (sweep cell {where})" if point else str(e)) from None
        same = seen.setdefault(stable_hash(exp.model_dump(mode="json", exclude={"sweep", "grid"})), point)
        if same is not point:  # e.g. seed: [1, 1]: one cell counted twice
            cells_ = " and ".join(", ".join(f"{k}={short(v)}" for k, v in p.items()) for p in (same, point))
            raise ConfigError(f"sweep: the cells {cells_} are the same config; give each value once")
        out.append((point, exp))
    return out


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
        err = _reported(e.errors())
        raise ConfigError(explain({**err, "loc": ("grid", *err["loc"])})) from None


def _reported(errors: list[Any]) -> Any:
    """The error to report, its location without pydantic's union tags. The first error, unless it is one
    member of a union: then that union's error that went deepest (``mean: [1, inf]`` -> ``mean[1]``)."""
    loc = _field_loc(errors[0])
    if len(loc) < len(errors[0]["loc"]):
        errors = [e for e in errors if _field_loc(e)[: len(loc)] == loc]
        errors = [max(errors, key=lambda e: len(_field_loc(e)))]  # the first of the deepest
    return {**errors[0], "loc": _field_loc(errors[0])}


def _field_loc(err: Any) -> tuple[Any, ...]:
    loc = tuple(err["loc"])
    body, tail = (loc[:-1], loc[-1:]) if err["type"] == "extra_forbidden" else (loc, ())  # tail: a user's key

    def tag(part: Any) -> bool:  # pydantic names a union's member: "float", "list[constrained-float]", ...
        return isinstance(part, str) and ("[" in part or "-" in part or part in _TYPES)

    return tuple(p for p in body if not tag(p)) + tail


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
    return f"{field}: {short(value)} is invalid: {msg[:1].lower() + msg[1:]}"


def _dotted(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        name = part if isinstance(part, str) and len(part) <= MAX_KEY and _KEY.fullmatch(part) else short(part)
        out += f"[{part}]" if isinstance(part, int) else (f".{name}" if out else name)
    return out
