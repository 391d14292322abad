"""Reading a group again until WeCom shows what its callbacks announced (wecom-api.md §4, §11).

WeCom sends ``change_external_chat`` at once, but ``groupchat/get`` settles "e.g. 2 s" later and
until then answers the group as it was. So a callback applies what it says itself (the members who
joined or left, ``members.members_event_apply``) and asks here for the group to be read again
(``group_refresh_request``): one ``GroupRefresh`` row per group, which every later event merges into.
The row is read ``REFRESH_DELAYS[0]`` seconds later, then again with backoff, until a read shows all
it waits for (``awaited``), or after ``len(REFRESH_DELAYS)`` reads (a minute or two; the nightly sync
catches what is still missing then):

- **member changes** (``add_member``, ``del_member``): the read's ``member_version`` is the event's
  ``CurMemVer`` or later. Versions are opaque; what is known is each event's step (``LastMemVer`` →
  ``CurMemVer``) and the version stored by a read issued before the event settled. A read whose
  version is one of those known to come before a version awaited is *behind*; a version awaited
  settles it and the ones before it in the chain; a version never seen is WeCom past every event we
  hold (a change whose callback is still on its way, or was lost): it settles them all.
- **change_name / change_notice / change_owner**: the event carries no value. The rule: the read's
  value differs from the one stored when the first such event came. A duplicate, or a change and its
  undoing within the lag, never differs: that refresh spends its reads and the value stays WeCom's.
- **an owner transfer made here** (``transfers``): the read's owner is the new one (``equals``).
- **create** (and groups WeCom opened for a group code): the read finds the group (not 40050).
- **dismiss**: the read answers 40050; the group is dismissed at the event's time.

A read *behind* on members, or on an owner set here, is not applied at all: it is older than what
the events (or the transfer) already wrote, and applying it would take back a join or an owner. Every
read of a group checks this (``read_is_behind``): the callbacks' refreshes, the re-reads of group
codes and transfers, and the full sync, so no lagging read undoes a change while a refresh waits for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from scrm.wecom.api import WeComAPI
from scrm.wecom.errors import WeComError, WeComRateLimitedError

from ..models import Group, GroupRefresh
from .members import GroupRead, group_dismiss, groups_apply

logger = logging.getLogger(__name__)

# Seconds before each read of a refresh: the first when WeCom says details settle ("e.g. 2 s"), then
# doubling; the last read comes about two minutes after the event. Under the broker's visibility
# timeout (DESIGN.md §7).
REFRESH_DELAYS = (2, 4, 8, 16, 32, 60)
# A claim older than the task's time limit belongs to a worker that died.
STALE_CLAIM = dt.timedelta(seconds=90)
# A message may arrive a little before its row is due (clocks, broker): still run it.
EARLY = dt.timedelta(seconds=1)
# The beat sweep runs rows this overdue: their message was lost (or their worker died).
OVERDUE = dt.timedelta(seconds=30)
FIELDS = {"change_name": "name", "change_notice": "notice", "change_owner": "owner"}


def _stored_fields(group: Group | None) -> dict[str, str]:
    if group is None:
        return {}
    return {"name": group.name, "notice": group.notice, "owner": group.owner.userid if group.owner else ""}


def group_refresh_request(
    *,
    chat_id: str,
    at: dt.datetime,
    versions: tuple[str, str] | None = None,
    fields: Iterable[str] = (),
    owner: str | None = None,
    exists: bool = False,
    dismissed_at: dt.datetime | None = None,
    first_import_joins: bool = False,
) -> float | None:
    """Have the group read again soon, until it shows this change (see the module's docstring).

    ``at``: when the change happened (the event's CreateTime). ``versions``: (LastMemVer, CurMemVer)
    of a member change. ``fields``: names among name/notice/owner that changed (to a value unknown).
    ``owner``: the owner it must show (a transfer made here). ``exists``: the group was just created.
    ``dismissed_at``: the group was dismissed then. Returns the seconds until the read when the row's
    due time was set (queue its task then), or None when a read is due sooner already.
    """
    now = timezone.now()
    group = Group.objects.select_related("owner").filter(chat_id=chat_id).first()
    row, created = GroupRefresh.objects.select_for_update().get_or_create(
        chat_id=chat_id, defaults={"due_at": now + dt.timedelta(seconds=REFRESH_DELAYS[0])}
    )
    awaited: dict[str, Any] = row.awaited
    if versions is not None:
        last, current = versions
        awaited.setdefault("versions", {})[current] = last
        before = set(awaited.get("before") or ())
        before.update(v for v in (last,) if v)
        # The stored version came from a read issued before the change had settled (CreateTime is in
        # whole seconds, and WeCom shows a change seconds later): it is one of those before it.
        settled_at = at + dt.timedelta(seconds=REFRESH_DELAYS[0])
        if (
            group is not None
            and group.member_version
            and (group.synced_at is None or group.synced_at < settled_at)
        ):
            before.add(group.member_version)
        before.discard(current)
        awaited["before"] = sorted(before)
    stored = _stored_fields(group)
    expected = awaited.setdefault("fields", {})
    for name in fields:
        # The first event's baseline stays: the value before the first of several changes.
        if name not in expected:
            expected[name] = {"from": stored.get(name)}
    if owner is not None:
        expected["owner"] = {"equals": owner}
    if not expected:
        del awaited["fields"]
    if exists:
        awaited["exists"] = True
    if dismissed_at is not None:
        awaited["dismissed_at"] = dismissed_at.isoformat()
    row.awaited = awaited
    row.first_import_joins = row.first_import_joins or first_import_joins
    row.reads = 0  # a new event: its own reads
    due = now + dt.timedelta(seconds=REFRESH_DELAYS[0])
    sooner = created or due < row.due_at
    if sooner:
        row.due_at = due
    row.save()
    return REFRESH_DELAYS[0] if sooner else None


# --- deciding on a read ------------------------------------------------------------------------------


def _members_settled(awaited: dict[str, Any], version: str) -> bool:
    """Whether a read at ``version`` shows every member change awaited; drops those it settles."""
    versions: dict[str, str] = dict(awaited.get("versions") or {})
    if not versions:
        return True
    known = set(versions) | set(awaited.get("before") or ())
    step = version
    while step in versions:  # this version and the ones before it in the chain
        step = versions.pop(step)
    if versions and version in known:
        awaited["versions"] = versions
        return False
    awaited.pop("versions", None)
    awaited.pop("before", None)
    return True


def _value(read: GroupRead, name: str) -> str:
    return read.group["owner_userid" if name == "owner" else name]


def read_is_behind(awaited: dict[str, Any], read: GroupRead) -> bool:
    """A read older than what was written already: a member change or an owner set here it does not
    show yet (``awaited`` is left as it was)."""
    if not _members_settled(dict(awaited), read.group["member_version"]):
        return True
    fields = awaited.get("fields") or {}
    return "equals" in fields.get("owner", {}) and _value(read, "owner") != fields["owner"]["equals"]


def reads_behind(reads: Iterable[GroupRead]) -> set[str]:
    """The chat ids among ``reads`` whose read is behind a pending refresh (see ``read_is_behind``)."""
    by_chat = {read.chat_id: read for read in reads}
    pending = GroupRefresh.objects.filter(chat_id__in=list(by_chat)).values_list("chat_id", "awaited")
    return {chat_id for chat_id, awaited in pending if read_is_behind(awaited, by_chat[chat_id])}


def _settle(row: GroupRefresh, read: GroupRead) -> bool:
    """Drop from ``row.awaited`` what ``read`` shows; True when nothing is left."""
    awaited = row.awaited
    _members_settled(awaited, read.group["member_version"])
    fields = awaited.get("fields") or {}
    for name, rule in list(fields.items()):
        value = _value(read, name)
        if ("equals" in rule and value == rule["equals"]) or ("from" in rule and value != rule["from"]):
            del fields[name]
    if not fields:
        awaited.pop("fields", None)
    awaited.pop("exists", None)  # it was read: it exists
    return not awaited  # a dismissal awaited stays: the group still answers


# --- running a refresh ---------------------------------------------------------------------------------


def group_refresh_run(*, chat_id: str, api: WeComAPI) -> float | None:
    """Read the group once if its refresh is due, and apply what the read shows (unless it is
    behind); returns the seconds until the next read, or None when the refresh is over (settled,
    its reads spent, not due, or run by another worker)."""
    from ..sync import Gone, group_fetch

    now = timezone.now()
    claimable = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE_CLAIM)
    if not GroupRefresh.objects.filter(claimable, chat_id=chat_id, due_at__lte=now + EARLY).update(
        claimed_at=now
    ):
        return None  # not due (an early or duplicate message: the row's own runs it), or running
    try:
        read = group_fetch(api, chat_id)
    except WeComError as exc:
        return _after_failure(chat_id, exc)
    with transaction.atomic():
        row = GroupRefresh.objects.select_for_update().filter(chat_id=chat_id).first()
        if row is None:
            return None
        if isinstance(read, Gone):
            done = _gone(row, read.read_at)
        elif read_is_behind(row.awaited, read):
            done = False
        else:
            groups_apply(
                reads=[read], compare_members=True, first_import_joins=row.first_import_joins, touch=True
            )
            done = _settle(row, read)
        return _next(row, done)


def _gone(row: GroupRefresh, read_at: dt.datetime) -> bool:
    """groupchat/get answered 40050. A group we know is dismissed (at the dismiss event's time, if one
    came): over. One we do not know yet and were told exists is not visible yet: read again."""
    dismissed_at = row.awaited.get("dismissed_at")
    known = Group.objects.filter(chat_id=row.chat_id).exists()
    if known:
        at = dt.datetime.fromisoformat(dismissed_at) if dismissed_at else read_at
        group_dismiss(chat_id=row.chat_id, dismissed_at=at, read_at=read_at)
        return True
    return not row.awaited.get("exists")


def _next(row: GroupRefresh, done: bool) -> float | None:
    """Delete a settled row, or one whose reads are spent; else set its next due time."""
    row.reads += 1
    if done or row.reads >= len(REFRESH_DELAYS):
        if not done:
            logger.warning("group %s did not settle after %s reads: %s", row.chat_id, row.reads, row.awaited)
        row.delete()
        return None
    wait = REFRESH_DELAYS[row.reads]
    row.due_at, row.claimed_at = timezone.now() + dt.timedelta(seconds=wait), None
    row.save(update_fields=["reads", "due_at", "claimed_at", "awaited"])
    return wait


def _after_failure(chat_id: str, exc: WeComError) -> float | None:
    """A rate limit or a transient failure (WeCom busy, -1, no answer) counts as a read and is tried
    again (after WeCom's window, at least); any other error ends the refresh and is raised."""
    if not (isinstance(exc, WeComRateLimitedError) or exc.errcode in (None, -1)):
        GroupRefresh.objects.filter(chat_id=chat_id).delete()
        raise exc
    with transaction.atomic():
        row = GroupRefresh.objects.select_for_update().filter(chat_id=chat_id).first()
        if row is None:
            return None
        wait = _next(row, done=False)
    if wait is not None and isinstance(exc, WeComRateLimitedError):
        wait = max(wait, exc.retry_after)
        GroupRefresh.objects.filter(chat_id=chat_id).update(
            due_at=timezone.now() + dt.timedelta(seconds=wait)
        )
    return wait


def group_refreshes_overdue() -> list[tuple[int, str]]:
    """(tenant id, chat id) of the refreshes of every tenant whose message was lost: the beat sweep."""
    now = timezone.now()
    return list(
        GroupRefresh.unscoped.filter(due_at__lt=now - OVERDUE)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE_CLAIM))
        .values_list("tenant_id", "chat_id")[:500]
    )
