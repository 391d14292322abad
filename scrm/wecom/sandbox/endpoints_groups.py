"""Customer group chats (wecom-api.md section 4): the seeded groups, the group APIs and group simulations.

Groups live in ``state.groups`` (``GroupChat``); join ways in ``state.join_ways``. What WeCom keeps but
the core dataclasses do not (when a group was dismissed, how many groups each new owner received
today, the salt behind the activity statistics) lives in ``state.ext["groups"]``; the join way
``state`` a member came through (groupchat/get ``member_list[].state``) in
``state.ext["group_member_states"]`` (chat_id → userid → state).

A customer can join through a join way (``simulate/group-join`` with ``config_id`` or ``state``): they
land in the first group of the way's list that is not full, and when every one is full and the way
auto-creates rooms, in a new group WeCom opens for it (docs/sandbox.md says what we assumed).
"""

from __future__ import annotations

import copy
import hashlib
import io
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import segno

from .control import QR_SCALE
from .endpoint_helpers import (
    day_start,
    int_param,
    limit_param,
    now,
    page,
    send_callbacks,
    setting,
    settings_update,
    str_list_param,
    text_param,
    unit,
)
from .generator import DAY, make_id, new_customer, new_external_userid
from .registry import (
    RawResponse,
    SandboxError,
    SandboxNotFoundError,
    SandboxRequest,
    control_route,
    generator_hook,
    route,
)
from .state import ExternalContact, GroupChat, GroupMember, SandboxState

if TYPE_CHECKING:
    from .server import Sandbox

SETTINGS = {
    # WeCom answers 81017 to groupchat/list without owner_filter when the app sees more people than
    # this; the documented figure is 1,000, far above the demo corp, so tests lower it.
    "visible_range_limit": 1000,
    # groupchat/transfer and onjob_transfer: groups one new owner may receive per day.
    "group_transfer_daily_limit": 300,
    # groupchat/get answers a group as it was this many seconds ago: WeCom sends a change's callback
    # at once and settles the group's details asynchronously ("e.g. 2 s", wecom-api.md §4, §11).
    # 0 answers every change at once (the sandbox's old behaviour).
    "get_lag_seconds": 3.0,
}
# sandbox.caches key: chat_id -> [(when it changed, the chat before that change or None, its states)].
# Seconds-old history, rebuilt by the next changes: not kept in the data file.
HISTORY = "group_history"
MAX_MEMBERS = 200  # a customer group holds 200 people (WeCom sells upgrades to 500; not modelled)
JOIN_WAY_MAX_CHATS = 5
JOIN_WAY_QR_PATH = "/sandbox/qr/join-way/"  # where a served sandbox serves join way QR images
MEMBER_STATES = "group_member_states"  # state.ext key: chat_id -> {userid: join way state}
STAT_MAX_SPAN_DAYS = 30
STAT_MAX_AGE_DAYS = 180

GROUP_NAMES = (
    "VIP会员交流群",
    "新品体验官",
    "宝妈育儿交流群",
    "会员福利群",
    "门店老客群",
    "售后服务群",
    "健身打卡群",
    "读书分享会",
    "周末团购群",
    "美妆种草群",
    "咖啡爱好者",
    "亲子活动报名群",
)
NOTICES = (
    "",
    "欢迎入群！每周五晚八点福利秒杀，请勿发广告。",
    "群内仅限交流产品使用心得，售后问题请私聊群主。",
    "新人请先看群公告，活动信息以群主发布为准。",
)
NICKNAMES = ("小王", "阿杰", "Lily", "晴天", "老陈", "木木", "Coco", "大海")


@dataclass
class GroupsBook:
    """Group facts WeCom keeps that ``GroupChat`` has no field for."""

    stats_salt: str = ""
    dismissed_at: dict[str, int] = field(default_factory=dict)
    transfers_today: dict[tuple[str, int], int] = field(default_factory=dict)  # (new_owner, day) -> count


def book(state: SandboxState) -> GroupsBook:
    return state.ext.setdefault("groups", GroupsBook())


def bump_member_version(chat: GroupChat) -> tuple[str, str]:
    """Give the chat a new member_version (an opaque 32-hex string, as WeCom's) and return (old, new).

    Chained on the previous version so that leaving and rejoining never repeats an earlier version.
    """
    old = chat.member_version
    seed = f"{chat.chat_id}:{old}:{','.join(m.userid for m in chat.members)}"
    chat.member_version = hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()
    return old, chat.member_version


def followed_by(state: SandboxState, userid: str) -> list[str]:
    return [c.external_userid for c in state.contacts.values() if userid in c.follows]


# --- generator -------------------------------------------------------------------------------


@generator_hook
def generate_groups(state: SandboxState, rng: Any, sizes: dict[str, int]) -> None:
    """``sizes["groups"]`` groups owned by staff, with colleagues and customers the owner follows.

    Sizes are skewed small (most groups have tens of members, a few approach 200); owners are drawn
    in proportion to their customers so busy salespeople own more groups.
    """
    groups = book(state)
    groups.stats_salt = f"{rng.getrandbits(64):016x}"
    staff = [s for s in state.staff.values() if s.status == 1 and s.has_contact_permission]
    if not staff:
        return
    customers: dict[str, list[str]] = {s.userid: [] for s in staff}
    for contact in state.contacts.values():
        for userid in contact.follows:
            if userid in customers:
                customers[userid].append(contact.external_userid)
    weights = [len(customers[s.userid]) + 1 for s in staff]
    current = state.meta["anchor"]  # generated history ends at the start of today, as the core's does
    for index in range(sizes.get("groups", 0)):
        owner = rng.choices(staff, weights=weights)[0]
        created = current - rng.randint(1, 365) * DAY - rng.randint(0, DAY - 1)
        chat = GroupChat(
            chat_id=make_id(state, "wr", 30),
            name=f"{rng.choice(GROUP_NAMES)}{index + 1}",
            owner=owner.userid,
            create_time=created,
            notice=rng.choice(NOTICES),
        )
        chat.members.append(_staff_member(state, owner.userid, created, scene=1, invitor=""))
        colleagues = rng.sample(
            [s for s in staff if s is not owner], k=min(len(staff) - 1, rng.randint(0, 3))
        )
        size = min(MAX_MEMBERS, max(3, int(rng.paretovariate(1.1) * 12)))
        pool = customers[owner.userid]
        picked = rng.sample(pool, k=min(len(pool), max(0, size - 1 - len(colleagues))))
        if len(picked) + len(colleagues) < 2:  # a WeCom group needs three people to exist
            extra = [s for s in staff if s is not owner and s not in colleagues]
            colleagues += extra[: 2 - len(picked) - len(colleagues)]
        inviters = [owner.userid] + [s.userid for s in colleagues]
        for colleague in colleagues:
            joined = _join_time(rng, created, current)
            chat.members.append(_staff_member(state, colleague.userid, joined, scene=1, invitor=owner.userid))
        for external_userid in picked:
            scene = rng.choices((1, 2, 3), weights=(5, 2, 3))[0]
            invitor = rng.choice(inviters) if scene in (1, 2) else ""
            contact = state.contacts[external_userid]
            # Invited as the owner's customer, so not before the owner added them.
            joined = max(_join_time(rng, created, current), contact.follows[owner.userid].createtime)
            member = _customer_member(contact, joined, scene)
            member.invitor = invitor
            if rng.random() < 0.15:
                member.group_nickname = rng.choice(NICKNAMES)
            chat.members.append(member)
        chat.members.sort(key=lambda m: m.join_time)
        chat.admin_list = [s.userid for s in colleagues[: rng.randint(0, 2)]]
        bump_member_version(chat)
        state.groups[chat.chat_id] = chat


def _join_time(rng: Any, created: int, current: int) -> int:
    return created + int((current - created) * rng.random() ** 2)  # most members join early


def _staff_member(state: SandboxState, userid: str, joined: int, *, scene: int, invitor: str) -> GroupMember:
    return GroupMember(
        userid=userid,
        type=1,
        join_time=joined,
        join_scene=scene,
        invitor=invitor,
        name=state.staff[userid].name,
    )


def _customer_member(contact: ExternalContact, joined: int, scene: int) -> GroupMember:
    return GroupMember(
        userid=contact.external_userid,
        type=2,
        join_time=joined,
        join_scene=scene,
        name=contact.name,
        unionid=contact.unionid,
    )


# --- groupchat/list and groupchat/get --------------------------------------------------------


@route("externalcontact/groupchat/list")
def groupchat_list(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    body = req.json
    limit = limit_param(body, "limit", maximum=1000)
    status_filter = int_param(body, "status_filter", default=0)
    if status_filter not in (0, 1, 2, 3):
        raise SandboxError(40058, "invalid status_filter")
    owners = str_list_param(body.get("owner_filter") or {}, "userid_list", maximum=100)
    state = sandbox.state
    if not owners:
        _visible_range_check(state)
    owner_set = set(owners)

    def keep(chat: GroupChat) -> bool:
        return (
            not chat.dismissed
            and (status_filter == 0 or chat.status == status_filter)
            and (not owner_set or chat.owner in owner_set)
        )

    # The cursor is a position in the creation order of all groups, so groups created or
    # dismissed while a client walks the list never shift the pages it has not read yet.
    chats, next_cursor = page(list(state.groups.values()), body.get("cursor"), limit, keep=keep)
    return {
        "group_chat_list": [{"chat_id": c.chat_id, "status": c.status} for c in chats],
        "next_cursor": next_cursor,
    }


@route("externalcontact/groupchat/get")
def groupchat_get(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    need_name = int_param(req.json, "need_name", default=0) == 1
    chat, states = _chat_as_seen(sandbox, req.json.get("chat_id"))
    return {"group_chat": _chat_json(chat, need_name=need_name, states=states)}


def _chat_as_seen(sandbox: Sandbox, chat_id: Any) -> tuple[GroupChat, dict[str, str]]:
    """The chat as groupchat/get shows it: as it was ``get_lag_seconds`` ago (see ``chat_changing``).

    40050 for a chat that did not exist yet then, or was dismissed by then."""
    state = sandbox.state
    if not chat_id or not isinstance(chat_id, str):
        raise SandboxError(40058, "chat_id is required")
    lag = setting(state, SETTINGS, "get_lag_seconds")
    seen_from = time.time() - lag
    for changed_at, before, states in sandbox.caches.get(HISTORY, {}).get(chat_id, ()):
        if changed_at > seen_from:  # the first change WeCom does not show yet: the chat before it
            if before is None or before.dismissed:
                raise SandboxError(40050, "chatid not found")
            return before, states
    chat = live_chat(state, chat_id)
    return chat, state.ext.get(MEMBER_STATES, {}).get(chat.chat_id, {})  # a read: nothing is set up


def chat_changing(sandbox: Sandbox, chat_id: str) -> None:
    """Remember the chat as it is now, just before a change (call under state.lock): groupchat/get
    keeps answering it until the change is ``get_lag_seconds`` old. Mutations outside the sandbox's
    own simulations (a test editing the state directly) show at once."""
    state = sandbox.state
    lag = setting(state, SETTINGS, "get_lag_seconds")
    history = sandbox.caches.setdefault(HISTORY, {})
    current = time.time()
    kept = [entry for entry in history.get(chat_id, ()) if entry[0] > current - lag]
    if lag > 0:
        chat = state.groups.get(chat_id)
        states = dict(state.ext.get(MEMBER_STATES, {}).get(chat_id, {}))
        kept.append((current, copy.deepcopy(chat) if chat is not None else None, states))
    if kept:
        history[chat_id] = kept
    else:
        history.pop(chat_id, None)


def live_chat(state: SandboxState, chat_id: Any) -> GroupChat:
    if not chat_id or not isinstance(chat_id, str):
        raise SandboxError(40058, "chat_id is required")
    chat = state.groups.get(chat_id)
    if chat is None or chat.dismissed:
        raise SandboxError(40050, "chatid not found")
    return chat


def member_states(state: SandboxState, chat_id: str) -> dict[str, str]:
    """userid → the join way state its current stay in ``chat_id`` came through (only those that did),
    to change: created when missing. Reads (groupchat/get) use ``.get`` and leave the state as it is."""
    return state.ext.setdefault(MEMBER_STATES, {}).setdefault(chat_id, {})


def _chat_json(chat: GroupChat, *, need_name: bool, states: dict[str, str]) -> dict[str, Any]:
    members = []
    for m in chat.members:
        item: dict[str, Any] = {
            "userid": m.userid,
            "type": m.type,
            "join_time": m.join_time,
            "join_scene": m.join_scene,
            "group_nickname": m.group_nickname,
        }
        if m.type == 2 and m.unionid:
            item["unionid"] = m.unionid
        if m.invitor:
            item["invitor"] = {"userid": m.invitor}
        if need_name:
            item["name"] = m.name
        if states.get(m.userid):
            item["state"] = states[m.userid]  # WeCom sends it only for joins through a join way
        members.append(item)
    return {
        "chat_id": chat.chat_id,
        "name": chat.name,
        "owner": chat.owner,
        "create_time": chat.create_time,
        "notice": chat.notice,
        "member_list": members,
        "admin_list": [{"userid": userid} for userid in chat.admin_list],
        "member_version": chat.member_version,
    }


# --- statistics ------------------------------------------------------------------------------

STAT_ORDER = {1: "new_chat_cnt", 2: "chat_total", 3: "new_member_cnt", 4: "member_total"}
# How a figure combines over several days: events add up, totals are the last day's, and the groups
# (members) that talked are at least those of the busiest day, never more than the total.
STAT_COMBINE = {
    "new_chat_cnt": sum,
    "chat_total": lambda values: values[-1],
    "chat_has_msg": max,
    "new_member_cnt": sum,
    "member_total": lambda values: values[-1],
    "member_has_msg": max,
    "msg_total": sum,
}


def _stat_days(body: dict[str, Any], current: int) -> list[int]:
    """The day starts asked for, after WeCom's checks: ≤30 days, up to yesterday, ≤180 days back."""
    begin = day_start(int_param(body, "day_begin_time"))
    end = day_start(int_param(body, "day_end_time", default=begin) or begin)
    today = day_start(current)
    if end < begin:
        raise SandboxError(40058, "day_end_time is earlier than day_begin_time")
    if end > today - DAY:
        raise SandboxError(40058, "statistics are available up to yesterday")
    if begin < today - STAT_MAX_AGE_DAYS * DAY:
        raise SandboxError(40058, "statistics are kept for 180 days")
    if end - begin > STAT_MAX_SPAN_DAYS * DAY:
        raise SandboxError(40058, "the time span exceeds 30 days")
    return list(range(begin, end + DAY, DAY))


def _owner_day(groups: GroupsBook, owner: str, owned: list[GroupChat], day: int) -> dict[str, int]:
    """One owner's figures for one day: counts from the groups' real history, activity from a seeded hash."""
    end = day + DAY
    chats = [c for c in owned if c.create_time < end and groups.dismissed_at.get(c.chat_id, end) >= end]
    joined = [m.join_time for c in chats for m in c.members if m.join_time < end]
    chat_total, member_total = len(chats), len(joined)
    active = unit(groups.stats_salt, owner, day, "chats")
    talkers = round(member_total * (0.05 + 0.25 * unit(groups.stats_salt, owner, day, "members")))
    return {
        "new_chat_cnt": sum(1 for c in chats if c.create_time >= day),
        "chat_total": chat_total,
        "chat_has_msg": round(chat_total * (0.2 + 0.6 * active)),
        "new_member_cnt": sum(1 for t in joined if t >= day),
        "member_total": member_total,
        "member_has_msg": talkers,
        "msg_total": round(talkers * (1 + 8 * unit(groups.stats_salt, owner, day, "messages"))),
    }


def _range_data(state: SandboxState, owners: list[str], days: list[int]) -> dict[str, int]:
    """Figures over several days (combined per STAT_COMBINE), summed over owners."""
    owned: dict[str, list[GroupChat]] = {owner: [] for owner in owners}
    for chat in state.groups.values():
        if chat.owner in owned:
            owned[chat.owner].append(chat)
    data = dict.fromkeys(STAT_COMBINE, 0)
    for owner in owners:
        daily = [_owner_day(book(state), owner, owned[owner], day) for day in days]
        for key, combine in STAT_COMBINE.items():
            data[key] += combine([figures[key] for figures in daily])
    return data


def _stat_owners(state: SandboxState, body: dict[str, Any]) -> list[str]:
    """The owners asked for; without owner_filter, every owner, unless the app sees more people than
    ``visible_range_limit`` (81017, as groupchat/list: wecom-api.md §9)."""
    owners = str_list_param(body.get("owner_filter") or {}, "userid_list", maximum=100)
    if owners:
        return owners
    _visible_range_check(state)
    return sorted({c.owner for c in state.groups.values()})


def _visible_range_check(state: SandboxState) -> None:
    visible = sum(1 for s in state.staff.values() if s.status == 1)
    if visible > setting(state, SETTINGS, "visible_range_limit"):
        raise SandboxError(81017, "visible range exceeds the limit, use owner_filter")


@route("externalcontact/groupchat/statistic")
def groupchat_statistic(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    body = req.json
    days = _stat_days(body, now())
    order_by = int_param(body, "order_by", default=1)
    if order_by not in STAT_ORDER:
        raise SandboxError(40058, "invalid order_by")
    ascending = int_param(body, "order_asc", default=0) == 1
    offset = int_param(body, "offset", default=0)
    if offset < 0:
        raise SandboxError(40058, "invalid offset")
    limit = limit_param(body, "limit", default=500, maximum=1000)
    state = sandbox.state
    items = [{"owner": o, "data": _range_data(state, [o], days)} for o in _stat_owners(state, body)]
    key = STAT_ORDER[order_by]
    items.sort(key=lambda item: (item["data"][key] if ascending else -item["data"][key], item["owner"]))
    chunk = items[offset : offset + limit]
    return {"total": len(items), "next_offset": offset + len(chunk), "items": chunk}


@route("externalcontact/groupchat/statistic_group_by_day")
def groupchat_statistic_group_by_day(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    days = _stat_days(req.json, now())
    state = sandbox.state
    owners = _stat_owners(state, req.json)
    return {"items": [{"stat_time": day, "data": _range_data(state, owners, [day])} for day in days]}


# --- owner transfers -------------------------------------------------------------------------


def _transfer(sandbox: Sandbox, req: SandboxRequest, *, resigned: bool) -> dict[str, Any]:
    """Hand groups to a new owner; per-group failures go to failed_chat_list as WeCom does."""
    chat_ids = str_list_param(req.json, "chat_id_list", maximum=100, required=True)
    new_owner = req.json.get("new_owner")
    state = sandbox.state
    current = now()
    staff = state.staff.get(new_owner) if isinstance(new_owner, str) else None
    if staff is None or staff.status != 1:
        raise SandboxError(46004, "new_owner does not exist")
    if not staff.has_contact_permission:
        raise SandboxError(84074, "new_owner has no customer contact permission")
    groups = book(state)
    quota_key = (staff.userid, day_start(current))
    limit = setting(state, SETTINGS, "group_transfer_daily_limit")
    failed = []
    for chat_id in chat_ids:
        error = _transfer_error(state, chat_id, staff.userid, resigned=resigned)
        if error is None and groups.transfers_today.get(quota_key, 0) >= limit:
            error = (45009, "new_owner reached the daily limit of transferred groups")
        if error is not None:
            failed.append({"chat_id": chat_id, "errcode": error[0], "errmsg": error[1]})
            continue
        groups.transfers_today[quota_key] = groups.transfers_today.get(quota_key, 0) + 1
        chat_changing(sandbox, chat_id)
        _change_owner(state, state.groups[chat_id], staff.userid, current, inherited=resigned)
    return {"failed_chat_list": failed}


def _transfer_error(
    state: SandboxState, chat_id: str, new_owner: str, *, resigned: bool
) -> tuple[int, str] | None:
    chat = state.groups.get(chat_id)
    if chat is None or chat.dismissed:
        return 40050, "chatid not found"
    owner = state.staff.get(chat.owner)
    owner_left = owner is None or owner.status != 1
    if resigned and chat.status == 3:
        return 90508, "group already inherited"
    if resigned and not owner_left:
        return 90500, "group owner has not resigned"
    if not resigned and owner_left:
        return 90502, "group owner has resigned"
    if chat.owner == new_owner:
        return 90504, "group owner unchanged"
    return None


def _change_owner(
    state: SandboxState, chat: GroupChat, new_owner: str, current: int, *, inherited: bool
) -> None:
    if all(m.userid != new_owner for m in chat.members):
        chat.members.append(_staff_member(state, new_owner, current, scene=1, invitor=chat.owner))
        bump_member_version(chat)
    chat.admin_list = [userid for userid in chat.admin_list if userid != new_owner]
    chat.owner = new_owner
    chat.status = 3 if inherited else 0


@route("externalcontact/groupchat/onjob_transfer")
def groupchat_onjob_transfer(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    return _transfer(sandbox, req, resigned=False)


@route("externalcontact/groupchat/transfer")
def groupchat_transfer(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    return _transfer(sandbox, req, resigned=True)


# --- join ways (加入群聊) --------------------------------------------------------------------


def _join_way_fields(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    scene = int_param(body, "scene")
    if scene not in (1, 2):
        raise SandboxError(40058, "scene must be 1 (mini program) or 2 (QR code)")
    chat_ids = str_list_param(body, "chat_id_list", maximum=JOIN_WAY_MAX_CHATS, required=True)
    for chat_id in chat_ids:
        live_chat(state, chat_id)
    auto_create = int_param(body, "auto_create_room", default=1)
    if auto_create not in (0, 1):
        raise SandboxError(40058, "auto_create_room must be 0 or 1")
    fields = {
        "scene": scene,
        "remark": text_param(body, "remark", maximum=30),
        "auto_create_room": auto_create,
        "room_base_name": text_param(body, "room_base_name", maximum=40),
        "room_base_id": int_param(body, "room_base_id", default=0),
        "chat_id_list": chat_ids,
        "state": text_param(body, "state", maximum=30),
    }
    if auto_create and not fields["room_base_name"]:
        raise SandboxError(40058, "room_base_name is required when auto_create_room is 1")
    return fields


def _join_way(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    config_id = body.get("config_id")
    if not config_id:
        raise SandboxError(41043, "config_id is required")
    way = state.join_ways.get(config_id) if isinstance(config_id, str) else None
    if way is None:
        raise SandboxError(41044, "invalid config_id")
    return way


def _qr_code(state: SandboxState) -> str:
    return f"https://wework.qpic.cn/wwpic/{make_id(state, '', 24, hexdigits=True)}/0"


@route("externalcontact/groupchat/add_join_way")
def add_join_way(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state = sandbox.state
    fields = _join_way_fields(state, req.json)
    config_id = make_id(state, "", 32, hexdigits=True)
    qr_code = _qr_code(state) if fields["scene"] == 2 else ""
    state.join_ways[config_id] = {"config_id": config_id, **fields, "qr_code": qr_code}
    return {"config_id": config_id}


def join_way_qr_url(sandbox: Sandbox, way: dict[str, Any]) -> str:
    """The way's ``qr_code``: as for contact ways, WeCom's is a PNG anyone can fetch, so a served
    sandbox serves it itself (worked out per call: it follows the base after a restart on another port)."""
    if way["qr_code"] and sandbox.base_url:
        return f"{sandbox.base_url}{JOIN_WAY_QR_PATH}{way['config_id']}.png"
    return way["qr_code"]


def join_way_link(config_id: str) -> str:
    """What a join way's QR encodes: a group invitation link shaped like WeCom's, fixed per config_id."""
    return "https://work.weixin.qq.com/gm/" + hashlib.sha256(config_id.encode()).hexdigest()[:32]


@route("externalcontact/groupchat/get_join_way")
def get_join_way(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    way = _join_way(sandbox.state, req.json)
    return {
        "join_way": {
            **way,
            "chat_id_list": list(way["chat_id_list"]),
            "qr_code": join_way_qr_url(sandbox, way),
        }
    }


@route("externalcontact/groupchat/update_join_way")
def update_join_way(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Overwrites every field, as WeCom does: omitted fields fall back to their defaults."""
    state = sandbox.state
    way = _join_way(state, req.json)
    fields = _join_way_fields(state, req.json)
    if fields["scene"] == 2 and not way["qr_code"]:
        way["qr_code"] = _qr_code(state)
    elif fields["scene"] == 1:
        way["qr_code"] = ""
    way.update(fields)
    return {}


@route("externalcontact/groupchat/del_join_way")
def del_join_way(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state = sandbox.state
    way = _join_way(state, req.json)
    del state.join_ways[way["config_id"]]
    return {}


# --- control routes: customers join and leave, groups are created and dismissed ---------------


@control_route("settings/groups", methods=("GET", "POST"))
def settings_groups(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``{visible_range_limit?, group_transfer_daily_limit?}`` → the group settings now in force."""
    return {"settings": settings_update(sandbox.state, SETTINGS, req.json if req.method == "POST" else {})}


@control_route("qr/join-way", methods=("GET",))
def join_way_qr_image(sandbox: Sandbox, req: SandboxRequest) -> RawResponse:
    """``qr/join-way/<config_id>.png``: the image a join way's ``qr_code`` URL points to (as ``qr/`` for
    contact ways). Unknown or deleted ways, and mini program ways (scene 1, no QR), answer 404."""
    name = req.path.removeprefix("qr/join-way").strip("/")
    config_id = name.removesuffix(".png")
    with sandbox.state.lock:
        way = sandbox.state.join_ways.get(config_id) if name.endswith(".png") else None
        if way is None or not way["qr_code"]:
            raise SandboxNotFoundError(f"no join way QR image {name!r}")
    image = io.BytesIO()
    segno.make_qr(join_way_link(config_id), error="m").save(image, kind="png", scale=QR_SCALE, border=4)
    return RawResponse("image/png", image.getvalue())


@control_route("simulate/group-join")
def simulate_group_join(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """A customer (the one given, or a new WeChat user) scans a QR code and joins a group.

    ``chat_id``: the group's own QR code. ``config_id`` (or a join way's ``state``): a group code
    (join way): the customer lands in the first group of its list that is not full; when all are full
    and the way auto-creates rooms, WeCom opens a new group for them (``create`` callback, then the
    ``add_member`` update), else 86006. Their member entry then carries the way's ``state``.
    """
    state = sandbox.state
    current = now()
    body = req.json
    created: GroupChat | None = None
    way: dict[str, Any] | None = None
    with state.lock:
        if body.get("chat_id"):
            chat = live_chat(state, body["chat_id"])
        else:
            way = _scanned_join_way(state, body)
        external_userid = body.get("external_userid")
        contact = None
        if external_userid:
            contact = state.contacts.get(external_userid)
            if contact is None:
                raise SandboxError(40096, "invalid external_userid")
        if way is not None:
            chat, created = _join_way_room(sandbox, way, external_userid or "", current)
        if contact is not None and any(m.userid == contact.external_userid for m in chat.members):
            raise SandboxError(40058, "the customer is already a member")
        if len(chat.members) >= MAX_MEMBERS:
            raise SandboxError(86006, "the group is full")
        if contact is None:
            contact = _new_contact(state)  # only once the join is certain: no stray WeChat users
        chat_changing(sandbox, chat.chat_id)
        chat.members.append(_customer_member(contact, current, scene=3))
        last, cur = bump_member_version(chat)
        states = member_states(state, chat.chat_id)
        if way is not None and way["state"]:
            states[contact.external_userid] = way["state"]
        else:
            states.pop(contact.external_userid, None)
        fields = _member_change(chat.chat_id, "add_member", contact.external_userid, last, cur, JoinScene=3)
    events = [fields]
    if created is not None:
        events.insert(0, {"Event": "change_external_chat", "ChangeType": "create", "ChatId": created.chat_id})
    results = send_callbacks(sandbox, events)
    answer: dict[str, Any] = {
        "chat_id": chat.chat_id,
        "external_userid": contact.external_userid,
        "member_version": cur,
        "callbacks": results,
    }
    if way is not None:
        answer |= {"config_id": way["config_id"], "state": way["state"], "created": created is not None}
    return answer


def _scanned_join_way(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    """The join way scanned: ``config_id``'s, or the one whose ``state`` is given (400 otherwise)."""
    config_id, way_state = body.get("config_id"), body.get("state")
    if config_id:
        way = state.join_ways.get(config_id) if isinstance(config_id, str) else None
        if way is None:
            raise ValueError(f"unknown join way config_id {config_id!r}")
        if way_state is not None and way_state != way["state"]:
            raise ValueError(f"join way {config_id} has state {way['state']!r}, not {way_state!r}")
        return way
    if not way_state:
        raise ValueError("give chat_id, or a join way's config_id or state")
    matches = [w for w in state.join_ways.values() if w["state"] == way_state]
    if not matches:
        raise ValueError(f"no join way has state {way_state!r}")
    if len(matches) > 1:
        raise ValueError(f"{len(matches)} join ways have state {way_state!r}: give config_id")
    return matches[0]


def _join_way_room(
    sandbox: Sandbox, way: dict[str, Any], external_userid: str, current: int
) -> tuple[GroupChat, GroupChat | None]:
    """The group a scan of ``way`` lands in, and the group created for it (None if none was).

    The first live group of the way's list with room; a customer already in one of them is refused
    (40058), as a second join would be. When every group is full: with auto_create_room, a new group
    named room_base_name + room_base_id (the way's room_base_id then goes up by one), owned by the
    owner of the way's first live group, is created and put on the way's list (which keeps at most five:
    the first full group makes room); without it, 86006. A way whose groups were all dismissed has
    nobody to own a new group: 40050, as for a dismissed chat.
    """
    state = sandbox.state
    chats = [state.groups.get(chat_id) for chat_id in way["chat_id_list"]]
    live = [c for c in chats if c is not None and not c.dismissed]
    for chat in live:
        if any(m.userid == external_userid for m in chat.members):
            raise SandboxError(40058, f"the customer is already a member of {chat.chat_id}")
    for chat in live:
        if len(chat.members) < MAX_MEMBERS:
            return chat, None
    if not live:
        raise SandboxError(40050, "chatid not found: every group of the join way was dismissed")
    if not way["auto_create_room"]:
        raise SandboxError(86006, "every group of the join way is full and auto_create_room is 0")
    first = live[0]  # the owner of the way's first live group owns the new one
    chat = GroupChat(
        chat_id=make_id(state, "wr", 30),
        name=f"{way['room_base_name']}{way['room_base_id']}",
        owner=first.owner,
        create_time=current,
    )
    chat.members.append(_staff_member(state, first.owner, current, scene=1, invitor=""))
    bump_member_version(chat)
    chat_changing(sandbox, chat.chat_id)
    state.groups[chat.chat_id] = chat
    way["room_base_id"] += 1
    chat_ids = list(way["chat_id_list"])
    if len(chat_ids) >= JOIN_WAY_MAX_CHATS:
        full = next(
            (c.chat_id for c in chats if c is None or c.dismissed or len(c.members) >= MAX_MEMBERS), None
        )
        chat_ids.remove(full or chat_ids[0])
    way["chat_id_list"] = [*chat_ids, chat.chat_id]
    return chat, chat


@control_route("simulate/group-leave")
def simulate_group_leave(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """A customer leaves the group on their own (QuitScene 0)."""
    state = sandbox.state
    with state.lock:
        chat = live_chat(state, req.json.get("chat_id"))
        external_userid = req.json.get("external_userid")
        member = next((m for m in chat.members if m.type == 2 and m.userid == external_userid), None)
        if member is None:
            raise SandboxError(40096, "the customer is not a member of this group")
        chat_changing(sandbox, chat.chat_id)
        chat.members.remove(member)
        member_states(state, chat.chat_id).pop(member.userid, None)
        last, cur = bump_member_version(chat)
        fields = _member_change(chat.chat_id, "del_member", member.userid, last, cur, QuitScene=0)
    results = send_callbacks(sandbox, [fields])
    return {"chat_id": chat.chat_id, "member_version": cur, "callbacks": results}


@control_route("simulate/group-remove")
def simulate_group_remove(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """The owner removes members ``{chat_id, userids: [...]}`` at once: one ``del_member`` callback
    with QuitScene 1 and every userid in MemChangeList (MemChangeCnt their number). The owner cannot
    be removed (400)."""
    state = sandbox.state
    with state.lock:
        chat = live_chat(state, req.json.get("chat_id"))
        userids = req.json.get("userids")
        if not isinstance(userids, list) or not userids or not all(isinstance(u, str) for u in userids):
            raise ValueError("userids must be a non-empty list of member userids")
        members = [m for m in chat.members if m.userid in set(userids)]
        if len(members) != len(set(userids)) or chat.owner in userids:
            raise ValueError("every userid must be a member of the group, and not its owner")
        chat_changing(sandbox, chat.chat_id)
        for member in members:
            chat.members.remove(member)
            member_states(state, chat.chat_id).pop(member.userid, None)
        last, cur = bump_member_version(chat)
        fields = _member_change(
            chat.chat_id, "del_member", [m.userid for m in members], last, cur, QuitScene=1
        )
    results = send_callbacks(sandbox, [fields])
    return {"chat_id": chat.chat_id, "member_version": cur, "callbacks": results}


@control_route("simulate/group-edit")
def simulate_group_edit(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """The owner edits the group in the WeCom app: ``{chat_id, name?, notice?, owner?}``. Each change
    sends its own ``update`` callback (change_name, change_notice, change_owner), which carries no
    value: the app reads the group, which shows it ``get_lag_seconds`` later. The new owner must be a
    staff member of the group (400 otherwise); they leave the admin list."""
    state = sandbox.state
    body = req.json
    with state.lock:
        chat = live_chat(state, body.get("chat_id"))
        changes = {key: body[key] for key in ("name", "notice", "owner") if body.get(key) is not None}
        if not changes or not all(isinstance(v, str) for v in changes.values()):
            raise ValueError("give name, notice or owner (strings)")
        owner = changes.get("owner")
        if owner is not None and not any(m.userid == owner and m.type == 1 for m in chat.members):
            raise ValueError(f"{owner!r} is not a staff member of the group")
        chat_changing(sandbox, chat.chat_id)
        details = []
        if "name" in changes and changes["name"] != chat.name:
            chat.name = changes["name"]
            details.append("change_name")
        if "notice" in changes and changes["notice"] != chat.notice:
            chat.notice = changes["notice"]
            details.append("change_notice")
        if owner is not None and owner != chat.owner:
            chat.owner = owner
            chat.admin_list = [userid for userid in chat.admin_list if userid != owner]
            details.append("change_owner")
    events = [
        {"Event": "change_external_chat", "ChangeType": "update", "ChatId": chat.chat_id, "UpdateDetail": d}
        for d in details
    ]
    return {"chat_id": chat.chat_id, "changed": details, "callbacks": send_callbacks(sandbox, events)}


@control_route("simulate/group-create")
def simulate_group_create(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """A staff member creates a customer group with two customers they follow (the smallest group)."""
    state = sandbox.state
    current = now()
    with state.lock:
        owner = state.staff.get(req.json.get("owner") or "")
        if owner is None or owner.status != 1:
            raise SandboxError(60111, "owner does not exist")
        customers = followed_by(state, owner.userid)[:2]
        if len(customers) < 2:
            raise SandboxError(86006, "the owner needs two customers to start a group")
        chat = GroupChat(
            chat_id=make_id(state, "wr", 30),
            name=req.json.get("name") or "",
            owner=owner.userid,
            create_time=current,
        )
        chat.members.append(_staff_member(state, owner.userid, current, scene=1, invitor=""))
        for external_userid in customers:
            member = _customer_member(state.contacts[external_userid], current, scene=1)
            member.invitor = owner.userid
            chat.members.append(member)
        bump_member_version(chat)
        chat_changing(sandbox, chat.chat_id)
        state.groups[chat.chat_id] = chat
    fields = {"Event": "change_external_chat", "ChangeType": "create", "ChatId": chat.chat_id}
    return {"chat_id": chat.chat_id, "callbacks": send_callbacks(sandbox, [fields])}


@control_route("simulate/group-dismiss")
def simulate_group_dismiss(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """The owner dismisses the group: it leaves groupchat/list and groupchat/get answers 40050."""
    state = sandbox.state
    with state.lock:
        chat = live_chat(state, req.json.get("chat_id"))
        chat_changing(sandbox, chat.chat_id)
        chat.dismissed = True
        book(state).dismissed_at[chat.chat_id] = now()
    fields = {"Event": "change_external_chat", "ChangeType": "dismiss", "ChatId": chat.chat_id}
    return {"chat_id": chat.chat_id, "callbacks": send_callbacks(sandbox, [fields])}


def _member_change(
    chat_id: str, detail: str, userids: str | list[str], last: str, cur: str, **scene: int
) -> dict[str, Any]:
    userids = [userids] if isinstance(userids, str) else userids
    return {
        "Event": "change_external_chat",
        "ChangeType": "update",
        "ChatId": chat_id,
        "UpdateDetail": detail,
        **scene,
        "MemChangeCnt": len(userids),
        "MemChangeList": userids,
        "LastMemVer": last,
        "CurMemVer": cur,
    }


def _new_contact(state: SandboxState) -> ExternalContact:
    """A WeChat user nobody in the corp has added yet: in the group, but nobody's customer.

    Seeded by the state's counter, as control.py's customer-add: a replayed script makes the same people.
    """
    rng = random.Random(f"{state.corp_id}:{state.next_id('join')}")  # noqa: S311 -- not a secret
    external_userid = new_external_userid(rng)
    while external_userid in state.contacts:
        external_userid = new_external_userid(rng)
    contact = new_customer(rng, external_userid)
    state.contacts[external_userid] = contact
    return contact
