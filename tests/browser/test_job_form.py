"""Bad input in the job form: field errors next to the fields, and no job."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from console.jobs.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("steps", "error"),
    [("abc", "must be int"), ("0", "must be between 1 and 100000")],
)
def test_bad_steps_show_a_field_error_and_create_no_job(web, personas, steps, error):
    w = web()
    w.login(personas.ml_engineer, next_path="/jobs/new/")
    page = w.page
    page.get_by_role("textbox", name="steps", exact=True).fill(steps)
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Submit job").click()
    assert nav.value.status == 400

    expect(page).to_have_url(w.url("/jobs/new/"))
    field = page.get_by_role("textbox", name="steps", exact=True)
    expect(field).to_have_value(steps)  # what was typed stays, to be corrected
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-steps")).to_have_text(error)
    expect(page.get_by_role("alert")).to_contain_text("not submitted")
    other = page.get_by_role("textbox", name="step_seconds")
    expect(other).not_to_have_attribute("aria-invalid", "true")
    w.shot(f"job-form-error-{'type' if steps == 'abc' else 'range'}")
    assert Job.objects.count() == 0
    w.assert_clean(expected_statuses=(400,))
