"""Durable work: one mechanism for every long job a worker may die in the middle of (DESIGN.md §7).

Contact and group syncs, bulk jobs and campaign dispatch all need the same things: a row that says
queued / running / finished, a claim by conditional UPDATE so exactly one worker runs it, a heartbeat
so a dead worker's work is found and claimed again, fencing so a worker presumed dead (but only slow)
cannot write beside the new holder, progress counts and a checkpoint to resume from.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from celery import shared_task
from django.db import models, transaction
from django.db.models import F, Value
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Coalesce
from django.utils import timezone

logger = logging.getLogger(__name__)


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Finished with errors"
    FAILED = "failed", "Failed"


ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
# Work whose executor has not beaten for this long is taken for dead and claimed again.
STALE_AFTER = dt.timedelta(minutes=5)


def claimable_q(now: dt.datetime) -> models.Q:
    """Work an executor may claim: queued, or running with a stale heartbeat."""
    return models.Q(status=RunStatus.QUEUED) | models.Q(
        status=RunStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    )


class DurableWork(models.Model):
    """The fields every durable work row has (abstract; the concrete model adds its tenant and counts)."""

    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    errors = models.JSONField(default=list, blank=True)
    checkpoint = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)  # the first claim's time
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The fencing token: a new one per claim. Every write of the executor is conditional on the token it
    # claimed with, so once another worker claims the work, the old executor's writes match no row.
    claim_token = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True


W = TypeVar("W", bound=DurableWork)
Enqueue = Callable[[int, int], None]  # (tenant_id, pk) -> None: sends the work's task


class WorkLostError(Exception):
    """Another worker holds the work now (this one stopped beating for too long and was presumed dead).

    Raised by every fenced write, which then wrote nothing. The executor stops; inside the transaction
    of a step's writes it rolls them back, and the new holder redoes the step from the checkpoint.
    """


def work_claim(model: type[W], pk: int) -> W | None:
    """Claim queued work, or running work whose executor stopped beating; None if another worker has it.

    One conditional UPDATE (so of two workers delivered the same work, one wins) that sets the status
    to running, a fresh fencing token and heartbeat, and ``started_at`` on the first claim only (a
    resumed run started when it first did). Through ``model.objects``: within the current tenant.
    """
    now, token = timezone.now(), uuid.uuid4()
    claimed = model.objects.filter(claimable_q(now), pk=pk).update(
        status=RunStatus.RUNNING,
        claim_token=token,
        started_at=Coalesce(F("started_at"), now),
        heartbeat_at=now,
    )
    return model.objects.filter(pk=pk, claim_token=token).first() if claimed else None


def _mine(work: DurableWork) -> models.QuerySet:
    """The work's row, as long as this executor's claim holds."""
    return type(work).objects.filter(pk=work.pk, claim_token=work.claim_token)


def _increment(name: str, value: Any) -> int | float | None:
    """n when ``value`` is ``F(name) + n`` (or ``- n``): what the instance can add without a read."""
    if (
        isinstance(value, CombinedExpression)
        and value.connector in ("+", "-")
        and isinstance(value.lhs, F)
        and value.lhs.name == name
        and isinstance(value.rhs, Value)
        and isinstance(value.rhs.value, int | float)
    ):
        return value.rhs.value if value.connector == "+" else -value.rhs.value
    return None


def work_update(work: DurableWork, **updates: Any) -> None:
    """Write ``updates`` (values, or expressions such as ``F("done") + 5``) and a fresh heartbeat in one
    UPDATE fenced by the claim; raises WorkLostError, having written nothing, when another worker holds
    the work. The instance follows: plain values and ``F(name) ± n`` are applied to it in memory, other
    expressions read back from the row."""
    now = timezone.now()
    if not _mine(work).update(**updates, heartbeat_at=now):
        raise WorkLostError(f"{type(work).__name__} {work.pk}")
    work.heartbeat_at = now
    read_back = []
    for name, value in updates.items():
        if not hasattr(value, "resolve_expression"):
            setattr(work, name, value)
        elif (delta := _increment(name, value)) is not None:
            setattr(work, name, getattr(work, name) + delta)
        else:
            read_back.append(name)
    if read_back:
        work.refresh_from_db(fields=read_back)


def work_heartbeat(work: DurableWork) -> None:
    """Tell the stale-work sweep this executor is alive (during long stretches without progress, such
    as a run of WeCom calls); raises WorkLostError when another worker holds the work."""
    work_update(work)


def work_progress(work: DurableWork, *, checkpoint: Any = None, **increments: int) -> None:
    """Add to integer counters (``done=5, failed=1``) and record the checkpoint (unless None) in one
    fenced UPDATE with the heartbeat; raises WorkLostError when another worker holds the work.

    Call it inside the transaction of the step's writes: the checkpoint then commits with them, and a
    lost claim rolls them back.
    """
    updates: dict[str, Any] = {name: F(name) + n for name, n in increments.items() if n}
    if checkpoint is not None:
        updates["checkpoint"] = checkpoint
    work_update(work, **updates)


def work_requeue(work: DurableWork, enqueue: Enqueue) -> None:
    """Running → queued, and ``enqueue(tenant_id, pk)`` once the transaction commits: the work resumes
    from its checkpoint in a new task (e.g. at the task's time limit). Nothing happens when another
    worker holds the work or it is no longer running."""
    if _mine(work).filter(status=RunStatus.RUNNING).update(status=RunStatus.QUEUED):
        work.status = RunStatus.QUEUED
        tenant_id, pk = work.tenant_id, work.pk
        transaction.on_commit(lambda: enqueue(tenant_id, pk))


def work_finish(work: DurableWork, status: str, *, errors: list | None = None) -> None:
    """End the work as ``status`` (succeeded, partial or failed), with ``errors`` when given. Written
    only while this executor's claim holds: raises WorkLostError (writing nothing) when it does not."""
    updates: dict[str, Any] = {"status": status, "finished_at": timezone.now()}
    if errors is not None:
        updates["errors"] = errors
    work_update(work, **updates)


# Every kind of durable work and how to send its task: the stale-work sweep covers them all.
_registry: dict[type[DurableWork], Enqueue] = {}


def durable_register(model: type[DurableWork], enqueue: Enqueue) -> None:
    """Have the stale-work sweep cover ``model`` (a TenantModel), re-sending its work with
    ``enqueue(tenant_id, pk)``. Call it when the app loads (its tasks module, imported by
    ``AppConfig.ready``), so that web processes, workers and beat all know every kind."""
    _registry[model] = enqueue


def durable_requeue_stale() -> int:
    """Re-enqueue the work of every registered kind, in every tenant, whose executor died (running, no
    heartbeat for ``STALE_AFTER``) or whose task message was lost (queued for that long); the executor
    claims it and resumes from the checkpoint. Returns how many were re-enqueued."""
    now = timezone.now()
    count = 0
    for model, enqueue in _registry.items():
        stale = model.unscoped.filter(claimable_q(now), created_at__lt=now - STALE_AFTER).values_list(
            "tenant_id", "pk"
        )
        for tenant_id, pk in stale:
            enqueue(tenant_id, pk)
            count += 1
    if count:
        logger.info("re-enqueued %s stale durable work items", count)
    return count


@shared_task(name="durable.requeue_stale", queue_name="default", time_limit=60, soft_time_limit=50)
def requeue_stale_work() -> int:
    """The beat task of the stale-work sweep (``durable_requeue_stale``)."""
    return durable_requeue_stale()
