"""Every page at desktop and phone width: served from this origin only, no console error,
no horizontal scrolling on a phone. Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from console.audit.services import audit_record
from console.jobs.models import Job, JobState
from tests.browser.conftest import DESKTOP, PHONE
from tests.factories import JobFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOG = "\n".join(f"12:00:{i:02d} step {i}/40 value=0.{i:04d}" for i in range(1, 40))


def el_scrolls(locator) -> bool:
    return locator.evaluate("el => el.scrollHeight > el.clientHeight")


def seed(personas) -> dict[str, Job]:
    ml, project = personas.ml_engineer, personas.project
    now = timezone.now()
    jobs = {}
    for days_ago, state in [(0, "succeeded"), (1, "succeeded"), (1, "failed"), (3, "cancelled")]:
        job = JobFactory(project=project, requested_by=ml, state=state, progress=100)
        Job.objects.filter(pk=job.pk).update(created_at=now - timedelta(days=days_ago))
    jobs["failed"] = JobFactory(
        project=project,
        requested_by=ml,
        name="Tokenizer sweep",
        state=JobState.FAILED,
        progress=40,
        progress_message="step 16/40",
        log_tail=LOG,
        error="failing on purpose at step 17 (fail_at_step)",
        started_at=now - timedelta(minutes=3),
        finished_at=now - timedelta(minutes=1),
    )
    jobs["running"] = JobFactory(
        project=project,
        requested_by=ml,
        name="Warm-up: synthetic workload with a rather long descriptive name",
        state=JobState.RUNNING,
        attempt=1,
        progress=35,
        progress_message="step 14/40",
        log_tail=LOG,
        started_at=now - timedelta(seconds=42),
        heartbeat_at=now,
    )
    audit_record(action="job.submit", actor=ml, obj=jobs["running"], after={"kind": "demo.count"})
    return jobs


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_page_renders_locally(web, personas, viewport):
    admin = personas.admin
    admin.is_staff = admin.is_superuser = True
    admin.save()
    jobs = seed(personas)
    w = web(viewport)

    w.goto("/login/")
    w.shot("login")
    w.login(admin, next_path="/jobs/")

    pages = [
        ("/", "home"),
        ("/jobs/", "jobs-list"),
        ("/jobs/new/", "jobs-new"),
        (f"/jobs/{jobs['running'].pk}/", "job-running"),
        (f"/jobs/{jobs['failed'].pk}/", "job-failed"),
        ("/audit/", "audit"),
        ("/account/tokens/", "tokens"),
        ("/api/docs/", "api-docs"),
        ("/admin/", "admin"),
        ("/jobs/999999/", "not-found"),
    ]
    overflows = {}  # path -> how far it scrolls sideways on a phone
    for path, name in pages:
        response = w.goto(path)
        assert response.status == (404 if name == "not-found" else 200), path
        if name == "home":
            w.page.wait_for_selector("#daily-chart svg")
        if name == "job-running":  # the log opens on its latest lines
            log = w.page.locator("#job-log")
            expect(log).to_contain_text("step 39/40")
            below = log.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight")
            assert el_scrolls(log) and below < 4, below
        if name == "api-docs":
            w.page.wait_for_selector(".swagger-ui .opblock", timeout=60_000)
        w.shot(name)
        if name not in {"api-docs", "admin"}:
            assert w.template_leaks() == [], (path, w.template_leaks())
        if name not in {"api-docs", "admin"} and (overflow := w.sideways_overflow()) > 0:
            overflows[path] = overflow

    w.goto("/account/tokens/")
    w.page.get_by_label("Name").fill("ci-pipeline")
    w.page.get_by_role("button", name="Create token").click()
    w.page.wait_for_selector("[data-testid=new-token]")
    w.shot("tokens-issued")
    if (overflow := w.sideways_overflow()) > 0:
        overflows["/account/tokens/ (issued)"] = overflow

    if viewport is PHONE:
        w.goto("/")
        w.page.locator(".navtoggle-label").click()
        w.shot("nav-open")

    viewer = web(viewport)
    viewer.login(personas.viewer, next_path="/jobs/new/")  # lands on the 403 page
    viewer.shot("forbidden")

    assert overflows == {}, f"pages scroll sideways on a phone: {overflows}"
    w.assert_clean(expected_statuses=(404,))
    viewer.assert_clean(expected_statuses=(403,))
