"""Each customer's value, activity score and lifecycle tier (``ContactValue``), computed in batch.

Two passes write the same figures (docs/value.md explains them to operators):

- ``value_recompute_full``: every contact of the tenant — the nightly pass (time alone moves a
  customer from active to silent, and only a pass over everyone sees that) and the one after a
  threshold changed.
- ``value_recompute_incremental``: only the contacts with ContactEvents past the ``value.scores``
  cursor, every minute (``value.tick``).

On PostgreSQL a pass is two SQL statements in one transaction: the first computes every figure (one
GROUP BY over the contacts' events, one over their orders, the earliest follow, the score and tier
arithmetic) into a temporary table, keeping the customers whose figures differ from their row; the
second writes them with ``INSERT … ON CONFLICT DO UPDATE … WHERE`` something differs and, in the same
statement, inserts the ``tier_changed`` events of the rows it changed. Never a Python loop per
customer. Elsewhere (SQLite, ``make run``) the same figures are computed in Python from a few ORM
reads (``_rows_python``); tests compare the two on the same data.

Both passes are serialized per tenant by a lock on the cursor's row, so a tier change is seen and
recorded once even when the nightly pass and a tick overlap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework.fields import DateTimeField

from campaigns.services.settings import tenant_zone
from contacts.models import Contact, ContactEvent, ContactStatus, EventCursor, EventType, Follow
from contacts.services.events import event_build, events_readable_upto, events_record
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Tenant

from ..models import ContactValue, Order, Tier, ValueSettings
from .ingest import pending_attach, pending_contact_ids
from .points import points_earn
from .settings import value_settings_get

# What counts as an interaction, and how much. A welcome message is not here: WeCom does not say
# whether the customer answered it, so sending one says nothing about the customer.
INTERACTION_WEIGHTS: dict[str, int] = {
    EventType.ADDED: 3,
    EventType.PURCHASED: 5,
    EventType.CUSTOM: 2,
    EventType.MOMENT_COMMENTED: 3,
    EventType.MOMENT_LIKED: 2,
    EventType.GROUP_JOINED: 2,
    EventType.NOTE: 1,
}
# Two interactions at the same instant: the latest is the one listed later above (any fixed order
# would do; this one is the same in SQL and in Python).
_TYPE_CODES = {event_type: code for code, event_type in enumerate(INTERACTION_WEIGHTS, start=1)}

# Interactions of the last 90 days (today and the 89 before it, in the tenant's days) make the frequency.
INTERACTION_DAYS = 90
# The events that may change a customer's figures: an interaction, a refund, and what changes its
# follows (attribution) or its status (lost). The others — a mass message or a welcome sent, tags,
# stages, profile fields, the passes' own tier_changed — leave every figure as it was: a campaign to
# 100,000 customers does not make the next pass recompute them. (Anything else is caught at night.)
CHANGING_TYPES = frozenset(
    {
        *INTERACTION_WEIGHTS,
        EventType.REFUNDED,
        EventType.LOST,
        EventType.DELETED_BY_STAFF,
        EventType.TRANSFERRED,
    }
)
RECENCY_POINTS, FREQUENCY_POINTS, VALUE_POINTS = 40, 30, 30
# Weighted interactions in the window that give the whole frequency part.
FREQUENCY_FULL = 20

CURSOR = "value.scores"
# The full pass records here how far the stream had been read and, in ``updated_at``, when it ran:
# every customer's figures are as of then at least (a pass does not rewrite a row that is unchanged).
FULL_CURSOR = "value.scores.full"
# Where the minute tick's last look at the stream ended (all tenants): the next tick reads from there.
TICK_POSITION_KEY = "value.tick.position"
# Memory for the pass's hash aggregates (one entry per customer): the default 4 MB spills a
# million-customer tenant to disk several times over. Only for the pass's own transaction.
PASS_WORK_MEM = "128MB"
# The SQLite path reads ids in slices (SQLite's limit on a statement's variables).
_ID_SLICE = 500


@dataclass(frozen=True)
class PassResult:
    contacts: int  # customers whose figures were computed
    written: int  # rows inserted or changed (an unchanged customer is not rewritten)
    tier_changes: int  # tier_changed events recorded
    position: int  # the cursor after the pass


# --- the rules, in Python (the SQL below is the same arithmetic; value_explain and the SQLite path use these)


def days_since(at: dt.datetime | None, now: dt.datetime, zone: dt.tzinfo) -> int | None:
    """Days from ``at`` to ``now`` as the tenant's calendar counts them (its time zone): yesterday
    at any hour is 1 day ago, as an operator reading "last: 10-27" counts. The future is 0 days ago."""
    if at is None:
        return None
    return max(0, (now.astimezone(zone).date() - at.astimezone(zone).date()).days)


def day_start(now: dt.datetime, zone: dt.tzinfo, *, days_back: int) -> dt.datetime:
    """The start of the tenant's day ``days_back`` days before today: a time at or after it is at
    most ``days_back`` days ago (``days_since``)."""
    day = now.astimezone(zone).date() - dt.timedelta(days=days_back)
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone)


def score_parts(
    *, days: int | None, interactions_90d: int, ltv: Decimal, settings: ValueSettings
) -> tuple[int, int, int]:
    """(recency, frequency, value), each rounded half up, in integers so SQL and Python agree exactly:
    recency = 40 × max(0, 1 − d / silent_days), frequency = 30 × min(1, i / 20), value = 30 × min(1,
    ltv / high_value_ltv)."""
    silent = settings.silent_days
    recency = (
        0
        if days is None or days >= silent
        else (2 * RECENCY_POINTS * (silent - days) + silent) // (2 * silent)
    )
    frequency = (
        FREQUENCY_POINTS
        if interactions_90d >= FREQUENCY_FULL
        else (2 * FREQUENCY_POINTS * interactions_90d + FREQUENCY_FULL) // (2 * FREQUENCY_FULL)
    )
    high = Decimal(settings.high_value_ltv)
    value = VALUE_POINTS if ltv >= high else int((2 * VALUE_POINTS * ltv + high) // (2 * high))
    return recency, frequency, value


def tier_of(
    *, status: str, days_added: int | None, days: int | None, ltv: Decimal, settings: ValueSettings
) -> str:
    """The first that applies: lost, new (first added fewer than new_days days ago), silent (no
    interaction, or the last one silent_days days ago or more), high value, active."""
    if status == ContactStatus.LOST:
        return Tier.LOST
    if days_added is not None and days_added < settings.new_days:
        return Tier.NEW
    if days is None or days >= settings.silent_days:
        return Tier.SILENT
    if ltv >= Decimal(settings.high_value_ltv):
        return Tier.HIGH_VALUE
    return Tier.ACTIVE


# --- the passes -------------------------------------------------------------------------------------


def value_recompute_full(*, tenant, now: dt.datetime | None = None) -> PassResult:
    """Every contact of ``tenant``: pending events of customers that have arrived are attached, the
    figures computed, and points earned from the new events. Run it in the tenant's context."""
    now = now or timezone.now()
    with tenant_context(tenant), transaction.atomic():
        cursor = _cursor_locked(CURSOR)
        upto = events_readable_upto(after=cursor.position, now=now)
        waiting = pending_contact_ids()
        if waiting:
            pending_attach(contact_ids=waiting)
        settings = value_settings_get(tenant=tenant)
        contacts, written, changes = _compute(
            tenant=tenant, settings=settings, now=now, zone=tenant_zone(tenant=tenant), contact_ids=None
        )
        cursor.position = max(cursor.position, upto)
        cursor.save(update_fields=["position", "updated_at"])
        full = _cursor_locked(FULL_CURSOR)
        full.position = cursor.position
        full.save(update_fields=["position", "updated_at"])
    with tenant_context(tenant):
        points_earn(tenant=tenant, now=now)
    return PassResult(contacts=contacts, written=written, tier_changes=changes, position=cursor.position)


def value_recompute_incremental(*, tenant, now: dt.datetime | None = None) -> PassResult:
    """The contacts with events past the ``value.scores`` cursor (created more than 30 s before
    ``now``): the same figures as ``value_recompute_full`` for them, nobody else touched. Contacts with
    a new ``added`` event get their pending events attached first."""
    now = now or timezone.now()
    with tenant_context(tenant), transaction.atomic():
        cursor = _cursor_locked(CURSOR)
        upto = events_readable_upto(after=cursor.position, now=now)
        contacts = written = changes = 0
        if upto > cursor.position:
            touched, added = _touched(after=cursor.position, upto=upto)
            if added:
                pending_attach(contact_ids=added)
            if touched:
                settings = value_settings_get(tenant=tenant)
                contacts, written, changes = _compute(
                    tenant=tenant,
                    settings=settings,
                    now=now,
                    zone=tenant_zone(tenant=tenant),
                    contact_ids=touched,
                )
            cursor.position = upto
            cursor.save(update_fields=["position", "updated_at"])
    with tenant_context(tenant):
        points_earn(tenant=tenant, now=now)
    return PassResult(contacts=contacts, written=written, tier_changes=changes, position=cursor.position)


def tenants_with_new_events(*, now: dt.datetime | None = None) -> list[int]:
    """The active tenants with events the incremental pass would read now (``value.tick``).

    One range read over the stream: the events since the previous tick looked (its position is kept in
    the cache), up to the newest one older than the lag, whichever tenants they belong to — bounded by
    a minute of traffic however many tenants are idle. Without the cache's position (first tick, a
    flushed cache) the range starts at the lowest cursor of the active tenants (0 for a tenant no pass
    has run for yet). A tenant whose pass failed is read again with its next event, or at night.
    """
    now = now or timezone.now()
    tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    cursors = dict(
        EventCursor.unscoped.filter(consumer=CURSOR, tenant_id__in=tenant_ids).values_list(
            "tenant_id", "position"
        )
    )
    since = cache.get(TICK_POSITION_KEY)
    if since is None:
        since = min((cursors.get(pk, 0) for pk in tenant_ids), default=0)
    upto = events_readable_upto(after=since, now=now)
    if upto <= since:
        return []
    seen = (
        ContactEvent.unscoped.filter(id__gt=since, id__lte=upto, type__in=CHANGING_TYPES)
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    due = set(seen) & set(tenant_ids)
    cache.set(TICK_POSITION_KEY, upto, timeout=None)
    return sorted(pk for pk in due if cursors.get(pk, 0) < upto)


def last_full_pass_at() -> dt.datetime | None:
    """When the current tenant's last full pass ran (every figure is as of then at least)."""
    return EventCursor.objects.filter(consumer=FULL_CURSOR).values_list("updated_at", flat=True).first()


def _cursor_locked(consumer: str) -> EventCursor:
    # The row lock serializes the passes of one tenant (see the module's docstring).
    cursor, _ = EventCursor.objects.select_for_update().get_or_create(consumer=consumer)
    return cursor


def _touched(*, after: int, upto: int) -> tuple[list[int], list[int]]:
    """Contacts with events in (after, upto] that may change a figure (``CHANGING_TYPES``), and those
    of them with a new ``added`` event."""
    touched: set[int] = set()
    added: set[int] = set()
    rows = (
        ContactEvent.objects.filter(id__gt=after, id__lte=upto, type__in=CHANGING_TYPES)
        .values_list("contact_id", "type")
        .distinct()
    )
    for contact_id, event_type in rows:
        touched.add(contact_id)
        if event_type == EventType.ADDED:
            added.add(contact_id)
    return sorted(touched), sorted(added)


def _compute(
    *, tenant, settings: ValueSettings, now: dt.datetime, zone: dt.tzinfo, contact_ids: Sequence[int] | None
) -> tuple[int, int, int]:
    """Compute and write the figures of ``contact_ids`` (None: every contact). Returns (contacts,
    rows written, tier changes)."""
    if connection.vendor == "postgresql" and not _FORCE_PYTHON:
        return _compute_sql(tenant=tenant, settings=settings, now=now, zone=zone, contact_ids=contact_ids)
    return _compute_python(tenant=tenant, settings=settings, now=now, zone=zone, contact_ids=contact_ids)


# Tests set this to run the Python path on PostgreSQL (to compare both on the same data).
_FORCE_PYTHON = False


# --- PostgreSQL: one statement --------------------------------------------------------------------

_WEIGHT_CASE = (
    "CASE e.type " + " ".join(f"WHEN '{t}' THEN {w}" for t, w in INTERACTION_WEIGHTS.items()) + " END"
)
_CODE_CASE = "CASE e.type " + " ".join(f"WHEN '{t}' THEN {c}" for t, c in _TYPE_CODES.items()) + " END"
_TYPE_OF_CODE = (
    "CASE ev.last_key %% 8 " + " ".join(f"WHEN {c} THEN '{t}'" for t, c in _TYPE_CODES.items()) + " END"
)
_TYPES = ", ".join(f"'{t}'" for t in INTERACTION_WEIGHTS)
# The columns a pass may change; a row whose values are all the same is not rewritten.
_FIGURES = (
    "ltv",
    "orders",
    "first_purchase_at",
    "last_purchase_at",
    "last_interaction_at",
    "last_interaction_type",
    "interactions_90d",
    "score",
    "score_recency",
    "score_frequency",
    "score_value",
    "tier",
    "channel",
    "staff_id",
)

# A pass is two statements in one transaction. The first computes every figure into a temporary table,
# with the previous tier, keeping only the customers whose figures differ from their row (or who have
# none): a plain SELECT, so PostgreSQL may run its aggregates in parallel (a statement that writes to a
# table may not). The second writes those rows and, in the same statement, the tier_changed events of
# the rows it changed.
#
# {only_*} restricts each read to the contacts of an incremental pass (empty for a full one). The latest
# interaction and its type come from one aggregate: max(epoch µs × 8 + the type's code), whose low
# three bits are the type of the latest event (ties: the higher code, as _TYPE_CODES says); the epoch
# as a double is exact to the microsecond for the next centuries, and much cheaper than a numeric.
# OFFSET 0 keeps PostgreSQL from pulling a subquery up into the next one: each figure (the days, a
# part of the score) is then computed once per customer, not again wherever the next level names it.
_CALC_SQL = """
CREATE TEMPORARY TABLE value_pass ON COMMIT DROP AS
WITH ev AS (
    SELECT e.contact_id,
           max(e.occurred_at) AS last_at,
           max((date_part('epoch', e.occurred_at) * 1000000)::bigint * 8 + {code_case}) AS last_key,
           sum(CASE WHEN e.occurred_at >= %(since)s THEN {weight_case} ELSE 0 END) AS i90
    FROM contacts_contactevent e
    WHERE e.tenant_id = %(t)s AND e.type IN ({types}) {only_e}
    GROUP BY e.contact_id
), ord AS (
    SELECT o.contact_id,
           sum(o.amount - o.refunded_amount) AS ltv,
           count(*) FILTER (WHERE o.refunded_amount < o.amount) AS orders,
           min(o.paid_at) FILTER (WHERE o.refunded_amount < o.amount) AS first_at,
           max(o.paid_at) FILTER (WHERE o.refunded_amount < o.amount) AS last_at
    FROM value_order o
    WHERE o.tenant_id = %(t)s AND o.currency = %(currency)s {only_o}
    GROUP BY o.contact_id
), fol AS (
    SELECT DISTINCT ON (f.contact_id) f.contact_id, f.state, f.staff_id
    FROM contacts_follow f
    WHERE f.tenant_id = %(t)s {only_f}
    ORDER BY f.contact_id, f.added_at ASC NULLS LAST, f.id
), calc AS (
    SELECT c.id AS contact_id, c.status, c.first_added_at,
           coalesce(ord.ltv, 0)::numeric(14, 2) AS ltv, coalesce(ord.orders, 0)::integer AS orders,
           ord.first_at AS first_purchase_at, ord.last_at AS last_purchase_at,
           ev.last_at AS last_interaction_at,
           coalesce({type_of_code}, '') AS last_interaction_type,
           coalesce(ev.i90, 0)::integer AS interactions_90d,
           CASE WHEN ev.last_at IS NULL THEN NULL
                ELSE greatest(0, %(today)s::date - (ev.last_at AT TIME ZONE %(zone)s)::date) END AS days,
           coalesce(fol.state, '') AS channel, fol.staff_id
    FROM contacts_contact c
    LEFT JOIN ev ON ev.contact_id = c.id
    LEFT JOIN ord ON ord.contact_id = c.id
    LEFT JOIN fol ON fol.contact_id = c.id
    WHERE c.tenant_id = %(t)s {only_c}
    OFFSET 0
), parts AS (
    SELECT calc.*,
           (CASE WHEN days IS NULL OR days >= %(silent)s THEN 0
                 ELSE (2 * {recency} * (%(silent)s - days) + %(silent)s) / (2 * %(silent)s) END)::integer
               AS score_recency,
           (CASE WHEN interactions_90d >= {freq_full} THEN {frequency}
                 ELSE (2 * {frequency} * interactions_90d + {freq_full}) / (2 * {freq_full}) END)::integer
               AS score_frequency,
           (CASE WHEN ltv >= %(high)s THEN {value}
                 ELSE floor((2 * {value} * ltv + %(high)s) / (2 * %(high)s)) END)::integer AS score_value,
           CASE WHEN status = 'lost' THEN 'lost'
                WHEN first_added_at >= %(new_since)s THEN 'new'
                WHEN days IS NULL OR days >= %(silent)s THEN 'silent'
                WHEN ltv >= %(high)s THEN 'high_value'
                ELSE 'active' END AS tier
    FROM calc
), figures AS (
    SELECT parts.*, score_recency + score_frequency + score_value AS score FROM parts
    OFFSET 0
), cv AS (
    SELECT cv.* FROM value_contactvalue cv WHERE cv.tenant_id = %(t)s {only_cv}
)
SELECT figures.*, cv.tier AS old_tier
FROM figures
LEFT JOIN cv ON cv.contact_id = figures.contact_id
WHERE cv.contact_id IS NULL OR ({cv_figures}) IS DISTINCT FROM ({new_figures})
"""

_WRITE_SQL = """
WITH up AS (
    INSERT INTO value_contactvalue AS cv (
        tenant_id, contact_id, {columns}, tier_since, computed_at)
    SELECT %(t)s, contact_id, {columns}, %(now)s, %(now)s
    FROM value_pass
    ORDER BY contact_id
    ON CONFLICT (contact_id) DO UPDATE SET
        {set_figures},
        tier_since = CASE WHEN cv.tier = EXCLUDED.tier THEN cv.tier_since ELSE EXCLUDED.tier_since END,
        computed_at = EXCLUDED.computed_at
    WHERE ({cv_figures}) IS DISTINCT FROM ({excluded_figures})
    RETURNING cv.contact_id, cv.tier
), moved AS (
    INSERT INTO contacts_contactevent (
        tenant_id, contact_id, type, occurred_at, staff_id, channel, payload, actor_id, actor_api_key_id,
        created_at)
    SELECT %(t)s, up.contact_id, 'tier_changed', %(now)s, NULL, '',
           jsonb_build_object('from', p.old_tier, 'to', up.tier), NULL, NULL, %(created)s
    FROM up JOIN value_pass p ON p.contact_id = up.contact_id
    WHERE p.old_tier <> up.tier
    ORDER BY up.contact_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM moved)
"""

_COUNT_SQL = "SELECT count(*) FROM contacts_contact c WHERE c.tenant_id = %(t)s {only_c}"


def _pass_sql(template: str, *, restricted: bool) -> str:
    only = "AND {}.{} = ANY(%(ids)s)"
    return template.format(
        only_c=only.format("c", "id") if restricted else "",
        only_e=only.format("e", "contact_id") if restricted else "",
        only_o=only.format("o", "contact_id") if restricted else "",
        only_f=only.format("f", "contact_id") if restricted else "",
        only_cv=only.format("cv", "contact_id") if restricted else "",
        code_case=_CODE_CASE,
        weight_case=_WEIGHT_CASE,
        type_of_code=_TYPE_OF_CODE,
        types=_TYPES,
        recency=RECENCY_POINTS,
        frequency=FREQUENCY_POINTS,
        value=VALUE_POINTS,
        freq_full=FREQUENCY_FULL,
        columns=", ".join(_FIGURES),
        set_figures=", ".join(f"{name} = EXCLUDED.{name}" for name in _FIGURES),
        cv_figures=", ".join(f"cv.{name}" for name in _FIGURES),
        new_figures=", ".join(f"figures.{name}" for name in _FIGURES),
        excluded_figures=", ".join(f"EXCLUDED.{name}" for name in _FIGURES),
    )


_SQL = {
    restricted: tuple(_pass_sql(t, restricted=restricted) for t in (_CALC_SQL, _WRITE_SQL, _COUNT_SQL))
    for restricted in (False, True)
}


def _compute_sql(
    *, tenant, settings: ValueSettings, now: dt.datetime, zone: dt.tzinfo, contact_ids: Sequence[int] | None
) -> tuple[int, int, int]:
    params: dict[str, Any] = {
        "t": tenant.pk,
        "now": now,
        "today": now.astimezone(zone).date(),
        "zone": str(zone),
        "since": day_start(now, zone, days_back=INTERACTION_DAYS - 1),
        "new_since": day_start(now, zone, days_back=settings.new_days - 1),
        "silent": settings.silent_days,
        "high": Decimal(settings.high_value_ltv),
        "currency": settings.currency,
        "created": timezone.now(),
    }
    if contact_ids is not None:
        params["ids"] = list(contact_ids)
    calc, write, count = _SQL[contact_ids is not None]
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{PASS_WORK_MEM}'")
        # JIT compiling these statements costs seconds (their estimates look huge to the planner) and
        # saves less than that over a million rows: off, for the pass's transaction only.
        cursor.execute("SET LOCAL jit = off")
        if contact_ids is not None:
            # A few events each of many customers, scattered over the table: read them through bitmaps
            # (heap pages in order, each once), not one index probe and one random heap read per row.
            cursor.execute("SET LOCAL enable_indexscan = off")
        # A pass that ran earlier in this transaction (tests nest them in one) left its table.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.value_pass")
        cursor.execute(calc, params)
        if contact_ids is not None:
            cursor.execute("SET LOCAL enable_indexscan TO DEFAULT")
        cursor.execute(write, params)
        written, changes = cursor.fetchone()
        cursor.execute("DROP TABLE pg_temp.value_pass")
        if contact_ids is None:
            cursor.execute(count, params)
            (contacts,) = cursor.fetchone()
        else:
            contacts = len(contact_ids)  # the contacts of events just read (a deleted one takes its events)
    return contacts, written, changes


# --- elsewhere (SQLite): the same figures from a few ORM reads --------------------------------------


def _id_slices(ids: Sequence[int] | None) -> Iterable[list[int] | None]:
    """``ids`` in slices (None: one slice meaning everyone)."""
    if ids is None:
        yield None
        return
    for start in range(0, len(ids), _ID_SLICE):
        yield list(ids[start : start + _ID_SLICE])


def _of(field: str, ids: list[int] | None) -> Q:
    return Q() if ids is None else Q(**{f"{field}__in": ids})


def _rows_python(
    *, settings: ValueSettings, now: dt.datetime, zone: dt.tzinfo, contact_ids: Sequence[int] | None
) -> dict[int, dict[str, Any]]:
    """Every figure of ``contact_ids`` (None: all), by contact id, as the SQL above computes them."""
    since = day_start(now, zone, days_back=INTERACTION_DAYS - 1)
    contacts: dict[int, tuple[str, dt.datetime | None]] = {}
    latest: dict[int, tuple[dt.datetime, int]] = {}
    weights: dict[int, int] = {}
    money: dict[int, list] = {}
    first_follow: dict[int, tuple[str, int | None]] = {}
    for ids in _id_slices(contact_ids):
        for pk, status, added in Contact.objects.filter(_of("pk", ids)).values_list(
            "pk", "status", "first_added_at"
        ):
            contacts[pk] = (status, added)
        events = ContactEvent.objects.filter(_of("contact_id", ids), type__in=list(INTERACTION_WEIGHTS))
        for contact_id, event_type, at in events.values_list("contact_id", "type", "occurred_at").iterator():
            key = (at, _TYPE_CODES[event_type])
            if contact_id not in latest or key > latest[contact_id]:
                latest[contact_id] = key
            if at >= since:
                weights[contact_id] = weights.get(contact_id, 0) + INTERACTION_WEIGHTS[event_type]
        orders = Order.objects.filter(_of("contact_id", ids), currency=settings.currency)
        for contact_id, amount, refunded, paid_at in orders.values_list(
            "contact_id", "amount", "refunded_amount", "paid_at"
        ):
            entry = money.setdefault(contact_id, [Decimal("0"), 0, None, None])
            entry[0] += amount - refunded
            if refunded < amount:
                entry[1] += 1
                entry[2] = paid_at if entry[2] is None else min(entry[2], paid_at)
                entry[3] = paid_at if entry[3] is None else max(entry[3], paid_at)
        follows = Follow.objects.filter(_of("contact_id", ids)).order_by(
            "contact_id", F("added_at").asc(nulls_last=True), "id"
        )
        for contact_id, state, staff_id in follows.values_list("contact_id", "state", "staff_id"):
            first_follow.setdefault(contact_id, (state, staff_id))
    codes = {code: event_type for event_type, code in _TYPE_CODES.items()}
    rows: dict[int, dict[str, Any]] = {}
    for pk, (status, added) in contacts.items():
        ltv, orders, first_at, last_purchase = money.get(pk, [Decimal("0"), 0, None, None])
        last_at, code = latest.get(pk, (None, 0))
        days = days_since(last_at, now, zone)
        i90 = weights.get(pk, 0)
        recency, frequency, value = score_parts(days=days, interactions_90d=i90, ltv=ltv, settings=settings)
        channel, staff_id = first_follow.get(pk, ("", None))
        rows[pk] = {
            "ltv": Decimal(ltv).quantize(Decimal("0.01")),
            "orders": orders,
            "first_purchase_at": first_at,
            "last_purchase_at": last_purchase,
            "last_interaction_at": last_at,
            "last_interaction_type": codes.get(code, ""),
            "interactions_90d": i90,
            "score": recency + frequency + value,
            "score_recency": recency,
            "score_frequency": frequency,
            "score_value": value,
            "tier": tier_of(
                status=status, days_added=days_since(added, now, zone), days=days, ltv=ltv, settings=settings
            ),
            "channel": channel or "",
            "staff_id": staff_id,
        }
    return rows


def _compute_python(
    *, tenant, settings: ValueSettings, now: dt.datetime, zone: dt.tzinfo, contact_ids: Sequence[int] | None
) -> tuple[int, int, int]:
    rows = _rows_python(settings=settings, now=now, zone=zone, contact_ids=contact_ids)
    existing: dict[int, ContactValue] = {}
    for ids in _id_slices(contact_ids):
        for value in ContactValue.objects.filter(_of("contact_id", ids)):
            existing[value.contact_id] = value
    fields = list(_FIGURES)
    create, update, moves = [], [], []
    for pk, figures in rows.items():
        value = existing.get(pk)
        if value is None:
            create.append(ContactValue(contact_id=pk, tier_since=now, computed_at=now, **figures))
            continue
        if all(getattr(value, name) == figures[name] for name in fields):
            continue
        if value.tier != figures["tier"]:
            moves.append(
                event_build(
                    contact_id=pk,
                    type=EventType.TIER_CHANGED,
                    occurred_at=now,
                    payload={"from": value.tier, "to": figures["tier"]},
                )
            )
            value.tier_since = now
        for name, figure in figures.items():
            setattr(value, name, figure)
        value.computed_at = now
        update.append(value)
    ContactValue.objects.bulk_create(create, batch_size=500)
    ContactValue.objects.bulk_update(update, [*fields, "tier_since", "computed_at"], batch_size=500)
    events_record(sorted(moves, key=lambda event: event.contact_id))
    return len(rows), len(create) + len(update), len(moves)


# --- why: the explanation the customer's page shows ---------------------------------------------------

# As the API writes every time (the project's zone, an offset).
_iso = DateTimeField().to_representation

# "last: liked a Moment on 10-27"
_DOING = {
    EventType.ADDED: "added a member",
    EventType.PURCHASED: "purchased",
    EventType.CUSTOM: "a custom event",
    EventType.MOMENT_COMMENTED: "commented on a Moment",
    EventType.MOMENT_LIKED: "liked a Moment",
    EventType.GROUP_JOINED: "joined a group",
    EventType.NOTE: "a note by a member",
}


def value_explain(
    *, value: ContactValue, settings: ValueSettings, now: dt.datetime, zone: dt.tzinfo | None = None
) -> dict[str, Any]:
    """Why the customer is in its tier: a code the dashboard words in zh-CN or en, the figures the
    sentence names, and ``text``, the English sentence. Days are counted at read time (``now``);
    dates are shown in ``zone`` (default: the tenant's)."""
    if zone is None:
        zone = tenant_zone(tenant=value.tenant)
    days = days_since(value.last_interaction_at, now, zone)
    added_at = value.contact.first_added_at if value.tier == Tier.NEW else None
    out: dict[str, Any] = {
        "tier": value.tier,
        "code": value.tier,
        "days": days,
        "last_type": value.last_interaction_type or None,
        "last_at": _iso(value.last_interaction_at) if value.last_interaction_at else None,
        "ltv": f"{value.ltv:.2f}",
        "currency": settings.currency,
        "new_days": settings.new_days,
        "silent_days": settings.silent_days,
        "high_value_ltv": f"{Decimal(settings.high_value_ltv):.2f}",
        "days_since_added": days_since(added_at, now, zone),
    }
    last = ""
    if value.last_interaction_at is not None:
        on = value.last_interaction_at.astimezone(zone).strftime("%m-%d")
        last = f"{_DOING.get(value.last_interaction_type, value.last_interaction_type)} on {on}"
    high = f"{Decimal(settings.high_value_ltv):,.2f}"
    ltv = f"{value.ltv:,.2f} {settings.currency}"
    if value.tier == Tier.LOST:
        out["code"] = "lost"
        text = "Lost: no member follows the customer any more"
        if value.tier_since:
            text += f" (since {value.tier_since.astimezone(zone):%m-%d})"
    elif value.tier == Tier.NEW:
        out["code"] = "new_days"
        text = (
            f"New: added {out['days_since_added'] or 0} days ago (new for the first {settings.new_days} days)"
        )
    elif value.tier == Tier.SILENT:
        if days is None:
            out["code"] = "no_interaction"
            text = "Silent: no interaction yet"
        else:
            out["code"] = "silent_days"
            text = f"Silent: no interaction for {days} days; last: {last}"
    elif value.tier == Tier.HIGH_VALUE:
        out["code"] = "high_value_ltv"
        text = f"High value: LTV {ltv} reaches {high}; last interaction {days} days ago ({last})"
    else:
        out["code"] = "active"
        text = f"Active: last interaction {days} days ago ({last}), within {settings.silent_days} days"
    out["text"] = text
    return out
