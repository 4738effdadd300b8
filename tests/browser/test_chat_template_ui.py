"""A tokenizer's chat template in the browser: the sample conversation with trained and
masked tokens, a template that marks no assistant token refused with the reason, then a
custom one saved and shown. Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.data.conftest import data_dir  # noqa: F401 - a fixture
from tests.data.test_chat_template import NO_GENERATION, tokenizer  # noqa: F401 - a fixture
from tests.train.conftest import tiny_corpus  # noqa: F401 - a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_see_refuse_and_save_a_chat_template(web, personas, tokenizer):  # noqa: F811
    w = web()
    w.login(personas.data_engineer, next_path=f"/data/tokenizers/{tokenizer.pk}/")
    page = w.page
    expect(page.get_by_test_id("template-state")).to_contain_text("no chat template yet")
    sample = page.get_by_test_id("template-sample")
    expect(sample.locator(".tok-trained").first).to_be_visible()
    expect(page.get_by_test_id("template-split")).to_contain_text("tokens trained")
    w.shot("chat-template-default")

    box = page.get_by_label("Template (Jinja")
    box.fill(NO_GENERATION)
    page.get_by_role("button", name="Save the chat template").click()
    expect(page.get_by_test_id("template-error")).to_contain_text("marks no assistant token")
    expect(box).to_have_value(NO_GENERATION)  # what was typed is kept to fix
    w.shot("chat-template-refused")

    custom = (
        NO_GENERATION.replace(
            "{{ message['content'] + eos_token }}",
            "{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}",
        )
        .replace("<|", "### ")
        .replace("|>", "")
    )
    box.fill(custom)
    page.get_by_role("button", name="Save the chat template").click()
    expect(page.locator(".msg-success")).to_contain_text("Chat template saved")
    expect(page.get_by_test_id("template-state")).to_contain_text("In use")
    expect(page.get_by_test_id("template-sample")).to_contain_text("### assistant")
    w.shot("chat-template-saved")
    w.assert_clean(expected_statuses=(400,))
