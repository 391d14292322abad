"""What a member does with its SOP tasks ("today's SOP tasks"): done, postpone to a time, skip with a
reason.

A task still open (to do, or postponed) can be done, postponed again or skipped. The engine may mark a
mass-message task done from WeCom's status at the same time (deliveries_poll): the row is locked, so
whichever comes second sees the other's answer. Marking a done task done again changes nothing (a
double click); anything else on a closed task is refused (409 ``not_open``).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError

from ..models import SopTask, SopTaskStatus

OPEN = (SopTaskStatus.TODO, SopTaskStatus.POSTPONED)
POSTPONE_MAX = dt.timedelta(days=30)
REASON_MAX = 200
DONE_VIA_MEMBER = "member"


class TaskStateError(Exception):
    """The task is closed (done or skipped): the API answers 409 of type ``code``."""

    def __init__(self, message: str, *, code: str = "not_open"):
        super().__init__(message)
        self.code = code


def _locked_open(task: SopTask) -> SopTask:
    locked = SopTask.objects.select_for_update().get(pk=task.pk)
    if locked.status not in OPEN:
        raise TaskStateError(f"The task is {locked.status} already.")
    return locked


def task_done(*, task: SopTask, now: dt.datetime | None = None) -> SopTask:
    with transaction.atomic():
        current = SopTask.objects.select_for_update().get(pk=task.pk)
        if current.status == SopTaskStatus.DONE:
            return current
        locked = _locked_open(current)
        locked.status = SopTaskStatus.DONE
        locked.done_via = DONE_VIA_MEMBER
        locked.done_at = now or timezone.now()
        locked.save(update_fields=["status", "done_via", "done_at", "updated_at"])
    return locked


def until_clean(until: dt.datetime, *, now: dt.datetime) -> dt.datetime:
    """A postponement: in the future, at most 30 days ahead."""
    if until <= now:
        raise ValidationError({"until": [ErrorDetail("Choose a time in the future.", code="in_the_past")]})
    if until > now + POSTPONE_MAX:
        raise ValidationError(
            {"until": [ErrorDetail(f"At most {POSTPONE_MAX.days} days ahead.", code="too_far_ahead")]}
        )
    return until


def task_postpone(
    *, task: SopTask, until: dt.datetime, reason: str = "", now: dt.datetime | None = None
) -> SopTask:
    """Move the task to ``until``: it is listed as due then (its status says it was postponed)."""
    now = now or timezone.now()
    until = until_clean(until, now=now)
    with transaction.atomic():
        locked = _locked_open(task)
        locked.status = SopTaskStatus.POSTPONED
        locked.due_at = until
        locked.reason = (reason or "").strip()[:REASON_MAX]
        locked.save(update_fields=["status", "due_at", "reason", "updated_at"])
    return locked


def task_skip(*, task: SopTask, reason: str) -> SopTask:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [ErrorDetail("Say why the task is skipped.", code="required")]})
    with transaction.atomic():
        locked = _locked_open(task)
        locked.status = SopTaskStatus.SKIPPED
        locked.reason = reason[:REASON_MAX]
        locked.save(update_fields=["status", "reason", "updated_at"])
    return locked
