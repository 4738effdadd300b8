"""The node demo job kind: a synthetic workload a node's agent runs as a supervised
subprocess (gpu_agent/workloads/demo.py), streaming logs, metrics and progress."""

from console.core.roles import Cap
from console.jobs import kinds
from gpu_agent.spec import DemoNodeSpec

kinds.register(
    kinds.JobKind(
        name=DemoNodeSpec.KIND,
        title="Demo: node workload",
        description="A synthetic workload run by a node's agent: logs, metrics every step, "
        "checkpoints; optionally holds GPUs.",
        spec=DemoNodeSpec,
        queue="",  # set at dispatch: node.<name>
        submit_cap=Cap.JOBS_SUBMIT,
        handler=None,
        interruptible=True,
        runs_on="node",
        gpus=lambda spec: spec.gpus,
        service_endpoint=None,
    )
)
