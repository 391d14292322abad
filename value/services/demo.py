"""The demo tenant's orders and custom events, pushed through the ingestion service as an integrator's
shop and app would push them, so that every value figure, score and tier has something real to show.

Part of the customers buy (some once, some again and again, a few big spenders), a few orders are
refunded in part or in full, part of the customers view products, book visits and refer friends, and a
few items name customers nobody knows yet (they stay pending). Customers are named by each of the four
identities in turn, as integrators do. The same seed and the same customers give the same pushes, at
the same distances from ``now``; a tenant that has the demo's orders already is left alone.

``python manage.py value_demo`` runs it; ``make run`` queues ``demo_value_seed_after_sync`` (a task that
tries again until the first contacts sync has brought the customers).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections import Counter
from decimal import Decimal
from typing import Any

from django.utils import timezone

from contacts.models import Contact, Follow, SyncKind, SyncRun
from scrm.durable import RunStatus
from scrm.tenancy.actors import SYSTEM
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Tenant

from ..models import Order
from .ingest import MAX_BATCH, events_ingest, tenant_currency

logger = logging.getLogger(__name__)

SEED = 17
SHOP, APP = "demo-shop", "demo-app"
BUYER_SHARE = 0.4  # of the customers
ACTIVE_SHARE = 0.3  # customers with custom events (buyers or not)
BIG_SPENDER_SHARE = 0.06  # of the buyers: orders of 800-4,000, so the high-value tier has members
REFUND_SHARE = 0.08  # of the orders
PENDING_ITEMS = 5
PRODUCTS = (
    ("SKU-101", "玫瑰精华面霜", "299.00"),
    ("SKU-102", "氨基酸洁面乳", "89.00"),
    ("SKU-103", "玻尿酸补水面膜(10片)", "129.00"),
    ("SKU-104", "防晒喷雾 SPF50", "159.00"),
    ("SKU-105", "护手霜礼盒", "68.00"),
    ("SKU-201", "圣诞限定礼盒", "599.00"),
    ("SKU-202", "会员年卡", "1280.00"),
    ("SKU-301", "门店护理体验", "398.00"),
)
CUSTOM_NAMES = ("viewed_product", "viewed_product", "added_to_cart", "booked_visit", "referred")


def demo_value_seed(*, tenant: Tenant, seed: int = SEED, now: dt.datetime | None = None) -> dict | None:
    """Push the demo's orders and events for ``tenant``; what was pushed (``results``: the ingestion's
    counts), ``{"skipped": True}`` when the tenant has the demo's orders already, or None while it has
    no customers yet (the caller tries again after the first sync)."""
    with tenant_context(tenant):
        if Order.objects.filter(source=SHOP).exists():
            return {"skipped": True}
        contacts = list(
            Contact.objects.order_by("external_userid").values_list("pk", "external_userid", "unionid")
        )
        if not contacts:
            return None
        mobiles = _unique_mobiles()
        rng = random.Random(seed)  # noqa: S311 -- demo data, not security
        items = _items(contacts, mobiles, rng, now or timezone.now(), tenant_currency())
        counts: Counter[str] = Counter()
        for start in range(0, len(items), MAX_BATCH):
            response = events_ingest(items=items[start : start + MAX_BATCH], actor=SYSTEM).response
            counts.update({k: v for k, v in response.items() if k != "results"})
    return {
        "customers": len(contacts),
        "orders": sum(1 for item in items if item["type"] == "order"),
        "custom_events": sum(1 for item in items if item["type"] == "custom"),
        "results": dict(counts),
    }


def demo_value_seed_after_sync(*, tenant: Tenant) -> bool:
    """For ``make run``'s queued task: the demo's pushes once the tenant's first contacts sync has
    succeeded (not on the half of the customers a running sync has written); True when done (or
    already there), False while it waits (the caller tries again later)."""
    with tenant_context(tenant):
        synced = SyncRun.objects.filter(kind=SyncKind.CONTACTS, status=RunStatus.SUCCEEDED).exists()
    if not synced:
        return False
    summary = demo_value_seed(tenant=tenant)
    if summary is not None and not summary.get("skipped"):
        logger.info("demo: value pushes for tenant %s: %s", tenant.slug, summary["results"])
    return summary is not None


def _unique_mobiles() -> dict[int, str]:
    """A remark mobile per customer, when exactly one customer has it (another would be ambiguous)."""
    owners: dict[str, set[int]] = {}
    for contact_id, remark_mobiles in Follow.objects.values_list("contact_id", "remark_mobiles"):
        for mobile in remark_mobiles or ():
            if isinstance(mobile, str):
                owners.setdefault(mobile, set()).add(contact_id)
    return {next(iter(ids)): mobile for mobile, ids in sorted(owners.items()) if len(ids) == 1}


def _customer(rng: random.Random, pk: int, external_userid: str, unionid: str, mobile: str | None) -> dict:
    """One of the identities this customer can be named by, in turn as integrators would."""
    choices: list[dict[str, Any]] = [{"id": pk}, {"external_userid": external_userid}]
    if unionid:
        choices.append({"unionid": unionid})
    if mobile:
        choices.append({"mobile": mobile})
    return rng.choice(choices)


def _items(
    contacts: list[tuple[int, str, str]],
    mobiles: dict[int, str],
    rng: random.Random,
    now: dt.datetime,
    currency: str,
) -> list[dict]:
    items: list[dict] = []
    buyers = rng.sample(contacts, k=round(len(contacts) * BUYER_SHARE))
    big = set(rng.sample(range(len(buyers)), k=round(len(buyers) * BIG_SPENDER_SHARE)))
    order_no = 0
    for n, (pk, external_userid, unionid) in enumerate(buyers):
        # Most buy once; a third come back (repurchase), a few many times.
        count = rng.choices((1, 2, 3, 4, 6), weights=(60, 20, 10, 6, 4))[0]
        # Some bought long ago only (silent now), most within the last months.
        last = now - dt.timedelta(
            days=rng.choice((rng.uniform(0, 25), rng.uniform(0, 25), rng.uniform(40, 170)))
        )
        for k in range(count):
            order_no += 1
            paid = last - dt.timedelta(days=k * rng.uniform(12, 40), minutes=rng.randint(0, 600))
            lines = rng.sample(PRODUCTS, k=rng.choice((1, 1, 2, 3)))
            quantities = [rng.choice((1, 1, 1, 2)) for _ in lines]
            if n in big:
                quantities = [q + rng.randint(1, 4) for q in quantities]
            amount = sum(Decimal(price) * q for (_, _, price), q in zip(lines, quantities, strict=True))
            item: dict[str, Any] = {
                "type": "order",
                "source": SHOP,
                "external_id": f"DEMO-{order_no:06d}",
                "customer": _customer(rng, pk, external_userid, unionid, mobiles.get(pk)),
                "amount": f"{amount:.2f}",
                "currency": currency,
                "items": [
                    {"sku": sku, "name": name, "quantity": q, "price": price}
                    for (sku, name, price), q in zip(lines, quantities, strict=True)
                ],
                "status": "paid",
                "occurred_at": paid.isoformat(),
            }
            if rng.random() < REFUND_SHARE:
                item["status"] = "refunded"
                item["refunded_at"] = min(paid + dt.timedelta(days=rng.uniform(1, 7)), now).isoformat()
                if rng.random() < 0.5:  # half in part: one line back
                    item["refunded_amount"] = f"{min(Decimal(lines[0][2]), amount):.2f}"
            items.append(item)
    event_no = 0
    for pk, external_userid, unionid in rng.sample(contacts, k=round(len(contacts) * ACTIVE_SHARE)):
        for _ in range(rng.choice((1, 1, 2, 3, 4))):
            event_no += 1
            name = rng.choice(CUSTOM_NAMES)
            sku, product, _ = rng.choice(PRODUCTS)
            properties: dict[str, Any] = {"sku": sku, "product": product} if name != "booked_visit" else {}
            if name == "booked_visit":
                properties = {"store": rng.choice(("静安店", "徐汇店", "浦东店")), "service": "护理体验"}
            elif name == "referred":
                properties = {"friend": f"好友{rng.randint(100, 999)}"}
            items.append(
                {
                    "type": "custom",
                    "source": APP,
                    "external_id": f"DEMO-E-{event_no:06d}",
                    "customer": _customer(rng, pk, external_userid, unionid, mobiles.get(pk)),
                    "name": name,
                    "properties": properties,
                    "occurred_at": (now - dt.timedelta(days=rng.uniform(0, 60))).isoformat(),
                }
            )
    # Customers the shop knows and WeCom does not (yet): kept pending until they add a member.
    for k in range(PENDING_ITEMS):
        order_no += 1
        customer = {"unionid": f"o-demo-not-yet-{k + 1}"} if k % 2 == 0 else {"mobile": f"1990000000{k}"}
        items.append(
            {
                "type": "order",
                "source": SHOP,
                "external_id": f"DEMO-{order_no:06d}",
                "customer": customer,
                "amount": "199.00",
                "currency": currency,
                "items": [{"sku": "SKU-104", "name": "防晒喷雾 SPF50", "quantity": 1, "price": "159.00"}],
                "occurred_at": (now - dt.timedelta(days=k + 1)).isoformat(),
            }
        )
    # Pushed in time order, as a shop's feed would be.
    items.sort(key=lambda item: item["occurred_at"])
    return items
