"""The sandbox's own API under /sandbox/: act out customers and admins, read records, set faults.

What happens in WeCom's apps rather than through its API — a customer scans a channel code, deletes a
salesperson, an admin renames a tag — is simulated here: the state changes and the app gets the same
encrypted callback WeCom would send. Handlers take ``state.lock`` themselves and release it before
``send_callback`` (the app may call the sandbox back while it handles the event). Bad input answers
HTTP 400 ``{"error": ...}``.
"""

from __future__ import annotations

import random
import secrets
import time
from typing import TYPE_CHECKING, Any

from .endpoints_core import (
    DESCRIPTION_MAX,
    REMARK_MAX,
    WAY_TEXT_MAX,
    delete_tags,
    live_tag,
    opt_str,
    retag,
    str_list,
    tag_name,
)
from .generator import make_id, new_customer, new_external_userid
from .registry import SandboxRequest, control_route
from .state import ExternalContact, FollowInfo, SandboxState, Tag, TagGroup, WelcomeCode

if TYPE_CHECKING:
    from .server import Sandbox

WELCOME_CODES_KEPT_SECONDS = 3600  # long past their 20 s of use; kept a while for inspection


def _member(state: SandboxState, userid: Any) -> str:
    member = state.staff.get(userid) if isinstance(userid, str) else None
    if member is None:
        raise ValueError(f"unknown userid {userid!r}")
    if not member.has_contact_permission or member.status != 1:
        raise ValueError(f"{userid} cannot have customers (no customer contact permission or left the corp)")
    return member.userid


def _friend(state: SandboxState, body: dict[str, Any]) -> tuple[str, ExternalContact]:
    userid = body.get("userid")
    if not isinstance(userid, str) or userid not in state.staff:
        raise ValueError(f"unknown userid {userid!r}")
    external_userid = body.get("external_userid")
    contact = state.contacts.get(external_userid) if isinstance(external_userid, str) else None
    if contact is None:
        raise ValueError(f"unknown external_userid {external_userid!r}")
    if userid not in contact.follows:
        raise ValueError(f"{external_userid} is not a customer of {userid}")
    return userid, contact


def _contact_event(change_type: str, userid: str, external_userid: str, **extra: Any) -> dict[str, Any]:
    return {
        "Event": "change_external_contact",
        "ChangeType": change_type,
        "UserID": userid,
        "ExternalUserID": external_userid,
        **extra,
    }


@control_route("simulate/customer-add")
def customer_add(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """A customer adds ``userid`` (scanning a channel code whose ``state`` is given, if any).

    A new customer unless ``external_userid`` names an existing one (who adds one more staff member).
    """
    body, state = req.json, sandbox.state
    channel_state = opt_str(body, "state", WAY_TEXT_MAX) or ""
    name = opt_str(body, "name")
    with state.lock:
        userid = _member(state, body.get("userid"))
        # Seeded by the state's counter: a replayed demo script adds the same customers.
        rng = random.Random(f"{state.corp_id}:{state.next_id('add')}")  # noqa: S311 -- not a secret
        if body.get("external_userid"):
            contact = state.contacts.get(body["external_userid"])
            if contact is None:
                raise ValueError(f"unknown external_userid {body['external_userid']!r}")
            if userid in contact.follows:
                raise ValueError(f"{contact.external_userid} is already a customer of {userid}")
        else:
            external_userid = new_external_userid(rng)
            while external_userid in state.contacts:
                external_userid = new_external_userid(rng)
            contact = new_customer(rng, external_userid, name)
            state.contacts[external_userid] = contact
        external_userid = contact.external_userid
        contact.follows[userid] = FollowInfo(
            userid=userid,
            createtime=int(time.time()),
            add_way=1,
            state=channel_state,
            oper_userid=external_userid,
        )
        now = time.time()
        for stale in [
            c for c, w in state.welcome_codes.items() if now - w.issued_at > WELCOME_CODES_KEPT_SECONDS
        ]:
            del state.welcome_codes[stale]
        code = secrets.token_urlsafe(32)
        state.welcome_codes[code] = WelcomeCode(code, userid, external_userid, now)
    event = _contact_event(
        "add_external_contact", userid, external_userid, State=channel_state, WelcomeCode=code
    )
    return {
        "external_userid": external_userid,
        "welcome_code": code,
        "callback": sandbox.send_callback(event),
    }


@control_route("simulate/customer-delete")
def customer_delete(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """The customer deletes the staff member (churn, 流失): the follow goes, del_follow_user is sent."""
    with sandbox.state.lock:
        userid, contact = _friend(sandbox.state, req.json)
        del contact.follows[userid]
    event = _contact_event("del_follow_user", userid, contact.external_userid)
    return {"callback": sandbox.send_callback(event)}


@control_route("simulate/staff-delete")
def staff_delete(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """The staff member deletes the customer: the follow goes, del_external_contact is sent."""
    source = opt_str(req.json, "source")
    with sandbox.state.lock:
        userid, contact = _friend(sandbox.state, req.json)
        del contact.follows[userid]
    extra = {"Source": source} if source else {}
    event = _contact_event("del_external_contact", userid, contact.external_userid, **extra)
    return {"callback": sandbox.send_callback(event)}


@control_route("simulate/contact-edit")
def contact_edit(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """The staff member edits the customer in the WeCom app (remark, description, phones, corp tags)."""
    body = req.json
    new_remark = opt_str(body, "remark", REMARK_MAX)
    description = opt_str(body, "description", DESCRIPTION_MAX)
    mobiles = str_list(body, "remark_mobiles") if "remark_mobiles" in body else None
    add, remove = str_list(body, "add_tag"), str_list(body, "remove_tag")
    with sandbox.state.lock:
        userid, contact = _friend(sandbox.state, body)
        for tag_id in [*add, *remove]:
            if live_tag(sandbox.state, tag_id) is None:
                raise ValueError(f"unknown tag id {tag_id!r}")
        follow = contact.follows[userid]
        if new_remark is not None:
            follow.remark = new_remark
        if description is not None:
            follow.description = description
        if mobiles is not None:
            follow.remark_mobiles = mobiles
        retag(follow, add, remove)
    event = _contact_event("edit_external_contact", userid, contact.external_userid)
    return {"callback": sandbox.send_callback(event)}


def _tag_create(state: SandboxState, body: dict[str, Any], tag_type: str) -> str:
    now = int(time.time())
    if tag_type == "tag":
        group = state.tag_groups.get(body.get("group_id"))
        if group is None or group.deleted:
            raise ValueError(f"unknown tag group {body.get('group_id')!r}")
        name = tag_name(body.get("name"))
        if any(state.tags[t].name == name for t in group.tag_ids):
            raise ValueError(f"tag {name!r} already exists in {group.group_name}")
        tag = Tag(make_id(state, "et", 30), group.group_id, name, now, order=int(body.get("order") or 0))
        state.tags[tag.id] = tag
        group.tag_ids.append(tag.id)
        return tag.id
    group_name = tag_name(body.get("name"))
    names = [tag_name(n) for n in str_list(body, "tags")]
    if not names or len(set(names)) != len(names):
        raise ValueError("a new tag group needs one or more distinct tags (WeCom has no empty groups)")
    if any(g.group_name == group_name and not g.deleted for g in state.tag_groups.values()):
        raise ValueError(f"tag group {group_name!r} already exists")
    group = TagGroup(make_id(state, "et", 20), group_name, now, order=int(body.get("order") or 0))
    state.tag_groups[group.group_id] = group
    for name in names:
        tag = Tag(make_id(state, "et", 30), group.group_id, name, now)
        state.tags[tag.id] = tag
        group.tag_ids.append(tag.id)
    return group.group_id


def _tag_target(state: SandboxState, body: dict[str, Any], tag_type: str) -> Tag | TagGroup:
    target_id = body.get("id")
    if tag_type == "tag":
        tag = live_tag(state, target_id) if isinstance(target_id, str) else None
        if tag is None:
            raise ValueError(f"unknown tag id {target_id!r}")
        return tag
    group = state.tag_groups.get(target_id) if isinstance(target_id, str) else None
    if group is None or group.deleted:
        raise ValueError(f"unknown tag group id {target_id!r}")
    return group


@control_route("simulate/tag-change")
def tag_change(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """An admin changes corp tags in the WeCom admin console: change_external_tag is sent.

    ``{"change_type": "create", "tag_type": "tag", "group_id", "name"}``,
    ``{"change_type": "create", "tag_type": "tag_group", "name", "tags": [names]}``,
    ``{"change_type": "update", "tag_type", "id", "name"?, "order"?}``, ``{"change_type": "delete",
    "tag_type", "id"}``, ``{"change_type": "shuffle", "id"?}`` (a group's tags, or all groups, reordered).
    """
    body, state = req.json, sandbox.state
    change_type, tag_type = body.get("change_type"), body.get("tag_type", "tag_group")
    if change_type not in ("create", "update", "delete", "shuffle"):
        raise ValueError("change_type must be create, update, delete or shuffle")
    if tag_type not in ("tag", "tag_group"):
        raise ValueError("tag_type must be tag or tag_group")
    with state.lock:
        if change_type == "create":
            changed_id = _tag_create(state, body, tag_type)
        elif change_type == "shuffle":
            tag_type = "tag_group"
            changed_id = _shuffle(state, body.get("id") or "")
        else:
            target = _tag_target(state, body, tag_type)
            changed_id = target.id if isinstance(target, Tag) else target.group_id
            if change_type == "delete":
                delete_tags(state, *(([changed_id], []) if isinstance(target, Tag) else ([], [changed_id])))
            else:
                _rename(state, target, body)
    event = {"Event": "change_external_tag", "ChangeType": change_type, "Id": changed_id, "TagType": tag_type}
    return {"id": changed_id, "callback": sandbox.send_callback(event)}


def _rename(state: SandboxState, target: Tag | TagGroup, body: dict[str, Any]) -> None:
    if body.get("name") is not None:
        name = tag_name(body["name"])
        if isinstance(target, Tag):
            siblings = state.tag_groups[target.group_id].tag_ids
            if any(state.tags[t].name == name for t in siblings if t != target.id):
                raise ValueError(f"tag {name!r} already exists in this group")
            target.name = name
        else:
            if any(
                g.group_name == name and not g.deleted and g is not target for g in state.tag_groups.values()
            ):
                raise ValueError(f"tag group {name!r} already exists")
            target.group_name = name
    if body.get("order") is not None:
        target.order = int(body["order"])


def _shuffle(state: SandboxState, group_id: str) -> str:
    """Reverse the display order of a group's tags (or, with no group, of all groups)."""
    if group_id:
        group = state.tag_groups.get(group_id)
        if group is None or group.deleted:
            raise ValueError(f"unknown tag group id {group_id!r}")
        items: list[Tag] | list[TagGroup] = [state.tags[t] for t in group.tag_ids]
    else:
        items = [g for g in state.tag_groups.values() if not g.deleted]
    orders = sorted((item.order for item in items), reverse=True)
    for item, order in zip(sorted(items, key=lambda i: i.order), orders, strict=True):
        item.order = order
    return group_id


@control_route("simulate/callback")
def raw_callback(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Send any event as is (``{"fields": {"Event": ..., ...}}``): replays, duplicates, out-of-order tests."""
    fields = req.json.get("fields")
    if not isinstance(fields, dict) or not fields.get("Event"):
        raise ValueError('fields must be an object with at least "Event"')
    return {"callback": sandbox.send_callback(fields)}


@control_route("simulate/verify-callback-url")
def verify_callback_url(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """WeCom's URL check (GET with an encrypted echostr), as when an admin saves the callback URL."""
    return sandbox.verify_callback_url()


@control_route("callback-url", methods=("GET", "POST"))
def callback_url(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Where callbacks go: ``{"callback_url": "http://..."}`` or null to stop sending them."""
    if req.method == "POST":
        url = req.json.get("callback_url")
        if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
            raise ValueError("callback_url must be an http(s) URL or null")
        sandbox.callback_url = url
    return {"callback_url": sandbox.callback_url}


@control_route("records", methods=("GET",))
def records(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``records/<api path>``: what the app sent (``?since=<unix time>`` for newer ones only).

    ``records`` alone lists the paths with their counts; ``records/callbacks`` the callbacks sent.
    """
    api_path = req.path.removeprefix("records").strip("/")
    if not api_path:
        with sandbox.state.lock:
            return {"paths": {path: len(items) for path, items in sandbox.state.records.items()}}
    try:
        since = float(req.query.get("since") or 0)
    except ValueError:
        raise ValueError("since must be a unix timestamp") from None
    return {"path": api_path, "records": [r for r in sandbox.records(api_path) if r["at"] > since]}


@control_route("faults", methods=("GET", "POST"))
def faults(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """GET: the faults in force. POST: change them (the spec is in docs/sandbox.md)."""
    if req.method == "POST":
        return sandbox.set_faults(req.json)
    return sandbox.describe_faults()


@control_route("summary", methods=("GET",))
def summary(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    return sandbox.summary()
