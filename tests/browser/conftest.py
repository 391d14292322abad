"""Browser tests: the built dashboard (frontend/dist) in Debian's headless Chromium, via Playwright.

``dashboard`` is a live server (the real Django app, serving the built files) with tenant A
connected to an in-process sandbox whose callbacks reach that server; alice is its admin and bob a
sales member mapped to a real salesperson of the sandbox corp. ``page`` is a fresh browser context
in English; an uncaught JavaScript error or a server 500 on it fails the test. ``login(page, user)``
logs in through the form; ``shoot(page, name)`` saves a screenshot under var/screenshots/ (not
committed).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

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


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", viewport={"width": 1440, "height": 900})
    context.set_default_timeout(BUDGET_MS)
    page = context.new_page()
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
