"""The command line: bad configs give one-line errors with exit status 2; run/show/export work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

GOOD = {
    "name": "cli",
    "source": {"kind": "gaussian", "dim": 2},
    "model": {"kind": "gaussian", "covariance": "full", "estimator": "mle"},
    "samples_per_generation": 20,
    "workflow": ["replace", "accumulate"],
    "generations": 4,
    "replicates": 3,
    "seed": 0,
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "modelcollapse", *args], capture_output=True, text=True, timeout=120)


def write(tmp_path: Path, cfg: dict) -> str:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


BAD = [
    (
        {"workflow": ["replace", "acumulate"]},
        "workflow[1].kind: 'acumulate' is not one of: replace, accumulate, accumulate-subsample, mix, "
        "real-fraction, fresh, real-synthetic, window, weights, real-plus-last",
    ),
    ({"samples_per_generation": -5}, "samples_per_generation: -5 is invalid: input should be greater than 0"),
    ({"samples_per_generation": 0}, "samples_per_generation: 0 is invalid: input should be greater than 0"),
    ({"replicates": 0}, "replicates: 0 is invalid: input should be greater than 0"),
    (
        {"workflow": [{"kind": "mix", "fraction": 1.5}]},
        "workflow[0].fraction: 1.5 is invalid: input should be less than or equal to 1",
    ),
    (
        {"workflow": [{"kind": "real-fraction", "fraction": -0.1}]},
        "workflow[0].fraction: -0.1 is invalid: input should be greater than or equal to 0",
    ),
    (
        {"metrics": ["mean_sq_error", "perplexity"]},
        "metrics: unknown metric 'perplexity'; allowed: mean_sq_error, cov_trace_ratio, cov_logdet_change, "
        "w2_sq, second_moment, test_nll, tail_mass_q95, tail_kept",
    ),
    ({"source": None}, "source: field required"),
    (
        {"model": {"kind": "gaussian", "covariance": "ful"}},
        "model.covariance: 'ful' is not one of: full, diagonal, isotropic or known",
    ),
    (
        {"model": {"kind": "mlp"}},
        "model.kind: 'mlp' is not one of: gaussian, ols, ridge, categorical, bernoulli, poisson, kde, gmm, ngram, "
        "gpt, hf-lm, vae, ddpm, conformer-diffusion",
    ),
    ({"source": {"kind": "gaussian", "dimm": 3}}, "source.dimm: unknown field"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_config_one_line_error(tmp_path: Path, change: dict, message: str) -> None:
    cfg = {**GOOD, **change}
    cfg = {k: v for k, v in cfg.items() if v is not None}
    out = tmp_path / "out"
    res = cli("run", write(tmp_path, cfg), "--out", str(out))
    assert res.returncode == 2
    assert res.stderr.strip() == f"error: {message}"
    assert "Traceback" not in res.stderr + res.stdout
    assert not out.exists()


def test_missing_required_field(tmp_path: Path) -> None:
    cfg = {k: v for k, v in GOOD.items() if k != "generations"}
    res = cli("run", write(tmp_path, cfg), "--out", str(tmp_path / "o"))
    assert (res.returncode, res.stderr.strip()) == (2, "error: generations: field required")


def test_set_override_is_validated(tmp_path: Path) -> None:
    res = cli("run", write(tmp_path, GOOD), "--out", str(tmp_path / "o"), "--set", "workflow.kind=replce")
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: workflow[0].kind: 'replce' is not one of: replace")


def test_run_show_export_and_resume(tmp_path: Path) -> None:
    cfg, out = write(tmp_path, GOOD), tmp_path / "out"
    first = cli("run", cfg, "--out", str(out), "-q")
    assert first.returncode == 0, first.stderr
    assert "accumulate" in first.stdout and "train_size" in first.stdout
    assert "1 chunk(s) run, 0 already done" in first.stderr
    again = cli("run", cfg, "--out", str(out), "-q")
    assert "0 chunk(s) run, 1 already done" in again.stderr
    csv = tmp_path / "r.csv"
    assert cli("export", str(out), "--csv", str(csv)).returncode == 0
    lines = csv.read_text().splitlines()
    # header + 2 workflows x 9 metrics x 4 generations x 3 replicates, no duplicates after the rerun
    assert lines[0] == "experiment,config_hash,workflow,replicate,generation,metric,value"
    assert len(lines) == 1 + 2 * 9 * 4 * 3
    shown = cli("show", str(out), "-g", "4", "-m", "train_size")
    assert shown.returncode == 0 and "80±0" in shown.stdout


def test_list_names_everything() -> None:
    res = cli("list")
    assert res.returncode == 0
    words = ("accumulate-subsample", "real-fraction", "linear-regression", "excess_risk", "gini_simpson", "mixture")
    for word in (*words, "reparation", "downstream tasks", "classifier"):
        assert word in res.stdout


def test_reproduce_list_and_unknown() -> None:
    listed = cli("reproduce", "--list")
    assert listed.returncode == 0 and "kazdan2024-gaussian" in listed.stdout and "wright-fisher" in listed.stdout
    bad = cli("reproduce", "kazdan", "--out", "x")
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown reproduction 'kazdan'; one of: ")


def test_theory_workflows_table_and_errors(tmp_path: Path) -> None:
    res = cli("theory", "workflows", "-g", "5", "-r", "discard", "-r", "real+last", "--out", str(tmp_path / "w.png"))
    assert res.returncode == 0
    lines = [ln for ln in res.stdout.splitlines() if "real+last" in ln or "discard" in ln]
    assert "real+last" in lines[0] and "1.3320" in lines[0]  # ranked first; rho_5 of real + last 50/50
    assert "discard" in lines[1] and "5.0000" in lines[1]
    assert (tmp_path / "w.png").stat().st_size > 10_000 and (tmp_path / "w.pdf").exists()
    bad = cli("theory", "workflows", "-r", "sideways")
    assert (bad.returncode, bad.stderr.split(";")[0]) == (2, "error: --rule 'sideways': unknown rule")


def test_plot_draws_every_metric(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("run", write(tmp_path, GOOD), "--out", str(out), "-q").returncode == 0
    res = cli("plot", str(out))
    assert res.returncode == 0
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert pngs == [
        f"cli-{m}.png"
        for m in sorted(["mean_sq_error", "cov_trace_ratio", "cov_logdet_change", "w2_sq", "second_moment", "test_nll"])
    ]
    assert cli("plot", str(tmp_path / "nothing")).returncode == 2
