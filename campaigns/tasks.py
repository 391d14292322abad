"""Campaign tasks: the dispatch run, the results poll, member-made read-back, and the beat ticks.

Thin: they take ids, claim, and call services. Work due later (a scheduled send, the next results
poll) lives in the database (``scheduled_at``, ``next_poll_at``) and is claimed by a tick every minute
with ``SELECT … FOR UPDATE SKIP LOCKED``, never only as a broker ETA (DESIGN.md §7).
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from scrm.durable import WorkLostError, durable_register, work_claim, work_requeue, work_update
from scrm.tenancy.models import Tenant
from scrm.tenancy.tasks import tenant_task
from scrm.wecom.errors import WeComError

from .models import Campaign, Dispatch
from .services import dispatch as dispatching
from .services import readback, results

logger = logging.getLogger(__name__)

# A dispatch that fails unexpectedly this many times is given up (its pending tasks fail).
MAX_CRASHES = 5


def dispatch_enqueue(tenant_id: int, dispatch_id: int, countdown: float = 0) -> None:
    """Send a dispatch's task (the stale sweep and requeues use this)."""
    dispatch_run.apply_async((tenant_id, dispatch_id), countdown=min(countdown, 600) or None)


# acks_late: a run killed with its worker is delivered again and resumes (tasks created are kept,
# a task claimed with no msgid is reconciled); the claim makes a duplicate delivery a no-op.
@tenant_task(name="campaigns.dispatch_run", queue="bulk", time_limit=30 * 60, acks_late=True)
def dispatch_run(tenant, dispatch_id: int) -> None:
    dispatch = work_claim(Dispatch, dispatch_id)
    if dispatch is None:
        return
    try:
        dispatching.dispatch_execute(dispatch)
    except WorkLostError:
        logger.warning("Dispatch %s was taken over by another worker; this one stops", dispatch_id)
    except dispatching.RetryLaterError as exc:
        # Rate limit, WeCom busy or unreachable: resume after a while, from where it stopped.
        delay = exc.retry_after
        logger.info("Dispatch %s resumes in %ss: %s", dispatch_id, delay, exc)
        work_requeue(dispatch, lambda t, pk: dispatch_enqueue(t, pk, delay))
    except SoftTimeLimitExceeded:
        work_requeue(dispatch, dispatch_enqueue)
    except Exception as exc:
        logger.exception("Dispatch %s failed", dispatch_id)
        _crashed(dispatch, exc)


def _crashed(dispatch: Dispatch, exc: Exception) -> None:
    """An unexpected error: try again later a few times (each run resumes), then give up."""
    message = str(exc) or type(exc).__name__
    crashes = int(dispatch.checkpoint.get("crashes", 0)) + 1
    try:
        if crashes >= MAX_CRASHES:
            dispatching.dispatch_give_up(dispatch, error=message)
            return
        error = {"item": None, "code": "crashed", "message": message}
        work_update(
            dispatch,
            checkpoint={**dispatch.checkpoint, "crashes": crashes},
            errors=[*dispatch.errors, error][-50:],
        )
        work_requeue(dispatch, lambda t, pk: dispatch_enqueue(t, pk, 60 * 2**crashes))
    except WorkLostError:
        pass


durable_register(Dispatch, dispatch_enqueue)


@shared_task(name="campaigns.dispatch_due", queue_name="default", time_limit=120, soft_time_limit=110)
def dispatch_due() -> int:
    """Every minute: scheduled campaigns whose time has come start dispatching."""
    return dispatching.campaigns_dispatch_due()


@tenant_task(name="campaigns.poll", queue="bulk", time_limit=30 * 60)
def campaign_poll(tenant, campaign_id: int) -> None:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return
    try:
        results.campaign_poll(campaign=campaign)
    except WeComError as exc:
        # The next poll is already due later (the tick leased it): it tries again then.
        logger.warning("Results of campaign %s not read: %s", campaign_id, exc)


@shared_task(name="campaigns.poll_due", queue_name="default", time_limit=120, soft_time_limit=110)
def poll_due() -> int:
    """Every minute: campaigns whose results are due are polled (each in its own task)."""
    due = results.campaigns_poll_claim()
    for tenant_id, campaign_id in due:
        campaign_poll.delay(tenant_id, campaign_id)
    return len(due)


@tenant_task(name="campaigns.readback", queue="bulk", time_limit=30 * 60)
def readback_tenant(tenant) -> None:
    try:
        readback.member_messages_read(tenant=tenant)
    except WeComError as exc:
        logger.warning("Member-made mass messages of tenant %s not read: %s", tenant.pk, exc)


@shared_task(name="campaigns.readback_all", queue_name="default", time_limit=120, soft_time_limit=110)
def readback_all() -> int:
    """Hourly: every tenant connected to WeCom reads back its members' own mass messages (the caps
    count them)."""
    queued = 0
    for tenant in Tenant.objects.filter(is_active=True).exclude(corp_id=""):
        if not tenant.corp_secret:  # encrypted at rest: checked here, not in SQL
            continue
        readback_tenant.delay(tenant.pk)
        queued += 1
    return queued


DEMO_ATTEMPTS = 30


@tenant_task(name="campaigns.demo_seed", queue="default", time_limit=300)
def demo_seed(tenant, attempt: int = 1) -> None:
    """The demo tenant's campaign, once its first sync brought customers (``seed_demo`` queues this)."""
    from .services.demo import demo_campaign_seed

    try:
        campaign = demo_campaign_seed(tenant=tenant)
    except WeComError as exc:
        logger.warning("Demo campaign not made yet: %s", exc)
        campaign = None
    if campaign is not None:
        demo_results.apply_async((tenant.pk, campaign.pk), countdown=15)
    elif attempt < DEMO_ATTEMPTS:
        demo_seed.apply_async((tenant.pk, attempt + 1), countdown=10)


@tenant_task(name="campaigns.demo_results", queue="default", time_limit=300)
def demo_results(tenant, campaign_id: int, attempt: int = 1) -> None:
    """Some of the demo campaign's members send it (through the sandbox), and its results are read."""
    from .services.demo import demo_campaign_results

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.polls:
        return
    try:
        done = demo_campaign_results(tenant=tenant, campaign=campaign)
    except WeComError as exc:
        logger.warning("Demo campaign results not read yet: %s", exc)
        done = False
    if not done and attempt < DEMO_ATTEMPTS:
        demo_results.apply_async((tenant.pk, campaign_id, attempt + 1), countdown=10)
