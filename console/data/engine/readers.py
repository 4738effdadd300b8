"""Read user text into documents, safely and as a stream.

Formats (``detect_format``):

* ``jsonl``: one JSON object per line; the document is the configurable text field.
  Blank lines are skipped. A line that is not JSON, not an object, lacks the
  field or has a non-string value is an error (naming file and line), not skipped.
* ``parquet``: a string column (the text field), read batch by batch.
* ``txt`` (also ``.text``, ``.md``): a file up to ``ReadLimits.txt_split_bytes``
  (8 MiB) is one document (a book, a ruling, a guideline). A larger file is read
  as a stream and split on blank lines, each block one document: big plain-text
  files are dumps of many texts, and one multi-gigabyte document is useful to no
  one. Inside archives the same rule applies to each ``.txt`` member.
* ``zip`` and ``tar.gz``: members ``.txt``/``.text``/``.md`` (as above) and
  ``.jsonl``/``.ndjson`` (read as JSONL). Directories, hidden files and
  ``__MACOSX/`` are skipped; any other member is an error.
* ``dir`` (a registered server-side directory, see ``detect_path_format``): the
  supported files under it, in sorted order.

Every document is validated UTF-8 (an error names the file and byte offset),
without NUL bytes (binary), and at most ``max_doc_chars`` long. Empty documents
are skipped; an input with none is an error. Nothing is ever extracted to disk:
archive members are streamed. Archive names, member types, member counts, declared
sizes and compression ratios are all checked before the first member is read, and
actual decompressed bytes are counted as they stream, so a lying header cannot
get past the limits either.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tarfile
import urllib.parse
import zipfile
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

FORMATS = ("jsonl", "parquet", "txt", "zip", "tar.gz")
TEXT_SUFFIXES = (".txt", ".text", ".md")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
_BOM = b"\xef\xbb\xbf"
# Ratio checks ignore members smaller than this: a 50 KB file of spaces is no bomb.
_RATIO_FLOOR_BYTES = 1 * MiB
_LONE_SURROGATE = re.compile(rb"\\[uU][dD][89a-fA-F][0-9a-fA-F]{2}")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_MAGIC = (
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "a zip archive"),
    (b"\x1f\x8b", "a gzip file"),
    (b"PAR1", "a Parquet file"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x7fELF", "an executable"),
    (b"\xfd7zXZ", "an xz archive"),
    (b"7z\xbc\xaf", "a 7z archive"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
)


class InputError(ValueError):
    """Input that cannot become a dataset version; the message is for the user."""


@dataclass(kw_only=True)
class ReadLimits:
    max_file_bytes: int = 2 * GiB  # an upload, a server file, or one archive member
    max_members: int = 100_000  # archive members or files under a directory
    max_total_uncompressed: int = 8 * GiB  # all members together, declared and actual
    max_ratio: float = 100.0  # uncompressed / compressed, per member and per archive
    max_doc_chars: int = 10_000_000
    txt_split_bytes: int = 8 * MiB  # .txt files larger than this are split on blank lines


def detect_format(filename: str) -> str:
    """The format of an upload by its name: one of ``FORMATS``, or InputError."""
    name = filename.strip().lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(TEXT_SUFFIXES):
        return "txt"
    raise InputError(
        f"{filename}: unsupported file type; upload .jsonl, .parquet, .txt, .zip or .tar.gz"
    )


def detect_path_format(path: Path) -> str:
    """Like ``detect_format``, and ``"dir"`` for a directory (server-side paths)."""
    return "dir" if path.is_dir() else detect_format(path.name)


def iter_documents(
    path: Path,
    *,
    fmt: str,
    text_field: str = "text",
    limits: ReadLimits | None = None,
    display_name: str | None = None,
) -> Generator[str, None, None]:
    """Stream the documents of ``path``; InputError (naming file, line or member) on
    anything wrong. ``display_name`` is the name to use in messages (the uploaded
    file's name rather than a temporary path)."""
    limits = limits or ReadLimits()
    name = display_name or path.name
    count = 0
    for doc in _iter_any(Path(path), name, fmt, text_field, limits):
        count += 1
        yield doc
    if count == 0:
        raise InputError(f"{name}: no documents (the input is empty or every document is blank)")


# ------------------------------------------------------------------ dispatch


def _iter_any(path: Path, name: str, fmt: str, text_field: str, limits: ReadLimits):
    if fmt == "dir":
        yield from _iter_dir(path, name, text_field, limits)
        return
    if fmt not in FORMATS:
        raise InputError(f"{name}: unknown format {fmt!r}")
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{name}: file not found") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{name}: not a regular file")
    if st.st_size == 0:
        raise InputError(f"{name}: the file is empty (no documents)")
    if st.st_size > limits.max_file_bytes:
        raise InputError(
            f"{name}: {st.st_size:,} bytes is over the limit of {limits.max_file_bytes:,} bytes"
        )
    if fmt == "parquet":
        yield from _iter_parquet(path, name, text_field, limits)
    elif fmt == "zip":
        yield from _iter_zip(path, name, text_field, limits)
    elif fmt == "tar.gz":
        yield from _iter_tar(path, name, text_field, limits)
    else:
        with path.open("rb") as f:
            yield from _iter_stream(f, st.st_size, name, fmt, text_field, limits)


def _iter_stream(
    f: Any, size: int, name: str, fmt: str, text_field: str, limits: ReadLimits
) -> Iterator[str]:
    if fmt == "jsonl":
        yield from _iter_jsonl(f, name, text_field, limits)
    elif size <= limits.txt_split_bytes:
        yield from _iter_txt_whole(f, name, limits)
    else:
        yield from _iter_txt_paragraphs(f, name, limits)


def _what_is(head: bytes) -> str | None:
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    return None


def _binary_error(name: str, where: str, head: bytes) -> InputError:
    what = _what_is(head)
    hint = f"it looks like {what}" if what else "it looks like a binary file"
    return InputError(f"{name}: {where} contains a NUL byte; {hint}, not UTF-8 text")


def _utf8_error(name: str, where: str, offset: int, bad: bytes, head: bytes) -> InputError:
    what = _what_is(head)
    hint = f" (it looks like {what})" if what else ""
    return InputError(
        f"{name}: {where}invalid UTF-8 at byte offset {offset} (byte 0x{bad[:1].hex()}){hint}; "
        "text must be UTF-8 encoded (convert it first, e.g. iconv -f latin1 -t utf-8)"
    )


# ------------------------------------------------------------------ text formats


def _check_len(text: str, name: str, where: str, limits: ReadLimits) -> None:
    if len(text) > limits.max_doc_chars:
        raise InputError(
            f"{name}: {where}a document of {len(text):,} characters is over the limit "
            f"of {limits.max_doc_chars:,}"
        )


def iter_jsonl_objects(
    f: Any, name: str, limits: ReadLimits, *, wanted: str
) -> Iterator[tuple[int, dict[str, Any], bool]]:
    """(line number, object, escapes) for each non-blank line of a JSONL stream, checked
    as every reader here checks text: UTF-8 (an error names the line and byte offset),
    no NUL byte, no line longer than a document could take, JSON, an object (``wanted``
    says what kind, for the message: 'with a "text" field'). ``escapes``: the line has
    a \\udXXX escape, so the strings taken from it need ``check_unicode``."""
    # Never read more than a document could take: 6 bytes a character written as a
    # \\uXXXX escape, plus room for the other fields.
    max_line = limits.max_doc_chars * 6 + 64 * KiB
    offset = 0
    lineno = 0
    head = b""
    while True:
        line = f.readline(max_line + 1)
        if not line:
            return
        lineno += 1
        if lineno == 1:
            head = line[:16]
            if line.startswith(_BOM):
                line = line[3:]
                offset = 3
        if len(line) > max_line and not line.endswith(b"\n"):
            raise InputError(f"{name}: line {lineno} is longer than {max_line:,} bytes")
        nul = line.find(b"\x00")
        if nul >= 0:
            raise _binary_error(name, f"line {lineno} (byte offset {offset + nul})", head)
        try:
            raw = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _utf8_error(
                name, f"line {lineno}: ", offset + e.start, line[e.start : e.start + 1], head
            ) from None
        offset += len(line)
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InputError(
                f"{name}: line {lineno} is not valid JSON ({e.msg} at column {e.colno})"
            ) from None
        if not isinstance(obj, dict):
            raise InputError(
                f"{name}: line {lineno} is a JSON {type(obj).__name__}, not an object {wanted}"
            )
        yield lineno, obj, bool(_LONE_SURROGATE.search(line))


def check_unicode(text: str, name: str, lineno: int) -> None:
    """InputError if ``text`` (from a line with a \\udXXX escape) holds an unpaired
    surrogate, which is not valid Unicode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{name}: line {lineno}: the text contains an unpaired UTF-16 surrogate "
            "escape (\\udXXX), which is not valid Unicode"
        ) from None


def _iter_jsonl(f: Any, name: str, text_field: str, limits: ReadLimits) -> Iterator[str]:
    wanted = f'with a "{text_field}" field'
    for lineno, obj, escapes in iter_jsonl_objects(f, name, limits, wanted=wanted):
        if text_field not in obj:
            fields = ", ".join(list(obj)[:8]) or "none"
            raise InputError(
                f'{name}: line {lineno} has no "{text_field}" field (its fields: {fields})'
            )
        text = obj[text_field]
        if not isinstance(text, str):
            kind = "null" if text is None else type(text).__name__
            raise InputError(f'{name}: line {lineno}: "{text_field}" is {kind}, not a string')
        if escapes:
            check_unicode(text, name, lineno)
        _check_len(text, name, f"line {lineno}: ", limits)
        if text and not text.isspace():
            yield text


def _decode_whole(data: bytes, name: str) -> str:
    head = data[:16]
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _binary_error(name, f"byte offset {nul}", head)
    start = 3 if data.startswith(_BOM) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as e:
        off = start + e.start
        raise _utf8_error(name, "", off, data[off : off + 1], head) from None


def _iter_txt_whole(f: Any, name: str, limits: ReadLimits) -> Iterator[str]:
    data = f.read(limits.txt_split_bytes + 1)
    if len(data) > limits.txt_split_bytes:  # the size was understated: stream the rest
        yield from _iter_txt_paragraphs(_Prefixed(data, f), name, limits)
        return
    text = _decode_whole(data, name)
    _check_len(text, name, "", limits)
    if text and not text.isspace():
        yield text


def _iter_txt_paragraphs(f: Any, name: str, limits: ReadLimits) -> Iterator[str]:
    max_line = limits.max_doc_chars * 4 + 4
    offset = 0
    head = b""
    block: list[str] = []
    block_chars = 0
    lineno = 0
    while True:
        line = f.readline(max_line + 1)
        if lineno == 0:
            head = line[:16]
            if line.startswith(_BOM):
                line = line[3:]
                offset = 3
        lineno += 1
        if line and len(line) > max_line:
            raise InputError(f"{name}: line {lineno} is longer than {max_line:,} bytes")
        nul = line.find(b"\x00")
        if nul >= 0:
            raise _binary_error(name, f"byte offset {offset + nul}", head)
        try:
            text = line.decode("utf-8")  # a line never splits a UTF-8 sequence
        except UnicodeDecodeError as e:
            raise _utf8_error(
                name, f"line {lineno}: ", offset + e.start, line[e.start : e.start + 1], head
            ) from None
        offset += len(line)
        if not line or text.isspace():
            if block:
                yield "".join(block).rstrip("\r\n")
                block, block_chars = [], 0
            if not line:
                return
            continue
        block.append(text)
        block_chars += len(text)
        if block_chars > limits.max_doc_chars:
            raise InputError(
                f"{name}: a block of text without blank lines near line {lineno} is over "
                f"{limits.max_doc_chars:,} characters"
            )


class _Prefixed:
    """A stream whose first bytes were already read."""

    def __init__(self, prefix: bytes, rest: Any) -> None:
        self._prefix = prefix
        self._rest = rest

    def readline(self, limit: int = -1) -> bytes:
        if self._prefix:
            nl = self._prefix.find(b"\n")
            end = len(self._prefix) if nl < 0 else nl + 1
            if limit >= 0:
                end = min(end, limit)
            line, self._prefix = self._prefix[:end], self._prefix[end:]
            if line.endswith(b"\n") or (limit >= 0 and len(line) >= limit):
                return line
            return line + self._rest.readline(-1 if limit < 0 else limit - len(line))
        return self._rest.readline(limit)


# ------------------------------------------------------------------ parquet


def _iter_parquet(path: Path, name: str, text_field: str, limits: ReadLimits) -> Iterator[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with path.open("rb") as f:
        head = f.read(4)
        f.seek(-4, os.SEEK_END)
        tail = f.read(4)
    if head != b"PAR1" or tail != b"PAR1":
        what = _what_is(head)
        raise InputError(
            f"{name}: not a Parquet file" + (f" (it looks like {what})" if what else "")
        )
    try:
        pf = pq.ParquetFile(path, memory_map=False, buffer_size=1 * MiB)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise InputError(f"{name}: unreadable Parquet file ({e})") from None
    schema = pf.schema_arrow
    if text_field not in schema.names:
        columns = ", ".join(schema.names[:12])
        raise InputError(f'{name}: no column "{text_field}" (its columns: {columns})')
    typ = schema.field(text_field).type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
        raise InputError(f'{name}: column "{text_field}" is {typ}, not a string column')
    row = 0
    try:
        for batch in pf.iter_batches(batch_size=1024, columns=[text_field]):
            for text in batch.column(0).to_pylist():
                row += 1
                if text is None:
                    raise InputError(f'{name}: row {row}: "{text_field}" is null')
                _check_len(text, name, f"row {row}: ", limits)
                if text and not text.isspace():
                    yield text
    except UnicodeDecodeError as e:
        raise InputError(f"{name}: row {row + 1}: invalid UTF-8 in the text ({e.reason})") from None
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"{name}: unreadable Parquet data near row {row + 1} ({e})") from None


# ------------------------------------------------------------------ archives


def _member_format(member: str, archive: str) -> str | None:
    """The format of an archive member, None to skip it, or InputError."""
    base = member.rstrip("/").rsplit("/", 1)[-1]
    if base.startswith(".") or member.startswith("__MACOSX/") or "/__MACOSX/" in member:
        return None
    low = base.lower()
    if low.endswith(TEXT_SUFFIXES):
        return "txt"
    if low.endswith(JSONL_SUFFIXES):
        return "jsonl"
    raise InputError(
        f"{archive}: member {member!r} is not a supported type; archives may hold "
        ".txt, .md and .jsonl files (upload .parquet files directly)"
    )


def _check_member_name(member: str, archive: str) -> None:
    if not member or "\x00" in member:
        raise InputError(f"{archive}: a member has an empty or NUL-containing name")
    norm = member.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        raise InputError(f"{archive}: member {member!r} has an absolute path")
    if ".." in norm.split("/"):
        raise InputError(f"{archive}: member {member!r} has a '..' path (zip slip)")


def _check_member_size(
    member: str, size: int, compressed: int | None, archive: str, limits: ReadLimits
) -> None:
    if size > limits.max_file_bytes:
        raise InputError(
            f"{archive}: member {member!r} is {size:,} bytes, over the limit of "
            f"{limits.max_file_bytes:,} bytes"
        )
    if compressed is not None and size > _RATIO_FLOOR_BYTES:
        ratio = size / max(compressed, 1)
        if ratio > limits.max_ratio:
            raise InputError(
                f"{archive}: member {member!r} expands {ratio:,.0f} times "
                f"(limit {limits.max_ratio:,.0f}); refusing a possible zip bomb"
            )


def _check_totals(
    total: int, members: int, archive_bytes: int, archive: str, limits: ReadLimits
) -> None:
    if members > limits.max_members:
        raise InputError(f"{archive}: more than {limits.max_members:,} members; split the archive")
    if total > limits.max_total_uncompressed:
        raise InputError(
            f"{archive}: members total more than {limits.max_total_uncompressed:,} bytes "
            "uncompressed; refusing a possible zip bomb"
        )
    if total > _RATIO_FLOOR_BYTES and total > limits.max_ratio * archive_bytes:
        raise InputError(
            f"{archive}: expands {total / max(archive_bytes, 1):,.0f} times "
            f"(limit {limits.max_ratio:,.0f}); refusing a possible zip bomb"
        )


class _Budget:
    """Counts decompressed bytes as they stream; refuses past the declared sizes."""

    def __init__(self, archive: str, limits: ReadLimits, archive_bytes: int) -> None:
        self.archive = archive
        self.total = 0
        self.limit = min(
            limits.max_total_uncompressed,
            int(limits.max_ratio * archive_bytes) + _RATIO_FLOOR_BYTES,
        )

    def wrap(self, f: Any, member: str, declared: int) -> _Counted:
        return _Counted(f, self, member, declared)


class _Counted:
    def __init__(self, f: Any, budget: _Budget, member: str, declared: int) -> None:
        self._f = f
        self._budget = budget
        self._member = member
        self._declared = declared
        self._read = 0

    def _count(self, data: bytes) -> bytes:
        self._read += len(data)
        self._budget.total += len(data)
        if self._read > self._declared:
            raise InputError(
                f"{self._budget.archive}: member {self._member!r} holds more data than its "
                "header declares; refusing a malformed archive"
            )
        if self._budget.total > self._budget.limit:
            raise InputError(
                f"{self._budget.archive}: decompresses to more than {self._budget.limit:,} "
                "bytes; refusing a possible zip bomb"
            )
        return data

    def read(self, n: int = -1) -> bytes:
        return self._count(self._f.read(n))

    def readline(self, limit: int = -1) -> bytes:
        return self._count(self._f.readline(limit))


def _zip_declared_entries(path: Path, name: str) -> int:
    """Entry count from the end-of-central-directory record, read before zipfile
    parses (and holds in memory) the whole central directory."""
    size = path.stat().st_size
    with path.open("rb") as f:
        tail_len = min(size, 22 + 65535)
        f.seek(size - tail_len)
        tail = f.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) < at + 22:
            raise InputError(f"{name}: not a valid zip archive (no central directory)")
        entries = int.from_bytes(tail[at + 10 : at + 12], "little")
        if entries != 0xFFFF:
            return entries
        loc = at - 20  # zip64 end-of-central-directory locator
        if loc < 0 or tail[loc : loc + 4] != b"PK\x06\x07":
            raise InputError(f"{name}: not a valid zip archive (bad zip64 record)")
        f.seek(int.from_bytes(tail[loc + 8 : loc + 16], "little"))
        rec = f.read(56)
        if rec[:4] != b"PK\x06\x06":
            raise InputError(f"{name}: not a valid zip archive (bad zip64 record)")
        return int.from_bytes(rec[32:40], "little")


def _iter_zip(path: Path, name: str, text_field: str, limits: ReadLimits) -> Iterator[str]:
    with path.open("rb") as f:
        head = f.read(4)
    if head not in (b"PK\x03\x04", b"PK\x05\x06"):
        what = _what_is(head)
        raise InputError(
            f"{name}: not a zip archive" + (f" (it looks like {what})" if what else "")
        )
    archive_bytes = path.stat().st_size
    declared = _zip_declared_entries(path, name)
    _check_totals(0, declared, archive_bytes, name, limits)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as e:
        raise InputError(f"{name}: not a valid zip archive ({e})") from None
    with zf:
        infos = zf.infolist()
        # Every check on every member before the first byte is decompressed.
        total = 0
        todo: list[tuple[zipfile.ZipInfo, str]] = []
        for info in infos:
            _check_member_name(info.filename, name)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise InputError(f"{name}: member {info.filename!r} is a symlink")
            if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise InputError(f"{name}: member {info.filename!r} is not a regular file")
            if info.flag_bits & 0x1:
                raise InputError(f"{name}: member {info.filename!r} is encrypted")
            if info.is_dir():
                continue
            _check_member_size(info.filename, info.file_size, info.compress_size, name, limits)
            total += info.file_size
            fmt = _member_format(info.filename, name)
            if fmt is not None:
                todo.append((info, fmt))
        _check_totals(total, len(infos), archive_bytes, name, limits)
        budget = _Budget(name, limits, archive_bytes)
        for info, fmt in todo:
            label = f"{name}:{info.filename}"
            try:
                with zf.open(info) as member:
                    stream = budget.wrap(member, info.filename, info.file_size)
                    yield from _iter_stream(stream, info.file_size, label, fmt, text_field, limits)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
                raise InputError(f"{label}: cannot be decompressed ({e})") from None


_TAR_OK = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE)


def _iter_tar(path: Path, name: str, text_field: str, limits: ReadLimits) -> Iterator[str]:
    with path.open("rb") as f:
        head = f.read(2)
    if head != b"\x1f\x8b":
        raise InputError(f"{name}: not a gzip-compressed tar archive")
    archive_bytes = path.stat().st_size
    errors = (tarfile.TarError, EOFError, OSError, zlib.error)
    # Pass 1: headers only. Stream mode reads (and discards) member data to reach the
    # next header; nothing is kept or written, and totals are checked as they grow.
    try:
        with tarfile.open(path, mode="r|gz") as tf:
            total = 0
            for members, m in enumerate(tf, start=1):
                _check_member_name(m.name, name)
                if m.issym() or m.islnk():
                    raise InputError(f"{name}: member {m.name!r} is a symlink or hard link")
                if m.type not in _TAR_OK:
                    raise InputError(f"{name}: member {m.name!r} is not a regular file")
                if m.isfile():
                    _check_member_size(m.name, m.size, None, name, limits)
                    _member_format(m.name, name)
                    total += m.size
                _check_totals(total, members, archive_bytes, name, limits)
                tf.members.clear()  # stream mode needs no history; keep memory flat
    except errors as e:
        raise InputError(f"{name}: not a valid tar.gz archive ({e})") from None
    # Pass 2: stream member contents.
    budget = _Budget(name, limits, archive_bytes)
    try:
        with tarfile.open(path, mode="r|gz") as tf:
            for m in tf:
                tf.members.clear()
                if not m.isfile():
                    continue
                fmt = _member_format(m.name, name)
                f = tf.extractfile(m)
                if fmt is None or f is None:
                    continue
                stream = budget.wrap(f, m.name, m.size)
                yield from _iter_stream(stream, m.size, f"{name}:{m.name}", fmt, text_field, limits)
    except errors as e:
        raise InputError(f"{name}: cannot read the tar.gz archive ({e})") from None


# ------------------------------------------------------------------ server-side directories


def _iter_dir(root: Path, name: str, text_field: str, limits: ReadLimits) -> Iterator[str]:
    files: list[tuple[Path, str]] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in dirnames:
            if (Path(dirpath) / d).is_symlink():
                raise InputError(f"{name}: {d!r} is a symlink; symlinks are not followed")
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            rel = p.relative_to(root).as_posix()
            if fn.startswith("."):
                continue
            if p.is_symlink():
                raise InputError(f"{name}: {rel!r} is a symlink; symlinks are not followed")
            try:
                fmt = detect_format(fn)
            except InputError:
                raise InputError(
                    f"{name}: {rel!r} is not a supported type (.jsonl, .parquet, .txt, .zip, "
                    ".tar.gz)"
                ) from None
            files.append((p, fmt))
            total += p.stat().st_size
            if len(files) > limits.max_members:
                raise InputError(f"{name}: more than {limits.max_members:,} files")
            if total > limits.max_total_uncompressed:
                raise InputError(
                    f"{name}: files total more than {limits.max_total_uncompressed:,} bytes"
                )
    for p, fmt in files:
        label = f"{name}/{p.relative_to(root).as_posix()}"
        yield from _iter_any(p, label, fmt, text_field, limits)


def resolve_server_path(raw: str, allowed_root: Path) -> Path:
    """The real path of a server-side file or directory named by ``raw`` (relative to
    ``allowed_root``, or absolute inside it), or InputError. Percent-encoding is
    decoded repeatedly first, so ``%2e%2e`` and ``%252e%252e`` are seen as ``..``;
    ``..`` parts, URLs (``file://`` and any other scheme), backslashes, control
    characters and symlinks leading out of the root are all refused."""
    if not isinstance(raw, str) or not raw.strip():
        raise InputError("a server path is required")
    path = raw.strip()
    for _ in range(8):
        try:
            decoded = urllib.parse.unquote(path, errors="strict")
        except UnicodeDecodeError:
            raise InputError("the path is not valid percent-encoded UTF-8") from None
        if decoded == path:
            break
        path = decoded
    else:
        raise InputError("the path is percent-encoded too many times")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise InputError("the path contains control characters")
    if _URL_SCHEME.match(path):
        raise InputError("URLs (file://, http://, ...) are not accepted; give a server path")
    if "\\" in path:
        raise InputError("the path contains a backslash")
    if ".." in path.split("/"):
        raise InputError("'..' is not allowed in a server path")
    try:
        root = Path(allowed_root).resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError("the allowed root for server paths does not exist") from None
    candidate = Path(path) if path.startswith("/") else root / path
    if not Path(os.path.normpath(candidate)).is_relative_to(root):
        raise InputError("the path is outside the allowed root")
    try:
        resolved = candidate.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"no such file or directory under the allowed root: {path}") from None
    except (RuntimeError, OSError) as e:  # symlink loops, permissions
        raise InputError(f"cannot resolve the path ({e.__class__.__name__})") from None
    if not resolved.is_relative_to(root):
        raise InputError("the path leads outside the allowed root (through a symlink)")
    return resolved
