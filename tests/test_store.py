"""The results store: tidy rows, sweep columns, resume without duplicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelcollapse import run_experiment as run
from modelcollapse.store import Store
from modelcollapse.store.merge import merge

CFG = {
    "name": "store",
    "source": {"kind": "gaussian", "dim": 2},
    "model": {"kind": "gaussian"},
    "samples_per_generation": 20,
    "workflow": ["replace", "accumulate"],
    "generations": 3,
    "replicates": 30,
    "metrics": ["mean_sq_error"],
}


def test_rows_and_resume_with_more_replicates(tmp_path: Path) -> None:
    s1 = run(CFG, tmp_path)
    assert (s1.chunks_run, s1.rows) == (1, 2 * 2 * 3 * 30)
    with Store.open(tmp_path, read_only=True) as st:
        before = st.table("SELECT * FROM results WHERE replicate < 30 ORDER BY ALL")
    s2 = run({**CFG, "replicates": 120}, tmp_path)  # block 0 grows from 30 to 50 replicates: rerun it
    assert (s2.chunks_run, s2.chunks_skipped) == (3, 0)
    s3 = run({**CFG, "replicates": 120}, tmp_path)
    assert (s3.chunks_run, s3.chunks_skipped) == (0, 3)
    with Store.open(tmp_path, read_only=True) as st:
        after = st.table("SELECT * FROM results ORDER BY ALL")
        runs = st.table("SELECT * FROM runs")
    assert len(after) == 2 * 2 * 3 * 120
    assert not after.duplicated(["workflow", "replicate", "generation", "metric"]).any()
    np.testing.assert_array_equal(after[after.replicate < 30].value.to_numpy(), before.value.to_numpy())
    assert len(runs) == 3 and "numpy" in runs.versions[0]


def test_sweep_columns(tmp_path: Path) -> None:
    run(
        {**CFG, "replicates": 2, "sweep": {"samples_per_generation": [10, 40], "source.dim": [1, 3]}},
        tmp_path,
    )
    with Store.open(tmp_path, read_only=True) as st:
        assert st.sweep_columns() == ["samples_per_generation", "source.dim"]
        df = st.summary(generations=[1], metrics=["train_size"])
    assert sorted(set(zip(df["samples_per_generation"], df["source.dim"], strict=True))) == [
        (10, 1),
        (10, 3),
        (40, 1),
        (40, 3),
    ]
    assert (df["mean"] == df["samples_per_generation"]).all()


def test_zipped_sweep_lists_vary_together(tmp_path: Path) -> None:
    sweep = {"zip": {"samples_per_generation": [10, 40], "generations": [4, 2]}, "source.dim": [1, 3]}
    run({**CFG, "replicates": 2, "sweep": sweep}, tmp_path)
    with Store.open(tmp_path, read_only=True) as st:
        assert st.sweep_columns() == ["samples_per_generation", "generations", "source.dim"]
        df = st.table(
            'SELECT DISTINCT samples_per_generation AS n, max(generation) OVER (PARTITION BY config_hash) AS t, '
            '"source.dim" AS d FROM results ORDER BY ALL'
        )
    assert list(df.itertuples(index=False, name=None)) == [(10, 4, 1), (10, 4, 3), (40, 2, 1), (40, 2, 3)]


def test_workers_give_identical_results(tmp_path: Path) -> None:
    cfg = {**CFG, "replicates": 120, "sweep": {"samples_per_generation": [10, 30]}}
    run(cfg, tmp_path / "one", workers=1)
    run(cfg, tmp_path / "two", workers=2)
    frames = []
    for name in ("one", "two"):
        with Store.open(tmp_path / name, read_only=True) as st:
            frames.append(st.table("SELECT * FROM results ORDER BY ALL"))
    assert len(frames[0]) == 2 * 2 * 3 * 120 * 2
    assert frames[0].equals(frames[1])


def test_merging_two_machines_stores_equals_one_run(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from modelcollapse.cli import app

    cfg = {**CFG, "replicates": 120}  # several blocks per cell
    run({**cfg, "sweep": {"samples_per_generation": [10, 20, 40]}}, tmp_path / "one")
    run({**cfg, "sweep": {"samples_per_generation": [10, 20]}}, tmp_path / "m1")
    run({**cfg, "sweep": {"samples_per_generation": [20, 40]}}, tmp_path / "m2")  # cell 20 on both machines
    merged = CliRunner().invoke(app, ["merge", str(tmp_path / "all"), str(tmp_path / "m1"), str(tmp_path / "m2")])
    assert merged.exit_code == 0, merged.output
    with Store.open(tmp_path / "one", read_only=True) as s:
        s.export(csv=tmp_path / "one.csv")
        rows = s.count()
    with Store.open(tmp_path / "all") as s:
        s.export(csv=tmp_path / "all.csv")
        assert merge(s, [tmp_path / "m2"]) == [0]  # idempotent
        assert s.table("SELECT count(*) AS n FROM chunks").n[0] == 9  # 3 cells x 3 blocks of 50
    assert (tmp_path / "all.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    added = [int(line.split(": ")[1].split()[0].replace(",", "")) for line in merged.output.splitlines()]
    assert added == [rows * 2 // 3, rows // 3]  # m2 brings only cell 40: its cell 20 was already there
