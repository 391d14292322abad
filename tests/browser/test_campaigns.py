"""Mass messages (群发) in the dashboard: the wizard from a saved segment to "Send now" (live count,
content with the phone preview, the plan's sentence and skipped reasons), then the results page as a
member confirms in WeCom (the sandbox's ``simulate/staff-confirm-msg``); the settings and the
do-not-disturb list; a sales member's read-only view of their own task.

What the pages must show is worked out here from the synced follows (who has the tag, who sends to
whom by the "first member who added them" rule), not through the planning code.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from campaigns.models import Campaign, CampaignSettings, CampaignTask, DoNotDisturb
from contacts.models import Contact, ContactStatus, Follow, FollowStatus, Segment, Tag
from library.models import Material
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Membership
from tests.browser.conftest import records, shoot
from tests.helpers import sandbox_control

# Sending makes every member's WeCom task in the sandbox before the page moves on.
WRITE = 20_000


def active_option(page: Page):
    """The highlighted option of the open select dropdown (closed ones stay in the page, hidden)."""
    return page.locator(
        ".ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option-active"
    )


def type_and_pick(page: Page, picker, text: str) -> None:
    """Type into a searchable select and take the highlighted match (keyboard only)."""
    picker.click()
    picker.fill(text)
    expect(active_option(page)).to_contain_text(text)
    picker.press("Enter")
    picker.press("Escape")


def plan_by_hand(tenant, tag: Tag, dnd: set[int]) -> dict:
    """The audience of ``tags_any=<tag>`` (active customers whose active follows carry it) and each
    customer's sender: among active follows of active members with the customer-contact permission,
    the one added first (the default sender rule)."""
    with tenant_context(tenant):
        follows = list(
            Follow.objects.filter(contact__status=ContactStatus.ACTIVE, status=FollowStatus.ACTIVE)
            .select_related("staff")
            .order_by("added_at", "id")
        )
    tags: dict[int, set[str]] = defaultdict(set)
    sender: dict[int, object] = {}
    for follow in follows:
        tags[follow.contact_id] |= set(follow.tag_ids or ())
        if follow.staff.is_active and follow.staff.has_contact_permission:
            sender.setdefault(follow.contact_id, follow.staff)
    audience = sorted(cid for cid, held in tags.items() if tag.wecom_id in held)
    no_sender = [cid for cid in audience if cid not in dnd and cid not in sender]
    receivers = [cid for cid in audience if cid not in dnd and cid in sender]
    per_member: dict[str, int] = defaultdict(int)
    for cid in receivers:
        per_member[sender[cid].userid] += 1
    return {
        "audience": audience,
        "receivers": receivers,
        "no_sender": no_sender,
        "per_member": dict(per_member),
    }


def pick_tag(tenant, dnd_count: int = 1) -> tuple[Tag, dict]:
    """A tag several members' customers carry (5 to 60 of them), so the plan has a few members."""
    with tenant_context(tenant):
        tags = list(Tag.objects.filter(deleted=False).order_by("id"))
    for tag in tags:
        plan = plan_by_hand(tenant, tag, set())
        if 5 <= len(plan["audience"]) <= 60 and len(plan["per_member"]) >= 2:
            return tag, plan
    raise AssertionError("the sandbox corp has no tag with 5 to 60 customers followed by several members")


def sentence(total: int, receivers: int, members: int, dnd: int, no_sender: int) -> str:
    """The preview's sentence as the page words it in English."""
    member_word = "member" if members == 1 else "members"
    parts = [f"{receivers:,} of {total:,} customers will receive it from {members:,} {member_word}"]
    if dnd:
        parts.append(f"{dnd:,} {'is' if dnd == 1 else 'are'} on do-not-disturb")
    if no_sender:
        parts.append(f"{no_sender:,} {'has' if no_sender == 1 else 'have'} no member who can send it")
    return "; ".join(parts) + "."


def test_admin_sends_a_mass_message_to_a_segment_and_follows_a_member_confirming(synced, page, login):
    dashboard = synced
    tenant = dashboard.tenant
    tag, plan = pick_tag(tenant)
    # One customer of the audience asked not to be disturbed: the plan leaves them out and says so.
    quiet = plan["receivers"][0]
    with tenant_context(tenant):
        Segment.objects.create(name="Spring VIPs", filters={"tags_any": str(tag.pk)})
        DoNotDisturb.objects.create(contact_id=quiet, reason="asked")
        Material.objects.create(
            kind="link",
            title="Spring offer",
            url="https://shop.example.cn/spring",
            description="20% off all week",
        )
        quiet_name = Contact.objects.get(pk=quiet).name
    plan = plan_by_hand(tenant, tag, {quiet})
    total, receivers = len(plan["audience"]), len(plan["receivers"])
    members = len(plan["per_member"])

    login(page, dashboard.admin)
    page.locator(".ant-menu").get_by_role("link", name="Mass messages").click()
    expect(page.get_by_role("heading", name="Mass messages", level=3)).to_be_visible()
    expect(page.get_by_test_id("empty")).to_contain_text("No mass messages yet")
    page.get_by_test_id("empty").get_by_role("button", name="New mass message").click()

    # Step 1: the audience, with the live count of the segment.
    expect(page.get_by_role("heading", name="New mass message", level=3)).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Spring VIP follow-up")
    page.get_by_role("radio", name="A saved segment").check()
    type_and_pick(page, page.get_by_label("Segment", exact=True), "Spring VIPs")
    count = page.get_by_test_id("live-count")
    expect(count).to_contain_text(f"Customers matching{total:,}")
    expect(count).to_contain_text(f"Will receive it{receivers:,}")
    shoot(page, "campaign-audience")

    # Step 2: the text, counted in bytes, in the phone preview.
    page.get_by_role("button", name="Next: Content").click()
    text = "Spring sale: 20% off this week. 春季特惠"
    # A name placeholder is flagged here, and refused by the API when sending (below).
    page.get_by_label("Text", exact=True).fill("Hi {customer_name}! " + text)
    expect(page.get_by_test_id("placeholder-warning")).to_contain_text("{customer_name}")
    phone = page.get_by_test_id("phone-preview")
    expect(phone.get_by_test_id("preview-text")).to_have_text("Hi {customer_name}! " + text)
    # A link from the content library, drawn as WeChat's card.
    page.get_by_role("button", name="Add from the library").click()
    picker = page.get_by_role("dialog", name="Pick attachments")
    picker.get_by_role("listitem", name="Pick Spring offer").click()
    picker.get_by_role("button", name="Add", exact=True).click()
    expect(phone.get_by_test_id("preview-link")).to_contain_text("Spring offer")
    expect(phone.get_by_test_id("preview-link")).to_contain_text("20% off all week")
    shoot(page, "campaign-content")

    # Step 3: the truth before sending.
    page.get_by_role("button", name="Next: Preview").click()
    expect(page.get_by_test_id("plan-sentence")).to_have_text(
        sentence(total, receivers, members, dnd=1, no_sender=len(plan["no_sender"]))
    )
    per_member = page.get_by_role("table", name="Per member")
    expect(per_member.locator("tbody tr.ant-table-row")).to_have_count(members)
    skipped = page.get_by_test_id("plan-skipped")
    skipped.get_by_text("On the do-not-disturb list").click()
    expect(skipped.get_by_role("link", name=quiet_name)).to_be_visible()
    shoot(page, "campaign-preview")

    # Step 4: send now (confirmed in a dialog that repeats the sentence).
    page.get_by_role("button", name="Next: Schedule").click()
    # A time is picked in the tenant's zone, named whatever the browser's is.
    page.get_by_role("radio", name="At a set time").check()
    expect(page.get_by_text("Time zone: Asia/Shanghai (UTC+08:00)", exact=True)).to_be_visible()
    expect(page.get_by_test_id("send-button")).to_have_text("Schedule")
    page.get_by_role("radio", name="Send now").check()
    expect(page.get_by_test_id("send-button")).to_have_text("Send now")
    page.get_by_test_id("send-button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"{receivers:,} of {total:,} customers")
    dialog.get_by_role("button", name="Send now").click()

    # The API refuses the placeholder: the wizard goes back to the content step, the message on the
    # text; nothing was created.
    text_field = page.locator(".ant-form-item").filter(has=page.get_by_label("Text", exact=True))
    refusal = text_field.locator(".ant-form-item-explain-error")
    expect(refusal).to_contain_text("would reach customers as written")
    expect(page.get_by_label("Text", exact=True)).to_be_visible()
    with tenant_context(tenant):
        assert not Campaign.objects.exists()
    shoot(page, "campaign-error")
    page.get_by_label("Text", exact=True).fill(text)
    expect(refusal).to_have_count(0)
    expect(page.get_by_test_id("byte-counter")).to_have_text(f"{len(text.encode())} / 4,000 bytes")
    page.get_by_role("button", name="Schedule").last.click()
    page.get_by_test_id("send-button").click()
    page.get_by_role("dialog").get_by_role("button", name="Send now").click()

    # The results page: every member has a task to confirm, nobody has received it yet.
    expect(page.get_by_role("heading", name="Spring VIP follow-up", level=3)).to_be_visible(timeout=WRITE)
    with tenant_context(tenant):
        campaign = Campaign.objects.get(name="Spring VIP follow-up")
        tasks = list(
            CampaignTask.objects.filter(campaign=campaign).select_related("staff").order_by("staff__userid")
        )
    assert {t.staff.userid: t.recipients for t in tasks} == plan["per_member"]
    assert all(t.msgid for t in tasks)
    # Each member's WeCom task has the text and the link.
    made = [b for b in records(dashboard, "add_msg_template") if b["text"]["content"] == text]
    assert len(made) == members
    assert all(b["attachments"][0]["link"]["url"] == "https://shop.example.cn/spring" for b in made)
    expect(page.get_by_test_id("campaign-status")).to_have_text("Sent to members", timeout=WRITE)
    expect(page.get_by_test_id("total-confirmed")).to_contain_text(f"0 / {members}")
    expect(page.get_by_test_id("total-pending")).to_contain_text(f"{receivers:,}")
    rows = page.get_by_role("table", name="Progress per member").locator("tbody tr.ant-table-row")
    expect(rows).to_have_count(len(tasks))
    expect(rows.filter(has_text="Not confirmed")).to_have_count(len(tasks))
    shoot(page, "campaign-results-sent")

    # A member taps "send" in WeCom; the page learns it when the results are refreshed.
    task = max(tasks, key=lambda t: (t.recipients, t.staff.userid))
    answer = sandbox_control(
        dashboard.sandbox, "simulate/staff-confirm-msg", {"msgid": task.msgid, "userid": task.staff.userid}
    )
    assert answer["sent"] == task.recipients
    page.get_by_role("button", name="Refresh results").click()
    expect(page.get_by_test_id("total-confirmed")).to_contain_text(f"1 / {members}", timeout=WRITE)
    expect(page.get_by_test_id("total-sent")).to_contain_text(f"{task.recipients:,}")
    expect(page.get_by_test_id("total-pending")).to_contain_text(f"{receivers - task.recipients:,}")
    confirmed = rows.filter(has_text=task.staff.name)
    expect(confirmed).to_contain_text("Confirmed")
    # The others can still be reminded; the confirmed member cannot.
    expect(confirmed.get_by_role("button", name=re.compile("^Remind"))).to_have_count(0)
    expect(page.get_by_role("button", name=f"Remind all unconfirmed ({members - 1})")).to_be_visible()

    # The recipients: those the member sent to are "Sent", from that member.
    recipients = page.get_by_test_id("recipients")
    recipients.get_by_label("Status").click()
    page.locator(".ant-select-dropdown:visible").get_by_title("Sent", exact=True).click()
    expect(page).to_have_url(re.compile(r"status=sent"))
    sent_rows = recipients.locator("tbody tr.ant-table-row")
    expect(sent_rows).to_have_count(min(task.recipients, 20))
    expect(sent_rows.filter(has_text=task.staff.name)).to_have_count(min(task.recipients, 20))
    export = recipients.get_by_role("link", name="Export CSV")
    href = f"/api/v1/campaigns/{campaign.pk}/recipients/export/?status=sent"
    expect(export).to_have_attribute("href", href)
    # The export has the same filter, every row of it.
    with page.expect_download() as download:
        export.click()
    rows_csv = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows_csv) == task.recipients
    assert {(r["status"], r["staff_userid"]) for r in rows_csv} == {("sent", task.staff.userid)}
    shoot(page, "campaign-results-confirmed")

    # The list shows its progress.
    page.get_by_role("link", name="Mass messages").first.click()
    listed = page.get_by_role("row").filter(has_text="Spring VIP follow-up")
    expect(listed).to_contain_text(f"Members confirmed 1 / {members}")
    expect(listed).to_contain_text(f"Sent {task.recipients:,} / {receivers:,}")

    # The same list in Chinese.
    page.get_by_text("中文", exact=True).click()
    expect(page.get_by_role("heading", name="群发", level=3)).to_be_visible()
    expect(listed).to_contain_text(f"成员已确认 1 / {members}")
    expect(listed).to_contain_text("已下发")
    shoot(page, "campaigns-list-zh")


def test_a_sales_member_sees_their_own_task_without_the_managers_buttons(synced, page, login):
    dashboard = synced
    tenant = dashboard.tenant
    with tenant_context(tenant):
        userid = Membership.unscoped.get(tenant=tenant, user=dashboard.sales).wecom_userid
    # A campaign to the customers bob's salesperson follows, sent through the API by the admin.
    login(page, dashboard.admin)
    response = page.request.post(
        f"{dashboard.url}/api/v1/campaigns/",
        data={
            "name": "Bob's customers",
            "chat_type": "single",
            "audience": {"filters": {"staff": userid}},
            "text": "Hello from the shop",
        },
        headers={"X-CSRFToken": csrf(page)},
    )
    assert response.status == 201, response.text()
    campaign_id = response.json()["id"]
    sent = page.request.post(
        f"{dashboard.url}/api/v1/campaigns/{campaign_id}/send/", data={}, headers={"X-CSRFToken": csrf(page)}
    )
    assert sent.ok, sent.text()
    page.get_by_test_id("user-menu").click()
    page.get_by_role("menuitem", name="Log out").click()

    login(page, dashboard.sales)
    page.locator(".ant-menu").get_by_role("link", name="Mass messages").click()
    expect(page.get_by_role("button", name="New mass message")).to_have_count(0)
    page.get_by_role("link", name="Bob's customers").click()
    expect(page.get_by_role("heading", name="Bob's customers", level=3)).to_be_visible()
    tasks = page.get_by_test_id("tasks")
    expect(tasks).to_contain_text("My tasks")
    with tenant_context(tenant):
        everyone = list(CampaignTask.objects.filter(campaign_id=campaign_id).select_related("staff"))
    mine = [t for t in everyone if t.staff.userid == userid]
    assert mine
    assert len(mine) < len(everyone)
    expect(tasks.locator("tbody tr.ant-table-row")).to_have_count(len(mine))
    expect(tasks).to_contain_text(mine[0].staff.name)
    # Their own figures, and what to do next.
    expect(page.get_by_test_id("your-turn")).to_contain_text("Your task has not been sent yet")
    expect(page.get_by_test_id("total-confirmed")).to_contain_text(f"0 / {len(mine)}")
    expect(page.get_by_test_id("total-pending")).to_contain_text(f"{sum(t.recipients for t in mine):,}")
    for hidden in ("Cancel", re.compile("^Remind all"), "Continue editing"):
        expect(page.get_by_role("button", name=hidden)).to_have_count(0)
    shoot(page, "campaign-results-sales")
    page.goto(f"{dashboard.url}/campaigns/new")
    expect(page.get_by_text("You do not have access to this page")).to_be_visible()


def test_admin_sets_the_limits_and_keeps_a_customer_undisturbed(synced, page, login):
    dashboard = synced
    with tenant_context(dashboard.tenant):
        names = list(Contact.objects.exclude(name="").values_list("name", flat=True))
        # A name no other customer's contains: the search finds this customer only.
        contact = next(
            c
            for c in Contact.objects.filter(status=ContactStatus.ACTIVE).exclude(name="").order_by("pk")
            if sum(c.name in other for other in names) == 1
        )
    login(page, dashboard.admin, "/campaigns/settings")
    expect(page.get_by_role("heading", name="Mass message settings", level=3)).to_be_visible()
    page.get_by_role("radio", name="7 per week").check()
    page.get_by_label("Marketing touches per customer per week").fill("2")
    page.get_by_role("radio", name="The member who added them last").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Mass message settings saved")).to_be_visible()
    with tenant_context(dashboard.tenant):
        settings = CampaignSettings.objects.get()
    saved = (settings.receive_limit, settings.marketing_cap_per_week, settings.sender_rule)
    assert saved == ("week", 2, "latest")
    shoot(page, "campaign-settings")

    page.goto(f"{dashboard.url}/campaigns/do-not-disturb")
    expect(page.get_by_test_id("empty")).to_contain_text("The do-not-disturb list is empty")
    page.get_by_role("button", name="Add a customer").click()
    dialog = page.get_by_role("dialog")
    type_and_pick(page, dialog.get_by_label("Customers (one or more)"), contact.name)
    dialog.get_by_label("Reason").fill("Asked to be left alone")
    dialog.get_by_role("button", name="Add a customer").click()
    row = page.get_by_role("row").filter(has_text=contact.name)
    expect(row).to_contain_text("Asked to be left alone")
    expect(row).to_contain_text(dashboard.admin.username)
    with tenant_context(dashboard.tenant):
        assert DoNotDisturb.objects.filter(contact=contact).exists()
    shoot(page, "campaign-dnd")

    row.get_by_role("button", name=f"Remove {contact.name} from the do-not-disturb list").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(page.get_by_test_id("empty")).to_be_visible()
    with tenant_context(dashboard.tenant):
        assert not DoNotDisturb.objects.exists()


def csrf(page: Page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")


def test_a_draft_reopens_where_it_was_left_then_is_scheduled_and_cancelled(synced, page, login):
    dashboard = synced
    login(page, dashboard.admin, "/campaigns/new")
    page.get_by_label("Name", exact=True).fill("Autumn draft")
    page.get_by_role("button", name="Next: Content").click()
    page.get_by_label("Text", exact=True).fill("Autumn is here")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft “Autumn draft” saved")).to_be_visible()
    with tenant_context(dashboard.tenant):
        draft = Campaign.objects.get()
    assert (draft.status, draft.text, draft.audience) == ("draft", "Autumn is here", {"filters": {}})
    # The URL is the draft's edit page at the step it was saved from: a reload comes back to it.
    expect(page).to_have_url(re.compile(rf"/campaigns/{draft.pk}/edit\?step=content$"))
    page.reload()
    expect(page.get_by_role("heading", name="Edit: Autumn draft", level=3)).to_be_visible()
    expect(page.get_by_label("Text", exact=True)).to_have_value("Autumn is here")

    # Scheduled for a time in the tenant's zone (China), whatever the browser's is.
    page.get_by_label("Text", exact=True).fill("Autumn is here: 15% off")
    page.get_by_role("button", name="Schedule").last.click()
    page.get_by_role("radio", name="At a set time").check()
    when = (dt.datetime.now(ZoneInfo("Asia/Shanghai")) + dt.timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    picker = page.get_by_label("Date and time")
    picker.click()
    picker.fill(when.strftime("%Y-%m-%d %H:%M"))
    picker.press("Enter")
    page.get_by_test_id("send-button").click()
    # Times are written as the tenant's clock reads them (the browser runs in another zone).
    shown = f"{when:%Y-%m-%d %H:%M} Asia/Shanghai"
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Send this mass message at {shown}?")
    dialog.get_by_role("button", name="Schedule").click()
    expect(page.get_by_role("heading", name="Autumn draft", level=3)).to_be_visible(timeout=WRITE)
    expect(page.get_by_test_id("campaign-status")).to_have_text("Scheduled")
    expect(page.get_by_text(f"It will be sent at {shown}.")).to_be_visible()
    draft.refresh_from_db()
    assert (draft.status, draft.text) == ("scheduled", "Autumn is here: 15% off")
    assert draft.scheduled_at == when
    shoot(page, "campaign-scheduled")

    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel it").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Cancelled")
    draft.refresh_from_db()
    assert draft.status == "cancelled"
    assert records(dashboard, "add_msg_template") == []
