"""Group owner transfers (分配群): groups handed to a new owner, with WeCom's answer per group.

WeCom has two APIs (wecom-api.md §4): ``groupchat/onjob_transfer`` for groups whose owner is still
employed and ``groupchat/transfer`` for groups whose owner resigned, each taking 100 chat ids and
answering the ones it refused in ``failed_chat_list``. A transfer may hold groups of both kinds: each
group goes through the API its owner's status calls for (kind ``mixed``), and a group our copy got
wrong (WeCom answers 90502 "the owner resigned" or 90500 "the owner has not resigned") is sent once
more through the other API.

The runner works in chunks of 100 pending items, each chunk locked while it is sent and recorded in
the same transaction: a chunk whose worker died rolls back to pending and is sent again, and WeCom's
90504 ("the new owner already owns it") then counts as the success it is. Only pending items are sent.
A chunk takes up to four calls (each API, and each group's second try); every call's answer is
recorded for its own groups: a refusal of one call fails only its groups, and when WeCom rate-limits
us or does not answer, the groups of the calls still unanswered stay pending for the next run.

"Already the owner" means one thing: the group is where it should be. A group the new owner owns here
succeeds at once (nothing is sent), and WeCom's 90504 during the run succeeds too, each with a note.

A POST with an ``Idempotency-Key`` the same caller used before answers the transfer it created then.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from contacts.models import Staff
from scrm.durable import RunStatus
from scrm.tenancy.actors import Actor
from scrm.tenancy.models import Tenant
from scrm.tenancy.principal import Principal
from scrm.tenancy.services import audit_record
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import HINTS, WeComError, WeComRateLimitedError

from ..models import (
    Group,
    GroupStatus,
    GroupTransfer,
    GroupTransferItem,
    GroupTransferItemStatus,
    GroupTransferKind,
)
from ..selectors import groups_resolve

logger = logging.getLogger(__name__)

CHUNK = 100  # chat ids per WeCom call
MAX_GROUPS = 1000
OWNER_NOT_RESIGNED, OWNER_RESIGNED, ALREADY_OWNER = 90500, 90502, 90504
# What WeCom's per-group answers mean, for the person who asked for the transfer.
ERRORS = {
    40050: "The group no longer exists in WeCom (dismissed).",
    45009: "The new owner reached WeCom's daily limit of groups received (300 a day): try again tomorrow.",
    46004: "The new owner is not (or no longer) a member of the corp in WeCom.",
    84074: "The new owner has no customer-contact permission in WeCom.",
    OWNER_NOT_RESIGNED: "The group's owner has not resigned.",
    OWNER_RESIGNED: "The group's owner has resigned.",
    90508: "The group was already inherited by a new owner.",
}
# On a succeeded item: the group was the new owner's already, so nothing was handed over.
ALREADY_OWNER_NOTE = "Already the owner: nothing to hand over."
WAIT_UNANSWERED = 30.0  # seconds before sending again what WeCom did not answer (busy or unreachable)
RESIGNED_STATUSES = (GroupStatus.OWNER_RESIGNED, GroupStatus.INHERITING)


def _error(errcode: int | None, errmsg: str) -> str:
    text = (
        ERRORS.get(errcode)
        or HINTS.get(errcode)
        or f"WeCom refused it ({errcode}: {errmsg or 'no message'})."
    )
    return text[:255]


def _resigned(group: Group) -> bool:
    """Whether the group goes through groupchat/transfer: its owner left the corp."""
    return group.status in RESIGNED_STATUSES or (group.owner is not None and not group.owner.is_active)


# --- create --------------------------------------------------------------------------------------


def _idempotency_key(actor: Actor, raw: str) -> str:
    """The key as stored: a key is the caller's own (the same key from another member or API key is
    another request), as contacts' jobs have it."""
    key = (raw or "").strip()[:100]
    return f"{actor.idempotency_scope()}:{key}" if key else ""


def group_transfer_create(
    *, principal: Principal, group_ids: list[int], new_owner_id: int, idempotency_key: str = ""
) -> tuple[GroupTransfer, bool]:
    """A transfer of these groups (the tenant's, not dismissed) to an active member with customer
    contact, queued to run; and whether it is new. A repeated ``idempotency_key`` answers the transfer
    the first request created (whatever this one asks: it is the same request sent again).

    Groups the new owner already owns succeed at once, with a note (see ``ALREADY_OWNER_NOTE``).
    """
    actor = Actor.of(principal)
    key = _idempotency_key(actor, idempotency_key)
    if key:
        existing = GroupTransfer.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing, False
    new_owner = Staff.objects.filter(pk=new_owner_id).first() if isinstance(new_owner_id, int) else None
    if new_owner is None:
        raise ValidationError({"new_owner_id": "No such staff member."})
    if not new_owner.is_active or not new_owner.has_contact_permission:
        who = new_owner.name or new_owner.userid
        raise ValidationError({"new_owner_id": f"{who} must be an active member with customer contact."})
    groups = groups_resolve(group_ids, at_most=MAX_GROUPS, among=Group.objects.select_related("owner"))
    to_send = [g for g in groups if g.owner_id != new_owner.pk]
    if not to_send:
        raise ValidationError(
            {"new_owner_id": f"{new_owner.name or new_owner.userid} already owns these groups."}
        )
    kinds = {_resigned(g) for g in to_send}
    kind = (
        GroupTransferKind.MIXED
        if len(kinds) > 1
        else (GroupTransferKind.RESIGNED if kinds == {True} else GroupTransferKind.ONJOB)
    )
    already = len(groups) - len(to_send)
    try:
        with transaction.atomic():
            transfer = GroupTransfer.objects.create(
                kind=kind,
                new_owner=new_owner,
                total=len(groups),
                succeeded=already,
                idempotency_key=key,
                **actor.as_fields("created_by"),
            )
            GroupTransferItem.objects.bulk_create(
                [
                    GroupTransferItem(
                        transfer=transfer,
                        group=g,
                        previous_owner=g.owner,
                        **(
                            {"status": GroupTransferItemStatus.SUCCEEDED, "error": ALREADY_OWNER_NOTE}
                            if g.owner_id == new_owner.pk
                            else {}
                        ),
                    )
                    for g in groups
                ],
                batch_size=1000,
            )
            # Handing groups (and their customers) to someone else is a sensitive act: who did it
            # stays on record.
            audit_record(
                actor=actor,
                action="groups.transfer",
                data={
                    "transfer": transfer.pk,
                    "new_owner": new_owner.userid,
                    "groups": [g.pk for g in groups],
                },
            )
            tenant_id = transfer.tenant_id
            transaction.on_commit(lambda: _enqueue(tenant_id, transfer.pk))
    except IntegrityError:
        if not key:
            raise
        # Two requests with the same key raced; the other one created it.
        return GroupTransfer.objects.get(idempotency_key=key), False
    return transfer, True


def _enqueue(tenant_id: int, transfer_id: int) -> None:
    from ..tasks.codes import group_transfer_run as task

    task.apply_async((tenant_id, transfer_id))


# --- run -----------------------------------------------------------------------------------------


Outcome = tuple[int, str, bool]  # WeCom's errcode (0: transferred), its message, the resigned API used


def _call(
    api: WeComAPI, *, resigned: bool, chat_ids: list[str], new_owner: str
) -> dict[str, tuple[int, str]]:
    """chat_id → (errcode, errmsg) for every chat id sent, 0 for the ones transferred. A refusal of
    the whole request (the new owner, the app's rights) is every group's answer; a rate limit or no
    answer at all raises (nobody can tell what WeCom did: the groups are sent again later)."""
    send = api.groupchat_transfer if resigned else api.groupchat_onjob_transfer
    try:
        answer = send(chat_id_list=chat_ids, new_owner=new_owner)
    except WeComRateLimitedError:
        raise
    except WeComError as exc:
        if exc.errcode is None or exc.errcode == -1:
            raise
        return dict.fromkeys(chat_ids, (exc.errcode, exc.errmsg))
    refused = {
        f["chat_id"]: (int(f.get("errcode") or 0), f.get("errmsg") or "")
        for f in answer.get("failed_chat_list") or ()
    }
    return {chat_id: refused.get(chat_id, (0, "")) for chat_id in chat_ids}


def _send_chunk(
    api: WeComAPI, items: list[GroupTransferItem], new_owner: str
) -> tuple[dict[int, Outcome], float | None]:
    """Send the items: item id → outcome for each item WeCom answered for, and None — or, when WeCom
    rate-limited us or did not answer, the seconds to wait (the items it did not answer for have no
    outcome: they stay pending)."""
    out: dict[int, Outcome] = {}
    try:
        for resigned in (False, True):
            batch = [i for i in items if _resigned(i.group) == resigned]
            if not batch:
                continue
            answers = _call(
                api, resigned=resigned, chat_ids=[i.group.chat_id for i in batch], new_owner=new_owner
            )
            for item in batch:
                out[item.pk] = (*answers[item.group.chat_id], resigned)
            # Our copy of the owner's status was stale: WeCom says which API the group needs. Once.
            wrong = OWNER_RESIGNED if not resigned else OWNER_NOT_RESIGNED
            swap = [i for i in batch if out[i.pk][0] == wrong]
            if not swap:
                continue
            for item in swap:
                del out[item.pk]  # pending again until the other API answers
            answers = _call(
                api, resigned=not resigned, chat_ids=[i.group.chat_id for i in swap], new_owner=new_owner
            )
            for item in swap:
                out[item.pk] = (*answers[item.group.chat_id], not resigned)
    except WeComRateLimitedError as exc:
        return out, max(1.0, exc.retry_after)
    except WeComError:
        return out, WAIT_UNANSWERED  # _call lets only "no answer" through
    return out, None


def _record(
    transfer: GroupTransfer, items: list[GroupTransferItem], results: dict[int, Outcome]
) -> list[str]:
    """Write the outcome of the items in ``results`` and the transferred groups' new owner (one UPDATE
    per new status); returns the transferred groups' chat ids."""
    succeeded, failed, moved = 0, 0, []
    new_status: dict[str, list[int]] = {GroupStatus.INHERITED: [], GroupStatus.NORMAL: []}
    answered = [i for i in items if i.pk in results]
    for item in answered:
        errcode, errmsg, resigned = results[item.pk]
        if errcode in (0, ALREADY_OWNER):
            item.status, item.errcode = GroupTransferItemStatus.SUCCEEDED, None
            item.error = ALREADY_OWNER_NOTE if errcode == ALREADY_OWNER else ""
            succeeded += 1
            new_status[GroupStatus.INHERITED if resigned else GroupStatus.NORMAL].append(item.group_id)
            moved.append(item.group.chat_id)
        else:
            item.status, item.errcode, item.error = (
                GroupTransferItemStatus.FAILED,
                errcode,
                _error(errcode, errmsg),
            )
            failed += 1
    if not answered:
        return moved
    now = timezone.now()
    for status, group_ids in new_status.items():
        if group_ids:
            Group.objects.filter(pk__in=group_ids).update(
                owner=transfer.new_owner_id, status=status, updated_at=now
            )
    GroupTransferItem.objects.bulk_update(answered, ["status", "errcode", "error"])
    GroupTransfer.objects.filter(pk=transfer.pk).update(
        succeeded=F("succeeded") + succeeded, failed=F("failed") + failed
    )
    return moved


def group_transfer_run(*, transfer: GroupTransfer, api: WeComAPI | None = None) -> float | None:
    """Send the transfer's pending items, 100 at a time; None when it is finished, else the seconds to
    wait before running it again (WeCom rate-limited us or could not be reached: the items it did not
    answer for stay pending). Two runs at once never send a group twice: each locks the chunk it
    sends (skipping the rows the other holds), and a chunk is recorded before its lock is let go."""
    claimed = GroupTransfer.objects.filter(
        pk=transfer.pk, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)
    ).update(status=RunStatus.RUNNING)
    if not claimed:
        return None  # finished already
    api = api or api_for(transfer.tenant)
    new_owner = transfer.new_owner.userid
    moved: list[str] = []
    try:
        while True:
            with transaction.atomic():
                items = list(
                    GroupTransferItem.objects.select_for_update(skip_locked=True, of=("self",))
                    .filter(transfer=transfer, status=GroupTransferItemStatus.PENDING)
                    .select_related("group", "group__owner")
                    .order_by("id")[:CHUNK]
                )
                if not items:
                    break
                results, wait = _send_chunk(api, items, new_owner)
                moved += _record(transfer, items, results)
            if wait is not None:
                return wait
    finally:
        _resync_soon(transfer.tenant, moved, new_owner=new_owner)
    group_transfer_finish(transfer=transfer)
    return None


def group_transfer_finish(*, transfer: GroupTransfer, give_up: str = "") -> GroupTransfer:
    """Close the transfer: succeeded, partial or failed by its items. With ``give_up``, items still
    pending (WeCom kept refusing to answer) fail with that reason first."""
    if give_up:
        stuck = GroupTransferItem.objects.filter(transfer=transfer, status=GroupTransferItemStatus.PENDING)
        count = stuck.update(status=GroupTransferItemStatus.FAILED, error=give_up[:255])
        GroupTransfer.objects.filter(pk=transfer.pk).update(failed=F("failed") + count)
    transfer.refresh_from_db()
    if GroupTransferItem.objects.filter(transfer=transfer, status=GroupTransferItemStatus.PENDING).exists():
        return transfer  # another worker is still on it
    if transfer.failed == 0:
        transfer.status = RunStatus.SUCCEEDED
    elif transfer.succeeded == 0:
        transfer.status = RunStatus.FAILED
    else:
        transfer.status = RunStatus.PARTIAL
    transfer.finished_at = timezone.now()
    GroupTransfer.objects.filter(pk=transfer.pk, finished_at__isnull=True).update(
        status=transfer.status, finished_at=transfer.finished_at
    )
    return transfer


def _resync_soon(tenant: Tenant, chat_ids: Iterable[str], *, new_owner: str) -> None:
    """Read the transferred groups again once WeCom shows their new owner (it settles a few seconds
    later, and adds the new owner as a member if they were not one); reads showing the old owner
    meanwhile are not applied (see groups.services.refresh)."""
    from ..tasks.sync import refresh_schedule

    for chat_id in dict.fromkeys(chat_ids):
        refresh_schedule(tenant=tenant, chat_id=chat_id, owner=new_owner)
