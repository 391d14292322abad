"""The Overview page, the Lost customers page and the notification bell, in the built dashboard.

The admin syncs a never-synced tenant from the Overview and watches the run finish; a customer then
deletes a salesperson in the sandbox (WeCom's del_follow_user callback reaches the live server), the
bell shows the churn alert and the Lost page lists the customer; a sales member sees the Overview
without "Sync now".
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from contacts.models import Contact, ContactStatus, Follow, FollowStatus, Staff, SyncRun
from contacts.selectors import contacts_visible
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Membership
from scrm.tenancy.principal import principal_for_membership
from tests.browser.conftest import shoot
from tests.contacts.builders import run_sync
from tests.helpers import sandbox_control

SYNC_TIMEOUT = 60_000


def test_admin_syncs_an_unsynced_tenant_from_the_overview(dashboard, page, login):
    # Slow WeCom's customer pages down a little, so the run is seen while it runs.
    sandbox_control(
        dashboard.sandbox, "faults", {"apis": {"externalcontact/batch/get_by_user": {"latency_ms": 1000}}}
    )
    login(page, dashboard.admin)
    expect(page.get_by_role("heading", name="Overview", level=3)).to_be_visible()
    expect(page.get_by_text("Nothing has been synced from WeCom yet")).to_be_visible()
    sync_now = page.get_by_role("button", name="Sync now")
    expect(sync_now).to_be_visible()

    sync_now.click()
    card = page.get_by_test_id("sync-card")
    expect(card.get_by_test_id("sync-status")).to_have_text(re.compile("Queued|Running"))
    expect(card.get_by_role("progressbar")).to_be_visible()
    expect(card.get_by_test_id("sync-status")).to_have_text("Succeeded", timeout=SYNC_TIMEOUT)
    expect(card.get_by_role("progressbar")).to_have_count(0)

    with tenant_context(dashboard.tenant):
        run = SyncRun.objects.get()
        active = Contact.objects.filter(status=ContactStatus.ACTIVE).count()
        staff = Staff.objects.filter(is_active=True).count()
    assert run.status == "succeeded"
    assert active > 0
    expect(card.get_by_test_id("sync-created")).to_have_text(str(run.created))
    expect(card).to_contain_text(re.compile(rf"API calls\s*{run.api_calls}"))
    # The numbers were refreshed when the run finished: the headline count is the database's.
    expect(page.get_by_test_id("stat-customers")).to_contain_text(f"{active:,}")
    expect(page.get_by_test_id("stat-staff")).to_contain_text(f"Staff{staff:,}")
    expect(
        page.get_by_role("img", name="New and lost customers per day over the last 30 days")
    ).to_be_visible()
    expect(page.get_by_text("Nothing has been synced from WeCom yet")).to_have_count(0)
    shoot(page, "overview")


def test_a_churned_customer_rings_the_bell_and_is_listed_as_lost(dashboard, page, login):
    run_sync(dashboard.tenant)
    with tenant_context(dashboard.tenant):
        follow = (
            Follow.objects.filter(status=FollowStatus.ACTIVE)
            .exclude(contact__name="")
            .select_related("contact", "staff")
            .order_by("id")
            .first()
        )
    customer, staff = follow.contact, follow.staff
    login(page, dashboard.admin)
    bell = page.get_by_role("button", name="Notifications", exact=True)
    expect(bell).to_be_visible()

    answer = sandbox_control(
        dashboard.sandbox,
        "simulate/customer-delete",
        {"userid": staff.userid, "external_userid": customer.external_userid},
    )
    assert answer["callback"]["delivered"], answer
    with tenant_context(dashboard.tenant):
        follow.refresh_from_db()
    assert follow.status == FollowStatus.DELETED_BY_CUSTOMER

    page.reload()  # the bell polls every 30 s; a reload asks at once
    bell = page.get_by_role("button", name="Notifications (1 unread)")
    expect(bell).to_be_visible()
    bell.click()
    alerts = page.get_by_role("list", name="Notifications")
    alert = alerts.get_by_test_id("notification")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text(f"{customer.name} deleted {staff.name}")
    expect(alert).to_have_attribute("data-unread", "true")
    shoot(page, "notifications")

    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_role("button", name="Notifications", exact=True)).to_be_visible()
    expect(alert).to_have_attribute("data-unread", "false")
    page.keyboard.press("Escape")

    page.locator(".ant-menu").get_by_role("link", name="Lost customers").click()
    expect(page.get_by_role("heading", name="Lost customers", level=3)).to_be_visible()
    row = page.get_by_role("row").filter(has_text=customer.name)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(staff.name)
    shoot(page, "lost")

    # Filtering by another staff member (kept in the URL) empties the list; going back restores it.
    other = page.get_by_role("combobox", name="Staff member deleted")
    other.click()
    with tenant_context(dashboard.tenant):
        someone_else = (
            Follow.objects.exclude(staff=staff).select_related("staff").order_by("staff__name").first().staff
        )
    other.fill(someone_else.name)
    page.locator(".ant-select-item-option").filter(has_text=someone_else.name).click()
    expect(page).to_have_url(re.compile(rf"staff={re.escape(someone_else.userid)}"))
    expect(page.get_by_text("No lost customers match these filters")).to_be_visible()
    page.go_back()
    expect(page.get_by_role("row").filter(has_text=customer.name)).to_have_count(1)

    row.get_by_role("link", name=f"Open customer {customer.name}").click()
    expect(page).to_have_url(re.compile(rf"/customers\?contact={customer.pk}$"))

    # The alert links to its customer too.
    page.goto(dashboard.url + "/customers/lost")
    page.get_by_role("button", name="Notifications", exact=True).click()
    page.get_by_role("list", name="Notifications").get_by_role(
        "link", name=f"{customer.name} deleted {staff.name}"
    ).click()
    expect(page).to_have_url(re.compile(rf"/customers\?contact={customer.pk}$"))


def test_a_sales_member_sees_the_overview_without_sync_now(dashboard, page, login):
    run_sync(dashboard.tenant)
    with tenant_context(dashboard.tenant):
        membership = Membership.objects.get(user=dashboard.sales)
        mine = (
            contacts_visible(principal_for_membership(membership)).filter(status=ContactStatus.ACTIVE).count()
        )
        everyone = Contact.objects.filter(status=ContactStatus.ACTIVE).count()
    assert 0 < mine < everyone

    login(page, dashboard.sales)
    expect(page.get_by_role("heading", name="Overview", level=3)).to_be_visible()
    expect(page.get_by_test_id("stat-customers")).to_contain_text(f"My customers{mine:,}")
    expect(page.get_by_test_id("sync-status")).to_have_text("Succeeded")
    expect(page.get_by_role("button", name="Sync now")).to_have_count(0)
