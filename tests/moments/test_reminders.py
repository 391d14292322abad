"""Reminders to publish corp Moments (WeCom app messages through the sandbox): coalesced per member,
within WeCom's per-member limits, manual reminders from the dashboard, the leaders' daily digest."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest
import time_machine
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from campaigns.services.settings import tenant_zone
from contacts.models import Department, Staff
from moments.models import (
    CreateType,
    Moment,
    MomentPublication,
    MomentReminder,
    MomentTask,
    ReminderKind,
    TaskStatus,
)
from moments.services.reminders import manager_digest_send, reminders_send_due, task_remind
from moments.services.settings import moment_settings_update
from scrm.tenancy.actors import Actor
from scrm.tenancy.context import tenant_context

pytestmark = pytest.mark.django_db

_seq = itertools.count(1)


@pytest.fixture
def app(synced, sandbox):
    """Tenant A, synced, with the sandbox's self-built app to send app messages from."""
    synced.agent_id = sandbox.agent_id
    synced.save()
    return synced


@pytest.fixture
def staff(app) -> list[Staff]:
    """Four members of tenant A (synced from the sandbox: WeCom knows them)."""
    with tenant_context(app):
        return list(Staff.objects.filter(has_contact_permission=True, is_active=True).order_by("userid")[:4])


def corp_moment(tenant, members, *, text: str, hours_ago: float = 25, published=(), **fields) -> Moment:
    """A tracked corp post that ``members`` were asked to publish ``hours_ago``."""
    now = timezone.now()
    fields.setdefault("next_poll_at", now + dt.timedelta(hours=1))
    with tenant_context(tenant):
        moment = Moment.objects.create(
            moment_id=f"mom-{next(_seq)}",
            create_type=CreateType.CORP,
            text=text,
            created_at_wecom=now - dt.timedelta(hours=hours_ago),
            **fields,
        )
        MomentPublication.objects.bulk_create(
            MomentPublication(moment=moment, staff=s, published=s in published) for s in members
        )
    return moment


def sent(sandbox) -> list[dict]:
    """The app messages WeCom received: {"touser", "content"} per call."""
    return [
        {"touser": r["body"]["touser"], "content": r["body"]["text"]["content"]}
        for r in sandbox.records("message/send")
    ]


def remind_due(tenant, now=None) -> dict:
    with tenant_context(tenant):
        return reminders_send_due(tenant=tenant, now=now)


def copies(moment: Moment) -> dict[str, MomentPublication]:
    return {
        p.staff.userid: p for p in MomentPublication.unscoped.filter(moment=moment).select_related("staff")
    }


def ledger(tenant, **filters) -> list[MomentReminder]:
    with tenant_context(tenant):
        return list(
            MomentReminder.objects.filter(**filters).select_related("staff").order_by("staff__userid")
        )


# --- automatic ------------------------------------------------------------------------------------


def test_a_member_with_pending_posts_gets_one_message_naming_them_all(app, sandbox, staff):
    a, b = staff[:2]
    first = corp_moment(app, [a, b], text="春季新品上市，老客户专享九折")
    second = corp_moment(app, [a], text="周末亲子手作活动报名中")
    third = corp_moment(app, [a], text="新到一批限量礼盒")
    fresh = corp_moment(app, [a], text="刚发的", hours_ago=2)
    corp_moment(app, [a], text="已发表", published=[a])
    corp_moment(app, [a], text="已取消", cancelled=True)
    corp_moment(app, [a], text="不再跟踪", next_poll_at=None)

    summary = remind_due(app)

    assert (summary["reminded"], summary["posts"], summary["app_messages"]) == (2, 4, 2)
    messages = {m["touser"]: m["content"] for m in sent(sandbox)}
    assert set(messages) == {a.userid, b.userid}
    assert "3 条" in messages[a.userid]
    for text in ("春季新品上市", "周末亲子手作", "新到一批限量"):
        assert text in messages[a.userid]
    assert "刚发的" not in messages[a.userid]
    assert "已发表" not in messages[a.userid]
    assert "1 条" in messages[b.userid]
    assert [(r.staff_id, r.kind, r.posts) for r in ledger(app)] == [
        (a.pk, ReminderKind.AUTO, 3),
        (b.pk, ReminderKind.AUTO, 1),
    ]
    assert all(c.reminded_at is not None for c in copies(first).values())
    assert copies(second)[a.userid].reminded_at is not None
    assert copies(third)[a.userid].reminded_at is not None
    assert copies(fresh)[a.userid].reminded_at is None

    # Each post is reminded automatically once.
    assert remind_due(app)["reminded"] == 0
    assert len(sent(sandbox)) == 2

    # The fresh one's turn comes: a message naming it alone.
    summary = remind_due(app, now=timezone.now() + dt.timedelta(hours=23))
    assert (summary["reminded"], summary["posts"]) == (1, 1)
    assert sent(sandbox)[-1]["touser"] == a.userid
    assert "刚发的" in sent(sandbox)[-1]["content"]
    assert "春季新品" not in sent(sandbox)[-1]["content"]


def test_members_with_the_same_posts_share_one_call(app, sandbox, staff):
    corp_moment(app, staff[:3], text="会员日福利已上线")

    summary = remind_due(app)

    assert (summary["reminded"], summary["app_messages"]) == (3, 1)
    (message,) = sent(sandbox)
    assert sorted(message["touser"].split("|")) == sorted(s.userid for s in staff[:3])


def test_nothing_is_sent_without_an_app_or_with_reminders_off(app, sandbox, staff):
    moment = corp_moment(app, staff[:1], text="会员日福利已上线")
    with tenant_context(app):
        moment_settings_update(tenant=app, data={"remind_after_hours": 0})
    assert remind_due(app)["reminded"] == 0

    with tenant_context(app):
        moment_settings_update(tenant=app, data={"remind_after_hours": 48})
    assert remind_due(app)["reminded"] == 0  # 25 hours old: not yet

    app.agent_id = ""
    app.save()
    assert remind_due(app, now=timezone.now() + dt.timedelta(days=1))["reminded"] == 0
    assert sent(sandbox) == []
    assert copies(moment)[staff[0].userid].reminded_at is None


@pytest.mark.parametrize(
    ("earlier", "ago", "wait"),
    [
        (30, dt.timedelta(seconds=20), dt.timedelta(minutes=1)),
        (1000, dt.timedelta(minutes=30), dt.timedelta(minutes=31)),
    ],
)
def test_a_member_at_wecoms_limit_is_reminded_at_a_later_run(app, sandbox, staff, earlier, ago, wait):
    a, b = staff[:2]
    moment = corp_moment(app, [a, b], text="直播预告：周四晚8点")
    now = timezone.now()
    with tenant_context(app):
        MomentReminder.objects.bulk_create(
            MomentReminder(staff=a, kind=ReminderKind.MANUAL, sent_at=now - ago) for _ in range(earlier)
        )

    summary = remind_due(app, now=now)

    assert (summary["reminded"], summary["skipped_limit"]) == (1, 1)
    assert [m["touser"] for m in sent(sandbox)] == [b.userid]
    assert copies(moment)[a.userid].reminded_at is None

    summary = remind_due(app, now=now + wait)
    assert (summary["reminded"], summary["skipped_limit"]) == (1, 0)
    assert [m["touser"] for m in sent(sandbox)] == [b.userid, a.userid]


def test_a_refused_message_is_kept_with_its_error_and_tried_again(app, sandbox, staff):
    moment = corp_moment(app, staff[:1], text="直播预告：周四晚8点")
    app.agent_id = "999"  # not the sandbox's app: WeCom answers 40056
    app.save()

    summary = remind_due(app)

    assert summary["reminded"] == 0
    assert [e["errcode"] for e in summary["errors"]] == [40056]
    (row,) = ledger(app)
    assert row.error["errcode"] == 40056
    assert copies(moment)[staff[0].userid].reminded_at is None  # given back: the next run tries again

    app.agent_id = sandbox.agent_id
    app.save()
    assert remind_due(app)["reminded"] == 1


def test_a_member_wecom_does_not_know_is_reported(app, sandbox, staff):
    a, b = staff[:2]
    with tenant_context(app):
        Staff.objects.filter(pk=b.pk).update(userid="left-the-corp")
    moment = corp_moment(app, [a, b], text="会员日福利已上线")

    summary = remind_due(app)

    assert summary["reminded"] == 1
    assert [e["userid"] for e in summary["errors"]] == ["left-the-corp"]
    assert copies(moment)["left-the-corp"].reminded_at is None
    assert copies(moment)[a.userid].reminded_at is not None


# --- manual ---------------------------------------------------------------------------------------


def publishing_task(tenant, members, **kwargs) -> MomentTask:
    moment = corp_moment(tenant, members, text="春季新品上市", **kwargs)
    with tenant_context(tenant):
        return MomentTask.objects.create(text=moment.text, status=TaskStatus.PUBLISHING, moment=moment)


def remind(task: MomentTask, **kwargs) -> dict:
    with tenant_context(task.tenant):
        return task_remind(task=task, actor=Actor(), **kwargs)


def test_manual_remind_skips_who_published_and_who_was_reminded_recently(app, sandbox, staff):
    done, pending, recent, earlier = staff
    task = publishing_task(app, staff, hours_ago=1, published=[done])
    now = timezone.now()
    with tenant_context(app):
        MomentReminder.objects.create(
            staff=recent, kind=ReminderKind.AUTO, sent_at=now - dt.timedelta(minutes=5)
        )
        MomentReminder.objects.create(
            staff=earlier, kind=ReminderKind.AUTO, sent_at=now - dt.timedelta(minutes=11)
        )

    summary = remind(task)

    assert summary == {
        "reminded": 2,
        "skipped_published": 1,
        "skipped_recent": 1,
        "app_messages": 1,
        "errors": [],
    }
    (message,) = sent(sandbox)
    assert sorted(message["touser"].split("|")) == sorted([pending.userid, earlier.userid])
    assert "春季新品上市" in message["content"]
    assert {r.staff_id for r in ledger(app, kind=ReminderKind.MANUAL)} == {pending.pk, earlier.pk}
    assert copies(task.moment)[pending.userid].reminded_at is not None

    # A second click at once reminds nobody.
    summary = remind(task)
    assert (summary["reminded"], summary["skipped_recent"], summary["app_messages"]) == (0, 3, 0)
    assert len(sent(sandbox)) == 1


def test_manual_remind_of_some_members(app, sandbox, staff):
    task = publishing_task(app, staff[:3])

    summary = remind(task, staff_ids=[staff[1].pk])

    assert (summary["reminded"], summary["skipped_published"], summary["skipped_recent"]) == (1, 0, 0)
    assert [m["touser"] for m in sent(sandbox)] == [staff[1].userid]
    with pytest.raises(ValidationError) as refused:
        remind(task, staff_ids=[staff[3].pk])
    assert refused.value.get_codes() == {"staff_ids": ["not_members"]}


def test_manual_remind_needs_an_app_and_a_publishing_task(app, sandbox, staff):
    task = publishing_task(app, staff[:1])
    with tenant_context(app):
        MomentTask.objects.filter(pk=task.pk).update(status=TaskStatus.CANCELLED)
    task.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        remind(task)
    assert refused.value.get_codes() == {"status": ["not_publishing"]}

    task.status = TaskStatus.PUBLISHING
    app.agent_id = ""
    app.save()
    task.tenant.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        remind(task)
    assert refused.value.get_codes() == {"agent_id": ["no_agent"]}
    assert sent(sandbox) == []


# --- the leaders' digest --------------------------------------------------------------------------


@pytest.fixture
def departments(app, staff):
    """Sales (9001) with East (9002) under it, and Support (9003); the first member leads Sales."""
    leader, in_sales, in_east, in_support = staff
    with tenant_context(app):
        Department.objects.bulk_create(
            [
                Department(wecom_id=9001, name="Sales", parent_wecom_id=1),
                Department(wecom_id=9002, name="East", parent_wecom_id=9001),
                Department(wecom_id=9003, name="Support", parent_wecom_id=1),
            ]
        )
        Staff.objects.filter(pk=leader.pk).update(department_ids=[9001], leader_department_ids=[9001])
        Staff.objects.filter(pk=in_sales.pk).update(department_ids=[9001], name="王销售")
        Staff.objects.filter(pk=in_east.pk).update(department_ids=[9002], name="李东区")
        Staff.objects.filter(pk=in_support.pk).update(department_ids=[9003], name="赵客服")
        moment_settings_update(tenant=app, data={"manager_digest": True})
        zone = tenant_zone(tenant=app)
    corp_moment(app, [in_sales, in_east, in_support], text="春季新品上市")
    corp_moment(app, [in_sales], text="周末亲子手作")
    return zone


def at(zone: zoneinfo.ZoneInfo, day_offset: int, hour: int, minute: int = 5) -> dt.datetime:
    today = timezone.now().astimezone(zone).date() + dt.timedelta(days=day_offset)
    return dt.datetime(today.year, today.month, today.day, hour, minute, tzinfo=zone)


def digest(tenant, now) -> dict:
    with tenant_context(tenant), time_machine.travel(now, tick=False):
        return manager_digest_send(tenant=tenant, now=now)


def test_each_leader_gets_one_digest_a_day_from_18_00(app, sandbox, staff, departments):
    leader = staff[0]

    assert digest(app, at(departments, 1, 17, 55))["leaders"] == 0
    summary = digest(app, at(departments, 1, 18, 5))

    assert (summary["leaders"], summary["app_messages"], summary["errors"]) == (1, 1, [])
    (message,) = sent(sandbox)
    assert message["touser"] == leader.userid
    assert "王销售：2 条" in message["content"]
    assert "李东区：1 条" in message["content"]  # a sub-department's member
    assert "赵客服" not in message["content"]  # another department's
    (row,) = ledger(app, kind=ReminderKind.DIGEST)
    assert (row.staff_id, row.posts) == (leader.pk, 3)

    assert digest(app, at(departments, 1, 19, 5))["leaders"] == 0  # once a day
    assert digest(app, at(departments, 2, 18, 5))["leaders"] == 1
    assert len(sent(sandbox)) == 2


def test_no_digest_when_switched_off_or_nothing_is_pending(app, sandbox, staff, departments):
    with tenant_context(app):
        moment_settings_update(tenant=app, data={"manager_digest": False})
    assert digest(app, at(departments, 1, 18, 5))["leaders"] == 0

    with tenant_context(app):
        moment_settings_update(tenant=app, data={"manager_digest": True})
        MomentPublication.objects.update(published=True)
    assert digest(app, at(departments, 1, 18, 5))["leaders"] == 0
    assert sent(sandbox) == []
