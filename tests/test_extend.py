"""A new model family and a new workflow from this file alone: no edit of the package.

The toy family fits the sample mean of Gaussian rows shrunk by ``factor`` and samples N(mean, I); the
toy workflow trains each generation on the latest synthetic batch only, of twice the size of the last one.
Under that pair E||mu_t||^2 has a closed form (true mean 0): c^2 d / n at generation 1, then
c^2 (E||mu_{t-1}||^2 + d / m_t) with m_t = n 2^(t-2) rows at generation t.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from modelcollapse.cli import app
from modelcollapse.data import Part, Rows
from modelcollapse.models.base import Family, FamilyConfig, Metric
from modelcollapse.registry import MODELS, WORKFLOWS, Positive
from modelcollapse.sources.base import World
from modelcollapse.workflows.base import Workflow, WorkflowConfig


@MODELS.register
class ShrunkMeanConfig(FamilyConfig):
    """Toy family: the sample mean shrunk by ``factor``; samples N(mean, I)."""

    kind: Literal["toy-shrunk-mean"] = "toy-shrunk-mean"
    factor: Positive = 0.5
    sources: ClassVar[tuple[str, ...]] = ("gaussian",)

    def build(self, source: Any) -> ShrunkMean:
        return ShrunkMean(self)


@dataclass
class ShrunkMean(Family):
    config: ShrunkMeanConfig
    block = 16
    supports_weights = False

    def __post_init__(self) -> None:
        self.metrics = {"mean_sq": Metric(lambda mu, w: (mu**2).sum(1), "||fitted mean||^2 (the truth is 0)")}

    def fit(self, parts: Sequence[Part], world: World, rng: np.random.Generator, previous: Any = None) -> np.ndarray:
        x = np.concatenate([p.data.cols["x"] for p in parts], axis=1)
        return self.config.factor * x.mean(1)

    def sample(self, mu: np.ndarray, n: int, rng: np.random.Generator, world: World, rows: bool) -> Rows:
        return Rows({"x": mu[:, None, :] + rng.standard_normal((mu.shape[0], n, mu.shape[1]))})


def doubling(n: int) -> Workflow:
    """The latest synthetic batch only; the batch doubles every generation."""
    return Workflow(init=lambda real: None, step=lambda s, t, synth, fresh, rng: (s, [Part(synth)]),
                    synthetic_size=lambda t: n * 2 ** (t - 2))


@WORKFLOWS.register
class DoublingConfig(WorkflowConfig):
    """Toy workflow: the latest synthetic batch only, twice as large each generation."""

    kind: Literal["toy-doubling"] = "toy-doubling"

    def build(self, n: int, generations: int) -> Workflow:
        return doubling(n)


N, D, C, G, R = 8, 3, 0.8, 5, 400
CONFIG = {
    "name": "toy",
    "source": {"kind": "gaussian", "dim": D},
    "model": {"kind": "toy-shrunk-mean", "factor": C},
    "samples_per_generation": N,
    "workflow": ["toy-doubling", "replace"],
    "generations": G,
    "replicates": R,
}


def expected() -> np.ndarray:
    out = [C**2 * D / N]
    for t in range(2, G + 1):
        out.append(C**2 * (out[-1] + D / (N * 2 ** (t - 2))))
    return np.array(out)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("toy")
    cfg = tmp / "toy.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    res = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp / "out"), "-q"])
    assert res.exit_code == 0, res.output
    return tmp / "out"


def test_run_stores_exact_sizes_and_the_closed_form(folder: Path) -> None:
    from modelcollapse.store import Store

    with Store.open(folder, read_only=True) as store:
        df = store.table("SELECT workflow, metric, generation, value FROM results ORDER BY ALL")
    sizes = df[(df.metric == "train_size") & (df.workflow == "toy-doubling")].groupby("generation").value
    assert sizes.min().tolist() == sizes.max().tolist() == [8, 8, 16, 32, 64]
    values = df[(df.metric == "mean_sq") & (df.workflow == "toy-doubling")].groupby("generation").value
    z = (values.mean().to_numpy() - expected()) / (values.std().to_numpy() / np.sqrt(R))
    assert np.all(np.abs(z) < 4), z


def test_show_and_list_name_the_new_pieces(folder: Path) -> None:
    shown = CliRunner().invoke(app, ["show", str(folder), "-m", "mean_sq"])
    assert shown.exit_code == 0, shown.output
    assert "toy-doubling" in shown.output and "mean_sq" in shown.output
    listed = CliRunner().invoke(app, ["list"]).output
    assert "Toy family: the sample mean shrunk by" in listed
    assert "Toy workflow: the latest synthetic batch only" in listed
    assert "||fitted mean||^2 (the truth is 0)" in listed


def test_unknown_kind_lists_the_new_ones() -> None:
    from modelcollapse import ConfigError, load

    with pytest.raises(ConfigError) as err:
        load({**CONFIG, "workflow": ["toy-doubbling"]})
    assert str(err.value).startswith("workflow[0].kind: 'toy-doubbling' is not one of: replace, accumulate")
    assert str(err.value).endswith(", toy-doubling")
    with pytest.raises(ConfigError, match=r"^workflow\[0\]: model 'toy-shrunk-mean' has no fit\(\.\.\., sample_weig"):
        load({**CONFIG, "workflow": [{"kind": "weights", "matrix": [[1], [1, 1]]}]})


def test_the_package_kinds_cannot_be_replaced_and_a_missing_extra_is_named() -> None:
    from modelcollapse import ConfigError, load
    from modelcollapse.registry import Registry

    with pytest.raises(ValueError, match=r"^model kind 'gaussian' is the package's own; choose another name$"):

        @MODELS.register
        class Impostor(FamilyConfig):
            kind: Literal["gaussian"] = "gaussian"

    with pytest.raises(ValueError, match=r"^model kind 'vae' is the package's own; choose another name$"):

        @MODELS.register
        class LazyImpostor(FamilyConfig):  # a kind of the package not imported yet (it needs PyTorch)
            kind: Literal["vae"] = "vae"

    assert load({**CONFIG, "model": {"kind": "gaussian"}}).model.__class__.__module__ == "modelcollapse.models.gaussian"
    fancy = Registry("model", lazy={"fancy": "modelcollapse_extra_that_is_not_installed"})
    with pytest.raises(LookupError) as err:
        fancy.parse({"kind": "fancy"})
    assert err.value.args == ("'fancy'", "No module named 'modelcollapse_extra_that_is_not_installed'")
    with pytest.raises(ConfigError, match=r"^model\.kind: 'toy-shrunk-meen' is not one of: gaussian, ols, ridge"):
        load({**CONFIG, "model": {"kind": "toy-shrunk-meen"}})
