"""The new-run page's live estimate: GET /runs/new/estimate.json with the form's fields
(static/js/run_custom.js sends them as they change) answers the model's exact
parameter count, its memory per GPU and per host for the chosen ZeRO stage and
offload, and whether the fleet can hold it, with the same checks run_create makes
(a POST is checked again: this only shows the numbers before launch)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from console.audit.auth import require_cap
from console.core.errors import FieldErrors
from console.core.roles import Cap
from console.data.selectors import corpus_list
from console.runs import selectors, services
from console.runs.forms import MODEL_PREFIX, RunForm
from gpu_agent.spec import spec_from_dict
from gpu_agent.train.memory import estimate
from gpu_agent.train.presets import param_count
from gpu_agent.train.spec import ModelSpec

# What build_spec takes from the form besides the model (the form is valid when used).
SPEC_FIELDS = (
    "steps",
    "micro_batch",
    "grad_accum",
    "zero_stage",
    "offload_optimizer",
    "offload_params",
    "gpus_per_node",
    "nodes",
    "checkpoint_every",
    "lr",
    "warmup_steps",
    "schedule_steps",
)


@require_GET
@require_cap(Cap.TRAINING_WRITE)
def run_estimate(request: HttpRequest) -> JsonResponse:
    corpora = list(corpus_list(user=request.user).select_related("tokenizer"))
    form = RunForm(request.GET, corpora=corpora, gpu_nodes=selectors.fleet_gpu_nodes())
    valid = form.is_valid()
    data = form.cleaned_data
    corpus = next((c for c in corpora if c.pk == data.get("corpus")), None)
    if corpus is None:
        return JsonResponse({"errors": {"corpus": ["Choose a tokenized corpus."]}}, status=400)
    errors = {
        name: list(messages)
        for name, messages in form.errors.items()
        if name.startswith(MODEL_PREFIX) or name == "base_preset"
    }
    try:
        model_dict = services.model_for(
            corpus=corpus,
            preset_name=data.get("preset", ""),
            model=data.get("model"),
            base_preset=data.get("base_preset"),
        )
    except FieldErrors as exc:
        return JsonResponse({"errors": {**errors, **exc.errors}}, status=400)
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    model = spec_from_dict(ModelSpec, model_dict)
    est = estimate(
        model,
        stage=data.get("zero_stage", 3),
        offload_optimizer=data.get("offload_optimizer", False),
        offload_params=data.get("offload_params", False),
        gpus_per_node=max(1, data.get("gpus_per_node") or 1),
        nodes=data.get("nodes") or 1,
        seq_len=corpus.seq_len,
        micro_batch=data.get("micro_batch") or 4,
    )
    answer: dict[str, Any] = {
        "model": model_dict,
        "params": param_count(model),
        "seq_len": corpus.seq_len,
        "memory": est.as_dict(),
        "cpu": data.get("gpus_per_node") == 0,
        "problems": None,  # null: the rest of the form is not complete enough to say
        "errors": {},
    }
    if valid:
        try:
            spec = services.build_spec(
                corpus=corpus,
                preset_name=data["preset"],
                model=data.get("model"),
                base_preset=data.get("base_preset"),
                **{name: data[name] for name in SPEC_FIELDS},
            )
        except FieldErrors as exc:
            answer["errors"] = exc.errors
        else:
            answer["problems"] = services.memory_problems(spec)
    return JsonResponse(answer)
