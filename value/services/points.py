"""Points (积分) and membership levels (会员等级).

Customers earn points by the tenant's rules from the event stream (``points_earn``: an add, a group
joined, a Moment commented, a referral, a purchase per yuan; a refund takes back what its order earned),
are granted and redeem them through the API (``points_grant`` / ``points_redeem``), and lose what they
have not spent when it expires (``points_expire``). Lifetime earnings (``earned_total``) set the level.

The books hold three invariants, kept by every change here:
- ``PointsAccount.balance`` is the sum of the customer's ledger (``PointsEntry.delta``) and never below
  zero (a CHECK says so too): every change locks the account row (SELECT … FOR UPDATE) first, so two
  redemptions racing for one balance are served one after the other, and the second is refused.
- The balance is also the sum of the credits' ``remaining``: every debit (redemption, reversal, expiry)
  consumes the oldest credits first (FIFO: the first to expire first), so expiry takes only what is left.
- ``level`` is the highest level whose ``min_points`` ``earned_total`` reaches; spending or losing points
  never demotes.

Every line is idempotent by its key: ``event:<id>`` for what the stream earned or took back,
``expire:<credit id>`` for an expiry, the caller's scope + its ``Idempotency-Key`` for the API's.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError

from contacts.models import Contact, ContactEvent, EventCursor, EventType
from scrm.api.errors import Conflict
from scrm.tenancy.actors import Actor
from scrm.tenancy.context import require_current_tenant, tenant_context

from ..models import (
    Level,
    PointsAccount,
    PointsAction,
    PointsEntry,
    PointsReason,
    PointsRule,
    ValueSettings,
)

# The event stream's consumer name (contacts.EventCursor) and how old an event must be to be read:
# a transaction still writing events with lower ids would otherwise be skipped (the same lag as the
# value passes).
CONSUMER = "value.points"
LAG = dt.timedelta(seconds=30)
# Events read per transaction (every type: the cursor moves past them all; the earning ones count).
WINDOW = 10_000
# Customers whose expired credits one transaction settles.
EXPIRE_BATCH = 1_000

POINTS_MAX = 1_000_000  # one grant, redemption or rule
# The ledger's columns are 32-bit integers: lifetime earnings stop there rather than overflow.
EARNED_MAX = 2**31 - 1
NOTE_MAX = 200
IDEMPOTENCY_KEY_MAX = 100
LEVELS_MAX = 50
LEVEL_POINTS_MAX = 1_000_000_000  # a level's threshold (under the column's limit, and in the schema)
LEVEL_NAME_MAX = 32
# A level's tag colour on the dashboard: #rgb / #rrggbb or one of Ant Design's preset names ("gold").
COLOR_PATTERN = re.compile(r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|[a-z]{1,16})?$")

# Which rule an event earns by. A custom event earns by its name; a refund takes back, by no rule.
EARNING_TYPES = {
    EventType.ADDED: PointsAction.ADDED,
    EventType.GROUP_JOINED: PointsAction.GROUP_JOINED,
    EventType.MOMENT_COMMENTED: PointsAction.MOMENT_COMMENTED,
    EventType.PURCHASED: PointsAction.PURCHASE,
}
REFERRED_EVENT = "referred"  # the custom event's name that earns by the ``referred`` rule
STREAM_TYPES = frozenset({*EARNING_TYPES, EventType.CUSTOM, EventType.REFUNDED})

_NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)  # sorts credits that never expire last


def _invalid(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ErrorDetail(message, code=code)]})


# -- accounts and the FIFO book ----------------------------------------------------------------------
#
# The passes work on plain rows, not model instances: a window of the stream touches thousands of
# accounts and writes thousands of lines, and building a model per row cost more than the SQL.


@dataclass(slots=True)
class _Account:
    pk: int
    contact_id: int
    balance: int
    earned_total: int
    level_id: int | None


@dataclass(slots=True)
class _Credit:
    """A credit with something left: a saved line (``pk``) or one of this batch (``line``)."""

    pk: int | None
    remaining: int
    expires_at: dt.datetime | None
    seq: int = 0
    line: dict | None = None

    def fifo(self) -> tuple:
        # The first to expire is spent first; among equals the oldest (one not saved yet comes last).
        return (self.expires_at or _NEVER, self.pk or math.inf, self.seq)


_ACCOUNT_COLUMNS = ("pk", "contact_id", "balance", "earned_total", "level_id")


def _expires_at(start: dt.datetime, days: int) -> dt.datetime | None:
    return start + dt.timedelta(days=days) if days else None


def _expire_days() -> int:
    """The tenant's ``points_expire_days``: read, not made (value.services.settings makes the row)."""
    days = ValueSettings.objects.values_list("points_expire_days", flat=True).first()
    return ValueSettings._meta.get_field("points_expire_days").default if days is None else days


def _levels() -> list[tuple[int, int]]:
    """The tenant's levels as (min_points, id), lowest first."""
    return list(Level.objects.order_by("min_points").values_list("min_points", "pk"))


def _level_for(levels: list[tuple[int, int]], earned_total: int) -> int | None:
    """The id of the highest level ``earned_total`` reaches."""
    reached = None
    for min_points, pk in levels:
        if min_points > earned_total:
            break
        reached = pk
    return reached


def _open_credits(contact_ids: Iterable[int]) -> dict[int, list[_Credit]]:
    """Each customer's credits with something left, in spending order."""
    credits: dict[int, list[_Credit]] = defaultdict(list)
    rows = PointsEntry.objects.filter(contact_id__in=list(contact_ids), remaining__gt=0).values_list(
        "contact_id", "pk", "remaining", "expires_at"
    )
    for contact_id, pk, remaining, expires_at in rows:
        credits[contact_id].append(_Credit(pk=pk, remaining=remaining, expires_at=expires_at))
    for book in credits.values():
        book.sort(key=_Credit.fifo)
    return credits


def _vendor_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _among(column: str, field: str, values: Iterable) -> Q | RawSQL:
    """``field IN values`` as a filter. On PostgreSQL one array parameter (``= ANY``) rather than a
    placeholder per value: binding thousands of them cost more than running the query."""
    if _vendor_postgresql():
        return RawSQL(f"{column} = ANY(%s)", (list(values),), output_field=BooleanField())  # noqa: S611 -- column from code
    return Q(**{f"{field}__in": list(values)})


def _accounts_locked(contact_ids: Iterable[int], *, now: dt.datetime) -> dict[int, _Account]:
    """The customers' accounts, made where missing, locked in contact order (every writer locks in this
    order, so two of them never wait for each other in a circle)."""
    ids = sorted(set(contact_ids))
    if not ids:
        return {}
    tenant = require_current_tenant()
    if _vendor_postgresql():
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {PointsAccount._meta.db_table}
                       (tenant_id, contact_id, balance, earned_total, level_id, updated_at)
                SELECT %s, unnest(%s::bigint[]), 0, 0, NULL, %s
                    ON CONFLICT DO NOTHING
                """,
                [tenant.pk, ids, now],
            )
    else:
        PointsAccount.objects.bulk_create([PointsAccount(contact_id=pk) for pk in ids], ignore_conflicts=True)
    locked = (
        PointsAccount.objects.select_for_update()
        .filter(_among('"value_pointsaccount"."contact_id"', "contact_id", ids))
        .order_by("contact_id")
        .values_list(*_ACCOUNT_COLUMNS)
    )
    return {row[1]: _Account(*row) for row in locked}


def _account_locked(contact_id: int) -> _Account:
    rows = (
        PointsAccount.objects.select_for_update().filter(contact_id=contact_id).values_list(*_ACCOUNT_COLUMNS)
    )
    row = rows.first()
    if row is None:
        # get_or_create inside the transaction: a concurrent first change made it, or this one does.
        PointsAccount.objects.get_or_create(contact_id=contact_id)
        row = rows.get()
    return _Account(*row)


def _credit(
    account: _Account, levels: list[tuple[int, int]], *, points: int, expires_at: dt.datetime | None, **fields
) -> dict | None:
    """Add ``points`` to the account in memory; the ledger line, or None when there is nothing to add."""
    points = min(points, EARNED_MAX - account.earned_total)
    if points <= 0:
        return None
    account.balance += points
    account.earned_total += points
    account.level_id = _level_for(levels, account.earned_total)
    return {
        "contact_id": account.contact_id,
        "delta": points,
        "balance_after": account.balance,
        "remaining": points,
        "expires_at": expires_at,
        **fields,
    }


def _debit(account: _Account, book: list[_Credit], *, points: int, touched: dict[int, _Credit], **fields):
    """Take ``points`` (at most the balance) from the account in memory, spending the oldest credits of
    ``book`` first; saved credits whose ``remaining`` changed are collected in ``touched``."""
    points = min(points, account.balance)
    if points <= 0:
        return None
    left = points
    for credit in book:
        if not left:
            break
        used = min(left, credit.remaining)
        credit.remaining -= used
        left -= used
        if credit.line is not None:
            credit.line["remaining"] = credit.remaining
        else:
            touched[credit.pk] = credit
    book[:] = [credit for credit in book if credit.remaining > 0]
    account.balance -= points
    return {
        "contact_id": account.contact_id,
        "delta": -points,
        "balance_after": account.balance,
        "remaining": 0,
        "expires_at": None,
        **fields,
    }


_LINE_DEFAULTS = {
    "rule_action": "",
    "note": "",
    "idempotency_key": "",
    "event_id": None,
    "actor": None,
    "actor_api_key": None,
}
_COPY_COLUMNS = (
    "tenant_id, contact_id, delta, balance_after, reason, rule_action, note, idempotency_key, event_id, "
    "expires_at, remaining, actor_id, actor_api_key_id, created_at"
)


def _lines_insert(lines: list[dict], *, now: dt.datetime) -> None:
    """Write a batch's ledger lines: COPY on PostgreSQL (a pass writes thousands), bulk_create elsewhere."""
    if not lines:
        return
    lines = [{**_LINE_DEFAULTS, **line} for line in lines]
    if not _vendor_postgresql():
        PointsEntry.objects.bulk_create([PointsEntry(**line) for line in lines], batch_size=500)
        return
    tenant_id = require_current_tenant().pk
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {PointsEntry._meta.db_table} ({_COPY_COLUMNS}) FROM STDIN") as copy,
    ):
        for line in lines:
            copy.write_row(
                (
                    tenant_id,
                    line["contact_id"],
                    line["delta"],
                    line["balance_after"],
                    line["reason"],
                    line["rule_action"],
                    line["note"],
                    line["idempotency_key"],
                    line["event_id"],
                    line["expires_at"],
                    line["remaining"],
                    getattr(line["actor"], "pk", None),
                    getattr(line["actor_api_key"], "pk", None),
                    now,
                )
            )


def _accounts_save(accounts: Iterable[_Account], *, now: dt.datetime) -> None:
    accounts = list(accounts)
    if not accounts:
        return
    if not _vendor_postgresql():
        rows = [
            PointsAccount(
                pk=a.pk, balance=a.balance, earned_total=a.earned_total, level_id=a.level_id, updated_at=now
            )
            for a in accounts
        ]
        PointsAccount.objects.bulk_update(
            rows, ["balance", "earned_total", "level", "updated_at"], batch_size=500
        )
        return
    # One UPDATE … FROM unnest(arrays) for the lot: bulk_update's CASE per row grows with the batch.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {PointsAccount._meta.db_table} AS a
               SET balance = v.balance, earned_total = v.earned_total, level_id = v.level_id,
                   updated_at = %s
              FROM unnest(%s::bigint[], %s::integer[], %s::bigint[], %s::bigint[])
                   AS v(id, balance, earned_total, level_id)
             WHERE a.id = v.id AND a.tenant_id = %s
            """,  # noqa: S608 -- the table's name, no input
            [
                now,
                [a.pk for a in accounts],
                [a.balance for a in accounts],
                [a.earned_total for a in accounts],
                [a.level_id for a in accounts],
                require_current_tenant().pk,
            ],
        )


def _credits_save(credits: Iterable[_Credit]) -> None:
    """Write the ``remaining`` of saved credits a debit spent from."""
    credits = list(credits)
    if not credits:
        return
    if not _vendor_postgresql():
        rows = [PointsEntry(pk=c.pk, remaining=c.remaining) for c in credits]
        PointsEntry.objects.bulk_update(rows, ["remaining"], batch_size=500)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {PointsEntry._meta.db_table} AS e SET remaining = v.remaining
              FROM unnest(%s::bigint[], %s::integer[]) AS v(id, remaining)
             WHERE e.id = v.id AND e.tenant_id = %s
            """,  # noqa: S608 -- the table's name, no input
            [[c.pk for c in credits], [c.remaining for c in credits], require_current_tenant().pk],
        )


# -- earning from the event stream ------------------------------------------------------------------


def _amount(payload: dict, key: str = "amount") -> Decimal | None:
    try:
        amount = Decimal(str(payload.get(key)))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() and amount > 0 else None


def _order_ref(payload: dict) -> str:
    return f"{payload.get('source', '')}:{payload.get('external_id', '')}"[:NOTE_MAX]


def _purchases_earned(refunds: list[dict]) -> dict[tuple[int, Any], tuple[Decimal | None, int, int]]:
    """Per (contact, order id) refunded in the batch: the order's amount, its purchase event's id and
    the points that purchase earned in an earlier batch (one earned in this batch is not saved yet).

    Two queries whatever the batch: the refunded customers' purchase events, then the ledger lines they
    earned (by their idempotency keys).
    """
    wanted = {(e["contact_id"], (e["payload"] or {}).get("order_id")) for e in refunds}
    contacts = {contact for contact, _ in wanted}
    purchases = (
        ContactEvent.objects.filter(contact_id__in=contacts, type=EventType.PURCHASED)
        .order_by("pk")
        .values_list("pk", "contact_id", "payload")
    )
    found: dict[tuple[int, Any], tuple[int, Decimal | None]] = {}
    for pk, contact_id, payload in purchases:
        key = (contact_id, (payload or {}).get("order_id"))
        if key in wanted and key not in found:
            found[key] = (pk, _amount(payload or {}))
    keys = [f"event:{pk}" for pk, _ in found.values()]
    earned = dict(
        PointsEntry.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", "delta")
    )
    return {key: (amount, pk, earned.get(f"event:{pk}", 0)) for key, (pk, amount) in found.items()}


def _reversal(payload: dict, amount: Decimal | None, earned: int) -> int:
    """What a refund takes back: its share of what the order earned (its rate, whatever the rule says
    now), counted on the running refunded total, so refunds in several parts take back exactly what a
    refund in full would (the order's points, no more)."""
    delta = _amount(payload)
    if delta is None or amount is None or earned <= 0:
        return 0
    total = _amount(payload, "refunded_total") or delta
    total = min(total, amount)
    before = max(total - delta, Decimal(0))
    rate = Fraction(earned) / Fraction(amount)
    return math.floor(Fraction(total) * rate) - math.floor(Fraction(before) * rate)


def _cursor_locked() -> EventCursor:
    EventCursor.objects.get_or_create(consumer=CONSUMER)
    return EventCursor.objects.select_for_update().get(consumer=CONSUMER)


def _ripe_upto(*, after: int, now: dt.datetime) -> int:
    """The highest event id past ``after`` with no event younger than ``LAG`` at or below it."""
    events = ContactEvent.objects.filter(pk__gt=after)
    young = events.filter(created_at__gt=now - LAG).order_by("pk").values_list("pk", flat=True).first()
    if young is not None:
        events = events.filter(pk__lt=young)
    return events.order_by("-pk").values_list("pk", flat=True).first() or after


def _earn_window(*, now: dt.datetime) -> tuple[int, bool]:
    """One transaction of ``points_earn``: the entries written, and whether there may be more to read."""
    with transaction.atomic():
        # The cursor's lock makes two passes of one tenant (a tick and a nightly) take turns.
        cursor = _cursor_locked()
        rules = dict(PointsRule.objects.filter(is_active=True).values_list("action", "points"))
        if not rules and not PointsEntry.objects.filter(rule_action=PointsAction.PURCHASE).exists():
            # Nothing can earn, and no refund has points to take back: move past the ripe events
            # without reading them (a tenant without rules, or the first pass over a long history).
            cursor.position = _ripe_upto(after=cursor.position, now=now)
            cursor.save(update_fields=["position", "updated_at"])
            return 0, False
        window = (
            ContactEvent.objects.filter(pk__gt=cursor.position)
            .order_by("pk")
            .annotate(young=ExpressionWrapper(Q(created_at__gt=now - LAG), output_field=BooleanField()))
            .values("pk", "contact_id", "type", "payload", "occurred_at", "young")[:WINDOW]
        )
        ripe: list[dict] = []
        read = 0
        for event in window:
            read += 1
            if event["young"]:
                break  # nothing past an event too young: one with a lower id may still be in flight
            ripe.append(event)
        if not ripe:
            return 0, False
        # Without rules only refunds count (they take back what purchases earned before).
        wanted = STREAM_TYPES if rules else {EventType.REFUNDED}
        written = _earn_events([e for e in ripe if e["type"] in wanted], rules=rules, now=now)
        cursor.position = ripe[-1]["pk"]
        cursor.save(update_fields=["position", "updated_at"])
        return written, len(ripe) == read == WINDOW


def _earn_plan(events: list[dict], rules: dict[str, int]) -> list[tuple[dict, str | None, int]]:
    """What each event would change, before locking anything: (event, the rule's action, the points it
    earns) for a credit, (event, None, 0) for a refund's reversal (its points are known in order)."""
    plan: list[tuple[dict, str | None, int]] = []
    for event in events:
        payload = event["payload"] or {}
        if event["type"] == EventType.REFUNDED:
            plan.append((event, None, 0))
            continue
        action = EARNING_TYPES.get(event["type"])
        if event["type"] == EventType.CUSTOM and payload.get("name") == REFERRED_EVENT:
            action = PointsAction.REFERRED
        if action is None or action not in rules:
            continue
        points = rules[action]
        if action == PointsAction.PURCHASE:
            amount = _amount(payload)
            points = math.floor(Fraction(amount) * points) if amount is not None else 0
        if points > 0:
            plan.append((event, action, points))
    return plan


def _earn_events(events: list[dict], *, rules: dict[str, int], now: dt.datetime) -> int:
    if not events:
        return 0
    # Earn each event once, even if the cursor were moved back.
    keys = [f"event:{e['pk']}" for e in events]
    done = set(
        PointsEntry.objects.filter(
            _among('"value_pointsentry"."idempotency_key"', "idempotency_key", keys)
        ).values_list("idempotency_key", flat=True)
    )
    events = [e for e in events if f"event:{e['pk']}" not in done]
    plan = _earn_plan(events, rules)
    if not plan:
        return 0
    accounts = _accounts_locked((event["contact_id"] for event, _, _ in plan), now=now)
    levels = _levels()
    days = _expire_days()
    reversing = {event["contact_id"] for event, action, _ in plan if action is None}
    books = _open_credits(reversing)
    orders = _purchases_earned([event for event, action, _ in plan if action is None]) if reversing else {}
    earned_here: dict[int, int] = {}  # purchase event id → points, for the purchases of this batch
    lines: list[dict] = []
    touched: dict[int, _Credit] = {}
    changed: dict[int, _Account] = {}
    for seq, (event, action, points) in enumerate(plan):
        payload = event["payload"] or {}
        account = accounts[event["contact_id"]]
        book = books[event["contact_id"]]
        keyed = {"event_id": event["pk"], "idempotency_key": f"event:{event['pk']}"}
        if action is not None:
            line = _credit(
                account,
                levels,
                points=points,
                expires_at=_expires_at(event["occurred_at"], days),
                reason=PointsReason.EARNED,
                rule_action=action,
                note=_order_ref(payload) if event["type"] in (EventType.PURCHASED, EventType.CUSTOM) else "",
                **keyed,
            )
            if line is not None:
                earned_here[event["pk"]] = line["delta"]
                if event["contact_id"] in reversing:
                    book.append(
                        _Credit(
                            pk=None,
                            remaining=line["delta"],
                            expires_at=line["expires_at"],
                            seq=seq,
                            line=line,
                        )
                    )
                    book.sort(key=_Credit.fifo)
        else:
            amount, purchase, earned = orders.get(
                (event["contact_id"], payload.get("order_id")), (None, None, 0)
            )
            line = _debit(
                account,
                book,
                points=_reversal(payload, amount, earned_here.get(purchase, earned)),
                touched=touched,
                reason=PointsReason.REVERSED,
                rule_action=PointsAction.PURCHASE,
                note=_order_ref(payload),
                **keyed,
            )
        if line is not None:
            lines.append(line)
            changed[account.contact_id] = account
    _lines_insert(lines, now=now)
    _credits_save(touched.values())
    _accounts_save(changed.values(), now=now)
    return len(lines)


def points_earn(*, tenant, now: dt.datetime | None = None) -> int:
    """Earn by the active rules from the events past the ``value.points`` cursor; the entries written.

    Reads events at least ``LAG`` old, ``WINDOW`` at a time, each window in one transaction with the
    cursor. A rule earns from the events read while it is active (rules are not retroactive); a refund
    takes back what its order's purchase earned (``_reversal``), however the rules changed since, and
    never more than the balance. Batched: a handful of queries per window, never one per event.
    """
    now = now or timezone.now()
    written = 0
    with tenant_context(tenant):
        while True:
            count, more = _earn_window(now=now)
            written += count
            if not more:
                return written


# -- grants and redemptions ---------------------------------------------------------------------------


def _idempotency_key(actor: Actor, key: str) -> str:
    # A key is the caller's own: the same key from another member or API key is another request.
    # (A NUL, which no HTTP header should carry, is dropped: PostgreSQL text cannot hold it.)
    key = (key or "").replace("\x00", "").strip()[:IDEMPOTENCY_KEY_MAX]
    return f"{actor.idempotency_scope()}:{key}" if key else ""


def _replayed(key: str, *, contact: Contact, points: int, reason: str) -> PointsEntry | None:
    """The entry an earlier request with this key made (marked ``replayed``), if any; a key reused for
    another request (another customer, amount or kind) is a 409."""
    if not key:
        return None
    entry = PointsEntry.objects.filter(idempotency_key=key).select_related("actor", "actor_api_key").first()
    if entry is None:
        return None
    if (entry.contact_id, abs(entry.delta), entry.reason) != (contact.pk, points, reason):
        raise Conflict(
            "This Idempotency-Key was used for another request (another customer, number of points or "
            "grant/redeem); use a new key for a new request.",
            code="idempotency_key_reused",
        )
    entry.replayed = True
    return entry


def _points_change(
    *, contact: Contact, points: int, note: str, actor: Actor, idempotency_key: str, reason: str
) -> PointsEntry:
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= POINTS_MAX:
        raise _invalid("points", f"A whole number from 1 to {POINTS_MAX}.", "out_of_range")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise _invalid("note", f"At most {NOTE_MAX} characters.", "max_length")
    key = _idempotency_key(actor, idempotency_key)
    now = timezone.now()
    try:
        with transaction.atomic():
            replay = _replayed(key, contact=contact, points=points, reason=reason)
            if replay is not None:
                return replay
            account = _account_locked(contact.pk)
            # A request with the same key may have committed while this one waited for the lock.
            replay = _replayed(key, contact=contact, points=points, reason=reason)
            if replay is not None:
                return replay
            fields = {"note": note, "idempotency_key": key, "reason": reason, **actor.as_fields("actor")}
            touched: dict[int, _Credit] = {}
            if reason == PointsReason.GRANTED:
                if points > EARNED_MAX - account.earned_total:
                    raise _invalid(
                        "points",
                        "The customer's lifetime points would pass what a ledger holds.",
                        "too_large",
                    )
                line = _credit(
                    account, _levels(), points=points, expires_at=_expires_at(now, _expire_days()), **fields
                )
            else:
                if points > account.balance:
                    raise Conflict(
                        f"The customer has {account.balance} points; {points} cannot be redeemed.",
                        code="insufficient_points",
                    )
                line = _debit(
                    account, _open_credits([contact.pk])[contact.pk], points=points, touched=touched, **fields
                )
            entry = PointsEntry.objects.create(**line)
            _credits_save(touched.values())
            _accounts_save([account], now=now)
    except IntegrityError:
        # Two requests with the same key raced past the checks (for two customers: no common lock).
        replay = _replayed(key, contact=contact, points=points, reason=reason) if key else None
        if replay is None:
            raise
        return replay
    entry.replayed = False
    return entry


def points_grant(
    *, contact: Contact, points: int, note: str = "", actor: Actor, idempotency_key: str = ""
) -> PointsEntry:
    """Give the customer ``points`` (1 to 1,000,000): a credit that expires like earned ones, counts
    towards the level, and is recorded as the actor's. The same ``idempotency_key`` of the same actor
    again returns the first entry (``entry.replayed`` is then true) and changes nothing."""
    return _points_change(
        contact=contact,
        points=points,
        note=note,
        actor=actor,
        idempotency_key=idempotency_key,
        reason=PointsReason.GRANTED,
    )


def points_grant_many(
    *,
    grants: list[tuple[int, str]],
    points: int,
    note: str = "",
    actor: Actor,
    now: dt.datetime | None = None,
) -> int:
    """``points_grant`` for many customers at once, set-based (a handful of queries for hundreds of
    grants, where one at a time costs several each): ``grants`` are (contact id, idempotency key) pairs,
    each a credit of ``points`` with the same effects (expiry, lifetime total, level). A key already in
    the ledger grants nothing, so a batch done again after a crash grants nothing twice; accounts are
    locked in contact order as every points writer does, and the keys read again under the locks.
    Returns the credits written. (SOP steps grant this way, one batch per engine pass.)"""
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= POINTS_MAX:
        raise _invalid("points", f"A whole number from 1 to {POINTS_MAX}.", "out_of_range")
    if not grants:
        return 0
    now = now or timezone.now()
    keys = [_idempotency_key(actor, key) for _, key in grants]
    with transaction.atomic():
        accounts = _accounts_locked([contact_id for contact_id, _ in grants], now=now)
        granted = set(
            PointsEntry.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True)
        )
        levels = _levels()
        expires_at = _expires_at(now, _expire_days())
        lines, changed = [], {}
        for (contact_id, _), key in zip(grants, keys, strict=True):
            if key in granted:
                continue
            granted.add(key)
            account = accounts[contact_id]
            line = _credit(
                account,
                levels,
                points=points,
                expires_at=expires_at,
                note=note,
                idempotency_key=key,
                reason=PointsReason.GRANTED,
                **actor.as_fields("actor"),
            )
            if line is not None:
                lines.append(line)
                changed[contact_id] = account
        _lines_insert(lines, now=now)
        _accounts_save(changed.values(), now=now)
    return len(lines)


def points_redeem(
    *, contact: Contact, points: int, note: str = "", actor: Actor, idempotency_key: str = ""
) -> PointsEntry:
    """Take ``points`` from the customer's balance, spending the oldest credits first; more than the
    balance is a 409 ``insufficient_points``. The account row is locked from the check to the write, so
    concurrent redemptions never take the balance below zero. Idempotent like ``points_grant``."""
    return _points_change(
        contact=contact,
        points=points,
        note=note,
        actor=actor,
        idempotency_key=idempotency_key,
        reason=PointsReason.REDEEMED,
    )


# -- expiry ---------------------------------------------------------------------------------------------


def _expire_batch(*, now: dt.datetime) -> tuple[int, bool]:
    with transaction.atomic():
        due = list(
            PointsEntry.objects.filter(expires_at__lte=now, remaining__gt=0)
            .order_by("contact_id")
            .values_list("contact_id", flat=True)
            .distinct()[:EXPIRE_BATCH]
        )
        if not due:
            return 0, False
        accounts = _accounts_locked(due, now=now)
        # Read again under the locks: a redemption may have spent some of it meanwhile.
        credits = list(
            PointsEntry.objects.filter(contact_id__in=due, expires_at__lte=now, remaining__gt=0)
            .order_by("contact_id", "expires_at", "pk")
            .values_list("pk", "contact_id", "remaining")
        )
        lines = []
        for pk, contact_id, remaining in credits:
            account = accounts[contact_id]
            points = min(remaining, account.balance)
            if points > 0:
                account.balance -= points
                lines.append(
                    {
                        "contact_id": contact_id,
                        "delta": -points,
                        "balance_after": account.balance,
                        "reason": PointsReason.EXPIRED,
                        "idempotency_key": f"expire:{pk}",
                        "remaining": 0,
                        "expires_at": None,
                    }
                )
        _lines_insert(lines, now=now)
        PointsEntry.objects.filter(pk__in=[pk for pk, _, _ in credits]).update(remaining=0)
        _accounts_save(accounts.values(), now=now)
        return len(lines), len(due) == EXPIRE_BATCH


def points_expire(*, tenant, now: dt.datetime | None = None) -> int:
    """Expire what is left of credits whose ``expires_at`` has come: one ``expired`` debit per credit
    (idempotent by ``expire:<credit id>``), the balance down by it. The nightly pass; it also recomputes
    the levels (a no-op unless a level change raced with an earning)."""
    now = now or timezone.now()
    expired = 0
    with tenant_context(tenant):
        while True:
            count, more = _expire_batch(now=now)
            expired += count
            if not more:
                break
        levels_recompute()
    return expired


# -- levels -----------------------------------------------------------------------------------------------


def levels_recompute() -> int:
    """Set every account of the tenant in context to the level its ``earned_total`` reaches: one UPDATE
    per level (a range of earned_total), touching only the accounts whose level changes. The count."""
    levels = _levels()
    accounts = PointsAccount.objects.all()
    if not levels:
        return accounts.filter(level__isnull=False).update(level=None)
    changed = accounts.filter(earned_total__lt=levels[0][0], level__isnull=False).update(level=None)
    for (min_points, pk), above in zip(levels, [*levels[1:], None], strict=True):
        reach = accounts.filter(earned_total__gte=min_points)
        if above is not None:
            reach = reach.filter(earned_total__lt=above[0])
        # exclude() keeps the accounts with no level (NOT (level_id = pk AND level_id IS NOT NULL)).
        changed += reach.exclude(level_id=pk).update(level_id=pk)
    return changed


def _level_clean(data: dict[str, Any], *, level: Level | None) -> dict[str, Any]:
    errors: dict[str, list[ErrorDetail]] = {}
    values: dict[str, Any] = {}
    others = Level.objects.all() if level is None else Level.objects.exclude(pk=level.pk)
    if "name" in data or level is None:
        name = (data.get("name") or "").strip()
        if not name:
            errors["name"] = [ErrorDetail("A name is required.", code="required")]
        elif len(name) > LEVEL_NAME_MAX:
            errors["name"] = [ErrorDetail(f"At most {LEVEL_NAME_MAX} characters.", code="max_length")]
        elif others.filter(name=name).exists():
            errors["name"] = [ErrorDetail("Another level has this name.", code="unique")]
        values["name"] = name
    if "min_points" in data or level is None:
        points = data.get("min_points")
        if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= LEVEL_POINTS_MAX:
            errors["min_points"] = [
                ErrorDetail(f"A whole number of points from 0 to {LEVEL_POINTS_MAX}.", code="out_of_range")
            ]
        elif others.filter(min_points=points).exists():
            errors["min_points"] = [ErrorDetail("Another level starts at these points.", code="unique")]
        values["min_points"] = points
    if "color" in data:
        color = (data.get("color") or "").strip()
        if not COLOR_PATTERN.match(color):
            errors["color"] = [
                ErrorDetail('A colour as "#rrggbb" or an Ant Design preset name ("gold").', code="invalid")
            ]
        values["color"] = color
    if level is None and Level.objects.count() >= LEVELS_MAX:
        errors["non_field_errors"] = [ErrorDetail(f"At most {LEVELS_MAX} levels.", code="too_many")]
    if errors:
        raise ValidationError(errors)
    return values


def _unique_race(exc: IntegrityError) -> ValidationError:
    # Two writes raced past the checks above; the constraint names the field.
    field = "name" if "level_unique_name" in str(exc) else "min_points"
    return _invalid(field, "Another level has this value.", "unique")


def level_create(*, data: dict[str, Any]) -> Level:
    """A level (name, min_points, color); the accounts that reach it move up at once."""
    values = _level_clean(data, level=None)
    try:
        with transaction.atomic():
            level = Level.objects.create(**values)
            levels_recompute()
    except IntegrityError as exc:
        raise _unique_race(exc) from exc
    return level


def level_update(*, level: Level, data: dict[str, Any]) -> Level:
    """Change the fields given; a new ``min_points`` moves the accounts it concerns at once."""
    values = _level_clean(data, level=level)
    try:
        with transaction.atomic():
            for field, value in values.items():
                setattr(level, field, value)
            level.save()
            if "min_points" in values:
                levels_recompute()
    except IntegrityError as exc:
        raise _unique_race(exc) from exc
    return level


def level_delete(*, level: Level) -> None:
    """Delete a level: its customers fall to the highest level below it (or none)."""
    with transaction.atomic():
        level.delete()
        levels_recompute()


def level_customer_counts() -> dict[int, int]:
    """How many customers are at each level: one GROUP BY over the accounts."""
    rows = (
        PointsAccount.objects.filter(level__isnull=False)
        .values_list("level_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return dict(rows)


# -- rules --------------------------------------------------------------------------------------------------


def _rule_points(data: dict[str, Any], errors: dict) -> int | None:
    points = data.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= POINTS_MAX:
        errors["points"] = [
            ErrorDetail(
                f"A whole number from 1 to {POINTS_MAX} (per yuan for a purchase).", code="out_of_range"
            )
        ]
        return None
    return points


def rule_create(*, action: str, points: int, is_active: bool = True) -> PointsRule:
    """The rule of ``action`` (one per action: a second is a 400 ``unique`` on action). It earns from
    the events read from now on."""
    errors: dict[str, list[ErrorDetail]] = {}
    if action not in PointsAction.values:
        errors["action"] = [ErrorDetail(f"One of: {', '.join(PointsAction.values)}.", code="invalid_choice")]
    elif PointsRule.objects.filter(action=action).exists():
        errors["action"] = [ErrorDetail("This action has a rule already: change that one.", code="unique")]
    _rule_points({"points": points}, errors)
    if not isinstance(is_active, bool):
        errors["is_active"] = [ErrorDetail("true or false.", code="invalid")]
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            return PointsRule.objects.create(action=action, points=points, is_active=is_active)
    except IntegrityError as exc:
        raise _invalid("action", "This action has a rule already: change that one.", "unique") from exc


def rule_update(*, rule: PointsRule, data: dict[str, Any]) -> PointsRule:
    """Change ``points`` and/or ``is_active``; the action is what the rule is, never changed."""
    errors: dict[str, list[ErrorDetail]] = {}
    if "action" in data and data["action"] != rule.action:
        errors["action"] = [
            ErrorDetail("A rule's action cannot change: delete it and add one.", code="immutable")
        ]
    if "points" in data:
        _rule_points(data, errors)
    if "is_active" in data and not isinstance(data["is_active"], bool):
        errors["is_active"] = [ErrorDetail("true or false.", code="invalid")]
    if errors:
        raise ValidationError(errors)
    for field in ("points", "is_active"):
        if field in data:
            setattr(rule, field, data[field])
    rule.save()
    return rule


def rule_delete(*, rule: PointsRule) -> None:
    # The ledger keeps what the rule earned (its lines name the action, not the rule).
    rule.delete()


# -- reads --------------------------------------------------------------------------------------------------


def points_ledger(contact: Contact) -> QuerySet[PointsEntry]:
    """The customer's ledger, latest first (by id: the order the lines were written)."""
    return (
        PointsEntry.objects.filter(contact=contact).select_related("actor", "actor_api_key").order_by("-pk")
    )


def points_account(contact_id: int) -> PointsAccount | None:
    return PointsAccount.objects.filter(contact_id=contact_id).select_related("level").first()
