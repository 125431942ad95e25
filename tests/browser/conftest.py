"""Real-browser tests: Debian's Chromium, driven by Playwright, against pytest-django's live server.

One browser per session, a fresh context and page per test. Every console error, uncaught page
error and Content-Security-Policy violation on a test's page fails that test: the portal runs a
strict CSP, so a violation is a bug. Without /usr/bin/chromium (`make test` installs it with
scripts/ensure_debian_package.sh where apt-get can) the browser tests are skipped, with the
reason.

Tests here need ``@pytest.mark.django_db(transaction=True)``: the live server runs in another
thread, on its own database connection, so it must see committed data.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Playwright's sync API keeps an asyncio event loop running in the test thread for as long as
# the browser lives (the whole session), and Django refuses ORM calls from a thread with a
# running loop. The test thread makes no real async use of the ORM, so switch that guard off.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 15_000  # per action and expectation: a stuck page fails well before 30 s, and a
# shared, loaded machine (a click took over 5 s at load average 8) does not fail a working page

SKIP_REASON = (
    f"browser tests skipped: {CHROMIUM} is missing. Install Debian's chromium package "
    "(scripts/ensure_debian_package.sh, run by `make test`, does this where apt-get is available)."
)

# Runs in every document before its own scripts, reporting CSP violations to the test.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__reportCspViolation(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"}` +
      ` at ${event.sourceFile || document.URL}:${event.lineNumber}`
  );
});
"""


@dataclass
class PageProblems:
    """What went wrong in the browser while a test ran."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    expected_statuses: list[tuple[str, int]] = field(default_factory=list)

    def expect_status(self, path: str, status: int) -> None:
        """A page this test deliberately gets as an error (a form sent back with a 400):
        Chromium logs it as a failed load, which is then not a problem."""
        self.expected_statuses.append((path, status))

    def is_expected(self, text: str, url: str) -> bool:
        return any(
            url.split("?")[0].endswith(path) and f"status of {status} " in text
            for path, status in self.expected_statuses
        )

    def __bool__(self) -> bool:
        return bool(self.console_errors or self.page_errors or self.csp_violations)

    def __str__(self) -> str:
        lines = []
        for title, items in (
            ("console errors", self.console_errors),
            ("uncaught page errors", self.page_errors),
            ("CSP violations", self.csp_violations),
        ):
            lines += [f"{title}:", *(f"  {item}" for item in items)] if items else []
        return "\n".join(lines)


problems_key = pytest.StashKey[PageProblems]()
skipped_for_missing_chromium: list[str] = []


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, request):
    """A new page in its own context, on the live server (``page.goto("/")`` works)."""
    problems = PageProblems()
    request.node.stash[problems_key] = problems
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    context.expose_function(
        "__reportCspViolation", lambda violation: problems.csp_violations.append(violation)
    )
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()

    def on_console(message) -> None:
        if message.type == "error":
            url = message.location.get("url")
            if problems.is_expected(message.text, url or ""):
                return
            where = f" ({url}:{message.location.get('lineNumber')})" if url else ""
            problems.console_errors.append(message.text + where)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.page_errors.append(str(error)))
    yield page
    context.close()


@pytest.fixture
def expect_status(page, request):
    """``expect_status(path, status)``: this test gets ``path`` as an HTTP error on purpose."""
    return request.node.stash[problems_key].expect_status


def take_screenshot(page, name: str) -> Path:
    """Save the whole page as screenshots/<name>.png at the project root."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


@pytest.fixture
def screenshot():
    """``screenshot(page, name)``: save the page to screenshots/<name>.png."""
    return take_screenshot


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail a test whose page logged a console error, threw, or violated the CSP."""
    try:
        result = yield
    finally:
        problems = item.stash.get(problems_key, None)
        if problems:
            item.add_report_section("call", "browser", str(problems))
    if problems:
        pytest.fail(f"the browser reported problems on this test's page:\n{problems}")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.skipped and call.excinfo is not None and SKIP_REASON in str(call.excinfo.value):
        skipped_for_missing_chromium.append(item.nodeid)
    return report


def pytest_terminal_summary(terminalreporter):
    if skipped_for_missing_chromium:
        terminalreporter.write_line(
            f"NOTE: {len(skipped_for_missing_chromium)} {SKIP_REASON}", yellow=True, bold=True
        )
