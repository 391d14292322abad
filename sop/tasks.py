"""SOP tasks: the engine's tick, the scheduled enrolments and the mass-message results poll.

Thin: they call services. Due steps and deliveries live in the database (``SopStepRun.due_at``,
``SopDelivery``) and are claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` / conditional UPDATEs, so two
ticks that overlap (a slow one and the next) share the work instead of doing it twice, and a tick killed
with its worker loses nothing: its claims are reclaimed after 5 minutes.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from celery import shared_task
from django.utils import timezone

from scrm.tenancy.tasks import tenant_task

from .services.actions import deliveries_poll, deliveries_send
from .services.engine import sop_run_due, step_runs_reclaim_stale, steps_due_by

logger = logging.getLogger(__name__)

# The tick runs for up to this long (the beat starts one every 30 s) while steps are due within that
# time, so a step due between two beats waits about a second, not until the next beat; with nothing due
# by its end it returns at once and gives its worker back (callbacks and welcomes share the workers).
TICK_SECONDS = 25
IDLE_SLEEP = 1.0
RECLAIM_EVERY = 60.0
ENROL_EVERY = 5.0


def _guarded(name: str, work, *args, **kwargs):
    """One phase of the tick: its failure is logged and the other phases go on."""
    try:
        return work(*args, **kwargs)
    except Exception:
        logger.exception("sop.tick: %s failed", name)
        return None


@shared_task(name="sop.tick", queue_name="default", time_limit=60, soft_time_limit=50)
def tick() -> dict:
    """Up to 25 seconds of engine: new events enrol customers (every 5 s), stale claims are reclaimed
    (every minute), due steps run until none is left, deliveries are sent; 1 s of sleep when idle,
    and an early return when nothing is due before the 25 seconds are over."""
    from .services.enrol import sop_enrol_from_events

    start = time.monotonic()
    deadline = start + TICK_SECONDS
    last_reclaim = last_enrol = -RECLAIM_EVERY
    totals = {"enrolled": 0, "executed": 0, "sent": 0}
    while time.monotonic() < deadline:
        elapsed = time.monotonic() - start
        if elapsed - last_reclaim >= RECLAIM_EVERY:
            _guarded("reclaim", step_runs_reclaim_stale, now=timezone.now())
            last_reclaim = elapsed
        if elapsed - last_enrol >= ENROL_EVERY:
            totals["enrolled"] += _guarded("enrol", sop_enrol_from_events) or 0
            last_enrol = elapsed
        busy = False
        while time.monotonic() < deadline:
            result = _guarded("run", sop_run_due)
            if result is None or not result.claimed:
                break
            busy = True
            totals["executed"] += result.executed
            # Deliveries between passes: a member's reminder leaves as soon as its coalescing window
            # (settings.SOP_COALESCE_SECONDS) is over, even while a backlog keeps the passes busy.
            totals["sent"] += _guarded("send", deliveries_send) or 0
        sent = _guarded("send", deliveries_send) or 0
        totals["sent"] += sent
        if not busy and not sent:
            ends = timezone.now() + dt.timedelta(seconds=max(0.0, deadline - time.monotonic()))
            if not _guarded("probe", steps_due_by, ends):
                break
            time.sleep(IDLE_SLEEP)
    return totals


@shared_task(name="sop.schedule", queue_name="default", time_limit=300, soft_time_limit=280)
def schedule() -> dict:
    """Every 10 minutes: date triggers and group schedules, then segment triggers (all tenants)."""
    from .services.enrol import sop_enrol_scheduled, sop_enrol_segments

    now = timezone.now()
    return {
        "scheduled": _guarded("scheduled", sop_enrol_scheduled, now=now) or 0,
        "segments": _guarded("segments", sop_enrol_segments, now=now) or 0,
    }


@shared_task(name="sop.poll", queue_name="default", time_limit=300, soft_time_limit=280)
def poll() -> int:
    """Every 5 minutes: mass-message tasks' send results → SOP tasks done."""
    return deliveries_poll(now=timezone.now())


# The demo's first sync takes a few seconds; past five minutes something else is wrong.
DEMO_ATTEMPTS = 30


@tenant_task(name="sop.demo_seed", queue="default", time_limit=300)
def demo_seed(tenant, attempt: int = 1) -> None:
    """The demo tenant's live SOPs (sop.services.demo), once its first contacts sync has succeeded
    (``seed_demo`` queues this); tried again every 10 seconds until then."""
    from .services.demo import demo_sop_seed

    if demo_sop_seed(tenant=tenant) is None and attempt < DEMO_ATTEMPTS:
        demo_seed.apply_async((tenant.pk, attempt + 1), countdown=10)
