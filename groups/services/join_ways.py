"""Group codes (群活码): one QR code for up to five customer groups, WeCom's 「加入群聊」 join ways.

Create, update and delete go to WeCom first (``groupchat/add|get|update|del_join_way``, scene 2 = a
QR code) and nothing local changes when WeCom refuses. A code lists its groups as WeCom chat ids in
WeCom's order: a scan lands in the first that is not full. With ``auto_create_room`` WeCom opens a
new group (named ``room_base_name`` + ``room_base_id``) when all are full and adds it to the code's
list; nothing tells us (only the group's own ``create`` callback comes), so ``join_way_refresh``
reads the code back — beat runs it, an edit runs it first — and has the new groups synced.

Every customer who joined through a code carries its ``state`` on their stay in the group
(``GroupMember.state``, from groupchat/get ``member_list[].state``): the code's joins are those rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from scrm.api.dates import day_start
from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.context import require_current_tenant
from scrm.tenancy.models import Tenant
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import WeComError

from ..models import Group, GroupMember, JoinWay
from ..selectors import groups_resolve

logger = logging.getLogger(__name__)

STATE_PREFIX = "gc_"
NAME_MAX = 30  # WeCom's remark
ROOM_BASE_NAME_MAX = 40
ROOM_BASE_ID_MAX = 10**9
MAX_GROUPS = 5
QR_SCENE = 2
GONE_CONFIG = (41044,)  # WeCom no longer has the join way: deleting it again is done, not an error
CHAT_NOT_FOUND = 40050
UNSEEN_GROUPS = (
    "WeCom opened {n} new group(s) for this code that are not synced yet and are kept: "
    "with them the code would have more than 5 groups. Sync the groups, then choose again."
)
GROUP_GONE = "A group of this code no longer exists in WeCom (dismissed): choose its groups again."


# --- validation ----------------------------------------------------------------------------------


def _clean(data: dict[str, Any], *, way: JoinWay | None) -> dict[str, Any]:
    """The fields of ``data`` validated, merged over ``way``'s (an update) for the checks across them."""
    current = way or JoinWay()
    out: dict[str, Any] = {}
    if "name" in data or way is None:
        name = (data.get("name") or "").strip()
        if not name:
            raise ValidationError({"name": "Give the code a name."})
        if len(name) > NAME_MAX:
            raise ValidationError({"name": f"At most {NAME_MAX} characters (WeCom's limit)."})
        if JoinWay.objects.filter(name=name).exclude(pk=current.pk).exists():
            raise ValidationError({"name": "Another group code has this name."})
        out["name"] = name
    if "group_ids" in data or way is None:
        out["chat_ids"] = [g.chat_id for g in groups_resolve(data.get("group_ids"), at_most=MAX_GROUPS)]
    if "auto_create_room" in data:
        out["auto_create_room"] = bool(data["auto_create_room"])
    if "room_base_name" in data:
        room_name = (data["room_base_name"] or "").strip()
        if len(room_name) > ROOM_BASE_NAME_MAX:
            raise ValidationError({"room_base_name": f"At most {ROOM_BASE_NAME_MAX} characters."})
        out["room_base_name"] = room_name
    if "room_base_id" in data:
        base_id = data["room_base_id"]
        if not isinstance(base_id, int) or isinstance(base_id, bool) or not 1 <= base_id <= ROOM_BASE_ID_MAX:
            raise ValidationError({"room_base_id": "The number of the first new group: 1 or more."})
        out["room_base_id"] = base_id
    auto = out.get("auto_create_room", current.auto_create_room)
    if auto and not out.get("room_base_name", current.room_base_name):
        raise ValidationError(
            {"room_base_name": "Name the groups WeCom creates when all are full (e.g. 福利群)."}
        )
    return out


# --- WeCom ---------------------------------------------------------------------------------------


def _new_state() -> str:
    # 3 + 22 characters: within WeCom's 30, random so that a deleted code's state is never reused.
    return STATE_PREFIX + secrets.token_urlsafe(16)[:22]


def _wecom_body(way: JoinWay) -> dict[str, Any]:
    # update_join_way overwrites every field (omitted ones fall back to WeCom's defaults): always all.
    return {
        "scene": QR_SCENE,
        "remark": way.name[:NAME_MAX],
        "auto_create_room": int(way.auto_create_room),
        "room_base_name": way.room_base_name,
        "room_base_id": way.room_base_id,
        "chat_id_list": list(way.chat_ids),
        "state": way.state,
    }


def _apply_wecom(way: JoinWay, answer: dict[str, Any]) -> None:
    """Take from get_join_way what WeCom may change by itself: the groups, the next room number, the QR."""
    join_way = answer.get("join_way") or {}
    if "chat_id_list" in join_way:
        way.chat_ids = list(join_way["chat_id_list"])
    if join_way.get("room_base_id"):
        way.room_base_id = int(join_way["room_base_id"])
    if "qr_code" in join_way:
        way.qr_code = join_way["qr_code"] or ""


def _missing_chat_ids(chat_ids: list[str]) -> list[str]:
    known = set(Group.objects.filter(chat_id__in=chat_ids).values_list("chat_id", flat=True))
    return [c for c in chat_ids if c not in known]


def _sync_soon(tenant: Tenant, chat_ids: list[str]) -> None:
    """Have the groups WeCom created for a code read once this transaction commits."""
    if chat_ids:
        from ..tasks.codes import groups_reread

        transaction.on_commit(lambda: groups_reread.apply_async((tenant.pk, list(chat_ids))))


def join_way_create(
    *,
    name: str,
    group_ids: list[int],
    auto_create_room: bool = True,
    room_base_name: str = "",
    room_base_id: int = 1,
    actor: Actor = SYSTEM,
) -> JoinWay:
    """Create the code in WeCom, then here; a WeCom refusal raises WeComError and keeps nothing.

    No transaction is held across the WeCom calls (add, then get for the QR): the row is written in
    one short transaction at the end, and WeCom's copy is deleted again when it cannot be.
    """
    data = _clean(
        {
            "name": name,
            "group_ids": group_ids,
            "auto_create_room": auto_create_room,
            "room_base_name": room_base_name,
            "room_base_id": room_base_id,
        },
        way=None,
    )
    tenant = require_current_tenant()
    way = JoinWay(
        tenant=tenant,
        state=_new_state(),
        **actor.as_fields("created_by"),
        **data,
    )
    api = api_for(tenant)
    way.config_id = api.add_join_way(_wecom_body(way))["config_id"]
    try:
        # add_join_way answers only the config_id: the QR code's URL comes with get_join_way.
        _apply_wecom(way, api.get_join_way(way.config_id))
        with transaction.atomic():
            way.save()
    except (WeComError, IntegrityError) as exc:
        # Do not leave the new code behind in WeCom when it cannot be kept here.
        _delete_quietly(api, way.config_id)
        if isinstance(exc, IntegrityError):
            raise ValidationError({"name": "Another group code has this name."}) from None
        raise
    return way


def _delete_quietly(api: WeComAPI, config_id: str) -> None:
    try:
        api.del_join_way(config_id)
    except WeComError as exc:
        logger.warning("join way %s left in WeCom: %s", config_id, exc)


def join_way_update(*, way: JoinWay, data: dict[str, Any]) -> JoinWay:
    """Change the code in WeCom, then here. Fields not in ``data`` stay as they are.

    The input is checked first (a wrong one costs no WeCom call and no lock). Then the row is locked
    while WeCom's list is read and the code is updated: two edits take turns, so neither overwrites
    WeCom's copy with a list the other has just changed.
    """
    changes = _clean(data, way=way)
    with transaction.atomic():
        way = JoinWay.objects.select_for_update().get(pk=way.pk)
        api = api_for(way.tenant)
        # WeCom adds the groups it creates to the code: start from its list, so that an edit that does
        # not touch the groups keeps them (update_join_way overwrites the list).
        _apply_wecom(way, api.get_join_way(way.config_id))
        if "chat_ids" in changes:
            # Groups WeCom opened for the code that are not synced here yet cannot be shown, so the
            # dashboard cannot send them back: keep them rather than drop a group the code fills.
            unseen = [c for c in _missing_chat_ids(way.chat_ids) if c not in changes["chat_ids"]]
            if len(changes["chat_ids"]) + len(unseen) > MAX_GROUPS:
                raise ValidationError({"group_ids": UNSEEN_GROUPS.format(n=len(unseen))})
            changes["chat_ids"] = [*changes["chat_ids"], *unseen]
        for field, value in changes.items():
            setattr(way, field, value)
        try:
            api.update_join_way({"config_id": way.config_id, **_wecom_body(way)})
        except WeComError as exc:
            if exc.errcode == CHAT_NOT_FOUND:
                raise ValidationError({"group_ids": GROUP_GONE}) from None
            raise
        try:
            with transaction.atomic():
                way.save()
        except IntegrityError:
            # Renamed to a name taken meanwhile; WeCom only holds the name as a remark.
            raise ValidationError({"name": "Another group code has this name."}) from None
        _sync_soon(way.tenant, _missing_chat_ids(way.chat_ids))
    return way


def join_way_delete(*, way: JoinWay) -> None:
    """Delete it in WeCom, then here. Its members keep their attribution (their ``state``)."""
    try:
        api_for(way.tenant).del_join_way(way.config_id)
    except WeComError as exc:
        if exc.errcode not in GONE_CONFIG:
            raise
    way.delete()


def join_way_refresh(*, way: JoinWay, api: WeComAPI | None = None) -> list[str]:
    """Read the code back from WeCom (its groups, next room number, QR); returns the chat ids the
    code lists that are not known here yet (groups WeCom created for it), whose sync is queued.

    WeCom is read without a lock held; what it said is written only if the code was not changed here
    meanwhile (its ``updated_at`` is the one seen before the read): an edit that came in between read
    WeCom itself, and its list must not be overwritten with the older one. The next beat reads again.
    """
    seen = JoinWay.objects.filter(pk=way.pk).values_list("updated_at", flat=True).first()
    if seen is None:
        return []  # deleted meanwhile
    answer = (api or api_for(way.tenant)).get_join_way(way.config_id)
    with transaction.atomic():
        way = JoinWay.objects.select_for_update().filter(pk=way.pk).first()
        if way is None or way.updated_at != seen:
            return []  # deleted or edited meanwhile
        before = (list(way.chat_ids), way.room_base_id, way.qr_code)
        _apply_wecom(way, answer)
        if (list(way.chat_ids), way.room_base_id, way.qr_code) != before:
            way.save(update_fields=["chat_ids", "room_base_id", "qr_code", "updated_at"])
        missing = _missing_chat_ids(way.chat_ids)
        _sync_soon(way.tenant, missing)
    return missing


def groups_reread(*, tenant: Tenant, chat_ids: list[str], api: WeComAPI | None = None) -> int:
    """Read these groups from WeCom through the groups sync (the ones WeCom created for a code, or
    just transferred) and write what changed; returns how many it read (dismissed ones are not)."""
    from .. import sync as groups_sync

    api = api or api_for(tenant)
    read = 0
    for chat_id in dict.fromkeys(chat_ids):
        with transaction.atomic():  # group_reread locks the group for its write
            # A group first seen here is one WeCom just opened for a code: its customers joined it.
            if groups_sync.group_reread(api=api, chat_id=chat_id, first_import_joins=True) is not None:
                read += 1
    return read


# --- reads ---------------------------------------------------------------------------------------


def join_ways_joins(*, states: list[str]) -> dict[str, int]:
    """state → customers who joined a group through that code, ever (each stay counted)."""
    if not states:
        return {}
    return dict(
        GroupMember.objects.filter(state__in=states)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )


def join_way_groups(*, ways: list[JoinWay]) -> dict[str, Group]:
    """chat_id → local group, for the groups of these codes (one query)."""
    chat_ids = {c for w in ways for c in w.chat_ids}
    return {g.chat_id: g for g in Group.objects.filter(chat_id__in=chat_ids)} if chat_ids else {}


def join_way_stats(*, way: JoinWay, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Joins through the code over [start, end] (the tenant's days): per day and per group.

    The code's groups come first, in its order (with 0 when nobody joined them); groups it no longer
    lists but that people joined through it follow, busiest first.
    """
    tz = timezone.get_current_timezone()
    since, until = day_start(start), day_start(end + dt.timedelta(days=1))
    joins = GroupMember.objects.filter(state=way.state, joined_at__gte=since, joined_at__lt=until)
    per_day = dict(
        joins.annotate(day=TruncDate("joined_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    per_group = dict(joins.values("group_id").annotate(n=Count("id")).values_list("group_id", "n"))
    listed = join_way_groups(ways=[way])
    others = Group.objects.filter(pk__in=per_group).exclude(chat_id__in=way.chat_ids)
    groups: list[dict[str, Any]] = []
    for chat_id in way.chat_ids:
        group = listed.get(chat_id)
        groups.append(
            {
                "id": group.pk if group else None,
                "chat_id": chat_id,
                "name": group.name if group else "",
                "joins": per_group.get(group.pk, 0) if group else 0,
                "listed": True,
            }
        )
    for group in sorted(others, key=lambda g: (-per_group[g.pk], g.pk)):
        groups.append(
            {
                "id": group.pk,
                "chat_id": group.chat_id,
                "name": group.name,
                "joins": per_group[group.pk],
                "listed": False,
            }
        )
    days = [
        {"day": start + dt.timedelta(days=i), "joins": per_day.get(start + dt.timedelta(days=i), 0)}
        for i in range((end - start).days + 1)
    ]
    return {
        "date_from": start,
        "date_to": end,
        "total": sum(per_day.values()),
        "days": days,
        "groups": groups,
    }
