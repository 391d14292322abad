"""Days of the tenant's calendar: the date ranges routes take and the instant a day starts at.

Routes name their range parameters their own way (channels ``from``/``to``, groups
``date_from``/``date_to``); the rules are the same everywhere: ISO dates, the last day included,
the first not after the last, at most ``MAX_RANGE_DAYS`` days, and by default the last
``DEFAULT_RANGE_DAYS`` days up to today.

The two rules across the parameters, which a schema cannot state, have stable error codes:
``range_reversed`` (the first day after the last) and ``range_too_long``.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions

MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30


def day_start(day: dt.date) -> dt.datetime:
    """Midnight starting ``day`` in the current time zone (the tenant's: the calendar dates are read in)."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def range_parameters(
    *, start: str = "from", end: str = "to", default_days: int = DEFAULT_RANGE_DAYS
) -> list[OpenApiParameter]:
    """The OpenAPI parameters of ``date_range`` with these names."""
    return [
        OpenApiParameter(
            start,
            OpenApiTypes.DATE,
            description=f"First day (default: {default_days - 1} days before `{end}`). At most "
            f"{MAX_RANGE_DAYS} days up to `{end}` (else 400 `range_too_long`), and not after it (else "
            "400 `range_reversed`).",
        ),
        OpenApiParameter(end, OpenApiTypes.DATE, description="Last day, included (default: today)."),
    ]


def date_range(
    request,
    *,
    start: str = "from",
    end: str = "to",
    default_days: int = DEFAULT_RANGE_DAYS,
    max_days: int = MAX_RANGE_DAYS,
) -> tuple[dt.date, dt.date]:
    """The first and last day asked for in the query parameters ``start`` and ``end``, checked; a
    wrong one is a 400 naming its parameter."""

    def day(name: str) -> dt.date | None:
        raw = request.query_params.get(name)
        if not raw:
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise exceptions.ValidationError({name: ["A date: YYYY-MM-DD."]}) from None

    last = day(end) or timezone.localdate()
    # The default start, at most back to the calendar's first day (``to=0001-01-05``).
    first = day(start) or dt.date.fromordinal(max(1, last.toordinal() - (default_days - 1)))
    if first > last:
        raise exceptions.ValidationError(
            {start: ["The first day must not come after the last."]}, code="range_reversed"
        )
    if (last - first).days >= max_days:
        raise exceptions.ValidationError(
            {start: [f"At most {max_days} days at a time."]}, code="range_too_long"
        )
    return first, last
