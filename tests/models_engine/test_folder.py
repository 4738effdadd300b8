"""Manifests, folder checks, and the refusal of pickle files (RELIABILITY S10)."""

from __future__ import annotations

import pickle

import pytest
import torch

from gpu_agent.models import (
    ModelFolderError,
    check_folder,
    file_manifest,
    load_model,
    quantize,
    supported_methods,
    verify_manifest,
)


def test_manifest_lists_every_file_sorted_with_hashes(random_folder):
    manifest = file_manifest(random_folder)
    paths = [item["path"] for item in manifest]
    assert paths == sorted(paths)
    assert {"config.json", "model.safetensors"} <= set(paths)
    for item in manifest:
        assert item["bytes"] == (random_folder / item["path"]).stat().st_size
        assert len(item["sha256"]) == 64
    assert verify_manifest(random_folder, manifest) == []


def test_verify_detects_a_flipped_byte_a_missing_and_an_extra_file(random_folder):
    manifest = file_manifest(random_folder)
    weights = random_folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    problems = verify_manifest(random_folder, manifest)
    assert problems == ["model.safetensors: sha256 does not match the manifest"]

    (random_folder / "generation_config.json").unlink()
    (random_folder / "notes.txt").write_text("extra")
    problems = verify_manifest(random_folder, manifest)
    assert "generation_config.json: missing" in problems
    assert "notes.txt: not in the manifest" in problems
    assert len(problems) == 3


def test_check_folder_accepts_a_model_and_names_what_is_wrong(random_folder, tmp_path):
    check_folder(random_folder)
    (random_folder / "model.safetensors").rename(random_folder / "weights.data")
    with pytest.raises(ModelFolderError, match="no weights"):
        check_folder(random_folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFolderError, match=r"no config\.json"):
        check_folder(empty)


def test_symlinks_are_refused(random_folder, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    (random_folder / "link.txt").symlink_to(outside)
    with pytest.raises(ModelFolderError, match="symlink"):
        file_manifest(random_folder)
    with pytest.raises(ModelFolderError, match="symlink"):
        check_folder(random_folder)


@pytest.mark.parametrize(
    "name", ["pytorch_model.bin", "weights.pt", "extra/optimizer.pth", "x.pkl", "y.ckpt"]
)
def test_a_pickle_file_is_refused_without_being_opened(random_folder, name, monkeypatch):
    bad = random_folder / name
    bad.parent.mkdir(exist_ok=True)
    bad.write_bytes(pickle.dumps({"never": "opened"}))

    def opened(*args, **kwargs):
        raise AssertionError("a pickle file was opened")

    monkeypatch.setattr(torch, "load", opened)
    monkeypatch.setattr(pickle, "load", opened)
    monkeypatch.setattr(pickle, "loads", opened)
    monkeypatch.setattr(pickle, "Unpickler", opened)
    for call in (check_folder, file_manifest, load_model):
        with pytest.raises(ModelFolderError, match="pickle"):
            call(random_folder)
    with pytest.raises(ModelFolderError, match="pickle"):
        quantize(random_folder, random_folder.parent / "q", method="w8a16", device="cpu")
    assert not (random_folder.parent / "q").exists()


def test_supported_methods_on_this_cpu_machine():
    assert supported_methods("cpu") == {"bf16": "", "fp16": "", "w8a16": "", "w4a16": "", "fp8": ""}
    if not torch.cuda.is_available():
        assert supported_methods("auto") == supported_methods("cpu")
        reasons = supported_methods("cuda")
        assert all("CUDA is not available" in reason for reason in reasons.values())


def test_quantize_refuses_bad_requests(random_folder, tmp_path):
    with pytest.raises(ValueError, match="unknown quantization method"):
        quantize(random_folder, tmp_path / "a", method="int3", device="cpu")
    with pytest.raises(ValueError, match="group_size"):
        quantize(random_folder, tmp_path / "b", method="w4a16", group_size=100, device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            quantize(random_folder, tmp_path / "c", method="w4a16", device="cuda")
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError):
        quantize(random_folder, tmp_path / "taken", method="w8a16", device="cpu")
    done = quantize(random_folder, tmp_path / "q8", method="w8a16", device="cpu")
    with pytest.raises(ModelFolderError, match="already quantized"):
        quantize(tmp_path / "q8", tmp_path / "again", method="w4a16", device="cpu")
    assert done["method"] == "w8a16" and done["bits"] == 8
    # Nothing half-built is left next to the destinations.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q8", "random", "taken"]
