"""The bundled reproductions of published results: their configs, and running them into a results folder."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from modelcollapse.run.chunk import cell_key
from modelcollapse.run.loading import expand
from modelcollapse.run.runner import Progress, identity, run
from modelcollapse.store import Identity


@dataclass(frozen=True)
class Reproduction:
    name: str
    title: str
    claim: str
    experiments: list[dict[str, Any]]
    test_replicates: int = 400  # what the test suite runs (|z| < 4 on every point)
    effect: dict[str, str] | None = None  # {metric, worse, better}: the direction a neural reproduction shows
    scale: tuple[str, ...] = ()  # the fields that ``--scale`` multiplies


def available() -> dict[str, Reproduction]:
    """The bundled reproductions, by name."""
    out = {}
    folder = resources.files("modelcollapse") / "configs" / "reproductions"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            raw = yaml.safe_load(item.read_text())
            out[raw["name"]] = Reproduction(
                raw["name"],
                raw["title"],
                raw["claim"],
                raw["experiments"],
                raw.get("test_replicates", 400),
                raw.get("effect"),
                tuple(raw.get("scale", ())),
            )
    return out


def scaled(cfg: dict[str, Any], fields: tuple[str, ...], factor: float) -> dict[str, Any]:
    """``cfg`` with each dotted field multiplied by ``factor`` (a width stays a multiple of the heads)."""
    cfg = copy.deepcopy(cfg)
    for path in fields:
        *parents, leaf = path.split(".")
        node = cfg
        for p in parents:
            node = node[p]
        if leaf in node:
            value = max(1, round(node[leaf] * factor))
            heads = node.get("heads", 1) if leaf == "width" else 1
            node[leaf] = max(heads, value - value % heads)
    return cfg


def run_reproduction(
    name: str,
    out: str | Path,
    replicates: int | None = None,
    workers: int = 1,
    progress: Progress | None = None,
    scale: float = 1.0,
    device: str | None = None,
) -> set[str]:
    """Run the experiments of bundled reproduction ``name`` into ``out``; returns the keys of their cells.

    ``replicates`` caps every experiment's replicates; ``scale`` multiplies its size fields (data, steps,
    width: for a GPU); ``device`` sets the device of its neural models.
    """
    repro = available()[name]
    configs = []
    for exp in repro.experiments:
        cfg = scaled(exp, repro.scale, scale) if scale != 1.0 else dict(exp)
        if replicates is not None:  # a cap: smaller runs for tests and previews, never larger
            cfg["replicates"] = min(cfg["replicates"], replicates)
        if device is not None and "device" in cfg["model"]:
            cfg["model"] = {**cfg["model"], "device": device}
        configs.append((cfg, expand(cfg)))
    bundle = Identity(tuple(identity(cells) for _, cells in configs))  # the folder holds them all
    keys: set[str] = set()
    for cfg, cells in configs:
        run(cfg, out, progress, workers, bundle=bundle)
        keys |= {cell_key(e) for _, e in cells}
    return keys
