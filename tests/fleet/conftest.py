from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.fleet import services
from console.fleet.models import Node


@pytest.fixture
def make_node(db):
    """make_node(name, gpus=n) -> (node, agent APIClient with its token), registered."""

    def make(name: str = "gpu-a", gpus: int = 2, register: bool = True):
        issued = services.node_create(actor=None, name=name)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Node {issued.key}")
        if register:
            inventory = {
                "hostname": f"{name}.local",
                "cpu_count": 16,
                "memory_mib": 131072,
                "platform": "Linux",
                "gpus": [
                    {"index": i, "model": "NVIDIA H200", "memory_mib": 143771, "driver": "580.1"}
                    for i in range(gpus)
                ],
            }
            response = client.post(
                "/api/agent/v1/register",
                {"name": name, "agent_version": "test", "inventory": inventory},
                format="json",
            )
            assert response.status_code == 200, response.content
        return Node.objects.get(name=name), client

    return make


class Stream:
    """Builds records for one job attempt's stream, numbering seq like an agent does."""

    def __init__(self, job_id: int, attempt: int = 1) -> None:
        self.job_id, self.attempt, self.seq = job_id, attempt, 0

    def rec(self, type_: str, data: dict, at: float = 1_700_000_000.0) -> dict:
        self.seq += 1
        return {
            "job": self.job_id,
            "attempt": self.attempt,
            "seq": self.seq,
            "type": type_,
            "at": at,
            "data": data,
        }

    def status(self, state: str, exit_code=None, reason: str = "") -> dict:
        return self.rec("status", {"state": state, "exit_code": exit_code, "reason": reason})

    def metric(self, step: int, **values: float) -> dict:
        return self.rec("metric", {"step": step, "values": values})

    def log(self, line: str) -> dict:
        return self.rec("log", {"stream": "stdout", "line": line})
