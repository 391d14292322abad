"""WeCom → database: the full sync of a tenant's contact book, and the re-reads callback handlers use.

Mapping functions turn WeCom's JSON into field dicts; writers compare them with what is stored and
write only what changed, with bulk upserts (``INSERT … ON CONFLICT … DO UPDATE``, on PostgreSQL and
SQLite alike). So a full sync over an unchanged book writes no contact, follow, tag or staff row.

The full sync (``sync_run_execute``) runs in phases: tags (``get_corp_tag_list``), departments and
staff (``department/list``, ``user/list`` of each department, ``get_follow_user_list``, ``user/get`` of
the members that walk missed: see ``staff_sync``), then customers through ``batch/get_by_user`` —
100 staff per call, cursor pages of 100 follows — fetched ahead in a thread and written in batches of
pages (about 2,000 follows), each batch in one transaction with the run's counters, heartbeat and
checkpoint (the cursor after its last page). A worker that dies mid-run resumes from the checkpoint
(the batch it was on was rolled back whole and is written again), and the follows the run found
unchanged are kept in ``SyncRunSeen`` so a resumed run still knows which follows WeCom no longer has
(those it wrote carry its time in ``updated_at``).

Counts (created, updated, unchanged, closed) are of follows, the unit WeCom returns: a follow is
"updated" when it or its customer changed. A follow that a complete walk of its staff member did
not return is closed as ``deleted_by_staff`` with a ``deleted_by_staff`` event whose payload says
``{"reason": "missing_in_full_sync"}``: WeCom sent no callback saying who ended it, and recording it
as churn (``deleted_by_customer``) would raise alerts and count losses nobody can confirm. Only the
``del_follow_user`` callback marks a follow lost.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from scrm.durable import ACTIVE_RUN_STATUSES, RunStatus, WorkLostError, work_claim, work_finish, work_update
from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.context import require_current_tenant
from scrm.tenancy.models import Tenant
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import WeComError, WeComRateLimitedError

from .facets import contact_derived, contacts_refresh, tag_id_map
from .models import (
    Contact,
    Department,
    DirectoryStatus,
    EventType,
    Follow,
    FollowStatus,
    Staff,
    SyncKind,
    SyncRun,
    SyncRunSeen,
    Tag,
    TagGroup,
    WeComMemberStatus,
)
from .services.events import EventRow, event_build, events_record, events_record_rows
from .services.tags import tags_mark_deleted

logger = logging.getLogger(__name__)

USERIDS_PER_CALL = 100  # batch/get_by_user's userid_list limit
PAGE_LIMIT = 100  # and its page size limit
# Pages are written in batches, one transaction each (see _batches), fetched up to PAGES_AHEAD ahead.
BATCH_FOLLOWS = 2000
BATCH_SECONDS = 1.0
PAGES_AHEAD = 2 * BATCH_FOLLOWS // PAGE_LIMIT
MISSING_IN_FULL_SYNC = "missing_in_full_sync"
UNEXPECTED_HINT = "An unexpected error stopped the sync (see the worker log); start a new sync once fixed."
# WeCom answers these for a customer no staff member has any more, or never had.
GONE_ERRCODES = (84061, 40096)

CONTACT_FIELDS = ("name", "avatar", "type", "gender", "unionid", "corp_name", "corp_full_name", "position")
FOLLOW_FIELDS = (
    "remark",
    "description",
    "remark_corp_name",
    "remark_mobiles",
    "add_way",
    "oper_userid",
    "state",
    "tag_ids",
    "added_at",
)


# --- mapping: WeCom JSON → field dicts ---------------------------------------------------------


def _text(data: dict, key: str, max_length: int) -> str:
    return str(data.get(key) or "")[:max_length]


def _timestamp(value: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC) if value else None


def contact_fields(data: dict) -> dict[str, Any]:
    """``external_contact`` → Contact fields (WeCom leaves out company fields and unknown unionids)."""
    return {
        "name": _text(data, "name", 128),
        "avatar": _text(data, "avatar", 500),
        "type": int(data.get("type") or 1),
        "gender": int(data.get("gender") or 0),
        "unionid": _text(data, "unionid", 64),
        "corp_name": _text(data, "corp_name", 128),
        "corp_full_name": _text(data, "corp_full_name", 256),
        "position": _text(data, "position", 128),
    }


def follow_fields(data: dict) -> dict[str, Any]:
    """``follow_info`` (batch/get_by_user: ``tag_id``) or ``follow_user`` (get: ``tags``) → Follow fields.

    Only corp tags (type 1) are kept; personal tags have no id and are the staff member's own.
    """
    if "tag_id" in data:
        tags = data.get("tag_id") or ()
    else:
        tags = [t["tag_id"] for t in data.get("tags") or () if t.get("type") == 1 and t.get("tag_id")]
    return {
        "remark": _text(data, "remark", 64),
        "description": _text(data, "description", 255),
        "remark_corp_name": _text(data, "remark_corp_name", 128),
        "remark_mobiles": [str(m) for m in data.get("remark_mobiles") or ()],
        "add_way": int(data.get("add_way") or 0),
        "oper_userid": _text(data, "oper_userid", 64),
        "state": _text(data, "state", 30),
        "tag_ids": sorted({str(t) for t in tags}),
        "added_at": _timestamp(data.get("createtime")),
    }


@dataclass
class Item:
    """One staff↔customer relation as WeCom returned it."""

    external_userid: str
    contact: dict[str, Any]
    userid: str
    follow: dict[str, Any]


@dataclass
class WriteResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # The follows found unchanged: a run marks them seen (those it wrote carry its time in updated_at).
    unchanged_ids: tuple[int, ...] = ()


# --- writers ----------------------------------------------------------------------------------


class StaffMap:
    """Staff ids, userids and departments, loaded once per run (or on demand, for callbacks)."""

    def __init__(self, *, preload: bool = False):
        self.ids: dict[str, int] = {}
        self.info: dict[int, tuple[str, list[int]]] = {}
        if preload:
            self._add(Staff.objects.all())

    def _add(self, queryset) -> None:
        for pk, userid, departments in queryset.values_list("id", "userid", "department_ids"):
            self.ids[userid] = pk
            self.info[pk] = (userid, departments or [])

    def ensure_userids(self, userids: Iterable[str]) -> None:
        missing = set(userids) - set(self.ids)
        if missing:
            staff_ids_ensure(missing)
            self._add(Staff.objects.filter(userid__in=missing))

    def ensure_ids(self, ids: Iterable[int]) -> None:
        missing = set(ids) - set(self.info)
        if missing:
            self._add(Staff.objects.filter(id__in=missing))


DERIVED_FIELDS = ("status", "first_added_at", "facets", "search_text")
# Rows per statement on databases other than PostgreSQL: far below SQLite's 32,766 parameters.
UPSERT_BATCH = 500


def _upsert_returning(
    model,
    columns: tuple[str, ...],
    rows: list[list],
    *,
    unique: tuple[str, ...],
    returning: str,
    unless_same: tuple[str, ...] = (),
) -> list[tuple]:
    """Upsert rows of plain Python values (JSON columns as lists and dicts, datetimes aware) into
    ``model``'s table without a model instance per row; returns the ``returning`` columns of each row
    inserted or updated. Every column not in ``unique`` (and not ``created_at``) is updated on
    conflict; with ``unless_same``, only a stored row that differs in one of those columns is (the
    database compares, so the caller need not read the stored values: a row left alone is not written
    and not returned).

    One ``INSERT … ON CONFLICT (unique) DO UPDATE SET … RETURNING …`` per batch. On PostgreSQL the
    rows travel as one jsonb array parameter, because Django's psycopg cursor binds parameters in
    Python and re-parses a statement of more than 50 placeholders on every call (most of a page's
    write time at 100 rows × 16 columns); elsewhere (SQLite ≥ 3.35) as ``VALUES (…), (…)``.
    """
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in columns]
    update = ", ".join(
        f"{quote(c)} = EXCLUDED.{quote(c)}" for c in columns if c not in (*unique, "created_at")
    )
    # Identifiers come from model metadata and this module's constants, quoted; values are parameters.
    insert = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)})"
    guard = ""
    if unless_same:
        # Null-safe inequality: IS DISTINCT FROM (PostgreSQL; jsonb compares by value), IS NOT (SQLite).
        differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
        table = quote(model._meta.db_table)
        guard = " WHERE " + " OR ".join(
            f"{table}.{quote(c)} {differs} EXCLUDED.{quote(c)}" for c in unless_same
        )
    conflict = (
        f"ON CONFLICT ({', '.join(quote(c) for c in unique)}) DO UPDATE SET {update}{guard}"
        f" RETURNING {returning}"
    )
    answer: list[tuple] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            select = ", ".join(
                f"e->{i}" if f.get_internal_type() == "JSONField" else f"(e->>{i})::{f.db_type(connection)}"
                for i, f in enumerate(fields)
            )
            # Datetimes as str(): ISO 8601 with microseconds and offset, as timestamptz reads them.
            cursor.execute(
                f"{insert} SELECT {select} FROM jsonb_array_elements(%s::jsonb) AS e {conflict}",  # noqa: S608
                [json.dumps(rows, default=str)],
            )
            return cursor.fetchall()
        ops = connection.ops
        adapt = [
            (lambda v: ops.adapt_json_value(v, None))
            if f.get_internal_type() == "JSONField"
            else ops.adapt_datetimefield_value
            if f.get_internal_type() == "DateTimeField"
            else None
            for f in fields
        ]
        placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for start in range(0, len(rows), UPSERT_BATCH):
            batch = rows[start : start + UPSERT_BATCH]
            cursor.execute(
                f"{insert} VALUES {', '.join([placeholders] * len(batch))} {conflict}",
                [v if a is None else a(v) for row in batch for v, a in zip(row, adapt, strict=True)],
            )
            answer.extend(cursor.fetchall())
    return answer


# A stored follow as read with its contact, a tuple: its WeCom fields compare as one slice, the JSON
# ones as the database's text (decoding the two JSON columns of every stored follow was much of a
# no-change re-sync). PostgreSQL prints jsonb as json.dumps(ensure_ascii=False) does, escapes and
# separators alike; SQLite keeps the text Django wrote, json.dumps's default. The encoders are built
# once: json.dumps with an option builds one per call.
STORED_FOLLOW = ("id", "staff_id", "status", *FOLLOW_FIELDS)
JSON_FOLLOW_FIELDS = frozenset({"remark_mobiles", "tag_ids"})
_JSON_TEXT = {"postgresql": json.JSONEncoder(ensure_ascii=False).encode, "sqlite": json.JSONEncoder().encode}


def _follow_signature(fields: dict[str, Any]) -> tuple:
    """A follow's WeCom fields as the stored follow's tuple holds them (see STORED_FOLLOW)."""
    text = _JSON_TEXT.get(connection.vendor, _JSON_TEXT["sqlite"])
    return tuple(text(fields[name]) if name in JSON_FOLLOW_FIELDS else fields[name] for name in FOLLOW_FIELDS)


def _follow_dict(row: tuple | dict) -> dict[str, Any]:
    """A STORED_FOLLOW tuple as a dict of decoded values (a follow written in this batch is one already)."""
    if isinstance(row, dict):
        return row
    return {
        name: json.loads(value) if name in JSON_FOLLOW_FIELDS else value
        for name, value in zip(STORED_FOLLOW, row, strict=True)
    }


def _many(values: list[str]) -> list[str] | RawSQL:
    """The right side of an ``__in`` over thousands of values. On PostgreSQL one JSON parameter:
    Django writes a placeholder per value, which psycopg adapts and splices one by one in Python."""
    if connection.vendor != "postgresql":
        return values
    return RawSQL("SELECT jsonb_array_elements_text(%s::jsonb)", [json.dumps(values)])


def _lock_customers(external_userids: list[str]) -> None:
    """Serialise writers of the same customers until the transaction ends (PostgreSQL).

    Callbacks for one customer (an add and an edit a second apart) are drained concurrently, and a
    sync batch can overlap them: without this, two writers read "no such follow" and both record
    ADDED. Locks are taken in sorted order, so two writers of overlapping sets cannot deadlock.
    SQLite needs none: its IMMEDIATE transactions already admit one writer at a time.
    """
    if connection.vendor != "postgresql" or not external_userids:
        return
    tenant_id = require_current_tenant().pk
    keys = sorted(f"{tenant_id}:{ext}" for ext in external_userids)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest(%s::text[]) AS k ORDER BY k", [keys]
        )


def follows_upsert(*, items: list[Item], staff: StaffMap, tag_ids: dict[str, int]) -> WriteResult:
    """Write the customers and follows of ``items`` that are new or changed; record ADDED events.

    One read (the stored contacts with all their follows, as tuples), at most two upserts and the
    events. The derived fields (facets, status, search text) of a contact whose follows or fields
    changed are computed here from the follows in hand and written in the same upsert, which leaves a
    stored contact alone when they come out the same; a contact whose follows are all unchanged is
    skipped. A follow that was closed and comes back is reopened. ``items`` holds one item per follow.
    """
    staff.ensure_userids(item.userid for item in items)
    contacts: dict[str, dict[str, Any]] = {item.external_userid: item.contact for item in items}
    _lock_customers(list(contacts))
    stored: dict[str, tuple] = {}  # external_userid → (id, *CONTACT_FIELDS)
    # Every follow of these customers (with every staff member, not only these items'): the derived
    # fields are over all of them. external_userid → staff id → STORED_FOLLOW tuple, or the dict of a
    # follow this batch writes.
    follows: dict[str, dict[int, tuple | dict]] = {ext: {} for ext in contacts}
    width = 2 + len(CONTACT_FIELDS)
    columns = [
        Cast(f"follows__{name}", TextField()) if name in JSON_FOLLOW_FIELDS else f"follows__{name}"
        for name in STORED_FOLLOW
    ]
    for row in (
        Contact.objects.filter(external_userid__in=_many(list(contacts)))
        .order_by()
        .values_list("id", "external_userid", *CONTACT_FIELDS, *columns)
    ):
        stored[row[1]] = (row[0], *row[2:width])
        if row[width] is not None:  # a contact without follows comes once, with NULLs
            follows[row[1]][row[width + 1]] = row[width:]
    staff.ensure_ids(staff_id for mine in follows.values() for staff_id in mine)
    result = WriteResult()
    # (external_userid, staff id, fields, whether the row exists, whether it is (re)added)
    changed_follows: list[tuple[str, int, dict, bool, bool]] = []
    changed_contacts: set[str] = set()
    unchanged: list[int] = []
    # Tags a staff member added or removed in the WeCom app: (external_userid, staff id, state, add, remove).
    retagged: list[tuple[str, int, str, list[str], list[str]]] = []
    for ext, data in contacts.items():
        row = stored.get(ext)
        if row is None or row[1:] != tuple(data[name] for name in CONTACT_FIELDS):
            changed_contacts.add(ext)
    for item in items:
        staff_id = staff.ids[item.userid]
        row = follows[item.external_userid].get(staff_id)
        added = row is None or row[2] != FollowStatus.ACTIVE
        changed = added or row[3:] != _follow_signature(item.follow)
        if row is None:
            result.created += 1
        elif changed or item.external_userid in changed_contacts:
            result.updated += 1
        else:
            result.unchanged += 1
        if changed and not added:
            retagged.extend(_tag_changes(item, staff_id, row))
        if changed:
            changed_follows.append((item.external_userid, staff_id, item.follow, row is not None, added))
            follows[item.external_userid][staff_id] = {
                "id": row[0] if row else None,
                "staff_id": staff_id,
                "status": FollowStatus.ACTIVE,
                **item.follow,
            }
        else:
            unchanged.append(row[0])

    tenant_id = require_current_tenant().pk
    now = timezone.now()
    contact_writes = []
    for ext in changed_contacts.union(ext for ext, *_ in changed_follows):
        data = contacts[ext]
        mine = [
            {
                **follow,
                "staff__userid": staff.info[follow["staff_id"]][0],
                "staff__department_ids": staff.info[follow["staff_id"]][1],
            }
            for follow in map(_follow_dict, follows[ext].values())
        ]
        new = {
            **data,
            **contact_derived(name=data["name"], corp_name=data["corp_name"], follows=mine, tag_ids=tag_ids),
        }
        contact_writes.append(
            [tenant_id, ext, *(new[n] for n in (*CONTACT_FIELDS, *DERIVED_FIELDS)), now, now]
        )
    contact_ids = {ext: row[0] for ext, row in stored.items()}
    if contact_writes:
        returned = _upsert_returning(
            Contact,
            ("tenant_id", "external_userid", *CONTACT_FIELDS, *DERIVED_FIELDS, "created_at", "updated_at"),
            contact_writes,
            unique=("tenant_id", "external_userid"),
            returning="external_userid, id",
            unless_same=(*CONTACT_FIELDS, *DERIVED_FIELDS),
        )
        contact_ids.update(returned)
        # A contact the upsert left alone (another writer stored the same values first) returns no
        # row; its follows still need its id.
        missing = [ext for ext, *_ in changed_follows if ext not in contact_ids]
        if missing:
            contact_ids.update(
                Contact.objects.filter(external_userid__in=missing).values_list("external_userid", "id")
            )

    follow_writes = [
        [
            tenant_id,
            contact_ids[ext],
            staff_id,
            *(fields[n] for n in FOLLOW_FIELDS),
            FollowStatus.ACTIVE,
            None,
            now,
        ]
        for ext, staff_id, fields, _, _ in changed_follows
    ]
    if follow_writes:
        _upsert_returning(
            Follow,
            ("tenant_id", "contact_id", "staff_id", *FOLLOW_FIELDS, "status", "ended_at", "updated_at"),
            follow_writes,
            unique=("tenant_id", "contact_id", "staff_id"),
            returning="id",
        )
    events_record_rows(
        EventRow(
            contact_id=contact_ids[ext],
            type=EventType.ADDED,
            occurred_at=fields["added_at"],
            staff_id=staff_id,
            channel=fields["state"],
            payload={"add_way": fields["add_way"], "reopened": existed},
        )
        for ext, staff_id, fields, existed, added in changed_follows
        if added
    )
    if retagged:
        events_record_rows(_tag_events(retagged, contact_ids, staff))
    result.unchanged_ids = tuple(unchanged)
    return result


_TAG_IDS_AT = STORED_FOLLOW.index("tag_ids")


def _tag_changes(item: Item, staff_id: int, row: tuple | dict) -> list[tuple]:
    """The corp tags WeCom now holds on an existing follow that it did not before (and vice versa)."""
    before = row["tag_ids"] if isinstance(row, dict) else json.loads(row[_TAG_IDS_AT] or "[]")
    after = item.follow["tag_ids"]
    add = [t for t in after if t not in before]
    remove = [t for t in before if t not in after]
    if not add and not remove:
        return []
    return [(item.external_userid, staff_id, item.follow["state"], add, remove)]


def _tag_events(
    retagged: list[tuple[str, int, str, list[str], list[str]]], contact_ids: dict[str, int], staff: StaffMap
) -> Iterator[EventRow]:
    """TAGGED / UNTAGGED events for tagging done in the WeCom app, as Siyu's own tagging writes them
    (SOPs triggered by a tag must not care where it was applied)."""
    wecom_ids = {t for *_, add, remove in retagged for t in (*add, *remove)}
    tags = {t.wecom_id: {"id": t.pk, "name": t.name} for t in Tag.objects.filter(wecom_id__in=wecom_ids)}
    now = timezone.now()
    for ext, staff_id, state, add, remove in retagged:
        for type_, ids in ((EventType.TAGGED, add), (EventType.UNTAGGED, remove)):
            if ids:
                payload = {
                    "tags": [tags[t] for t in ids if t in tags],
                    "staff": staff.info[staff_id][0],
                    "source": "wecom",
                }
                yield EventRow(contact_ids[ext], type_, now, staff_id, state, payload)


def staff_ids_ensure(userids: Iterable[str]) -> dict[str, int]:
    """userid → Staff id, creating a bare row for a member the contact book has not shown us yet.

    A callback can name a member added since the last sync; the next sync fills in the name.
    """
    userids = set(userids)
    ids = dict(Staff.objects.filter(userid__in=userids).values_list("userid", "id"))
    missing = userids - set(ids)
    if missing:
        Staff.objects.bulk_create(
            [
                Staff(userid=userid, has_contact_permission=True, directory_status=DirectoryStatus.NOT_READ)
                for userid in sorted(missing)
            ],
            ignore_conflicts=True,
        )
        ids = dict(Staff.objects.filter(userid__in=userids).values_list("userid", "id"))
    return ids


def _changed(stored: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    return stored is None or any(stored[name] != value for name, value in new.items())


def _upsert(model, rows: list[dict[str, Any]], *, key: str, stored: dict[Any, dict]) -> int:
    """Upsert the rows that differ from ``stored`` (keyed by ``key``); returns how many were written."""
    writes = [model(**row) for row in rows if _changed(stored.get(row[key]), row)]
    if writes:
        fields = [name for name in rows[0] if name != key]
        model.objects.bulk_create(
            writes,
            update_conflicts=True,
            unique_fields=["tenant", key],
            update_fields=[*fields, "updated_at"],
        )
    return len(writes)


TAG_GROUP_FIELDS = ("wecom_id", "name", "order", "deleted", "wecom_created_at")
TAG_FIELDS = ("wecom_id", "group_id", "name", "order", "deleted", "wecom_created_at")


def tag_groups_upsert(groups: list[dict[str, Any]]) -> None:
    """Write the live groups and tags ``get_corp_tag_list`` returned (those it flags ``deleted`` are
    left to ``services.tags.tags_mark_deleted``, which also takes them off the customers)."""
    groups = [
        {**g, "tag": [t for t in g.get("tag") or () if not t.get("deleted")]}
        for g in groups
        if not g.get("deleted")
    ]
    if not groups:
        return
    stored = {
        row["wecom_id"]: row
        for row in TagGroup.objects.filter(wecom_id__in=[g["group_id"] for g in groups]).values(
            *TAG_GROUP_FIELDS
        )
    }
    _upsert(
        TagGroup,
        [
            {
                "wecom_id": g["group_id"],
                "name": _text(g, "group_name", 30),
                "order": int(g.get("order") or 0),
                "deleted": False,
                "wecom_created_at": _timestamp(g.get("create_time")),
            }
            for g in groups
        ],
        key="wecom_id",
        stored=stored,
    )
    group_ids = dict(
        TagGroup.objects.filter(wecom_id__in=[g["group_id"] for g in groups]).values_list("wecom_id", "id")
    )
    tags = [(g, t) for g in groups for t in g.get("tag") or ()]
    stored_tags = {
        row["wecom_id"]: row
        for row in Tag.objects.filter(wecom_id__in=[t["id"] for _, t in tags]).values(*TAG_FIELDS)
    }
    rows = [
        {
            "wecom_id": t["id"],
            "group_id": group_ids[g["group_id"]],
            "name": _text(t, "name", 30),
            "order": int(t.get("order") or 0),
            "deleted": False,
            "wecom_created_at": _timestamp(t.get("create_time")),
        }
        for g, t in tags
    ]
    if rows:
        _upsert(Tag, rows, key="wecom_id", stored=stored_tags)
    # Customers can carry a tag before Siyu knows it (an edit callback ahead of the tag's create
    # callback): their facets lack it until refreshed, and a re-sync would see their follows unchanged.
    revived = [t["id"] for _, t in tags if t["id"] not in stored_tags or stored_tags[t["id"]]["deleted"]]
    if revived:
        carrying = Q()
        for wecom_id in revived:
            carrying |= Q(tag_ids__icontains=json.dumps(wecom_id))
        contacts_refresh(Follow.objects.filter(carrying).values_list("contact_id", flat=True).distinct())


def _live(groups: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The group ids and tag ids ``get_corp_tag_list`` answered as live (asked by id, WeCom answers
    deleted ones too, flagged)."""
    live_groups = [g for g in groups if not g.get("deleted")]
    tag_ids = [t["id"] for g in live_groups for t in g.get("tag") or () if not t.get("deleted")]
    return [g["group_id"] for g in live_groups], tag_ids


def tags_sync(api: WeComAPI) -> int:
    """All corp tags; local ones WeCom no longer lists are flagged deleted. Returns live tags."""
    groups = api.get_corp_tag_list().get("tag_group") or []
    group_ids, tag_ids = _live(groups)
    with transaction.atomic():
        tag_groups_upsert(groups)
        tags_mark_deleted(~Q(wecom_id__in=tag_ids), ~Q(wecom_id__in=group_ids))
    return len(tag_ids)


def tag_change_apply(*, api: WeComAPI, change_type: str, tag_type: str, wecom_id: str) -> None:
    """Mirror a ``change_external_tag`` event: re-read the tag or group (or, without an id, all tags).

    A deletion is applied as the event says, without a re-read: the group goes with every tag in it
    and WeCom sends no event per tag (wecom-api.md §11), ids are never reused so the event is final,
    and a re-read made at once may still answer the group, or answer it flagged ``deleted``.
    """
    if not wecom_id:
        tags_sync(api)
        return
    if change_type == "delete":
        if tag_type == "tag":
            tags_mark_deleted(Q(wecom_id=wecom_id))
        else:
            tags_mark_deleted(Q(group__wecom_id=wecom_id), Q(wecom_id=wecom_id))
        return
    if tag_type == "tag":
        groups = api.get_corp_tag_list(tag_id=[wecom_id]).get("tag_group") or []
        tag_groups_upsert(groups)
        if wecom_id not in _live(groups)[1]:
            tags_mark_deleted(Q(wecom_id=wecom_id))
        return
    groups = api.get_corp_tag_list(group_id=[wecom_id]).get("tag_group") or []
    tag_groups_upsert(groups)
    group_ids, tag_ids = _live(groups)
    if wecom_id in group_ids:
        tags_mark_deleted(Q(group__wecom_id=wecom_id) & ~Q(wecom_id__in=tag_ids))
    else:
        tags_mark_deleted(Q(group__wecom_id=wecom_id), Q(wecom_id=wecom_id))


# --- the staff directory (wecom-api.md §2a) ----------------------------------------------------

# department/list refused (forbidden to this app, or no privilege): department/simplelist, the list
# that keeps working as WeCom tightens what apps may read, gives the ids and parents (no names).
DEPARTMENT_LIST_REFUSED = (48002, 60011)
# user/get of a member the app may not read: outside its visible range (60011), or a userid WeCom
# does not show this app at all (60111, which is also what a member who left the corp gets).
NO_PRIVILEGE, UNKNOWN_USERID = 60011, 60111
STAFF_FIELDS = (
    "userid",
    "name",
    "avatar",
    "position",
    "department_ids",
    "leader_department_ids",
    "is_active",
    "wecom_status",
    "directory_status",
    "has_contact_permission",
    "resigned_at",
)


def departments_read(api: WeComAPI) -> list[dict]:
    """Every department the app can see, parents before children; ``name`` is None when WeCom would
    only give the ids (then the names read before are kept)."""
    try:
        return api.department_list().get("department") or []
    except WeComError as exc:
        if exc.errcode not in DEPARTMENT_LIST_REFUSED:
            raise
    return [{**d, "name": None} for d in api.department_simplelist().get("department_id") or []]


def directory_walk(api: WeComAPI, departments: list[dict]) -> dict[str, dict]:
    """userid → member, for the members of every department given: one ``user/list`` each, since a
    call lists that department's own members only (the documentation has no ``fetch_child`` any more).
    A member of several departments is listed by each of them and kept once."""
    members: dict[str, dict] = {}
    for department in departments:
        for member in api.user_list(department["id"]).get("userlist") or []:
            members.setdefault(member["userid"], member)
    return members


def _member_row(member: dict, *, contact_permission: bool, resigned_at: dt.datetime | None) -> dict[str, Any]:
    departments_of = [int(d) for d in member.get("department") or ()]
    leads = member.get("is_leader_in_dept") or ()
    status = int(member.get("status") or WeComMemberStatus.ACTIVE)
    return {
        "userid": member["userid"],
        "name": _text(member, "name", 64),
        "avatar": _text(member, "avatar", 500),
        "position": _text(member, "position", 128),
        "department_ids": departments_of,
        "leader_department_ids": [d for d, lead in zip(departments_of, leads, strict=False) if lead],
        "is_active": status != WeComMemberStatus.LEFT,
        "wecom_status": status if status in WeComMemberStatus.values else WeComMemberStatus.UNKNOWN,
        "directory_status": DirectoryStatus.LISTED,
        "has_contact_permission": contact_permission,
        "resigned_at": resigned_at if status == WeComMemberStatus.LEFT else None,
    }


def staff_sync(api: WeComAPI) -> int:
    """Departments and members, read as the current documentation says: the department tree, then each
    department's own members, then ``user/get`` for the members that walk did not find but that
    matter — those with customer-contact permission (they may sit in departments outside the app's
    visible range) and those read before (moved out of the range, or left the corp). WeCom calls: two,
    plus one per department, plus one per such member.

    A member the app may not read is kept with the state ``outside_visible_range`` and what was read
    of it before, never as a nameless row. Members gone from the contact book stay, inactive, with
    ``resigned_at``: their customers' history and inheritance need them. Only rows that differ from
    what is stored are written. Returns the members with customer-contact permission.
    """
    departments = departments_read(api)
    members = directory_walk(api, departments)
    follow_users = set(api.get_follow_user_list().get("follow_user") or [])
    stored = {row["userid"]: row for row in Staff.objects.values(*STAFF_FIELDS)}
    unread = sorted(
        (follow_users | {userid for userid, row in stored.items() if row["resigned_at"] is None})
        - set(members)
    )
    refused: dict[str, int] = {}
    for userid in unread:
        try:
            members[userid] = api.user_get(userid)
        except WeComError as exc:
            if exc.errcode not in (NO_PRIVILEGE, UNKNOWN_USERID):
                raise
            refused[userid] = exc.errcode
    now = timezone.now()
    rows = [
        _member_row(
            member,
            contact_permission=userid in follow_users,
            resigned_at=(stored.get(userid) or {}).get("resigned_at") or now,
        )
        for userid, member in members.items()
    ]
    for userid, row in stored.items():
        if userid in members:
            continue
        # In the customer-contact range, or refused as outside the visible range: still in the corp.
        in_corp = userid in follow_users or refused.get(userid) == NO_PRIVILEGE
        if in_corp:
            row = {**row, "directory_status": DirectoryStatus.OUTSIDE_VISIBLE_RANGE, "resigned_at": None}
            row.update(is_active=True, wecom_status=WeComMemberStatus.UNKNOWN)
        else:
            row = {**row, "is_active": False, "resigned_at": row["resigned_at"] or now}
        rows.append({**row, "has_contact_permission": userid in follow_users})
    for userid in sorted(follow_users - set(members) - set(stored)):
        rows.append(
            {
                **_bare_staff(userid),
                "directory_status": DirectoryStatus.OUTSIDE_VISIBLE_RANGE,
                "has_contact_permission": True,
            }
        )
    with transaction.atomic():
        _departments_write(departments)
        moved = [
            row["userid"]
            for row in rows
            if row["userid"] in stored and stored[row["userid"]]["department_ids"] != row["department_ids"]
        ]
        if rows:
            _upsert(Staff, rows, key="userid", stored=stored)
        if moved:
            # Department facets (d:<id>) of their customers changed.
            contacts_refresh(
                Follow.objects.filter(staff__userid__in=moved).values_list("contact_id", flat=True)
            )
    return len(follow_users)


def _departments_write(departments: list[dict]) -> None:
    """Upsert the departments read; a department WeCom no longer lists is gone (nothing refers to its
    row: staff keep WeCom ids)."""
    columns = ("wecom_id", "name", "parent_wecom_id", "order")
    stored = {row["wecom_id"]: row for row in Department.objects.values(*columns)}
    _upsert(
        Department,
        [
            {
                "wecom_id": d["id"],
                "name": _text(d, "name", 64)
                if d.get("name") is not None
                else stored.get(d["id"], {}).get("name", ""),
                "parent_wecom_id": int(d.get("parentid") or 0),
                "order": int(d.get("order") or 0),
            }
            for d in departments
        ],
        key="wecom_id",
        stored=stored,
    )
    gone = set(stored) - {d["id"] for d in departments}
    if gone:
        Department.objects.filter(wecom_id__in=gone).delete()


def _bare_staff(userid: str) -> dict[str, Any]:
    return {
        "userid": userid,
        "name": "",
        "avatar": "",
        "position": "",
        "department_ids": [],
        "leader_department_ids": [],
        "is_active": True,
        "wecom_status": WeComMemberStatus.UNKNOWN,
        "directory_status": DirectoryStatus.NOT_READ,
        "has_contact_permission": True,
        "resigned_at": None,
    }


# --- one customer, re-read (callback handlers) -------------------------------------------------


def contact_sync_one(*, api: WeComAPI, external_userid: str) -> set[str] | None:
    """Re-read one customer (``externalcontact/get``, every page) and upsert it with all its follows.

    Returns the userids WeCom says follow it, or None when WeCom has no such customer any more.
    """
    follow_users: list[dict] = []
    cursor = None
    try:
        while True:
            answer = api.get_external_contact(external_userid, cursor=cursor)
            follow_users.extend(answer.get("follow_user") or [])
            cursor = answer.get("next_cursor")
            if not cursor:
                break
    except WeComError as exc:
        if exc.errcode in GONE_ERRCODES:
            return None
        raise
    contact = contact_fields(answer.get("external_contact") or {})
    items = [Item(external_userid, contact, f["userid"], follow_fields(f)) for f in follow_users]
    if items:
        follows_upsert(items=items, staff=StaffMap(), tag_ids=tag_id_map())
    return {item.userid for item in items}


# --- runs -------------------------------------------------------------------------------------


class CountingAPI:
    """The WeCom API, counting the calls made through it (a run reports its ``api_calls``)."""

    def __init__(self, api: WeComAPI):
        self._api = api
        self.calls = 0
        # The page-fetching thread calls through here while the main thread reads the count.
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        method = getattr(self._api, name)

        def call(*args, **kwargs):
            with self._lock:
                self.calls += 1
            return method(*args, **kwargs)

        return call


# Executors of each kind of run: ``(tenant_id, run_id) -> None`` Celery tasks. The contacts sync
# registers its own below; other apps (groups) register theirs when they load.
SYNC_TASKS: dict[str, Any] = {}


def sync_kind_register(kind: str, task: Any) -> None:
    SYNC_TASKS[kind] = task


def sync_run_start(
    *,
    tenant: Tenant,
    trigger: str,
    actor: Actor = SYSTEM,
    enqueue: bool = True,
    kind: str = SyncKind.CONTACTS,
) -> SyncRun:
    """A new queued run of ``kind`` (enqueued on commit), or the tenant's active run of that kind."""
    active = SyncRun.objects.filter(kind=kind, status__in=ACTIVE_RUN_STATUSES).first()
    if active is not None:
        return active
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                kind=kind,
                trigger=trigger,
                **actor.as_fields("created_by"),
            )
    except IntegrityError:
        # Another request started one between our read and our insert (the one-active constraint).
        return SyncRun.objects.get(kind=kind, status__in=ACTIVE_RUN_STATUSES)
    if enqueue:
        tenant_id, run_id, task = tenant.pk, run.pk, SYNC_TASKS[kind]
        transaction.on_commit(lambda: task.delay(tenant_id, run_id))
    return run


def sync_run_claim(run_id: int) -> SyncRun | None:
    """Claim a queued run, or a running one whose worker stopped beating; None if another worker has it."""
    return work_claim(SyncRun, run_id)


def sync_run_enqueue(tenant_id: int, run_id: int) -> None:
    """Send a run to the task of its kind (how the stale-work sweep of scrm.durable resumes one)."""
    kind = SyncRun.unscoped.filter(pk=run_id).values_list("kind", flat=True).first()
    if kind is not None:
        SYNC_TASKS[kind].delay(tenant_id, run_id)


Progress = Callable[[SyncRun], None]


class RunState:
    """The executing run: its row, the counting API, and the one UPDATE per step that records progress."""

    def __init__(self, run: SyncRun, api: CountingAPI, progress: Progress | None):
        self.run, self.api, self.progress = run, api, progress
        self.reported_calls = 0

    def advance(self, *, checkpoint: dict | None = None, phase: str | None = None, **counts: int) -> None:
        """Record a step: the counts added, the API calls made since the last step, the checkpoint and
        phase, and the heartbeat, in one UPDATE fenced by the run's claim (``work_update``: raises
        WorkLostError when another worker took the run for dead and claimed it)."""
        run = self.run
        total = self.api.calls  # read once: the fetching thread may be adding to it
        calls, self.reported_calls = total - self.reported_calls, total
        updates: dict[str, Any] = {"api_calls": F("api_calls") + calls}
        updates.update({name: F(name) + value for name, value in counts.items()})
        if checkpoint is not None:
            updates["checkpoint"] = checkpoint
        if phase is not None:
            updates["phase"] = phase
        done = run.progress_done + counts.get("progress_done", 0)
        if done > run.progress_total:
            updates["progress_total"] = done
        work_update(run, **updates)
        if self.progress is not None:
            self.progress(run)


def sync_run_execute(
    run: SyncRun, *, progress: Progress | None = None, api: WeComAPI | None = None
) -> SyncRun:
    """Run (or resume) a claimed run to its end: succeeded, or failed with WeCom's error and hint.

    Data written by the pages before a failure stays (it is what WeCom said); nothing is closed for
    a staff chunk whose walk did not complete. ``WeComRateLimitedError`` puts the run back in the
    queue, checkpoint kept, and is raised for the caller to retry after ``retry_after``.
    """
    state = RunState(run, CountingAPI(api or api_for(run.tenant)), progress)

    def steps() -> None:
        if run.checkpoint.get("phase") != "contacts":
            state.advance(phase="tags")
            tags_sync(state.api)
            state.advance(phase="staff")
            staff_sync(state.api)
            state.advance(phase="contacts", checkpoint={"phase": "contacts", "chunk": 0, "cursor": ""})
        _walk(state)

    return sync_run_steps(state, steps)


def sync_run_steps(state: RunState, steps: Callable[[], None]) -> SyncRun:
    """Run a sync's ``steps`` and end the run by what happened (every kind of run ends this way).

    A rate limit puts the run back in the queue with its checkpoint and is raised (the caller retries
    after ``retry_after``); a WeCom error fails the run with WeCom's errcode and hint.
    """
    run = state.run
    try:
        steps()
    except WeComRateLimitedError as exc:
        state.advance()
        work_update(run, status=RunStatus.QUEUED, errors=[*run.errors, exc.as_dict()])
        raise
    except WeComError as exc:
        logger.warning("%s sync run %s failed: %s", run.kind, run.pk, exc)
        state.advance()
        return sync_run_finish(run, RunStatus.FAILED, errors=[*run.errors, exc.as_dict()])
    except (SoftTimeLimitExceeded, WorkLostError):
        # Time is up (the run stays running and the stale-run sweep resumes it), or another worker
        # has the run: either way this executor leaves it as it is.
        raise
    except Exception as exc:
        # Anything else (a malformed answer, a database error) must not leave the run "running" for
        # the sweep to restart forever: it fails, saying what happened; the worker log has the rest.
        logger.exception("%s sync run %s failed", run.kind, run.pk)
        error = {"api": None, "errcode": None, "errmsg": repr(exc)[:500], "hint": UNEXPECTED_HINT}
        return sync_run_finish(run, RunStatus.FAILED, errors=[*run.errors, error])
    state.advance(phase="done", checkpoint={"phase": "done"})
    return sync_run_finish(run, RunStatus.SUCCEEDED, errors=run.errors)


def sync_run_finish(run: SyncRun, status: str, *, errors: list) -> SyncRun:
    """End the run (raises WorkLostError, writing nothing, when another worker holds it now)."""
    work_finish(run, status, errors=errors)
    SyncRunSeen.objects.filter(run=run).delete()
    return run


def _walk(state: RunState) -> None:
    run = state.run
    userids = list(
        Staff.objects.filter(is_active=True, has_contact_permission=True)
        .order_by("userid")
        .values_list("userid", flat=True)
    )
    chunks = [userids[i : i + USERIDS_PER_CALL] for i in range(0, len(userids), USERIDS_PER_CALL)]
    staff = StaffMap(preload=True)
    tag_ids = tag_id_map()
    estimate = Follow.objects.filter(status=FollowStatus.ACTIVE, staff__userid__in=userids).count()
    if estimate > run.progress_total:
        work_update(run, progress_total=estimate)
    stats = _PlannerStats(Follow.objects.count())
    checkpoint = run.checkpoint
    cursor, since = checkpoint.get("cursor", ""), checkpoint.get("since")
    start = checkpoint.get("chunk", 0)
    if start < len(chunks) and checkpoint.get("userids") not in (None, chunks[start]):
        cursor = since = ""  # the staff list changed while the run was down: walk that chunk again
    # The pages are fetched in a thread, ahead of the writes (see _pages).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-prefetch") as prefetch:
        for index in range(start, len(chunks)):
            chunk = chunks[index]
            since = since or timezone.now().isoformat()
            with closing(_pages(state.api, chunk, cursor, prefetch)) as pages:
                for batch in _batches(pages):
                    cursor = batch[-1].get("next_cursor") or ""
                    entries = [entry for page in batch for entry in page.get("external_contact_list") or ()]
                    # One item per follow, should WeCom's walk repeat one (the upsert takes a row once).
                    items = {
                        (entry["external_contact"]["external_userid"], entry["follow_info"]["userid"]): Item(
                            entry["external_contact"]["external_userid"],
                            contact_fields(entry["external_contact"]),
                            entry["follow_info"]["userid"],
                            follow_fields(entry["follow_info"]),
                        )
                        for entry in entries
                    }
                    with transaction.atomic():
                        _batch_settings()
                        result = (
                            follows_upsert(items=list(items.values()), staff=staff, tag_ids=tag_ids)
                            if items
                            else WriteResult()
                        )
                        _mark_seen(run, result.unchanged_ids)
                        closed = 0
                        if not cursor:  # the chunk's walk is complete: what it did not return is gone
                            closed = _close_missing(
                                run, [staff.ids[u] for u in chunk], dt.datetime.fromisoformat(since), tag_ids
                            )
                        # The checkpoint is the page boundary after this batch, committed with its writes.
                        done = {"phase": "contacts", "chunk": index + 1, "cursor": ""}
                        mid = {
                            "phase": "contacts",
                            "chunk": index,
                            "cursor": cursor,
                            "userids": chunk,
                            "since": since,
                        }
                        state.advance(
                            checkpoint=mid if cursor else done,
                            created=result.created,
                            updated=result.updated,
                            unchanged=result.unchanged,
                            closed=closed,
                            progress_done=len(entries),
                        )
                    stats.grew(result.created)
            since = ""


def _batches(pages: Iterator[dict]) -> Iterator[list[dict]]:
    """Consecutive pages of a chunk's walk, grouped for one transaction each: ``BATCH_FOLLOWS`` follows,
    or what came in ``BATCH_SECONDS`` when WeCom is slow, or the rest of the walk.

    A transaction per page spent most of the sync in round trips (the reads, the upserts, the
    seen-follows, the run's UPDATE, the commit: nine a page). A page that fails ends the batch: the
    pages before it are written (what WeCom said stays), then its error is raised.
    """
    batch: list[dict] = []
    follows, started = 0, time.monotonic()
    try:
        for page in pages:
            batch.append(page)
            follows += len(page.get("external_contact_list") or ())
            if follows >= BATCH_FOLLOWS or time.monotonic() - started >= BATCH_SECONDS:
                yield batch
                batch, follows, started = [], 0, time.monotonic()
    except WeComError:
        if batch:
            yield batch
        raise
    if batch:
        yield batch


def _batch_settings() -> None:
    """PostgreSQL settings for this batch's transaction (``SET LOCAL``: they end with it).

    ``synchronous_commit = off``: the commit returns before its WAL reaches the disk. A database
    crash can then lose the last few batches' transactions, each whole and with the checkpoint it
    carries, and WAL is flushed in order, so the run resumes from the checkpoint of a batch whose
    data is there and writes the lost pages again: still exactly once.

    ``random_page_cost = 1.1`` (the usual value for data in memory or on SSD; the default, 4, assumes
    spinning disks): a batch looks up about 2,000 customers by the unique index, and with the default
    PostgreSQL prefers to read the whole contact table from about 100,000 customers on, two to three
    times slower.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF; SET LOCAL random_page_cost TO 1.1")


def _pages(api: CountingAPI, chunk: list[str], cursor: str, prefetch: ThreadPoolExecutor) -> Iterator[dict]:
    """The pages of one chunk's ``batch/get_by_user`` walk from ``cursor``, fetched ahead in a thread.

    The thread walks the cursor chain up to ``PAGES_AHEAD`` pages ahead of the writes, so WeCom's
    latency is hidden behind them (a tenth of the sync's time otherwise; with batches of pages a
    single page ahead no longer covers it). Only the HTTP calls run in the thread (the WeCom client is
    a requests session, used by that thread alone meanwhile, and touches no database). A page fetched
    ahead of a failure is simply not written; a failed call's error is raised here, in order. Close
    the generator (``contextlib.closing``) to stop the thread when the writes stop early.
    """
    ahead: queue.Queue = queue.Queue(maxsize=PAGES_AHEAD)
    stop = threading.Event()

    def put(item: dict | Exception) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def walk(cursor: str) -> None:
        try:
            while True:
                page = api.batch_get_by_user(chunk, cursor=cursor, limit=PAGE_LIMIT)
                cursor = page.get("next_cursor") or ""
                if not put(page) or not cursor:
                    return
        except Exception as exc:  # handed to the writing thread, raised there
            put(exc)

    prefetch.submit(walk, cursor)
    try:
        while True:
            page = ahead.get()
            if isinstance(page, Exception):
                raise page
            yield page
            if not page.get("next_cursor"):
                return
    finally:
        stop.set()


class _PlannerStats:
    """ANALYZE the tables a sync looks up in whenever it has made them four times bigger.

    A first sync loads a corp into empty tables faster than autovacuum analyzes them; with the
    statistics of an empty table PostgreSQL reads every row of the tenant for each batch's lookup
    (growing with the table) instead of using the unique indexes. Once the statistics describe a
    table of some size, the planner scales them to its current size, so growing by four between
    ANALYZEs is enough: three or four per first sync. The event table is written, never read, here.
    """

    TABLES = "contacts_contact, contacts_follow"
    GROWTH = 4

    def __init__(self, rows: int):
        self.analyzed_at = max(rows, 500)
        self.rows = rows

    def grew(self, rows: int) -> None:
        self.rows += rows
        if self.rows >= self.GROWTH * self.analyzed_at and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {self.TABLES}")
            self.analyzed_at = self.rows


def _mark_seen(run: SyncRun, follow_ids: tuple[int, ...]) -> None:
    """Remember the follows a batch found unchanged (a chunk walked again after a resume repeats some)."""
    if not follow_ids:
        return
    if connection.vendor == "postgresql":
        # One array parameter, written as its text (ids from the database): psycopg would otherwise
        # adapt each of the thousands of ids of every batch in Python.
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO contacts_syncrunseen (run_id, follow_id) SELECT %s, unnest(%s::bigint[])"
                " ON CONFLICT DO NOTHING",
                [run.pk, "{" + ",".join(map(str, follow_ids)) + "}"],
            )
    else:
        SyncRunSeen.objects.bulk_create(
            [SyncRunSeen(run=run, follow_id=pk) for pk in follow_ids], ignore_conflicts=True
        )


def _close_missing(run: SyncRun, staff_ids: list[int], since: dt.datetime, tag_ids: dict[str, int]) -> int:
    """Close the active follows of these staff that the run did not see.

    Follows written since the chunk's walk began (a callback added them: WeCom's walk is a snapshot
    taken at its first page) are left alone.
    """
    with transaction.atomic():
        # Locked, and re-checked once locked (PostgreSQL re-reads a row a callback changed meanwhile),
        # so a follow a callback re-added while this ran is not closed.
        missing = list(
            Follow.objects.select_for_update()
            .filter(staff_id__in=staff_ids, status=FollowStatus.ACTIVE, updated_at__lt=since)
            .exclude(id__in=SyncRunSeen.objects.filter(run=run).values("follow_id"))
            .order_by("id")
            .values_list("id", "contact_id", "staff_id", "state")
        )
        if not missing:
            return 0
        now = timezone.now()
        Follow.objects.filter(id__in=[row[0] for row in missing]).update(
            status=FollowStatus.DELETED_BY_STAFF, ended_at=now, updated_at=now
        )
        _record_closed(run, missing, now, tag_ids)
    return len(missing)


def _record_closed(run: SyncRun, missing: list[tuple], now: dt.datetime, tag_ids: dict[str, int]) -> None:
    events_record(
        event_build(
            contact_id=contact_id,
            type=EventType.DELETED_BY_STAFF,
            occurred_at=now,
            staff_id=staff_id,
            channel=state,
            payload={"reason": MISSING_IN_FULL_SYNC, "sync_run": run.pk},
        )
        for _, contact_id, staff_id, state in missing
    )
    contacts_refresh({row[1] for row in missing}, tag_ids=tag_ids)


def sync_summary(run: SyncRun, *, seconds: float) -> dict[str, Any]:
    """What the run leaves in the database, and what it did: the JSON line of ``sync_tenant``."""
    active = Follow.objects.filter(status=FollowStatus.ACTIVE)
    return {
        "run": run.pk,
        "status": run.status,
        "contacts": active.values("contact_id").distinct().count(),
        "follows": active.count(),
        "tags": Tag.objects.filter(deleted=False).count(),
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "closed": run.closed,
        "api_calls": run.api_calls,
        "seconds": round(seconds, 2),
        "errors": run.errors,
    }
