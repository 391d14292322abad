"""Customer value by channel, by member and by cohort: sums over the computed ``ContactValue`` rows.

A customer counts once, under the channel and member of its first follow (the one that brought it)
and under the month it was first added (in the tenant's time zone). "Paying" customers have at
least one order that was not refunded in full; the average LTV and the repurchase rate are per
paying customer.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from contacts.models import ContactWay, Staff

from ..models import ContactValue

BY = ("channel", "staff", "cohort")
NO_CHANNEL = "No channel"
NO_MEMBER = "No member"
NO_DATE = "Unknown"
CENT = Decimal("0.01")


def breakdown_row(
    *, key: str, label: str, customers: int, paying: int, orders: int, ltv: Decimal, repurchased: int
) -> dict[str, Any]:
    """One row: the sums, the average LTV per paying customer (2 places, half up; "0.00" with none)
    and the share of paying customers with two orders or more (4 places; 0 with none)."""
    ltv = Decimal(ltv or 0).quantize(CENT)
    average = (ltv / paying).quantize(CENT, rounding=ROUND_HALF_UP) if paying else Decimal("0.00")
    return {
        "key": key,
        "label": label,
        "customers": customers,
        "paying": paying,
        "orders": orders or 0,
        "ltv": f"{ltv:.2f}",
        "average_ltv": f"{average:.2f}",
        "repurchase_rate": round(repurchased / paying, 4) if paying else 0.0,
    }


# Named apart from the model's fields: an aggregate named "orders" would shadow the column in the filters.
_SUMS = {
    "n_customers": Count("pk"),
    "n_paying": Count("pk", filter=Q(orders__gt=0)),
    "n_orders": Sum("orders"),
    "sum_ltv": Sum("ltv"),
    "n_repurchased": Count("pk", filter=Q(orders__gte=2)),
}


def value_breakdown(*, values: QuerySet[ContactValue], by: str, zone: dt.tzinfo) -> dict[str, Any]:
    """``values`` (the caller's scope) grouped ``by`` channel, staff or cohort."""
    if by not in BY:
        raise ValueError(f"by must be one of {BY}")
    if by == "channel":
        groups = values.values("channel").annotate(**_SUMS)
        states = {g["channel"] for g in groups if g["channel"]}
        names = dict(ContactWay.objects.filter(state__in=states).values_list("state", "name"))
        rows = [
            breakdown_row(
                key=g["channel"],
                label=names.get(g["channel"], g["channel"]) if g["channel"] else NO_CHANNEL,
                **_figures(g),
            )
            for g in groups
        ]
    elif by == "staff":
        groups = values.values("staff_id").annotate(**_SUMS)
        staff = {
            pk: (userid, name)
            for pk, userid, name in Staff.objects.filter(
                pk__in=[g["staff_id"] for g in groups if g["staff_id"]]
            ).values_list("pk", "userid", "name")
        }
        rows = []
        for g in groups:
            userid, name = staff.get(g["staff_id"], ("", ""))
            rows.append(breakdown_row(key=userid, label=(name or userid) or NO_MEMBER, **_figures(g)))
    else:
        groups = values.annotate(month=TruncMonth("contact__first_added_at", tzinfo=zone)).values("month")
        groups = groups.annotate(**_SUMS).order_by("month")
        rows = []
        for g in groups:
            month = g["month"].astimezone(zone).strftime("%Y-%m") if g["month"] else ""
            rows.append(breakdown_row(key=month, label=month or NO_DATE, **_figures(g)))
        # Chronological; customers with no known add date last.
        rows.sort(key=lambda row: (row["key"] == "", row["key"]))
        return {"by": by, "rows": rows}
    rows.sort(key=lambda row: (-row["customers"], row["key"]))
    return {"by": by, "rows": rows}


def _figures(group: dict[str, Any]) -> dict[str, Any]:
    return {
        "customers": group["n_customers"],
        "paying": group["n_paying"],
        "orders": group["n_orders"] or 0,
        "ltv": group["sum_ltv"] or Decimal("0"),
        "repurchased": group["n_repurchased"],
    }
