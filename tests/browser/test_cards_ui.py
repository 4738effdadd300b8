"""The model card and the deployment bundle in the browser: from the model page open the
card, download card.md, see the bundle disabled with its reason while the version is a
draft, then (once approved) download the bundle and find its manifests inside."""

from __future__ import annotations

import zipfile

import pytest
from playwright.sync_api import expect

from console.registry.models import Evaluation, ModelVersion

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_open_the_card_and_download_the_bundle(web, personas, tmp_path):
    version = ModelVersion.objects.create(
        project=personas.project,
        name="card-lm",
        number=1,
        folder="job-901",
        files=[{"path": "model.safetensors", "bytes": 2048, "sha256": "ab" * 32}],
        size_bytes=2048,
        lineage={"preset": "tiny", "model": {"preset": "tiny", "vocab_size": 512}},
        measured={"size_bytes": 2048, "peak_memory_bytes": 4096, "perplexity": 88.5},
    )
    Evaluation.objects.create(
        model_version=version, kind="perplexity", result={"perplexity": 88.5, "tokens": 512}
    )
    w = web()
    w.login(personas.viewer, next_path=f"/models/{version.pk}/")
    page = w.page
    bundle = page.get_by_test_id("deployment-bundle")
    expect(bundle).to_be_disabled()
    expect(page.get_by_test_id("deployment-why")).to_contain_text("this one is draft")

    page.get_by_test_id("model-card-link").click()
    expect(page).to_have_url(w.url(f"/models/{version.pk}/card/"))
    card = page.get_by_test_id("model-card")
    expect(card.get_by_role("heading", name="Intended use")).to_be_visible()
    expect(page.get_by_test_id("card-files")).to_contain_text("ab" * 32)
    expect(page.get_by_test_id("card-evaluations")).to_contain_text("perplexity 88.5")
    expect(page.get_by_test_id("card-review")).to_contain_text("no review yet")
    w.shot("model-card")
    with page.expect_download() as info:
        page.get_by_test_id("card-md").click()
    assert info.value.suggested_filename == "card-lm-v1-card.md"
    info.value.save_as(tmp_path / "card.md")
    text = (tmp_path / "card.md").read_text("utf-8")
    assert text.startswith("# Model card: card-lm v1") and "ab" * 32 in text
    w.assert_clean()

    ModelVersion.objects.filter(pk=version.pk).update(status="approved")
    w.goto(f"/models/{version.pk}/")
    expect(page.get_by_test_id("deployment-bundle")).to_be_enabled()
    with page.expect_download() as info:
        page.get_by_test_id("deployment-bundle").click()
    assert info.value.suggested_filename == "forge-card-lm-v1-deployment.zip"
    info.value.save_as(tmp_path / "bundle.zip")
    with zipfile.ZipFile(tmp_path / "bundle.zip") as archive:
        names = set(archive.namelist())
    assert {
        "forge-card-lm-v1/k8s/deployment.yaml",
        "forge-card-lm-v1/k8s/service.yaml",
        "forge-card-lm-v1/k8s/hpa.yaml",
        "forge-card-lm-v1/serving/vllm.json",
        "forge-card-lm-v1/README.md",
    } <= names
    w.assert_clean()
