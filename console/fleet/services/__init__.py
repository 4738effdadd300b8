"""Fleet writes, one module per concern; every public name is re-exported here, so
``from console.fleet import services`` and ``services.node_create`` keep working.

- nodes: nodes and their tokens (create, issue, revoke, enable, authenticate)
- node_settings: a node's power policy and prices (admins only)
- registration: an agent's registration (inventory, queue, broker, storage roots)
- liveness: heartbeats (with power reports) and the fleet reconciler (offline, lost jobs)
- dispatch: the "node" executor of console.jobs.kinds (place, launch, resend launches)
- allocations: an attempt's allocations and GPUs released when its job leaves active
- records: the validation of an agent's record batch
- ingest: the lossless ingest of a validated batch (logs, metrics, progress,
  checkpoints, stacks, status, telemetry)
- stacks: asking agents for a job attempt's Python stacks
- telemetry: compaction of GPU samples
"""

from console.fleet.services.allocations import allocation_release_for_job
from console.fleet.services.dispatch import job_dispatch_to_node, node_dispatch_messages
from console.fleet.services.ingest import IngestResult, UnknownStream, ingest_batch
from console.fleet.services.liveness import FleetReport, fleet_reconcile, node_heartbeat
from console.fleet.services.node_settings import (
    NODE_SETTINGS_FIELDS,
    POWER_FIELDS,
    PRICE_FIELDS,
    node_power_policy_check,
    node_settings_allowed,
    node_settings_update,
)
from console.fleet.services.nodes import (
    NODE_TOKEN_PREFIX,
    IssuedNodeToken,
    node_create,
    node_set_enabled,
    node_token_authenticate,
    node_token_issue,
    node_token_revoke,
)
from console.fleet.services.records import BatchInvalid, BatchTooLarge, parse_batch
from console.fleet.services.registration import node_register, storage_roots
from console.fleet.services.stacks import job_stacks_request
from console.fleet.services.telemetry import telemetry_compact
from console.jobs.execution import LOG_TAIL_CHARS
from gpu_agent.spec import STACKS_MAX_PROCESSES, STACKS_TEXT_CHARS

__all__ = [
    "LOG_TAIL_CHARS",
    "NODE_SETTINGS_FIELDS",
    "NODE_TOKEN_PREFIX",
    "POWER_FIELDS",
    "PRICE_FIELDS",
    "STACKS_MAX_PROCESSES",
    "STACKS_TEXT_CHARS",
    "BatchInvalid",
    "BatchTooLarge",
    "FleetReport",
    "IngestResult",
    "IssuedNodeToken",
    "UnknownStream",
    "allocation_release_for_job",
    "fleet_reconcile",
    "ingest_batch",
    "job_dispatch_to_node",
    "job_stacks_request",
    "node_create",
    "node_dispatch_messages",
    "node_heartbeat",
    "node_power_policy_check",
    "node_register",
    "node_set_enabled",
    "node_settings_allowed",
    "node_settings_update",
    "node_token_authenticate",
    "node_token_issue",
    "node_token_revoke",
    "parse_batch",
    "storage_roots",
    "telemetry_compact",
]
