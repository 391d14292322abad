"""The value passes (value.services.scoring): score parts and tier boundaries at a pinned clock, the
tier_changed events, value from orders, attribution, the incremental pass (cursor, lag, only the
customers touched, the same figures as a full pass on random data), the Python path (SQLite's) against
the SQL one, and the explanation's sentence."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from contacts.models import ContactEvent, ContactStatus, EventCursor, EventType, FollowStatus
from contacts.services.events import event_build, events_record
from scrm.tenancy.context import tenant_context
from tests.contacts.builders import Builder
from value.models import ContactValue, Order, Tier, ValueSettings
from value.services import scoring
from value.services.scoring import (
    CURSOR,
    value_explain,
    value_recompute_full,
    value_recompute_incremental,
)
from value.services.settings import value_settings_get

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=SH)
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)
_orders = itertools.count(1)

# Every event type: the interactions and the others (which count for nothing).
ALL_TYPES = [
    *scoring.INTERACTION_WEIGHTS,
    EventType.WELCOMED,
    EventType.TAGGED,
    EventType.MASS_MESSAGE_RECEIVED,
    EventType.REFUNDED,
    EventType.PROFILE_CHANGED,
]


# --- helpers (the other value test modules import them) ------------------------------------------------


def add_event(tenant, contact, type_: str, at: dt.datetime, **payload) -> None:
    with tenant_context(tenant):
        events_record([event_build(contact_id=contact.pk, type=type_, occurred_at=at, payload=payload)])


def add_order(
    tenant, contact, amount: str, at: dt.datetime, *, refunded: str = "0", currency: str = "CNY"
) -> Order:
    with tenant_context(tenant):
        return Order.objects.create(
            source="shop",
            external_id=f"O-{next(_orders)}",
            contact=contact,
            amount=Decimal(amount),
            refunded_amount=Decimal(refunded),
            currency=currency,
            paid_at=at,
        )


def value_of(tenant, contact) -> ContactValue | None:
    with tenant_context(tenant):
        return ContactValue.objects.filter(contact=contact).first()


def tier_events(tenant, contact=None) -> list[dict]:
    with tenant_context(tenant):
        events = ContactEvent.objects.filter(type=EventType.TIER_CHANGED).order_by("id")
        if contact is not None:
            events = events.filter(contact=contact)
        return [e.payload for e in events]


def snapshot(tenant) -> dict[int, tuple]:
    fields = [*scoring._FIGURES, "tier_since"]
    with tenant_context(tenant):
        return {row[0]: row[1:] for row in ContactValue.objects.values_list("contact_id", *fields)}


def set_thresholds(tenant, **values) -> ValueSettings:
    with tenant_context(tenant):
        settings = value_settings_get(tenant=tenant)
        ValueSettings.objects.filter(pk=settings.pk).update(**values)
        settings.refresh_from_db()
        return settings


@pytest.fixture
def build(tenant_a):
    return Builder(tenant_a)


@pytest.fixture
def staff(build):
    return build.staff("bob")


@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def old_customer(build, staff, **kwargs):
    """A customer added long ago (never new)."""
    return build.contact(staff=staff, added_at=NOW - 200 * DAY, **kwargs)


# --- score parts and tier boundaries ------------------------------------------------------------------


def test_silent_from_exactly_silent_days_without_an_interaction(tenant_a, build, staff, at_now):
    set_thresholds(tenant_a, silent_days=30)
    silent, active = old_customer(build, staff), old_customer(build, staff)
    # Days are the tenant's calendar days (China time): 11-07 at any hour is 30 days before 12-07.
    add_event(tenant_a, silent, EventType.MOMENT_LIKED, dt.datetime(2026, 11, 7, 23, 59, 59, tzinfo=SH))
    add_event(tenant_a, active, EventType.MOMENT_LIKED, dt.datetime(2026, 11, 8, 0, 0, tzinfo=SH))
    value_recompute_full(tenant=tenant_a, now=NOW)
    assert value_of(tenant_a, silent).tier == Tier.SILENT
    assert value_of(tenant_a, silent).score_recency == 0
    assert value_of(tenant_a, active).tier == Tier.ACTIVE
    assert value_of(tenant_a, active).score_recency == 1  # 40 × (1 − 29/30) = 1.33


def test_a_customer_never_interacting_is_silent(tenant_a, build, staff, at_now):
    customer = old_customer(build, staff)
    value_recompute_full(tenant=tenant_a, now=NOW)
    value = value_of(tenant_a, customer)
    assert (value.tier, value.score, value.last_interaction_at, value.last_interaction_type) == (
        Tier.SILENT,
        0,
        None,
        "",
    )


def test_new_within_new_days_of_the_first_add_only(tenant_a, build, staff, at_now):
    set_thresholds(tenant_a, new_days=7)
    new = build.contact(staff=staff, added_at=dt.datetime(2026, 12, 1, 0, 0, tzinfo=SH))  # 6 days ago
    not_new = build.contact(staff=staff, added_at=dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=SH))  # 7
    for customer in (new, not_new):
        add_event(tenant_a, customer, EventType.ADDED, customer.first_added_at)
    value_recompute_full(tenant=tenant_a, now=NOW)
    assert value_of(tenant_a, new).tier == Tier.NEW
    # 7 days without an interaction, within silent_days (30): active.
    assert value_of(tenant_a, not_new).tier == Tier.ACTIVE


def test_high_value_from_the_threshold_and_new_comes_first(tenant_a, build, staff, at_now):
    set_thresholds(tenant_a, high_value_ltv=Decimal("2000"))
    high, below = old_customer(build, staff), old_customer(build, staff)
    new_and_rich = build.contact(staff=staff, added_at=NOW - DAY)
    add_order(tenant_a, high, "2000.00", NOW - 2 * DAY)
    add_order(tenant_a, below, "1999.99", NOW - 2 * DAY)
    add_order(tenant_a, new_and_rich, "5000.00", NOW - 2 * DAY)
    for customer in (high, below, new_and_rich):
        add_event(tenant_a, customer, EventType.PURCHASED, NOW - 2 * DAY)
    value_recompute_full(tenant=tenant_a, now=NOW)
    assert value_of(tenant_a, high).tier == Tier.HIGH_VALUE
    assert value_of(tenant_a, high).score_value == 30
    assert value_of(tenant_a, below).tier == Tier.ACTIVE
    assert value_of(tenant_a, below).score_value == 30  # 29.99955 rounds to 30
    assert value_of(tenant_a, new_and_rich).tier == Tier.NEW


def test_a_silent_high_value_customer_is_silent(tenant_a, build, staff, at_now):
    customer = old_customer(build, staff)
    add_order(tenant_a, customer, "9000.00", NOW - 100 * DAY)
    add_event(tenant_a, customer, EventType.PURCHASED, NOW - 100 * DAY)
    value_recompute_full(tenant=tenant_a, now=NOW)
    assert value_of(tenant_a, customer).tier == Tier.SILENT


def test_lost_comes_before_everything(tenant_a, build, staff, at_now):
    customer = build.contact(staff=staff, added_at=NOW - DAY, follow_status=FollowStatus.DELETED_BY_CUSTOMER)
    assert customer.status == ContactStatus.LOST
    add_order(tenant_a, customer, "9000.00", NOW - DAY)
    add_event(tenant_a, customer, EventType.PURCHASED, NOW - DAY)
    value_recompute_full(tenant=tenant_a, now=NOW)
    assert value_of(tenant_a, customer).tier == Tier.LOST


@pytest.mark.parametrize(
    ("days", "weights", "ltv", "parts"),
    [
        (0, 0, "0", (40, 0, 0)),
        (15, 20, "1000", (20, 30, 15)),  # half the days, the full frequency, half the value
        (29, 19, "1999.99", (1, 29, 30)),  # 28.5 → 29 (half up)
        (30, 1, "20", (0, 2, 0)),  # 1.5 → 2; 0.3 → 0
        (1, 25, "3", (39, 30, 0)),  # 38.67 → 39; 0.045 → 0
    ],
)
def test_score_parts_arithmetic(days, weights, ltv, parts):
    settings = ValueSettings(silent_days=30, new_days=7, high_value_ltv=Decimal("2000"))
    assert (
        scoring.score_parts(days=days, interactions_90d=weights, ltv=Decimal(ltv), settings=settings) == parts
    )


def test_weights_and_the_90_day_window(tenant_a, build, staff, at_now):
    customer = old_customer(build, staff)
    # Today and the 89 days before: from 09-09 00:00 China time.
    add_event(tenant_a, customer, EventType.MOMENT_COMMENTED, dt.datetime(2026, 9, 9, 0, 0, tzinfo=SH))
    add_event(tenant_a, customer, EventType.PURCHASED, dt.datetime(2026, 9, 8, 23, 59, 59, tzinfo=SH))
    add_event(tenant_a, customer, EventType.NOTE, NOW - DAY)
    add_event(tenant_a, customer, EventType.WELCOMED, NOW - DAY)  # not an interaction
    add_event(tenant_a, customer, EventType.REFUNDED, NOW - DAY)
    add_event(tenant_a, customer, EventType.GROUP_JOINED, NOW - 2 * DAY)
    value_recompute_full(tenant=tenant_a, now=NOW)
    value = value_of(tenant_a, customer)
    assert value.interactions_90d == 3 + 1 + 2
    assert value.score_frequency == 9  # 30 × 6/20
    assert value.last_interaction_type == EventType.NOTE
    assert value.last_interaction_at == NOW - DAY


def test_an_interaction_in_the_future_is_zero_days_ago(tenant_a, build, staff, at_now):
    customer = old_customer(build, staff)
    add_event(tenant_a, customer, EventType.CUSTOM, NOW + 3600 * SECOND)
    value_recompute_full(tenant=tenant_a, now=NOW)
    assert value_of(tenant_a, customer).score_recency == 40


def test_value_from_orders_net_of_refunds_in_the_tenant_currency(tenant_a, build, staff, at_now):
    customer = old_customer(build, staff)
    add_order(tenant_a, customer, "100.00", NOW - 30 * DAY)
    add_order(tenant_a, customer, "300.00", NOW - 20 * DAY, refunded="50.00")
    add_order(tenant_a, customer, "80.00", NOW - 10 * DAY, refunded="80.00")  # refunded in full
    add_order(tenant_a, customer, "999.00", NOW - 5 * DAY, currency="USD")  # not the tenant's
    value_recompute_full(tenant=tenant_a, now=NOW)
    value = value_of(tenant_a, customer)
    assert value.ltv == Decimal("350.00")
    assert value.orders == 2
    assert value.first_purchase_at == NOW - 30 * DAY
    assert value.last_purchase_at == NOW - 20 * DAY


def test_attribution_is_the_earliest_follow(tenant_a, build, at_now):
    first, second = build.staff("first"), build.staff("second")
    customer = build.contact(staff=[second, first], state="spring", added_at=NOW - 10 * DAY)
    with tenant_context(tenant_a):
        customer.follows.filter(staff=first).update(added_at=NOW - 20 * DAY, state="autumn")
        undated = build.contact(staff=[first, second])
        undated.follows.filter(staff=first).update(added_at=None)
        undated.follows.filter(staff=second).update(added_at=NOW - DAY, state="winter")
    value_recompute_full(tenant=tenant_a, now=NOW)
    assert (value_of(tenant_a, customer).channel, value_of(tenant_a, customer).staff_id) == (
        "autumn",
        first.pk,
    )
    # A follow with no add time comes after any dated one.
    assert (value_of(tenant_a, undated).channel, value_of(tenant_a, undated).staff_id) == (
        "winter",
        second.pk,
    )


# --- tier changes ---------------------------------------------------------------------------------


def test_tier_changes_are_events_once_each_and_never_on_the_first_computation(tenant_a, build, staff):
    with time_machine.travel(NOW, tick=False):
        customer = old_customer(build, staff)
        add_event(tenant_a, customer, EventType.MOMENT_LIKED, NOW - DAY)
        first = value_recompute_full(tenant=tenant_a, now=NOW)
    assert (first.written, first.tier_changes) == (1, 0)
    assert value_of(tenant_a, customer).tier == Tier.ACTIVE
    assert value_of(tenant_a, customer).tier_since == NOW
    assert tier_events(tenant_a) == []

    later = NOW + 40 * DAY  # silent now, by time alone
    with time_machine.travel(later, tick=False):
        moved = value_recompute_full(tenant=tenant_a, now=later)
        again = value_recompute_full(tenant=tenant_a, now=later)
    assert (moved.written, moved.tier_changes) == (1, 1)
    assert tier_events(tenant_a, customer) == [{"from": "active", "to": "silent"}]
    value = value_of(tenant_a, customer)
    assert (value.tier, value.tier_since) == (Tier.SILENT, later)
    assert (again.written, again.tier_changes) == (0, 0)  # unchanged: not rewritten, no event
    with tenant_context(tenant_a):
        event = ContactEvent.objects.get(type=EventType.TIER_CHANGED)
    assert event.occurred_at == later
    assert event.actor_id is None
    assert event.actor_api_key_id is None


def test_a_changed_score_keeps_the_tier_since(tenant_a, build, staff, at_now):
    customer = old_customer(build, staff)
    add_event(tenant_a, customer, EventType.MOMENT_LIKED, NOW - DAY)
    value_recompute_full(tenant=tenant_a, now=NOW)
    add_event(tenant_a, customer, EventType.MOMENT_COMMENTED, NOW)
    result = value_recompute_full(tenant=tenant_a, now=NOW + DAY)
    value = value_of(tenant_a, customer)
    assert (result.written, result.tier_changes) == (1, 0)
    assert value.tier_since == NOW
    assert value.computed_at == NOW + DAY
    assert value.interactions_90d == 5


# --- the incremental pass ---------------------------------------------------------------------------


def test_the_incremental_pass_touches_only_customers_with_new_events(tenant_a, build, staff):
    with time_machine.travel(NOW - 600 * SECOND, tick=False):
        quiet, busy = old_customer(build, staff), old_customer(build, staff)
        for customer in (quiet, busy):
            add_event(tenant_a, customer, EventType.MOMENT_LIKED, NOW - DAY)
    with time_machine.travel(NOW, tick=False):
        value_recompute_full(tenant=tenant_a, now=NOW)
        before = snapshot(tenant_a)
    later = NOW + 5 * DAY  # the quiet one's recency would change if it were recomputed
    with time_machine.travel(later - 60 * SECOND, tick=False):
        add_event(tenant_a, busy, EventType.MOMENT_COMMENTED, later - 60 * SECOND)
    with time_machine.travel(later, tick=False):
        result = value_recompute_incremental(tenant=tenant_a, now=later)
    after = snapshot(tenant_a)
    assert (result.contacts, result.written) == (1, 1)
    assert after[quiet.pk] == before[quiet.pk]
    assert value_of(tenant_a, quiet).computed_at == NOW
    assert after[busy.pk] != before[busy.pk]
    assert value_of(tenant_a, busy).computed_at == later
    with time_machine.travel(later, tick=False):
        assert value_recompute_incremental(tenant=tenant_a, now=later).contacts == 0  # nothing new


def test_the_cursor_waits_for_events_younger_than_the_lag(tenant_a, build, staff):
    customer = old_customer(build, staff)
    with time_machine.travel(NOW, tick=False):
        add_event(tenant_a, customer, EventType.MOMENT_LIKED, NOW)
    with time_machine.travel(NOW + 29 * SECOND, tick=False):
        early = value_recompute_incremental(tenant=tenant_a, now=NOW + 29 * SECOND)
    assert (early.contacts, early.position) == (0, 0)
    assert value_of(tenant_a, customer) is None
    with time_machine.travel(NOW + 30 * SECOND, tick=False):
        due = value_recompute_incremental(tenant=tenant_a, now=NOW + 30 * SECOND)
    with tenant_context(tenant_a):
        newest = ContactEvent.objects.order_by("-id").values_list("id", flat=True).first()
        assert EventCursor.objects.get(consumer=CURSOR).position == newest == due.position
    assert due.contacts == 1
    assert value_of(tenant_a, customer).tier == Tier.ACTIVE


def test_tier_changed_events_touch_nobody(tenant_a, build, staff):
    with time_machine.travel(NOW, tick=False):
        customer = old_customer(build, staff)
        add_event(tenant_a, customer, EventType.MOMENT_LIKED, NOW - DAY)
        value_recompute_full(tenant=tenant_a, now=NOW)
    with time_machine.travel(NOW + 40 * DAY, tick=False):
        assert value_recompute_full(tenant=tenant_a, now=NOW + 40 * DAY).tier_changes == 1
    with time_machine.travel(NOW + 40 * DAY + 60 * SECOND, tick=False):
        result = value_recompute_incremental(tenant=tenant_a, now=NOW + 40 * DAY + 60 * SECOND)
    assert result.contacts == 0
    assert scoring.tenants_with_new_events(now=NOW + 41 * DAY) == []


def test_events_that_change_no_figure_touch_nobody(tenant_a, build, staff):
    with time_machine.travel(NOW - 600 * SECOND, tick=False):
        customer = old_customer(build, staff)
        add_event(tenant_a, customer, EventType.MOMENT_LIKED, NOW - DAY)
    with time_machine.travel(NOW, tick=False):
        value_recompute_full(tenant=tenant_a, now=NOW)
    with time_machine.travel(NOW + 60 * SECOND, tick=False):
        for type_ in (EventType.MASS_MESSAGE_RECEIVED, EventType.TAGGED, EventType.WELCOMED):
            add_event(tenant_a, customer, type_, NOW + 60 * SECOND)
    later = NOW + 2 * 60 * SECOND
    assert scoring.tenants_with_new_events(now=later) == []
    with time_machine.travel(later, tick=False):
        assert value_recompute_incremental(tenant=tenant_a, now=later).contacts == 0


def test_a_customer_lost_is_recomputed_by_the_next_tick(tenant_a, build, staff):
    from contacts.facets import contacts_refresh

    with time_machine.travel(NOW - 600 * SECOND, tick=False):
        customer = old_customer(build, staff)
        add_event(tenant_a, customer, EventType.MOMENT_LIKED, NOW - DAY)
    with time_machine.travel(NOW, tick=False):
        value_recompute_full(tenant=tenant_a, now=NOW)
    with time_machine.travel(NOW + 60 * SECOND, tick=False), tenant_context(tenant_a):
        customer.follows.update(status=FollowStatus.DELETED_BY_CUSTOMER)
        contacts_refresh([customer.pk])
        add_event(tenant_a, customer, EventType.LOST, NOW + 60 * SECOND)
    later = NOW + 2 * 60 * SECOND
    assert scoring.tenants_with_new_events(now=later) == [tenant_a.pk]
    with time_machine.travel(later, tick=False):
        assert value_recompute_incremental(tenant=tenant_a, now=later).tier_changes == 1
    assert tier_events(tenant_a, customer) == [{"from": "active", "to": "lost"}]


def test_new_adds_attach_pending_events_and_both_passes_earn_points(tenant_a, build, staff, monkeypatch):
    attached, earned, pending = [], [], []
    monkeypatch.setattr(scoring, "pending_attach", lambda *, contact_ids: attached.append(contact_ids) or 0)
    monkeypatch.setattr(scoring, "points_earn", lambda *, tenant, now=None: earned.append(tenant.pk) or 0)
    monkeypatch.setattr(scoring, "pending_contact_ids", lambda: pending)
    with time_machine.travel(NOW, tick=False):
        joined, liked = old_customer(build, staff), old_customer(build, staff)
        add_event(tenant_a, joined, EventType.ADDED, NOW)
        add_event(tenant_a, liked, EventType.MOMENT_LIKED, NOW)
    with time_machine.travel(NOW + 60 * SECOND, tick=False):
        value_recompute_incremental(tenant=tenant_a, now=NOW + 60 * SECOND)
    assert attached == [[joined.pk]]
    assert earned == [tenant_a.pk]
    value_recompute_full(tenant=tenant_a, now=NOW + 60 * SECOND)  # nothing pending: not called
    pending.append(liked.pk)
    value_recompute_full(tenant=tenant_a, now=NOW + 60 * SECOND)
    assert attached == [[joined.pk], [liked.pk]]
    assert earned == [tenant_a.pk] * 3


def test_a_pending_order_attached_by_the_pass_counts_in_the_same_pass(tenant_a, build, staff, monkeypatch):
    customer = old_customer(build, staff, unionid="o-union-1")

    def attach(*, contact_ids):
        for pk in contact_ids:
            add_order(tenant_a, customer, "120.00", NOW - DAY)
            add_event(tenant_a, customer, EventType.PURCHASED, NOW - DAY)
            assert pk == customer.pk
        return len(contact_ids)

    monkeypatch.setattr(scoring, "pending_attach", attach)
    monkeypatch.setattr(scoring, "pending_contact_ids", lambda: [customer.pk])
    with time_machine.travel(NOW, tick=False):
        value_recompute_full(tenant=tenant_a, now=NOW)
    assert value_of(tenant_a, customer).ltv == Decimal("120.00")


def test_tenants_are_apart(tenant_a, tenant_b, at_now):
    a, b = Builder(tenant_a), Builder(tenant_b)
    mine = a.contact(staff=a.staff("bob"), added_at=NOW - 100 * DAY)
    theirs = b.contact(staff=b.staff("bob"), added_at=NOW - 100 * DAY)
    add_event(tenant_b, theirs, EventType.MOMENT_LIKED, NOW - DAY)
    result = value_recompute_full(tenant=tenant_a, now=NOW)
    assert result.contacts == 1
    assert value_of(tenant_a, mine) is not None
    assert value_of(tenant_b, theirs) is None
    assert scoring.tenants_with_new_events(now=NOW + 60 * SECOND) == [tenant_b.pk]


# --- incremental == full, SQL == Python, on random data ----------------------------------------------


def random_history(
    tenant, build, rng: random.Random, *, customers: int, events: int, orders: int, start, end
):
    """Customers (some lost, some new, some with several members) and random events and orders between
    ``start`` and ``end``."""
    members = [build.staff(f"m{rng.randrange(10**9)}") for _ in range(3)]
    people = []
    for _ in range(customers):
        added = start - rng.randrange(0, 120) * DAY - rng.randrange(86400) * SECOND
        follows = rng.sample(members, k=rng.choice((1, 1, 2)))
        status = FollowStatus.DELETED_BY_CUSTOMER if rng.random() < 0.1 else FollowStatus.ACTIVE
        people.append(
            build.contact(
                staff=follows, state=rng.choice(("", "spring", "fair")), added_at=added, follow_status=status
            )
        )
    more_events(tenant, people, rng, events=events, orders=orders, start=start, end=end)
    return people


def more_events(tenant, people, rng, *, events: int, orders: int, start, end):
    span = int((end - start).total_seconds())
    for _ in range(events):
        at = start + rng.randrange(span) * SECOND
        add_event(tenant, rng.choice(people), rng.choice(ALL_TYPES), at)
    for _ in range(orders):
        amount = Decimal(rng.randrange(100, 300_000)) / 100
        refunded = rng.choice((Decimal("0"), Decimal("0"), amount, (amount / 2).quantize(Decimal("0.01"))))
        at = start + rng.randrange(span) * SECOND
        person = rng.choice(people)
        add_order(
            tenant,
            person,
            str(amount),
            at,
            refunded=str(refunded),
            currency=rng.choice(("CNY",) * 5 + ("USD",)),
        )
        add_event(tenant, person, EventType.PURCHASED, at)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_incremental_pass_equals_a_full_pass_on_random_data(tenant_a, build, seed):
    rng = random.Random(seed)
    set_thresholds(tenant_a, high_value_ltv=Decimal("1500"), silent_days=20, new_days=10)
    created = NOW - 10 * 60 * SECOND  # the rows' creation clock, before the passes' ``now``
    with time_machine.travel(created, tick=False):
        people = random_history(
            tenant_a, build, rng, customers=40, events=250, orders=40, start=NOW - 150 * DAY, end=NOW
        )
    with time_machine.travel(NOW, tick=False):
        value_recompute_full(tenant=tenant_a, now=NOW)
    with time_machine.travel(created + 60 * SECOND, tick=False):
        more_events(
            tenant_a, people[: len(people) // 2], rng, events=80, orders=10, start=NOW - 60 * DAY, end=NOW
        )
    with time_machine.travel(NOW, tick=False):
        incremental = value_recompute_incremental(tenant=tenant_a, now=NOW)
        after_incremental, moves = snapshot(tenant_a), tier_events(tenant_a)
        full = value_recompute_full(tenant=tenant_a, now=NOW)
    assert incremental.contacts > 0
    # A full pass at the same ``now`` finds nothing to change and no tier to move.
    assert (full.written, full.tier_changes) == (0, 0)
    assert snapshot(tenant_a) == after_incremental
    assert tier_events(tenant_a) == moves
    assert len(after_incremental) == len(people)


@pytest.mark.parametrize("seed", [4, 5])
def test_the_python_path_computes_what_the_sql_does(tenant_a, build, seed, monkeypatch):
    rng = random.Random(seed)
    with time_machine.travel(NOW, tick=False):
        random_history(
            tenant_a, build, rng, customers=40, events=300, orders=50, start=NOW - 150 * DAY, end=NOW
        )
        # Two interactions at the same instant: the tie goes the same way in both.
        tie = old_customer(build, build.staff("tie"))
        add_event(tenant_a, tie, EventType.NOTE, NOW - DAY)
        add_event(tenant_a, tie, EventType.ADDED, NOW - DAY)
        sql = value_recompute_full(tenant=tenant_a, now=NOW)
        by_sql = snapshot(tenant_a)
        with tenant_context(tenant_a):
            ContactValue.objects.all().delete()
        monkeypatch.setattr(scoring, "_FORCE_PYTHON", True)
        python = value_recompute_full(tenant=tenant_a, now=NOW)
    assert snapshot(tenant_a) == by_sql
    assert (python.contacts, python.written) == (sql.contacts, sql.written)
    assert value_of(tenant_a, tie).last_interaction_type == EventType.NOTE
    # And later, with time passed and changes to record, both record the same moves.
    later = NOW + 25 * DAY
    with time_machine.travel(later, tick=False):
        moved_python = value_recompute_full(tenant=tenant_a, now=later)
        python_moves, python_rows = tier_events(tenant_a), snapshot(tenant_a)
        with tenant_context(tenant_a):
            ContactEvent.objects.filter(type=EventType.TIER_CHANGED).delete()
            ContactValue.objects.all().delete()
        monkeypatch.setattr(scoring, "_FORCE_PYTHON", False)
        value_recompute_full(tenant=tenant_a, now=NOW)
        moved_sql = value_recompute_full(tenant=tenant_a, now=later)
    assert moved_sql.tier_changes == moved_python.tier_changes > 0
    assert tier_events(tenant_a) == python_moves
    assert snapshot(tenant_a) == python_rows


# --- why --------------------------------------------------------------------------------------------


def _explained(tenant, contact, now):
    with tenant_context(tenant):
        value = ContactValue.objects.select_related("contact").get(contact=contact)
        return value_explain(value=value, settings=value_settings_get(tenant=tenant), now=now, zone=SH)


def test_the_explanation_says_why(tenant_a, build, staff, at_now):
    silent = old_customer(build, staff)
    add_event(tenant_a, silent, EventType.MOMENT_LIKED, dt.datetime(2026, 10, 27, 21, 0, tzinfo=SH))
    never = old_customer(build, staff)
    new = build.contact(staff=staff, added_at=NOW - 2 * DAY - 60 * SECOND)
    rich = old_customer(build, staff)
    add_order(tenant_a, rich, "3200.00", NOW - 3 * DAY)
    add_event(tenant_a, rich, EventType.PURCHASED, NOW - 3 * DAY)
    active = old_customer(build, staff)
    add_event(tenant_a, active, EventType.GROUP_JOINED, NOW - 4 * DAY)
    lost = build.contact(staff=staff, added_at=NOW - 50 * DAY, follow_status=FollowStatus.DELETED_BY_CUSTOMER)
    value_recompute_full(tenant=tenant_a, now=NOW)

    why = _explained(tenant_a, silent, NOW)
    assert why["text"] == "Silent: no interaction for 41 days; last: liked a Moment on 10-27"
    assert (why["tier"], why["code"], why["days"], why["silent_days"], why["last_type"]) == (
        "silent",
        "silent_days",
        41,
        30,
        "moment_liked",
    )
    assert why["last_at"].startswith("2026-10-27T21:00:00")
    assert _explained(tenant_a, never, NOW)["code"] == "no_interaction"
    assert _explained(tenant_a, never, NOW)["text"] == "Silent: no interaction yet"
    assert _explained(tenant_a, new, NOW)["text"] == "New: added 2 days ago (new for the first 7 days)"
    assert _explained(tenant_a, rich, NOW)["text"] == (
        "High value: LTV 3,200.00 CNY reaches 2,000.00; last interaction 3 days ago (purchased on 12-04)"
    )
    assert _explained(tenant_a, rich, NOW)["ltv"] == "3200.00"
    assert _explained(tenant_a, active, NOW)["text"] == (
        "Active: last interaction 4 days ago (joined a group on 12-03), within 30 days"
    )
    assert _explained(tenant_a, lost, NOW)["code"] == "lost"
    assert (
        _explained(tenant_a, lost, NOW)["text"]
        == "Lost: no member follows the customer any more (since 12-07)"
    )
