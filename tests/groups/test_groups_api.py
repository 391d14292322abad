"""The groups read API: /api/v1/groups/ (list, detail, members, history, stats) and /group-stats/.

alice is admin of tenant A, bob sales in A (WeCom userid "bob": he sees the groups he owns), charlie
admin of tenant B: he gets 404 on A's objects and sees none of them in lists.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from groups.models import GroupMember, GroupStatDay, GroupTag, GroupTagging, JoinWay
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from tests.contacts.conftest import build_a  # noqa: F401 -- fixture reused here
from tests.helpers import assert_problem

GROUPS = "/api/v1/groups/"
GROUP_STATS = "/api/v1/group-stats/"
ITEM_KEYS = {
    "id", "chat_id", "name", "owner", "status", "member_count", "customer_count", "notice", "tags",
    "wecom_created_at", "dismissed_at", "synced_at",
}  # fmt: skip
MEMBER_KEYS = {
    "id", "userid", "type", "name", "group_nickname", "joined_at", "join_scene", "inviter", "state",
    "join_way", "left_at", "quit_scene", "contact_id",
}  # fmt: skip


def results(response) -> list[dict]:
    assert response.status_code == 200, (response.status_code, response.content[:500])
    return response.json()["results"]


def names(response) -> list[str]:
    return [row["name"] for row in results(response)]


def assert_invalid(response, path: str) -> dict:
    body = assert_problem(response, 400, "validation_error")
    assert path in [e["path"] for e in body["errors"]], body
    return body


def ago(days: float = 0, **kwargs) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days, **kwargs)


def day_ago(days: int) -> dt.date:
    """The tenant's calendar date ``days`` ago (filters read dates in the tenant's time zone)."""
    return timezone.localtime(ago(days)).date()


@pytest.fixture
def world(build_a, build_group, tenant_b, alice, bob):  # noqa: F811 -- the imported fixture
    """Tenant A: staff ann and bob, customers 王芳 (ann's) and 李雷 (bob's), three groups, two tags, a
    group code; tenant B: one group."""
    b = build_a
    ann = b.staff("ann", "安娜")
    bob_staff = b.staff("bob", "鲍勃")
    wang = b.contact("王芳", staff=ann, external_userid="wmWANG")
    li = b.contact("李雷", staff=bob_staff, external_userid="wmLI")
    with tenant_context(b.tenant):
        vip = GroupTag.objects.create(name="VIP", color="gold", order=1)
        east = GroupTag.objects.create(name="华东", color="blue", order=2)
        code = JoinWay.objects.create(name="展会活码", state="gc_expo", config_id="cfg1")
    vip_group = build_group(
        owner=ann,
        name="VIP会员群",
        wecom_created_at=ago(40),
        notice="欢迎入群",
        admin_userids=["ann"],
        members=[
            ("ann", "staff", {"name": "安娜", "joined_at": ago(40), "join_scene": 0}),
            ("wmWANG", "customer", {"name": "王芳", "joined_at": ago(30), "inviter_userid": "ann"}),
            ("wmX", "customer", {"name": "路人甲", "joined_at": ago(3), "state": "gc_expo", "join_scene": 3}),
            ("wmY", "customer", {"name": "走了", "joined_at": ago(20), "left_at": ago(2), "quit_scene": 0}),
            (
                "wmZ",
                "customer",
                {"name": "小张", "joined_at": ago(1), "inviter_userid": "wmWANG", "group_nickname": "张三"},
            ),
        ],
    )
    care_group = build_group(
        owner=bob_staff,
        name="售后服务群",
        wecom_created_at=ago(10),
        members=[
            ("bob", "staff", {"name": "鲍勃", "joined_at": ago(10)}),
            ("wmLI", "customer", {"name": "李雷", "joined_at": ago(9)}),
            ("wmWANG", "customer", {"name": "王芳", "joined_at": ago(8)}),
        ],
    )
    gone_group = build_group(owner=ann, name="已解散群", status="dismissed", wecom_created_at=ago(5))
    with tenant_context(b.tenant):
        GroupTagging.objects.create(group=vip_group, tag=vip)
        GroupTagging.objects.create(group=care_group, tag=vip)
        GroupTagging.objects.create(group=care_group, tag=east)
    other = build_group(tenant=tenant_b, owner="carl", name="B的群", members=[("carl", "staff")])
    return {
        "ann": ann, "bob": bob_staff, "wang": wang, "li": li, "vip": vip, "east": east, "code": code,
        "vip_group": vip_group, "care_group": care_group, "gone_group": gone_group, "other": other,
    }  # fmt: skip


# ==================================================================================================
# list
# ==================================================================================================


def test_list_items_carry_owner_tags_and_counts_newest_first(alice_client, world):
    rows = results(alice_client.get(GROUPS))
    assert [r["name"] for r in rows] == ["已解散群", "售后服务群", "VIP会员群"]
    vip = rows[2]
    assert set(vip) == ITEM_KEYS
    assert vip["id"] == world["vip_group"].pk
    assert vip["chat_id"] == world["vip_group"].chat_id
    assert vip["owner"] == {"id": world["ann"].pk, "userid": "ann", "name": "安娜", "avatar": ""}
    assert vip["status"] == "normal"
    assert (vip["member_count"], vip["customer_count"]) == (4, 3)  # wmY left
    assert vip["notice"] == "欢迎入群"
    assert vip["tags"] == [{"id": world["vip"].pk, "name": "VIP", "color": "gold"}]
    assert [t["name"] for t in rows[1]["tags"]] == ["VIP", "华东"]  # in the tags' order
    assert rows[0]["status"] == "dismissed"
    assert rows[0]["dismissed_at"] is not None


def test_sales_sees_only_the_groups_he_owns(bob_client, world):
    assert names(bob_client.get(GROUPS)) == ["售后服务群"]


def test_a_sales_api_key_owns_no_group(key_client_for, tenant_a, world):
    assert results(key_client_for(tenant_a, Role.SALES).get(GROUPS)) == []


def test_other_tenant_sees_only_its_own(charlie_client, world):
    assert names(charlie_client.get(GROUPS)) == ["B的群"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (lambda w: {"owner": w["ann"].pk}, ["已解散群", "VIP会员群"]),
        (lambda w: {"owner": [w["ann"].pk, w["bob"].pk]}, ["已解散群", "售后服务群", "VIP会员群"]),
        (lambda w: {"tag": w["east"].pk}, ["售后服务群"]),
        # Any of the tags, each group once (售后服务群 has both).
        (lambda w: {"tag": [w["vip"].pk, w["east"].pk]}, ["售后服务群", "VIP会员群"]),
        (lambda w: {"status": "dismissed"}, ["已解散群"]),
        (lambda w: {"status": ["normal", "dismissed"]}, ["已解散群", "售后服务群", "VIP会员群"]),
        (lambda w: {"q": "服务"}, ["售后服务群"]),
        (lambda w: {"q": "vip"}, ["VIP会员群"]),
        (lambda w: {"created_after": day_ago(15).isoformat()}, ["已解散群", "售后服务群"]),
        (lambda w: {"created_before": day_ago(20).isoformat()}, ["VIP会员群"]),
        (lambda w: {"created_after": day_ago(10).isoformat(), "created_before": day_ago(10).isoformat()},
         ["售后服务群"]),
        (lambda w: {"members_min": 3}, ["售后服务群", "VIP会员群"]),
        (lambda w: {"members_min": 4}, ["VIP会员群"]),
        (lambda w: {"members_max": 3}, ["已解散群", "售后服务群"]),
        (lambda w: {"owner": w["ann"].pk, "members_min": 1, "tag": w["vip"].pk, "q": "会员"}, ["VIP会员群"]),
    ],
    ids=[
        "owner", "owners", "tag", "tags_any", "status", "statuses", "q", "q_case", "created_after",
        "created_before", "created_one_day", "members_min", "members_min_4", "members_max", "combined",
    ],
)  # fmt: skip
def test_each_filter(alice_client, world, params, expected):
    assert names(alice_client.get(GROUPS, params(world))) == expected


def test_filters_stay_within_the_sales_scope(bob_client, world):
    assert names(bob_client.get(GROUPS, {"owner": world["ann"].pk})) == []
    assert names(bob_client.get(GROUPS, {"tag": world["vip"].pk})) == ["售后服务群"]


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"owner": "ann"}, "owner"),
        ({"owner": "²"}, "owner"),
        ({"tag": "1.5"}, "tag"),
        ({"status": "gone"}, "status"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "9999-12-31"}, "created_before"),
        ({"members_min": "1.5"}, "members_min"),
        ({"members_max": "x"}, "members_max"),
        ({"ordering": "-chat_id"}, "ordering"),
    ],
)
def test_bad_filters_are_400_naming_the_parameter(alice_client, world, params, path):
    assert_invalid(alice_client.get(GROUPS, params), path)


@pytest.mark.parametrize("param", ["owner", "tag"])
def test_an_id_that_names_nothing_matches_nothing(alice_client, world, param):
    assert names(alice_client.get(GROUPS, {param: 999999})) == []
    # An empty value is no filter, as for every parameter.
    assert len(names(alice_client.get(GROUPS, {param: "", "status": ""}))) == 3


def test_another_tenants_tag_and_staff_match_nothing(charlie_client, world):
    assert names(charlie_client.get(GROUPS, {"tag": world["vip"].pk})) == []
    assert names(charlie_client.get(GROUPS, {"owner": world["ann"].pk})) == []


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("-created", ["已解散群", "售后服务群", "VIP会员群"]),
        ("created", ["VIP会员群", "售后服务群", "已解散群"]),
        ("-members", ["VIP会员群", "售后服务群", "已解散群"]),
        ("members", ["已解散群", "售后服务群", "VIP会员群"]),
        ("name", sorted(["已解散群", "售后服务群", "VIP会员群"])),
        ("-name", sorted(["已解散群", "售后服务群", "VIP会员群"], reverse=True)),
    ],
)
def test_ordering(alice_client, world, ordering, expected):
    assert names(alice_client.get(GROUPS, {"ordering": ordering})) == expected


@pytest.mark.parametrize("ordering", ["-created", "members", "name"])
def test_cursor_pages_follow_the_ordering_without_repeats_or_gaps(
    key_client_for, tenant_a, world, build_group, ordering
):
    for i in range(12):
        # Ties on purpose: same creation time and member count for several groups.
        build_group(owner="ann", name=f"群{i % 4}", wecom_created_at=ago(i % 3))
    # One WeCom gave no creation time: sorted by Siyu's, never a null cursor position.
    build_group(owner="ann", name="群x", wecom_created_at=None)
    client = key_client_for(tenant_a, Role.OPERATOR)
    expected = [
        r["id"] for r in results(client.get(GROUPS, {"ordering": ordering, "page_size": 200, "page": 1}))
    ]
    seen, response = [], client.get(GROUPS, {"ordering": ordering, "page_size": 4})
    while True:
        body = response.json()
        assert "cursor=" in (body["next"] or "cursor=")
        seen += [r["id"] for r in body["results"]]
        if not body["next"]:
            break
        response = client.get(body["next"])
    assert seen == expected
    assert len(seen) == 16


def test_the_list_runs_the_same_number_of_queries_for_5_and_40_rows(
    alice_client, world, build_group, django_assert_max_num_queries
):
    tags = [world["vip"], world["east"]]
    for i in range(40):
        group = build_group(owner=["ann", "bob"][i % 2], name=f"会员{i}", members=[("ann", "staff")])
        with tenant_context(group.tenant):
            for tag in tags[: 1 + i % 2]:
                GroupTagging.objects.create(group=group, tag=tag)
    params = {"tag": [t.pk for t in tags], "owner": [world["ann"].pk, world["bob"].pk], "q": "会员"}

    def count(page_size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            rows = results(alice_client.get(GROUPS, {**params, "page_size": page_size}))
        assert len(rows) == page_size
        assert all(row["tags"] and row["owner"] for row in rows)
        return len(ctx.captured_queries)

    assert count(5) == count(40)
    # Session, user, membership; the owner and tag ids checked; the page; its tags.
    with django_assert_max_num_queries(7):
        alice_client.get(GROUPS, {**params, "page_size": 40})


def test_repeated_filters_add_no_distinct(alice_client, world):
    """No filter can repeat a group (owner and status are columns, tag an EXISTS): no DISTINCT, which
    would make the database sort every matching group before it can page."""
    params = {
        "status": ["normal", "dismissed"],
        "owner": [world["ann"].pk, world["bob"].pk],
        "tag": [world["vip"].pk, world["east"].pk],
    }
    with CaptureQueriesContext(connection) as ctx:
        assert names(alice_client.get(GROUPS, params)) == ["售后服务群", "VIP会员群"]
    page = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "groups_group"."id"')]
    assert page
    assert not [sql for sql in page if "DISTINCT" in sql]


# ==================================================================================================
# detail
# ==================================================================================================


def test_detail_adds_admins_and_the_last_7_days(alice_client, world):
    response = alice_client.get(f"{GROUPS}{world['vip_group'].pk}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == ITEM_KEYS | {"admin_userids", "joins_7d", "leaves_7d"}
    assert body["admin_userids"] == ["ann"]
    assert (body["joins_7d"], body["leaves_7d"]) == (2, 1)  # wmX and wmZ joined, wmY left
    assert body["tags"] == [{"id": world["vip"].pk, "name": "VIP", "color": "gold"}]


SUFFIXES = ["", "members/", "history/", "stats/"]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_sales_get_404_on_a_group_they_do_not_own(bob_client, world, suffix):
    assert_problem(bob_client.get(f"{GROUPS}{world['vip_group'].pk}/{suffix}"), 404, "not_found")
    assert bob_client.get(f"{GROUPS}{world['care_group'].pk}/{suffix}").status_code == 200


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_other_tenant_gets_404_on_every_group_route(charlie_client, world, suffix):
    assert_problem(charlie_client.get(f"{GROUPS}{world['vip_group'].pk}/{suffix}"), 404, "not_found")
    assert charlie_client.get(f"{GROUPS}{world['other'].pk}/{suffix}").status_code == 200


def test_unknown_group_is_404(alice_client, world):
    assert_problem(alice_client.get(f"{GROUPS}999999/"), 404, "not_found")


# ==================================================================================================
# members
# ==================================================================================================


def _members(client, group, **params) -> dict[str, dict]:
    rows = results(client.get(f"{GROUPS}{group.pk}/members/", params))
    return {row["userid"]: row for row in rows}


def test_members_are_the_current_stays_latest_join_first(alice_client, world):
    rows = results(alice_client.get(f"{GROUPS}{world['vip_group'].pk}/members/"))
    assert [r["userid"] for r in rows] == ["wmZ", "wmX", "wmWANG", "ann"]
    assert all(set(r) == MEMBER_KEYS for r in rows)


def test_members_resolve_inviter_group_code_and_contact(alice_client, world):
    members = _members(alice_client, world["vip_group"])
    wang = members["wmWANG"]
    assert wang["type"] == "customer"
    assert wang["name"] == "王芳"
    assert wang["inviter"] == {"userid": "ann", "name": "安娜"}  # a staff member's name
    assert wang["contact_id"] == world["wang"].pk
    assert wang["join_way"] is None
    # Invited by a customer: named as in the group.
    assert members["wmZ"]["inviter"] == {"userid": "wmWANG", "name": "王芳"}
    assert members["wmZ"]["group_nickname"] == "张三"
    assert members["wmZ"]["contact_id"] is None  # nobody's customer
    stranger = members["wmX"]
    assert stranger["state"] == "gc_expo"
    assert stranger["join_way"] == {"id": world["code"].pk, "name": "展会活码"}
    assert stranger["join_scene"] == 3
    assert stranger["inviter"] is None
    ann = members["ann"]
    assert (ann["type"], ann["contact_id"], ann["left_at"]) == ("staff", None, None)


def test_members_all_stays_type_and_search(alice_client, world):
    group = world["vip_group"]
    everyone = _members(alice_client, group, current="false")
    assert set(everyone) == {"ann", "wmWANG", "wmX", "wmY", "wmZ"}
    assert everyone["wmY"]["left_at"] is not None
    assert everyone["wmY"]["quit_scene"] == 0
    assert set(_members(alice_client, group, type="staff")) == {"ann"}
    assert set(_members(alice_client, group, type="customer", current="false")) == {
        "wmWANG",
        "wmX",
        "wmY",
        "wmZ",
    }
    assert set(_members(alice_client, group, q="张")) == {"wmZ"}  # the group nickname
    assert set(_members(alice_client, group, q="王")) == {"wmWANG"}


def test_a_sales_member_gets_contact_ids_only_for_his_own_customers(bob_client, world):
    members = _members(bob_client, world["care_group"])
    assert members["wmLI"]["contact_id"] == world["li"].pk
    assert members["wmWANG"]["contact_id"] is None  # ann's customer: bob could not open it


@pytest.mark.parametrize(("params", "path"), [({"current": "maybe"}, "current"), ({"type": "bot"}, "type")])
def test_bad_member_filters_are_400(alice_client, world, params, path):
    assert_invalid(alice_client.get(f"{GROUPS}{world['vip_group'].pk}/members/", params), path)


def test_members_query_count_is_constant(alice_client, world, build_a, django_assert_max_num_queries):  # noqa: F811
    group = world["vip_group"]
    with tenant_context(group.tenant):
        code_states = [JoinWay.objects.create(name=f"码{i}", state=f"gc_{i}").state for i in range(3)]
        staff = [build_a.staff(f"s{i}", f"员工{i}") for i in range(3)]
        contacts = [
            build_a.contact(f"客户{i}", staff=world["ann"], external_userid=f"wmC{i:03d}") for i in range(20)
        ]
        GroupMember.objects.bulk_create(
            GroupMember(
                group=group, userid=f"wmC{i:03d}" if i < 20 else f"wmN{i:03d}", type="customer",
                name=f"成员{i}", joined_at=ago(hours=i), state=code_states[i % 3],
                inviter_userid=staff[i % 3].userid,
            )
            for i in range(40)
        )  # fmt: skip
    url = f"{GROUPS}{group.pk}/members/"

    def count(page_size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            rows = results(alice_client.get(url, {"page_size": page_size}))
        assert len(rows) == page_size
        return len(ctx.captured_queries)

    assert count(5) == count(40)
    rows = results(alice_client.get(url, {"page_size": 40}))
    assert {r["contact_id"] for r in rows if r["userid"].startswith("wmC")} == {c.pk for c in contacts}
    built = [r for r in rows if r["userid"].startswith(("wmC", "wmN"))]
    assert len(built) > 30
    assert all(r["join_way"] and r["inviter"]["name"].startswith("员工") for r in built)
    with django_assert_max_num_queries(9):
        alice_client.get(url, {"page_size": 40})


def test_members_cursor_pages(key_client_for, tenant_a, world):
    client = key_client_for(tenant_a, Role.ADMIN)
    url = f"{GROUPS}{world['vip_group'].pk}/members/"
    seen, response = [], client.get(url, {"page_size": 2, "current": "false"})
    while True:
        body = response.json()
        seen += [r["userid"] for r in body["results"]]
        if not body["next"]:
            break
        assert "cursor=" in body["next"]
        response = client.get(body["next"])
    assert seen == ["wmZ", "wmX", "wmY", "wmWANG", "ann"]


# ==================================================================================================
# history
# ==================================================================================================


def test_history_has_a_joined_and_a_left_entry_per_stay_newest_first(alice_client, world):
    entries = results(alice_client.get(f"{GROUPS}{world['vip_group'].pk}/history/"))
    assert [(e["kind"], e["member"]["userid"]) for e in entries] == [
        ("joined", "wmZ"),
        ("left", "wmY"),
        ("joined", "wmX"),
        ("joined", "wmY"),
        ("joined", "wmWANG"),
        ("joined", "ann"),
    ]
    left = entries[1]
    assert left["at"] == left["member"]["left_at"]
    assert entries[3]["at"] == entries[3]["member"]["joined_at"]
    assert set(left["member"]) == MEMBER_KEYS
    assert entries[4]["member"]["contact_id"] == world["wang"].pk
    assert entries[2]["member"]["join_way"] == {"id": world["code"].pk, "name": "展会活码"}


def test_a_member_who_came_back_has_two_stays_in_the_history(alice_client, world, build_group):
    group = build_group(
        owner="ann",
        members=[
            ("wmBACK", "customer", {"joined_at": ago(5), "left_at": ago(4)}),
            ("wmBACK", "customer", {"joined_at": ago(3)}),
        ],
    )
    entries = results(alice_client.get(f"{GROUPS}{group.pk}/history/"))
    assert [e["kind"] for e in entries] == ["joined", "left", "joined"]
    assert len({e["member"]["id"] for e in entries}) == 2


def test_history_pages_by_number_even_for_api_keys(alice_client, key_client_for, tenant_a, world):
    url = f"{GROUPS}{world['vip_group'].pk}/history/"
    first = alice_client.get(url, {"page_size": 4}).json()
    assert len(first["results"]) == 4
    assert first["page"] == 1
    second = alice_client.get(first["next"]).json()
    assert [e["member"]["userid"] for e in second["results"]] == ["wmWANG", "ann"]
    assert second["next"] is None
    body = key_client_for(tenant_a).get(url, {"page_size": 4}).json()
    assert "page=2" in body["next"]


def test_history_query_count_is_constant(alice_client, world, django_assert_max_num_queries):
    group = world["care_group"]
    with tenant_context(group.tenant):
        GroupMember.objects.bulk_create(
            GroupMember(group=group, userid=f"wmH{i:03d}", type="customer", joined_at=ago(hours=2 * i + 1),
                        left_at=ago(hours=2 * i) if i % 2 else None)
            for i in range(30)
        )  # fmt: skip
    url = f"{GROUPS}{group.pk}/history/"

    def count(page_size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert len(results(alice_client.get(url, {"page_size": page_size}))) == page_size
        return len(ctx.captured_queries)

    assert count(5) == count(40)
    with django_assert_max_num_queries(10):
        alice_client.get(url, {"page_size": 40})


# ==================================================================================================
# per-group stats
# ==================================================================================================


def _day_at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def test_stats_per_day_from_the_stays(alice_client, build_group, world):
    today = timezone.localdate()
    d = [today - dt.timedelta(days=n) for n in range(5, -1, -1)]  # d[0] five days ago ... d[5] today
    group = build_group(
        owner="ann",
        members=[
            ("early", "staff", {"joined_at": _day_at(d[0] - dt.timedelta(days=10), 9)}),
            ("gone_before", "customer", {"joined_at": _day_at(d[0] - dt.timedelta(days=9), 9),
                                         "left_at": _day_at(d[0] - dt.timedelta(days=1), 9)}),
            ("a", "customer", {"joined_at": _day_at(d[1], 10)}),
            ("b", "customer", {"joined_at": _day_at(d[1], 11), "left_at": _day_at(d[3], 12)}),
            ("c", "customer", {"joined_at": _day_at(d[3], 8)}),
            ("unknown", "customer", {"joined_at": None}),
        ],
    )  # fmt: skip
    body = alice_client.get(
        f"{GROUPS}{group.pk}/stats/", {"date_from": d[0].isoformat(), "date_to": d[5].isoformat()}
    ).json()
    assert body["days"] == [
        {"day": d[0].isoformat(), "joins": 0, "leaves": 0, "members": 2},  # early and unknown
        {"day": d[1].isoformat(), "joins": 2, "leaves": 0, "members": 4},
        {"day": d[2].isoformat(), "joins": 0, "leaves": 0, "members": 4},
        {"day": d[3].isoformat(), "joins": 1, "leaves": 1, "members": 4},
        {"day": d[4].isoformat(), "joins": 0, "leaves": 0, "members": 4},
        {"day": d[5].isoformat(), "joins": 0, "leaves": 0, "members": 4},
    ]
    assert body["days"][-1]["members"] == group.member_count


def test_stats_default_to_the_last_30_days(alice_client, world):
    days = alice_client.get(f"{GROUPS}{world['vip_group'].pk}/stats/").json()["days"]
    assert len(days) == 30
    assert days[-1]["day"] == timezone.localdate().isoformat()
    assert days[-1]["members"] == 4
    # wmY, wmX and wmZ; wmWANG (30 days ago) and ann (40) joined before the range's first day.
    assert sum(d["joins"] for d in days) == 3
    assert sum(d["leaves"] for d in days) == 1


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"date_from": "2024-01-01", "date_to": "2025-01-01"}, "date_from"),  # 367 days
        ({"date_from": "2024-02-01", "date_to": "2024-01-01"}, "date_from"),
        ({"date_to": "soon"}, "date_to"),
    ],
)
def test_stats_ranges_are_checked(alice_client, world, params, path):
    assert_invalid(alice_client.get(f"{GROUPS}{world['vip_group'].pk}/stats/", params), path)
    assert_invalid(alice_client.get(GROUP_STATS, params), path)


def test_a_366_day_range_is_fine(alice_client, world):
    params = {"date_from": "2024-01-01", "date_to": "2024-12-31"}  # a leap year: 366 days
    assert len(alice_client.get(f"{GROUPS}{world['vip_group'].pk}/stats/", params).json()["days"]) == 366


# ==================================================================================================
# /group-stats/ (WeCom's daily figures per owner)
# ==================================================================================================


@pytest.fixture
def figures(world):
    today = timezone.localdate()
    days = [today - dt.timedelta(days=n) for n in (3, 2, 1)]
    with tenant_context(world["ann"].tenant):
        for owner, base in ((world["ann"], 10), (world["bob"], 100)):
            for i, day in enumerate(days):
                GroupStatDay.objects.create(
                    owner=owner, day=day, new_chat_cnt=1, chat_total=base + i, chat_has_msg=2,
                    new_member_cnt=3 + i, member_total=base * 10 + i, member_has_msg=4, msg_total=50,
                )  # fmt: skip
    with tenant_context(world["other"].tenant):
        carl = world["other"].owner
        GroupStatDay.objects.create(owner=carl, day=days[0], new_chat_cnt=99, chat_total=99)
    return days


def test_group_stats_sum_the_owners_per_day_with_totals(alice_client, figures):
    today = timezone.localdate()
    body = alice_client.get(
        GROUP_STATS, {"date_from": figures[0].isoformat(), "date_to": today.isoformat()}
    ).json()
    assert [d["day"] for d in body["days"]] == [*(d.isoformat() for d in figures), today.isoformat()]
    first = body["days"][0]
    assert first == {
        "day": figures[0].isoformat(), "has_figures": True, "new_chat_cnt": 2, "chat_total": 110,
        "chat_has_msg": 4, "new_member_cnt": 6, "member_total": 1100, "member_has_msg": 8, "msg_total": 100,
    }  # fmt: skip
    # No figures yet for today: zeros that say so.
    assert (body["days"][-1]["chat_total"], body["days"][-1]["has_figures"]) == (0, False)
    assert body["totals"] == {
        # Events add up over the days; totals are the last day with figures.
        "new_chat_cnt": 6, "chat_has_msg": 12, "new_member_cnt": 24, "member_has_msg": 24, "msg_total": 300,
        "chat_total": 114, "member_total": 1104,
    }  # fmt: skip


def test_group_stats_by_owner_and_within_the_sales_scope(
    alice_client, bob_client, charlie_client, figures, world
):
    params = {"date_from": figures[0].isoformat(), "date_to": figures[-1].isoformat()}
    only_ann = alice_client.get(GROUP_STATS, {**params, "owner": world["ann"].pk}).json()
    assert only_ann["totals"]["chat_total"] == 12
    both = alice_client.get(GROUP_STATS, {**params, "owner": [world["ann"].pk, world["bob"].pk]}).json()
    assert both["totals"]["chat_total"] == 114
    assert bob_client.get(GROUP_STATS, params).json()["totals"]["chat_total"] == 102  # his own only
    assert (
        bob_client.get(GROUP_STATS, {**params, "owner": world["ann"].pk}).json()["totals"]["msg_total"] == 0
    )
    assert charlie_client.get(GROUP_STATS, params).json()["totals"]["new_chat_cnt"] == 99
    # Another tenant's staff id names nobody of charlie's: no figures, as for any unknown id.
    other = charlie_client.get(GROUP_STATS, {**params, "owner": world["ann"].pk}).json()
    assert other["totals"]["new_chat_cnt"] == 0
    assert_invalid(alice_client.get(GROUP_STATS, {**params, "owner": "ann"}), "owner")


def test_group_stats_default_range_and_query_count(alice_client, figures, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        body = alice_client.get(GROUP_STATS).json()
    assert len(body["days"]) == 30
    assert body["totals"]["msg_total"] == 300


# ==================================================================================================
# against the sandbox
# ==================================================================================================


def test_list_detail_and_members_match_what_wecom_has(alice_client, synced, sandbox):
    wecom = {chat.chat_id: chat for chat in sandbox.state.groups.values() if not chat.dismissed}
    assert wecom, "the sandbox corp has groups"
    rows = results(
        alice_client.get(
            GROUPS, {"page_size": 200, "status": ["normal", "owner_resigned", "inheriting", "inherited"]}
        )
    )
    assert {r["chat_id"] for r in rows} == set(wecom)
    for row in rows:
        chat = wecom[row["chat_id"]]
        assert row["name"] == chat.name
        assert row["owner"]["userid"] == chat.owner
        assert row["notice"] == chat.notice
        assert row["member_count"] == len(chat.members)
        assert row["customer_count"] == sum(1 for m in chat.members if m.type == 2)
    row = max(rows, key=lambda r: r["member_count"])
    chat = wecom[row["chat_id"]]
    detail = alice_client.get(f"{GROUPS}{row['id']}/").json()
    assert detail["admin_userids"] == chat.admin_list
    members = results(alice_client.get(f"{GROUPS}{row['id']}/members/", {"page_size": 200}))
    assert {m["userid"] for m in members} == {m.userid for m in chat.members}
    by_id = {m.userid: m for m in chat.members}
    for member in members:
        assert member["type"] == ("staff" if by_id[member["userid"]].type == 1 else "customer")
        assert member["join_scene"] == by_id[member["userid"]].join_scene
