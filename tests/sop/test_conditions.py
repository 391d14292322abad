"""Criteria of branches, exits and goals: filters, events after enrolment, group membership; all / any;
one query per criterion for a whole batch."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import EventType
from contacts.services.events import event_build, events_record
from groups.models import GroupStatus
from scrm.tenancy.context import tenant_context
from sop.models import SopEnrolment
from sop.services.conditions import criteria_met, filters_match

DEFINITION = {"trigger": {"type": "manual"}, "steps": [{"id": "w", "type": "wait", "days": 1}]}


@pytest.fixture
def world(build_a, live_sop, tenant_a):
    sam = build_a.staff("sam")
    hot = build_a.tag("hot")
    sop = live_sop(DEFINITION)
    enrolled_at = timezone.now() - dt.timedelta(hours=1)
    contacts = [build_a.contact(f"c{i}", staff=sam, tags=[hot] if i % 2 == 0 else []) for i in range(4)]
    with tenant_context(tenant_a):
        enrolments = [
            SopEnrolment.objects.create(
                sop=sop,
                version=sop.live_version,
                contact=contact,
                subject=f"c{contact.pk}",
                staff=sam,
                enrolled_at=enrolled_at,
            )
            for contact in contacts
        ]
    return {"sam": sam, "hot": hot, "contacts": contacts, "enrolments": enrolments, "at": enrolled_at}


def event(tenant, contact, type_, at, **payload):
    with tenant_context(tenant):
        return events_record(
            [event_build(contact_id=contact.pk, type=type_, occurred_at=at, payload=payload)]
        )


def test_filters_match(tenant_a, world):
    ids = [c.pk for c in world["contacts"]]
    with tenant_context(tenant_a):
        assert filters_match(filters={"tags_any": str(world["hot"].pk)}, contact_ids=ids) == {ids[0], ids[2]}
        assert filters_match(filters={}, contact_ids=ids[:3]) == set(ids[:3])
        assert filters_match(filters={"tags_any": str(world["hot"].pk)}, contact_ids=[]) == set()


def test_event_criteria_count_events_after_enrolment(tenant_a, world):
    c0, c1, c2, _ = world["contacts"]
    e0, _, e2, _ = world["enrolments"]
    event(tenant_a, c0, EventType.PURCHASED, world["at"] + dt.timedelta(minutes=5), amount="10.00")
    event(tenant_a, c1, EventType.PURCHASED, world["at"] - dt.timedelta(minutes=5), amount="10.00")
    event(tenant_a, c2, EventType.CUSTOM, world["at"] + dt.timedelta(minutes=5), name="booked")
    with tenant_context(tenant_a):
        enrolments = list(SopEnrolment.objects.filter(pk__in=[e.pk for e in world["enrolments"]]))
        assert criteria_met(criteria=[{"event": "purchased"}], match="all", enrolments=enrolments) == {e0.pk}
        assert criteria_met(
            criteria=[{"event": "custom", "name": "booked"}], match="all", enrolments=enrolments
        ) == {e2.pk}
        assert (
            criteria_met(criteria=[{"event": "custom", "name": "other"}], match="all", enrolments=enrolments)
            == set()
        )
        assert criteria_met(criteria=[{"event": "custom"}], match="all", enrolments=enrolments) == {e2.pk}


def test_an_event_right_after_the_trigger_counts_though_older_than_the_enrolment(tenant_a, world):
    """The tick enrols 30 s late: a purchase 10 s after the enrolling tag is after it, not before."""
    c1 = world["contacts"][1]
    e1 = world["enrolments"][1]
    event(tenant_a, c1, EventType.TAGGED, world["at"] - dt.timedelta(seconds=40))
    with tenant_context(tenant_a):
        trigger = c1.events.get(type=EventType.TAGGED)
        SopEnrolment.objects.filter(pk=e1.pk).update(trigger_event_id=trigger.pk)
    event(tenant_a, c1, EventType.PURCHASED, world["at"] - dt.timedelta(seconds=30), amount="1.00")
    with tenant_context(tenant_a):
        enrolments = list(SopEnrolment.objects.filter(pk=e1.pk))
        assert criteria_met(criteria=[{"event": "purchased"}], match="all", enrolments=enrolments) == {e1.pk}


def test_in_group(tenant_a, world, build_group):
    c0, c1, c2, _ = world["contacts"]
    build_group(owner=world["sam"], members=[(c0.external_userid, "customer")])
    build_group(owner=world["sam"], members=[(c1.external_userid, "customer")], status=GroupStatus.DISMISSED)
    build_group(
        owner=world["sam"],
        members=[(c2.external_userid, "customer", {"left_at": timezone.now()})],
    )
    e0 = world["enrolments"][0]
    with tenant_context(tenant_a):
        enrolments = list(SopEnrolment.objects.filter(pk__in=[e.pk for e in world["enrolments"]]))
        assert criteria_met(criteria=[{"in_group": True}], match="all", enrolments=enrolments) == {e0.pk}
        others = {e.pk for e in enrolments} - {e0.pk}
        assert criteria_met(criteria=[{"in_group": False}], match="all", enrolments=enrolments) == others


def test_all_and_any(tenant_a, world, build_group):
    c1 = world["contacts"][1]
    e0, e1, e2, _ = world["enrolments"]
    build_group(owner=world["sam"], members=[(c1.external_userid, "customer")])
    hot = {"filters": {"tags_any": str(world["hot"].pk)}}  # c0, c2
    with tenant_context(tenant_a):
        enrolments = list(SopEnrolment.objects.filter(pk__in=[e.pk for e in world["enrolments"]]))
        assert criteria_met(criteria=[hot, {"in_group": True}], match="any", enrolments=enrolments) == {
            e0.pk,
            e1.pk,
            e2.pk,
        }
        assert criteria_met(criteria=[hot, {"in_group": True}], match="all", enrolments=enrolments) == set()
        assert criteria_met(criteria=[hot, {"in_group": False}], match="all", enrolments=enrolments) == {
            e0.pk,
            e2.pk,
        }
        assert criteria_met(criteria=[], match="all", enrolments=enrolments) == {e.pk for e in enrolments}
        assert criteria_met(criteria=[], match="any", enrolments=enrolments) == set()


def test_one_query_per_criterion_for_a_batch(tenant_a, world, build_a, live_sop, django_assert_num_queries):
    sop = world["enrolments"][0].sop
    more = [build_a.contact(f"m{i}", staff=world["sam"]) for i in range(20)]
    with tenant_context(tenant_a):
        for contact in more:
            SopEnrolment.objects.create(
                sop=sop,
                version=sop.live_version,
                contact=contact,
                subject=f"c{contact.pk}",
                enrolled_at=world["at"],
            )
        enrolments = list(SopEnrolment.objects.filter(sop=sop))
        assert len(enrolments) == 24
        with django_assert_num_queries(2):
            criteria_met(
                criteria=[{"event": "purchased"}, {"in_group": True}], match="any", enrolments=enrolments
            )


def test_group_enrolments_meet_no_criteria(tenant_a, world, build_group, live_sop):
    g = build_group(owner=world["sam"])
    sop = live_sop({"trigger": {"type": "schedule", "every": "daily"}, "steps": []}, kind="group")
    with tenant_context(tenant_a):
        enrolment = SopEnrolment.objects.create(
            sop=sop, version=sop.live_version, group=g, subject=f"g{g.pk}", enrolled_at=world["at"]
        )
        assert criteria_met(criteria=[{"in_group": False}], match="all", enrolments=[enrolment]) == set()
