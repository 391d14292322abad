"""Orders and custom events pushed by integrators (``POST /api/v1/events/``), and the ones that wait
for their customer (``PendingEvent``) until ``pending_attach`` finds them one.

A batch holds up to ``MAX_BATCH`` items. Each item is validated on its own (``item_clean``): a bad item
fails with its errors and never takes the others down. Its customer is named by exactly one identity
(``IDENTITY_KINDS``); the batch resolves them with one query per kind, never one per item
(``customers_resolve``). An ``id`` that matches nothing fails (``unknown_customer``: ids are ours, none
appears later, and another tenant's is unknown here); an ``external_userid``, ``unionid`` or
``mobile`` that matches nothing is kept as a ``PendingEvent`` and ingested when that customer
appears; a mobile (or unionid) that several customers have fails (``ambiguous_customer``).

Orders are unique per (source, external id): the same order again is a ``duplicate``, a larger
``refunded_amount`` is an ``update`` with a ``refunded`` event for the difference, a changed amount,
currency or customer or a smaller refund is an ``order_conflict`` (the order keeps its first state).
Custom events are unique the same way; a repeat is a ``duplicate``.

Everything one batch accepts is written in one transaction, set-based: one INSERT for the orders and
one for the custom events (on PostgreSQL from a single JSON parameter, ``bulk_create`` on SQLite) and
one COPY for their ``ContactEvent`` rows (``bulk_create`` on SQLite), recorded as done by the caller (an
API key or a member; nobody for pending items attached later and the demo). Writers of one tenant take
a transaction-level advisory lock first, so two batches naming the same order (or the same
``Idempotency-Key``) queue instead of both inserting it; reading the customers comes before it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from contacts.models import Contact, EventType, Follow
from contacts.services.events import _COPY_COLUMNS as EVENT_COLUMNS
from contacts.services.events import EventRow, event_build, events_record, events_record_rows
from scrm.api.errors import Conflict
from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.context import require_current_tenant

from ..models import (
    CustomEvent,
    IdentityKind,
    IngestBatch,
    Order,
    OrderStatus,
    PendingEvent,
    ValueSettings,
)

logger = logging.getLogger(__name__)

MAX_BATCH = 1000
MAX_AMOUNT = Decimal("9999999999.99")
MAX_LINES = 100  # lines of one order
MAX_QUANTITY = 1_000_000
MAX_PROPERTIES_BYTES = 4096
MAX_TEXT = 64  # external ids and identities (the columns' width)
MAX_LINE_NAME = 200
FUTURE_TOLERANCE = dt.timedelta(days=1)  # clocks differ; a day ahead is someone's bug
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
IDEMPOTENCY_TTL = dt.timedelta(hours=24)  # value.nightly deletes older IngestBatch rows
IDEMPOTENCY_KEY_MAX = 100
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

ORDER = "order"
CUSTOM = "custom"
ITEM_TYPES = (ORDER, CUSTOM)
ORDER_STATUSES = ("paid", "refunded")
IDENTITY_KINDS = tuple(IdentityKind.values)  # id, external_userid, unionid, mobile
# What can still appear later: a customer added tomorrow brings its external_userid, unionid and the
# mobile a member types into its remark. An id that names nothing never will.
PENDING_KINDS = (IdentityKind.EXTERNAL_USERID, IdentityKind.UNIONID, IdentityKind.MOBILE)

SOURCE_RE = re.compile(r"[a-z0-9_.-]{1,32}")
NAME_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
CURRENCY_RE = re.compile(r"[A-Z]{3}")
MOBILE_RE = re.compile(r"\+?[0-9][0-9-]{2,31}")
MAX_ID = 2**63 - 1


class Status:
    """An item's outcome, as ``results[].status`` says it."""

    ACCEPTED = "accepted"
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    PENDING = "pending"
    FAILED = "failed"


COUNTS = (
    ("accepted", Status.ACCEPTED),
    ("updated", Status.UPDATED),
    ("duplicates", Status.DUPLICATE),
    ("pending", Status.PENDING),
    ("failed", Status.FAILED),
)

AMBIGUOUS = -1  # customers_resolve's answer for an identity several customers share


# --- validation -------------------------------------------------------------------------------------


class _Errors(dict):
    """An item's errors: ``{field path: [{"code", "message"}, ...]}``."""

    def add(self, path: str, code: str, message: str) -> None:
        self.setdefault(path, []).append({"code": code, "message": message})


@dataclass(slots=True)
class Item:
    """A validated item, its defaults filled in (a refund's time, its amount)."""

    kind: str
    source: str
    external_id: str
    identity: tuple[str, Any]
    occurred_at: dt.datetime
    amount: Decimal = ZERO
    currency: str = ""
    lines: list[dict[str, Any]] = field(default_factory=list)
    refunded: Decimal = ZERO
    refunded_at: dt.datetime | None = None
    name: str = ""
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.source, self.external_id)

    def payload(self) -> dict[str, Any]:
        """The item as JSON that ``item_clean`` takes again and reads the same: what a ``PendingEvent``
        keeps until its customer appears (so a refund's default time stays the push's)."""
        common = {
            "type": self.kind,
            "source": self.source,
            "external_id": self.external_id,
            "customer": dict([self.identity]),
            "occurred_at": self.occurred_at.isoformat(),
        }
        if self.kind == CUSTOM:
            return {**common, "name": self.name, "properties": self.properties}
        refunded = bool(self.refunded)
        return {
            **common,
            "amount": f"{self.amount:.2f}",
            "currency": self.currency,
            "items": self.lines,
            "status": "refunded" if refunded else "paid",
            "refunded_amount": f"{self.refunded:.2f}" if refunded else None,
            "refunded_at": self.refunded_at.isoformat() if refunded and self.refunded_at else None,
        }


@dataclass
class _Context:
    """What validating a batch reads once: the time, the tenant's currency and (lazily) its zone."""

    now: dt.datetime
    currency: str
    _zone: Any = None

    @property
    def zone(self):
        if self._zone is None:
            from campaigns.services.settings import tenant_zone

            self._zone = tenant_zone(tenant=require_current_tenant())
        return self._zone


def tenant_currency() -> str:
    """The currency orders must be in (``ValueSettings.currency``; the default before it is set)."""
    stored = ValueSettings.objects.values_list("currency", flat=True).first()
    return stored or ValueSettings._meta.get_field("currency").default


def _text(
    data: dict, name: str, errors: _Errors, *, max_length: int = MAX_TEXT, required: bool = True
) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            errors.add(name, "required", "This field is required.")
        return None
    if not isinstance(value, str):
        errors.add(name, "invalid", "Not a valid string.")
        return None
    if (refused := _unstorable(value)) is not None:
        errors.add(name, *refused)
        return None
    value = value.strip()
    if not value:
        if required:
            errors.add(name, "blank", "This field may not be blank.")
        return None
    if len(value) > max_length:
        errors.add(name, "max_length", f"Ensure this field has no more than {max_length} characters.")
        return None
    return value


def _money(value: Any, path: str, errors: _Errors, *, positive: bool) -> Decimal | None:
    """A sum of money: a JSON string ("199.00") or number, at most 2 decimals, up to MAX_AMOUNT."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors.add(path, "invalid", 'A valid number is required (a string such as "199.00").')
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        errors.add(path, "invalid", 'A valid number is required (a string such as "199.00").')
        return None
    if not amount.is_finite():
        errors.add(path, "invalid", "A valid number is required.")
        return None
    if amount < 0 or (positive and amount == 0):
        errors.add(path, "min_value", "Must be greater than 0." if positive else "Must not be negative.")
        return None
    if amount > MAX_AMOUNT:  # before quantize, which fails on numbers beyond its precision
        errors.add(path, "max_value", f"Ensure this value is less than or equal to {MAX_AMOUNT}.")
        return None
    if amount != amount.quantize(CENT, rounding=ROUND_DOWN):
        errors.add(path, "max_decimal_places", "Ensure that there are no more than 2 decimal places.")
        return None
    return amount.quantize(CENT)


def _instant(
    data: dict, name: str, errors: _Errors, context: _Context, *, required: bool
) -> dt.datetime | None:
    """An ISO 8601 date-time; one without an offset is read in the tenant's time zone."""
    value = data.get(name)
    if value is None:
        if required:
            errors.add(name, "required", "This field is required.")
        return None
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        errors.add(name, "invalid", "An ISO 8601 date-time is required, e.g. 2026-11-02T10:00:00+08:00.")
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, context.zone)
    try:
        parsed = parsed.astimezone(dt.UTC)
    except OverflowError:
        parsed = None
    if parsed is None or parsed < EARLIEST:
        errors.add(name, "invalid", "Not a plausible time (before 1970).")
        return None
    if parsed > context.now + FUTURE_TOLERANCE:
        errors.add(name, "future", "More than a day in the future.")
        return None
    return parsed


def _identity(data: dict, errors: _Errors) -> tuple[str, Any] | None:
    customer = data.get("customer")
    explain = f"Name the customer with exactly one of: {', '.join(IDENTITY_KINDS)}."
    if customer is None:
        errors.add("customer", "required", explain)
        return None
    if not isinstance(customer, dict) or len(customer) != 1 or next(iter(customer)) not in IDENTITY_KINDS:
        errors.add("customer", "invalid", explain)
        return None
    ((kind, value),) = customer.items()
    path = f"customer.{kind}"
    if kind == IdentityKind.ID:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
            errors.add(path, "invalid", "A contact id (a whole number).")
            return None
        return (kind, value)
    if not isinstance(value, str) or _unstorable(value) or not value.strip() or len(value.strip()) > MAX_TEXT:
        errors.add(path, "invalid", f"A non-empty string of at most {MAX_TEXT} characters.")
        return None
    value = value.strip()
    if kind == IdentityKind.MOBILE and not MOBILE_RE.fullmatch(value):
        errors.add(path, "invalid", "A mobile number as members type it in a remark, e.g. 13800138000.")
        return None
    return (kind, value)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _unstorable(text: str) -> tuple[str, str] | None:
    """Why PostgreSQL would refuse to store this text (as DRF's CharField refuses it), if it would: a NUL
    character, or a lone UTF-16 surrogate ("\\ud800" in JSON), which is no character at all."""
    if "\x00" in text:
        return ("null_characters_not_allowed", "Null characters are not allowed.")
    if not text.isascii() and _SURROGATE.search(text):
        return ("surrogate_characters_not_allowed", "Surrogate characters are not allowed.")
    return None


def _lines(data: dict, errors: _Errors) -> list[dict[str, Any]]:
    raw = data.get("items")
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.add("items", "not_a_list", "A list of order lines is required.")
        return []
    if len(raw) > MAX_LINES:
        errors.add("items", "max_length", f"At most {MAX_LINES} lines.")
        return []
    lines = []
    for n, line in enumerate(raw):
        path = f"items.{n}"
        if not isinstance(line, dict):
            errors.add(path, "invalid", "An object {sku, name, quantity, price} is required.")
            continue
        mistakes = _Errors()
        clean: dict[str, Any] = {}
        for name, limit in (("sku", MAX_TEXT), ("name", MAX_LINE_NAME)):
            value = _text(line, name, mistakes, max_length=limit, required=False)
            if value is not None:
                clean[name] = value
        quantity = line.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
            mistakes.add("quantity", "invalid", f"A whole number from 1 to {MAX_QUANTITY}.")
        else:
            clean["quantity"] = quantity
        if line.get("price") is not None:
            price = _money(line["price"], "price", mistakes, positive=False)
            if price is not None:
                clean["price"] = f"{price:.2f}"
        for name, found in mistakes.items():
            errors.setdefault(f"{path}.{name}", []).extend(found)
        lines.append(clean)
    return lines


def item_clean(raw: Any, *, context: _Context) -> Item | _Errors:
    """One item of a batch, validated and normalised, or its errors (every field's, not the first)."""
    errors = _Errors()
    if not isinstance(raw, dict):
        errors.add("non_field_errors", "invalid", "Each event is a JSON object.")
        return errors
    kind = raw.get("type")
    if kind is None:
        errors.add("type", "required", "This field is required.")
    elif kind not in ITEM_TYPES:
        errors.add("type", "invalid_choice", f"One of: {', '.join(ITEM_TYPES)}.")
        kind = None
    source = _text(raw, "source", errors, max_length=32)
    if source is not None and not SOURCE_RE.fullmatch(source):
        errors.add("source", "invalid", "Lower-case letters, digits and _ . - (at most 32).")
        source = None
    external_id = _text(raw, "external_id", errors)
    identity = _identity(raw, errors)
    occurred_at = _instant(raw, "occurred_at", errors, context, required=True)
    extra: dict[str, Any] = {}
    if kind == ORDER:
        extra = _order_clean(raw, errors, context, occurred_at)
    elif kind == CUSTOM:
        extra = _custom_clean(raw, errors)
    if errors:
        return errors
    return Item(
        kind=kind, source=source, external_id=external_id, identity=identity, occurred_at=occurred_at, **extra
    )


def _order_clean(
    raw: dict, errors: _Errors, context: _Context, occurred_at: dt.datetime | None
) -> dict[str, Any]:
    amount = None
    if raw.get("amount") is None:
        errors.add("amount", "required", "This field is required.")
    else:
        amount = _money(raw["amount"], "amount", errors, positive=True)
    currency = _text(raw, "currency", errors, max_length=3)
    if currency is not None and not CURRENCY_RE.fullmatch(currency):
        errors.add("currency", "invalid", "An ISO 4217 code in capitals, e.g. CNY.")
        currency = None
    elif currency is not None and currency != context.currency:
        errors.add(
            "currency",
            "currency_mismatch",
            f"This tenant counts value in {context.currency}; orders in {currency} are not converted.",
        )
        currency = None
    lines = _lines(raw, errors)
    status = raw.get("status", "paid")
    if status not in ORDER_STATUSES:
        errors.add("status", "invalid_choice", f"One of: {', '.join(ORDER_STATUSES)}.")
        status = None
    refunded, refunded_at = ZERO, None
    if status == "paid":
        for name in ("refunded_amount", "refunded_at"):
            if raw.get(name) is not None:
                errors.add(name, "invalid", 'Only for an order with status "refunded".')
    elif status == "refunded":
        if raw.get("refunded_amount") is None:
            refunded = amount  # refunded without saying how much: all of it
        else:
            refunded = _money(raw["refunded_amount"], "refunded_amount", errors, positive=True)
            if refunded is not None and amount is not None and refunded > amount:
                errors.add("refunded_amount", "max_value", "More than the order's amount.")
        refunded_at = _instant(raw, "refunded_at", errors, context, required=False) or context.now
        if occurred_at is not None and refunded_at < occurred_at:
            errors.add("refunded_at", "invalid", "Before the order was paid (occurred_at).")
    return {
        "amount": amount,
        "currency": currency,
        "lines": lines,
        "refunded": refunded or ZERO,
        "refunded_at": refunded_at,
    }


def _custom_clean(raw: dict, errors: _Errors) -> dict[str, Any]:
    name = _text(raw, "name", errors)
    if name is not None and not NAME_RE.fullmatch(name):
        errors.add("name", "invalid", "Letters, digits and _ . : - (at most 64).")
        name = None
    properties = raw.get("properties")
    if properties is None:
        properties = {}
    elif not isinstance(properties, dict):
        errors.add("properties", "invalid", "A JSON object is required.")
        properties = {}
    else:
        dumped = json.dumps(properties, ensure_ascii=False)
        if (refused := _unstorable(dumped.replace("\\u0000", "\x00"))) is not None:
            errors.add("properties", *refused)  # jsonb refuses them in keys and strings alike
        elif len(dumped.encode()) > MAX_PROPERTIES_BYTES:
            errors.add("properties", "max_length", f"At most {MAX_PROPERTIES_BYTES} bytes of JSON.")
    return {"name": name, "properties": properties}


# --- identities -------------------------------------------------------------------------------------


def customers_resolve(identities: Iterable[tuple[str, Any]]) -> dict[tuple[str, Any], int]:
    """The contact each identity names (``AMBIGUOUS`` when several do); the unmatched are left out.

    One query per kind of identity present, whatever the number of items.
    """
    wanted: dict[str, set] = {}
    for kind, value in identities:
        wanted.setdefault(kind, set()).add(value)
    found: dict[tuple[str, Any], set[int]] = {}
    if wanted.get(IdentityKind.ID):
        ids = Contact.objects.filter(pk__in=_many(wanted[IdentityKind.ID], integers=True))
        for pk in ids.values_list("pk", flat=True):
            found[(IdentityKind.ID, pk)] = {pk}
    for kind in (IdentityKind.EXTERNAL_USERID, IdentityKind.UNIONID):
        if wanted.get(kind):
            rows = Contact.objects.filter(**{f"{kind}__in": _many(wanted[kind])}).values_list(kind, "pk")
            for value, pk in rows:
                found.setdefault((kind, value), set()).add(pk)
    if wanted.get(IdentityKind.MOBILE):
        for mobile, pk in _mobiles_resolve(sorted(wanted[IdentityKind.MOBILE])):
            found.setdefault((IdentityKind.MOBILE, mobile), set()).add(pk)
    return {identity: next(iter(pks)) if len(pks) == 1 else AMBIGUOUS for identity, pks in found.items()}


def _mobiles_resolve(mobiles: list[str]) -> list[tuple[str, int]]:
    """(mobile, contact id) for every follow whose remark lists one of ``mobiles``: one query."""
    tenant_id = require_current_tenant().pk
    if connection.vendor == "postgresql":
        # One GIN index lookup per mobile (``?``). A single ``remark_mobiles ?| array[...]`` reads the
        # same thing but the planner sends it to a scan of every follow once the array is long.
        sql = (
            "SELECT DISTINCT m.value, f.contact_id FROM jsonb_array_elements_text(%s::jsonb) AS m(value)"
            " JOIN contacts_follow f ON f.remark_mobiles ? m.value WHERE f.tenant_id = %s"
        )
        params: list[Any] = [json.dumps(mobiles), tenant_id]
    else:
        sql = (
            "SELECT DISTINCT j.value, f.contact_id FROM contacts_follow f, json_each(f.remark_mobiles) j"
            " WHERE f.tenant_id = %s AND j.value IN (SELECT value FROM json_each(%s))"
        )
        params = [tenant_id, json.dumps(mobiles)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(str(mobile), pk) for mobile, pk in cursor.fetchall()]


def _many(values: Iterable, *, integers: bool = False) -> list | RawSQL:
    """The right side of an ``__in`` over up to thousands of values. On PostgreSQL one JSON parameter:
    Django would write a placeholder per value, each resolved and adapted one by one in Python."""
    values = list(values)
    if connection.vendor != "postgresql":
        return values
    if integers:
        return RawSQL("SELECT (jsonb_array_elements_text(%s::jsonb))::bigint", [json.dumps(values)])
    return RawSQL("SELECT jsonb_array_elements_text(%s::jsonb)", [json.dumps(values)])


# --- ingestion --------------------------------------------------------------------------------------


@dataclass
class IngestOutcome:
    response: dict[str, Any]
    replayed: bool = False  # the stored answer to an earlier request with this Idempotency-Key


@dataclass(slots=True)
class _NewOrder:
    """An order a batch makes: the fields ``Order`` gets, without a model instance per row."""

    source: str
    external_id: str
    contact_id: int
    amount: Decimal
    currency: str
    items: list
    refunded_amount: Decimal
    status: str
    paid_at: dt.datetime
    refunded_at: dt.datetime | None
    updated_at: dt.datetime | None = None
    pk: int | None = None


@dataclass
class _OrderState:
    """An order as the batch sees it: stored, or made by an earlier item of the batch."""

    order: Order | _NewOrder
    new: bool
    changed: bool = False


@dataclass
class _Writes:
    orders: list[_NewOrder] = field(default_factory=list)  # new, in the order the items made them
    customs: list[Item] = field(default_factory=list)  # new custom events (with their customer)
    custom_contacts: list[int] = field(default_factory=list)
    # (contact id, type, occurred_at, payload, order whose id the payload names first)
    events: list[tuple[int, str, dt.datetime, dict[str, Any], Order | _NewOrder | None]] = field(
        default_factory=list
    )
    pending: dict[tuple[str, str, str], Item] = field(default_factory=dict)
    superseded: set[tuple[str, str, str]] = field(default_factory=set)


def _result(index: int, status: str, contact_id: int | None = None, errors: dict | None = None) -> dict:
    return {"index": index, "status": status, "contact_id": contact_id, "errors": errors or None}


def _failure(index: int, path: str, code: str, message: str, contact_id: int | None = None) -> dict:
    return _result(index, Status.FAILED, contact_id, {path: [{"code": code, "message": message}]})


def _lock() -> None:
    """One writer of a tenant's orders, custom events and pending items at a time (PostgreSQL; SQLite's
    IMMEDIATE transactions admit one writer already). Held until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"value.ingest:{require_current_tenant().pk}"]
            )


def _request_hash(items: Sequence[Any]) -> str:
    body = json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def events_ingest(*, items: Sequence[Any], actor: Actor, idempotency_key: str = "") -> IngestOutcome:
    """Ingest one batch (validated by the caller for its size only: 1 to ``MAX_BATCH`` items).

    With an ``idempotency_key`` (the caller's ``Idempotency-Key``, scoped here by the actor), the same
    key and the same items answer the stored response again and ingest nothing; the same key with
    other items raises ``Conflict`` (``idempotency_key_reused``).
    """
    now = timezone.now()
    context = _Context(now=now, currency=tenant_currency())
    entries = [item_clean(raw, context=context) for raw in items]
    key = idempotency_key.replace("\x00", "").strip()[:IDEMPOTENCY_KEY_MAX]
    key = f"{actor.idempotency_scope()}:{key}" if key else ""
    digest = _request_hash(items) if key else ""
    with transaction.atomic():
        # Before the lock: other batches of the tenant wait for this one's writes only.
        contacts = customers_resolve(_identities(entries))
        _lock()
        if key:
            stored = IngestBatch.objects.filter(idempotency_key=key).first()
            if stored is not None and stored.created_at >= now - IDEMPOTENCY_TTL:
                if stored.request_hash != digest:
                    raise Conflict(
                        "This Idempotency-Key was used for another batch; use a new key for new events.",
                        code="idempotency_key_reused",
                    )
                return IngestOutcome(response=stored.response, replayed=True)
            if stored is not None:
                stored.delete()  # expired: the key starts afresh
        results = _ingest(entries, contacts=contacts, actor=actor, now=now, keep_pending=True)
        response = _response(results)
        if key:
            IngestBatch.objects.create(idempotency_key=key, request_hash=digest, response=response)
    return IngestOutcome(response=response)


def _response(results: list[dict]) -> dict[str, Any]:
    counts = {name: 0 for name, _ in COUNTS}
    by_status = {status: name for name, status in COUNTS}
    for result in results:
        counts[by_status[result["status"]]] += 1
    return {"received": len(results), **counts, "results": results}


def _identities(entries: list[Item | _Errors]) -> set[tuple[str, Any]]:
    return {entry.identity for entry in entries if isinstance(entry, Item)}


def _ingest(
    entries: list[Item | _Errors],
    *,
    contacts: dict[tuple[str, Any], int],
    actor: Actor,
    now: dt.datetime,
    keep_pending: bool,
) -> list[dict]:
    """Each entry's result, in order; writes what they accept. Runs under ``_lock`` in a transaction.

    ``contacts``: the entries' identities resolved (``customers_resolve``). ``keep_pending``: an item
    whose customer is unknown becomes (or replaces) a ``PendingEvent``; without it
    (``pending_attach``), it is left as it is.
    """
    items = [(index, entry) for index, entry in enumerate(entries) if isinstance(entry, Item)]
    orders = _orders_stored({item.key[1:] for _, item in items if item.kind == ORDER})
    customs = _customs_stored({item.key[1:] for _, item in items if item.kind == CUSTOM})
    writes = _Writes()
    results: list[dict] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Item):
            results.append(_result(index, Status.FAILED, errors=dict(entry)))
            continue
        contact_id = contacts.get(entry.identity)
        kind, value = entry.identity
        if contact_id == AMBIGUOUS:
            results.append(
                _failure(
                    index,
                    f"customer.{kind}",
                    "ambiguous_customer",
                    f"Several customers have this {kind}; name the customer by id or external_userid.",
                )
            )
        elif contact_id is None and kind not in PENDING_KINDS:
            results.append(
                _failure(
                    index, f"customer.{kind}", "unknown_customer", f"No customer has the {kind} {value}."
                )
            )
        elif entry.kind == ORDER:
            results.append(
                _order(index, entry, contact_id, orders, writes, now=now, keep_pending=keep_pending)
            )
        else:
            results.append(_custom(index, entry, contact_id, customs, writes, keep_pending=keep_pending))
    _write(writes, orders, actor=actor)
    return results


def _orders_stored(keys: set[tuple[str, str]]) -> dict[tuple[str, str], _OrderState]:
    if not keys:
        return {}
    sources = {source for source, _ in keys}
    external_ids = {external_id for _, external_id in keys}
    rows = Order.objects.filter(source__in=_many(sources), external_id__in=_many(external_ids)).only(
        "id", "source", "external_id", "contact_id", "amount", "currency", "refunded_amount", "status"
    )
    return {
        (o.source, o.external_id): _OrderState(order=o, new=False)
        for o in rows
        if (o.source, o.external_id) in keys
    }


def _customs_stored(keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    if not keys:
        return {}
    rows = CustomEvent.objects.filter(
        source__in=_many({source for source, _ in keys}),
        external_id__in=_many({external_id for _, external_id in keys}),
    ).values_list("source", "external_id", "contact_id")
    return {(source, ext): contact for source, ext, contact in rows if (source, ext) in keys}


def _pending(index: int, item: Item, writes: _Writes, keep_pending: bool) -> dict:
    if keep_pending:
        writes.pending[item.key] = item  # the latest push of an item wins
    return _result(index, Status.PENDING)


def _order(
    index: int,
    item: Item,
    contact_id: int | None,
    orders: dict[tuple[str, str], _OrderState],
    writes: _Writes,
    *,
    now: dt.datetime,
    keep_pending: bool,
) -> dict:
    key = item.key[1:]
    state = orders.get(key)
    if contact_id is None and state is None:
        return _pending(index, item, writes, keep_pending)
    if state is None:
        refunded_at = item.refunded_at if item.refunded else None
        order = _NewOrder(
            source=item.source,
            external_id=item.external_id,
            contact_id=contact_id,
            amount=item.amount,
            currency=item.currency,
            items=item.lines,
            refunded_amount=item.refunded,
            status=_status(item.amount, item.refunded),
            paid_at=item.occurred_at,
            refunded_at=refunded_at,
        )
        orders[key] = _OrderState(order=order, new=True)
        writes.orders.append(order)
        writes.superseded.add(item.key)
        writes.pending.pop(item.key, None)
        writes.events.append(
            (
                contact_id,
                EventType.PURCHASED,
                item.occurred_at,
                {"source": item.source, "external_id": item.external_id, "amount": f"{item.amount:.2f}",
                 "currency": item.currency},
                order,
            )
        )  # fmt: skip
        if item.refunded:
            writes.events.append(_refund_event(order, item.refunded, refunded_at))
        return _result(index, Status.ACCEPTED, contact_id)
    order = state.order
    errors = _Errors()
    if contact_id != order.contact_id:
        errors.add(
            "customer",
            "order_conflict",
            f"Order {item.source}:{item.external_id} belongs to customer {order.contact_id}; "
            "its customer cannot change.",
        )
    if item.amount != order.amount:
        errors.add(
            "amount",
            "order_conflict",
            f"Order {item.source}:{item.external_id} was pushed with amount {order.amount:.2f}; "
            "an order's amount cannot change (push a refund instead).",
        )
    if item.currency != order.currency:
        errors.add(
            "currency",
            "order_conflict",
            f"Order {item.source}:{item.external_id} was pushed in {order.currency}; "
            "its currency cannot change.",
        )
    if item.refunded < order.refunded_amount:
        errors.add(
            "refunded_amount",
            "order_conflict",
            f"Order {item.source}:{item.external_id} has {order.refunded_amount:.2f} refunded already; "
            "a refund cannot shrink.",
        )
    if errors:
        return _result(index, Status.FAILED, contact_id, dict(errors))
    writes.superseded.add(item.key)
    writes.pending.pop(item.key, None)
    if item.refunded == order.refunded_amount:
        return _result(index, Status.DUPLICATE, contact_id)
    delta = item.refunded - order.refunded_amount
    order.refunded_amount = item.refunded
    order.status = _status(order.amount, order.refunded_amount)
    order.refunded_at = item.refunded_at or now
    order.updated_at = now
    state.changed = not state.new
    writes.events.append(_refund_event(order, delta, order.refunded_at))
    return _result(index, Status.UPDATED, contact_id)


def _refund_event(order: Order | _NewOrder, delta: Decimal, at: dt.datetime) -> tuple:
    payload = {
        "source": order.source,
        "external_id": order.external_id,
        "amount": f"{delta:.2f}",
        "refunded_total": f"{order.refunded_amount:.2f}",
    }
    return (order.contact_id, EventType.REFUNDED, at, payload, order)


def _status(amount: Decimal, refunded: Decimal) -> str:
    if not refunded:
        return OrderStatus.PAID
    return OrderStatus.REFUNDED if refunded >= amount else OrderStatus.PARTIALLY_REFUNDED


def _custom(
    index: int,
    item: Item,
    contact_id: int | None,
    customs: dict[tuple[str, str], int],
    writes: _Writes,
    *,
    keep_pending: bool,
) -> dict:
    key = item.key[1:]
    if key in customs:
        # An event happened once: a repeat is the same fact, whoever it names this time.
        writes.superseded.add(item.key)
        writes.pending.pop(item.key, None)
        return _result(index, Status.DUPLICATE, customs[key])
    if contact_id is None:
        return _pending(index, item, writes, keep_pending)
    customs[key] = contact_id
    writes.customs.append(item)
    writes.custom_contacts.append(contact_id)
    writes.superseded.add(item.key)
    writes.pending.pop(item.key, None)
    payload = {
        "name": item.name,
        "source": item.source,
        "external_id": item.external_id,
        "properties": item.properties,
    }
    writes.events.append((contact_id, EventType.CUSTOM, item.occurred_at, payload, None))
    return _result(index, Status.ACCEPTED, contact_id)


def _write(writes: _Writes, orders: dict[tuple[str, str], _OrderState], *, actor: Actor) -> None:
    """Everything the batch accepted, set-based: a statement per table (COPY for the events)."""
    if writes.orders:
        _orders_insert(writes.orders)  # with their ids: the events name them
    changed = [state.order for state in orders.values() if state.changed]
    if changed:
        Order.objects.bulk_update(changed, ["refunded_amount", "status", "refunded_at", "updated_at"])
    if writes.customs:
        _customs_insert(writes.customs, writes.custom_contacts)
    rows = [
        (contact_id, type_, at, {"order_id": order.pk, **payload} if order is not None else payload)
        for contact_id, type_, at, payload, order in writes.events
    ]
    _events_write(rows, actor=actor)
    if writes.pending:
        PendingEvent.objects.bulk_create(
            [
                PendingEvent(
                    kind=item.kind,
                    source=item.source,
                    external_id=item.external_id,
                    identity_kind=item.identity[0],
                    identity_value=str(item.identity[1]),
                    payload=item.payload(),
                )
                for item in writes.pending.values()
            ],
            update_conflicts=True,
            unique_fields=["tenant", "kind", "source", "external_id"],
            update_fields=["identity_kind", "identity_value", "payload", "updated_at"],
        )
    superseded = writes.superseded - set(writes.pending)
    if superseded:
        _pending_delete(superseded)


# PostgreSQL takes a batch's rows as one JSON parameter (json.dumps is C, and the server parses it):
# a model instance per row and a parameter per value cost more than the rest of the request.
_ORDERS_INSERT = """
INSERT INTO value_order (tenant_id, source, external_id, contact_id, amount, currency, items,
                         refunded_amount, status, paid_at, refunded_at, created_at, updated_at)
SELECT %s, r.source, r.external_id, r.contact_id, r.amount, r.currency, r.items, r.refunded_amount,
       r.status, r.paid_at, r.refunded_at, now(), now()
FROM jsonb_to_recordset(%s::jsonb) AS r(source text, external_id text, contact_id bigint, amount numeric,
     currency text, items jsonb, refunded_amount numeric, status text, paid_at timestamptz,
     refunded_at timestamptz)
RETURNING id, source, external_id
"""
_CUSTOMS_INSERT = """
INSERT INTO value_customevent (tenant_id, source, external_id, contact_id, name, properties, occurred_at,
                               created_at)
SELECT %s, r.source, r.external_id, r.contact_id, r.name, r.properties, r.occurred_at, now()
FROM jsonb_to_recordset(%s::jsonb) AS r(source text, external_id text, contact_id bigint, name text,
     properties jsonb, occurred_at timestamptz)
"""


_NEW_ORDER_FIELDS = (
    "source",
    "external_id",
    "contact_id",
    "amount",
    "currency",
    "items",
    "refunded_amount",
    "status",
    "paid_at",
    "refunded_at",
)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _orders_insert(new: list[_NewOrder]) -> None:
    if connection.vendor != "postgresql":
        made = Order.objects.bulk_create(
            [Order(**{name: getattr(o, name) for name in _NEW_ORDER_FIELDS}) for o in new]
        )
        for order, row in zip(new, made, strict=True):
            order.pk = row.pk  # SQLite returns the ids too
        return
    rows = [
        {
            "source": o.source,
            "external_id": o.external_id,
            "contact_id": o.contact_id,
            "amount": str(o.amount),
            "currency": o.currency,
            "items": o.items,
            "refunded_amount": str(o.refunded_amount),
            "status": o.status,
            "paid_at": _iso(o.paid_at),
            "refunded_at": _iso(o.refunded_at),
        }
        for o in new
    ]
    with connection.cursor() as cursor:
        cursor.execute(_ORDERS_INSERT, [require_current_tenant().pk, json.dumps(rows, ensure_ascii=False)])
        ids = {(source, external_id): pk for pk, source, external_id in cursor.fetchall()}
    for order in new:
        order.pk = ids[(order.source, order.external_id)]


def _customs_insert(new: list[Item], contact_ids: list[int]) -> None:
    if connection.vendor != "postgresql":
        CustomEvent.objects.bulk_create(
            CustomEvent(
                source=item.source,
                external_id=item.external_id,
                contact_id=contact_id,
                name=item.name,
                properties=item.properties,
                occurred_at=item.occurred_at,
            )
            for item, contact_id in zip(new, contact_ids, strict=True)
        )
        return
    rows = [
        {
            "source": item.source,
            "external_id": item.external_id,
            "contact_id": contact_id,
            "name": item.name,
            "properties": item.properties,
            "occurred_at": _iso(item.occurred_at),
        }
        for item, contact_id in zip(new, contact_ids, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(_CUSTOMS_INSERT, [require_current_tenant().pk, json.dumps(rows, ensure_ascii=False)])


def _events_write(rows: list[tuple[int, str, dt.datetime, dict]], *, actor: Actor) -> None:
    if not rows:
        return
    if not actor:
        # The system's (pending items attached, the demo): no actor to record.
        events_record_rows(
            EventRow(contact_id=c, type=t, occurred_at=at, staff_id=None, channel="", payload=p)
            for c, t, at, p in rows
        )
    elif connection.vendor == "postgresql":
        _events_copy(rows, actor=actor)
    else:
        events_record(
            event_build(contact_id=c, type=t, occurred_at=at, actor=actor, payload=p) for c, t, at, p in rows
        )


def _events_copy(rows: list[tuple[int, str, dt.datetime, dict]], *, actor: Actor) -> None:
    """``events_record_rows`` with the actor recorded: an integrator's push is done by its key (or
    member), like every write of the API. A model instance per event cost more than the rest of the
    batch (PostgreSQL only; the same columns as ``events_record_rows``)."""
    tenant_id = require_current_tenant().pk
    user_id = getattr(actor.user, "pk", None)
    key_id = getattr(actor.api_key, "pk", None)
    now = timezone.now()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY contacts_contactevent ({EVENT_COLUMNS}) FROM STDIN") as copy,
    ):
        for contact_id, type_, at, payload in rows:
            copy.write_row(
                (tenant_id, contact_id, type_, at, None, "", json.dumps(payload), user_id, key_id, now)
            )


def _pending_delete(keys: set[tuple[str, str, str]]) -> None:
    """Delete the pending items these keys name (a push that resolved its customer supersedes them)."""
    if connection.vendor == "postgresql":
        # One statement joined on the exact keys (the unique index): most batches find none.
        rows = [{"kind": k, "source": s, "external_id": e} for k, s, e in keys]
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM value_pendingevent p USING jsonb_to_recordset(%s::jsonb)"
                " AS k(kind text, source text, external_id text)"
                " WHERE p.tenant_id = %s AND p.kind = k.kind AND p.source = k.source"
                " AND p.external_id = k.external_id",
                [json.dumps(rows, ensure_ascii=False), require_current_tenant().pk],
            )
        return
    rows = PendingEvent.objects.filter(
        kind__in={k for k, _, _ in keys},
        source__in={s for _, s, _ in keys},
        external_id__in={e for _, _, e in keys},
    ).values_list("id", "kind", "source", "external_id")
    ids = [pk for pk, *key in rows if tuple(key) in keys]
    if ids:
        PendingEvent.objects.filter(pk__in=ids).delete()


# --- pending items ---------------------------------------------------------------------------------


def _chunks(values: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _contact_identities(contact_ids: Sequence[int]) -> dict[str, set[str]]:
    """The external_userids, unionids and remark mobiles of these contacts (two queries)."""
    keys: dict[str, set[str]] = {kind: set() for kind in PENDING_KINDS}
    for external_userid, unionid in Contact.objects.filter(pk__in=contact_ids).values_list(
        "external_userid", "unionid"
    ):
        keys[IdentityKind.EXTERNAL_USERID].add(external_userid)
        if unionid:
            keys[IdentityKind.UNIONID].add(unionid)
    for mobiles in Follow.objects.filter(contact_id__in=contact_ids).values_list("remark_mobiles", flat=True):
        keys[IdentityKind.MOBILE].update(m for m in mobiles or () if isinstance(m, str))
    return keys


def pending_attach(*, contact_ids: list[int]) -> int:
    """Ingest the pending items that name these contacts (by external_userid, unionid or a remark
    mobile), in id order, as if just pushed; returns how many were ingested (accepted, updated or a
    duplicate). Each is deleted once ingested or found unusable (say an ambiguous mobile, or an order
    that conflicts with one pushed since): it would never succeed later either. Runs in the tenant's
    context; its events are the system's.
    """
    contact_ids = sorted(set(contact_ids))
    pending_ids: set[int] = set()
    for chunk in _chunks(contact_ids, MAX_BATCH):
        keys = _contact_identities(chunk)
        where = Q(pk__in=[])
        for kind, values in keys.items():
            if values:
                where |= Q(identity_kind=kind, identity_value__in=values)
        pending_ids.update(PendingEvent.objects.filter(where).values_list("pk", flat=True))
    attached = 0
    for chunk in _chunks(sorted(pending_ids), MAX_BATCH):
        attached += _attach(list(chunk))
    return attached


def _attach(pending_ids: list[int]) -> int:
    now = timezone.now()
    context = _Context(now=now, currency=tenant_currency())
    with transaction.atomic():
        _lock()
        # Read under the lock: a batch may have replaced or resolved them meanwhile.
        rows = list(PendingEvent.objects.filter(pk__in=pending_ids).order_by("pk"))
        entries = [item_clean(row.payload, context=context) for row in rows]
        contacts = customers_resolve(_identities(entries))
        results = _ingest(entries, contacts=contacts, actor=SYSTEM, now=now, keep_pending=False)
        done = [
            row.pk for row, result in zip(rows, results, strict=True) if result["status"] != Status.PENDING
        ]
        for row, result in zip(rows, results, strict=True):
            if result["status"] == Status.FAILED:
                logger.warning(
                    "Pending %s %s:%s dropped, it cannot be ingested: %s",
                    row.kind,
                    row.source,
                    row.external_id,
                    result["errors"],
                )
        if done:
            PendingEvent.objects.filter(pk__in=done).delete()
    return sum(1 for r in results if r["status"] in (Status.ACCEPTED, Status.UPDATED, Status.DUPLICATE))


def pending_contact_ids() -> list[int]:
    """The contacts some pending item names now (for the full value pass's ``pending_attach``).

    One query for the pending identities, then one per kind per thousand of them.
    """
    identities = list(PendingEvent.objects.values_list("identity_kind", "identity_value").distinct())
    found: set[int] = set()
    for chunk in _chunks(identities, MAX_BATCH):
        found.update(pk for pk in customers_resolve(chunk).values() if pk != AMBIGUOUS)
    return sorted(found)
