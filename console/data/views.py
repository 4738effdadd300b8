"""Data pages: datasets, versions with their lineage and cleaning reports, tokenizers,
tokenized corpora, and the forms that start each job."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from console.audit.auth import forbidden, require_cap
from console.core.errors import Forbidden, ServiceError
from console.core.ids import InvalidId, parse_id
from console.core.roles import Cap, has_cap
from console.core.types import HtmxHttpRequest
from console.data import forms, selectors, services
from console.data.api import too_large_message
from console.data.artifacts import data_storage
from console.data.engine.report import chart_series
from console.data.engine.shards import index_warnings
from console.data.models import Dataset, DatasetKind, DatasetVersion, Tokenizer
from console.data.uploads import ENVELOPE, DataUploadHandler
from console.jobs.models import TERMINAL_STATES
from console.jobs.services import SpecInvalid
from console.projects.selectors import project_get, project_list


def _can_write(request: HtmxHttpRequest) -> bool:
    return has_cap(request.user, Cap.DATA_WRITE)


def _errors_of(exc: ServiceError) -> dict[str, list[str]]:
    return getattr(exc, "errors", None) or {"__all__": [exc.message]}


# ------------------------------------------------------------------ the list


def _list_context(request: HtmxHttpRequest, form: forms.DatasetForm | None = None) -> dict:
    projects = project_list(user=request.user)
    project = request.GET.get("project", "")
    return {
        "datasets": selectors.dataset_list(user=request.user, project=project),
        "tokenizers": selectors.tokenizer_list(user=request.user, project=project)[:50],
        "corpora": selectors.corpus_list(user=request.user, project=project)[:50],
        "projects": projects,
        "project": project,
        "form": form or forms.DatasetForm(projects=projects),
        "can_write": _can_write(request),
    }


@require_cap(Cap.VIEW)
def data_list(request: HtmxHttpRequest) -> HttpResponse:
    template = "data/list.html#datasets" if request.htmx else "data/list.html"
    return render(request, template, _list_context(request))


@require_POST
@require_cap(Cap.DATA_WRITE)
def dataset_create(request: HtmxHttpRequest) -> HttpResponse:
    projects = project_list(user=request.user)
    form = forms.DatasetForm(request.POST, projects=projects)
    if form.is_valid():
        data = form.cleaned_data
        project = project_get(user=request.user, slug=data["project"])
        try:
            dataset = services.dataset_create(
                actor=request.user,
                project=project,
                name=data["name"],
                description=data["description"],
                text_field=data["text_field"],
                kind=data["kind"] or DatasetKind.TEXT,
                columns=form.columns(),
            )
        except Forbidden as exc:
            return forbidden(request, exc.message)
        except ServiceError as exc:
            for field, errs in _errors_of(exc).items():
                form.add_error(field if field in form.fields else None, errs)
        else:
            messages.success(request, f"Dataset {dataset.name} created. Upload its first file.")
            return redirect("data:dataset", dataset_id=dataset.pk)
    return render(request, "data/list.html", _list_context(request, form), status=400)


# ------------------------------------------------------------------ a dataset


def _lineage_rows(versions: list[DatasetVersion]) -> list[tuple[DatasetVersion, int]]:
    """Versions as a tree (parents before children), with their depth."""
    children: dict[int | None, list[DatasetVersion]] = {}
    ids = {v.pk for v in versions}
    for v in sorted(versions, key=lambda v: v.number):
        parent = v.parent_id if v.parent_id in ids else None
        children.setdefault(parent, []).append(v)
    rows: list[tuple[DatasetVersion, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for v in children.get(parent, []):
            rows.append((v, depth))
            walk(v.pk, depth + 1)

    walk(None, 0)
    return rows


def _dataset_context(request: HtmxHttpRequest, dataset: Dataset, **extra: Any) -> dict:
    versions = list(selectors.version_list(user=request.user, dataset=dataset.pk))
    jobs = selectors.dataset_jobs(dataset=dataset)
    version_ids = [v.pk for v in versions]
    return {
        "dataset": dataset,
        "versions": versions,
        "lineage": _lineage_rows(versions),
        "jobs": jobs,
        "any_active": any(job.state not in TERMINAL_STATES for job in jobs),
        "tokenizers": Tokenizer.objects.filter(version_id__in=version_ids).select_related(
            "version"
        ),
        "corpora": selectors.corpus_list(user=request.user).filter(version_id__in=version_ids),
        "can_write": _can_write(request),
        "upload_form": forms.UploadForm(),
        "import_form": forms.ImportForm(),
        "import_root": settings.FORGE_DATA_IMPORT_ROOT,
        "max_upload_bytes": settings.FORGE_DATA_MAX_UPLOAD_BYTES,
        **extra,
    }


def _visible_dataset(request: HtmxHttpRequest, dataset_id: int) -> Dataset:
    dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
    if dataset is None:
        raise Http404("No such dataset.")
    return dataset


@require_cap(Cap.VIEW)
def dataset_detail(request: HtmxHttpRequest, dataset_id: int) -> HttpResponse:
    dataset = _visible_dataset(request, dataset_id)
    template = "data/dataset.html#live" if request.htmx else "data/dataset.html"
    return render(request, template, _dataset_context(request, dataset))


def _wants_json(request: HtmxHttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _upload_refused(
    request: HtmxHttpRequest, dataset: Dataset, errors: dict[str, list[str]], status: int
) -> HttpResponse:
    if _wants_json(request):
        detail = " ".join(msg for msgs in errors.values() for msg in msgs)
        return JsonResponse({"detail": detail, "errors": errors}, status=status)
    context = _dataset_context(request, dataset, upload_errors=errors)
    return render(request, "data/dataset.html", context, status=status)


@csrf_exempt  # the upload handler must be in place before the CSRF check reads the body
@require_cap(Cap.DATA_WRITE)
def dataset_upload(request: HtmxHttpRequest, dataset_id: int) -> HttpResponse:
    """Upload a file (browser: XMLHttpRequest with a progress bar, or a plain form).
    The body is streamed to disk by DataUploadHandler; nothing stays behind when the
    upload is refused."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    dataset = _visible_dataset(request, dataset_id)
    limit = settings.FORGE_DATA_MAX_UPLOAD_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit + ENVELOPE:  # refused before a byte of the body is read
        return _upload_refused(request, dataset, {"file": [too_large_message()]}, 413)
    handler = DataUploadHandler(request, max_bytes=limit)
    request.upload_handlers = [handler]
    try:
        return _dataset_upload(request, dataset, handler)
    finally:
        handler.discard()


@csrf_protect
def _dataset_upload(
    request: HtmxHttpRequest, dataset: Dataset, handler: DataUploadHandler
) -> HttpResponse:
    upload = request.FILES.get("file")
    if handler.too_large:
        return _upload_refused(request, dataset, {"file": [too_large_message()]}, 413)
    if upload is None or not hasattr(upload, "path"):
        return _upload_refused(request, dataset, {"file": ["Choose a file to upload."]}, 400)
    form = forms.UploadForm(request.POST)
    if not form.is_valid():
        return _upload_refused(request, dataset, dict(form.errors), 400)
    try:
        job = services.dataset_upload(
            actor=request.user,
            dataset=dataset,
            upload=upload,
            text_field=form.cleaned_data["text_field"] or None,
        )
    except Forbidden as exc:
        return forbidden(request, exc.message)
    except ServiceError as exc:
        return _upload_refused(request, dataset, _errors_of(exc), 400)
    url = reverse("jobs:detail", args=[job.pk])
    if _wants_json(request):
        return JsonResponse({"job": job.pk, "redirect": url}, status=201)
    messages.success(request, f"Uploaded {upload.name}; job {job.pk} is reading it.")
    return redirect(url)


@require_POST
@require_cap(Cap.DATA_WRITE)
def dataset_import(request: HtmxHttpRequest, dataset_id: int) -> HttpResponse:
    dataset = _visible_dataset(request, dataset_id)
    form = forms.ImportForm(request.POST)
    if form.is_valid():
        try:
            job = services.dataset_import(
                actor=request.user,
                dataset=dataset,
                path=form.cleaned_data["path"],
                text_field=form.cleaned_data["text_field"] or None,
            )
        except Forbidden as exc:
            return forbidden(request, exc.message)
        except ServiceError as exc:
            for field, errs in _errors_of(exc).items():
                form.add_error(field if field in form.fields else None, errs)
        else:
            messages.success(request, f"Job {job.pk} is importing {form.cleaned_data['path']}.")
            return redirect("jobs:detail", job_id=job.pk)
    context = _dataset_context(request, dataset, import_form=form)
    return render(request, "data/dataset.html", context, status=400)


# ------------------------------------------------------------------ a version


def _report_charts(report: dict[str, Any]) -> dict[str, Any]:
    series = chart_series(report)
    names = [f"{d['index'] + 1}. {d['rule'].replace('_', ' ')}" for d in report.get("dedup", [])]
    series["in_out"] = {
        "documents": [report["documents_in"], report["documents_out"]],
        "bytes": [report["bytes_in"], report["bytes_out"]],
    }
    series["dedup"] = {
        "x": names,
        "clusters": [d.get("clusters", 0) for d in report.get("dedup", [])],
        "duplicates": [d.get("duplicates", 0) for d in report.get("dedup", [])],
    }
    return series


def _dedup_examples(report: dict[str, Any]) -> list[dict[str, Any]]:
    texts = report.get("examples_text") or {}
    out = []
    for entry in report.get("dedup", []):
        for example in entry.get("examples", [])[:5]:
            out.append(
                {
                    "rule": entry["rule"],
                    "kept": example["kept"],
                    "kept_text": texts.get(str(example["kept"]), ""),
                    "duplicates": [
                        {**d, "text": texts.get(str(d["index"]), "")} for d in example["duplicates"]
                    ],
                }
            )
    return out


def _version_context(request: HtmxHttpRequest, version: DatasetVersion, **extra: Any) -> dict:
    user = request.user
    project_versions = selectors.version_list(user=user).filter(
        dataset__project_id=version.dataset.project_id
    )
    project_tokenizers = selectors.tokenizer_list(user=user).filter(
        project_id=version.dataset.project_id
    )
    report = version.report
    context = {
        "version": version,
        "dataset": version.dataset,
        "lineage": selectors.version_lineage(version=version),
        "children": version.children.all(),
        "report": report,
        "charts": _report_charts(report) if report else None,
        "dedup_examples": _dedup_examples(report) if report else [],
        "language_mix": sorted(version.language_mix.items(), key=lambda kv: -kv[1]),
        "sample": selectors.version_sample(version=version),
        "records": selectors.version_records(version=version),
        "path": data_storage().root / version.storage_key,
        "tokenizers": selectors.tokenizer_list(user=user, version=version.pk),
        "corpora": selectors.corpus_list(user=user, version=version.pk),
        "can_write": _can_write(request),
        "rules": forms.clean_form_rules(),
        "tokenizer_form": forms.TokenizerForm(),
        "tokenize_form": forms.TokenizeForm(
            initial={"version": version.pk},
            versions=project_versions,
            tokenizers=project_tokenizers,
        ),
        "has_tokenizers": project_tokenizers.exists(),
        **extra,
    }
    return context


def _visible_version(request: HtmxHttpRequest, version_id: int) -> DatasetVersion:
    version = selectors.version_get(user=request.user, version_id=version_id)
    if version is None:
        raise Http404("No such dataset version.")
    return version


@require_cap(Cap.VIEW)
def version_detail(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    version = _visible_version(request, version_id)
    return render(request, "data/version.html", _version_context(request, version))


@require_POST
@require_cap(Cap.DATA_WRITE)
def version_clean(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    version = _visible_version(request, version_id)
    steps, errors = forms.clean_form_steps(request.POST)
    if not errors:
        try:
            job = services.version_clean(actor=request.user, version=version, steps=steps)
        except Forbidden as exc:
            return forbidden(request, exc.message)
        except services.PipelineInvalid as exc:
            errors = forms.pipeline_errors_by_rule(steps, exc.errors)
        except ServiceError as exc:
            errors = {"pipeline": _errors_of(exc)}
        else:
            messages.success(request, f"Job {job.pk} is cleaning {version}.")
            return redirect("jobs:detail", job_id=job.pk)
    context = _version_context(
        request,
        version,
        rules=forms.clean_form_rules(request.POST, errors),
        clean_errors=errors,
        open_clean=True,
    )
    return render(request, "data/version.html", context, status=400)


@require_POST
@require_cap(Cap.DATA_WRITE)
def version_tokenizer(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    version = _visible_version(request, version_id)
    form = forms.TokenizerForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            job = services.tokenizer_train(
                actor=request.user,
                version=version,
                name=data["name"],
                vocab_size=data["vocab_size"],
                min_frequency=data["min_frequency"],
            )
        except Forbidden as exc:
            return forbidden(request, exc.message)
        except (SpecInvalid, ServiceError) as exc:
            for field, errs in _errors_of(exc).items():
                form.add_error(field if field in form.fields else None, errs)
        else:
            messages.success(request, f"Job {job.pk} is training a tokenizer on {version}.")
            return redirect("jobs:detail", job_id=job.pk)
    context = _version_context(request, version, tokenizer_form=form)
    return render(request, "data/version.html", context, status=400)


# ------------------------------------------------------------------ tokenizers and corpora


@require_cap(Cap.VIEW)
def tokenizer_detail(request: HtmxHttpRequest, tokenizer_id: int) -> HttpResponse:
    tokenizer = selectors.tokenizer_get(user=request.user, tokenizer_id=tokenizer_id)
    if tokenizer is None:
        raise Http404("No such tokenizer.")
    return render(request, "data/tokenizer.html", _tokenizer_context(request, tokenizer))


def _tokenizer_context(request: HtmxHttpRequest, tokenizer: Tokenizer, **extra: Any) -> dict:
    versions = selectors.version_list(user=request.user).filter(
        dataset__project_id=tokenizer.project_id
    )
    stats = tokenizer.stats.get("stats") or {}
    return {
        "tokenizer": tokenizer,
        "chat": selectors.tokenizer_chat_template(tokenizer=tokenizer),
        "report": tokenizer.stats,
        "stats": stats,
        "samples": stats.get("samples", []),
        "by_script": sorted((stats.get("by_script") or {}).items()),
        "path": data_storage().root / tokenizer.storage_key,
        "corpora": selectors.corpus_list(user=request.user).filter(tokenizer=tokenizer),
        "can_write": _can_write(request),
        "tokenize_form": forms.TokenizeForm(
            initial={"version": tokenizer.version_id, "tokenizer": tokenizer.pk},
            versions=versions,
            tokenizers=[tokenizer],
        ),
        **extra,
    }


@require_POST
@require_cap(Cap.DATA_WRITE)
def corpus_new(request: HtmxHttpRequest) -> HttpResponse:
    """Tokenize a version with a tokenizer (the form is on version and tokenizer pages)."""
    user = request.user
    versions = selectors.version_list(user=user)
    tokenizers = selectors.tokenizer_list(user=user)
    form = forms.TokenizeForm(request.POST, versions=versions, tokenizers=tokenizers)
    if form.is_valid():
        data = form.cleaned_data
        version = versions.get(pk=data["version"])
        tokenizer = tokenizers.get(pk=data["tokenizer"])
        try:
            job = services.corpus_tokenize(
                actor=user,
                version=version,
                tokenizer=tokenizer,
                seq_len=data["seq_len"],
                val_fraction=data["val_fraction"],
            )
        except Forbidden as exc:
            return forbidden(request, exc.message)
        except (SpecInvalid, ServiceError) as exc:
            for field, errs in _errors_of(exc).items():
                form.add_error(field if field in form.fields else None, errs)
        else:
            messages.success(request, f"Job {job.pk} is tokenizing {version}.")
            return redirect("jobs:detail", job_id=job.pk)
    # Shown again where it came from, with the errors.
    tokenizer = selectors.tokenizer_get(
        user=user, tokenizer_id=_int(request.POST.get("from_tokenizer"))
    )
    if tokenizer is not None:
        context = _tokenizer_context(request, tokenizer, tokenize_form=form)
        return render(request, "data/tokenizer.html", context, status=400)
    version = selectors.version_get(user=user, version_id=_int(request.POST.get("version")))
    if version is None:
        raise Http404("No such dataset version.")
    context = _version_context(request, version, tokenize_form=form)
    return render(request, "data/version.html", context, status=400)


def _int(raw: str | None) -> int:
    try:
        return parse_id(raw)
    except InvalidId:
        return 0  # names no row


@require_cap(Cap.VIEW)
def corpus_detail(request: HtmxHttpRequest, corpus_id: int) -> HttpResponse:
    corpus = selectors.corpus_get(user=request.user, corpus_id=corpus_id)
    if corpus is None:
        raise Http404("No such tokenized corpus.")
    splits = corpus.index.get("splits") or {}
    shards = [
        {**shard, "split": split}
        for split, info in splits.items()
        for shard in info.get("shards", [])
    ]
    context = {
        "corpus": corpus,
        "splits": splits,
        "shards": shards,
        "warnings": index_warnings(corpus.index),
        "path": data_storage().root / corpus.storage_key,
    }
    return render(request, "data/corpus.html", context)


@require_cap(Cap.VIEW)
def job_output(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """Where a data job's result lives: its version, tokenizer or corpus page."""
    found = selectors.job_output(user=request.user, job_id=job_id)
    if found is None:
        raise Http404("This job made nothing (yet).")
    if isinstance(found, DatasetVersion):
        return redirect("data:version", version_id=found.pk)
    if isinstance(found, Tokenizer):
        return redirect("data:tokenizer", tokenizer_id=found.pk)
    return redirect("data:corpus", corpus_id=found.pk)


@require_POST
@require_cap(Cap.DATA_WRITE)
def tokenizer_chat_template(request: HtmxHttpRequest, tokenizer_id: int) -> HttpResponse:
    tokenizer = selectors.tokenizer_get(user=request.user, tokenizer_id=tokenizer_id)
    if tokenizer is None:
        raise Http404("No such tokenizer.")
    template = request.POST.get("template", "")
    try:
        services.tokenizer_set_chat_template(
            actor=request.user, tokenizer=tokenizer, template=template
        )
    except Forbidden as exc:
        return forbidden(request, exc.message)
    except ServiceError as exc:
        errors = [m for msgs in _errors_of(exc).values() for m in msgs]
        context = _tokenizer_context(
            request, tokenizer, template_errors=errors, template_text=template
        )
        return render(request, "data/tokenizer.html", context, status=400)
    messages.success(request, "Chat template saved.")
    return redirect(f"{reverse('data:tokenizer', args=[tokenizer.pk])}#chat-template")
