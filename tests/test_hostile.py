"""A careless or hostile user: every case ends in one ``error:`` line with its exit status, and the
results folder's bytes (or rows) are what they were. docs/guarantees.md lists what each case guards."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from modelcollapse.cli import app
from modelcollapse.run.runner import run
from modelcollapse.store import Store

CFG: dict[str, Any] = {
    "name": "t",
    "source": {"kind": "gaussian", "dim": 2},
    "model": {"kind": "gaussian"},
    "samples_per_generation": 10,
    "workflow": ["replace", "accumulate"],
    "generations": 3,
    "replicates": 4,
    "metrics": ["mean_sq_error"],
}


def cli(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def config(tmp_path: Path, cfg: dict[str, Any], name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def digest(folder: Path) -> str:
    return hashlib.sha256((folder / "results.duckdb").read_bytes()).hexdigest()


def error_line(result: Any) -> str:
    """The one line a refused command prints (asserting there is exactly one, and no traceback)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0].removeprefix("error: ")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    run(CFG, tmp_path / "out")
    return tmp_path / "out"


# --- one experiment per folder -------------------------------------------------------------------------


def refused_run(tmp_path: Path, folder: Path, cfg: dict[str, Any], why: str) -> None:
    """``run`` of ``cfg`` into ``folder`` exits 2 with ``{folder} holds another experiment: {why}; ...``
    and leaves its bytes as they were."""
    before = digest(folder)
    res = cli("run", config(tmp_path, cfg), "--out", folder)
    assert res.exit_code == 2
    assert error_line(res) == f"{folder} holds another experiment: {why}; use another --out, or the same config"
    assert digest(folder) == before


def test_another_config_under_the_same_name_is_refused(tmp_path: Path, folder: Path) -> None:
    other = {**CFG, "source": {"kind": "gaussian", "dim": 8}, "model": {"kind": "gaussian", "covariance": "diagonal"}}
    refused_run(tmp_path, folder, other, 'model.covariance is "full" there, "diagonal" here (and 1 more)')


def test_a_folder_written_with_block_streams_is_refused(tmp_path: Path, folder: Path) -> None:
    """Before each replicate had its own stream, a block of replicates shared one: such a folder's numbers
    cannot be extended by this version's (its identity does not record ``random_streams``)."""
    con = duckdb.connect(str(folder / "results.duckdb"))
    fields = json.loads(con.execute("SELECT fields FROM experiments").fetchone()[0])
    del fields["random_streams"]
    con.execute("UPDATE experiments SET fields = ?", [json.dumps(fields)])
    con.close()
    refused_run(tmp_path, folder, CFG, 'random_streams is not set there, "one per replicate" here')


def test_a_new_name_renames_and_fewer_replicates_show_fewer(tmp_path: Path, folder: Path) -> None:
    renamed = run({**CFG, "name": "renamed", "replicates": 2}, folder)
    assert (renamed.chunks_run, renamed.rows) == (0, 0)  # nothing recomputed
    with Store.open(folder, read_only=True) as store:
        assert set(store.table("SELECT DISTINCT experiment FROM results").experiment) == {"renamed"}
        assert set(store.summary().n) == {2}  # the replicates this run asked for, not the 4 stored
        assert store.table("SELECT count(*) AS n FROM results.main.results").n[0] == 4 * 2 * 3 * 2
    again = run({**CFG, "replicates": 4}, folder)
    assert again.chunks_run == 0
    with Store.open(folder, read_only=True) as store:
        assert set(store.summary().n) == {4}
        assert set(store.table("SELECT DISTINCT experiment FROM cells").experiment) == {"t"}


def test_new_cells_along_the_same_axes_are_the_same_experiment(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run({**CFG, "sweep": {"samples_per_generation": [10, 20]}}, out)
    more = run({**CFG, "sweep": {"samples_per_generation": [10, 20, 40]}}, out)
    assert (more.chunks_run, more.chunks_skipped) == (1, 2)
    res = cli("run", config(tmp_path, {**CFG, "sweep": {"source.dim": [2, 3]}}), "--out", out)
    assert res.exit_code == 2
    assert error_line(res) == (
        f"{out} holds another experiment: sweep axes (samples_per_generation) there, (source.dim) here "
        "(and 2 more); use another --out, or the same config"
    )


def test_a_sweep_over_workflow_keeps_the_workflow_labels(tmp_path: Path) -> None:
    cfg = {
        **CFG,
        "workflow": "replace",
        "sweep": {"workflow": ["replace", "accumulate", {"kind": "window", "size": 2}]},
    }
    res = cli("run", config(tmp_path, cfg), "--out", tmp_path / "out", "-q")
    assert res.exit_code == 0, res.output
    with Store.open(tmp_path / "out", read_only=True) as store:
        cells = store.table('SELECT DISTINCT workflow, "sweep.workflow" AS swept FROM results ORDER BY ALL')
    assert cells.values.tolist() == [
        ["accumulate", "accumulate"],
        ["replace", "replace"],
        ["window", '{"kind": "window", "size": 2}'],
    ]
    assert res.stdout.count("mean_sq_error") == 3  # a table per cell, none empty


def test_every_chunk_failing_is_reported_not_a_traceback(tmp_path: Path) -> None:
    cfg = {**CFG, "source": {"kind": "shapes", "shape": "blobs"}, "model": {"kind": "gmm", "components": 50}}
    cfg.pop("metrics")
    res = cli("run", config(tmp_path, cfg), "--out", tmp_path / "out", "-q")
    assert res.exit_code == 1 and "Traceback" not in res.output
    failed = [line for line in res.stderr.splitlines() if line.startswith("failed: t {} block 0: ValueError")]
    assert len(failed) == 1, res.stderr
    show = cli("show", tmp_path / "out")
    assert show.exit_code == 1
    assert error_line(show).startswith(f"no results in {tmp_path / 'out'} yet: 1 chunk(s) failed, the first with ")


# --- untrusted stores and paths ------------------------------------------------------------------------


def test_merge_refuses_another_experiment_and_leaves_the_destination_alone(tmp_path: Path, folder: Path) -> None:
    run({**CFG, "seed": 1}, tmp_path / "other")
    before = digest(folder)
    res = cli("merge", folder, tmp_path / "other")
    assert res.exit_code == 2
    assert error_line(res) == f"{tmp_path / 'other'} holds another experiment than {folder}: seed is 0 there, 1 here"
    assert digest(folder) == before
    itself = cli("merge", folder, folder)
    assert (itself.exit_code, error_line(itself)) == (2, f"{folder}: a folder cannot be merged into itself")


def test_merge_never_runs_what_a_store_defines(tmp_path: Path, folder: Path) -> None:
    """A 'results' that is a view reading a local file would copy that file into the destination."""
    secret = tmp_path / "secret.csv"
    secret.write_text("experiment,value\nstolen,1\n")
    evil = tmp_path / "evil"
    run(CFG, evil)
    with duckdb.connect(str(evil / "results.duckdb")) as con:
        con.execute("ALTER TABLE results RENAME TO real_results")
        con.execute(f"CREATE VIEW results AS SELECT * FROM real_results UNION ALL BY NAME SELECT * FROM '{secret}'")
    before = digest(folder)
    res = cli("merge", folder, evil)
    assert res.exit_code == 2
    assert error_line(res) == f"{evil}: not a results store (no table 'results')"
    assert digest(folder) == before


def test_a_failed_merge_changes_no_schema(tmp_path: Path, folder: Path) -> None:
    bad = tmp_path / "bad"
    run({**CFG, "sweep": {"samples_per_generation": [10]}}, bad)
    with duckdb.connect(str(bad / "results.duckdb")) as con:
        con.execute("ALTER TABLE results ADD COLUMN sneaky BLOB")
    before = digest(folder)
    res = cli("merge", folder, bad)
    assert res.exit_code == 2
    assert error_line(res) == f"{bad}: not a results store (results column 'sneaky' of type BLOB)"
    assert digest(folder) == before


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(alphabet="ab';\"\\ $(){}<>-", min_size=1, max_size=30))
def test_export_writes_exactly_the_file_named(tmp_path_factory: Any, name: str) -> None:
    folder = tmp_path_factory.mktemp("store")
    run({**CFG, "replicates": 1}, folder)
    target = folder / "exports"
    target.mkdir()
    res = cli("export", folder, "--csv", target / f"{name}.csv")
    assert res.exit_code == 0, res.output
    assert [p.name for p in target.iterdir()] == [f"{name}.csv"]
    quoted = tmp_path_factory.mktemp("q") / f"{name}'s results"  # a folder name is a value too
    if "\\" in name:
        res = cli("run", config(target, CFG), "--out", quoted)
        assert (
            error_line(res)
            == f"{quoted}: a results folder's path cannot hold a backslash (DuckDB reads it as a separator)"
        )
    else:
        run({**CFG, "replicates": 1}, quoted)
        assert cli("show", quoted).exit_code == 0
    assert (target / f"{name}.csv").read_text().startswith("experiment,config_hash,workflow,")


# --- absurd input and the operating system --------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("replicates", 10**9, "replicates: 1,000,000,000 is too large: the plan needs 1.20e+10 result rows"),
        ("generations", 10**9, "generations: 1,000,000,000 is too large: the plan needs 1.49e+03 GiB of memory"),
        ("samples_per_generation", 10**12, "samples_per_generation: 1,000,000,000,000 is too large: the plan needs"),
        ("source", {"kind": "gaussian", "test_samples": 10**10}, "source.test_samples: 10,000,000,000 is too large"),
    ],
)
def test_absurd_plans_are_refused_before_anything_is_written(
    tmp_path: Path, field: str, value: int, message: str
) -> None:
    res = cli("run", config(tmp_path, {**CFG, field: value}), "--out", tmp_path / "out")
    assert res.exit_code == 2
    line = error_line(res)
    assert line.startswith(message) and line.endswith("; pass --allow-large to run it anyway"), line
    assert not (tmp_path / "out").exists()


def test_allow_large_lifts_the_limits() -> None:
    from modelcollapse.run import plan
    from modelcollapse.run.loading import expand

    cells = expand({**CFG, "replicates": 10**9})
    with pytest.raises(plan.PlanTooLarge):
        plan.check(cells)
    assert plan.check(cells, allow_large=True).rows == 10**9 * 2 * 3 * 2


def test_operating_system_faults_are_one_line(tmp_path: Path, folder: Path) -> None:
    good = config(tmp_path, CFG)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    cases = [
        (("run", tmp_path, "--out", tmp_path / "o"), 2, f"config file {tmp_path} is a directory"),
        (("run", good, "--out", tmp_path / "afile"), 2, f"--out: {tmp_path / 'afile'} is a file, not a folder"),
        (
            ("export", folder, "--csv", tmp_path / "nope" / "x.csv"),
            2,
            f"--csv: the folder {tmp_path / 'nope'} does not exist",
        ),
        (("report", folder, "--html", tmp_path), 2, f"--html: {tmp_path} is a folder; give a file name"),
        (
            ("show", tmp_path / "nothing"),
            2,
            f"no results in {tmp_path / 'nothing'} (expected {tmp_path / 'nothing' / 'results.duckdb'})",
        ),
    ]
    for args, status, message in cases:
        res = cli(*args)
        assert (res.exit_code, error_line(res)) == (status, message), args
    res = cli("run", tmp_path / "latin1.yaml", "--out", tmp_path / "o")
    assert res.exit_code == 2 and "UTF-8" in error_line(res)


def test_a_store_in_use_or_damaged_is_one_line(tmp_path: Path, folder: Path) -> None:
    with duckdb.connect(str(folder / "results.duckdb")):  # another run holds the lock
        res = cli("run", config(tmp_path, CFG), "--out", folder)
    assert (res.exit_code, error_line(res)) == (
        1,
        f"{folder}: the results store is in use by another run (or connection); wait for it",
    )
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "results.duckdb").write_bytes(b"not a database" * 1000)
    res = cli("show", damaged)
    assert res.exit_code == 1
    assert error_line(res).startswith(f"{damaged}: results.duckdb is not a readable results store (")


def test_infinite_and_undefined_values_are_reported_apart(tmp_path: Path, folder: Path) -> None:
    with duckdb.connect(str(folder / "results.duckdb")) as con:
        con.execute("UPDATE results SET value = 'inf' WHERE workflow = 'replace' AND metric = 'mean_sq_error'")
        con.execute("UPDATE results SET value = 'nan' WHERE workflow = 'accumulate' AND generation = 3")
    res = cli("run", config(tmp_path, CFG), "--out", folder, "-q")
    assert res.exit_code == 0
    notes = [line for line in res.stderr.splitlines() if line.startswith(("infinite", "non-finite"))]
    assert notes == [
        "infinite in every value (diverged, absorbed or singular): mean_sq_error",
        "non-finite: t accumulate mean_sq_error: 4 NaN of 12 values, from generation 3",
        "non-finite: t accumulate train_size: 4 NaN of 12 values, from generation 3",
    ]


def test_stored_values_read_back_exactly(tmp_path: Path, folder: Path) -> None:
    with Store.open(folder, read_only=True) as store:
        ident = store.identity()
        recorded = store.table("SELECT identity FROM runs").identity.tolist()
    assert ident is not None and [m.name for m in ident.members] == ["t"]
    assert recorded == [ident.hash]  # every run records the hash of what it computed
    fields = ident.members[0].fields
    assert fields["source.dim"] == 2 and "replicates" not in fields and "name" not in fields
    assert json.loads(json.dumps(fields)) == fields


def test_ctrl_c_stops_cleanly_saying_what_is_saved(tmp_path: Path) -> None:
    cfg = {**CFG, "source": {"kind": "gaussian", "dim": 10}, "samples_per_generation": 200}
    cfg |= {"generations": 1000, "replicates": 800}  # 16 chunks of about a second
    out = tmp_path / "out"
    args = [sys.executable, "-m", "modelcollapse", "run", str(config(tmp_path, cfg)), "--out", str(out), "-q"]
    proc = subprocess.Popen([*args, "-e", "inline"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "results.duckdb").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    match = re.fullmatch(
        rf"interrupted: (\d+) of 16 chunks are saved in {out}; rerun the same command to resume", stderr.strip()
    )
    assert match, stderr
    rerun = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{16 - int(match[1])} chunk(s) run, {match[1]} already done" in rerun.stderr


def test_merge_renames_to_the_destination_and_is_all_or_nothing(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelcollapse.store import merge as merging

    run({**CFG, "name": "elsewhere", "replicates": 8}, tmp_path / "m")  # the same experiment, more replicates
    with Store.open(folder) as store:
        before = store.table("SELECT * FROM results ORDER BY ALL")
        added = merging._add

        def failing(*args: Any) -> None:
            added(*args)  # rows and a new column (none here) written, then the merge fails
            raise RuntimeError("disk full")

        monkeypatch.setattr(merging, "_add", failing)
        with pytest.raises(RuntimeError, match="disk full"):
            merging.merge(store, [tmp_path / "m"])
        assert store.table("SELECT * FROM results ORDER BY ALL").equals(before)
        monkeypatch.setattr(merging, "_add", added)
        assert merging.merge(store, [tmp_path / "m"]) == [4 * 2 * 3 * 2]  # replicates 4..7
    with Store.open(folder, read_only=True) as store:
        assert set(store.table("SELECT DISTINCT experiment FROM results").experiment) == {"t"}
        assert set(store.summary().n) == {8}  # the largest count merged


def test_merge_refuses_a_column_of_another_type(tmp_path: Path) -> None:
    cfg = {**CFG, "sweep": {"samples_per_generation": [10]}}
    run(cfg, tmp_path / "dest")
    run({**cfg, "sweep": {"samples_per_generation": [20]}}, tmp_path / "src")
    with duckdb.connect(str(tmp_path / "src" / "results.duckdb")) as con:
        con.execute('ALTER TABLE results ALTER "samples_per_generation" TYPE VARCHAR')
    before = digest(tmp_path / "dest")
    res = cli("merge", tmp_path / "dest", tmp_path / "src")
    assert res.exit_code == 2
    assert (
        error_line(res) == f"{tmp_path / 'src'}: results column 'samples_per_generation' is VARCHAR there, DOUBLE here"
    )
    assert digest(tmp_path / "dest") == before


def test_a_lock_held_by_another_process_and_an_uncreatable_out(tmp_path: Path, folder: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(folder / 'results.duckdb')!r}); "
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        res = cli("show", folder)
        assert (res.exit_code, error_line(res)) == (
            1,
            f"{folder}: the results store is in use by another run (or connection); wait for it",
        )
    finally:
        holder.kill()
        holder.wait()
    res = cli("run", config(tmp_path, CFG), "--out", "/proc/modelcollapse-out")
    assert (res.exit_code, error_line(res)) == (
        2,
        "--out: cannot create /proc/modelcollapse-out: No such file or directory",
    )


@pytest.mark.parametrize(
    ("tamper", "broken"),
    [
        ("INSERT INTO results SELECT * FROM results", "72 rows stored twice"),
        ("DELETE FROM results", "1 chunk markers without their rows"),
        ("UPDATE results SET replicate = NULL WHERE replicate = 0", "12 rows with an empty key"),
        (
            "UPDATE results SET generation = 2000000000 WHERE generation = 3",
            "24 rows outside their cell's replicates or generations",
        ),
        (
            "UPDATE results SET replicate = -1 WHERE replicate = 0",
            "12 rows outside their cell's replicates or generations",
        ),
        ("UPDATE results SET config_hash = 'other'", "72 rows of no cell"),
        (
            'ALTER TABLE results ADD COLUMN "x""; drop table results; --" DOUBLE',
            "results column 'x\"; drop table results; --' is no sweep axis",
        ),
    ],
)
def test_merge_refuses_rows_an_honest_run_cannot_write(tmp_path: Path, folder: Path, tamper: str, broken: str) -> None:
    source = tmp_path / "tampered"
    run({**CFG, "replicates": 6}, source)  # 6 replicates x 2 workflows x 3 generations x 2 metrics = 72 rows
    with duckdb.connect(str(source / "results.duckdb")) as con:
        con.execute(tamper)
    before = digest(folder)
    res = cli("merge", folder, source)
    assert (res.exit_code, error_line(res)) == (2, f"{source}: not a results store ({broken})")
    assert digest(folder) == before


def test_a_grid_too_large_for_memory_names_its_size(tmp_path: Path) -> None:
    cfg = {**CFG, "source": {"kind": "linear-regression", "dim": 2, "design": "fresh"}, "model": {"kind": "ols"}}
    cfg |= {"grid": {"real": [10**9], "synthetic": [0]}, "metrics": ["excess_risk"]}
    del cfg["workflow"], cfg["generations"]
    res = cli("run", config(tmp_path, cfg), "--out", tmp_path / "out")
    assert res.exit_code == 2 and error_line(res).startswith("grid.real: 1,000,000,000 is too large: the plan needs")


def test_plot_names_an_unknown_metric(folder: Path) -> None:
    res = cli("plot", folder, "-m", "nosuch")
    assert (res.exit_code, error_line(res)) == (2, "--metric: 'nosuch' is not one of: mean_sq_error, train_size")


def test_outputs_never_overwrite_the_store(tmp_path: Path, folder: Path) -> None:
    before = digest(folder)
    for args in (("report", folder, "--html"), ("export", folder, "--csv"), ("export", folder, "--parquet")):
        res = cli(*args, folder / "results.duckdb")
        message = f"{args[-1]}: {folder / 'results.duckdb'} is the results store itself; write elsewhere"
        assert (res.exit_code, error_line(res)) == (2, message)
    assert digest(folder) == before


def test_a_refused_sweep_column_leaves_the_bytes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run({**CFG, "sweep": {"source.variance": [1.0, 2.0]}}, out)
    before = digest(out)
    res = cli("run", config(tmp_path, {**CFG, "sweep": {"source.variance": [[1.0, 1.0], [3.0, 3.0]]}}), "--out", out)
    assert (res.exit_code, error_line(res)) == (
        2,
        "sweep.source.variance: this folder's values are numbers, this run's are not",
    )
    assert digest(out) == before


def test_a_grid_with_another_generator_is_refused_naming_it(tmp_path: Path) -> None:
    cfg = {**CFG, "source": {"kind": "linear-regression", "dim": 2, "design": "fresh"}, "model": {"kind": "ols"}}
    cfg |= {"grid": {"real": [0, 8], "synthetic": [8]}, "metrics": ["excess_risk"], "replicates": 2}
    del cfg["workflow"], cfg["generations"]
    run(cfg, tmp_path / "out")
    more = run({**cfg, "grid": {"real": [0, 8, 16], "synthetic": [8]}}, tmp_path / "out")  # new cells: fine
    assert (more.chunks_run, more.chunks_skipped) == (1, 2)
    res = cli("run", config(tmp_path, {**cfg, "grid": {**cfg["grid"], "generator": 2}}), "--out", tmp_path / "out")
    assert (res.exit_code, error_line(res)) == (
        2,
        f"{tmp_path / 'out'} holds another experiment: grid.generator is 1 there, 2 here; "
        "use another --out, or the same config",
    )
