"""Browser tests: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

`web(viewport)` opens a fresh browser context on the live server and returns a `Web`
helper: log in through the form, take screenshots into test-artifacts/screenshots/,
and check that the page made no request off the live server's origin and logged no
console error (the console must work air-gapped).

Every page of every browser test runs under the console's Content-Security-Policy, and a
test fails (at teardown) if anything the policy refused happened on any of its pages: an
inline script or handler without the nonce, an eval, a load from elsewhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.factories import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Chromium logs the status of a failed document load as a console error; tests that
# expect a 4xx page say which statuses they expect.
FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")
# Chromium reports what the CSP refused as a console error ("Refused to execute inline
# script because it violates the following Content Security Policy directive: ...") and
# fires securitypolicyviolation, also for refusals a script catches (an eval in a try).
CSP_REFUSAL = re.compile(r"Content Security Policy|^Refused to")
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__forgeCspViolation(`${e.violatedDirective} refused ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || e.documentURI}:${e.lineNumber} (${e.sample || ""})`);
});
"""


class Web:
    """One browser context (one user's tab) on the live server."""

    def __init__(self, context, base_url: str) -> None:
        self.context = context
        self.base_url = base_url.rstrip("/")
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.base_url))
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.csp_violations: list[str] = []
        self.page = context.new_page()
        self.page.expose_function("__forgeCspViolation", lambda v: self.csp_violations.append(v))
        self.page.add_init_script(CSP_LISTENER)
        # Generous: a CI machine's speed varies 2x from run to run, and a run squeezed onto
        # one core (taskset) saw logins take over 30 s. Waits that pass return at once.
        self.page.set_default_timeout(60_000)
        self.page.set_default_navigation_timeout(90_000)
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))

    def _console(self, msg) -> None:
        if msg.type == "error":
            self.console_errors.append(msg.text)
            if CSP_REFUSAL.search(msg.text):
                self.csp_violations.append(msg.text)

    def url(self, path: str) -> str:
        return self.base_url + path

    def goto(self, path: str):
        return self.page.goto(self.url(path))

    def login(self, user, password: str = PASSWORD, *, next_path: str = "/") -> None:
        """Log in through the form, landing on next_path. Tests headed elsewhere than the
        dashboard say where: Plotly takes a couple of seconds to start in headless Chromium."""
        self.goto("/login/" if next_path == "/" else f"/login/?next={quote(next_path)}")
        self.page.get_by_label("Username").fill(user.username)
        self.page.get_by_label("Password").fill(password)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Log in").click()
        assert urlsplit(self.page.url).path == next_path, self.page.url

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        width = self.page.viewport_size["width"]
        path = SCREENSHOTS / f"{name}-{'phone' if width < 600 else 'desktop'}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def sideways_overflow(self) -> int:
        """How many pixels the page scrolls sideways (0 when it fits its viewport)."""
        return self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )

    def template_leaks(self) -> list[str]:
        """Template syntax that reached the screen (a multi-line {# #}, a broken tag)."""
        text = self.page.locator("body").inner_text()
        return [token for token in ("{#", "#}", "{%", "%}", "{{", "}}") if token in text]

    def foreign_requests(self) -> list[str]:
        return [
            url
            for url in self.requests
            if not url.startswith(("data:", "blob:", "about:"))
            and "{0.scheme}://{0.netloc}".format(urlsplit(url)) != self.origin
        ]

    def assert_clean(self, *, expected_statuses: tuple[int, ...] = ()) -> None:
        """No request left the live server; no console error but expected 4xx loads; no
        template syntax on the page shown now."""
        assert self.foreign_requests() == [], self.foreign_requests()
        assert self.template_leaks() == [], self.template_leaks()
        errors = [
            e
            for e in self.console_errors
            if not ((m := FAILED_LOAD.search(e)) and int(m.group(1)) in expected_statuses)
        ]
        assert errors == [], errors


@pytest.fixture(scope="package")
def chromium(django_db_setup):
    """The browser, launched once for tests/browser/, skipped where Chromium is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium) - browser tests skipped")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # loaded CI machines: logins seen over 30 s

    # Playwright's sync API keeps an asyncio loop on this thread while it runs, which
    # makes Django refuse ORM calls from the (synchronous) tests: allow them meanwhile,
    # and only meanwhile (package scope: the browser closes after tests/browser/).
    # Depending on django_db_setup closes the browser before the test database goes.
    saved = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if saved is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = saved


@pytest.fixture
def web(chromium, live_server) -> Iterator:
    """web(viewport=DESKTOP) -> a Web on a fresh context; contexts close after the test."""
    contexts, webs = [], []

    def make(viewport: dict | None = None) -> Web:
        context = chromium.new_context(viewport=viewport or DESKTOP, locale="en-US")
        contexts.append(context)
        webs.append(Web(context, live_server.url))
        return webs[-1]

    yield make
    violations = [v for w in webs for v in w.csp_violations]
    for context in contexts:
        context.close()
    assert violations == [], f"the Content-Security-Policy refused: {violations}"
