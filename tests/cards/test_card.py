"""The model card: its contents from the registry, the run and its metric series, the
Markdown and HTML renderings (hostile names escaped), the page, the downloads, the API
formats, and another team's version as 404."""

from __future__ import annotations

import pytest
from django.apps import apps

from console.cards.render import md_escape
from console.cards.selectors import NO_REVIEW, card_data, review_outcome
from console.registry.models import Evaluation, ModelVersion

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"


def test_card_contents(client, family, personas):
    version, child = family["version"], family["child"]
    client.force_login(personas.viewer)
    md = client.get(f"/models/{version.pk}/card.md")
    assert md.status_code == 200 and md["Content-Type"].startswith("text/markdown")
    assert "attachment" in md["Content-Disposition"]
    text = md.content.decode()
    lineage = version.lineage
    for dv in lineage["dataset_versions"]:
        assert f"/data/versions/{dv}/)" in text, dv
    assert f"http://testserver/data/corpora/{lineage['corpus']}/" in text
    assert f"/data/tokenizers/{lineage['tokenizer']}/" in text
    assert f"/runs/{version.run_id}/" in text
    # training configuration: preset, model shape, steps, DeepSpeed summary
    assert "| preset | tiny |" in text and "| vocab\\_size | 512 |" in text
    assert "| steps | 6 |" in text and "| ZeRO stage | 2 |" in text
    # metrics: the last loss at or before the checkpoint's step (6), not step 8's
    assert "| final training loss | 3.5000 at step 6 |" in text
    assert "| final eval loss | 3.9000 at step 6 |" in text
    assert "| peak memory (bytes) | 3221225472 |" in text and "batch 1: 123.4" in text
    # evaluations, the quantized variant's measured row, review, files' sha256
    assert "perplexity 97.5 over 4096 tokens" in text
    assert f"| {child} | w8a16-rtn | 1000 | 2000 | 150.0 | 98.25 |" in text
    assert f"Outcome: **{NO_REVIEW}**" in text
    for f in version.files:
        assert f"| {md_escape(f['path'])} | {f['bytes']} | {f['sha256']} |" in text
    assert "Generated at 20" in text

    html = client.get(f"/models/{version.pk}/card.html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    page = html.content.decode()
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert version.files[0]["sha256"] in page and "98.25" in page and "3.5000" in page


def test_card_page_and_links_from_the_model_page(client, family, personas):
    version = family["version"]
    client.force_login(personas.viewer)
    page = client.get(f"/models/{version.pk}/card/").content.decode()
    assert 'data-testid="model-card"' in page
    assert f'href="/models/{version.pk}/card.md"' in page
    assert f'href="/models/{version.pk}/card.html"' in page
    assert 'data-testid="deployment-why"' in page and "this one is draft" in page
    detail = client.get(f"/models/{version.pk}/").content.decode()
    assert f'href="/models/{version.pk}/card/"' in detail
    assert 'data-testid="deployment-bundle"' in detail and "disabled" in detail
    ModelVersion.objects.filter(pk=version.pk).update(status="approved")
    detail = client.get(f"/models/{version.pk}/").content.decode()
    assert f'href="/models/{version.pk}/deployment.zip"' in detail


def test_hostile_names_are_escaped(client, personas):
    version = ModelVersion.objects.create(
        project=personas.project,
        name=HOSTILE,
        number=1,
        folder="hostile",
        files=[{"path": "<img src=x onerror=alert(2)>.bin", "bytes": 1, "sha256": "0" * 64}],
        lineage={"preset": "[click](javascript:alert(3))", "model": {"layers": HOSTILE}},
    )
    Evaluation.objects.create(
        model_version=version, kind="generation", params={"prompt": HOSTILE}, result={}
    )
    client.force_login(personas.viewer)
    for url in (f"/models/{version.pk}/card/", f"/models/{version.pk}/card.html"):
        html = client.get(url).content.decode()
        assert HOSTILE not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    md = client.get(f"/models/{version.pk}/card.md").content.decode()
    assert "<script" not in md and "<img" not in md
    assert "&lt;script&gt;" in md
    assert "[click](javascript" not in md and "\\[click\\](javascript" in md


def test_md_escape():
    assert md_escape("a|b*c_d`e[f]\ng") == "a\\|b\\*c\\_d\\`e\\[f\\] g"
    assert md_escape("<b>&") == "&lt;b&gt;&amp;"


def test_api_formats_and_visibility(api, family, personas):
    version = family["version"]
    client = api(personas.viewer)
    md = client.get(f"/api/v1/models/{version.pk}/card/")
    assert md.status_code == 200 and md["Content-Type"].startswith("text/markdown")
    assert md.content.decode().startswith(f"# Model card: {md_escape(version)}")
    html = client.get(f"/api/v1/models/{version.pk}/card/?format=html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    assert b"<!doctype html>" in html.content
    bad = client.get(f"/api/v1/models/{version.pk}/card/?format=pdf")
    assert bad.status_code == 400 and bad.json()["format"]
    stranger = api(personas.stranger)
    for url in (f"/api/v1/models/{version.pk}/card/", f"/api/v1/models/{version.pk}/deployment/"):
        gone = stranger.get(url)
        assert gone.status_code == 404 and gone["Content-Type"] == "application/json", url
    assert api(personas.outsider).get(f"/api/v1/models/{version.pk}/card/").status_code == 403
    assert api().get(f"/api/v1/models/{version.pk}/card/").status_code == 401


def test_pages_hide_another_teams_version(client, version, personas):
    client.force_login(personas.stranger)
    for suffix in ("card/", "card.md", "card.html", "deployment.zip"):
        assert client.get(f"/models/{version.pk}/{suffix}").status_code == 404, suffix


def test_review_outcome_without_governance(version):
    assert review_outcome(version) == {"state": None, "approvers": [], "text": NO_REVIEW}
    assert card_data(version)["review"]["text"] == NO_REVIEW


@pytest.mark.skipif(
    not apps.is_installed("console.governance"), reason="the governance app is not installed"
)
def test_review_outcome_and_approvers_from_governance(client, version, personas):
    review_model = apps.get_model("governance", "Review")
    decision_model = apps.get_model("governance", "Decision")
    review = review_model.objects.create(
        version=version, project=version.project, template_name="release", state="approved"
    )
    decision_model.objects.create(review=review, reviewer=personas.reviewer, decision="approve")
    decision_model.objects.create(review=review, reviewer=personas.admin, decision="approve")
    decision_model.objects.create(
        review=review, round=0, reviewer=personas.viewer, decision="approve"
    )  # an earlier round's decision: not an approver of this outcome
    outcome = review_outcome(version)
    assert outcome["state"] == "approved"
    assert outcome["approvers"] == [personas.reviewer.username, personas.admin.username]
    client.force_login(personas.viewer)
    text = client.get(f"/models/{version.pk}/card.md").content.decode()
    assert "Outcome: **Approved**" in text
    assert "Approved by: rita\\_reviewer, ada\\_admin" in text


def test_card_shows_what_users_said(client, version, personas):
    """Reviewers read the feedback's numbers on the card (Markdown and HTML)."""
    from console.registry.feedback import feedback_create

    client.force_login(personas.viewer)
    assert "No rated answers yet." in client.get(f"/models/{version.pk}/card.md").content.decode()
    common = {"actor": personas.viewer, "version": version, "prompt": "p", "output": "o"}
    feedback_create(**common, scale="thumbs", rating=1)
    feedback_create(**common, scale="thumbs", rating=-1, correction="better", flagged=True)
    feedback_create(**common, scale="stars", rating=4)
    feedback_create(**common, scale="stars", rating=3)
    text = client.get(f"/models/{version.pk}/card.md").content.decode()
    assert "| rated answers | 4 |" in text and "| positive | 2 (50%) |" in text
    assert "| negative | 1 (25%) |" in text and "| neutral | 1 |" in text
    assert "| with a better answer | 1 |" in text and "| flagged for review | 1 |" in text
    assert "| mean of the star ratings | 3.50 of 5 |" in text
    html = client.get(f"/models/{version.pk}/card.html").content.decode()
    assert '<th scope="row">flagged for review</th><td>1</td>' in html
