"""The ingestion service (value.services.ingest): identity resolution per key, pending items attached
when their customer appears, orders (new, duplicate, refunds, conflicts), custom events, per-item
validation that never fails the batch, one set of queries per batch whatever its size, and tenant
isolation.

The clock is pinned: the code reads it (occurred_at at most a day ahead, a refund's default time).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import ContactEvent, EventType
from scrm.api.errors import Conflict
from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.context import tenant_context
from tests.campaigns.conftest import at
from tests.contacts.builders import Builder
from value.models import CustomEvent, Order, OrderStatus, PendingEvent, ValueSettings
from value.services.ingest import events_ingest, pending_attach, pending_contact_ids

pytestmark = pytest.mark.django_db

NOW = at("2026-11-30 10:00")  # Monday, Shanghai
PAID = "2026-11-02T10:00:00+08:00"


@pytest.fixture(autouse=True)
def _pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


@dataclass
class World:
    tenant: Any
    builder: Builder
    bob: Any  # staff "bob": the sales member's WeCom identity
    amy: Any
    ann: Any  # bob's customer: unionid "o-ann", mobile 13800138000
    ben: Any  # amy's customer: unionid "o-ben", mobile 13900139000 (and 13700137000, shared with cat)
    cat: Any  # amy's customer: mobile 13700137000

    def ingest(self, *items: dict, actor: Actor = SYSTEM, key: str = "") -> dict:
        with tenant_context(self.tenant):
            return events_ingest(items=list(items), actor=actor, idempotency_key=key).response

    def events(self, **lookup) -> list[ContactEvent]:
        with tenant_context(self.tenant):
            return list(ContactEvent.objects.filter(**lookup).order_by("id"))

    def orders(self) -> list[Order]:
        with tenant_context(self.tenant):
            return list(Order.objects.order_by("id"))

    def pending(self) -> list[PendingEvent]:
        with tenant_context(self.tenant):
            return list(PendingEvent.objects.order_by("id"))

    def attach(self, *contacts) -> int:
        with tenant_context(self.tenant):
            return pending_attach(contact_ids=[c.pk for c in contacts])


@pytest.fixture(name="world")
def world_fixture(tenant_a) -> World:
    builder = Builder(tenant_a)
    bob, amy = builder.staff("bob"), builder.staff("amy")
    return World(
        tenant=tenant_a,
        builder=builder,
        bob=bob,
        amy=amy,
        ann=builder.contact("Ann", staff=bob, unionid="o-ann", mobiles=["13800138000"]),
        ben=builder.contact("Ben", staff=amy, unionid="o-ben", mobiles=["13900139000", "13700137000"]),
        cat=builder.contact("Cat", staff=amy, mobiles=["13700137000"]),
    )


def order(external_id: str = "O-1", customer: dict | None = None, **fields) -> dict:
    return {
        "type": "order",
        "source": "shop",
        "external_id": external_id,
        "customer": customer if customer is not None else {"unionid": "o-ann"},
        "amount": "199.00",
        "currency": "CNY",
        "items": [{"sku": "A1", "name": "礼盒", "quantity": 1, "price": "199.00"}],
        "status": "paid",
        "occurred_at": PAID,
        **fields,
    }


def custom(external_id: str = "E-1", customer: dict | None = None, **fields) -> dict:
    return {
        "type": "custom",
        "source": "app",
        "external_id": external_id,
        "customer": customer if customer is not None else {"unionid": "o-ann"},
        "name": "viewed_product",
        "properties": {"sku": "A1"},
        "occurred_at": PAID,
        **fields,
    }


def statuses(response: dict) -> list[str]:
    return [r["status"] for r in response["results"]]


def codes(result: dict) -> dict[str, list[str]]:
    return {path: [e["code"] for e in errors] for path, errors in (result["errors"] or {}).items()}


# -- identity resolution --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "who"),
    [
        ("id", "ann"),
        ("external_userid", "ann"),
        ("unionid", "ann"),
        ("mobile", "ann"),
        ("mobile", "ben"),  # one of a follow's several remark mobiles
    ],
)
def test_each_identity_names_its_customer(world, key, who):
    contact = getattr(world, who)
    value = {
        "id": contact.pk,
        "external_userid": contact.external_userid,
        "unionid": contact.unionid,
        "mobile": {"ann": "13800138000", "ben": "13900139000"}[who],
    }[key]
    response = world.ingest(order(customer={key: value}), custom(customer={key: value}))
    assert response["results"] == [
        {"index": 0, "status": "accepted", "contact_id": contact.pk, "errors": None},
        {"index": 1, "status": "accepted", "contact_id": contact.pk, "errors": None},
    ]
    (stored,) = world.orders()
    assert (stored.contact_id, stored.amount, stored.status, stored.paid_at) == (
        contact.pk,
        Decimal("199.00"),
        OrderStatus.PAID,
        at("2026-11-02 10:00"),
    )
    purchased, event = world.events(type__in=[EventType.PURCHASED, EventType.CUSTOM])
    assert (purchased.type, purchased.contact_id, purchased.occurred_at) == (
        EventType.PURCHASED,
        contact.pk,
        at("2026-11-02 10:00"),
    )
    assert purchased.payload == {
        "order_id": stored.pk,
        "source": "shop",
        "external_id": "O-1",
        "amount": "199.00",
        "currency": "CNY",
    }
    assert (event.type, event.contact_id) == (EventType.CUSTOM, contact.pk)
    assert event.payload == {
        "name": "viewed_product",
        "source": "app",
        "external_id": "E-1",
        "properties": {"sku": "A1"},
    }


def test_an_unknown_id_fails_and_is_never_kept(world):
    response = world.ingest(order(customer={"id": world.cat.pk + 1000}))
    assert response["failed"] == 1
    assert codes(response["results"][0]) == {"customer.id": ["unknown_customer"]}
    assert world.pending() == []
    assert world.orders() == []


def test_a_mobile_several_customers_have_is_ambiguous(world):
    response = world.ingest(order(customer={"mobile": "13700137000"}))
    assert codes(response["results"][0]) == {"customer.mobile": ["ambiguous_customer"]}
    assert world.orders() == []


@pytest.mark.parametrize(
    ("key", "value", "fields"),
    [
        ("external_userid", "wm-later", {"external_userid": "wm-later"}),
        ("unionid", "o-later", {"unionid": "o-later"}),
        ("mobile", "13600136000", {"mobiles": ["13600136000"]}),
    ],
)
def test_an_unmatched_key_waits_and_is_ingested_when_its_customer_appears(world, key, value, fields):
    response = world.ingest(
        order(customer={key: value}, status="refunded", refunded_amount="50.00"),
        custom(customer={key: value}),
    )
    assert (statuses(response), response["pending"]) == (["pending", "pending"], 2)
    assert [r["contact_id"] for r in response["results"]] == [None, None]
    pending = world.pending()
    assert [(p.kind, p.identity_kind, p.identity_value) for p in pending] == [
        ("order", key, value),
        ("custom", key, value),
    ]
    assert world.orders() == []
    assert world.attach(world.ann, world.ben) == 0  # others' keys attach nothing

    dan = world.builder.contact("Dan", staff=world.bob, **fields)
    with tenant_context(world.tenant):
        assert pending_contact_ids() == [dan.pk]
    assert world.attach(dan) == 2
    assert world.pending() == []
    (stored,) = world.orders()
    assert (stored.contact_id, stored.refunded_amount, stored.status) == (
        dan.pk,
        Decimal("50.00"),
        OrderStatus.PARTIALLY_REFUNDED,
    )
    # In the order they were pushed, the payment before its refund; the system's (no actor).
    events = world.events(contact_id=dan.pk)
    assert [e.type for e in events] == [EventType.PURCHASED, EventType.REFUNDED, EventType.CUSTOM]
    assert events[1].payload == {
        "order_id": stored.pk,
        "source": "shop",
        "external_id": "O-1",
        "amount": "50.00",
        "refunded_total": "50.00",
    }
    assert events[1].occurred_at == NOW  # refunded_at defaults to the push's time, kept while pending
    assert all(e.actor_id is None and e.actor_api_key_id is None for e in events)
    assert world.attach(dan) == 0  # nothing left


def test_a_pending_item_pushed_again_keeps_its_latest_state(world):
    world.ingest(order(customer={"unionid": "o-later"}))
    world.ingest(order(customer={"unionid": "o-later"}, status="refunded"))
    (pending,) = world.pending()
    assert pending.payload["status"] == "refunded"
    dan = world.builder.contact("Dan", staff=world.bob, unionid="o-later")
    assert world.attach(dan) == 1
    (stored,) = world.orders()
    assert stored.status == OrderStatus.REFUNDED
    assert [e.type for e in world.events(contact_id=dan.pk)] == [EventType.PURCHASED, EventType.REFUNDED]


def test_a_push_that_names_the_customer_replaces_its_pending_item(world):
    world.ingest(order(customer={"unionid": "o-later"}))
    response = world.ingest(order(customer={"id": world.ann.pk}))
    assert statuses(response) == ["accepted"]
    assert world.pending() == []
    dan = world.builder.contact("Dan", staff=world.bob, unionid="o-later")
    assert world.attach(dan) == 0
    assert [o.contact_id for o in world.orders()] == [world.ann.pk]


def test_a_pending_item_that_can_no_longer_be_ingested_is_dropped(world):
    world.ingest(order(customer={"mobile": "13600136000"}))
    # Two customers get that mobile: the item can never name one of them.
    first = world.builder.contact("Dan", staff=world.bob, mobiles=["13600136000"])
    world.builder.contact("Eve", staff=world.amy, mobiles=["13600136000"])
    assert world.attach(first) == 0
    assert world.pending() == []
    assert world.orders() == []


# -- orders ---------------------------------------------------------------------------------------------


def test_the_same_order_again_is_a_duplicate_and_the_source_is_part_of_its_identity(world):
    assert statuses(world.ingest(order())) == ["accepted"]
    response = world.ingest(order(), order(source="youzan"))
    assert statuses(response) == ["duplicate", "accepted"]
    assert (response["duplicates"], response["accepted"]) == (1, 1)
    assert [(o.source, o.external_id) for o in world.orders()] == [("shop", "O-1"), ("youzan", "O-1")]
    assert len(world.events(type=EventType.PURCHASED)) == 2


def test_refunds_partial_then_full_are_updates_with_an_event_for_each_difference(world):
    world.ingest(order())
    partial = world.ingest(
        order(status="refunded", refunded_amount="50.00", refunded_at="2026-11-05T12:00:00+08:00")
    )
    assert (statuses(partial), partial["updated"]) == (["updated"], 1)
    (stored,) = world.orders()
    assert (stored.refunded_amount, stored.status, stored.refunded_at) == (
        Decimal("50.00"),
        OrderStatus.PARTIALLY_REFUNDED,
        at("2026-11-05 12:00"),
    )
    full = world.ingest(order(status="refunded"))  # no amount: all of it
    assert statuses(full) == ["updated"]
    (stored,) = world.orders()
    assert (stored.refunded_amount, stored.status, stored.refunded_at) == (
        Decimal("199.00"),
        OrderStatus.REFUNDED,
        NOW,
    )
    refunds = world.events(type=EventType.REFUNDED)
    assert [(e.payload["amount"], e.payload["refunded_total"]) for e in refunds] == [
        ("50.00", "50.00"),
        ("149.00", "199.00"),
    ]
    assert [e.occurred_at for e in refunds] == [at("2026-11-05 12:00"), NOW]
    assert statuses(world.ingest(order(status="refunded"))) == ["duplicate"]
    assert len(world.events(type=EventType.REFUNDED)) == 2


def test_an_order_refunded_on_its_first_push_records_the_purchase_and_the_refund(world):
    response = world.ingest(order(status="refunded", refunded_at="2026-11-03T09:00:00+08:00"))
    assert statuses(response) == ["accepted"]
    (stored,) = world.orders()
    assert (stored.status, stored.refunded_amount) == (OrderStatus.REFUNDED, Decimal("199.00"))
    purchased, refunded = world.events(type__in=[EventType.PURCHASED, EventType.REFUNDED])
    assert (purchased.type, purchased.occurred_at) == (EventType.PURCHASED, at("2026-11-02 10:00"))
    assert (refunded.type, refunded.occurred_at, refunded.payload["amount"]) == (
        EventType.REFUNDED,
        at("2026-11-03 09:00"),
        "199.00",
    )


def test_an_order_and_its_refund_in_one_batch(world):
    response = world.ingest(order(), order(status="refunded", refunded_amount="9.00"))
    assert statuses(response) == ["accepted", "updated"]
    (stored,) = world.orders()
    assert stored.refunded_amount == Decimal("9.00")
    assert [e.type for e in world.events()] == [EventType.PURCHASED, EventType.REFUNDED]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"amount": "299.00"}, "amount"),
        ({"customer": {"unionid": "o-ben"}}, "customer"),
        ({"customer": {"unionid": "o-nobody"}}, "customer"),  # an order is never pending once known
        ({"status": "paid", "refunded_amount": None}, "refunded_amount"),  # back to no refund
        ({"status": "refunded", "refunded_amount": "20.00"}, "refunded_amount"),
    ],
)
def test_an_order_that_changes_what_cannot_change_is_a_conflict(world, change, path):
    refunded = {"status": "refunded", "refunded_amount": "50.00"}
    world.ingest(order(**refunded))
    response = world.ingest(order(**{**refunded, **change}))
    result = response["results"][0]
    assert (result["status"], codes(result)) == ("failed", {path: ["order_conflict"]})
    assert result["errors"][path][0]["message"]
    (stored,) = world.orders()
    assert (stored.amount, stored.contact_id, stored.refunded_amount) == (
        Decimal("199.00"),
        world.ann.pk,
        Decimal("50.00"),
    )
    assert world.pending() == []


def test_an_order_in_another_currency_than_the_tenants_fails(world):
    response = world.ingest(order(currency="USD"))
    assert codes(response["results"][0]) == {"currency": ["currency_mismatch"]}
    with tenant_context(world.tenant):
        ValueSettings.objects.create(currency="USD")
    assert statuses(world.ingest(order(currency="USD"))) == ["accepted"]


def test_a_custom_event_again_is_a_duplicate(world):
    world.ingest(custom())
    response = world.ingest(custom(), custom(external_id="E-2"), custom(external_id="E-2"))
    assert statuses(response) == ["duplicate", "accepted", "duplicate"]
    with tenant_context(world.tenant):
        assert CustomEvent.objects.count() == 2
    assert len(world.events(type=EventType.CUSTOM)) == 2


# -- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("not an object", {"non_field_errors": ["invalid"]}),
        (order(type="refund"), {"type": ["invalid_choice"]}),
        (order(source="Shop!"), {"source": ["invalid"]}),
        (order(external_id="x" * 65), {"external_id": ["max_length"]}),
        (order(external_id=""), {"external_id": ["blank"]}),
        (order(customer={}), {"customer": ["invalid"]}),
        (order(customer={"id": 1, "unionid": "o-ann"}), {"customer": ["invalid"]}),
        (order(customer={"email": "a@b.c"}), {"customer": ["invalid"]}),
        (order(customer={"id": "12"}), {"customer.id": ["invalid"]}),
        (order(customer={"mobile": "call me"}), {"customer.mobile": ["invalid"]}),
        (order(amount="0"), {"amount": ["min_value"]}),
        (order(amount="-5"), {"amount": ["min_value"]}),
        (order(amount="1.005"), {"amount": ["max_decimal_places"]}),
        (order(amount="10000000000.00"), {"amount": ["max_value"]}),
        (order(amount="1e400"), {"amount": ["max_value"]}),
        (order(amount="NaN"), {"amount": ["invalid"]}),
        (order(amount=True), {"amount": ["invalid"]}),
        (order(amount=None), {"amount": ["required"]}),
        (order(currency="cny"), {"currency": ["invalid"]}),
        (order(status="shipped"), {"status": ["invalid_choice"]}),
        (order(refunded_amount="5.00"), {"refunded_amount": ["invalid"]}),  # status paid
        (order(status="refunded", refunded_amount="200.00"), {"refunded_amount": ["max_value"]}),
        (
            order(status="refunded", refunded_at="2026-11-01T10:00:00+08:00"),
            {"refunded_at": ["invalid"]},
        ),
        (order(items={"sku": "A1"}), {"items": ["not_a_list"]}),
        (
            order(items=[{"quantity": 0, "price": "-1"}]),
            {"items.0.quantity": ["invalid"], "items.0.price": ["min_value"]},
        ),
        (order(occurred_at="yesterday"), {"occurred_at": ["invalid"]}),
        (order(occurred_at="2026-12-01T10:00:01+08:00"), {"occurred_at": ["future"]}),
        (order(occurred_at="1969-12-31T00:00:00Z"), {"occurred_at": ["invalid"]}),
        (custom(name="has space"), {"name": ["invalid"]}),
        (custom(properties=["a"]), {"properties": ["invalid"]}),
        (custom(properties={"x": "好" * 1400}), {"properties": ["max_length"]}),
        (custom(properties={"x": "a\x00b"}), {"properties": ["null_characters_not_allowed"]}),
        (custom(external_id="a\x00b"), {"external_id": ["null_characters_not_allowed"]}),
        (custom(external_id="a\ud800b"), {"external_id": ["surrogate_characters_not_allowed"]}),
        (custom(properties={"k\udfff": 1}), {"properties": ["surrogate_characters_not_allowed"]}),
        (order(customer={"unionid": "o\ud800"}), {"customer.unionid": ["invalid"]}),
        (order(items=[{"name": "a\x00"}]), {"items.0.name": ["null_characters_not_allowed"]}),
        (
            {"type": "order"},
            {
                "source": ["required"],
                "external_id": ["required"],
                "customer": ["required"],
                "occurred_at": ["required"],
                "amount": ["required"],
                "currency": ["required"],
            },
        ),
    ],
)
def test_a_wrong_item_fails_alone_with_its_errors(world, item, expected):
    response = world.ingest(order(external_id="good"), item, custom(external_id="good"))
    assert statuses(response) == ["accepted", "failed", "accepted"]
    assert (response["received"], response["accepted"], response["failed"]) == (3, 2, 1)
    failed = response["results"][1]
    assert (failed["index"], failed["contact_id"], codes(failed)) == (1, None, expected)
    assert all(e["message"] for errors in failed["errors"].values() for e in errors)
    assert [o.external_id for o in world.orders()] == ["good"]


def test_lenient_forms_are_normalised(world):
    response = world.ingest(
        order(amount=199, occurred_at="2026-11-02T10:00:00", customer={"mobile": " 13800138000 "}),
        order("O-2", amount="12.5", items=None, status="refunded", refunded_amount=2.25),
    )
    assert statuses(response) == ["accepted", "accepted"]
    first, second = world.orders()
    assert (first.amount, first.paid_at) == (Decimal("199.00"), at("2026-11-02 10:00"))  # tenant's zone
    assert (second.amount, second.items, second.refunded_amount) == (Decimal("12.50"), [], Decimal("2.25"))


# -- writes ----------------------------------------------------------------------------------------------


def test_an_actors_push_is_recorded_as_theirs(world, tenant_a):
    from scrm.tenancy import services
    from scrm.tenancy.models import Role

    key, _ = services.api_key_create(tenant=tenant_a, role=Role.ADMIN, name="shop")
    world.ingest(order(), custom(), actor=Actor(api_key=key))
    events = world.events()
    assert len(events) == 2
    assert all((e.actor_id, e.actor_api_key_id) == (None, key.pk) for e in events)


def test_a_batch_costs_the_same_queries_whatever_its_size(world):
    def queries(n: int, offset: int) -> int:
        items = []
        for i in range(n):
            customer = [
                {"id": world.ann.pk},
                {"external_userid": world.ben.external_userid},
                {"unionid": "o-ann"},
                {"mobile": "13900139000"},
                {"unionid": f"o-later-{i}"},
            ][i % 5]
            items.append(order(f"O-{offset + i}", customer=customer))
            items.append(custom(f"E-{offset + i}", customer=customer))
        with CaptureQueriesContext(connection) as captured:
            response = world.ingest(*items)
        assert response["failed"] == 0
        return len(captured)

    assert queries(5, 0) == queries(200, 1000)


def test_another_tenants_customers_are_unknown_there(world, tenant_b):
    theirs = World(tenant_b, Builder(tenant_b), None, None, None, None, None)
    response = theirs.ingest(
        order(customer={"id": world.ann.pk}),
        order("O-2", customer={"external_userid": world.ann.external_userid}),
        order("O-3", customer={"mobile": "13800138000"}),
    )
    assert codes(response["results"][0]) == {"customer.id": ["unknown_customer"]}
    assert statuses(response)[1:] == ["pending", "pending"]
    assert world.orders() == []
    assert world.attach(world.ann) == 0
    assert len(theirs.pending()) == 2


def test_an_idempotency_key_replays_its_batch_and_refuses_another(world):
    first = world.ingest(order(), key="batch-1")
    with tenant_context(world.tenant):
        again = events_ingest(items=[order()], actor=SYSTEM, idempotency_key="batch-1")
        assert (again.replayed, again.response) == (True, first)
        with pytest.raises(Conflict) as refused:
            events_ingest(items=[order("O-2")], actor=SYSTEM, idempotency_key="batch-1")
    assert refused.value.default_code == "idempotency_key_reused"
    assert len(world.events()) == 1
    assert len(world.orders()) == 1


def test_a_key_expires_after_a_day(world, time_machine):
    world.ingest(order(), key="batch-1")
    time_machine.move_to(NOW + dt.timedelta(hours=25), tick=False)
    response = world.ingest(order("O-2"), key="batch-1")
    assert statuses(response) == ["accepted"]


# -- the demo ---------------------------------------------------------------------------------------------


def test_the_demo_pushes_orders_refunds_events_and_pending_items_once_and_the_same_each_time(world):
    from value.services.demo import SHOP, demo_value_seed

    for n in range(40):
        world.builder.contact(
            f"Demo {n}",
            staff=world.bob if n % 2 else world.amy,
            unionid=f"o-demo-{n}" if n % 3 else "",
            mobiles=[f"1360000{n:04d}"] if n % 4 == 0 else [],
        )

    def pushed() -> list[tuple]:
        with tenant_context(world.tenant):
            return list(
                Order.objects.order_by("external_id").values_list(
                    "external_id", "contact_id", "amount", "status", "refunded_amount", "paid_at"
                )
            )

    summary = demo_value_seed(tenant=world.tenant, now=NOW)
    assert summary["results"]["failed"] == 0
    assert summary["results"]["pending"] == 5
    assert summary["results"]["accepted"] == summary["results"]["received"] - 5
    orders = pushed()
    assert orders
    per_customer = {}
    for _, contact_id, *_ in orders:
        per_customer[contact_id] = per_customer.get(contact_id, 0) + 1
    assert max(per_customer.values()) >= 2  # repurchases
    assert len(world.pending()) == 5
    with tenant_context(world.tenant):
        assert CustomEvent.objects.exists()
        assert all(o.source == SHOP for o in Order.objects.all())
    assert all(paid <= NOW for *_, paid in orders)
    assert demo_value_seed(tenant=world.tenant, now=NOW) == {"skipped": True}

    # The same seed and customers push the same again.
    with tenant_context(world.tenant):
        ContactEvent.objects.all().delete()
        for model in (Order, CustomEvent, PendingEvent):
            model.objects.all().delete()
    demo_value_seed(tenant=world.tenant, now=NOW)
    assert [row[:5] for row in pushed()] == [row[:5] for row in orders]


def test_the_demo_waits_for_customers(tenant_b):
    from value.services.demo import demo_value_seed

    assert demo_value_seed(tenant=tenant_b) is None


def test_make_runs_demo_waits_for_the_first_contacts_sync(world):
    from contacts.models import SyncKind, SyncRun
    from scrm.durable import RunStatus
    from value.services.demo import demo_value_seed_after_sync

    assert demo_value_seed_after_sync(tenant=world.tenant) is False
    assert world.orders() == []
    with tenant_context(world.tenant):
        SyncRun.objects.create(kind=SyncKind.CONTACTS, status=RunStatus.SUCCEEDED, trigger="seed")
    assert demo_value_seed_after_sync(tenant=world.tenant) is True
    assert world.orders()
    assert demo_value_seed_after_sync(tenant=world.tenant) is True  # already there: nothing more
