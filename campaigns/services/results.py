"""What became of a campaign's tasks: results polling, reminders and cancelling (issue 15, item 6).

WeCom pushes nothing about mass messages: whether a member confirmed (``get_groupmsg_task``) and what
each recipient got (``get_groupmsg_send_result``: 0 not sent yet, 1 sent, 2 not a friend, 3 over the
receive limit) are polled. Each poll reads, per task not complete yet:

- the member's confirmation, while it is missing (one call; 41063 "still dispatching" → next poll);
- once confirmed, the send results from the task's stored ``result_cursor`` on, 1,000 a page. The
  stored cursor only moves past pages whose every row is final (status ≠ 0), so a later poll starts
  at the first page that can still change; a task whose last page is final is complete and never read
  again.

Each page is one transaction: the recipients whose status changed (a read of the page's rows, then
one set-based UPDATE), a ``Touch`` (kind mass_message, the frequency-cap ledger) and a
``ContactEvent`` ``mass_message_received`` for each recipient newly sent. A poll that learns nothing
new writes no row but the campaign's own schedule (``next_poll_at``, ``polls``).

The schedule (``next_poll_at``, claimed by the ``campaigns.poll_due`` tick with SKIP LOCKED): a minute
after the dispatch, then every 5 minutes for the first 6 hours (members confirm within hours), hourly
until 3 days, then daily; 14 days after the dispatch (``CLOSE_AFTER``) the campaign is closed after a
last poll. A campaign whose every task is complete closes at once (nothing can change any more).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from contacts.models import EventType
from contacts.services.events import EventRow, events_record_rows
from scrm.tenancy.actors import Actor
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import WeComError

from ..models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    CampaignTask,
    ChatType,
    RecipientStatus,
    TaskStatus,
    Touch,
    TouchKind,
)

logger = logging.getLogger(__name__)

RESULT_PAGE = 1000  # get_groupmsg_send_result's and get_groupmsg_task's maximum
STILL_DISPATCHING = 41063
WECOM_STATUS = {1: RecipientStatus.SENT, 2: RecipientStatus.NOT_FRIEND, 3: RecipientStatus.OVER_LIMIT}
# (age since the dispatch, interval): the first that the age is under applies; after the last, daily.
POLL_SCHEDULE = (
    (dt.timedelta(hours=6), dt.timedelta(minutes=5)),
    (dt.timedelta(days=3), dt.timedelta(hours=1)),
)
POLL_DAILY = dt.timedelta(days=1)
CLOSE_AFTER = dt.timedelta(days=14)
# The tick pushes a claimed campaign's next poll this far, so a poll whose task is lost runs again.
POLL_LEASE = dt.timedelta(minutes=15)
POLL_BATCH = 200
# Threads reading one campaign's tasks from WeCom ahead of the writes.
POLL_READERS = 4
# After a reminder, members confirm within minutes: the next poll comes at most this soon.
POLL_AFTER_REMIND = dt.timedelta(minutes=5)
REMIND_MAX = 3  # WeCom: at most 3 reminders per mass message in 24 hours (DOC 93338)
REMIND_WINDOW = dt.timedelta(hours=24)


def poll_interval(*, age: dt.timedelta) -> dt.timedelta:
    for under, interval in POLL_SCHEDULE:
        if age < under:
            return interval
    return POLL_DAILY


# --- polling -------------------------------------------------------------------------------------


@dataclass
class PollSummary:
    api_calls: int = 0
    changed: int = 0  # recipients whose status changed
    newly_sent: int = 0
    closed: bool = False


@dataclass
class TaskRead:
    """What WeCom says about one task, read without touching the database (see ``campaign_poll``)."""

    calls: int = 0
    confirmed: bool = False
    confirmed_at: dt.datetime | None = None
    results: list[tuple[str, str, dt.datetime | None]] = field(default_factory=list)
    cursor: str = ""  # where the next poll starts: past the pages whose every row is final
    complete: bool = False


def campaign_poll(*, campaign: Campaign, api: WeComAPI | None = None) -> PollSummary:
    """Read the results of every task of ``campaign`` not complete yet; keep totals; plan the next poll.

    WeCom is read by ``POLL_READERS`` threads, a task at a time and ahead of the writes (no database
    in them), while this thread writes each task's results in task order (one transaction per task):
    a poll of 100 tasks waits for WeCom's answers a few at a time, not one after the other.
    """
    api = api or api_for(campaign.tenant)
    summary = PollSummary()
    tasks = list(
        CampaignTask.objects.filter(
            campaign=campaign,
            status__in=(TaskStatus.CREATED, TaskStatus.CANCELLED),
            results_complete=False,
        )
        .exclude(msgid="")
        .select_related("staff")
        .order_by("pk")
    )
    key = "chat_id" if campaign.chat_type == ChatType.GROUP else "external_userid"
    pool = ThreadPoolExecutor(max_workers=POLL_READERS, thread_name_prefix="campaign-poll")
    try:
        reads = [pool.submit(_task_read, api, task, key) for task in tasks]
        for task, read in zip(tasks, reads, strict=True):
            _task_write(campaign, task, read.result(), summary)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    _totals_refresh(campaign, summary)
    return summary


def _task_read(api: WeComAPI, task: CampaignTask, key: str) -> TaskRead:
    read = TaskRead(confirmed=task.confirmed_at is not None, confirmed_at=task.confirmed_at)
    if not read.confirmed:
        _confirmation_read(api, task, read)
        if not read.confirmed:
            return read
    _results_read(api, task, key, read)
    return read


def _confirmation_read(api: WeComAPI, task: CampaignTask, read: TaskRead) -> None:
    """Whether the member has confirmed (sent) the task (``get_groupmsg_task``), and when."""
    cursor, entry = "", None
    while entry is None:
        read.calls += 1
        try:
            page = api.get_groupmsg_task(msgid=task.msgid, cursor=cursor, limit=RESULT_PAGE)
        except WeComError as exc:
            if exc.errcode == STILL_DISPATCHING:
                return  # just created: WeCom answers in a while
            raise
        entry = next((t for t in page.get("task_list") or [] if t.get("userid") == task.staff.userid), None)
        cursor = page.get("next_cursor") or ""
        if not cursor:
            break
    if entry is not None and entry.get("status") == 2:
        read.confirmed = True
        read.confirmed_at = _from_unix(entry.get("send_time")) or timezone.now()


def _from_unix(value: Any) -> dt.datetime | None:
    try:
        seconds = int(value or 0)
    except (TypeError, ValueError):
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC) if seconds > 0 else None


def _results_read(api: WeComAPI, task: CampaignTask, key: str, read: TaskRead) -> None:
    """The member's send results from the stored cursor on (one task: at most 10,000 rows)."""
    cursor = read.cursor = task.result_cursor
    settled = True  # every page read so far is final: the stored cursor may move past it
    while True:
        read.calls += 1
        page = api.get_groupmsg_send_result(
            msgid=task.msgid, userid=task.staff.userid, cursor=cursor, limit=RESULT_PAGE
        )
        rows = page.get("send_list") or []
        final = 0
        for row in rows:
            target, status = row.get(key), row.get("status")
            if target and status in WECOM_STATUS:
                sent_at = (_from_unix(row.get("send_time")) or read.confirmed_at) if status == 1 else None
                read.results.append((target, WECOM_STATUS[status], sent_at))
                final += 1
        next_cursor = page.get("next_cursor") or ""
        settled = settled and final == len(rows)
        if settled:
            read.cursor = next_cursor
            read.complete = not next_cursor
        if not next_cursor:
            return
        cursor = next_cursor


def _task_write(campaign: Campaign, task: CampaignTask, read: TaskRead, summary: PollSummary) -> None:
    """What the read says, in one transaction: the confirmation, the results that changed, the cursor.
    A cancelled task never confirmed is complete (nothing of it will ever be sent)."""
    summary.api_calls += read.calls
    with transaction.atomic():
        if not read.confirmed:
            if task.status == TaskStatus.CANCELLED:
                CampaignTask.objects.filter(pk=task.pk, results_complete=False).update(results_complete=True)
            return
        # First read since the member sent it: every recipient listed is still "planned" here, so
        # every result is a change (the guarded UPDATE still checks); later reads compare first.
        fresh = task.confirmed_at is None and not task.result_cursor
        if task.confirmed_at is None:
            task.confirmed_at = read.confirmed_at
            CampaignTask.objects.filter(pk=task.pk, confirmed_at__isnull=True).update(
                confirmed_at=read.confirmed_at
            )
        if task.status == TaskStatus.CANCELLED:
            # The member sent it before the cancel reached WeCom: it was sent after all.
            CampaignTask.objects.filter(pk=task.pk, status=TaskStatus.CANCELLED).update(
                status=TaskStatus.CREATED
            )
            task.status = TaskStatus.CREATED
        changed, sent = results_write(campaign=campaign, task=task, results=read.results, compare=not fresh)
        if read.complete and not task.results_complete:
            CampaignTask.objects.filter(pk=task.pk).update(results_complete=True, result_cursor="")
        elif read.cursor != task.result_cursor:
            CampaignTask.objects.filter(pk=task.pk).update(result_cursor=read.cursor)
            task.result_cursor = read.cursor
    summary.changed += changed
    summary.newly_sent += sent


def results_write(
    *,
    campaign: Campaign,
    task: CampaignTask,
    results: list[tuple[str, str, dt.datetime | None]],
    compare: bool = True,
) -> tuple[int, int]:
    """Write results ``(target, status, sent_at)`` (a task's, up to 10,000): the recipients whose status
    changed, and for each one newly sent a Touch and a ContactEvent, in one transaction. Returns
    (changed, newly sent). Nothing changed: one read, no write (``compare=False`` skips the read when
    the caller knows every row is new)."""
    if not results:
        return 0, 0
    by_target = {target: (status, sent_at) for target, status, sent_at in results}
    with transaction.atomic():
        if compare:
            changes = [
                (target, *by_target[target])
                for target, status, sent_at in _stored(task, list(by_target))
                if (status, sent_at) != by_target[target]
            ]
        else:
            changes = results
        if not changes:
            return 0, 0
        _asynchronous_commit()
        groups: dict[tuple, list[str]] = defaultdict(list)
        for target, status, sent_at in changes:
            groups[(status, sent_at)].append(target)
        written: list[tuple] = []
        for (status, sent_at), targets in groups.items():
            if connection.vendor == "postgresql":
                written += _write_postgresql(campaign, task, status, sent_at, targets)
            else:
                written += _write_portable(campaign, task, status, sent_at, targets)
        sent = [
            (target, contact, at) for target, contact, status, at in written if status == RecipientStatus.SENT
        ]
        if campaign.chat_type == ChatType.SINGLE:
            events_record_rows(
                EventRow(
                    contact_id=contact_id,
                    type=EventType.MASS_MESSAGE_RECEIVED,
                    occurred_at=sent_at,
                    staff_id=task.staff_id,
                    channel="",
                    payload={"campaign_id": campaign.pk, "msgid": task.msgid},
                )
                for _, contact_id, sent_at in sent
                if contact_id is not None
            )
    return len(written), len(sent)


def _asynchronous_commit() -> None:
    """``synchronous_commit = off`` for this transaction (PostgreSQL): its commit does not wait for the
    WAL to reach the disk. A database crash can then lose a task's last results write, whole and with
    the cursor and the completeness it carries (one transaction); the next poll reads those results
    again and writes them, with their Touch and ContactEvent rows, once (the UPDATE returns only the
    rows it changed). The dispatch's writes (a msgid) are never written this way."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


# Lookups within the task's own rows (``task_id``: the (tenant, task, status) index), the targets as
# one array (``= ANY``, hashed): a task's work stays the size of its chunk whatever the statistics say.
# Right after a plan's COPY the table has none, and by campaign alone PostgreSQL read all of a
# campaign's 100,000 recipients for every task (and a join on the page's values, a nested loop that
# re-read the page for every recipient).
_STORED_SQL = """
    SELECT target, status, sent_at FROM campaigns_campaignrecipient
    WHERE tenant_id = %s AND task_id = %s AND target = ANY(%s)
"""
# One statement per (status, time) group of a page: the UPDATE (guarded again, so a poll running at
# the same time writes each change once) and the Touch rows of those newly sent (unique per source and
# target: never counted twice).
_WRITE_SQL = """
    WITH u AS (
        UPDATE campaigns_campaignrecipient SET status = %s, sent_at = %s
        WHERE tenant_id = %s AND task_id = %s AND target = ANY(%s)
          AND (status <> %s OR sent_at IS DISTINCT FROM %s)
        RETURNING target, contact_id, status, sent_at
    ),
    t AS (
        INSERT INTO campaigns_touch (tenant_id, target, kind, source, at)
        SELECT %s, u.target, %s, %s, u.sent_at FROM u WHERE u.status = 'sent'
        ON CONFLICT DO NOTHING
    )
    SELECT target, contact_id, status, sent_at FROM u
"""


def _stored(task: CampaignTask, targets: list[str]) -> list[tuple]:
    if connection.vendor != "postgresql":
        stored = CampaignRecipient.objects.filter(task=task, target__in=targets)
        return list(stored.values_list("target", "status", "sent_at"))
    with connection.cursor() as cursor:
        cursor.execute(_STORED_SQL, [task.tenant_id, task.pk, targets])
        return cursor.fetchall()


def _write_postgresql(
    campaign: Campaign, task: CampaignTask, status: str, sent_at: dt.datetime | None, targets: list[str]
) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            _WRITE_SQL,
            [
                status,
                sent_at,
                task.tenant_id,
                task.pk,
                targets,
                status,
                sent_at,
                campaign.tenant_id,
                TouchKind.MASS_MESSAGE,
                task.msgid,
            ],
        )
        return cursor.fetchall()


def _write_portable(
    campaign: Campaign, task: CampaignTask, status: str, sent_at: dt.datetime | None, targets: list[str]
) -> list[tuple]:
    """The same on other databases (SQLite in development: its IMMEDIATE transactions already admit
    one writer at a time, so the read before still holds)."""
    rows = CampaignRecipient.objects.filter(task=task, target__in=targets)
    contacts = list(rows.values_list("target", "contact_id"))
    rows.update(status=status, sent_at=sent_at)
    if status == RecipientStatus.SENT:
        Touch.objects.bulk_create(
            [
                Touch(target=target, kind=TouchKind.MASS_MESSAGE, source=task.msgid, at=sent_at)
                for target in targets
            ],
            ignore_conflicts=True,
        )
    return [(target, contact_id, status, sent_at) for target, contact_id in contacts]


# --- totals and the schedule ----------------------------------------------------------------------

TASK_COUNTS = {
    RecipientStatus.SENT: "sent",
    RecipientStatus.NOT_FRIEND: "not_friend",
    RecipientStatus.OVER_LIMIT: "over_limit",
    RecipientStatus.FAILED: "failed",
}


def _totals_refresh(campaign: Campaign, summary: PollSummary) -> None:
    """Task and campaign totals from the recipient rows (one grouped read); a task row is written only
    when its counts changed. The campaign row gets its totals and its next poll (or is closed)."""
    per_task: dict[int | None, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TASK_COUNTS.values(), 0))
    for task_id, status, n in (
        CampaignRecipient.objects.filter(campaign=campaign, status__in=list(TASK_COUNTS))
        .order_by()
        .values_list("task_id", "status")
        .annotate(n=Count("id"))
    ):
        per_task[task_id][TASK_COUNTS[status]] += n
    tasks = list(
        CampaignTask.objects.filter(campaign=campaign).values(
            "pk", "staff_id", "status", "msgid", "confirmed_at", "results_complete", *TASK_COUNTS.values()
        )
    )
    for task in tasks:
        counts = per_task.get(task["pk"], dict.fromkeys(TASK_COUNTS.values(), 0))
        if any(task[name] != n for name, n in counts.items()):
            CampaignTask.objects.filter(pk=task["pk"]).update(**counts)
    totals = {name: sum(c[name] for c in per_task.values()) for name in TASK_COUNTS.values()}
    created = [t for t in tasks if t["msgid"] and t["status"] in (TaskStatus.CREATED, TaskStatus.CANCELLED)]
    by_member: dict[int, list[dict]] = defaultdict(list)
    for task in (t for t in tasks if t["status"] == TaskStatus.CREATED):
        by_member[task["staff_id"]].append(task)
    # A member has confirmed when every task of theirs is confirmed (one per 10,000 customers).
    totals["confirmed_members"] = sum(
        1 for member_tasks in by_member.values() if all(t["confirmed_at"] for t in member_tasks)
    )
    now = timezone.now()
    fields: dict[str, Any] = {**totals, "last_polled_at": now}
    everything_known = all(t["results_complete"] for t in created)
    age = now - (campaign.dispatched_at or now)
    if campaign.status == CampaignStatus.SENT and (everything_known or age >= CLOSE_AFTER):
        fields.update(status=CampaignStatus.CLOSED, closed_at=now, next_poll_at=None)
        summary.closed = True
    elif campaign.status == CampaignStatus.CANCELLED and (everything_known or age >= CLOSE_AFTER):
        fields["next_poll_at"] = None
    elif campaign.status in (CampaignStatus.SENT, CampaignStatus.CANCELLED):
        fields["next_poll_at"] = now + poll_interval(age=age)
    else:
        fields["next_poll_at"] = None
    fields["updated_at"] = now
    Campaign.objects.filter(pk=campaign.pk).update(**fields, polls=F("polls") + 1)
    for name, value in fields.items():
        setattr(campaign, name, value)
    campaign.polls += 1


def campaigns_poll_claim(*, now: dt.datetime | None = None) -> list[tuple[int, int]]:
    """The campaigns whose results are due, in every tenant, as (tenant_id, campaign_id), each leased
    for ``POLL_LEASE`` (its next poll pushed back) in the same transaction: SKIP LOCKED keeps two
    ticks from taking the same campaign, and a poll whose task is lost runs again after the lease."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Campaign.unscoped.select_for_update(skip_locked=True)
            .filter(
                next_poll_at__lte=now,
                status__in=(CampaignStatus.SENT, CampaignStatus.CANCELLED),
                tenant__is_active=True,
            )
            .order_by("next_poll_at", "pk")
            .values_list("tenant_id", "pk")[:POLL_BATCH]
        )
        if due:
            Campaign.unscoped.filter(pk__in=[pk for _, pk in due]).update(next_poll_at=now + POLL_LEASE)
    return due


def campaign_refresh(*, campaign: Campaign) -> None:
    """Poll soon (the dashboard's refresh): the poll runs in a worker once the caller commits."""
    from ..tasks import campaign_poll as poll_task

    if campaign.status in (CampaignStatus.SENT, CampaignStatus.CANCELLED):
        poll_task.delay_on_commit(campaign.tenant_id, campaign.pk)


# --- reminders ------------------------------------------------------------------------------------


class RemindLimitError(ValidationError):
    """WeCom allows 3 reminders per task in 24 hours; the 4th is refused before calling it."""


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp)


def _remindable(task: CampaignTask) -> None:
    if task.status != TaskStatus.CREATED or not task.msgid:
        raise ValidationError({"task": ["Only a task created in WeCom can be reminded."]}, code="not_created")
    if task.confirmed_at is not None:
        raise ValidationError({"task": ["The member already sent this task."]}, code="already_sent")


def task_reminders_left(task: CampaignTask, *, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    recent = [s for s in task.reminded_at if _parse(s) > now - REMIND_WINDOW]
    return max(0, REMIND_MAX - len(recent))


def task_remind(*, task: CampaignTask, actor: Actor, api: WeComAPI | None = None) -> CampaignTask:
    """Remind the task's member to send it (``remind_groupmsg_send``): at most 3 times in 24 hours.

    The reminder's slot is taken (under a short row lock, released before the WeCom call) and given
    back if WeCom refuses: two clicks at once never make a 4th call.
    """
    _remindable(task)
    now = timezone.now()
    stamp = now.isoformat()
    with transaction.atomic():
        locked = CampaignTask.objects.select_for_update().get(pk=task.pk)
        recent = sorted(s for s in locked.reminded_at if _parse(s) > now - REMIND_WINDOW)
        if len(recent) >= REMIND_MAX:
            again = _parse(recent[0]) + REMIND_WINDOW
            raise RemindLimitError(
                {
                    "task": [
                        f"WeCom allows {REMIND_MAX} reminders of a task in 24 hours; the next one is "
                        f"possible after {again.isoformat(timespec='minutes')}."
                    ]
                },
                code="remind_limit",
            )
        reminded = [*recent, stamp]
        CampaignTask.objects.filter(pk=task.pk).update(reminded_at=reminded)
    api = api or api_for(task.tenant)
    try:
        api.remind_groupmsg_send(task.msgid)
    except WeComError:
        with transaction.atomic():
            locked = CampaignTask.objects.select_for_update().get(pk=task.pk)
            CampaignTask.objects.filter(pk=task.pk).update(
                reminded_at=[s for s in locked.reminded_at if s != stamp]
            )
        raise
    logger.info("campaign task %s reminded by %s", task.pk, actor.kind or "the system")
    task.reminded_at = reminded
    return task


REMIND_APP_MESSAGE = (
    "【群发提醒】「{campaign}」有 {customers} 位客户等您发送："
    "请在企业微信「工作台 › 客户联系 › 群发助手」中确认发送。"
)


def campaign_remind(*, campaign: Campaign, actor: Actor) -> dict[str, Any]:
    """Remind every member who has not sent their share: one reminder per member, never one per
    customer, and (when the tenant has an app, ``agent_id``) one WeCom app message per member.

    WeCom's remind is per msgid; a member with several chunks (over 10,000 customers) is reminded
    through one of them only: the reminder opens their 群发助手, which lists all their pending tasks,
    and the other msgids keep their 3-per-24 h allowance for later. WeCom drops app messages beyond
    30 a minute per member, so they are coalesced the same way.
    """
    if campaign.status != CampaignStatus.SENT:
        raise ValidationError(
            {"campaign": ["Only a sent campaign's members can be reminded."]}, code="not_sent"
        )
    api = api_for(campaign.tenant)
    pending: dict[int, list[CampaignTask]] = defaultdict(list)
    for task in (
        CampaignTask.objects.filter(campaign=campaign, status=TaskStatus.CREATED, confirmed_at__isnull=True)
        .exclude(msgid="")
        .select_related("staff")
        .order_by("staff_id", "chunk")
    ):
        pending[task.staff_id].append(task)
    reminded: list[tuple[CampaignTask, int]] = []
    at_limit: list[str] = []
    errors: list[dict[str, Any]] = []
    for tasks in pending.values():
        task = next((t for t in tasks if task_reminders_left(t)), None)
        if task is None:
            at_limit.append(tasks[0].staff.userid)
            continue
        try:
            task_remind(task=task, actor=actor, api=api)
        except RemindLimitError:
            at_limit.append(task.staff.userid)
            continue
        except WeComError as exc:
            errors.append({"userid": task.staff.userid, **exc.as_dict()})
            continue
        reminded.append((task, sum(t.recipients for t in tasks)))
    app_messages = _remind_app_messages(campaign, api, reminded, errors)
    if reminded:
        soon = timezone.now() + POLL_AFTER_REMIND
        Campaign.objects.filter(pk=campaign.pk, next_poll_at__gt=soon).update(next_poll_at=soon)
    return {
        "members_reminded": len(reminded),
        "members_at_limit": at_limit,
        "app_messages": app_messages,
        "errors": errors,
    }


def _remind_app_messages(
    campaign: Campaign, api: WeComAPI, reminded: list[tuple[CampaignTask, int]], errors: list[dict]
) -> int:
    """One app message per reminded member (their own count of customers), when the tenant has an app."""
    agent_id = campaign.tenant.agent_id
    if not agent_id:
        return 0
    sent = 0
    for task, customers in reminded:
        content = REMIND_APP_MESSAGE.format(campaign=campaign.name, customers=customers)
        try:
            api.message_send_text(agent_id=agent_id, touser=[task.staff.userid], content=content)
        except (WeComError, ValueError) as exc:
            # Best effort: the WeCom reminder itself went out.
            errors.append({"userid": task.staff.userid, "app_message": str(exc)})
            continue
        sent += 1
    return sent


# --- cancelling -----------------------------------------------------------------------------------


def task_cancel(*, api: WeComAPI, task: CampaignTask) -> dict[str, Any] | None:
    """Stop a created task in WeCom (``cancel_groupmsg_send``); its unsent recipients are cancelled.
    A task the member already confirmed keeps its status (what was sent stays sent). Returns WeCom's
    error, if it refused."""
    try:
        api.cancel_groupmsg_send(task.msgid)
    except WeComError as exc:
        logger.warning("campaign task %s not cancelled in WeCom: %s", task.pk, exc)
        return {"task": task.pk, "userid": task.staff.userid, **exc.as_dict()}
    with transaction.atomic():
        if task.confirmed_at is None:
            CampaignTask.objects.filter(pk=task.pk, status=TaskStatus.CREATED).update(
                status=TaskStatus.CANCELLED
            )
            task.status = TaskStatus.CANCELLED
        CampaignRecipient.objects.filter(task=task, status=RecipientStatus.PLANNED).update(
            status=RecipientStatus.CANCELLED
        )
    return None


def campaign_cancel(*, campaign: Campaign, actor: Actor) -> dict[str, Any]:
    """Cancel what has not been sent. A draft or scheduled campaign is simply cancelled (no WeCom
    call). A dispatching or sent one: every created task not fully sent is cancelled in WeCom, tasks
    not created yet never will be (the dispatch stops creating), and the unsent recipients are
    cancelled; what members sent before the cancel is still read back (one more poll)."""
    now = timezone.now()
    if Campaign.objects.filter(
        pk=campaign.pk, status__in=(CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
    ).update(status=CampaignStatus.CANCELLED, updated_at=now):
        campaign.status = CampaignStatus.CANCELLED
        logger.info("campaign %s cancelled by %s before sending", campaign.pk, actor.kind or "the system")
        return {"tasks_cancelled": 0, "errors": []}
    if not Campaign.objects.filter(
        pk=campaign.pk, status__in=(CampaignStatus.DISPATCHING, CampaignStatus.SENT)
    ).update(status=CampaignStatus.CANCELLED, next_poll_at=now + dt.timedelta(minutes=1), updated_at=now):
        campaign.refresh_from_db()
        raise ValidationError(
            {"status": [f"A {campaign.status} campaign cannot be cancelled."]}, code="not_cancellable"
        )
    campaign.status = CampaignStatus.CANCELLED
    with transaction.atomic():
        pending = list(
            CampaignTask.objects.filter(campaign=campaign, status=TaskStatus.PENDING).values_list(
                "pk", flat=True
            )
        )
        CampaignTask.objects.filter(pk__in=pending, status=TaskStatus.PENDING).update(
            status=TaskStatus.CANCELLED
        )
        CampaignRecipient.objects.filter(task_id__in=pending, status=RecipientStatus.PLANNED).update(
            status=RecipientStatus.CANCELLED
        )
    api = api_for(campaign.tenant)
    errors = []
    cancelled = 0
    for task in (
        CampaignTask.objects.filter(campaign=campaign, status=TaskStatus.CREATED, results_complete=False)
        .exclude(msgid="")
        .select_related("staff")
    ):
        error = task_cancel(api=api, task=task)
        if error:
            errors.append(error)
        else:
            cancelled += 1
    logger.info("campaign %s cancelled by %s: %s tasks", campaign.pk, actor.kind or "the system", cancelled)
    return {"tasks_cancelled": cancelled + len(pending), "errors": errors}
