"""Incremental groups sync: WeCom's ``change_external_chat`` callbacks (wecom-api.md §11).

WeCom sends the callback at once, but ``groupchat/get`` shows the change only a few seconds later
("e.g. 2 s"), and answers the group as it was until then. So a handler applies what the event itself
says (the members who joined or left, ``MemChangeList``) and has the group read again until WeCom
shows the change (``groups.services.refresh``: after a delay, then with backoff, a bounded number of
times), which brings what the event does not say: the new name, notice or owner, the inviter, a group
code's ``state``, nicknames. Duplicates, late and out-of-order events change nothing twice: the
event's members are applied per member by time, and a read WeCom has not caught up on is not applied.
The callback inbox runs each handler inside a transaction; the refresh's task is queued on commit.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from scrm.tenancy.models import Tenant
from scrm.wecom.handlers import wecom_handler

from .models import Group
from .services.members import members_event_apply
from .services.refresh import FIELDS
from .tasks.sync import refresh_schedule

CHAT = "change_external_chat"


def _occurred_at(payload: dict) -> dt.datetime:
    created = payload.get("CreateTime")
    return dt.datetime.fromtimestamp(int(created), tz=dt.UTC) if created else timezone.now()


def _changed_userids(payload: dict) -> list[str]:
    """MemChangeList: one userid, or several (xmltodict gives a list, or a dict of ``Item``s)."""
    value = payload.get("MemChangeList") or []
    if isinstance(value, dict):
        value = value.get("Item") or []
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in value if v]


def _scene(value) -> int | None:
    return int(value) if str(value or "").isdigit() else None


@wecom_handler(CHAT, "create")
def on_group_created(*, tenant: Tenant, event) -> None:
    """A staff member created a group: read it once WeCom shows it; its customers just joined it
    (``group_joined``, so SOPs and webhooks hear of the customer whose scan opened it)."""
    refresh_schedule(
        tenant=tenant,
        chat_id=event.payload["ChatId"],
        at=_occurred_at(event.payload),
        exists=True,
        first_import_joins=True,
    )


@wecom_handler(CHAT, "update")
def on_group_updated(*, tenant: Tenant, event) -> None:
    """Members joined or left (applied now), or the owner, name or notice changed: read until shown.

    A member change whose CurMemVer is the stored version was read already (a read got there
    first): the event only adds how a member left (QuitScene), which a read cannot tell.
    """
    payload = event.payload
    chat_id, detail, at = payload["ChatId"], payload.get("UpdateDetail") or "", _occurred_at(payload)
    if detail in ("add_member", "del_member"):
        userids = _changed_userids(payload)
        joined, left = (userids, []) if detail == "add_member" else ([], userids)
        current = payload.get("CurMemVer") or ""
        stored = Group.objects.filter(chat_id=chat_id).values_list("member_version", flat=True).first()
        if not (current and stored == current):
            # Before the event is applied: the refresh notes the group as a read last stored it.
            versions = (payload.get("LastMemVer") or "", current) if current else None
            refresh_schedule(tenant=tenant, chat_id=chat_id, at=at, versions=versions)
        members_event_apply(
            chat_id=chat_id,
            at=at,
            joined=joined,
            left=left,
            join_scene=_scene(payload.get("JoinScene")),
            quit_scene=_scene(payload.get("QuitScene")),
        )
    else:
        # change_name / change_notice / change_owner carry no value: read until it changes. Any
        # other detail is read once.
        fields = [FIELDS[detail]] if detail in FIELDS else []
        refresh_schedule(tenant=tenant, chat_id=chat_id, at=at, fields=fields)


@wecom_handler(CHAT, "dismiss")
def on_group_dismissed(*, tenant: Tenant, event) -> None:
    """The owner dismissed the group: once WeCom confirms (40050), it is marked dismissed at the
    event's time, members kept. WeCom may still answer for the group a moment: it is read again."""
    at = _occurred_at(event.payload)
    refresh_schedule(tenant=tenant, chat_id=event.payload["ChatId"], at=at, dismissed_at=at)
