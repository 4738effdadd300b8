"""The Content-Security-Policy in the browser (issue 14, item 6): scripts only from this
origin, no inline script without the response's nonce, no eval. The chart pages
(plotly.js, its strict bundle), htmx polling, the admin and the API docs work under it
with nothing refused; the check that fails a test on a refusal (tests/browser/conftest.py)
does catch one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from console.energy.services import job_usage_refresh
from console.jobs.models import Job, JobState
from tests.browser.test_runs_ui import add_points, two_runs  # noqa: F401 - a fixture
from tests.carbon.test_scheduling import trace  # noqa: F401 - a fixture
from tests.energy.conftest import allocate, make_node, samples
from tests.processes import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TRACES = "() => [...document.querySelectorAll('.js-plotly-plot')].map(g => g._fullData.length)"


def test_a_refused_script_or_eval_is_caught(web, personas):
    w = web()
    w.login(personas.viewer)
    page = w.page
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__ran = true'; document.body.append(s); }"
    )
    assert page.evaluate("() => window.__ran === undefined")
    # An inline event handler (what hx-on and onclick= are) and a string run as code.
    page.evaluate(
        "() => { const b = document.createElement('button');"
        " b.setAttribute('onclick', 'window.__clicked = true'); document.body.append(b);"
        " b.click(); setTimeout('window.__evaled = true', 0); }"
    )
    wait_for(lambda: len(w.csp_violations) >= 3, timeout=5, interval=0.1, what="3 refusals")
    assert page.evaluate("() => window.__clicked === undefined && window.__evaled === undefined")
    assert any("inline" in v for v in w.csp_violations), w.csp_violations
    assert any("eval" in v for v in w.csp_violations), w.csp_violations
    w.csp_violations.clear()  # expected here; the check at teardown is for the unexpected


def test_chart_pages_admin_and_api_docs_under_the_policy(
    web,
    personas,
    two_runs,  # noqa: F811
    trace,  # noqa: F811
):
    admin = personas.admin
    admin.is_staff = admin.is_superuser = True
    admin.save()
    run, other = two_runs
    Job.objects.filter(pk=run.job_id).update(state=JobState.RUNNING, progress=40)
    # A node with a GPU that ran a job for an hour: fleet sparklines, energy and carbon.
    node = make_node("gpu-a", gpus=1)
    job = Job.objects.get(pk=other.job_id)
    start = timezone.now() - timedelta(hours=1)
    allocate(job, node, [0], start=start, end=timezone.now())
    samples(node, 0, start=start, end=timezone.now(), watts=400.0, every=60)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.SUCCEEDED, started_at=start, finished_at=timezone.now(), progress=100
    )
    job_usage_refresh(job_id=job.pk)

    w = web()
    w.login(admin, next_path=f"/runs/{run.pk}/")
    page = w.page
    charts = [
        (f"/runs/{run.pk}/", "#job-metrics .main-svg", "csp-run"),
        (f"/runs/compare/?runs={run.pk},{other.pk}", "#chart-loss .main-svg", "csp-compare"),
        ("/carbon/", '[data-chart="carbon-forecast"] .main-svg', "csp-carbon"),
        ("/energy/", "#energy-monthly-chart .main-svg", "csp-energy"),
        ("/", "#daily-chart .main-svg", "csp-home"),
        ("/fleet/", ".sparkline .main-svg", "csp-fleet"),
        (f"/fleet/{node.name}/", ".gpu-chart .main-svg", "csp-node"),
    ]
    for path, chart, name in charts:
        assert w.goto(path).status == 200, path
        expect(page.locator(chart).first).to_be_visible(timeout=60_000)
        assert sum(page.evaluate(TRACES)) > 0, path  # plotly drew traces, not only axes
        w.shot(name)
        assert w.csp_violations == [], (path, w.csp_violations)

    # The run page keeps polling its status through htmx, the swapped-in block included.
    w.goto(f"/runs/{run.pk}/")
    for _ in range(2):
        with page.expect_response(
            lambda r: r.url.endswith(f"/runs/{run.pk}/") and "hx-request" in r.request.headers,
            timeout=60_000,
        ) as polled:
            pass
        assert polled.value.status == 200

    # Django's admin (its own static scripts) and Swagger UI (its start-up script a file).
    for path, ready in [
        ("/admin/", "#content-main"),
        ("/admin/jobs/job/", "#result_list"),
        (f"/admin/jobs/job/{run.job_id}/change/", "#job_form"),
        ("/api/docs/", ".swagger-ui .opblock"),
    ]:
        assert w.goto(path).status == 200, path
        page.wait_for_selector(ready, timeout=60_000)
        assert w.csp_violations == [], (path, w.csp_violations)
    w.shot("csp-api-docs")
    w.assert_clean()


TYPES = (
    "sel => [...document.querySelectorAll(sel + ' .js-plotly-plot, ' + sel + '.js-plotly-plot')]"
    ".flatMap(g => g._fullData.map(t => t.type))"
)


def test_small_charts_draw_as_svg_and_long_runs_as_webgl_under_the_policy(
    web,
    personas,
    two_runs,  # noqa: F811
):
    """Up to 5,000 points a line chart is SVG; a run whose series hold more draws with
    WebGL (plotly's strict bundle: no eval), on its page and on the compare page."""
    small, long = two_runs
    add_points(long, "loss", range(1, 1001), [6.0 - i * 1e-3 for i in range(1000)])
    for name in ("grad_norm", "mfu", "step_seconds", "memory_gib", "loss_scale"):
        add_points(long, name, range(1001, 2001), [1.0 + i * 1e-3 for i in range(1000)])
    w = web()
    w.login(personas.viewer, next_path=f"/runs/{small.pk}/")
    page = w.page
    expect(page.locator("#job-metrics .main-svg").first).to_be_visible(timeout=60_000)
    assert set(page.evaluate(TYPES, "#job-metrics")) == {"scatter"}
    w.goto(f"/runs/{long.pk}/")
    expect(page.locator("#job-metrics .main-svg").first).to_be_visible(timeout=60_000)
    assert set(page.evaluate(TYPES, "#job-metrics")) == {"scattergl"}
    w.shot("run-chart-webgl")
    w.goto(f"/runs/compare/?runs={small.pk},{long.pk}")
    expect(page.locator("#chart-loss .main-svg").first).to_be_visible(timeout=60_000)
    assert set(page.evaluate(TYPES, "#chart-loss")) == {"scatter"}  # 1,030 points
    assert w.csp_violations == [], w.csp_violations
    w.assert_clean()
