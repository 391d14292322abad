"""Groups sync tasks: the full sync (bulk queue), the delayed re-read after a callback (realtime),
and the daily statistics (a beat task fanning out one task per connected tenant).

The re-reads and the statistics are tried again after a rate limit (once WeCom's window ends) or a
transient failure (WeCom busy, -1, or not answering: reads are safe to send again), with a bounded
backoff, at most ``RETRY_ATTEMPTS`` times and never more than ``RETRY_MAX_WAIT`` later (far under the
broker's visibility timeout); what is still missing then is caught by the nightly sync or the next
day's statistics."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.core.cache import cache
from django.db import transaction

from contacts import sync as contacts_sync
from contacts.models import SyncKind
from scrm.tenancy.models import Tenant
from scrm.tenancy.tasks import tenant_task
from scrm.wecom.api import api_for
from scrm.wecom.errors import WeComError, WeComRateLimitedError

from .. import sync
from ..services.members import MemberHint
from ..services.stats import group_stats_fetch

logger = logging.getLogger(__name__)

# WeCom fills in a group's details asynchronously after its callback: one more read this much later.
REREAD_DELAY = 5
REREAD_RETRY_DELAY = 30
RETRY_ATTEMPTS = 5
RETRY_BACKOFF = 10  # seconds before the second attempt, doubling after each
RETRY_MAX_WAIT = 300  # seconds; under the broker's visibility timeout (DESIGN.md §7)


def retry_delay(exc: WeComError, attempt: int, *, floor: float = 0) -> float | None:
    """Seconds to wait before trying again after ``exc`` failed ``attempt``, or None: not again (not
    transient, or the attempts are spent)."""
    if attempt >= RETRY_ATTEMPTS:
        return None
    if isinstance(exc, WeComRateLimitedError):
        wait = max(exc.retry_after, floor)
    elif exc.errcode is None or exc.errcode == -1:  # not answered, or busy (after the client's retries)
        wait = max(RETRY_BACKOFF * 2 ** (attempt - 1), floor)
    else:
        return None
    return min(wait, RETRY_MAX_WAIT)


# acks_late: a sync killed with its worker is delivered again and resumes from its checkpoint; the
# claim makes a duplicate delivery of a run that is still beating a no-op.
@tenant_task(name="groups.sync_full", queue="bulk", time_limit=4 * 60 * 60, acks_late=True)
def sync_full(tenant, run_id: int) -> None:
    run = contacts_sync.sync_run_claim(run_id)
    if run is None:
        return
    try:
        sync.groups_sync_execute(run)
    except contacts_sync.SyncRunLostError:
        logger.warning("Groups sync run %s was taken over by another worker; this one stops", run_id)
    except WeComRateLimitedError as exc:
        sync_full.apply_async((tenant.pk, run_id), countdown=exc.retry_after)


contacts_sync.sync_kind_register(SyncKind.GROUPS, sync_full)


def reread_key(tenant_id: int, chat_id: str) -> str:
    return f"groups:reread:{tenant_id}:{chat_id}"


def group_reread_schedule(
    *,
    tenant: Tenant,
    chat_id: str,
    hints: dict[str, MemberHint] | None = None,
    dismissed_at: dt.datetime | None = None,
) -> None:
    """Queue one delayed re-read of the group after the current transaction commits.

    Without hints, unless one is already pending: a burst of joins schedules a single re-read. A
    leave's hints (how and when they left, which a re-read cannot tell) travel with their own re-read,
    as does a dismiss callback's time (the group is dismissed at it if WeCom then confirms).
    """
    tenant_id = tenant.pk
    carried = {
        userid: [hint.quit_scene, hint.left_at.isoformat() if hint.left_at else None]
        for userid, hint in (hints or {}).items()
    }

    def enqueue() -> None:
        if dismissed_at is not None:
            reread.apply_async(
                (tenant_id, chat_id, carried, dismissed_at.isoformat()), countdown=REREAD_DELAY
            )
        elif carried:
            reread.apply_async((tenant_id, chat_id, carried), countdown=REREAD_DELAY)
        # The key lives a little longer than the wait: the task deletes it when it starts, so an
        # event arriving while it runs schedules another read after it.
        elif cache.add(reread_key(tenant_id, chat_id), 1, timeout=REREAD_DELAY + 60):
            reread.apply_async((tenant_id, chat_id), countdown=REREAD_DELAY)

    transaction.on_commit(enqueue)


@tenant_task(name="groups.reread", queue="realtime", time_limit=60, acks_late=True)
def reread(
    tenant,
    chat_id: str,
    hints: dict[str, list] | None = None,
    dismissed_at: str | None = None,
    attempt: int = 1,
) -> None:
    if not hints and dismissed_at is None and attempt == 1:
        cache.delete(reread_key(tenant.pk, chat_id))
    carried = {
        userid: MemberHint(quit_scene=scene, left_at=dt.datetime.fromisoformat(at) if at else None)
        for userid, (scene, at) in (hints or {}).items()
    }
    try:
        with transaction.atomic():
            # Members compared whatever the version: WeCom fills in names and nicknames after the
            # callback without changing it, and the first read may have stored that version already.
            sync.group_reread(
                api=api_for(tenant),
                chat_id=chat_id,
                hints=carried,
                dismissed_at=dt.datetime.fromisoformat(dismissed_at) if dismissed_at else None,
                compare_members=True,
            )
    except WeComError as exc:
        wait = retry_delay(exc, attempt, floor=REREAD_RETRY_DELAY)
        if wait is None:
            raise
        reread.apply_async((tenant.pk, chat_id, hints, dismissed_at, attempt + 1), countdown=wait)


@tenant_task(name="groups.stats_fetch", queue="bulk", time_limit=600, acks_late=True)
def stats_fetch(tenant, attempt: int = 1) -> int:
    """The tenant's daily group statistics not stored yet or not final (idempotent: final days are not
    asked for again)."""
    try:
        return group_stats_fetch(api=api_for(tenant))
    except WeComError as exc:
        wait = retry_delay(exc, attempt)
        if wait is None:
            raise
        stats_fetch.apply_async((tenant.pk, attempt + 1), countdown=wait)
        return 0


@shared_task(name="groups.stats_daily", queue_name="bulk", time_limit=300, soft_time_limit=280)
def stats_daily() -> int:
    """Yesterday's group statistics (and any day of the last 30 missing or fetched before it was
    final) for every connected tenant; returns how many tenants were queued."""
    queued = 0
    for tenant in Tenant.objects.filter(is_active=True).exclude(corp_id=""):
        if not tenant.corp_secret:  # encrypted at rest: checked here, not in SQL
            continue
        stats_fetch.delay(tenant.pk)
        queued += 1
    return queued
