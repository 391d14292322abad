"""WeCom → database for customer groups: the full sync of a tenant's groups, and the re-reads callbacks use.

The full sync (``groups_sync_execute``, a ``SyncRun`` of kind ``groups``) runs in phases:

1. ``list``: walk ``groupchat/list`` (1,000 groups a page, every status) without an owner filter;
   when WeCom answers 81017 (the app sees too many people to list all groups at once), walk it again
   per 100 owners over every staff row, resigned members included (their groups are the ones with
   status 1–3). The walk is cheap (one call per 1,000 groups) and done again by a resumed run.
2. ``groups``: ``groupchat/get`` with ``need_name=1`` for every listed group, fetched ahead by a small
   thread pool (the calls only: WeCom's latency is what bounds a sync; every database write stays on
   this thread), written in batches of about ``BATCH_MEMBERS`` members, one transaction each with the
   run's counters and checkpoint (the last group written). See ``groups.services.members``.
3. ``dismissed``: the groups known here that a complete walk did not list are asked for once more;
   40050 (no such chat) marks them dismissed (``closed``), their members kept as they were.
4. ``stats``: the daily statistics missing or not final yet (``groups.services.stats``); a failure
   there is recorded on the run but does not fail it (the daily task fetches them again).

A group whose ``groupchat/get`` fails with another error than 40050 (phases 2 and 3) is skipped and
reported on the run's errors (at most ``GROUP_ERRORS_MAX`` lines), never taken for dismissed; the run
still completes. ``FAILURES_IN_A_ROW`` failed groups in a row, or a groups phase that read none, are
not one group's problem (the app lost its rights, WeCom is down): the run fails with that error, as
any other WeCom error fails it.

Counts are of groups: created (first seen), updated (a row written), unchanged, closed (dismissed).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from contacts.models import Staff, SyncRun
from contacts.sync import CountingAPI, Progress, RunState, sync_run_steps
from scrm.durable import work_update
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import WeComError, WeComRateLimitedError

from .models import WECOM_GROUP_STATUS, Group, GroupMember, GroupStatus, JoinScene, MemberType
from .services.members import ApplyResult, GroupRead, group_dismiss, groups_apply
from .services.refresh import reads_behind
from .services.stats import group_stats_fetch

logger = logging.getLogger(__name__)

LIST_LIMIT = 1000  # groupchat/list's page size limit
OWNERS_PER_CALL = 100  # and its owner_filter limit
TOO_MANY_VISIBLE = 81017  # "use owner_filter"
GONE = 40050  # groupchat/get of a dismissed (or unknown) chat
# groupchat/get calls in flight. WeCom's latency (tens of ms) is what a sync of thousands of groups
# waits on; a few calls at once hide it while staying far below the per-API concurrency cap (20).
GET_WORKERS = 4
GETS_AHEAD = 4 * GET_WORKERS
# Groups are written in batches of about this many members (or what came in BATCH_SECONDS).
BATCH_MEMBERS = 4000
BATCH_SECONDS = 1.0
STATS_HINT = "The daily group statistics were not fetched; the daily statistics task tries again."
GROUP_ERRORS_MAX = 20  # groups reported one by one on a run's errors; the rest are counted
FAILURES_IN_A_ROW = 20
SKIPPED_HINT = "This group was skipped (not taken for dismissed); the next sync reads it again."


# --- mapping: WeCom JSON → field values --------------------------------------------------------


def _text(data: dict, key: str, max_length: int) -> str:
    return str(data.get(key) or "")[:max_length]


def _timestamp(value: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC) if value else None


JOIN_SCENES = frozenset(JoinScene.values)
CUSTOMER, STAFF = str(MemberType.CUSTOMER), str(MemberType.STAFF)


def member_fields(data: dict) -> dict[str, Any]:
    """A ``member_list`` item → GroupMember fields (``name`` only with need_name=1).

    Called for every member of every group a sync reads (400,000 in the benchmark): kept plain.
    """
    get = data.get
    scene = get("join_scene") or 0
    invitor = get("invitor")
    joined = get("join_time")
    return {
        "type": CUSTOMER if get("type") == 2 else STAFF,
        "name": str(get("name") or "")[:128],
        "unionid": str(get("unionid") or "")[:64],
        "group_nickname": str(get("group_nickname") or "")[:128],
        "joined_at": dt.datetime.fromtimestamp(int(joined), tz=dt.UTC) if joined else None,
        "join_scene": scene if scene in JOIN_SCENES else JoinScene.UNKNOWN.value,
        "inviter_userid": str(invitor.get("userid") or "")[:64] if invitor else "",
        "state": str(get("state") or "")[:30],
    }


def group_read(data: dict, *, read_at: dt.datetime, status: str | None = None) -> GroupRead:
    """``group_chat`` of groupchat/get → a GroupRead (members keyed by userid, once each)."""
    return GroupRead(
        chat_id=data["chat_id"],
        group={
            "name": _text(data, "name", 128),
            "notice": str(data.get("notice") or ""),
            "admin_userids": [a["userid"] for a in data.get("admin_list") or () if a.get("userid")],
            "member_version": _text(data, "member_version", 64),
            "wecom_created_at": _timestamp(data.get("create_time")),
            "owner_userid": _text(data, "owner", 64),
        },
        members={m["userid"]: member_fields(m) for m in data.get("member_list") or () if m.get("userid")},
        read_at=read_at,
        status=status,
    )


@dataclass
class Gone:
    """groupchat/get said 40050 for this chat: dismissed."""

    chat_id: str
    read_at: dt.datetime


@dataclass
class Failed:
    """groupchat/get refused this chat with another error: the full sync skips it and reports it."""

    chat_id: str
    error: WeComError


def group_fetch(api: WeComAPI | CountingAPI, chat_id: str, status: str | None = None) -> GroupRead | Gone:
    """``groupchat/get`` of one chat (with names), mapped; Gone on 40050; other errors are raised."""
    read_at = timezone.now()  # before the call: what it returns is at least this recent
    try:
        answer = api.groupchat_get(chat_id, need_name=True)
    except WeComError as exc:
        if exc.errcode == GONE:
            return Gone(chat_id, read_at)
        raise
    return group_read(answer["group_chat"], read_at=read_at, status=status)


# --- one group, re-read (callbacks) --------------------------------------------------------------


def group_reread(*, api: WeComAPI, chat_id: str, first_import_joins: bool = False) -> ApplyResult | None:
    """Re-read one group now and write what changed (call inside a transaction: the group is locked).

    A group WeCom no longer has (40050) is marked dismissed; returns None then. A read behind a
    pending refresh (WeCom has not caught up with a change a callback or a transfer wrote already,
    see ``groups.services.refresh``) is not applied: returns None too. ``first_import_joins``: a group
    seen for the first time is news (one WeCom opened for a group code): its customers get
    ``group_joined``. The read's time is stored even when nothing changed, so that an older read
    arriving later changes nothing.
    """
    read = group_fetch(api, chat_id)
    if isinstance(read, Gone):
        group_dismiss(chat_id=chat_id, dismissed_at=read.read_at, read_at=read.read_at)
        return None
    if reads_behind([read]):
        return None
    return groups_apply(reads=[read], first_import_joins=first_import_joins, touch=True)


# --- the full sync ---------------------------------------------------------------------------------


def groups_sync_execute(
    run: SyncRun, *, progress: Progress | None = None, api: WeComAPI | None = None
) -> SyncRun:
    """Run (or resume) a claimed groups run to its end, as contacts.sync.sync_run_execute does a
    contacts run: succeeded, or failed with WeCom's error and hint; ``WeComRateLimitedError`` puts it
    back in the queue with its checkpoint and is raised for the caller to retry after ``retry_after``.
    """
    state = RunState(run, CountingAPI(api or api_for(run.tenant)), progress)

    def steps() -> None:
        state.advance(phase="list")
        listed = _list(state.api)
        total = len(listed)
        if total > run.progress_total:
            work_update(run, progress_total=total)
        state.advance(phase="groups")
        staff_ids: dict[str, int] = dict(Staff.objects.values_list("userid", "id"))
        skips = _Skips(run)
        _walk(state, listed, staff_ids, skips)
        skips.check()
        state.advance(phase="dismissed")
        _confirm_missing(state, listed, staff_ids, skips)
        state.advance(phase="stats", checkpoint={**run.checkpoint, "phase": "stats"})
        _stats(state)

    return sync_run_steps(state, steps)


def _list(api: CountingAPI) -> dict[str, str]:
    """Every group WeCom lists (chat_id → status), in WeCom's order."""
    try:
        return _list_pages(api, None)
    except WeComError as exc:
        if exc.errcode != TOO_MANY_VISIBLE:
            raise
    # Every staff row: resigned members' groups (status 1–3) are listed under them until inherited.
    userids = list(Staff.objects.order_by("userid").values_list("userid", flat=True))
    listed: dict[str, str] = {}
    for start in range(0, len(userids), OWNERS_PER_CALL):
        listed.update(_list_pages(api, userids[start : start + OWNERS_PER_CALL]))
    return listed


def _list_pages(api: CountingAPI, owners: list[str] | None) -> dict[str, str]:
    listed: dict[str, str] = {}
    cursor = ""
    while True:
        page = api.groupchat_list(limit=LIST_LIMIT, cursor=cursor, status_filter=0, owner_userids=owners)
        for item in page.get("group_chat_list") or ():
            listed[item["chat_id"]] = WECOM_GROUP_STATUS.get(int(item.get("status") or 0), GroupStatus.NORMAL)
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return listed


def _resume_at(checkpoint: dict, chat_ids: list[str]) -> int:
    """Where a resumed run picks up in the listed groups: after the last one it wrote (the walk was
    done again, so positions may have moved; without that group, at the same count)."""
    if checkpoint.get("phase") not in ("groups", "stats"):
        return 0
    last = checkpoint.get("last")
    if last is not None:
        try:
            return chat_ids.index(last) + 1
        except ValueError:
            pass
    return min(int(checkpoint.get("done") or 0), len(chat_ids))


class _PlannerStats:
    """ANALYZE the member table whenever this run has made it four times bigger.

    A first sync loads hundreds of thousands of members into an empty table faster than autovacuum
    analyzes it, and with an empty table's statistics PostgreSQL reads the tenant's every member for
    each batch's lookup of its groups' members (10× slower at 200,000 members) instead of using the
    (tenant, group, userid) index. As contacts.sync does for follows.
    """

    GROWTH = 4

    def __init__(self) -> None:
        self.rows = GroupMember.objects.count()
        self.analyzed_at = max(self.rows, 1000)

    def grew(self, rows: int) -> None:
        self.rows += rows
        if self.rows >= self.GROWTH * self.analyzed_at and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE groups_group, groups_groupmember")
            self.analyzed_at = self.rows


def _walk(state: RunState, listed: dict[str, str], staff_ids: dict[str, int], skips: _Skips) -> None:
    chat_ids = list(listed)
    start = _resume_at(state.run.checkpoint, chat_ids)
    done = start
    planner = _PlannerStats()
    # closing() first: a failed write cancels the calls queued ahead (the pool waits for running ones).
    with (
        ThreadPoolExecutor(max_workers=GET_WORKERS, thread_name_prefix="groups-get") as pool,
        closing(_reads(state.api, chat_ids[start:], listed, pool)) as reads,
    ):
        for batch in _batches(skips(reads)):
            with transaction.atomic():
                counts, inserted = _write(batch, staff_ids)
                done += len(batch)
                state.advance(
                    checkpoint={"phase": "groups", "last": batch[-1].chat_id, "done": done},
                    progress_done=len(batch),
                    **counts,
                )
                _errors_save(state.run, batch)
            planner.grew(inserted)


def _confirm_missing(
    state: RunState, listed: dict[str, str], staff_ids: dict[str, int], skips: _Skips
) -> None:
    """Ask WeCom for the groups known here that the complete walk did not list (dismissed ones are
    not listed, and groupchat/get then answers 40050; one that fails otherwise is skipped, kept as is)."""
    known = (
        Group.objects.exclude(status=GroupStatus.DISMISSED).order_by("id").values_list("chat_id", flat=True)
    )
    missing = [chat_id for chat_id in known if chat_id not in listed]
    if not missing:
        return
    total = len(listed) + len(missing)
    if total > state.run.progress_total:
        work_update(state.run, progress_total=total)
    with (
        ThreadPoolExecutor(max_workers=GET_WORKERS, thread_name_prefix="groups-get") as pool,
        closing(_reads(state.api, missing, {}, pool)) as reads,
    ):
        for batch in _batches(skips(reads)):
            with transaction.atomic():
                counts, _ = _write(batch, staff_ids)
                state.advance(progress_done=len(batch), **counts)
                _errors_save(state.run, batch)


class _Skips:
    """The failed reads of a run (this execution of it): each reported on the run and passed on to be
    skipped, unless the failures are not one group's problem: FAILURES_IN_A_ROW in a row, or a groups
    phase in which every read failed. That error is raised then, alone on the run (not a line per group).
    """

    def __init__(self, run: SyncRun) -> None:
        self.run = run
        self.errors_before = list(run.errors)
        self.in_a_row = self.failed = self.read = 0
        self.first: WeComError | None = None

    def __call__(self, reads: Iterator[GroupRead | Gone | Failed]) -> Iterator[GroupRead | Gone | Failed]:
        for read in reads:
            if isinstance(read, Failed):
                self.failed += 1
                self.in_a_row += 1
                self.first = self.first or read.error
                if self.in_a_row >= FAILURES_IN_A_ROW:
                    self._raise(read.error)
                logger.warning("groups sync run %s: %s skipped: %s", self.run.pk, read.chat_id, read.error)
                _error_add(self.run, read)
            else:
                self.read += 1
                self.in_a_row = 0
            yield read

    def check(self) -> None:
        """After the groups phase: not one group read, only failures."""
        if self.first is not None and not self.read:
            self._raise(self.first)

    def _raise(self, error: WeComError) -> None:
        self.run.errors = self.errors_before
        raise error


def _error_add(run: SyncRun, failed: Failed) -> None:
    """A line per failed group on the run's errors, up to GROUP_ERRORS_MAX; then one counts the rest."""
    errors = run.errors
    if sum(1 for e in errors if e.get("chat_id")) < GROUP_ERRORS_MAX:
        error = failed.error
        line = {
            **error.as_dict(),
            "errmsg": f"{failed.chat_id}: {error.errmsg}",
            "hint": f"{error.hint} {SKIPPED_HINT}".strip(),
            "chat_id": failed.chat_id,
        }
        run.errors = [*errors, line]
        return
    more = next((e for e in errors if "more_groups" in e), None)
    count = (more["more_groups"] if more else 0) + 1
    line = {
        "api": failed.error.api,
        "errcode": None,
        "errmsg": f"{count} more groups could not be read (see the worker log)",
        "hint": SKIPPED_HINT,
        "more_groups": count,
    }
    run.errors = [e for e in errors if e is not more] + [line]


def _errors_save(run: SyncRun, batch: list[GroupRead | Gone | Failed]) -> None:
    """Store the errors of the batch's failed groups with the batch (its checkpoint passes them)."""
    if any(isinstance(item, Failed) for item in batch):
        work_update(run, errors=run.errors)


def _write(batch: list[GroupRead | Gone | Failed], staff_ids: dict[str, int]) -> tuple[dict[str, int], int]:
    """One batch, in the caller's transaction: the run's counts for it, and the member rows inserted."""
    if connection.vendor == "postgresql":
        # As contacts.sync's batches: the commit need not wait for the disk. A crash loses whole batches
        # with the checkpoint they carry (WAL is flushed in order), and the resumed run writes them again.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
    reads = [item for item in batch if isinstance(item, GroupRead)]
    # A group a callback just changed, which WeCom does not show yet: its refresh reads it.
    behind = reads_behind(reads)
    reads = [read for read in reads if read.chat_id not in behind]
    result = groups_apply(reads=reads, compare_members=True, staff_ids=staff_ids)
    gone = [item for item in batch if isinstance(item, Gone)]
    closed = sum(
        group_dismiss(chat_id=item.chat_id, dismissed_at=item.read_at, read_at=item.read_at) for item in gone
    )
    counts = {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged
        + len(behind)
        + (len(gone) - closed),  # failed groups are in none of the counts
        "closed": closed,
    }
    return counts, result.stays_inserted


def _reads(
    api: CountingAPI, chat_ids: list[str], statuses: dict[str, str], pool: ThreadPoolExecutor
) -> Iterator[GroupRead | Gone | Failed]:
    """groupchat/get of each chat, in order, up to ``GETS_AHEAD`` calls ahead on ``pool``'s threads.

    Only the HTTP calls and the JSON mapping run there (the WeCom client is thread-safe: the gateway
    counts concurrency per API and shares the token through the cache). A WeCom error comes back in
    order as a ``Failed`` read; a rate limit (and anything else) is raised here, in order, after the
    reads before it; calls not yet started are cancelled.
    """
    pending: deque[tuple[str, Future]] = deque()
    upcoming = iter(chat_ids)
    for chat_id in islice(upcoming, GETS_AHEAD):
        pending.append((chat_id, pool.submit(group_fetch, api, chat_id, statuses.get(chat_id))))
    try:
        while pending:
            chat_id, future = pending.popleft()
            try:
                result: GroupRead | Gone | Failed = future.result()
            except WeComRateLimitedError:
                raise
            except WeComError as exc:
                result = Failed(chat_id, exc)
            following = next(upcoming, None)
            if following is not None:
                pending.append((following, pool.submit(group_fetch, api, following, statuses.get(following))))
            yield result
    finally:
        for _, future in pending:
            future.cancel()


def _batches(reads: Iterator[GroupRead | Gone | Failed]) -> Iterator[list[GroupRead | Gone | Failed]]:
    """Consecutive reads, grouped for one transaction each (about BATCH_MEMBERS members, or what came
    in BATCH_SECONDS). A read that fails ends the batch: the reads before it are written first."""
    batch: list[GroupRead | Gone | Failed] = []
    members, started = 0, time.monotonic()
    try:
        for read in reads:
            batch.append(read)
            members += len(read.members) if isinstance(read, GroupRead) else 1
            if members >= BATCH_MEMBERS or time.monotonic() - started >= BATCH_SECONDS:
                yield batch
                batch, members, started = [], 0, time.monotonic()
    except WeComError:
        if batch:
            yield batch
        raise
    if batch:
        yield batch


def _stats(state: RunState) -> None:
    try:
        # One call per owner: the heartbeat goes on, so the stale-run sweep leaves a long phase alone.
        group_stats_fetch(api=state.api, progress=state.advance)
    except WeComError as exc:
        # A rate limit, or every owner refused: the groups are synced, only the figures are late.
        # Recorded, and the daily task retries (single owners WeCom refuses are only logged).
        logger.warning("groups sync run %s: statistics not fetched: %s", state.run.pk, exc)
        state.run.errors = [*state.run.errors, {**exc.as_dict(), "hint": STATS_HINT}]
