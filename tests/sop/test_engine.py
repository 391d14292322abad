"""The SOP engine on local data (no WeCom): enrolments, each step type, versioning, quiet hours and
business days, the re-check before acting, goal and exit, caps and do-not-disturb, A/B splits,
coalescing into deliveries (per member per window), and a duplicated or resumed pass acting once.
Tests taking the ``sql`` fixture run twice: with PostgreSQL's statements and with the portable path
SQLite takes (``make run``).

Clock: a Tuesday 10:00 in Shanghai (the tenant's zone by default), pinned with time_machine; 10:00:00 is
the start of a coalescing window.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from campaigns.models import CampaignSettings, DoNotDisturb, Touch, TouchKind
from contacts.models import Contact, ContactEvent, ContactStatus, EventType, Follow, FollowStatus
from scrm.tenancy.context import tenant_context
from sop.models import (
    DeliveryKind,
    EnrolmentStatus,
    Sop,
    SopDelivery,
    SopEnrolment,
    SopKind,
    SopStatus,
    SopStepRun,
    SopTask,
    SopVersion,
    StepStatus,
)
from sop.services import actions, engine
from sop.services.actions import deliveries_send
from sop.services.definition import definition_compile
from sop.services.engine import NewEnrolment, enrolments_create, sop_run_due
from tests.campaigns.conftest import SHANGHAI, at

NOW = at("2026-12-08 10:00")  # a Tuesday

pytestmark = pytest.mark.django_db


def remind(step_id: str = "r", text: str = "问候一下客户", **extra) -> dict:
    return {"id": step_id, "type": "action", "action": "remind", "text": text, "attachments": [], **extra}


def definition(*steps: dict, **rules) -> dict:
    return {"trigger": {"type": "manual"}, "steps": list(steps), **rules}


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(params=["postgresql", "portable"])
def sql(request, monkeypatch):
    """Both ways the engine writes: PostgreSQL's set-based statements and the portable ORM path."""
    if request.param == "portable":
        monkeypatch.setattr(actions, "_FORCE_PORTABLE", True)
    return request.param


@pytest.fixture
def world(build_a, tenant_a):
    """Two members (ann, ben) and six customers: c0..c4 followed by ann, c5 by ben and ann."""
    ann, ben = build_a.staff("ann"), build_a.staff("ben")
    customers = [build_a.contact(f"C{i}", staff=ann) for i in range(5)]
    customers.append(build_a.contact("C5", staff=[ben, ann]))
    return type(
        "World", (), {"tenant": tenant_a, "ann": ann, "ben": ben, "customers": customers, "b": build_a}
    )


def many_contacts(tenant, staff, n: int) -> list[Contact]:
    """``n`` customers followed by ``staff``, inserted in bulk (the builder refreshes facets one by one)."""
    with tenant_context(tenant):
        start = Contact.objects.count()
        contacts = Contact.objects.bulk_create(
            [Contact(external_userid=f"wmbulk{start + i:026d}", name=f"Bulk {i}") for i in range(n)]
        )
        Follow.objects.bulk_create(
            [Follow(contact=c, staff=staff, added_at=NOW - dt.timedelta(days=3)) for c in contacts]
        )
        return contacts


def enrol(sop: Sop, contacts, *, staff=None, start: dt.datetime = NOW, occurrence: str = "") -> int:
    with tenant_context(sop.tenant):
        items = [
            NewEnrolment(
                contact_id=c.pk,
                group_id=None,
                staff_id=(staff or Follow.objects.filter(contact=c).order_by("pk").first().staff).pk,
                occurrence=occurrence,
                start_at=start,
            )
            for c in contacts
        ]
        return enrolments_create(sop=sop, version=sop.live_version, items=items, now=start)


def runs(sop: Sop, **filters) -> list[SopStepRun]:
    with tenant_context(sop.tenant):
        return list(SopStepRun.objects.filter(sop=sop, **filters).order_by("pk"))


def enrolments(sop: Sop) -> list[SopEnrolment]:
    with tenant_context(sop.tenant):
        return list(SopEnrolment.objects.filter(sop=sop).order_by("pk"))


def statuses(sop: Sop) -> Counter:
    return Counter((r.step_id, r.status, r.outcome) for r in runs(sop))


# -- enrolments -------------------------------------------------------------------------------------


def test_enrolments_create_inserts_once_with_the_first_step_due(world, live_sop, clock, sql):
    sop = live_sop(definition({"id": "w", "type": "wait", "days": 1, "hours": 2, "minutes": 0}, remind()))
    assert enrol(sop, world.customers[:3]) == 3
    assert enrol(sop, world.customers[:3]) == 0  # the same occurrence again: nothing
    assert enrol(sop, world.customers[:1], occurrence="r2") == 1
    pending = runs(sop)
    assert [r.step_id for r in pending] == ["w"] * 4
    assert {r.due_at for r in pending} == {NOW + dt.timedelta(days=1, hours=2)}
    assert {e.status for e in enrolments(sop)} == {EnrolmentStatus.ACTIVE}


def test_a_plan_without_steps_completes_at_once(world, live_sop, clock):
    sop = live_sop(definition())
    assert enrol(sop, world.customers[:2]) == 2
    assert {e.status for e in enrolments(sop)} == {EnrolmentStatus.COMPLETED}
    assert runs(sop) == []


# -- steps ------------------------------------------------------------------------------------------


def test_wait_then_remind_runs_when_due_and_completes(world, live_sop, clock):
    sop = live_sop(definition({"id": "w", "type": "wait", "days": 1}, remind()))
    enrol(sop, world.customers[:2])
    assert sop_run_due(now=NOW).claimed == 0
    clock.move_to(NOW + dt.timedelta(days=1))
    result = sop_run_due()
    assert (result.claimed, result.done, result.chained, result.completed) == (2, 4, 2, 2)
    assert statuses(sop) == Counter({("w", "done", "waited"): 2, ("r", "done", "task_created"): 2})
    assert {e.status for e in enrolments(sop)} == {EnrolmentStatus.COMPLETED}
    with tenant_context(world.tenant):
        tasks = list(SopTask.objects.filter(sop=sop))
        assert {t.contact_id for t in tasks} == {c.pk for c in world.customers[:2]}
        assert {t.staff_id for t in tasks} == {world.ann.pk}
        assert tasks[0].content == {"text": "问候一下客户", "attachments": []}
        (delivery,) = SopDelivery.objects.filter(sop=sop)
        assert (delivery.kind, delivery.items, delivery.targets) == (DeliveryKind.REMINDER, 2, ["ann"])
        # The message is rendered when it is sent, from its parts and the runs merged into it.
        assert delivery.content == {"title": "", "text": "问候一下客户", "groups": False}
        text = actions.app_message_text(delivery)
        assert "2 位客户" in text
        assert "/sop/tasks" in text
        # A touch per customer (kind "sop"), keyed by the step run.
        touches = Touch.objects.filter(kind=TouchKind.SOP)
        assert {t.target for t in touches} == {c.external_userid for c in world.customers[:2]}
        assert {t.source for t in touches} == {f"sop:{r.pk}" for r in runs(sop, step_id="r")}


def test_wait_until_and_business_hours_in_the_tenant_zone(world, live_sop, clock):
    plan = definition_compile(definition({"id": "x", "type": "wait_until", "time": "09:00", "weekday": 1}))
    step = plan.steps["x"]
    # Tuesday 10:00 → next Monday 09:00; strictly after the start.
    assert engine.step_due(step, base=NOW, plan=plan, zone=SHANGHAI) == at("2026-12-14 09:00")
    daily = definition_compile(definition({"id": "x", "type": "wait_until", "time": "10:00"}))
    assert engine.step_due(daily.steps["x"], base=NOW, plan=daily, zone=SHANGHAI) == at("2026-12-09 10:00")
    hours = {"weekdays": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"}
    business = definition_compile(
        definition({"id": "x", "type": "wait_business_hours"}, business_hours=hours)
    )
    due = engine.step_due
    assert due(business.steps["x"], base=NOW, plan=business, zone=SHANGHAI) == NOW  # inside: now
    saturday = at("2026-12-12 11:00")
    assert due(business.steps["x"], base=saturday, plan=business, zone=SHANGHAI) == at("2026-12-14 09:00")
    evening = at("2026-12-08 18:00")
    assert due(business.steps["x"], base=evening, plan=business, zone=SHANGHAI) == at("2026-12-09 09:00")
    early = at("2026-12-08 07:30")
    assert due(business.steps["x"], base=early, plan=business, zone=SHANGHAI) == at("2026-12-08 09:00")

    # Through the engine: enrolled on a Saturday, the reminder waits for Monday's opening.
    sop = live_sop(definition({"id": "b", "type": "wait_business_hours"}, remind(), business_hours=hours))
    clock.move_to(saturday)
    enrol(sop, world.customers[:1], start=saturday)
    assert sop_run_due().claimed == 0
    clock.move_to(at("2026-12-14 09:00"))
    assert sop_run_due().done == 2
    assert statuses(sop)[("r", "done", "task_created")] == 1


def test_quiet_hours_defer_an_action_to_their_end(world, live_sop, clock, sql):
    sop = live_sop(
        definition(
            {"id": "w", "type": "wait", "hours": 12}, remind(), quiet_hours={"start": "21:00", "end": "08:00"}
        )
    )
    enrol(sop, world.customers[:1])  # the wait ends at 22:00: inside the quiet hours
    clock.move_to(at("2026-12-08 22:00"))
    result = sop_run_due()
    assert (result.done, result.deferred) == (1, 1)
    (run,) = runs(sop, step_id="r")
    assert (run.status, run.due_at, run.detail, run.claimed_at) == (
        StepStatus.PENDING,
        at("2026-12-09 08:00"),
        {"deferred": 1},
        None,
    )
    clock.move_to(at("2026-12-09 07:59"))
    assert sop_run_due().claimed == 0
    clock.move_to(at("2026-12-09 08:00"))
    assert sop_run_due().done == 1
    assert runs(sop, step_id="r")[0].outcome == "task_created"


def test_quiet_end_wrapping_midnight_and_not():
    quiet = {"start": "21:00", "end": "08:00"}
    assert engine.quiet_end(at("2026-12-08 20:59"), quiet=quiet, zone=SHANGHAI) is None
    assert engine.quiet_end(at("2026-12-08 23:30"), quiet=quiet, zone=SHANGHAI) == at("2026-12-09 08:00")
    assert engine.quiet_end(at("2026-12-09 03:00"), quiet=quiet, zone=SHANGHAI) == at("2026-12-09 08:00")
    assert engine.quiet_end(at("2026-12-09 08:00"), quiet=quiet, zone=SHANGHAI) is None
    lunch = {"start": "12:00", "end": "13:30"}
    assert engine.quiet_end(at("2026-12-09 12:10"), quiet=lunch, zone=SHANGHAI) == at("2026-12-09 13:30")
    assert engine.quiet_end(at("2026-12-09 13:30"), quiet=lunch, zone=SHANGHAI) is None
    assert engine.quiet_end(at("2026-12-09 03:00"), quiet=None, zone=SHANGHAI) is None


def test_branch_takes_then_or_else(world, live_sop, clock, sql):
    vip = world.b.stage("VIP")
    with tenant_context(world.tenant):
        world.customers[0].stage = vip
        world.customers[0].save()
    branch = {
        "id": "is-vip",
        "type": "branch",
        "if": {"match": "all", "criteria": [{"filters": {"stage": str(vip.pk)}}]},
        "then": [remind("vip", "贵宾问候")],
        "else": [remind("normal", "普通问候")],
    }
    sop = live_sop(definition(branch, remind("after", "之后")))
    enrol(sop, world.customers[:2])
    result = sop_run_due()
    assert (result.done, result.completed) == (6, 2)
    by_contact = {e.pk: e.contact_id for e in enrolments(sop)}
    taken = {(by_contact[r.enrolment_id], r.step_id, r.branch) for r in runs(sop) if r.step_id != "after"}
    assert taken == {
        (world.customers[0].pk, "is-vip", "then"),
        (world.customers[0].pk, "vip", ""),
        (world.customers[1].pk, "is-vip", "else"),
        (world.customers[1].pk, "normal", ""),
    }
    assert len(runs(sop, step_id="after", status=StepStatus.DONE)) == 2


def test_split_draws_once_with_its_percentages(world, live_sop, clock, monkeypatch):
    monkeypatch.setattr(actions, "rng", __import__("random").Random(18))
    split = {
        "id": "ab",
        "type": "split",
        "branches": [
            {"id": "a", "name": "A", "percent": 30, "steps": [remind("ra", "A")]},
            {"id": "b", "name": "B", "percent": 70, "steps": []},
        ],
    }
    sop = live_sop(definition(split, {"id": "end", "type": "wait", "days": 1}))
    contacts = many_contacts(world.tenant, world.ann, 2000)
    enrol(sop, contacts, staff=world.ann)
    while sop_run_due(batch=1000).claimed:
        pass
    drawn = Counter(e.splits["ab"] for e in enrolments(sop))
    # 30 % of 2,000 is 600 with a standard deviation of about 20: ±120 cannot flake.
    assert abs(drawn["a"] - 600) < 120
    assert drawn["a"] + drawn["b"] == 2000
    assert Counter(r.branch for r in runs(sop, step_id="ab")) == drawn
    assert len(runs(sop, step_id="ra")) == drawn["a"]
    assert len(runs(sop, step_id="end")) == 2000  # both ways continue after the split


def test_a_split_run_again_keeps_its_draw(world, live_sop, clock, monkeypatch, sql):
    split = {
        "id": "ab",
        "type": "split",
        "branches": [
            {"id": "a", "name": "A", "percent": 50, "steps": []},
            {"id": "b", "name": "B", "percent": 50, "steps": []},
        ],
    }
    sop = live_sop(definition(split, {"id": "w", "type": "wait", "days": 1}))
    enrol(sop, world.customers[:1])
    with tenant_context(world.tenant):
        SopEnrolment.objects.filter(sop=sop).update(splits={"ab": "b"})  # drawn by a pass that died
    monkeypatch.setattr(actions, "rng", type("Fixed", (), {"choices": lambda self, ids, weights: ["a"]})())
    sop_run_due()
    assert runs(sop, step_id="ab")[0].branch == "b"
    assert enrolments(sop)[0].splits == {"ab": "b"}


# -- versions ---------------------------------------------------------------------------------------


def test_an_enrolment_keeps_running_its_version_after_a_new_one(world, live_sop, clock):
    sop = live_sop(definition({"id": "w", "type": "wait", "days": 1}, remind("r", "v1 text")))
    enrol(sop, world.customers[:1])
    v1 = sop.live_version
    with tenant_context(world.tenant):
        v2 = SopVersion.objects.create(
            sop=sop,
            number=2,
            definition=definition({"id": "w", "type": "wait", "days": 1}, remind("r2", "v2 text")),
            published_at=timezone.now(),
        )
        sop.live_version = v2
        sop.save()
    enrol(sop, world.customers[1:2])
    clock.move_to(NOW + dt.timedelta(days=1))
    sop_run_due()
    with tenant_context(world.tenant):
        texts = {
            t.contact_id: (t.step_run.step_id, t.content["text"]) for t in SopTask.objects.filter(sop=sop)
        }
    assert texts == {world.customers[0].pk: ("r", "v1 text"), world.customers[1].pk: ("r2", "v2 text")}
    assert [e.version_id for e in enrolments(sop)] == [v1.pk, v2.pk]


# -- re-check before acting ---------------------------------------------------------------------------


def test_a_paused_sop_waits_and_a_stopped_one_cancels(world, live_sop, clock, sql):
    sop = live_sop(definition(remind()))
    enrol(sop, world.customers[:2])
    Sop.unscoped.filter(pk=sop.pk).update(status=SopStatus.PAUSED)
    result = sop_run_due()
    assert (result.claimed, result.paused, result.done) == (2, 2, 0)
    assert {(r.status, r.due_at) for r in runs(sop)} == {(StepStatus.PENDING, NOW + engine.PAUSE_RETRY)}
    Sop.unscoped.filter(pk=sop.pk).update(status=SopStatus.STOPPED)
    clock.move_to(NOW + engine.PAUSE_RETRY)
    result = sop_run_due()
    assert (result.cancelled, result.exited) == (2, 2)
    assert {(r.status, r.outcome) for r in runs(sop)} == {(StepStatus.CANCELLED, engine.SOP_STOPPED)}
    assert {(e.status, e.exit_reason) for e in enrolments(sop)} == {
        (EnrolmentStatus.EXITED, engine.SOP_STOPPED)
    }


def test_a_lost_customer_exits_and_a_member_who_lost_it_hands_over(world, live_sop, clock, sql):
    sop = live_sop(definition(remind()))
    lost, moved = world.customers[0], world.customers[5]
    enrol(sop, [lost])
    enrol(sop, [moved], staff=world.ben)  # ben, then ben deletes the customer; ann still follows it
    with tenant_context(world.tenant):
        Follow.objects.filter(contact=lost).update(status=FollowStatus.DELETED_BY_CUSTOMER)
        lost.status = ContactStatus.LOST
        lost.save()
        Follow.objects.filter(contact=moved, staff=world.ben).update(status=FollowStatus.DELETED_BY_STAFF)
    sop_run_due()
    by_contact = {e.contact_id: e for e in enrolments(sop)}
    assert (by_contact[lost.pk].status, by_contact[lost.pk].exit_reason) == (EnrolmentStatus.EXITED, "lost")
    assert by_contact[moved.pk].staff_id == world.ann.pk
    with tenant_context(world.tenant):
        assert list(SopTask.objects.values_list("contact_id", "staff_id")) == [(moved.pk, world.ann.pk)]


def test_a_customer_no_longer_matching_exits(world, live_sop, clock):
    vip = world.b.stage("VIP")
    with tenant_context(world.tenant):
        for c in world.customers[:2]:
            c.stage = vip
            c.save()
    sop = live_sop({**definition(remind()), "trigger": {"type": "manual", "filters": {"stage": str(vip.pk)}}})
    enrol(sop, world.customers[:2])
    with tenant_context(world.tenant):
        world.customers[1].stage = None
        world.customers[1].save()
    sop_run_due()
    by_contact = {e.contact_id: (e.status, e.exit_reason) for e in enrolments(sop)}
    assert by_contact == {
        world.customers[0].pk: (EnrolmentStatus.COMPLETED, ""),
        world.customers[1].pk: (EnrolmentStatus.EXITED, "not_matching"),
    }


def test_goal_and_exit_criteria_end_the_enrolment(world, live_sop, clock):
    sop = live_sop(
        definition(
            {"id": "w", "type": "wait", "days": 1},
            remind(),
            goal=[{"event": "purchased"}],
            exit=[{"event": "custom", "name": "unsubscribe"}],
        )
    )
    enrol(sop, world.customers[:3])
    clock.move_to(NOW + dt.timedelta(hours=1))
    with tenant_context(world.tenant):
        for contact, kind, payload in (
            (world.customers[0], EventType.PURCHASED, {"amount": "10.00"}),
            (world.customers[1], EventType.CUSTOM, {"name": "unsubscribe"}),
        ):
            ContactEvent.objects.create(
                contact=contact, type=kind, payload=payload, occurred_at=timezone.now()
            )
    clock.move_to(NOW + dt.timedelta(days=1))
    result = sop_run_due()
    assert result.exited == 2
    by_contact = {e.contact_id: e for e in enrolments(sop)}
    first, second, third = (by_contact[c.pk] for c in world.customers[:3])
    assert (first.status, first.goal_at) == (EnrolmentStatus.GOAL, NOW + dt.timedelta(days=1))
    assert (second.status, second.exit_reason) == (EnrolmentStatus.EXITED, "exit_criteria")
    assert third.status == EnrolmentStatus.COMPLETED
    assert len(runs(sop, step_id="r")) == 1  # only the third reached the reminder


# -- caps and do-not-disturb -------------------------------------------------------------------------


def test_capped_and_dnd_customers_are_skipped_and_counted(world, live_sop, clock):
    with tenant_context(world.tenant):
        DoNotDisturb.objects.create(contact=world.customers[0])
        settings = (
            CampaignSettings.objects.filter(tenant=world.tenant).first() or CampaignSettings.objects.create()
        )
        settings.marketing_cap_per_week = 1
        settings.save()
        Touch.objects.create(
            target=world.customers[1].external_userid, kind=TouchKind.MASS_MESSAGE, source="m1", at=NOW
        )
    sop = live_sop(definition(remind(), {"id": "mt", "type": "action", "action": "mass_task", "text": "hi"}))
    enrol(sop, world.customers[:3])
    result = sop_run_due()
    assert (result.done, result.skipped, result.completed) == (1, 5, 3)
    assert statuses(sop) == Counter(
        {
            ("r", "skipped", "dnd"): 1,
            ("r", "skipped", "capped"): 1,
            ("r", "done", "task_created"): 1,
            ("mt", "skipped", "dnd"): 1,
            # The reminder's touch (kind "sop") took the third customer to the cap of 1 a week too.
            ("mt", "skipped", "capped"): 2,
        }
    )
    assert runs(sop, step_id="r", outcome="capped")[0].detail == {"cap": "marketing_cap"}


def test_caps_ignored_when_the_sop_does_not_respect_them(world, live_sop, clock):
    with tenant_context(world.tenant):
        settings = (
            CampaignSettings.objects.filter(tenant=world.tenant).first() or CampaignSettings.objects.create()
        )
        settings.marketing_cap_per_week = 1
        settings.save()
        Touch.objects.create(
            target=world.customers[0].external_userid, kind=TouchKind.MASS_MESSAGE, source="m1", at=NOW
        )
    sop = live_sop(definition(remind(), respect_caps=False))
    enrol(sop, world.customers[:1])
    assert sop_run_due().done == 1


# -- coalescing ---------------------------------------------------------------------------------------


def test_twenty_customers_of_one_member_make_one_delivery_per_step(world, live_sop, clock, sql):
    with tenant_context(world.tenant):
        contacts = [world.b.contact(staff=world.ann) for _ in range(20)] + [world.customers[5]]
    sop = live_sop(
        definition(
            remind(), {"id": "mt", "type": "action", "action": "mass_task", "text": "新品", "attachments": []}
        )
    )
    enrol(sop, contacts[:20])
    enrol(sop, contacts[20:], staff=world.ben)
    sop_run_due()
    with tenant_context(world.tenant):
        deliveries = {(d.kind, d.staff_id): d for d in SopDelivery.objects.filter(sop=sop)}
        assert set(deliveries) == {
            (DeliveryKind.REMINDER, world.ann.pk),
            (DeliveryKind.REMINDER, world.ben.pk),
            (DeliveryKind.MASS_TASK, world.ann.pk),
            (DeliveryKind.MASS_TASK, world.ben.pk),
        }
        mass = deliveries[(DeliveryKind.MASS_TASK, world.ann.pk)]
        assert (mass.items, mass.targets) == (20, sorted(c.external_userid for c in contacts[:20]))
        assert mass.content == {"text": "新品", "attachments": []}
        assert deliveries[(DeliveryKind.REMINDER, world.ann.pk)].items == 20
        assert SopTask.objects.filter(delivery=mass).count() == 20
        assert {
            r.delivery_id
            for r in runs(sop, step_id="mt")
            if r.enrolment.contact_id in {c.pk for c in contacts[:20]}
        } == {mass.pk}


def mass_task(step_id: str = "mt", text: str = "新品") -> dict:
    return {"id": step_id, "type": "action", "action": "mass_task", "text": text, "attachments": []}


def deliveries_of(sop: Sop) -> list[SopDelivery]:
    with tenant_context(sop.tenant):
        return list(SopDelivery.objects.filter(sop=sop).order_by("pk"))


def test_passes_of_one_window_share_each_members_delivery(world, live_sop, clock, sql):
    contacts = many_contacts(world.tenant, world.ann, 6)
    sop = live_sop(definition(remind(), mass_task(), respect_caps=False))
    enrol(sop, contacts, staff=world.ann)
    # A backlog worked through in passes (4 runs, then 2), 30 seconds apart: the same minute's window.
    assert sop_run_due(batch=4).claimed == 4
    clock.move_to(NOW + dt.timedelta(seconds=30))
    assert sop_run_due(batch=4).claimed == 2
    reminder, mass = sorted(deliveries_of(sop), key=lambda d: d.kind != DeliveryKind.REMINDER)
    assert (reminder.kind, reminder.items, reminder.targets) == (DeliveryKind.REMINDER, 6, ["ann"])
    assert (mass.kind, mass.items) == (DeliveryKind.MASS_TASK, 6)
    assert mass.targets == sorted(c.external_userid for c in contacts)  # united, sorted
    assert "6 位客户" in actions.app_message_text(reminder)
    assert Counter(r.delivery_id for r in runs(sop)) == {reminder.pk: 6, mass.pk: 6}
    with tenant_context(world.tenant):
        assert Counter(SopTask.objects.filter(sop=sop).values_list("delivery_id", flat=True)) == {
            reminder.pk: 6,
            mass.pk: 6,
        }
    # The next window starts a new delivery.
    more = many_contacts(world.tenant, world.ann, 1)
    enrol(sop, more, staff=world.ann, start=NOW + dt.timedelta(seconds=30))
    clock.move_to(NOW + dt.timedelta(seconds=60))
    sop_run_due()
    assert [d.items for d in deliveries_of(sop)] == [6, 6, 1, 1]


def test_without_a_window_each_pass_has_its_own_delivery(world, live_sop, clock, settings, sql):
    settings.SOP_COALESCE_SECONDS = 0
    sop = live_sop(definition(remind()))
    enrol(sop, many_contacts(world.tenant, world.ann, 5), staff=world.ann)
    sop_run_due(batch=3)
    sop_run_due(batch=3)
    assert [d.items for d in deliveries_of(sop)] == [3, 2]


def test_a_pass_after_its_window_was_sent_makes_a_new_delivery(world, live_sop, clock, sql):
    sop = live_sop(definition(remind()))
    enrol(sop, many_contacts(world.tenant, world.ann, 6), staff=world.ann)
    sop_run_due(batch=3)
    # The window is over: its reminder is claimed and sent (this tenant has no app: kept as failed).
    clock.move_to(NOW + dt.timedelta(minutes=1))
    deliveries_send()
    (first,) = deliveries_of(sop)
    assert (first.status, first.items) == ("failed", 3)
    # A pass of that window, slow to write (its ``now`` is the window's): nothing merges into the
    # delivery that left; a new one under a derived key carries its runs, then another.
    sop_run_due(now=NOW, batch=2)
    deliveries_send(now=NOW)  # not sent: its own window starts now
    sop_run_due(now=NOW, batch=2)
    first_again, late = deliveries_of(sop)
    assert (first_again.items, first_again.status) == (3, "failed")
    assert (late.key, late.items, late.status) == (actions.late_key(first.key, 1), 3, "open")
    assert "3 位客户" in actions.app_message_text(late)
    assert Counter(r.delivery_id for r in runs(sop)) == {first.pk: 3, late.pk: 3}
    # Once that one has left too, the next late pass goes on to the second derived key.
    SopDelivery.unscoped.filter(pk=late.pk).update(status="sent")
    enrol(sop, many_contacts(world.tenant, world.ann, 1), staff=world.ann)
    sop_run_due(now=NOW)
    assert [(d.key, d.items) for d in deliveries_of(sop)][2] == (actions.late_key(first.key, 2), 1)


def test_a_mass_task_is_not_merged_past_wecoms_recipient_limit(world, live_sop, clock, monkeypatch, sql):
    monkeypatch.setitem(actions.TARGETS_MAX, DeliveryKind.MASS_TASK, 4)
    contacts = many_contacts(world.tenant, world.ann, 6)
    sop = live_sop(definition(mass_task(), respect_caps=False))
    enrol(sop, contacts, staff=world.ann)
    sop_run_due(batch=3)
    sop_run_due(batch=3)
    full, overflow = deliveries_of(sop)
    assert (full.items, overflow.items, overflow.key) == (3, 3, actions.late_key(full.key, 1))
    assert sorted(full.targets + overflow.targets) == sorted(c.external_userid for c in contacts)


def test_a_delivery_is_sent_once_its_window_is_over(world, live_sop, clock, sql):
    sop = live_sop(definition(remind()))
    enrol(sop, world.customers[:1])
    sop_run_due()
    clock.move_to(NOW + dt.timedelta(seconds=59))
    deliveries_send()
    assert [d.status for d in deliveries_of(sop)] == ["open"]  # still collecting its window
    clock.move_to(NOW + dt.timedelta(seconds=60))
    deliveries_send()
    # Handed to WeCom: this tenant has no app, so the reminder is kept as failed.
    assert [(d.status, d.error.get("code")) for d in deliveries_of(sop)] == [("failed", "no_agent")]


# -- points and stages --------------------------------------------------------------------------------


def test_points_are_granted_once_even_when_the_run_is_executed_again(world, live_sop, clock, sql):
    from value.models import PointsAccount, PointsEntry

    sop = live_sop(
        definition({"id": "p", "type": "action", "action": "grant_points", "points": 50, "note": "SOP"})
    )
    enrol(sop, world.customers[:1])
    sop_run_due()
    # The pass died after granting: the run is executed again.
    with tenant_context(world.tenant):
        SopStepRun.objects.filter(sop=sop).update(status=StepStatus.PENDING, claimed_at=None)
        SopEnrolment.objects.filter(sop=sop).update(status=EnrolmentStatus.ACTIVE, finished_at=None)
    sop_run_due()
    with tenant_context(world.tenant):
        (entry,) = PointsEntry.objects.filter(contact=world.customers[0])
        assert (entry.delta, entry.reason, entry.note, entry.remaining) == (50, "granted", "SOP", 50)
        assert entry.idempotency_key.endswith(f":sop:{runs(sop)[0].pk}")
        assert PointsAccount.objects.get(contact=world.customers[0]).balance == 50
    assert runs(sop)[0].outcome == "granted"


def test_set_stage(world, live_sop, clock):
    won = world.b.stage("Won")
    sop = live_sop(definition({"id": "s", "type": "action", "action": "set_stage", "stage_id": won.pk}))
    enrol(sop, world.customers[:1])
    sop_run_due()
    world.customers[0].refresh_from_db()
    assert world.customers[0].stage_id == won.pk
    assert runs(sop)[0].outcome == "stage_set"


# -- lifecycle ----------------------------------------------------------------------------------------


def test_finish_cancels_the_pending_steps_and_keeps_the_open_tasks(world, live_sop, clock):
    sop = live_sop(definition(remind(), {"id": "w", "type": "wait", "days": 3}, remind("r2")))
    enrol(sop, world.customers[:2])
    sop_run_due()
    ids = [e.pk for e in enrolments(sop)]
    with tenant_context(world.tenant):
        assert (
            engine.enrolments_finish(
                enrolment_ids=ids, status=EnrolmentStatus.EXITED, reason="removed", now=NOW
            )
            == 2
        )
        assert engine.enrolments_finish(enrolment_ids=ids, status=EnrolmentStatus.EXITED, now=NOW) == 0
        assert SopTask.objects.filter(sop=sop, status="todo").count() == 2
    assert {(r.step_id, r.status, r.outcome) for r in runs(sop)} == {
        ("r", StepStatus.DONE, "task_created"),
        ("w", StepStatus.CANCELLED, "removed"),
    }


def test_sop_stop_exits_everyone(world, live_sop, clock):
    sop = live_sop(definition({"id": "w", "type": "wait", "days": 3}))
    enrol(sop, world.customers)
    with tenant_context(world.tenant):
        assert engine.sop_stop(sop=sop, now=NOW) == 6
    assert {(e.status, e.exit_reason) for e in enrolments(sop)} == {(EnrolmentStatus.EXITED, "sop_stopped")}


def test_a_group_sop_reminds_the_owner(world, live_sop, clock, sql, build_group):
    group = build_group(owner=world.ann, name="VIP群")
    sop = live_sop(
        {
            "trigger": {"type": "schedule", "every": "daily", "time": "09:00", "groups": {}},
            "steps": [remind()],
        },
        kind=SopKind.GROUP,
    )
    with tenant_context(world.tenant):
        enrolments_create(
            sop=sop,
            version=sop.live_version,
            items=[NewEnrolment(None, group.pk, world.ben.pk, "2026-12-08", NOW)],
            now=NOW,
        )
    sop_run_due()
    (enrolment,) = enrolments(sop)
    assert (enrolment.status, enrolment.staff_id) == (EnrolmentStatus.COMPLETED, world.ann.pk)
    with tenant_context(world.tenant):
        (task,) = SopTask.objects.filter(sop=sop)
        assert (task.group_id, task.staff_id) == (group.pk, world.ann.pk)
        assert "1 个客户群" in actions.app_message_text(SopDelivery.objects.get(sop=sop))


# -- duplicated and resumed passes -------------------------------------------------------------------


def test_a_pass_taken_for_dead_writes_nothing_beside_its_successor(world, live_sop, clock, sql):
    sop = live_sop(definition(remind()))
    enrol(sop, world.customers[:3])
    stamp = timezone.now()
    dead = engine._claim(now=NOW, stamp=stamp, batch=10, tenant_id=None)  # claimed, then the worker died
    assert len(dead) == 3
    clock.move_to(NOW + dt.timedelta(minutes=6))
    assert engine.step_runs_reclaim_stale(now=timezone.now()) == 3
    assert sop_run_due().done == 3
    # The first pass was only slow: it wakes up and finishes its round.
    late = engine.RunResult()
    engine._round(dead, now=NOW, stamp=stamp, pass_key="late:0", chain=True, result=late)
    assert (late.lost_claims, late.done) == (3, 0)
    with tenant_context(world.tenant):
        assert SopTask.objects.filter(sop=sop).count() == 3
        assert SopDelivery.objects.filter(sop=sop).count() == 1


def test_reclaim_gives_up_after_max_attempts(world, live_sop, clock):
    sop = live_sop(definition(remind()))
    enrol(sop, world.customers[:1])
    with tenant_context(world.tenant):
        SopStepRun.objects.filter(sop=sop).update(
            status=StepStatus.CLAIMED, claimed_at=NOW, attempts=engine.MAX_ATTEMPTS
        )
    assert engine.step_runs_reclaim_stale(now=NOW + dt.timedelta(minutes=6)) == 1
    assert (runs(sop)[0].status, runs(sop)[0].outcome) == (StepStatus.SKIPPED, "failed")
    assert [(e.status, e.exit_reason) for e in enrolments(sop)] == [(EnrolmentStatus.EXITED, "failed")]


@pytest.mark.django_db(transaction=True)
def test_two_passes_at_once_act_once(build_a, tenant_a, live_sop):
    ann = build_a.staff("ann")
    contacts = many_contacts(tenant_a, ann, 300)
    sop = live_sop(definition(remind(), {"id": "w", "type": "wait", "days": 1}, remind("r2")))
    enrol(sop, contacts, staff=ann, start=timezone.now())
    results = []

    def work():
        try:
            while True:
                result = sop_run_due(batch=40)
                results.append(result)
                if not result.claimed:
                    return
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.done for r in results) == 300
    with tenant_context(tenant_a):
        assert SopTask.objects.filter(sop=sop).count() == 300
        assert sum(SopDelivery.objects.filter(sop=sop).values_list("items", flat=True)) == 300
        assert Counter(SopStepRun.objects.filter(sop=sop).values_list("step_id", "status")) == {
            ("r", "done"): 300,
            ("w", "pending"): 300,
        }


def test_a_pass_makes_as_many_queries_for_many_runs_as_for_few(world, live_sop, clock):
    """Set-based: the queries of a pass do not grow with its runs (no query per row)."""
    from django.test.utils import CaptureQueriesContext

    steps = (
        remind(),
        {"id": "m", "type": "action", "action": "mass_task", "text": "新品"},
        {"id": "w", "type": "wait", "days": 1},
    )
    counts = []
    for n in (10, 200):
        sop = live_sop(definition(*steps, goal=[{"event": "purchased"}], exit=[{"in_group": True}]))
        enrol(sop, many_contacts(world.tenant, world.ann, n), staff=world.ann)
        with CaptureQueriesContext(connection) as queries:
            result = sop_run_due(batch=1000)
        assert result.done == 2 * n
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_tick_runs_due_steps_and_hands_deliveries_over(world, live_sop, monkeypatch, settings):
    from sop import tasks

    settings.SOP_COALESCE_SECONDS = 0  # one delivery per pass, handed over at once
    monkeypatch.setattr(tasks, "TICK_SECONDS", 0.5)
    monkeypatch.setattr(tasks, "IDLE_SLEEP", 0.05)
    sop = live_sop(definition(remind()))
    enrol(sop, world.customers[:2], start=timezone.now())
    totals = tasks.tick()
    assert totals["executed"] == 2
    with tenant_context(world.tenant):
        # Handed to WeCom at once: this tenant has no app, so the reminder is kept as failed.
        (delivery,) = SopDelivery.objects.filter(sop=sop)
        assert (delivery.status, delivery.error["code"]) == ("failed", "no_agent")
        assert SopTask.objects.filter(sop=sop).count() == 2
    assert tasks.poll() == 0
    assert set(tasks.schedule()) == {"scheduled", "segments"}


def test_the_tick_waits_for_a_step_due_within_its_time_and_otherwise_returns(world, live_sop, monkeypatch):
    from sop import tasks

    monkeypatch.setattr(tasks, "TICK_SECONDS", 5)
    monkeypatch.setattr(tasks, "IDLE_SLEEP", 0.1)
    sleeps = []
    real_sleep = tasks.time.sleep
    monkeypatch.setattr(tasks.time, "sleep", lambda seconds: sleeps.append(seconds) or real_sleep(seconds))
    # Nothing due before the tick's end: it gives its worker back at once, without sleeping.
    sop = live_sop(definition(remind()))
    enrol(sop, world.customers[:1], start=timezone.now() + dt.timedelta(minutes=10))
    assert tasks.tick()["executed"] == 0
    assert sleeps == []
    # A step due in a second: the running tick waits for it and runs it.
    enrol(sop, world.customers[1:2], start=timezone.now() + dt.timedelta(seconds=1))
    assert tasks.tick()["executed"] == 1
    assert sleeps


def test_hand_over_follows_the_tenants_sender_rule(world, live_sop, clock):
    carl = world.b.staff("carl")
    with tenant_context(world.tenant):
        contact = world.b.contact("Shared", staff=[world.ann, world.ben, carl])
        Follow.objects.filter(contact=contact, staff=world.ann).update(added_at=NOW - dt.timedelta(days=9))
        Follow.objects.filter(contact=contact, staff=world.ben).update(added_at=NOW - dt.timedelta(days=5))
        Follow.objects.filter(contact=contact, staff=carl).update(added_at=NOW - dt.timedelta(days=1))
        settings = (
            CampaignSettings.objects.filter(tenant=world.tenant).first() or CampaignSettings.objects.create()
        )
        settings.sender_rule = "latest"
        settings.save()
    sop = live_sop(definition(remind()))
    enrol(sop, [contact], staff=world.ann)
    with tenant_context(world.tenant):
        Follow.objects.filter(contact=contact, staff=world.ann).update(status=FollowStatus.DELETED_BY_STAFF)
    sop_run_due()
    assert enrolments(sop)[0].staff_id == carl.pk  # the latest added of those left


def test_a_dismissed_group_exits(world, live_sop, clock, build_group):
    group = build_group(owner=world.ann, name="旧群", status="dismissed")
    sop = live_sop(
        {
            "trigger": {"type": "schedule", "every": "daily", "time": "09:00", "groups": {}},
            "steps": [remind()],
        },
        kind=SopKind.GROUP,
    )
    with tenant_context(world.tenant):
        enrolments_create(
            sop=sop,
            version=sop.live_version,
            items=[NewEnrolment(None, group.pk, world.ann.pk, "d", NOW)],
            now=NOW,
        )
    sop_run_due()
    assert [(e.status, e.exit_reason) for e in enrolments(sop)] == [(EnrolmentStatus.EXITED, "dismissed")]
    assert [(r.status, r.outcome) for r in runs(sop)] == [(StepStatus.CANCELLED, "dismissed")]


def test_a_resumed_sop_goes_on_where_it_waited(world, live_sop, clock):
    sop = live_sop(definition(remind()))
    enrol(sop, world.customers[:1])
    Sop.unscoped.filter(pk=sop.pk).update(status=SopStatus.PAUSED)
    sop_run_due()
    Sop.unscoped.filter(pk=sop.pk).update(status=SopStatus.LIVE)
    assert sop_run_due().claimed == 0  # pushed 5 minutes
    clock.move_to(NOW + engine.PAUSE_RETRY)
    assert sop_run_due().done == 1
    assert runs(sop)[0].attempts == 1  # a pause is no failed attempt
