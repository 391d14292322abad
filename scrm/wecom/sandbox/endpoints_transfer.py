"""Customer transfer (wecom-api.md section 10): hand customers from one staff member to another.

A transfer is not immediate in WeCom: the customer has 24 hours to refuse, then the follow moves to
the takeover and WeCom sends del_external_contact (Source DELETE_BY_TRANSFER) for the handover and
add_external_contact for the takeover, or transfer_fail if it did not happen. Here the delay is the
``transfer_delay_seconds`` setting; due transfers complete when a transfer API is next called (their
events then follow from a background thread, as WeCom pushes them asynchronously) or at once through
``POST /sandbox/simulate/transfer-complete``. Staff who leave (``simulate/staff-resign``) leave their
customers unassigned until ``resigned/transfer_customer`` gives them to someone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .endpoint_helpers import (
    decode_cursor,
    encode_cursor,
    limit_param,
    now,
    page,
    send_callbacks,
    send_callbacks_later,
    setting,
    settings_update,
    str_list_param,
    text_param,
)
from .generator import DAY
from .registry import SandboxError, SandboxRequest, control_route, generator_hook, route
from .state import SandboxState, Staff

if TYPE_CHECKING:
    from .server import Sandbox

SETTINGS = {
    "transfer_delay_seconds": DAY,  # WeCom: the takeover gets the customer 24 hours after the request
    "takeover_customer_limit": 50_000,  # a staff member's customer limit (40099 / status 4 beyond it)
    "transfers_per_customer_90_days": 2,  # WeCom: a customer may be transferred twice in 90 days
}
MAX_CUSTOMERS = 100
RESULT_PAGE = 100  # transfer_result takes no limit; WeCom pages its answer with a cursor
SUCCESS_MSG_MAX = 200
WAITING, DONE, REFUSED, OVER_LIMIT = 2, 1, 3, 4
ADMIN_ASSIGNED = 202  # add_way of a customer the takeover received by transfer


@dataclass
class Transfer:
    kind: str  # "onjob" (transfer_customer) or "resigned" (resigned/transfer_customer)
    handover_userid: str
    takeover_userid: str
    external_userid: str
    requested_at: int
    due_at: int
    status: int = WAITING
    takeover_time: int = 0
    success_msg: str = ""


@dataclass
class TransferBook:
    transfers: list[Transfer] = field(default_factory=list)
    dimission_time: dict[str, int] = field(default_factory=dict)  # resigned userid -> when they left


def book(state: SandboxState) -> TransferBook:
    return state.ext.setdefault("transfer", TransferBook())


@generator_hook
def generate_dimission_times(state: SandboxState, rng: Any, sizes: dict[str, int]) -> None:
    """Staff the core generator made resigned left some time in the last two months."""
    for member in state.staff.values():
        if member.status == 5:
            book(state).dimission_time[member.userid] = state.meta["anchor"] - rng.randint(1, 60) * DAY


@control_route("settings/transfer", methods=("GET", "POST"))
def settings_transfer(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``{transfer_delay_seconds?, takeover_customer_limit?, transfers_per_customer_90_days?}``."""
    return {"settings": settings_update(sandbox.state, SETTINGS, req.json if req.method == "POST" else {})}


# --- settling due transfers ------------------------------------------------------------------


def settle(
    state: SandboxState, current: int, *, force: bool = False, refuse: frozenset[str] = frozenset()
) -> tuple[list[Transfer], list[dict[str, Any]]]:
    """Complete the waiting transfers that are due (all of them with ``force``); returns them and the
    events WeCom sends for them. Call under state.lock; deliver the events after releasing it."""
    settled: list[Transfer] = []
    events: list[dict[str, Any]] = []
    limit = setting(state, SETTINGS, "takeover_customer_limit")
    counts: dict[str, int] = {}  # takeover -> customers, counted once per takeover
    for transfer in book(state).transfers:
        if transfer.status != WAITING or not (force or transfer.due_at <= current):
            continue
        settled.append(transfer)
        takeover = transfer.takeover_userid
        if takeover not in counts:
            counts[takeover] = customer_count(state, takeover)
        contact = state.contacts.get(transfer.external_userid)
        follow = contact.follows.get(transfer.handover_userid) if contact else None
        if contact is None or follow is None or transfer.external_userid in refuse:
            # Refused, or the customer deleted the handover meanwhile: nothing left to hand over.
            transfer.status = REFUSED
            events.append(_event("transfer_fail", takeover, transfer, FailReason="customer_refused"))
        elif counts[takeover] >= limit:
            transfer.status = OVER_LIMIT
            events.append(_event("transfer_fail", takeover, transfer, FailReason="customer_limit_exceed"))
        else:
            del contact.follows[transfer.handover_userid]
            if takeover not in contact.follows:
                contact.follows[takeover] = dataclasses.replace(
                    follow,
                    userid=takeover,
                    createtime=current,
                    add_way=ADMIN_ASSIGNED,
                    oper_userid=transfer.handover_userid,
                    tag_ids=list(follow.tag_ids),
                    remark_mobiles=list(follow.remark_mobiles),
                    personal_tags=[],
                )
                counts[takeover] += 1
            transfer.status, transfer.takeover_time = DONE, current
            handover = transfer.handover_userid
            events.append(_event("del_external_contact", handover, transfer, Source="DELETE_BY_TRANSFER"))
            events.append(_event("add_external_contact", takeover, transfer, State=""))
    return settled, events


def _event(change_type: str, userid: str, transfer: Transfer, **extra: str) -> dict[str, Any]:
    return {
        "Event": "change_external_contact",
        "ChangeType": change_type,
        "UserID": userid,
        "ExternalUserID": transfer.external_userid,
        **extra,
    }


def customer_count(state: SandboxState, userid: str) -> int:
    return sum(1 for c in state.contacts.values() if userid in c.follows)


def _settle_due(sandbox: Sandbox) -> None:
    """Inside an API handler (state.lock held): settle what is due, send its events afterwards."""
    settled, events = settle(sandbox.state, now())
    if settled:
        sandbox.mark_dirty()
        send_callbacks_later(sandbox, events)


@control_route("simulate/transfer-complete")
def simulate_transfer_complete(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``{refuse?: [external_userid]}``: every waiting transfer ends now, as if its 24 hours were up;
    the customers listed refuse theirs (customer_refused)."""
    refuse = str_list_param(req.json, "refuse", maximum=10_000)
    with sandbox.state.lock:
        settled, events = settle(sandbox.state, now(), force=True, refuse=frozenset(refuse))
        counts = {
            status: sum(1 for t in settled if t.status == status) for status in (DONE, REFUSED, OVER_LIMIT)
        }
    return {
        "completed": counts[DONE],
        "refused": counts[REFUSED],
        "over_limit": counts[OVER_LIMIT],
        "callbacks": send_callbacks(sandbox, events),
    }


# --- transfer_customer and resigned/transfer_customer ----------------------------------------


def _member(state: SandboxState, userid: Any, name: str) -> Staff:
    if not userid or not isinstance(userid, str):
        raise SandboxError(40058, f"{name} is required")
    member = state.staff.get(userid)
    if member is None:
        raise SandboxError(60111, f"{name} {userid} does not exist")
    return member


def _request(sandbox: Sandbox, req: SandboxRequest, *, kind: str) -> dict[str, Any]:
    body, state = req.json, sandbox.state
    _settle_due(sandbox)
    handover = _member(state, body.get("handover_userid"), "handover_userid")
    takeover = _member(state, body.get("takeover_userid"), "takeover_userid")
    if handover.userid == takeover.userid:
        raise SandboxError(40130, "handover_userid and takeover_userid are the same")
    if kind == "resigned" and handover.status != 5:
        raise SandboxError(40097, "handover_userid has not resigned")
    if kind == "onjob" and handover.status != 1:
        raise SandboxError(40058, "handover_userid has resigned: use resigned/transfer_customer")
    if takeover.status != 1:
        raise SandboxError(60111, f"takeover_userid {takeover.userid} does not exist")
    if not takeover.has_contact_permission:
        raise SandboxError(84074, "takeover_userid has no customer contact permission")
    if not body.get("external_userid"):
        raise SandboxError(41035, "external_userid is required")
    external_userids = str_list_param(body, "external_userid", maximum=MAX_CUSTOMERS, required=True)
    success_msg = text_param(body, "transfer_success_msg", maximum=SUCCESS_MSG_MAX) if kind == "onjob" else ""
    current = now()
    transfers = book(state).transfers
    incoming = customer_count(state, takeover.userid) + sum(
        1 for t in transfers if t.status == WAITING and t.takeover_userid == takeover.userid
    )
    results = []
    for external_userid in external_userids:
        errcode = _refusal(state, transfers, handover.userid, external_userid, current)
        if errcode == 0 and incoming >= setting(state, SETTINGS, "takeover_customer_limit"):
            errcode = 40099
        if errcode == 0:
            incoming += 1
            delay = setting(state, SETTINGS, "transfer_delay_seconds")
            transfers.append(
                Transfer(
                    kind,
                    handover.userid,
                    takeover.userid,
                    external_userid,
                    current,
                    current + delay,
                    success_msg=success_msg,
                )
            )
        results.append({"external_userid": external_userid, "errcode": errcode})
    return {"customer": results}


def _refusal(
    state: SandboxState, transfers: list[Transfer], handover: str, external_userid: str, current: int
) -> int:
    """Why WeCom would not start this customer's transfer (0: it would)."""
    contact = state.contacts.get(external_userid)
    if contact is None:
        return 40096
    if handover not in contact.follows:
        return 84061
    mine = [t for t in transfers if t.external_userid == external_userid]
    if any(t.status == WAITING for t in mine):
        return 40100
    recent = [t for t in mine if t.status == DONE and t.requested_at > current - 90 * DAY]
    if len(recent) >= setting(state, SETTINGS, "transfers_per_customer_90_days"):
        return 40128
    return 0


@route("externalcontact/transfer_customer")
def transfer_customer(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    return _request(sandbox, req, kind="onjob")


@route("externalcontact/resigned/transfer_customer")
def resigned_transfer_customer(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    return _request(sandbox, req, kind="resigned")


def _result(sandbox: Sandbox, req: SandboxRequest, *, kind: str) -> dict[str, Any]:
    """The latest transfer of each customer between the two staff members, in request order."""
    body, state = req.json, sandbox.state
    _settle_due(sandbox)
    handover = _member(state, body.get("handover_userid"), "handover_userid").userid
    takeover = _member(state, body.get("takeover_userid"), "takeover_userid").userid
    latest: dict[str, Transfer] = {}
    for transfer in book(state).transfers:
        if (transfer.kind, transfer.handover_userid, transfer.takeover_userid) == (kind, handover, takeover):
            latest.pop(transfer.external_userid, None)  # listed where its latest request was made
            latest[transfer.external_userid] = transfer
    chunk, next_cursor = page(list(latest.values()), body.get("cursor"), RESULT_PAGE)
    customers = []
    for transfer in chunk:
        item: dict[str, Any] = {"external_userid": transfer.external_userid, "status": transfer.status}
        if transfer.takeover_time:
            item["takeover_time"] = transfer.takeover_time
        customers.append(item)
    return {"customer": customers, "next_cursor": next_cursor}


@route("externalcontact/transfer_result")
def transfer_result(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    return _result(sandbox, req, kind="onjob")


@route("externalcontact/resigned/transfer_result")
def resigned_transfer_result(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    return _result(sandbox, req, kind="resigned")


# --- resigned staff --------------------------------------------------------------------------


@route("externalcontact/get_unassigned_list")
def get_unassigned_list(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """Customers of staff who left and are not being (or been) given to someone: by cursor, or by the
    older page_id (page_id x page_size)."""
    body, state = req.json, sandbox.state
    _settle_due(sandbox)
    page_size = limit_param(body, "page_size", default=1000, maximum=1000)
    transfers = book(state)
    taken = {
        (t.handover_userid, t.external_userid) for t in transfers.transfers if t.status in (WAITING, DONE)
    }
    resigned = [s.userid for s in state.staff.values() if s.status == 5]
    info = [
        {
            "handover_userid": userid,
            "external_userid": contact.external_userid,
            "dimission_time": transfers.dimission_time.get(userid, 0),
        }
        for userid in resigned
        for contact in state.contacts.values()
        if userid in contact.follows and (userid, contact.external_userid) not in taken
    ]
    if body.get("cursor"):
        start = decode_cursor(body["cursor"])
    else:
        page_id = body.get("page_id") or 0
        if isinstance(page_id, bool) or not isinstance(page_id, int) or page_id < 0:
            raise SandboxError(40058, "page_id must be a non-negative integer")
        start = page_id * page_size
    chunk = info[start : start + page_size]
    is_last = start + page_size >= len(info)
    return {
        "info": chunk,
        "is_last": is_last,
        "next_cursor": "" if is_last else encode_cursor(start + page_size),
    }


@control_route("simulate/staff-resign")
def simulate_staff_resign(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``{userid}``: the staff member leaves the corp. Their customers become unassigned and the groups
    they own wait for a new owner (status 1), as in WeCom."""
    state = sandbox.state
    current = now()
    with state.lock:
        userid = req.json.get("userid")
        member = state.staff.get(userid) if isinstance(userid, str) else None
        if member is None:
            raise ValueError(f"unknown userid {userid!r}")
        if member.status != 1:
            raise ValueError(f"{userid} has already left")
        member.status = 5
        book(state).dimission_time[member.userid] = current
        groups = [c for c in state.groups.values() if c.owner == member.userid and not c.dismissed]
        for chat in groups:
            chat.status = 1
        return {
            "userid": member.userid,
            "dimission_time": current,
            "unassigned_customers": customer_count(state, member.userid),
            "groups_awaiting_owner": len(groups),
        }
