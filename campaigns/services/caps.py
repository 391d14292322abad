"""The frequency-cap service: how often a customer (or a customer group) has been messaged, and
whether one more marketing message may go to it now. Every sender consults it: mass messages today,
the SOP steps and Moments reminders later (DESIGN.md §12).

Two limits, both counted from ``Touch`` rows (the ledger our results and the member-made read-back
write), in the tenant's time zone (``CampaignSettings.time_zone``):

- **WeCom's receive limit** (wecom-api.md §7): mass messages of any maker (``RECEIVE_LIMIT_KINDS``:
  ours and the ones members made in the WeCom app) per calendar period: as many per calendar month
  as the month has days (``month``), 7 per week Monday to Sunday (``week``) or 1 per day (``day``).
  The period is the one containing the send time. WeCom enforces it when the member sends (status 3
  in the results); we count beforehand so the preview tells the truth.
- **The tenant's marketing cap** (``marketing_cap_per_week``, optional): touches of every kind in
  the 7 days up to the send time, a rolling window.

What is planned but not sent yet (recipients of our campaigns whose tasks were created in the same
period, waiting for their members to confirm) does not block: WeCom counts at send time and the
member may never confirm. Those recipients are reported as **at risk** instead (``CapsCheck.at_risk``):
sending the other campaigns first would take them to a limit. Scheduled campaigns whose audience is
not resolved yet are not counted.

Usage (the SOP and Moments features call it the same way)::

    check = caps_check(tenant=tenant, targets=["wmA", "wmB"], at=when)
    check.blocked      # {"wmA": "receive_limit"}: leave them out and count them
    check.at_risk      # {"wmB"}: may be sent, but say so
    caps_counts(tenant=tenant, targets=[...])   # the figures behind it, per target

``targets`` is a list of external_userids / chat_ids, or a queryset of them (``values("external_userid")``
or ``values_list(..., flat=True)``): the database then joins, and a campaign of 100,000 customers is
one query instead of a list of 100,000 values. Only targets with something counted come back.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import (
    RECEIVE_LIMIT_KINDS,
    CampaignRecipient,
    CampaignSettings,
    CampaignStatus,
    ReceiveLimit,
    RecipientStatus,
    Touch,
)
from .settings import campaign_settings_get, settings_zone

RECEIVE_LIMIT = "receive_limit"
MARKETING_CAP = "marketing_cap"
MARKETING_WINDOW = dt.timedelta(days=7)
# Campaigns whose planned recipients may still be sent (members confirm their tasks) and so may count.
OPEN_STATUSES = (CampaignStatus.DISPATCHING, CampaignStatus.SENT)


@dataclass(frozen=True)
class CapRules:
    """The limits that apply to a send at ``at``, with the period it falls in."""

    at: dt.datetime
    zone: ZoneInfo
    receive_limit: str  # ReceiveLimit: month | week | day
    limit: int  # messages per period
    period_start: dt.datetime
    period_end: dt.datetime
    marketing_cap: int | None  # per rolling 7 days; None: off
    marketing_since: dt.datetime

    def as_dict(self) -> dict:
        return {
            "at": self.at.isoformat(),
            "time_zone": self.zone.key,
            "receive_limit": self.receive_limit,
            "limit": self.limit,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "marketing_cap_per_week": self.marketing_cap,
            "marketing_since": self.marketing_since.isoformat(),
        }


@dataclass(frozen=True)
class CapCounts:
    receive: int  # receive-limit touches in the period
    marketing: int  # touches of every kind in the 7 days up to ``at``
    pending: int  # planned recipients of open campaigns of the period, not sent yet


@dataclass(frozen=True)
class CapsCheck:
    rules: CapRules
    blocked: dict[str, str]  # target → RECEIVE_LIMIT | MARKETING_CAP
    at_risk: set[str]  # not blocked, but the pending sends would reach a limit


def period_of(at: dt.datetime, *, mode: str, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime, int]:
    """The calendar period of ``mode`` containing ``at`` in ``zone``: its start, its end (excluded),
    and how many mass messages a customer may receive in it."""
    day = at.astimezone(zone).date()
    if mode == ReceiveLimit.DAY:
        first, days, limit = day, 1, 1
    elif mode == ReceiveLimit.WEEK:
        first, days, limit = day - dt.timedelta(days=day.weekday()), 7, 7  # Monday to Sunday
    else:
        days = calendar.monthrange(day.year, day.month)[1]
        first, limit = day.replace(day=1), days
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(first + dt.timedelta(days=days), dt.time.min, tzinfo=zone)
    return start, end, limit


def cap_rules(*, tenant, at: dt.datetime | None = None, settings: CampaignSettings | None = None) -> CapRules:
    settings = settings or campaign_settings_get(tenant=tenant)
    at = at or timezone.now()
    zone = settings_zone(settings)
    start, end, limit = period_of(at, mode=settings.receive_limit, zone=zone)
    return CapRules(
        at=at,
        zone=zone,
        receive_limit=settings.receive_limit,
        limit=limit,
        period_start=start,
        period_end=end,
        marketing_cap=settings.marketing_cap_per_week,
        marketing_since=at - MARKETING_WINDOW,
    )


def _batches(targets: Iterable[str] | QuerySet) -> Iterable[Iterable[str] | QuerySet]:
    """A queryset as it is (one subquery); a list in batches the database's parameter limit allows."""
    if isinstance(targets, QuerySet):
        yield targets
        return
    values = list(dict.fromkeys(targets))
    size = max(1, (connection.features.max_query_params or 50_000) - 100)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def caps_counts(
    *, tenant, targets: Iterable[str] | QuerySet, at: dt.datetime | None = None, rules: CapRules | None = None
) -> dict[str, CapCounts]:
    """Per target with anything counted: its receive-limit touches in the period of ``at``, its
    marketing touches in the 7 days up to ``at`` and its pending planned sends (see the module)."""
    rules = rules or cap_rules(tenant=tenant, at=at)
    in_period = Q(kind__in=RECEIVE_LIMIT_KINDS, at__gte=rules.period_start, at__lt=rules.period_end)
    in_window = Q(at__gt=rules.marketing_since, at__lte=rules.at)
    counted: dict[str, list[int]] = {}
    for batch in _batches(targets):
        rows = (
            Touch.objects.filter(target__in=batch)
            .filter(in_period | in_window)
            .order_by()
            .values("target")
            .annotate(receive=Count("id", filter=in_period), marketing=Count("id", filter=in_window))
            .values_list("target", "receive", "marketing")
        )
        for target, receive, marketing in rows:
            counted[target] = [receive, marketing, 0]
        for target, pending in _pending(batch, rules):
            counted.setdefault(target, [0, 0, 0])[2] = pending
    return {target: CapCounts(*values) for target, values in counted.items()}


def _pending(targets: Iterable[str] | QuerySet, rules: CapRules):
    """Planned recipients of open campaigns begun in the period (tasks created, or being created)."""
    begun = Coalesce("campaign__dispatched_at", "campaign__scheduled_at", "campaign__created_at")
    return (
        CampaignRecipient.objects.filter(
            target__in=targets, status=RecipientStatus.PLANNED, campaign__status__in=OPEN_STATUSES
        )
        .alias(begun=begun)
        .filter(begun__gte=rules.period_start, begun__lt=rules.period_end)
        .order_by()
        .values("target")
        .annotate(n=Count("id"))
        .values_list("target", "n")
    )


def caps_check(
    *, tenant, targets: Iterable[str] | QuerySet, at: dt.datetime | None = None, rules: CapRules | None = None
) -> CapsCheck:
    """Which targets a marketing message at ``at`` may not go to, and why; and which are at risk."""
    rules = rules or cap_rules(tenant=tenant, at=at)
    blocked: dict[str, str] = {}
    at_risk: set[str] = set()
    cap = rules.marketing_cap
    for target, counts in caps_counts(tenant=tenant, targets=targets, rules=rules).items():
        if counts.receive >= rules.limit:
            blocked[target] = RECEIVE_LIMIT
        elif cap is not None and counts.marketing >= cap:
            blocked[target] = MARKETING_CAP
        elif counts.pending and (
            counts.receive + counts.pending >= rules.limit
            or (cap is not None and counts.marketing + counts.pending >= cap)
        ):
            at_risk.add(target)
    return CapsCheck(rules=rules, blocked=blocked, at_risk=at_risk)


def caps_blocked(
    *, tenant, targets: Iterable[str] | QuerySet, at: dt.datetime | None = None
) -> dict[str, str]:
    """``caps_check(...).blocked``: target → ``receive_limit`` or ``marketing_cap``."""
    return caps_check(tenant=tenant, targets=targets, at=at).blocked
