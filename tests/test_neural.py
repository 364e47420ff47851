"""Neural families (PyTorch extra): shapes, determinism, resume, workflow sizes, the KV cache."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers import experiment, interrupt_and_resume, simulate  # noqa: E402
from modelcollapse.data import (  # noqa: E402
    Rows,
    read_rows,
    write_rows,
)
from modelcollapse.models.neural.gpt import GPT, filter_logits, generate  # noqa: E402
from modelcollapse.run.engine import simulate as run_chain  # noqa: E402
from modelcollapse.run.journal import Journal  # noqa: E402
from modelcollapse.sources.text import FORTUNES, PAD  # noqa: E402

needs_corpus = pytest.mark.skipif(
    not FORTUNES.is_dir(), reason="Debian's fortunes corpus is not installed (make test installs it as root)"
)
TEXT = {"kind": "text", "tokenizer": "bpe", "vocab_size": 300, "max_tokens": 16, "test_documents": 50}
TINY_GPT = {"kind": "gpt", "layers": 1, "heads": 2, "width": 32, "steps": 4, "batch_size": 8, "device": "cpu"}


def lm(**fields):  # type: ignore[no-untyped-def]
    """The fields of a tiny GPT experiment on fortunes."""
    return {"source": TEXT, "model": TINY_GPT, "samples_per_generation": 20, "generations": 3, "replicates": 2} | fields


def test_kv_cache_gives_the_full_forward_logits() -> None:
    torch.manual_seed(0)
    net = GPT(vocab=40, context=12, layers=2, heads=2, width=16).eval()
    seq = torch.randint(0, 40, (3, 9))
    full, _ = net(seq)
    logits, cache = net(seq[:, :5])
    steps = [logits[:, -1]]
    for i in range(5, 9):
        logits, cache = net(seq[:, i : i + 1], cache)
        steps.append(logits[:, -1])
    assert torch.allclose(torch.stack(steps[:-1], 1), full[:, 4:8], atol=1e-5)


def test_cached_and_recomputed_sampling_agree() -> None:
    torch.manual_seed(1)
    net = GPT(vocab=30, context=20, layers=1, heads=2, width=16).eval()
    prompt = torch.zeros(4, 1, dtype=torch.long)
    a = generate(net, prompt, 12, torch.Generator().manual_seed(5), eos=-1)
    b = generate(net, prompt, 12, torch.Generator().manual_seed(5), eos=-1, use_cache=False)
    assert torch.equal(a, b)


def test_top_k_and_top_p_keep_exactly_the_right_tokens() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.15, 0.1]]))
    assert torch.isfinite(filter_logits(logits, 1.0, 2, 1.0)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, 1.0, 0, 0.7)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, 1.0, 0, 0.76)).tolist() == [[True, True, True, False]]
    assert torch.allclose(filter_logits(logits, 2.0, 0, 1.0), logits / 2)


def test_rows_round_trip_through_parquet(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = Rows({"x": np.arange(24, dtype=np.int32).reshape(1, 4, 6), "label": np.arange(4)[None]})
    write_rows(rows, tmp_path / "r.parquet")
    back = read_rows(tmp_path / "r.parquet")
    for k in rows.cols:
        assert back.cols[k].dtype == rows.cols[k].dtype and np.array_equal(back.cols[k], rows.cols[k])


@needs_corpus
def test_gpt_workflow_sizes_and_determinism() -> None:
    wf = ["replace", "accumulate", {"kind": "accumulate-subsample", "budget": 30}, {"kind": "mix", "fraction": 0.5}]
    a = simulate(**lm(workflow=wf, metrics=["test_nll"]))
    sizes = {w: a[w]["train_size"][:, 0].tolist() for w in a}
    assert sizes == {
        "replace": [20, 20, 20],
        "accumulate": [20, 40, 60],
        "accumulate-subsample": [20, 30, 30],
        "mix": [20, 30, 30],
    }
    b = simulate(**lm(workflow=wf, metrics=["test_nll"]))
    for w in a:
        assert np.array_equal(a[w]["test_nll"], b[w]["test_nll"]), w
    assert np.all(np.isfinite(a["replace"]["test_nll"]))
    assert not np.array_equal(a["replace"]["test_nll"][:, 0], a["replace"]["test_nll"][:, 1])  # replicates differ


@needs_corpus
def test_gpt_text_metrics_are_in_range() -> None:
    out = simulate(**lm(replicates=1, generations=2))["replace"]
    for m in ("distinct_1", "distinct_2", "rare_token_share"):
        assert np.all((out[m] >= 0) & (out[m] <= 1)), m
    assert np.all((out["mean_length"] > 0) & (out["mean_length"] <= 16))


@needs_corpus
def test_gpt_samples_are_padded_documents() -> None:
    exp = experiment(**lm(model=TINY_GPT | {"prompt_tokens": 3, "top_k": 5}))
    fam, world = exp.family(), exp.source.build().world(1, 20, np.random.default_rng(0))
    from modelcollapse.data import Part

    params = fam.fit([Part(world.train)], world, np.random.default_rng(1))
    x = fam.sample(params, 7, np.random.default_rng(2), world, True).cols["x"]
    assert x.shape == (1, 7, 16) and x.dtype == np.int32
    lengths = (x[0] != PAD).sum(1)
    assert np.all(lengths >= 3)  # the real prefix is kept
    for row, n in zip(x[0], lengths, strict=True):  # padding only after the document
        assert np.all(row[:n] > 0) and np.all(row[n:] == PAD)
    prefixes = {tuple(r[:3]) for r in world.train.cols["x"][0] if (r != PAD).sum() > 3}
    assert all(tuple(r[:3]) in prefixes for r in x[0])
    text = world.truth.decode(world.train.cols["x"][0][0])
    assert isinstance(text, str) and text


@needs_corpus
@pytest.mark.parametrize("workflow", ["accumulate", "accumulate-subsample", "replace"])
def test_resume_after_interruption_gives_the_uninterrupted_numbers(tmp_path, workflow: str) -> None:  # type: ignore[no-untyped-def]
    from modelcollapse._rng import Streams, stream
    from modelcollapse.run.chunk import chain_key, real_key

    exp = experiment(**lm(generations=4, replicates=1))
    from modelcollapse.registry import WORKFLOWS

    wf = WORKFLOWS.parse({"kind": workflow})  # the workflow's own class (a copy of another would keep its rule)
    exp = exp.model_copy(update={"workflow": [wf]})

    def chain(journal, family=None):  # type: ignore[no-untyped-def]
        world = exp.source.build().world(1, 20, Streams([stream(0, real_key(exp), 0)]))
        return run_chain(world, family or exp.family(), wf.build(20, 4), 4, Streams([stream(0, chain_key(exp, wf), 0)]),
                         exp.metric_table(), journal)

    clean = chain(None)
    journal = Journal(tmp_path / "j")
    resumed = interrupt_and_resume(chain, exp.family(), journal, fail_at=3)
    assert journal.finished() == 4
    for m in clean:
        assert np.array_equal(clean[m], resumed[m]), m
    assert journal.rows(3, "synthetic").cols["x"].shape == (1, 20, 16)
    assert (journal.path(4) / "model.safetensors").is_file()


@needs_corpus
def test_continue_training_starts_from_the_previous_weights() -> None:
    from modelcollapse.data import Part

    def weights(init: str) -> tuple[torch.Tensor, torch.Tensor]:
        exp = experiment(**lm(model=TINY_GPT | {"init": init, "lr": 1e-12}))
        fam, world = exp.family(), exp.source.build().world(1, 20, np.random.default_rng(0))
        first = fam.fit([Part(world.train)], world, np.random.default_rng(1))
        second = fam.fit([Part(world.train)], world, np.random.default_rng(2), previous=first)
        return first.models[0].tok.weight, second.models[0].tok.weight

    assert torch.allclose(*weights("continue"), atol=1e-6)
    assert not torch.allclose(*weights("scratch"), atol=1e-3)


def test_vae_and_ddpm_on_images_and_shapes() -> None:
    vae = simulate(source={"kind": "images"}, model={"kind": "vae", "steps": 5, "hidden": 32, "device": "cpu"},
                   samples_per_generation=50, generations=2, replicates=1, workflow=["replace", "accumulate"])
    assert vae["accumulate"]["train_size"][:, 0].tolist() == [50, 100]
    assert np.all(np.isfinite(vae["replace"]["test_neg_elbo"])) and vae["replace"]["test_neg_elbo"][0, 0] > 0
    assert 0 < vae["replace"]["variance_ratio"][0, 0] < 10
    ddpm = simulate(source={"kind": "shapes", "shape": "moons"},
                    model={"kind": "ddpm", "steps": 5, "hidden": 32, "timesteps": 10, "device": "cpu"},
                    samples_per_generation=50, generations=2, replicates=1)
    assert set(ddpm["replace"]) >= {"sliced_w2", "mmd_rbf", "precision", "recall", "variance_ratio"}
    assert np.all(np.isfinite(ddpm["replace"]["sliced_w2"]))


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (TINY_GPT | {"width": 31}, "model: width (31) must be a multiple of heads (2)"),
        (TINY_GPT | {"device": "tpu"}, "model.device: 'tpu' is not a device; allowed: auto, cpu, cuda, cuda:N, mps"),
        (TINY_GPT | {"init": "warm"}, "model.init: 'warm' is not one of: scratch or continue"),
        ({"kind": "vae"}, "model.kind 'vae' cannot fit source.kind 'text'; it fits: images"),
    ],
)
def test_neural_configs_fail_with_one_line(model: dict, message: str) -> None:
    from modelcollapse import ConfigError, load

    with pytest.raises(ConfigError) as err:
        load({"name": "t", "source": TEXT, "model": model, "samples_per_generation": 5, "workflow": ["replace"],
              "generations": 2, "replicates": 1})
    assert str(err.value) == message


def test_images_sources() -> None:
    from modelcollapse.sources.images import FASHION, ImageSource

    world = ImageSource("digits").world(2, 100, np.random.default_rng(0))
    x = world.train.cols["x"]
    assert x.shape == (2, 100, 64) and x.min() >= 0 and x.max() <= 1
    assert world.test.cols["x"].shape == (2, 449, 64) and set(np.unique(world.test.cols["label"])) == set(range(10))
    if not FASHION.is_dir():
        pytest.skip("Fashion-MNIST is not installed (make test installs dataset-fashion-mnist as root)")
    world = ImageSource("fashion-mnist", test_samples=500).world(1, 10, np.random.default_rng(0))
    assert world.train.cols["x"].shape == (1, 10, 784) and world.test.cols["x"].shape == (1, 500, 784)
    assert world.truth.pool[0].shape == (60000, 784)


def test_image_samples_are_saved_as_a_grid(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from modelcollapse import run_experiment

    run_experiment({"name": "g", "source": {"kind": "images"}, "samples_per_generation": 40, "generations": 2,
                    "model": {"kind": "vae", "steps": 3, "hidden": 16, "device": "cpu"}, "workflow": ["replace"],
                    "replicates": 1}, tmp_path)
    gen = next((tmp_path / "generations").glob("*/block-0000/replace/gen-0002"))
    assert {p.name for p in gen.iterdir()} == {
        "model.safetensors", "model.json", "state.json", "synthetic.parquet", "preview.parquet", "samples.png"
    }
    import matplotlib.image

    assert matplotlib.image.imread(gen / "samples.png").shape[:2] == (8 * 9 - 1, 8 * 9 - 1)


def test_hugging_face_wrapper_with_a_tiny_gpt2() -> None:
    pytest.importorskip("transformers")
    model = {"kind": "hf-lm", "config": {"n_layer": 1, "n_head": 2, "n_embd": 16}, "steps": 3, "batch_size": 4,
             "device": "cpu", "top_p": 0.9}
    source = {"kind": "text", "paths": [str(_tiny_text_file())], "tokenizer": "chars", "vocab_size": 40,
              "max_tokens": 12, "test_every": 2}
    a = simulate(source=source, model=model, samples_per_generation=8, generations=2, replicates=1,
                 workflow=["replace", "accumulate"])
    b = simulate(source=source, model=model, samples_per_generation=8, generations=2, replicates=1,
                 workflow=["replace", "accumulate"])
    assert a["accumulate"]["train_size"][:, 0].tolist() == [8, 16]
    assert np.isfinite(a["replace"]["test_nll"]).all()
    assert np.array_equal(a["replace"]["test_nll"], b["replace"]["test_nll"])
    # The base model is the same every generation (the SFT chain), whatever the chain's stream.
    exp = experiment(source=source, model=model, samples_per_generation=8)
    fam, world = exp.family(), exp.source.build().world(1, 8, np.random.default_rng(0))
    w1, w2 = (fam.new_net(world).model.transformer.wte.weight for _ in range(2))
    assert torch.equal(w1, w2)


@__import__("functools").lru_cache
def _tiny_text_file():  # type: ignore[no-untyped-def]
    """Four topics of short records (the same folder for the whole session: its path is part of the config)."""
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp())
    for i, topic in enumerate(["cats", "dogs", "birds", "fish"]):
        records = [f"the {topic} number {j} sat on mat {i}." for j in range(12)]
        (folder / topic).write_text("\n%\n".join(records))
    return folder


needs_molecules = pytest.mark.skipif(
    __import__("importlib").util.find_spec("moses") is None or __import__("importlib").util.find_spec("rdkit") is None,
    reason="MOSES (pip install --no-deps molsets==0.3.1) or RDKit is not installed; make test installs both",
)


@needs_molecules
def test_molecule_metrics_on_known_strings() -> None:
    from modelcollapse.metrics.molecules import canonical, summary
    from modelcollapse.sources.molecules import SmilesSource

    assert canonical("C1=CC=CC=C1") == "c1ccccc1" and canonical("C1CC") is None and canonical("") is None
    world = SmilesSource(pool=2000, test_documents=200).world(1, 100, np.random.default_rng(0))
    train = [world.truth.decode(r) for r in world.train.cols["x"][0]]
    assert all(canonical(s) for s in train)  # every MOSES molecule is valid
    copies = summary(train[:10] + train[:10], world)
    assert copies["validity"] == 1.0 and copies["uniqueness"] == 0.5 and copies["novelty"] == 0.0
    mixed = summary(["c1ccccc1", "C1CC", "CCO", "CCO"], world)
    assert mixed["validity"] == 0.75 and mixed["uniqueness"] == pytest.approx(2 / 3) and mixed["novelty"] == 1.0
    assert mixed["weight_w1"] > 100  # benzene and ethanol are far lighter than drug-like molecules


@needs_molecules
def test_gpt_on_smiles_reports_chemistry() -> None:
    out = simulate(source={"kind": "smiles", "pool": 2000, "test_documents": 100},
                   model=TINY_GPT | {"steps": 2}, samples_per_generation=30, generations=2, replicates=1)
    for m in ("validity", "uniqueness", "novelty"):
        assert np.all((out["replace"][m] >= 0) & (out["replace"][m] <= 1)), m
    assert out["replace"]["train_size"][:, 0].tolist() == [30, 30]


def test_cli_device_flag(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    import yaml

    cfg = {"name": "d", "source": {"kind": "shapes"}, "samples_per_generation": 30, "generations": 2,
           "model": {"kind": "ddpm", "steps": 3, "hidden": 16, "timesteps": 5}, "workflow": ["replace"],
           "replicates": 1}
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump(cfg))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "modelcollapse", "run", str(path), *args], capture_output=True,
                              text=True, timeout=300)

    ok = cli("--out", str(tmp_path / "cpu"), "--device", "cpu", "-q")
    assert ok.returncode == 0, ok.stderr
    if not torch.cuda.is_available():
        bad = cli("--out", str(tmp_path / "gpu"), "--device", "cuda")
        assert bad.returncode == 2
        assert bad.stderr.strip() == (
            "error: model.device: 'cuda' asked for, but no CUDA GPU is available here; use auto or cpu"
        )
        assert not (tmp_path / "gpu").exists()


def test_ddpm_on_digit_images() -> None:
    out = simulate(source={"kind": "images"}, model={"kind": "ddpm", "steps": 3, "hidden": 32, "timesteps": 5,
                                                     "device": "cpu"},
                   samples_per_generation=40, generations=2, replicates=1, workflow=["accumulate"])
    assert out["accumulate"]["train_size"][:, 0].tolist() == [40, 80]
    assert "tail_mass_q95" not in out["accumulate"] and np.isfinite(out["accumulate"]["mode_share_tv"]).all()


def test_hugging_face_model_from_a_local_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    transformers = pytest.importorskip("transformers")
    source = {"kind": "text", "paths": [str(_tiny_text_file())], "tokenizer": "chars", "vocab_size": 40,
              "max_tokens": 12, "test_every": 2}
    from modelcollapse.sources.text import TextSource

    vocab = len(TextSource(paths=tuple(source["paths"]), vocab_size=40, max_tokens=12, test_every=2,
                           tokenizer="chars").corpus().vocab)
    torch.manual_seed(0)
    saved = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=vocab, n_positions=13, n_layer=1,
                                                                 n_head=2, n_embd=16))
    saved.save_pretrained(tmp_path / "base")
    exp = experiment(source=source, model={"kind": "hf-lm", "model": str(tmp_path / "base"), "steps": 2,
                                           "device": "cpu"}, samples_per_generation=8)
    net = exp.family().new_net(exp.source.build().world(1, 8, np.random.default_rng(0)))
    assert torch.equal(net.model.transformer.wte.weight, saved.transformer.wte.weight)
    from modelcollapse import simulate_experiment

    assert np.isfinite(simulate_experiment(exp)["replace"]["test_nll"]).all()
