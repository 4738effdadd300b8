"""A registered model version (the registry's fixtures: a run of project alpha with a
small random Hugging Face checkpoint), with a training job's loss series, an evaluation
and an INT8 child with its measurements."""

from __future__ import annotations

import pytest

from console.jobs.models import JobState
from console.metrics.services import metric_points_insert
from console.registry.models import Evaluation, ModelVersion
from console.runs.models import Run
from tests.factories import JobFactory
from tests.registry.conftest import dirs, random_hf, register, run  # noqa: F401 - fixtures
from tests.train.conftest import tiny_corpus  # noqa: F401 - a fixture

PEAK = 3 * 1024**3


@pytest.fixture
def version(run, personas):  # noqa: F811
    return register(run, personas.ml_engineer)


@pytest.fixture
def family(version, run, personas):  # noqa: F811
    """The version with its run's loss series, a perplexity evaluation, measurements and
    an INT8 child."""
    job = JobFactory(project=personas.project, kind="train.run", state=JobState.SUCCEEDED)
    Run.objects.filter(pk=run.pk).update(job=job)
    metric_points_insert(
        [(job.pk, 1, "loss", s, 5.0 - s * 0.25) for s in range(1, 9)]
        + [(job.pk, 1, "eval_loss", s, 4.5 - s * 0.1) for s in (3, 6, 9)]
    )
    ModelVersion.objects.filter(pk=version.pk).update(
        measured={
            "size_bytes": version.size_bytes,
            "peak_memory_bytes": PEAK,
            "tokens_per_s": {"1": 123.4},
            "perplexity": 97.5,
        }
    )
    Evaluation.objects.create(
        model_version=version,
        kind="perplexity",
        params={"corpus_id": run.corpus_id, "split": "val"},
        result={"perplexity": 97.5, "tokens": 4096},
    )
    child = ModelVersion.objects.create(
        project=version.project,
        name=version.name,
        number=version.number + 1,
        kind="quantized",
        run=run,
        step=version.step,
        parent=version,
        precision="int8",
        quant_method="w8a16-rtn",
        weight_format="compressed-tensors",
        folder=f"{version.folder}-w8a16",
        files=[{"path": "model.safetensors", "bytes": 1000, "sha256": "c" * 64}],
        size_bytes=1000,
        lineage={**version.lineage, "parent": version.pk},
        measured={
            "size_bytes": 1000,
            "peak_memory_bytes": 2000,
            "tokens_per_s": {"1": 150.0},
            "perplexity": 98.25,
            "perplexity_delta": 0.75,
        },
    )
    version.refresh_from_db()
    return {"version": version, "child": child, "job": job}
