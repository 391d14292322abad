"""Customer transfers (wecom-api.md §10): on-job transfer and resigned inheritance, as jobs.

A transfer job holds one ``TransferItem`` per customer. The runner sends the pending items to
WeCom in chunks of 100 and records WeCom's per-customer answer (waiting, or failed with its
errcode). WeCom completes a transfer only after the customer had 24 hours to refuse, so waiting
items are polled with ``transfer_result`` (right after sending, then by the beat task
``contacts.poll_transfers``) until each ends succeeded, refused or over the takeover's limit. A
success moves the follow locally as WeCom did: the handover's follow ends as transferred and the
takeover's starts (add_way 202, remark and tags carried over), with a TRANSFERRED event.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scrm.tenancy.actors import Actor
from scrm.tenancy.models import Tenant
from scrm.tenancy.principal import Principal
from scrm.tenancy.services import audit_record
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import HINTS, WeComError, WeComRateLimitedError

from ..facets import contacts_refresh
from ..models import (
    Contact,
    EventType,
    Follow,
    FollowStatus,
    Job,
    JobKind,
    Staff,
    TransferItem,
    TransferStatus,
)
from .events import event_build, events_record
from .jobs import job_create, job_finish, job_progress, job_runner

CHUNK = 100  # WeCom's limit of customers per transfer request
ADMIN_ASSIGNED = 202  # the add_way WeCom gives a follow received by transfer
ALREADY_WAITING = 40100
# transfer_result's per-customer status → ours. 5 ("no transfer") ends the item: WeCom has none.
RESULT_STATUS = {
    1: TransferStatus.SUCCEEDED,
    2: TransferStatus.WAITING,
    3: TransferStatus.REFUSED,
    4: TransferStatus.OVER_LIMIT,
    5: TransferStatus.FAILED,
}
RESULT_DETAIL = {
    TransferStatus.REFUSED: "The customer refused the transfer.",
    TransferStatus.OVER_LIMIT: "The takeover member has reached WeCom's customer limit.",
    TransferStatus.FAILED: "WeCom has no transfer for this customer (status 5).",
}
HINTS_EXTRA = {
    40097: "The handover member has not resigned: use an on-job transfer.",
    40099: "The takeover member has reached WeCom's customer limit.",
    40100: "This customer is already waiting for a transfer.",
    40128: "A customer can be transferred at most twice in 90 days.",
    40130: "Handover and takeover are the same member.",
}


def transfer_job_create(
    *,
    principal: Principal,
    kind: str,
    handover: Staff,
    takeover: Staff,
    contacts: list[Contact] | None,
    message: str = "",
    idempotency_key: str = "",
) -> tuple[Job, bool]:
    """A transfer (``kind`` transfer: handover still employed) or inheritance (``kind`` inherit: the
    handover resigned) of ``contacts``, or of every customer the handover follows (``None``)."""
    if handover.pk == takeover.pk:
        raise ValidationError({"takeover": ["Handover and takeover must be different members."]})
    if kind == JobKind.TRANSFER and not handover.is_active:
        raise ValidationError({"handover": ["This member has resigned: inherit their customers instead."]})
    if kind == JobKind.INHERIT and handover.is_active:
        raise ValidationError(
            {"handover": ["This member has not resigned: transfer their customers instead."]}
        )
    if not takeover.is_active or not takeover.has_contact_permission:
        raise ValidationError({"takeover": ["The takeover must be an active member with customer contact."]})
    followed = Follow.objects.filter(staff=handover, status=FollowStatus.ACTIVE)
    if contacts is None:
        contact_ids = list(followed.order_by("contact_id").values_list("contact_id", flat=True))
        if not contact_ids:
            raise ValidationError({"handover": ["This member has no customers to hand over."]})
    else:
        contact_ids = sorted({c.pk for c in contacts})
        known = set(followed.filter(contact_id__in=contact_ids).values_list("contact_id", flat=True))
        missing = [i for i in contact_ids if i not in known]
        if missing:
            raise ValidationError(
                {"contacts": [f"Not customers of {handover.userid}: {', '.join(map(str, missing))}."]}
            )
    params = {
        "handover": handover.userid,
        "takeover": takeover.userid,
        "contacts": contact_ids if contacts is not None else None,
        "all": contacts is None,
        "message": message,
    }
    with transaction.atomic():
        job, created = job_create(
            principal=principal,
            kind=kind,
            params=params,
            total=len(contact_ids),
            idempotency_key=idempotency_key,
        )
        if created:
            # Handing customers to someone else is a sensitive act: who did it stays on record.
            audit_record(actor=Actor.of(principal), action=f"contacts.{kind}", data={"job": job.pk, **params})
            TransferItem.objects.bulk_create(
                [
                    TransferItem(job=job, contact_id=i, handover=handover, takeover=takeover)
                    for i in contact_ids
                ],
                batch_size=1000,
            )
    return job, created


# --- sending ---------------------------------------------------------------------------------


def _hint(errcode: int | None) -> str:
    return HINTS_EXTRA.get(errcode) or HINTS.get(errcode, "")


def _item_error(item: TransferItem, errcode: int | None, message: str) -> dict[str, Any]:
    return {
        "item": item.contact_id,
        "code": f"wecom_{errcode}" if errcode is not None else "wecom_unreachable",
        "message": message,
        "contact": item.contact_id,
        "external_userid": item.contact.external_userid,
        "errcode": errcode,
        "hint": _hint(errcode),
    }


def _send(job: Job, api: WeComAPI) -> None:
    items = TransferItem.objects.filter(job=job, status=TransferStatus.PENDING).select_related(
        "contact", "handover", "takeover"
    )
    # A chunk whose answer was lost with a killed worker is sent again; WeCom then answers 40100
    # (already waiting) for customers the first attempt started, which are ours: keep them waiting.
    resent = set(job.checkpoint.get("sending", ()))
    while True:
        chunk = list(items.order_by("id")[:CHUNK])
        if not chunk:
            return
        job_progress(job, checkpoint={**job.checkpoint, "sending": [i.pk for i in chunk]})
        first = chunk[0]
        body = {
            "handover_userid": first.handover.userid,
            "takeover_userid": first.takeover.userid,
            "external_userid": [i.contact.external_userid for i in chunk],
        }
        answers: dict[str, int] = {}
        failure: WeComError | None = None
        try:
            if job.kind == JobKind.INHERIT:
                response = api.resigned_transfer_customer(**body)
            else:
                response = api.transfer_customer(
                    **body, transfer_success_msg=job.params.get("message") or None
                )
            answers = {c["external_userid"]: int(c.get("errcode", 0)) for c in response.get("customer", [])}
        except WeComRateLimitedError:
            return  # nothing was sent: the chunk stays pending for the next attempt (see _run)
        except WeComError as exc:
            if exc.errcode is None:
                # No answer (a timeout): WeCom may have started these transfers. Keep them pending
                # with the chunk in the checkpoint; the resend's 40100 answers then keep them waiting.
                return
            failure = exc  # the whole request was refused: every customer in it failed
        errors = []
        now = timezone.now()
        for item in chunk:
            item.updated_at = now
            errcode = failure.errcode if failure else answers.get(item.contact.external_userid, 0)
            if errcode == 0 or (errcode == ALREADY_WAITING and item.pk in resent):
                item.status, item.errcode, item.detail = TransferStatus.WAITING, 0, ""
            else:
                message = failure.errmsg if failure else f"WeCom refused this customer ({errcode})."
                item.status, item.errcode = TransferStatus.FAILED, errcode or 0
                item.detail = (_hint(errcode) or message)[:255]
                errors.append(_item_error(item, errcode, message))
        with transaction.atomic():
            TransferItem.objects.bulk_update(chunk, ["status", "errcode", "detail", "updated_at"])
            job_progress(job, failed=len(errors), errors=errors, checkpoint={**job.checkpoint, "sending": []})
        resent = set()


# --- polling ---------------------------------------------------------------------------------


def _results(api: WeComAPI, job: Job, handover: str, takeover: str) -> dict[str, dict[str, Any]]:
    call = api.resigned_transfer_result if job.kind == JobKind.INHERIT else api.transfer_result
    results: dict[str, dict[str, Any]] = {}
    cursor = ""
    while True:
        page = call(handover_userid=handover, takeover_userid=takeover, cursor=cursor)
        for customer in page.get("customer", []):
            results[customer["external_userid"]] = customer
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return results


def transfers_poll(*, tenant: Tenant, job: Job) -> int:
    """Ask WeCom how the job's waiting transfers ended and apply those that did; returns how many
    are still waiting. Safe to run twice at once: each item is claimed by a conditional UPDATE."""
    waiting = list(
        TransferItem.objects.filter(job=job, status=TransferStatus.WAITING).select_related(
            "contact", "handover", "takeover"
        )
    )
    if not waiting:
        return 0
    api = api_for(tenant)
    results = _results(api, job, waiting[0].handover.userid, waiting[0].takeover.userid)
    actor = Actor.creator_of(job)  # the job's creator, member or API key, did what it asked for
    still = 0
    for item in waiting:
        answer = results.get(item.contact.external_userid)
        status = RESULT_STATUS.get(int(answer["status"])) if answer else None
        if status in (None, TransferStatus.WAITING):
            still += 1
            continue
        taken_at = answer.get("takeover_time")
        when = dt.datetime.fromtimestamp(taken_at, tz=dt.UTC) if taken_at else timezone.now()
        with transaction.atomic():
            claimed = TransferItem.objects.filter(pk=item.pk, status=TransferStatus.WAITING).update(
                status=status,
                detail=RESULT_DETAIL.get(status, ""),
                takeover_at=when if status == TransferStatus.SUCCEEDED else None,
                updated_at=timezone.now(),
            )
            if not claimed:
                continue
            if status == TransferStatus.SUCCEEDED:
                _move_follow(item, when=when, actor=actor, job=job)
                job_progress(job, done=1)
            else:
                events_record(
                    [
                        event_build(
                            contact_id=item.contact_id,
                            type=EventType.TRANSFER_FAILED,
                            staff_id=item.handover_id,
                            actor=actor,
                            payload={
                                "from": item.handover.userid,
                                "to": item.takeover.userid,
                                "reason": status,
                                "job": job.pk,
                            },
                        )
                    ]
                )
                errors = [
                    {
                        "item": item.contact_id,
                        "code": f"transfer_{status}",
                        "message": RESULT_DETAIL[status],
                        "contact": item.contact_id,
                        "external_userid": item.contact.external_userid,
                        "errcode": None,
                        "hint": RESULT_DETAIL[status],
                    }
                ]
                job_progress(job, failed=1, errors=errors)
    return still


def _move_follow(item: TransferItem, *, when: dt.datetime, actor: Actor, job: Job) -> None:
    """What WeCom did on success: the handover's follow ends, the takeover's carries it on."""
    old = (
        Follow.objects.select_for_update()
        .filter(contact_id=item.contact_id, staff_id=item.handover_id)
        .first()
    )
    carried: dict[str, Any] = {}
    if old is not None:
        carried = {
            "remark": old.remark,
            "description": old.description,
            "remark_corp_name": old.remark_corp_name,
            "remark_mobiles": list(old.remark_mobiles),
            "tag_ids": list(old.tag_ids),
            "state": old.state,
        }
        old.status, old.ended_at = FollowStatus.TRANSFERRED, when
        old.save(update_fields=["status", "ended_at", "updated_at"])
    Follow.objects.update_or_create(
        contact_id=item.contact_id,
        staff_id=item.takeover_id,
        defaults={
            **carried,
            "add_way": ADMIN_ASSIGNED,
            "oper_userid": item.handover.userid,
            "added_at": when,
            "status": FollowStatus.ACTIVE,
            "ended_at": None,
        },
    )
    events_record(
        [
            event_build(
                contact_id=item.contact_id,
                type=EventType.TRANSFERRED,
                occurred_at=when,
                staff_id=item.takeover_id,
                channel=carried.get("state", ""),
                actor=actor,
                payload={"from": item.handover.userid, "to": item.takeover.userid, "job": job.pk},
            )
        ]
    )
    contacts_refresh([item.contact_id])


def transfers_poll_tenant(*, tenant: Tenant) -> int:
    """Poll every job of the tenant with waiting transfers; a job whose last transfer ended is
    finished again, so its status reflects the refusals. Returns how many are still waiting."""
    still = 0
    job_ids = (
        TransferItem.objects.filter(status=TransferStatus.WAITING).values_list("job_id", flat=True).distinct()
    )
    for job in Job.objects.filter(pk__in=list(job_ids)).order_by("id"):
        remaining = transfers_poll(tenant=tenant, job=job)
        still += remaining
        unsent = TransferItem.objects.filter(job=job, status=TransferStatus.PENDING).exists()
        if not remaining and not unsent:
            job_finish(job)
    return still


def _run(job: Job) -> bool:
    """Send what is pending, then poll once (WeCom settles transfers that are due whenever a transfer
    API is called). Returns whether every transfer of the job has ended."""
    _send(job, api_for(job.tenant))
    waiting = transfers_poll(tenant=job.tenant, job=job)
    # Customers still pending (WeCom did not answer, or was rate limited) are sent again when the
    # stale-job sweep picks the job up again.
    return waiting == 0 and not TransferItem.objects.filter(job=job, status=TransferStatus.PENDING).exists()


@job_runner(JobKind.TRANSFER)
def run_transfer_job(job: Job) -> bool:
    return _run(job)


@job_runner(JobKind.INHERIT)
def run_inherit_job(job: Job) -> bool:
    return _run(job)


# --- resigned members' customers -------------------------------------------------------------


def unassigned_page(*, tenant: Tenant, cursor: str = "", page_size: int = 100) -> dict[str, Any]:
    """One page of WeCom's customers of resigned members not yet given to anyone, with our contact
    and staff rows when we know them (two queries per page)."""
    answer = api_for(tenant).get_unassigned_list(cursor=cursor, page_size=page_size)
    info = answer.get("info", [])
    contacts = {
        c.external_userid: c
        for c in Contact.objects.filter(external_userid__in={i["external_userid"] for i in info}).only(
            "id", "external_userid", "name"
        )
    }
    staff = {
        s.userid: s
        for s in Staff.objects.filter(userid__in={i["handover_userid"] for i in info}).only(
            "id", "userid", "name"
        )
    }
    rows = []
    for entry in info:
        contact = contacts.get(entry["external_userid"])
        member = staff.get(entry["handover_userid"])
        dimission = entry.get("dimission_time")
        rows.append(
            {
                "handover": entry["handover_userid"],
                "handover_name": member.name if member else "",
                "external_userid": entry["external_userid"],
                "dimission_time": dt.datetime.fromtimestamp(dimission, tz=dt.UTC) if dimission else None,
                "contact": {"id": contact.pk, "name": contact.name} if contact else None,
            }
        )
    return {
        "results": rows,
        "next_cursor": "" if answer.get("is_last", True) else answer.get("next_cursor", ""),
    }
