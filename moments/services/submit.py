"""Turning a Moments task into a WeCom Moment: once, never lost, never twice (DESIGN.md §7, §12).

WeCom's ``add_moment_task`` has no idempotency key and answers with a ``jobid`` (readable for 24 hours)
that ``get_moment_task_result`` later turns into the ``moment_id``. A published task is ``submitting``
until it has its Moment, in three steps the beat tick drives through ``next_check_at``:

    queued (no claim) --claim: conditional UPDATE--> claimed --WeCom answers--> job (jobid)
    job --result: done--> publishing (its Moment row, tracked) | failed (WeCom's error)

The claim (with the content's fingerprint and the claim time) is written *before* the call. A claim
whose answer was lost (a worker killed, a timeout) or a job whose result WeCom forgot (24 hours) is
reconciled: the Moment is looked for in ``get_moment_list`` (corp posts since the claim) by its
fingerprint and adopted; only when it is not there is the task submitted again (at most
``LOST_AFTER`` claims). A refusal of WeCom's rate limit (10 tasks a minute per corp) or a busy answer
leaves the task queued for a later tick; any other refusal fails it with WeCom's answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contacts.models import Department, Staff, Tag
from library.models import Material
from library.services import attachment_ids, moment_attachments_for_wecom
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import WeComError, WeComRateLimitedError

from ..models import CreateType, Moment, MomentTask, TaskStatus

logger = logging.getLogger(__name__)

ADD_API = "externalcontact/add_moment_task"
RESULT_API = "externalcontact/get_moment_task_result"
# Claims (add_moment_task calls that may have reached WeCom) before the task is given up.
MAX_ATTEMPTS = 6
# A claim whose Moment cannot be found after this many is failed as lost rather than tried again.
LOST_AFTER = 3
# A claim with no jobid after this long is presumed dead (the step's time limit is well under it).
CLAIM_STALE = dt.timedelta(minutes=10)
# What the tick leases a due task for: the step it enqueued runs before this, or the tick tries again.
LEASE = dt.timedelta(minutes=2)
DUE_BATCH = 200
FIRST_CHECK = dt.timedelta(seconds=5)
JOB_TTL = dt.timedelta(hours=24)
# WeCom forgot the job (40089: older than 24 hours; 40088: no such job): look for its Moment instead.
JOB_GONE = frozenset({40088, 40089})
# Transient answers the client already retried (busy, concurrency, token): nothing was created.
RETRY_LATER_CODES = frozenset({-1, 45033, 40014, 42001})
RETRY_BACKOFF = (30, 60, 120, 300, 600)  # seconds, by attempt
# get_moment_list: at most 20 a page and 30 days a call; searched from a little before the claim.
LIST_PAGE = 20
LIST_WINDOW_MAX = dt.timedelta(days=30)
RECONCILE_MARGIN = dt.timedelta(minutes=1)

SUBMIT, CHECK, RECONCILE = "submit", "check", "reconcile"


class NoAudienceError(Exception):
    """Every member, department or tag the task names is gone: WeCom would widen it to everyone."""


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=RETRY_BACKOFF[min(max(attempts - 1, 0), len(RETRY_BACKOFF) - 1)])


def check_delay(age: dt.timedelta) -> dt.timedelta:
    """When a running job is read next, by the age of its jobid: at 5 s, 20 s, 50 s, then every minute."""
    if age < dt.timedelta(seconds=15):
        return dt.timedelta(seconds=15)
    if age < dt.timedelta(seconds=45):
        return dt.timedelta(seconds=30)
    return dt.timedelta(minutes=1)


# --- what is sent ---------------------------------------------------------------------------------


def _shape_fingerprint(text: str, shape: list[list[str]]) -> str:
    content = json.dumps({"text": text, "attachments": shape}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(content.encode()).hexdigest()


def task_fingerprint(task: MomentTask) -> str:
    """sha256 of what get_moment_list shows of the task's Moment: its text and its attachments' kinds
    (and a link's URL). Media ids are left out: they change on every upload."""
    materials = dict(
        Material.objects.filter(pk__in=attachment_ids(task.attachments)).values_list("pk", "kind")
    )
    urls = dict(
        Material.objects.filter(pk__in=attachment_ids(task.attachments), kind="link").values_list("pk", "url")
    )
    shape = [[materials[pk], urls.get(pk, "")] for pk in attachment_ids(task.attachments) if pk in materials]
    return _shape_fingerprint(task.text, shape)


def moment_fingerprint(item: dict[str, Any]) -> str:
    """The same fingerprint of one ``get_moment_list`` item."""
    text = (item.get("text") or {}).get("content") or ""
    shape = [["image", ""] for _ in item.get("image") or []]
    if item.get("video"):
        shape.append(["video", ""])
    if item.get("link"):
        shape.append(["link", item["link"].get("url") or ""])
    return _shape_fingerprint(text, shape)


def task_body(task: MomentTask, *, api: WeComAPI) -> dict[str, Any]:
    """The add_moment_task body: text, attachments (uploaded to WeCom's Moments store when it has
    forgotten them) and the visible range by WeCom ids. Raises ``NoAudienceError`` rather than let a
    range whose every member or tag is gone become "every member" or "every customer"."""
    body: dict[str, Any] = {}
    userids = sorted(Staff.objects.filter(pk__in=task.staff_ids).values_list("userid", flat=True))
    departments = sorted(
        Department.objects.filter(pk__in=task.department_ids).values_list("wecom_id", flat=True)
    )
    tags = sorted(Tag.objects.filter(pk__in=task.tag_ids, deleted=False).values_list("wecom_id", flat=True))
    if (task.staff_ids or task.department_ids) and not (userids or departments):
        raise NoAudienceError("Every member and department chosen is gone: nobody could publish it.")
    if task.tag_ids and not tags:
        raise NoAudienceError(
            "Every customer tag chosen was deleted: WeCom would show the post to every customer."
        )
    if task.text:
        body["text"] = {"content": task.text}
    attachments = moment_attachments_for_wecom(api=api, attachments=task.attachments)
    if attachments:
        body["attachments"] = attachments
    visible: dict[str, Any] = {}
    if userids or departments:
        visible["sender_list"] = {"user_list": userids, "department_list": departments}
    if tags:
        visible["external_contact_list"] = {"tag_list": tags}
    if visible:
        body["visible_range"] = visible
    return body


def _content(task: MomentTask) -> dict[str, Any]:
    """What the Moment carries, in get_moment_list's shape (images and video by the ids just sent)."""
    rows = {
        pk: (kind, title, url, media_id)
        for pk, kind, title, url, media_id in Material.objects.filter(
            pk__in=attachment_ids(task.attachments)
        ).values_list("pk", "kind", "title", "url", "moment_media_id")
    }
    content: dict[str, Any] = {}
    for pk in attachment_ids(task.attachments):
        if pk not in rows:
            continue
        kind, title, url, media_id = rows[pk]
        if kind == "image":
            content.setdefault("image", []).append({"media_id": media_id})
        elif kind == "video":
            content["video"] = {"media_id": media_id}
        elif kind == "link":
            content["link"] = {"title": title, "url": url}
    return content


# --- submitting -----------------------------------------------------------------------------------


def _fail(task: MomentTask, *, error: dict[str, Any]) -> None:
    """WeCom refused the task (or it could not be made): it fails with the reason, never retried."""
    MomentTask.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTING, moment__isnull=True).update(
        status=TaskStatus.FAILED, error=error, next_check_at=None, updated_at=timezone.now()
    )
    task.status, task.error = TaskStatus.FAILED, error
    logger.info("Moments task %s failed: %s", task.pk, error)


def _release(task: MomentTask, *, error: dict[str, Any], after: dt.timedelta, refund: bool = False) -> None:
    """Nothing was created in WeCom: back to the queue, submitted again by the tick ``after`` this.
    ``refund``: the call never counted (WeCom's rate limit, or ours, refused it)."""
    attempts = F("attempts") - 1 if refund else F("attempts")
    MomentTask.objects.filter(
        pk=task.pk, status=TaskStatus.SUBMITTING, jobid="", attempts=task.attempts
    ).update(
        claimed_at=None,
        attempts=attempts,
        error=error,
        next_check_at=timezone.now() + after,
        updated_at=timezone.now(),
    )


def task_submit(*, task: MomentTask, api: WeComAPI | None = None) -> None:
    """Claim a queued task and create it in WeCom (``add_moment_task``); keep its jobid.

    A task someone else claimed meanwhile is left alone. No answer from WeCom (a timeout): the task
    stays claimed and is reconciled ``CLAIM_STALE`` after its claim, before any new call.
    """
    now = timezone.now()
    fingerprint = task_fingerprint(task)
    if not MomentTask.objects.filter(
        pk=task.pk, status=TaskStatus.SUBMITTING, jobid="", claimed_at__isnull=True
    ).update(
        claimed_at=now,
        attempts=F("attempts") + 1,
        fingerprint=fingerprint,
        next_check_at=now + CLAIM_STALE,
        updated_at=now,
    ):
        return
    task.refresh_from_db()
    if task.attempts > MAX_ATTEMPTS:
        _fail(task, error={**task.error, "code": "gave_up", "attempts": MAX_ATTEMPTS})
        return
    api = api or api_for(task.tenant)
    try:
        body = task_body(task, api=api)
        answer = api.add_moment_task(body)
    except NoAudienceError as exc:
        _fail(task, error={"code": "no_audience", "message": str(exc)})
        return
    except WeComRateLimitedError as exc:
        # WeCom takes 10 Moments tasks a minute per corp: wait for its window, the call did not count.
        _release(task, error=exc.as_dict(), after=dt.timedelta(seconds=exc.retry_after), refund=True)
        return
    except WeComError as exc:
        if exc.errcode is None and exc.api == ADD_API:
            # No answer: WeCom may hold the job. The claim stays; the tick reconciles it.
            MomentTask.objects.filter(pk=task.pk, jobid="", attempts=task.attempts).update(
                error=exc.as_dict()
            )
            return
        if exc.errcode is None or exc.errcode in RETRY_LATER_CODES:
            _release(task, error=exc.as_dict(), after=_backoff(task.attempts))
            return
        _fail(task, error=exc.as_dict())  # 40058, 45002, 40007, 44004... or an upload WeCom refused
        return
    _store_job(task, jobid=answer["jobid"])


def _store_job(task: MomentTask, *, jobid: str) -> None:
    now = timezone.now()
    stored = MomentTask.objects.filter(
        pk=task.pk, status=TaskStatus.SUBMITTING, jobid="", attempts=task.attempts
    ).update(jobid=jobid, submitted_at=now, next_check_at=now + FIRST_CHECK, error={}, updated_at=now)
    if not stored:
        # Another claim took over (this worker was taken for dead): its reconcile may adopt this job's
        # Moment; nothing else can be done with it.
        logger.error("Moments task %s: jobid %s arrived after its claim was taken over", task.pk, jobid)
        return
    task.jobid, task.submitted_at, task.next_check_at = jobid, now, now + FIRST_CHECK


# --- the job's result ---------------------------------------------------------------------------


def task_job_check(*, task: MomentTask, api: WeComAPI | None = None) -> None:
    """Read the job's result: still running → read again later (``check_delay``); refused → failed with
    WeCom's error; done → the Moment is linked and tracked. A job WeCom forgot is reconciled."""
    if task.status != TaskStatus.SUBMITTING or not task.jobid:
        return
    now = timezone.now()
    api = api or api_for(task.tenant)
    if task.submitted_at is not None and now - task.submitted_at >= JOB_TTL:
        task_reconcile(task=task, api=api)
        return
    try:
        answer = api.get_moment_task_result(task.jobid)
    except WeComError as exc:
        if exc.errcode in JOB_GONE:
            task_reconcile(task=task, api=api)
            return
        # Busy, rate-limited or unreachable: the job is WeCom's either way; read it again later.
        logger.warning("Moments task %s: job %s not read: %s", task.pk, task.jobid, exc)
        _check_later(task, at=now + dt.timedelta(seconds=getattr(exc, "retry_after", 0) or 60))
        return
    if answer.get("status") != 3:
        _check_later(task, at=now + check_delay(now - (task.submitted_at or now)))
        return
    result = answer.get("result") or {}
    if result.get("errcode"):
        _fail(task, error=WeComError(RESULT_API, result["errcode"], result.get("errmsg") or "").as_dict())
        return
    senders = result.get("invalid_sender_list") or {}
    _task_link(
        task,
        moment_id=result["moment_id"],
        created_at=now,
        content=_content(task),
        visible_type=0 if task.tag_ids and _live_tags(task, result) else 1,
        invalid_senders={
            "user_list": list(senders.get("user_list") or []),
            "department_list": list(senders.get("department_list") or []),
        },
        invalid_tags=list((result.get("invalid_external_contact_list") or {}).get("tag_list") or []),
    )


def _live_tags(task: MomentTask, result: dict[str, Any]) -> bool:
    """Whether any tag of the task was usable (WeCom shows the post to everyone when none is)."""
    invalid = set((result.get("invalid_external_contact_list") or {}).get("tag_list") or [])
    return Tag.objects.filter(pk__in=task.tag_ids).exclude(wecom_id__in=invalid).exists()


def _check_later(task: MomentTask, *, at: dt.datetime) -> None:
    MomentTask.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTING, jobid=task.jobid).update(
        next_check_at=at
    )
    task.next_check_at = at


def _task_link(
    task: MomentTask,
    *,
    moment_id: str,
    created_at: dt.datetime,
    content: dict[str, Any],
    visible_type: int,
    invalid_senders: dict[str, Any],
    invalid_tags: list[str],
) -> Moment | None:
    """The task's Moment: its row (or the one a sync already brought), linked, and tracking started,
    in one transaction. A task linked meanwhile (a concurrent check) is left as it is."""
    from . import tracking

    with transaction.atomic():
        locked = (
            MomentTask.objects.select_for_update()
            .filter(pk=task.pk, status=TaskStatus.SUBMITTING, moment__isnull=True)
            .first()
        )
        if locked is None:
            return None
        moment, _ = Moment.objects.get_or_create(
            moment_id=moment_id,
            defaults={
                "create_type": CreateType.CORP,
                "text": locked.text,
                "content": content,
                "visible_type": visible_type,
                "created_at_wecom": created_at,
                "members": 0,
            },
        )
        locked.moment = moment
        locked.status = TaskStatus.PUBLISHING
        locked.invalid_senders, locked.invalid_tags = invalid_senders, invalid_tags
        locked.next_check_at, locked.error = None, {}
        locked.save(
            update_fields=[
                "moment",
                "status",
                "invalid_senders",
                "invalid_tags",
                "next_check_at",
                "error",
                "updated_at",
            ]
        )
        tracking.moment_track_start(moment=moment)
    task.moment, task.status = moment, TaskStatus.PUBLISHING
    task.invalid_senders, task.invalid_tags, task.next_check_at = invalid_senders, invalid_tags, None
    logger.info("Moments task %s is Moment %s", task.pk, moment_id)
    return moment


# --- reconciling a lost answer ---------------------------------------------------------------------


def _timestamp(value: Any, default: dt.datetime) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)
    except (TypeError, ValueError):
        return default


def task_reconcile(*, task: MomentTask, api: WeComAPI | None = None) -> None:
    """A claim whose answer was lost, or a job WeCom forgot: adopt the task's Moment if WeCom has it,
    else submit the task again (failed as lost after ``LOST_AFTER`` claims).

    Looks through the corp posts since the claim (a minute early for clock differences;
    ``get_moment_list`` filter_type 0, pages of 20) for one with the task's fingerprint that no other
    task holds, the earliest first. What it cannot tell apart: the same text and attachments posted in
    WeCom's admin console within the window; it would adopt the earliest one.
    """
    if task.status != TaskStatus.SUBMITTING or task.moment_id is not None:
        return
    api = api or api_for(task.tenant)
    now = timezone.now()
    end = now + RECONCILE_MARGIN
    start = max((task.claimed_at or task.submitted_at or now) - RECONCILE_MARGIN, end - LIST_WINDOW_MAX)
    candidates = []
    cursor = ""
    while True:
        page = api.get_moment_list(
            {
                "start_time": int(start.timestamp()),
                "end_time": int(end.timestamp()),
                "filter_type": 0,
                "limit": LIST_PAGE,
                "cursor": cursor,
            }
        )
        candidates += [
            item for item in page.get("moment_list") or [] if moment_fingerprint(item) == task.fingerprint
        ]
        cursor = page.get("next_cursor") or ""
        if not cursor:
            break
    held = set(
        MomentTask.objects.filter(moment__moment_id__in=[c["moment_id"] for c in candidates])
        .exclude(pk=task.pk)
        .values_list("moment__moment_id", flat=True)
    )
    for item in sorted(candidates, key=lambda c: (c.get("create_time") or 0, c["moment_id"])):
        if item["moment_id"] in held:
            continue
        logger.info(
            "Moments task %s: adopted Moment %s found after a lost answer", task.pk, item["moment_id"]
        )
        content = {key: item[key] for key in ("image", "video", "link") if item.get(key)}
        _task_link(
            task,
            moment_id=item["moment_id"],
            created_at=_timestamp(item.get("create_time"), now),
            content=content,
            visible_type=int(item.get("visible_type", 1)),
            invalid_senders={},
            invalid_tags=[],
        )
        return
    if task.attempts >= LOST_AFTER:
        _fail(
            task,
            error={
                "code": "lost",
                "message": f"WeCom's answer was lost {task.attempts} times and the post is not in WeCom.",
            },
        )
        return
    # Not in WeCom: back to the queue, and submitted again now.
    if MomentTask.objects.filter(
        pk=task.pk,
        status=TaskStatus.SUBMITTING,
        attempts=task.attempts,
        jobid=task.jobid,
        moment__isnull=True,
    ).update(claimed_at=None, jobid="", submitted_at=None, next_check_at=now + LEASE, updated_at=now):
        task.refresh_from_db()
        task_submit(task=task, api=api)


# --- the beat tick ----------------------------------------------------------------------------------


def tasks_due_claim(*, now: dt.datetime | None = None) -> list[tuple[int, int, str]]:
    """The tasks with a step due, in every tenant, as (tenant_id, task_id, action), each leased for
    ``LEASE`` (its ``next_check_at`` pushed back) in the same transaction: SKIP LOCKED keeps two ticks
    from taking the same task, and a step whose message is lost runs again after the lease.

    A scheduled task whose time has come moves to ``submitting`` here (claimed once); then "submit"
    (queued), "check" (a job to read) or "reconcile" (a claim whose answer never came).
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            MomentTask.unscoped.select_for_update(skip_locked=True, of=("self",))
            .filter(
                next_check_at__lte=now,
                status__in=(TaskStatus.SCHEDULED, TaskStatus.SUBMITTING),
                tenant__is_active=True,
            )
            .order_by("next_check_at", "pk")
            .values_list("tenant_id", "pk", "status", "jobid", "claimed_at")[:DUE_BATCH]
        )
        if not due:
            return []
        scheduled = [pk for _, pk, status, _, _ in due if status == TaskStatus.SCHEDULED]
        if scheduled:
            MomentTask.unscoped.filter(pk__in=scheduled).update(status=TaskStatus.SUBMITTING, updated_at=now)
        MomentTask.unscoped.filter(pk__in=[pk for _, pk, *_ in due]).update(next_check_at=now + LEASE)
    claimed = []
    for tenant_id, pk, status, jobid, claimed_at in due:
        if jobid:
            action = CHECK
        elif status == TaskStatus.SCHEDULED or claimed_at is None:
            action = SUBMIT
        else:
            action = RECONCILE
        claimed.append((tenant_id, pk, action))
    return claimed


def task_step(*, task: MomentTask, action: str, api: WeComAPI | None = None) -> None:
    """Run one claimed step (the ``moments.task_step`` task's body)."""
    if action == SUBMIT:
        task_submit(task=task, api=api)
    elif action == CHECK:
        task_job_check(task=task, api=api)
    elif action == RECONCILE:
        task_reconcile(task=task, api=api)
    else:
        raise ValueError(f"Unknown Moments task step {action!r}")
