"""Policy reads: a project's policy and why it holds a run."""

from __future__ import annotations

from django.conf import settings

from console.fleet.models import Gpu
from console.policies.estimate import RunEstimate, peak_tflops_for, run_cost_estimate
from console.policies.models import RunApprovalPolicy
from console.projects.models import Project
from gpu_agent.train.spec import TrainSpec


def fleet_run_estimate(spec: TrainSpec) -> RunEstimate:
    """The estimate on this fleet: the peak of the slowest GPU of the enabled nodes."""
    models = Gpu.objects.filter(node__enabled=True, present=True).values_list("model", flat=True)
    return run_cost_estimate(
        spec,
        peak_tflops=peak_tflops_for(set(models)),
        mfu=settings.FORGE_ESTIMATE_MFU,
        price_per_gpu_hour=settings.FORGE_GPU_HOUR_PRICE,
    )


def policy_reasons(
    *, policy: RunApprovalPolicy | None, preset: str, estimate: RunEstimate
) -> list[str]:
    """Why the policy holds the run; empty when it does not (or there is none)."""
    if policy is None or not policy.enabled:
        return []
    reasons = []
    if isinstance(policy.presets, list) and preset in policy.presets:
        reasons.append(f"preset {preset} needs approval")
    if policy.max_gpu_hours is not None and estimate.gpu_hours > policy.max_gpu_hours:
        reasons.append(
            f"estimated {estimate.gpu_hours:.1f} GPU-hours exceeds {policy.max_gpu_hours:g}"
        )
    if policy.max_cost is not None and estimate.cost > policy.max_cost:
        reasons.append(f"estimated cost {estimate.cost:.2f} exceeds {policy.max_cost:g}")
    return reasons


def run_policy_check(
    *, project: Project, preset: str, spec: TrainSpec
) -> tuple[list[str], RunEstimate]:
    policy = RunApprovalPolicy.objects.filter(project=project).first()
    estimate = fleet_run_estimate(spec)
    return policy_reasons(policy=policy, preset=preset, estimate=estimate), estimate
