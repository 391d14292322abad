"""The ContactEvent stream (DESIGN.md §11): build events, write them with the change they describe."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import connection
from django.utils import timezone

from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.context import require_current_tenant

from ..models import ContactEvent


def event_build(
    *,
    contact_id: int,
    type: str,
    occurred_at: datetime | None = None,
    staff_id: int | None = None,
    channel: str = "",
    actor: Actor = SYSTEM,
    payload: dict[str, Any] | None = None,
) -> ContactEvent:
    """An unsaved event; callers collect them and write them with ``events_record`` in their transaction."""
    return ContactEvent(
        contact_id=contact_id,
        type=type,
        occurred_at=occurred_at or timezone.now(),
        staff_id=staff_id,
        channel=channel or "",
        **actor.as_fields("actor"),
        payload=payload or {},
    )


def events_record(events: Iterable[ContactEvent]) -> int:
    rows = list(events)
    if rows:
        ContactEvent.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


class EventRow(NamedTuple):
    """A system event (no actor) as plain values, for writers of thousands of events per transaction."""

    contact_id: int
    type: str
    occurred_at: datetime | None
    staff_id: int | None
    channel: str
    payload: dict[str, Any]


_COPY_COLUMNS = (
    "tenant_id, contact_id, type, occurred_at, staff_id, channel, payload, actor_id, actor_api_key_id, "
    "created_at"
)


def events_record_rows(rows: Iterable[EventRow]) -> int:
    """``events_record`` for plain rows, without a model instance per event (the full sync writes one
    ADDED event per follow it creates). A missing ``occurred_at`` is now, as in ``event_build``."""
    rows = list(rows)
    if not rows:
        return 0
    now = timezone.now()
    if connection.vendor != "postgresql":
        return events_record(
            ContactEvent(**{**row._asdict(), "occurred_at": row.occurred_at or now}) for row in rows
        )
    # COPY is the fastest way into PostgreSQL: no statement to build and no per-value quoting.
    tenant_id = require_current_tenant().pk
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY contacts_contactevent ({_COPY_COLUMNS}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                (
                    tenant_id,
                    row.contact_id,
                    row.type,
                    row.occurred_at or now,
                    row.staff_id,
                    row.channel or "",
                    json.dumps(row.payload or {}),
                    None,  # a system event: no member
                    None,  # and no API key
                    now,
                )
            )
    return len(rows)


# Consumers of the stream (value scores, SOP enrolment) read this far behind its head: a transaction
# that took a lower id may not have committed yet, and a cursor moved past its events never sees them.
STREAM_LAG = timedelta(seconds=30)


def events_readable_upto(*, after: int, now: datetime) -> int:
    """The highest event id a consumer may read past ``after``: the newest event older than the lag, of
    any tenant (a tenant's cursor then moves past the others' events too, so an idle tenant's next read
    starts where the stream is, not where it last had an event)."""
    newest = (
        ContactEvent.unscoped.filter(id__gt=after, created_at__lte=now - STREAM_LAG)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return newest or after
