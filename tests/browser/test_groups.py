"""Customer groups (客户群) in the dashboard: the list with its filters in the URL, a group's members
(as the sandbox has them), its join/leave history and its statistics chart, a customer member opening
the customer drawer; a sales member sees only the groups they own, read-only; the group statistics
page shows WeCom's daily figures fetched by the groups sync.

Each test syncs tenant A's contacts and then its groups from the sandbox corp. What the pages show is
compared with the sandbox's own groups (``sandbox.state.groups``) and with the database.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from contacts.models import Contact, SyncKind, SyncRun
from groups.models import Group, GroupMember, GroupStatDay, GroupStatus
from library import services as library
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Membership
from tests.browser.conftest import Dashboard, shoot
from tests.browser.test_channels import pick
from tests.groups.conftest import run_groups_sync
from tests.helpers import sandbox_control


def refreshes_drain(page: Page, tenant, *, seconds: float = 20) -> None:
    """Run the groups' refreshes as a worker would when each is due, until none is left (the pages
    run in real time, so this waits in real time too, through the browser)."""
    from groups.models import GroupRefresh
    from groups.tasks.sync import refresh

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with tenant_context(tenant):
            due = list(GroupRefresh.objects.values_list("chat_id", "due_at"))
        if not due:
            return
        for chat_id, due_at in due:
            if due_at <= timezone.now():
                refresh.run(tenant.pk, chat_id)
        page.wait_for_timeout(250)
    raise AssertionError(f"group refreshes still pending after {seconds} s: {due}")


@pytest.fixture
def groups_synced(synced: Dashboard) -> Dashboard:
    """Tenant A after a contacts sync and then a groups sync of its sandbox."""
    run = run_groups_sync(synced.tenant)
    assert run.status == "succeeded", run.errors
    return synced


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def listed_names(page: Page) -> list[str]:
    """The group names in the list's rows (the first link of each row)."""
    rows = page.get_by_role("table", name=re.compile("groups", re.I)).locator("tbody tr.ant-table-row")
    return [row.get_by_role("link").first.inner_text() for row in rows.all()]


def busiest_group_with_a_contact(tenant) -> Group:
    """The group with the most current members among those with a customer member who is a Contact."""
    with tenant_context(tenant):
        contacts = set(Contact.objects.values_list("external_userid", flat=True))
        for group in Group.objects.exclude(status=GroupStatus.DISMISSED).order_by("-member_count", "id"):
            userids = GroupMember.objects.filter(
                group=group, left_at__isnull=True, type="customer"
            ).values_list("userid", flat=True)
            if contacts & set(userids):
                return group
    raise AssertionError("no group has a customer who is a contact")


def test_admin_filters_groups_and_opens_one_with_members_history_and_stats(groups_synced, page, login):
    dashboard = groups_synced
    sandbox_groups = {
        chat.chat_id: chat for chat in dashboard.sandbox.state.groups.values() if not chat.dismissed
    }
    with tenant_context(dashboard.tenant):
        assert Group.objects.count() == len(sandbox_groups)
    group = busiest_group_with_a_contact(dashboard.tenant)
    chat = sandbox_groups[group.chat_id]

    login(page, dashboard.admin)
    page.locator(".ant-menu").get_by_role("link", name="Customer groups").click()
    expect(page.get_by_role("heading", name="Customer groups", level=3)).to_be_visible()
    # The latest groups sync, and the first page of groups (newest first).
    expect(page.get_by_test_id("groups-sync-status")).to_have_text("Succeeded")
    expect(page.get_by_role("button", name="Sync groups")).to_be_enabled()
    with tenant_context(dashboard.tenant):
        newest = list(Group.objects.order_by("-wecom_created_at", "-id").values_list("name", flat=True)[:20])
    expect(page.locator("tbody tr.ant-table-row")).to_have_count(len(newest))
    assert listed_names(page) == newest
    shoot(page, "groups")

    # Filter by name: the URL says so, and only matching groups are listed.
    word = re.sub(r"\d+$", "", group.name)
    search = page.get_by_role("searchbox", name="Name")
    search.fill(word)
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]q="))
    assert query_of(page)["q"] == [word]
    with tenant_context(dashboard.tenant):
        matching = list(
            Group.objects.filter(name__icontains=word)
            .order_by("-wecom_created_at", "-id")
            .values_list("name", flat=True)[:20]
        )
    expect(page.locator("tbody tr.ant-table-row")).to_have_count(len(matching))
    assert listed_names(page) == matching

    # At least this many members, sorted by members: the busiest group comes first.
    members_min = page.get_by_label("At least this many members")
    members_min.fill(str(group.member_count))
    members_min.press("Enter")
    expect(page).to_have_url(re.compile(r"members_min=" + str(group.member_count)))
    page.get_by_role("columnheader", name="Members").click()  # ascending
    page.get_by_role("columnheader", name="Members").click()  # descending
    expect(page).to_have_url(re.compile(r"ordering=-members"))
    expect(page.locator("tbody tr.ant-table-row").first).to_contain_text(group.name)
    # A reload keeps the view.
    page.reload()
    expect(page.locator("tbody tr.ant-table-row").first).to_contain_text(group.name)
    shoot(page, "groups-filtered")

    # The group: header, and its current members exactly as the sandbox has them.
    page.get_by_role("link", name=group.name, exact=True).click()
    expect(page.get_by_role("heading", name=group.name, level=3)).to_be_visible()
    expect(page.get_by_test_id("detail-members")).to_contain_text(str(len(chat.members)))
    expect(page.get_by_text(chat.notice)).to_be_visible()
    members = page.get_by_role("table", name="Group members")
    rows = members.locator("tbody tr.ant-table-row")
    expect(rows).to_have_count(min(len(chat.members), 50))
    with tenant_context(dashboard.tenant):
        stored = {m.userid: m for m in GroupMember.objects.filter(group=group, left_at__isnull=True)}
    assert set(stored) == {m.userid for m in chat.members}
    # Newest first (the first page of a big group holds the latest 50).
    for member in sorted(chat.members, key=lambda m: m.join_time, reverse=True)[:5]:
        name = stored[member.userid].name or member.group_nickname or member.userid
        expect(rows.filter(has_text=name).first).to_be_visible()
    # Customers only.
    page.get_by_role("search", name="Filter members").get_by_text("Customer", exact=True).click()
    customers = [m for m in chat.members if m.type == 2]
    expect(rows).to_have_count(min(len(customers), 50))
    expect(rows.filter(has_text="Staff")).to_have_count(0)
    shoot(page, "group-members")

    # A customer who is a contact opens the customer drawer, which lists this group. Chosen among the
    # latest joins: the table's first page shows the newest 50 (with a margin for equal join times).
    # Its name must be unique on the page, or the button could be another customer's.
    shown = [m.userid for m in sorted(customers, key=lambda m: m.join_time, reverse=True)[:40]]
    names = [stored[m.userid].name for m in customers]  # any of them may be on the page
    with tenant_context(dashboard.tenant):
        contact = next(
            (
                c
                for c in Contact.objects.filter(external_userid__in=shown).order_by("id")
                if names.count(stored[c.external_userid].name) == 1 and stored[c.external_userid].name
            ),
            None,
        )
    assert contact is not None, "none of the latest joins is a contact with a unique name"
    member_name = stored[contact.external_userid].name
    page.get_by_role("button", name=f"Open customer {member_name}", exact=True).click()
    drawer = page.get_by_role("dialog")
    expect(drawer).to_contain_text(contact.external_userid)
    drawer.get_by_role("tab", name=re.compile(r"^Groups")).click()
    expect(drawer.get_by_test_id("contact-groups").get_by_role("link", name=group.name)).to_be_visible()
    assert query_of(page)["contact"] == [str(contact.pk)]
    # Its Close button: Escape reaches the drawer only while focus is inside it (a refetch may
    # re-render the focused tab).
    drawer.get_by_role("button", name="Close").click()
    expect(drawer).to_be_hidden()

    # A customer scans the group's QR and joins: the history shows it, newest first. One of the
    # tenant's contacts, so the callback alone names them (WeCom's group details settle later).
    inside = {m.userid for m in chat.members}
    with tenant_context(dashboard.tenant):
        known = next(
            ext
            for ext in Contact.objects.order_by("id").values_list("external_userid", flat=True)
            if ext not in inside
        )
    newcomer = sandbox_control(
        dashboard.sandbox, "simulate/group-join", {"chat_id": group.chat_id, "external_userid": known}
    )
    page.get_by_role("tab", name="Joins and leaves").click()
    entries = page.get_by_test_id("history-entry")
    # The sandbox delivered the join's callback before answering (processed at once in tests).
    newcomer_name = dashboard.sandbox.state.contacts[newcomer["external_userid"]].name
    expect(entries.first).to_contain_text(newcomer_name, timeout=20_000)
    with tenant_context(dashboard.tenant):
        joined = GroupMember.objects.get(
            group=group, userid=newcomer["external_userid"], left_at__isnull=True
        )
    expect(entries.first).to_contain_text(joined.name or joined.userid)
    expect(entries.first).to_contain_text("Scanned the group QR code")
    shoot(page, "group-history")

    # The statistics: the chart of joins, leaves and members per day, with today's join counted.
    page.get_by_role("tab", name="Statistics").click()
    stats = page.get_by_test_id("group-stats")
    expect(stats.get_by_role("img", name=re.compile("Joins, leaves and members per day"))).to_be_visible()
    expect(stats.locator("canvas")).to_have_count(1)
    expect(stats.get_by_test_id("stats-joins").locator(".ant-statistic-content-value")).not_to_have_text("0")
    assert query_of(page)["tab"] == ["stats"]
    shoot(page, "group-stats")


def test_a_sales_member_sees_only_their_groups_read_only(groups_synced, page, login):
    dashboard = groups_synced
    # bob is the owner of some groups (the owner with the most, so there are several).
    owners: dict[str, int] = {}
    for chat in dashboard.sandbox.state.groups.values():
        if not chat.dismissed:
            owners[chat.owner] = owners.get(chat.owner, 0) + 1
    owner = max(owners, key=lambda userid: (owners[userid], userid))
    Membership.unscoped.filter(tenant=dashboard.tenant, user=dashboard.sales).update(wecom_userid=owner)
    with tenant_context(dashboard.tenant):
        mine = list(
            Group.objects.filter(owner__userid=owner)
            .order_by("-wecom_created_at", "-id")
            .values_list("name", flat=True)
        )
        other = Group.objects.exclude(owner__userid=owner).order_by("id").first()
    assert mine
    assert other is not None

    login(page, dashboard.sales)
    menu = page.locator(".ant-menu")
    menu.get_by_role("link", name="My groups").click()
    expect(page.get_by_role("heading", name="My customer groups", level=3)).to_be_visible()
    expect(page.locator("tbody tr.ant-table-row")).to_have_count(min(len(mine), 20))
    assert listed_names(page) == mine[:20]
    # Read-only: no selection, bulk actions, tags, transfers or sync; no owner filter.
    expect(page.get_by_role("checkbox")).to_have_count(0)
    for absent in ("Sync groups", "Group tags", "Tag groups", "Change owner", "Group codes"):
        expect(page.get_by_role("button", name=absent)).to_have_count(0)
    expect(page.get_by_label("Owner", exact=True)).to_have_count(0)
    for hidden in ("Group codes", "Group welcomes"):
        expect(menu.get_by_text(hidden, exact=True)).to_have_count(0)
    shoot(page, "groups-sales")

    # Their group opens, with its tags shown but not editable.
    page.get_by_role("link", name=mine[0], exact=True).click()
    expect(page.get_by_role("heading", name=mine[0], level=3)).to_be_visible()
    expect(page.get_by_role("table", name="Group members")).to_be_visible()
    expect(page.locator("#group-tags")).to_have_count(0)

    # Someone else's group does not.
    page.goto(f"{dashboard.url}/groups/{other.pk}")
    expect(page.get_by_test_id("error")).to_be_visible()
    # Nor do the group code and welcome pages.
    page.goto(f"{dashboard.url}/groups/codes")
    expect(page.get_by_text("You do not have access to this page")).to_be_visible()


def type_and_pick(page: Page, picker, text: str, *, multiple: bool = True) -> None:
    """Type into a searchable select and take the highlighted match (keyboard only). A multiple
    select stays open after Enter and is closed with Escape; a single one closes by itself (an Escape
    then would close the dialog around it)."""
    picker.click()
    picker.fill(text)
    dropdown = page.locator(".ant-select-dropdown:visible")
    expect(dropdown.locator(".ant-select-item-option-active")).to_contain_text(text)
    picker.press("Enter")
    if multiple:
        picker.press("Escape")
    expect(dropdown).to_have_count(0)


def test_admin_tags_and_hands_over_groups_and_makes_a_group_code_and_a_welcome(groups_synced, page, login):
    dashboard = groups_synced
    with tenant_context(dashboard.tenant):
        first, second = Group.objects.order_by("-wecom_created_at", "-id")[:2]
        owner = first.owner
        new_owner = (
            type(owner)
            .objects.filter(is_active=True, has_contact_permission=True)
            .exclude(pk=owner.pk)
            .order_by("pk")
            .first()
        )
    login(page, dashboard.admin)
    page.goto(f"{dashboard.url}/groups")

    # A group tag, made in the tags dialog.
    page.get_by_role("button", name="Group tags").click()
    dialog = page.get_by_role("dialog", name="Group tags")
    dialog.get_by_label("New tag").fill("VIP群")
    dialog.get_by_role("button", name="Add").click()
    expect(dialog.get_by_role("table").get_by_text("VIP群")).to_be_visible()
    shoot(page, "group-tags")
    dialog.get_by_role("button", name="Close").first.click()
    expect(dialog).to_be_hidden()

    # Both groups tagged at once; the tag filter then lists exactly them.
    page.get_by_role("checkbox", name=f"Select {first.name}").check()
    page.get_by_role("checkbox", name=f"Select {second.name}").check()
    expect(page.get_by_text("Selected: 2")).to_be_visible()
    page.get_by_role("button", name="Tag groups").click()
    page.get_by_role("menuitem", name="Add group tags").click()
    bulk = page.get_by_role("dialog", name="Add tags to 2 groups")
    type_and_pick(page, bulk.get_by_label("Group tags"), "VIP群")
    bulk.get_by_role("button", name="Add").click()
    expect(bulk).to_be_hidden()
    type_and_pick(page, page.get_by_label("Group tags (any)"), "VIP群")
    expect(page).to_have_url(re.compile(r"[?&]tag=\d+"))
    expect(page.locator("tbody tr.ant-table-row")).to_have_count(2)
    assert sorted(listed_names(page)) == sorted([first.name, second.name])
    with tenant_context(dashboard.tenant):
        assert set(Group.objects.filter(taggings__tag__name="VIP群").values_list("pk", flat=True)) == {
            first.pk,
            second.pk,
        }

    # The first one handed to another owner: the result per group, as WeCom answered.
    page.get_by_role("checkbox", name=f"Select {first.name}").check()
    page.get_by_role("button", name="Change owner").click()
    transfer = page.get_by_role("dialog", name="Hand 1 groups to a new owner")
    type_and_pick(page, transfer.get_by_label("New owner"), new_owner.name, multiple=False)
    transfer.get_by_role("button", name="Hand over 1 groups").click()
    result = page.get_by_test_id("transfer-result")
    expect(result.get_by_test_id("transfer-item-status")).to_have_text("Transferred", timeout=20_000)
    expect(result).to_contain_text(first.name)
    expect(result).to_contain_text(owner.name)
    shoot(page, "group-transfer")
    result.get_by_role("button", name="Close").click()
    with tenant_context(dashboard.tenant):
        first.refresh_from_db()
    assert first.owner_id == new_owner.pk
    expect(page.get_by_role("row").filter(has_text=first.name)).to_contain_text(new_owner.name)

    # A group code for the two groups, with its QR, and a simulated customer scanning it.
    page.locator(".ant-menu").get_by_role("link", name="Group codes").click()
    expect(page.get_by_test_id("empty")).to_contain_text("No group codes yet")
    page.get_by_role("button", name="Create your first group code").click()
    page.get_by_label("Name", exact=True).fill("Shop poster")
    groups_picker = page.get_by_label("Groups", exact=True)
    type_and_pick(page, groups_picker, first.name)
    type_and_pick(page, groups_picker, second.name)
    page.get_by_label("New groups' name").fill("福利群")
    expect(page.get_by_text("The next new group will be “福利群1”")).to_be_visible()
    shoot(page, "group-code-form")
    page.get_by_role("button", name="Create in WeCom").click()
    expect(page.get_by_role("heading", name="Shop poster", level=3)).to_be_visible(timeout=15_000)
    qr = page.get_by_test_id("qr-image")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    page.get_by_role("button", name="Simulate a customer scanning").click()
    simulation = page.get_by_test_id("code-simulation")
    expect(simulation.get_by_test_id("simulate-landed")).to_contain_text(first.name, timeout=20_000)
    # Which code a join came through comes with WeCom's group details, a few seconds after the
    # callback: the group's refresh reads it then (a worker's job; Celery is eager here).
    refreshes_drain(page, dashboard.tenant)
    expect(simulation.get_by_test_id("simulate-recorded")).to_contain_text("Join recorded", timeout=25_000)
    # The join counts in the code's figures: today, and for the group the customer landed in.
    per_group = page.get_by_role("table", name="Per group")
    expect(per_group.get_by_role("row").filter(has_text=first.name)).to_contain_text("1")
    shoot(page, "group-code")

    # A group welcome: the nickname inserted where the cursor is, a link of the content library, the preview.
    with tenant_context(dashboard.tenant):
        library.material_create(kind="link", data={"title": "Perks", "url": "https://shop.example.cn/perks"})
    page.locator(".ant-menu").get_by_role("link", name="Group welcomes").click()
    page.get_by_role("button", name="Create your first group welcome").click()
    page.get_by_label("Name", exact=True).fill("Newcomers")
    text = page.get_by_label("Welcome text")
    text.fill("Welcome !")
    text.press("End")
    text.press("ArrowLeft")
    page.get_by_role("button", name="Insert the newcomer's nickname").click()
    expect(text).to_have_value("Welcome %NICKNAME%!")
    page.get_by_role("button", name="Pick from the library").click()
    pick(page, "Perks")
    preview = page.get_by_test_id("template-preview")
    expect(preview.get_by_test_id("preview-text")).to_have_text("Welcome Xiao Ming!")
    expect(preview.get_by_test_id("preview-link")).to_contain_text("Perks")
    shoot(page, "group-welcome-form")
    page.get_by_role("button", name="Create in WeCom").click()
    expect(page.get_by_role("heading", name="Group welcome messages", level=3)).to_be_visible(timeout=15_000)
    expect(page.get_by_role("row").filter(has_text="Newcomers")).to_contain_text("Perks")
    [added] = [
        r["body"]
        for r in sandbox_control(dashboard.sandbox, "records/externalcontact/group_welcome_template/add")[
            "records"
        ]
    ]
    assert added["link"]["url"] == "https://shop.example.cn/perks"


def test_before_the_first_groups_sync_the_admin_is_told_to_sync_and_does(synced, page, login):
    dashboard = synced
    login(page, dashboard.admin)
    page.goto(f"{dashboard.url}/groups")
    empty = page.get_by_test_id("empty")
    expect(empty).to_contain_text("Customer groups have not been synced yet")
    expect(empty).to_contain_text("Click “Sync groups”")
    shoot(page, "groups-never-synced")
    # The empty state's button (the header has the same one).
    empty.get_by_role("button", name="Sync groups").click()
    expect(page.get_by_test_id("groups-sync-status")).to_have_text("Succeeded", timeout=60_000)
    with tenant_context(dashboard.tenant):
        count = Group.objects.count()
    assert count > 0
    expect(page.locator("tbody tr.ant-table-row")).to_have_count(min(count, 20))
    # The Overview's last sync is still the contacts sync; Settings lists both, filtered by kind.
    with tenant_context(dashboard.tenant):
        contacts_run = SyncRun.objects.filter(kind=SyncKind.CONTACTS).latest("id")
    page.goto(dashboard.url + "/")
    card = page.get_by_test_id("sync-card")
    expect(card).to_contain_text("Last contacts sync")
    expect(card.get_by_test_id("sync-created")).to_have_text(str(contacts_run.created))
    page.goto(f"{dashboard.url}/settings/sync?kind=groups")
    rows = page.get_by_role("table", name="Sync history").locator("tbody tr.ant-table-row")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_test_id("sync-kind")).to_have_text("Groups")
    page.get_by_text("All", exact=True).click()
    expect(rows).to_have_count(2)


def stat_figures(tenant, *, start: str, end: str, owner_id: int | None = None) -> dict[str, int]:
    """What the statistics page should show for these days, from the stored WeCom figures: groups and
    members on the last day with figures, new members and messages summed."""
    with tenant_context(tenant):
        rows = GroupStatDay.objects.filter(day__gte=start, day__lte=end)
        if owner_id is not None:
            rows = rows.filter(owner_id=owner_id)
        rows = list(rows)
    assert rows, "the groups sync stored no statistics"
    last = max(row.day for row in rows)
    return {
        "chat_total": sum(r.chat_total for r in rows if r.day == last),
        "member_total": sum(r.member_total for r in rows if r.day == last),
        "new_member_cnt": sum(r.new_member_cnt for r in rows),
        "msg_total": sum(r.msg_total for r in rows),
        "last": last.isoformat(),
    }


def test_admin_sees_the_group_statistics_after_a_groups_sync(groups_synced, page, login):
    dashboard = groups_synced
    login(page, dashboard.admin)
    page.locator(".ant-menu").get_by_role("link", name="Group statistics").click()
    expect(page.get_by_role("heading", name="Group statistics", level=3)).to_be_visible()
    expect(page.get_by_test_id("group-stats-next-day")).to_contain_text("the next day")

    # The default range: the last 30 days of the browser's calendar, today included (and empty).
    today = page.evaluate("() => new Date().toLocaleDateString('sv')")
    start = (dt.date.fromisoformat(today) - dt.timedelta(days=29)).isoformat()
    expected = stat_figures(dashboard.tenant, start=start, end=today)
    assert expected["last"] < today  # WeCom publishes a day's figures the next day

    def shown(metric: str):
        return page.get_by_test_id(f"group-stats-{metric}").locator(".ant-statistic-content-value")

    expect(shown("chat_total")).to_have_text(f"{expected['chat_total']:,}")
    expect(shown("member_total")).to_have_text(f"{expected['member_total']:,}")
    expect(shown("new_member_cnt")).to_have_text(f"{expected['new_member_cnt']:,}")
    expect(shown("msg_total")).to_have_text(f"{expected['msg_total']:,}")
    totals = page.get_by_test_id("group-stats-totals")
    expect(totals).to_contain_text(f"On {expected['last']}")
    # The chart (loaded after the figures): members per day by default, then the messages.
    expect(page.get_by_role("img", name=f"Members per day from {start} to {today}")).to_be_visible()
    expect(page.locator("canvas")).to_have_count(1)
    page.locator(".ant-segmented").get_by_text("Messages", exact=True).click()
    expect(page.get_by_role("img", name=f"Messages per day from {start} to {today}")).to_be_visible()
    assert query_of(page)["metric"] == ["msg_total"]
    shoot(page, "group-stats-page")

    # One owner's figures: the URL says so, and a reload keeps the view.
    with tenant_context(dashboard.tenant):
        owner = (
            GroupStatDay.objects.filter(day__gte=start, chat_total__gt=0)
            .order_by("-chat_total", "owner_id")
            .select_related("owner")
            .first()
            .owner
        )
    mine = stat_figures(dashboard.tenant, start=start, end=today, owner_id=owner.pk)
    type_and_pick(page, page.get_by_label("Owner", exact=True), owner.name)
    expect(page).to_have_url(re.compile(r"[?&]owner=" + str(owner.pk)))
    expect(shown("chat_total")).to_have_text(f"{mine['chat_total']:,}")
    expect(shown("msg_total")).to_have_text(f"{mine['msg_total']:,}")
    page.reload()
    expect(shown("member_total")).to_have_text(f"{mine['member_total']:,}")
    expect(page.get_by_role("img", name=re.compile("^Messages per day"))).to_be_visible()

    # Only today, which WeCom has not published yet: the page says there are no figures.
    page.goto(f"{dashboard.url}/groups/stats?from={today}&to={today}")
    expect(page.get_by_test_id("group-stats-empty")).to_have_text("No group figures for these days yet")
    expect(page.get_by_test_id("empty")).to_contain_text("each morning")
