"""Mass messages members make themselves in the WeCom app, read back so the caps count them.

WeCom's receive limit counts corp-made and member-made mass messages together (wecom-api.md §7), and
WeCom tells us nothing about the latter: once an hour the ``campaigns.readback_all`` tick lists the
last day's member-made messages (``get_groupmsg_list_v2`` filter_type=1, customers and groups, cursor
paging), keeps each as a ``MemberMessage`` row, and reads who received them (``get_groupmsg_task``, then
``get_groupmsg_send_result`` per member who sent) into ``Touch`` rows of kind member_mass_message, the
ledger the frequency caps count. A message is read until every target's status is final, for at most
``OPEN_FOR`` after it was made; its Touch rows are unique per (msgid, target), so re-reading never counts
one twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.utils import timezone

from scrm.tenancy.models import Tenant
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import WeComError

from ..models import ChatType, MemberMessage, Touch, TouchKind

logger = logging.getLogger(__name__)

# The tick runs hourly; the window overlaps the previous run's by an hour (a late tick loses nothing).
LIST_WINDOW = dt.timedelta(hours=25)
LIST_PAGE = 100  # get_groupmsg_list_v2's maximum
RESULT_PAGE = 1000
# A member-made message is sent at once, but WeCom may take a while to report every target.
OPEN_FOR = dt.timedelta(days=3)
STILL_DISPATCHING = 41063


@dataclass
class ReadbackSummary:
    messages: int = 0  # new MemberMessage rows
    touches: int = 0  # Touch rows written
    api_calls: int = 0


def member_messages_read(
    *, tenant: Tenant, api: WeComAPI | None = None, now: dt.datetime | None = None
) -> ReadbackSummary:
    """List the tenant's member-made mass messages of the last day and read their results into Touch."""
    api = api or api_for(tenant)
    now = now or timezone.now()
    summary = ReadbackSummary()
    for chat_type in (ChatType.SINGLE, ChatType.GROUP):
        _list(api, chat_type, now, summary)
    for message in MemberMessage.objects.filter(
        results_complete=False, created_at_wecom__gte=now - OPEN_FOR
    ).order_by("created_at_wecom"):
        _results(api, message, summary)
    MemberMessage.objects.filter(results_complete=False, created_at_wecom__lt=now - OPEN_FOR).update(
        results_complete=True
    )
    return summary


def _list(api: WeComAPI, chat_type: str, now: dt.datetime, summary: ReadbackSummary) -> None:
    cursor = ""
    seen: list[MemberMessage] = []
    while True:
        summary.api_calls += 1
        page = api.get_groupmsg_list_v2(
            {
                "chat_type": chat_type,
                "start_time": int((now - LIST_WINDOW).timestamp()),
                "end_time": int(now.timestamp()),
                "filter_type": 1,
                "limit": LIST_PAGE,
                "cursor": cursor,
            }
        )
        for item in page.get("group_msg_list") or []:
            if item.get("create_type", 1) != 1 or not item.get("msgid") or not item.get("creator"):
                continue
            seen.append(
                MemberMessage(
                    msgid=item["msgid"],
                    chat_type=chat_type,
                    creator=item["creator"],
                    created_at_wecom=dt.datetime.fromtimestamp(int(item.get("create_time") or 0), dt.UTC),
                )
            )
        cursor = page.get("next_cursor") or ""
        if not cursor:
            break
    if seen:
        known = set(
            MemberMessage.objects.filter(msgid__in=[m.msgid for m in seen]).values_list("msgid", flat=True)
        )
        new = [m for m in seen if m.msgid not in known]
        MemberMessage.objects.bulk_create(new, ignore_conflicts=True)
        summary.messages += len(new)


def _results(api: WeComAPI, message: MemberMessage, summary: ReadbackSummary) -> None:
    """Touch rows for the targets that received ``message``; complete once every target is final."""
    key = "chat_id" if message.chat_type == ChatType.GROUP else "external_userid"
    try:
        senders, all_sent = _senders(api, message, summary)
        touches: list[Touch] = []
        final = all_sent
        for userid in senders:
            cursor = ""
            while True:
                summary.api_calls += 1
                page = api.get_groupmsg_send_result(
                    msgid=message.msgid, userid=userid, cursor=cursor, limit=RESULT_PAGE
                )
                for row in page.get("send_list") or []:
                    status = row.get("status")
                    if status == 0:
                        final = False
                    elif status == 1 and row.get(key):
                        at = int(row.get("send_time") or 0) or int(message.created_at_wecom.timestamp())
                        touches.append(
                            Touch(
                                target=row[key],
                                kind=TouchKind.MEMBER_MASS_MESSAGE,
                                source=message.msgid,
                                at=dt.datetime.fromtimestamp(at, dt.UTC),
                            )
                        )
                cursor = page.get("next_cursor") or ""
                if not cursor:
                    break
    except WeComError as exc:
        if exc.errcode == STILL_DISPATCHING:
            return  # read at the next tick
        raise
    if touches:
        known = set(Touch.objects.filter(source=message.msgid).values_list("target", flat=True))
        new = [t for t in touches if t.target not in known]
        Touch.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
        summary.touches += len(new)
    if final:
        MemberMessage.objects.filter(pk=message.pk).update(results_complete=True)


def _senders(api: WeComAPI, message: MemberMessage, summary: ReadbackSummary) -> tuple[list[str], bool]:
    """The members who sent the message, and whether all its members have."""
    senders, all_sent, cursor = [], True, ""
    while True:
        summary.api_calls += 1
        page = api.get_groupmsg_task(msgid=message.msgid, cursor=cursor, limit=RESULT_PAGE)
        for task in page.get("task_list") or []:
            if task.get("status") == 2:
                senders.append(task["userid"])
            else:
                all_sent = False
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return senders, all_sent
