"""Every input format, and every bad input the issue lists (S7, S8): a clear error,
and no version, directory or file left behind."""

from __future__ import annotations

import gzip
import io
import json
import stat
import tarfile
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.data.engine.readers import (
    InputError,
    ReadLimits,
    detect_format,
    detect_path_format,
    iter_documents,
    resolve_server_path,
)
from console.data.engine.storage import LocalStorage
from console.data.engine.versions import create_version, read_version


def docs(path, fmt=None, **kw):
    return list(iter_documents(path, fmt=fmt or detect_format(path.name), **kw))


def write_zip(path, members: dict[str, bytes], infos: list[tuple[zipfile.ZipInfo, bytes]] = ()):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for info, data in infos:
            zf.writestr(info, data)
    return path


def write_tar(path, members: list[tuple[tarfile.TarInfo, bytes | None]]):
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def tar_file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def assert_refused(tmp_path, path, match, *, fmt=None, limits=None, text_field="text"):
    """Ingesting ``path`` raises InputError matching ``match`` and leaves nothing."""
    storage = LocalStorage(tmp_path / "store")
    fmt = fmt or detect_format(path.name)
    with pytest.raises(InputError, match=match) as info:
        create_version(
            storage,
            "datasets/1/v1",
            iter_documents(path, fmt=fmt, limits=limits or ReadLimits(), text_field=text_field),
        )
    assert not storage.root.exists() or list(storage.root.rglob("*")) == []
    return str(info.value)


# ------------------------------------------------------------------ formats


def test_detect_format():
    assert detect_format("a.JSONL") == "jsonl"
    assert detect_format("a.ndjson") == "jsonl"
    assert detect_format("a.parquet") == "parquet"
    assert detect_format("notes.txt") == "txt"
    assert detect_format("README.md") == "txt"
    assert detect_format("x.zip") == "zip"
    assert detect_format("x.tar.gz") == "tar.gz"
    assert detect_format("x.tgz") == "tar.gz"
    with pytest.raises(InputError, match="unsupported file type"):
        detect_format("x.exe")


def test_jsonl_with_configurable_field_and_blank_lines(tmp_path):
    path = tmp_path / "a.jsonl"
    rows = [{"body": "第一篇文档"}, {"body": "second", "id": 2}, {"body": ""}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")
    assert docs(path, text_field="body") == ["第一篇文档", "second"]


def test_jsonl_with_bom(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"text": "hi"}\n')
    assert docs(path) == ["hi"]


def test_txt_small_file_is_one_document(tmp_path):
    path = tmp_path / "ruling.txt"
    path.write_text("第一段。\n\n第二段。\n", encoding="utf-8")
    assert docs(path) == ["第一段。\n\n第二段。\n"]


def test_txt_large_file_is_split_on_blank_lines(tmp_path):
    path = tmp_path / "dump.txt"
    path.write_text("one\nline two\n\n\nthree\n  \nfour")
    limits = ReadLimits(txt_split_bytes=10)
    assert docs(path, limits=limits) == ["one\nline two", "three", "four"]


def test_parquet_by_batches(tmp_path):
    path = tmp_path / "a.parquet"
    texts = [f"doc {i} 中文" for i in range(3000)]
    pq.write_table(pa.table({"text": texts, "n": list(range(3000))}), path, row_group_size=700)
    assert docs(path) == texts


def test_zip_and_tar_members(tmp_path):
    jsonl = b'{"text": "from jsonl"}\n{"text": "second"}\n'
    zpath = write_zip(
        tmp_path / "a.zip",
        {
            "dir/one.txt": "一号文件".encode(),
            "two.md": b"# two",
            "data.jsonl": jsonl,
            "__MACOSX/._one.txt": b"\x00\x05junk",
            ".DS_Store": b"\x00junk",
        },
    )
    assert docs(zpath) == ["一号文件", "# two", "from jsonl", "second"]
    directory = tarfile.TarInfo("d")
    directory.type = tarfile.DIRTYPE
    tpath = write_tar(
        tmp_path / "a.tar.gz",
        [(directory, None), tar_file("d/one.txt", b"tar one"), tar_file("b.jsonl", jsonl)],
    )
    assert docs(tpath) == ["tar one", "from jsonl", "second"]


def test_server_directory(tmp_path):
    root = tmp_path / "allowed"
    (root / "corpus" / "sub").mkdir(parents=True)
    (root / "corpus" / "a.txt").write_text("alpha")
    (root / "corpus" / "sub" / "b.jsonl").write_text('{"text": "beta"}\n')
    (root / "corpus" / ".hidden").write_text("skipped")
    path = resolve_server_path("corpus", root)
    assert detect_path_format(path) == "dir"
    assert list(iter_documents(path, fmt="dir")) == ["alpha", "beta"]


def test_ingest_writes_a_version(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "hello"}\n{"text": "世界"}\n', encoding="utf-8")
    storage = LocalStorage(tmp_path / "store")
    stats = create_version(storage, "v1", iter_documents(path, fmt="jsonl"))
    assert stats.documents == 2
    assert list(read_version(storage.path("v1"))) == ["hello", "世界"]


# ------------------------------------------------------------------ bad input (S7)


def test_non_utf8_txt_names_file_and_offset(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"Caf" + "é au lait".encode("latin-1"))
    msg = assert_refused(tmp_path, path, "invalid UTF-8")
    assert "latin.txt" in msg and "byte offset 3" in msg and "0xe9" in msg


def test_non_utf8_jsonl_names_line_and_offset(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    msg = assert_refused(tmp_path, path, "line 2: invalid UTF-8")
    assert "byte offset 28" in msg  # 15 bytes of line 1, 13 of line 2


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    msg = assert_refused(tmp_path, path, "NUL byte")
    assert "PNG image" in msg


def test_wrong_magic_bytes(tmp_path):
    fake_zip = tmp_path / "a.zip"
    fake_zip.write_text("just text")
    assert_refused(tmp_path, fake_zip, "not a zip archive")
    fake_tar = tmp_path / "a.tar.gz"
    fake_tar.write_bytes(b"PK\x03\x04 not gzip")
    assert_refused(tmp_path, fake_tar, "not a gzip-compressed tar archive")
    fake_parquet = tmp_path / "a.parquet"
    fake_parquet.write_text('{"text": "json, not parquet"}')
    assert_refused(tmp_path, fake_parquet, "not a Parquet file")


def test_empty_inputs(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert_refused(tmp_path, empty, "empty")
    blank = tmp_path / "blank.jsonl"
    blank.write_text('\n\n{"text": ""}\n{"text": "   "}\n')
    assert_refused(tmp_path, blank, "no documents")
    empty_zip = write_zip(tmp_path / "empty.zip", {})
    assert_refused(tmp_path, empty_zip, "no documents")


def test_jsonl_line_that_is_not_json(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "unterminated}\n')
    assert_refused(tmp_path, path, r"line 2 is not valid JSON")


def test_jsonl_line_without_the_text_field(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "ok"}\n{"content": "x", "id": 1}\n')
    msg = assert_refused(tmp_path, path, 'line 2 has no "text" field')
    assert "content, id" in msg
    path.write_text('{"text": 5}\n')
    assert_refused(tmp_path, path, r'line 1: "text" is int, not a string')
    path.write_text('["text"]\n')
    assert_refused(tmp_path, path, "line 1 is a JSON list, not an object")
    path.write_text('{"text": "bad \\ud800 surrogate"}\n')
    assert_refused(tmp_path, path, "unpaired UTF-16 surrogate")


def test_parquet_without_the_column_or_with_nulls(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"content": ["x"]}), path)
    assert_refused(tmp_path, path, r'no column "text" \(its columns: content\)')
    pq.write_table(pa.table({"text": [1, 2]}), path)
    assert_refused(tmp_path, path, 'column "text" is int64, not a string column')
    pq.write_table(pa.table({"text": ["a", None]}), path)
    assert_refused(tmp_path, path, 'row 2: "text" is null')


def test_file_over_the_size_limit(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text('{"text": "' + "x" * 2000 + '"}\n')
    msg = assert_refused(tmp_path, path, "over the limit", limits=ReadLimits(max_file_bytes=1000))
    assert "2,013 bytes" in msg


def test_document_over_the_character_limit(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "' + "x" * 200 + '"}\n')
    assert_refused(tmp_path, path, "200 characters", limits=ReadLimits(max_doc_chars=100))


def test_zip_bomb_ratio_checked_before_extraction(tmp_path):
    path = write_zip(tmp_path / "bomb.zip", {"bomb.txt": b"\0" * 5_000_000})
    assert path.stat().st_size < 50_000
    assert_refused(tmp_path, path, r"expands .* times \(limit 100\); refusing a possible zip bomb")


def test_zip_total_size_and_member_count_limits(tmp_path):
    path = write_zip(tmp_path / "a.zip", {f"{i}.txt": b"y" * 600 for i in range(6)})
    assert_refused(
        tmp_path, path, "members total more than", limits=ReadLimits(max_total_uncompressed=1000)
    )
    assert_refused(tmp_path, path, "more than 5 members", limits=ReadLimits(max_members=5))


def test_tar_bomb_and_limits(tmp_path):
    path = write_tar(tmp_path / "bomb.tar.gz", [tar_file("bomb.txt", b"\0" * 5_000_000)])
    assert_refused(tmp_path, path, "refusing a possible zip bomb")
    many = write_tar(tmp_path / "many.tar.gz", [tar_file(f"{i}.txt", b"z") for i in range(6)])
    assert_refused(tmp_path, many, "more than 5 members", limits=ReadLimits(max_members=5))


@pytest.mark.parametrize(
    ("member", "match"),
    [
        ("../evil.txt", "'..' path"),
        ("a/../../evil.txt", "'..' path"),
        ("/etc/cron.d/evil.txt", "absolute path"),
        ("C:\\evil.txt", "absolute path"),
    ],
)
def test_zip_slip_names(tmp_path, member, match):
    path = write_zip(tmp_path / "slip.zip", {"ok.txt": b"fine", member: b"evil"})
    assert_refused(tmp_path, path, match)
    assert not (tmp_path / "evil.txt").exists()


def test_zip_symlink_member(tmp_path):
    link = zipfile.ZipInfo("link.txt")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = write_zip(tmp_path / "link.zip", {"ok.txt": b"fine"}, [(link, b"/etc/passwd")])
    assert_refused(tmp_path, path, "'link.txt' is a symlink")


def test_zip_unsupported_member(tmp_path):
    path = write_zip(tmp_path / "a.zip", {"ok.txt": b"fine", "tool.exe": b"MZ"})
    assert_refused(tmp_path, path, "'tool.exe' is not a supported type")


@pytest.mark.parametrize(
    ("kind", "name", "match"),
    [
        (tarfile.SYMTYPE, "link.txt", "symlink or hard link"),
        (tarfile.LNKTYPE, "hard.txt", "symlink or hard link"),
        (tarfile.CHRTYPE, "dev.txt", "not a regular file"),
        (tarfile.FIFOTYPE, "fifo.txt", "not a regular file"),
    ],
)
def test_tar_links_and_devices(tmp_path, kind, name, match):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = "/etc/passwd"
    path = write_tar(tmp_path / "a.tar.gz", [tar_file("ok.txt", b"fine"), (info, None)])
    assert_refused(tmp_path, path, match)


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt"])
def test_tar_slip_names(tmp_path, member):
    path = write_tar(tmp_path / "a.tar.gz", [tar_file("ok.txt", b"fine"), tar_file(member, b"x")])
    assert_refused(tmp_path, path, "path")


def test_archive_checks_come_before_any_document(tmp_path):
    """A bad member at the end fails the archive before its first member is read."""
    path = write_zip(tmp_path / "a.zip", {"first.txt": b"fine", "../last.txt": b"evil"})
    it = iter_documents(path, fmt="zip")
    with pytest.raises(InputError, match="zip slip"):
        next(it)


def test_corrupt_gzip_stream(tmp_path):
    good = gzip.compress(b"not a tar file at all" * 100)
    path = tmp_path / "a.tar.gz"
    path.write_bytes(good)
    assert_refused(tmp_path, path, "not a valid tar.gz archive")


# ------------------------------------------------------------------ server paths (S8)


@pytest.fixture
def allowed(tmp_path):
    root = tmp_path / "allowed"
    (root / "corpus").mkdir(parents=True)
    (root / "corpus" / "a.jsonl").write_text('{"text": "x"}\n')
    (tmp_path / "secret.txt").write_text("secret")
    (root / "escape").symlink_to(tmp_path)
    return root


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("../secret.txt", r"'\.\.'"),
        ("corpus/../../secret.txt", r"'\.\.'"),
        ("%2e%2e/secret.txt", r"'\.\.'"),
        ("%2E%2E%2Fsecret.txt", r"'\.\.'"),
        ("%252e%252e/secret.txt", r"'\.\.'"),
        ("%25252e%25252e%25252fsecret.txt", r"'\.\.'"),
        ("..%2fsecret.txt", r"'\.\.'"),
        ("corpus\\..\\..\\secret.txt", "backslash"),
        ("/etc/passwd", "outside the allowed root"),
        ("file:///etc/passwd", "URLs"),
        ("FILE://localhost/etc/passwd", "URLs"),
        ("file%3A%2F%2F%2Fetc%2Fpasswd", "URLs"),
        ("http://example.com/a.jsonl", "URLs"),
        ("escape/secret.txt", "through a symlink"),
        ("corpus/a.jsonl\x00.txt", "control characters"),
        ("corpus/%00a.jsonl", "control characters"),
        ("", "required"),
        ("corpus/missing.jsonl", "no such file"),
    ],
)
def test_server_paths_outside_the_root_are_refused(allowed, raw, match):
    with pytest.raises(InputError, match=match):
        resolve_server_path(raw, allowed)


def test_absolute_path_outside_root_is_refused(allowed, tmp_path):
    with pytest.raises(InputError, match="outside the allowed root"):
        resolve_server_path(str(tmp_path / "secret.txt"), allowed)


def test_server_paths_inside_the_root(allowed):
    target = (allowed / "corpus" / "a.jsonl").resolve()
    assert resolve_server_path("corpus/a.jsonl", allowed) == target
    assert resolve_server_path(str(target), allowed) == target
    assert resolve_server_path("%63orpus/a.jsonl", allowed) == target
    assert resolve_server_path("./corpus/a.jsonl", allowed) == target


def test_symlink_inside_a_registered_directory_is_refused(allowed, tmp_path):
    (allowed / "corpus" / "leak.txt").symlink_to(tmp_path / "secret.txt")
    path = resolve_server_path("corpus", allowed)
    with pytest.raises(InputError, match="symlinks are not followed"):
        list(iter_documents(path, fmt="dir"))
