"""Run pages: the list, the launch form, a run's page (live charts, checkpoints, pause,
resume and cancel buttons), its TensorBoard logs as a zip, and the compare page (the
chosen runs' series overlaid, with a JSON endpoint for the charts)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.audit.auth import forbidden, require_cap
from console.core.errors import Conflict, FieldErrors, Forbidden, ServiceError
from console.core.roles import Cap, has_cap
from console.core.types import HtmxHttpRequest
from console.data.selectors import corpus_list
from console.jobs import kinds
from console.jobs import services as job_services
from console.jobs.models import Job
from console.runs import selectors, services
from console.runs.forms import RunForm, parse_run_ids
from console.runs.models import Run

COMPARE_METRICS = ("loss", "eval_loss", "lr", "tokens_per_s")
METRIC_NAME = re.compile(r"[A-Za-z0-9_./-]{1,64}")


@require_cap(Cap.VIEW)
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    runs = selectors.run_list(user=request.user, project=request.GET.get("project", ""))[:200]
    template = "runs/list.html#runs" if request.htmx else "runs/list.html"
    return render(request, template, {"runs": runs})


@require_http_methods(["GET", "POST"])
@require_cap(Cap.TRAINING_WRITE)
def run_new(request: HtmxHttpRequest) -> HttpResponse:
    corpora = list(corpus_list(user=request.user).select_related("tokenizer"))
    gpu_nodes = selectors.fleet_gpu_nodes()
    form = RunForm(request.POST or None, corpora=corpora, gpu_nodes=gpu_nodes)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = dict(form.cleaned_data)
            chosen = data.pop("corpus")  # one of ``corpora``: the form's choices are theirs
            corpus = next(c for c in corpora if c.pk == chosen)
            try:
                run = services.run_create(
                    actor=request.user, project=corpus.project, corpus=corpus, **data
                )
            except Forbidden as exc:
                return forbidden(request, exc.message)
            except FieldErrors as exc:
                for field, errs in exc.errors.items():
                    form.add_error(field if field in form.fields else None, errs)
            else:
                messages.success(request, f"Run {run.pk} launched (job {run.job_id}).")
                return redirect("runs:detail", run_id=run.pk)
    chosen = next((c for c in corpora if str(c.pk) == str(form["corpus"].value())), None)
    shown = chosen or (corpora[0] if corpora else None)
    vocab = shown.tokenizer.vocab_size if shown else 52_000
    try:
        gpus = max(1, int(form["gpus_per_node"].value() or 1))
    except (TypeError, ValueError):
        gpus = 1
    context = {
        "form": form,
        "presets": selectors.preset_table(vocab_size=vocab, gpus_per_node=gpus),
        "gpu_nodes": gpu_nodes,
    }
    return render(request, "runs/new.html", context, status=status)


def _detail_context(request: HtmxHttpRequest, run: Run, **extra: Any) -> dict[str, Any]:
    job = run.job
    manage = has_cap(request.user, Cap.JOBS_MANAGE)
    active = job is not None and not job.is_terminal
    kind = kinds.get(job.kind) if job is not None else None
    # The same rules as console.jobs.services (which enforces them): pause and resume
    # need 'jobs.manage'; the requester may also cancel their own job.
    return {
        "run": run,
        "job": job,
        "checkpoints": list(run.checkpoints.all()),
        "deepspeed_pretty": json.dumps(run.deepspeed, indent=2),
        "can_pause": manage
        and job is not None
        and job.state == "running"
        and bool(kind and kind.interruptible),
        "can_resume": manage and job is not None and job.state == "paused",
        "can_cancel": active
        and job is not None
        and (manage or job.requested_by_id == request.user.pk),
        "can_run_now": job is not None
        and job.carbon_aware
        and not (job.carbon_plan or {}).get("overridden")
        and job.state in ("queued", "scheduled", "paused", "awaiting_approval")
        and (manage or job.requested_by_id == request.user.pk),
        **extra,
    }


@require_cap(Cap.VIEW)
def run_detail(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = selectors.run_get(user=request.user, run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    template = "runs/detail.html#status" if request.htmx else "runs/detail.html"
    return render(request, template, _detail_context(request, run))


def _job_action(
    request: HtmxHttpRequest, run_id: int, action: Callable[..., Any], done: str
) -> HttpResponse:
    """Pause, resume or cancel the run's job through console.jobs.services. htmx gets
    the status partial back (with the error inline and a 403/409 when refused); a
    plain form post is redirected to the run page with a message."""
    run = selectors.run_get(user=request.user, run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    error, status = "", 200
    try:
        if run.job_id is None:
            raise Conflict("This run has no job.")
        action(actor=request.user, job_id=run.job_id)
    except Forbidden as exc:
        if not request.htmx:
            return forbidden(request, exc.message)
        error, status = exc.message, exc.status
    except ServiceError as exc:
        error, status = exc.message, exc.status
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, f"Run {run.pk}: {done}.")
        return redirect("runs:detail", run_id=run.pk)
    run = selectors.run_get(user=request.user, run_id=run_id) or run  # the job's new state
    context = _detail_context(request, run, action_error=error, action_done="" if error else done)
    return render(request, "runs/detail.html#status", context, status=status)


@require_POST
@require_cap(Cap.VIEW)
def run_pause(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    return _job_action(request, run_id, job_services.job_pause, "paused")


@require_POST
@require_cap(Cap.VIEW)
def run_resume(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    return _job_action(request, run_id, job_services.job_resume, "resumed")


@require_POST
@require_cap(Cap.VIEW)
def run_cancel(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    return _job_action(request, run_id, job_services.job_cancel, "cancelled")


@require_POST
@require_cap(Cap.VIEW)
def run_run_now(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    """Override the carbon-aware plan: start as soon as capacity allows."""

    def action(*, actor, job_id: int):
        return job_services.job_run_now(actor=actor, job=Job.objects.get(pk=job_id))

    return _job_action(request, run_id, action, "starting now (carbon plan overridden)")


def _compare_ids(request: HtmxHttpRequest) -> list[int]:
    return parse_run_ids(request.GET.getlist("runs"))


@require_GET
@require_cap(Cap.VIEW)
def run_compare(request: HtmxHttpRequest) -> HttpResponse:
    """/runs/compare/?runs=1,2,3: the runs' series overlaid, one chart per metric, and a
    table of what each run trains and how far it got. Runs the user cannot see are
    left out like runs that do not exist."""
    raw = ",".join(request.GET.getlist("runs"))
    context: dict[str, Any] = {"raw": raw, "metrics": COMPARE_METRICS, "error": ""}
    status = 200
    try:
        ids = _compare_ids(request)
    except forms.ValidationError as exc:
        ids, status = [], 400
        context["error"] = exc.messages[0]
    runs = selectors.run_compare_runs(user=request.user, run_ids=ids) if ids else []
    if ids and not runs:
        status = 404
        context["error"] = "None of these runs exists, or you cannot see them."
    shown = {r.pk for r in runs}
    context.update(
        runs=runs,
        rows=selectors.run_compare_rows(runs=runs),
        missing=[i for i in ids if i not in shown],
        ids=",".join(str(r.pk) for r in runs),
        any_active=any(r.job is not None and not r.job.is_terminal for r in runs),
        config={
            "url": reverse("runs:compare-data"),
            "runs": [{"id": r.pk, "label": selectors.run_label(r)} for r in runs],
            "metrics": list(COMPARE_METRICS),
        },
    )
    template = "runs/compare.html#table" if request.htmx else "runs/compare.html"
    return render(request, template, context, status=status)


@require_GET
@require_cap(Cap.VIEW)
def run_compare_data(request: HtmxHttpRequest) -> JsonResponse:
    """One metric of each run for the compare charts:
    ?runs=1,2&name=loss[&after=120,98][&max_points=1000]. ``after`` (one step per run,
    in the order of ``runs``; -1 for none) asks for the new points only."""
    try:
        ids = _compare_ids(request)
    except forms.ValidationError as exc:
        return JsonResponse({"error": exc.messages[0]}, status=400)
    name = request.GET.get("name", "")
    if not METRIC_NAME.fullmatch(name):
        return JsonResponse({"error": "name: a metric name, e.g. name=loss."}, status=400)
    raw_points = request.GET.get("max_points", "1000")
    if not (raw_points.isascii() and raw_points.isdigit()) or not 10 <= int(raw_points) <= 20_000:
        return JsonResponse({"error": "max_points: between 10 and 20000."}, status=400)
    after: dict[int, int] = {}
    raw_after = request.GET.get("after", "")
    if raw_after:
        steps = raw_after.split(",")
        if len(steps) != len(ids) or not all(re.fullmatch(r"-?[0-9]{1,18}", s) for s in steps):
            return JsonResponse(
                {"error": "after: one step per run, in the order of runs (-1 for none)."},
                status=400,
            )
        after = {i: int(s) for i, s in zip(ids, steps, strict=True) if int(s) >= 0}
    runs = selectors.run_compare_runs(user=request.user, run_ids=ids)
    if not runs:
        return JsonResponse({"error": "None of these runs exists."}, status=404)
    series = selectors.run_compare_series(
        runs=runs, name=name, after=after, max_points=int(raw_points)
    )
    active = any(r.job is not None and not r.job.is_terminal for r in runs)
    return JsonResponse({"name": name, "active": active, "runs": series})


@require_cap(Cap.VIEW)
def run_tensorboard(request: HtmxHttpRequest, run_id: int) -> FileResponse:
    """The run's TensorBoard event files (<checkpoint dir>/tensorboard) as a zip."""
    run = selectors.run_get(user=request.user, run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    return tensorboard_response(run)


def tensorboard_response(run: Run) -> FileResponse:
    """The page's and the API's download: 404 until the run wrote its first event file."""
    archive = selectors.run_tensorboard_zip(run)
    if archive is None:
        raise Http404("This run has no TensorBoard logs yet.")
    return FileResponse(
        archive,
        as_attachment=True,
        filename=f"run-{run.pk}-tensorboard.zip",
        content_type="application/zip",
    )


GPU_AFTER_HELP = "after: an ISO 8601 time, e.g. after=2026-01-31T12:00:00Z."
GPU_POINTS_HELP = "max_points: between 10 and 5000."


def parse_gpu_query(params: Any) -> tuple[datetime | None, int]:
    """``after`` (an ISO 8601 time; UTC when it names no zone) and ``max_points`` of a
    GPU telemetry request; ValueError with the message to answer 400 with."""
    raw = params.get("after", "")
    after = None
    if raw:
        try:
            after = parse_datetime(raw)
            if after is not None and timezone.is_naive(after):
                after = after.replace(tzinfo=UTC)
            if after is not None:
                after = after.astimezone(UTC)
        except (ValueError, OverflowError):
            after = None
        if after is None:
            raise ValueError(GPU_AFTER_HELP)
    raw_points = params.get("max_points", "")
    if not raw_points:
        return after, selectors.GPU_MAX_POINTS
    if not (raw_points.isascii() and raw_points.isdigit()) or not 10 <= int(raw_points) <= 5000:
        raise ValueError(GPU_POINTS_HELP)
    return after, int(raw_points)


@require_GET
@require_cap(Cap.VIEW)
def run_gpus_data(request: HtmxHttpRequest, run_id: int) -> JsonResponse:
    """The run's GPUs over time for the page's charts (utilisation, memory, power, one
    trace per GPU): ?after=<ISO time> asks for the newer samples only."""
    run = selectors.run_get(user=request.user, run_id=run_id)
    if run is None:
        return JsonResponse({"error": "No such run."}, status=404)
    try:
        after, max_points = parse_gpu_query(request.GET)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(selectors.run_gpu_series(run=run, after=after, max_points=max_points))


# ------------------------------------------------------------------ run approval


@require_POST
@require_cap(Cap.VIEW)
def run_approve(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    """A reviewer (never the launcher) approves a run the launch policy held."""
    comment = request.POST.get("comment", "")[:2000]
    return _job_action(
        request,
        run_id,
        lambda *, actor, job_id: services.run_approve(actor=actor, run_id=run_id, comment=comment),
        "approved",
    )


@require_POST
@require_cap(Cap.VIEW)
def run_reject(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    """A reviewer (never the launcher) rejects a held run: its job is cancelled."""
    comment = request.POST.get("comment", "")[:2000]
    return _job_action(
        request,
        run_id,
        lambda *, actor, job_id: services.run_reject(actor=actor, run_id=run_id, comment=comment),
        "rejected",
    )
