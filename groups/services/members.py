"""Writing what ``groupchat/get`` said, and what a member-change callback says: groups, their member
stays, and the customers' join/leave events.

One writer serves the full sync (a batch of groups per transaction) and the callbacks' reads (one
group). It locks the groups it writes (``SELECT … FOR UPDATE``, in id order), so two workers that
read the same group one after the other cannot both record the same join; a new group is
inserted with ``ON CONFLICT DO NOTHING`` and the loser of that race takes the lock after it.

Which read wins: a read carries the time its call was issued (``read_at``) and a group stores the
time of the read last applied, or of the callback last applied (``synced_at``); a read issued before
that is older than what is stored and changes nothing (events and reads arrive out of order); a
callback's read stores its time even when it changes nothing (``touch``), so that an older read
applied after it cannot undo it. A read whose ``member_version`` is the stored one leaves the members
alone (the version is WeCom's own marker of the member list; an empty one is unknown, and compared);
the full sync and the callbacks' refreshes compare members anyway, to catch renamed customers and
nicknames, which do not change the version. The full sync writes nothing unchanged, so a no-change
re-sync writes no row. A read WeCom has not settled yet is kept from here by the callers
(``groups.services.refresh``).

``members_event_apply`` writes an ``add_member`` / ``del_member`` callback's own news before WeCom's
group shows it (the stays of ``MemChangeList``, at the event's time); the refresh's read then fills in
what the event does not carry.

Events: a customer member who is also a Contact (same external_userid) gets ``group_joined`` /
``group_left`` on the ContactEvent stream, in the same transaction, for changes seen after the group's
first import. The members of a group the full sync sees for the first time are history, not news;
a group first seen through its ``create`` callback or a group code's refresh is new, and its customers
joined (``first_import_joins``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone

from contacts.models import Contact, EventType, Staff
from contacts.services.events import EventRow, events_record_rows
from contacts.sync import staff_ids_ensure
from scrm.tenancy.context import require_current_tenant

from ..models import Group, GroupMember, GroupStatus, JoinScene, MemberType

# A member's fields from groupchat/get, in the order of the stored tuples read back for comparison.
MEMBER_FIELDS = (
    "type",
    "name",
    "unionid",
    "group_nickname",
    "joined_at",
    "join_scene",
    "inviter_userid",
    "state",
)
# A group's fields written from a read (owner_id and the counts are resolved here).
GROUP_FIELDS = ("name", "notice", "admin_userids", "member_version", "wecom_created_at")
STORED_GROUP = (
    "id",
    "chat_id",
    *GROUP_FIELDS,
    "owner_id",
    "status",
    "dismissed_at",
    "member_count",
    "customer_count",
    "synced_at",
)


@dataclass
class GroupRead:
    """One group as ``groupchat/get`` returned it, mapped to field values (see groups.sync)."""

    chat_id: str
    group: dict[str, Any]  # GROUP_FIELDS and owner_userid
    members: dict[str, dict[str, Any]]  # userid → MEMBER_FIELDS
    read_at: dt.datetime  # when the call was issued: the state it shows is at least this recent
    status: str | None = None  # from groupchat/list; None keeps the stored one (normal for a new group)


@dataclass
class ApplyResult:
    created: int = 0  # groups seen for the first time
    updated: int = 0  # groups with a row written (fields or members)
    unchanged: int = 0  # groups read and found as stored, or read before what is stored
    joined: int = 0  # member stays opened in groups already known (or first imports that are news)
    left: int = 0  # member stays closed
    events: int = 0
    stays_inserted: int = 0  # member rows inserted (first imports included)
    changed_chat_ids: list[str] = field(default_factory=list)


def _stored(chat_ids: Iterable[str], *, lock: bool) -> dict[str, dict[str, Any]]:
    queryset = Group.objects.filter(chat_id__in=list(chat_ids)).order_by("id")
    if lock:
        queryset = queryset.select_for_update()
    return {row["chat_id"]: row for row in queryset.values(*STORED_GROUP)}


def _insert(model, columns: tuple[str, ...], rows: list[list], *, suffix: str = "") -> list[tuple]:
    """INSERT plain rows (``suffix``: ``ON CONFLICT …``/``RETURNING …``); returns what RETURNING gave.

    On PostgreSQL the rows travel as one jsonb parameter (see contacts.sync._upsert_returning for
    why: a first sync inserts hundreds of thousands of members). Elsewhere a VALUES list per chunk.
    """
    if not rows:
        return []
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in columns]
    insert = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            select = ", ".join(
                f"e->{i}" if f.get_internal_type() == "JSONField" else f"(e->>{i})::{f.db_type(connection)}"
                for i, f in enumerate(fields)
            )
            cursor.execute(
                f"{insert} SELECT {select} FROM jsonb_array_elements(%s::jsonb) AS e {suffix}",  # noqa: S608
                [json.dumps(rows, default=str)],
            )
            return cursor.fetchall() if "RETURNING" in suffix else []
        ops = connection.ops
        answer: list[tuple] = []
        placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for start in range(0, len(rows), 500):
            batch = rows[start : start + 500]
            values = []
            for row in batch:
                for value, f in zip(row, fields, strict=True):
                    kind = f.get_internal_type()
                    if kind == "JSONField":
                        value = ops.adapt_json_value(value, None)
                    elif kind == "DateTimeField":
                        value = ops.adapt_datetimefield_value(value)
                    values.append(value)
            cursor.execute(f"{insert} VALUES {', '.join([placeholders] * len(batch))} {suffix}", values)
            if "RETURNING" in suffix:
                answer.extend(cursor.fetchall())
        return answer


def _members_insert(rows: list[list]) -> None:
    """Insert member stays: COPY on PostgreSQL (no statement to build, no JSON to encode: a first sync
    inserts hundreds of thousands), else the plain INSERT."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        _insert(GroupMember, MEMBER_COLUMNS, rows)
        return
    columns = ", ".join(connection.ops.quote_name(c) for c in MEMBER_COLUMNS)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {GroupMember._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


MEMBER_COLUMNS = ("tenant_id", "group_id", "userid", *MEMBER_FIELDS, "left_at", "quit_scene", "updated_at")


def _member_row(tenant_id: int, group_id: int, userid: str, member: dict[str, Any], now: dt.datetime) -> list:
    return [tenant_id, group_id, userid, *(member[name] for name in MEMBER_FIELDS), None, None, now]


# A stored stay as read for comparison, (id, *MEMBER_FIELDS), with its join time as whole seconds
# (WeCom's join_time), which PostgreSQL computes: parsing 400,000 timestamps in Python was a fifth of
# a no-change re-sync.
_JOINED = MEMBER_FIELDS.index("joined_at")
_AT = 1 + _JOINED


def _stored_member_columns() -> list:
    if connection.vendor != "postgresql":
        return list(MEMBER_FIELDS)
    epoch = RawSQL('EXTRACT(EPOCH FROM "groups_groupmember"."joined_at")::bigint', ())
    return [epoch if name == "joined_at" else name for name in MEMBER_FIELDS]


def _epoch(value: dt.datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _signature(member: dict[str, Any]) -> tuple:
    """A member from WeCom as a stored stay's comparison tuple (without its id)."""
    values = [member[name] for name in MEMBER_FIELDS]
    values[_JOINED] = _epoch(values[_JOINED])
    return tuple(values)


def _counts(members: dict[str, dict[str, Any]]) -> tuple[int, int]:
    return len(members), sum(1 for m in members.values() if m["type"] == MemberType.CUSTOMER)


def groups_apply(
    *,
    reads: list[GroupRead],
    compare_members: bool = False,
    staff_ids: dict[str, int] | None = None,
    first_import_joins: bool = False,
    touch: bool = False,
) -> ApplyResult:
    """Write these reads (one per group) in the caller's transaction; see the module's docstring.

    ``compare_members``: compare the members of a group even when its member_version is unchanged
    (the full sync, a callback's refresh). ``staff_ids``: a userid →
    Staff id cache the caller keeps across batches (owners unknown to it get a bare Staff row, as
    follows' staff do). ``first_import_joins``: the customers of a group inserted here get
    ``group_joined`` (a group just created). ``touch``: store the read's time on a group it finds
    unchanged (callbacks' re-reads; not the full sync, which writes nothing unchanged).
    """
    result = ApplyResult()
    reads_by_chat = {read.chat_id: read for read in reads}
    if not reads_by_chat:
        return result
    staff_ids = {} if staff_ids is None else staff_ids
    owners = {r.group["owner_userid"] for r in reads_by_chat.values() if r.group["owner_userid"]}
    if owners - set(staff_ids):
        staff_ids.update(staff_ids_ensure(owners - set(staff_ids)))
    tenant_id = require_current_tenant().pk
    now = timezone.now()

    stored = _stored(reads_by_chat, lock=True)
    first = _groups_insert(
        [r for chat_id, r in sorted(reads_by_chat.items()) if chat_id not in stored],
        staff_ids,
        tenant_id,
        now,
    )
    if len(first) + len(stored) < len(reads_by_chat):
        # Another writer inserted some of them meanwhile: theirs is the first import; ours compares.
        stored.update(_stored(set(reads_by_chat) - set(first) - set(stored), lock=True))
    member_rows = [
        _member_row(tenant_id, group_id, userid, member, now)
        for chat_id, group_id in first.items()
        for userid, member in reads_by_chat[chat_id].members.items()
    ]
    result.created = len(first)
    result.changed_chat_ids.extend(first)
    news: list[tuple[str, str, dict[str, Any], dt.datetime]] = []  # (chat_id, userid, member, at) joined/left
    if first_import_joins:
        news.extend(
            (chat_id, userid, {**member, "_joined": True}, member["joined_at"] or now)
            for chat_id in first
            for userid, member in reads_by_chat[chat_id].members.items()
            if member["type"] == MemberType.CUSTOMER
        )

    # Groups already known: which reads are news, and whose members to compare.
    fresh = {}
    for chat_id, row in stored.items():
        read = reads_by_chat[chat_id]
        if row["synced_at"] is not None and read.read_at < row["synced_at"]:
            result.unchanged += 1  # an older read than the one applied: it changes nothing
            continue
        fresh[chat_id] = row
    compare = {
        row["id"]: reads_by_chat[chat_id]
        for chat_id, row in fresh.items()
        if compare_members
        or not reads_by_chat[chat_id].group["member_version"]  # unknown: nothing says they are the same
        or row["member_version"] != reads_by_chat[chat_id].group["member_version"]
        or row["status"] == GroupStatus.DISMISSED
    }
    current: dict[int, dict[str, tuple]] = {group_id: {} for group_id in compare}
    if compare:
        for row in (
            GroupMember.objects.filter(group_id__in=list(compare), left_at__isnull=True)
            .order_by()
            .values_list("group_id", "userid", "id", *_stored_member_columns())
        ):
            stay = row[2:]
            if isinstance(stay[_AT], dt.datetime):  # not PostgreSQL: the time came back as is
                stay = (*stay[:_AT], _epoch(stay[_AT]), *stay[_AT + 1 :])
            current[row[0]][row[1]] = stay

    closes: list[tuple[int, dt.datetime, int | None]] = []  # (stay id, left_at, quit_scene)
    updates: list[GroupMember] = []
    group_writes: list[Group] = []
    touched: dict[dt.datetime, list[int]] = {}  # read time → unchanged groups it is stored on
    for chat_id, row in fresh.items():
        read = reads_by_chat[chat_id]
        members_changed = False
        if row["id"] in compare:
            members_changed = _members_diff(
                row, read, current[row["id"]], now, tenant_id, member_rows, closes, updates, news
            )
        count, customers = (
            _counts(read.members) if row["id"] in compare else (row["member_count"], row["customer_count"])
        )
        status = read.status or (
            row["status"] if row["status"] != GroupStatus.DISMISSED else GroupStatus.NORMAL
        )
        new = {
            **{name: read.group[name] for name in GROUP_FIELDS},
            "owner_id": staff_ids.get(read.group["owner_userid"]),
            "status": status,
            "dismissed_at": row["dismissed_at"] if status == GroupStatus.DISMISSED else None,
            "member_count": count,
            "customer_count": customers,
        }
        if members_changed or any(row[name] != value for name, value in new.items()):
            group_writes.append(Group(pk=row["id"], synced_at=read.read_at, updated_at=now, **new))
            result.updated += 1
            result.changed_chat_ids.append(chat_id)
        else:
            result.unchanged += 1
            if touch and (row["synced_at"] is None or read.read_at > row["synced_at"]):
                touched.setdefault(read.read_at, []).append(row["id"])

    # Closes first: a member who came back gets a new stay beside the old one, which must be closed.
    for scene in {scene for _, _, scene in closes}:
        for left_at in {at for _, at, s in closes if s == scene}:
            GroupMember.objects.filter(
                id__in=[pk for pk, at, s in closes if s == scene and at == left_at]
            ).update(left_at=left_at, quit_scene=scene, updated_at=now)
    _members_insert(member_rows)
    if updates:
        GroupMember.objects.bulk_update(updates, [*MEMBER_FIELDS, "updated_at"], batch_size=500)
    if group_writes:
        Group.objects.bulk_update(
            group_writes,
            [
                *GROUP_FIELDS,
                "owner_id",
                "status",
                "dismissed_at",
                "member_count",
                "customer_count",
                "synced_at",
                "updated_at",
            ],
            batch_size=500,
        )
    for read_at, group_ids in touched.items():
        # Only the read's time (not updated_at: nothing about the group changed).
        Group.objects.filter(pk__in=group_ids).update(synced_at=read_at)
    result.left = len(closes)
    result.stays_inserted = len(member_rows)
    result.joined = sum(1 for _, _, m, _ in news if m.get("_joined"))
    groups = {
        chat_id: {
            "id": first[chat_id] if chat_id in first else stored[chat_id]["id"],
            "owner_id": staff_ids.get(read.group["owner_userid"]),
            "name": read.group["name"],
        }
        for chat_id, read in reads_by_chat.items()
        if chat_id in first or chat_id in stored
    }
    result.events = _events_record(news, groups)
    return result


def _groups_insert(
    reads: list[GroupRead], staff_ids: dict[str, int], tenant_id: int, now: dt.datetime
) -> dict[str, int]:
    """Insert the groups seen for the first time; chat_id → id of those this writer inserted."""
    if not reads:
        return {}
    columns = (
        "tenant_id",
        "chat_id",
        *GROUP_FIELDS,
        "owner_id",
        "status",
        "member_count",
        "customer_count",
        "synced_at",
        "created_at",
        "updated_at",
    )
    rows = [
        [
            tenant_id,
            read.chat_id,
            *(read.group[name] for name in GROUP_FIELDS),
            staff_ids.get(read.group["owner_userid"]),
            read.status or GroupStatus.NORMAL,
            *_counts(read.members),
            read.read_at,
            now,
            now,
        ]
        for read in reads
    ]
    if connection.vendor == "postgresql":
        returned = _insert(
            Group, columns, rows, suffix="ON CONFLICT (tenant_id, chat_id) DO NOTHING RETURNING chat_id, id"
        )
        return dict(returned)
    # SQLite (development) admits one writer at a time: whatever is not there yet is ours.
    _insert(Group, columns, rows, suffix="ON CONFLICT DO NOTHING")
    return dict(Group.objects.filter(chat_id__in=[r.chat_id for r in reads]).values_list("chat_id", "id"))


def _members_diff(
    row: dict[str, Any],
    read: GroupRead,
    current: dict[str, tuple],
    now: dt.datetime,
    tenant_id: int,
    member_rows: list[list],
    closes: list[tuple[int, dt.datetime, int | None]],
    updates: list[GroupMember],
    news: list[tuple[str, str, dict[str, Any], dt.datetime]],
) -> bool:
    """Compare one group's current stays with what WeCom listed; queue the writes. True if any."""
    group_id, chat_id = row["id"], row["chat_id"]
    changed = False
    for userid, member in read.members.items():
        stay = current.get(userid)
        if stay is None:
            member_rows.append(_member_row(tenant_id, group_id, userid, member, now))
            news.append((chat_id, userid, {**member, "_joined": True}, member["joined_at"] or now))
            changed = True
            continue
        values = stay[1:]
        signature = _signature(member)
        if values == signature:
            continue
        changed = True
        before, after = values[_JOINED], signature[_JOINED]
        if before is not None and after is not None and after > before:
            # Left and came back between two reads: the old stay ends (when is unknown; no later than
            # the new join) and a new one starts, so the history shows both.
            left_at = min(member["joined_at"], now)
            closes.append((stay[0], left_at, None))
            news.append((chat_id, userid, _as_member(values), left_at))
            member_rows.append(_member_row(tenant_id, group_id, userid, member, now))
            news.append((chat_id, userid, {**member, "_joined": True}, member["joined_at"]))
        else:
            updates.append(GroupMember(pk=stay[0], updated_at=now, **member))
    for userid, stay in current.items():
        if userid in read.members:
            continue
        # When and how they left is the leave callback's to say (members_event_apply); a read that
        # finds them gone first knows neither.
        closes.append((stay[0], now, None))
        news.append((chat_id, userid, _as_member(stay[1:]), now))
        changed = True
    return changed


def _as_member(values: tuple) -> dict[str, Any]:
    return dict(zip(MEMBER_FIELDS, values, strict=True))


def _events_record(
    news: list[tuple[str, str, dict[str, Any], dt.datetime]], groups: dict[str, dict[str, Any]]
) -> int:
    """group_joined / group_left for the customers among ``news`` who are Contacts (``groups``: chat_id →
    the group's ``id``, ``owner_id`` and ``name``)."""
    customers = {userid for _, userid, member, _ in news if member["type"] == MemberType.CUSTOMER}
    if not customers:
        return 0
    contact_ids = dict(
        Contact.objects.filter(external_userid__in=list(customers)).values_list("external_userid", "id")
    )
    rows = []
    for chat_id, userid, member, at in news:
        contact_id = contact_ids.get(userid) if member["type"] == MemberType.CUSTOMER else None
        if contact_id is None:
            continue
        group = groups[chat_id]
        rows.append(
            EventRow(
                contact_id=contact_id,
                type=EventType.GROUP_JOINED if member.get("_joined") else EventType.GROUP_LEFT,
                occurred_at=at,
                staff_id=group["owner_id"],
                channel=member["state"],
                payload={"group_id": group["id"], "chat_id": chat_id, "group_name": group["name"]},
            )
        )
    return events_record_rows(rows)


def group_dismiss(*, chat_id: str, dismissed_at: dt.datetime, read_at: dt.datetime) -> bool:
    """Mark a known group dismissed (WeCom answered 40050 to a call issued at ``read_at``); members stay
    as they were (WeCom no longer lists them). True if this changed the group."""
    group = Group.objects.select_for_update().filter(chat_id=chat_id).first()
    if group is None or group.status == GroupStatus.DISMISSED:
        return False
    if group.synced_at is not None and read_at < group.synced_at:
        return False  # a read applied after the call that said "gone" (which then was not the last word)
    group.status, group.dismissed_at, group.synced_at = GroupStatus.DISMISSED, dismissed_at, read_at
    group.save(update_fields=["status", "dismissed_at", "synced_at", "updated_at"])
    return True


def members_event_apply(
    *,
    chat_id: str,
    at: dt.datetime,
    joined: list[str] = (),
    left: list[str] = (),
    join_scene: int | None = None,
    quit_scene: int | None = None,
) -> int:
    """Apply what an ``add_member`` / ``del_member`` callback says, before WeCom's group shows it:
    stays opened for ``joined`` and closed for ``left`` at ``at`` (the event's time), with the
    group's counts and the customers' group_joined / group_left. Returns the stays changed.

    Idempotent and safe out of order, per member: a join is skipped for a member with a current stay,
    or with a stay closed at or after ``at`` (a later leave came first); a leave closes only a stay
    opened at or before ``at``, and for a member already gone it only gives the last closed stay the
    quit scene it lacks (a read closed it first, not knowing how they left). A group not known yet is
    left to its refresh (the read imports it). The fields a callback does not carry (the inviter, a
    group code's ``state``, nicknames) come with the refresh's read, which updates these stays.
    """
    group = Group.objects.select_for_update().filter(chat_id=chat_id).first()
    if group is None or group.status == GroupStatus.DISMISSED:
        return 0
    userids = set(joined) | set(left)
    stays: dict[str, list[GroupMember]] = {}
    for stay in GroupMember.objects.filter(group=group, userid__in=userids).order_by("id"):
        stays.setdefault(stay.userid, []).append(stay)
    news: list[tuple[str, str, dict[str, Any], dt.datetime]] = []
    new_stays = _event_joins(
        group, [u for u in dict.fromkeys(joined) if u not in left], stays, at, join_scene
    )
    news.extend(
        (chat_id, s.userid, {"type": s.type, "state": s.state, "_joined": True}, at) for s in new_stays
    )
    closed = 0
    for userid in dict.fromkeys(left):
        current = next((s for s in stays.get(userid, ()) if s.left_at is None), None)
        if current is None:
            last = max((s for s in stays.get(userid, ())), key=lambda s: (s.left_at, s.pk), default=None)
            if last is not None and last.quit_scene is None and quit_scene is not None:
                closed += GroupMember.objects.filter(pk=last.pk).update(quit_scene=quit_scene)
            continue
        if current.joined_at is not None and current.joined_at > at:
            continue  # they came back after this leave, and that join is applied already
        GroupMember.objects.filter(pk=current.pk).update(
            left_at=at, quit_scene=quit_scene, updated_at=timezone.now()
        )
        news.append((chat_id, userid, {"type": current.type, "state": current.state}, at))
        closed += 1
    if not new_stays and not news:
        return closed
    current = GroupMember.objects.filter(group=group, left_at__isnull=True)
    group.member_count = current.count()
    group.customer_count = current.filter(type=MemberType.CUSTOMER).count()
    # What the callback said is at least as recent as its time: a read issued before it is older.
    group.synced_at = max(group.synced_at, at) if group.synced_at else at
    group.save(update_fields=["member_count", "customer_count", "synced_at", "updated_at"])
    owner = {chat_id: {"id": group.pk, "owner_id": group.owner_id, "name": group.name}}
    _events_record(news, owner)
    return closed + len(new_stays)


def _event_joins(
    group: Group,
    userids: list[str],
    stays: dict[str, list[GroupMember]],
    at: dt.datetime,
    join_scene: int | None,
) -> list[GroupMember]:
    """Insert the stays of the members a callback says joined (see ``members_event_apply``)."""
    joining = [
        userid
        for userid in userids
        if not any(s.left_at is None or s.left_at >= at for s in stays.get(userid, ()))
    ]
    if not joining:
        return []
    # Staff are the corp's members (the Staff rows); anyone else in a customer group is external.
    staff = dict(Staff.objects.filter(userid__in=joining).values_list("userid", "name"))
    customers = dict(
        Contact.objects.filter(external_userid__in=joining).values_list("external_userid", "name")
    )
    scene = join_scene if join_scene in JoinScene.values else JoinScene.UNKNOWN
    rows = [
        GroupMember(
            group=group,
            userid=userid,
            type=MemberType.STAFF if userid in staff else MemberType.CUSTOMER,
            name=(staff.get(userid) or customers.get(userid) or "")[:128],
            joined_at=at,
            join_scene=scene,
        )
        for userid in joining
    ]
    return GroupMember.objects.bulk_create(rows)
