"""Groups sync tasks: the full sync (bulk queue), the refreshes after a callback (realtime: the group
read again until WeCom shows the change, see ``groups.services.refresh``), and the daily statistics
(a beat task fanning out one task per connected tenant).

The refreshes retry on their own schedule. The code groups' re-reads and the statistics are tried
again after a rate limit (once WeCom's window ends) or a transient failure (WeCom busy, -1, or not
answering: reads are safe to send again), with a bounded backoff, at most ``RETRY_ATTEMPTS`` times
and never more than ``RETRY_MAX_WAIT`` later (far under the broker's visibility timeout); what is
still missing then is caught by the nightly sync or the next day's statistics."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from contacts import sync as contacts_sync
from contacts.models import SyncKind
from scrm.durable import WorkLostError
from scrm.tenancy.models import Tenant
from scrm.tenancy.tasks import tenant_task
from scrm.wecom.api import api_for
from scrm.wecom.errors import WeComError, WeComRateLimitedError

from .. import sync
from ..services.refresh import group_refresh_request, group_refresh_run, group_refreshes_overdue
from ..services.stats import group_stats_fetch

logger = logging.getLogger(__name__)

RETRY_ATTEMPTS = 5
RETRY_BACKOFF = 10  # seconds before the second attempt, doubling after each
RETRY_MAX_WAIT = 300  # seconds; under the broker's visibility timeout (DESIGN.md §7)


def retry_delay(exc: WeComError, attempt: int) -> float | None:
    """Seconds to wait before trying again after ``exc`` failed ``attempt``, or None: not again (not
    transient, or the attempts are spent)."""
    if attempt >= RETRY_ATTEMPTS:
        return None
    if isinstance(exc, WeComRateLimitedError):
        wait = exc.retry_after
    elif exc.errcode is None or exc.errcode == -1:  # not answered, or busy (after the client's retries)
        wait = RETRY_BACKOFF * 2 ** (attempt - 1)
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
    except WorkLostError:
        logger.warning("Groups sync run %s was taken over by another worker; this one stops", run_id)
    except WeComRateLimitedError as exc:
        sync_full.apply_async((tenant.pk, run_id), countdown=exc.retry_after)


contacts_sync.sync_kind_register(SyncKind.GROUPS, sync_full)


def refresh_schedule(*, tenant: Tenant, chat_id: str, at: dt.datetime | None = None, **change) -> None:
    """Have the group read again until WeCom shows ``change`` (``group_refresh_request``'s arguments;
    ``at``: when it happened, default now); its task is queued once the current transaction commits.
    A group whose read is due sooner already is not queued twice: its task reads it then."""
    with transaction.atomic():  # the row is locked while the change merges into it
        wait = group_refresh_request(chat_id=chat_id, at=at or timezone.now(), **change)
    if wait is not None:
        tenant_id = tenant.pk
        transaction.on_commit(lambda: refresh.apply_async((tenant_id, chat_id), countdown=wait))


# acks_late: a read applied twice writes nothing, and the row's claim keeps two runs apart.
@tenant_task(name="groups.refresh", queue="realtime", time_limit=60, acks_late=True)
def refresh(tenant, chat_id: str) -> None:
    wait = group_refresh_run(chat_id=chat_id, api=api_for(tenant))
    if wait is not None:
        refresh.apply_async((tenant.pk, chat_id), countdown=wait)


@shared_task(name="groups.refresh_overdue", queue_name="realtime", time_limit=60, soft_time_limit=50)
def refresh_overdue() -> int:
    """Beat: run the group refreshes whose task message was lost (or whose worker died)."""
    overdue = group_refreshes_overdue()
    for tenant_id, chat_id in overdue:
        refresh.delay(tenant_id, chat_id)
    return len(overdue)


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
