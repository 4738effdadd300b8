"""Model folders: what is in them (manifest) and whether they can be loaded.

A model folder is a Hugging Face folder: ``config.json``, safetensors weights
(``model.safetensors`` or shards + ``model.safetensors.index.json``), optional
``generation_config.json`` and tokenizer files. Pickle-based files (``*.bin``,
``*.pt``, ``*.pth``, ``*.pkl``, ``*.ckpt``) are refused by name and never opened
(RELIABILITY S10). Symlinks are refused too: a manifest covers what is really there.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
# Forge's own int8/int4 layout before compressed-tensors (2026-11): Forge-only, no
# serving stack loads it; such folders are refused with "re-quantize the parent".
LEGACY_QUANT_KEY = "forge_quantization"
# The Hugging Face key every quantized folder carries (transformers, vLLM, TGI read it).
QUANT_CONFIG = "quantization_config"
# Largest safetensors header we accept (the format itself caps it at 100 MB).
_MAX_HEADER = 100_000_000


class ModelFolderError(ValueError):
    """A folder that cannot be used as a model; the message says what and where."""


def _walk(folder: Path) -> list[Path]:
    """Every regular file under folder; refuses symlinks and pickle files by name."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        raise ModelFolderError(f"{folder}: not a folder")
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise ModelFolderError(f"{folder}: {rel} is a symlink; model folders hold plain files")
        if path.name.lower().endswith(PICKLE_SUFFIXES):
            raise ModelFolderError(
                f"{folder}: {rel} is a pickle-format file; only safetensors weights are "
                "accepted (it was not opened)"
            )
        if path.is_file():
            files.append(path)
        elif not path.is_dir():
            raise ModelFolderError(f"{folder}: {rel} is not a regular file")
    return files


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_manifest(folder: Path) -> list[dict]:
    """[{"path", "bytes", "sha256"}] of every regular file, sorted by path."""
    folder = Path(folder)
    return [
        {
            "path": path.relative_to(folder).as_posix(),
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
        }
        for path in _walk(folder)
    ]


def verify_manifest(folder: Path, manifest: list[dict]) -> list[str]:
    """What differs between the folder and its manifest; empty when intact."""
    folder = Path(folder)
    try:
        actual = {item["path"]: item for item in file_manifest(folder)}
    except ModelFolderError as exc:
        return [str(exc)]
    problems = []
    expected = {}
    for item in manifest:
        rel = item.get("path") if isinstance(item, dict) else None
        if not isinstance(rel, str) or rel.startswith("/") or ".." in rel.split("/"):
            problems.append(f"manifest entry {item!r} has a bad path")
            continue
        expected[rel] = item
    for rel, item in sorted(expected.items()):
        have = actual.get(rel)
        if have is None:
            problems.append(f"{rel}: missing")
        elif have["bytes"] != item.get("bytes"):
            problems.append(
                f"{rel}: {have['bytes']:,} bytes, the manifest says {item.get('bytes')}"
            )
        elif have["sha256"] != item.get("sha256"):
            problems.append(f"{rel}: sha256 does not match the manifest")
    for rel in sorted(set(actual) - set(expected)):
        problems.append(f"{rel}: not in the manifest")
    return problems


def read_config(folder: Path) -> dict:
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise ModelFolderError(f"{folder}: no {CONFIG}")
    try:
        config = json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFolderError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
        raise ModelFolderError(f"{path}: not a model config (no model_type)")
    return config


def safetensors_header(path: Path) -> dict:
    """The JSON header of a safetensors file (reads only the header)."""
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ModelFolderError(f"{path}: too short to be a safetensors file")
        (length,) = struct.unpack("<Q", raw)
        if length > _MAX_HEADER:
            raise ModelFolderError(f"{path}: safetensors header of {length:,} bytes is too large")
        try:
            header = json.loads(fh.read(length).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise ModelFolderError(f"{path}: not a safetensors file (bad header)") from None
    if not isinstance(header, dict):
        raise ModelFolderError(f"{path}: not a safetensors file (bad header)")
    return header


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files that hold the model's weights (checked to exist)."""
    folder = Path(folder)
    index = folder / WEIGHTS_INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text("utf-8"))["weight_map"]
            names = sorted(set(weight_map.values()))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ModelFolderError(f"{index}: not a valid safetensors index") from None
        for name in names:
            if not isinstance(name, str) or "/" in name or not name.endswith(".safetensors"):
                raise ModelFolderError(f"{index}: bad shard name {name!r}")
            if not (folder / name).is_file():
                raise ModelFolderError(
                    f"{folder}: shard {name} listed in {WEIGHTS_INDEX} is missing"
                )
        return [folder / name for name in names]
    if (folder / WEIGHTS).is_file():
        return [folder / WEIGHTS]
    raise ModelFolderError(f"{folder}: no weights ({WEIGHTS} or {WEIGHTS_INDEX})")


def weights_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in weight_files(folder))


def quantization_of(config: dict) -> dict | None:
    """The folder's Hugging Face ``quantization_config``, or the legacy Forge block."""
    found = config.get(QUANT_CONFIG) or config.get(LEGACY_QUANT_KEY)
    return found if found is not None else None


def is_legacy_quantized(config: dict) -> bool:
    return LEGACY_QUANT_KEY in config


LEGACY_MESSAGE = (
    "quantized in Forge's own format of before December 2026, which only old Forge "
    "releases load: quantize the full-precision parent again (compressed-tensors)"
)


def check_folder(folder: Path) -> None:
    """Raise ModelFolderError unless folder is a loadable safetensors model folder."""
    folder = Path(folder)
    _walk(folder)  # symlinks, pickle files
    config = read_config(folder)
    for path in weight_files(folder):
        safetensors_header(path)
    quant = config.get(QUANT_CONFIG)
    if quant is not None and (
        not isinstance(quant, dict) or not isinstance(quant.get("quant_method"), str)
    ):
        raise ModelFolderError(f"{folder / CONFIG}: bad {QUANT_CONFIG} entry {quant!r}")
