"""Registering, evaluating and quantizing model versions through the services and the
jobs core's real path (run here, as a worker would)."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.exceptions import ValidationError

from console.audit.models import AuditEvent
from console.core.errors import Conflict, Forbidden, InvalidInput
from console.jobs.models import Job
from console.registry import services
from console.registry.models import Evaluation, ModelVersion
from tests.registry.conftest import ckpt_root, register, run_job

pytestmark = pytest.mark.django_db


def test_register_copies_weights_config_tokenizer_with_sha256(run, personas, dirs):
    version = register(run, personas.ml_engineer)
    folder = dirs["models"] / version.folder
    paths = {f["path"] for f in version.files}
    assert {"config.json", "model.safetensors", "tokenizer.json", "forge_model.json"} <= paths
    for entry in version.files:
        data = (folder / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    assert version.size_bytes == sum(f["bytes"] for f in version.files)
    assert (version.number, version.status, version.kind) == (1, "draft", "export")
    assert version.lineage["run"] == run.pk and version.lineage["corpus"] == run.corpus_id
    assert version.lineage["tokenizer"] == run.corpus.tokenizer_id
    assert version.lineage["model"]["preset"] == "tiny" and version.lineage["step"] == 6
    assert version.lineage["deepspeed"] == run.deepspeed
    assert version.checkpoint.step == 6
    assert AuditEvent.objects.filter(action="model.register").exists()
    # Versions are numbered per project and name.
    assert register(run, personas.ml_engineer).number == 2
    assert register(run, personas.ml_engineer, name="other").number == 1


def _refused(run, actor, match: str, **kw):
    before = Job.objects.count()
    with pytest.raises(InvalidInput, match=match):
        services.model_register(actor=actor, run=run, step=kw.get("step", 6), name="x")
    assert Job.objects.count() == before and not ModelVersion.objects.exists()


def test_unknown_step_refused(run, personas):
    _refused(run, personas.ml_engineer, "no complete checkpoint at step 7", step=7)


def test_incomplete_checkpoint_refused(run, personas):
    (ckpt_root(run) / "step_6" / "forge_complete.json").unlink()
    _refused(run, personas.ml_engineer, "incomplete")


def test_checkpoint_without_weights_refused(run, personas):
    marker = ckpt_root(run) / "step_6" / "forge_complete.json"
    marker.write_text(json.dumps({"step": 6, "tag": "step_6"}))
    _refused(run, personas.ml_engineer, "no exported weights")


@pytest.mark.parametrize("name", ["pytorch_model.bin", "optim.pt", "extra.pkl", "x.ckpt"])
def test_pickle_file_refused_unopened(run, personas, name):
    (ckpt_root(run) / "step_6" / "hf" / name).write_bytes(b"\x80\x04 not opened")
    _refused(run, personas.ml_engineer, "pickle")


def test_symlink_refused(run, personas, tmp_path):
    (tmp_path / "outside").write_text("secret")
    (ckpt_root(run) / "step_6" / "hf" / "link.json").symlink_to(tmp_path / "outside")
    _refused(run, personas.ml_engineer, "symbolic link")


def test_permission_needed(run, personas):
    for user in (personas.viewer, personas.data_engineer, personas.reviewer):
        with pytest.raises(Forbidden):
            services.model_register(actor=user, run=run, step=6, name="x")


def test_failed_export_leaves_nothing(run, personas, dirs):
    job = services.model_register(actor=personas.ml_engineer, run=run, step=6, name="x")
    (ckpt_root(run) / "step_6" / "forge_complete.json").unlink()  # gone before the worker
    job = run_job(job)
    assert job.state == "failed" and "incomplete" in job.error
    assert not ModelVersion.objects.exists()
    assert not [p for p in dirs["models"].rglob("*") if p.is_file()]


def test_status_transitions(run, personas):
    version = register(run, personas.ml_engineer)
    for target in ("in_review", "approved", "production"):
        with pytest.raises(Conflict, match="governance"):
            services.model_version_set_status(
                actor=personas.ml_engineer, version=version, status=target
            )
    services.model_version_set_status(
        actor=personas.ml_engineer, version=version, status="archived"
    )
    version.refresh_from_db()
    assert version.status == "archived"
    with pytest.raises(Conflict):
        services.model_version_set_status(
            actor=personas.ml_engineer, version=version, status="production"
        )
    services.model_version_set_status(actor=personas.ml_engineer, version=version, status="draft")
    version.refresh_from_db()
    assert version.status == "draft"
    with pytest.raises(Forbidden):
        services.model_version_set_status(actor=personas.viewer, version=version, status="archived")
    assert AuditEvent.objects.filter(action="model.status").count() == 2


def test_versions_are_immutable(run, personas):
    version = register(run, personas.ml_engineer)
    version.name = "renamed"
    with pytest.raises(ValidationError, match="immutable"):
        version.save()
    version.refresh_from_db()
    version.files = []
    with pytest.raises(ValidationError):
        version.save()


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_tampered_folder_fails_evaluation(run, personas, dirs):
    version = register(run, personas.ml_engineer)
    _flip_byte(dirs["models"] / version.folder / "model.safetensors")
    job = run_job(services.model_evaluate(actor=personas.ml_engineer, version=version))
    assert job.state == "failed"
    assert "model.safetensors" in job.error and "sha256" in job.error
    assert not Evaluation.objects.exists()


def test_perplexity_evaluation_recorded(run, personas):
    from gpu_agent.models import perplexity

    version = register(run, personas.ml_engineer)
    job = run_job(
        services.model_evaluate(actor=personas.ml_engineer, version=version, max_sequences=16)
    )
    assert job.state == "succeeded", job.error
    evaluation = Evaluation.objects.get(job=job)
    assert evaluation.kind == "perplexity" and evaluation.params["corpus_id"] == run.corpus_id
    direct = perplexity(
        services.model_folder(version),
        services.corpus_folder(run.corpus),
        split="val",
        max_sequences=16,
        batch_size=8,
    )
    assert evaluation.result["perplexity"] == pytest.approx(direct["perplexity"], rel=1e-4)
    # random weights over 512 tokens: about the vocabulary size
    assert 100 < evaluation.result["perplexity"] < 2000


def test_generation_evaluation_recorded(run, personas):
    version = register(run, personas.ml_engineer)
    job = run_job(
        services.model_evaluate(
            actor=personas.ml_engineer,
            version=version,
            kind="generation",
            prompts=["The court", "机器"],
            max_new_tokens=8,
        )
    )
    assert job.state == "succeeded", job.error
    evaluation = Evaluation.objects.get(job=job)
    assert [o["prompt"] for o in evaluation.result["outputs"]] == ["The court", "机器"]
    assert evaluation.params["temperature"] == 0.7 and evaluation.params["top_p"] == 0.92
    assert evaluation.params["repetition_penalty"] == 1.2


def test_gptq_w4a16_makes_a_measured_smaller_version_with_its_calibration_recorded(run, personas):
    version = register(run, personas.ml_engineer)
    job = run_job(
        services.model_quantize(
            actor=personas.ml_engineer,
            version=version,
            method="w4a16",
            algorithm="gptq",
            group_size=64,
            calibration_corpus=run.corpus,
            calibration_samples=16,
        )
    )
    assert job.state == "succeeded", job.error
    child = ModelVersion.objects.get(job=job)
    version.refresh_from_db()
    assert child.parent == version and child.kind == "quantized" and child.precision == "int4"
    assert child.quant_method == "w4a16-gptq" and child.group_size == 64
    assert child.weight_format == "compressed-tensors"
    assert child.name == version.name and child.number == 2
    assert child.size_bytes < version.size_bytes
    config = json.loads((services.model_folder(child) / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "compressed-tensors"
    calibration = child.lineage["quantization"]["calibration"]
    assert calibration["corpus"] == run.corpus.pk
    assert calibration["dataset_version"] == run.corpus.version_id
    assert calibration["sequences"] == 16 and calibration["split"] == "train"
    event = AuditEvent.objects.get(action="model.quantize", object_id=str(child.pk))
    assert event.after["calibration"]["corpus"] == run.corpus.pk
    for key in ("size_bytes", "peak_memory_bytes", "tokens_per_s", "perplexity"):
        assert key in child.measured and key in version.measured, key
    assert child.measured["perplexity_delta"] == pytest.approx(
        child.measured["perplexity"] - version.measured["perplexity"]
    )
    assert (services.model_folder(child) / "tokenizer.json").is_file()
    from console.registry.selectors import comparison_rows

    rows = comparison_rows(child)
    assert [r["version"] for r in rows] == [version, child]
    assert rows[1]["perplexity_delta"] is not None
    assert "--quantization compressed-tensors" in rows[1]["serving"]
    assert "--quantization" not in rows[0]["serving"]
    with pytest.raises(InvalidInput, match="already quantized"):
        services.model_quantize(actor=personas.ml_engineer, version=child, method="w8a16")


def test_method_the_console_cannot_write_is_refused(run, personas, monkeypatch):
    version = register(run, personas.ml_engineer)
    monkeypatch.setattr(
        services,
        "supported_methods",
        lambda: {"fp16": "", "bf16": "", "w8a16": "", "fp8": "", "w4a16": "no llm-compressor"},
    )
    before = Job.objects.count()
    with pytest.raises(InvalidInput, match="w4a16 cannot run on this fleet: no llm-compressor"):
        services.model_quantize(actor=personas.ml_engineer, version=version, method="w4a16")
    assert Job.objects.count() == before


def test_fp8_is_refused_on_a_fleet_without_hopper_or_ada(run, personas, make_node):
    from console.fleet.models import Gpu

    version = register(run, personas.ml_engineer)
    node, _ = make_node("old-gpus", gpus=2)
    Gpu.objects.filter(node=node).update(model="NVIDIA A100-SXM4-80GB")
    before = Job.objects.count()
    with pytest.raises(InvalidInput, match=r"FP8 needs Hopper or Ada GPUs.*A100"):
        services.model_quantize(actor=personas.ml_engineer, version=version, method="fp8")
    assert Job.objects.count() == before
    make_node("new-gpus", gpus=1)  # NVIDIA H200
    job = services.model_quantize(actor=personas.ml_engineer, version=version, method="fp8")
    assert job.spec["method"] == "fp8" and job.spec["algorithm"] == "rtn"


def test_bad_calibration_requests_are_refused_before_queuing(run, personas):
    from tests.runs.conftest import make_corpus

    version = register(run, personas.ml_engineer)
    before = Job.objects.count()
    with pytest.raises(InvalidInput, match="GPTQ needs a calibration dataset version"):
        services.model_quantize(
            actor=personas.ml_engineer, version=version, method="w4a16", algorithm="gptq"
        )
    other = make_corpus(personas.project, key="corpora/job-9")  # its own tokenizer
    with pytest.raises(InvalidInput, match="Calibrate on data of the model's tokenizer"):
        services.model_quantize(
            actor=personas.ml_engineer,
            version=version,
            method="w4a16",
            algorithm="gptq",
            calibration_corpus=other,
        )
    small = make_corpus(personas.project, key="corpora/job-10", train_sequences=3)
    small.tokenizer = run.corpus.tokenizer
    small.save()
    with pytest.raises(InvalidInput, match="3 training sequences; GPTQ needs at least 8"):
        services.model_quantize(
            actor=personas.ml_engineer,
            version=version,
            method="w8a16",
            algorithm="gptq",
            calibration_corpus=small,
        )
    with pytest.raises(InvalidInput) as refused:
        services.model_quantize(
            actor=personas.ml_engineer,
            version=version,
            method="fp8",
            algorithm="gptq",
            calibration_corpus=run.corpus,
        )
    assert "fp8 takes no calibration" in refused.value.errors["algorithm"][0]
    assert Job.objects.count() == before


def test_a_legacy_forge_only_version_is_marked_and_refused(run, personas):
    from console.cards.services import deployment_refusal
    from console.registry.models import Kind

    version = register(run, personas.ml_engineer)
    legacy = ModelVersion.objects.create(
        project=version.project,
        name=version.name,
        number=2,
        kind=Kind.QUANTIZED,
        parent=version,
        precision="int8",
        quant_method="int8",
        weight_format="forge-legacy",
        folder="legacy-int8",
    )
    with pytest.raises(Conflict, match="quantize its full-precision parent again"):
        services.model_evaluate(actor=personas.ml_engineer, version=legacy)
    with pytest.raises(Conflict, match="legacy"):
        services.playground_generate(actor=personas.ml_engineer, version=legacy, prompt="x")
    assert "no serving stack loads" in deployment_refusal(legacy)


def test_the_migration_marks_versions_of_the_old_private_format(run, personas):
    import importlib

    from django.apps import apps

    from console.registry.models import Kind

    version = register(run, personas.ml_engineer)
    old = ModelVersion.objects.create(
        project=version.project,
        name=version.name,
        number=2,
        kind=Kind.QUANTIZED,
        parent=version,
        precision="int4",
        quant_method="int4",
        folder="old-int4",
    )
    assert old.weight_format == "hf"
    migration = importlib.import_module("console.registry.migrations.0002_weight_format")
    migration.mark_legacy(apps, None)
    old.refresh_from_db()
    version.refresh_from_db()
    assert old.weight_format == "forge-legacy" and old.is_legacy
    assert version.weight_format == "hf"


def test_playground_size_limit_and_generation(run, personas, settings):
    version = register(run, personas.ml_engineer)
    out = services.playground_generate(
        actor=personas.ml_engineer, version=version, prompt="The court", max_new_tokens=4
    )
    assert out["outputs"][0]["prompt"] == "The court"
    settings.FORGE_PLAYGROUND_MAX_BYTES = 1000
    with pytest.raises(InvalidInput, match="FORGE_PLAYGROUND_MAX_BYTES"):
        services.playground_generate(actor=personas.ml_engineer, version=version, prompt="x")


@pytest.mark.slow
def test_trained_checkpoint_round_trip(personas, dirs, tiny_trained, tiny_corpus):
    """Register the tiny run's real checkpoint; transformers loads the folder and generates."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.registry.conftest import make_run

    run = make_run(personas.project, dirs, tiny_trained["hf"], tiny_corpus)
    version = register(run, personas.ml_engineer)
    folder = services.model_folder(version)
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer("The court", return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids.shape[1] + 5
    assert isinstance(tokenizer.decode(out[0]), str)


def test_the_console_and_the_engine_agree_on_methods_and_vllm_versions():
    import importlib

    from console.registry import selectors, specs

    quantize = importlib.import_module("gpu_agent.models.quantize")

    assert set(specs.QUANT_METHODS) == set(quantize.METHODS)
    assert specs.QUANT_ALGORITHMS == quantize.ALGORITHMS
    assert set(specs.CALIBRATED_METHODS) == quantize.CALIBRATED
    assert specs.GROUP_SIZES == quantize.GROUP_SIZES
    assert specs.MIN_CALIBRATION_SEQUENCES == quantize.MIN_CALIBRATION_SEQUENCES
    assert specs.MAX_CALIBRATION_SEQUENCES == quantize.MAX_CALIBRATION_SEQUENCES
    assert selectors.VLLM_VERSIONS == quantize.VLLM_VERSIONS


@pytest.mark.slow
def test_onnx_export_registers_a_verified_derived_version(run, personas):
    version = register(run, personas.ml_engineer)
    job = run_job(
        services.model_export_onnx(actor=personas.ml_engineer, version=version, max_new_tokens=4)
    )
    assert job.state == "succeeded", job.error
    onnx = ModelVersion.objects.get(job=job)
    assert onnx.kind == "onnx" and onnx.parent == version and onnx.weight_format == "onnx"
    folder = services.model_folder(onnx)
    names = {f["path"] for f in onnx.files}
    assert {"model.onnx", "onnx_io.json", "verification.json", "README.md"} <= names
    verification = onnx.lineage["onnx"]["verification"]
    assert verification["passed"] and all(r["identical"] for r in verification["prompts"])
    assert json.loads((folder / "verification.json").read_text())["passed"]
    assert AuditEvent.objects.filter(action="model.export_onnx", object_id=str(onnx.pk)).exists()
    # Forge's engine does not open it; onnxruntime does (tests/models_engine).
    with pytest.raises(Conflict, match="runs in onnxruntime"):
        services.model_evaluate(actor=personas.ml_engineer, version=onnx)
    with pytest.raises(InvalidInput, match="export its full-precision parent"):
        services.model_export_onnx(actor=personas.ml_engineer, version=onnx)
    from console.cards.services import deployment_refusal

    assert "ONNX export" in deployment_refusal(onnx)
