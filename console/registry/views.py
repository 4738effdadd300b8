"""Model pages: the list, registering a checkpoint, a version's page (status, lineage,
files, evaluations and their chart, the measured comparison of its family, the Evaluate
and Quantize forms), downloads and the playground."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.audit.auth import forbidden, require_cap
from console.core.errors import Conflict, Forbidden, NotFound, ServiceError
from console.core.ids import InvalidId, parse_optional_id
from console.core.roles import Cap, has_cap
from console.core.types import HtmxHttpRequest
from console.data.selectors import corpus_get, corpus_list
from console.jobs.models import Job
from console.projects.selectors import project_list
from console.registry import forms, selectors, services
from console.registry.api import download_response, feedback_export_response
from console.registry.feedback import feedback_create, feedback_to_dataset
from console.registry.models import FeedbackSource, ModelVersion, RatingScale, Status
from console.runs.models import Checkpoint
from console.runs.selectors import run_get, run_list

# what the archive button moves a version to
_ARCHIVE_TO: dict[str, Status] = {Status.DRAFT: Status.ARCHIVED, Status.ARCHIVED: Status.DRAFT}


def _version_or_404(request: HtmxHttpRequest, version_id: int) -> ModelVersion:
    version = selectors.model_version_get(user=request.user, version_id=version_id)
    if version is None:
        raise Http404("No such model version.")
    return version


def _errors(exc: ServiceError) -> dict[str, list[str]]:
    return getattr(exc, "errors", None) or {"__all__": [exc.message]}


def _add_errors(form, exc: ServiceError) -> None:
    for field, errs in _errors(exc).items():
        for e in errs:
            form.add_error(field if field in form.fields else None, e)


@require_cap(Cap.VIEW)
def model_list(request: HtmxHttpRequest) -> HttpResponse:
    project = request.GET.get("project", "")
    return render(
        request,
        "registry/list.html",
        {
            "versions": selectors.model_version_list(user=request.user, project=project)[:200],
            "projects": project_list(user=request.user),
            "project": project,
        },
    )


@require_cap(Cap.TRAINING_WRITE)
def model_new(request: HtmxHttpRequest) -> HttpResponse:
    """Register a run's checkpoint (the run page links here with run and step)."""
    data = request.POST if request.method == "POST" else None
    initial = {"run": request.GET.get("run"), "step": request.GET.get("step")}
    form = forms.RegisterForm(data, initial=initial)
    try:
        run_id = parse_optional_id((data or request.GET).get("run"))
    except InvalidId:
        run_id = None
    run = run_get(user=request.user, run_id=run_id) if run_id is not None else None
    if run is not None and "name" not in form.initial:
        form.initial["name"] = f"{run.name or 'run'}-{run.pk}"[:100].replace(" ", "-")
    if request.method == "POST" and form.is_valid():
        if run is None:
            raise Http404("No such run.")
        try:
            job = services.model_register(
                actor=request.user,
                run=run,
                step=form.cleaned_data["step"],
                name=form.cleaned_data["name"],
            )
        except Forbidden as exc:
            return forbidden(request, exc.message)
        except ServiceError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Registering {form.cleaned_data['name']}: job {job.pk}.")
            return redirect("jobs:detail", job_id=job.pk)
    checkpoints = []
    if run is not None:
        checkpoints = list(Checkpoint.objects.filter(run=run))
    return render(
        request,
        "registry/new.html",
        {
            "form": form,
            "run": run,
            "checkpoints": checkpoints,
            "runs": run_list(user=request.user)[:50] if run is None else [],
            "step": (data or request.GET).get("step", ""),
        },
        status=400 if request.method == "POST" else 200,
    )


def _calibration_corpora(version: ModelVersion, corpora: Any) -> list[Any]:
    """The project's corpora made with the version's tokenizer (others are refused)."""
    tokenizer = (version.lineage or {}).get("tokenizer")
    return [c for c in corpora if tokenizer is None or c.tokenizer_id == tokenizer]


def _detail_context(
    request: HtmxHttpRequest, version: ModelVersion, **extra: Any
) -> dict[str, Any]:
    corpora = corpus_list(user=request.user).filter(project_id=version.project_id)[:50]
    lineage = version.lineage or {}
    chart = selectors.perplexity_chart(version)
    can_write = has_cap(request.user, Cap.TRAINING_WRITE)
    return {
        "version": version,
        "lineage": lineage,
        "lineage_model": json.dumps(lineage.get("model") or {}, indent=2),
        "lineage_deepspeed": json.dumps(lineage.get("deepspeed") or {}, indent=2),
        "corpus": corpus_get(user=request.user, corpus_id=lineage["corpus"])
        if lineage.get("corpus")
        else None,
        "evaluations": selectors.evaluation_list(version),
        "comparison": selectors.comparison_rows(version),
        "chart": chart,
        "chart_json": json.dumps(chart),
        "jobs": Job.objects.filter(
            kind__startswith="model.",
            project_id=version.project_id,
            spec__model_version_id=version.pk,
        ).order_by("-id")[:10],
        "can_write": can_write,
        "supported": services.supported_methods() if can_write else {},
        "evaluate_form": extra.pop("evaluate_form", None) or forms.EvaluateForm(corpora=corpora),
        "quantize_form": extra.pop("quantize_form", None)
        or forms.QuantizeForm(corpora=_calibration_corpora(version, corpora)),
        "serving": selectors.serving_requirements(version),
        "archive_to": _ARCHIVE_TO.get(version.status),
        **extra,
    }


@require_cap(Cap.VIEW)
def model_detail(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    version = _version_or_404(request, version_id)
    return render(request, "registry/detail.html", _detail_context(request, version))


@require_POST
@require_cap(Cap.TRAINING_WRITE)
def model_evaluate(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    version = _version_or_404(request, version_id)
    corpora = corpus_list(user=request.user).filter(project_id=version.project_id)[:50]
    form = forms.EvaluateForm(request.POST, corpora=corpora)
    if form.is_valid():
        data = dict(form.cleaned_data)
        corpus_id = data.pop("corpus")
        corpus = corpus_get(user=request.user, corpus_id=corpus_id) if corpus_id else None
        try:
            job = services.model_evaluate(
                actor=request.user, version=version, corpus=corpus, **data
            )
        except Forbidden as exc:
            return forbidden(request, exc.message)
        except ServiceError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Evaluation queued: job {job.pk}.")
            return redirect("jobs:detail", job_id=job.pk)
    ctx = _detail_context(request, version, evaluate_form=form)
    return render(request, "registry/detail.html", ctx, status=400)


@require_POST
@require_cap(Cap.TRAINING_WRITE)
def model_export_onnx(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    version = _version_or_404(request, version_id)
    try:
        job = services.model_export_onnx(actor=request.user, version=version)
    except Forbidden as exc:
        return forbidden(request, exc.message)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("registry:detail", version_id=version.pk)
    messages.success(request, f"ONNX export queued: job {job.pk}.")
    return redirect("jobs:detail", job_id=job.pk)


@require_POST
@require_cap(Cap.TRAINING_WRITE)
def model_quantize(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    version = _version_or_404(request, version_id)
    corpora = corpus_list(user=request.user).filter(project_id=version.project_id)[:50]
    form = forms.QuantizeForm(request.POST, corpora=_calibration_corpora(version, corpora))
    if form.is_valid():
        data = form.cleaned_data
        calibration = data["calibration_corpus"]
        try:
            job = services.model_quantize(
                actor=request.user,
                version=version,
                method=data["method"],
                algorithm=data["algorithm"],
                group_size=data["group_size"],
                calibration_corpus=corpus_get(user=request.user, corpus_id=calibration)
                if calibration
                else None,
                calibration_samples=data["calibration_samples"],
            )
        except Forbidden as exc:
            return forbidden(request, exc.message)
        except ServiceError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Quantization queued: job {job.pk}.")
            return redirect("jobs:detail", job_id=job.pk)
    ctx = _detail_context(request, version, quantize_form=form)
    return render(request, "registry/detail.html", ctx, status=400)


@require_POST
@require_cap(Cap.TRAINING_WRITE)
def model_status(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    version = _version_or_404(request, version_id)
    try:
        services.model_version_set_status(
            actor=request.user, version=version, status=request.POST.get("status", "")
        )
    except Forbidden as exc:
        return forbidden(request, exc.message)
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("registry:detail", version_id=version.pk)


@require_cap(Cap.VIEW)
def model_download(request: HtmxHttpRequest, version_id: int) -> HttpResponseBase:
    version = _version_or_404(request, version_id)
    try:
        return download_response(version)
    except ServiceError as exc:
        return render(
            request,
            "registry/refused.html",
            {"version": version, "reason": exc.message},
            status=409,
        )


@require_cap(Cap.VIEW)
def model_file(request: HtmxHttpRequest, version_id: int, path: str) -> HttpResponseBase:
    """One file of the version, after checking it against its recorded sha256."""
    version = _version_or_404(request, version_id)
    try:
        file_path, entry = selectors.model_file_checked(version, path)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except Conflict as exc:
        return render(
            request,
            "registry/refused.html",
            {"version": version, "reason": exc.message},
            status=409,
        )
    response = FileResponse(file_path.open("rb"), as_attachment=True, filename=file_path.name)
    response["X-Checksum-SHA256"] = entry["sha256"]
    return response


@require_cap(Cap.VIEW)
def model_playground(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    """Generation from one prompt, synchronously (small versions only)."""
    version = _version_or_404(request, version_id)
    form = forms.PlaygroundForm(request.POST or None)
    output = None
    status = 200
    if request.method == "POST":
        if not has_cap(request.user, Cap.JOBS_SUBMIT):
            return forbidden(request, "The playground needs the 'jobs.submit' permission.")
        if form.is_valid():
            try:
                output = services.playground_generate(
                    actor=request.user, version=version, **form.cleaned_data
                )
            except ServiceError as exc:
                _add_errors(form, exc)
        if not form.is_valid() or form.errors:
            status = 400
    template = "registry/playground.html#output" if request.htmx else "registry/playground.html"
    return render(
        request,
        template,
        {
            "version": version,
            "form": form,
            "output": output,
            "feedback_form": _rate_form(form, output),
            "too_large": version.size_bytes > _limit(),
            "limit": _limit(),
        },
        status=status,
    )


def _rate_form(form: forms.PlaygroundForm, output: dict[str, Any] | None):
    """The rating form under a playground answer: the prompt, the answer and the
    sampling settings that made it travel back as hidden fields."""
    if not output or not output.get("outputs"):
        return None
    data = form.cleaned_data
    return forms.FeedbackForm(
        initial={
            "prompt": data["prompt"],
            "output": output["outputs"][0]["text"],
            **{k: data.get(k) for k in forms.FeedbackForm.SAMPLING},
        }
    )


def _limit() -> int:
    from django.conf import settings

    return settings.FORGE_PLAYGROUND_MAX_BYTES


@require_cap(Cap.VIEW)
def job_output(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """Where a model job's result lives: the version it made, or the one it evaluated."""
    job = Job.objects.filter(pk=job_id, project__in=project_list(user=request.user)).first()
    if job is None:
        raise Http404("No such job.")
    made = ModelVersion.objects.filter(job=job).first()
    if made is not None:
        return redirect("registry:detail", version_id=made.pk)
    version_id = (job.spec or {}).get("model_version_id")
    if isinstance(version_id, int):
        return redirect("registry:detail", version_id=version_id)
    raise Http404("This job made nothing (yet).")


@require_cap(Cap.VIEW)
def model_feedback(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    """A version's feedback: filters, counts, the ratings per day, the items."""
    version = _version_or_404(request, version_id)
    form = forms.FeedbackFilterForm(request.GET)
    valid = form.is_valid()
    items = selectors.feedback_list(version=version, **(form.filters() if valid else {}))
    if not valid:
        items = items.none()
    filters = {k: v for k, v in request.GET.items() if k in form.fields and v}
    context = {
        "version": version,
        "form": form,
        "filters": filters,
        "page": Paginator(items, 25).get_page(request.GET.get("page")),
        "summary": selectors.feedback_summary(items),
        "exportable": {
            layout: selectors.feedback_exportable(items, layout).count()
            for layout in selectors.EXPORT_LAYOUTS
        },
        "query": request.GET.urlencode(),
        "can_make_data": has_cap(request.user, Cap.DATA_WRITE),
        "overall": selectors.feedback_summary(selectors.feedback_list(version=version)),
    }
    template = "registry/feedback.html#results" if request.htmx else "registry/feedback.html"
    return render(request, template, context, status=200 if valid else 400)


@require_cap(Cap.VIEW)
def model_feedback_export(request: HtmxHttpRequest, version_id: int) -> HttpResponseBase:
    """The feedback page's downloads: its filtered items as JSONL training rows."""
    version = _version_or_404(request, version_id)
    layout = request.GET.get("layout", "")
    form = forms.FeedbackFilterForm(request.GET)
    if layout not in selectors.EXPORT_LAYOUTS or not form.is_valid():
        return HttpResponse(
            "Choose layout=sft or layout=preference, and valid filters.",
            status=400,
            content_type="text/plain",
        )
    return feedback_export_response(request, version, layout, form.filters())


@require_POST
@require_cap(Cap.VIEW)
def model_feedback_new(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    """The playground's rating of the answer it just showed."""
    version = _version_or_404(request, version_id)
    form = forms.FeedbackForm(request.POST)
    saved = None
    if not has_cap(request.user, Cap.FEEDBACK):
        return forbidden(request, f"Rating answers needs the '{Cap.FEEDBACK.value}' permission.")
    if form.is_valid():
        try:
            saved = feedback_create(
                actor=request.user,
                version=version,
                prompt=form.cleaned_data["prompt"],
                output=form.cleaned_data["output"],
                scale=RatingScale.THUMBS,
                rating=form.cleaned_data["rating"],
                correction=form.cleaned_data["correction"],
                flagged=form.cleaned_data["flagged"],
                sampling=form.sampling(),
                source=FeedbackSource.PLAYGROUND,
            )
        except ServiceError as exc:
            _add_errors(form, exc)
    return render(
        request,
        "registry/_feedback_form.html",
        {"version": version, "feedback_form": form, "saved": saved},
        status=201 if saved else 400,
    )


@require_POST
@require_cap(Cap.DATA_WRITE)
def model_feedback_to_dataset(request: HtmxHttpRequest, version_id: int) -> HttpResponseBase:
    """The feedback page's "Save as a dataset version": a new fine-tuning dataset from
    the filtered feedback (the filters ride along as the form's query string)."""
    version = _version_or_404(request, version_id)
    layout = request.POST.get("layout", "")
    name = (request.POST.get("name") or "").strip()[:100]
    form = forms.FeedbackFilterForm(request.GET)
    try:
        if not form.is_valid():
            raise ServiceError("The filters are not valid.")
        job = feedback_to_dataset(
            actor=request.user, version=version, layout=layout, filters=form.filters(), name=name
        )
    except Forbidden as exc:
        return forbidden(request, exc.message)
    except ServiceError as exc:
        messages.error(request, " ".join(" ".join(v) for v in _errors(exc).values()))
        query = request.GET.urlencode()
        back = reverse("registry:feedback", args=[version.pk])
        return redirect(f"{back}?{query}" if query else back)
    messages.success(request, f"Job {job.pk} is making a {layout} dataset from the feedback.")
    return redirect("jobs:detail", job_id=job.pk)
