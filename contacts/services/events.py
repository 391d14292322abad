"""The ContactEvent stream (DESIGN.md §11): build events, write them with the change they describe."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from ..models import ContactEvent


def event_build(
    *,
    contact_id: int,
    type: str,
    occurred_at: datetime | None = None,
    staff_id: int | None = None,
    channel: str = "",
    actor=None,
    payload: dict[str, Any] | None = None,
) -> ContactEvent:
    """An unsaved event; callers collect them and write them with ``events_record`` in their transaction."""
    return ContactEvent(
        contact_id=contact_id,
        type=type,
        occurred_at=occurred_at or timezone.now(),
        staff_id=staff_id,
        channel=channel or "",
        actor=actor if getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) else None,
        payload=payload or {},
    )


def events_record(events: Iterable[ContactEvent]) -> int:
    rows = list(events)
    if rows:
        ContactEvent.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
