"""Malformed configs and sweep specs, generated: always one line naming the field, never a traceback."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcollapse.run.loading import ConfigError, expand, set_path

BASE: dict[str, Any] = {
    "name": "fuzz",
    "source": {"kind": "gaussian", "dim": 2},
    "model": {"kind": "gaussian", "covariance": "full"},
    "samples_per_generation": 10,
    "workflow": ["replace", {"kind": "mix", "fraction": 0.5}],
    "generations": 3,
    "replicates": 2,
    "seed": 0,
}
FIELDS = [
    "name",
    "source",
    "source.kind",
    "source.dim",
    "source.variance",
    "model",
    "model.kind",
    "model.covariance",
    "model.estimator",
    "samples_per_generation",
    "workflow",
    "generations",
    "replicates",
    "seed",
    "metrics",
    "sweep",
    "sweep.source.dim",
    "sweep.zip",
    "unknown_key",
    "source.extra",
    "model.extra",
]
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.one_of(st.integers(-2, 2), st.text(max_size=3)), max_size=3),
    st.dictionaries(
        st.sampled_from(["kind", "dim", "x", "fraction"]),
        st.one_of(st.integers(-2, 2), st.text(max_size=3)),
        max_size=2,
    ),
)


def mutate(field: str, value: Any, delete: bool) -> dict[str, Any]:
    cfg = copy.deepcopy(BASE)
    if field.startswith("sweep."):
        cfg["sweep"] = {field.removeprefix("sweep."): value}
    elif delete and "." not in field and field in cfg:
        del cfg[field]
    else:
        set_path(cfg, field, value)
    return cfg


TOP = {*BASE, "sweep", "metrics", "unknown_key"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FIELDS), JUNK, st.booleans())
def test_bad_configs_fail_with_one_line_naming_the_field(field: str, value: Any, delete: bool) -> None:
    cfg = mutate(field, value, delete)
    try:
        expand(cfg)
    except ConfigError as err:
        message = str(err)
        assert message and "\n" not in message and "Traceback" not in message
        named = message.split(":")[0].split(".")[0].split("[")[0]
        assert named in TOP, message


@settings(max_examples=6, deadline=None)
@given(
    st.sampled_from(["source.kind", "model.kind", "workflow", "sweep.source.dim", "generations"]),
    st.sampled_from([None, -1, "nope", [], {"x": 1}]),
)
def test_the_command_exits_2_and_writes_nothing(tmp_path_factory, field: str, value: Any) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("fuzz")
    cfg = mutate(field, value, delete=False)
    try:
        expand(cfg)
        return  # a valid config: nothing to check here
    except ConfigError as err:
        field = str(err).split(":")[0]  # the rest may list models other tests registered in this process
    path = Path(tmp) / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    done = subprocess.run(
        [sys.executable, "-m", "modelcollapse", "sweep", str(path), "--out", str(Path(tmp) / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: {field}:"), done.stderr
    assert not (Path(tmp) / "out").exists()
