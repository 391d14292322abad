"""SOP actions that reach WeCom, against the in-process sandbox: tags through the member's follow
(idempotent when run again), a Moments task per pass (created once through its key), operators
notified by one app message per pass, and a reminder without the tenant's app kept as failed.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Count
from django.utils import timezone

from contacts.models import Follow, FollowStatus, Staff, Tag
from moments.models import MomentTask
from scrm.tenancy.context import tenant_context
from sop.models import DeliveryKind, DeliveryStatus, SopDelivery, SopStepRun, StepStatus
from sop.services.actions import coalesce_seconds, deliveries_send
from sop.services.engine import NewEnrolment, enrolments_create, sop_run_due
from tests.campaigns.sandboxed import synced  # noqa: F401 -- fixtures reused here
from tests.contacts.conftest import connected  # noqa: F401 -- fixture reused here
from tests.helpers import sandbox_control
from tests.wecom.conftest import sandbox, sandbox_factory  # noqa: F401 -- fixtures reused here

pytestmark = pytest.mark.django_db


@pytest.fixture
def app(synced, sandbox):  # noqa: F811 -- the imported fixture
    synced.agent_id = sandbox.agent_id
    synced.save()
    return synced


@pytest.fixture
def members(app):
    """Two synced members with customers, and three customers of each."""
    with tenant_context(app):
        ids = list(
            Follow.objects.filter(status=FollowStatus.ACTIVE, staff__has_contact_permission=True)
            .values("staff_id")
            .annotate(n=Count("id"))
            .filter(n__gte=3)
            .order_by("-n", "staff_id")
            .values_list("staff_id", flat=True)[:2]
        )
        result = []
        for staff in Staff.objects.filter(pk__in=ids).order_by("pk"):
            follows = Follow.objects.filter(staff=staff, status=FollowStatus.ACTIVE).select_related("contact")
            result.append((staff, [f.contact for f in follows.order_by("pk")[:3]]))
    return result


def after_window() -> dt.datetime:
    """A moment after the coalescing window of deliveries written now: they are sent then."""
    return timezone.now() + dt.timedelta(seconds=coalesce_seconds() + 1)


def records(box, path: str) -> list[dict]:
    return sandbox_control(box, f"records/{path}")["records"]


def run(app, live_sop, steps: list[dict], pairs: list[tuple]):
    sop = live_sop({"trigger": {"type": "manual"}, "steps": steps}, tenant=app)
    now = timezone.now()
    with tenant_context(app):
        items = [NewEnrolment(c.pk, None, staff.pk, "", now) for staff, contacts in pairs for c in contacts]
        enrolments_create(sop=sop, version=sop.live_version, items=items, now=now)
    sop_run_due(tenant_id=app.pk)
    return sop


def test_tags_are_added_and_removed_on_the_members_follow(app, sandbox, live_sop, members):  # noqa: F811
    staff, contacts = members[0]
    contact = contacts[0]
    with tenant_context(app):
        follow = Follow.objects.get(contact=contact, staff=staff)
        tag = Tag.objects.filter(deleted=False).exclude(wecom_id__in=follow.tag_ids).order_by("pk").first()
    sop = run(
        app,
        live_sop,
        [
            {"id": "add", "type": "action", "action": "tag_add", "tag_ids": [tag.pk]},
            {"id": "wait", "type": "wait", "days": 1},
            {"id": "remove", "type": "action", "action": "tag_remove", "tag_ids": [tag.pk]},
        ],
        [(staff, [contact])],
    )
    (marked,) = records(sandbox, "externalcontact/mark_tag")
    assert marked["body"]["userid"] == staff.userid
    assert marked["body"]["external_userid"] == contact.external_userid
    assert marked["body"]["add_tag"] == [tag.wecom_id]
    follow.refresh_from_db()
    assert tag.wecom_id in follow.tag_ids
    # Executed again (a pass that died after tagging): the tag is there, nothing is called.
    with tenant_context(app):
        SopStepRun.objects.filter(sop=sop, step_id="add").update(status=StepStatus.PENDING, claimed_at=None)
        SopStepRun.objects.filter(sop=sop, step_id="wait").delete()
    sop_run_due(tenant_id=app.pk)
    assert len(records(sandbox, "externalcontact/mark_tag")) == 1
    with tenant_context(app):
        SopStepRun.objects.filter(sop=sop, step_id="wait").update(due_at=timezone.now())
    sop_run_due(tenant_id=app.pk)
    removed = records(sandbox, "externalcontact/mark_tag")[-1]["body"]
    assert removed["remove_tag"] == [tag.wecom_id]
    follow.refresh_from_db()
    assert tag.wecom_id not in follow.tag_ids
    with tenant_context(app):
        outcomes = dict(SopStepRun.objects.filter(sop=sop).values_list("step_id", "outcome"))
    assert outcomes == {"add": "tagged", "wait": "waited", "remove": "untagged"}


def test_one_moments_task_per_pass_for_its_members(app, live_sop, members):
    sop = run(
        app,
        live_sop,
        [
            {
                "id": "post",
                "type": "action",
                "action": "moment_task",
                "text": "新品上市，欢迎转发",
                "attachments": [],
            }
        ],
        members,
    )
    with tenant_context(app):
        (delivery,) = SopDelivery.objects.filter(sop=sop)
    assert (delivery.kind, delivery.items) == (DeliveryKind.MOMENT_TASK, 6)
    assert delivery.targets == sorted(staff.userid for staff, _ in members)
    assert deliveries_send(tenant_id=app.pk) == 0  # its window is not over
    assert deliveries_send(tenant_id=app.pk, now=after_window()) == 1
    delivery.refresh_from_db()
    with tenant_context(app):
        task = MomentTask.objects.get(pk=int(delivery.msgid))
        assert sorted(task.staff_ids) == sorted(staff.pk for staff, _ in members)
        assert task.text == "新品上市，欢迎转发"
        assert task.status != "draft"
        # A lost answer: asked again, the key answers the same task.
        SopDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.CLAIMED, msgid="", claimed_at=timezone.now() - dt.timedelta(minutes=6)
        )
    deliveries_send(tenant_id=app.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.msgid) == (DeliveryStatus.SENT, str(task.pk))
    with tenant_context(app):
        assert MomentTask.objects.count() == 1


def test_operators_are_notified_once_per_pass(app, sandbox, live_sop, members):  # noqa: F811
    operator = members[1][0]
    sop = run(
        app,
        live_sop,
        [{"id": "n", "type": "action", "action": "notify", "text": "请关注", "staff_ids": [operator.pk]}],
        members,
    )
    assert deliveries_send(tenant_id=app.pk, now=after_window()) == 1
    (message,) = records(sandbox, "message/send")
    assert message["body"]["touser"] == operator.userid
    assert "6 位客户" in message["body"]["text"]["content"]
    with tenant_context(app):
        assert set(SopStepRun.objects.filter(sop=sop).values_list("outcome", flat=True)) == {"notified"}


def test_a_reminder_without_the_tenants_app_fails_and_keeps_its_tasks(app, sandbox, live_sop, members):  # noqa: F811
    app.agent_id = ""
    app.save()
    sop = run(
        app,
        live_sop,
        [{"id": "r", "type": "action", "action": "remind", "text": "跟进", "attachments": []}],
        members[:1],
    )
    assert deliveries_send(tenant_id=app.pk, now=after_window()) == 0
    with tenant_context(app):
        (delivery,) = SopDelivery.objects.filter(sop=sop)
        assert (delivery.status, delivery.error["code"]) == (DeliveryStatus.FAILED, "no_agent")
        assert delivery.items == 3
    assert records(sandbox, "message/send") == []
