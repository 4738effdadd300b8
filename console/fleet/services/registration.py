"""An agent's registration: its node's inventory, and where its queue, broker and
storage are."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.audit.services import audit_record
from console.fleet.models import Gpu, Node
from gpu_agent.spec import RegisterReply


def _broker_for_agents() -> tuple[str, dict[str, Any]]:
    url = getattr(settings, "FORGE_AGENT_BROKER_URL", "") or settings.CELERY_BROKER_URL
    return url, dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)


@transaction.atomic
def node_register(*, node: Node, inventory: dict[str, Any], agent_version: str) -> RegisterReply:
    """The agent says hello: record its inventory and tell it where its queue is."""
    node = Node.objects.select_for_update().get(pk=node.pk)
    before = {"status": node.status, "gpus": node.gpus.filter(present=True).count()}
    now = timezone.now()
    node.hostname = str(inventory.get("hostname", ""))[:255]
    node.address = str(inventory.get("address") or node.hostname)[:255]
    node.cpu_count = int(inventory.get("cpu_count") or 0)
    node.memory_mib = int(inventory.get("memory_mib") or 0)
    node.platform = str(inventory.get("platform", ""))[:255]
    node.nvml_error = str(inventory.get("nvml_error", ""))[:255]
    node.agent_version = agent_version[:32]
    node.registered_at = node.last_heartbeat_at = now
    node.status = Node.Status.ONLINE
    node.offline_since = None
    node.save()
    seen = []
    for gpu in inventory.get("gpus") or []:
        obj, _ = Gpu.objects.update_or_create(
            node=node,
            index=int(gpu["index"]),
            defaults={
                "model": str(gpu.get("model", ""))[:128],
                "memory_mib": int(gpu.get("memory_mib") or 0),
                "driver": str(gpu.get("driver", ""))[:64],
                "present": True,
            },
        )
        seen.append(obj.pk)
    node.gpus.exclude(pk__in=seen).update(present=False)
    audit_record(
        action="node.register",
        actor=None,
        obj=node,
        before=before,
        after={
            "status": node.status,
            "gpus": len(seen),
            "hostname": node.hostname,
            "agent_version": node.agent_version,
        },
    )
    url, options = _broker_for_agents()
    return RegisterReply(
        node=node.name,
        queue=node.queue,
        heartbeat_seconds=float(settings.FORGE_NODE_HEARTBEAT_SECONDS),
        broker_url=url,
        broker_transport_options=options,
        storage_roots=storage_roots(),
    )


def storage_roots() -> list[str]:
    """The folders jobs' specs may name on a node: the console's storage (a node sees it
    at the same paths, shared storage on a multi-node fleet)."""
    folders = (settings.FORGE_DATA_DIR, settings.FORGE_RUNS_DIR, settings.FORGE_MODELS_DIR)
    return list(dict.fromkeys(str(folder) for folder in folders))
