"""Checkpoint folders and which of them are complete.

A run's checkpoint folder holds one DeepSpeed tag per save (``step_<n>``), the
resolved configuration (``run.json``) and TensorBoard files. A tag counts only
once ``forge_complete.json`` is in it: rank 0 writes that file (atomically) after
every rank has returned from ``save_checkpoint`` and met at a barrier, so a save
interrupted on any rank never becomes the latest. DeepSpeed's own ``latest``
file is not used. With ``checkpoint.export_weights`` each tag also holds ``hf/``,
the model's weights as safetensors with its config, written before the marker.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

COMPLETE = "forge_complete.json"
# The consolidated 16-bit weights of a tag as a Hugging Face folder (config.json and
# *.safetensors), when the run exports them: <root>/<tag>/hf.
HF_FOLDER = "hf"
_TAG = re.compile(r"^step_(\d+)$")


def tag_for(step: int) -> str:
    return f"step_{step}"


def mark_complete(root: Path, step: int, info: dict[str, Any]) -> dict[str, Any]:
    folder = Path(root) / tag_for(step)
    record = {"step": step, "tag": tag_for(step), "at": time.time(), **info}
    tmp = folder / (COMPLETE + ".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, folder / COMPLETE)
    return record


def complete_steps(root: Path) -> list[int]:
    root = Path(root)
    if not root.is_dir():
        return []
    steps = []
    for child in root.iterdir():
        match = _TAG.match(child.name)
        if match and (child / COMPLETE).is_file():
            steps.append(int(match.group(1)))
    return sorted(steps)


def latest_complete(root: Path) -> int | None:
    steps = complete_steps(root)
    return steps[-1] if steps else None


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)
