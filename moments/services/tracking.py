"""Tracking every Moment WeCom tells us about: who published it, who can see it, who liked or commented.

WeCom pushes nothing about Moments, so each ``Moment`` is polled on a schedule by age
(``POLL_SCHEDULE``: every 15 minutes for the first 2 hours, hourly until a day, daily until 14 days,
then never), due in the database (``next_poll_at``) and claimed by the ``moments.poll_due`` tick with
SKIP LOCKED. A poll reads:

- for a corp post, every member's ``publish_status`` (``get_moment_task``, 1,000 a page): a
  ``MomentPublication`` per member, written only when new or changed (``published_at``: the poll that
  first saw it published, WeCom gives no time);
- for each copy newly published, once, who can see it (``get_moment_send_result``, 5,000 a page):
  ``MomentReach`` rows, the customer resolved by external_userid;
- for every published copy, its likes and comments (``get_moment_comments``, no paging in WeCom). An
  answer whose sha256 equals the copy's ``comments_digest`` writes nothing; otherwise the interactions
  not stored yet are inserted and each one by a customer we know becomes a ``ContactEvent`` in the
  same transaction (the Moment's row is locked first, so two polls at once write each one once).

WeCom is read by ``POLL_READERS`` threads ahead of the writes (no database in them); the writes go in
transactions of ``WRITE_CHUNK`` copies. The Moment's totals are written only when they changed: a poll
that learns nothing writes no data row, only the Moment's schedule (``next_poll_at``, ``polls``,
``last_polled_at``).

Members' own posts (and corp posts made in WeCom's admin console) are found by a daily
``member_moments_sync`` per tenant (``get_moment_list``), which makes them ``Moment`` rows due for a
poll at once; those older than the schedule are polled that once, so their engagement is known too.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from contacts.models import Contact, EventType, Staff
from contacts.services.events import EventRow, events_record_rows
from scrm.tenancy.context import require_current_tenant
from scrm.tenancy.models import Tenant
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import WeComError

from ..models import (
    CreateType,
    InteractionKind,
    MemberSync,
    Moment,
    MomentInteraction,
    MomentPublication,
    MomentReach,
    MomentTask,
)

logger = logging.getLogger(__name__)

TASK_PAGE = 1000  # get_moment_task's maximum
SEND_RESULT_PAGE = 5000  # get_moment_send_result's maximum
LIST_PAGE = 20  # get_moment_list's maximum
LIST_SPAN = dt.timedelta(days=30)  # get_moment_list: at most 30 days per call
# (age under, interval): the first that the age is under applies; past the last, tracking stops.
POLL_SCHEDULE = (
    (dt.timedelta(hours=2), dt.timedelta(minutes=15)),
    (dt.timedelta(hours=24), dt.timedelta(hours=1)),
    (dt.timedelta(days=14), dt.timedelta(days=1)),
)
# The tick (and a poll queued on commit) pushes a Moment's next poll this far, so a poll whose task is
# lost runs again after it, and a second tick does not take it meanwhile.
POLL_LEASE = dt.timedelta(minutes=15)
POLL_BATCH = 500
POLL_GROUP = 50  # Moments of one tenant one poll task takes (moments_poll), read ahead across them
POLL_READERS = 4  # threads reading one Moment's copies from WeCom ahead of the writes
WRITE_CHUNK = 500  # copies per write transaction
CONTACT_LOOKUP = 10_000  # external_userids per contacts query (well under PostgreSQL's 65,535 parameters)
# The daily sync re-reads the day before where it got to: a post WeCom lists late is still found.
SYNC_OVERLAP = dt.timedelta(days=1)
FIRST_SYNC = dt.timedelta(days=30)  # the first run reads this far back
CONTENT_KEYS = ("image", "video", "link", "location")  # what get_moment_list says a post carries
EVENT_TYPES = {
    InteractionKind.LIKE: EventType.MOMENT_LIKED,
    InteractionKind.COMMENT: EventType.MOMENT_COMMENTED,
}


def next_poll_at(*, created_at: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """When a Moment made at ``created_at`` is polled next after a poll at ``now``; None: no more."""
    age = now - created_at
    for under, interval in POLL_SCHEDULE:
        if age < under:
            return now + interval
    return None


# --- starting, claiming, refreshing ---------------------------------------------------------------


def moment_track_start(*, moment: Moment) -> None:
    """Track ``moment`` from now: a poll is queued once the caller commits. Its next poll is leased to
    that task (``POLL_LEASE``): the tick takes it over only if the queued poll is lost."""
    due = timezone.now() + POLL_LEASE
    Moment.objects.filter(pk=moment.pk).update(next_poll_at=due)
    moment.next_poll_at = due
    _poll_on_commit(moment)


def moment_refresh(*, moment: Moment) -> None:
    """Poll soon (the dashboard's refresh), whatever the schedule says: in a worker, once the caller
    commits. A Moment whose tracking has ended is read once more and stays ended."""
    _poll_on_commit(moment)


def _poll_on_commit(moment: Moment) -> None:
    # Imported here: the tasks module imports this one.
    from ..tasks import poll

    poll.delay_on_commit(moment.tenant_id, moment.pk)


def moments_poll_claim(*, now: dt.datetime | None = None) -> list[tuple[int, int]]:
    """The Moments whose poll is due, in every tenant, as (tenant_id, moment_id), each leased for
    ``POLL_LEASE`` in the same transaction: SKIP LOCKED keeps two ticks from taking the same Moment."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Moment.unscoped.select_for_update(skip_locked=True)
            .filter(next_poll_at__lte=now, tenant__is_active=True)
            .order_by("next_poll_at", "pk")
            .values_list("tenant_id", "pk")[:POLL_BATCH]
        )
        if due:
            Moment.unscoped.filter(pk__in=[pk for _, pk in due]).update(next_poll_at=now + POLL_LEASE)
    return due


# --- polling --------------------------------------------------------------------------------------


@dataclass
class PollResult:
    api_calls: int = 0
    rows_written: int = 0  # data rows inserted or updated (not the Moment's own schedule)
    newly_published: int = 0
    new_interactions: int = 0
    events: int = 0
    errors: list[WeComError] = field(default_factory=list)  # one per Moment whose poll WeCom stopped


@dataclass
class _Copy:
    """One member's copy (a publication) as the poll holds it."""

    pk: int
    staff_id: int
    userid: str
    published: bool
    reach: int
    reach_read: bool
    likes: int
    comments: int
    digest: str


# (kind, external_userid, by_userid, occurred_at): how WeCom identifies an interaction (it gives no id).
Interaction = tuple[str, str, str, dt.datetime]


@dataclass
class _CopyRead:
    """What WeCom says about one copy, read without touching the database."""

    calls: int = 0
    reach: list[str] | None = None  # who can see it, when read (the first poll after it was published)
    digest: str = ""
    likes: int = 0
    comments: int = 0
    interactions: list[Interaction] = field(default_factory=list)  # only when the digest changed


def moment_poll(*, moment: Moment, api: WeComAPI | None = None) -> PollResult:
    """Read what changed about ``moment`` in WeCom, write only that, and plan the next poll.

    A WeCom error stops the poll (what was written before stays) and is raised; the next poll is
    planned by age all the same, so a Moment WeCom no longer knows stops being polled in 14 days.
    """
    result = moments_poll(moments=[moment], api=api)
    if result.errors:
        raise result.errors[0]
    return result


def moments_poll(*, moments: list[Moment], api: WeComAPI | None = None) -> PollResult:
    """``moment_poll`` for several Moments of one tenant, in order, with WeCom read ahead across them:
    a member's own post has one copy, so polled one at a time each would wait for its one answer.

    A WeCom error ends that Moment's poll (kept in ``errors``, its next poll planned) and the others go
    on. The reads of every Moment are queued at once: keep ``moments`` to a ``POLL_GROUP``.
    """
    if not moments:
        return PollResult()
    api = api or api_for(moments[0].tenant)
    result = PollResult()
    pool = ThreadPoolExecutor(max_workers=POLL_READERS, thread_name_prefix="moment-poll")
    try:
        planned = []
        for moment in moments:
            now = timezone.now()
            corp = moment.create_type == CreateType.CORP
            try:
                if corp:
                    _publications_write(moment, _statuses_read(api, moment, result), now, result)
            except WeComError as exc:
                _finish(moment, now, totals={})
                result.errors.append(exc)
                continue
            copies = _copies(moment)
            published = [c for c in copies if c.published]
            reads = [pool.submit(_copy_read, api, moment.moment_id, copy, corp) for copy in published]
            planned.append((moment, now, copies, published, reads))
        for moment, now, copies, published, reads in planned:
            try:
                engaged = _copies_write_all(moment, published, reads, result)
            except WeComError as exc:
                _finish(moment, now, totals={})
                result.errors.append(exc)
                continue
            _totals_write(moment, now, copies, engaged, result)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return result


def _totals_write(
    moment: Moment, now: dt.datetime, copies: list[_Copy], engaged: int | None, result: PollResult
) -> None:
    totals = {
        "members": len(copies),
        "published": sum(c.published for c in copies),
        "reach": sum(c.reach for c in copies),
        "likes": sum(c.likes for c in copies),
        "comments": sum(c.comments for c in copies),
    }
    if engaged is not None:
        totals["engaged_customers"] = engaged
    changed = {name: value for name, value in totals.items() if getattr(moment, name) != value}
    result.rows_written += bool(changed)
    _finish(moment, now, totals=changed)


def _finish(moment: Moment, now: dt.datetime, *, totals: dict[str, int]) -> None:
    """The Moment's totals that changed, and its schedule (the one write of a poll that found nothing)."""
    fields: dict[str, Any] = {
        **totals,
        "next_poll_at": next_poll_at(created_at=moment.created_at_wecom, now=now),
        "last_polled_at": now,
    }
    with transaction.atomic():
        _asynchronous_commit()  # a schedule lost in a crash only means one more poll
        Moment.objects.filter(pk=moment.pk).update(**fields, polls=F("polls") + 1)
    for name, value in fields.items():
        setattr(moment, name, value)
    moment.polls += 1


def _statuses_read(api: WeComAPI, moment: Moment, result: PollResult) -> dict[str, bool]:
    """Each member asked to publish a corp post, and whether they have (userid → published)."""
    statuses: dict[str, bool] = {}
    cursor = ""
    while True:
        result.api_calls += 1
        page = api.get_moment_task(moment_id=moment.moment_id, cursor=cursor, limit=TASK_PAGE)
        for item in page.get("task_list") or []:
            if item.get("userid"):
                statuses[item["userid"]] = item.get("publish_status") == 1
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return statuses


def _publications_write(
    moment: Moment, statuses: dict[str, bool], now: dt.datetime, result: PollResult
) -> None:
    """New members' publications and the publish statuses that changed, in one transaction. A userid
    Siyu does not know yet (the contacts sync brings it) gets its publication at a later poll."""
    if not statuses:
        return
    staff = dict(Staff.objects.filter(userid__in=list(statuses)).values_list("userid", "pk"))
    held = {
        staff_id: (pk, published)
        for pk, staff_id, published in MomentPublication.objects.filter(moment=moment).values_list(
            "pk", "staff_id", "published"
        )
    }
    new: list[MomentPublication] = []
    published_now: list[int] = []
    unpublished: list[int] = []
    for userid, published in statuses.items():
        staff_id = staff.get(userid)
        if staff_id is None:
            continue
        if staff_id not in held:
            new.append(
                MomentPublication(
                    moment=moment,
                    staff_id=staff_id,
                    published=published,
                    published_at=now if published else None,
                )
            )
        elif held[staff_id][1] != published:
            (published_now if published else unpublished).append(held[staff_id][0])
    if not (new or published_now or unpublished):
        return
    with transaction.atomic():
        _asynchronous_commit()
        MomentPublication.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        # Guarded: a poll running at the same time counts each change once.
        flipped = MomentPublication.objects.filter(pk__in=published_now, published=False).update(
            published=True, published_at=now
        )
        # A member who deleted their copy: WeCom lists it as not published again.
        dropped = MomentPublication.objects.filter(pk__in=unpublished, published=True).update(
            published=False, published_at=None
        )
    result.rows_written += len(new) + flipped + dropped
    result.newly_published += sum(p.published for p in new) + flipped


def _asynchronous_commit() -> None:
    """``synchronous_commit = off`` for this transaction (PostgreSQL): its commit does not wait for the
    WAL to reach the disk (a poll commits many small transactions). A database crash can then lose a
    poll's last write, whole: the copies' digests and reach flags go with the rows and events they
    describe, so the next poll reads the same answers again and writes them, once. (The campaigns'
    results poll does the same, for the same reason.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _copies(moment: Moment) -> list[_Copy]:
    return [
        _Copy(*row)
        for row in MomentPublication.objects.filter(moment=moment)
        .order_by("pk")
        .values_list(
            "pk", "staff_id", "staff__userid", "published", "reach", "reach_read", "likes", "comments",
            "comments_digest",
        )
    ]  # fmt: skip


def _copies_write_all(
    moment: Moment, copies: list[_Copy], reads: list[Future], result: PollResult
) -> int | None:
    """Write what the reads of the published copies found, ``WRITE_CHUNK`` copies per transaction.
    Returns the Moment's engaged customers when new interactions came, else None."""
    if not copies:
        return None
    state = _WriteState(moment)
    for start in range(0, len(copies), WRITE_CHUNK):
        chunk = [
            (copy, reads[start + i].result()) for i, copy in enumerate(copies[start : start + WRITE_CHUNK])
        ]
        result.api_calls += sum(read.calls for _, read in chunk)
        _copies_write(state, chunk, result)
    if not state.engaged_changed:
        return None
    return (
        MomentInteraction.objects.filter(moment=moment)
        .exclude(external_userid="")
        .values("external_userid")
        .distinct()
        .count()
    )


def _copy_read(api: WeComAPI, moment_id: str, copy: _Copy, corp: bool) -> _CopyRead:
    read = _CopyRead()
    if corp and not copy.reach_read:
        customers: list[str] = []
        cursor = ""
        while True:
            read.calls += 1
            page = api.get_moment_send_result(
                moment_id=moment_id, userid=copy.userid, cursor=cursor, limit=SEND_RESULT_PAGE
            )
            customers += [
                c["external_userid"] for c in page.get("customer_list") or [] if c.get("external_userid")
            ]
            cursor = page.get("next_cursor") or ""
            if not cursor:
                break
        read.reach = list(dict.fromkeys(customers))
    read.calls += 1
    answer = api.get_moment_comments(moment_id=moment_id, userid=copy.userid)
    likes, comments = answer.get("like_list") or [], answer.get("comment_list") or []
    read.digest = hashlib.sha256(
        json.dumps([likes, comments], sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    if read.digest != copy.digest:
        read.likes, read.comments = len(likes), len(comments)
        read.interactions = [
            *_interactions(InteractionKind.LIKE, likes),
            *_interactions(InteractionKind.COMMENT, comments),
        ]
    return read


def _interactions(kind: str, items: list[dict[str, Any]]) -> Iterable[Interaction]:
    for item in items:
        external_userid, by_userid = item.get("external_userid") or "", item.get("userid") or ""
        if not (external_userid or by_userid):
            continue
        occurred_at = dt.datetime.fromtimestamp(int(item.get("create_time") or 0), dt.UTC)
        yield kind, external_userid, "" if external_userid else by_userid, occurred_at


class _WriteState:
    """What the writes of one poll share: the Moment, its task's id (read once, for the events)."""

    def __init__(self, moment: Moment):
        self.moment = moment
        self.engaged_changed = False

    @functools.cached_property
    def task_id(self) -> int | None:
        if self.moment.create_type != CreateType.CORP:
            return None  # a member's own post has no task
        return MomentTask.objects.filter(moment=self.moment).values_list("pk", flat=True).first()


def _copies_write(state: _WriteState, chunk: list[tuple[_Copy, _CopyRead]], result: PollResult) -> None:
    """One transaction for the copies of ``chunk`` whose reach was read or whose answer changed: the
    reach rows, the interactions not stored yet with their events, the copies' counts and digests."""
    changed = [(copy, read) for copy, read in chunk if read.reach is not None or read.digest != copy.digest]
    if not changed:
        return
    moment = state.moment
    with transaction.atomic():
        _asynchronous_commit()
        # Serialises this Moment's writers: the interactions stored are read after the lock, so two
        # polls at once insert (and record as events) each interaction once.
        Moment.objects.select_for_update().filter(pk=moment.pk).values_list("pk").first()
        reached = [(copy.staff_id, e) for copy, read in changed if read.reach for e in read.reach]
        interactions = [
            (copy.staff_id, *i)
            for copy, read in changed
            if read.digest != copy.digest
            for i in read.interactions
        ]
        contacts = _contact_ids({e for _, e in reached} | {i[2] for i in interactions if i[2]})
        if reached:
            MomentReach.objects.bulk_create(
                [
                    MomentReach(
                        moment=moment, staff_id=staff_id, external_userid=e, contact_id=contacts.get(e)
                    )
                    for staff_id, e in reached
                ],
                batch_size=5000,
                ignore_conflicts=True,
            )
            result.rows_written += len(reached)
        new = _interactions_insert(moment, interactions, contacts)
        if new:
            result.new_interactions += len(new)
            result.rows_written += len(new)
            state.engaged_changed = state.engaged_changed or any(i.external_userid for i in new)
            payload = {"moment": moment.pk, "moment_id": moment.moment_id, "task": state.task_id}
            events = events_record_rows(
                EventRow(
                    contact_id=i.contact_id,
                    type=EVENT_TYPES[i.kind],
                    occurred_at=i.occurred_at,
                    staff_id=i.staff_id,
                    channel="",
                    payload=payload,
                )
                for i in new
                if i.contact_id is not None
            )
            result.events += events
            result.rows_written += events
        updates = []
        for copy, read in changed:
            if read.reach is not None:
                copy.reach, copy.reach_read = len(read.reach), True
            if read.digest != copy.digest:
                copy.likes, copy.comments, copy.digest = read.likes, read.comments, read.digest
            updates.append(
                MomentPublication(
                    pk=copy.pk,
                    reach=copy.reach,
                    reach_read=copy.reach_read,
                    likes=copy.likes,
                    comments=copy.comments,
                    comments_digest=copy.digest,
                )
            )
        _publications_update(updates)
        result.rows_written += len(updates)


def _contact_ids(external_userids: set[str]) -> dict[str, int]:
    ids = sorted(external_userids)
    found: dict[str, int] = {}
    for start in range(0, len(ids), CONTACT_LOOKUP):
        found.update(
            Contact.objects.filter(external_userid__in=ids[start : start + CONTACT_LOOKUP]).values_list(
                "external_userid", "pk"
            )
        )
    return found


def _publications_update(updates: list[MomentPublication]) -> None:
    """The copies' counts and digests. On PostgreSQL one UPDATE … FROM unnest(arrays): bulk_update's
    CASE per row costs more to build in Python than the write itself (bench/moments.py)."""
    if connection.vendor != "postgresql":
        MomentPublication.objects.bulk_update(
            updates, ["reach", "reach_read", "likes", "comments", "comments_digest"], batch_size=WRITE_CHUNK
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE "moments_momentpublication" AS p
               SET reach = v.reach, reach_read = v.reach_read, likes = v.likes, comments = v.comments,
                   comments_digest = v.digest
              FROM unnest(%s::bigint[], %s::integer[], %s::boolean[], %s::integer[], %s::integer[],
                          %s::text[]) AS v(id, reach, reach_read, likes, comments, digest)
             WHERE p.id = v.id AND p.tenant_id = %s
            """,
            [
                [u.pk for u in updates],
                [u.reach for u in updates],
                [u.reach_read for u in updates],
                [u.likes for u in updates],
                [u.comments for u in updates],
                [u.comments_digest for u in updates],
                require_current_tenant().pk,
            ],
        )


def _interactions_insert(
    moment: Moment, rows: list[tuple[int, str, str, str, dt.datetime]], contacts: dict[str, int]
) -> list[MomentInteraction]:
    """Insert the interactions ``(staff_id, kind, external_userid, by_userid, occurred_at)`` not
    stored yet (the caller holds the Moment's lock); returns the ones inserted.

    On PostgreSQL one INSERT … ON CONFLICT DO NOTHING RETURNING: the unique key tells what is new,
    without reading what is stored first."""
    rows = list(dict.fromkeys(rows))
    if not rows:
        return []
    if connection.vendor != "postgresql":
        return _interactions_insert_orm(moment, rows, contacts)
    tenant_id = require_current_tenant().pk
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO "moments_momentinteraction"
                   (tenant_id, moment_id, staff_id, kind, external_userid, by_userid, contact_id, occurred_at)
            SELECT %s, %s, r.staff_id, r.kind, r.external_userid, r.by_userid, r.contact_id, r.occurred_at
              FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::timestamptz[])
                   AS r(staff_id, kind, external_userid, by_userid, contact_id, occurred_at)
                ON CONFLICT DO NOTHING
            RETURNING staff_id, kind, external_userid, by_userid, contact_id, occurred_at
            """,
            [
                tenant_id,
                moment.pk,
                [r[0] for r in rows],
                [r[1] for r in rows],
                [r[2] for r in rows],
                [r[3] for r in rows],
                [contacts.get(r[2]) if r[2] else None for r in rows],
                [r[4] for r in rows],
            ],
        )
        inserted = cursor.fetchall()
    return [
        MomentInteraction(
            moment=moment,
            staff_id=staff_id,
            kind=kind,
            external_userid=external_userid,
            by_userid=by_userid,
            contact_id=contact_id,
            occurred_at=occurred_at,
        )
        for staff_id, kind, external_userid, by_userid, contact_id, occurred_at in inserted
    ]


def _interactions_insert_orm(
    moment: Moment, rows: list[tuple[int, str, str, str, dt.datetime]], contacts: dict[str, int]
) -> list[MomentInteraction]:
    """The same without RETURNING on conflicts (SQLite, the embedded default): what is stored is read
    first, under the Moment's lock."""
    stored = set(
        MomentInteraction.objects.filter(moment=moment, staff_id__in={row[0] for row in rows}).values_list(
            "staff_id", "kind", "external_userid", "by_userid", "occurred_at"
        )
    )
    new = [
        MomentInteraction(
            moment=moment,
            staff_id=staff_id,
            kind=kind,
            external_userid=external_userid,
            by_userid=by_userid,
            contact_id=contacts.get(external_userid) if external_userid else None,
            occurred_at=occurred_at,
        )
        for staff_id, kind, external_userid, by_userid, occurred_at in rows
        if (staff_id, kind, external_userid, by_userid, occurred_at) not in stored
    ]
    MomentInteraction.objects.bulk_create(new, batch_size=5000)
    return new


# --- members' own posts ---------------------------------------------------------------------------


def member_moments_sync(
    *, tenant: Tenant, api: WeComAPI | None = None, now: dt.datetime | None = None
) -> MemberSync:
    """Find the Moments made in WeCom since the last run (members' own posts, corp posts made in the
    admin console): each new ``moment_id`` becomes a ``Moment`` due for a poll now; a member's own
    post gets its author's publication (published at its creation). Known ones are left alone.

    Reads ``get_moment_list`` (all kinds, ≤ 30 days a call, 20 a page) from a day before where the
    last run got to (the first run: 30 days back) to now. A WeCom error is kept on the sync row (the
    next run starts from the same place) and raised.
    """
    api = api or api_for(tenant)
    now = now or timezone.now()
    sync = _member_sync_row(tenant)
    start = sync.synced_until - SYNC_OVERLAP if sync.synced_until else now - FIRST_SYNC
    calls = 0
    items: dict[str, dict[str, Any]] = {}
    try:
        while start < now:
            end = min(start + LIST_SPAN, now)
            cursor = ""
            while True:
                calls += 1
                page = api.get_moment_list(
                    {
                        "start_time": int(start.timestamp()),
                        "end_time": int(end.timestamp()),
                        "filter_type": 2,
                        "cursor": cursor,
                        "limit": LIST_PAGE,
                    }
                )
                items.update((m["moment_id"], m) for m in page.get("moment_list") or [] if m.get("moment_id"))
                cursor = page.get("next_cursor") or ""
                if not cursor:
                    break
            start = end
    except WeComError as exc:
        MemberSync.objects.filter(pk=sync.pk).update(last_run_at=now, api_calls=calls, error=exc.as_dict())
        sync.refresh_from_db()
        raise
    created = _moments_create(items, now)
    fields = {
        "synced_until": now,
        "last_run_at": now,
        "moments_read": len(items),
        "api_calls": calls,
        "error": {},
    }
    MemberSync.objects.filter(pk=sync.pk).update(**fields)
    for name, value in fields.items():
        setattr(sync, name, value)
    logger.info("tenant %s: %s Moments listed, %s new, %s calls", tenant.pk, len(items), created, calls)
    return sync


def _member_sync_row(tenant: Tenant) -> MemberSync:
    sync = MemberSync.objects.filter(tenant=tenant).first()
    if sync is not None:
        return sync
    try:
        with transaction.atomic():
            return MemberSync.objects.create(tenant=tenant)
    except IntegrityError:
        return MemberSync.objects.get(tenant=tenant)  # two first runs raced; the other made it


def _moments_create(items: dict[str, dict[str, Any]], now: dt.datetime) -> int:
    """The Moments of ``items`` not stored yet, due for a poll now (the tick takes them), and the
    authors' publications of members' own posts; one transaction. Returns how many were new."""
    if not items:
        return 0
    known = set(Moment.objects.filter(moment_id__in=list(items)).values_list("moment_id", flat=True))
    fresh = [item for moment_id, item in items.items() if moment_id not in known]
    if not fresh:
        return 0
    creators = dict(
        Staff.objects.filter(userid__in={i.get("creator") for i in fresh if i.get("creator")}).values_list(
            "userid", "pk"
        )
    )
    moments = []
    for item in fresh:
        own = item.get("create_type") == CreateType.MEMBER
        creator_id = creators.get(item.get("creator") or "")
        moments.append(
            Moment(
                moment_id=item["moment_id"],
                create_type=CreateType.MEMBER if own else CreateType.CORP,
                creator_id=creator_id,
                creator_userid=item.get("creator") or "",
                visible_type=int(item.get("visible_type", 1)),
                text=(item.get("text") or {}).get("content") or "",
                content={key: item[key] for key in CONTENT_KEYS if key in item},
                created_at_wecom=dt.datetime.fromtimestamp(int(item.get("create_time") or 0), dt.UTC),
                members=int(own and creator_id is not None),
                published=int(own and creator_id is not None),
                next_poll_at=now,
            )
        )
    with transaction.atomic():
        # A corp post our own task's job check stores at the same time is kept as that one made it.
        Moment.objects.bulk_create(moments, batch_size=1000, ignore_conflicts=True)
        stored = {
            moment_id: pk
            for moment_id, pk in Moment.objects.filter(
                moment_id__in=[m.moment_id for m in moments]
            ).values_list("moment_id", "pk")
        }
        MomentPublication.objects.bulk_create(
            [
                MomentPublication(
                    moment_id=stored[m.moment_id],
                    staff_id=m.creator_id,
                    published=True,
                    published_at=m.created_at_wecom,
                )
                for m in moments
                if m.create_type == CreateType.MEMBER and m.creator_id is not None and m.moment_id in stored
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
    return len(moments)
