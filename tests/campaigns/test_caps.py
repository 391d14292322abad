"""The frequency-cap service: WeCom's receive limit per calendar period in the tenant's time zone,
counted from our sends and member-made ones; the tenant's marketing cap over a rolling 7 days; and
what is planned but not sent yet, which warns without blocking."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    CampaignTask,
    ReceiveLimit,
    RecipientStatus,
    TouchKind,
)
from campaigns.services import caps
from campaigns.services.settings import campaign_settings_get, campaign_settings_update
from contacts.models import Contact
from scrm.tenancy.context import tenant_context
from tests.campaigns.conftest import SHANGHAI, at

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")


def _settings(tenant, **values):
    with tenant_context(tenant):
        return campaign_settings_update(settings=campaign_settings_get(tenant=tenant), data=values)


def counts(tenant, targets, when) -> dict:
    with tenant_context(tenant):
        return caps.caps_counts(tenant=tenant, targets=targets, at=when)


def check(tenant, targets, when) -> caps.CapsCheck:
    with tenant_context(tenant):
        return caps.caps_check(tenant=tenant, targets=targets, at=when)


@pytest.mark.parametrize(
    ("mode", "when", "start", "end", "limit"),
    [
        # A month allows as many as it has days.
        ("month", "2026-11-30 23:59:50", "2026-11-01", "2026-12-01", 30),
        ("month", "2027-02-14 12:00", "2027-02-01", "2027-03-01", 28),
        ("month", "2028-02-29 00:00", "2028-02-01", "2028-03-01", 29),
        ("month", "2026-12-31 23:59:59", "2026-12-01", "2027-01-01", 31),
        # Weeks run Monday to Sunday: 2026-11-29 is a Sunday, 2026-11-30 a Monday.
        ("week", "2026-11-29 23:59:59", "2026-11-23", "2026-11-30", 7),
        ("week", "2026-11-30 00:00", "2026-11-30", "2026-12-07", 7),
        ("day", "2026-11-30 23:59:50", "2026-11-30", "2026-12-01", 1),
    ],
)
def test_periods_are_calendar_periods_in_the_tenant_zone(mode, when, start, end, limit):
    assert caps.period_of(at(when), mode=mode, zone=SHANGHAI) == (at(start), at(end), limit)


def test_the_period_is_the_one_of_the_send_time_in_the_tenant_zone():
    # 2026-11-30 20:00 in New York is already December in Shanghai.
    when = at("2026-11-30 20:00", NEW_YORK)
    assert caps.period_of(when, mode="month", zone=NEW_YORK)[:2] == (
        at("2026-11-01", NEW_YORK),
        at("2026-12-01", NEW_YORK),
    )
    assert caps.period_of(when, mode="month", zone=SHANGHAI)[:2] == (at("2026-12-01"), at("2027-01-01"))


def test_receive_count_is_the_period_of_the_send_time_edges_included_or_not(tenant_a, touch):
    when = at("2026-11-30 23:59:50")
    touch("wmA", at("2026-10-31 23:59:59"))  # last month
    touch("wmA", at("2026-11-01 00:00:00"))  # the month's first instant
    touch("wmA", at("2026-11-30 23:59:59"), kind=TouchKind.MEMBER_MASS_MESSAGE)  # member-made counts too
    touch("wmA", at("2026-12-01 00:00:00"))  # next month
    touch("wmA", at("2026-12-01 12:59:59"))
    assert {t: c.receive for t, c in counts(tenant_a, ["wmA", "wmB"], when).items()} == {"wmA": 2}

    # The same rows in New York: November there runs from 12:00 on 1 November to 13:00 on 1 December,
    # China time.
    _settings(tenant_a, time_zone="America/New_York")
    assert counts(tenant_a, ["wmA"], at("2026-11-30 10:00", NEW_YORK))["wmA"].receive == 3


def test_our_sends_and_member_made_ones_reach_the_limit_together(tenant_a, touch):
    _settings(tenant_a, receive_limit=ReceiveLimit.WEEK)
    monday, sunday = at("2026-11-23 00:00"), at("2026-11-29 23:00")
    for day in range(4):
        touch("wmFull", monday + dt.timedelta(days=day))
    for day in range(4, 7):
        touch("wmFull", monday + dt.timedelta(days=day, hours=1), kind=TouchKind.MEMBER_MASS_MESSAGE)
    for day in range(6):
        touch("wmSix", monday + dt.timedelta(days=day))
    # SOP and Moments touches are not mass messages: WeCom's limit does not count them.
    touch("wmSix", monday + dt.timedelta(days=6), kind=TouchKind.SOP)

    assert check(tenant_a, ["wmFull", "wmSix"], sunday).blocked == {"wmFull": caps.RECEIVE_LIMIT}
    # Next Monday is a new week.
    assert check(tenant_a, ["wmFull", "wmSix"], at("2026-11-30 00:00")).blocked == {}


def test_one_a_day_mode_blocks_after_one_today(tenant_a, touch):
    _settings(tenant_a, receive_limit=ReceiveLimit.DAY)
    touch("wmA", at("2026-11-29 23:59:59"))
    touch("wmB", at("2026-11-30 00:00:01"), kind=TouchKind.MEMBER_MASS_MESSAGE)
    with tenant_context(tenant_a):
        blocked = caps.caps_blocked(tenant=tenant_a, targets=["wmA", "wmB"], at=at("2026-11-30 08:00"))
    assert blocked == {"wmB": caps.RECEIVE_LIMIT}


def test_marketing_cap_counts_every_kind_in_the_last_seven_days(tenant_a, touch):
    when = at("2026-11-30 12:00")
    _settings(tenant_a, marketing_cap_per_week=2)
    touch("wmA", when - dt.timedelta(days=7))  # exactly 7 days ago: out of the window
    touch("wmA", when - dt.timedelta(days=6, hours=23), kind=TouchKind.SOP)
    assert check(tenant_a, ["wmA"], when).blocked == {}
    touch("wmA", when - dt.timedelta(hours=1), kind=TouchKind.MOMENT)
    assert check(tenant_a, ["wmA"], when).blocked == {"wmA": caps.MARKETING_CAP}
    _settings(tenant_a, marketing_cap_per_week=None)
    assert check(tenant_a, ["wmA"], when).blocked == {}


def test_the_receive_limit_is_named_before_the_marketing_cap(tenant_a, touch):
    _settings(tenant_a, receive_limit=ReceiveLimit.DAY, marketing_cap_per_week=1)
    touch("wmA", at("2026-11-30 09:00"))
    assert check(tenant_a, ["wmA"], at("2026-11-30 10:00")).blocked == {"wmA": caps.RECEIVE_LIMIT}
    assert check(tenant_a, ["wmA"], at("2026-12-01 10:00")).blocked == {"wmA": caps.MARKETING_CAP}


def test_planned_sends_of_other_campaigns_warn_and_do_not_block(tenant_a, build_a, time_machine):
    time_machine.move_to(at("2026-11-30 10:00"), tick=False)
    _settings(tenant_a, receive_limit=ReceiveLimit.DAY)
    staff = build_a.staff("sally")
    contact = build_a.contact(staff=staff)
    with tenant_context(tenant_a):
        for status, dispatched in (
            (CampaignStatus.SENT, at("2026-11-30 09:00")),
            # Closed: what was not sent by then never will be. Yesterday's: another period.
            (CampaignStatus.CLOSED, at("2026-11-30 09:00")),
            (CampaignStatus.SENT, at("2026-11-29 09:00")),
        ):
            campaign = Campaign.objects.create(
                name=status, status=status, text="hi", dispatched_at=dispatched
            )
            task = CampaignTask.objects.create(campaign=campaign, staff=staff, recipients=1)
            CampaignRecipient.objects.create(
                campaign=campaign, task=task, contact=contact, target=contact.external_userid
            )
    result = check(tenant_a, [contact.external_userid], at("2026-11-30 10:00"))
    assert (result.blocked, result.at_risk) == ({}, {contact.external_userid})
    # Sent already: a Touch counts it and the recipient is no longer planned.
    with tenant_context(tenant_a):
        CampaignRecipient.objects.update(status=RecipientStatus.SENT)
    assert check(tenant_a, [contact.external_userid], at("2026-11-30 10:00")).at_risk == set()


def test_targets_may_be_a_queryset(tenant_a, build_a, touch):
    staff = build_a.staff("sally")
    contacts = [build_a.contact(staff=staff) for _ in range(3)]
    touch(contacts[0].external_userid, at("2026-11-30 09:00"))
    with tenant_context(tenant_a):
        targets = Contact.objects.filter(pk__in=[c.pk for c in contacts[:2]]).values("external_userid")
        found = caps.caps_counts(tenant=tenant_a, targets=targets, at=at("2026-11-30 10:00"))
    assert set(found) == {contacts[0].external_userid}


def test_another_tenants_touches_do_not_count(tenant_a, tenant_b, touch):
    touch("wmA", at("2026-11-30 09:00"), tenant=tenant_b)
    assert counts(tenant_a, ["wmA"], at("2026-11-30 10:00")) == {}
