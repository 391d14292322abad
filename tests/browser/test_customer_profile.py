"""The customer page (客户画像) and the value columns and filters of the customers list.

An operator opens a customer from the list's drawer ("Open profile"), sees their tier and the reason
for it, edits a profile field and sees it saved, grants points and sees the balance and level change,
and is refused a redemption beyond the balance with a clear message. Then the list is filtered by
tier, in the URL, with the tier column showing it.

The customers, their events, a profile field and a level are made here; the figures are computed by
the real scoring pass (``value_recompute_full``), so the page shows what the pass and the API make of
them. Every request that matters goes through ``expect_response``, so a failure names the request that
went wrong. Times are relative to now (whole days before it), so the test holds at any clock.
"""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from playwright.sync_api import Page, expect

from contacts.models import Contact, EventType
from contacts.services.events import event_build, events_record
from scrm.tenancy.context import tenant_context
from tests.browser.conftest import shoot
from tests.contacts.builders import Builder
from value.models import Level, PointsAccount, ProfileField
from value.services.scoring import value_recompute_full

API = "/api/v1"


def answer(page: Page, method: str, path: str | re.Pattern):
    """Waits for the API's answer to ``method path`` (the path without its query)."""

    def matches(response) -> bool:
        if response.request.method != method:
            return False
        url = response.url.split("?")[0]
        return bool(path.search(url)) if isinstance(path, re.Pattern) else url.endswith(path)

    return page.expect_response(matches)


def pick(page: Page, select, option: str) -> None:
    """Open an Ant Design select and click one of its options."""
    select.click()
    page.locator(".ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option").filter(
        has_text=re.compile(rf"^{re.escape(option)}$")
    ).click()


def customers(tenant) -> tuple[Contact, Contact]:
    """Lin Mei, added 41 days ago and silent since (her add was her last interaction), and Zhao
    Lei, added 60 days ago and active (he liked a Moment 2 days ago); their figures computed."""
    now = timezone.now()

    def ago(days: int) -> dt.datetime:
        return now - dt.timedelta(days=days)

    build = Builder(tenant)
    staff = build.staff("wangfang", "Wang Fang")
    silent = build.contact("Lin Mei", staff=staff, added_at=ago(41))
    active = build.contact("Zhao Lei", staff=staff, added_at=ago(60))

    with tenant_context(tenant):
        events_record(
            [
                event_build(contact_id=silent.pk, type=EventType.ADDED, occurred_at=ago(41)),
                event_build(contact_id=active.pk, type=EventType.ADDED, occurred_at=ago(60)),
                event_build(contact_id=active.pk, type=EventType.MOMENT_LIKED, occurred_at=ago(2)),
            ]
        )
    # The pass reads events older than its 30-second lag: "now" for it is a minute on.
    value_recompute_full(tenant=tenant, now=now + dt.timedelta(minutes=1))
    return silent, active


def test_operator_edits_the_profile_sees_the_tier_and_why_and_grants_points(dashboard, operator, page, login):
    tenant = dashboard.tenant
    silent, _active = customers(tenant)
    with tenant_context(tenant):
        ProfileField.objects.create(key="city", label="City", kind="text", order=1)
        ProfileField.objects.create(
            key="skin", label="Skin type", kind="choice", choices=["oily", "dry"], order=2
        )
        Level.objects.create(name="Silver", min_points=100, color="blue")
        Level.objects.create(name="Gold", min_points=1000, color="gold")

    login(page, operator, f"/customers?contact={silent.pk}")
    drawer = page.get_by_role("dialog")
    expect(drawer).to_contain_text("Lin Mei")
    with answer(page, "GET", f"{API}/contacts/{silent.pk}/value/") as value:
        drawer.get_by_role("link", name="Open profile").click()
    assert value.value.status == 200, value.value.text()
    expect(page).to_have_url(re.compile(rf"/customers/{silent.pk}$"))
    expect(page.get_by_test_id("customer-name")).to_have_text("Lin Mei")

    # The tier, in the header and with the reason, built from the explanation's codes.
    expect(page.get_by_test_id("header-tier")).to_have_text("Silent")
    expect(page.get_by_test_id("tier-reason")).to_have_text(
        re.compile(r"^Silent: no interaction for 41 days; last: added a member on \d\d-\d\d$")
    )
    # No orders: the value card says so rather than showing zeros.
    expect(page.get_by_test_id("value-card")).to_contain_text("No orders yet")
    expect(page.get_by_test_id("orders-card")).to_contain_text("No orders yet")
    expect(page.get_by_test_id("points-balance")).to_contain_text("0")
    expect(page.get_by_test_id("points-ledger")).to_contain_text("No points yet")

    # A profile field, edited and saved; the page and the database have it after a reload.
    form = page.get_by_test_id("profile-fields")
    form.get_by_label("City", exact=True).fill("上海")
    pick(page, form.get_by_label("Skin type", exact=True), "oily")
    with answer(page, "PATCH", f"{API}/contacts/{silent.pk}/profile/") as saved:
        form.get_by_role("button", name="Save profile").click()
    assert saved.value.status == 200, saved.value.text()
    assert saved.value.json()["profile"] == {"city": "上海", "skin": "oily"}
    expect(page.get_by_text("Profile saved")).to_be_visible()
    with tenant_context(tenant):
        assert Contact.objects.get(pk=silent.pk).profile == {"city": "上海", "skin": "oily"}
    page.reload()
    expect(page.get_by_test_id("profile-fields").get_by_label("City", exact=True)).to_have_value("上海")
    # The change is on the timeline.
    expect(page.get_by_test_id("profile-timeline")).to_contain_text("Profile changed")

    # Points: a grant changes the balance and reaches the first level.
    points = page.get_by_test_id("points-card")
    points.get_by_role("button", name="Grant points").click()
    dialog = page.get_by_role("dialog", name="Grant points")
    dialog.get_by_label("Points", exact=True).fill("150")
    dialog.get_by_label("Note", exact=True).fill("Spring campaign")
    with answer(page, "POST", f"{API}/points/grant/") as granted:
        dialog.get_by_role("button", name="Grant points").click()
    assert granted.value.status == 201, granted.value.text()
    assert granted.value.request.header_value("Idempotency-Key")
    expect(page.get_by_text("150 points granted; balance 150")).to_be_visible()
    expect(dialog).to_be_hidden()
    expect(points.get_by_test_id("points-balance")).to_contain_text("150")
    expect(points.get_by_test_id("points-level")).to_have_text("Silver")
    expect(points).to_contain_text("850 more points to Gold")
    expect(points.get_by_test_id("points-ledger")).to_contain_text("Spring campaign")
    expect(points.get_by_test_id("points-delta").first).to_have_text("+150")

    # Redeeming more than the balance is refused, and the form says why.
    points.get_by_role("button", name="Redeem points").click()
    dialog = page.get_by_role("dialog", name="Redeem points")
    dialog.get_by_label("Points", exact=True).fill("500")
    with answer(page, "POST", f"{API}/points/redeem/") as refused:
        dialog.get_by_role("button", name="Redeem points").click()
    assert refused.value.status == 409, refused.value.text()
    assert refused.value.json()["type"] == "insufficient_points"
    refusal = "Not enough points: the balance is 150, so 500 cannot be redeemed"
    expect(dialog.get_by_text(refusal)).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    shoot(page, "customer-profile")
    with tenant_context(tenant):
        assert PointsAccount.objects.get(contact=silent).balance == 150


def test_filtering_the_list_by_tier(dashboard, operator, page, login):
    _silent, active = customers(dashboard.tenant)
    login(page, operator, "/customers")
    expect(page.get_by_role("button", name="Open customer Zhao Lei")).to_be_visible()
    rows = page.get_by_role("button", name=re.compile(r"^Open customer "))
    expect(rows).to_have_count(2)

    page.get_by_role("button", name="Value and profile").click()
    with answer(page, "GET", f"{API}/contacts/") as listed:
        pick(page, page.get_by_label("Tier", exact=True), "Silent")
    assert listed.value.status == 200, listed.value.text()
    assert "tier=silent" in listed.value.url
    expect(page).to_have_url(re.compile(r"[?&]tier=silent(&|$)"))
    expect(rows).to_have_count(1)
    expect(page.get_by_role("button", name="Open customer Lin Mei")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("button", name="Open customer Lin Mei"))
    expect(row.get_by_test_id("row-tier")).to_have_text("Silent")

    # The URL is the view: a reload keeps the filter (and opens its panel).
    page.reload()
    expect(page.get_by_test_id("value-filters")).to_be_visible()
    expect(rows).to_have_count(1)

    # And the active customer under the other tier.
    with answer(page, "GET", f"{API}/contacts/") as listed:
        pick(page, page.get_by_label("Tier", exact=True), "Active")
    assert listed.value.status == 200, listed.value.text()
    expect(rows).to_have_count(1)
    expect(page.get_by_role("button", name=f"Open customer {active.name}")).to_be_visible()
