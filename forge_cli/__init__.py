"""Forge command-line tool and Python client for the console's REST API (/api/v1/).

This package must not import Django: it runs on laptops and CI machines that talk
to a remote console over HTTP.

    from forge_cli import ForgeClient

    with ForgeClient("https://forge.example.org", token) as forge:
        job = forge.job_submit(project="alpha", kind="demo.count", params={"steps": 5})
        final = forge.job_wait(job.id, timeout=600)
"""

from __future__ import annotations

from forge_cli.client import (
    TERMINAL_STATES,
    AuditEvent,
    ForgeClient,
    ForgeError,
    Job,
    JobKind,
    JobKindField,
    Me,
    Project,
    WaitTimeout,
)

__version__ = "0.1.0"

__all__ = [
    "TERMINAL_STATES",
    "AuditEvent",
    "ForgeClient",
    "ForgeError",
    "Job",
    "JobKind",
    "JobKindField",
    "Me",
    "Project",
    "WaitTimeout",
    "__version__",
]
