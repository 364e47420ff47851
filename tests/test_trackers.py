"""Tracker sinks: a results folder logged to a real MLflow SQLite store (read back with MlflowClient) and to
W&B offline run files (read back from disk), with no network; a failing sink loses nothing."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import modelcollapse as mc
from modelcollapse.report.figures import plot_folder
from modelcollapse.trackers import Sink

CONFIG = {
    "name": "tracked",
    "source": {"kind": "gaussian", "dim": 1},
    "model": {"kind": "gaussian"},
    "samples_per_generation": 20,
    "workflow": ["replace", "accumulate"],
    "generations": 3,
    "replicates": 4,
    "sweep": {"samples_per_generation": [10, 20]},
}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelcollapse", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tracked")
    mc.run_experiment(CONFIG, out)
    plot_folder(out)
    return out


def expected(folder: Path) -> dict[tuple[str, str], dict[str, list[tuple[int, float]]]]:
    """(samples_per_generation, workflow) -> metric -> [(generation, mean)], from the store."""
    data = mc.open(folder).summary()
    out: dict[tuple[str, str], dict[str, list[tuple[int, float]]]] = {}
    for r in data.itertuples():
        series = out.setdefault((str(int(r.samples_per_generation)), r.workflow), {})
        series.setdefault(r.metric, []).append((int(r.generation), float(r.mean)))
        series.setdefault(f"se/{r.metric}", []).append((int(r.generation), float(r.se)))
    return {k: {m: v for m, v in s.items() if all(map(_finite, (x for _, x in v)))} for k, s in out.items()}


def _finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")


def test_mlflow_runs_read_back(folder: Path, tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = cli("log", str(folder), "--to", f"mlflow:{uri}")
    assert done.returncode == 0, done.stderr
    assert Sink("mlflow", uri).log(folder) == uri  # logging again replaces the folder's runs
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("tracked")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.info.run_name == "results folder"]
    cells = [r for r in runs if r.info.run_name != "results folder"]
    assert len(parents) == 1 and len(cells) == 4
    assert {r.data.tags["mlflow.parentRunId"] for r in cells} == {parents[0].info.run_id}
    want = expected(folder)
    for run in cells:
        params = run.data.params
        assert params["model.kind"] == "gaussian" and params["generations"] == "3"
        series = want[(params["samples_per_generation"], params["workflow"])]
        assert set(run.data.metrics) == set(series)
        for metric, values in series.items():
            history = client.get_metric_history(run.info.run_id, metric)
            assert sorted((m.step, m.value) for m in history) == values
    logged = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    figures = {f"figures/{a.path.split('/')[-1]}" for a in client.list_artifacts(parents[0].info.run_id, "figures")}
    assert logged == {"figures"}
    assert figures == {f"figures/{p.name}" for p in (folder / "figures").glob("*.png")}
    assert "figures/tracked-mean_sq_error.png" in figures


def wandb_records(path: Path) -> list[Any]:
    """The protobuf records of a W&B run file: a 7-byte header, then LevelDB log blocks of 32 KiB whose
    records each carry a 7-byte header (CRC, length, type: full, first, middle, last)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    block, pos, pieces, out = 32768, 7, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        pieces += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # full or last
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pieces)
            out.append(record)
            pieces = b""
    return out


def test_wandb_offline_files_read_back(folder: Path, tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    done = cli("log", str(folder), "--to", f"wandb:{tmp_path}", env={"WANDB_MODE": "offline"})
    assert done.returncode == 0, done.stderr
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 5
    want = expected(folder)
    seen = set()
    for run in runs:
        records = wandb_records(next(run.glob("run-*.wandb")))
        start = next(r.run for r in records if r.WhichOneof("record_type") == "run")
        config = {u.key: json.loads(u.value_json) for u in start.config.update}
        assert start.run_group == "tracked" and start.project == "modelcollapse"
        if start.job_type == "report":
            copied = {p.name for p in (run / "files" / "figures").glob("*.png")}
            assert copied == {p.name for p in (folder / "figures").glob("*.png")}
            assert not any(p.is_symlink() for p in (run / "files" / "figures").iterdir())
            continue
        key = (str(config["samples_per_generation"]), config["workflow"])
        seen.add(key)
        got: dict[str, list[tuple[int, float]]] = {}
        for r in records:
            if r.WhichOneof("record_type") == "history":
                items = {"/".join(i.nested_key) or i.key: json.loads(i.value_json) for i in r.history.item}
                for name, value in items.items():
                    if not name.startswith("_"):
                        got.setdefault(name, []).append((items["_step"], value))
        assert got == want[key]
    assert seen == set(want)


def test_a_failing_sink_loses_nothing(folder: Path, tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    out, bad = tmp_path / "out", "mlflow:sqlite:////proc/no/such/mlflow.db"
    done = cli("run", str(config), "--out", str(out), "-q", "--log-to", bad)
    assert done.returncode == 1
    assert f"--log-to {bad} failed: " in done.stderr
    assert f"log them again with: modelcollapse log {out} --to {bad}" in " ".join(done.stderr.split())
    pd_testing = pytest.importorskip("pandas.testing")
    pd_testing.assert_frame_equal(mc.open(out).frame(), mc.open(folder).frame())
    uri = f"sqlite:///{tmp_path / 'retry.db'}"
    Sink("mlflow", uri).log(out)  # the retry
    assert len(MlflowClient(uri).search_runs([MlflowClient(uri).get_experiment_by_name("tracked").experiment_id])) == 5


def test_sinks_are_checked_before_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if the extra were not installed
    with pytest.raises(ValueError, match=r"^--log-to wandb: the wandb package is not installed; "):
        Sink("wandb").check()
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    done = cli("run", str(config), "--out", str(tmp_path / "out"), "--log-to", "tensorboard")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --log-to: 'tensorboard' is not one of: mlflow, wandb (optionally NAME:WHERE)"
    assert not (tmp_path / "out").exists()
