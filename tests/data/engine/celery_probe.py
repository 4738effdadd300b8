"""A Celery app of its own for test_workers: a real ``celery worker --pool prefork``
runs ``run_pipeline(workers=2)`` in its pool child, a daemonic process, as the
console's cleaning task does. The filesystem broker under FORGE_PROBE_BROKER_DIR
needs no server and no Django.

    celery -A tests.data.engine.celery_probe worker --pool prefork --concurrency 1
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

from celery import Celery

from console.data.engine.clean import run_pipeline
from tests.data.engine.synth import FULL_PIPELINE

BROKER_DIR = Path(os.environ["FORGE_PROBE_BROKER_DIR"])
for sub in ("queue", "control"):
    (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)

app = Celery("engine_probe", broker="filesystem://")
app.conf.update(
    broker_transport_options={
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "polling_interval": 0.1,
    },
    task_ignore_result=True,
    worker_hijack_root_logger=False,
)


@app.task(name="probe.clean")
def clean(src: str, out: str, result: str, workers: int) -> None:
    report = run_pipeline(Path(src), Path(out), FULL_PIPELINE, workers=workers)
    Path(result).write_text(
        json.dumps(
            {
                "daemon": multiprocessing.current_process().daemon,
                "workers": report["workers"],
                "sha256": report["version"]["sha256"],
            }
        )
    )
