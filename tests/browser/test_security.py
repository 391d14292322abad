"""The Content-Security-Policy as a browser applies it: the dashboard and /api/docs/ work under it.

Chromium reports every blocked script, style, image or connection as a ``securitypolicyviolation``
event (and a console error); a page that needed something the policy forbids would break quietly.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Dashboard

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const what = e.blockedURI || "inline";
  window.__cspViolations.push(`${e.violatedDirective} blocked ${what} on ${e.documentURI}`);
});
"""


@pytest.fixture
def violations(page: Page) -> list[str]:
    """Every CSP violation the page meets, from the events of each document and the console."""
    seen: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and "Content Security Policy" in message.text
            and seen.append(message.text)
        ),
    )
    return seen


def collect(page: Page, seen: list[str]) -> list[str]:
    return seen + page.evaluate("window.__cspViolations || []")


def test_the_dashboard_works_under_the_policy(dashboard: Dashboard, page, login, synced, violations):
    login(page, dashboard.admin)
    response = page.goto(f"{dashboard.url}/customers")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_role("table")).to_be_visible()
    found: list[str] = []
    for path in ("/", "/customers", "/groups", "/settings/members", "/settings/wecom", "/tags"):
        page.goto(f"{dashboard.url}{path}")
        expect(page.get_by_test_id("user-menu")).to_be_visible()
        page.wait_for_load_state("networkidle")
        found += collect(page, [])
    assert not found + violations, found + violations


def test_the_api_docs_work_under_the_policy(dashboard: Dashboard, page, violations):
    response = page.goto(f"{dashboard.url}/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Swagger UI started (its script came from a file) and rendered the schema's operations.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Siyu SCRM API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert not collect(page, violations)
