"""Incremental groups sync: WeCom's ``change_external_chat`` callbacks (wecom-api.md §11).

No handler trusts the event's story: each re-reads the group (``groupchat/get``) and writes what
WeCom has, through the same writer as the full sync, which locks the group and compares member
versions. So a duplicate event, or one older than what is stored, writes nothing, and events that
arrive out of order end in the state of the latest read. WeCom fills in a group's details after its
callback (and may still answer for a group just dismissed), so every handler also schedules one more
read a few seconds later (one per group while it is pending). The callback inbox runs each handler
inside a transaction.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from scrm.tenancy.models import Tenant
from scrm.wecom.api import api_for
from scrm.wecom.handlers import wecom_handler

from .models import Group
from .services.members import MemberHint, member_quit_scene_fill
from .sync import group_reread
from .tasks.sync import group_reread_schedule

CHAT = "change_external_chat"
MEMBER_CHANGES = ("add_member", "del_member")


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


@wecom_handler(CHAT, "create")
def on_group_created(*, tenant: Tenant, event) -> None:
    """A staff member created a group: its customers just joined it (``group_joined``, so SOPs and
    webhooks hear of the customer whose scan opened it)."""
    chat_id = event.payload["ChatId"]
    group_reread(api=api_for(tenant), chat_id=chat_id, first_import_joins=True)
    group_reread_schedule(tenant=tenant, chat_id=chat_id)


@wecom_handler(CHAT, "update")
def on_group_updated(*, tenant: Tenant, event) -> None:
    """Members joined or left, or the owner, name or notice changed: re-read and apply.

    A member change whose CurMemVer is the stored version was applied already (a duplicate, or the
    delayed re-read got there first): nothing to read. A leave still tells how they left
    (QuitScene), which a re-read cannot: it fills the stays closed without one.
    """
    payload = event.payload
    chat_id, detail = payload["ChatId"], payload.get("UpdateDetail") or ""
    hints: dict[str, MemberHint] = {}
    if detail == "del_member":
        quit_scene = payload.get("QuitScene")
        hint = MemberHint(
            quit_scene=int(quit_scene) if quit_scene not in (None, "") else None,
            left_at=_occurred_at(payload),
        )
        hints = dict.fromkeys(_changed_userids(payload), hint)
    current = payload.get("CurMemVer") or ""
    if detail in MEMBER_CHANGES and current:
        stored = Group.objects.filter(chat_id=chat_id).values_list("member_version", flat=True).first()
        if stored == current:
            member_quit_scene_fill(chat_id=chat_id, hints=hints)
            return
    group_reread(api=api_for(tenant), chat_id=chat_id, hints=hints)
    # The later read carries the leave's scene too: WeCom may still list the member now.
    group_reread_schedule(tenant=tenant, chat_id=chat_id, hints=hints)


@wecom_handler(CHAT, "dismiss")
def on_group_dismissed(*, tenant: Tenant, event) -> None:
    """The owner dismissed the group: WeCom confirms (40050) and it is marked dismissed, members kept.

    WeCom may still answer for the group right after the callback: the delayed re-read asks again
    (and dismisses it at the event's time then).
    """
    chat_id, dismissed_at = event.payload["ChatId"], _occurred_at(event.payload)
    group_reread(api=api_for(tenant), chat_id=chat_id, dismissed_at=dismissed_at)
    group_reread_schedule(tenant=tenant, chat_id=chat_id, dismissed_at=dismissed_at)
