"""SOP deliveries against the in-process WeCom sandbox: coalesced sends (one mass-message task and one
app message per member per window, sent once the window is over; a pass writing after its window's
delivery left makes a new one), the claim before the call, a lost answer reconciled instead of sent
twice, the app-message budget per member (delayed, never dropped) and the send results read back.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db.models import Count
from django.utils import timezone

from campaigns.models import Touch, TouchKind
from contacts.models import Follow, FollowStatus, Staff, Tag
from scrm.tenancy.context import tenant_context
from scrm.wecom.api import api_for
from sop.models import (
    DeliveryKind,
    DeliveryStatus,
    SopDelivery,
    SopEnrolment,
    SopKind,
    SopStepRun,
    SopTask,
)
from sop.services import actions
from sop.services.actions import _template_body, coalesce_seconds, deliveries_poll, deliveries_send
from sop.services.engine import NewEnrolment, enrolments_create, sop_run_due
from tests.campaigns.sandboxed import synced  # noqa: F401 -- fixtures reused here
from tests.contacts.conftest import connected  # noqa: F401 -- fixture reused here
from tests.helpers import sandbox_control
from tests.wecom.conftest import sandbox, sandbox_factory  # noqa: F401 -- fixtures reused here

pytestmark = pytest.mark.django_db

REMIND = {"id": "r", "type": "action", "action": "remind", "text": "周末活动提醒", "attachments": []}
MASS = {
    "id": "m",
    "type": "action",
    "action": "mass_task",
    "text": "周末新品到店，欢迎来看看！",
    "attachments": [],
}


@pytest.fixture
def app(synced, sandbox):  # noqa: F811 -- the imported fixture
    """Tenant A, synced, with the sandbox's self-built app to send app messages from."""
    synced.agent_id = sandbox.agent_id
    synced.save()
    return synced


@pytest.fixture
def member(app):
    """The synced member with the most customers, and 20 of them (oldest follows first)."""
    with tenant_context(app):
        staff_id = (
            Follow.objects.filter(status=FollowStatus.ACTIVE, staff__has_contact_permission=True)
            .values("staff_id")
            .annotate(n=Count("id"))
            .order_by("-n", "staff_id")
            .first()["staff_id"]
        )
        staff = Staff.objects.get(pk=staff_id)
        contacts = [
            f.contact
            for f in Follow.objects.filter(staff=staff, status=FollowStatus.ACTIVE)
            .select_related("contact")
            .order_by("pk")[:20]
        ]
    assert len(contacts) == 20
    return staff, contacts


def after_window() -> dt.datetime:
    """A moment after the coalescing window of deliveries written now: they are sent then."""
    return timezone.now() + dt.timedelta(seconds=coalesce_seconds() + 1)


def records(box, path: str) -> list[dict]:
    return sandbox_control(box, f"records/{path}")["records"]


def run_pass(app, live_sop, steps: list[dict], staff, contacts):
    sop = live_sop({"trigger": {"type": "manual"}, "steps": steps}, tenant=app)
    now = timezone.now()
    with tenant_context(app):
        enrolments_create(
            sop=sop,
            version=sop.live_version,
            items=[NewEnrolment(c.pk, None, staff.pk, "", now) for c in contacts],
            now=now,
        )
    assert sop_run_due(tenant_id=app.pk).claimed == len(contacts)
    return sop


def deliveries(sop) -> dict[str, SopDelivery]:
    with tenant_context(sop.tenant):
        return {d.kind: d for d in SopDelivery.objects.filter(sop=sop).select_related("staff")}


def test_twenty_customers_of_one_member_become_one_task_and_one_reminder(app, sandbox, live_sop, member):  # noqa: F811 -- the imported fixture
    staff, contacts = member
    sop = run_pass(app, live_sop, [REMIND, MASS], staff, contacts)
    assert deliveries_send(tenant_id=app.pk, now=after_window()) == 2
    (template,) = records(sandbox, "externalcontact/add_msg_template")
    body = template["body"]
    assert (body["chat_type"], body["sender"]) == ("single", staff.userid)
    assert sorted(body["external_userid"]) == sorted(c.external_userid for c in contacts)
    assert body["text"] == {"content": MASS["text"]}
    (message,) = records(sandbox, "message/send")
    assert message["body"]["touser"] == staff.userid
    assert "20 位客户" in message["body"]["text"]["content"]
    sent = deliveries(sop)
    assert {kind: d.status for kind, d in sent.items()} == {
        DeliveryKind.REMINDER: DeliveryStatus.SENT,
        DeliveryKind.MASS_TASK: DeliveryStatus.SENT,
    }
    assert sent[DeliveryKind.MASS_TASK].msgid
    assert sent[DeliveryKind.MASS_TASK].next_poll_at is not None
    # A second call finds nothing open: nothing is sent twice.
    assert deliveries_send(tenant_id=app.pk, now=after_window()) == 0
    assert len(records(sandbox, "externalcontact/add_msg_template")) == 1


def test_a_claimed_task_whose_answer_was_lost_is_adopted_not_sent_again(app, sandbox, live_sop, member):  # noqa: F811 -- the imported fixture
    staff, contacts = member
    sop = run_pass(app, live_sop, [MASS], staff, contacts)
    delivery = deliveries(sop)[DeliveryKind.MASS_TASK]
    api = api_for(app)
    with tenant_context(app):
        # The worker claimed it, WeCom created the task, the worker died before writing the msgid.
        claimed_at = timezone.now() - dt.timedelta(minutes=6)
        SopDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.CLAIMED, claimed_at=claimed_at
        )
        answer = api.add_msg_template(_template_body(api, delivery))
    assert deliveries_send(tenant_id=app.pk) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.msgid) == (DeliveryStatus.SENT, answer["msgid"])
    assert len(records(sandbox, "externalcontact/add_msg_template")) == 1


def test_a_claimed_task_wecom_never_got_is_created_once(app, sandbox, live_sop, member):  # noqa: F811 -- the imported fixture
    staff, contacts = member
    sop = run_pass(app, live_sop, [MASS], staff, contacts)
    delivery = deliveries(sop)[DeliveryKind.MASS_TASK]
    with tenant_context(app):
        SopDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.CLAIMED, claimed_at=timezone.now() - dt.timedelta(minutes=6), attempts=1
        )
    # A claim younger than 5 minutes is left alone (its worker may still be calling WeCom).
    assert deliveries_send(tenant_id=app.pk, now=timezone.now() - dt.timedelta(minutes=2)) == 0
    assert deliveries_send(tenant_id=app.pk) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert len(records(sandbox, "externalcontact/add_msg_template")) == 1


def test_an_app_message_whose_answer_was_lost_is_not_sent_again(app, sandbox, live_sop, member):  # noqa: F811 -- the imported fixture
    staff, contacts = member
    sop = run_pass(app, live_sop, [REMIND], staff, contacts[:3])
    delivery = deliveries(sop)[DeliveryKind.REMINDER]
    with tenant_context(app):
        SopDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.CLAIMED, claimed_at=timezone.now() - dt.timedelta(minutes=6)
        )
    deliveries_send(tenant_id=app.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == (DeliveryStatus.SENT, {"outcome": "unknown"})
    assert records(sandbox, "message/send") == []


def test_app_messages_over_a_members_budget_wait_for_the_next_minute(app, sandbox, live_sop, member):  # noqa: F811 -- the imported fixture
    staff, contacts = member
    sop = run_pass(app, live_sop, [REMIND], staff, contacts[:2])
    now = after_window()
    with tenant_context(app):
        SopDelivery.objects.bulk_create(
            [
                SopDelivery(
                    sop=sop,
                    step_id="old",
                    kind=DeliveryKind.REMINDER,
                    staff=staff,
                    key=f"old{i}",
                    targets=[staff.userid],
                    status=DeliveryStatus.SENT,
                    claimed_at=now - dt.timedelta(seconds=30),
                    sent_at=now - dt.timedelta(seconds=30),
                )
                for i in range(30)
            ]
        )
    waiting = SopDelivery.unscoped.get(sop=sop, step_id="r")
    assert deliveries_send(tenant_id=app.pk, now=now) == 0
    waiting.refresh_from_db()
    assert waiting.status == DeliveryStatus.OPEN
    assert records(sandbox, "message/send") == []
    assert deliveries_send(tenant_id=app.pk, now=now + dt.timedelta(seconds=31)) == 1
    waiting.refresh_from_db()
    assert waiting.status == DeliveryStatus.SENT
    assert len(records(sandbox, "message/send")) == 1


def test_send_results_mark_tasks_done_from_wecom(app, sandbox, live_sop, member):  # noqa: F811 -- the imported fixture
    staff, contacts = member
    sop = run_pass(app, live_sop, [MASS], staff, contacts[:5])
    sent_at = after_window()
    assert deliveries_send(tenant_id=app.pk, now=sent_at) == 1
    delivery = deliveries(sop)[DeliveryKind.MASS_TASK]
    # Not confirmed yet: nothing is done, the poll comes again.
    assert deliveries_poll(now=sent_at + dt.timedelta(minutes=2)) == 0
    delivery.refresh_from_db()
    assert delivery.next_poll_at is not None
    SopDelivery.unscoped.filter(pk=delivery.pk).update(next_poll_at=timezone.now())
    sandbox_control(sandbox, "simulate/staff-confirm-msg", {"msgid": delivery.msgid, "userid": staff.userid})
    assert deliveries_poll(now=timezone.now() + dt.timedelta(minutes=2)) == 5
    with tenant_context(app):
        tasks = SopTask.objects.filter(sop=sop)
        assert Counter((t.status, t.done_via) for t in tasks) == {("done", "wecom"): 5}
        touches = Touch.objects.filter(source=f"sop:{delivery.pk}")
        assert {t.target for t in touches} == {c.external_userid for c in contacts[:5]}
        assert {t.kind for t in touches} == {TouchKind.SOP_MASS_MESSAGE}
        assert SopStepRun.objects.filter(sop=sop, delivery=delivery).count() == 5
    delivery.refresh_from_db()
    assert delivery.confirmed_at is not None
    assert delivery.next_poll_at is None  # every target settled: never read again
    assert deliveries_poll(now=timezone.now() + dt.timedelta(days=1)) == 0


def test_a_group_sop_sends_one_task_per_owner(app, live_sop, build_group, member):
    staff, _ = member
    groups = [build_group(owner=staff, name=f"群{i}") for i in range(3)]
    sop = live_sop(
        {
            "trigger": {"type": "schedule", "every": "daily", "time": "09:00", "groups": {}},
            "steps": [
                {"id": "g", "type": "action", "action": "group_send", "text": "早安", "attachments": []}
            ],
        },
        kind=SopKind.GROUP,
        tenant=app,
    )
    now = timezone.now()
    with tenant_context(app):
        enrolments_create(
            sop=sop,
            version=sop.live_version,
            items=[NewEnrolment(None, g.pk, staff.pk, "2026-12-08", now) for g in groups],
            now=now,
        )
    sop_run_due(tenant_id=app.pk)
    delivery = deliveries(sop)[DeliveryKind.GROUP_SEND]
    assert (delivery.items, delivery.targets) == (3, sorted(g.chat_id for g in groups))
    body = _template_body(api_for(app), delivery)
    assert (body["chat_type"], body["sender"], body["chat_id_list"]) == (
        "group",
        staff.userid,
        delivery.targets,
    )


def test_a_task_refused_for_wecoms_rate_limit_stays_open(app, sandbox, live_sop, member):  # noqa: F811
    staff, contacts = member
    sop = run_pass(app, live_sop, [MASS], staff, contacts[:3])
    sandbox_control(
        sandbox, "faults", {"apis": {"externalcontact/add_msg_template": {"errors": {"45009": 1.0}}}}
    )
    try:
        assert deliveries_send(tenant_id=app.pk, now=after_window()) == 0
    finally:
        sandbox_control(sandbox, "faults", {"reset": True})
    delivery = deliveries(sop)[DeliveryKind.MASS_TASK]
    assert (delivery.status, delivery.error["errcode"]) == (DeliveryStatus.OPEN, 45009)
    # Within WeCom's window the gateway's limiter refuses at once: it stays open, nothing is dropped.
    assert deliveries_send(tenant_id=app.pk, now=after_window()) == 0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.msgid, delivery.attempts) == (DeliveryStatus.OPEN, "", 0)
    assert records(sandbox, "externalcontact/add_msg_template") == []


# -- coalescing windows ---------------------------------------------------------------------------------


@pytest.fixture(params=["postgresql", "portable"])
def sql(request, monkeypatch):
    """Both ways the engine writes: PostgreSQL's set-based statements and the portable ORM path that
    SQLite (``make run``) takes."""
    if request.param == "portable":
        monkeypatch.setattr(actions, "_FORCE_PORTABLE", True)
    return request.param


def enrolled(app, live_sop, steps: list[dict], staff, contacts, **rules):
    sop = live_sop({"trigger": {"type": "manual"}, "steps": steps, **rules}, tenant=app)
    now = timezone.now()
    with tenant_context(app):
        enrolments_create(
            sop=sop,
            version=sop.live_version,
            items=[NewEnrolment(c.pk, None, staff.pk, "", now) for c in contacts],
            now=now,
        )
    return sop


def test_passes_of_one_window_make_one_task_and_one_reminder(app, sandbox, live_sop, member, sql):  # noqa: F811 -- the imported fixture
    staff, contacts = member
    sop = enrolled(app, live_sop, [REMIND, MASS], staff, contacts)
    window = timezone.now()
    # A backlog worked through in two passes of the same window.
    assert sop_run_due(tenant_id=app.pk, now=window, batch=12).claimed == 12
    assert sop_run_due(tenant_id=app.pk, now=window, batch=12).claimed == 8
    # The window is not over: nothing leaves yet.
    assert deliveries_send(tenant_id=app.pk) == 0
    assert records(sandbox, "externalcontact/add_msg_template") == []
    assert deliveries_send(tenant_id=app.pk, now=after_window()) == 2
    (template,) = records(sandbox, "externalcontact/add_msg_template")
    assert sorted(template["body"]["external_userid"]) == sorted(c.external_userid for c in contacts)
    (message,) = records(sandbox, "message/send")
    assert message["body"]["touser"] == staff.userid
    assert "20 位客户" in message["body"]["text"]["content"]
    sent = deliveries(sop)
    assert {kind: (d.items, d.status) for kind, d in sent.items()} == {
        DeliveryKind.REMINDER: (20, DeliveryStatus.SENT),
        DeliveryKind.MASS_TASK: (20, DeliveryStatus.SENT),
    }


def test_a_pass_after_the_windows_task_left_makes_a_new_one(app, sandbox, live_sop, member, sql):  # noqa: F811 -- the imported fixture
    staff, contacts = member
    sop = enrolled(app, live_sop, [REMIND, MASS], staff, contacts)
    window = timezone.now()
    sop_run_due(tenant_id=app.pk, now=window, batch=12)
    assert deliveries_send(tenant_id=app.pk, now=after_window()) == 2
    # A slow pass of the same window writes after its deliveries left: new ones carry its customers.
    sop_run_due(tenant_id=app.pk, now=window, batch=12)
    assert deliveries_send(tenant_id=app.pk, now=after_window()) == 2
    first, second = (r["body"] for r in records(sandbox, "externalcontact/add_msg_template"))
    assert len(first["external_userid"]) == 12
    assert sorted(first["external_userid"] + second["external_userid"]) == sorted(
        c.external_userid for c in contacts
    )
    texts = [r["body"]["text"]["content"] for r in records(sandbox, "message/send")]
    assert ["12 位客户" in texts[0], "8 位客户" in texts[1]] == [True, True]
    with tenant_context(app):
        by_delivery = Counter(SopTask.objects.filter(sop=sop).values_list("delivery__status", flat=True))
        assert by_delivery == {DeliveryStatus.SENT: 40}  # nothing lost: every task's delivery was sent


def test_every_step_type_through_the_sandbox(app, sandbox, live_sop, member, sql):  # noqa: F811 -- the imported fixture
    """A small SOP of every step type, run to its end and sent: the same on both paths."""
    from value.models import PointsEntry

    staff, contacts = member
    contacts = contacts[:5]
    with tenant_context(app):
        tag = Tag.objects.filter(deleted=False).order_by("pk").first()
    steps = [
        {"id": "w", "type": "wait", "minutes": 5},
        {"id": "wu", "type": "wait_until", "time": "09:00"},
        {"id": "wb", "type": "wait_business_hours"},
        {
            "id": "b",
            "type": "branch",
            "if": {"match": "all", "criteria": [{"in_group": False}]},
            "then": [{"id": "tag", "type": "action", "action": "tag_add", "tag_ids": [tag.pk]}],
            "else": [{"id": "stage", "type": "action", "action": "set_stage", "stage_id": None}],
        },
        {
            "id": "s",
            "type": "split",
            "branches": [
                {
                    "id": "a",
                    "name": "A",
                    "percent": 50,
                    "steps": [{"id": "pts", "type": "action", "action": "grant_points", "points": 5}],
                },
                {"id": "z", "name": "Z", "percent": 50, "steps": []},
            ],
        },
        REMIND,
        MASS,
        {"id": "n", "type": "action", "action": "notify", "text": "已到达", "staff_ids": [staff.pk]},
    ]
    sop = enrolled(app, live_sop, steps, staff, contacts, respect_caps=False)
    later = timezone.now() + dt.timedelta(days=7)  # past every wait, whatever the weekday
    passes = 0
    while sop_run_due(tenant_id=app.pk, now=later).claimed:
        passes += 1
    assert passes == 2  # 8 chained rounds in the first pass, the rest in the second
    with tenant_context(app):
        assert set(SopEnrolment.objects.filter(sop=sop).values_list("status", flat=True)) == {"completed"}
        drawn = Counter(e.splits["s"] for e in SopEnrolment.objects.filter(sop=sop))
        done = Counter(SopStepRun.objects.filter(sop=sop, status="done").values_list("step_id", flat=True))
        assert PointsEntry.objects.filter(contact__in=contacts, note="").count() == drawn["a"]
    assert done["tag"] + done["stage"] == 5
    assert done == {
        "w": 5,
        "wu": 5,
        "wb": 5,
        "b": 5,
        "s": 5,
        "r": 5,
        "m": 5,
        "n": 5,
        **({"tag": done["tag"]} if done["tag"] else {}),
        **({"stage": done["stage"]} if done["stage"] else {}),
        **({"pts": drawn["a"]} if drawn["a"] else {}),
    }
    assert deliveries_send(tenant_id=app.pk, now=after_window()) == 3
    (template,) = records(sandbox, "externalcontact/add_msg_template")
    assert sorted(template["body"]["external_userid"]) == sorted(c.external_userid for c in contacts)
    texts = sorted(r["body"]["text"]["content"] for r in records(sandbox, "message/send"))
    assert {t[:7] for t in texts} == {"【SOP通知】", "【SOP待办】"}
    assert all("5 位客户" in t for t in texts)
