"""The staff directory as WeCom documents it today (wecom-api.md §2a): no ``fetch_child``, so the sync
walks the department tree and lists each department's own members.

The corp: the sandbox's nested departments (members only in leaves, one member in two departments),
plus a member without customer-contact permission in a sub-department, and an app whose visible range
leaves out 市场部, where a member with customer-contact permission sits. Staff, contacts and groups
filtered by department must be exact, WeCom calls bounded, and a re-sync with no change writes nothing.
"""

from __future__ import annotations

import math
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Department, DirectoryStatus, Staff
from contacts.sync import staff_ids_ensure
from scrm.durable import RunStatus
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from scrm.wecom.sandbox.endpoints_core import subtree
from scrm.wecom.sandbox.state import Staff as WeComMember
from tests.contacts.builders import run_sync
from tests.groups.conftest import run_groups_sync
from tests.helpers import sandbox_control

STAFF, CONTACTS, GROUPS = "/api/v1/staff/", "/api/v1/contacts/", "/api/v1/groups/"
VISIBLE = [2, 5, 7]  # every branch but 市场部 (6); the root itself is outside the range too
NO_PERMISSION = "WuQuanXian"  # in 杭州门店 (9), under 门店运营部 (7): no customer-contact permission


@pytest.fixture
def corp(connected, sandbox):
    """The corp described above, synced (contacts, then groups)."""
    state = sandbox.state
    with state.lock:
        state.staff[NO_PERMISSION] = WeComMember(
            userid=NO_PERMISSION, name="吴全先", department=[9], has_contact_permission=False, position="店员"
        )
        outsider = next(s for s in state.staff.values() if s.department == [6])
        outsider.has_contact_permission = True
    sandbox_control(sandbox, "settings/directory", {"visible_range": {"departments": VISIBLE, "users": []}})
    sandbox.calls.clear()
    run = run_sync(connected)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    run_groups_sync(connected)
    return {"tenant": connected, "run": run, "outsider": outsider.userid}


def rows(client, url: str, **params) -> list[dict]:
    """Every row of a paginated list, page after page."""
    found, page = [], 1
    while True:
        answer = client.get(url, {**params, "page": page, "page_size": 200})
        assert answer.status_code == 200, answer.json()
        found.extend(answer.json()["results"])
        if not answer.json()["next"]:
            return found
        page += 1


def members_under(sandbox, department: int) -> set[str]:
    """The members of a department and of every department under it, as WeCom has them."""
    branch = set(subtree(sandbox.state, department))
    return {u for u, s in sandbox.state.staff.items() if branch.intersection(s.department)}


def test_every_member_is_listed_with_what_wecom_gives(corp, sandbox, alice_client):
    staff = {row["userid"]: row for row in rows(alice_client, STAFF)}
    assert set(staff) == set(sandbox.state.staff)
    for userid, member in sandbox.state.staff.items():
        row = staff[userid]
        if userid == corp["outsider"]:
            # Outside the app's visible range: a clear state, and only what WeCom gives (the userid).
            assert (row["directory_status"], row["name"], row["department_ids"]) == (
                "outside_visible_range",
                "",
                [],
            )
            assert (row["is_active"], row["has_contact_permission"], row["wecom_status"]) == (True, True, 0)
            continue
        assert row["directory_status"] == "listed"
        assert (row["name"], row["position"], row["department_ids"]) == (
            member.name,
            member.position,
            member.department,
        )
        assert (row["wecom_status"], row["is_active"]) == (1, True)
        assert row["has_contact_permission"] == member.has_contact_permission
    # The member without customer-contact permission, who sits in a sub-department, is there.
    assert staff[NO_PERMISSION]["department_ids"] == [9]
    assert staff[NO_PERMISSION]["has_contact_permission"] is False
    # The one in two departments keeps both.
    assert sum(len(row["department_ids"]) == 2 for row in staff.values()) == 1


@pytest.mark.parametrize("department", [2, 3, 4, 5, 7, 8, 9])
def test_department_filters_count_the_whole_branch(corp, sandbox, alice_client, department):
    members = members_under(sandbox, department)
    assert members  # every department of the range has people in its branch
    staff = {row["userid"] for row in rows(alice_client, STAFF, department=department)}
    assert staff == members
    followed = {
        ext for ext, contact in sandbox.state.contacts.items() if members.intersection(contact.follows)
    }
    contacts = {row["external_userid"] for row in rows(alice_client, CONTACTS, department=department)}
    assert contacts == followed
    every_group = rows(alice_client, GROUPS)
    owned = {g["chat_id"] for g in every_group if g["owner"] and g["owner"]["userid"] in members}
    assert {g["chat_id"] for g in rows(alice_client, GROUPS, department=department)} == owned


def test_parents_hold_the_members_of_their_branches(corp, sandbox, alice_client):
    """销售中心 and 门店运营部 have no member of their own: filtered by them, their branches come."""
    assert not any(set(s.department) & {2, 7} for s in sandbox.state.staff.values())
    sales = {row["userid"] for row in rows(alice_client, STAFF, department=2)}
    assert sales == members_under(sandbox, 3) | members_under(sandbox, 4)
    assert NO_PERMISSION in {row["userid"] for row in rows(alice_client, STAFF, department=7)}
    # A department outside the visible range is unknown here: it has no members, so nothing matches.
    for url in (CONTACTS, GROUPS):
        assert rows(alice_client, url, department=6) == []


def test_wecom_calls_stay_about_one_per_department(corp, sandbox):
    run = corp["run"]
    follows = sum(
        1
        for c in sandbox.state.contacts.values()
        for u in c.follows
        if sandbox.state.staff[u].has_contact_permission
    )
    visible = len({d for root in VISIBLE for d in subtree(sandbox.state, root)})
    assert sandbox.calls["department/list"] == 1
    assert sandbox.calls["user/list"] == visible
    # user/get only for the member the walk could not see (answered 60011).
    assert sandbox.calls["user/get"] == 1
    # tags, departments, follow users; a list per department; the one user/get; the pages of customers.
    assert run.api_calls == 3 + visible + 1 + math.ceil(follows / 100)


def test_a_resync_with_no_change_writes_no_row(corp, sandbox):
    with CaptureQueriesContext(connection) as queries:
        run = run_sync(corp["tenant"])
    assert (run.status, run.created, run.updated, run.closed) == (RunStatus.SUCCEEDED, 0, 0, 0)
    written = {
        match.group(1)
        for q in queries.captured_queries
        if (match := re.match(r'(?:INSERT INTO|UPDATE|DELETE FROM) "(\w+)"', q["sql"]))
    }
    assert written - {"contacts_syncrun", "contacts_syncrunseen"} == set()


def test_a_member_leaving_the_visible_range_keeps_what_was_read(corp, sandbox, alice_client):
    mover = next(iter(members_under(sandbox, 8)))
    name = sandbox.state.staff[mover].name
    sandbox_control(sandbox, "settings/directory", {"visible_range": {"departments": [2, 5], "users": []}})
    run_sync(corp["tenant"])
    row = next(r for r in rows(alice_client, STAFF) if r["userid"] == mover)
    assert (row["directory_status"], row["name"], row["department_ids"], row["is_active"]) == (
        "outside_visible_range",
        name,
        [8],
        True,
    )
    with tenant_context(corp["tenant"]):
        assert not Department.objects.filter(wecom_id__in=[7, 8, 9]).exists()


def test_a_member_known_from_an_event_only_is_shown_until_the_sync_reads_it(connected, sandbox, alice_client):
    userid = next(u for u, s in sandbox.state.staff.items() if s.department == [4])
    with tenant_context(connected):
        staff_ids_ensure([userid])  # what a callback naming a member not synced yet does
    [row] = [r for r in rows(alice_client, STAFF) if r["userid"] == userid]
    assert (row["directory_status"], row["name"]) == ("not_read", "")
    run_sync(connected)
    [row] = [r for r in rows(alice_client, STAFF) if r["userid"] == userid]
    assert (row["directory_status"], row["name"]) == ("listed", sandbox.state.staff[userid].name)


def test_department_names_are_kept_when_only_the_ids_can_be_read(connected, sandbox):
    run_sync(connected)
    sandbox.set_faults({"apis": {"department/list": {"errors": {"48002": 1.0}}}})
    sandbox.calls.clear()
    run = run_sync(connected)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert sandbox.calls["department/simplelist"] == 1
    with tenant_context(connected):
        names = dict(Department.objects.values_list("wecom_id", "name"))
        assert Staff.objects.filter(directory_status=DirectoryStatus.LISTED).count() == len(
            sandbox.state.staff
        )
    assert names == {d.id: d.name for d in sandbox.state.departments.values()}


def test_filters_work_with_an_api_key_and_stay_in_the_tenant(
    corp, sandbox, key_client_for, charlie_client, bob_client
):
    members = members_under(sandbox, 2)
    key_client = key_client_for(corp["tenant"], Role.OPERATOR)
    assert {row["userid"] for row in rows(key_client, STAFF, department=2)} == members
    assert rows(key_client, CONTACTS, department=2)
    # Another tenant knows none of tenant A's departments or staff.
    assert rows(charlie_client, STAFF, department=2) == []
    for url in (CONTACTS, GROUPS):
        assert rows(charlie_client, url, department=2) == []
    # A sales member's department filter stays within the customers it may see (bob follows none).
    assert rows(bob_client, CONTACTS, department=2) == []
