"""A stalled run's stacks (issue 14, item 13): the stall alert asks the run's node for
its processes' Python stacks over the node's queue; the agent's "stacks" record is
ingested, attached to the alert and shown on the run's page."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from console.alerts import evaluate
from console.alerts.models import Alert
from console.core.errors import InvalidInput
from console.fleet import services as fleet
from console.fleet.models import StackDump
from console.jobs.models import Job
from gpu_agent import stacks
from gpu_agent.spec import AGENT_STACKS_TASK
from tests.alerts.conftest import _fresh_rule_cache, live_run  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

RANK0 = (
    'Thread 4242 (idle): "MainThread"\n'
    "    all_reduce (torch/distributed/distributed_c10d.py:2950)\n"
    "    all_mean (gpu_agent/train/loop.py:270)\n"
    "    run (gpu_agent/train/loop.py:377)\n"
)


def node_messages(queue: str) -> list[tuple[str, list]]:
    """(task, args) of the messages waiting in a node's queue, taken off it."""
    from kombu import Exchange, Queue

    from workers.celery import app

    out = []
    with app.connection_for_read() as conn:
        q = Queue(queue, Exchange(queue, type="direct"), routing_key=queue)
        with conn.SimpleQueue(q) as simple:
            while True:
                try:
                    message = simple.get(timeout=1)
                except simple.Empty:
                    return out
                body = message.decode()
                out.append((message.headers.get("task"), list(body[0])))
                message.ack()


def purge(queue: str) -> None:
    from workers.celery import app

    with app.connection_for_write() as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge(queue)


def stacks_record(live, reason: str) -> dict:
    taken = [
        stacks.ProcessStack(pid=4242, label="rank 0 (local 0)", method="py-spy", text=RANK0),
        stacks.ProcessStack(pid=4240, label="launcher", method="faulthandler", text="File x"),
    ]
    return live.stream.rec("stacks", stacks.record(reason, taken), at=timezone.now().timestamp())


def test_a_stall_alert_asks_the_node_for_stacks_and_the_run_page_shows_them(
    personas,
    live_run,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    live = live_run()
    purge("node.cpu-a")
    live.losses(1, 2.0)
    later = timezone.now() + timedelta(seconds=400)
    with django_capture_on_commit_callbacks(execute=True):
        assert evaluate.evaluate_periodic(now=later)["fired"] == 1
    [alert] = Alert.objects.filter(run=live.run, rule__name="metrics-stalled")
    [(task, args)] = node_messages("node.cpu-a")
    assert task == AGENT_STACKS_TASK
    assert args == [
        {
            "job": live.run.job_id,
            "attempt": 1,
            "reason": f"metrics-stalled: {alert.message}",
        }
    ]

    client = Client()
    client.force_login(personas.viewer)
    url = f"/alerts/runs/{live.run.pk}/"
    before = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "stacks requested from the node" in before and "Stacks at" not in before
    assert f'hx-get="/alerts/runs/{live.run.pk}/?part=stacks"' in before  # polls for them

    # what the agent sends back, through the real ingest
    live.send(stacks_record(live, f"metrics-stalled: {alert.message}"))
    [dump] = StackDump.objects.filter(job_id=live.run.job_id)
    assert dump.attempt == 1 and dump.node == live.node
    assert [p["label"] for p in dump.processes] == ["rank 0 (local 0)", "launcher"]
    assert "stacks of 2 process(es) were read" in Job.objects.get(pk=live.run.job_id).log_tail

    for body in (
        client.get(url, HTTP_HX_REQUEST="true").content.decode(),
        client.get(url + "?part=stacks", HTTP_HX_REQUEST="true").content.decode(),
        client.get(url).content.decode(),
    ):
        assert f'id="stacks-{dump.pk}"' in body and "Stacks at" in body
        assert "all_reduce (torch/distributed/distributed_c10d.py:2950)" in body
        assert "rank 0 (local 0)</strong> · pid 4242 · py-spy" in body
    panel = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert f'href="#stacks-{dump.pk}" data-testid="alert-stacks"' in panel  # on the alert
    assert "?part=stacks" not in panel  # it stopped polling


def test_a_job_of_another_project_shows_no_stacks(personas, live_run):  # noqa: F811
    live = live_run()
    live.send(stacks_record(live, "stuck before the first step: waiting on x"))
    client = Client()
    client.force_login(personas.outsider)
    answer = client.get(f"/alerts/runs/{live.run.pk}/")
    assert answer.status_code in (403, 404) and b"all_reduce" not in answer.content


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"processes": []}, "stacks needs a reason and a processes list"),
        ({"reason": "r", "processes": "x"}, "stacks needs a reason and a processes list"),
        ({"reason": "r", "processes": [{"pid": "1", "label": "", "text": ""}]}, "integer pid"),
        ({"reason": "r", "processes": [{"pid": 1, "label": "l"} for _ in range(65)]}, "at most"),
    ],
)
def test_a_malformed_stacks_record_is_refused_whole(live_run, data, error):  # noqa: F811
    live = live_run()
    with pytest.raises(InvalidInput) as refused:
        fleet.parse_batch({"records": [live.stream.rec("stacks", data)]})
    assert error in str(refused.value.errors)
    assert not StackDump.objects.exists()
