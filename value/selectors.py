"""Reads of customer value: one customer's figures (with why, its tier history and its points), the
tiers overview and the breakdowns. Data scope (DESIGN.md §3) comes from ``contacts_visible``: a sales
member's overview counts only the customers it follows.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Avg, Count, QuerySet
from django.db.models.fields.json import KT
from django.utils import timezone

from campaigns.services.settings import tenant_zone
from contacts.models import Contact, ContactEvent, EventCursor, EventType
from contacts.selectors import contact_scope_q, contacts_visible
from scrm.tenancy.principal import Principal

from .models import ContactValue, Level, PointsAccount, Tier
from .services.breakdown import value_breakdown
from .services.scoring import CURSOR, days_since, last_full_pass_at, value_explain
from .services.settings import value_settings_get

TIER_HISTORY = 20
MOVES_DAYS = 7
CENT = Decimal("0.01")


def values_visible(principal: Principal) -> QuerySet[ContactValue]:
    """The computed rows of the customers ``principal`` may see."""
    values = ContactValue.objects.all()
    if contact_scope_q(principal):
        values = values.filter(contact_id__in=contacts_visible(principal).values("pk"))
    return values


def contact_points(contact: Contact) -> dict[str, Any]:
    """Balance, points earned in all, the level reached and the next one (by points earned)."""
    account = PointsAccount.objects.filter(contact=contact).select_related("level").first()
    earned = account.earned_total if account else 0
    level = account.level if account else None
    following = Level.objects.filter(min_points__gt=earned).order_by("min_points").first()
    return {
        "balance": account.balance if account else 0,
        "earned_total": earned,
        "level": {"id": level.pk, "name": level.name, "color": level.color} if level else None,
        "next_level": (
            {"id": following.pk, "name": following.name, "min_points": following.min_points}
            if following
            else None
        ),
    }


def tier_history(contact: Contact, limit: int = TIER_HISTORY) -> list[dict[str, Any]]:
    events = ContactEvent.objects.filter(contact=contact, type=EventType.TIER_CHANGED).order_by("-id")[:limit]
    return [{"from": e.payload.get("from"), "to": e.payload.get("to"), "at": e.occurred_at} for e in events]


def contact_value(*, contact: Contact, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything the customer's page shows about its value; zeros and nulls before its first pass."""
    now = now or timezone.now()
    settings = value_settings_get(tenant=contact.tenant)
    zone = tenant_zone(tenant=contact.tenant)
    value = ContactValue.objects.filter(contact=contact).select_related("contact").first()
    answer: dict[str, Any] = {
        "contact_id": contact.pk,
        "currency": settings.currency,
        "tier_history": tier_history(contact),
        "points": contact_points(contact),
    }
    if value is None:
        return answer | {
            "computed_at": None,
            "ltv": "0.00",
            "orders": 0,
            "average_order_value": None,
            "first_purchase_at": None,
            "last_purchase_at": None,
            "days_since_last_purchase": None,
            "repurchased": False,
            "score": 0,
            "score_parts": {"recency": 0, "frequency": 0, "value": 0},
            "interactions_90d": 0,
            "last_interaction": None,
            "tier": None,
            "tier_since": None,
            "explanation": None,
        }
    full = last_full_pass_at()
    average = (value.ltv / value.orders).quantize(CENT, rounding=ROUND_HALF_UP) if value.orders else None
    return answer | {
        # A pass leaves a row that did not change alone: the figures hold as of the last full pass.
        "computed_at": max(value.computed_at, full) if full else value.computed_at,
        "ltv": f"{value.ltv:.2f}",
        "orders": value.orders,
        "average_order_value": f"{average:.2f}" if average is not None else None,
        "first_purchase_at": value.first_purchase_at,
        "last_purchase_at": value.last_purchase_at,
        "days_since_last_purchase": days_since(value.last_purchase_at, now, zone),
        "repurchased": value.orders >= 2,
        "score": value.score,
        "score_parts": {
            "recency": value.score_recency,
            "frequency": value.score_frequency,
            "value": value.score_value,
        },
        "interactions_90d": value.interactions_90d,
        "last_interaction": (
            {"type": value.last_interaction_type, "at": value.last_interaction_at}
            if value.last_interaction_at
            else None
        ),
        "tier": value.tier,
        "tier_since": value.tier_since,
        "explanation": value_explain(value=value, settings=settings, now=now, zone=zone),
    }


def tiers_overview(*, principal: Principal, now: dt.datetime | None = None) -> dict[str, Any]:
    """How many customers in each tier (all five, in order), the average score, and the moves between
    tiers of the last 7 days."""
    now = now or timezone.now()
    values = values_visible(principal)
    counts = dict(values.values_list("tier").annotate(n=Count("pk")).values_list("tier", "n"))
    total = sum(counts.values())
    average = values.aggregate(average=Avg("score"))["average"]
    moves = ContactEvent.objects.filter(
        type=EventType.TIER_CHANGED, occurred_at__gte=now - dt.timedelta(days=MOVES_DAYS)
    )
    if contact_scope_q(principal):
        moves = moves.filter(contact_id__in=contacts_visible(principal).values("pk"))
    moves = (
        moves.annotate(source=KT("payload__from"), target=KT("payload__to"))
        .values("source", "target")
        .annotate(count=Count("pk"))
        .order_by("-count", "source", "target")
    )
    computed_at = EventCursor.objects.filter(consumer=CURSOR).values_list("updated_at", flat=True).first()
    return {
        "computed_at": computed_at if total else None,
        "total": total,
        "tiers": [
            {
                "tier": tier,
                "count": counts.get(tier, 0),
                "share": round(counts.get(tier, 0) / total, 4) if total else 0.0,
            }
            for tier in Tier.values
        ],
        "average_score": round(float(average), 1) if average is not None else None,
        "moves": [{"from": m["source"], "to": m["target"], "count": m["count"]} for m in moves],
    }


def breakdown(*, principal: Principal, by: str) -> dict[str, Any]:
    return value_breakdown(values=values_visible(principal), by=by, zone=tenant_zone(tenant=principal.tenant))
