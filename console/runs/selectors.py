"""Run reads, scoped to the projects the user may see (another team's runs are absent)."""

from __future__ import annotations

from django.db.models import QuerySet

from console.projects.selectors import project_list
from console.runs.models import Run
from gpu_agent.train.memory import estimate_table
from gpu_agent.train.presets import PRESETS, param_count, preset


def run_list(*, user, project: str = "") -> QuerySet[Run]:
    runs = Run.objects.filter(project__in=project_list(user=user)).select_related(
        "project", "job", "corpus", "created_by"
    )
    if project:
        runs = runs.filter(project__slug=project)
    return runs


def run_get(*, user, run_id: int) -> Run | None:
    return run_list(user=user).filter(pk=run_id).first()


def preset_table(
    *,
    vocab_size: int = 52_000,
    gpus_per_node: int = 1,
    nodes: int = 1,
    seq_len: int = 2048,
    micro_batch: int = 4,
) -> list[dict]:
    """Each preset's parameter count and memory estimate per ZeRO stage and offload."""
    out = []
    for name in PRESETS:
        model = preset(name, vocab_size=vocab_size)
        table = estimate_table(
            model,
            gpus_per_node=gpus_per_node,
            nodes=nodes,
            seq_len=seq_len,
            micro_batch=micro_batch,
        )
        out.append(
            {
                "name": name,
                "params": param_count(model),
                "hidden_size": model.hidden_size,
                "num_layers": model.num_layers,
                "num_heads": model.num_heads,
                "vocab_size": vocab_size,
                "memory": [e.as_dict() for e in table],
            }
        )
    return out
