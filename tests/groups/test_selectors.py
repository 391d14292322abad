"""groups.selectors: the data scope, the history's UNION, per-group day figures, a contact's groups."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from groups import selectors
from groups.models import GroupMember, GroupStatDay
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import DataScope, Role
from scrm.tenancy.principal import Principal
from tests.contacts.conftest import build_a  # noqa: F401 -- fixture reused here


def ago(days: float = 0, **kwargs) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days, **kwargs)


def principal(tenant, role=Role.SALES, **kwargs) -> Principal:
    return Principal(tenant=tenant, role=role, **kwargs)


@pytest.fixture
def owners(build_a, build_group):  # noqa: F811 -- the imported fixture
    """ann (department 2), bob (department 3), cat (department 3), each owning one group."""
    staff = {
        "ann": build_a.staff("ann", "安娜", departments=(2,)),
        "bob": build_a.staff("bob", "鲍勃", departments=(3,)),
        "cat": build_a.staff("cat", "小猫", departments=(3,)),
    }
    groups = {userid: build_group(owner=member, name=f"{userid}的群") for userid, member in staff.items()}
    orphan = build_group(owner=None, name="无主群")
    return {"staff": staff, "groups": groups, "orphan": orphan, "tenant": build_a.tenant}


def visible(owners, who: Principal) -> set[str]:
    with tenant_context(owners["tenant"]):
        return set(selectors.groups_visible(who).values_list("name", flat=True))


def test_admins_and_operators_see_every_group(owners):
    everything = {"ann的群", "bob的群", "cat的群", "无主群"}
    for role in (Role.ADMIN, Role.OPERATOR):
        assert visible(owners, principal(owners["tenant"], role, data_scope=DataScope.SELF)) == everything


def test_a_sales_member_sees_the_groups_he_owns(owners):
    bob = principal(owners["tenant"], data_scope=DataScope.SELF, wecom_userid="bob")
    assert visible(owners, bob) == {"bob的群"}


def test_a_department_scoped_sales_member_also_sees_his_departments_staffs_groups(owners):
    bob = principal(
        owners["tenant"], data_scope=DataScope.DEPARTMENTS, wecom_userid="bob", department_ids=(3,)
    )
    assert visible(owners, bob) == {"bob的群", "cat的群"}


def test_a_sales_member_with_no_wecom_identity_sees_nothing(owners):
    assert visible(owners, principal(owners["tenant"], data_scope=DataScope.SELF)) == set()


def test_group_stats_by_day_are_scoped_like_the_groups(owners):
    day = timezone.localdate() - dt.timedelta(days=1)
    with tenant_context(owners["tenant"]):
        for userid, total in (("ann", 1), ("bob", 10), ("cat", 100)):
            GroupStatDay.objects.create(
                owner=owners["staff"][userid], day=day, chat_total=total, msg_total=total
            )
        bob = principal(owners["tenant"], data_scope=DataScope.SELF, wecom_userid="bob")
        figures = selectors.group_stats_by_day(bob, start=day, end=day)
        everyone = selectors.group_stats_by_day(principal(owners["tenant"], Role.ADMIN), start=day, end=day)
    assert figures["totals"]["chat_total"] == 10
    assert everyone["days"] == [
        {"day": day, "has_figures": True, "new_chat_cnt": 0, "chat_total": 111, "chat_has_msg": 0,
         "new_member_cnt": 0, "member_total": 0, "member_has_msg": 0, "msg_total": 111},
    ]  # fmt: skip


def test_history_is_one_union_query_newest_first_leave_before_join_at_the_same_instant(
    build_group, tenant_a, django_assert_num_queries
):
    at = ago(1)
    group = build_group(
        owner="ann",
        members=[
            ("quick", "customer", {"joined_at": at, "left_at": at}),  # joined and left within the second
            ("old", "customer", {"joined_at": ago(9)}),
            ("never_timed", "customer", {"joined_at": None}),  # WeCom gave no time: no "joined" entry
        ],
    )
    with tenant_context(tenant_a):
        with django_assert_num_queries(1):
            rows = list(selectors.group_history(group))
        names = dict(GroupMember.objects.filter(group=group).values_list("id", "userid"))
    assert [(names[r["member_id"]], r["kind"]) for r in rows] == [
        ("quick", "left"),
        ("quick", "joined"),
        ("old", "joined"),
    ]


def test_group_stats_count_a_member_who_joined_and_left_the_same_day_in_both(build_group, tenant_a):
    today = timezone.localdate()
    noon = timezone.make_aware(dt.datetime.combine(today, dt.time(12)))
    group = build_group(
        owner="ann",
        members=[
            ("stays", "staff", {"joined_at": noon - dt.timedelta(days=3)}),
            ("visitor", "customer", {"joined_at": noon - dt.timedelta(hours=2), "left_at": noon}),
        ],
    )
    with tenant_context(tenant_a):
        days = selectors.group_stats(group, start=today - dt.timedelta(days=1), end=today)["days"]
    assert days == [
        {"day": today - dt.timedelta(days=1), "joins": 0, "leaves": 0, "members": 1},
        {"day": today, "joins": 1, "leaves": 1, "members": 1},
    ]


def test_contact_groups_current_stays_first_and_within_scope(build_a, build_group, tenant_a):  # noqa: F811
    ann, bob = build_a.staff("ann", "安娜"), build_a.staff("bob", "鲍勃")
    customer = build_a.contact("王芳", staff=[ann, bob], external_userid="wmWANG")
    left = build_group(
        owner=ann, name="老群", members=[("wmWANG", "customer", {"joined_at": ago(20), "left_at": ago(10)})]
    )
    now_in = build_group(owner=bob, name="新群", members=[("wmWANG", "customer", {"joined_at": ago(5)})])
    earlier = build_group(owner=ann, name="早群", members=[("wmWANG", "customer", {"joined_at": ago(30)})])
    build_group(owner=ann, name="别人的群", members=[("wmOTHER", "customer")])
    build_group(
        owner=ann, name="同名员工", members=[("wmWANG", "staff")]
    )  # a staff member with that id: not her
    with tenant_context(tenant_a):
        everything = selectors.contact_groups(principal=principal(tenant_a, Role.ADMIN), contact=customer)
        bobs = selectors.contact_groups(
            principal=principal(tenant_a, data_scope=DataScope.SELF, wecom_userid="bob"), contact=customer
        )
    assert [(g["id"], g["name"], g["owner_name"]) for g in everything] == [
        (now_in.pk, "新群", "鲍勃"),
        (earlier.pk, "早群", "安娜"),
        (left.pk, "老群", "安娜"),
    ]
    assert everything[2]["left_at"] is not None
    assert everything[0]["left_at"] is None
    assert [g["name"] for g in bobs] == ["新群"]


@pytest.mark.parametrize("status", [None, "dismissed"])
def test_the_default_order_reads_an_index_not_a_sort(build_group, tenant_a, status):
    """Newest first is ORDER BY the created sort key, id: an index holds exactly that (per tenant, and
    per tenant and status), so a page reads the index instead of sorting every group of the tenant."""
    for i in range(5):
        build_group(owner=None, wecom_created_at=ago(i) if i else None)
    with tenant_context(tenant_a):
        groups = selectors.group_list(principal(tenant_a, Role.ADMIN))
        if status:
            groups = groups.filter(status=status)
        page = groups.order_by("-created_sort", "-id")[:20]
        # Make the planner show what it can do on a tiny table (until the test's transaction ends).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
        plan = page.explain()
    index = "group_tenant_status_created" if status else "group_tenant_created"
    assert f"Index Scan using {index}" in plan, plan
    assert "Sort" not in plan.replace("Sort Key", ""), plan
