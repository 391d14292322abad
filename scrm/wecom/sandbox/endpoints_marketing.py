"""Mass messages, Moments and staff behaviour (wecom-api.md sections 7, 8 and 9), and temporary media (9a).

Nothing reaches a customer through these APIs alone: WeCom turns a mass message into a task that the
staff member confirms in the WeCom app, and a Moments task into a post each staff member publishes.
The control routes ``simulate/staff-confirm-msg`` and ``simulate/staff-publish-moment`` act out those
taps; ``simulate/member-mass-msg`` a mass message a member writes and sends in the app;
``simulate/customer-like-moment``, ``customer-comment-moment`` and ``member-like-moment`` what customers
and colleagues do with a published copy. With
``mass_msg_auto_confirm_seconds`` set (the demo), members confirm by themselves (see ``settle``).
``records/mass-messages`` lists every mass message held, for benchmarks that count WeCom tasks.
Objects live in ``state.ext["marketing"]`` (``MarketingBook``).
"""

from __future__ import annotations

import base64
import calendar
import hashlib
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from .endpoint_helpers import (
    day_start,
    int_param,
    now,
    page,
    setting,
    settings_update,
    str_list_param,
    unit,
)
from .endpoints_core import check_attachments, check_media, live_tag
from .endpoints_groups import followed_by
from .generator import CHINA_UTC_OFFSET, DAY, make_id
from .registry import SandboxError, SandboxRequest, control_route, generator_hook, route
from .state import SandboxState

if TYPE_CHECKING:
    from .server import Sandbox

SETTINGS = {
    # WeCom's receive rule (DOC 92135, updated 2025-11; 群发助手 › 设置群发规则): each customer, and each
    # customer group, receives at most as many mass messages per calendar month as the month has days
    # ("month", the default), or 7 per week ("week"), or 1 per day ("day"); corp-made and member-made
    # messages count together, in China time. A target over it gets status 3 when the member sends.
    "mass_msg_receive_rule": "month",
    # Seconds after add_msg_template during which task/result queries answer 41063 (still dispatching).
    "mass_msg_dispatch_seconds": 0,
    # The demo's members confirm corp mass messages by themselves: 0 = never (tests); else each member's
    # task is sent between 1 and 2 times this many seconds after add_msg_template (fixed per message and
    # member), except for the members who never confirm on their own (below), who need
    # simulate/staff-confirm-msg, as a reminded member would.
    "mass_msg_auto_confirm_seconds": 0,
    # Share of members (fixed per member by the corp's seed) who never confirm on their own.
    "mass_msg_never_confirm_percent": 20,
    # A Moments job reports 1, 2, 3 on successive polls; it is done at the latest after this many seconds.
    "moment_job_seconds": 10,
    "moment_tasks_per_minute": 10,
}
RECEIVE_RULES = ("month", "week", "day")
MASS_MSG_MAX_CUSTOMERS = 10_000
MASS_MSG_MAX_CHATS = 2_000
MEMBER_MASS_MSG_MAX_CUSTOMERS = 20_000  # a member picks at most 20,000 customers in the app (DOC 96997)
MAX_ATTACHMENTS = 9
TEXT_MAX_BYTES = 4000
MOMENT_TEXT_MAX = 2000
MOMENT_LINK_TITLE_MAX_BYTES = 64
MOMENT_SENDERS_MAX = 100_000  # visible_range.sender_list.user_list (DOC 95094)
MOMENT_JOB_TTL = DAY  # a jobid answers for 24 hours
MEDIA_MAX_BYTES = 10 * 1024 * 1024
MEDIA_TTL = 3 * 24 * 3600  # seconds an uploaded media_id stays usable
REMIND_MAX = 3  # reminders per mass message within any 24 hours (DOC 97610)
TEMPORARY_MEDIA = 0  # Media.attachment_type of a media/upload id (upload_attachment's are 1 and 2)


class _Loadable:
    """A data file written before a field existed loads with the field's default."""

    def __setstate__(self, saved: dict[str, Any]) -> None:
        for f in fields(self):
            if f.name not in saved:
                saved[f.name] = f.default_factory() if f.default_factory is not MISSING else f.default
        self.__dict__.update(saved)


@dataclass
class MassTask:
    """One sender's share of a mass message: their targets and what happened to each."""

    userid: str
    status: int = 0  # 0 not sent yet, 2 sent (WeCom's task statuses)
    send_time: int = 0
    results: dict[str, list[int]] = field(default_factory=dict)  # target -> [status, send_time]


@dataclass
class MassMessage(_Loadable):
    msgid: str
    chat_type: str  # "single" (customers) or "group" (customer groups)
    creator: str
    create_time: int
    create_type: int  # 0 corp (API, admin console), 1 staff member in the app
    text: str
    attachments: list[dict[str, Any]]
    tasks: dict[str, MassTask] = field(default_factory=dict)
    cancelled: bool = False
    reminded_at: list[int] = field(default_factory=list)
    fail_list: list[str] = field(default_factory=list)
    seq: int = 0  # creation order: ties of create_time, and get_groupmsg_list_v2's cursor


@dataclass
class Media:
    media_id: str
    type: str  # image, voice, video, file
    filename: str
    size: int
    sha256: str
    created_at: int
    attachment_type: int  # 0 media/upload (TEMPORARY_MEDIA); upload_attachment: 1 Moments, 2 product album


@dataclass
class Interaction:
    """A like or comment on one staff member's copy of a Moment (WeCom gives no comment text)."""

    userid: str  # the staff member whose post it is on
    create_time: int
    external_userid: str = ""  # a customer's, or
    by_userid: str = ""  # a colleague's


@dataclass
class Moment:
    moment_id: str
    creator: str  # the staff member for personal posts; "" for corp posts made through the API
    create_time: int
    create_type: int  # 0 corp, 1 personal
    visible_type: int  # 0 some customers (tag filter), 1 all of the publisher's customers
    text: str = ""
    images: list[str] = field(default_factory=list)
    video: str = ""
    link: dict[str, str] = field(default_factory=dict)
    senders: list[str] = field(default_factory=list)  # who was asked to publish (corp posts)
    tag_list: list[str] = field(default_factory=list)
    published: dict[str, int] = field(default_factory=dict)  # userid -> publish time
    cancelled: bool = False
    comments: list[Interaction] = field(default_factory=list)
    likes: list[Interaction] = field(default_factory=list)


@dataclass
class MomentJob:
    jobid: str
    created_at: int
    spec: dict[str, Any]  # the validated add_moment_task body
    polls: int = 0
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class MarketingBook(_Loadable):
    stats_salt: str = ""
    messages: dict[str, MassMessage] = field(default_factory=dict)
    # external_userid or chat_id -> times it received a mass message (the receive rule counts them)
    received: dict[str, list[int]] = field(default_factory=dict)
    media: dict[str, Media] = field(default_factory=dict)
    jobs: dict[str, MomentJob] = field(default_factory=dict)
    job_times: list[int] = field(default_factory=list)  # add_moment_task calls, for the per-minute limit
    moments: dict[str, Moment] = field(default_factory=dict)
    message_seq: int = 0
    uploadimg_times: list[int] = field(default_factory=list)  # media/uploadimg calls, for its quotas


def book(state: SandboxState) -> MarketingBook:
    return state.ext.setdefault("marketing", MarketingBook())


@control_route("settings/marketing", methods=("GET", "POST"))
def settings_marketing(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``{mass_msg_receive_rule?, mass_msg_dispatch_seconds?, mass_msg_auto_confirm_seconds?,
    mass_msg_never_confirm_percent?, moment_job_seconds?, moment_tasks_per_minute?}`` → the settings
    now in force."""
    changes = req.json if req.method == "POST" else {}
    if changes.get("mass_msg_receive_rule", "month") not in RECEIVE_RULES:
        raise ValueError(f"mass_msg_receive_rule must be one of {', '.join(RECEIVE_RULES)}")
    percent = changes.get("mass_msg_never_confirm_percent", 0)
    if isinstance(percent, int) and percent > 100:
        raise ValueError("mass_msg_never_confirm_percent must be 0 to 100")
    if changes:
        # Tasks due under the old settings are sent under them, before the change applies.
        _settle(sandbox, now())
    return {"settings": settings_update(sandbox.state, SETTINGS, changes)}


def _staff(state: SandboxState, userid: Any, name: str) -> str:
    """A staff member who may act on customers: active, with the customer-contact permission."""
    member = state.staff.get(userid) if isinstance(userid, str) else None
    if member is None or member.status != 1:
        raise SandboxError(60111, f"{name} does not exist")
    if not member.has_contact_permission:
        raise SandboxError(84074, f"{name} has no customer contact permission")
    return member.userid


def _text_content(body: dict[str, Any]) -> str:
    text = body.get("text") or {}
    content = text.get("content") or "" if isinstance(text, dict) else None
    if not isinstance(content, str):
        raise SandboxError(40058, "text must be {content: string}")
    return content


def _moment_attachments(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        raise SandboxError(40058, f"attachments must be a list of at most {MAX_ATTACHMENTS}")
    for item in value:
        msgtype = item.get("msgtype") if isinstance(item, dict) else None
        if msgtype not in ("image", "video", "link") or not isinstance(item.get(msgtype), dict):
            raise SandboxError(40008, f"invalid attachment msgtype {msgtype!r}: one of image, video, link")
    return value


# --- 7. mass messages ------------------------------------------------------------------------


def _page_size(body: dict[str, Any], *, maximum: int, default: int) -> int:
    """``limit`` of the mass-message and Moments read APIs: "超过最大值时取默认值" (DOC 93338, 93333) —
    above the maximum the default applies (not the maximum), as it does when missing or not a positive
    integer."""
    try:
        value = int(body.get("limit") or 0)
    except (TypeError, ValueError):
        value = 0
    return value if 0 < value <= maximum else default


def _new_message(state: SandboxState, **fields: Any) -> MassMessage:
    marketing = book(state)
    marketing.message_seq += 1
    message = MassMessage(msgid=make_id(state, "msg", 30), seq=marketing.message_seq, **fields)
    marketing.messages[message.msgid] = message
    return message


@route("externalcontact/add_msg_template")
def add_msg_template(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Creates the tasks (one per sending member); nothing is sent until each member confirms."""
    body = req.json
    state = sandbox.state
    _settle(sandbox, now())
    chat_type = body.get("chat_type") or "single"
    if chat_type not in ("single", "group"):
        raise SandboxError(40058, "chat_type must be single or group")
    content = _text_content(body)
    if len(content.encode()) > TEXT_MAX_BYTES:
        raise SandboxError(45002, f"text.content is longer than {TEXT_MAX_BYTES} bytes")
    attachments = body.get("attachments") or []
    check_attachments(attachments)  # ≤ 9, the fields each type needs, link desc / mini program title bytes
    for attachment in attachments:
        # Images, videos and files by a media/upload id of that type, at most 3 days old (an image may
        # come by pic_url instead); a Moments upload_attachment id is not one (40007).
        check_media(
            state, attachment["msgtype"], attachment[attachment["msgtype"]], uploads=(TEMPORARY_MEDIA,)
        )
    if not content and not attachments:
        raise SandboxError(44004, "text and attachments are both empty")
    sender = _staff(state, body["sender"], "sender") if body.get("sender") else ""
    if chat_type == "group":
        targets, fail_list = _group_targets(state, sender, body)
    else:
        targets, fail_list = _customer_targets(state, sender, body)
    if not any(targets.values()):
        raise SandboxError(41048, "no customers to send to")
    message = _new_message(
        state,
        chat_type=chat_type,
        creator=sender,
        create_time=now(),
        create_type=0,
        text=content,
        attachments=attachments,
        fail_list=fail_list,
    )
    for userid, items in targets.items():
        if items:
            message.tasks[userid] = MassTask(userid=userid, results={t: [0, 0] for t in items})
    return {"fail_list": fail_list, "msgid": message.msgid}


def _group_targets(
    state: SandboxState, sender: str, body: dict[str, Any]
) -> tuple[dict[str, list[str]], list[str]]:
    """Groups the sender owns (all of them when chat_id_list is empty); others go to fail_list."""
    if not sender:
        raise SandboxError(40058, "sender is required for group mass messages")
    chat_ids = str_list_param(body, "chat_id_list", maximum=MASS_MSG_MAX_CHATS)
    owned = [c.chat_id for c in state.groups.values() if c.owner == sender and not c.dismissed]
    if not chat_ids:
        return {sender: owned}, []
    owned_set = set(owned)
    return {sender: [c for c in chat_ids if c in owned_set]}, [c for c in chat_ids if c not in owned_set]


def _customer_targets(
    state: SandboxState, sender: str, body: dict[str, Any]
) -> tuple[dict[str, list[str]], list[str]]:
    """Customers per sending staff member; those the sender does not follow go to fail_list.

    Without a sender each customer is sent by the staff member who added them first.
    """
    external_userids = str_list_param(body, "external_userid", maximum=MASS_MSG_MAX_CUSTOMERS)
    if not external_userids and not sender:
        raise SandboxError(40058, "external_userid and sender cannot both be empty")
    tag_groups = _tag_filter(state, body.get("tag_filter"))
    targets: dict[str, list[str]] = {}
    fail_list: list[str] = []
    for external_userid in external_userids or followed_by(state, sender):
        contact = state.contacts.get(external_userid)
        follows = contact.follows if contact else {}
        userid = sender or min(follows, key=lambda u: follows[u].createtime, default="")
        if userid not in follows:
            fail_list.append(external_userid)
            continue
        tags = set(follows[userid].tag_ids)
        if all(tags & group for group in tag_groups):
            targets.setdefault(userid, []).append(external_userid)
    return targets, fail_list


def _tag_filter(state: SandboxState, value: Any) -> list[set[str]]:
    """tag_filter.group_list: a customer must carry a tag of every group (OR within, AND across)."""
    if value is None:
        return []
    groups = value.get("group_list") or [] if isinstance(value, dict) else None
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise SandboxError(40058, "tag_filter must be {group_list: [{tag_list: [tag_id]}]}")
    parsed = []
    for group in groups:
        tag_ids = str_list_param(group, "tag_list", maximum=3000)
        if any(live_tag(state, t) is None for t in tag_ids):
            raise SandboxError(40068, "invalid tag_id in tag_filter")
        if tag_ids:
            parsed.append(set(tag_ids))
    return parsed


def _message(state: SandboxState, body: dict[str, Any], *, dispatched: bool = True) -> MassMessage:
    msgid = body.get("msgid")
    if not msgid:
        raise SandboxError(41046, "msgid is required")
    message = book(state).messages.get(msgid) if isinstance(msgid, str) else None
    if message is None:
        raise SandboxError(41047, "invalid msgid")
    if dispatched and now() - message.create_time < setting(state, SETTINGS, "mass_msg_dispatch_seconds"):
        raise SandboxError(41063, "the mass message is still being dispatched, try again later")
    return message


def _encode_list_cursor(message: MassMessage) -> str:
    return base64.urlsafe_b64encode(f"m{message.create_time}.{message.seq}".encode()).decode().rstrip("=")


def _decode_list_cursor(cursor: Any) -> tuple[int, int] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(str(cursor) + "=" * (-len(str(cursor)) % 4)).decode()
        if not raw.startswith("m"):
            raise ValueError(raw)
        create_time, seq = raw[1:].split(".")
        return int(create_time), int(seq)
    except (ValueError, UnicodeDecodeError):
        raise SandboxError(40058, "invalid cursor") from None


@route("externalcontact/get_groupmsg_list_v2")
def get_groupmsg_list_v2(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Newest first. The cursor names the last message of the page, so messages created while a client
    pages (they are newer) never shift the pages it has not read yet."""
    body = req.json
    _settle(sandbox, now())
    chat_type = body.get("chat_type") or "single"
    if chat_type not in ("single", "group"):
        raise SandboxError(40058, "chat_type must be single or group")
    start, end = _time_range(body, max_days=31)
    filter_type = int_param(body, "filter_type", default=2)
    if filter_type not in (0, 1, 2):
        raise SandboxError(40058, "filter_type must be 0, 1 or 2")
    creator = body.get("creator") or ""
    limit = _page_size(body, maximum=100, default=50)
    after = _decode_list_cursor(body.get("cursor"))
    messages = sorted(
        (
            m
            for m in book(sandbox.state).messages.values()
            if m.chat_type == chat_type
            and start <= m.create_time <= end
            and filter_type in (2, m.create_type)
            and (not creator or m.creator == creator)
            and (after is None or (m.create_time, m.seq) < after)
        ),
        key=lambda m: (-m.create_time, -m.seq),
    )
    chunk = messages[:limit]
    next_cursor = _encode_list_cursor(chunk[-1]) if len(messages) > limit else ""
    items = []
    for m in chunk:
        item: dict[str, Any] = {
            "msgid": m.msgid,
            "creator": m.creator,
            "create_time": m.create_time,
            "create_type": m.create_type,
        }
        if m.text:
            item["text"] = {"content": m.text}
        if m.attachments:
            item["attachments"] = m.attachments
        items.append(item)
    return {"group_msg_list": items, "next_cursor": next_cursor}


def _time_range(body: dict[str, Any], *, max_days: int) -> tuple[int, int]:
    start = int_param(body, "start_time")
    end = int_param(body, "end_time")
    if end < start:
        raise SandboxError(40058, "end_time is earlier than start_time")
    if end - start > max_days * DAY:
        raise SandboxError(40058, f"the time span exceeds {max_days} days")
    return start, end


@route("externalcontact/get_groupmsg_task")
def get_groupmsg_task(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """The sending members (status 0 not sent, 2 sent), in the order the tasks were made."""
    _settle(sandbox, now())
    message = _message(sandbox.state, req.json)
    limit = _page_size(req.json, maximum=1000, default=500)
    tasks, next_cursor = page(list(message.tasks.values()), req.json.get("cursor"), limit)
    items = []
    for task in tasks:
        item = {"userid": task.userid, "status": task.status}
        if task.send_time:
            item["send_time"] = task.send_time
        items.append(item)
    return {"task_list": items, "next_cursor": next_cursor}


@route("externalcontact/get_groupmsg_send_result")
def get_groupmsg_send_result(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """One member's targets in the order given: 0 not sent, 1 sent, 2 not a friend (or not the group
    owner any more), 3 over the receive rule. The order never changes, so a cursor stays good while
    statuses change between pages."""
    _settle(sandbox, now())
    message = _message(sandbox.state, req.json)
    userid = req.json.get("userid")
    if not userid or not isinstance(userid, str):
        raise SandboxError(40058, "userid is required")
    limit = _page_size(req.json, maximum=1000, default=500)
    task = message.tasks.get(userid)
    results = list(task.results.items()) if task else []
    chunk, next_cursor = page(results, req.json.get("cursor"), limit)
    key = "chat_id" if message.chat_type == "group" else "external_userid"
    items = []
    for target, (status, send_time) in chunk:
        item = {key: target, "userid": userid, "status": status}
        if send_time:
            item["send_time"] = send_time
        items.append(item)
    return {"send_list": items, "next_cursor": next_cursor}


@route("externalcontact/remind_groupmsg_send")
def remind_groupmsg_send(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Reminds the senders who have not sent yet: at most three times per message in any 24 hours.

    DOC 97610 states the limit but no errcode for going past it: the sandbox answers 45009 (WeCom's
    "over the limit"), which the gateway treats like any 45009 (it rests that API for a minute)."""
    _settle(sandbox, now())
    message = _message(sandbox.state, req.json, dispatched=False)
    current = now()
    if message.cancelled:
        raise SandboxError(41047, "the mass message was cancelled")
    if sum(1 for at in message.reminded_at if current - at < DAY) >= REMIND_MAX:
        raise SandboxError(45009, "a mass message can be reminded at most 3 times in 24 hours")
    message.reminded_at.append(current)
    return {}


@route("externalcontact/cancel_groupmsg_send")
def cancel_groupmsg_send(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Stops the message: members who have not sent it yet no longer can (their targets stay 0)."""
    _settle(sandbox, now())  # what was due before the cancel is sent
    _message(sandbox.state, req.json, dispatched=False).cancelled = True
    return {}


@control_route("simulate/staff-confirm-msg")
def simulate_staff_confirm_msg(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``{msgid, userid}``: the staff member taps "send" in WeCom; each target gets its send status."""
    state = sandbox.state
    current = now()
    with state.lock:
        _settle(sandbox, current)
        message = _message(state, req.json, dispatched=False)
        userid = req.json.get("userid")
        task = message.tasks.get(userid) if isinstance(userid, str) else None
        if task is None:
            raise SandboxError(40058, "this staff member has no task in the mass message")
        if message.cancelled:
            raise SandboxError(41047, "the mass message was cancelled")
        if task.status == 2:
            raise SandboxError(40058, "this staff member already sent the mass message")
        _send(state, message, task, current)
        return _sent_counts(message, task)


def _sent_counts(message: MassMessage, task: MassTask) -> dict[str, Any]:
    counts = {status: sum(1 for s, _ in task.results.values() if s == status) for status in (1, 2, 3)}
    return {
        "msgid": message.msgid,
        "userid": task.userid,
        "sent": counts[1],
        "not_friend": counts[2],
        "over_limit": counts[3],
    }


@control_route("simulate/member-mass-msg")
def simulate_member_mass_msg(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``{userid, chat_type?, external_userid? | chat_id_list?, text, attachments?}``: a member writes a
    mass message in the WeCom app and sends it at once (create_type 1, creator = the member). Without
    targets it goes to all their customers (or groups they own). It counts against the receive rule like
    any other (over it: status 3), and reads back through get_groupmsg_list_v2 (filter_type 1),
    get_groupmsg_task and get_groupmsg_send_result. A target that is not theirs → 400."""
    body, state = req.json, sandbox.state
    current = now()
    text = body.get("text")
    text = text.get("content") if isinstance(text, dict) else text
    if not isinstance(text, str) or len(text.encode()) > TEXT_MAX_BYTES:
        raise ValueError(f"text must be a string of at most {TEXT_MAX_BYTES} bytes")
    attachments = body.get("attachments") or []
    check_attachments(attachments)
    if not text and not attachments:
        raise ValueError("text and attachments cannot both be empty")
    chat_type = body.get("chat_type") or "single"
    with state.lock:
        _settle(sandbox, current)
        userid = _staff(state, body.get("userid"), "userid")
        if chat_type == "group":
            mine = [c.chat_id for c in state.groups.values() if c.owner == userid and not c.dismissed]
            targets = str_list_param(body, "chat_id_list", maximum=MASS_MSG_MAX_CHATS) or mine
        elif chat_type == "single":
            mine = followed_by(state, userid)
            targets = str_list_param(body, "external_userid", maximum=MEMBER_MASS_MSG_MAX_CUSTOMERS) or mine
        else:
            raise ValueError("chat_type must be single or group")
        foreign = sorted(set(targets) - set(mine))
        if foreign:
            raise ValueError(f"not {userid}'s to send to: {', '.join(foreign[:5])}")
        if not targets:
            raise ValueError(f"{userid} has no {'groups' if chat_type == 'group' else 'customers'}")
        message = _new_message(
            state,
            chat_type=chat_type,
            creator=userid,
            create_time=current,
            create_type=1,
            text=text,
            attachments=attachments,
        )
        task = message.tasks[userid] = MassTask(userid=userid, results={t: [0, 0] for t in targets})
        _send(state, message, task, current)
        return _sent_counts(message, task)


def _send(state: SandboxState, message: MassMessage, task: MassTask, at: int) -> None:
    """The member sends their share at ``at``: each target gets its status (and counts if it got it)."""
    task.status, task.send_time = 2, at
    for target, result in task.results.items():
        status = _deliver(state, message, task.userid, target, at)
        result[:] = [status, at if status == 1 else 0]


def _deliver(state: SandboxState, message: MassMessage, userid: str, target: str, at: int) -> int:
    """The send status of one target: 1 sent, 2 no longer reachable, 3 over the receive rule."""
    if message.chat_type == "group":
        chat = state.groups.get(target)
        reachable = chat is not None and not chat.dismissed and chat.owner == userid
    else:
        contact = state.contacts.get(target)
        reachable = contact is not None and userid in contact.follows
    if not reachable:
        return 2
    received = book(state).received.setdefault(target, [])
    start, end, allowed = receive_period(at, setting(state, SETTINGS, "mass_msg_receive_rule"))
    if sum(1 for t in received if start <= t < end) >= allowed:
        return 3
    received.append(at)
    return 1


def receive_period(timestamp: int, rule: str) -> tuple[int, int, int]:
    """The China-time period of the receive rule holding ``timestamp``: (start, end, how many a target
    may receive in it). "day": 1 a day; "week": 7 a week, Monday to Sunday; "month": as many as the
    calendar month has days."""
    if rule == "day":
        start = day_start(timestamp)
        return start, start + DAY, 1
    china = datetime.fromtimestamp(timestamp + CHINA_UTC_OFFSET, UTC).replace(hour=0, minute=0, second=0)
    if rule == "week":
        monday = china - timedelta(days=china.weekday())
        start = int(monday.timestamp()) - CHINA_UTC_OFFSET
        return start, start + 7 * DAY, 7
    days = calendar.monthrange(china.year, china.month)[1]
    start = int(china.replace(day=1).timestamp()) - CHINA_UTC_OFFSET
    return start, start + days * DAY, days


def _never_confirms(salt: str, userid: str, percent: int) -> bool:
    return unit(salt, userid, "never-confirms") * 100 < percent


def auto_confirm_at(salt: str, message: MassMessage, userid: str, seconds: int) -> int:
    """When a member confirms a corp mass message by themselves: 1 to 2 times ``seconds`` after it was
    made, fixed by (message, member) so that every run and every reader sees the same."""
    return message.create_time + seconds + int(seconds * unit(salt, message.msgid, userid, "confirm"))


def settle(state: SandboxState, current: int) -> bool:
    """Send every auto-confirmed task that is due by ``current`` (``mass_msg_auto_confirm_seconds``),
    in the order they fell due and at that time: lazily, on the next call that reads or changes mass
    messages, and the same whenever that call comes. True when something was sent. Call under
    state.lock."""
    seconds = setting(state, SETTINGS, "mass_msg_auto_confirm_seconds")
    if not seconds:
        return False
    marketing = book(state)
    percent = setting(state, SETTINGS, "mass_msg_never_confirm_percent")
    due = []
    for message in marketing.messages.values():
        if message.cancelled or message.create_type != 0:
            continue
        for task in message.tasks.values():
            if task.status != 0 or _never_confirms(marketing.stats_salt, task.userid, percent):
                continue
            at = auto_confirm_at(marketing.stats_salt, message, task.userid, seconds)
            if at <= current:
                due.append((at, message.seq, task.userid, message, task))
    for at, _, _, message, task in sorted(due, key=lambda d: d[:3]):
        _send(state, message, task, at)
    return bool(due)


def _settle(sandbox: Sandbox, current: int) -> None:
    """``settle`` for a handler: what it sends is new state even when the call itself fails or only
    reads (the server saves the data file after changing calls only)."""
    with sandbox.state.lock:
        if settle(sandbox.state, current):
            sandbox.mark_dirty()


@control_route("records/mass-messages", methods=("GET",))
def records_mass_messages(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Every mass message the sandbox holds, oldest first (``?since=<unix time>``, ``?creator=``), with
    fingerprints rather than bodies: the text's sha256, and per message and per task the number of
    targets and the sha256 of their ids sorted and joined by "\\n". A benchmark that kills its worker
    during dispatch checks here that WeCom holds exactly one task per (member, chunk)."""
    state = sandbox.state
    try:
        since = int(float(req.query.get("since") or 0))
    except ValueError:
        raise ValueError("since must be a unix time") from None
    creator = req.query.get("creator") or ""
    with state.lock:
        _settle(sandbox, now())
        messages = sorted(
            (
                m
                for m in book(state).messages.values()
                if m.create_time >= since and (not creator or m.creator == creator)
            ),
            key=lambda m: (m.create_time, m.seq),
        )
        return {"mass_messages": [_record_json(m) for m in messages]}


def _fingerprint(targets: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(targets)).encode()).hexdigest()


def _record_json(message: MassMessage) -> dict[str, Any]:
    targets = [t for task in message.tasks.values() for t in task.results]
    return {
        "msgid": message.msgid,
        "creator": message.creator,
        "chat_type": message.chat_type,
        "create_type": message.create_type,
        "create_time": message.create_time,
        "text_sha256": hashlib.sha256(message.text.encode()).hexdigest(),
        "attachments": len(message.attachments),
        "targets": len(targets),
        "targets_sha256": _fingerprint(targets),
        "fail_list": len(message.fail_list),
        "cancelled": message.cancelled,
        "tasks": [
            {
                "userid": task.userid,
                "status": task.status,
                "targets": len(task.results),
                "targets_sha256": _fingerprint(list(task.results)),
            }
            for task in message.tasks.values()
        ],
    }


# --- 8. media and Moments --------------------------------------------------------------------

MEDIA_SIGNATURES = {"image": (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"), "video": None, "file": None}


@route("media/upload_attachment")
def upload_attachment(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """A multipart upload (field ``media``) of a Moments or product-album attachment: JPG/PNG, MP4, file."""
    media_type = req.query.get("media_type", "")
    if media_type not in MEDIA_SIGNATURES:
        raise SandboxError(40004, "media_type must be image, video or file")
    attachment_type = int_param(req.query, "attachment_type")
    if attachment_type not in (1, 2):
        raise SandboxError(40058, "attachment_type must be 1 (Moments) or 2 (product album)")
    if attachment_type == 1 and media_type == "file":
        # "朋友圈附件类型,仅支持图片与视频" (DOC 96347)
        raise SandboxError(40004, "Moments attachments are images or videos, not files")
    filename, content = _multipart_file(req)
    if not content:
        raise SandboxError(44001, "the media file is empty")
    if len(content) > MEDIA_MAX_BYTES:
        raise SandboxError(40006, "the media file is larger than 10 MB")
    signatures = MEDIA_SIGNATURES[media_type]
    if (signatures and not content.startswith(signatures)) or (
        media_type == "video" and content[4:8] != b"ftyp"
    ):
        raise SandboxError(40004, f"the file is not a valid {media_type} (JPG/PNG images, MP4 videos)")
    current = now()
    media = Media(
        media_id=make_id(sandbox.state, "3", 60),
        type=media_type,
        filename=filename,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        created_at=current,
        attachment_type=attachment_type,
    )
    book(sandbox.state).media[media.media_id] = media
    return {"type": media_type, "media_id": media.media_id, "created_at": str(current)}


# media/upload's limits per type (DOC 96484): the largest file, its errcode, and the file's signature.
# Every file must be more than 5 bytes.
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # JPG, PNG
TEMPORARY_MEDIA_RULES: dict[str, tuple[int, int, tuple[bytes, ...] | None]] = {
    "image": (10 * 1024 * 1024, 40009, IMAGE_SIGNATURES),
    "voice": (2 * 1024 * 1024, 40006, (b"#!AMR",)),  # AMR
    "video": (10 * 1024 * 1024, 40011, None),  # MP4: "ftyp" at offset 4, checked below
    "file": (20 * 1024 * 1024, 40006, None),
}
TEMPORARY_MEDIA_MIN_BYTES = 6


@route("media/upload")
def upload_media(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``?type=image|voice|video|file`` with a multipart ``media`` field → a ``media_id`` usable for 3
    days in mass messages, welcome messages and app messages (not in Moments: those take
    upload_attachment's). 40005 for another type, 44001 empty, 40006 five bytes or fewer (or a file or
    voice too large), 40009 an image over 10 MB, 40011 a video over 10 MB, 40004 not a JPG/PNG image,
    an MP4 video or an AMR voice."""
    media_type = req.query.get("type", "")
    if media_type not in TEMPORARY_MEDIA_RULES:
        raise SandboxError(40005, "type must be image, voice, video or file")
    filename, content = _multipart_file(req)
    if not content:
        raise SandboxError(44001, "the media file is empty")
    maximum, errcode, signatures = TEMPORARY_MEDIA_RULES[media_type]
    if len(content) < TEMPORARY_MEDIA_MIN_BYTES:
        raise SandboxError(40006, "a media file must be larger than 5 bytes")
    if len(content) > maximum:
        raise SandboxError(errcode, f"a {media_type} must be at most {maximum // (1024 * 1024)} MB")
    if (signatures and not content.startswith(signatures)) or (
        media_type == "video" and content[4:8] != b"ftyp"
    ):
        raise SandboxError(40004, f"the file is not a valid {media_type} (JPG/PNG, AMR, MP4)")
    current = now()
    media = Media(
        media_id=make_id(sandbox.state, "3", 60),
        type=media_type,
        filename=filename,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        created_at=current,
        attachment_type=TEMPORARY_MEDIA,
    )
    book(sandbox.state).media[media.media_id] = media
    return {"type": media_type, "media_id": media.media_id, "created_at": str(current)}


UPLOADIMG_MAX_BYTES = 2 * 1024 * 1024
UPLOADIMG_PER_DAY = 1000  # per corp and China day (DOC 90454)
UPLOADIMG_PER_30_DAYS = 3000  # "每月" — WeCom's monthly windows are 30 days, not calendar months


@route("media/uploadimg")
def upload_image(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """A multipart ``media`` JPG/PNG of 5 B to 2 MB → a permanent ``url`` (link cards' pictures, an
    image attachment's ``pic_url``). At most 1,000 a China day and 3,000 in 30 days per corp (45009).
    44001 empty, 40009 outside 5 B–2 MB, 40004 not a JPG/PNG."""
    marketing = book(sandbox.state)
    _, content = _multipart_file(req)
    if not content:
        raise SandboxError(44001, "the image file is empty")
    if not 5 <= len(content) <= UPLOADIMG_MAX_BYTES:
        raise SandboxError(40009, "an image must be 5 B to 2 MB")
    if not content.startswith(IMAGE_SIGNATURES):
        raise SandboxError(40004, "the file is not a JPG or PNG image")
    current = now()
    recent = [t for t in marketing.uploadimg_times if t > current - 30 * DAY]
    if (
        sum(1 for t in recent if t >= day_start(current)) >= UPLOADIMG_PER_DAY
        or len(recent) >= UPLOADIMG_PER_30_DAYS
    ):
        raise SandboxError(45009, "at most 1,000 images a day and 3,000 a month")
    marketing.uploadimg_times = [*recent, current]
    return {"url": f"https://wework.qpic.cn/wwpic/{make_id(sandbox.state, '', 24, hexdigits=True)}/0"}


def _multipart_file(req: SandboxRequest) -> tuple[str, bytes]:
    """The ``media`` part of a multipart/form-data body, as wechatpy and requests send it."""
    if not req.content_type.startswith("multipart/form-data"):
        raise SandboxError(44001, "the media file is missing (send multipart/form-data with a media field)")
    head = f"Content-Type: {req.content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + req.body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "media":
            return part.get_filename() or "", part.get_payload(decode=True) or b""
    raise SandboxError(44001, "the media file is missing (no media field)")


def _moment_spec(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    """Check an add_moment_task body against WeCom's rules and keep what the job needs."""
    content = _text_content(body)
    if len(content) > MOMENT_TEXT_MAX:
        raise SandboxError(45002, f"text.content is longer than {MOMENT_TEXT_MAX} characters")
    attachments = _moment_attachments(body.get("attachments"))
    kinds = {a["msgtype"] for a in attachments}
    if len(kinds) > 1 or ("image" not in kinds and len(attachments) > 1):
        raise SandboxError(40058, "attachments are up to 9 images, or 1 video, or 1 link")
    if not content and not attachments:
        raise SandboxError(44004, "text and attachments are both empty")
    spec: dict[str, Any] = {"text": content, "images": [], "video": "", "link": {}}
    for attachment in attachments:
        kind = attachment["msgtype"]
        item = attachment[kind]
        media_id = item.get("media_id") or ""
        if kind == "link":
            # DOC 95094: url and media_id (the cover, an upload_attachment image) are required, the
            # title is at most 64 bytes.
            if not item.get("url") or not media_id:
                raise SandboxError(40058, "link.url and link.media_id (its cover image) are required")
            title = item.get("title") or ""
            if len(str(title).encode()) > MOMENT_LINK_TITLE_MAX_BYTES:
                raise SandboxError(45002, f"link.title is longer than {MOMENT_LINK_TITLE_MAX_BYTES} bytes")
            spec["link"] = {"title": title, "url": item["url"]}
        media = book(state).media.get(media_id)
        if (
            media is None
            or media.attachment_type != 1
            or media.type != ("video" if kind == "video" else "image")
            or now() - media.created_at > MEDIA_TTL  # a media_id lives 3 days (wecom-api.md §9a)
        ):
            raise SandboxError(40007, f"invalid media_id for the {kind} attachment")
        if kind == "image":
            spec["images"].append(media_id)
        elif kind == "video":
            spec["video"] = media_id
    visible = body.get("visible_range") or {}
    senders = visible.get("sender_list") or {} if isinstance(visible, dict) else None
    customers = visible.get("external_contact_list") or {} if isinstance(visible, dict) else None
    if not isinstance(senders, dict) or not isinstance(customers, dict):
        raise SandboxError(40058, "visible_range must be {sender_list: {...}, external_contact_list: {...}}")
    spec["user_list"] = str_list_param(senders, "user_list", maximum=MOMENT_SENDERS_MAX)
    departments = senders.get("department_list") or []
    if not isinstance(departments, list) or not all(isinstance(d, int) for d in departments):
        raise SandboxError(40058, "department_list must be a list of department ids")
    spec["department_list"] = departments
    spec["tag_list"] = str_list_param(customers, "tag_list", maximum=10_000)
    return spec


@route("externalcontact/add_moment_task")
def add_moment_task(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state = sandbox.state
    marketing = book(state)
    spec = _moment_spec(state, req.json)
    current = now()
    marketing.job_times = [t for t in marketing.job_times if t > current - 60]
    per_minute = setting(state, SETTINGS, "moment_tasks_per_minute")
    if len(marketing.job_times) >= per_minute:
        raise SandboxError(45009, f"at most {per_minute} Moments tasks per minute")
    marketing.job_times.append(current)
    job = MomentJob(jobid=make_id(state, "", 40), created_at=current, spec=spec)
    marketing.jobs[job.jobid] = job
    return {"jobid": job.jobid}


@route("externalcontact/get_moment_task_result", methods=("GET",))
def get_moment_task_result(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """The job moves 1 (started) → 2 (running) → 3 (done) on successive polls, or by time."""
    state = sandbox.state
    jobid = req.query.get("jobid")
    job = book(state).jobs.get(jobid or "")
    if job is None:
        raise SandboxError(40088, "jobid does not exist")
    current = now()
    if current - job.created_at > MOMENT_JOB_TTL:
        raise SandboxError(40089, "the job result has been cleared (a jobid answers for 24 hours)")
    job.polls += 1
    status = (
        3 if current - job.created_at >= setting(state, SETTINGS, "moment_job_seconds") else min(job.polls, 3)
    )
    if status < 3:
        return {"status": status, "type": "add_moment_task", "result": {}}
    if not job.result:
        job.result = _create_corp_moment(state, job, current)
        sandbox.mark_dirty()  # a read-only API as far as the server knows, but the Moment is new state
    return {"status": 3, "type": "add_moment_task", "result": job.result}


def _create_corp_moment(state: SandboxState, job: MomentJob, current: int) -> dict[str, Any]:
    spec = job.spec
    invalid_users = [
        u
        for u in spec["user_list"]
        if u not in state.staff or state.staff[u].status != 1 or not state.staff[u].has_contact_permission
    ]
    invalid_departments = [d for d in spec["department_list"] if d not in state.departments]
    invalid_tags = [t for t in spec["tag_list"] if live_tag(state, t) is None]
    if spec["user_list"] or spec["department_list"]:
        departments = _with_subdepartments(state, set(spec["department_list"]) - set(invalid_departments))
        senders = [
            s.userid
            for s in state.staff.values()
            if s.status == 1
            and s.has_contact_permission
            and (s.userid in spec["user_list"] or departments & set(s.department))
        ]
    else:
        senders = [s.userid for s in state.staff.values() if s.status == 1 and s.has_contact_permission]
    tags = [t for t in spec["tag_list"] if t not in invalid_tags]
    moment = Moment(
        moment_id=make_id(state, "mom", 30),
        creator="",
        create_time=current,
        create_type=0,
        visible_type=0 if tags else 1,
        text=spec["text"],
        images=spec["images"],
        video=spec["video"],
        link=spec["link"],
        senders=senders,
        tag_list=tags,
    )
    book(state).moments[moment.moment_id] = moment
    return {
        "errcode": 0,
        "errmsg": "ok",
        "moment_id": moment.moment_id,
        "invalid_sender_list": {"user_list": invalid_users, "department_list": invalid_departments},
        "invalid_external_contact_list": {"tag_list": invalid_tags},
    }


def _with_subdepartments(state: SandboxState, roots: set[int]) -> set[int]:
    found = set(roots)
    grew = True
    while grew:
        children = {d.id for d in state.departments.values() if d.parentid in found} - found
        found |= children
        grew = bool(children)
    return found


def _moment(state: SandboxState, body: dict[str, Any]) -> Moment:
    moment_id = body.get("moment_id")
    moment = book(state).moments.get(moment_id) if isinstance(moment_id, str) else None
    if moment is None:
        raise SandboxError(40058, "invalid moment_id")
    return moment


def visible_customers(state: SandboxState, moment: Moment, userid: str) -> list[str]:
    """The publisher's customers who may see the post: all of them, or those carrying a chosen tag."""
    tags = set(moment.tag_list)
    return [
        c.external_userid
        for c in state.contacts.values()
        if userid in c.follows and (not tags or tags & set(c.follows[userid].tag_ids))
    ]


@route("externalcontact/get_moment_list")
def get_moment_list(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    body = req.json
    start, end = _time_range(body, max_days=30)
    filter_type = int_param(body, "filter_type", default=2)
    if filter_type not in (0, 1, 2):
        raise SandboxError(40058, "filter_type must be 0, 1 or 2")
    creator = body.get("creator") or ""
    limit = _page_size(body, maximum=20, default=20)
    moments = sorted(
        (
            m
            for m in book(sandbox.state).moments.values()
            if start <= m.create_time <= end
            and filter_type in (2, m.create_type)
            and (not creator or m.creator == creator)
        ),
        key=lambda m: (-m.create_time, m.moment_id),
    )
    chunk, next_cursor = page(moments, body.get("cursor"), limit)
    return {"next_cursor": next_cursor, "moment_list": [_moment_json(m) for m in chunk]}


def _moment_json(moment: Moment) -> dict[str, Any]:
    item: dict[str, Any] = {
        "moment_id": moment.moment_id,
        "create_time": moment.create_time,
        "create_type": moment.create_type,
        "visible_type": moment.visible_type,
    }
    if moment.creator:  # WeCom leaves creator out of posts made through add_moment_task
        item["creator"] = moment.creator
    if moment.text:
        item["text"] = {"content": moment.text}
    if moment.images:
        item["image"] = [{"media_id": m} for m in moment.images]
    if moment.video:
        item["video"] = {"media_id": moment.video, "thumb_media_id": moment.video + "_thumb"}
    if moment.link:
        item["link"] = dict(moment.link)
    return item


@route("externalcontact/get_moment_task")
def get_moment_task(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Who was asked to publish a corp post, and who did (publish_status 0/1)."""
    moment = _moment(sandbox.state, req.json)
    if moment.create_type != 0:
        raise SandboxError(40058, "only corp posts have publish tasks")
    limit = _page_size(req.json, maximum=1000, default=500)
    senders, next_cursor = page(moment.senders, req.json.get("cursor"), limit)
    tasks = [{"userid": u, "publish_status": int(u in moment.published)} for u in senders]
    return {"task_list": tasks, "next_cursor": next_cursor}


def _moment_and_userid(state: SandboxState, body: dict[str, Any]) -> tuple[Moment, str]:
    moment = _moment(state, body)
    userid = body.get("userid")
    if not userid or not isinstance(userid, str):
        raise SandboxError(40058, "userid is required")
    return moment, userid


@route("externalcontact/get_moment_customer_list")
def get_moment_customer_list(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """The customers chosen to see a sender's post (whether or not it was published yet)."""
    moment, userid = _moment_and_userid(sandbox.state, req.json)
    limit = _page_size(req.json, maximum=1000, default=500)
    customers = visible_customers(sandbox.state, moment, userid) if userid in moment.senders else []
    chunk, next_cursor = page(customers, req.json.get("cursor"), limit)
    return {
        "next_cursor": next_cursor,
        "customer_list": [{"userid": userid, "external_userid": c} for c in chunk],
    }


@route("externalcontact/get_moment_send_result")
def get_moment_send_result(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """The customers who can see a sender's post now that it is published (none before)."""
    moment, userid = _moment_and_userid(sandbox.state, req.json)
    limit = _page_size(req.json, maximum=5000, default=3000)
    customers = visible_customers(sandbox.state, moment, userid) if userid in moment.published else []
    chunk, next_cursor = page(customers, req.json.get("cursor"), limit)
    return {"next_cursor": next_cursor, "customer_list": [{"external_userid": c} for c in chunk]}


@route("externalcontact/get_moment_comments")
def get_moment_comments(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    moment, userid = _moment_and_userid(sandbox.state, req.json)

    def items(interactions: list[Interaction]) -> list[dict[str, Any]]:
        return [
            {"external_userid": i.external_userid, "create_time": i.create_time}
            if i.external_userid
            else {"userid": i.by_userid, "create_time": i.create_time}
            for i in interactions
            if i.userid == userid
        ]

    return {"comment_list": items(moment.comments), "like_list": items(moment.likes)}


@route("externalcontact/cancel_moment_task")
def cancel_moment_task(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Stops a corp post: staff who have not published it yet no longer can."""
    moment = _moment(sandbox.state, req.json)
    if moment.create_type != 0:
        raise SandboxError(40058, "only corp posts can be cancelled")
    moment.cancelled = True
    return {}


@control_route("simulate/staff-publish-moment")
def simulate_staff_publish_moment(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``{userid, text}`` posts a personal Moment; ``{userid, moment_id}`` publishes a corp post's task."""
    state = sandbox.state
    current = now()
    with state.lock:
        userid = _staff(state, req.json.get("userid"), "userid")
        if req.json.get("moment_id"):
            moment = _moment(state, req.json)
            if moment.create_type != 0 or userid not in moment.senders:
                raise SandboxError(40058, "this staff member has no task for that post")
            if moment.cancelled:
                raise SandboxError(40058, "the post was cancelled")
            if userid in moment.published:
                raise SandboxError(40058, "this staff member already published the post")
        else:
            text = req.json.get("text") or ""
            if not isinstance(text, str) or not text or len(text) > MOMENT_TEXT_MAX:
                raise SandboxError(40058, f"text must be 1 to {MOMENT_TEXT_MAX} characters")
            moment = Moment(
                moment_id=make_id(state, "mom", 30),
                creator=userid,
                create_time=current,
                create_type=1,
                visible_type=1,
                text=text,
                senders=[userid],
            )
            book(state).moments[moment.moment_id] = moment
        moment.published[userid] = current
        visible = len(visible_customers(state, moment, userid))
    return {"moment_id": moment.moment_id, "userid": userid, "visible_customers": visible}


def _published_copy(state: SandboxState, body: dict[str, Any]) -> tuple[Moment, str]:
    """The Moment and the member whose published copy someone reacts to (40058 before it is published)."""
    moment = _moment(state, body)
    userid = body.get("userid")
    if not isinstance(userid, str) or userid not in moment.published:
        raise SandboxError(40058, "this staff member has not published that post")
    return moment, userid


def _interact(sandbox: Sandbox, req: SandboxRequest, kind: str, *, by_customer: bool) -> dict[str, Any]:
    """Add a like or a comment, at now, on one member's published copy of a Moment."""
    state = sandbox.state
    with state.lock:
        moment, userid = _published_copy(state, req.json)
        interactions = moment.likes if kind == "like" else moment.comments
        if by_customer:
            external_userid = req.json.get("external_userid")
            contact = state.contacts.get(external_userid) if isinstance(external_userid, str) else None
            follow = contact.follows.get(userid) if contact else None
            if follow is None:
                raise SandboxError(84061, "the customer is not a customer of this staff member")
            if moment.tag_list and not set(moment.tag_list) & set(follow.tag_ids):
                raise SandboxError(40058, "the customer cannot see this post (it is shown to some tags only)")
            interaction = Interaction(userid=userid, create_time=now(), external_userid=external_userid)
        else:
            by_userid = _staff(state, req.json.get("by_userid"), "by_userid")
            interaction = Interaction(userid=userid, create_time=now(), by_userid=by_userid)
        who = (interaction.external_userid, interaction.by_userid)
        if kind == "like" and any(
            i.userid == userid and (i.external_userid, i.by_userid) == who for i in interactions
        ):
            # One like per person and post, as in WeChat (a like withdrawn is not modelled).
            raise SandboxError(40058, "already liked")
        interactions.append(interaction)
    return {
        "moment_id": moment.moment_id,
        "userid": userid,
        "kind": kind,
        "create_time": interaction.create_time,
        "likes": sum(1 for i in moment.likes if i.userid == userid),
        "comments": sum(1 for i in moment.comments if i.userid == userid),
    }


@control_route("simulate/customer-like-moment")
def simulate_customer_like_moment(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``{moment_id, userid, external_userid}``: a customer who can see the member's published copy likes
    it (once). 40058 when the member has not published it or the customer cannot see it (a tag filter),
    84061 when they are not the member's customer."""
    return _interact(sandbox, req, "like", by_customer=True)


@control_route("simulate/customer-comment-moment")
def simulate_customer_comment_moment(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``{moment_id, userid, external_userid}``: the same customer may comment any number of times
    (WeCom gives comments no text: only who and when)."""
    return _interact(sandbox, req, "comment", by_customer=True)


@control_route("simulate/member-like-moment")
def simulate_member_like_moment(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``{moment_id, userid, by_userid}``: a colleague likes the member's copy (``userid`` in the lists)."""
    return _interact(sandbox, req, "like", by_customer=False)


MOMENT_TEXTS = (
    "春季新品上市，老客户专享九折，私信我预约到店体验～",
    "今天的门店小课堂：敏感肌换季护理三步走，收藏起来慢慢看。",
    "感谢大家一年来的支持！会员日福利已上线，点击链接领取。",
    "周末亲子手作活动报名中，名额有限，先到先得。",
    "新到一批限量礼盒，送礼自用都合适，需要的朋友留言。",
    "客户反馈合集：用了一个月的真实感受，欢迎来聊。",
    "直播预告：周四晚8点，店长带你逛新品，福利不停。",
    "分享一个小技巧：产品开封后记得放阴凉处保存。",
)
LINKS = (
    {"title": "会员日福利领取", "url": "https://example.com/member-day"},
    {"title": "新品图鉴", "url": "https://example.com/new-arrivals"},
)


@generator_hook
def generate_marketing(state: SandboxState, rng: Any, sizes: dict[str, int]) -> None:
    """90 days of Moments (corp posts about weekly, a few personal posts per person) with likes and
    comments, and the salt behind the staff-behaviour figures."""
    marketing = book(state)
    marketing.stats_salt = f"{rng.getrandbits(64):016x}"
    anchor = state.meta["anchor"]
    staff = [s.userid for s in state.staff.values() if s.status == 1 and s.has_contact_permission]
    if not staff:
        return
    # Each staff member's customers and, in parallel, the tag ids they gave them.
    books: dict[str, tuple[list[str], list[list[str]]]] = {u: ([], []) for u in staff}
    for contact in state.contacts.values():
        for userid, follow in contact.follows.items():
            if userid in books:
                books[userid][0].append(contact.external_userid)
                books[userid][1].append(follow.tag_ids)
    tag_ids = [t.id for t in state.tags.values() if not t.deleted]
    posts: list[Moment] = []
    for week in range(13):
        created = anchor - (89 - week * 7) * DAY + rng.randrange(9 * 3600, 20 * 3600)
        tags = rng.sample(tag_ids, k=min(len(tag_ids), 2)) if tag_ids and rng.random() < 0.3 else []
        posts.append(
            Moment(
                moment_id=make_id(state, "mom", 30),
                creator="",
                create_time=created,
                create_type=0,
                visible_type=0 if tags else 1,
                senders=list(staff),
                tag_list=tags,
            )
        )
    for userid in staff:
        for _ in range(rng.randint(2, 8)):
            created = anchor - rng.randrange(1, 90) * DAY + rng.randrange(8 * 3600, 23 * 3600)
            posts.append(
                Moment(
                    moment_id=make_id(state, "mom", 30),
                    creator=userid,
                    create_time=created,
                    create_type=1,
                    visible_type=1,
                    senders=[userid],
                )
            )
    for post in sorted(posts, key=lambda p: p.create_time):
        post.text = rng.choice(MOMENT_TEXTS)
        if rng.random() < 0.6:
            post.images = [make_id(state, "3", 60) for _ in range(rng.randint(1, 9))]
        elif rng.random() < 0.4:
            post.link = dict(rng.choice(LINKS))
        for userid in post.senders:
            if post.create_type == 1 or rng.random() < 0.85:
                post.published[userid] = min(anchor - 60, post.create_time + rng.randrange(0, 2 * DAY))
                _interactions(rng, post, userid, books[userid], staff, anchor)
        post.likes.sort(key=lambda i: i.create_time)
        post.comments.sort(key=lambda i: i.create_time)
        marketing.moments[post.moment_id] = post


def _interactions(
    rng: Any,
    post: Moment,
    userid: str,
    customers: tuple[list[str], list[list[str]]],
    staff: list[str],
    anchor: int,
) -> None:
    """Likes (1–8% of the customers who see it) and comments (up to 2%), mostly in the first hours."""
    tags = set(post.tag_list)
    ids, tag_lists = customers
    visible = [e for e, t in zip(ids, tag_lists, strict=True) if not tags.isdisjoint(t)] if tags else ids
    published = post.published[userid]

    def when() -> int:
        return min(anchor - 1, published + int(3 * DAY * rng.random() ** 3))

    for kind, rate in ((post.likes, rng.uniform(0.01, 0.08)), (post.comments, rng.uniform(0.0, 0.02))):
        for external_userid in rng.sample(visible, k=min(len(visible), 200, round(len(visible) * rate))):
            kind.append(Interaction(userid=userid, create_time=when(), external_userid=external_userid))
        if rng.random() < 0.3:
            colleague = rng.choice(staff)
            if colleague != userid:
                kind.append(Interaction(userid=userid, create_time=when(), by_userid=colleague))


# --- 9. staff behaviour ----------------------------------------------------------------------


@route("externalcontact/get_user_behavior_data")
def get_user_behavior_data(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Daily figures summed over the staff given: contacts added from the real follows, chat activity
    from a seeded hash per (staff, day) so the same corp always answers the same."""
    body = req.json
    state = sandbox.state
    userids = str_list_param(body, "userid", maximum=100)
    parties = body.get("partyid") or []
    if not isinstance(parties, list) or not all(isinstance(p, int) for p in parties):
        raise SandboxError(40058, "partyid must be a list of department ids")
    if not userids and not parties:
        raise SandboxError(40058, "userid and partyid cannot both be empty")
    for userid in userids:
        if userid not in state.staff:
            raise SandboxError(60111, f"userid {userid} does not exist")
    if any(p not in state.departments for p in parties):
        raise SandboxError(60123, "invalid partyid")
    start, end = _time_range(body, max_days=30)
    first, last = day_start(start), day_start(end)
    if first < day_start(now()) - 180 * DAY:
        raise SandboxError(40058, "behaviour data is kept for 180 days")
    departments = _with_subdepartments(state, set(parties))
    members = set(userids) | {s.userid for s in state.staff.values() if departments & set(s.department)}
    added: dict[int, int] = {}
    for contact in state.contacts.values():
        for userid, follow in contact.follows.items():
            if userid in members and first <= follow.createtime < last + DAY:
                added[day_start(follow.createtime)] = added.get(day_start(follow.createtime), 0) + 1
    salt = book(state).stats_salt
    return {
        "behavior_data": [
            _behavior_day(salt, sorted(members), day, added.get(day, 0))
            for day in range(first, last + DAY, DAY)
        ]
    }


def _behavior_day(salt: str, members: list[str], day: int, new_contacts: int) -> dict[str, Any]:
    chats = messages = replied = reply_minutes = negative = applies = 0
    for userid in members:
        chat_cnt = int(12 * unit(salt, userid, day, "chats"))
        chats += chat_cnt
        messages += chat_cnt * (2 + int(6 * unit(salt, userid, day, "messages")))
        replied_here = round(chat_cnt * (0.6 + 0.4 * unit(salt, userid, day, "replied")))
        replied += replied_here
        reply_minutes += replied_here * (1 + int(30 * unit(salt, userid, day, "minutes")))
        negative += int(unit(salt, userid, day, "negative") < 0.03)
        applies += int(2 * unit(salt, userid, day, "applies"))
    item: dict[str, Any] = {
        "stat_time": day,
        "new_apply_cnt": new_contacts + applies,
        "new_contact_cnt": new_contacts,
        "chat_cnt": chats,
        "message_cnt": messages,
        "negative_feedback_cnt": negative,
    }
    if chats:  # WeCom leaves the reply figures out on days without chats
        item["reply_percentage"] = round(100 * replied / chats, 2)
        item["avg_reply_time"] = reply_minutes // replied if replied else 0
    return item
