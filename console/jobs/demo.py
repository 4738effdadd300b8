"""The demo job kind: a synthetic CPU workload that exercises the whole job path
(submit, schedule, dispatch, claim, progress, log, checkpoint, pause/resume,
cancel, failure) before real pipelines exist."""

from __future__ import annotations

import math
import time
from typing import Any

from console.core.roles import Cap
from console.jobs import kinds
from console.jobs.execution import JobFailed
from console.jobs.kinds import JobContext
from gpu_agent.spec import DemoCountSpec
from workers.queues import Queue


def run_demo_count(ctx: JobContext, spec: DemoCountSpec) -> dict[str, Any]:
    state = ctx.checkpoint or {"step": 0, "total": 0.0}
    step, total = int(state["step"]), float(state["total"])
    if step:
        ctx.log(f"resuming from step {step}")
    while step < spec.steps:
        step += 1
        if spec.fail_at_step == step:
            raise JobFailed(f"failing on purpose at step {step} (fail_at_step)")
        time.sleep(spec.step_seconds)
        value = math.sin(step / 5) + step / spec.steps
        total += value
        ctx.log(f"step {step}/{spec.steps} value={value:.4f}")
        ctx.progress(
            100 * step / spec.steps,
            f"step {step}/{spec.steps}",
            checkpoint={"step": step, "total": total},
        )
    return {"steps": step, "total": round(total, 6)}


kinds.register(
    kinds.JobKind(
        name=DemoCountSpec.KIND,
        title="Demo: count steps",
        description="A synthetic CPU workload that reports progress and checkpoints every step.",
        spec=DemoCountSpec,
        queue=Queue.PIPELINES.value,
        submit_cap=Cap.JOBS_SUBMIT,
        handler=run_demo_count,
        interruptible=True,
        service_endpoint=None,
    )
)
