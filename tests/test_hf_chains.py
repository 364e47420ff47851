"""Pretrained Hugging Face chains: documents from JSONL/CSV/Parquet/datasets folders, the model's own tokenizer
(BOS, EOS, a padded embedding table), and the SFT chain under the three workflows. A tiny randomly
initialised model and tokenizer are saved locally: no hub."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from helpers import experiment, simulate  # noqa: E402
from modelcollapse.models.neural.lm import _test_nll  # noqa: E402
from modelcollapse.sources import documents  # noqa: E402
from modelcollapse.sources.text import PAD  # noqa: E402

TOPICS = ["cats", "dogs", "birds", "fish"]
TRAIN = [f"the {t} number {j} sat on the mat." for t in TOPICS[:3] for j in range(10)]
TEST = [f"the {TOPICS[3]} number {j} swam by the mat." for j in range(6)]
MAX = 40  # tokens of a document: every document whole (the tokenizer learned few merges)
EXTRA_ROWS = 3  # the model's embedding table is longer than the tokenizer (as many pretrained ones are)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tokenizer whose EOS (id 2) is not 0 and whose BOS differs from it, and a tiny GPT-2 beside it."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    folder = tmp_path_factory.mktemp("base")
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    specials = ["<pad>", "<s>", "<|endoftext|>", "<unk>"]
    trainer = trainers.BpeTrainer(vocab_size=120, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TRAIN, trainer)
    from tokenizers import decoders

    tok.decoder = decoders.ByteLevel()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="<|endoftext|>", pad_token="<pad>", unk_token="<unk>"
    )
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=len(fast) + EXTRA_ROWS, n_positions=MAX + 1, n_layer=1, n_head=2,
                                     n_embd=16, bos_token_id=1, eos_token_id=2)
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same documents in every format: train and test files (a datasets folder: its two splits)."""
    datasets = pytest.importorskip("datasets")
    datasets.disable_progress_bars()
    folder = tmp_path_factory.mktemp("docs")
    out = {}
    for fmt in ("jsonl", "csv", "parquet", "txt"):
        out[fmt] = folder / fmt
        out[fmt].mkdir()
        for name, docs in (("a-train", TRAIN), ("b-test", TEST)):
            path = out[fmt] / f"{name}.{fmt}"
            frame = pd.DataFrame({"id": range(len(docs)), "text": docs})
            if fmt == "jsonl":
                path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict("records")))
            elif fmt == "csv":
                frame.to_csv(path, index=False)
            elif fmt == "parquet":
                frame.to_parquet(path)
            else:
                path.write_text("\n%\n".join(docs))
    out["datasets"] = folder / "saved"
    splits = {"train": TRAIN, "test": TEST}
    datasets.DatasetDict({k: datasets.Dataset.from_dict({"text": v}) for k, v in splits.items()}).save_to_disk(
        out["datasets"]
    )
    return out


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "txt", "datasets"])
def test_every_format_gives_the_same_split(corpus: dict[str, Path], fmt: str) -> None:
    from modelcollapse.sources.text import load_corpus

    c = load_corpus((str(corpus[fmt]),), 200, 64, 2, "chars")
    assert [c.decode(d) for d in c.train] == TRAIN
    assert len(c.test) == len(TEST) and c.train_text == frozenset(TRAIN)  # unseen characters decode as <unk>


def test_bad_tables_are_refused_by_name(corpus: dict[str, Path], tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = corpus["csv"] / "a-train.csv"
    with pytest.raises(ValueError) as err:
        documents.read(path, "body")
    assert str(err.value) == f"source.column: 'body' is not a column of {path}; it has: 'id', 'text'"
    with pytest.raises(ValueError) as err:
        documents.read(corpus["datasets"], "body")
    assert str(err.value) == f"source.column: 'body' is not a column of {corpus['datasets']}; it has: 'text'"
    numbers = tmp_path / "n.jsonl"
    numbers.write_text('{"text": "fine"}\n{"text": 3}\n')
    with pytest.raises(ValueError) as err:
        documents.read(numbers, "text")
    assert str(err.value) == f"source.column: row 1 of 'text' in {numbers} is int, not text"
    monkeypatch.setattr(documents, "MAX_BYTES", 10)
    with pytest.raises(ValueError) as err:
        documents.read(numbers, "text")
    assert str(err.value) == f"source.paths: {numbers} holds 29 bytes; at most 10 are read"


def hf_source(corpus: dict[str, Path], **fields) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return {"kind": "text", "paths": [str(corpus["jsonl"])], "tokenizer": "hf", "max_tokens": MAX, "test_every": 2,
            **fields}


def test_the_models_own_tokenizer(base: Path, corpus: dict[str, Path]) -> None:
    exp = experiment(source=hf_source(corpus), model={"kind": "hf-lm", "model": str(base), "device": "cpu"})
    assert exp.source.tokenizer_path == str(base)  # the model's own, by default
    c = exp.source.build().corpus()
    tok = transformers.AutoTokenizer.from_pretrained(base)
    assert len(c.vocab) == len(tok) and c.vocab[0] == "<|endoftext|>" and c.vocab[2] == "<pad>"
    assert [c.decode(d) for d in c.train] == TRAIN
    ids = tok(TRAIN[0], add_special_tokens=False)["input_ids"]
    assert c.train[0].tolist() == [{0: 2, 2: 0}.get(i, i) for i in ids]  # 0 and EOS trade places
    with pytest.raises(ValueError, match="tokenizer_path: give it with tokenizer hf"):
        experiment(source=hf_source(corpus), model={"kind": "gpt", "device": "cpu"})


def test_the_loss_is_the_models_own_on_bos_doc_eos(base: Path, corpus: dict[str, Path]) -> None:
    """Our held-out loss of the untrained base equals the model's cross-entropy of ``<s> doc <|endoftext|>``
    over the tokenizer's ids, computed here with transformers alone."""
    exp = experiment(source=hf_source(corpus), model={"kind": "hf-lm", "model": str(base), "device": "cpu"})
    world = exp.source.build().world(1, 8, np.random.default_rng(0))
    net = exp.family().new_net(world).eval()
    ours = float(_test_nll(type("P", (), {"models": [net]})(), world)[0])
    tok = transformers.AutoTokenizer.from_pretrained(base)
    model = transformers.GPT2LMHeadModel.from_pretrained(base).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for text in TEST:
            ids = tok(text, add_special_tokens=False)["input_ids"][:MAX]
            seq = torch.tensor([[tok.bos_token_id, *ids, tok.eos_token_id]])
            logits = model(seq[:, :-1]).logits[0, :, : len(tok)]
            total += float(torch.nn.functional.cross_entropy(logits, seq[0, 1:], reduction="sum"))
            count += len(ids) + 1
    assert ours == pytest.approx(total / count, rel=1e-5)


@pytest.mark.parametrize("prompt_tokens", [0, 2])
def test_the_sft_chain_under_three_workflows(base: Path, corpus: dict[str, Path], prompt_tokens: int) -> None:
    model = {"kind": "hf-lm", "model": str(base), "steps": 3, "batch_size": 4, "device": "cpu",
             "prompt_tokens": prompt_tokens}
    fields = {"source": hf_source(corpus, paths=[str(corpus["datasets"])]), "model": model,
              "samples_per_generation": 8, "generations": 3, "replicates": 1,
              "workflow": ["replace", "accumulate", {"kind": "accumulate-subsample"}]}
    out = simulate(**fields)
    assert out["replace"]["train_size"][:, 0].tolist() == [8, 8, 8]
    assert out["accumulate"]["train_size"][:, 0].tolist() == [8, 16, 24]
    assert out["accumulate-subsample"]["train_size"][:, 0].tolist() == [8, 8, 8]
    for w in out:
        assert np.isfinite(out[w]["test_nll"]).all()
    again = simulate(**fields)
    assert np.array_equal(again["accumulate"]["test_nll"], out["accumulate"]["test_nll"])
    exp = experiment(**fields)
    fam, world = exp.family(), exp.source.build().world(1, 8, np.random.default_rng(0))
    docs = fam.draw(fam.new_net(world).eval(), 16, np.random.default_rng(1), prompts=world.train.cols["x"][0])
    assert docs.shape == (16, MAX) and (docs >= PAD).all() and (docs < fam.vocab).all()
    assert not ((docs[:, :-1] == PAD) & (docs[:, 1:] != PAD)).any()  # padding only after a document's end
    if prompt_tokens:
        starts = {tuple(d[:2]) for d in world.train.cols["x"][0]}
        assert all(tuple(d[:2]) in starts for d in docs)
