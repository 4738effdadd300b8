"""bench/agent_probe: the agent's hardware paths on a real GPU node.

    python3 bench/agent_probe.py

Prints the node inventory (per GPU: index, model, memory, driver, through NVML),
three telemetry samples, and runs the demo.node workload under the agent's
supervisor holding GPU 0, checking the job saw CUDA_VISIBLE_DEVICES=0 and that
every record reached the spool. Needs only the standard library, nvidia-ml-py
and this repository (no console, no broker).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from gpu_agent.hardware import HostLoad, node_inventory
from gpu_agent.spec import LaunchSpec
from gpu_agent.spool import Spool
from gpu_agent.supervisor import Supervisor
from gpu_agent.telemetry import NvmlSource


def main() -> None:
    inventory = node_inventory()
    print(json.dumps(inventory.as_dict(), indent=2))
    source = NvmlSource()
    host = HostLoad()
    for _ in range(3):
        time.sleep(1)
        print("telemetry", json.dumps(source.sample()), "host", json.dumps(host.sample()))
    source.close()
    work = Path(tempfile.mkdtemp(prefix="forge-probe-"))
    spool = Spool(work / "spool.sqlite3")
    supervisor = Supervisor(spool, work, grace=3).start()
    steps = 20
    gpus = [0] if inventory.gpus else []
    supervisor.launch(
        LaunchSpec(
            job_id=1,
            attempt=1,
            kind="demo.node",
            gpus=gpus,
            spec={"steps": steps, "step_seconds": 0.05, "gpus": len(gpus)},
        )
    )
    deadline = time.monotonic() + 60
    while supervisor.running() and time.monotonic() < deadline:
        time.sleep(0.2)
    supervisor.shutdown()
    records = spool.pending(100_000, 64 * 1024 * 1024)
    by_type: dict[str, int] = {}
    for record in records:
        by_type[record.type] = by_type.get(record.type, 0) + 1
    statuses = [r.data["state"] for r in records if r.type == "status"]
    first_log = next((r.data["line"] for r in records if r.type == "log"), "")
    print("\nrecords by type:", by_type)
    print("statuses:", statuses)
    print("first log line:", first_log)
    ok = statuses == ["running", "succeeded"] and by_type.get("metric") == steps
    ok = ok and (f"CUDA_VISIBLE_DEVICES='{gpus[0]}'" in first_log if gpus else True)
    print("\nRESULT", "ok" if ok else "MISMATCH", f"gpus={len(inventory.gpus)}")


if __name__ == "__main__":
    main()
