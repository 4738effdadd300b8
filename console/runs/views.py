"""Run pages: the list, the launch form, a run's page (live charts, checkpoints) and
its TensorBoard logs as a zip."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from console.accounts.roles import Cap
from console.core.auth import forbidden, require_cap
from console.core.errors import Forbidden
from console.data.selectors import corpus_list
from console.runs import selectors, services
from console.runs.forms import RunForm


@require_cap(Cap.VIEW)
def run_list(request: HttpRequest) -> HttpResponse:
    runs = selectors.run_list(user=request.user, project=request.GET.get("project", ""))[:200]
    template = "runs/list.html#runs" if request.htmx else "runs/list.html"
    return render(request, template, {"runs": runs})


@require_http_methods(["GET", "POST"])
@require_cap(Cap.TRAINING_WRITE)
def run_new(request: HttpRequest) -> HttpResponse:
    corpora = list(corpus_list(user=request.user).select_related("tokenizer"))
    form = RunForm(request.POST or None, corpora=corpora)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = dict(form.cleaned_data)
            corpus = next(c for c in corpora if c.pk == data.pop("corpus"))
            try:
                run = services.run_create(
                    actor=request.user, project=corpus.project, corpus=corpus, **data
                )
            except Forbidden as exc:
                return forbidden(request, exc.message)
            except services.FieldErrors as exc:
                for field, errs in exc.errors.items():
                    form.add_error(field if field in form.fields else None, errs)
            else:
                messages.success(request, f"Run {run.pk} launched (job {run.job_id}).")
                return redirect("runs:detail", run_id=run.pk)
    vocab = corpora[0].tokenizer.vocab_size if corpora else 52_000
    gpus = form["gpus_per_node"].value() or 1
    try:
        gpus = max(1, int(gpus))
    except (TypeError, ValueError):
        gpus = 1
    context = {
        "form": form,
        "presets": selectors.preset_table(vocab_size=vocab, gpus_per_node=gpus),
    }
    return render(request, "runs/new.html", context, status=status)


@require_cap(Cap.VIEW)
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = selectors.run_get(user=request.user, run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    context = {
        "run": run,
        "job": run.job,
        "checkpoints": list(run.checkpoints.all()),
        "deepspeed_pretty": json.dumps(run.deepspeed, indent=2),
    }
    template = "runs/detail.html#status" if request.htmx else "runs/detail.html"
    return render(request, template, context)


@require_cap(Cap.VIEW)
def run_tensorboard(request: HttpRequest, run_id: int) -> HttpResponse:
    """The run's TensorBoard event files (<checkpoint dir>/tensorboard) as a zip."""
    run = selectors.run_get(user=request.user, run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    folder = Path(run.spec.get("checkpoint", {}).get("dir", "")) / "tensorboard"
    if not folder.is_dir():
        raise Http404("This run has no TensorBoard logs yet.")
    spooled = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 - FileResponse closes it
    with zipfile.ZipFile(spooled, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, _dirs, files in os.walk(folder):
            for name in sorted(files):
                path = Path(root) / name
                if path.is_file() and not path.is_symlink():
                    archive.write(path, f"run-{run.pk}/{path.relative_to(folder)}")
    spooled.seek(0)
    return FileResponse(
        spooled,
        as_attachment=True,
        filename=f"run-{run.pk}-tensorboard.zip",
        content_type="application/zip",
    )
