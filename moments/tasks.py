"""Moments tasks: a task's steps into WeCom, tracking polls, the members' posts sync, reminders, the
manager digest, and the beat ticks that find what is due.

Thin: they take ids and call services. Work due later (a scheduled post, a job's result, the next poll)
lives in the database (``MomentTask.next_check_at``, ``Moment.next_poll_at``) and is claimed by a tick
every minute with ``SELECT … FOR UPDATE SKIP LOCKED``, never only as a broker ETA (DESIGN.md §7); the
countdowns below only make a job's first reads come sooner than the next tick.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from scrm.tenancy.models import Tenant
from scrm.tenancy.tasks import tenant_task
from scrm.wecom.errors import WeComError

from .models import Moment, MomentTask, TaskStatus
from .services import reminders, submit, tracking
from .services.settings import digest_tenants_due

logger = logging.getLogger(__name__)

# A job's result is read again by a countdown when it is due within this many seconds (5, 15, 30);
# later reads wait for the tick.
CHAIN_WITHIN = 45


# The time limit stays well under submit.CLAIM_STALE: a claim older than that is presumed dead.
@tenant_task(name="moments.task_step", queue="default", time_limit=300)
def task_step(tenant, task_id: int, action: str) -> None:
    task = MomentTask.objects.filter(pk=task_id).first()
    if task is None:
        return
    try:
        submit.task_step(task=task, action=action)
    except WeComError as exc:
        # The step stays due (the tick leased it): it runs again after the lease.
        logger.warning("Moments task %s: %s not done: %s", task_id, action, exc)
        return
    task.refresh_from_db()
    if task.status == TaskStatus.SUBMITTING and task.jobid and task.next_check_at is not None:
        wait = (task.next_check_at - timezone.now()).total_seconds()
        if wait <= CHAIN_WITHIN:
            task_step.apply_async((tenant.pk, task_id, submit.CHECK), countdown=max(wait, 0) or None)


@shared_task(name="moments.due", queue_name="default", time_limit=120, soft_time_limit=110)
def due() -> int:
    """Every minute: scheduled tasks whose time has come, jobs to read, lost answers to reconcile."""
    steps = submit.tasks_due_claim()
    for tenant_id, task_id, action in steps:
        task_step.delay(tenant_id, task_id, action)
    return len(steps)


@tenant_task(name="moments.poll", queue="bulk", time_limit=30 * 60)
def poll(tenant, moment_id: int) -> None:
    moment = Moment.objects.filter(pk=moment_id).first()
    if moment is None:
        return
    try:
        tracking.moment_poll(moment=moment)
    except WeComError as exc:
        # The next poll is already due later (the tick leased it): it tries again then.
        logger.warning("Moment %s not polled: %s", moment_id, exc)


@tenant_task(name="moments.poll_group", queue="bulk", time_limit=30 * 60)
def poll_group(tenant, moment_ids: list[int]) -> None:
    moments = list(Moment.objects.filter(pk__in=moment_ids).order_by("pk"))
    for exc in tracking.moments_poll(moments=moments).errors:
        # The next poll of that Moment is already planned: it tries again then.
        logger.warning("A Moment of tenant %s not polled: %s", tenant.pk, exc)


@shared_task(name="moments.poll_due", queue_name="default", time_limit=120, soft_time_limit=110)
def poll_due() -> int:
    """Every minute: the Moments whose tracking poll is due are polled, a tenant's in groups of
    ``POLL_GROUP`` per task (WeCom read ahead across a group)."""
    due_moments = tracking.moments_poll_claim()
    by_tenant: dict[int, list[int]] = {}
    for tenant_id, moment_id in due_moments:
        by_tenant.setdefault(tenant_id, []).append(moment_id)
    for tenant_id, ids in by_tenant.items():
        for start in range(0, len(ids), tracking.POLL_GROUP):
            poll_group.delay(tenant_id, ids[start : start + tracking.POLL_GROUP])
    return len(due_moments)


def _connected_tenants():
    for tenant in Tenant.objects.filter(is_active=True).exclude(corp_id=""):
        if tenant.corp_secret:  # encrypted at rest: checked here, not in SQL
            yield tenant


@tenant_task(name="moments.member_sync", queue="bulk", time_limit=30 * 60)
def member_sync(tenant) -> None:
    try:
        tracking.member_moments_sync(tenant=tenant)
    except WeComError as exc:
        logger.warning("Members' Moments of tenant %s not read: %s", tenant.pk, exc)


@shared_task(name="moments.member_sync_all", queue_name="default", time_limit=120, soft_time_limit=110)
def member_sync_all() -> int:
    """Daily: every tenant connected to WeCom reads the Moments its members posted themselves."""
    queued = 0
    for tenant in _connected_tenants():
        member_sync.delay(tenant.pk)
        queued += 1
    return queued


@tenant_task(name="moments.remind_due", queue="bulk", time_limit=10 * 60)
def remind_due(tenant) -> None:
    try:
        reminders.reminders_send_due(tenant=tenant)
    except WeComError as exc:
        logger.warning("Moments reminders of tenant %s not sent: %s", tenant.pk, exc)


@shared_task(name="moments.remind_due_all", queue_name="default", time_limit=120, soft_time_limit=110)
def remind_due_all() -> int:
    """Hourly: members who have not published a corp post after the set hours are reminded (only
    tenants with an app to send from)."""
    queued = 0
    for tenant in _connected_tenants():
        if tenant.agent_id:
            remind_due.delay(tenant.pk)
            queued += 1
    return queued


@tenant_task(name="moments.digest", queue="bulk", time_limit=10 * 60)
def digest(tenant) -> None:
    try:
        reminders.manager_digest_send(tenant=tenant)
    except WeComError as exc:
        logger.warning("Moments digest of tenant %s not sent: %s", tenant.pk, exc)


@shared_task(name="moments.digest_all", queue_name="default", time_limit=120, soft_time_limit=110)
def digest_all() -> int:
    """Hourly: the tenants for which it is 18:00 send their department leaders the daily digest."""
    tenant_ids = digest_tenants_due()
    for tenant_id in tenant_ids:
        digest.delay(tenant_id)
    return len(tenant_ids)


DEMO_ATTEMPTS = 30


@tenant_task(name="moments.demo_seed", queue="default", time_limit=300)
def demo_seed(tenant, attempt: int = 1) -> None:
    """The demo tenant's Moments, once its first sync brought staff and customers (``seed_demo``
    queues this); tried again every 10 seconds until then."""
    from .services.demo import demo_moments_seed

    try:
        done = demo_moments_seed(tenant=tenant)
    except WeComError as exc:
        logger.warning("Demo Moments not made yet: %s", exc)
        done = False
    if not done and attempt < DEMO_ATTEMPTS:
        demo_seed.apply_async((tenant.pk, attempt + 1), countdown=10)
