"""The limits on what one record may carry (gpu_agent.spec) are the ones the console's
ingest enforces: what the agent cuts to is accepted, one past it is refused or cut."""

from __future__ import annotations

import pytest

from console.fleet.models import StackDump
from console.jobs import services as job_services
from console.jobs.models import Job
from gpu_agent.spec import (
    LOG_LINE_CAP,
    METRIC_NAME_MAX,
    STACKS_MAX_PROCESSES,
    STACKS_TEXT_CHARS,
)
from tests.fleet.conftest import Stream

pytestmark = pytest.mark.django_db


@pytest.fixture
def stream(personas, make_node):
    _, agent = make_node("gpu-a")
    job = job_services.job_submit(
        actor=personas.ml_engineer, project=personas.project, kind="demo.node", params={}
    )
    job_services.job_schedule(job_id=job.pk)
    s = Stream(job.pk)

    def post(*records):
        return agent.post("/api/agent/v1/ingest", {"records": list(records)}, format="json")

    assert post(s.status("running")).status_code == 200
    return s, post


def test_metric_names_up_to_the_limit(stream):
    s, post = stream
    assert post(s.metric(1, **{"m" * METRIC_NAME_MAX: 1.0})).status_code == 200
    assert post(s.metric(2, **{"m" * (METRIC_NAME_MAX + 1): 1.0})).status_code == 400


def test_stacks_processes_up_to_the_limit(stream):
    s, post = stream

    def stacks(n: int, text: str = "x") -> dict:
        procs = [{"pid": i, "label": f"rank {i}", "text": text} for i in range(n)]
        return s.rec("stacks", {"reason": "stalled", "processes": procs})

    assert post(stacks(STACKS_MAX_PROCESSES + 1)).status_code == 400
    assert post(stacks(STACKS_MAX_PROCESSES, "y" * (STACKS_TEXT_CHARS + 10))).status_code == 200
    [dump] = StackDump.objects.all()
    assert len(dump.processes) == STACKS_MAX_PROCESSES
    assert {len(p["text"]) for p in dump.processes} == {STACKS_TEXT_CHARS}


def test_a_log_line_is_kept_up_to_the_limit(stream):
    s, post = stream
    assert post(s.log("z" * (LOG_LINE_CAP + 50))).status_code == 200
    tail = Job.objects.get(pk=s.job_id).log_tail
    assert "z" * LOG_LINE_CAP in tail and "z" * (LOG_LINE_CAP + 1) not in tail
