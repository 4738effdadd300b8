"""The folders a node's jobs may name, and the check that keeps them there (S14).

A job spec reaches an agent with paths in it (a training run's corpus and checkpoint
folders). The console builds them from ids it checked; the agent still refuses any
path outside its roots: its work dir and the storage the console or the node's
administrator named (``--root`` / FORGE_AGENT_ROOTS). A path is compared after
resolving symbolic links and ``..``, so neither leads out of a root.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

# A key of a spec or DeepSpeed config whose value is a place on disk ("corpus_dir",
# "nvme_path", "output_file", "folder", "save_dir", ...).
PATH_KEY = re.compile(r"(^|_)(path|dir|directory|file|filename|folder|root)s?$", re.IGNORECASE)


def path_fields(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted key, value) under ``value`` whose key names a path, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if PATH_KEY.search(str(key)) and not isinstance(item, dict | list):
                yield name, item
            else:
                yield from path_fields(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from path_fields(item, f"{prefix}[{index}]")


def within(path: str, roots: Iterable[Path]) -> bool:
    """Whether ``path`` (absolute, after resolving links and ``..``) lies in a root."""
    if not isinstance(path, str) or not path or "\x00" in path or not os.path.isabs(path):
        return False
    real = Path(os.path.realpath(path))
    for root in roots:
        base = Path(os.path.realpath(root))
        if real == base or base in real.parents:
            return True
    return False


def outside(fields: Iterable[tuple[str, Any]], roots: Iterable[Path]) -> list[str]:
    """Why each of ``fields`` may not be used: empty when every one lies in a root. An
    empty value names no place and passes (the spec's own checks require what it needs)."""
    roots = list(roots)
    shown = ", ".join(str(r) for r in roots) or "none"
    problems = []
    for name, value in fields:
        if value in ("", None):
            continue
        if not within(value, roots):
            problems.append(f"{name} ({value!r}) is outside this agent's roots ({shown})")
    return problems
