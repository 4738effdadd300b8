"""A tokenizer's chat template: Forge's default renders the sample conversation with the
loss on the assistant's tokens only; a saved template is the file plain transformers
loads; templates that do not render or mark no assistant token are refused with the
reason, through the API and the page."""

from __future__ import annotations

import json
import shutil

import pytest

from console.audit.models import AuditEvent
from console.data.engine.chat_template import (
    DEFAULT_TEMPLATE,
    SAMPLE_CONVERSATION,
    TEMPLATE_FILE,
    TemplateError,
    render_sample,
)
from console.data.models import DatasetVersion, Origin, Tokenizer
from tests.factories import DatasetFactory
from tests.train.conftest import tiny_corpus  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

NO_GENERATION = DEFAULT_TEMPLATE.replace("{% generation %}", "").replace("{% endgeneration %}", "")


@pytest.fixture
def tokenizer(personas, data_dir, tiny_corpus):  # noqa: F811
    """A trained BPE tokenizer (the tiny corpus's) registered in project alpha."""
    shutil.copytree(tiny_corpus.parent / "tokenizer", data_dir / "tokenizers" / "job-2")
    version = DatasetVersion.objects.create(
        dataset=DatasetFactory(project=personas.project),
        number=1,
        origin=Origin.UPLOAD,
        storage_key="datasets/1/versions/job-1",
        sha256="a" * 64,
        bytes=10,
        documents=2,
    )
    return Tokenizer.objects.create(
        project=personas.project,
        name="bpe",
        version=version,
        vocab_size_requested=512,
        vocab_size=512,
        storage_key="tokenizers/job-2",
        sha256="b" * 64,
    )


def test_the_default_trains_on_assistant_tokens_only(tiny_corpus):  # noqa: F811
    sample = render_sample(tiny_corpus.parent / "tokenizer", DEFAULT_TEMPLATE)
    assert sample["text"].startswith("<|system|>\nYou answer questions")
    trained = "".join(t["text"] for t in sample["tokens"] if t["trained"])
    answers = [m["content"] for m in SAMPLE_CONVERSATION if m["role"] == "assistant"]
    assert trained == "".join(a + "<eos>" for a in answers)  # each answer and its end
    assert sample["masked"] > 0 and sample["trained"] + sample["masked"] == len(sample["tokens"])


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (NO_GENERATION, "marks no assistant token"),
        ("{% for m in messages %}{{ m.content }", "does not render"),
        ("   ", "Give a template"),
        ("x" * 20_001, "over the limit"),
    ],
)
def test_unusable_templates_are_refused(tiny_corpus, template, message):  # noqa: F811
    with pytest.raises(TemplateError, match=message):
        render_sample(tiny_corpus.parent / "tokenizer", template)


def test_a_tokenizer_whose_files_are_gone_is_a_clear_error(tmp_path):
    with pytest.raises(TemplateError, match="files cannot be read"):
        render_sample(tmp_path / "gone", DEFAULT_TEMPLATE)


def test_api_sets_the_template_plain_transformers_loads(api, personas, tokenizer, data_dir):
    from transformers import AutoTokenizer

    url = f"/api/v1/tokenizers/{tokenizer.pk}/chat-template/"
    shown = api(personas.viewer).get(url).json()
    assert shown["template"] is None and shown["default"] == DEFAULT_TEMPLATE
    assert shown["sample"]["trained"] > 0
    custom = DEFAULT_TEMPLATE.replace("<|", "[").replace("|>", "]")
    saved = api(personas.data_engineer).put(url, {"template": custom}, format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json()["template"] == custom
    folder = data_dir / "tokenizers" / "job-2"
    assert (folder / TEMPLATE_FILE).read_text("utf-8") == custom
    plain = AutoTokenizer.from_pretrained(str(folder))  # outside Forge
    text = plain.apply_chat_template(SAMPLE_CONVERSATION[1:3], tokenize=False)
    assert text == (
        "[user]\nHow long do I have to appeal?\n"
        "[assistant]\nUsually 28 days from the date of the decision.<eos>\n"
    )
    event = AuditEvent.objects.get(action="data.tokenizer.chat_template")
    assert event.before is None and len(event.after["sha256"]) == 64

    refused = api(personas.data_engineer).put(url, {"template": NO_GENERATION}, format="json")
    assert refused.status_code == 400 and "generation" in json.dumps(refused.json())
    assert (folder / TEMPLATE_FILE).read_text("utf-8") == custom  # unchanged
    assert api(personas.viewer).put(url, {"template": custom}, format="json").status_code == 403
    assert api(personas.stranger).get(url).status_code == 404


def test_tokenizer_page_shows_and_edits_the_template(client, personas, tokenizer, data_dir):
    client.force_login(personas.data_engineer)
    page = client.get(f"/data/tokenizers/{tokenizer.pk}/").content.decode()
    assert "has no chat template yet" in page and 'class="tok tok-trained"' in page
    url = f"/data/tokenizers/{tokenizer.pk}/chat-template/"
    bad = client.post(url, {"template": NO_GENERATION})
    assert bad.status_code == 400 and "marks no assistant token" in bad.content.decode()
    assert not (data_dir / "tokenizers" / "job-2" / TEMPLATE_FILE).exists()
    ok = client.post(url, {"template": DEFAULT_TEMPLATE})
    assert ok.status_code == 302 and ok["Location"].endswith("#chat-template")
    assert (
        "In use since it was saved here"
        in client.get(f"/data/tokenizers/{tokenizer.pk}/").content.decode()
    )
    client.force_login(personas.viewer)
    assert client.post(url, {"template": DEFAULT_TEMPLATE}).status_code == 403


def test_page_and_api_after_the_stored_template_broke(api, client, personas, tokenizer, data_dir):
    """A chat_template.jinja edited on disk into one that no longer renders: the page
    and the API say so, and the form offers it for mending."""
    (data_dir / "tokenizers" / "job-2" / TEMPLATE_FILE).write_text("{% for m in messages %}")
    client.force_login(personas.data_engineer)
    page = client.get(f"/data/tokenizers/{tokenizer.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "does not render the sample conversation" in body and "template-sample" not in body
    shown = api(personas.viewer).get(f"/api/v1/tokenizers/{tokenizer.pk}/chat-template/").json()
    assert shown["sample"] is None and "does not render" in shown["error"]
