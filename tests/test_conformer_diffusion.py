"""Conformer diffusion: the EGNN's symmetries, the diffusion's rows, durability, and that training learns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
Chem = pytest.importorskip("rdkit.Chem")

from helpers import SMALL_MOLECULES, experiment, interrupt_and_resume, simulate  # noqa: E402
from modelcollapse.data import Part  # noqa: E402
from modelcollapse.metrics.conformers import conformer_scores  # noqa: E402
from modelcollapse.models.neural._torch import seeded  # noqa: E402
from modelcollapse.models.neural.conformer import Denoiser, centred  # noqa: E402
from modelcollapse.models.neural.egnn import EGNN  # noqa: E402
from modelcollapse.sources.conformers import FEATURE_SIZES, ConformerTruth, eval_molecules  # noqa: E402

SMILES = SMALL_MOLECULES[1:13]
TINY = {"kind": "conformer-diffusion", "hidden": 16, "layers": 2, "timesteps": 10, "steps": 20, "device": "cpu"}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("conformers")
    (folder / "mols.smi").write_text("\n".join(SMILES))
    return {
        "kind": "conformers",
        "path": str(folder / "mols.smi"),
        "cache": str(folder / "cache"),
        "molecules": 8,
        "test_molecules": 3,
        "conformers": 3,
    }


def conformer_experiment(source: dict[str, Any], **fields: Any):  # type: ignore[no-untyped-def]
    return experiment(
        **{"source": source, "model": TINY, "samples_per_generation": 24, "generations": 2, "replicates": 1} | fields
    )


def rotation(seed: int) -> torch.Tensor:
    from scipy.spatial.transform import Rotation

    return torch.as_tensor(Rotation.random(random_state=seed).as_matrix())


def inputs(truth: ConformerTruth, mols: list[int]) -> tuple[torch.Tensor, ...]:
    feats = torch.as_tensor(truth.features[mols])
    pair = torch.as_tensor(np.stack([truth.bonds[mols], truth.hops[mols]], -1))
    return feats, pair, (feats[..., :1] > 0).double(), torch.as_tensor(truth.references[mols, 0])


@pytest.fixture(scope="module")
def truth(source: dict[str, Any]) -> ConformerTruth:
    return conformer_experiment(source).source.build().truth()  # type: ignore[no-any-return]


def test_egnn_rotates_and_translates_with_its_input(truth: ConformerTruth) -> None:
    torch.manual_seed(0)
    net = EGNN(FEATURE_SIZES, (5, 5), hidden=16, layers=3).double()
    feats, pair, mask, x = inputs(truth, [0, 1, 2])
    context = torch.randn(3, 16, dtype=torch.float64)
    r, shift = rotation(1), torch.tensor([1.5, -2.0, 0.7], dtype=torch.float64)
    out = net(feats, pair, x, context)
    moved = net(feats, pair, (x @ r.T + shift) * mask, context)
    assert torch.allclose(moved, (out @ r.T + shift) * mask, atol=1e-10)
    assert not torch.allclose(out, x * mask, atol=1e-3)  # it does move the atoms


def test_denoiser_prediction_and_implied_noise_rotate_and_ignore_translation(truth: ConformerTruth) -> None:
    torch.manual_seed(0)
    net = Denoiser(hidden=16, layers=2, timesteps=10).double()
    feats, pair, mask, x0 = inputs(truth, [0, 1, 2])
    t = torch.tensor([0, 4, 9])
    ab = net.alpha_bar[t].double()[:, None, None]
    xt = ab.sqrt() * x0 + (1 - ab).sqrt() * centred(torch.randn(x0.shape, dtype=torch.float64), mask)
    r, shift = rotation(2), torch.tensor([3.0, 0.5, -1.0], dtype=torch.float64)
    pred = net(feats, pair, mask, xt, t)
    moved = net(feats, pair, mask, (xt @ r.T + shift) * mask, t)
    assert torch.allclose(moved, pred @ r.T, atol=1e-10)
    noise = (xt - ab.sqrt() * pred) / (1 - ab).sqrt()
    rotated = (xt @ r.T - ab.sqrt() * net(feats, pair, mask, xt @ r.T, t)) / (1 - ab).sqrt()
    assert torch.allclose(rotated, noise @ r.T, atol=1e-9)


def test_permuting_atoms_permutes_the_prediction(truth: ConformerTruth) -> None:
    torch.manual_seed(0)
    net = Denoiser(hidden=16, layers=2, timesteps=10).double()
    feats, pair, mask, x = inputs(truth, [3])
    n = int(truth.n_atoms[3])
    perm = torch.cat([torch.randperm(n, generator=torch.Generator().manual_seed(4)), torch.arange(n, x.shape[1])])
    t = torch.tensor([3])
    pred = net(feats, pair, mask, x, t)
    permuted = net(feats[:, perm], pair[:, perm][:, :, perm], mask[:, perm], x[:, perm], t)
    assert torch.allclose(permuted, pred[:, perm], atol=1e-10)


def test_padding_does_not_change_the_real_atoms(truth: ConformerTruth) -> None:
    torch.manual_seed(0)
    net = Denoiser(hidden=16, layers=2, timesteps=10).double()
    feats, pair, mask, x = inputs(truth, [4])
    t = torch.tensor([5])
    wide = [torch.nn.functional.pad(a, (0, 0) * (a.dim() - 2) + (0, 4)) for a in (feats, mask, x)]
    pair4 = torch.nn.functional.pad(pair, (0, 0, 0, 4, 0, 4))
    out = net(wide[0], pair4, wide[1], wide[2], t)
    assert torch.allclose(out[:, : x.shape[1]], net(feats, pair, mask, x, t), atol=1e-10)
    assert torch.count_nonzero(out[:, x.shape[1] :]) == 0


def test_rows_sizes_molecules_and_determinism(source: dict[str, Any]) -> None:
    def run() -> dict[str, dict[str, np.ndarray]]:
        workflows = ["replace", "accumulate", "accumulate-subsample"]
        return simulate(
            source=source, model=TINY, samples_per_generation=24, generations=3, replicates=1, workflow=workflows
        )

    out, again = run(), run()
    assert out["accumulate"]["train_size"][:, 0].tolist() == [24, 48, 72]
    assert out["accumulate-subsample"]["train_size"][:, 0].tolist() == [24, 24, 24]
    for wf in out:
        for metric in out[wf]:
            assert np.array_equal(out[wf][metric], again[wf][metric], equal_nan=True), (wf, metric)
    assert set(out["replace"]) >= {
        "test_loss",
        "cov_r",
        "mat_r",
        "bond_length_w1",
        "bond_angle_w1",
        "mmff_energy",
        "mmff_optimisable",
        "plausible_bonds",
    }
    exp = conformer_experiment(source)
    fam, world = exp.family(), exp.source.build().world(1, 24, np.random.default_rng(0))
    fitted = fam.fit([Part(world.train)], world, np.random.default_rng(1))
    rows = fam.sample(fitted, 13, np.random.default_rng(2), world, rows=True)
    assert rows.cols["x"].shape == (1, 13, world.truth.references.shape[2], 3)
    counts = np.bincount(rows.cols["mol"][0], minlength=len(world.truth.smiles))[world.truth.train_mols]
    assert sorted(counts.tolist()) == [1] * 3 + [2] * 5  # 13 over 8 molecules, each within one of the others
    n = world.truth.n_atoms[rows.cols["mol"][0]]
    x = rows.cols["x"][0]
    assert all(np.abs(x[i, : n[i]].mean(0)).max() < 1e-5 and not x[i, n[i] :].any() for i in range(13))
    assert fitted.eval_samples[0].shape[0] == len(eval_molecules(world.truth)) == 3 * 2 * 3


def test_a_saved_generation_samples_as_before(source: dict[str, Any], tmp_path: Path) -> None:
    exp = conformer_experiment(source)
    fam, world = exp.family(), exp.source.build().world(1, 24, np.random.default_rng(0))
    fitted = fam.fit([Part(world.train)], world, np.random.default_rng(1))
    fam.save(fitted, tmp_path, world)
    sdf = list(Chem.SDMolSupplier(str(tmp_path / "samples.sdf"), removeHs=False))
    first = eval_molecules(world.truth)[0]
    assert len(sdf) == 18 and Chem.MolToSmiles(sdf[0]) == world.truth.smiles[first]
    n = world.truth.n_atoms[first]
    assert np.allclose(sdf[0].GetConformer().GetPositions(), fitted.eval_samples[0][0, :n], atol=1e-4)
    loaded = fam.load(tmp_path, world)
    assert np.array_equal(loaded.eval_samples[0], fitted.eval_samples[0])
    assert fam.metrics["test_loss"].fn(loaded, world) == fam.metrics["test_loss"].fn(fitted, world)


def test_training_learns_conformers(source: dict[str, Any]) -> None:
    """A short training run against its untrained start: lower test loss, better MAT-R and bond lengths."""
    exp = conformer_experiment(source, model=TINY | {"hidden": 32, "steps": 150, "timesteps": 20})
    fam, world = exp.family(), exp.source.build().world(1, 24, np.random.default_rng(0))
    with seeded(np.random.default_rng(1)):
        untrained = fam.fitted(fam.new_net(world).eval(), 7, {}, world)
    trained = fam.fit([Part(world.train)], world, np.random.default_rng(1))
    before, after = (conformer_scores(world.truth, f.eval_samples[0]) for f in (untrained, trained))
    loss = [fam.metrics["test_loss"].fn(f, world)[0] for f in (untrained, trained)]
    assert loss[1] < 0.8 * loss[0], loss
    assert after["mat_r"] < 0.6 * before["mat_r"], (before, after)
    assert after["bond_length_w1"] < 0.5 * before["bond_length_w1"], (before, after)


def test_the_dg_baseline_is_scored_like_a_model(truth: ConformerTruth) -> None:
    from modelcollapse.report.conformers import rdkit_conformers

    scores = conformer_scores(truth, rdkit_conformers(truth, "dg"))
    assert 0 < scores["mat_r"] < 1.5 and scores["plausible_bonds"] > 0.9, scores


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (TINY | {"timesteps": 1}, "model.timesteps: 1 is invalid: input should be greater than or equal to 2"),
        (
            {"kind": "conformer-diffusion", "device": "tpu"},
            "model.device: 'tpu' is not a device; allowed: auto, cpu, cuda, cuda:N, mps",
        ),
    ],
)
def test_configs_fail_with_one_line(source: dict[str, Any], model: dict[str, Any], message: str) -> None:
    from modelcollapse import ConfigError

    with pytest.raises(ConfigError) as err:
        conformer_experiment(source, model=model)
    assert str(err.value) == message


def test_other_sources_are_refused() -> None:
    from modelcollapse import ConfigError

    with pytest.raises(ConfigError) as err:
        experiment(source={"kind": "images"}, model=TINY)
    assert str(err.value) == "model.kind 'conformer-diffusion' cannot fit source.kind 'images'; it fits: conformers"


def test_a_resumed_chain_gives_the_uninterrupted_numbers(source: dict[str, Any], tmp_path: Path) -> None:
    from modelcollapse._rng import Streams, stream
    from modelcollapse.run.chunk import chain_key, real_key
    from modelcollapse.run.engine import simulate as run_chain
    from modelcollapse.run.journal import Journal

    exp = conformer_experiment(source, generations=3, workflow=["accumulate"])
    wf = exp.workflow[0]

    def chain(journal: Journal | None, family: Any = None) -> dict[str, np.ndarray]:
        world = exp.source.build().world(1, 24, Streams([stream(0, real_key(exp), 0)]))
        rng = Streams([stream(0, chain_key(exp, wf), 0)])
        return run_chain(world, family or exp.family(), wf.build(24, 3), 3, rng, exp.metric_table(), journal)

    clean = chain(None)
    journal = Journal(tmp_path / "j")
    resumed = interrupt_and_resume(chain, exp.family(), journal, fail_at=3)
    for m in clean:
        assert np.array_equal(clean[m], resumed[m], equal_nan=True), m
    assert journal.rows(2, "synthetic").cols["mol"].shape == (1, 24)


@pytest.mark.slow
def test_the_bundled_model_beats_an_untrained_one_and_rdkit_random_embedding() -> None:
    """The reproduction's first generation (its bundled size) on MAT-R, against the baselines it reports."""
    from modelcollapse import load
    from modelcollapse.report.conformers import baselines
    from modelcollapse.report.reproduce import available

    cfg = available()["gerstgrasser2024-geodiff"].experiments[0]
    exp = load(cfg | {"model": cfg["model"] | {"device": "cpu"}, "replicates": 1, "workflow": ["replace"]})
    world = exp.source.build().world(1, exp.samples_per_generation, np.random.default_rng(0))
    fitted = exp.family().fit([Part(world.train)], world, np.random.default_rng(1))
    model = conformer_scores(world.truth, fitted.eval_samples[0])
    table = baselines(exp).set_index("baseline")["mat_r"]
    assert model["mat_r"] < 0.9 * table["RDKit random embedding (distance geometry)"], (model, table)
    assert model["mat_r"] < 0.2 * table["untrained model"], (model, table)
