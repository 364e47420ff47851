"""KDE and Gaussian-mixture families, 2-D and tabular sources, and the KDE closed form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from helpers import simulate, z_score
from modelcollapse.models.kde import KERNEL_VARIANCE, kernel_noise
from modelcollapse.sources.sklearn_data import ShapeSource, TableSource, blob_centers
from modelcollapse.theory import kde as kde_theory

Z = 4.0


@pytest.mark.parametrize("workflow", ["replace", "accumulate"])
@pytest.mark.parametrize("bandwidth", [0.4, "scott"])
def test_kde_variance_closed_form(workflow: str, bandwidth) -> None:  # type: ignore[no-untyped-def]
    n, d, gens = 40, 2, 8
    out = simulate(
        source={"kind": "gaussian", "dim": d, "variance": [0.5, 1.5]},
        model={"kind": "kde", "kernel": "gaussian", "bandwidth": bandwidth},
        samples_per_generation=n,
        workflow=[workflow],
        generations=gens,
        replicates=1500,
        metrics=["model_variance", "mean_sq_error"],
        seed=3,
    )[workflow]
    rows = n if workflow == "replace" else n * np.arange(1, gens + 1)
    k = bandwidth**2 * d if bandwidth != "scott" else kde_theory.scott_kernel_var(gens, rows, d)
    v, e = getattr(kde_theory, workflow)(gens, n, k, 2.0)
    for g in (1, 4, 8):
        assert abs(z_score(out["model_variance"][g - 1], v[g - 1])) < Z
        assert abs(z_score(out["mean_sq_error"][g - 1], e[g - 1])) < Z
    if workflow == "replace" and bandwidth == 0.4:
        # each generation adds the kernel's h^2 d and shrinks the data part by (1 - 1/n): the increment is
        # k - v/n, which tends to h^2 d for large n
        np.testing.assert_allclose(np.diff(v), 0.16 * d - v[:-1] / n)
        big, _ = kde_theory.replace(gens, 10**7, 0.16 * d, 2.0)
        np.testing.assert_allclose(np.diff(big), 0.16 * d, rtol=1e-5)


@pytest.mark.parametrize("kernel", ["gaussian", "tophat", "epanechnikov"])
def test_kernel_noise_variance_and_support(kernel: str) -> None:
    rng = np.random.default_rng(0)
    z = kernel_noise(kernel, 200_000, 3, rng)
    assert abs(z_score((z**2).sum(1), KERNEL_VARIANCE[kernel](3))) < Z
    if kernel != "gaussian":
        assert np.linalg.norm(z, axis=1).max() <= 1.0


def test_blob_test_set_has_the_training_distribution() -> None:
    # Regression test for the bug of one public implementation: test blobs drawn with new random centres.
    src = ShapeSource("blobs", centers=blob_centers(3, 7))
    world = src.world(2, 2000, np.random.default_rng(0))
    for b in range(2):
        train, test = world.train.cols["x"][b], world.test.cols["x"][b]
        for j in range(2):
            assert stats.ks_2samp(train[:, j], test[:, j]).pvalue > 1e-3
    other = ShapeSource("blobs", centers=blob_centers(3, 8)).world(1, 2000, np.random.default_rng(1))
    assert stats.ks_2samp(train[:, 0], other.test.cols["x"][0][:, 0]).pvalue < 1e-6  # the check has power


@pytest.mark.parametrize("shape", ["moons", "circles", "swiss-roll"])
def test_shapes_train_and_test_agree(shape: str) -> None:
    world = ShapeSource(shape).world(1, 3000, np.random.default_rng(2))
    for j in range(2):
        assert stats.ks_2samp(world.train.cols["x"][0][:, j], world.test.cols["x"][0][:, j]).pvalue > 1e-3


def test_table_split_is_disjoint_and_standardised() -> None:
    world = TableSource("wine").world(3, 100, np.random.default_rng(0))
    for b in range(3):
        train, test = world.train.cols["x"][b], world.test.cols["x"][b]
        assert not ({tuple(r) for r in train.round(8)} & {tuple(r) for r in test.round(8)})
    assert world.test.cols["label"].shape == (3, 53)
    with pytest.raises(ValueError, match="rows outside the test set"):
        TableSource("iris").world(1, 200, np.random.default_rng(0))


def test_gmm_on_blobs_and_kde_on_a_table_run_every_workflow() -> None:
    out = simulate(
        source={"kind": "shapes", "shape": "blobs"},
        model={"kind": "gmm", "components": 3},
        samples_per_generation=150,
        workflow=["replace", "accumulate", "accumulate-subsample"],
        generations=4,
        replicates=4,
        metrics=["test_nll", "variance_ratio", "precision", "mode_share_tv"],
    )
    assert {w: r["train_size"][:, 0].tolist() for w, r in out.items()} == {
        "replace": [150] * 4,
        "accumulate": [150, 300, 450, 600],
        "accumulate-subsample": [150] * 4,
    }
    assert np.isfinite(out["replace"]["test_nll"]).all()
    assert (out["accumulate"]["precision"] > 0.5).all()
    table = simulate(
        source={"kind": "tabular", "name": "iris"},
        model={"kind": "kde", "bandwidth": 0.5},
        samples_per_generation=60,
        workflow=["replace"],
        generations=3,
        replicates=2,
        metrics=["test_nll", "recall"],
    )
    assert table["replace"]["test_nll"].shape == (3, 2)


def test_gmm_rejects_weighted_workflows() -> None:
    from modelcollapse import ConfigError, load

    with pytest.raises(ConfigError, match=r"model 'gmm' has no fit\(\.\.\., sample_weight=\.\.\.\)"):
        load(
            {
                "name": "g",
                "source": {"kind": "shapes"},
                "model": {"kind": "gmm"},
                "samples_per_generation": 50,
                "workflow": [{"kind": "weights", "matrix": [[1], [1, 1]]}],
                "generations": 2,
                "replicates": 1,
            }
        )
