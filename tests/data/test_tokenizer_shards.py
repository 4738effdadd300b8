"""Tokenizer training, shard writing and the GPU-side reader, on the sample corpus.

No database. The module trains one small tokenizer (vocab 2,000) and writes one
shard folder, shared by the tests below.
"""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

import gpu_agent.data
from console.data.engine.shards import (
    ShardError,
    ShardingCancelled,
    dtype_for_vocab,
    split_of,
    tokenize_to_shards,
)
from console.data.engine.tokenizer import (
    SPECIAL_TOKENS,
    TokenizerError,
    iter_documents,
    tokenizer_stats,
    train_tokenizer,
)
from gpu_agent.data import PackedShards, ShardIndexError

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
SEQ_LEN = 256
VAL_FRACTION = 0.1
SEED = 7

ROUNDTRIP_TEXTS = [
    "The court dismissed the appeal and ordered each party to bear its own costs.",
    "  Leading spaces, tabs\tand\nnew lines\r\n stay exactly as they were.  ",
    "机器学习模型需要大量高质量的训练数据。",
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",  # noqa: RUF001
    "Mixed 中英文 text with emoji 🙂, accents (café, naïve) and ½ ≠ 0.5.",
    "A literal <eos> or <pad> in a document is text, not a control token.",
    "",
]


def write_version(folder: Path, texts: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "documents.jsonl", "w", encoding="utf-8") as f:
        for text in texts:
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    (folder / "manifest.json").write_text("{}\n")
    return folder


# Asks pytest-xdist (--dist loadgroup) to run this module on one worker, as its
# session/module fixtures are built per worker; not honoured yet (see the Makefile).
pytestmark = pytest.mark.xdist_group("tokenizer_shards")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    texts = [
        json.loads(line)["text"]
        for name in ("en.jsonl", "zh.jsonl")
        for line in (SAMPLE / name).read_text("utf-8").splitlines()
    ]
    return write_version(tmp_path_factory.mktemp("version"), texts)


@pytest.fixture(scope="module")
def texts(corpus) -> list[str]:
    return [text for text, _ in iter_documents(corpus / "documents.jsonl")]


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("tok") / "tokenizer"
    calls = []
    report = train_tokenizer(
        corpus, out, vocab_size=2_000, progress=lambda f, m: calls.append((f, m))
    )
    assert calls[0][0] == 0.0 and calls[-1][0] == 1.0
    assert all(0.0 <= f <= 1.0 for f, _ in calls)
    return out, report


@pytest.fixture(scope="module")
def tok(trained) -> Tokenizer:
    t = Tokenizer.from_file(str(trained[0] / "tokenizer.json"))
    t.encode_special_tokens = True
    return t


@pytest.fixture(scope="module")
def sharded(corpus, trained, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("shards") / "v1"
    report = tokenize_to_shards(
        corpus,
        trained[0],
        out,
        seq_len=SEQ_LEN,
        val_fraction=VAL_FRACTION,
        shard_tokens=SEQ_LEN * 64,
        seed=SEED,
    )
    return out, report


# --------------------------------------------------------------------------- tokenizer


def test_training_report_and_files(trained, texts):
    out, report = trained
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "forge_tokenizer.json",
    ):
        assert (out / name).is_file(), name
    assert report["vocab_size_requested"] == 2_000
    assert 1_500 <= report["vocab_size"] <= 2_000
    assert report["special_tokens"] == {t: i for i, t in enumerate(SPECIAL_TOKENS)}
    assert report["documents_read"] == len(texts)
    assert report["heldout_documents"] == len(texts) // 50
    assert report["documents_trained"] + report["heldout_documents"] == len(texts)
    stats = report["stats"]
    assert stats["measured_on"] == "heldout"
    assert stats["heldout"]["exact_roundtrips"] == report["heldout_documents"]
    assert stats["heldout"]["unk_tokens"] == 0
    assert 1.5 < stats["bytes_per_token"] < 10
    assert set(stats["by_script"]) >= {"latin", "cjk"}
    langs = {s["language"] for s in stats["samples"]}
    assert {"en", "zh"} <= langs
    for sample in stats["samples"]:
        assert len(sample["ids"]) == len(sample["tokens"]) == sample["n_tokens"] > 0
    saved = json.loads((out / "forge_tokenizer.json").read_text())
    assert saved["vocab_size"] == report["vocab_size"]


@pytest.mark.parametrize("text", ROUNDTRIP_TEXTS)
def test_byte_level_roundtrip(tok, text):
    ids = tok.encode(text, add_special_tokens=False).ids
    assert tok.decode(ids, skip_special_tokens=False) == text
    assert 1 not in ids  # "<eos>" inside text is not the eos token


def test_autotokenizer_loads_with_special_tokens(trained):
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(trained[0]))
    assert (hf.bos_token, hf.eos_token, hf.pad_token, hf.unk_token) == SPECIAL_TOKENS
    assert (hf.bos_token_id, hf.eos_token_id, hf.pad_token_id, hf.unk_token_id) == (0, 1, 2, 3)
    for text in ROUNDTRIP_TEXTS[:5]:
        ids = hf(text)["input_ids"]
        assert hf.decode(ids) == text  # no special tokens added, exact decode
    special = json.loads((trained[0] / "special_tokens_map.json").read_text())
    assert special["eos_token"] == "<eos>"
    config = json.loads((trained[0] / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"


def test_bytes_per_token_is_bytes_over_tokens(trained, tok):
    held = ["The river rose quickly on Tuesday night.", "镇上保存的古戏台始建于清代。"]
    stats = tokenizer_stats(trained[0], held)
    n_tokens = sum(len(tok.encode(t, add_special_tokens=False).ids) for t in held)
    n_bytes = sum(len(t.encode("utf-8")) for t in held)
    assert stats["heldout"]["tokens"] == n_tokens
    assert stats["bytes_per_token"] == round(n_bytes / n_tokens, 4)
    assert set(stats["by_script"]) == {"latin", "cjk"}
    assert tokenizer_stats(trained[0], [])["measured_on"].startswith("sample sentences")


def test_max_documents_caps_what_is_read(corpus, tmp_path):
    report = train_tokenizer(corpus, tmp_path / "tok", vocab_size=300, max_documents=120)
    assert report["documents_read"] == 120
    assert report["heldout_documents"] == 2  # documents 49 and 99


def test_small_corpus_reports_vocab_actually_reached(tmp_path):
    version = write_version(tmp_path / "v", ["A short note about rivers and bridges."] * 60)
    report = train_tokenizer(version, tmp_path / "tok", vocab_size=52_000)
    assert report["vocab_size"] < 400
    assert report["reached_requested_size"] is False
    assert str(report["vocab_size"]) in report["note"].replace(",", "")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vocab_size": 259}, "between 260 and 1,000,000"),
        ({"vocab_size": 1_000_001}, "between 260 and 1,000,000"),
        ({"vocab_size": "52000"}, "must be an integer"),
        ({"vocab_size": True}, "must be an integer"),
        ({"min_frequency": 0}, "min_frequency must be at least 1"),
        ({"max_documents": 0}, "max_documents must be at least 1"),
    ],
)
def test_training_parameters_are_validated(tmp_path, kwargs, message):
    version = write_version(tmp_path / "v", ["hello world"] * 3)
    with pytest.raises(TokenizerError, match=message):
        train_tokenizer(version, tmp_path / "tok", **kwargs)


def test_bad_input_gives_clear_errors(tmp_path):
    with pytest.raises(TokenizerError, match=r"no documents\.jsonl"):
        train_tokenizer(tmp_path, tmp_path / "tok", vocab_size=300)
    version = tmp_path / "v"
    version.mkdir()
    (version / "documents.jsonl").write_text('{"text": "fine"}\n{"text": 3}\n')
    with pytest.raises(TokenizerError, match="line 2"):
        train_tokenizer(version, tmp_path / "tok", vocab_size=300)


# --------------------------------------------------------------------------- shards


def test_index_and_files(sharded, trained, corpus):
    out, report = sharded
    index = json.loads((out / "index.json").read_text())
    documents = (corpus / "documents.jsonl").read_bytes()
    assert index["source"]["sha256"] == hashlib.sha256(documents).hexdigest()
    assert index["tokenizer"]["sha256"] == trained[1]["tokenizer_sha256"]
    assert index["format"] == "forge.packed-shards" and index["version"] == 1
    assert index["dtype"] == "uint16" and index["seq_len"] == SEQ_LEN
    assert (index["eos_id"], index["pad_id"], index["bos_id"]) == (1, 2, 0)
    assert len(index["tokenizer"]["sha256"]) == 64
    train, val = index["splits"]["train"], index["splits"]["val"]
    assert len(train["shards"]) > 1  # 64 sequences per shard
    files = sorted(p.name for p in out.iterdir())
    expected = [*(s["file"] for s in train["shards"] + val["shards"]), "index.json"]
    assert files == sorted(expected)
    for shard in train["shards"] + val["shards"]:
        size = (out / shard["file"]).stat().st_size
        assert size == shard["sequences"] * SEQ_LEN * 2 == shard["bytes"]
        assert shard["sequences"] <= 64
    totals = index["totals"]
    assert totals["sequences"] == train["sequences"] + val["sequences"]
    assert report["totals"] == totals


def test_total_tokens_are_encoded_lengths_plus_eos(sharded, tok, texts):
    index = sharded[1]
    docs = [t for t in texts if t]
    encoded = sum(len(e.ids) for e in tok.encode_batch(docs, add_special_tokens=False))
    assert index["totals"]["tokens"] == encoded + len(docs)
    assert index["totals"]["documents"] == len(docs)
    train, val = index["splits"]["train"], index["splits"]["val"]
    assert train["tokens"] + val["tokens"] == index["totals"]["tokens"]
    for split in (train, val):
        assert split["sequences"] * SEQ_LEN - split["padding_tokens"] == split["tokens"]


def test_packed_stream_is_documents_joined_by_eos(sharded, tok, texts):
    out, index = sharded
    for split in ("train", "val"):
        docs = [t for t in texts if t and split_of(t, SEED, VAL_FRACTION) == split]
        expected = []
        for enc in tok.encode_batch(docs, add_special_tokens=False):
            expected.extend(enc.ids)
            expected.append(index["eos_id"])
        ds = PackedShards(out, split)
        got = np.concatenate(
            [ds[i]["input_ids"][ds[i]["attention_mask"] == 1] for i in range(len(ds))]
        )
        assert got.tolist() == expected
        assert index["splits"][split]["documents"] == len(docs)


def test_split_follows_val_fraction_and_keeps_duplicates_together(sharded, texts):
    index = sharded[1]
    docs = index["totals"]["documents"]
    val_docs = index["splits"]["val"]["documents"]
    assert abs(val_docs / docs - VAL_FRACTION) < 0.04
    assert abs(index["totals"]["val_tokens"] / index["totals"]["tokens"] - VAL_FRACTION) < 0.05
    planted = json.loads((SAMPLE / "planted.json").read_text())["en"]["planted"]
    en_lines = (SAMPLE / "en.jsonl").read_text("utf-8").splitlines()
    dups = [p for p in planted if p["kind"] == "exact_duplicate"]
    assert dups
    for dup in dups:
        a = json.loads(en_lines[dup["line"] - 1])["text"]
        b = json.loads(en_lines[dup["of_line"] - 1])["text"]
        assert a == b and split_of(a, SEED, VAL_FRACTION) == split_of(b, SEED, VAL_FRACTION)
    assert split_of("anything", SEED, 0.0) == "train"


def test_items_mask_padding(sharded):
    out, index = sharded
    for split in ("train", "val"):
        ds = PackedShards(out, split)
        info = index["splits"][split]
        assert len(ds) == info["sequences"] > 0
        first = ds[0]
        assert set(first) == {"input_ids", "attention_mask", "labels"}
        for value in first.values():
            assert value.shape == (SEQ_LEN,) and value.dtype == np.int64
        assert first["attention_mask"].all() and (first["labels"] == first["input_ids"]).all()
        last = ds[-1]
        real = info["last_sequence_tokens"]
        assert last["attention_mask"].sum() == real
        assert (last["labels"][:real] == last["input_ids"][:real]).all()
        assert (last["labels"][real:] == -100).all()
        assert (last["input_ids"][real:] == index["pad_id"]).all()
        assert info["padding_tokens"] == SEQ_LEN - real
        assert ds.num_tokens == info["tokens"]
    with pytest.raises(IndexError):
        ds[len(ds)]


@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [False, True])
def test_rank_sharding_covers_every_sequence_once(sharded, world_size, shuffle):
    ds = PackedShards(sharded[0], "train")
    seen = []
    for rank in range(world_size):
        seen.extend(ds.rank_indices(shuffle=shuffle, seed=3, rank=rank, world_size=world_size))
    assert sorted(seen) == list(range(len(ds)))
    counts = [
        sum(
            len(b["input_ids"])
            for b in ds.iter_batches(8, shuffle=shuffle, seed=3, rank=r, world_size=world_size)
        )
        for r in range(world_size)
    ]
    assert sum(counts) == len(ds)
    even = [
        len(
            list(ds.iter_batches(8, shuffle=shuffle, rank=r, world_size=world_size, drop_last=True))
        )
        for r in range(world_size)
    ]
    assert len(set(even)) == 1 and even[0] == len(ds) // (8 * world_size)


def test_iter_batches_shapes_and_determinism(sharded):
    ds = PackedShards(sharded[0], "train")
    a = next(ds.iter_batches(4, shuffle=True, seed=1))
    b = next(ds.iter_batches(4, shuffle=True, seed=1))
    c = next(ds.iter_batches(4, shuffle=True, seed=1, epoch=1))
    assert a["input_ids"].shape == (4, SEQ_LEN) and a["labels"].dtype == np.int64
    assert (a["input_ids"] == b["input_ids"]).all()
    assert not (a["input_ids"] == c["input_ids"]).all()
    with pytest.raises(ValueError, match="rank"):
        ds.rank_indices(rank=2, world_size=2)


def test_torch_dataset(sharded):
    torch = pytest.importorskip("torch")
    ds = PackedShards(sharded[0], "val").as_torch_dataset()
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    batch = next(iter(loader))
    assert batch["input_ids"].shape == (4, SEQ_LEN) and batch["input_ids"].dtype == torch.int64
    # DataLoader workers receive the dataset pickled: it must travel as a folder
    # name, never as data, and its class must be findable by name.
    assert len(pickle.dumps(ds)) < 1_000
    assert gpu_agent.data.PackedTorchDataset is type(ds)
    clone = copy.deepcopy(ds)  # same __getstate__/__setstate__ path as pickle
    assert torch.equal(clone[len(clone) - 1]["labels"], ds[len(ds) - 1]["labels"])


def test_uint32_shards_for_a_large_vocabulary(tmp_path):
    from tokenizers import models, pre_tokenizers

    vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS)}
    vocab.update({f"w{i}": i + len(SPECIAL_TOKENS) for i in range(70_000)})
    wl = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    wl.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok_dir = tmp_path / "tok"
    tok_dir.mkdir()
    wl.save(str(tok_dir / "tokenizer.json"))
    docs = ["w69990 w5 w65535 w65536", "w0 w1 w69999", "w42"] * 5
    version = write_version(tmp_path / "v", docs)
    report = tokenize_to_shards(version, tok_dir, tmp_path / "out", seq_len=8, val_fraction=0.0)
    assert dtype_for_vocab(65_536).name == "uint16" and dtype_for_vocab(65_537).name == "uint32"
    assert report["dtype"] == "uint32" and report["vocab_size"] == 70_004
    ds = PackedShards(tmp_path / "out")
    stream = np.concatenate(
        [ds[i]["input_ids"][ds[i]["attention_mask"] == 1] for i in range(len(ds))]
    )
    assert stream[:5].tolist() == [69994, 9, 65539, 65540, 1]
    assert stream.size == report["totals"]["tokens"] == (5 + 4 + 2) * 5
    shard = report["splits"]["train"]["shards"][0]
    assert (tmp_path / "out" / shard["file"]).stat().st_size == shard["sequences"] * 8 * 4


def test_bos_and_literal_special_tokens(tmp_path, trained):
    version = write_version(tmp_path / "v", ["a <eos> b <bos>", "", "c"])
    report = tokenize_to_shards(
        version, trained[0], tmp_path / "out", seq_len=4, val_fraction=0.0, add_bos=True
    )
    ds = PackedShards(tmp_path / "out")
    stream = np.concatenate(
        [ds[i]["input_ids"][ds[i]["attention_mask"] == 1] for i in range(len(ds))]
    )
    assert stream[0] == 0 and stream[-1] == 1
    assert (stream == 1).sum() == 2 and (stream == 0).sum() == 2  # one bos/eos per document
    assert report["totals"]["documents"] == 2 and report["totals"]["documents_empty"] == 1


def test_cancel_cleans_up_and_occupied_out_dir_is_refused(corpus, trained, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ShardingCancelled):
        tokenize_to_shards(corpus, trained[0], out, seq_len=64, should_stop=lambda: True)
    assert list(out.iterdir()) == []
    tokenize_to_shards(corpus, trained[0], out, seq_len=64, shard_tokens=2**16)
    with pytest.raises(ShardError, match="already holds"):
        tokenize_to_shards(corpus, trained[0], out, seq_len=64)
    with pytest.raises(ShardError, match="val_fraction"):
        tokenize_to_shards(corpus, trained[0], tmp_path / "x", val_fraction=1.0)
    with pytest.raises(ShardError, match="seq_len"):
        tokenize_to_shards(corpus, trained[0], tmp_path / "x", seq_len=1)


def _edit_index(folder: Path, change) -> None:
    path = folder / "index.json"
    index = json.loads(path.read_text())
    change(index)
    path.write_text(json.dumps(index))


def test_corrupt_index_gives_clear_errors(sharded, tmp_path):
    def fresh() -> Path:
        dst = tmp_path / f"copy{len(list(tmp_path.iterdir()))}"
        shutil.copytree(sharded[0], dst)
        return dst

    folder = fresh()
    shard = json.loads((folder / "index.json").read_text())["splits"]["train"]["shards"][0]
    with open(folder / shard["file"], "r+b") as f:
        f.truncate(shard["bytes"] - 2)
    with pytest.raises(ShardIndexError, match=r"has [\d,]+ bytes; the index expects"):
        PackedShards(folder, "train")
    PackedShards(folder, "val")  # the other split is intact

    folder = fresh()
    _edit_index(folder, lambda ix: ix["splits"]["train"]["shards"][0].update(sequences=65))
    with pytest.raises(ShardIndexError, match="bytes"):
        PackedShards(folder, "train")

    folder = fresh()
    _edit_index(folder, lambda ix: ix["splits"]["train"].update(sequences=1))
    with pytest.raises(ShardIndexError, match="shards hold"):
        PackedShards(folder, "train")

    folder = fresh()
    _edit_index(folder, lambda ix: ix.update(version=99))
    with pytest.raises(ShardIndexError, match="version 99 is not supported"):
        PackedShards(folder)

    folder = fresh()
    _edit_index(folder, lambda ix: ix["splits"]["val"]["shards"][0].update(file="../x.bin"))
    with pytest.raises(ShardIndexError, match="bad file name"):
        PackedShards(folder, "val")

    folder = fresh()
    (folder / shard["file"]).write_bytes(b"\0" * shard["bytes"])
    PackedShards(folder, "train")  # sizes still agree
    with pytest.raises(ShardIndexError, match="sha256"):
        PackedShards(folder, "train", verify=True)

    with pytest.raises(ShardIndexError, match="no split 'test'"):
        PackedShards(sharded[0], "test")
    with pytest.raises(ShardIndexError, match=r"no index\.json"):
        PackedShards(tmp_path / "nowhere")
