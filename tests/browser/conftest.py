"""Browser tests: the built dashboard (frontend/dist) in Debian's headless Chromium, via Playwright.

``dashboard`` is a live server (the real Django app, serving the built files) with tenant A
connected to an in-process sandbox whose callbacks reach that server; alice is its admin and bob a
sales member mapped to a real salesperson of the sandbox corp. ``page`` is a fresh browser context
in English; an uncaught JavaScript error or a server 500 on it fails the test, and a failing test's
report ends with what its page did (``Traffic``). ``login(page, user)``
logs in through the form; ``shoot(page, name)`` saves a screenshot under var/screenshots/ (not
committed).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from scrm.tenancy.models import Membership, Tenant
from scrm.wecom.sandbox import Sandbox
from tests.contacts.builders import run_sync
from tests.helpers import PASSWORD, connect_tenant, sandbox_control
from tests.wecom.conftest import sandbox_factory  # noqa: F401 -- fixture reused here

ROOT = Path(__file__).resolve().parents[2]
# FRONTEND_DIST lets a developer test another build (the settings read the same variable).
DIST = Path(os.environ.get("FRONTEND_DIST", ROOT / "frontend" / "dist"))
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Headless as root in a sandboxless container, and nothing that phones home (the network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Playwright's sync API keeps an event loop on the test's thread, so Django's async-safety check
# would refuse the test's own ORM calls; the test thread is still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not (DIST / "index.html").is_file():
        pytest.fail("The dashboard is not built: `make test` builds it into frontend/dist.")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"No Chromium at {CHROMIUM}: `make test` installs Debian's chromium package.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Dashboard:
    url: str
    tenant: Tenant
    sandbox: Sandbox
    admin: object
    sales: object


@pytest.fixture
def dashboard(live_server, settings, tmp_path, tenant_a, alice, bob, sandbox_factory) -> Dashboard:  # noqa: F811
    settings.FRONTEND_DIST = DIST
    settings.MEDIA_ROOT = tmp_path  # the content library's uploads
    sandbox = sandbox_factory(callback_url=f"{live_server.url}/wecom/callback/{tenant_a.slug}/")
    connect_tenant(tenant_a, sandbox)
    # bob follows real customers of the sandbox corp: the first salesperson with contact permission.
    salesperson = next(s.userid for s in sandbox.state.staff.values() if s.has_contact_permission)
    Membership.unscoped.filter(tenant=tenant_a, user=bob).update(wecom_userid=salesperson)
    return Dashboard(url=live_server.url, tenant=tenant_a, sandbox=sandbox, admin=alice, sales=bob)


# CI runs two pytest workers on two cores: a page that loads a lazy chunk and then its data can take
# longer than Playwright's 5-second default for assertions while the other worker is busy. Actions and
# assertions share one budget; a genuinely stuck page still fails, after 15 seconds.
BUDGET_MS = 15_000
expect.set_options(timeout=BUDGET_MS)


# Ant Design opens its popups (modals and confirms, popconfirms, dropdowns, select menus, messages) in
# steps: a few frames transparent but already at their final place, then a zoom or slide from a
# fraction of their size (a modal jumps to 20% around the last click, then grows back over 0.3 s).
# Playwright finds the button stable in those first frames and presses the mouse on it; when the zoom
# starts before the release, the release lands on the mask, the click goes to the common ancestor and
# the button never gets it: the dialog stays open, no request, no error, and Playwright reports the
# click as done. Holding the transform at its end state (it is the only property those motions move)
# keeps every popup where it ends from its first frame; opacity still fades and the animations still
# run and end, so Ant Design's motion steps go on as in production.
STEADY_POPUPS = """
(() => {
  const css = '[class*="-appear-start"], [class*="-appear-active"], [class*="-enter-start"],'
    + ' [class*="-enter-active"] { transform: none !important; }';
  const add = () => {
    const style = document.createElement("style");
    style.textContent = css;
    (document.head || document.documentElement).appendChild(style);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", add, { once: true });
  else add();
})();
"""

# A click whose press and release meet different controls reaches neither: say so in the console
# (kept in the failure report), since nothing else would.
LOST_CLICKS = """
(() => {
  const CONTROL = 'button, a[href], input, textarea, select, label, [role="button"], [role="option"],'
    + ' [role="menuitem"], [role="tab"], [role="listitem"], [role="checkbox"], [role="radio"],'
    + ' [role="switch"]';
  const control = (node) => (node instanceof Element && node.closest(CONTROL)) || node;
  const name = (node) => {
    if (!(node instanceof Element)) return String(node);
    const label = node.getAttribute("aria-label") || (node.textContent || "").trim().slice(0, 40);
    return `<${node.tagName.toLowerCase()} class="${node.className}"> "${label}"`;
  };
  let pressed = null;
  addEventListener("pointerdown", (event) => { pressed = control(event.target); }, true);
  addEventListener("pointerup", (event) => {
    const released = control(event.target);
    if (!pressed || pressed === released) return;
    console.warn(pressed.isConnected
      ? `[lost click] pressed on ${name(pressed)}, released on ${name(released)}`
      : `[lost click] ${name(pressed)} was removed between press and release`);
    pressed = null;
  }, true);
})();
"""


class Traffic:
    """What a test's page did, printed only in the report of a failing test: every API answer (errors
    with their body), requests that failed or never got an answer, console errors and warnings.

    Requests to other hosts (customers' avatars on WeChat's servers) fail here, the network being
    closed: they are only counted.
    """

    def __init__(self, page: Page) -> None:
        self.start = time.monotonic()
        self.events: list[str] = []
        self.pending: dict[object, str] = {}
        self.elsewhere = 0
        page.on("request", self._request)
        page.on("requestfinished", lambda request: self.pending.pop(request, None))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("console", self._console)

    def _at(self) -> str:
        return f"{time.monotonic() - self.start:7.2f}s"

    @staticmethod
    def _local(url: str) -> bool:
        return urlsplit(url).hostname in ("localhost", "127.0.0.1")

    def _request(self, request) -> None:
        if self._local(request.url):
            self.pending[request] = f"{self._at()} {request.method} {request.url}"

    def _failed(self, request) -> None:
        self.pending.pop(request, None)
        if self._local(request.url):
            self.events.append(f"{self._at()} FAILED {request.method} {request.url}: {request.failure}")
        else:
            self.elsewhere += 1

    def _response(self, response) -> None:
        request = response.request
        if response.status < 400:
            if "/api/" in response.url:
                self.events.append(f"{self._at()} {response.status} {request.method} {response.url}")
            return
        try:
            sent = (request.post_data or "")[:300]
        except Exception:  # a file upload
            sent = "<binary>"
        try:
            answer = response.text()[:500]
        except Exception as error:  # the page went away first
            answer = f"<no body: {error}>"
        self.events.append(
            f"{self._at()} {response.status} {request.method} {response.url} sent={sent!r} answer={answer!r}"
        )

    def _console(self, message) -> None:
        if message.type in ("error", "warning") and "net::ERR_NAME_NOT_RESOLVED" not in message.text:
            self.events.append(f"{self._at()} console.{message.type}: {message.text[:500]}")

    def report(self) -> str:
        lines = list(self.events) or ["(no API call, failed request or console message)"]
        if self.elsewhere:
            lines.append(f"({self.elsewhere} requests to other hosts failed: the network is closed)")
        if self.pending:
            lines += ["never answered (sent at):", *(f"  {r}" for r in self.pending.values())]
        return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    traffic = getattr(item, "browser_traffic", None)
    if traffic is not None and report.failed:
        report.sections.append((f"browser traffic ({report.when})", traffic.report()))
    return report


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", viewport={"width": 1440, "height": 900})
    context.set_default_timeout(BUDGET_MS)
    context.add_init_script(STEADY_POPUPS)
    context.add_init_script(LOST_CLICKS)
    page = context.new_page()
    request.node.browser_traffic = Traffic(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A crash on the server is a failure even when the page copes with it (502s are WeCom's refusals,
    # which some tests provoke on purpose).
    page.on("response", lambda r: r.status == 500 and errors.append(f"500 from {r.request.method} {r.url}"))
    yield page
    context.close()
    assert not errors, f"uncaught JavaScript errors or server crashes: {errors}"


@pytest.fixture
def login(dashboard: Dashboard) -> Callable[..., None]:
    def log_in(page: Page, user, next_path: str = "/") -> None:
        page.goto(dashboard.url + (next_path if next_path == "/" else f"/login?next={next_path}"))
        if "/login" not in page.url:
            page.goto(f"{dashboard.url}/login")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("user-menu")).to_contain_text(user.username)

    return log_in


def shoot(page: Page, name: str) -> None:
    """A screenshot of the whole page for people to look at (var/screenshots/<name>.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def synced(dashboard: Dashboard) -> Dashboard:
    """The dashboard's tenant after a full sync from its sandbox."""
    run = run_sync(dashboard.tenant)
    assert run.status == "succeeded", run.errors
    return dashboard


def records(dashboard: Dashboard, api: str) -> list[dict]:
    """The bodies of the ``externalcontact/<api>`` calls the sandbox accepted."""
    return [
        r["body"] for r in sandbox_control(dashboard.sandbox, f"records/externalcontact/{api}")["records"]
    ]
