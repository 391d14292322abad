"""The Tags page (corp tags written to WeCom first) and the Staff page (department tree, customer counts).

Each test first runs a full sync of tenant A from the sandbox corp. What WeCom was asked is read from
the sandbox's records; what the pages show is compared with the database.
"""

from __future__ import annotations

import re
from collections import Counter

from playwright.sync_api import Page, expect

from contacts.models import Department, Follow, FollowStatus, Staff, Tag, TagGroup
from contacts.selectors import department_subtree
from scrm.tenancy.context import tenant_context
from tests.browser.conftest import records, shoot

# Waits on a write: the API calls WeCom (the sandbox) first, one call per changed item, then the list
# is fetched again; on a loaded machine that takes longer than expect's default 5 s.
WRITE = 15_000


def shown_groups(page: Page) -> list[str]:
    return page.get_by_test_id("tag-group").evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")


def db_groups(tenant) -> list[str]:
    with tenant_context(tenant):
        return list(
            TagGroup.objects.filter(deleted=False).order_by("-order", "id").values_list("name", flat=True)
        )


def tag_rows(group) -> list[str]:
    """The tag names of a group's table, top to bottom (without a read-only badge)."""
    names = group.locator("tbody tr.ant-table-row td:first-child .ant-typography")
    return [text.strip() for text in names.all_text_contents()]


def made_by_siyu(dashboard, tag: Tag) -> None:
    """As if Siyu had created the tag (a sync finds every tag read-only: WeCom lets an app change only
    the tags it created, and its lists do not say whose a tag is)."""
    with tenant_context(dashboard.tenant):
        Tag.objects.filter(pk=tag.pk).update(created_by_app=True)
    with dashboard.sandbox.state.lock:
        dashboard.sandbox.state.tags[tag.wecom_id].app_created = True


def open_tags(page: Page, dashboard, login) -> None:
    login(page, dashboard.admin)
    page.get_by_role("link", name="Tags", exact=True).click()
    expect(page.get_by_role("heading", name="Tags", level=3)).to_be_visible()
    expect(page.get_by_test_id("tag-group").first).to_be_visible()


def test_admin_creates_renames_and_reorders_tags_in_wecom(synced, page, login):
    dashboard = synced
    open_tags(page, dashboard, login)

    # The groups in WeCom's order, each with its WeCom id and its sync state.
    assert shown_groups(page) == db_groups(dashboard.tenant)
    with tenant_context(dashboard.tenant):
        first = TagGroup.objects.filter(deleted=False).order_by("-order", "id").first()
        first_tags = list(first.tags.filter(deleted=False).order_by("-order", "id"))
    region = page.get_by_role("region", name=first.name, exact=True)
    expect(region).to_contain_text(first.wecom_id)
    expect(region).to_contain_text("In sync with WeCom")
    assert tag_rows(region) == [t.name for t in first_tags]
    expect(region.get_by_role("row").filter(has_text=first_tags[0].name)).to_contain_text(
        first_tags[0].wecom_id
    )
    # Found in WeCom, not made here: read-only, and the page says why.
    expect(region).to_contain_text("Read-only")
    expect(region.get_by_role("button", name=f"Rename group {first.name}")).to_be_disabled()
    expect(region.get_by_role("button", name=f"Delete tag {first_tags[0].name}", exact=True)).to_be_disabled()

    # A new group with two tags: WeCom's add_corp_tag is called, its ids are shown.
    page.get_by_role("button", name="New tag group").click()
    dialog = page.get_by_role("dialog", name="New tag group")
    dialog.get_by_label("Group name").fill("会员权益")
    dialog.get_by_label("Tag 1", exact=True).fill("积分兑换")
    dialog.get_by_role("button", name="Add another tag").click()
    dialog.get_by_label("Tag 2", exact=True).fill("生日礼")
    dialog.get_by_role("button", name="Create in WeCom").click()
    expect(dialog).to_be_hidden(timeout=WRITE)
    created = page.get_by_role("region", name="会员权益", exact=True)
    expect(created).to_be_visible(timeout=WRITE)
    assert tag_rows(created) == ["积分兑换", "生日礼"]
    [add] = [b for b in records(dashboard, "add_corp_tag") if b.get("group_name") == "会员权益"]
    assert [t["name"] for t in add["tag"]] == ["积分兑换", "生日礼"]
    with tenant_context(dashboard.tenant):
        group = TagGroup.objects.get(name="会员权益", deleted=False)
        gift = group.tags.get(name="生日礼")
    expect(created).to_contain_text(group.wecom_id)
    expect(created.get_by_role("row").filter(has_text="生日礼")).to_contain_text(gift.wecom_id)
    # A new group comes last, as in WeCom.
    assert shown_groups(page)[-1] == "会员权益"

    # Rename a tag: edit_corp_tag with the tag's WeCom id.
    created.get_by_role("button", name="Rename tag 生日礼").click()
    dialog = page.get_by_role("dialog", name="Rename tag")
    dialog.get_by_label("Tag name").fill("生日礼包")
    dialog.get_by_role("button", name="Save to WeCom").click()
    expect(dialog).to_be_hidden(timeout=WRITE)
    expect(created.get_by_role("row").filter(has_text="生日礼包")).to_be_visible(timeout=WRITE)
    assert {"id": gift.wecom_id, "name": "生日礼包"} in [
        {k: v for k, v in b.items() if k in ("id", "name")} for b in records(dashboard, "edit_corp_tag")
    ]
    with tenant_context(dashboard.tenant):
        assert Tag.objects.get(pk=gift.pk).name == "生日礼包"

    # Reorder from the keyboard: the group moves up twice, keeping the focus on its button.
    move_up = page.get_by_role("button", name="Move group 会员权益 up")
    move_up.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("tag-group").nth(-2)).to_have_attribute(
        "aria-label", "会员权益", timeout=WRITE
    )
    expect(move_up).to_be_focused(timeout=WRITE)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("tag-group").nth(-3)).to_have_attribute(
        "aria-label", "会员权益", timeout=WRITE
    )
    assert shown_groups(page) == db_groups(dashboard.tenant)
    assert any(b.get("id") == group.wecom_id and "order" in b for b in records(dashboard, "edit_corp_tag"))

    # A tag moves within its group.
    created.get_by_role("button", name="Move tag 生日礼包 up").click()
    expect(created.locator("tbody tr.ant-table-row").first).to_contain_text("生日礼包", timeout=WRITE)
    assert tag_rows(created) == ["生日礼包", "积分兑换"]
    with tenant_context(dashboard.tenant):
        ordered = list(
            group.tags.filter(deleted=False).order_by("-order", "id").values_list("name", flat=True)
        )
    assert ordered == ["生日礼包", "积分兑换"]
    shoot(page, "tags")


def test_deleting_a_tag_asks_first_then_removes_it_in_wecom_and_from_customers(synced, page, login):
    dashboard = synced
    with tenant_context(dashboard.tenant):
        carried = Counter(t for tags in Follow.objects.values_list("tag_ids", flat=True) for t in tags)
        tag = max(
            Tag.objects.filter(deleted=False).select_related("group"), key=lambda t: carried[t.wecom_id]
        )
    assert carried[tag.wecom_id] > 0
    made_by_siyu(dashboard, tag)
    open_tags(page, dashboard, login)
    region = page.get_by_role("region", name=tag.group.name, exact=True)
    row = region.get_by_role("row").filter(has_text=tag.wecom_id)

    # Cancel: nothing is deleted anywhere.
    region.get_by_role("button", name=f"Delete tag {tag.name}", exact=True).click()
    confirm = page.get_by_role("dialog")
    expect(confirm).to_contain_text(f"Delete the tag “{tag.name}”?")
    expect(confirm).to_contain_text("deletes the tag in WeCom and removes it from every customer who has it")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(row).to_be_visible()
    assert records(dashboard, "del_corp_tag") == []

    # Confirm: WeCom deletes it, and no customer carries it any more.
    region.get_by_role("button", name=f"Delete tag {tag.name}", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Delete in WeCom").click()
    expect(page.get_by_text(f"“{tag.name}” deleted in WeCom")).to_be_visible(timeout=WRITE)
    expect(row).to_have_count(0, timeout=WRITE)
    assert records(dashboard, "del_corp_tag") == [{"tag_id": [tag.wecom_id]}]
    with tenant_context(dashboard.tenant):
        assert Tag.objects.get(pk=tag.pk).deleted
        assert not any(tag.wecom_id in tags for tags in Follow.objects.values_list("tag_ids", flat=True))

    # "Show deleted" lists it again, marked as deleted in WeCom, with nothing left to do to it.
    page.get_by_label("Show those deleted in WeCom").click()
    deleted_row = region.get_by_role("row").filter(has_text=tag.wecom_id)
    expect(deleted_row).to_contain_text("Deleted in WeCom")
    expect(deleted_row.get_by_role("button", name=re.compile(r"^(Rename|Delete|Move)"))).to_have_count(0)


def test_a_wecom_refusal_shows_its_errcode_and_hint(synced, page, login):
    dashboard = synced
    with tenant_context(dashboard.tenant):
        tag = Tag.objects.filter(deleted=False).select_related("group").order_by("id").first()
        sibling = Tag.objects.filter(group=tag.group, deleted=False).exclude(pk=tag.pk).first()
    made_by_siyu(dashboard, tag)
    # Someone renamed a sibling in the WeCom admin console: our copy is stale, WeCom refuses the name.
    with dashboard.sandbox.state.lock:
        dashboard.sandbox.state.tags[sibling.wecom_id].name = "抢先一步"
    open_tags(page, dashboard, login)
    region = page.get_by_role("region", name=tag.group.name, exact=True)
    region.get_by_role("button", name=f"Rename tag {tag.name}", exact=True).click()
    dialog = page.get_by_role("dialog", name="Rename tag")
    dialog.get_by_label("Tag name").fill("抢先一步")
    dialog.get_by_role("button", name="Save to WeCom").click()
    alert = dialog.get_by_role("alert")
    expect(alert).to_contain_text("WeCom refused this (errcode 40071)", timeout=WRITE)
    expect(alert).to_contain_text("A tag with this name already exists in that group.")
    dialog.get_by_role("button", name="Cancel").click()

    # The tag keeps its name, and its sync state says what WeCom refused.
    row = region.get_by_role("row").filter(has_text=tag.wecom_id)
    expect(row).to_contain_text(tag.name)
    expect(row).to_contain_text("WeCom refused the last change")
    expect(row).to_contain_text("errcode 40071: A tag with this name already exists in that group.")
    with tenant_context(dashboard.tenant):
        assert Tag.objects.get(pk=tag.pk).name == tag.name

    # The app may not call the API at all (502): the create dialog says what to fix in WeCom.
    dashboard.sandbox.set_faults({"apis": {"externalcontact/add_corp_tag": {"errors": {"48002": 1.0}}}})
    page.get_by_role("button", name="New tag group").click()
    dialog = page.get_by_role("dialog", name="New tag group")
    dialog.get_by_label("Group name").fill("被拒绝的组")
    dialog.get_by_label("Tag 1", exact=True).fill("标签")
    dialog.get_by_role("button", name="Create in WeCom").click()
    expect(dialog.get_by_role("alert")).to_contain_text("errcode 48002", timeout=WRITE)
    expect(dialog.get_by_role("alert")).to_contain_text("可调用接口的应用")
    with tenant_context(dashboard.tenant):
        assert not TagGroup.objects.filter(name="被拒绝的组").exists()


def staff_counts(tenant) -> dict[str, int]:
    """userid → the customers it actively follows, counted from the follows here."""
    with tenant_context(tenant):
        return Counter(
            Follow.objects.filter(status=FollowStatus.ACTIVE).values_list("staff__userid", flat=True)
        )


def staff_rows(page: Page):
    return page.get_by_role("row").filter(has=page.get_by_test_id("customer-count"))


def test_staff_page_shows_the_department_tree_and_customer_counts(synced, page, login):
    dashboard = synced
    counts = staff_counts(dashboard.tenant)
    with tenant_context(dashboard.tenant):
        departments = list(Department.objects.values_list("wecom_id", "name"))
        staff = list(Staff.objects.order_by("name", "id"))
        branches = {d: set(department_subtree(d)) for d, _ in departments}
    assert any(counts.values())
    login(page, dashboard.admin)
    page.get_by_role("link", name="Staff", exact=True).click()
    expect(page.get_by_role("heading", name="Staff", level=3)).to_be_visible()

    tree = page.get_by_role("tree")
    for _, name in departments:
        expect(tree).to_contain_text(name)

    # Every member, with the customers it follows as the database counts them.
    expect(staff_rows(page)).to_have_count(len(staff))
    for member in staff:
        row = staff_rows(page).filter(has_text=member.userid)
        expect(row.get_by_test_id("customer-count")).to_have_text(str(counts.get(member.userid, 0)))
        status = "Active" if member.is_active else "Resigned" if member.resigned_at else "Not activated"
        expect(row).to_contain_text(status)
        expect(row).to_contain_text("Allowed" if member.has_contact_permission else "Not allowed")
    shoot(page, "staff")

    # A department in the tree filters the table to the members of its whole branch (and goes to the
    # URL): a parent department, whose people mostly sit in the departments under it.
    def members_of(dept: int) -> list:
        return [s for s in staff if branches[dept].intersection(s.department_ids or [])]

    dept_id, dept_name = next(
        (d, n) for d, n in departments if len(branches[d]) > 1 and len(members_of(d)) >= 2
    )
    members = members_of(dept_id)
    assert len(members) > sum(dept_id in (s.department_ids or []) for s in staff)  # more than direct ones
    tree.get_by_text(dept_name, exact=True).click()
    expect(page).to_have_url(re.compile(rf"department={dept_id}\b"))
    expect(staff_rows(page)).to_have_count(len(members))
    for member in members:
        expect(staff_rows(page).filter(has_text=member.userid)).to_have_count(1)
    expect(page.get_by_text(f"Members of {dept_name}")).to_be_visible()

    # Back to everyone, then a search by name.
    page.get_by_role("button", name="All staff").click()
    expect(staff_rows(page)).to_have_count(len(staff))
    target = max(staff, key=lambda s: counts.get(s.userid, 0))
    search = page.get_by_label("Search by name")
    search.fill(target.name)
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"search="))
    matching = sum(target.name in s.name or target.name in s.userid for s in staff)
    expect(staff_rows(page)).to_have_count(matching)
    expect(staff_rows(page).filter(has_text=target.userid)).to_have_count(1)

    # A member's customer count opens the customers list filtered to them.
    count = counts[target.userid]
    page.get_by_role("link", name=f"See the {count} customers of {target.name}").click()
    expect(page).to_have_url(re.compile(rf"/customers\?staff={re.escape(target.userid)}$"))


def test_before_the_first_sync_both_pages_say_what_to_do(dashboard, page, login):
    login(page, dashboard.admin)
    page.goto(dashboard.url + "/tags")
    empty = page.get_by_test_id("empty")
    expect(empty).to_contain_text("No tags yet")
    expect(empty).to_contain_text("Sync your existing tags from WeCom on the Overview page")
    expect(empty.get_by_role("button", name="New tag group")).to_be_visible()

    page.goto(dashboard.url + "/staff")
    expect(page.get_by_text("No departments yet")).to_be_visible()
    expect(page.get_by_test_id("empty").filter(has_text="No staff yet")).to_be_visible()
