"""Train a byte-level BPE tokenizer on a dataset version, and measure it.

No Django here: the Celery task in ``console.data`` calls these functions and
records what they return.

Input: a normalized dataset version, a directory holding ``documents.jsonl``
(one ``{"text": ...}`` object per line, UTF-8). A path straight to a ``.jsonl``
file is accepted too.

Output (``out_dir``), loadable with ``transformers.AutoTokenizer.from_pretrained``:

- ``tokenizer.json``: the ``tokenizers`` model (byte-level BPE, no normalizer,
  ByteLevel pre-tokenizer and decoder, so ``decode(encode(text)) == text`` for
  any text);
- ``tokenizer_config.json`` and ``special_tokens_map.json``: ``<bos>``, ``<eos>``,
  ``<pad>``, ``<unk>`` with ids 0, 1, 2, 3. The tokenizer adds no special tokens
  by itself (no post-processor): ``shards.py`` appends ``<eos>`` after each
  document and, if asked, ``<bos>`` before;
- ``forge_tokenizer.json``: the report this module returns.

Training streams: documents go to ``train_from_iterator`` in batches, never all
at once. Every ``HELDOUT_EVERY``-th document (up to ``HELDOUT_MAX_DOCS`` documents
and ``HELDOUT_MAX_BYTES`` bytes) is kept out of training and used to measure
bytes per token. BPE stops early when no pair of tokens occurs at least
``min_frequency`` times, so a small corpus ends up with fewer tokens than asked
for; the report gives the size actually reached.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

SPECIAL_TOKENS = ("<bos>", "<eos>", "<pad>", "<unk>")
BOS, EOS, PAD, UNK = SPECIAL_TOKENS
MIN_VOCAB = 256 + len(SPECIAL_TOKENS)
MAX_VOCAB = 1_000_000
HELDOUT_EVERY = 50  # documents 49, 99, 149, ... (0-based) are held out
HELDOUT_MAX_DOCS = 2_000
HELDOUT_MAX_BYTES = 8 * 2**20
BATCH_DOCUMENTS = 1_000
REPORT_FILE = "forge_tokenizer.json"

SAMPLE_SENTENCES = (
    ("en", "The quick brown fox jumps over the lazy dog."),
    ("en", "Drink water regularly through the day rather than waiting until you feel thirsty."),
    ("en", "The court dismissed the appeal and ordered each party to bear its own costs."),
    ("zh", "机器学习模型需要大量高质量的训练数据。"),
    ("zh", "报告期内，公司实现营业收入12.5亿元，同比增长8.3%。"),  # noqa: RUF001
    ("zh", "床前明月光，疑是地上霜。举头望明月，低头思故乡。"),  # noqa: RUF001
    ("mixed", "Forge 把数据集、分词器和训练任务放在同一个控制台里。"),
)

Progress = Callable[[float, str], None]


class TokenizerError(ValueError):
    """Bad parameters or unusable input; the message says which."""


# --------------------------------------------------------------------------- input


def documents_path(version_dir: Path) -> Path:
    """``version_dir/documents.jsonl``, or ``version_dir`` itself if it is a file."""
    path = Path(version_dir)
    if path.is_file():
        return path
    candidate = path / "documents.jsonl"
    if not candidate.is_file():
        raise TokenizerError(f"{path}: no documents.jsonl in this dataset version")
    return candidate


def iter_documents(path: Path, hasher=None) -> Iterator[tuple[str, int]]:
    """Yield ``(text, bytes_read_so_far)`` for each line of a documents.jsonl file.

    Streams line by line. Blank lines are skipped; a line that is not a JSON
    object with a string ``text`` is an error naming the line. ``hasher`` (e.g.
    ``hashlib.sha256()``), if given, is updated with every byte read.
    """
    read = 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            read += len(raw)
            if hasher is not None:
                hasher.update(raw)
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError as exc:
                raise TokenizerError(f"{path.name} line {lineno}: not valid JSON ({exc})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise TokenizerError(
                    f'{path.name} line {lineno}: expected an object with a string "text"'
                )
            yield obj["text"], read


def _check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TokenizerError(f"{name} must be an integer, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo:,} and {hi:,}" if hi is not None else f"at least {lo:,}"
        raise TokenizerError(f"{name} must be {bound}, got {value:,}")
    return value


# --------------------------------------------------------------------------- training


def train_tokenizer(
    version_dir: Path,
    out_dir: Path,
    *,
    vocab_size: int = 52_000,
    min_frequency: int = 2,
    progress: Progress | None = None,
    max_documents: int | None = None,
) -> dict:
    """Train a byte-level BPE tokenizer and save it in Hugging Face format.

    ``vocab_size`` counts the 256 byte tokens and the 4 special tokens, so it must
    be at least 260 (and at most 1,000,000). ``max_documents`` caps how many
    documents are read (training and held-out together). ``progress(fraction,
    message)`` is called as the corpus is read (0-0.8, by bytes), then while the
    merges are computed, saved and measured; an exception raised by it aborts
    training. Returns the report also written to ``forge_tokenizer.json``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    _check_int("vocab_size", vocab_size, MIN_VOCAB, MAX_VOCAB)
    _check_int("min_frequency", min_frequency, 1)
    if max_documents is not None:
        _check_int("max_documents", max_documents, 1)
    source = documents_path(version_dir)
    out_dir = Path(out_dir)
    total_bytes = max(source.stat().st_size, 1)
    report = progress or (lambda fraction, message: None)
    started = time.monotonic()

    counts = {"read": 0, "trained": 0, "empty": 0, "bytes_trained": 0, "heldout_bytes": 0}
    heldout: list[str] = []

    def batches() -> Iterator[list[str]]:
        batch: list[str] = []
        last = 0.0
        for text, read in iter_documents(source):
            if max_documents is not None and counts["read"] >= max_documents:
                break
            index = counts["read"]
            counts["read"] += 1
            if not text:
                counts["empty"] += 1
                continue
            size = len(text.encode("utf-8"))
            if (
                index % HELDOUT_EVERY == HELDOUT_EVERY - 1
                and len(heldout) < HELDOUT_MAX_DOCS
                and counts["heldout_bytes"] + size <= HELDOUT_MAX_BYTES
            ):
                heldout.append(text)
                counts["heldout_bytes"] += size
                continue
            batch.append(text)
            counts["trained"] += 1
            counts["bytes_trained"] += size
            if len(batch) >= BATCH_DOCUMENTS:
                yield batch
                batch = []
                fraction = 0.8 * read / total_bytes
                if fraction - last >= 0.01:
                    last = fraction
                    report(fraction, f"read {counts['read']:,} documents")
        if batch:
            yield batch
        report(0.8, f"read {counts['read']:,} documents; computing merges")

    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    report(0.0, "reading documents")
    tokenizer.train_from_iterator(batches(), trainer=trainer)
    if counts["trained"] == 0:
        raise TokenizerError(f"{source}: no non-empty documents to train on")

    written: list[Path] = []
    try:
        report(0.9, "saving")
        written = save_pretrained(tokenizer, out_dir)
        report(0.95, "measuring on held-out documents")
        stats = tokenizer_stats(out_dir, heldout)
        achieved = tokenizer.get_vocab_size(with_added_tokens=True)
        result = {
            "format": "forge.tokenizer-report",
            "version": 1,
            "algorithm": "byte-level BPE",
            "vocab_size_requested": vocab_size,
            "vocab_size": achieved,
            "merges": achieved - 256 - len(SPECIAL_TOKENS),
            "reached_requested_size": achieved >= vocab_size,
            "note": (
                None
                if achieved >= vocab_size
                else f"the corpus supports only {achieved:,} tokens at min_frequency="
                f"{min_frequency}: no pair of tokens is frequent enough for more merges"
            ),
            "min_frequency": min_frequency,
            "special_tokens": {t: tokenizer.token_to_id(t) for t in SPECIAL_TOKENS},
            "documents_read": counts["read"],
            "documents_trained": counts["trained"],
            "documents_empty": counts["empty"],
            "bytes_trained": counts["bytes_trained"],
            "heldout_documents": len(heldout),
            "heldout_bytes": counts["heldout_bytes"],
            "heldout_rule": f"every {HELDOUT_EVERY}th document, at most {HELDOUT_MAX_DOCS:,} "
            f"documents and {HELDOUT_MAX_BYTES:,} bytes",
            "max_documents": max_documents,
            "source": str(source),
            "tokenizer_sha256": _sha256(out_dir / "tokenizer.json"),
            "seconds": round(time.monotonic() - started, 3),
            "files": [*sorted(p.name for p in written), REPORT_FILE],
            "stats": stats,
        }
        report_path = out_dir / REPORT_FILE
        report_path.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", "utf-8")
        written.append(report_path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    report(1.0, f"done: {achieved:,} tokens")
    return result


def save_pretrained(tokenizer, out_dir: Path) -> list[Path]:
    """Save a ``tokenizers.Tokenizer`` as a Hugging Face fast tokenizer.

    ``PreTrainedTokenizerFast.save_pretrained`` writes tokenizer.json and
    tokenizer_config.json; the config names the class ``PreTrainedTokenizerFast``
    (loadable by transformers 4 and 5), and special_tokens_map.json, which
    transformers 5 no longer writes, is added for older readers.
    """
    from transformers import PreTrainedTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        clean_up_tokenization_spaces=False,
    )
    written = [Path(p) for p in fast.save_pretrained(str(out_dir))]
    config_path = out_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text("utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config["clean_up_tokenization_spaces"] = False
    config.pop("model_max_length", None)  # "no limit" is a 31-digit number in the file
    config_path.write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", "utf-8")
    special_path = out_dir / "special_tokens_map.json"
    special = {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD, "unk_token": UNK}
    special_path.write_text(json.dumps(special, indent=2) + "\n", "utf-8")
    return sorted({*written, config_path, special_path})


# --------------------------------------------------------------------------- statistics


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x20000 <= o <= 0x2FA1F
        or 0xF900 <= o <= 0xFAFF
        or 0x3000 <= o <= 0x303F
        or 0xFF00 <= o <= 0xFFEF
    )


def script_of(text: str) -> str:
    """'cjk' when at least 30% of the letters are CJK, else 'latin' (a rough bucket)."""
    letters = [c for c in text if c.isalpha() or _is_cjk(c)]
    if not letters:
        return "other"
    cjk = sum(1 for c in letters if _is_cjk(c))
    return "cjk" if cjk / len(letters) >= 0.3 else "latin"


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table used by the ByteLevel pre-tokenizer."""
    bs = list(range(ord("!"), ord("~") + 1))
    bs += list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


_UNICODE_TO_BYTE = {v: k for k, v in _bytes_to_unicode().items()}


def token_bytes(token: str) -> bytes | None:
    """The raw bytes a byte-level token stands for (None for special tokens)."""
    if token in SPECIAL_TOKENS:
        return None
    try:
        return bytes(_UNICODE_TO_BYTE[c] for c in token)
    except KeyError:
        return None


def _measure(tokenizer, texts: list[str], unk_id: int | None) -> dict:
    n_bytes = n_chars = n_tokens = unk = exact = 0
    for start in range(0, len(texts), 256):
        chunk = texts[start : start + 256]
        encodings = tokenizer.encode_batch(chunk, add_special_tokens=False)
        for text, enc in zip(chunk, encodings, strict=True):
            ids = enc.ids
            n_bytes += len(text.encode("utf-8"))
            n_chars += len(text)
            n_tokens += len(ids)
            if unk_id is not None:
                unk += ids.count(unk_id)
            exact += tokenizer.decode(ids, skip_special_tokens=False) == text
    return {
        "documents": len(texts),
        "bytes": n_bytes,
        "characters": n_chars,
        "tokens": n_tokens,
        "bytes_per_token": round(n_bytes / n_tokens, 4) if n_tokens else None,
        "characters_per_token": round(n_chars / n_tokens, 4) if n_tokens else None,
        "unk_tokens": unk,
        "exact_roundtrips": exact,
    }


def tokenizer_stats(tokenizer_dir: Path, heldout_texts: list[str]) -> dict:
    """Vocabulary size, bytes per token on held-out text, and sample tokenizations.

    Text is encoded as training data is (``shards.py``): no special tokens added,
    and strings such as ``"<eos>"`` inside the text encoded as plain text.
    ``by_script`` splits the held-out documents into mostly-Latin and mostly-CJK.
    With no held-out text (a corpus under 50 documents), ``heldout`` is measured
    on the sample sentences instead and says so.
    """
    from tokenizers import Tokenizer

    path = Path(tokenizer_dir) / "tokenizer.json"
    if not path.is_file():
        raise TokenizerError(f"{tokenizer_dir}: no tokenizer.json")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.encode_special_tokens = True
    unk_id = tokenizer.token_to_id(UNK)
    texts = [t for t in heldout_texts if t]
    measured_on = "heldout"
    if not texts:
        texts = [s for _, s in SAMPLE_SENTENCES]
        measured_on = "sample sentences (no held-out documents)"
    by_script: dict[str, list[str]] = {}
    for text in texts:
        by_script.setdefault(script_of(text), []).append(text)
    samples = []
    for lang, sentence in SAMPLE_SENTENCES:
        enc = tokenizer.encode(sentence, add_special_tokens=False)
        pieces = []
        for tok in enc.tokens:
            raw = token_bytes(tok)
            pieces.append(tok if raw is None else raw.decode("utf-8", errors="backslashreplace"))
        samples.append(
            {
                "language": lang,
                "text": sentence,
                "ids": enc.ids,
                "tokens": enc.tokens,
                "pieces": pieces,
                "n_tokens": len(enc.ids),
                "bytes_per_token": round(len(sentence.encode()) / max(len(enc.ids), 1), 3),
            }
        )
    overall = _measure(tokenizer, texts, unk_id)
    return {
        "vocab_size": tokenizer.get_vocab_size(with_added_tokens=True),
        "special_tokens": {t: tokenizer.token_to_id(t) for t in SPECIAL_TOKENS},
        "measured_on": measured_on,
        "bytes_per_token": overall["bytes_per_token"],
        "heldout": overall,
        "by_script": {k: _measure(tokenizer, v, unk_id) for k, v in sorted(by_script.items())},
        "samples": samples,
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
