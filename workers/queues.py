from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    """Every Celery queue Forge uses. GPU nodes each consume their own `node.<name>`."""

    DEFAULT = "default"
    PIPELINES = "pipelines"
    SCHEDULER = "scheduler"
    INGEST = "ingest"

    @staticmethod
    def node(name: str) -> str:
        return f"node.{name}"


CONSOLE_QUEUES = [Queue.DEFAULT, Queue.PIPELINES, Queue.SCHEDULER, Queue.INGEST]
