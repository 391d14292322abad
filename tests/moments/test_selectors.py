"""The Moments reads: figures per principal, stats per department (a member of two departments counts
in both), the ranking's order, the calendar's cap, and the engagement filter's window.

The clock is pinned (this module depends on it: days in the tenant's time zone, "the last N days").
"""

from __future__ import annotations

import datetime as dt

import pytest

from contacts.models import Contact
from moments import selectors
from moments.models import CreateType, InteractionKind
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import DataScope, Role
from scrm.tenancy.principal import Principal
from tests.campaigns.conftest import SHANGHAI
from tests.moments.world import NOW, POSTED, world_fixture  # noqa: F401 -- fixture reused here

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


def admin(tenant) -> Principal:
    return Principal(tenant=tenant, role=Role.ADMIN)


def sales(tenant, userid: str) -> Principal:
    return Principal(tenant=tenant, role=Role.SALES, data_scope=DataScope.SELF, wecom_userid=userid)


def test_a_member_of_two_departments_counts_in_both(world, build_a):
    both = build_a.staff("amy", departments=(2, 3))
    world.publication(world.corp, both, published=True)
    with tenant_context(world.tenant):
        stats = selectors.moment_stats(admin(world.tenant), world.corp, zone=SHANGHAI)
    assert [(d["name"], d["members"], d["published"]) for d in stats.by_department] == [
        ("华东", 2, 2),
        ("华南", 2, 1),
    ]


def test_sales_figures_are_over_its_own_copy(world):
    with tenant_context(world.tenant):
        mine = selectors.moment_figures(sales(world.tenant, "zoe"), [world.corp, world.own])
        nobody = selectors.moment_figures(sales(world.tenant, "nobody"), [world.corp])
        stats = selectors.moment_stats(sales(world.tenant, "zoe"), world.corp, zone=SHANGHAI)
    assert mine[world.corp.pk] == {
        "members": 1,
        "published": 0,
        "reach": 0,
        "likes": 0,
        "comments": 0,
        "engaged_customers": 0,
    }
    assert (mine[world.own.pk]["likes"], mine[world.own.pk]["engaged_customers"]) == (1, 1)
    assert nobody[world.corp.pk]["members"] == 0
    # Zoe's copy has no interactions: the days are only the day it was posted.
    assert stats.by_day == [{"date": dt.date(2026, 11, 28), "published": 0, "likes": 0, "comments": 0}]
    assert stats.totals["interaction_rate"] is None


def test_days_follow_the_tenants_zone(world):
    # The late like on bob's copy (23:30 on the 29th in Shanghai) is on the 29th there, but on the 30th
    # in Tokyo (an hour ahead).
    from zoneinfo import ZoneInfo

    with tenant_context(world.tenant):
        days = selectors.moment_stats(admin(world.tenant), world.corp, zone=ZoneInfo("Asia/Tokyo")).by_day
    assert [(d["date"].isoformat(), d["likes"], d["comments"]) for d in days] == [
        ("2026-11-28", 2, 0),
        ("2026-11-29", 0, 1),
        ("2026-11-30", 1, 0),
    ]


def test_the_ranking_puts_members_without_a_rate_last(world, build_a):
    lone = build_a.staff("lee", "Lee", departments=(2,))
    post = world.moment(create_type=CreateType.MEMBER, creator=lone, created_at_wecom=POSTED)
    world.publication(post, lone, published=True)
    with tenant_context(world.tenant):
        rows = selectors.ranking(
            admin(world.tenant),
            first=dt.date(2026, 11, 1),
            last=dt.date(2026, 11, 30),
            zone=SHANGHAI,
            ordering="publish_rate",
        )
    assert [(r["staff"]["userid"], r["publish_rate"]) for r in rows] == [
        ("zoe", 0.0),
        ("bob", 1.0),
        ("lee", None),
    ]


def test_the_calendar_caps_its_items_but_counts_every_day(world, monkeypatch):
    for i in range(3):
        world.moment(moment_id=f"extra-{i}", created_at_wecom=POSTED + dt.timedelta(minutes=i + 1))
    monkeypatch.setattr(selectors, "CALENDAR_MAX_ITEMS", 2)
    with tenant_context(world.tenant):
        body = selectors.calendar(
            admin(world.tenant), first=dt.date(2026, 11, 1), last=dt.date(2026, 11, 30), zone=SHANGHAI
        )
    assert (len(body["items"]), body["truncated"]) == (2, True)
    assert [(d["date"].isoformat(), d["corp"], d["member"]) for d in body["days"]] == [
        ("2026-11-28", 4, 0),
        ("2026-11-29", 0, 1),
    ]


def test_engaged_within_counts_back_from_now(world):
    with tenant_context(world.tenant):
        world.interaction(
            world.corp, world.bob, InteractionKind.LIKE, NOW - dt.timedelta(days=3), contact=world.bobs[2]
        )

        def engaged(days: int) -> list[str]:
            return sorted(
                Contact.objects.filter(selectors.engaged_within_q(days)).values_list("name", flat=True)
            )

        assert engaged(1) == ["B1", "Z0"]
        assert engaged(3) == ["B0", "B1", "B2", "Z0"]
        # Exactly 3 days ago is within the last 3 days, not within 2.
        assert "B2" not in engaged(2)
