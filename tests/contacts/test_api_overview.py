"""The overview API: /api/v1/overview/ — headline numbers and the 30-day new/lost series.

alice is admin of tenant A, bob sales in A (WeCom userid "bob"), charlie admin of tenant B. Days are
calendar days in Asia/Shanghai (settings.TIME_ZONE), whatever the database or the server runs in.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.facets import contacts_refresh
from contacts.models import Contact, ContactEvent, ContactStatus, EventType, Follow
from contacts.selectors import overview
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from scrm.tenancy.principal import Principal
from tests.contacts.builders import run_sync
from tests.helpers import assert_problem

OVERVIEW = "/api/v1/overview/"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def body(response) -> dict:
    assert response.status_code == 200, (response.status_code, response.content[:500])
    return response.json()


def headline(data: dict) -> dict:
    keys = ("customers", "new_today", "lost_today", "net_this_week", "tags", "staff")
    return {k: data[k] for k in keys}


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=SHANGHAI)


def today_local() -> dt.date:
    return timezone.now().astimezone(SHANGHAI).date()


def event(tenant, contact, type_: str, at: dt.datetime, staff=None) -> ContactEvent:
    with tenant_context(tenant):
        return ContactEvent.objects.create(contact=contact, type=type_, staff=staff, occurred_at=at)


@pytest.fixture
def world(build_a, alice, bob):
    """Tenant A: ann and bob (plus a resigned cat), three live tags and a deleted one, five customers.

    Today (Shanghai): wang and han add ann, han adds bob too (one new customer, counted once), gone
    and duo delete bob (duo still follows ann, so stays a customer). Ten days ago li added bob,
    forty days ago (outside the window) an older add; a tag event today is neither new nor lost.
    """
    b = build_a
    ann, bob_staff = b.staff("ann", "安娜"), b.staff("bob", "鲍勃")
    b.staff("cat", "卡特", is_active=False)
    group = b.tag_group("等级")
    b.tag("VIP", group), b.tag("新客", group), b.tag("沉睡")
    b.tag("旧标签", group, deleted=True)
    wang = b.contact("王芳", staff=ann)
    li = b.contact("李雷", staff=bob_staff)
    han = b.contact("韩梅梅", staff=[ann, bob_staff])
    gone = b.contact("赵走了", staff=bob_staff, follow_status="deleted_by_customer")
    duo = b.contact("两人", staff=[ann, bob_staff])
    with tenant_context(b.tenant):
        Follow.objects.filter(contact=duo, staff=bob_staff).update(
            status="deleted_by_customer", ended_at=timezone.now()
        )
        contacts_refresh([duo.pk])

    midnight = local_midnight(today_local())
    t = b.tenant
    event(t, wang, EventType.ADDED, midnight + dt.timedelta(minutes=1), ann)
    event(t, han, EventType.ADDED, midnight + dt.timedelta(minutes=2), ann)
    event(t, han, EventType.ADDED, midnight + dt.timedelta(minutes=3), bob_staff)
    event(t, gone, EventType.LOST, midnight + dt.timedelta(minutes=4), bob_staff)
    event(t, duo, EventType.LOST, midnight + dt.timedelta(minutes=5), bob_staff)
    event(t, wang, EventType.TAGGED, midnight + dt.timedelta(minutes=6), ann)
    event(t, li, EventType.ADDED, midnight - dt.timedelta(days=10), bob_staff)
    event(t, li, EventType.ADDED, midnight - dt.timedelta(days=40), bob_staff)
    return {"ann": ann, "bob": bob_staff, "wang": wang, "li": li, "han": han, "gone": gone, "duo": duo}


# ==================================================================================================
# numbers
# ==================================================================================================


def test_headline_numbers_count_the_tenants_data(alice_client, world):
    data = body(alice_client.get(OVERVIEW))
    # customers: wang, li, han, duo (gone is lost); tags: three live; staff: ann and bob (cat resigned)
    assert headline(data) == {
        "customers": 4,
        "new_today": 2,  # wang and han (han added two members: one customer)
        "lost_today": 2,  # gone and duo
        "net_this_week": 0,  # the add ten days ago is before this Monday, whatever today is
        "tags": 3,
        "staff": 2,
    }
    with tenant_context(world["wang"].tenant):
        assert data["customers"] == Contact.objects.filter(status=ContactStatus.ACTIVE).count()
    assert data["time_zone"] == "Asia/Shanghai"
    assert data["today"] == today_local().isoformat()


def test_the_series_has_30_days_oldest_first_with_zeros_for_quiet_days(alice_client, world):
    data = body(alice_client.get(OVERVIEW))
    today = today_local()
    daily = data["daily"]
    assert [d["date"] for d in daily] == [(today - dt.timedelta(days=29 - i)).isoformat() for i in range(30)]
    by_date = {d["date"]: (d["new"], d["lost"]) for d in daily}
    assert by_date[today.isoformat()] == (2, 2)
    assert by_date[(today - dt.timedelta(days=10)).isoformat()] == (1, 0)
    assert sum(n for n, _ in by_date.values()) == 3  # the add forty days ago is outside the window
    assert sum(1 for value in by_date.values() if value == (0, 0)) == 28


def test_days_are_counted_in_shanghai_time(alice_client, build_a):
    """00:00 in Shanghai is 16:00 UTC the day before: an event then is today's, one a second
    earlier yesterday's, although both fall on the same UTC date."""
    staff = build_a.staff("ann")
    early, late = build_a.contact("早", staff=staff), build_a.contact("晚", staff=staff)
    midnight = local_midnight(today_local())
    event(build_a.tenant, early, EventType.ADDED, midnight, staff)
    event(build_a.tenant, late, EventType.ADDED, midnight - dt.timedelta(seconds=1), staff)
    assert (
        midnight.astimezone(dt.UTC).date() == (midnight - dt.timedelta(seconds=1)).astimezone(dt.UTC).date()
    )

    data = body(alice_client.get(OVERVIEW))
    assert data["new_today"] == 1
    assert [(d["new"], d["lost"]) for d in data["daily"][-2:]] == [(1, 0), (1, 0)]


def test_the_week_starts_on_monday_in_shanghai(tenant_a, build_a):
    """Net this week counts from Monday 00:00 Shanghai (a Sunday-night loss is last week's)."""
    staff = build_a.staff("ann")
    now = dt.datetime(2025, 3, 12, 10, 0, tzinfo=SHANGHAI)  # a Wednesday
    monday = dt.datetime(2025, 3, 10, tzinfo=SHANGHAI)
    customers = [build_a.contact(f"客户{i}", staff=staff) for i in range(4)]
    event(tenant_a, customers[0], EventType.ADDED, monday, staff)
    event(tenant_a, customers[1], EventType.ADDED, now - dt.timedelta(hours=1), staff)
    event(tenant_a, customers[2], EventType.LOST, monday + dt.timedelta(days=1), staff)
    event(tenant_a, customers[3], EventType.LOST, monday - dt.timedelta(seconds=1), staff)  # Sunday
    event(tenant_a, customers[3], EventType.ADDED, now + dt.timedelta(hours=1), staff)  # later today

    with tenant_context(tenant_a):
        data = overview(Principal(tenant=tenant_a, role=Role.ADMIN), now=now)
    assert data["week_start"] == dt.date(2025, 3, 10)
    assert data["today"] == dt.date(2025, 3, 12)
    assert data["net_this_week"] == 3 - 1  # Monday's add and today's two, Tuesday's loss
    assert (data["new_today"], data["lost_today"]) == (2, 0)
    assert data["daily"][-1]["date"] == dt.date(2025, 3, 12)
    assert data["daily"][-4] == {"date": dt.date(2025, 3, 9), "new": 0, "lost": 1}
    assert data["daily"][0]["date"] == dt.date(2025, 2, 11)


def test_numbers_after_a_real_sync_match_the_synced_follows(connected, alice_client, sandbox):
    run_sync(connected)
    data = body(alice_client.get(OVERVIEW))
    with tenant_context(connected):
        assert data["customers"] == Contact.objects.filter(status=ContactStatus.ACTIVE).count() > 0
        added_per_day = defaultdict(set)
        for contact_id, added_at in Follow.objects.values_list("contact_id", "added_at"):
            added_per_day[added_at.astimezone(SHANGHAI).date().isoformat()].add(contact_id)
    assert {d["date"]: d["new"] for d in data["daily"] if d["new"]} == {
        day: len(ids) for day, ids in added_per_day.items() if day >= data["daily"][0]["date"]
    }
    assert data["tags"] > 0
    assert data["staff"] > 0


# ==================================================================================================
# scope and access
# ==================================================================================================


def test_sales_sees_numbers_about_its_own_customers(bob_client, world):
    data = body(bob_client.get(OVERVIEW))
    assert headline(data) == {
        "customers": 2,  # li and han (duo now only follows ann; gone is lost)
        "new_today": 1,  # han added bob
        "lost_today": 2,  # gone and duo deleted bob
        "net_this_week": -1,
        "tags": 3,  # the tenant's directory, as the tag pickers show it
        "staff": 2,
    }
    assert sum(d["new"] for d in data["daily"]) == 2  # han today and li ten days ago


def test_other_tenant_sees_only_its_own(charlie_client, alice_client, world, build_b):
    staff = build_b.staff("zed")
    contact = build_b.contact("乙方客户", staff=staff)
    event(build_b.tenant, contact, EventType.ADDED, timezone.now(), staff)
    assert headline(body(charlie_client.get(OVERVIEW))) == {
        "customers": 1,
        "new_today": 1,
        "lost_today": 0,
        "net_this_week": 1,
        "tags": 0,
        "staff": 1,
    }
    assert body(alice_client.get(OVERVIEW))["customers"] == 4


def test_api_keys_read_it_with_their_role_scope(key_client_for, tenant_a, alice_client, world):
    assert body(key_client_for(tenant_a, Role.ADMIN).get(OVERVIEW)) == body(alice_client.get(OVERVIEW))
    sales = body(key_client_for(tenant_a, Role.SALES).get(OVERVIEW))
    # A sales key follows nobody: no customers' numbers, only the directory counts.
    assert headline(sales) == {
        "customers": 0,
        "new_today": 0,
        "lost_today": 0,
        "net_this_week": 0,
        "tags": 3,
        "staff": 2,
    }


def test_anonymous_gets_401(client, world):
    assert_problem(client.get(OVERVIEW), 401, "not_authenticated")


def test_writes_are_not_allowed(alice_client, world):
    assert alice_client.post(OVERVIEW, {}).status_code == 405


def test_query_count_is_constant_however_many_events(
    alice_client, world, build_a, django_assert_max_num_queries
):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            body(alice_client.get(OVERVIEW))
        return len(ctx.captured_queries)

    before = count()
    for i in range(60):
        contact = build_a.contact(f"新{i}", staff=world["ann"])
        event(
            build_a.tenant, contact, EventType.ADDED, timezone.now() - dt.timedelta(days=i % 30), world["ann"]
        )
        event(
            build_a.tenant, contact, EventType.LOST, timezone.now() - dt.timedelta(days=i % 7), world["ann"]
        )
    assert count() == before
    with django_assert_max_num_queries(7):
        body(alice_client.get(OVERVIEW))
