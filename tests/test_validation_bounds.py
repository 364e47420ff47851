"""Hostile or absurd configs are refused at validation in one short line: non-finite numbers, booleans as
numbers, seeds past int64, YAML alias bombs, huge or unreadable files, unsweepable fields, too few rows."""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelcollapse as mc
from modelcollapse.run.loading import MAX_MESSAGE, ConfigError, apply_overrides, expand, read_yaml, set_path

BASE: dict[str, Any] = {
    "name": "bounds",
    "source": {"kind": "gaussian", "dim": 2},
    "model": {"kind": "gaussian"},
    "samples_per_generation": 10,
    "workflow": ["replace"],
    "generations": 2,
    "replicates": 2,
    "seed": 0,
}
LINEAR: dict[str, Any] = {
    **BASE,
    "source": {"kind": "linear-regression", "dim": 10},
    "model": {"kind": "ols", "noise": "estimated", "estimator": "unbiased"},
}
FINITE = "input should be a finite number"
DEEP = "not valid YAML: " + ("while increasing flow level" if yaml.__with_libyaml__ else "nested too deeply")


def changed(base: dict[str, Any] = BASE, **fields: Any) -> dict[str, Any]:
    """``base`` with dotted fields set (``source__dim=3`` sets ``source.dim``)."""
    cfg = copy.deepcopy(base)
    for key, value in fields.items():
        set_path(cfg, key.replace("__", "."), value)
    return cfg


def refused(cfg: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as e:
        expand(cfg)
    return str(e.value)


@pytest.mark.parametrize(
    ("base", "field", "value", "message"),
    [
        (BASE, "source.variance", math.inf, f"source.variance: inf is invalid: {FINITE}"),
        (BASE, "source.variance", [1.0, math.nan], f"source.variance[1]: nan is invalid: {FINITE}"),
        (BASE, "source.mean", -math.inf, f"source.mean: -inf is invalid: {FINITE}"),
        (BASE, "source.mean", [0.0, math.inf], f"source.mean[1]: inf is invalid: {FINITE}"),
        (
            BASE,
            "source.covariance",
            [[1.0, 0.0], [0.0, math.nan]],
            f"source.covariance[1][1]: nan is invalid: {FINITE}",
        ),
        (LINEAR, "source.noise_std", math.inf, f"source.noise_std: inf is invalid: {FINITE}"),
        (LINEAR, "source.feature_variance", math.nan, f"source.feature_variance: nan is invalid: {FINITE}"),
        (BASE, "source", {"kind": "poisson", "rate": math.inf}, f"source.rate: inf is invalid: {FINITE}"),
        (BASE, "workflow", [{"kind": "mix", "fraction": math.nan}], f"workflow[0].fraction: nan is invalid: {FINITE}"),
        (BASE, "source.mean", "-1e400", "source.mean: '-1e400' is invalid: input should be a number, not text"),
    ],
)
def test_inf_and_nan_are_refused(base: dict[str, Any], field: str, value: Any, message: str) -> None:
    assert refused(changed(base, **{field.replace(".", "__"): value})) == message


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "samples_per_generation",
            True,
            "samples_per_generation: True is invalid: input should be an integer, not a boolean",
        ),
        ("generations", True, "generations: True is invalid: input should be an integer, not a boolean"),
        ("replicates", False, "replicates: False is invalid: input should be an integer, not a boolean"),
        ("seed", True, "seed: True is invalid: input should be an integer, not a boolean"),
        ("source.dim", True, "source.dim: True is invalid: input should be an integer, not a boolean"),
        ("source.variance", True, "source.variance: True is invalid: input should be a number, not a boolean"),
        ("source.mean", [1, False], "source.mean: [1, False] is invalid: input should be a number, not a boolean"),
        (
            "workflow",
            [{"kind": "accumulate-subsample", "budget": True}],
            "workflow[0].budget: True is invalid: input should be an integer, not a boolean",
        ),
    ],
)
def test_booleans_are_not_numbers(field: str, value: Any, message: str) -> None:
    assert refused(changed(**{field.replace(".", "__"): value})) == message


def test_yaml_true_is_refused_through_set() -> None:
    with pytest.raises(ConfigError, match=r"^samples_per_generation: True is invalid: .* not a boolean$"):
        expand(apply_overrides(BASE, ["samples_per_generation=true"]))


def test_seed_fits_a_bigint() -> None:
    assert mc.load(changed(seed=2**63 - 1)).seed == 2**63 - 1
    assert refused(changed(seed=2**63)) == (
        "seed: 9223372036854775808 is invalid: input should be less than or equal to 9223372036854775807"
    )
    assert refused(changed(seed=10**5000)) == (  # more digits than Python prints: described, not printed
        "seed: <an int of 16610 bits> is invalid: input should be less than or equal to 9223372036854775807"
    )


def alias_bomb(levels: int = 8) -> list[str]:
    """YAML lines of ~60 bytes each whose last anchor expands to 10^(levels + 1) values."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    return lines + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels + 1)]


BOMB = "more than 100000 values once YAML aliases are expanded"


def test_a_yaml_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    path = tmp_path / "lol.yaml"
    path.write_text("\n".join(["name: lol", *alias_bomb(), "source: {kind: gaussian, mean: *a8}"]))
    assert path.stat().st_size < 600
    started = time.monotonic()
    with pytest.raises(ConfigError) as e:
        read_yaml(path)
    assert time.monotonic() - started < 2
    assert str(e.value) == f"config: {BOMB}"


def test_the_same_bounds_for_python_configs_set_values_and_sweeps() -> None:
    bomb: list[Any] = [0.0] * 10
    for _ in range(8):
        bomb = [bomb] * 10  # shared, as YAML aliases are
    started = time.monotonic()
    with pytest.raises(ConfigError, match=f"^config: {BOMB}$"):
        mc.load(changed(source__mean=bomb))
    with pytest.raises(ConfigError, match=f"^config: {BOMB}$"):
        expand(changed(sweep={"seed": bomb}))
    with pytest.raises(ConfigError, match=f"^--set source.mean: {BOMB}$"):
        apply_overrides(BASE, ["source.mean=" + "\n".join(alias_bomb())])
    assert time.monotonic() - started < 2
    with pytest.raises(ConfigError, match=r"^--set source\.mean: nested more than 32 levels deep$"):
        apply_overrides(BASE, ["source.mean=" + "[" * 40 + "]" * 40])


DIGITS = "Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits; use "


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"name: x\n" + b"#" * (1 << 20),
            "config file {} is larger than 1 MiB (1048576 bytes), the most a config may be",
        ),
        (b"name: caf\xe9\n", "config file {} is not UTF-8 text (byte 9)"),
        (b"name: [x\n", "{}: not valid YAML: while parsing a flow sequence"),
        (
            b"seed: " + b"9" * 5000,
            "{}: not valid YAML: " + DIGITS + "sys.set_int_max_str_digits() to increase the limit",
        ),
        (b"a: " + b"[" * 5000 + b"]" * 5000, "{}: " + DEEP),
        (b"- 1\n- 2\n", "{}: a config must be a mapping of fields, got list"),
    ],
)
def test_config_files_that_cannot_be_configs(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as e:
        read_yaml(path)
    assert str(e.value) == message.format(path)


def test_config_paths_that_cannot_be_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def message(path: str | Path) -> str:
        with pytest.raises(ConfigError) as e:
            read_yaml(path)
        return str(e.value)

    assert message(tmp_path) == f"config file {tmp_path} is a directory"
    assert message(tmp_path / "nope.yaml") == f"config file not found: {tmp_path / 'nope.yaml'}"
    locked = tmp_path / "locked.yaml"
    locked.write_text("name: x\n")

    def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", denied)  # root may read anything: simulate the unreadable file
    assert message(locked) == f"config file {locked} cannot be read: permission denied"


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        (
            {"name": ["a", "b"]},
            "sweep.name: cannot be swept; sweep any field but name, replicates, sweep, grid, n_real, n_syn",
        ),
        (
            {"replicates": [1, 2]},
            "sweep.replicates: cannot be swept; sweep any field but name, replicates, sweep, grid, n_real, n_syn",
        ),
        (
            {"grid.real": [[1]]},
            "sweep.grid.real: cannot be swept; sweep any field but name, replicates, sweep, grid, n_real, n_syn",
        ),
        (
            {"sweep": [{}]},
            "sweep.sweep: cannot be swept; sweep any field but name, replicates, sweep, grid, n_real, n_syn",
        ),
        (
            {"n_real": [1, 2]},
            "sweep.n_real: cannot be swept; sweep any field but name, replicates, sweep, grid, n_real, n_syn",
        ),
        (
            {"zip": {"seed": [1, 2], "replicates": [1, 2]}},
            "sweep.zip.replicates: cannot be swept; sweep any field but name, replicates, sweep, grid, n_real, n_syn",
        ),
        ({"source..dim": [1]}, "sweep: 'source..dim' is not a dotted path of field names (at most 100 characters)"),
        ({"1x": [1]}, "sweep: '1x' is not a dotted path of field names (at most 100 characters)"),
        ({"s" * 101: [1]}, f"sweep: '{'s' * 56}... is not a dotted path of field names (at most 100 characters)"),
        ({"seed": [1], "zip": {"seed": [2]}}, "sweep.zip.seed: swept twice (also as seed)"),
        ({"source": [{"kind": "gaussian"}], "source.dim": [3]}, "sweep.source.dim: swept twice (also as source)"),
        ({"seed": "s" * 1000}, f"sweep.seed: must be a non-empty list of values, got '{'s' * 56}..."),
        (
            {"zip": {"seed": [1, 2], "generations": [3]}},
            "sweep.zip: lists must be non-empty and of equal length, got lengths {'seed': 2, 'generations': 1}",
        ),
        ({"seed": list(range(101)), "generations": list(range(1, 101))}, "sweep: 10100 cells; at most 10000"),
    ],
)
def test_sweeps_that_cannot_be_run(sweep: dict[str, Any], message: str) -> None:
    assert refused(changed(sweep=sweep)) == message


def test_a_sweep_may_vary_the_seed() -> None:
    cells = expand(changed(sweep={"seed": [1, 2]}))
    assert [exp.seed for _, exp in cells] == [1, 2]


def test_a_grid_is_bounded_before_its_pairs_are_built() -> None:
    cfg = {k: v for k, v in BASE.items() if k not in ("workflow", "generations")}
    started = time.monotonic()
    message = refused({**cfg, "grid": {"real": list(range(20_000)), "synthetic": list(range(20_000))}})
    assert message == "grid: up to 400000000 cells; at most 10000" and time.monotonic() - started < 2
    swept = {**cfg, "grid": {"real": [1], "synthetic": [1]}, "sweep": {"workflow": [["replace"]]}}
    assert refused(swept) == "sweep.workflow: a grid sets it (one real-synthetic cell per size pair); do not sweep it"


def test_ols_unbiased_noise_needs_more_rows_than_dimensions() -> None:
    why = "model.estimator: unbiased (noise: estimated) divides by rows - source.dim, so it needs at least 11"
    assert refused(LINEAR) == f"{why} training rows; samples_per_generation gives 10"
    assert refused(changed(LINEAR, model__kind="ridge")) == f"{why} training rows; samples_per_generation gives 10"
    fresh = {"kind": "fresh", "real_samples": 3, "synthetic_samples": 2}
    assert refused(changed(LINEAR, samples_per_generation=20, workflow=["replace", fresh])) == (
        f"{why} training rows; workflow[1] (fresh) gives 5"
    )
    message = refused(changed(LINEAR, sweep={"samples_per_generation": [11, 10]}))
    assert message == f"{why} training rows; samples_per_generation gives 10 (sweep cell samples_per_generation=10)"
    assert mc.load(changed(LINEAR, samples_per_generation=11)).samples_per_generation == 11
    assert mc.load(changed(LINEAR, model__estimator="mle")).model.estimator == "mle"
    assert mc.load(changed(LINEAR, model__noise="known")).model.noise == "known"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["seed=[1"], "--set seed: not valid YAML: while parsing a flow sequence"),
        (["seed: {"], "--set expects FIELD=VALUE, got 'seed: {'"),
        (["=3"], "--set expects FIELD=VALUE, got '=3'"),
        (["source..dim=3"], "--set: 'source..dim' is not a dotted path of field names (at most 100 characters)"),
        (["seed=*a"], "--set seed: not valid YAML: found undefined alias"),
        (
            ["seed=!!python/object:os.system x"],
            "--set seed: not valid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system'",
        ),
    ],
)
def test_set_errors_are_one_line(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        apply_overrides(BASE, overrides)
    assert str(e.value) == message


def test_set_through_a_non_mapping_replaces_it() -> None:
    out = apply_overrides(changed(seed=3), ["seed.x=1", "workflow.kind=accumulate"])
    assert out["seed"] == {"x": 1} and out["workflow"] == {"kind": "accumulate"}
    assert refused(out) == "seed: {'x': 1} is invalid: input should be a valid integer"


def test_messages_quote_a_short_prefix_of_values() -> None:
    long = "x" * 10_000
    prefix = f"'{'x' * 56}..."
    assert refused(changed(metrics=[long])).startswith(f"metrics: unknown metric {prefix}; allowed: ")
    assert refused(changed(**{f"source__{'k' * 500}": 1})) == f"source.'{'k' * 56}...: unknown field"
    assert refused(changed(**{"source__a\nb": 1})) == "source.'a\\nb': unknown field"
    twice = [{"kind": "replace", "name": long[:64]}, {"kind": "accumulate", "name": long[:64]}]
    assert refused(changed(workflow=twice)) == (
        f"workflow: workflow names must be unique, {prefix} is used twice; give each a 'name'"
    )
    assert refused(changed(samples_per_generation=[long] * 1000)) == (
        f"samples_per_generation: ['{'x' * 55}... is invalid: input should be an integer, not text"
    )
    sweep = refused(changed(sweep={"source.dim": [long]}))
    assert sweep == (
        f"source.dim: {prefix} is invalid: input should be an integer, not text "
        f"(sweep cell source.dim={prefix})"
    )


def test_a_config_error_is_one_bounded_line() -> None:
    assert str(ConfigError("a\nb\r\nc")) == "a b c"
    long = str(ConfigError("y" * 10_000))
    assert len(long) == MAX_MESSAGE and long.endswith("...")


NUMERIC = [
    "samples_per_generation",
    "generations",
    "replicates",
    "seed",
    "source.dim",
    "source.mean",
    "source.variance",
    "source.covariance",
    "workflow",
]
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=200),
    st.lists(st.one_of(st.booleans(), st.floats(), st.integers(-3, 3)), max_size=4),
    st.lists(st.lists(st.floats(), max_size=3), max_size=3),
    st.dictionaries(
        st.sampled_from(["kind", "fraction", "budget", "name"]), st.one_of(st.floats(), st.text(max_size=9))
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(NUMERIC), JUNK)
def test_junk_at_numeric_fields_is_valid_or_one_short_line(field: str, value: Any) -> None:
    try:
        cells = expand(changed(**{field.replace(".", "__"): value}))
    except ConfigError as err:
        message = str(err)
        assert 0 < len(message) <= MAX_MESSAGE and "\n" not in message
        return
    for _, exp in cells:  # accepted: then every number in it is finite and no bool stands for a number
        assert exp.seed < 2**63 and not isinstance(exp.samples_per_generation, bool)
        assert all(math.isfinite(v) for v in _numbers(exp.source.model_dump()))


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return [value] if isinstance(value, float) else []
