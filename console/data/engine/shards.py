"""Tokenize a dataset version into packed, memory-mappable training shards.

No Django here. ``gpu_agent/data.py`` (``PackedShards``) reads what this writes.

Decisions
---------

Packing. Each document is encoded with the fast tokenizer (no special tokens
added, and special-token strings such as ``"<eos>"`` inside the text encoded as
plain text, so a document cannot inject control tokens), followed by ``<eos>``
(and preceded by ``<bos>`` when ``add_bos``). Documents are concatenated into one
stream per split and cut into sequences of exactly ``seq_len`` tokens; a
sequence may span a document boundary, the usual pre-training packing.

Split: by document, not by sequence. A document goes to validation when the
first 8 bytes of ``sha256(seed || text)`` read as a fraction fall below
``val_fraction``. So no document is split between train and validation; exact
duplicates land on the same side; and a document keeps its side when other
documents are added, removed or reordered, which keeps validation loss
comparable across dataset versions. The validation share is ``val_fraction`` of
the documents in expectation, not exactly. Validation is left empty, with a
warning in the report, when the corpus is too small to draw any document.

Remainder: padded, not dropped. The last, partial sequence of each split is
filled up to ``seq_len`` with ``<pad>`` (``<eos>`` when the tokenizer has no pad
token), and the index records how many of its tokens are real
(``last_sequence_tokens``); readers mask the rest (``attention_mask`` 0,
``labels`` -100). Nothing is lost, which matters for small fine-tuning sets, and
the cost is under one sequence per split.

On disk (``out_dir``)
---------------------

``train-00000.bin``, ``train-00001.bin``, ..., ``val-00000.bin``, ...: raw
little-endian ``uint16`` arrays when the vocabulary has at most 65,536 tokens,
else ``uint32``; each file holds a whole number of sequences, row after row, at
most ``shard_tokens`` tokens (rounded down to whole sequences). ``index.json``
describes them (see ``tokenize_to_shards``) and is written last, by rename: a
folder with an ``index.json`` is complete. On any error, including cancellation,
the files written so far are removed. The caller makes ``out_dir`` itself
atomic (a temporary folder, renamed when this returns).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from console.data.engine.tokenizer import EOS, PAD, documents_path, iter_documents
from gpu_agent.train.spec import TrainSpec

FORMAT = "forge.packed-shards"
FORMAT_VERSION = 1
INDEX_FILE = "index.json"
SPLITS = ("train", "val")
UINT16_MAX_VOCAB = 65_536
BATCH_DOCUMENTS = 512
BATCH_BYTES = 8 * 2**20

Progress = Callable[[float, str], None]

# A default run (the launch form's and TrainSpec's micro-batch and accumulation, one
# process) reads this many sequences per optimizer step; a corpus should hold at least
# USEFUL_STEPS such steps of training sequences, or a run repeats it over and over.
DEFAULT_STEP_SEQUENCES = TrainSpec().micro_batch * TrainSpec().grad_accum
USEFUL_STEPS = 10


class ShardError(ValueError):
    """Bad parameters, an unusable tokenizer or input, or an occupied out_dir."""


class ShardingCancelled(Exception):
    """``should_stop()`` returned true; the files written so far were removed."""


def split_of(text: str, seed: int, val_fraction: float) -> str:
    """'val' or 'train' for one document: a pure function of (seed, text)."""
    if val_fraction <= 0:
        return "train"
    digest = hashlib.sha256(seed.to_bytes(8, "little", signed=True) + text.encode()).digest()
    return "val" if int.from_bytes(digest[:8], "little") / 2**64 < val_fraction else "train"


def dtype_for_vocab(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size <= UINT16_MAX_VOCAB else np.dtype("<u4")


class _SplitWriter:
    """Packs one split's token stream into fixed-length rows across shard files."""

    def __init__(
        self, out_dir: Path, split: str, dtype: np.dtype, seq_len: int, rows_per_shard: int
    ) -> None:
        self.out_dir = out_dir
        self.split = split
        self.dtype = dtype
        self.seq_len = seq_len
        self.rows_per_shard = rows_per_shard
        self.carry = np.zeros(0, dtype=dtype)
        self.shards: list[dict] = []
        self.created: list[Path] = []
        self.documents = 0
        self.tokens = 0  # real tokens, padding excluded
        self.padding = 0
        self.last_sequence_tokens = 0
        self._file = None
        self._hash = None
        self._rows_in_shard = 0

    def add(self, stream: np.ndarray, documents: int) -> None:
        self.documents += documents
        self.tokens += int(stream.size)
        data = np.concatenate([self.carry, stream]) if self.carry.size else stream
        full = data.size // self.seq_len * self.seq_len
        self._write_rows(data[:full])
        self.carry = data[full:].copy()

    def finish(self, pad_id: int) -> None:
        if self.carry.size:
            real = int(self.carry.size)
            row = np.full(self.seq_len, pad_id, dtype=self.dtype)
            row[:real] = self.carry
            self.padding = self.seq_len - real
            self.carry = self.carry[:0]
            self._write_rows(row)
            self.last_sequence_tokens = real
        elif self.rows:
            self.last_sequence_tokens = self.seq_len
        self._close_shard()

    @property
    def rows(self) -> int:
        return sum(s["sequences"] for s in self.shards) + self._rows_in_shard

    def _write_rows(self, flat: np.ndarray) -> None:
        rows = flat.reshape(-1, self.seq_len)
        while rows.shape[0]:
            if self._file is None:
                self._open_shard()
            take = min(rows.shape[0], self.rows_per_shard - self._rows_in_shard)
            chunk = np.ascontiguousarray(rows[:take], dtype=self.dtype).tobytes()
            self._file.write(chunk)
            self._hash.update(chunk)
            self._rows_in_shard += take
            rows = rows[take:]
            if self._rows_in_shard == self.rows_per_shard:
                self._close_shard()

    def _open_shard(self) -> None:
        path = self.out_dir / f"{self.split}-{len(self.shards):05d}.bin"
        self._file = open(path, "xb")  # noqa: SIM115 - closed in _close_shard / close
        self.created.append(path)
        self._hash = hashlib.sha256()
        self._rows_in_shard = 0

    def _close_shard(self) -> None:
        if self._file is None:
            return
        self._file.close()
        name = Path(self._file.name).name
        self._file = None
        rows = self._rows_in_shard
        self.shards.append(
            {
                "file": name,
                "sequences": rows,
                "tokens": rows * self.seq_len,
                "bytes": rows * self.seq_len * self.dtype.itemsize,
                "sha256": self._hash.hexdigest(),
            }
        )
        self._rows_in_shard = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def summary(self) -> dict:
        return {
            "documents": self.documents,
            "sequences": self.rows,
            "tokens": self.tokens,
            "padding_tokens": self.padding,
            "last_sequence_tokens": self.last_sequence_tokens,
            "shards": self.shards,
        }


def _special_ids(tokenizer, tokenizer_dir: Path) -> dict[str, int | None]:
    """bos/eos/pad ids from special_tokens_map.json or tokenizer_config.json."""
    names: dict[str, str] = {}
    for file in ("tokenizer_config.json", "special_tokens_map.json"):
        path = tokenizer_dir / file
        if path.is_file():
            data = json.loads(path.read_text("utf-8"))
            for key in ("bos_token", "eos_token", "pad_token", "unk_token"):
                value = data.get(key)
                if isinstance(value, dict):  # {"content": "<eos>", ...}
                    value = value.get("content")
                if isinstance(value, str):
                    names[key] = value
    names.setdefault("eos_token", EOS)
    names.setdefault("pad_token", PAD)
    ids = {k[: -len("_token")]: tokenizer.token_to_id(v) for k, v in names.items()}
    return {k: ids.get(k) for k in ("bos", "eos", "pad", "unk")}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tokenize_to_shards(
    version_dir: Path,
    tokenizer_dir: Path,
    out_dir: Path,
    *,
    seq_len: int = 2048,
    val_fraction: float = 0.01,
    shard_tokens: int = 2**26,
    seed: int = 0,
    add_bos: bool = False,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Tokenize ``version_dir``'s documents into packed shards in ``out_dir``.

    ``out_dir`` may exist but must not already hold an index.json or .bin files.
    ``progress(fraction, message)`` is called after each batch (by bytes read);
    ``should_stop()`` is polled as often and, when true, raises
    ``ShardingCancelled`` after removing the partial output.

    ``index.json`` (format ``forge.packed-shards``, version 1) holds ``dtype``,
    ``byte_order``, ``seq_len``, ``vocab_size``, ``bos_id``/``eos_id``/``pad_id``,
    ``add_bos``, the tokenizer (path and sha256 of tokenizer.json), the source
    (path, bytes and sha256 of documents.jsonl), the split rule, and per split
    (``train``, ``val``): ``documents``, ``sequences``, ``tokens`` (real tokens,
    padding excluded), ``padding_tokens``, ``last_sequence_tokens`` and
    ``shards`` (each: ``file``, ``sequences``, ``tokens`` = sequences x seq_len,
    ``bytes``, ``sha256``), plus ``totals``. Returns the index plus timings.
    """
    from tokenizers import Tokenizer

    seq_len = _check_int("seq_len", seq_len, 2, 1 << 24)
    shard_tokens = _check_int("shard_tokens", shard_tokens, seq_len)
    seed = _check_int("seed", seed, -(2**63), 2**63 - 1)
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, int | float):
        raise ShardError(f"val_fraction must be a number, not {val_fraction!r}")
    if not 0 <= val_fraction < 1:
        raise ShardError(f"val_fraction must be at least 0 and below 1, got {val_fraction}")
    source = documents_path(version_dir)
    tokenizer_dir = Path(tokenizer_dir)
    tokenizer_file = tokenizer_dir / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise ShardError(f"{tokenizer_dir}: no tokenizer.json")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    occupied = [p.name for p in out_dir.iterdir() if p.suffix == ".bin" or p.name == INDEX_FILE]
    if occupied:
        raise ShardError(f"{out_dir} already holds shard files ({', '.join(sorted(occupied))})")

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.encode_special_tokens = True  # "<eos>" in a document is text, not a token
    encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
    vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
    dtype = dtype_for_vocab(vocab_size)
    ids = _special_ids(tokenizer, tokenizer_dir)
    if ids["eos"] is None:
        raise ShardError(f"{tokenizer_dir}: the tokenizer has no end-of-sequence token")
    if add_bos and ids["bos"] is None:
        raise ShardError(f"{tokenizer_dir}: add_bos is set but the tokenizer has no bos token")
    pad_id = ids["pad"] if ids["pad"] is not None else ids["eos"]
    prefix = [ids["bos"]] if add_bos else []
    suffix = [ids["eos"]]

    report = progress or (lambda fraction, message: None)
    total_bytes = max(source.stat().st_size, 1)
    rows_per_shard = shard_tokens // seq_len
    writers = {s: _SplitWriter(out_dir, s, dtype, seq_len, rows_per_shard) for s in SPLITS}
    source_hash = hashlib.sha256()
    started = time.monotonic()
    counts = {"documents": 0, "empty": 0, "text_bytes": 0, "read": 0}
    index_tmp = out_dir / (INDEX_FILE + ".tmp")

    def flush(batch: list[str]) -> None:
        encodings = encode(batch, add_special_tokens=False)
        streams: dict[str, list[int]] = {s: [] for s in SPLITS}
        docs = dict.fromkeys(SPLITS, 0)
        for text, enc in zip(batch, encodings, strict=True):
            split = split_of(text, seed, val_fraction)
            stream = streams[split]
            stream.extend(prefix)
            stream.extend(enc.ids)
            stream.extend(suffix)
            docs[split] += 1
        for split in SPLITS:
            if docs[split]:
                writers[split].add(np.asarray(streams[split], dtype=dtype), docs[split])

    try:
        batch: list[str] = []
        batch_bytes = 0
        report(0.0, "tokenizing")
        for text, read in iter_documents(source, source_hash):
            counts["read"] = read
            if not text:
                counts["empty"] += 1
                continue
            batch.append(text)
            counts["documents"] += 1
            batch_bytes += len(text)
            counts["text_bytes"] += len(text.encode("utf-8"))
            if len(batch) >= BATCH_DOCUMENTS or batch_bytes >= BATCH_BYTES:
                flush(batch)
                batch, batch_bytes = [], 0
                if should_stop is not None and should_stop():
                    raise ShardingCancelled("tokenization was cancelled")
                report(0.99 * read / total_bytes, f"{counts['documents']:,} documents")
        if batch:
            flush(batch)
        if counts["documents"] == 0:
            raise ShardError(f"{source}: no non-empty documents")
        for writer in writers.values():
            writer.finish(pad_id)

        splits = {s: writers[s].summary() for s in SPLITS}
        index = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "dtype": dtype.name,
            "byte_order": "little",
            "seq_len": seq_len,
            "vocab_size": vocab_size,
            "bos_id": ids["bos"],
            "eos_id": ids["eos"],
            "pad_id": pad_id,
            "add_bos": bool(add_bos),
            "packing": "documents joined with eos (bos before each when add_bos), cut into "
            "seq_len rows; a row may span documents",
            "remainder": "pad: the last row of each split is filled with pad_id; "
            "last_sequence_tokens of it are real",
            "tokenizer": {"path": str(tokenizer_dir), "sha256": _sha256_file(tokenizer_file)},
            "source": {
                "path": str(source),
                "bytes": source.stat().st_size,
                "sha256": source_hash.hexdigest(),
            },
            "split": {
                "by": "document",
                "rule": "val when sha256(seed as int64 LE + utf-8 text)[:8] as uint64 LE / "
                "2**64 < val_fraction",
                "val_fraction": val_fraction,
                "seed": seed,
            },
            "splits": splits,
            "totals": {
                "documents": counts["documents"],
                "documents_empty": counts["empty"],
                "sequences": sum(v["sequences"] for v in splits.values()),
                "tokens": sum(v["tokens"] for v in splits.values()),
                "padding_tokens": sum(v["padding_tokens"] for v in splits.values()),
                "train_tokens": splits["train"]["tokens"],
                "val_tokens": splits["val"]["tokens"],
                "text_bytes": counts["text_bytes"],
            },
        }
        index_tmp.write_text(json.dumps(index, indent=1) + "\n", "utf-8")
        os.replace(index_tmp, out_dir / INDEX_FILE)
    except BaseException:
        for writer in writers.values():
            writer.close()
            for path in writer.created:
                path.unlink(missing_ok=True)
        index_tmp.unlink(missing_ok=True)
        raise

    seconds = time.monotonic() - started
    warnings = index_warnings(index)
    report(1.0, f"done: {index['totals']['tokens']:,} tokens")
    return {
        **index,
        "out_dir": str(out_dir),
        "seconds": round(seconds, 3),
        "megabytes_per_second": round(counts["text_bytes"] / 2**20 / seconds, 3)
        if seconds
        else None,
        "tokens_per_second": round(index["totals"]["tokens"] / seconds) if seconds else None,
        "warnings": warnings,
    }


def index_warnings(index: dict) -> list[str]:
    """What makes a corpus (its ``index.json``) a poor or impossible training set, with
    the numbers: too few training sequences for a default run's optimizer steps, an
    empty validation split. Empty when it is fine. Launching checks the run's own batch
    (console.runs.services); this is the warning at tokenize time and on its page."""
    warnings = []
    splits = index.get("splits") or {}
    seq_len = index.get("seq_len", 0)
    train = (splits.get("train") or {}).get("sequences", 0)
    val = splits.get("val") or {}
    step = DEFAULT_STEP_SEQUENCES
    useful = USEFUL_STEPS * step
    if train < useful:
        s = "" if train == 1 else "s"
        need = (
            f"fewer than one optimizer step of a default run needs ({step}: micro-batch "
            f"{TrainSpec().micro_batch} × accumulation {TrainSpec().grad_accum} × 1 process), "  # noqa: RUF001
            "so a launch with the default batch is refused"
            if train < step
            else f"fewer than {useful:,} ({USEFUL_STEPS} optimizer steps of a default run at "
            f"{step} sequences a step), so a run would read them over and over"
        )
        warnings.append(
            f"only {train:,} training sequence{s} at length {seq_len}: {need}. Tokenize at "
            "a shorter length or add documents."
        )
    fraction = (index.get("split") or {}).get("val_fraction", 0)
    if fraction > 0 and val.get("documents", 0) == 0:
        documents = (index.get("totals") or {}).get("documents", 0)
        warnings.append(
            f"the validation split is empty: no document was drawn at val_fraction="
            f"{fraction} from {documents:,} documents, so a run cannot evaluate"
        )
    elif fraction <= 0:
        warnings.append("there is no validation split (val_fraction 0), so a run cannot evaluate")
    return warnings


def _check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ShardError(f"{name} must be an integer, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo:,} and {hi:,}" if hi is not None else f"at least {lo:,}"
        raise ShardError(f"{name} must be {bound}, got {value:,}")
    return value
