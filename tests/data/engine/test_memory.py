"""Bounded memory: 200 MB of text (77,000 distinct documents) through upload and
the full pipeline in one process, whose peak RSS must stay far below the input.

Measured on the 2-core dev machine: 37 MB after imports, 43 MB after the upload
(streamed: flat), 143 MB peak after the pipeline. What grows is dedup state, per
document kept and not per byte (near_dedup ~0.6 KB, exact_dedup ~40 bytes; the rest
is working buffers of one chunk). Extrapolated: 1 GB of such documents (~390,000)
peaks near 37 + 5 x 100 = about 540 MB, well under the 1 GB the issue asks for.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
INPUT_BYTES = 200_000_000
MAX_RSS_MB = 250

SCRIPT = """
import json, resource, sys, time
from pathlib import Path
from console.data.engine.clean import run_pipeline
from console.data.engine.readers import iter_documents
from console.data.engine.versions import write_version
from tests.data.engine.synth import FULL_PIPELINE, write_fast_corpus

def peak_mb():
    # VmHWM: the peak of this process's own address space. ru_maxrss would also
    # count the parent's (pytest's) RSS from before exec.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

if __name__ == "__main__":
    base = Path(sys.argv[1])
    corpus = write_fast_corpus(base / "in.jsonl", int(sys.argv[2]))
    baseline = peak_mb()
    started = time.perf_counter()
    write_version(iter_documents(base / "in.jsonl", fmt="jsonl"), base / "v1")
    (base / "in.jsonl").unlink()
    after_ingest = peak_mb()
    report = run_pipeline(base / "v1", base / "v2", FULL_PIPELINE)
    print(json.dumps({
        "input_bytes": corpus["bytes"],
        "documents": report["documents_in"],
        "kept": report["documents_out"],
        "baseline_mb": baseline,
        "after_ingest_mb": after_ingest,
        "peak_mb": peak_mb(),
        "seconds": time.perf_counter() - started,
        "dedup_state_bytes": sum(d["state_bytes"] for d in report["dedup"]),
    }))
"""


@pytest.mark.slow
def test_200mb_through_the_full_pipeline_in_bounded_memory(tmp_path):
    try:
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(tmp_path), str(INPUT_BYTES)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    finally:  # 400 MB of versions: not left for pytest's tmp_path retention
        for child in tmp_path.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink()
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(result)
    assert result["input_bytes"] >= INPUT_BYTES
    assert result["kept"] > 0.95 * result["documents"]  # distinct documents: worst case
    assert result["after_ingest_mb"] - result["baseline_mb"] < 30, result  # upload streams
    assert result["peak_mb"] < MAX_RSS_MB, result
    one_gb = result["baseline_mb"] + 5 * (result["peak_mb"] - result["after_ingest_mb"])
    assert one_gb < 800, result
