"""``POST /api/v1/events/`` and ``GET /api/v1/orders/``: who may push (admins, operators and their API
keys; sales 403), the batch's limits (1 to 1,000 events, each an object: else 400 on ``events``), the
answer's shape, Idempotency-Key replays and refusals, and the orders list within the caller's data
scope (a sales member sees its own customers' orders; charlie sees none of tenant A's).

The clock is pinned: the code reads it (occurred_at at most a day ahead, a refund's default time, the
Idempotency-Key's 24 hours).
"""

from __future__ import annotations

import pytest

from contacts.models import ContactEvent, EventType
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from tests.helpers import assert_problem
from tests.value.test_ingest import NOW, custom, order, world_fixture  # noqa: F401 -- fixture reused here
from value.models import Order

pytestmark = pytest.mark.django_db
EVENTS = "/api/v1/events/"
ORDERS = "/api/v1/orders/"


@pytest.fixture(autouse=True)
def _pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


def push(client, *items, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(EVENTS, {"events": list(items)}, format="json", **headers)


def event_count(tenant) -> int:
    with tenant_context(tenant):
        return ContactEvent.objects.filter(type__in=[EventType.PURCHASED, EventType.CUSTOM]).count()


# -- who may push ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "operator", "admin key", "operator key"])
def test_admins_operators_and_their_keys_push(world, who, request, client_for, key_client_for):
    if who.endswith("key"):
        client = key_client_for(world.tenant, role=Role.ADMIN if who == "admin key" else Role.OPERATOR)
    else:
        client = client_for(request.getfixturevalue(who))
    response = push(client, order(customer={"id": world.ann.pk}), custom(), order("bad", amount="0"))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "received": 3,
        "accepted": 2,
        "updated": 0,
        "duplicates": 0,
        "pending": 0,
        "failed": 1,
        "results": [
            {"index": 0, "status": "accepted", "contact_id": world.ann.pk, "errors": None},
            {"index": 1, "status": "accepted", "contact_id": world.ann.pk, "errors": None},
            {
                "index": 2,
                "status": "failed",
                "contact_id": None,
                "errors": {"amount": [{"code": "min_value", "message": "Must be greater than 0."}]},
            },
        ],
    }
    assert "Idempotent-Replay" not in response
    assert event_count(world.tenant) == 2


def test_sales_members_and_their_keys_may_not_push(world, bob_client, key_client_for, client):
    assert_problem(push(bob_client, order()), 403, "permission_denied")
    assert_problem(push(key_client_for(world.tenant, role=Role.SALES), order()), 403, "permission_denied")
    assert_problem(push(client, order()), 401, "not_authenticated")
    assert event_count(world.tenant) == 0


def test_charlie_cannot_name_tenant_as_customers(world, charlie_client):
    response = push(charlie_client, order(customer={"id": world.ann.pk}))
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert (result["status"], result["errors"]["customer.id"][0]["code"]) == ("failed", "unknown_customer")
    with tenant_context(world.tenant):
        assert not Order.objects.exists()


# -- the batch's shape ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"events": []}, "events", "min_length"),
        ({"events": [{"type": "custom"}] * 1001}, "events", "max_length"),
        ({"events": [{"type": "custom"}, 5]}, "events.1", "not_an_object"),
        ({"events": {"type": "custom"}}, "events", "not_a_list"),
        ({}, "events", "required"),
        ([{"type": "custom"}], None, "invalid"),
    ],
)
def test_a_batch_of_the_wrong_shape_is_refused_whole(alice_client, world, body, path, code):
    problem = assert_problem(alice_client.post(EVENTS, body, format="json"), 400, "validation_error")
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [(path, code)]


def test_text_postgresql_cannot_store_fails_the_item_not_the_server(alice_client, world):
    body = '{"events": [{"type": "custom", "source": "app", "external_id": "a\\ud800", "name": "x", '
    body += '"customer": {"unionid": "o\\u0000"}, "properties": {"\\udfff": "\\u0000"}, '
    body += '"occurred_at": "2026-11-02T10:00:00+08:00"}]}'
    response = alice_client.post(EVENTS, body, content_type="application/json")
    assert response.status_code == 200, response.content
    (result,) = response.json()["results"]
    assert {path: [e["code"] for e in errors] for path, errors in result["errors"].items()} == {
        "external_id": ["surrogate_characters_not_allowed"],
        "customer.unionid": ["invalid"],
        "properties": ["null_characters_not_allowed"],
    }


def test_a_thousand_events_go_in_one_batch(alice_client, world):
    items = [custom(f"E-{i}", customer={"id": world.ann.pk}) for i in range(1000)]
    response = push(alice_client, *items)
    assert response.status_code == 200
    assert response.json()["accepted"] == 1000
    assert event_count(world.tenant) == 1000


# -- Idempotency-Key ------------------------------------------------------------------------------------


def test_the_same_batch_twice_with_a_key_is_one_set_of_events(alice_client, operator, client_for, world):
    items = (order(), custom(), order("later", customer={"unionid": "o-later"}))
    first = push(alice_client, *items, key="nightly-2026-11-30")
    assert first.status_code == 200
    again = push(alice_client, *items, key="nightly-2026-11-30")
    assert again.status_code == 200
    assert again["Idempotent-Replay"] == "true"
    assert again.json() == first.json()
    assert event_count(world.tenant) == 2
    # Without the key the same batch is recognised item by item: duplicates, nothing written.
    plain = push(alice_client, *items).json()
    assert [r["status"] for r in plain["results"]] == ["duplicate", "duplicate", "pending"]
    # Another actor's key is its own: the same value from the operator is a new request.
    theirs = push(client_for(operator), *items, key="nightly-2026-11-30")
    assert "Idempotent-Replay" not in theirs
    assert theirs.json()["duplicates"] == 2
    assert event_count(world.tenant) == 2


def test_the_same_key_with_another_body_is_a_conflict(alice_client, world):
    push(alice_client, order(), key="k1")
    problem = assert_problem(push(alice_client, order("O-2"), key="k1"), 409, "idempotency_key_reused")
    assert "Idempotency-Key" in problem["detail"]
    with tenant_context(world.tenant):
        assert list(Order.objects.values_list("external_id", flat=True)) == ["O-1"]


def test_a_key_replays_a_batch_whose_every_event_failed(alice_client, world):
    first = push(alice_client, order(amount="0"), key="k2")
    assert first.json()["failed"] == 1
    assert push(alice_client, order(amount="0"), key="k2")["Idempotent-Replay"] == "true"


# -- orders ----------------------------------------------------------------------------------------------


@pytest.fixture
def pushed(world):
    """Three orders: two of ann's (bob's customer), one of ben's (amy's), paid on different days."""
    world.ingest(
        order("A-1", customer={"id": world.ann.pk}, occurred_at="2026-11-01T10:00:00+08:00"),
        order(
            "A-2",
            customer={"id": world.ann.pk},
            occurred_at="2026-11-03T10:00:00+08:00",
            status="refunded",
            refunded_amount="20.00",
            refunded_at="2026-11-04T10:00:00+08:00",
        ),
        order("B-1", customer={"id": world.ben.pk}, occurred_at="2026-11-02T10:00:00+08:00"),
    )
    return world


def test_the_orders_list_newest_paid_first(alice_client, pushed):
    response = alice_client.get(ORDERS)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["external_id"] for r in rows] == ["A-2", "B-1", "A-1"]
    with tenant_context(pushed.tenant):
        stored = Order.objects.get(external_id="A-2")
    assert rows[0] == {
        "id": stored.pk,
        "contact_id": pushed.ann.pk,
        "source": "shop",
        "external_id": "A-2",
        "amount": "199.00",
        "currency": "CNY",
        "items": [{"sku": "A1", "name": "礼盒", "quantity": 1, "price": "199.00"}],
        "status": "partially_refunded",
        "refunded_amount": "20.00",
        "paid_at": "2026-11-03T10:00:00+08:00",
        "refunded_at": "2026-11-04T10:00:00+08:00",
    }
    mine = alice_client.get(ORDERS, {"contact": pushed.ann.pk}).json()["results"]
    assert [r["external_id"] for r in mine] == ["A-2", "A-1"]


def test_an_api_key_pages_the_orders_with_a_cursor(key_client_for, pushed):
    client = key_client_for(pushed.tenant, role=Role.OPERATOR)
    first = client.get(ORDERS, {"page_size": 2}).json()
    assert [r["external_id"] for r in first["results"]] == ["A-2", "B-1"]
    assert "cursor=" in first["next"]
    second = client.get(first["next"]).json()
    assert ([r["external_id"] for r in second["results"]], second["next"]) == (["A-1"], None)
    # A sales key belongs to no member: it sees no customer, so no order.
    assert key_client_for(pushed.tenant, role=Role.SALES).get(ORDERS).json()["results"] == []


def test_sales_see_the_orders_of_their_own_customers(bob_client, pushed):
    rows = bob_client.get(ORDERS).json()["results"]
    assert [r["external_id"] for r in rows] == ["A-2", "A-1"]
    assert [
        r["external_id"] for r in bob_client.get(ORDERS, {"contact": pushed.ann.pk}).json()["results"]
    ] == [
        "A-2",
        "A-1",
    ]
    assert_problem(bob_client.get(ORDERS, {"contact": pushed.ben.pk}), 404, "not_found")


def test_charlie_sees_none_of_tenant_as_orders(charlie_client, pushed):
    assert charlie_client.get(ORDERS).json()["results"] == []
    assert_problem(charlie_client.get(ORDERS, {"contact": pushed.ann.pk}), 404, "not_found")


@pytest.mark.parametrize("raw", ["abc", "-1", "１２", "1" * 19])
def test_a_contact_that_is_not_an_id_is_a_400(alice_client, world, raw):
    problem = assert_problem(alice_client.get(ORDERS, {"contact": raw}), 400, "validation_error")
    assert problem["errors"][0]["path"] == "contact"


def test_the_orders_list_costs_the_same_queries_whatever_its_length(
    bob_client, pushed, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        assert bob_client.get(ORDERS).status_code == 200
    pushed.ingest(*[order(f"M-{i}", customer={"id": pushed.ann.pk}) for i in range(30)])
    with django_assert_max_num_queries(8):
        assert len(bob_client.get(ORDERS).json()["results"]) == 32
