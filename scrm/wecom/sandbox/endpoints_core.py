"""WeCom APIs of wecom-api.md §1 (token), §2 (customers), §3 (corp tags), §5 (channel codes), §6 (welcome
messages) and the contact book reads of §2a (department/list and simplelist, user/list, simplelist and
get, as the app's visible range allows) with their settings route.

Handlers run under ``state.lock`` (the server takes it) and return the success body without
errcode/errmsg. Where wecom-api.md names no errcode for a bad parameter we answer 40058 ("invalid
parameter", WeCom's catch-all); docs/sandbox.md lists every such choice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from .generator import make_id
from .registry import SandboxError, SandboxRequest, control_route, route
from .state import (
    ContactWay,
    Department,
    ExternalContact,
    FollowInfo,
    SandboxState,
    Staff,
    Tag,
    TagGroup,
)

if TYPE_CHECKING:
    from .server import Sandbox

INVALID_PARAM = 40058
MAX_USERIDS = 100  # batch/get_by_user userid_list
BATCH_LIMIT_DEFAULT, BATCH_LIMIT_MAX = 50, 100
FOLLOW_USER_PAGE = 500  # externalcontact/get pages follow_user past 500
CONTACT_WAY_LIMIT_DEFAULT, CONTACT_WAY_LIMIT_MAX = 100, 1000
CONTACT_WAY_MAX_MEMBERS = 100
CONTACT_WAY_DEFAULT_SPAN = 90 * 86400  # list_contact_way looks back 90 days by default
TEMP_WAY_MAX_SECONDS = 14 * 86400
MAX_TAGS = 3000
TAG_NAME_MAX = 30
# An app may edit and delete only the tags and groups it created (wecom-api.md §3). The documentation
# names no errcode for it; 81011 ("no privilege to access/modify tag") is what developers report for a
# console-made tag deleted through the API (docs/wecom.md says how sure that is).
NOT_APP_TAG = 81011


def _not_app_tag(what: str) -> SandboxError:
    return SandboxError(NOT_APP_TAG, f"no privilege to access/modify {what}: not created by this app")


REMARK_MAX, DESCRIPTION_MAX = 20, 150
WAY_TEXT_MAX = 30  # contact way remark and state
WELCOME_TEXT_MAX_BYTES = 4000
LINK_DESC_MAX_BYTES, MINIPROGRAM_TITLE_MAX_BYTES = 512, 64  # as for mass messages (wecom-api.md §7)
MAX_ATTACHMENTS = 9
ATTACHMENT_TYPES = ("image", "link", "miniprogram", "video", "file")
MAX_GROUP_WELCOME_TEMPLATES = 100
QR_PATH = "/sandbox/qr/"  # where a served sandbox serves channel code QR images (control.qr_image)
_SNAPSHOT_CACHE = "batch_get_by_user"
_SNAPSHOTS_KEPT = 64


# -- parameter helpers ------------------------------------------------------------------------------


def _invalid(message: str) -> SandboxError:
    return SandboxError(INVALID_PARAM, f"invalid Request Parameter: {message}")


def opt_str(body: dict[str, Any], key: str, max_len: int | None = None) -> str | None:
    """A string field, None when absent; 40058 when not a string or longer than ``max_len`` characters."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(f"{key} must be a string")
    if max_len is not None and len(value) > max_len:
        raise _invalid(f"{key} is longer than {max_len} characters")
    return value


def str_list(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"{key} must be a list of strings")
    return value


def _int_list(body: dict[str, Any], key: str) -> list[int]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _invalid(f"{key} must be a list of integers")
    return value


def _opt_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _invalid(f"{key} must be an integer") from None


def _clamp_limit(value: Any, default: int, maximum: int) -> int:
    """WeCom's paging rule: a missing or non-positive limit takes the default, a big one the maximum."""
    try:
        limit = int(value)
    except (TypeError, ValueError):
        return default
    return default if limit <= 0 else min(limit, maximum)


def _staff(state: SandboxState, userid: Any) -> Staff:
    member = state.staff.get(userid) if isinstance(userid, str) else None
    if member is None:
        raise SandboxError(60111, f"invalid userid {userid!r}")
    return member


def _contact(state: SandboxState, external_userid: Any) -> ExternalContact:
    contact = state.contacts.get(external_userid) if isinstance(external_userid, str) else None
    if contact is None:
        raise SandboxError(40096, f"invalid external userid {external_userid!r}")
    return contact


def _follow(contact: ExternalContact, userid: str) -> FollowInfo:
    follow = contact.follows.get(userid)
    if follow is None:
        raise SandboxError(84061, "not external contact")
    return follow


def _encode_cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode(":".join(map(str, parts)).encode()).decode().rstrip("=")


def _decode_cursor(cursor: Any, n_parts: int) -> list[str]:
    if not isinstance(cursor, str):
        raise _invalid("cursor must be a string")
    try:
        parts = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
    except (binascii.Error, UnicodeDecodeError):
        parts = []
    if len(parts) != n_parts or not parts[-1].isdigit():
        raise _invalid("invalid cursor")
    return parts


def _offset_cursor(cursor: Any) -> int:
    return int(_decode_cursor(cursor, 1)[0]) if cursor else 0


# -- rendering --------------------------------------------------------------------------------------


def live_tag(state: SandboxState, tag_id: str) -> Tag | None:
    tag = state.tags.get(tag_id)
    return None if tag is None or tag.deleted else tag


def render_contact(contact: ExternalContact) -> dict[str, Any]:
    """``external_contact``: WeCom sends unionid only when known, company fields only for WeCom users."""
    data: dict[str, Any] = {
        "external_userid": contact.external_userid,
        "name": contact.name,
        "type": contact.type,
        "avatar": contact.avatar,
        "gender": contact.gender,
    }
    if contact.unionid:
        data["unionid"] = contact.unionid
    if contact.type == 2:
        data["position"] = contact.position
        data["corp_name"] = contact.corp_name
        data["corp_full_name"] = contact.corp_full_name
        data["external_profile"] = {"external_attr": []}
    return data


def _follow_common(follow: FollowInfo) -> dict[str, Any]:
    return {
        "userid": follow.userid,
        "remark": follow.remark,
        "description": follow.description,
        "createtime": follow.createtime,
    }


def _follow_tail(data: dict[str, Any], follow: FollowInfo) -> dict[str, Any]:
    if follow.remark_corp_name:
        data["remark_corp_name"] = follow.remark_corp_name
    data["remark_mobiles"] = list(follow.remark_mobiles)
    data["oper_userid"] = follow.oper_userid
    data["add_way"] = follow.add_way
    if follow.state:  # only customers who came through a channel code carry one
        data["state"] = follow.state
    return data


def render_follow_user(state: SandboxState, follow: FollowInfo) -> dict[str, Any]:
    """An item of ``externalcontact/get``'s follow_user: tags spelled out with their group names."""
    tags = []
    for tag_id in follow.tag_ids:
        tag = live_tag(state, tag_id)
        if tag is not None:
            group = state.tag_groups[tag.group_id]
            tags.append({"group_name": group.group_name, "tag_name": tag.name, "type": 1, "tag_id": tag.id})
    tags.extend({"group_name": "", "tag_name": name, "type": 2} for name in follow.personal_tags)
    data = _follow_common(follow)
    data["tags"] = tags
    return _follow_tail(data, follow)


def render_follow_info(state: SandboxState, follow: FollowInfo) -> dict[str, Any]:
    """``follow_info`` of batch/get_by_user: corp tag ids only."""
    data = _follow_common(follow)
    data["tag_id"] = [t for t in follow.tag_ids if live_tag(state, t) is not None]
    return _follow_tail(data, follow)


# -- §1 token ---------------------------------------------------------------------------------------


@route("gettoken", methods=("GET",))
def gettoken(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    token, expires_in = sandbox.issue_token(req.query.get("corpid", ""), req.query.get("corpsecret", ""))
    return {"access_token": token, "expires_in": expires_in}


# -- §2 customers -----------------------------------------------------------------------------------


@route("externalcontact/get_follow_user_list", methods=("GET",))
def get_follow_user_list(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    staff = sandbox.state.staff.values()
    return {"follow_user": [s.userid for s in staff if s.has_contact_permission and s.status == 1]}


@route("externalcontact/list", methods=("GET",))
def list_contacts(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state = sandbox.state
    userid = _staff(state, req.query.get("userid")).userid
    ids = [ext for ext, contact in state.contacts.items() if userid in contact.follows]
    if not ids:
        # WeCom answers a member without customers with 84061, not an empty list.
        raise SandboxError(84061, "not external contact")
    return {"external_userid": ids}


@route("externalcontact/get", methods=("GET",))
def get_contact(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state = sandbox.state
    contact = _contact(state, req.query.get("external_userid"))
    if not contact.follows:
        raise SandboxError(84061, "not external contact")  # every staff member was deleted
    follows = list(contact.follows.values())
    start = _offset_cursor(req.query.get("cursor"))
    page = follows[start : start + FOLLOW_USER_PAGE]
    body: dict[str, Any] = {
        "external_contact": render_contact(contact),
        "follow_user": [render_follow_user(state, f) for f in page],
    }
    if start + FOLLOW_USER_PAGE < len(follows):
        body["next_cursor"] = _encode_cursor(start + FOLLOW_USER_PAGE)
    return body


class _Snapshots:
    """The (external_userid, userid) walk of one batch/get_by_user sync, frozen at its first page.

    Scanning every customer costs O(contacts); doing it once per walk instead of once per page keeps a
    100,000-customer sync linear. A walk whose snapshot was evicted (or predates a restart) is rebuilt
    from its userid_list and continues at its offset.
    """

    def __init__(self) -> None:
        self._walks: OrderedDict[str, tuple[tuple[str, ...], list[tuple[str, str]]]] = OrderedDict()

    def get(self, walk_id: str, userids: tuple[str, ...], state: SandboxState) -> list[tuple[str, str]]:
        walk = self._walks.get(walk_id)
        if walk is None or walk[0] != userids:
            walk = (userids, _follow_walk(state, userids))
            self._walks[walk_id] = walk
            while len(self._walks) > _SNAPSHOTS_KEPT:
                self._walks.popitem(last=False)
        self._walks.move_to_end(walk_id)
        return walk[1]

    def drop(self, walk_id: str) -> None:
        self._walks.pop(walk_id, None)


def _follow_walk(state: SandboxState, userids: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every follow of the given members: member by member in the order given, customers in creation order."""
    wanted = set(userids)
    buckets: dict[str, list[str]] = {u: [] for u in userids}
    for external_userid, contact in state.contacts.items():
        for userid in contact.follows:
            if userid in wanted:
                buckets[userid].append(external_userid)
    return [(ext, userid) for userid in userids for ext in buckets[userid]]


@route("externalcontact/batch/get_by_user")
def batch_get_by_user(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state, body = sandbox.state, req.json
    userids = str_list(body, "userid_list")
    if not userids and isinstance(body.get("userid"), str):
        userids = [body["userid"]]  # the older single-member form WeCom still accepts
    if not userids:
        raise _invalid("userid_list is empty")
    if len(userids) > MAX_USERIDS:
        raise _invalid(f"userid_list has more than {MAX_USERIDS} userids")
    userids = list(dict.fromkeys(userids))
    for userid in userids:
        _staff(state, userid)
    limit = _clamp_limit(body.get("limit"), BATCH_LIMIT_DEFAULT, BATCH_LIMIT_MAX)
    snapshots: _Snapshots = sandbox.caches.setdefault(_SNAPSHOT_CACHE, _Snapshots())
    cursor = body.get("cursor") or ""
    if cursor:
        walk_id, offset_text = _decode_cursor(cursor, 2)
        offset = int(offset_text)
    else:
        walk_id, offset = secrets.token_hex(6), 0
    walk = snapshots.get(walk_id, tuple(userids), state)
    items = []
    for external_userid, userid in walk[offset : offset + limit]:
        contact = state.contacts.get(external_userid)
        follow = contact.follows.get(userid) if contact else None
        if follow is not None:  # gone since the walk started: skipped, as WeCom's own snapshot would
            items.append(
                {
                    "external_contact": render_contact(contact),
                    "follow_info": render_follow_info(state, follow),
                }
            )
    next_offset = offset + limit
    if next_offset < len(walk):
        next_cursor = _encode_cursor(walk_id, next_offset)
    else:
        next_cursor = ""
        snapshots.drop(walk_id)
    return {"external_contact_list": items, "next_cursor": next_cursor}


@route("externalcontact/remark")
def remark(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state, body = sandbox.state, req.json
    userid = _staff(state, body.get("userid")).userid
    follow = _follow(_contact(state, body.get("external_userid")), userid)
    new_remark = opt_str(body, "remark", REMARK_MAX)
    description = opt_str(body, "description", DESCRIPTION_MAX)
    company = opt_str(body, "remark_company")
    opt_str(body, "remark_pic_mediaid")  # accepted; the sandbox keeps no pictures
    mobiles = str_list(body, "remark_mobiles") if "remark_mobiles" in body else None
    # Only the fields sent change; an empty string clears one.
    if new_remark is not None:
        follow.remark = new_remark
    if description is not None:
        follow.description = description
    if company is not None:
        follow.remark_corp_name = company
    if mobiles is not None:
        follow.remark_mobiles = mobiles
    return {}


# -- §3 corp tags -----------------------------------------------------------------------------------


def _live_groups(state: SandboxState) -> list[TagGroup]:
    """Groups in WeCom's display order: higher ``order`` first, then older first."""
    groups = [g for g in state.tag_groups.values() if not g.deleted]
    return sorted(groups, key=lambda g: (-g.order, g.create_time))


def _render_tag(tag: Tag, with_deleted: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": tag.id,
        "name": tag.name,
        "create_time": tag.create_time,
        "order": tag.order,
    }
    if with_deleted:
        data["deleted"] = tag.deleted
    return data


def _render_group(group: TagGroup, tags: list[Tag], with_deleted: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "group_id": group.group_id,
        "group_name": group.group_name,
        "create_time": group.create_time,
        "order": group.order,
    }
    if with_deleted:
        data["deleted"] = group.deleted
    data["tag"] = [
        _render_tag(t, with_deleted) for t in sorted(tags, key=lambda t: (-t.order, t.create_time))
    ]
    return data


@route("externalcontact/get_corp_tag_list")
def get_corp_tag_list(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """All live groups; or those of group_id; or (group_id empty) the tags of tag_id. Asked by id, the
    groups and tags carry ``deleted``, and deleted ones are answered too (a deleted group with its tags)."""
    state = sandbox.state
    group_ids, tag_ids = str_list(req.json, "group_id"), str_list(req.json, "tag_id")
    if group_ids:
        # Deleted groups included, flagged with their tags: WeCom returns ``deleted`` when asked by id.
        wanted = [state.tag_groups[g] for g in dict.fromkeys(group_ids) if g in state.tag_groups]
        groups = sorted(wanted, key=lambda g: (-g.order, g.create_time))
        return {
            "tag_group": [
                _render_group(g, [state.tags[t] for t in g.tag_ids], with_deleted=True) for g in groups
            ]
        }
    if tag_ids:
        by_group: dict[str, list[Tag]] = {}
        for tag_id in dict.fromkeys(tag_ids):
            tag = state.tags.get(tag_id)
            if tag is not None:
                by_group.setdefault(tag.group_id, []).append(tag)
        groups = sorted((state.tag_groups[g] for g in by_group), key=lambda g: (-g.order, g.create_time))
        return {"tag_group": [_render_group(g, by_group[g.group_id], with_deleted=True) for g in groups]}
    return {"tag_group": [_render_group(g, [state.tags[t] for t in g.tag_ids]) for g in _live_groups(state)]}


def tag_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > TAG_NAME_MAX:
        raise SandboxError(40072, f"invalid tag name length: 1 to {TAG_NAME_MAX} characters")
    return value


@route("externalcontact/add_corp_tag")
def add_corp_tag(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Add tags to a group (by id, or by name: an existing name adds into it); a new group needs a tag."""
    state, body = sandbox.state, req.json
    specs = body.get("tag") or []
    if not isinstance(specs, list) or not specs or not all(isinstance(t, dict) for t in specs):
        raise _invalid("tag must be a non-empty list of {name, order}")
    group = None
    if body.get("group_id"):
        group = state.tag_groups.get(body["group_id"])
        if group is None or group.deleted:
            raise SandboxError(40068, f"invalid tag group id {body['group_id']!r}")
    else:
        group_name = body.get("group_name")
        if not isinstance(group_name, str) or not group_name.strip() or len(group_name) > TAG_NAME_MAX:
            raise SandboxError(40072, f"invalid group_name length: 1 to {TAG_NAME_MAX} characters")
        group = next((g for g in _live_groups(state) if g.group_name == group_name), None)
    taken = {state.tags[t].name for t in group.tag_ids} if group else set()
    names = []
    for spec in specs:
        name = tag_name(spec.get("name"))
        if name in taken or name in names:
            raise SandboxError(40071, f"tag name {name!r} already exists in this group")
        names.append(name)
    if sum(1 for t in state.tags.values() if not t.deleted) + len(names) > MAX_TAGS:
        raise _invalid(f"a corp has at most {MAX_TAGS} tags")
    now = int(time.time())
    if group is None:
        group = TagGroup(
            make_id(state, "et", 20),
            body["group_name"],
            now,
            order=_opt_int(body, "order") or 0,
            app_created=True,
        )
        state.tag_groups[group.group_id] = group
    created = []
    for spec, name in zip(specs, names, strict=True):
        tag = Tag(
            make_id(state, "et", 30),
            group.group_id,
            name,
            now,
            order=_opt_int(spec, "order") or 0,
            app_created=True,
        )
        state.tags[tag.id] = tag
        group.tag_ids.append(tag.id)
        created.append(tag)
    return {"tag_group": _render_group(group, created)}


@route("externalcontact/edit_corp_tag")
def edit_corp_tag(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state, body = sandbox.state, req.json
    target_id = body.get("id")
    name = tag_name(body["name"]) if body.get("name") is not None else None
    order = _opt_int(body, "order")
    tag = live_tag(state, target_id) if isinstance(target_id, str) else None
    group = state.tag_groups.get(target_id) if isinstance(target_id, str) else None
    if tag is not None:
        siblings = (state.tags[t] for t in state.tag_groups[tag.group_id].tag_ids if t != tag.id)
        if name is not None and any(s.name == name for s in siblings):
            raise SandboxError(40071, f"tag name {name!r} already exists in this group")
        target: Tag | TagGroup = tag
    elif group is not None and not group.deleted:
        if name is not None and any(g.group_name == name for g in _live_groups(state) if g is not group):
            raise SandboxError(40071, f"tag group name {name!r} already exists")
        target = group
    else:
        raise SandboxError(40068, f"invalid tag id {target_id!r}")
    if not target.app_created:
        raise _not_app_tag(f"tag {target_id!r}")
    if name is not None:
        if isinstance(target, Tag):
            target.name = name
        else:
            target.group_name = name
    if order is not None:
        target.order = order
    return {}


def delete_tags(state: SandboxState, tag_ids: list[str], group_ids: list[str]) -> None:
    """Delete tags and whole groups; a group left without tags disappears (WeCom has no empty groups).

    A deleted group keeps its (deleted) tags: ``get_corp_tag_list`` by its id answers them, flagged.
    """
    for group_id in group_ids:
        group = state.tag_groups[group_id]
        for tag_id in group.tag_ids:
            state.tags[tag_id].deleted = True
        group.deleted = True
    for tag_id in tag_ids:
        tag = state.tags[tag_id]
        tag.deleted = True
        group = state.tag_groups[tag.group_id]
        group.tag_ids = [t for t in group.tag_ids if t != tag_id]
        if not group.tag_ids:
            group.deleted = True


@route("externalcontact/del_corp_tag")
def del_corp_tag(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state = sandbox.state
    tag_ids, group_ids = str_list(req.json, "tag_id"), str_list(req.json, "group_id")
    if not tag_ids and not group_ids:
        raise _invalid("tag_id and group_id cannot both be empty")
    for tag_id in tag_ids:
        tag = live_tag(state, tag_id)
        if tag is None:
            raise SandboxError(40068, f"invalid tag id {tag_id!r}")
        if not tag.app_created:
            raise _not_app_tag(f"tag {tag_id!r}")
    for group_id in group_ids:
        group = state.tag_groups.get(group_id)
        if group is None or group.deleted:
            raise SandboxError(40068, f"invalid tag group id {group_id!r}")
        # Deleting a group deletes every tag in it: an admin's tag in the app's group is not the app's.
        if not group.app_created or any(not state.tags[t].app_created for t in group.tag_ids):
            raise _not_app_tag(f"tag group {group_id!r} (or a tag in it)")
    delete_tags(state, list(dict.fromkeys(tag_ids)), list(dict.fromkeys(group_ids)))
    return {}


def retag(follow: FollowInfo, add: list[str], remove: list[str]) -> None:
    removed = set(remove)
    tag_ids = [t for t in follow.tag_ids if t not in removed]
    for tag_id in add:
        if tag_id not in tag_ids:
            tag_ids.append(tag_id)
    follow.tag_ids = tag_ids


@route("externalcontact/mark_tag")
def mark_tag(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state, body = sandbox.state, req.json
    userid = _staff(state, body.get("userid")).userid
    follow = _follow(_contact(state, body.get("external_userid")), userid)
    add, remove = str_list(body, "add_tag"), str_list(body, "remove_tag")
    if not add and not remove:
        raise _invalid("add_tag and remove_tag cannot both be empty")
    for tag_id in [*add, *remove]:
        if live_tag(state, tag_id) is None:
            raise SandboxError(40068, f"invalid tag id {tag_id!r}")
    retag(follow, add, remove)
    return {}


# -- §5 channel codes («联系我») ----------------------------------------------------------------------


def _apply_way_fields(state: SandboxState, way: ContactWay, body: dict[str, Any]) -> None:
    """Validate and apply the settable fields present in ``body`` (user/party overwrite)."""
    remark_text = opt_str(body, "remark", WAY_TEXT_MAX)
    way_state = opt_str(body, "state", WAY_TEXT_MAX)
    users = str_list(body, "user") if "user" in body else way.user
    parties = _int_list(body, "party") if "party" in body else way.party
    for userid in users:
        if not _staff(state, userid).has_contact_permission:
            raise SandboxError(84074, f"{userid} has no customer contact permission")
    for party in parties:
        if party not in state.departments:
            raise SandboxError(60123, f"invalid party id {party}")
    if way.type == 1 and (len(users) != 1 or parties):
        raise _invalid("a single-member code (type 1) takes exactly one user and no party")
    if way.type == 2 and not 1 <= len(users) + len(parties) <= CONTACT_WAY_MAX_MEMBERS:
        raise _invalid(f"a multi-member code (type 2) takes 1 to {CONTACT_WAY_MAX_MEMBERS} users and parties")
    is_temp = bool(body.get("is_temp", way.is_temp))
    expires_in = _opt_int(body, "expires_in")
    chat_expires_in = _opt_int(body, "chat_expires_in")
    for value in (expires_in, chat_expires_in):
        if value is not None and not 0 < value <= TEMP_WAY_MAX_SECONDS:
            raise _invalid("expires_in and chat_expires_in are 1 second to 14 days")
    conclusions = body.get("conclusions", way.conclusions)
    if not isinstance(conclusions, dict):
        raise _invalid("conclusions must be an object")
    way.user, way.party, way.is_temp, way.conclusions = list(users), list(parties), is_temp, conclusions
    if remark_text is not None:
        way.remark = remark_text
    if way_state is not None:
        way.state = way_state
    if "skip_verify" in body:
        way.skip_verify = bool(body["skip_verify"])
    if "style" in body:
        way.style = _opt_int(body, "style") or 1
    if "unionid" in body:
        way.unionid = opt_str(body, "unionid") or ""
    if is_temp:
        way.expires_in = expires_in or way.expires_in or 7 * 86400
        way.chat_expires_in = chat_expires_in or way.chat_expires_in or 86400


def contact_me_url(config_id: str) -> str:
    """What a channel code's QR encodes: a 「联系我」 link shaped like WeCom's, fixed per config_id."""
    return "https://work.weixin.qq.com/ca/cawcde" + hashlib.sha256(config_id.encode()).hexdigest()[:18]


def qr_code_url(sandbox: Sandbox, way: ContactWay) -> str:
    """The code's ``qr_code``: WeCom's is a PNG anyone can fetch, so a served sandbox serves it itself.

    Worked out per call, not stored: after a restart on another port (the data file reloaded) the URLs
    follow the new base. Unserved (a bare WSGI app), the stored qpic-shaped URL stands in.
    """
    if way.qr_code and sandbox.base_url:
        return f"{sandbox.base_url}{QR_PATH}{way.config_id}.png"
    return way.qr_code


def _way(state: SandboxState, config_id: Any) -> ContactWay:
    way = state.contact_ways.get(config_id) if isinstance(config_id, str) else None
    if way is None:
        raise _invalid(f"invalid config_id {config_id!r}")
    return way


@route("externalcontact/add_contact_way")
def add_contact_way(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state, body = sandbox.state, req.json
    way_type, scene = _opt_int(body, "type"), _opt_int(body, "scene")
    if way_type not in (1, 2):
        raise _invalid("type must be 1 (single member) or 2 (multiple members)")
    if scene not in (1, 2):
        raise _invalid("scene must be 1 (mini program) or 2 (QR code)")
    way = ContactWay(config_id="", type=way_type, scene=scene, create_time=int(time.time()))
    _apply_way_fields(state, way, body)
    way.config_id = make_id(state, "", 32, hexdigits=True)
    if scene == 2:
        way.qr_code = f"https://wework.qpic.cn/wwpic/{make_id(state, '', 24, hexdigits=True)}/0"
    state.contact_ways[way.config_id] = way
    if way.qr_code:
        return {"config_id": way.config_id, "qr_code": qr_code_url(sandbox, way)}
    return {"config_id": way.config_id}


def render_contact_way(sandbox: Sandbox, way: ContactWay) -> dict[str, Any]:
    data: dict[str, Any] = {
        "config_id": way.config_id,
        "type": way.type,
        "scene": way.scene,
        "style": way.style,
        "remark": way.remark,
        "skip_verify": way.skip_verify,
        "state": way.state,
        "user": list(way.user),
        "party": list(way.party),
        "is_temp": way.is_temp,
        "expires_in": way.expires_in,
        "chat_expires_in": way.chat_expires_in,
        "unionid": way.unionid,
        "conclusions": way.conclusions,
    }
    if way.qr_code:
        data["qr_code"] = qr_code_url(sandbox, way)
    return data


@route("externalcontact/get_contact_way")
def get_contact_way(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    return {"contact_way": render_contact_way(sandbox, _way(sandbox.state, req.json.get("config_id")))}


@route("externalcontact/list_contact_way")
def list_contact_way(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Codes created in [start_time, end_time] (default: the last 90 days), temporary ones excluded."""
    body = req.json
    now = int(time.time())
    end = _opt_int(body, "end_time") or now
    start = _opt_int(body, "start_time") or end - CONTACT_WAY_DEFAULT_SPAN
    if start > end:
        raise _invalid("start_time is after end_time")
    limit = _clamp_limit(body.get("limit"), CONTACT_WAY_LIMIT_DEFAULT, CONTACT_WAY_LIMIT_MAX)
    offset = _offset_cursor(body.get("cursor"))
    ways = sorted(
        (w for w in sandbox.state.contact_ways.values() if not w.is_temp and start <= w.create_time <= end),
        key=lambda w: (w.create_time, w.config_id),
    )
    page = ways[offset : offset + limit]
    more = offset + limit < len(ways)
    return {
        "contact_way": [{"config_id": w.config_id} for w in page],
        "next_cursor": _encode_cursor(offset + limit) if more else "",
    }


@route("externalcontact/update_contact_way")
def update_contact_way(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state = sandbox.state
    way = _way(state, req.json.get("config_id"))
    # Validate on a copy: a rejected update must leave the code untouched.
    updated = ContactWay(**{**way.__dict__, "user": list(way.user), "party": list(way.party)})
    _apply_way_fields(state, updated, req.json)
    state.contact_ways[way.config_id] = updated
    return {}


@route("externalcontact/del_contact_way")
def del_contact_way(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state = sandbox.state
    del state.contact_ways[_way(state, req.json.get("config_id")).config_id]
    return {}


# -- §6 welcome messages ----------------------------------------------------------------------------


def _check_text(text: Any) -> str:
    if not isinstance(text, dict) or not isinstance(text.get("content", ""), str):
        raise _invalid("text must be {content: string}")
    content = text.get("content", "")
    if len(content.encode("utf-8")) > WELCOME_TEXT_MAX_BYTES:
        raise SandboxError(45002, f"text.content is longer than {WELCOME_TEXT_MAX_BYTES} bytes")
    return content


def _check_attachment(kind: str, item: Any) -> None:
    """The fields WeCom requires per attachment type, and its byte limits: a link's ``desc`` ≤ 512 and
    a mini program's ``title`` ≤ 64, 45002 past them (the text's errcode)."""
    required = {
        "image": (),
        "link": ("title", "url"),
        "miniprogram": ("title", "pic_media_id", "appid", "page"),
        "video": ("media_id",),
        "file": ("media_id",),
    }[kind]
    if not isinstance(item, dict):
        raise _invalid(f"{kind} must be an object")
    missing = [f for f in required if not item.get(f)]
    if kind == "image" and not (item.get("media_id") or item.get("pic_url")):
        missing.append("media_id or pic_url")
    if missing:
        raise _invalid(f"{kind} lacks {', '.join(missing)}")
    if kind == "link" and len(str(item.get("desc") or "").encode()) > LINK_DESC_MAX_BYTES:
        raise SandboxError(45002, f"link.desc is longer than {LINK_DESC_MAX_BYTES} bytes")
    if kind == "miniprogram" and len(str(item["title"]).encode()) > MINIPROGRAM_TITLE_MAX_BYTES:
        raise SandboxError(45002, f"miniprogram.title is longer than {MINIPROGRAM_TITLE_MAX_BYTES} bytes")


# The media id an attachment carries, and the kind of upload it must be (wecom-api.md §6, §9a).
_MEDIA_FIELDS = {"image": ("media_id", "image"), "miniprogram": ("pic_media_id", "image")}
_MEDIA_FIELDS |= {"video": ("media_id", "video"), "file": ("media_id", "file")}


def check_media(
    state: SandboxState, kind: str, item: dict[str, Any], *, uploads: tuple[int, ...] | None = None
) -> None:
    """40007 for a media id the sandbox never issued, of another type, or older than 3 days.

    ``uploads``: the kinds of upload accepted (``Media.attachment_type``: 0 media/upload, 1 and 2
    upload_attachment); any by default. (An image may come by ``pic_url`` instead, from
    media/uploadimg: not checked.)
    """
    from .endpoints_marketing import MEDIA_TTL, book  # that module imports this one

    if kind not in _MEDIA_FIELDS or (kind == "image" and not item.get("media_id")):
        return
    key, media_type = _MEDIA_FIELDS[kind]
    media = book(state).media.get(item.get(key) or "")
    if (
        media is None
        or media.type != media_type
        or (uploads is not None and media.attachment_type not in uploads)
        or time.time() - media.created_at > MEDIA_TTL
    ):
        raise SandboxError(40007, f"invalid media_id {item.get(key)!r} for the {kind} attachment")


def check_attachments(attachments: Any) -> None:
    if not isinstance(attachments, list):
        raise _invalid("attachments must be a list")
    if len(attachments) > MAX_ATTACHMENTS:
        raise _invalid(f"at most {MAX_ATTACHMENTS} attachments")
    for attachment in attachments:
        msgtype = attachment.get("msgtype") if isinstance(attachment, dict) else None
        if msgtype not in ATTACHMENT_TYPES:
            raise SandboxError(40008, f"invalid msgtype {msgtype!r}: one of {', '.join(ATTACHMENT_TYPES)}")
        _check_attachment(msgtype, attachment.get(msgtype))


@route("externalcontact/send_welcome_msg")
def send_welcome_msg(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Usable once, within welcome_code_ttl (20 s) of the add_external_contact event."""
    state, body = sandbox.state, req.json
    code = body.get("welcome_code")
    if not isinstance(code, str) or not code:
        raise _invalid("welcome_code is required")
    content = _check_text(body["text"]) if "text" in body else ""
    attachments = body.get("attachments") or []
    check_attachments(attachments)
    for attachment in attachments:
        check_media(state, attachment["msgtype"], attachment[attachment["msgtype"]])
    if not content and not attachments:
        raise _invalid("text and attachments cannot both be empty")
    welcome = state.welcome_codes.get(code)
    if welcome is None or time.time() - welcome.issued_at > sandbox.welcome_code_ttl:
        raise SandboxError(41050, "welcome_code expired or invalid")
    if welcome.used:
        raise SandboxError(41051, "customer and user are already chatting: welcome_code used")
    welcome.used = True
    return {}


_TEMPLATE_PARTS = ("text", *ATTACHMENT_TYPES)


def _template_parts(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    parts = {k: body[k] for k in _TEMPLATE_PARTS if body.get(k)}
    if "text" in parts:
        _check_text(parts["text"])
    for kind in ATTACHMENT_TYPES:
        if kind in parts:
            _check_attachment(kind, parts[kind])
            check_media(state, kind, parts[kind])
    return parts


def _template(state: SandboxState, template_id: Any) -> dict[str, Any]:
    template = state.group_welcome_templates.get(template_id) if isinstance(template_id, str) else None
    if template is None:
        raise _invalid(f"invalid template_id {template_id!r}")
    return template


@route("externalcontact/group_welcome_template/add")
def group_welcome_template_add(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``%NICKNAME%`` in text.content is kept verbatim: WeCom substitutes it when it sends."""
    state = sandbox.state
    parts = _template_parts(state, req.json)
    if not parts:
        raise _invalid("a template needs text or an attachment")
    if len(state.group_welcome_templates) >= MAX_GROUP_WELCOME_TEMPLATES:
        raise _invalid(f"a corp has at most {MAX_GROUP_WELCOME_TEMPLATES} group welcome templates")
    template_id = make_id(state, "msg", 24)
    state.group_welcome_templates[template_id] = {
        **parts,
        "notify": int(req.json.get("notify", 1) or 0),
        "create_time": int(time.time()),
    }
    return {"template_id": template_id}


@route("externalcontact/group_welcome_template/edit")
def group_welcome_template_edit(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    template = _template(sandbox.state, req.json.get("template_id"))
    template.update(_template_parts(sandbox.state, req.json))
    return {}


@route("externalcontact/group_welcome_template/get")
def group_welcome_template_get(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    template = _template(sandbox.state, req.json.get("template_id"))
    return {k: template[k] for k in _TEMPLATE_PARTS if k in template}


@route("externalcontact/group_welcome_template/del")
def group_welcome_template_del(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state = sandbox.state
    _template(state, req.json.get("template_id"))
    del state.group_welcome_templates[req.json["template_id"]]
    return {}


# -- contact book (wecom-api.md §2a) ----------------------------------------------------------------

NO_PRIVILEGE = 60011  # outside the app's visible range


def subtree(state: SandboxState, root: int) -> list[int]:
    """The department and its descendants, breadth first (WeCom's order)."""
    children: dict[int, list[int]] = {}
    for dept in sorted(state.departments.values(), key=lambda d: -d.order):
        children.setdefault(dept.parentid, []).append(dept.id)
    order, queue = [], [root]
    while queue:
        dept_id = queue.pop(0)
        order.append(dept_id)
        queue.extend(children.get(dept_id, []))
    return order


def visible_departments(state: SandboxState) -> set[int]:
    """The departments the app's visible range covers: every one, or those given with all below them."""
    if state.visible_range is None:
        return set(state.departments)
    given = [d for d in state.visible_range.get("departments", ()) if d in state.departments]
    return {dept_id for root in given for dept_id in subtree(state, root)}


def member_visible(state: SandboxState, member: Staff) -> bool:
    """Whether the app may read the member: in a visible department, or in the range by name."""
    if state.visible_range is None:
        return True
    if member.userid in state.visible_range.get("users", ()):
        return True
    return bool(visible_departments(state).intersection(member.department))


def _department_id(state: SandboxState, value: Any) -> int:
    """A department the app may read: 60123 unknown, 60011 outside the visible range."""
    try:
        dept_id = int(value)
    except (TypeError, ValueError):
        dept_id = -1
    if dept_id not in state.departments:
        raise SandboxError(60123, f"invalid department id {value!r}")
    if dept_id not in visible_departments(state):
        raise SandboxError(NO_PRIVILEGE, f"no privilege to access department {dept_id}")
    return dept_id


def _listed_departments(state: SandboxState, req: SandboxRequest) -> list[Department]:
    """``id`` and everything below it, or (no id) every visible department; parents before children."""
    if req.query.get("id"):
        ids = subtree(state, _department_id(state, req.query["id"]))
    else:
        corp_roots = [d.id for d in state.departments.values() if d.parentid not in state.departments]
        visible = visible_departments(state)
        # A visible department whose parent is not visible heads a branch of its own.
        roots = [
            d
            for root in corp_roots
            for d in subtree(state, root)
            if d in visible and state.departments[d].parentid not in visible
        ]
        ids = [i for root in roots for i in subtree(state, root)]
    return [state.departments[i] for i in ids]


@route("department/list", methods=("GET",))
def department_list(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    state = sandbox.state
    leaders: dict[int, list[str]] = {}
    for member in state.staff.values():
        for dept_id in member.leader_in:
            leaders.setdefault(dept_id, []).append(member.userid)
    return {
        "department": [
            {
                "id": d.id,
                "name": d.name,
                "name_en": "",
                "department_leader": leaders.get(d.id, []),
                "parentid": d.parentid,
                "order": d.order,
            }
            for d in _listed_departments(state, req)
        ]
    }


@route("department/simplelist", methods=("GET",))
def department_simplelist(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Ids only (no names): the list that keeps working as WeCom tightens what apps may read."""
    departments = _listed_departments(sandbox.state, req)
    return {"department_id": [{"id": d.id, "parentid": d.parentid, "order": d.order} for d in departments]}


def _members(state: SandboxState, req: SandboxRequest) -> list[Staff]:
    """The department's own members: WeCom documents no ``fetch_child`` any more, so it is ignored
    unless the sandbox is set to the legacy behaviour (then the sub-departments' members come too)."""
    if not req.query.get("department_id"):
        raise SandboxError(60127, "department_id missing")
    dept_id = _department_id(state, req.query["department_id"])
    legacy = state.legacy_fetch_child and req.query.get("fetch_child") == "1"
    wanted = set(subtree(state, dept_id)) if legacy else {dept_id}
    # Members who left the corp (status 5) are no longer in the contact book.
    return [s for s in state.staff.values() if s.status != 5 and wanted.intersection(s.department)]


def render_member(member: Staff) -> dict[str, Any]:
    """A member as user/list and user/get answer it."""
    return {
        "userid": member.userid,
        "name": member.name,
        "department": list(member.department),
        "order": [0] * len(member.department),
        "position": member.position,
        "mobile": member.mobile,
        "gender": str(member.gender),  # WeCom sends gender as a string here
        "email": member.email,
        "is_leader_in_dept": [int(d in member.leader_in) for d in member.department],
        "direct_leader": [],
        "avatar": member.avatar,
        "thumb_avatar": member.avatar.removesuffix("/0") + "/100" if member.avatar else "",
        "telephone": "",
        "alias": "",
        "status": member.status,
        "address": "",
        "main_department": member.department[0] if member.department else 0,
        "extattr": {"attrs": []},
        "qr_code": f"https://open.work.weixin.qq.com/wwopen/userQRCode?vcode=vc{member.userid}",
        "external_position": member.position,
    }


@route("user/list", methods=("GET",))
def user_list(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    return {"userlist": [render_member(s) for s in _members(sandbox.state, req)]}


@route("user/simplelist", methods=("GET",))
def user_simplelist(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    members = _members(sandbox.state, req)
    return {
        "userlist": [{"userid": s.userid, "name": s.name, "department": list(s.department)} for s in members]
    }


@route("user/get", methods=("GET",))
def user_get(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """One member: 60111 unknown or left the corp, 60011 outside the app's visible range."""
    state = sandbox.state
    member = _staff(state, req.query.get("userid"))
    if member.status == 5:
        raise SandboxError(60111, f"invalid userid {member.userid!r}")
    if not member_visible(state, member):
        raise SandboxError(NO_PRIVILEGE, f"no privilege to access member {member.userid}")
    return render_member(member)


DIRECTORY_SETTINGS = ("legacy_fetch_child", "visible_range")


@control_route("settings/directory", methods=("GET", "POST"))
def settings_directory(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``{legacy_fetch_child?: bool, visible_range?: null | {departments: [ids], users: [userids]}}``
    → the contact book settings now in force (validated whole before anything changes)."""
    body, state = req.json if req.method == "POST" else {}, sandbox.state
    unknown = set(body) - set(DIRECTORY_SETTINGS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; allowed: {list(DIRECTORY_SETTINGS)}")
    if "legacy_fetch_child" in body and not isinstance(body["legacy_fetch_child"], bool):
        raise ValueError("legacy_fetch_child must be true or false")
    visible = body.get("visible_range")
    if visible is not None:
        if not isinstance(visible, dict) or set(visible) - {"departments", "users"}:
            raise ValueError('visible_range must be null or {"departments": [ids], "users": [userids]}')
        visible = {"departments": _int_list(visible, "departments"), "users": str_list(visible, "users")}
    with state.lock:
        if "legacy_fetch_child" in body:
            state.legacy_fetch_child = body["legacy_fetch_child"]
        if "visible_range" in body:
            state.visible_range = visible
        settings = {"legacy_fetch_child": state.legacy_fetch_child, "visible_range": state.visible_range}
    return {"settings": settings}


# -- application messages (DOC 90236, wecom-api.md §9a; used for churn alerts and reminders) -------

# A member receives at most this many messages from one app per minute and per hour; WeCom drops the
# rest silently (the call still answers ok).
MESSAGES_PER_MINUTE, MESSAGES_PER_HOUR = 30, 1000
_MESSAGE_TIMES = "message_send"  # state.ext key: userid -> times of the messages the member received
DROPPED_MESSAGES = "message/send/dropped"  # records key: {"at", "userid", "body"} per dropped delivery


def _deliver_messages(state: SandboxState, users: list[str], body: dict[str, Any]) -> None:
    """Count a message for each member who may still receive one; record the others as dropped."""
    current = time.time()
    received: dict[str, list[float]] = state.ext.setdefault(_MESSAGE_TIMES, {})
    for userid in users:
        times = [t for t in received.get(userid, ()) if current - t < 3600]
        last_minute = sum(1 for t in times if current - t < 60)
        if last_minute >= MESSAGES_PER_MINUTE or len(times) >= MESSAGES_PER_HOUR:
            state.records[DROPPED_MESSAGES].append({"at": current, "userid": userid, "body": body})
        else:
            times.append(current)
        received[userid] = times


@route("message/send")
def message_send(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """A text message from the self-built app to members; unknown or departed members are reported
    in ``invaliduser`` (WeCom still sends to the others), a wrong agentid is 40056. A member past 30
    messages a minute or 1,000 an hour does not get it, and nothing says so (``DROPPED_MESSAGES``)."""
    state, body = sandbox.state, req.json
    if str(body.get("agentid", "")) != sandbox.agent_id:
        raise SandboxError(40056, "invalid agentid")
    if body.get("msgtype") != "text":
        raise SandboxError(40008, "invalid message type: the sandbox sends text messages only")
    content = (body.get("text") or {}).get("content")
    if not isinstance(content, str) or not content:
        raise _invalid("text.content is required")
    if len(content.encode()) > 2048:
        raise SandboxError(45002, "content size out of limit")
    users = [u for u in str(body.get("touser", "")).split("|") if u]
    if not users:
        raise SandboxError(40031, "invalid touser: no recipient")
    invalid = [u for u in users if u not in state.staff or state.staff[u].status == 5]
    with state.lock:
        _deliver_messages(state, [u for u in dict.fromkeys(users) if u not in invalid], body)
        msgid = state.next_id("msg")
    return {"invaliduser": "|".join(invalid), "msgid": msgid}
