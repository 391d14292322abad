"""The sandbox's own API under /sandbox/: act out customers and admins, read records, set faults, and
serve the channel code QR images that ``add_contact_way``'s ``qr_code`` URLs point to.

What happens in WeCom's apps rather than through its API — a customer scans a channel code, deletes a
salesperson, an admin renames a tag — is simulated here: the state changes and the app gets the same
encrypted callback WeCom would send. Handlers take ``state.lock`` themselves and release it before
``send_callback`` (the app may call the sandbox back while it handles the event). Bad input answers
HTTP 400 ``{"error": ...}``, a QR image of no code 404.
"""

from __future__ import annotations

import io
import random
import secrets
import time
from typing import TYPE_CHECKING, Any

import segno

from .endpoints_core import (
    DESCRIPTION_MAX,
    REMARK_MAX,
    WAY_TEXT_MAX,
    contact_me_url,
    delete_tags,
    live_tag,
    opt_str,
    retag,
    str_list,
    subtree,
    tag_name,
)
from .generator import make_id, new_customer, new_external_userid
from .registry import RawResponse, SandboxNotFoundError, SandboxRequest, control_route
from .state import ContactWay, ExternalContact, FollowInfo, SandboxState, Tag, TagGroup, WelcomeCode

if TYPE_CHECKING:
    from .server import Sandbox

WELCOME_CODES_KEPT_SECONDS = 3600  # long past their 20 s of use; kept a while for inspection
QR_SCALE = 10  # pixels per QR module: about 410 px square, near the size of WeCom's channel code images


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


def _scanned_code(state: SandboxState, body: dict[str, Any]) -> ContactWay | None:
    """The channel code scanned: ``config_id``'s, or without ``userid`` the one whose ``state`` is given.

    ``userid`` with ``state`` and no ``config_id`` is a plain add carrying that state (no code looked up).
    """
    config_id = body.get("config_id")
    if config_id is not None:
        way = state.contact_ways.get(config_id) if isinstance(config_id, str) else None
        if way is None:
            raise ValueError(f"unknown config_id {config_id!r}")
        if body.get("state") is not None and body["state"] != way.state:
            raise ValueError(f"channel code {config_id} has state {way.state!r}, not {body['state']!r}")
        return way
    if body.get("userid") is not None or not body.get("state"):
        return None
    matches = [w for w in state.contact_ways.values() if w.state == body["state"]]
    if not matches:
        raise ValueError(f"no channel code has state {body['state']!r}")
    if len(matches) > 1:
        raise ValueError(f"{len(matches)} channel codes have state {body['state']!r}: give config_id")
    return matches[0]


def _code_members(state: SandboxState, way: ContactWay) -> list[str]:
    """Who a scan of the code can reach: its users, then the members of its departments (and their
    sub-departments), in contact book order; only active members with customer-contact permission."""
    departments = {d for party in way.party for d in subtree(state, party)}
    in_departments = [s.userid for s in state.staff.values() if departments.intersection(s.department)]
    candidates = [*way.user, *in_departments]
    return [
        userid
        for userid in dict.fromkeys(candidates)
        if (member := state.staff.get(userid)) is not None
        and member.has_contact_permission
        and member.status == 1
    ]


def _scanned_member(state: SandboxState, way: ContactWay, userid: Any) -> str:
    """The member a scan lands on: ``userid`` if given (one of the code's), else the code's next in turn."""
    members = _code_members(state, way)
    if userid is not None:
        if userid not in members:
            raise ValueError(f"{userid!r} is not among the members of channel code {way.config_id}")
        return userid
    if not members:
        raise ValueError(f"channel code {way.config_id} has no member who can take customers")
    # Round robin per code: consecutive scans spread over its members, the same way on every replay.
    userid = members[way.scans % len(members)]
    way.scans += 1
    return userid


@control_route("simulate/customer-add")
def customer_add(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """A customer adds a member: ``userid``, or scans a channel code (``config_id``, or its ``state``).

    A scanned code picks the member (round robin over its users and department members; ``userid``, if
    also given, must be one of them) and its state goes into the event. A plain ``userid`` add carries
    ``state`` as given, if any. A new customer unless ``external_userid`` names an existing one (who
    adds one more staff member).
    """
    body, state = req.json, sandbox.state
    channel_state = opt_str(body, "state", WAY_TEXT_MAX) or ""
    name = opt_str(body, "name")
    with state.lock:
        way = _scanned_code(state, body)
        if way is None:
            userid = _member(state, body.get("userid"))
        else:
            userid = _scanned_member(state, way, body.get("userid"))
            channel_state = way.state
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
        "userid": userid,
        "state": channel_state,
        "welcome_code": code,
        "callback": sandbox.send_callback(event),
    }


@control_route("qr", methods=("GET",))
def qr_image(sandbox: Sandbox, req: SandboxRequest) -> RawResponse:
    """``qr/<config_id>.png``: the QR code image a channel code's ``qr_code`` URL points to.

    It encodes a 「联系我」 link for the code, as WeCom's does. Unknown or deleted codes, and mini
    program codes (no QR), answer 404.
    """
    name = req.path.removeprefix("qr").strip("/")
    config_id = name.removesuffix(".png")
    with sandbox.state.lock:
        way = sandbox.state.contact_ways.get(config_id) if name.endswith(".png") else None
        if way is None or not way.qr_code:
            raise SandboxNotFoundError(f"no channel code QR image {name!r}")
    image = io.BytesIO()
    segno.make_qr(contact_me_url(config_id), error="m").save(image, kind="png", scale=QR_SCALE, border=4)
    return RawResponse("image/png", image.getvalue())


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
