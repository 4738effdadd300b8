from __future__ import annotations

import os

import pytest

from console.data.engine.storage import LocalStorage, StorageError


@pytest.fixture
def storage(tmp_path):
    return LocalStorage(tmp_path / "data")


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a\\b", "a\x00b", ".tmp-x/y"],
)
def test_bad_keys_are_refused(storage, key):
    with pytest.raises(StorageError):
        storage.path(key)


def test_symlink_inside_root_cannot_lead_out(storage, tmp_path):
    storage.root.mkdir()
    (storage.root / "escape").symlink_to(tmp_path)
    with pytest.raises(StorageError, match="outside the storage root"):
        storage.path("escape/secret")


def test_atomic_dir_renames_into_place_on_success(storage):
    with storage.atomic_dir("datasets/1/v1") as tmp:
        (tmp / "documents.jsonl").write_text("{}\n")
        assert not storage.exists("datasets/1/v1")
    assert storage.exists("datasets/1/v1/documents.jsonl")
    assert storage.size("datasets/1/v1") == 3
    assert [p.name for p in storage.path("datasets/1").iterdir()] == ["v1"]


def test_atomic_dir_leaves_nothing_on_failure(storage):
    with pytest.raises(RuntimeError), storage.atomic_dir("datasets/1/v1") as tmp:
        (tmp / "documents.jsonl").write_text("half")
        raise RuntimeError("boom")
    assert not storage.exists("datasets/1/v1")
    # The parents this call created are gone too; the root holds nothing.
    assert list(storage.root.rglob("*")) == []


def test_atomic_dir_keeps_parents_that_existed(storage):
    storage.path("datasets/1").mkdir(parents=True)
    with pytest.raises(ValueError), storage.atomic_dir("datasets/1/v2"):
        raise ValueError
    assert storage.exists("datasets/1")
    assert list(storage.path("datasets/1").iterdir()) == []


def test_versions_are_immutable(storage):
    with storage.atomic_dir("v1") as tmp:
        (tmp / "a").write_text("a")
    with pytest.raises(StorageError, match="immutable"), storage.atomic_dir("v1"):
        pass
    assert (storage.path("v1") / "a").read_text() == "a"


def test_delete_open_read_and_sweep(storage):
    with storage.atomic_dir("v1") as tmp:
        (tmp / "a").write_bytes(b"xyz")
    with storage.open_read("v1/a") as f:
        assert f.read() == b"xyz"
    storage.delete("v1")
    assert not storage.exists("v1")
    stale = storage.root / ".tmp-v9-abc"
    stale.mkdir()
    os.utime(stale, (0, 0))
    assert storage.sweep_temp(older_than_s=60) == [stale]
    assert not stale.exists()
