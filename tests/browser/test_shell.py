"""The dashboard shell: logging in and out, going back where you were, role-aware navigation."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import shoot
from tests.helpers import PASSWORD


def test_login_then_logout(dashboard, page, login):
    page.goto(dashboard.url + "/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    shoot(page, "login")

    login(page, dashboard.admin)
    expect(page.get_by_role("navigation").or_(page.locator(".ant-menu"))).to_contain_text("Settings")

    page.get_by_test_id("user-menu").focus()
    page.keyboard.press("Enter")  # the account menu opens from the keyboard too
    page.get_by_role("menuitem", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto(dashboard.url + "/customers")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fcustomers$"))


def test_login_returns_to_the_page_asked_for(dashboard, page, login):
    page.goto(dashboard.url + "/customers?status=lost")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Username").fill(dashboard.admin.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/customers\?status=lost$"))


def test_sales_sees_only_what_it_can_use(dashboard, page, login):
    login(page, dashboard.sales)
    menu = page.locator(".ant-menu")
    expect(menu).to_contain_text("My customers")
    for hidden in ("Tags", "Staff", "Settings"):
        expect(menu.get_by_text(hidden, exact=True)).to_have_count(0)
    page.goto(dashboard.url + "/settings")
    expect(page.get_by_text("You do not have access to this page")).to_be_visible()


def test_an_expired_session_goes_back_to_login_and_returns(dashboard, page, login):
    login(page, dashboard.admin)
    page.goto(dashboard.url + "/tags")
    expect(page.get_by_role("heading", name="Tags", level=3)).to_be_visible()
    page.context.clear_cookies()  # the session ends (expired, or logged out in another tab)
    page.locator(".ant-menu").get_by_text("Staff", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fstaff$"))
    page.get_by_label("Username").fill(dashboard.admin.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/staff$"))


def test_a_member_of_two_tenants_switches_between_them(dashboard, page, login, tenant_b):
    from scrm.tenancy import services
    from scrm.tenancy.models import Role

    services.membership_add(tenant=tenant_b, user=dashboard.admin, role=Role.SALES, wecom_userid="alice")
    login(page, dashboard.admin)
    switcher = page.get_by_label("Tenant")
    expect(page.locator(".ant-menu")).to_contain_text("Settings")
    switcher.click()
    page.get_by_title("Tenant B").click()
    # In tenant B alice is a salesperson: the navigation follows the role of the active tenant.
    expect(page.get_by_test_id("user-menu")).to_contain_text("Sales")
    expect(page.locator(".ant-menu")).to_contain_text("My customers")
    expect(page.locator(".ant-menu").get_by_text("Settings", exact=True)).to_have_count(0)
    page.reload()
    expect(page.get_by_test_id("user-menu")).to_contain_text("Sales")


def test_a_page_that_cannot_load_offers_a_reload(dashboard, page, login):
    """After a release, a tab on the old build asks for page chunks that no longer exist."""
    login(page, dashboard.admin)
    page.route("**/assets/TagsPage-*.js", lambda route: route.fulfill(status=404, body="gone"))
    page.locator(".ant-menu").get_by_text("Tags", exact=True).click()
    expect(page.get_by_text("The dashboard has been updated: reload the page")).to_be_visible()
    # The shell stays usable around the failed page.
    expect(page.locator(".ant-menu")).to_contain_text("Overview")
    page.unroute("**/assets/TagsPage-*.js")
    page.get_by_role("button", name="Reload").click()
    expect(page.get_by_role("heading", name="Tags", level=3)).to_be_visible()
