"""Helpers for the data app's tests: files to upload, staged uploads, and running a
submitted job to its end in this process, through the jobs core's real path."""

from __future__ import annotations

import io
import json
from pathlib import Path

from console.data.uploads import StagedUpload
from console.jobs import execution
from console.jobs import services as job_services
from console.jobs.models import Job

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"

EN = [
    "The court dismissed the appeal and ordered each party to bear its own costs. " * 2,
    "Contact jane.doe@example.org or call +1 415 555 0132 about the filing. " * 2,
    "Pay with 4111-1111-1111-1111 before the end of the month, the clerk said. " * 2,
    "The court dismissed the appeal and ordered each party to bear its own costs. " * 2,
    "Drink water regularly through the day rather than waiting until you feel thirsty.",
]
ZH = [
    "本院认为，被告应当承担责任。联系电话：13800138000，邮箱zhang@example.cn。" * 2,  # noqa: RUF001
    "机器学习模型需要大量高质量的训练数据，数据清洗是其中重要的一步。" * 2,  # noqa: RUF001
]


def jsonl_bytes(texts: list[str], field: str = "text") -> bytes:
    return "".join(json.dumps({field: t}, ensure_ascii=False) + "\n" for t in texts).encode()


def files_under(root: Path) -> list[str]:
    """Every file under root, relative (directories that hold nothing are ignored)."""
    if not root.exists():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def staged(data_dir: Path, name: str, content: bytes) -> StagedUpload:
    """A file as the upload handler leaves it: under uploads/.incoming/."""
    import hashlib
    import uuid

    incoming = data_dir / "uploads" / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    path = incoming / f"{uuid.uuid4().hex}.part"
    path.write_bytes(content)
    return StagedUpload(
        path=path,
        name=name,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content_type="application/octet-stream",
    )


def run_job(job: Job) -> Job:
    """Schedule, dispatch, claim and execute a queued job here, as a worker would."""
    job_services.job_schedule(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == "dispatched", job.state
    execution.job_execute(job_id=job.pk, attempt=job.attempt)
    job.refresh_from_db()
    return job


def upload_file(name: str, content: bytes) -> io.BytesIO:
    f = io.BytesIO(content)
    f.name = name
    return f
