"""Channel statistics: what each channel code brought, lost and kept, per day and per staff member.

Everything comes from the follows the codes brought (``Follow.state``), so the figures match the
customers list exactly and need no counters of their own. A follow is *lost* when the customer
deleted the staff member (流失); it is *retained* after N days unless it ended (customer or staff
deleted it) within N days of being added. Retention shares only count follows added at least N
days ago (younger ones cannot have been kept N days yet).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count, ExpressionWrapper, F, Q, QuerySet
from django.db.models.fields import DateTimeField
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import ContactWay, Follow, FollowStatus, Staff

RETENTION_DAYS = (7, 30)
ENDED = (FollowStatus.DELETED_BY_CUSTOMER, FollowStatus.DELETED_BY_STAFF)


def day_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end+1 00:00) in the tenant's time zone."""
    tz = timezone.get_current_timezone()
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )


def _retention_counts(follows: QuerySet[Follow], *, now: dt.datetime) -> dict[str, Any]:
    """Per N: {eligible, kept} aggregates for ``follows`` (one query for all N)."""
    aggregates = {}
    for days in RETENTION_DAYS:
        old_enough = Q(added_at__lte=now - dt.timedelta(days=days))
        ended_early = Q(status__in=ENDED, ended_at__lte=ExpressionWrapper(
            F("added_at") + dt.timedelta(days=days), output_field=DateTimeField()
        ))  # fmt: skip
        aggregates[f"eligible_{days}"] = Count("id", filter=old_enough)
        aggregates[f"kept_{days}"] = Count("id", filter=old_enough & ~ended_early)
    return aggregates


def _share(kept: int, eligible: int) -> float | None:
    return round(kept / eligible, 4) if eligible else None


def channel_stats(*, way: ContactWay, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Daily adds/losses/net over [start, end], retention of the customers added in it, per staff."""
    since, until = day_bounds(start, end)
    now = timezone.now()
    follows = Follow.objects.filter(state=way.state)
    added = follows.filter(added_at__gte=since, added_at__lt=until)
    lost = follows.filter(status=FollowStatus.DELETED_BY_CUSTOMER, ended_at__gte=since, ended_at__lt=until)
    tz = timezone.get_current_timezone()

    adds_by_day = dict(
        added.annotate(day=TruncDate("added_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    losses_by_day = dict(
        lost.annotate(day=TruncDate("ended_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    days = []
    day = start
    while day <= end:
        adds, losses = adds_by_day.get(day, 0), losses_by_day.get(day, 0)
        days.append({"date": day, "adds": adds, "losses": losses, "net": adds - losses})
        day += dt.timedelta(days=1)

    per_staff: dict[int, dict[str, Any]] = defaultdict(lambda: {"adds": 0, "losses": 0})
    for row in added.values("staff_id").annotate(n=Count("id"), **_retention_counts(added, now=now)):
        entry = per_staff[row["staff_id"]]
        entry["adds"] = row["n"]
        for days_n in RETENTION_DAYS:
            entry[f"retained_{days_n}d"] = _share(row[f"kept_{days_n}"], row[f"eligible_{days_n}"])
    for staff_id, n in lost.values("staff_id").annotate(n=Count("id")).values_list("staff_id", "n"):
        per_staff[staff_id]["losses"] = n
    names = dict(Staff.objects.filter(pk__in=per_staff).values_list("pk", "name"))
    staff_rows = sorted(
        (
            {
                "staff_id": staff_id,
                "staff_name": names.get(staff_id, ""),
                "adds": entry["adds"],
                "losses": entry["losses"],
                "net": entry["adds"] - entry["losses"],
                **{f"retained_{n}d": entry.get(f"retained_{n}d") for n in RETENTION_DAYS},
            }
            for staff_id, entry in per_staff.items()
        ),
        key=lambda r: (-r["adds"], r["staff_name"]),
    )
    totals = added.aggregate(n=Count("id"), **_retention_counts(added, now=now))
    total_losses = sum(d["losses"] for d in days)
    return {
        "start": start,
        "end": end,
        "totals": {
            "adds": totals["n"],
            "losses": total_losses,
            "net": totals["n"] - total_losses,
            **{
                f"retained_{n}d": _share(totals[f"kept_{n}"], totals[f"eligible_{n}"]) for n in RETENTION_DAYS
            },
        },
        "days": days,
        "staff": staff_rows,
    }


def channels_summary(*, states: list[str], start: dt.date, end: dt.date) -> dict[str, dict[str, int]]:
    """state → {adds, losses, net} over [start, end] for a page of codes (two grouped queries)."""
    since, until = day_bounds(start, end)
    follows = Follow.objects.filter(state__in=states)
    adds = dict(
        follows.filter(added_at__gte=since, added_at__lt=until)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    losses = dict(
        follows.filter(status=FollowStatus.DELETED_BY_CUSTOMER, ended_at__gte=since, ended_at__lt=until)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return {
        s: {"adds": adds.get(s, 0), "losses": losses.get(s, 0), "net": adds.get(s, 0) - losses.get(s, 0)}
        for s in states
    }
