"""A custom model shape: the service stores the exact model dict and its exact parameter
count (checked against transformers' own LlamaForCausalLM), refuses bad shapes with
field errors before anything is created, and the API, the new-run page (its POST and
its live estimate) and the CLI all go through it."""

from __future__ import annotations

import json

import pytest

from console.jobs.models import Job
from console.runs import services
from console.runs.models import Run
from gpu_agent.spec import SpecError, spec_from_dict, spec_to_dict
from gpu_agent.train.presets import PRESETS, param_count
from gpu_agent.train.spec import ModelSpec, TrainSpec
from tests.runs.conftest import CPU_RUN, make_corpus
from tests.test_cli import config_file, forge, milo  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db]

SHAPE = {
    "hidden_size": 128,
    "num_layers": 3,
    "num_heads": 4,
    "intermediate_size": 344,
    "max_positions": 512,
    "rope_theta": 500_000.0,
    "tie_embeddings": True,
}


def _create(personas, corpus, **overrides):
    return services.run_create(
        actor=personas.ml_engineer,
        project=personas.project,
        corpus=corpus,
        **{**CPU_RUN, "preset": "custom", **overrides},
    )


def llama_params(m: dict) -> int:
    """The parameter count transformers gives the shape, built on the meta device."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(
        vocab_size=m["vocab_size"],
        hidden_size=m["hidden_size"],
        num_hidden_layers=m["num_layers"],
        num_attention_heads=m["num_heads"],
        num_key_value_heads=m["num_heads"],
        intermediate_size=m["intermediate_size"],
        max_position_embeddings=m["max_positions"],
        rope_theta=m["rope_theta"],
        tie_word_embeddings=m["tie_embeddings"],
    )
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
    return sum(p.numel() for p in model.parameters())  # shared (tied) weights once


# ------------------------------------------------------------------ service


def test_custom_spec_is_stored_exactly(personas, corpus):
    run = _create(personas, corpus, model=SHAPE, base_preset="125m")
    base = PRESETS["125m"]
    expected = {
        **SHAPE,
        "preset": "custom",
        "vocab_size": 480,  # the corpus's tokenizer, not the base's
        "initializer_range": base.initializer_range,
        "norm_eps": base.norm_eps,
    }
    assert run.preset == "custom"
    assert run.spec["model"] == expected
    assert Job.objects.get(pk=run.job_id).spec["model"] == expected
    assert run.name == f"custom 3x128 on corpus {corpus.pk}"
    assert run.params == llama_params(expected)
    # The agent runs exactly this dict: it parses back to the same ModelSpec.
    assert spec_to_dict(spec_from_dict(TrainSpec, run.spec).model) == expected


@pytest.mark.parametrize(
    "shape",
    [
        {"hidden_size": 96, "num_layers": 2, "num_heads": 6, "intermediate_size": 256},
        {"hidden_size": 256, "num_layers": 5, "num_heads": 2, "tie_embeddings": True},
        {"hidden_size": 64, "num_layers": 1, "num_heads": 1, "intermediate_size": 8},
    ],
)
def test_params_are_exact(personas, corpus, shape):
    run = _create(personas, corpus, model=shape)
    assert (
        run.params == llama_params(run.spec["model"]) == param_count(ModelSpec(**run.spec["model"]))
    )


def test_empty_fields_keep_the_base_presets_values(personas, corpus):
    run = _create(personas, corpus, model={"num_layers": 4}, base_preset="1b")
    model = run.spec["model"]
    one_b = PRESETS["1b"]
    assert model["num_layers"] == 4 and model["preset"] == "custom"
    assert (model["hidden_size"], model["num_heads"], model["intermediate_size"]) == (
        one_b.hidden_size,
        one_b.num_heads,
        one_b.intermediate_size,
    )
    # No model fields at all: the base's shape (tiny by default), still recorded as custom.
    plain = _create(personas, corpus, model=None)
    assert plain.preset == "custom" and plain.spec["model"]["hidden_size"] == 64
    # max_positions left out rises to the corpus's sequence length, as for a preset.
    long = make_corpus(personas.project, seq_len=1024, key="corpora/job-5")
    assert _create(personas, long).spec["model"]["max_positions"] == 1024


@pytest.mark.parametrize(
    ("shape", "field", "text"),
    [
        ({"hidden_size": 100, "num_heads": 8}, "model.num_heads", "must divide hidden_size"),
        ({"hidden_size": 72, "num_heads": 8}, "model.num_heads", "odd head dimension"),
        ({"hidden_size": 0}, "model.hidden_size", "between 8 and 65536"),
        ({"num_layers": 5000}, "model.num_layers", "between 1 and 1024"),
        ({"intermediate_size": -1}, "model.intermediate_size", "between 8 and 262144"),
        ({"num_heads": 0}, "model.num_heads", "between 1 and 1024"),
        ({"max_positions": 32}, "model.max_positions", "sequence length (64)"),
        ({"max_positions": 2**21}, "model.max_positions", "between 8 and 1048576"),
        ({"rope_theta": 0}, "model.rope_theta", "greater than 0"),
        ({"norm_eps": 1.0}, "model.norm_eps", "between 0 and 0.1"),
        ({"hidden_size": "big"}, "model.hidden_size", "must be int"),
        ({"hidden_size": True}, "model.hidden_size", "must be int"),
        ({"tie_embeddings": "yes"}, "model.tie_embeddings", "must be bool"),
        ({"vocab_size": 1000}, "model.vocab_size", "follows the corpus's tokenizer (480)"),
        ({"num_kv_heads": 2}, "model.num_kv_heads", "unknown field"),
        ({"preset": "tiny"}, "model.preset", "'custom'"),
    ],
)
def test_bad_shapes_are_refused_with_field_errors(personas, corpus, shape, field, text):
    with pytest.raises(services.FieldErrors) as caught:
        _create(personas, corpus, model=shape)
    assert text in " ".join(caught.value.errors[field]), caught.value.errors
    assert not Job.objects.exists() and not Run.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"preset": "tiny", "model": {"num_layers": 3}}, "model", "need preset 'custom'"),
        ({"preset": "tiny", "base_preset": "1b"}, "base_preset", "custom"),
        ({"base_preset": "gpt-9"}, "base_preset", "unknown preset"),
        ({"model": [1, 2]}, "model", "must be an object"),
        ({"preset": "gpt-9"}, "preset", "custom"),  # the known list names custom too
    ],
)
def test_model_fields_belong_to_custom(personas, corpus, overrides, field, text):
    with pytest.raises(services.FieldErrors) as caught:
        _create(personas, corpus, **overrides)
    assert text in " ".join(caught.value.errors[field])
    assert not Job.objects.exists()


def test_a_custom_model_that_cannot_fit_is_refused(personas, make_node, data_dir):
    make_node("gpu-a", gpus=1)  # one H200
    big = make_corpus(personas.project, vocab=52_000, seq_len=2048, key="corpora/job-9")
    huge = {"hidden_size": 8192, "num_layers": 64, "num_heads": 64, "intermediate_size": 22016}
    with pytest.raises(services.FieldErrors) as caught:
        _create(personas, big, model=huge, gpus_per_node=1, zero_stage=3, bf16=True)
    assert "cannot fit" in caught.value.errors["gpus_per_node"][0]
    assert not Run.objects.exists()


def test_the_agent_side_refuses_the_same_shapes():
    good = spec_to_dict(TrainSpec())
    for model, field in (
        ({"hidden_size": 72, "num_heads": 8}, "model.num_heads"),
        ({"num_layers": 0}, "model.num_layers"),
        ({"rope_theta": -1.0}, "model.rope_theta"),
    ):
        with pytest.raises(SpecError) as caught:
            spec_from_dict(TrainSpec, {**good, "model": {**good["model"], **model}})
        assert field in caught.value.errors
    for p in PRESETS.values():  # every preset is inside the bounds
        assert p.check() == {}


# ------------------------------------------------------------------ API


def test_api_launches_a_custom_model(personas, api, corpus):
    client = api(personas.ml_engineer)
    payload = {"corpus": corpus.pk, **CPU_RUN, "preset": "custom", "model": SHAPE}
    response = client.post("/api/v1/runs/", payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    run = Run.objects.get(pk=body["id"])
    assert body["preset"] == "custom" and body["spec"]["model"]["hidden_size"] == 128
    assert body["params"] == run.params == llama_params(run.spec["model"])


@pytest.mark.parametrize(
    ("extra", "field", "text"),
    [
        (
            {"preset": "custom", "model": {"hidden_size": 100, "num_heads": 8}},
            "model.num_heads",
            "divide",
        ),
        ({"preset": "custom", "model": {"vocab_size": 5}}, "model.vocab_size", "tokenizer"),
        ({"preset": "custom", "model": "wide"}, "model", "dictionary"),
        ({"preset": "tiny", "model": {"num_layers": 4}}, "model", "custom"),
    ],
)
def test_api_refuses_bad_custom_models(personas, api, corpus, extra, field, text):
    client = api(personas.ml_engineer)
    response = client.post(
        "/api/v1/runs/", {"corpus": corpus.pk, **CPU_RUN, **extra}, format="json"
    )
    assert response.status_code == 400
    assert text in " ".join(response.json()[field])
    assert not Run.objects.exists()


def test_presets_list_custom_with_its_fields(personas, api):
    response = api(personas.viewer).get("/api/v1/presets/")
    assert response.status_code == 200
    presets = {p["name"]: p for p in response.json()}
    assert list(presets)[-1] == "custom" and presets["tiny"]["fields"] == []
    fields = {f["name"]: f for f in presets["custom"]["fields"]}
    assert {"hidden_size", "num_layers", "num_heads", "intermediate_size"} <= set(fields)
    assert "vocab_size" not in fields
    assert (fields["hidden_size"]["min"], fields["hidden_size"]["max"]) == (8, 65_536)
    assert presets["custom"]["params"] is None


# ------------------------------------------------------------------ page


def _page_form(corpus, **model):
    form = {"corpus": corpus.pk, "checkpoint_every": 5, "max_restarts": 2, **CPU_RUN}
    form["preset"] = "custom"
    form["base_preset"] = "tiny"
    form.update({f"model.{k}": v for k, v in model.items()})
    return form


def test_page_shows_the_custom_fields(client, personas, corpus):
    client.force_login(personas.ml_engineer)
    page = client.get("/runs/new/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="custom"' in html and 'name="model.hidden_size"' in html
    assert 'id="preset-values"' in html and "js/run_custom.js" in html


def test_page_post_launches_a_custom_model(client, personas, corpus):
    client.force_login(personas.ml_engineer)
    form = _page_form(
        corpus, hidden_size=128, num_layers=3, num_heads=4, intermediate_size=344, max_positions=""
    )
    bad = client.post("/runs/new/", {**form, "model.num_heads": 5})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert 'data-field="model.num_heads"' in html and "must divide hidden_size" in html
    assert not Run.objects.exists()
    ok = client.post("/runs/new/", form)
    assert ok.status_code == 302, ok.content.decode()[:3000]
    run = Run.objects.get()
    model = run.spec["model"]
    assert run.preset == "custom" and model["num_layers"] == 3 and model["hidden_size"] == 128
    assert model["max_positions"] == 256 and model["tie_embeddings"] is False  # tiny's
    assert run.params == llama_params(model)


def test_page_post_of_a_named_preset_ignores_the_custom_fields(client, personas, corpus):
    client.force_login(personas.ml_engineer)
    form = {**_page_form(corpus, hidden_size="x"), "preset": "tiny"}
    assert client.post("/runs/new/", form).status_code == 302
    assert Run.objects.get().spec["model"]["preset"] == "tiny"


def test_live_estimate(client, personas, corpus):
    client.force_login(personas.data_engineer)
    assert client.get("/runs/new/estimate.json").status_code == 403
    client.force_login(personas.ml_engineer)
    form = _page_form(corpus, hidden_size=128, num_layers=3, num_heads=4)
    answer = client.get("/runs/new/estimate.json", form)
    assert answer.status_code == 200
    data = answer.json()
    assert data["params"] == llama_params(data["model"]) and data["model"]["num_layers"] == 3
    assert data["cpu"] is True and data["problems"] == []  # a CPU run needs no GPU
    assert data["memory"]["gpu_total"] > 0 and data["memory"]["host_model_states"] > 0
    gpu = client.get("/runs/new/estimate.json", {**form, "gpus_per_node": 1}).json()
    assert "no free capacity" in gpu["problems"][0]
    bad = client.get("/runs/new/estimate.json", {**form, "model.num_heads": 5})
    assert bad.status_code == 400 and "must divide" in bad.json()["errors"]["model.num_heads"][0]
    none = client.get("/runs/new/estimate.json", {**form, "corpus": 999999})
    assert none.status_code == 400 and "corpus" in none.json()["errors"]
    assert not Run.objects.exists()


# ------------------------------------------------------------------ CLI


@pytest.mark.django_db(transaction=True)
def test_cli_creates_a_custom_run(forge, milo, personas, corpus):  # noqa: F811
    result = forge(
        "runs", "create", "--corpus", str(corpus.pk), "--preset", "custom", "--base", "125m",
        "--hidden", "128", "--layers", "3", "--heads", "4", "--intermediate", "344",
        "--max-positions", "128", "--rope-theta", "20000", "--tie-embeddings",
        "--steps", "12", "--gpus-per-node", "0", "--zero-stage", "2", "--json", **milo,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = Run.objects.get(pk=json.loads(result.stdout)["id"])
    model = run.spec["model"]
    assert run.preset == "custom"
    assert (model["hidden_size"], model["num_layers"], model["num_heads"]) == (128, 3, 4)
    assert (model["intermediate_size"], model["max_positions"]) == (344, 128)
    assert model["rope_theta"] == 20_000.0 and model["tie_embeddings"] is True
    bad = forge(
        "runs", "create", "--corpus", str(corpus.pk), "--preset", "custom", "--hidden", "100",
        "--heads", "8", "--steps", "5", "--gpus-per-node", "0", **milo,
    )  # fmt: skip
    assert bad.returncode == 1 and "must divide hidden_size" in bad.stderr
    named = forge(
        "runs", "create", "--corpus", str(corpus.pk), "--preset", "tiny", "--layers", "4",
        "--steps", "5", "--gpus-per-node", "0", **milo,
    )  # fmt: skip
    assert named.returncode == 1 and "custom" in named.stderr
    assert Run.objects.count() == 1
