"""The contacts read API: /api/v1/contacts/ (list, detail, timeline, losses), staff/ and departments/.

alice is admin of tenant A, bob sales in A following only his own customers (WeCom userid "bob"),
charlie admin of tenant B: he gets 404 on A's objects and sees none of them in lists.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import ContactEvent, EventType, Follow
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from tests.helpers import assert_problem

CONTACTS = "/api/v1/contacts/"
LOST = "/api/v1/contacts/lost/"
STAFF = "/api/v1/staff/"
DEPARTMENTS = "/api/v1/departments/"


def results(response) -> list[dict]:
    assert response.status_code == 200, (response.status_code, response.content[:500])
    return response.json()["results"]


def names(response) -> list[str]:
    return [row["name"] for row in results(response)]


def assert_invalid(response, path: str) -> dict:
    body = assert_problem(response, 400, "validation_error")
    assert path in [e["path"] for e in body["errors"]], body
    return body


def days_ago(n: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=n)


@pytest.fixture
def world(build_a, alice, bob):
    """Tenant A: ann and bob (staff), three tags, a stage and four customers, one of them lost."""
    b = build_a
    b.department(1, "总部", parent=0)
    b.department(2, "销售部", parent=1)
    b.department(3, "华东", parent=2)
    ann = b.staff("ann", "安娜", departments=(2,))
    bob_staff = b.staff("bob", "鲍勃", departments=(3,))
    group = b.tag_group("客户等级")
    vip, new, cold = b.tag("VIP", group), b.tag("新客", group), b.tag("沉睡")
    lead = b.stage("线索", order=1)
    won = b.stage("成交", order=2)
    wang = b.contact(
        "王芳", staff=ann, tags=[vip, new], remark="老客户王", mobiles=["13800000001"], state="ch_fair",
        added_at=days_ago(30), gender=2, corp_name="思语科技", stage=lead,
    )  # fmt: skip
    li = b.contact(
        "李雷", staff=bob_staff, tags=[vip], state="ch_web", add_way=3, added_at=days_ago(20), gender=1
    )
    han = b.contact("韩梅梅", staff=[ann, bob_staff], tags=[cold], added_at=days_ago(10))
    gone = b.contact(
        "赵走了", staff=bob_staff, follow_status="deleted_by_customer", added_at=days_ago(9), state="ch_web"
    )
    with tenant_context(b.tenant):
        Follow.objects.filter(contact=gone).update(ended_at=days_ago(2))
    return {
        "ann": ann, "bob": bob_staff, "vip": vip, "new": new, "cold": cold, "lead": lead, "won": won,
        "wang": wang, "li": li, "han": han, "gone": gone,
    }  # fmt: skip


# ==================================================================================================
# list
# ==================================================================================================


def test_list_rows_carry_the_contact_level_tags_followers_and_stage(alice_client, world):
    rows = results(alice_client.get(CONTACTS))
    assert [r["name"] for r in rows] == ["赵走了", "韩梅梅", "李雷", "王芳"]  # newest first (-id)
    wang = rows[3]
    assert wang["id"] == world["wang"].pk
    assert wang["external_userid"] == world["wang"].external_userid
    assert wang["gender"] == 2
    assert wang["corp_name"] == "思语科技"
    assert wang["status"] == "active"
    assert wang["stage"] == {"id": world["lead"].pk, "name": "线索"}
    assert sorted(t["name"] for t in wang["tags"]) == ["VIP", "新客"]
    assert {t["group_id"] for t in wang["tags"]} == {world["vip"].group_id}
    assert wang["staff"] == [{"userid": "ann", "name": "安娜"}]
    assert wang["first_added_at"].startswith(timezone.localtime(days_ago(30)).date().isoformat())
    han = rows[1]
    assert sorted(s["userid"] for s in han["staff"]) == ["ann", "bob"]
    assert han["stage"] is None
    assert rows[0]["status"] == "lost"


def test_sales_sees_only_the_customers_he_follows_including_his_lost_one(bob_client, world):
    assert names(bob_client.get(CONTACTS)) == ["赵走了", "韩梅梅", "李雷"]


def test_other_tenant_sees_none_of_them(charlie_client, world):
    assert results(charlie_client.get(CONTACTS)) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (lambda w: {"tags_all": f"{w['vip'].pk},{w['new'].pk}"}, ["王芳"]),
        (lambda w: {"tags_any": f"{w['new'].pk},{w['cold'].pk}"}, ["韩梅梅", "王芳"]),
        (lambda w: {"tags_none": str(w["vip"].pk)}, ["赵走了", "韩梅梅"]),
        (lambda w: {"staff": "bob"}, ["赵走了", "韩梅梅", "李雷"]),
        (lambda w: {"department": "3"}, ["赵走了", "韩梅梅", "李雷"]),
        # A department includes the ones under it (华东 is under 销售部).
        (lambda w: {"department": "2"}, ["赵走了", "韩梅梅", "李雷", "王芳"]),
        (lambda w: {"state": "ch_web"}, ["赵走了", "李雷"]),
        (lambda w: {"add_way": "3"}, ["李雷"]),
        (lambda w: {"stage": str(w["lead"].pk)}, ["王芳"]),
        (lambda w: {"status": "lost"}, ["赵走了"]),
        (lambda w: {"gender": "1"}, ["李雷"]),
        (lambda w: {"added_after": days_ago(12).date().isoformat()}, ["赵走了", "韩梅梅"]),
        (lambda w: {"added_before": days_ago(25).date().isoformat()}, ["王芳"]),
        (lambda w: {"search": "老客户"}, ["王芳"]),
        (lambda w: {"search": "梅"}, ["韩梅梅"]),
        (lambda w: {"search": "138000"}, ["王芳"]),
    ],
    ids=[
        "tags_all", "tags_any", "tags_none", "staff", "department", "department_branch", "state", "add_way",
        "stage", "status", "gender", "added_after", "added_before", "search_remark_chinese",
        "search_name_chinese", "search_mobile",
    ],
)  # fmt: skip
def test_each_filter(alice_client, world, params, expected):
    assert names(alice_client.get(CONTACTS, params(world))) == expected


def test_filters_combine_and_stay_within_the_sales_scope(bob_client, world):
    vip = world["vip"].pk
    assert names(bob_client.get(CONTACTS, {"tags_any": f"{vip},{world['cold'].pk}"})) == ["韩梅梅", "李雷"]
    assert names(bob_client.get(CONTACTS, {"staff": "ann"})) == ["韩梅梅"]


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"added_after": "2024-13-40"}, "added_after"),
        ({"added_before": "yesterday"}, "added_before"),
        ({"tags_any": "1,x"}, "tags_any"),
        ({"status": "gone"}, "status"),
        ({"ordering": "-secret"}, "ordering"),
    ],
)
def test_bad_filters_are_400_naming_the_parameter(alice_client, world, params, path):
    assert_invalid(alice_client.get(CONTACTS, params), path)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"tags_all": "999999"}, []),
        ({"tags_any": "999999"}, []),
        ({"staff": "nobody"}, []),
        ({"stage": "999999"}, []),
        ({"department": "999"}, []),
        # Excludes nothing: no customer has a tag that does not exist.
        ({"tags_none": "999999"}, ["赵走了", "韩梅梅", "李雷", "王芳"]),
    ],
)
def test_an_id_that_names_nothing_matches_nothing_in_the_list(alice_client, world, params, expected):
    assert names(alice_client.get(CONTACTS, params)) == expected


def test_another_tenants_tag_matches_nothing(charlie_client, world):
    assert names(charlie_client.get(CONTACTS, {"tags_all": str(world["vip"].pk)})) == []


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("first_added_at", ["王芳", "李雷", "韩梅梅", "赵走了"]),
        ("-first_added_at", ["赵走了", "韩梅梅", "李雷", "王芳"]),
        ("id", ["王芳", "李雷", "韩梅梅", "赵走了"]),
        ("name", sorted(["王芳", "李雷", "韩梅梅", "赵走了"])),
    ],
)
def test_ordering(alice_client, world, ordering, expected):
    assert names(alice_client.get(CONTACTS, {"ordering": ordering})) == expected


def _walk(client, url, params):
    seen, pages = [], 0
    response = client.get(url, params)
    while True:
        body = response.json()
        assert response.status_code == 200, body
        seen += [row["name"] for row in body["results"]]
        pages += 1
        if not body["next"]:
            return seen, pages
        response = client.get(body["next"])


@pytest.mark.parametrize("ordering", ["first_added_at", "-first_added_at", "name", "-id"])
def test_cursor_pages_follow_the_ordering_without_repeats_or_gaps(alice_client, world, build_a, ordering):
    # Ties on first_added_at and name, and a contact with no follow (no first_added_at), on purpose.
    same = days_ago(5)
    for _ in range(3):
        build_a.contact("同名", staff=world["ann"], added_at=same)
    build_a.contact("无人跟进")
    expected = names(alice_client.get(CONTACTS, {"ordering": ordering, "page_size": 50}))
    assert len(expected) == 8
    seen, pages = _walk(alice_client, CONTACTS, {"ordering": ordering, "page_size": 3, "cursor": ""})
    assert seen == expected
    assert pages == 3


def test_api_keys_get_cursor_pages_and_the_dashboard_page_numbers(
    alice_client, key_client_for, tenant_a, world
):
    page2 = alice_client.get(CONTACTS, {"page": 2, "page_size": 3}).json()
    assert page2["page"] == 2
    assert [r["name"] for r in page2["results"]] == ["王芳"]
    assert page2["next"] is None
    body = key_client_for(tenant_a, Role.OPERATOR).get(CONTACTS, {"page_size": 3}).json()
    assert "page" not in body
    assert "cursor=" in body["next"]


def test_a_sales_api_key_sees_no_customers(key_client_for, tenant_a, world):
    assert results(key_client_for(tenant_a, Role.SALES).get(CONTACTS)) == []


def test_the_list_runs_the_same_number_of_queries_for_5_and_50_rows(
    alice_client, world, build_a, django_assert_max_num_queries
):
    tags = [world["vip"], world["new"], world["cold"]]
    for i in range(46):
        build_a.contact(f"客户{i}", staff=[world["ann"], world["bob"]][: 1 + i % 2], tags=tags[: 1 + i % 3])
    params = {"tags_any": ",".join(str(t.pk) for t in tags), "staff": "ann"}

    def count(page_size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            rows = results(alice_client.get(CONTACTS, {**params, "page_size": page_size}))
        assert len(rows) == page_size
        return len(ctx.captured_queries)

    assert count(5) == count(40)
    with django_assert_max_num_queries(9):
        alice_client.get(CONTACTS, {**params, "page_size": 50})


# ==================================================================================================
# detail and timeline
# ==================================================================================================


def test_detail_has_profile_follows_with_tags_notes_and_timeline(alice_client, world, build_a):
    han = world["han"]
    alice_client.post(f"{CONTACTS}{han.pk}/notes/", {"content": "第一次拜访"}, format="json")
    alice_client.post(f"{CONTACTS}{han.pk}/notes/", {"content": "报价已发"}, format="json")
    with tenant_context(build_a.tenant):
        Follow.objects.filter(contact=han, staff=world["bob"]).update(
            remark="韩总", description="大客户", remark_mobiles=["13900000002"], state="ch_expo"
        )
    response = alice_client.get(f"{CONTACTS}{han.pk}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "韩梅梅"
    assert body["external_userid"] == han.external_userid
    assert [f["staff"] for f in body["follows"]] == [
        {"userid": "ann", "name": "安娜"},
        {"userid": "bob", "name": "鲍勃"},
    ]
    bob_follow = body["follows"][1]
    assert bob_follow["remark"] == "韩总"
    assert bob_follow["description"] == "大客户"
    assert bob_follow["remark_mobiles"] == ["13900000002"]
    assert bob_follow["state"] == "ch_expo"
    assert bob_follow["status"] == "active"
    assert bob_follow["tags"] == [
        {"id": world["cold"].pk, "name": "沉睡", "group_id": world["cold"].group_id}
    ]
    assert [n["content"] for n in body["notes"]] == ["报价已发", "第一次拜访"]
    assert body["notes"][0]["author"]["name"] == "alice"
    assert [e["type"] for e in body["timeline"]] == ["note", "note"]
    assert body["timeline"][0]["payload"]["excerpt"] == "报价已发"


def test_detail_of_a_lost_contact_shows_the_ended_follow(alice_client, world):
    follows = alice_client.get(f"{CONTACTS}{world['gone'].pk}/").json()["follows"]
    assert [(f["staff"]["userid"], f["status"]) for f in follows] == [("bob", "deleted_by_customer")]
    assert follows[0]["ended_at"] is not None


def test_timeline_is_paginated_latest_first_and_the_detail_holds_the_latest_50(alice_client, world, build_a):
    han = world["han"]
    with tenant_context(build_a.tenant):
        ContactEvent.objects.bulk_create(
            ContactEvent(contact=han, type=EventType.TAGGED, occurred_at=timezone.now(), payload={"n": i})
            for i in range(60)
        )
    detail = alice_client.get(f"{CONTACTS}{han.pk}/").json()
    assert len(detail["timeline"]) == 50
    assert detail["timeline"][0]["payload"] == {"n": 59}
    first = alice_client.get(f"{CONTACTS}{han.pk}/timeline/", {"page_size": 25}).json()
    assert [e["payload"]["n"] for e in first["results"]] == list(range(59, 34, -1))
    assert _walk_events(alice_client, f"{CONTACTS}{han.pk}/timeline/") == list(range(59, -1, -1))


def _walk_events(client, url):
    seen, response = [], client.get(url, {"page_size": 25, "cursor": ""})
    while True:
        body = response.json()
        seen += [e["payload"]["n"] for e in body["results"]]
        if not body["next"]:
            return seen
        response = client.get(body["next"])


def test_detail_lists_the_customer_groups_it_is_and_was_in_within_the_callers_scope(
    alice_client, bob_client, world, django_assert_max_num_queries
):
    from tests.groups.conftest import group_build

    han, tenant = world["han"], world["han"].tenant
    uid = han.external_userid
    left = group_build(
        tenant,
        owner=world["ann"],
        name="老客群",
        members=[(uid, "customer", {"joined_at": days_ago(20), "left_at": days_ago(5)})],
    )
    ann_group = group_build(
        tenant, owner=world["ann"], name="VIP群", members=[(uid, "customer", {"joined_at": days_ago(3)})]
    )
    bob_group = group_build(
        tenant, owner=world["bob"], name="鲍勃的群", members=[(uid, "customer", {"joined_at": days_ago(1)})]
    )
    gone = group_build(
        tenant,
        owner=world["ann"],
        name="已解散群",
        status="dismissed",
        members=[(uid, "customer", {"joined_at": days_ago(30)})],
    )
    group_build(
        tenant, owner=world["ann"], name="无关群", members=[(world["wang"].external_userid, "customer")]
    )
    with django_assert_max_num_queries(12):
        body = alice_client.get(f"{CONTACTS}{han.pk}/").json()
    groups = body["groups"]
    assert [(g["id"], g["name"], g["owner_name"], g["group_status"]) for g in groups] == [
        (bob_group.pk, "鲍勃的群", "鲍勃", "normal"),
        (ann_group.pk, "VIP群", "安娜", "normal"),
        (gone.pk, "已解散群", "安娜", "dismissed"),  # the stay stays open: the status tells
        (left.pk, "老客群", "安娜", "normal"),
    ]
    assert set(groups[0]) == {"id", "name", "owner_name", "group_status", "joined_at", "left_at"}
    assert groups[0]["left_at"] is None
    assert groups[3]["left_at"] is not None
    # bob follows 韩梅梅 too, but sees only the groups he owns.
    assert [g["name"] for g in bob_client.get(f"{CONTACTS}{han.pk}/").json()["groups"]] == ["鲍勃的群"]
    assert alice_client.get(f"{CONTACTS}{world['li'].pk}/").json()["groups"] == []


@pytest.mark.parametrize("suffix", ["", "timeline/", "notes/"])
def test_sales_get_404_on_a_customer_they_do_not_follow(bob_client, world, suffix):
    assert_problem(bob_client.get(f"{CONTACTS}{world['wang'].pk}/{suffix}"), 404, "not_found")
    assert bob_client.get(f"{CONTACTS}{world['li'].pk}/{suffix}").status_code == 200


@pytest.mark.parametrize("suffix", ["", "timeline/", "notes/"])
def test_other_tenant_gets_404_on_every_contact_route(charlie_client, world, suffix):
    assert_problem(charlie_client.get(f"{CONTACTS}{world['wang'].pk}/{suffix}"), 404, "not_found")


def test_unknown_contact_is_404(alice_client, world):
    assert_problem(alice_client.get(f"{CONTACTS}999999/"), 404, "not_found")


# ==================================================================================================
# losses
# ==================================================================================================


def local(day: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(f"{day} 12:00"))


@pytest.fixture
def losses(world, build_a):
    """ann lost 王芳 after 30 days (10 March); bob lost 赵走了 after 7 days (1 March)."""
    with tenant_context(build_a.tenant):
        Follow.objects.filter(contact=world["wang"]).update(
            status="deleted_by_customer", added_at=local("2025-02-08"), ended_at=local("2025-03-10")
        )
        Follow.objects.filter(contact=world["gone"]).update(
            added_at=local("2025-02-22"), ended_at=local("2025-03-01")
        )
    return world


def test_losses_newest_first_with_who_when_channel_and_days_stayed(alice_client, losses):
    rows = results(alice_client.get(LOST))
    assert [(r["contact"]["name"], r["staff"]["userid"]) for r in rows] == [
        ("王芳", "ann"),
        ("赵走了", "bob"),
    ]
    assert [r["days_stayed"] for r in rows] == [30, 7]
    assert [r["state"] for r in rows] == ["ch_fair", "ch_web"]
    assert rows[0]["contact"]["external_userid"] == losses["wang"].external_userid
    assert rows[0]["ended_at"] is not None


def test_losses_filter_by_staff_and_dates(alice_client, losses):
    assert [r["contact"]["name"] for r in results(alice_client.get(LOST, {"staff": "bob"}))] == ["赵走了"]
    lost = lambda params: [r["contact"]["name"] for r in results(alice_client.get(LOST, params))]  # noqa: E731
    assert lost({"ended_after": "2025-03-02"}) == ["王芳"]
    assert lost({"ended_after": "2025-03-01"}) == ["王芳", "赵走了"]
    assert lost({"ended_before": "2025-03-01"}) == ["赵走了"]
    assert lost({"ended_before": "2025-02-28"}) == []
    assert lost({"staff": "nobody"}) == []  # a userid that names nobody matches nothing
    assert_invalid(alice_client.get(LOST, {"ended_after": "2024-02-30"}), "ended_after")


def test_sales_see_only_their_own_losses_and_charlie_none(bob_client, charlie_client, losses):
    assert [r["contact"]["name"] for r in results(bob_client.get(LOST))] == ["赵走了"]
    assert results(charlie_client.get(LOST)) == []


def test_losses_cursor_pages(alice_client, losses):
    seen = []
    response = alice_client.get(LOST, {"page_size": 1, "cursor": ""})
    while True:
        body = response.json()
        seen += [r["contact"]["name"] for r in body["results"]]
        if not body["next"]:
            break
        response = alice_client.get(body["next"])
    assert seen == ["王芳", "赵走了"]


def test_losses_query_count_is_constant(alice_client, losses, build_a, django_assert_max_num_queries):
    for i in range(20):
        build_a.contact(f"走{i}", staff=losses["ann"], follow_status="deleted_by_customer")
    with django_assert_max_num_queries(6):
        assert len(results(alice_client.get(LOST))) == 22


# ==================================================================================================
# staff and departments
# ==================================================================================================


def test_staff_with_active_customer_counts(alice_client, bob_client, world, build_a):
    build_a.staff("cat", "卡特", departments=(3,), is_active=False)
    rows = {r["userid"]: r for r in results(alice_client.get(STAFF))}
    assert {u: r["customer_count"] for u, r in rows.items()} == {"ann": 2, "bob": 2, "cat": 0}
    assert rows["ann"]["name"] == "安娜"
    assert rows["ann"]["department_ids"] == [2]
    # Every member reads the staff directory (the list's staff filter needs it).
    assert len(results(bob_client.get(STAFF))) == 3


def test_staff_filters(alice_client, world, build_a):
    build_a.staff("cat", "卡特", departments=(3,), is_active=False)
    userids = lambda params: [r["userid"] for r in results(alice_client.get(STAFF, params))]  # noqa: E731
    assert sorted(userids({"department": 3})) == ["bob", "cat"]
    assert userids({"is_active": "false"}) == ["cat"]
    assert userids({"search": "安"}) == ["ann"]
    assert userids({"search": "bo"}) == ["bob"]


def test_staff_list_query_count_is_constant(alice_client, world, build_a, django_assert_max_num_queries):
    for i in range(30):
        build_a.staff(f"s{i}")
    with django_assert_max_num_queries(5):
        assert len(results(alice_client.get(STAFF))) == 32


def test_staff_detail_and_tenant_isolation(alice_client, charlie_client, world):
    body = alice_client.get(f"{STAFF}{world['bob'].pk}/").json()
    assert body["userid"] == "bob"
    assert body["customer_count"] == 2
    assert_problem(charlie_client.get(f"{STAFF}{world['bob'].pk}/"), 404, "not_found")
    assert results(charlie_client.get(STAFF)) == []


def test_department_tree(alice_client, charlie_client, world, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        tree = alice_client.get(DEPARTMENTS).json()
    assert [d["name"] for d in tree] == ["总部"]
    assert [d["name"] for d in tree[0]["children"]] == ["销售部"]
    assert [d["name"] for d in tree[0]["children"][0]["children"]] == ["华东"]
    assert tree[0]["children"][0]["children"][0]["children"] == []
    assert charlie_client.get(DEPARTMENTS).json() == []
