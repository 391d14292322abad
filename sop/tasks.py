"""SOP tasks: the engine's tick, the scheduled enrolments and the mass-message results poll.

Thin: they call services. Due steps and deliveries live in the database (``SopStepRun.due_at``,
``SopDelivery``) and are claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` / conditional UPDATEs, so two
ticks that overlap (a slow one and the next) share the work instead of doing it twice, and a tick killed
with its worker loses nothing: its claims are reclaimed after 5 minutes.
"""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.utils import timezone

from .services.actions import deliveries_poll, deliveries_send
from .services.engine import sop_run_due, step_runs_reclaim_stale

logger = logging.getLogger(__name__)

# The tick runs for this long (the beat starts one every 30 s), so a due step waits a few seconds, not
# until the next beat.
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
    """About 25 seconds of engine: new events enrol customers (every 5 s), stale claims are reclaimed
    (every minute), due steps run until none is left, deliveries are sent; 1 s of sleep when idle."""
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
            # Deliveries between passes: a member's reminder leaves within seconds of its steps.
            totals["sent"] += _guarded("send", deliveries_send) or 0
        sent = _guarded("send", deliveries_send) or 0
        totals["sent"] += sent
        if not busy and not sent:
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
