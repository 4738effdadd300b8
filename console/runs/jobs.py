"""The ``train.run`` job kind: run by a node's agent (gpu_agent/kinds.py starts the
DeepSpeed launcher on gpu_agent.train)."""

from console.core.roles import Cap
from console.jobs import kinds
from console.runs.services import run_approval_decide
from gpu_agent.train.spec import TrainSpec

TRAIN_KIND = kinds.register(
    kinds.JobKind(
        name=TrainSpec.KIND,
        title="Training run",
        description="DeepSpeed training of a LLaMA-style model on a tokenized corpus.",
        spec=TrainSpec,
        queue="",  # set at dispatch: node.<name>
        submit_cap=Cap.TRAINING_WRITE,
        handler=None,
        interruptible=True,
        runs_on="node",
        gpus=lambda spec: spec.gpus_per_node,
        nodes=lambda spec: spec.nodes,
        cpu_procs_per_node=lambda spec: spec.cpu_procs_per_node,
        # A held run's RunApproval is decided with its job, in job_approve's transaction.
        approval_record=run_approval_decide,
        # The runs service builds the corpus and checkpoint paths from checked ids and
        # applies the project's launch policy.
        service_endpoint="POST /api/v1/runs/ (or the page /runs/new/)",
    )
)
