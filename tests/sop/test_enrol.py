"""Enrolment: event triggers (each type and condition, filters, the owning member, the cursor and its 30 s
lag, batches, tenants), exits on events and lost customers, re-enrolment policies, date triggers and group
schedules in the tenant's day (Asia/Shanghai, pinned clock, 29 February), segment entries, and by hand."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from contacts.facets import contacts_refresh
from contacts.models import Contact, ContactEvent, EventCursor, EventType, Follow, FollowStatus, Segment
from contacts.services.events import event_build, events_record
from groups.models import GroupStatus
from scrm.tenancy.actors import SYSTEM
from scrm.tenancy.context import tenant_context
from sop.models import EnrolmentStatus, SopEnrolment, SopKind, SopSegmentMember, SopStatus, SopStepRun
from sop.services import enrol
from sop.services.enrol import (
    CONSUMER,
    owning_members,
    sop_enrol_from_events,
    sop_enrol_manual,
    sop_enrol_scheduled,
    sop_enrol_segments,
    sop_segment_baseline,
)
from value.models import ProfileField

SHANGHAI = ZoneInfo("Asia/Shanghai")
STEPS = [
    {"id": "w", "type": "wait", "days": 1},
    {"id": "r", "type": "action", "action": "remind", "text": "hi"},
]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def later() -> dt.datetime:
    """A tick's ``now`` once the events just written are past the 30 s lag."""
    return timezone.now() + dt.timedelta(seconds=31)


def customer_sop(live_sop, trigger: dict, **extra):
    return live_sop({"trigger": trigger, "steps": STEPS, **extra})


def event(tenant, contact, type_: str, *, staff=None, channel: str = "", **payload) -> ContactEvent:
    with tenant_context(tenant):
        row = event_build(
            contact_id=contact.pk,
            type=type_,
            staff_id=staff.pk if staff else None,
            channel=channel,
            payload=payload,
        )
        events_record([row])
        return row


def enrolments(tenant, sop=None) -> list[SopEnrolment]:
    with tenant_context(tenant):
        rows = SopEnrolment.objects.order_by("id")
        return list(rows.filter(sop=sop) if sop else rows)


@pytest.fixture
def sam(build_a):
    return build_a.staff("sam")


@pytest.fixture
def ann(build_a, sam):
    return build_a.contact("Ann", staff=sam)


# -- event triggers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "type_", "hit", "miss"),
    [
        ({"event": "added", "channel": "expo"}, "added", {"channel": "expo"}, {"channel": "web"}),
        ({"event": "added"}, "added", {"channel": "web"}, None),
        ({"event": "tagged", "tag_ids": [11, 12]}, "tagged", {"tags": [{"id": 12}]}, {"tags": [{"id": 13}]}),
        ({"event": "stage_changed", "stage_id": 5}, "stage_changed", {"to": 5}, {"to": 6}),
        ({"event": "tier_changed", "tier": "silent"}, "tier_changed", {"to": "silent"}, {"to": "active"}),
        (
            {"event": "purchased", "min_amount": "100.00"},
            "purchased",
            {"amount": "100.00"},
            {"amount": "99.99"},
        ),
        ({"event": "group_joined", "group_id": 3}, "group_joined", {"group_id": 3}, {"group_id": 4}),
        ({"event": "custom", "name": "booked"}, "custom", {"name": "booked"}, {"name": "viewed"}),
    ],
)
def test_each_event_trigger_and_condition(tenant_a, live_sop, build_a, sam, trigger, type_, hit, miss):
    sop = customer_sop(live_sop, {"type": "event", **trigger})
    yes = build_a.contact("yes", staff=sam)
    no = build_a.contact("no", staff=sam)
    channel = hit.pop("channel", "")
    event(tenant_a, yes, type_, staff=sam, channel=channel, **hit)
    if miss is not None:
        event(tenant_a, no, type_, staff=sam, channel=miss.pop("channel", ""), **miss)
    event(tenant_a, no, EventType.NOTE)  # another type never triggers
    assert sop_enrol_from_events(now=later()) == 1
    [row] = enrolments(tenant_a, sop)
    assert (row.contact_id, row.staff_id, row.occurrence, row.status) == (yes.pk, sam.pk, "", "active")
    with tenant_context(tenant_a):
        assert row.trigger_event_id == ContactEvent.objects.filter(contact=yes).get().pk
        # The engine made its first step (a one-day wait: due a day later).
        assert SopStepRun.objects.get(enrolment=row).step_id == "w"


def test_trigger_filters_must_match(tenant_a, live_sop, build_a, sam):
    hot = build_a.tag("hot")
    sop = customer_sop(live_sop, {"type": "event", "event": "added", "filters": {"tags_any": str(hot.pk)}})
    warm = build_a.contact("warm", staff=sam, tags=[hot])
    cold = build_a.contact("cold", staff=sam)
    event(tenant_a, warm, EventType.ADDED, staff=sam)
    event(tenant_a, cold, EventType.ADDED, staff=sam)
    sop_enrol_from_events(now=later())
    assert [e.contact_id for e in enrolments(tenant_a, sop)] == [warm.pk]


def test_an_sop_whose_filters_no_longer_resolve_blocks_nothing(tenant_a, live_sop, build_a, ann, sam):
    gone = build_a.tag("gone")
    broken = customer_sop(
        live_sop, {"type": "event", "event": "added", "filters": {"tags_any": str(gone.pk)}}
    )
    fine = customer_sop(live_sop, {"type": "event", "event": "added"})
    with tenant_context(tenant_a):
        gone.deleted = True
        gone.save()
    last = event(tenant_a, ann, EventType.ADDED, staff=sam)
    assert sop_enrol_from_events(now=later()) == 1
    assert enrolments(tenant_a, broken) == []
    assert [e.contact_id for e in enrolments(tenant_a, fine)] == [ann.pk]
    with tenant_context(tenant_a):
        assert EventCursor.objects.get(consumer=CONSUMER).position == last.pk


def test_paused_sops_and_events_before_publishing_enrol_nobody(tenant_a, live_sop, ann, sam):
    event(tenant_a, ann, EventType.ADDED, staff=sam)
    sop = customer_sop(live_sop, {"type": "event", "event": "added"})
    paused = customer_sop(live_sop, {"type": "event", "event": "added"})
    with tenant_context(tenant_a):
        paused.status = SopStatus.PAUSED
        paused.save()
    sop_enrol_from_events(now=later())
    assert enrolments(tenant_a) == []
    event(tenant_a, ann, EventType.ADDED, staff=sam)
    sop_enrol_from_events(now=later())
    assert [e.sop_id for e in enrolments(tenant_a)] == [sop.pk]


def test_the_lag_and_the_cursor(tenant_a, live_sop, ann, sam):
    sop = customer_sop(live_sop, {"type": "event", "event": "added"})
    first = event(tenant_a, ann, EventType.ADDED, staff=sam)
    # Younger than 30 s: it waits, and the cursor stays before it.
    assert sop_enrol_from_events(now=timezone.now()) == 0
    with tenant_context(tenant_a):
        cursor = EventCursor.objects.get(consumer=CONSUMER)
    assert cursor.position < first.pk
    assert sop_enrol_from_events(now=later()) == 1
    with tenant_context(tenant_a):
        assert EventCursor.objects.get(consumer=CONSUMER).position == first.pk
    # Read once: the same event never enrols again, even when the enrolment has ended.
    with tenant_context(tenant_a):
        SopEnrolment.objects.filter(sop=sop).update(status=EnrolmentStatus.COMPLETED)
    assert sop_enrol_from_events(now=later()) == 0


def test_a_call_reads_a_bounded_batch(tenant_a, live_sop, build_a, sam, monkeypatch):
    monkeypatch.setattr(enrol, "EVENT_BATCH", 2)
    sop = customer_sop(live_sop, {"type": "event", "event": "added"})
    contacts = [build_a.contact(f"c{i}", staff=sam) for i in range(5)]
    events = [event(tenant_a, c, EventType.ADDED, staff=sam) for c in contacts]
    assert sop_enrol_from_events(now=later()) == 2
    with tenant_context(tenant_a):
        assert EventCursor.objects.get(consumer=CONSUMER).position == events[1].pk
    assert sop_enrol_from_events(now=later()) == 2
    assert sop_enrol_from_events(now=later()) == 1
    assert len(enrolments(tenant_a, sop)) == 5


def test_tenants_apart(tenant_a, tenant_b, live_sop, build_a, build_b, ann, sam):
    mine = customer_sop(live_sop, {"type": "event", "event": "added"})
    theirs = live_sop({"trigger": {"type": "event", "event": "added"}, "steps": STEPS}, tenant=tenant_b)
    bo = build_b.staff("bo")
    ben = build_b.contact("Ben", staff=bo)
    event(tenant_b, ben, EventType.ADDED, staff=bo)
    event(tenant_a, ann, EventType.ADDED, staff=sam)
    assert sop_enrol_from_events(now=later()) == 2
    assert [e.contact_id for e in enrolments(tenant_a, mine)] == [ann.pk]
    assert [e.contact_id for e in enrolments(tenant_b, theirs)] == [ben.pk]


def test_owning_member(tenant_a, live_sop, build_a, sam):
    tom = build_a.staff("tom")
    idle = build_a.staff("idle")
    with tenant_context(tenant_a):
        idle.has_contact_permission = False
        idle.save()
    both = build_a.contact("both", staff=[sam, tom])
    with tenant_context(tenant_a):
        Follow.objects.filter(contact=both, staff=tom).update(added_at=timezone.now() - dt.timedelta(days=30))
    orphan = build_a.contact("orphan", staff=idle)
    with tenant_context(tenant_a):
        # The event's member when it still follows; else the sender rule (first added: tom).
        assert owning_members(contact_ids=[both.pk], preferred={both.pk: sam.pk}) == {both.pk: sam.pk}
        assert owning_members(contact_ids=[both.pk], preferred={both.pk: idle.pk}) == {both.pk: tom.pk}
        assert owning_members(contact_ids=[both.pk, orphan.pk]) == {both.pk: tom.pk}
    sop = customer_sop(live_sop, {"type": "event", "event": "tagged"})
    event(tenant_a, both, EventType.TAGGED, staff=idle)
    event(tenant_a, orphan, EventType.TAGGED, staff=idle)
    sop_enrol_from_events(now=later())
    assert [(e.contact_id, e.staff_id) for e in enrolments(tenant_a, sop)] == [(both.pk, tom.pk)]


@pytest.mark.parametrize(
    ("reenrol", "while_inside", "after_it_ended"),
    [("never", [""], [""]), ("after_exit", [""], ["", "r2"]), ("always", ["", "r2"], ["", "r2", "r3"])],
)
def test_reenrolment(tenant_a, live_sop, ann, sam, reenrol, while_inside, after_it_ended):
    sop = customer_sop(live_sop, {"type": "event", "event": "tagged"}, reenrol=reenrol)
    event(tenant_a, ann, EventType.TAGGED, staff=sam)
    sop_enrol_from_events(now=later())
    # Still inside: only "always" enters again beside the running enrolment.
    event(tenant_a, ann, EventType.TAGGED, staff=sam)
    sop_enrol_from_events(now=later())
    assert sorted(e.occurrence for e in enrolments(tenant_a, sop)) == while_inside
    with tenant_context(tenant_a):
        SopEnrolment.objects.filter(sop=sop).update(status=EnrolmentStatus.EXITED)
    event(tenant_a, ann, EventType.TAGGED, staff=sam)
    sop_enrol_from_events(now=later())
    assert sorted(e.occurrence for e in enrolments(tenant_a, sop)) == after_it_ended


def test_goal_and_exit_events_end_enrolments(tenant_a, live_sop, build_a, sam):
    sop = customer_sop(
        live_sop,
        {"type": "event", "event": "tagged"},
        goal=[{"event": "purchased"}],
        exit=[{"event": "custom", "name": "unsubscribed"}, {"filters": {"status": "lost"}}],
    )
    buyer, leaver, stayer = (build_a.contact(n, staff=sam) for n in ("buyer", "leaver", "stayer"))
    for contact in (buyer, leaver, stayer):
        event(tenant_a, contact, EventType.TAGGED, staff=sam)
    # The goal event comes in the same read as the trigger: it is after it, so it counts.
    event(tenant_a, buyer, EventType.PURCHASED, amount="5.00")
    sop_enrol_from_events(now=later())
    event(tenant_a, leaver, EventType.CUSTOM, name="unsubscribed")
    event(tenant_a, stayer, EventType.CUSTOM, name="viewed")
    sop_enrol_from_events(now=later())
    rows = {e.contact_id: e for e in enrolments(tenant_a, sop)}
    assert (rows[buyer.pk].status, rows[buyer.pk].goal_at is not None) == ("goal", True)
    assert (rows[leaver.pk].status, rows[leaver.pk].exit_reason) == ("exited", "exit_criteria")
    assert rows[stayer.pk].status == "active"
    with tenant_context(tenant_a):
        assert SopStepRun.objects.get(enrolment=rows[leaver.pk]).status == "cancelled"


def test_lost_customers_exit_every_sop(tenant_a, live_sop, build_a, sam):
    tom = build_a.staff("tom")
    gone = build_a.contact("gone", staff=sam)
    kept = build_a.contact("kept", staff=[sam, tom])
    sop = customer_sop(live_sop, {"type": "manual"})
    with tenant_context(tenant_a):
        sop_enrol_manual(sop=sop, contact_ids=[gone.pk, kept.pk], actor=SYSTEM)
        Follow.objects.filter(contact__in=[gone, kept], staff=sam).update(
            status=FollowStatus.DELETED_BY_CUSTOMER
        )
        contacts_refresh([gone.pk, kept.pk])
    event(tenant_a, gone, EventType.LOST, staff=sam)
    event(tenant_a, kept, EventType.LOST, staff=sam)
    sop_enrol_from_events(now=later())
    rows = {e.contact_id: e for e in enrolments(tenant_a, sop)}
    assert (rows[gone.pk].status, rows[gone.pk].exit_reason) == ("exited", "lost")
    # Another member still follows it: it stays (the engine hands it over).
    assert rows[kept.pk].status == "active"


# -- date triggers and group schedules ------------------------------------------------------------


@pytest.fixture
def birthday(tenant_a):
    with tenant_context(tenant_a):
        return ProfileField.objects.create(key="birthday", label="Birthday", kind="date", yearly=True)


def _born(build_a, sam, tenant, day: str) -> Contact:
    contact = build_a.contact(day, staff=sam)
    with tenant_context(tenant):
        Contact.objects.filter(pk=contact.pk).update(profile={"birthday": day})
    return contact


def test_birthdays_at_the_day_boundary_in_the_tenant_zone(tenant_a, live_sop, build_a, sam, birthday):
    sop = customer_sop(live_sop, {"type": "date", "field": "birthday", "offset_days": 0, "time": "09:00"})
    seventh = _born(build_a, sam, tenant_a, "1990-12-07")
    eighth = _born(build_a, sam, tenant_a, "1985-12-08")
    with time_machine.travel(at("2026-12-07 23:59"), tick=False):  # 15:59 UTC
        assert sop_enrol_scheduled() == 1
        assert sop_enrol_scheduled() == 0  # idempotent
    [row] = enrolments(tenant_a, sop)
    assert (row.contact_id, row.occurrence) == (seventh.pk, "2026-12-07")
    with tenant_context(tenant_a):
        # 09:00 had passed: the first step (a one-day wait) counts from now.
        assert SopStepRun.objects.get(enrolment=row).due_at == at("2026-12-08 23:59")
    with time_machine.travel(at("2026-12-08 00:01"), tick=False):
        assert sop_enrol_scheduled() == 1
    rows = enrolments(tenant_a, sop)
    assert [(e.contact_id, e.occurrence) for e in rows] == [
        (seventh.pk, "2026-12-07"),
        (eighth.pk, "2026-12-08"),
    ]
    # Next year, the same customers again (the day is the occurrence; reenrol does not apply).
    with time_machine.travel(at("2027-12-07 10:00"), tick=False):
        assert sop_enrol_scheduled() == 1
    assert enrolments(tenant_a, sop)[-1].occurrence == "2027-12-07"


def test_each_tenant_has_its_own_day(tenant_a, tenant_b, live_sop, build_a, build_b, sam):
    from campaigns.services.settings import campaign_settings_get

    with tenant_context(tenant_b):
        settings = campaign_settings_get(tenant=tenant_b)
        settings.time_zone = "America/New_York"
        settings.save()
        ProfileField.objects.create(key="birthday", label="Birthday", kind="date", yearly=True)
    with tenant_context(tenant_a):
        ProfileField.objects.create(key="birthday", label="Birthday", kind="date", yearly=True)
    trigger = {"type": "date", "field": "birthday", "time": "09:00"}
    mine = customer_sop(live_sop, trigger)
    theirs = live_sop({"trigger": trigger, "steps": STEPS}, tenant=tenant_b)
    for builder, staff, tenant in ((build_a, sam, tenant_a), (build_b, build_b.staff("bo"), tenant_b)):
        for day in ("1990-12-07", "1990-12-08"):
            _born(builder, staff, tenant, day)
    with time_machine.travel(at("2026-12-08 08:00"), tick=False):  # 19:00 on the 7th in New York
        assert sop_enrol_scheduled() == 2
    assert [e.occurrence for e in enrolments(tenant_a, mine)] == ["2026-12-08"]
    assert [e.occurrence for e in enrolments(tenant_b, theirs)] == ["2026-12-07"]
    with tenant_context(tenant_b):
        # 09:00 in New York on the 7th has passed: due now.
        assert SopStepRun.objects.get().due_at == at("2026-12-09 08:00")


def test_29_february_is_kept_on_the_28th_in_other_years(tenant_a, live_sop, build_a, sam, birthday):
    sop = live_sop(
        {
            "trigger": {"type": "date", "field": "birthday", "offset_days": 0, "time": "09:00"},
            "steps": [{"id": "r", "type": "action", "action": "remind", "text": "hi"}],
        }
    )
    leap = _born(build_a, sam, tenant_a, "2000-02-29")
    twenty_eighth = _born(build_a, sam, tenant_a, "1999-02-28")
    _born(build_a, sam, tenant_a, "1999-03-01")
    with time_machine.travel(at("2027-02-28 08:00"), tick=False):
        assert sop_enrol_scheduled() == 2
        with tenant_context(tenant_a):
            dues = set(SopStepRun.objects.values_list("due_at", flat=True))
        assert dues == {at("2027-02-28 09:00")}
    assert {e.contact_id for e in enrolments(tenant_a, sop)} == {leap.pk, twenty_eighth.pk}
    # In a leap year the 29th is its own day.
    with time_machine.travel(at("2028-02-28 08:00"), tick=False):
        assert sop_enrol_scheduled() == 1
    with time_machine.travel(at("2028-02-29 08:00"), tick=False):
        assert sop_enrol_scheduled() == 1
    assert enrolments(tenant_a, sop)[-1].contact_id == leap.pk


def test_dates_with_an_offset_and_first_added(tenant_a, live_sop, build_a, sam):
    with tenant_context(tenant_a):
        ProfileField.objects.create(key="renewal", label="Renewal", kind="date")
    renewal = customer_sop(live_sop, {"type": "date", "field": "renewal", "offset_days": -3, "time": "10:00"})
    welcome = customer_sop(
        live_sop, {"type": "date", "field": "first_added_at", "offset_days": 7, "time": "10:00"}
    )
    due = build_a.contact("due", staff=sam)
    week = build_a.contact("week", staff=sam)
    with tenant_context(tenant_a):
        Contact.objects.filter(pk=due.pk).update(profile={"renewal": "2026-12-10"})
        Contact.objects.filter(pk=week.pk).update(first_added_at=at("2026-11-30 00:00"))
        Contact.objects.exclude(pk=week.pk).update(first_added_at=at("2026-11-29 23:59"))
    with time_machine.travel(at("2026-12-07 08:00"), tick=False):
        assert sop_enrol_scheduled() == 2
    assert [e.contact_id for e in enrolments(tenant_a, renewal)] == [due.pk]
    assert [e.contact_id for e in enrolments(tenant_a, welcome)] == [week.pk]


def test_archived_fields_and_filters(tenant_a, live_sop, build_a, sam, birthday):
    hot = build_a.tag("hot")
    sop = customer_sop(live_sop, {"type": "date", "field": "birthday", "filters": {"tags_any": str(hot.pk)}})
    _born(build_a, sam, tenant_a, "1990-12-07")
    with time_machine.travel(at("2026-12-07 08:00"), tick=False):
        assert sop_enrol_scheduled() == 0
        with tenant_context(tenant_a):
            contact = build_a.contact("hot", staff=sam, tags=[hot])
            Contact.objects.filter(pk=contact.pk).update(profile={"birthday": "1980-12-07"})
        assert sop_enrol_scheduled() == 1
        birthday.archived = True
        with tenant_context(tenant_a):
            birthday.save()
            Contact.objects.filter(pk=contact.pk).update(profile={"birthday": "1980-12-07"})
            SopEnrolment.objects.filter(sop=sop).delete()
        assert sop_enrol_scheduled() == 0


def test_group_schedules(tenant_a, live_sop, build_group, sam):
    sop = live_sop(
        {
            "trigger": {
                "type": "schedule",
                "every": "weekly",
                "weekdays": [1],
                "time": "08:00",
                "groups": {},
            },
            "steps": [{"id": "p", "type": "action", "action": "group_send", "text": "Morning"}],
        },
        kind=SopKind.GROUP,
    )
    kept = build_group(owner=sam)
    build_group(owner=sam, status=GroupStatus.DISMISSED)
    build_group(owner=None)
    with time_machine.travel(at("2026-12-07 07:00"), tick=False):  # a Monday
        assert sop_enrol_scheduled() == 1
        assert sop_enrol_scheduled() == 0
    [row] = enrolments(tenant_a, sop)
    assert (row.group_id, row.contact_id, row.staff_id, row.subject, row.occurrence) == (
        kept.pk,
        None,
        sam.pk,
        f"g{kept.pk}",
        "2026-12-07",
    )
    with tenant_context(tenant_a):
        assert SopStepRun.objects.get(enrolment=row).due_at == at("2026-12-07 08:00")
    with time_machine.travel(at("2026-12-08 07:00"), tick=False):
        assert sop_enrol_scheduled() == 0
    with time_machine.travel(at("2026-12-14 09:00"), tick=False):
        assert sop_enrol_scheduled() == 1


def test_group_schedules_on_dates_and_by_owner(tenant_a, live_sop, build_group, build_a, sam):
    tom = build_a.staff("tom")
    live_sop(
        {
            "trigger": {
                "type": "schedule",
                "every": "dates",
                "dates": ["2026-12-24"],
                "time": "08:00",
                "groups": {"owner_ids": [tom.pk]},
            },
            "steps": [{"id": "p", "type": "action", "action": "group_send", "text": "Merry"}],
        },
        kind=SopKind.GROUP,
    )
    build_group(owner=sam)
    toms = build_group(owner=tom)
    with time_machine.travel(at("2026-12-23 09:00"), tick=False):
        assert sop_enrol_scheduled() == 0
    with time_machine.travel(at("2026-12-24 09:00"), tick=False):
        assert sop_enrol_scheduled() == 1
    assert [e.group_id for e in enrolments(tenant_a)] == [toms.pk]


# -- segments -------------------------------------------------------------------------------------


def _tag(tenant, contact, tags) -> None:
    with tenant_context(tenant):
        Follow.objects.filter(contact=contact).update(tag_ids=sorted(t.wecom_id for t in tags))
        contacts_refresh([contact.pk])


def test_segment_entries(tenant_a, live_sop, build_a, sam):
    hot = build_a.tag("hot")
    with tenant_context(tenant_a):
        segment = Segment.objects.create(name="Hot", filters={"tags_any": str(hot.pk)})
    already = build_a.contact("already", staff=sam, tags=[hot])
    newcomer = build_a.contact("newcomer", staff=sam)
    sop = customer_sop(live_sop, {"type": "segment", "segment_id": segment.pk}, reenrol="after_exit")
    with tenant_context(tenant_a):
        assert sop_segment_baseline(sop=sop) == 1
    # Nobody new yet: those in the segment at publish do not enter.
    assert sop_enrol_segments() == 0
    _tag(tenant_a, newcomer, [hot])
    assert sop_enrol_segments() == 1
    assert sop_enrol_segments() == 0
    assert [e.contact_id for e in enrolments(tenant_a, sop)] == [newcomer.pk]
    with tenant_context(tenant_a):
        assert set(SopSegmentMember.objects.values_list("contact_id", flat=True)) == {already.pk, newcomer.pk}
    # Leaving and coming back is entering again.
    _tag(tenant_a, already, [])
    assert sop_enrol_segments() == 0
    with tenant_context(tenant_a):
        assert set(SopSegmentMember.objects.values_list("contact_id", flat=True)) == {newcomer.pk}
    _tag(tenant_a, already, [hot])
    assert sop_enrol_segments() == 1


def test_a_paused_segment_sop_keeps_its_table(tenant_a, live_sop, build_a, sam):
    hot = build_a.tag("hot")
    with tenant_context(tenant_a):
        segment = Segment.objects.create(name="Hot", filters={"tags_any": str(hot.pk)})
    sop = customer_sop(live_sop, {"type": "segment", "segment_id": segment.pk})
    with tenant_context(tenant_a):
        sop_segment_baseline(sop=sop)
        sop.status = SopStatus.PAUSED
        sop.save()
    during = build_a.contact("during", staff=sam, tags=[hot])
    assert sop_enrol_segments() == 0
    with tenant_context(tenant_a):
        sop.status = SopStatus.LIVE
        sop.save()
    # Entered while paused: it does not enter on resume.
    assert sop_enrol_segments() == 0
    with tenant_context(tenant_a):
        assert list(SopSegmentMember.objects.values_list("contact_id", flat=True)) == [during.pk]


# -- by hand --------------------------------------------------------------------------------------


def test_manual_enrolment(tenant_a, live_sop, build_a, sam):
    hot = build_a.tag("hot")
    sop = customer_sop(live_sop, {"type": "event", "event": "added", "filters": {"tags_any": str(hot.pk)}})
    ok = build_a.contact("ok", staff=sam, tags=[hot])
    cold = build_a.contact("cold", staff=sam)
    lost = build_a.contact("lost", staff=sam, tags=[hot], follow_status=FollowStatus.DELETED_BY_CUSTOMER)
    with tenant_context(tenant_a):
        answer = sop_enrol_manual(sop=sop, contact_ids=[ok.pk, cold.pk, lost.pk, ok.pk], actor=SYSTEM)
        assert answer == {
            "enrolled": 1,
            "skipped": {"already": 0, "lost": 1, "not_matching": 1, "no_member": 0},
        }
        again = sop_enrol_manual(sop=sop, filters={"tags_any": str(hot.pk)}, actor=SYSTEM)
        assert again == {
            "enrolled": 0,
            "skipped": {"already": 1, "lost": 1, "not_matching": 0, "no_member": 0},
        }
    [row] = enrolments(tenant_a, sop)
    assert (row.contact_id, row.staff_id, row.trigger_event_id) == (ok.pk, sam.pk, None)


def test_manual_enrolment_errors(tenant_a, live_sop, build_a, build_b, sam, monkeypatch):
    sop = customer_sop(live_sop, {"type": "manual"})
    mine = build_a.contact("mine", staff=sam)
    theirs = build_b.contact("theirs")

    def refused(**kwargs) -> dict:
        with tenant_context(tenant_a), pytest.raises(ValidationError) as raised:
            sop_enrol_manual(sop=kwargs.pop("sop", sop), actor=SYSTEM, **kwargs)
        return {path: [e.code for e in errors] for path, errors in raised.value.detail.items()}

    assert refused(contact_ids=[mine.pk, theirs.pk]) == {"contact_ids.1": ["does_not_exist"]}
    assert refused(contact_ids=[]) == {"contact_ids": ["required"]}
    assert refused(contact_ids=["1"]) == {"contact_ids": ["invalid"]}
    assert refused(contact_ids=list(range(1, 10_002))) == {"contact_ids": ["too_many"]}
    assert refused() == {"non_field_errors": ["required"]}
    assert refused(contact_ids=[mine.pk], filters={}) == {"non_field_errors": ["required"]}
    assert "filters.stage" in refused(filters={"stage": "999999"})
    monkeypatch.setattr(enrol, "MANUAL_MAX", 0)
    assert refused(filters={}) == {"filters": ["too_many"]}
    monkeypatch.undo()
    with tenant_context(tenant_a):
        sop.status = SopStatus.PAUSED
        sop.save()
    assert refused(contact_ids=[mine.pk]) == {"non_field_errors": ["not_allowed"]}
    group_sop = live_sop(
        {"trigger": {"type": "schedule", "every": "daily"}, "steps": STEPS}, kind=SopKind.GROUP
    )
    assert refused(sop=group_sop, contact_ids=[mine.pk]) == {"non_field_errors": ["not_allowed"]}
