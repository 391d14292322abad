"""The Customers page: filters in the URL, the customer drawer (notes, tags through WeCom), segments,
exports and bulk tagging as jobs, and a sales member's "My customers".

Each test first runs a full sync of tenant A from the sandbox corp (~300 customers). What the page
shows is compared with what the database holds, worked out here from the follows themselves (the
counted follows' tags, the salesperson's follows), not through the API's own filter code.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from contacts.models import Contact, Follow, FollowStatus, Note, Tag
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Membership
from tests.browser.conftest import shoot
from tests.helpers import sandbox_control

OPEN = re.compile(r"^Open customer ")


def contact_facts(tenant) -> dict[int, tuple[set[str], bool]]:
    """Contact id → (the WeCom tag ids on its counted follows, whether any follow is active).

    The counted follows are the active ones; a lost customer keeps its last follows' tags.
    """
    with tenant_context(tenant):
        follows = defaultdict(list)
        for contact_id, status, tag_ids in Follow.objects.values_list("contact_id", "status", "tag_ids"):
            follows[contact_id].append((status, set(tag_ids or ())))
    facts = {}
    for contact_id, items in follows.items():
        active = [t for s, t in items if s == FollowStatus.ACTIVE]
        facts[contact_id] = (set().union(*(active or [t for _, t in items])), bool(active))
    return facts


def having_both(tenant, a: Tag, b: Tag) -> list[int]:
    return [cid for cid, (held, _) in contact_facts(tenant).items() if {a.wecom_id, b.wecom_id} <= held]


def pick_two_tags(tenant) -> tuple[Tag, Tag, list[int]]:
    """Two tags of different groups that some (not too many) customers have both of, most of them
    still followed (so WeCom can tag and untag them)."""
    facts = contact_facts(tenant)
    with tenant_context(tenant):
        tags = list(Tag.objects.filter(deleted=False).order_by("id"))
    for a, b in itertools.combinations(tags, 2):
        if a.group_id == b.group_id:
            continue
        both = [cid for cid, (held, _) in facts.items() if {a.wecom_id, b.wecom_id} <= held]
        active = [cid for cid in both if facts[cid][1]]
        if 3 <= len(both) <= 20 and len(active) >= 2:
            return a, b, both
    raise AssertionError("the sandbox corp has no pair of tags with 3 to 20 customers in common")


def names_of(tenant, contact_ids) -> list[str]:
    with tenant_context(tenant):
        return sorted(Contact.objects.filter(pk__in=contact_ids).values_list("name", flat=True))


def shown_names(page: Page) -> list[str]:
    return sorted(page.get_by_role("button", name=OPEN).all_text_contents())


def url_query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def active_option(page: Page):
    """The highlighted option of the open select dropdown (closed ones stay in the page, hidden)."""
    return page.locator(
        ".ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option-active"
    )


def type_and_pick(page: Page, picker, text: str, *, close: bool = True) -> None:
    """Type into a searchable select and take the highlighted match (keyboard only)."""
    picker.click()
    picker.fill(text)
    expect(active_option(page)).to_contain_text(text)
    picker.press("Enter")
    if close:
        picker.press("Escape")


def choose_tag(page: Page, label: str, tag: Tag) -> None:
    type_and_pick(page, page.get_by_label(label, exact=True), tag.name)


def test_admin_filters_by_two_tags_opens_a_customer_notes_tags_and_exports(synced, page, login):
    dashboard = synced
    a, b, both = pick_two_tags(dashboard.tenant)
    expected = names_of(dashboard.tenant, both)

    login(page, dashboard.admin)
    page.get_by_role("link", name="Customers", exact=True).click()
    expect(page.get_by_role("heading", name="Customers", level=3)).to_be_visible()
    expect(page.get_by_role("button", name=OPEN).first).to_be_visible()

    # A row shows a few tags and "+N"; the others are named from the keyboard too.
    more = page.get_by_label(re.compile(r"^Other tags: ")).first
    hidden = more.get_attribute("aria-label").removeprefix("Other tags: ")
    more.focus()
    expect(page.get_by_role("tooltip")).to_have_text(hidden)

    choose_tag(page, "Has all of these tags", a)
    choose_tag(page, "Has all of these tags", b)
    expect(page).to_have_url(re.compile(r"tags_all="))
    assert sorted(url_query(page)["tags_all"][0].split(",")) == sorted([str(a.pk), str(b.pk)])
    expect(page.get_by_role("button", name=OPEN)).to_have_count(len(expected))
    assert shown_names(page) == expected

    # The URL is the view: reloading it shows the same filter and the same customers.
    page.reload()
    filters = page.get_by_role("search", name="Filter customers")
    expect(filters).to_contain_text(a.name)
    expect(filters).to_contain_text(b.name)
    expect(page.get_by_role("button", name=OPEN)).to_have_count(len(expected))
    assert shown_names(page) == expected
    shoot(page, "customers")

    # Open a customer still followed (from the keyboard): its id goes to the URL.
    facts = contact_facts(dashboard.tenant)
    with tenant_context(dashboard.tenant):
        contact = next(
            c
            for c in Contact.objects.filter(pk__in=both).order_by("pk")
            if facts[c.pk][1] and expected.count(c.name) == 1
        )
    page.get_by_role("button", name=f"Open customer {contact.name}", exact=True).focus()
    page.keyboard.press("Enter")
    drawer = page.get_by_role("dialog")
    expect(drawer).to_contain_text(contact.external_userid)
    assert url_query(page)["contact"] == [str(contact.pk)]
    drawer.get_by_role("tab", name="Notes").click()
    note = "Called about the spring launch; call back Friday."
    drawer.get_by_label("New note").fill(note)
    drawer.get_by_role("button", name="Add note").click()
    expect(drawer.get_by_role("tabpanel", name="Notes").get_by_role("listitem").first).to_contain_text(note)
    with tenant_context(dashboard.tenant):
        assert Note.objects.filter(contact=contact, content=note, author=dashboard.admin).exists()
    drawer.get_by_role("tab", name="Timeline").click()
    expect(drawer.get_by_test_id("timeline-event").first).to_contain_text("Note")
    expect(drawer.get_by_test_id("timeline-event").first).to_contain_text(note[:20])

    # Tag them with a tag they do not have: WeCom's mark_tag is called for their follows.
    held = facts[contact.pk][0]
    with tenant_context(dashboard.tenant):
        new_tag = Tag.objects.filter(deleted=False).exclude(wecom_id__in=held).order_by("id").first()
    tags_picker = drawer.get_by_label("Tags", exact=True)
    type_and_pick(page, tags_picker, new_tag.name, close=False)
    expect(page.get_by_text("Tags updated")).to_be_visible()
    tags_picker.press("Escape")
    calls = sandbox_control(dashboard.sandbox, "records/externalcontact/mark_tag")["records"]
    marked = [c["body"] for c in calls if c["body"].get("external_userid") == contact.external_userid]
    assert marked
    assert all(new_tag.wecom_id in body.get("add_tag", []) for body in marked)
    drawer.get_by_role("tab", name="Timeline").click()
    expect(drawer.get_by_test_id("timeline-event").first).to_contain_text("Tagged")
    expect(drawer.get_by_test_id("timeline-event").first).to_contain_text(new_tag.name)
    shoot(page, "customer-drawer")

    # Closing the drawer takes it out of the URL; the filter stays. (Its Close button: Escape reaches the
    # drawer only while focus is inside it, and the timeline's refetch may re-render the focused tab.)
    drawer.get_by_role("button", name="Close").click()
    expect(drawer).to_be_hidden()
    assert "contact" not in url_query(page)
    assert "tags_all" in url_query(page)

    # Export the filtered customers: a job that finishes with a CSV to download.
    page.get_by_role("button", name="Export filtered customers").click()
    job = page.get_by_role("region", name=re.compile(r"^Export #\d+"))
    expect(job).to_contain_text("Done")
    with page.expect_download() as download_info:
        job.get_by_role("link", name="Download").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(row["name"] for row in rows) == expected


def test_clear_filters_segments_and_bulk_untag_by_filter(synced, page, login):
    dashboard = synced
    a, b, both = pick_two_tags(dashboard.tenant)
    expected = names_of(dashboard.tenant, both)
    login(page, dashboard.admin)

    # A link with a filter the API refuses says which, and offers to clear the filters.
    page.goto(f"{dashboard.url}/customers?added_before=9999-12-31")
    error = page.get_by_test_id("list-error")
    expect(error).to_contain_text("Give a date before 9999-12-31.")
    error.get_by_role("button", name="Clear filters").click()
    expect(page).to_have_url(re.compile(r"/customers$"))
    expect(page.get_by_role("button", name=OPEN).first).to_be_visible()

    # A shared link opens the same view; an empty result offers to clear the filters.
    page.goto(f"{dashboard.url}/customers?tags_all={a.pk},{b.pk}&search=no-such-customer-anywhere")
    expect(page.get_by_text("No customers match these filters")).to_be_visible()
    page.get_by_test_id("empty").get_by_role("button", name="Clear filters").click()
    expect(page).to_have_url(re.compile(r"/customers$"))
    expect(page.get_by_role("button", name=OPEN).first).to_be_visible()

    # Save a two-tag filter as a segment, clear, open the segment again.
    page.goto(f"{dashboard.url}/customers?tags_all={a.pk},{b.pk}")
    expect(page.get_by_role("button", name=OPEN)).to_have_count(len(expected))
    page.get_by_role("button", name="Save as segment").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Segment name").fill("Both tags")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Segment “Both tags” saved")).to_be_visible()
    page.get_by_role("search", name="Filter customers").get_by_role("button", name="Clear filters").click()
    expect(page).to_have_url(re.compile(r"/customers$"))
    type_and_pick(page, page.get_by_label("Segment", exact=True), "Both tags", close=False)
    expect(page).to_have_url(re.compile(r"tags_all="))
    expect(page.get_by_role("button", name=OPEN)).to_have_count(len(expected))
    assert shown_names(page) == expected

    # A page past the last one offers the way back, not "no customers".
    page.goto(f"{dashboard.url}/customers?tags_all={a.pk},{b.pk}&page=9")
    expect(page.get_by_text("There are no customers on this page any more")).to_be_visible()
    page.get_by_test_id("empty").get_by_role("button", name="Back to page 1").click()
    expect(page).to_have_url(re.compile(r"tags_all=[^&]*$"))
    expect(page.get_by_role("button", name=OPEN)).to_have_count(len(expected))

    # Untag everyone the filter selects, as a job (the menu opens from the keyboard); afterwards
    # none of them matches the filter.
    page.get_by_role("button", name="Bulk tags").focus()
    page.keyboard.press("Enter")
    page.get_by_role("menuitem", name="Remove tags").click()
    dialog = page.get_by_role("dialog")
    type_and_pick(page, dialog.get_by_label("Tags", exact=True), a.name)
    expect(dialog.get_by_label("Every customer matching the current filters")).to_be_checked()
    dialog.get_by_role("button", name="Start").click()
    job = page.get_by_role("region", name=re.compile(r"^Bulk untag #\d+"))
    expect(job).to_contain_text("Done")
    # Only lost customers keep the tag (WeCom tags follows, and theirs have ended).
    remaining = having_both(dashboard.tenant, a, b)
    assert len(remaining) < len(both)
    assert all(not contact_facts(dashboard.tenant)[cid][1] for cid in remaining)
    expect(page.get_by_role("button", name=OPEN)).to_have_count(len(remaining))
    assert shown_names(page) == names_of(dashboard.tenant, remaining)
    # The segment can be deleted (after confirming).
    page.get_by_role("button", name="Delete segment").click()
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_text("Segment deleted")).to_be_visible()


def test_sales_member_sees_only_its_own_customers(synced, page, login):
    dashboard = synced
    with tenant_context(dashboard.tenant):
        userid = Membership.unscoped.get(tenant=dashboard.tenant, user=dashboard.sales).wecom_userid
        follows = defaultdict(list)
        for contact_id, staff, status in Follow.objects.values_list("contact_id", "staff__userid", "status"):
            follows[contact_id].append((staff, status))
    # Its customers: those it follows now, and the lost ones it followed last.
    mine = [
        cid
        for cid, items in follows.items()
        if (userid, FollowStatus.ACTIVE) in items
        or (all(s != FollowStatus.ACTIVE for _, s in items) and any(u == userid for u, _ in items))
    ]
    assert 0 < len(mine) <= 200
    assert len(mine) < len(follows)
    expected = names_of(dashboard.tenant, mine)

    login(page, dashboard.sales)
    page.get_by_role("link", name="My customers").click()
    expect(page.get_by_role("heading", name="My customers", level=3)).to_be_visible()
    page.get_by_label("Page size").click()
    # antd's visible options are not the (hidden) ARIA ones.
    page.locator(".ant-select-dropdown .ant-select-item-option", has_text="200 / page").click()
    expect(page).to_have_url(re.compile(r"page_size=200"))
    expect(page.get_by_role("button", name=OPEN)).to_have_count(len(expected))
    assert shown_names(page) == expected
    # Segments are managed by admins and operators: a sales member only opens them.
    expect(page.get_by_role("button", name="Save as segment")).to_have_count(0)
    shoot(page, "my-customers")

    # Tags change through its own follow only: WeCom is asked to tag the salesperson's follow.
    following = [cid for cid in mine if (userid, FollowStatus.ACTIVE) in follows[cid]]
    unique = [n for n in expected if expected.count(n) == 1]
    with tenant_context(dashboard.tenant):
        contact = Contact.objects.filter(pk__in=following, name__in=unique).order_by("pk").first()
        held = set(Follow.objects.get(contact=contact, staff__userid=userid).tag_ids or ())
        new_tag = Tag.objects.filter(deleted=False).exclude(wecom_id__in=held).order_by("id").first()
    page.get_by_role("button", name=f"Open customer {contact.name}", exact=True).click()
    drawer = page.get_by_role("dialog")
    expect(drawer).to_contain_text(contact.external_userid)
    tags_picker = drawer.get_by_label("Tags", exact=True)
    expect(tags_picker).to_be_enabled()
    type_and_pick(page, tags_picker, new_tag.name, close=False)
    expect(page.get_by_text("Tags updated")).to_be_visible()
    calls = sandbox_control(dashboard.sandbox, "records/externalcontact/mark_tag")["records"]
    marked = [c["body"] for c in calls if c["body"].get("external_userid") == contact.external_userid]
    assert marked
    assert all(body.get("userid") == userid for body in marked)

    # A customer who deleted it (lost, nobody follows them now) stays in its list but cannot be
    # tagged: the picker says why, instead of reporting a change WeCom was never asked for.
    only_mine = [cid for cid in following if cid != contact.pk and len(follows[cid]) == 1]
    with tenant_context(dashboard.tenant):
        leaving = Contact.objects.filter(pk__in=only_mine).order_by("pk").first()
    answer = sandbox_control(
        dashboard.sandbox,
        "simulate/customer-delete",
        {"userid": userid, "external_userid": leaving.external_userid},
    )
    assert answer["callback"]["delivered"], answer
    page.goto(f"{dashboard.url}/customers?contact={leaving.pk}")
    expect(drawer).to_contain_text(leaving.external_userid)
    expect(drawer).to_contain_text("Lost")
    tags_picker = drawer.get_by_label("Tags", exact=True)
    expect(tags_picker).to_be_disabled()
    expect(tags_picker).to_have_accessible_description(
        "Nobody follows this customer any more: their tags can no longer be changed"
    )
    shoot(page, "customer-drawer-lost")
