"""Moments (朋友圈) in the dashboard: an admin composes a post with an image from the library for two
members (the WeChat-style preview, the live figures), publishes it, WeCom's job completes, one member
publishes it from WeCom (the sandbox's ``simulate/staff-publish-moment``) and a customer likes it
(``simulate/customer-like-moment``); the task's page then shows the published count, the publish rate
and the like, the customer's page counts it, the ranking and the settings follow. A sales member sees
the post they were asked to publish, without the managers' buttons. A member's own post, read by "Sync
now", has its own page.

What the pages must show is worked out here from the synced follows, not through the services' counts.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from contacts.models import ContactStatus, Follow, FollowStatus, Staff
from library import services as library
from moments.models import Moment, MomentSettings, MomentTask, TaskStatus
from moments.services.compose import moment_task_create, moment_task_publish
from scrm.tenancy.actors import SYSTEM
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Membership, Tenant
from tests.browser.conftest import shoot
from tests.browser.test_campaigns import type_and_pick
from tests.helpers import sandbox_control

# Publishing submits the task to the sandbox before the page moves on.
WRITE = 20_000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def two_members(tenant) -> tuple[list[Staff], dict[int, list[str]]]:
    """The two members who may publish (active, with the customer-contact permission) with the most
    customers, and each one's active customers (their external_userids) by staff id."""
    with tenant_context(tenant):
        follows = list(
            Follow.objects.filter(
                status=FollowStatus.ACTIVE,
                contact__status=ContactStatus.ACTIVE,
                staff__is_active=True,
                staff__has_contact_permission=True,
            ).values_list("staff_id", "contact__external_userid")
        )
        customers: dict[int, list[str]] = {}
        for staff_id, external_userid in follows:
            customers.setdefault(staff_id, []).append(external_userid)
        chosen = sorted(customers, key=lambda pk: (-len(customers[pk]), pk))[:2]
        staff = list(Staff.objects.filter(pk__in=chosen).order_by("userid"))
    return staff, {pk: customers[pk] for pk in chosen}


def published_moment(tenant) -> Moment:
    """The task's Moment: the submit and WeCom's job run in the (eager) worker once publishing commits."""
    with tenant_context(tenant):
        task = MomentTask.objects.select_related("moment").get()
    assert task.status == TaskStatus.PUBLISHING, task.error
    assert task.jobid
    assert task.moment is not None
    return task.moment


def test_admin_composes_publishes_and_sees_a_member_publish_and_a_like(synced, page: Page, login):
    dashboard = synced
    tenant = dashboard.tenant
    with tenant_context(tenant):
        library.material_create_from_bytes(
            kind="image", filename="spring.png", content=PNG, data={"title": "Spring poster"}
        )
    members, customers = two_members(tenant)
    reach = len({c for ids in customers.values() for c in ids})

    # Reminders are app messages: the tenant's WeCom app.
    Tenant.objects.filter(pk=tenant.pk).update(agent_id=dashboard.sandbox.agent_id)

    login(page, dashboard.admin)
    page.locator(".ant-menu").get_by_role("link", name="Moments").click()
    expect(page.get_by_role("heading", name="Moments", level=3)).to_be_visible()
    expect(page.get_by_test_id("empty")).to_contain_text("No Moments tasks yet")
    page.get_by_test_id("empty").get_by_role("button", name="New post").click()

    # The text with its counter, folded in the preview after six lines.
    expect(page.get_by_role("heading", name="New post", level=3)).to_be_visible()
    preview = page.get_by_test_id("moment-preview")
    lines = [f"第{i}行：春季新品上市" for i in range(1, 8)]
    page.get_by_label("Text", exact=True).fill("\n".join(lines))
    expect(page.get_by_test_id("char-counter")).to_have_text(f"{len(chr(10).join(lines))} / 2,000 characters")
    expect(preview.get_by_test_id("preview-fold")).to_have_text("Full text")
    preview.get_by_test_id("preview-fold").click()
    expect(preview.get_by_test_id("preview-fold")).to_have_text("Collapse")
    text = "春季新品上市，老客户专享九折～"
    page.get_by_label("Text", exact=True).fill(text)
    expect(preview.get_by_test_id("preview-fold")).to_have_count(0)
    expect(preview.get_by_test_id("preview-text")).to_have_text(text)

    # An image from the library: once there is one, only more images may be added.
    page.get_by_test_id("add-image").click()
    picker = page.get_by_role("dialog", name="Pick pictures from the library")
    picker.get_by_role("listitem", name="Pick Spring poster").click()
    picker.get_by_role("button", name="Add", exact=True).click()
    expect(preview.get_by_test_id("preview-grid")).to_have_attribute("data-columns", "1")
    expect(page.get_by_test_id("add-image")).to_have_text("Add pictures (8 more)")
    expect(page.get_by_test_id("add-video")).to_have_count(0)
    expect(page.get_by_test_id("add-link")).to_have_count(0)

    # Two members; the figures count them and their customers.
    for member in members:
        type_and_pick(page, page.get_by_label("Members", exact=True), member.name)
    expect(page.get_by_test_id("preview-members")).to_contain_text("2")
    expect(page.get_by_test_id("preview-customers")).to_contain_text(f"{reach:,}")
    expect(preview.get_by_test_id("preview-member")).to_have_text(members[0].name)
    shoot(page, "moment-compose")

    page.get_by_test_id("publish-button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(
        f"2 members get the task to publish it; up to {reach:,} customers can see it."
    )
    dialog.get_by_role("button", name="Publish now").click()

    # The task's page: WeCom made the post; members publish it.
    expect(page.get_by_role("heading", name="Moments task", level=3)).to_be_visible(timeout=WRITE)
    expect(page.get_by_test_id("task-status")).to_have_text("Members publishing", timeout=WRITE)
    moment = published_moment(tenant)
    with tenant_context(tenant):
        task = MomentTask.objects.get()
    assert (task.text, sorted(task.staff_ids)) == (text, sorted(m.pk for m in members))
    expect(page.get_by_test_id("total-published")).to_contain_text("0 / 2")
    rows = page.get_by_role("table", name="Members").locator("tbody tr.ant-table-row")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Not published")).to_have_count(2)

    # One member publishes it in WeCom and one of their customers likes it; the page learns it when
    # the figures are refreshed.
    member = members[0]
    fan = customers[member.pk][0]
    published = {"userid": member.userid, "moment_id": moment.moment_id}
    sandbox_control(dashboard.sandbox, "simulate/staff-publish-moment", published)
    sandbox_control(
        dashboard.sandbox,
        "simulate/customer-like-moment",
        {"moment_id": moment.moment_id, "userid": member.userid, "external_userid": fan},
    )
    page.get_by_role("button", name="Refresh figures").click()
    expect(page.get_by_test_id("total-published")).to_contain_text("1 / 2", timeout=WRITE)
    expect(page.get_by_test_id("total-publish_rate")).to_contain_text("50%")
    expect(page.get_by_test_id("total-likes")).to_contain_text("1")
    expect(page.get_by_test_id("total-reach")).to_contain_text(f"{len(customers[member.pk]):,}")
    expect(rows.filter(has_text=member.name)).to_contain_text("Published")
    likes = page.get_by_role("table", name="Likes and comments").locator("tbody tr.ant-table-row")
    expect(likes).to_have_count(1)
    expect(likes).to_contain_text("Like")
    expect(likes).to_contain_text(member.name)
    with tenant_context(tenant):
        fan_name = Follow.objects.get(staff=member, contact__external_userid=fan).contact.name
    expect(likes.get_by_role("link", name=fan_name)).to_be_visible()
    # The member who has not published is reminded by a WeCom app message; the one who did cannot be
    # picked.
    expect(rows.filter(has_text=member.name).get_by_role("checkbox")).to_be_disabled()
    page.get_by_role("button", name="Remind everyone who has not published").click()
    expect(page.get_by_text("Reminded 1 member", exact=True)).to_be_visible(timeout=WRITE)
    sent = sandbox_control(dashboard.sandbox, "records/message/send")["records"]
    assert [r["body"]["touser"] for r in sent] == [members[1].userid]
    reminded_at = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
    expect(rows.filter(has_text=members[1].name)).to_contain_text(reminded_at)
    shoot(page, "moment-task")

    # The customer's page counts the like, names the post, and their timeline has it.
    likes.get_by_role("link", name=fan_name).click()
    card = page.get_by_test_id("moments-engagement")
    expect(card.get_by_test_id("engagement-likes")).to_contain_text("1")
    expect(card.get_by_test_id("engagement-comments")).to_contain_text("0")
    expect(card).to_contain_text(f"on {member.name}'s post")
    expect(card.get_by_role("link", name=text)).to_be_visible()
    page.get_by_role("dialog").get_by_role("tab", name="Timeline").click()
    expect(page.get_by_role("dialog")).to_contain_text("Liked a Moment")
    page.go_back()

    # The list shows its progress, every post shows it as a corp post, the calendar has it on today.
    page.get_by_role("link", name="Moments").first.click()
    listed = page.get_by_role("table", name="Publish tasks").locator("tbody tr.ant-table-row")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("1 of 2 members published")
    page.get_by_text("All posts", exact=True).click()
    posts = page.get_by_role("table", name="All posts").locator("tbody tr.ant-table-row")
    expect(posts).to_have_count(1)
    expect(posts).to_contain_text("Corp post")
    expect(posts.get_by_role("link", name=text)).to_have_attribute("href", f"/moments/tasks/{task.pk}")
    page.get_by_text("Calendar", exact=True).click()
    expect(page.get_by_test_id("calendar-item").filter(has_text=text[:10])).to_have_count(1)
    expect(page).to_have_url(re.compile(r"view=calendar"))
    shoot(page, "moment-calendar")

    # The ranking: the member who published leads, at 100%; the other asked member follows at 0%.
    page.get_by_role("button", name="Member ranking").click()
    ranked = page.get_by_role("table", name="Member ranking").locator("tbody tr.ant-table-row")
    expect(ranked.first).to_contain_text(member.name)
    expect(ranked.first).to_contain_text("100%")
    expect(ranked.filter(has_text=members[1].name)).to_contain_text("0%")
    shoot(page, "moment-ranking")

    # The settings: reminders after 12 hours, and the daily digest to department leaders.
    page.get_by_role("link", name="Moments").first.click()
    page.get_by_role("button", name="Moments settings").click()
    page.get_by_label("Remind after").fill("12")
    page.get_by_label("Daily digest to department leaders").click()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Settings saved")).to_be_visible()
    with tenant_context(tenant):
        saved = MomentSettings.objects.get()
    assert (saved.remind_after_hours, saved.manager_digest) == (12, True)

    # In Chinese.
    page.get_by_text("中文", exact=True).click()
    expect(page.get_by_role("heading", name="朋友圈设置", level=3)).to_be_visible()
    page.get_by_role("link", name="朋友圈").first.click()
    listed = page.get_by_role("table", name="发表任务").locator("tbody tr.ant-table-row")
    expect(listed).to_contain_text("1 / 2 位成员已发表")
    expect(listed).to_contain_text("成员发表中")


def test_a_sales_member_sees_their_post_without_the_managers_buttons(synced, page: Page, login):
    dashboard = synced
    tenant = dashboard.tenant
    bob_userid = Membership.unscoped.get(tenant=tenant, user=dashboard.sales).wecom_userid
    with tenant_context(tenant):
        bob = Staff.objects.get(userid=bob_userid)
        other = Staff.objects.filter(is_active=True, has_contact_permission=True).exclude(pk=bob.pk).first()
        data = {"text": "周末亲子手作活动报名中", "staff_ids": [bob.pk, other.pk]}
        task = moment_task_create(actor=SYSTEM, data=data)
        moment_task_publish(task=task)
    published_moment(tenant)

    login(page, dashboard.sales)
    page.locator(".ant-menu").get_by_role("link", name="Moments").click()
    expect(page.get_by_role("button", name="New post")).to_have_count(0)
    expect(page.get_by_role("button", name="Settings")).to_have_count(0)
    listed = page.get_by_role("table", name="Publish tasks").locator("tbody tr.ant-table-row")
    expect(listed).to_have_count(1)
    listed.get_by_role("link").click()
    expect(page.get_by_test_id("task-status")).to_have_text("Members publishing", timeout=WRITE)
    rows = page.get_by_role("table", name="Members").locator("tbody tr.ant-table-row")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(bob.name)
    for hidden in ("Cancel", "Edit", "Refresh figures", "Remind everyone who has not published"):
        expect(page.get_by_role("button", name=hidden)).to_have_count(0)
    page.goto(f"{dashboard.url}/moments/new")
    expect(page.get_by_text("You do not have access to this page")).to_be_visible()


def test_a_members_own_post_is_read_by_the_sync_and_has_its_page(synced, page: Page, login):
    dashboard = synced
    tenant = dashboard.tenant
    with tenant_context(tenant):
        author = Staff.objects.filter(is_active=True, has_contact_permission=True).order_by("userid").first()
    text = "周三到店有礼：带上这条朋友圈领小样"
    own = sandbox_control(
        dashboard.sandbox, "simulate/staff-publish-moment", {"userid": author.userid, "text": text}
    )

    login(page, dashboard.admin)
    page.goto(f"{dashboard.url}/moments/settings")
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_text("Sync started")).to_be_visible()
    with tenant_context(tenant):
        moment = Moment.objects.get(moment_id=own["moment_id"])

    page.goto(f"{dashboard.url}/moments?view=moments&create_type=1")
    posts = page.get_by_role("table", name="All posts").locator("tbody tr.ant-table-row")
    mine = posts.filter(has_text=text)
    expect(mine).to_contain_text("Member's own post")
    expect(mine).to_contain_text(author.name)
    expect(posts.filter(has_text="Corp post")).to_have_count(0)
    mine.get_by_role("link", name=text).click()
    expect(page).to_have_url(re.compile(rf"/moments/{moment.pk}$"))
    expect(page.get_by_role("heading", name="Moment", level=3)).to_be_visible()
    expect(page.get_by_test_id("moment-text")).to_have_text(text)
    expect(page.get_by_test_id("total-published")).to_contain_text("1 / 1")
    rows = page.get_by_role("table", name="Members").locator("tbody tr.ant-table-row")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(author.name)
    expect(page.get_by_role("button", name="Remind everyone who has not published")).to_have_count(0)
    shoot(page, "moment-own-post")
