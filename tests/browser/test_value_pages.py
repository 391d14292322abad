"""Customer value (客户价值) in the dashboard: an admin finds the page empty before the first computation,
opens its settings, creates a profile field (a second one with the same key is refused on the key
field), a membership level and a points rule, and sets a new silent threshold; an operator sees the
tiers overview with each tier's count and share, what each tier means, this week's moves and the
breakdowns by channel and member, starts a recomputation and opens a tier's customers.

The figures are set up as ``ContactValue`` rows (and one ``tier_changed`` event) in the test, so what
the page must show is known here and not derived from the scoring pass. Every write goes through
``expect_response``, so a failure names the request that went wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.utils import timezone
from playwright.sync_api import Page, expect

from contacts.models import ContactEvent, EventCursor, EventType
from contacts.services.events import event_build, events_record
from scrm.tenancy.context import tenant_context
from tests.browser.conftest import shoot
from tests.contacts.builders import Builder
from value.models import ContactValue, Level, PointsRule, ProfileField, ValueSettings
from value.services.scoring import CURSOR

API = "/api/v1"


def answer(page: Page, method: str, path: str):
    """Waits for the API's answer to ``method path`` (the path without query)."""
    return page.expect_response(lambda r: r.request.method == method and r.url.split("?")[0].endswith(path))


def pick(page: Page, select, option: str) -> None:
    """Open an Ant Design select and click one of its options."""
    select.click()
    page.locator(".ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option").filter(
        has_text=re.compile(rf"^{re.escape(option)}$")
    ).click()


def test_admin_creates_a_field_a_level_and_a_rule_and_moves_the_silent_threshold(
    dashboard, page: Page, login
):
    login(page, dashboard.admin)
    with answer(page, "GET", f"{API}/value/tiers/") as tiers:
        page.locator(".ant-menu").get_by_role("link", name="Customer value").click()
    assert tiers.value.status == 200, tiers.value.text()
    expect(page).to_have_url(re.compile(r"/value$"))
    # Nothing computed yet: the page says so and how it will happen.
    expect(page.get_by_text("Customer value has not been computed yet")).to_be_visible()
    expect(page.get_by_text(re.compile("computed in the background"))).to_be_visible()
    shoot(page, "value-empty")

    page.get_by_role("button", name="Value settings").click()
    expect(page).to_have_url(re.compile(r"/value/settings$"))
    expect(page.get_by_role("tab", name="Profile fields", selected=True)).to_be_visible()

    # A level.
    page.get_by_role("tab", name="Levels").click()
    expect(page).to_have_url(re.compile(r"/value/settings\?tab=levels$"))
    expect(page.get_by_text("No levels yet")).to_be_visible()
    page.get_by_role("button", name="New level").click()
    dialog = page.get_by_role("dialog", name="New level")
    dialog.get_by_label("Name", exact=True).fill("Gold")
    dialog.get_by_label("Minimum points", exact=True).fill("1000")
    pick(page, dialog.get_by_label("Color", exact=True), "Gold")
    with answer(page, "POST", f"{API}/levels/") as created:
        dialog.get_by_role("button", name="Save").click()
    assert created.value.status == 201, created.value.text()
    expect(page.get_by_text("Level “Gold” saved")).to_be_visible()
    expect(page.get_by_role("table").get_by_role("row").filter(has_text="Gold")).to_contain_text("1,000")
    with tenant_context(dashboard.tenant):
        level = Level.objects.get()
    assert (level.name, level.min_points) == ("Gold", 1000)
    assert level.color

    # Spending earns 2 points per yuan.
    page.get_by_role("tab", name="Points rules").click()
    purchase = page.get_by_role("row").filter(has_text="Spending (per 1 yuan)")
    expect(purchase).to_contain_text("Not set")
    purchase.get_by_role("button", name="Set Spending (per 1 yuan)").click()
    dialog = page.get_by_role("dialog", name="Points rule: Spending (per 1 yuan)")
    dialog.get_by_label("Points per yuan", exact=True).fill("2")
    with answer(page, "POST", f"{API}/points/rules/") as created:
        dialog.get_by_role("button", name="Save").click()
    assert created.value.status == 201, created.value.text()
    expect(purchase).to_contain_text("2")
    expect(purchase).to_contain_text("Active")
    with tenant_context(dashboard.tenant):
        rule = PointsRule.objects.get()
    assert (rule.action, rule.points, rule.is_active) == ("purchase", 2, True)

    # The silent threshold: saving says that every customer is recomputed.
    page.get_by_role("tab", name="Thresholds").click()
    expect(page.get_by_test_id("recompute-note")).to_contain_text("recomputes every customer")
    silent = page.get_by_label("Silent after", exact=True)
    expect(silent).to_have_value("30")
    silent.fill("45")
    with answer(page, "PATCH", f"{API}/value/settings/") as saved:
        page.get_by_role("button", name="Save").click()
    assert saved.value.status == 200, saved.value.text()
    expect(page.get_by_text("Saved: recomputing the customers' tiers")).to_be_visible()
    with tenant_context(dashboard.tenant):
        assert ValueSettings.objects.get().silent_days == 45
    shoot(page, "value-settings-thresholds")

    # A single-choice field; its key follows the Latin label.
    page.get_by_role("tab", name="Profile fields").click()
    expect(page).to_have_url(re.compile(r"/value/settings$"))
    expect(page.get_by_text("No profile fields yet")).to_be_visible()
    page.get_by_role("button", name="New field").click()
    dialog = page.get_by_role("dialog", name="New field")
    dialog.get_by_label("Label", exact=True).fill("Skin type")
    expect(dialog.get_by_label("Key", exact=True)).to_have_value("skin_type")
    pick(page, dialog.get_by_label("Kind", exact=True), "Single choice")
    choices = dialog.get_by_label("Choices", exact=True)
    for choice in ("oily", "dry"):
        choices.fill(choice)
        choices.press("Enter")
    with answer(page, "POST", f"{API}/profile-fields/") as created:
        dialog.get_by_role("button", name="Save").click()
    assert created.value.status == 201, created.value.text()
    expect(page.get_by_text("Field “Skin type” created")).to_be_visible()
    expect(dialog).to_be_hidden()
    table = page.get_by_role("table")
    expect(table.get_by_role("row").filter(has_text="skin_type")).to_contain_text("Single choice")
    with tenant_context(dashboard.tenant):
        field = ProfileField.objects.get()
    assert (field.key, field.label, field.kind, field.choices) == (
        "skin_type",
        "Skin type",
        "choice",
        ["oily", "dry"],
    )

    # The same key again: the API refuses it (409 key_taken), and the dialog says why.
    page.get_by_role("button", name="New field").click()
    dialog = page.get_by_role("dialog", name="New field")
    dialog.get_by_label("Label", exact=True).fill("Skin type")
    with answer(page, "POST", f"{API}/profile-fields/") as refused:
        dialog.get_by_role("button", name="Save").click()
    assert refused.value.status == 409, refused.value.text()
    expect(dialog.get_by_text("A profile field with the key 'skin_type' exists")).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    with tenant_context(dashboard.tenant):
        assert ProfileField.objects.count() == 1

    # Back to the overview.
    page.locator(".ant-menu").get_by_role("link", name="Customer value").click()
    expect(page).to_have_url(re.compile(r"/value$"))


def _set_up_values(tenant) -> None:
    """Seven customers of one member: 1 new, 2 active, 3 silent (one of them active until today), 1 high
    value; as a scoring pass would have left them."""
    build = Builder(tenant)
    now = timezone.now()
    member = build.staff("value-mei", "Mei Value")
    tiers = ["new", "active", "active", "silent", "silent", "silent", "high_value"]
    contacts = [build.contact(f"Value {i}", staff=member) for i in range(len(tiers))]
    with tenant_context(tenant):
        ContactValue.objects.bulk_create(
            ContactValue(
                contact=contact,
                tier=tier,
                staff=member,
                tier_since=now - dt.timedelta(days=1),
                computed_at=now,
                score={"new": 60, "active": 50, "silent": 10, "high_value": 90}[tier],
                ltv=Decimal("3200.00") if tier == "high_value" else Decimal("0"),
                orders=2 if tier == "high_value" else 0,
                last_purchase_at=now - dt.timedelta(days=3) if tier == "high_value" else None,
                first_purchase_at=now - dt.timedelta(days=40) if tier == "high_value" else None,
            )
            for contact, tier in zip(contacts, tiers, strict=True)
        )
        events_record(
            [
                event_build(
                    contact_id=contacts[3].pk,
                    type=EventType.TIER_CHANGED,
                    occurred_at=now - dt.timedelta(hours=2),
                    payload={"from": "active", "to": "silent"},
                )
            ]
        )
        # What a pass leaves behind: how far it read (the page's "computed at").
        EventCursor.objects.create(
            consumer=CURSOR, position=ContactEvent.objects.order_by("-id").values_list("id", flat=True)[0]
        )


def test_an_operator_sees_the_tiers_overview(dashboard, page: Page, login, operator):
    _set_up_values(dashboard.tenant)
    login(page, operator)
    with (
        answer(page, "GET", f"{API}/value/tiers/") as tiers,
        answer(page, "GET", f"{API}/value/breakdown/") as breakdown,
    ):
        page.locator(".ant-menu").get_by_role("link", name="Customer value").click()
    assert tiers.value.status == 200, tiers.value.text()
    assert breakdown.value.status == 200, breakdown.value.text()
    expect(page.get_by_role("heading", level=3, name="Customer value")).to_be_visible()
    expect(page.get_by_test_id("computed-at")).to_be_visible()

    expected = {"new": 1, "active": 2, "silent": 3, "high_value": 1, "lost": 0}
    for tier, n in expected.items():
        expect(page.get_by_test_id(f"tier-{tier}-count")).to_have_text(str(n))
    silent = page.get_by_test_id("tier-silent")
    expect(silent).to_contain_text("42.9% of all")  # 3 of 7
    expect(silent).to_contain_text("No interaction for 30 days or more")
    expect(page.get_by_test_id("tier-high_value")).to_contain_text("CN¥2,000.00 or more")
    # (10 + 50 + 50 + 10 + 10 + 10 + 90 + 60) / 7 = 40.0
    expect(page.locator(".ant-statistic").filter(has_text="Average score")).to_contain_text("40.0")

    moves = page.get_by_role("table", name="Moves this week")
    expect(moves.get_by_role("row").filter(has_text="Active")).to_contain_text("Silent")
    expect(moves.get_by_role("row").filter(has_text="Active")).to_contain_text("1")

    by_channel = page.get_by_role("table", name="By channel")
    expect(by_channel.get_by_role("row").filter(has_text="Not through a channel code")).to_contain_text("7")
    with answer(page, "GET", f"{API}/value/breakdown/") as by_member:
        page.get_by_role("tab", name="By member").click()
    assert by_member.value.status == 200, by_member.value.text()
    expect(page).to_have_url(re.compile(r"/value\?by=staff$"))
    expect(
        page.get_by_role("table", name="By member").get_by_role("row").filter(has_text="Mei Value")
    ).to_contain_text("7")
    # Operators do not change the settings.
    expect(page.get_by_role("button", name="Value settings")).to_have_count(0)
    shoot(page, "value-overview")

    # Recomputing is queued (in the tests' eager worker it runs at once).
    with answer(page, "POST", f"{API}/value/recompute/") as queued:
        page.get_by_role("button", name="Recompute now").click()
    assert queued.value.status == 202, queued.value.text()
    expect(page.get_by_text("Recomputing: the figures refresh in a moment")).to_be_visible()

    # A tier opens the customers list filtered by it.
    page.get_by_test_id("tier-silent").click()
    expect(page).to_have_url(re.compile(r"/customers\?tier=silent$"))
