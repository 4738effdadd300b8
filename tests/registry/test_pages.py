"""The model pages: list, register form from the run page, the version page with its
forms, tables and chart data, downloads, status changes and the playground."""

from __future__ import annotations

import pytest

from console.registry.models import Evaluation, ModelVersion
from tests.registry.conftest import register

pytestmark = pytest.mark.django_db


def test_run_page_links_each_checkpoint_to_register(client, run, personas):
    client.force_login(personas.ml_engineer)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert f"/models/new/?run={run.pk}&amp;step=6" in page and "Register as model" in page


def test_register_form_and_errors(client, run, personas):
    client.force_login(personas.ml_engineer)
    form = client.get(f"/models/new/?run={run.pk}&step=6")
    assert form.status_code == 200 and b"Register" in form.content
    bad = client.post("/models/new/", {"run": run.pk, "step": 5, "name": "x"})
    assert bad.status_code == 400 and b"no complete checkpoint at step 5" in bad.content
    ok = client.post("/models/new/", {"run": run.pk, "step": 6, "name": "tiny-lm"})
    assert ok.status_code == 302 and ok["Location"].startswith("/jobs/")
    client.force_login(personas.viewer)
    assert client.get(f"/models/new/?run={run.pk}&step=6").status_code == 403
    client.force_login(personas.stranger)
    assert client.post("/models/new/", {"run": run.pk, "step": 6, "name": "x"}).status_code == 404


def test_model_page(client, run, personas):
    version = register(run, personas.ml_engineer)
    Evaluation.objects.create(
        model_version=version,
        kind="perplexity",
        params={"corpus_id": 1},
        result={"perplexity": 42.5},
    )
    client.force_login(personas.ml_engineer)
    page = client.get(f"/models/{version.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    for text in ("Measured comparison", "Lineage", "Evaluate", "Quantize", "model.safetensors"):
        assert text in html, text
    assert f'href="/runs/{run.pk}/"' in html and f"/data/corpora/{run.corpus_id}/" in html
    assert version.files[0]["sha256"][:16] in html
    assert 'id="perplexity-chart"' in html and "42.5" in html
    listed = client.get("/models/").content.decode()
    assert str(version) in listed
    client.force_login(personas.viewer)
    html = client.get(f"/models/{version.pk}/").content.decode()
    assert 'id="evaluate-form"' not in html
    client.force_login(personas.stranger)
    assert client.get(f"/models/{version.pk}/").status_code == 404


def test_status_and_forms_from_the_page(client, run, personas):
    version = register(run, personas.ml_engineer)
    client.force_login(personas.ml_engineer)
    client.post(f"/models/{version.pk}/status/", {"status": "production"})
    version.refresh_from_db()
    assert version.status == "draft"
    client.post(f"/models/{version.pk}/status/", {"status": "archived"})
    version.refresh_from_db()
    assert version.status == "archived"
    bad = client.post(f"/models/{version.pk}/quantize/", {"method": "int3", "group_size": 128})
    assert bad.status_code == 400
    ok = client.post(f"/models/{version.pk}/evaluate/", {
        "kind": "perplexity", "max_sequences": 8, "prompts": "", "temperature": 0.7,
        "top_p": 0.92, "repetition_penalty": 1.2, "max_new_tokens": 64,
    })  # fmt: skip
    assert ok.status_code == 302


def test_file_download_and_tamper(client, run, personas, dirs):
    version = register(run, personas.ml_engineer)
    client.force_login(personas.viewer)
    ok = client.get(f"/models/{version.pk}/files/config.json")
    assert ok.status_code == 200 and ok["X-Checksum-SHA256"]
    assert client.get(f"/models/{version.pk}/files/../secret").status_code == 404
    path = dirs["models"] / version.folder / "config.json"
    path.write_text(path.read_text() + " ")
    assert client.get(f"/models/{version.pk}/files/config.json").status_code == 409
    refused = client.get(f"/models/{version.pk}/download.zip")
    assert refused.status_code == 409 and b"config.json" in refused.content


def test_playground(client, run, personas, settings):
    version = register(run, personas.ml_engineer)
    client.force_login(personas.ml_engineer)
    assert client.get(f"/models/{version.pk}/playground/").status_code == 200
    data = {"prompt": "The court", "temperature": 0.7, "top_p": 0.92,
            "repetition_penalty": 1.2, "max_new_tokens": 4, "seed": 0}  # fmt: skip
    page = client.post(f"/models/{version.pk}/playground/", data, HTTP_HX_REQUEST="true")
    assert page.status_code == 200 and b'data-testid="generation"' in page.content
    settings.FORGE_PLAYGROUND_MAX_BYTES = 100
    refused = client.post(f"/models/{version.pk}/playground/", data)
    assert refused.status_code == 400 and b"FORGE_PLAYGROUND_MAX_BYTES" in refused.content
    assert ModelVersion.objects.count() == 1
