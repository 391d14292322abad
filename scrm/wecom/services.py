"""Writes of the WeCom gateway: storing callbacks, processing them, replaying them, testing a connection."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from scrm.tenancy.models import Tenant

from .api import api_for
from .errors import WeComError, WeComRateLimitedError
from .handlers import handler_for
from .models import CallbackEvent, EventStatus
from .ratelimit import get_limiter

logger = logging.getLogger(__name__)

# A claim older than the processing task's time limit belongs to a worker that died.
STALE_CLAIM = timedelta(seconds=120)
MAX_RETRY_DELAY = 300
DRAIN_BATCH = 10
# A queued drain that never ran (lost message) stops blocking new ones after this; the sweeper
# covers the events in between.
DRAIN_FLAG_TTL = 30


def callback_event_receive(*, tenant: Tenant, plaintext: str, fields: dict) -> int | None:
    """Store a decrypted event once; returns its id, or None if it was already stored.

    The 200 must leave within WeCom's 5 s, so this is one INSERT … ON CONFLICT DO NOTHING; the
    processing is queued for after the commit.
    """
    dedupe_key = hashlib.sha256(plaintext.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wecom_callbackevent"
            " (tenant_id, dedupe_key, event, change_type, payload, status, attempts, last_error, received_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, 0, '', %s)"
            " ON CONFLICT (tenant_id, dedupe_key) DO NOTHING RETURNING id",
            [
                tenant.id,
                dedupe_key,
                str(fields.get("Event", ""))[:64],
                str(fields.get("ChangeType") or "")[:64],
                json.dumps(fields, ensure_ascii=False),
                EventStatus.PENDING,
                timezone.now(),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    _nudge_drain(tenant.id)
    return row[0]


def _drain_flag(tenant_id: int) -> str:
    return f"wecom:drain-queued:{tenant_id}"


def _nudge_drain(tenant_id: int) -> None:
    """Make sure a drain of the tenant's inbox is queued, with one Redis round trip per event.

    At most one drain waits in the queue per tenant (SET NX): a burst of events costs one task
    message, not one each. The drain clears the flag as it starts, so an event stored during a drain
    queues the next one, which another worker can run at once.
    """
    from .tasks import drain_callback_events

    shared = get_limiter().backend
    if shared.add_flag(_drain_flag(tenant_id), DRAIN_FLAG_TTL):
        try:
            drain_callback_events.apply_async((tenant_id,))
        except Exception:
            # Stored is what counts: the sweeper (beat) queues it. Never fail WeCom's delivery here.
            shared.delete(_drain_flag(tenant_id))
            logger.exception("could not queue the drain of tenant %s; the sweeper will", tenant_id)


def _enqueue(tenant_id: int, event_id: int, countdown: float | None = None) -> None:
    """Queue one event on its own: retries (with their backoff) and replays."""
    from .tasks import process_callback_event

    try:
        process_callback_event.apply_async((tenant_id, event_id), countdown=countdown)
    except Exception:
        logger.exception("could not queue callback event %s; the sweeper will pick it up", event_id)


def callback_event_process(*, tenant: Tenant, event_id: int) -> None:
    """Run the event's handler once; on failure retry with backoff, then park it for replay."""
    now = timezone.now()
    claimable = Q(status__in=[EventStatus.PENDING, EventStatus.FAILED]) | Q(
        status=EventStatus.PROCESSING, claimed_at__lt=now - STALE_CLAIM
    )
    claimed = (
        CallbackEvent.objects.filter(pk=event_id)
        .filter(claimable)
        .update(status=EventStatus.PROCESSING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return  # done already, or another worker holds it: a duplicate delivery of the task
    _run(tenant, CallbackEvent.objects.get(pk=event_id))


def callback_events_drain(*, tenant: Tenant) -> int:
    """Process the tenant's pending events in arrival order, in small batches, until none is left.

    Several drains of one tenant can run at once on different workers: each claims its batch with
    ``FOR UPDATE SKIP LOCKED``, so no event is handled twice. A drain that finds a full batch queues
    another one, so a burst spreads over the free workers instead of waiting behind one.
    """
    get_limiter().backend.delete(_drain_flag(tenant.id))
    processed = 0
    while True:
        with transaction.atomic():
            batch = list(
                CallbackEvent.objects.filter(status=EventStatus.PENDING)
                .order_by("id")
                .select_for_update(skip_locked=True)[:DRAIN_BATCH]
            )
            CallbackEvent.objects.filter(pk__in=[e.pk for e in batch]).update(
                status=EventStatus.PROCESSING, claimed_at=timezone.now(), attempts=F("attempts") + 1
            )
        if not batch:
            return processed
        if len(batch) == DRAIN_BATCH:
            _nudge_drain(tenant.id)
        for event in batch:
            # Renew the claim as the handler starts, so the sweeper never takes an event that is
            # only waiting its turn in this batch for one that a dead worker left behind.
            CallbackEvent.objects.filter(pk=event.pk).update(claimed_at=timezone.now())
            event.attempts += 1
            _run(tenant, event)
        processed += len(batch)


def _run(tenant: Tenant, event: CallbackEvent) -> None:
    """Run a claimed event's handler; on failure retry it on its own with backoff, then park it."""
    handler = handler_for(event.event, event.change_type)
    if handler is None:
        _finish(event, EventStatus.IGNORED)
        return
    try:
        with transaction.atomic():
            handler(tenant=tenant, event=event)
    except Exception as exc:
        logger.warning(
            "callback event %s failed (attempt %s): %s", event.pk, event.attempts, exc, exc_info=True
        )
        error = json.dumps(exc.as_dict(), ensure_ascii=False) if isinstance(exc, WeComError) else repr(exc)
        if event.attempts >= settings.WECOM_EVENT_MAX_ATTEMPTS:
            _finish(event, EventStatus.PARKED, error)
            return
        _finish(event, EventStatus.FAILED, error)
        delay = exc.retry_after if isinstance(exc, WeComRateLimitedError) else 5 * 2 ** (event.attempts - 1)
        _enqueue(tenant.id, event.pk, countdown=min(delay, MAX_RETRY_DELAY))
        return
    _finish(event, EventStatus.DONE)


def _finish(event: CallbackEvent, status: str, error: str = "") -> None:
    CallbackEvent.objects.filter(pk=event.pk).update(
        status=status, last_error=error, processed_at=timezone.now()
    )


def callback_event_replay(*, event: CallbackEvent) -> CallbackEvent:
    """Run an event again from scratch (after a fix, or a handler added since)."""
    if event.status == EventStatus.PROCESSING:
        raise ValidationError(
            {"status": "The event is being processed right now; replay it when it is done."}
        )
    event.status = EventStatus.PENDING
    event.attempts = 0
    event.last_error = ""
    event.processed_at = None
    event.save(update_fields=["status", "attempts", "last_error", "processed_at"])
    transaction.on_commit(lambda: _enqueue(event.tenant_id, event.pk))
    return event


def callback_events_requeue_stale(*, limit: int = 500) -> int:
    """Queue again what a lost task message left behind: the safety net under the fast path."""
    now = timezone.now()
    stale = CallbackEvent.unscoped.filter(
        Q(status=EventStatus.PENDING, received_at__lt=now - timedelta(seconds=60))
        | Q(status=EventStatus.PROCESSING, claimed_at__lt=now - STALE_CLAIM)
        | Q(status=EventStatus.FAILED, claimed_at__lt=now - timedelta(seconds=MAX_RETRY_DELAY * 2))
    ).values_list("tenant_id", "pk")[:limit]
    count = 0
    for tenant_id, event_id in stale:
        _enqueue(tenant_id, event_id)
        count += 1
    return count


# The checks of the connection test, in order: each names what it proves and the call that proves it.
CONNECTION_CHECKS = (
    ("token", "Fetch an access token (corp ID and app secret)", lambda api: api.get_access_token()),
    ("staff", "List staff with customer-contact permission", lambda api: api.get_follow_user_list()),
    ("tags", "Read corp tags", lambda api: api.get_corp_tag_list()),
    ("contact_ways", "List channel codes (联系我)", lambda api: api.list_contact_way(limit=1)),
    ("groups", "List customer groups", lambda api: api.groupchat_list(limit=1)),
)


def wecom_connection_test(*, tenant: Tenant) -> list[dict]:
    """Try each permission Siyu needs and say, for what fails, what to do about it."""
    if not (tenant.corp_id and tenant.corp_secret):
        return [
            {
                "check": "token",
                "label": CONNECTION_CHECKS[0][1],
                "ok": False,
                "error": {"api": "gettoken", "errcode": None, "errmsg": "not configured", "hint": ""},
            }
        ]
    api = api_for(tenant)
    results = []
    for name, label, call in CONNECTION_CHECKS:
        try:
            call(api)
        except WeComError as exc:
            results.append({"check": name, "label": label, "ok": False, "error": exc.as_dict()})
            if name == "token":
                break  # nothing else can work without a token
        else:
            results.append({"check": name, "label": label, "ok": True, "error": None})
    return results
