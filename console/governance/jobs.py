"""The ``review.check`` job kind: an automated check of a review item, run by a Celery
worker (queue ``pipelines``) on the review's model version.

The handler reloads the item, refuses a job that is not the item's latest check (the
generic jobs API accepts the kind too, but only ``services.review_check_start`` links
a job to an item), verifies the version's files against their sha256 manifest, runs
the check engine in a thread while reporting progress, and returns the result; the
result is written onto the item by ``services.review_check_left_active`` in the
transaction that marks the job succeeded.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings

from console.core.roles import Cap
from console.governance.models import ReviewItem
from console.governance.specs import ReviewCheckSpec
from console.jobs import kinds
from console.jobs.execution import JobFailed, in_thread
from console.jobs.kinds import JobContext
from console.jobs.models import Job
from console.registry.artifacts import manifest_problems
from console.registry.services import model_folder
from workers.queues import Queue


def run_review_check(ctx: JobContext, spec: ReviewCheckSpec) -> dict[str, Any]:
    from console.governance.checks import run_check

    project_id = cast(  # the running job's
        int, Job.objects.filter(pk=ctx.job_id).values_list("project_id", flat=True).first()
    )
    item = (
        ReviewItem.objects.select_related("review__version")
        .filter(pk=spec.review_item_id, review__project_id=project_id)
        .first()
    )
    if item is None or item.check_job_id != ctx.job_id:
        raise JobFailed("this check was not started from its review (start it on the review page)")
    version = item.review.version
    folder = model_folder(version)
    ctx.log(f"verifying {len(version.files)} files of {version} against their sha256")
    problems = manifest_problems(folder, version.files)
    if problems:
        raise JobFailed(f"{version}: the files do not match the manifest: {'; '.join(problems)}")
    params = spec.params()
    lexicon = getattr(settings, "FORGE_TOXICITY_LEXICON", "")
    if lexicon:
        params["lexicon_path"] = str(lexicon)
    state: dict[str, Any] = {"percent": 1, "line": "loading the model"}

    def progress(percent: int, line: str) -> None:
        state["percent"], state["line"] = max(1, min(98, percent)), line

    ctx.log(f"{item.get_check_kind_display()} check of {version} (threshold {item.threshold})")
    result = in_thread(
        ctx,
        lambda: (state["percent"], state["line"]),
        lambda: run_check(
            item.check_kind, folder, threshold=item.threshold, params=params, progress=progress
        ),
    )
    verdict = "passed" if result["passed"] else "FAILED"
    ctx.log(
        f"{result['metric']}: {result['value']:.4f} (threshold {result['threshold']}, "
        f"{result['direction']}) {verdict}; {result['generations']} generations "
        f"in {result['seconds']:.1f} s"
    )
    ctx.progress(99, "recording the result")
    return {"check": result}


kinds.register(
    kinds.JobKind(
        name=ReviewCheckSpec.KIND,
        title="Review: automated check",
        description="Bias probe, toxicity, PII leakage or fact check of a model version "
        "under review.",
        spec=ReviewCheckSpec,
        queue=Queue.PIPELINES.value,
        submit_cap=Cap.VIEW,
        handler=run_review_check,
        service_endpoint="POST /api/v1/reviews/<review>/items/<item>/run-check/",
        max_attempts=2,
    )
)
