"""Reminding members to publish corp Moments, and the department leaders' daily digest.

Every reminder is a WeCom app message (``message/send``) from the tenant's self-built app, so only a
tenant with an ``agent_id`` sends any. WeCom drops, silently, a member's app messages beyond 30 a
minute and 1,000 an hour (wecom-api.md §9a): every message is first written to the
``MomentReminder`` ledger, which is read before sending, and what is due for one member is coalesced
into one message (never one per post). Members whose message reads the same share one call (up to
1,000 userids in ``touser``).

- Automatic (hourly, ``reminders_send_due``): the unpublished copies of corp posts still tracked and
  not cancelled, older than the tenant's ``remind_after_hours``, never reminded: one message per member
  naming all of theirs, each copy reminded automatically at most once.
- Manual (``task_remind``, the dashboard's button): one message per member of a task who has not
  published it, skipping members who got any Moments reminder in the last 10 minutes.
- Digest (``manager_digest_send``, when the tenant turned it on): once a day from 18:00 in the
  tenant's time zone, each department leader gets the unpublished count of every member of their
  departments (sub-departments included) who has one.

A send is claimed before the call: the copies named get ``reminded_at`` and the ledger rows are
written in one transaction, which locks what it claims (a second run skips or waits for it). When
WeCom refuses the message (an errcode, or the member in ``invaliduser``), the claim is given back and
the ledger row keeps the error; when WeCom could not be reached the outcome is unknown and nothing is
retried (a member may miss one reminder, never get two).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from campaigns.services.settings import tenant_zone
from contacts.models import Department, Staff
from scrm.tenancy.actors import Actor
from scrm.tenancy.models import Tenant
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import WeComError

from ..models import CreateType, MomentPublication, MomentReminder, MomentTask, ReminderKind, TaskStatus
from .settings import DIGEST_HOUR, moment_settings_get

logger = logging.getLogger(__name__)

PER_MINUTE, PER_HOUR = 30, 1000  # app messages a member receives from one app; WeCom drops the rest
RECENT = dt.timedelta(minutes=10)  # a manual reminder skips members reminded this recently
TOUSER_MAX = 1000  # userids in one message/send
CONTENT_MAX_BYTES = 2048  # message/send's limit on a text message
POSTS_NAMED = 5  # posts quoted in one reminder; the rest are counted
SNIPPET = 20  # characters of a post's text quoted
CONTENT_LABELS = (("image", "[图片]"), ("video", "[视频]"), ("link", "[链接]"))

AUTO_MESSAGE = (
    "【朋友圈待发表】您有 {count} 条企业朋友圈尚未发表：\n{posts}\n请在企业微信「客户朋友圈」中发表。"
)
MANUAL_MESSAGE = "【朋友圈待发表】提醒您发表这条企业朋友圈：\n{post}\n请在企业微信「客户朋友圈」中发表。"
DIGEST_MESSAGE = (
    "【朋友圈日报】{date} 您部门有 {members} 位成员尚未发表企业朋友圈（共 {posts} 条）：\n{lines}"
)


@dataclass
class _Message:
    """One member's reminder: the ledger row, the copies it names (with their previous reminded_at)."""

    staff_id: int
    userid: str
    content: str
    posts: int
    copies: dict[int, dt.datetime | None] = field(default_factory=dict)
    reminder_id: int | None = None
    error: dict[str, Any] | None = None
    definite: bool = False  # WeCom answered: the member did not get it


def _snippet(text: str, content: dict[str, Any]) -> str:
    text = " ".join(text.split())
    if text:
        return f"「{text[:SNIPPET]}{'…' if len(text) > SNIPPET else ''}」"
    return next((label for key, label in CONTENT_LABELS if content.get(key)), "「朋友圈」")


def _fit(content: str) -> str:
    """Cut a message to WeCom's 2,048 bytes (whole characters)."""
    data = content.encode()
    if len(data) <= CONTENT_MAX_BYTES:
        return content
    return data[: CONTENT_MAX_BYTES - len("…".encode())].decode(errors="ignore") + "…"


def _pending() -> QuerySet[MomentPublication]:
    """Copies of corp posts still tracked and not cancelled that their members have not published."""
    return MomentPublication.objects.filter(
        published=False,
        staff__is_active=True,
        moment__create_type=CreateType.CORP,
        moment__cancelled=False,
        moment__next_poll_at__isnull=False,
    )


def _at_limit(staff_ids: list[int], now: dt.datetime) -> set[int]:
    """Members whose ledger says one more message this minute or hour would be dropped by WeCom."""
    if not staff_ids:
        return set()
    rows = (
        MomentReminder.objects.filter(staff_id__in=staff_ids, sent_at__gt=now - dt.timedelta(hours=1))
        .values("staff_id")
        .annotate(hour=Count("id"), minute=Count("id", filter=Q(sent_at__gt=now - dt.timedelta(minutes=1))))
    )
    return {row["staff_id"] for row in rows if row["hour"] >= PER_HOUR or row["minute"] >= PER_MINUTE}


def _claim(messages: list[_Message], kind: str, now: dt.datetime) -> None:
    """The ledger rows and the copies' ``reminded_at`` (inside the caller's transaction)."""
    rows = MomentReminder.objects.bulk_create(
        [MomentReminder(staff_id=m.staff_id, kind=kind, posts=m.posts, sent_at=now) for m in messages]
    )
    for message, row in zip(messages, rows, strict=True):
        message.reminder_id = row.pk
    copies = [pk for m in messages for pk in m.copies]
    if copies:
        MomentPublication.objects.filter(pk__in=copies).update(reminded_at=now)


def _deliver(api: WeComAPI, agent_id: str, messages: list[_Message]) -> int:
    """Send the messages, members with the same text in one call; returns the calls made. Failures
    are set on the messages (``error``; ``definite`` when WeCom answered)."""
    by_content: dict[str, list[_Message]] = defaultdict(list)
    for message in messages:
        by_content[message.content].append(message)
    calls = 0
    for content, group in by_content.items():
        for start in range(0, len(group), TOUSER_MAX):
            part = group[start : start + TOUSER_MAX]
            calls += 1
            try:
                answer = api.message_send_text(
                    agent_id=agent_id, touser=[m.userid for m in part], content=content
                )
            except WeComError as exc:
                for message in part:
                    message.error, message.definite = exc.as_dict(), exc.errcode is not None
                continue
            invalid = set((answer.get("invaliduser") or "").split("|")) - {""}
            for message in part:
                if message.userid in invalid:
                    message.error = {
                        "api": "message/send",
                        "errcode": None,
                        "errmsg": "invaliduser",
                        "hint": "",
                    }
                    message.definite = True
    return calls


def _settle(messages: list[_Message]) -> list[dict[str, Any]]:
    """Keep each failure on its ledger row; give back the claim of the members WeCom refused."""
    failed = [m for m in messages if m.error is not None]
    if not failed:
        return []
    with transaction.atomic():
        for message in failed:
            MomentReminder.objects.filter(pk=message.reminder_id).update(error=message.error)
        MomentPublication.objects.bulk_update(
            [
                MomentPublication(pk=pk, reminded_at=previous)
                for message in failed
                if message.definite
                for pk, previous in message.copies.items()
            ],
            ["reminded_at"],
        )
    return [{"userid": m.userid, **(m.error or {})} for m in failed]


def _send(tenant: Tenant, api: WeComAPI | None, messages: list[_Message]) -> tuple[int, list[dict[str, Any]]]:
    if not messages:
        return 0, []
    calls = _deliver(api or api_for(tenant), tenant.agent_id, messages)
    return calls, _settle(messages)


# --- automatic -------------------------------------------------------------------------------------


def reminders_send_due(
    *, tenant: Tenant, now: dt.datetime | None = None, api: WeComAPI | None = None
) -> dict:
    """The hourly automatic reminders of one tenant (see the module's docstring). Returns
    {"reminded": members, "posts": copies named, "skipped_limit": members at WeCom's limit (they
    are reminded at a later run), "app_messages": calls, "errors": [...]}."""
    now = now or timezone.now()
    summary: dict[str, Any] = {"reminded": 0, "posts": 0, "skipped_limit": 0, "app_messages": 0, "errors": []}
    hours = moment_settings_get(tenant=tenant).remind_after_hours
    if not tenant.agent_id or not hours:
        return summary
    with transaction.atomic():
        rows = list(
            _pending()
            .filter(reminded_at__isnull=True, moment__created_at_wecom__lte=now - dt.timedelta(hours=hours))
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("staff_id", "moment__created_at_wecom", "pk")
            .values_list("pk", "staff_id", "staff__userid", "moment__text", "moment__content")
        )
        per_member: dict[int, list[tuple]] = defaultdict(list)
        for row in rows:
            per_member[row[1]].append(row)
        limited = _at_limit(list(per_member), now)
        messages = [
            _auto_message(staff_id, copies)
            for staff_id, copies in per_member.items()
            if staff_id not in limited
        ]
        _claim(messages, ReminderKind.AUTO, now)
    summary["app_messages"], summary["errors"] = _send(tenant, api, messages)
    summary["reminded"] = sum(1 for m in messages if not m.definite)
    summary["posts"] = sum(m.posts for m in messages if not m.definite)
    summary["skipped_limit"] = len(limited)
    return summary


def _auto_message(staff_id: int, copies: list[tuple]) -> _Message:
    named = [
        f"{i}. {_snippet(text, content)}"
        for i, (_, _, _, text, content) in enumerate(copies[:POSTS_NAMED], 1)
    ]
    if len(copies) > POSTS_NAMED:
        named.append(f"……等 {len(copies)} 条")
    return _Message(
        staff_id=staff_id,
        userid=copies[0][2],
        content=_fit(AUTO_MESSAGE.format(count=len(copies), posts="\n".join(named))),
        posts=len(copies),
        copies={pk: None for pk, *_ in copies},
    )


# --- manual ----------------------------------------------------------------------------------------


def task_remind(
    *, task: MomentTask, actor: Actor, staff_ids: list[int] | None = None, api: WeComAPI | None = None
) -> dict[str, Any]:
    """Remind the members of ``task`` (or those of ``staff_ids``) who have not published it: one app
    message each. Members who published are skipped (``skipped_published``), and so are members who
    got any Moments reminder in the last 10 minutes or are at WeCom's limit (``skipped_recent``)."""
    if not task.tenant.agent_id:
        raise ValidationError(
            {"agent_id": ["Reminders are WeCom app messages: set the tenant's app (AgentId) first."]},
            code="no_agent",
        )
    if task.status != TaskStatus.PUBLISHING or task.moment_id is None:
        raise ValidationError(
            {"status": ["Only a task its members are publishing can be reminded."]}, code="not_publishing"
        )
    now = timezone.now()
    copies = MomentPublication.objects.filter(moment_id=task.moment_id)
    if staff_ids is not None:
        copies = copies.filter(staff_id__in=staff_ids)
    with transaction.atomic():
        rows = list(
            copies.select_for_update(of=("self",))
            .order_by("staff_id")
            .values_list("pk", "staff_id", "staff__userid", "published", "reminded_at")
        )
        if staff_ids is not None:
            strangers = sorted(set(staff_ids) - {row[1] for row in rows})
            if strangers:
                raise ValidationError(
                    {"staff_ids": [f"Not asked to publish this task: {strangers}."]}, code="not_members"
                )
        pending = [row for row in rows if not row[3]]
        members = [row[1] for row in pending]
        recent = set(
            MomentReminder.objects.filter(staff_id__in=members, sent_at__gt=now - RECENT).values_list(
                "staff_id", flat=True
            )
        ) | _at_limit(members, now)
        moment = task.moment
        content = _fit(MANUAL_MESSAGE.format(post=_snippet(moment.text, moment.content)))
        messages = [
            _Message(staff_id=staff_id, userid=userid, content=content, posts=1, copies={pk: reminded_at})
            for pk, staff_id, userid, _, reminded_at in pending
            if staff_id not in recent
        ]
        _claim(messages, ReminderKind.MANUAL, now)
    calls, errors = _send(task.tenant, api, messages)
    logger.info(
        "Moments task %s: %s members reminded by %s", task.pk, len(messages), actor.kind or "the system"
    )
    return {
        "reminded": sum(1 for m in messages if not m.definite),
        "skipped_published": len(rows) - len(pending),
        "skipped_recent": len(pending) - len(messages),
        "app_messages": calls,
        "errors": errors,
    }


# --- the leaders' digest ---------------------------------------------------------------------------


def manager_digest_send(
    *, tenant: Tenant, now: dt.datetime | None = None, api: WeComAPI | None = None
) -> dict:
    """Once a day, from 18:00 in the tenant's zone: each department leader gets, for each member of
    their departments with unpublished corp posts, how many. Returns {"leaders": messages,
    "app_messages": calls, "errors": [...]}; a leader already sent today's digest is not sent another."""
    now = now or timezone.now()
    summary: dict[str, Any] = {"leaders": 0, "app_messages": 0, "errors": []}
    if not tenant.agent_id or not moment_settings_get(tenant=tenant).manager_digest:
        return summary
    local = now.astimezone(tenant_zone(tenant=tenant))
    if local.hour < DIGEST_HOUR:
        return summary
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    counts = dict(
        _pending().order_by().values("staff_id").annotate(n=Count("id")).values_list("staff_id", "n")
    )
    if not counts:
        return summary
    members = list(
        Staff.objects.filter(pk__in=list(counts))
        .order_by("name", "pk")
        .values_list("pk", "name", "department_ids")
    )
    tree = list(Department.objects.values_list("wecom_id", "parent_wecom_id"))
    with transaction.atomic():
        # Locked while today's rows are checked and written: a second run skips these leaders.
        leaders = list(
            Staff.objects.filter(is_active=True)
            .exclude(leader_department_ids=[])
            .select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", "userid", "leader_department_ids")
        )
        done = set(
            MomentReminder.objects.filter(
                kind=ReminderKind.DIGEST, sent_at__gte=day_start, staff_id__in=[pk for pk, *_ in leaders]
            ).values_list("staff_id", flat=True)
        )
        limited = _at_limit([pk for pk, *_ in leaders], now)
        messages = []
        for pk, userid, departments in leaders:
            if pk in done or pk in limited:
                continue
            scope = _with_children(set(departments), tree)
            theirs = [(name, counts[member]) for member, name, ids in members if scope & set(ids)]
            if theirs:
                messages.append(_digest_message(pk, userid, theirs, local.date()))
        _claim(messages, ReminderKind.DIGEST, now)
    summary["app_messages"], summary["errors"] = _send(tenant, api, messages)
    summary["leaders"] = sum(1 for m in messages if not m.definite)
    return summary


def _with_children(roots: set[int], tree: list[tuple[int, int]]) -> set[int]:
    """WeCom department ids ``roots`` and every department under them."""
    found = set(roots)
    while True:
        children = {wecom_id for wecom_id, parent in tree if parent in found} - found
        if not children:
            return found
        found |= children


def _digest_message(staff_id: int, userid: str, theirs: list[tuple[str, int]], day: dt.date) -> _Message:
    posts = sum(n for _, n in theirs)
    lines = "\n".join(f"{name or '—'}：{n} 条" for name, n in theirs)
    content = DIGEST_MESSAGE.format(date=day.isoformat(), members=len(theirs), posts=posts, lines=lines)
    return _Message(staff_id=staff_id, userid=userid, content=_fit(content), posts=posts)
