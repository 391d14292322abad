"""Creating a campaign's WeCom tasks: once each, never lost, never twice (issue 15, DESIGN.md §7, §12).

WeCom's ``add_msg_template`` has no idempotency key, and its answer (the ``msgid``) is the only handle
on the task it creates. So each (member, chunk) is a ``CampaignTask`` row that goes

    pending --claim (conditional UPDATE)--> claimed --WeCom answers--> created (msgid) | failed

and the claim is written (with the content's fingerprint and the claim time) *before* the call. A
worker that dies between WeCom's answer and the write leaves the task claimed with no msgid: the
next run does not know whether WeCom holds the task, so it first looks for it
(``get_groupmsg_list_v2``: corp-made, by that member, since the claim) and adopts a match; only a
task that is not there is created again. See ``task_reconcile`` for how a match is recognised and
for the one case it cannot tell apart.

The run is durable work (``scrm.durable``): claimed by one worker, beating while it works, found and
resumed by the stale sweep when its worker dies. Its phases: "plan" (``campaign_plan_write``,
idempotent) then "tasks" (every task not yet created or failed). No row lock is held across a
WeCom call: every write is a short conditional UPDATE after the call.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from scrm.durable import (
    RunStatus,
    work_finish,
    work_heartbeat,
    work_progress,
    work_update,
)
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Tenant
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import WeComError, WeComRateLimitedError

from ..models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    CampaignTask,
    ChatType,
    Dispatch,
    RecipientStatus,
    TaskStatus,
)

logger = logging.getLogger(__name__)

# A task whose creation keeps failing for a transient reason (WeCom busy, unreachable) is given up
# after this many claims and shown as failed with WeCom's last answer.
MAX_ATTEMPTS = 6
# WeCom's task list is searched from a little before the claim (clocks differ) until now.
RECONCILE_MARGIN = dt.timedelta(minutes=1)
# get_groupmsg_list_v2 accepts a window of at most a month.
LIST_WINDOW_MAX = dt.timedelta(days=30)
LIST_PAGE = 100  # get_groupmsg_list_v2's maximum
RESULT_PAGE = 1000  # get_groupmsg_send_result's maximum
# Transient answers the client already retried (busy, concurrency, token): try the task again later.
RETRY_LATER_CODES = frozenset({-1, 45033, 40014, 42001})
# 41063: WeCom is still dispatching a task just created; its results cannot be read yet.
STILL_DISPATCHING = 41063
RETRY_BACKOFF = (10, 30, 60, 120, 300, 600)  # seconds, by attempt
FIRST_POLL_AFTER = dt.timedelta(minutes=1)


class RetryLaterError(Exception):
    """Stop this run and resume it after ``retry_after`` seconds (rate limit, WeCom busy or unreachable)."""

    def __init__(self, reason: str, *, retry_after: float):
        super().__init__(reason)
        self.retry_after = retry_after


def _backoff(attempts: int) -> int:
    return RETRY_BACKOFF[min(max(attempts - 1, 0), len(RETRY_BACKOFF) - 1)]


# --- starting -----------------------------------------------------------------------------------


def dispatch_start(*, campaign: Campaign) -> Dispatch:
    """The campaign's dispatch, created once and enqueued when the caller's transaction commits.

    Called by "send now" (the API) and by the scheduled-campaign tick. A campaign that is already
    dispatching (or further) gets its existing dispatch back; nothing is enqueued twice. The campaign
    moves to ``dispatching``; its plan is written by the run (so "send now" answers at once).
    """
    from ..tasks import dispatch_run

    with transaction.atomic():
        existing = Dispatch.objects.filter(campaign=campaign).first()
        if existing is not None:
            return existing
        moved = Campaign.objects.filter(
            pk=campaign.pk, status__in=(CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
        ).update(status=CampaignStatus.DISPATCHING, updated_at=timezone.now())
        if not moved:
            raise ValidationError(
                {
                    "status": [
                        f"Only a draft or scheduled campaign can be sent; this one is {campaign.status}."
                    ]
                },
                code="not_sendable",
            )
        campaign.status = CampaignStatus.DISPATCHING
        try:
            with transaction.atomic():
                dispatch = Dispatch.objects.create(campaign=campaign)
        except IntegrityError:
            # Another request started it between our read and our insert (unique per campaign).
            return Dispatch.objects.get(campaign=campaign)
        dispatch_run.delay_on_commit(dispatch.tenant_id, dispatch.pk)
    return dispatch


# --- the run --------------------------------------------------------------------------------------


@dataclass
class _Run:
    """What one run of a dispatch carries from task to task."""

    dispatch: Dispatch
    campaign: Campaign
    api: WeComAPI
    attachments: list[dict[str, Any]] | None = None  # WeCom's attachment objects, built once per run
    calls: int = 0  # WeCom calls not yet added to the dispatch's count
    known_msgids: set[str] = field(default_factory=set)

    def flush(self, *, done: int = 0) -> None:
        """Add the counts to the dispatch (and beat): raises WorkLostError if another worker took it."""
        work_progress(self.dispatch, done=done, api_calls=self.calls)
        self.calls = 0


def dispatch_execute(dispatch: Dispatch) -> None:
    """Run a claimed dispatch to its end (the ``campaigns.dispatch_run`` task's body).

    Raises ``RetryLaterError`` (the task requeues it) and ``WorkLostError`` (another worker holds it).
    """
    campaign = Campaign.objects.get(pk=dispatch.campaign_id)
    run = _Run(dispatch=dispatch, campaign=campaign, api=api_for(campaign.tenant))
    if dispatch.checkpoint.get("phase") != "tasks" and not _plan_phase(run):
        return
    for task_id in _undone_task_ids(campaign):
        cancelled = _cancelled(campaign)
        if cancelled:
            _cancel_unsent_tasks(campaign)
        task = CampaignTask.objects.select_related("staff").filter(pk=task_id).first()
        if task is None or task.status not in (TaskStatus.PENDING, TaskStatus.CLAIMED) or task.msgid:
            continue
        # Once cancelled, nothing new is created; a claimed task is still looked for in WeCom (and
        # cancelled there if it exists).
        _task_dispatch(run, task, create=not cancelled)
        run.flush(done=1)
    _dispatch_complete(run)


def _plan_phase(run: _Run) -> bool:
    """Write the plan (idempotent: nothing when the tasks exist); False when it cannot be (the
    audience no longer resolves: a segment deleted...), which fails the campaign."""
    from .plan import campaign_plan_write

    try:
        campaign_plan_write(campaign=run.campaign)
    except ValidationError as exc:
        _campaign_dispatched(run.campaign, created=False, at=timezone.now())
        work_finish(run.dispatch, RunStatus.FAILED, errors=[_error(f"The plan failed: {exc.detail}")])
        return False
    total = CampaignTask.objects.filter(campaign=run.campaign).count()
    done = CampaignTask.objects.filter(campaign=run.campaign).exclude(
        status__in=(TaskStatus.PENDING, TaskStatus.CLAIMED)
    )
    run.dispatch.total = total
    work_update(run.dispatch, total=total, done=done.count(), checkpoint={"phase": "tasks"})
    run.campaign.refresh_from_db()
    return True


def _undone_task_ids(campaign: Campaign) -> list[int]:
    # Claimed first: a task a dead worker left claimed is settled before anything new is created.
    rows = CampaignTask.objects.filter(
        campaign=campaign, status__in=(TaskStatus.PENDING, TaskStatus.CLAIMED), msgid=""
    ).values_list("pk", "status")
    return [pk for pk, status in sorted(rows, key=lambda r: (r[1] != TaskStatus.CLAIMED, r[0]))]


def _cancelled(campaign: Campaign) -> bool:
    return Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.CANCELLED).exists()


def _cancel_unsent_tasks(campaign: Campaign) -> None:
    """The campaign was cancelled while dispatching: tasks not created yet never will be.

    Only pending ones: a claimed one may exist in WeCom (its outcome is unknown), so it stays claimed,
    and ``campaign_cancel`` (or the next run) settles it.
    """
    with transaction.atomic():
        ids = list(
            CampaignTask.objects.filter(campaign=campaign, status=TaskStatus.PENDING).values_list(
                "pk", flat=True
            )
        )
        if ids:
            CampaignTask.objects.filter(pk__in=ids, status=TaskStatus.PENDING).update(
                status=TaskStatus.CANCELLED
            )
            CampaignRecipient.objects.filter(task_id__in=ids, status=RecipientStatus.PLANNED).update(
                status=RecipientStatus.CANCELLED
            )


# --- one task -------------------------------------------------------------------------------------


def task_recipients(task: CampaignTask) -> list[str]:
    """The chunk's targets (external_userids or chat_ids), sorted: what the task was planned with."""
    return sorted(CampaignRecipient.objects.filter(task=task).values_list("target", flat=True))


def task_fingerprint(*, campaign: Campaign, sender: str, recipients: list[str]) -> str:
    """sha256 of what a task sends: sender, chat type, text, attachments (the library materials, not
    WeCom's media ids, which change on every upload) and the sorted recipients."""
    content = {
        "sender": sender,
        "chat_type": campaign.chat_type,
        "text": campaign.text,
        "attachments": campaign.attachments,
        "recipients": sorted(recipients),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _task_dispatch(run: _Run, task: CampaignTask, *, create: bool = True) -> None:
    """Create one task in WeCom, or adopt the one a dead worker created; record what became of it."""
    recipients = task_recipients(task)
    if task.status == TaskStatus.CLAIMED:
        # A previous worker claimed it and died (or gave up) before writing a msgid: WeCom may hold it.
        found = task_reconcile(run, task, recipients)
        if found is not None:
            msgid, fail_list = found
            logger.info("campaign task %s: adopted WeCom task %s found after a lost answer", task.pk, msgid)
            task_store_created(run, task, msgid=msgid, fail_list=fail_list)
            return
        if not create:
            _task_cancel_unsent(task)
            return
        # Not in WeCom: create it. The claim's attempt count is the fencing token.
        if not CampaignTask.objects.filter(
            pk=task.pk, status=TaskStatus.CLAIMED, msgid="", attempts=task.attempts
        ).update(attempts=F("attempts") + 1):
            return
        task.attempts += 1
    else:
        now = timezone.now()
        fingerprint = task_fingerprint(campaign=run.campaign, sender=task.staff.userid, recipients=recipients)
        if not CampaignTask.objects.filter(pk=task.pk, status=TaskStatus.PENDING).update(
            status=TaskStatus.CLAIMED, attempts=F("attempts") + 1, claimed_at=now, fingerprint=fingerprint
        ):
            return  # someone else claimed it
        task.status, task.attempts, task.claimed_at, task.fingerprint = (
            TaskStatus.CLAIMED,
            task.attempts + 1,
            now,
            fingerprint,
        )
    if task.attempts > MAX_ATTEMPTS:
        error = {**(task.error or {}), "gave_up_after_attempts": MAX_ATTEMPTS}
        task_store_refused(task, error=error)
        return
    body = _template_body(run, task, recipients)
    # The last check that this worker still holds the dispatch, right before the call: a worker taken
    # for dead must not create a task beside its successor.
    work_heartbeat(run.dispatch)
    run.calls += 1
    try:
        answer = run.api.add_msg_template(body)
    except WeComRateLimitedError as exc:
        # Nothing was created: the task waits for WeCom's window to pass, it does not fail.
        _task_release(task, exc)
        raise RetryLaterError(str(exc), retry_after=exc.retry_after) from exc
    except WeComError as exc:
        if exc.errcode is None:
            # No answer (a timeout, WeCom unreachable): the task may or may not exist. It stays
            # claimed, so the next run reconciles it before any new call.
            _task_note_error(task, exc)
            raise RetryLaterError(str(exc), retry_after=_backoff(task.attempts)) from exc
        if exc.errcode in RETRY_LATER_CODES:
            _task_release(task, exc)
            raise RetryLaterError(str(exc), retry_after=_backoff(task.attempts)) from exc
        task_store_refused(task, error=exc.as_dict())  # WeCom said no (41048 no customers, ...)
        return
    task_store_created(run, task, msgid=answer["msgid"], fail_list=answer.get("fail_list") or [])


def _template_body(run: _Run, task: CampaignTask, recipients: list[str]) -> dict[str, Any]:
    campaign = run.campaign
    body: dict[str, Any] = {"chat_type": campaign.chat_type, "sender": task.staff.userid}
    if campaign.chat_type == ChatType.GROUP:
        body["chat_id_list"] = recipients
    else:
        body["external_userid"] = recipients
    if campaign.text:
        body["text"] = {"content": campaign.text}
    attachments = _wecom_attachments(run)
    if attachments:
        body["attachments"] = attachments
    return body


def _wecom_attachments(run: _Run) -> list[dict[str, Any]]:
    if run.attachments is None:
        if run.campaign.attachments:
            from library.services import attachments_for_wecom

            run.attachments = attachments_for_wecom(api=run.api, attachments=run.campaign.attachments)
        else:
            run.attachments = []
    return run.attachments


def _task_cancel_unsent(task: CampaignTask) -> None:
    """A claimed task WeCom does not hold, of a campaign cancelled meanwhile: it is never created."""
    with transaction.atomic():
        if CampaignTask.objects.filter(
            pk=task.pk, status=TaskStatus.CLAIMED, msgid="", attempts=task.attempts
        ).update(status=TaskStatus.CANCELLED):
            CampaignRecipient.objects.filter(task=task, status=RecipientStatus.PLANNED).update(
                status=RecipientStatus.CANCELLED
            )


def _task_release(task: CampaignTask, exc: WeComError) -> None:
    """WeCom refused the call without creating anything: back to pending, to be claimed again."""
    CampaignTask.objects.filter(
        pk=task.pk, status=TaskStatus.CLAIMED, msgid="", attempts=task.attempts
    ).update(status=TaskStatus.PENDING, error=exc.as_dict())


def _task_note_error(task: CampaignTask, exc: WeComError) -> None:
    CampaignTask.objects.filter(pk=task.pk, status=TaskStatus.CLAIMED, msgid="").update(error=exc.as_dict())


def task_store_created(run: _Run, task: CampaignTask, *, msgid: str, fail_list: list[str]) -> None:
    """Keep WeCom's msgid (and its fail_list, recorded as failed recipients) on the task.

    Written whether or not this worker still holds the dispatch: a msgid is never dropped. Only a
    task that already has another msgid refuses it: then WeCom holds two tasks for one chunk (a worker
    taken for dead was only slow), and the surplus one is cancelled before the member sees it twice.
    """
    with transaction.atomic():
        stored = CampaignTask.objects.filter(pk=task.pk, msgid="").update(
            msgid=msgid, status=TaskStatus.CREATED, failed=len(fail_list), error={}
        )
        if stored and fail_list:
            CampaignRecipient.objects.filter(
                task=task, target__in=fail_list, status=RecipientStatus.PLANNED
            ).update(status=RecipientStatus.FAILED)
    if not stored:
        current = CampaignTask.objects.filter(pk=task.pk).values_list("msgid", flat=True).first()
        if current != msgid:
            logger.error(
                "campaign task %s has msgid %s; cancelling the duplicate %s", task.pk, current, msgid
            )
            _cancel_quietly(run.api, msgid)
            run.calls += 1
        return
    task.msgid, task.status = msgid, TaskStatus.CREATED
    run.known_msgids.add(msgid)
    if _cancelled(run.campaign):
        # Cancelled while WeCom was creating it: cancel it too (campaign_cancel saw no msgid yet).
        from .results import task_cancel

        task_cancel(api=run.api, task=task)
        run.calls += 1


def _cancel_quietly(api: WeComAPI, msgid: str) -> None:
    try:
        api.cancel_groupmsg_send(msgid)
    except WeComError:
        logger.exception("could not cancel the duplicate WeCom task %s", msgid)


def task_store_refused(task: CampaignTask, *, error: dict[str, Any]) -> None:
    """WeCom refused the task: it fails with WeCom's answer, and so do its recipients (never dropped)."""
    with transaction.atomic():
        failed = CampaignRecipient.objects.filter(task=task, status=RecipientStatus.PLANNED).update(
            status=RecipientStatus.FAILED
        )
        CampaignTask.objects.filter(pk=task.pk, msgid="").update(
            status=TaskStatus.FAILED, error=error, failed=F("failed") + failed
        )
    task.status = TaskStatus.FAILED


# --- reconciling a lost answer -----------------------------------------------------------------------


def task_reconcile(run: _Run, task: CampaignTask, recipients: list[str]) -> tuple[str, list[str]] | None:
    """The WeCom task a dead worker created for ``task``, as (msgid, fail_list); None if there is none.

    Looks through the corp-made mass messages of the task's member since the claim (one minute early
    for clock differences; ``get_groupmsg_list_v2`` pages of 100) for one whose content is the
    campaign's (text, and attachments by kind and non-media fields: media ids change on re-upload),
    that no other task of ours holds, and whose recipients (``get_groupmsg_send_result``) all belong
    to this chunk. The chunk's recipients WeCom does not list are its fail_list.

    What it cannot tell apart: two tasks for the same member with the same content whose recipients
    both fall inside this chunk, created within the window, one of which is not ours (another tool or
    the admin console sending the identical message to a subset of the same customers). It would
    adopt the earliest. Chunks of one campaign never overlap, and msgids our tasks hold are skipped.
    """
    chunk = set(recipients)
    start = task.claimed_at - RECONCILE_MARGIN
    end = timezone.now() + RECONCILE_MARGIN
    start = max(start, end - LIST_WINDOW_MAX)
    candidates = []
    cursor = ""
    while True:
        run.calls += 1
        page = run.api.get_groupmsg_list_v2(
            {
                "chat_type": run.campaign.chat_type,
                "start_time": int(start.timestamp()),
                "end_time": int(end.timestamp()),
                "creator": task.staff.userid,
                "filter_type": 0,
                "limit": LIST_PAGE,
                "cursor": cursor,
            }
        )
        for item in page.get("group_msg_list") or []:
            if _same_content(run, item):
                candidates.append(item)
        cursor = page.get("next_cursor") or ""
        work_heartbeat(run.dispatch)
        if not cursor:
            break
    if not candidates:
        return None
    held = set(
        CampaignTask.objects.filter(msgid__in=[c["msgid"] for c in candidates]).values_list(
            "msgid", flat=True
        )
    )
    for item in sorted(candidates, key=lambda c: (c.get("create_time", 0), c["msgid"])):
        if item["msgid"] in held or item["msgid"] in run.known_msgids:
            continue
        targets = _task_targets(run, item["msgid"], task.staff.userid)
        if targets and targets <= chunk:
            return item["msgid"], sorted(chunk - targets)
    return None


def _same_content(run: _Run, item: dict[str, Any]) -> bool:
    text = (item.get("text") or {}).get("content") or ""
    if text != run.campaign.text:
        return False
    return _attachments_shape(item.get("attachments") or []) == _attachments_shape(_wecom_attachments(run))


# The fields of each attachment kind that identify it whatever its media id (WeCom's ids change on
# every upload, and a retry may have uploaded again).
_STABLE_FIELDS = {
    "link": ("title", "url", "desc"),
    "miniprogram": ("title", "appid", "page"),
    "image": ("pic_url",),
    "video": (),
    "file": (),
}


def _attachments_shape(attachments: list[dict[str, Any]]) -> list[tuple]:
    shape = []
    for item in attachments:
        kind = item.get("msgtype", "")
        body = item.get(kind) or {}
        shape.append((kind, *(body.get(name) or "" for name in _STABLE_FIELDS.get(kind, ()))))
    return shape


def _task_targets(run: _Run, msgid: str, userid: str) -> set[str]:
    """Every recipient of one member's share of a WeCom task (all pages)."""
    key = "chat_id" if run.campaign.chat_type == ChatType.GROUP else "external_userid"
    targets: set[str] = set()
    cursor = ""
    while True:
        run.calls += 1
        try:
            page = run.api.get_groupmsg_send_result(
                msgid=msgid, userid=userid, cursor=cursor, limit=RESULT_PAGE
            )
        except WeComError as exc:
            if exc.errcode == STILL_DISPATCHING:
                raise RetryLaterError(str(exc), retry_after=10) from exc
            raise
        targets.update(row[key] for row in page.get("send_list") or [] if row.get(key))
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return targets
        work_heartbeat(run.dispatch)


# --- the end ------------------------------------------------------------------------------------


def _dispatch_complete(run: _Run) -> None:
    """Every task is created, failed or cancelled: the campaign is sent (or failed) and its results due."""
    campaign = run.campaign
    counts = dict(
        CampaignTask.objects.filter(campaign=campaign)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    if counts.get(TaskStatus.PENDING) or counts.get(TaskStatus.CLAIMED):
        # A claim this run lost to a worker taken for dead but only slow: look again shortly.
        raise RetryLaterError("a task is still claimed by another worker", retry_after=30)
    created = counts.get(TaskStatus.CREATED, 0)
    now = timezone.now()
    run.flush()
    _campaign_dispatched(campaign, created=bool(created), at=now)
    if not counts:
        work_finish(run.dispatch, RunStatus.FAILED, errors=[_error("The campaign has no recipients.")])
    elif not created and not counts.get(TaskStatus.CANCELLED):
        work_finish(run.dispatch, RunStatus.FAILED, errors=[_error("WeCom created none of the tasks.")])
    else:
        work_finish(run.dispatch, RunStatus.PARTIAL if counts.get(TaskStatus.FAILED) else RunStatus.SUCCEEDED)


def _error(message: str) -> dict[str, Any]:
    return {"item": None, "code": "dispatch_failed", "message": message}


def _campaign_dispatched(campaign: Campaign, *, created: bool, at: dt.datetime) -> None:
    """Sent (results due in a minute) when WeCom holds at least one task, else failed. A campaign
    cancelled meanwhile stays cancelled; what it sent before the cancel is still read back."""
    failed = CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.FAILED).count()
    next_poll = at + FIRST_POLL_AFTER if created else None
    fields = {"dispatched_at": at, "next_poll_at": next_poll, "failed": failed, "updated_at": at}
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.DISPATCHING).update(
            status=CampaignStatus.SENT if created else CampaignStatus.FAILED, **fields
        )
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.CANCELLED).update(**fields)


def dispatch_give_up(dispatch: Dispatch, *, error: str) -> None:
    """The run cannot go on (an unexpected error, again and again): tasks not created yet fail with the
    error; claimed ones stay claimed (WeCom may hold them, so they are not reported as failed); the
    campaign is sent if any task was created, else failed."""
    campaign = Campaign.objects.get(pk=dispatch.campaign_id)
    for task in CampaignTask.objects.filter(campaign=campaign, status=TaskStatus.PENDING):
        task_store_refused(task, error={"api": "", "errcode": None, "errmsg": error, "hint": ""})
    created = CampaignTask.objects.filter(campaign=campaign, status=TaskStatus.CREATED).exists()
    _campaign_dispatched(campaign, created=created, at=timezone.now())
    work_finish(dispatch, RunStatus.FAILED, errors=[*dispatch.errors, _error(error)])


def dispatch_progress(dispatch: Dispatch) -> dict[str, Any]:
    """What the dashboard shows while the tasks are being created."""
    return {
        "status": dispatch.status,
        "done": dispatch.done,
        "total": dispatch.total,
        "api_calls": dispatch.api_calls,
        "finished": dispatch.status not in (RunStatus.QUEUED, RunStatus.RUNNING),
    }


# --- scheduled campaigns --------------------------------------------------------------------------

DUE_BATCH = 100


def campaigns_dispatch_due(*, now: dt.datetime | None = None) -> int:
    """Start the scheduled campaigns whose time has come, in every tenant (the beat tick).

    ``SKIP LOCKED``: two ticks (a slow one and the next) never start the same campaign twice, and
    neither waits for the other; ``dispatch_start`` moves each out of ``scheduled`` in the same
    transaction, so a campaign is claimed once.
    """
    now = now or timezone.now()
    started = 0
    with transaction.atomic():
        due = list(
            Campaign.unscoped.select_for_update(skip_locked=True)
            .filter(status=CampaignStatus.SCHEDULED, scheduled_at__lte=now)
            .order_by("scheduled_at", "pk")[:DUE_BATCH]
        )
        tenants = {t.pk: t for t in Tenant.objects.filter(pk__in={c.tenant_id for c in due}, is_active=True)}
        for campaign in due:
            tenant = tenants.get(campaign.tenant_id)
            if tenant is None:
                continue
            with tenant_context(tenant):
                dispatch_start(campaign=campaign)
            started += 1
    return started
