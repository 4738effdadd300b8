"""Child process of ``measure`` on CPU: ``python -m gpu_agent.models.probe '<json>'``.

Prints one JSON line (measure's result). Runs in a fresh process so that its RSS
high-water mark reflects this one model only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import transformers  # noqa: F401  (imported before the baseline is read)

from gpu_agent.models.measure import run_in_process


def main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    result = run_in_process(
        Path(request["folder"]),
        corpus_dir=None if request["corpus_dir"] is None else Path(request["corpus_dir"]),
        device=request["device"],
        batch_sizes=tuple(request["batch_sizes"]),
        new_tokens=request["new_tokens"],
        prompt_tokens=request["prompt_tokens"],
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
