"""Tagging and untagging customers through WeCom's ``mark_tag``: one contact now, many as a job.

WeCom holds corp tags per follow, so tagging a customer is one ``mark_tag`` per follow (staff
member). Calls run from a small thread pool sized to the API's concurrency cap (the gateway's
limiter enforces the cap across processes; the pool only keeps that many calls in flight). The
threads do HTTP only; every database write happens afterwards on the calling thread, and only for
the calls WeCom accepted, in one transaction with the TAGGED/UNTAGGED events. Failures are
returned (one contact) or recorded on the job (bulk), never swallowed.

A bulk job walks its contacts in id order, ``CHUNK`` at a time, with ``last_contact_id`` as the
checkpoint. Contacts, not follows, are the unit of the walk because the job's filter can depend on
the very tags it changes ("tag everyone without X with X"): a contact's follows are all handled in
the chunk that selected it, and contacts ahead of the checkpoint are untouched by the job, so the
filter still selects them as it did when the job started.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError

from scrm.durable import work_heartbeat
from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.models import Tenant
from scrm.tenancy.principal import Principal
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import WeComError, WeComRateLimitedError
from scrm.wecom.ratelimit import Limiter

from ..facets import contacts_refresh
from ..models import Contact, EventType, Follow, FollowStatus, Job, JobKind, Segment, Staff, Tag
from ..selectors import contacts_matching, contacts_visible, follow_scope_q
from .events import event_build, events_record
from .jobs import job_create, job_principal, job_progress, job_runner, job_set_total

MARK_TAG = "externalcontact/mark_tag"
CHUNK = 200  # contacts per chunk: one checkpoint, one transaction
RATE_LIMIT_RETRIES = 3  # a 45009 blocks the API for its window; wait it out this many times
MAX_RATE_LIMIT_WAIT = 65.0
HEARTBEAT_EVERY = 20


@dataclass
class Mark:
    """One ``mark_tag`` call: what to add to and remove from one follow, and WeCom's answer."""

    follow_id: int
    contact_id: int
    staff_id: int
    userid: str
    external_userid: str
    channel: str
    add: list[str]
    remove: list[str]
    error: WeComError | None = None

    def as_error(self) -> dict[str, Any]:
        exc = self.error
        return {
            "item": self.contact_id,
            "code": f"wecom_{exc.errcode}" if exc.errcode is not None else "wecom_unreachable",
            "message": exc.errmsg,
            "contact": self.contact_id,
            "external_userid": self.external_userid,
            "staff": self.userid,
            "errcode": exc.errcode,
            "hint": exc.hint,
        }


@dataclass
class TaggingResult:
    accepted: list[Mark] = field(default_factory=list)
    failed: list[Mark] = field(default_factory=list)
    unchanged: int = 0  # follows that already had (or lacked) the tags: no call needed


# --- the calls and the local writes ----------------------------------------------------------


def plan_marks(follows: Iterable[Follow], *, add: list[str], remove: list[str]) -> tuple[list[Mark], int]:
    """The calls needed: follows that already match are left out (and counted)."""
    marks, unchanged = [], 0
    for follow in follows:
        held = set(follow.tag_ids or ())
        to_add = [t for t in add if t not in held]
        to_remove = [t for t in remove if t in held]
        if not to_add and not to_remove:
            unchanged += 1
            continue
        marks.append(
            Mark(
                follow_id=follow.pk,
                contact_id=follow.contact_id,
                staff_id=follow.staff_id,
                userid=follow.staff.userid,
                external_userid=follow.contact.external_userid,
                channel=follow.state,
                add=to_add,
                remove=to_remove,
            )
        )
    return marks, unchanged


def _call(api: WeComAPI, mark: Mark) -> Mark:
    waits = 0
    while True:
        try:
            api.mark_tag(
                userid=mark.userid,
                external_userid=mark.external_userid,
                add_tag=mark.add,
                remove_tag=mark.remove,
            )
            return mark
        except WeComRateLimitedError as exc:
            if waits == RATE_LIMIT_RETRIES:
                mark.error = exc
                return mark
            waits += 1
            time.sleep(min(exc.retry_after, MAX_RATE_LIMIT_WAIT))
        except WeComError as exc:
            mark.error = exc
            return mark


def send_marks(api: WeComAPI, marks: list[Mark], *, heartbeat: Callable[[], None] | None = None) -> None:
    """Call WeCom for every mark, at most the API's concurrency cap at a time; sets ``mark.error``.

    ``heartbeat`` runs on the calling thread every ``HEARTBEAT_EVERY`` answers: a chunk of slow or
    rate-limited calls can take minutes, and a job that stops beating is presumed dead.
    """
    if not marks:
        return
    workers = max(1, min(len(marks), Limiter.configured_cap(MARK_TAG)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mark_tag") as pool:
        futures = [pool.submit(_call, api, mark) for mark in marks]
        for answered, _ in enumerate(as_completed(futures), start=1):
            if heartbeat is not None and answered % HEARTBEAT_EVERY == 0:
                heartbeat()


def apply_marks(marks: list[Mark], *, actor: Actor = SYSTEM, job: Job | None = None) -> None:
    """Write what WeCom accepted: follows' tag ids, TAGGED/UNTAGGED events, the contacts' facets.

    Call inside a transaction. The change is applied to the follow as it is now (locked), not as
    it was read before the calls, so a callback that changed the follow meanwhile is not undone.
    """
    if not marks:
        return
    by_follow = {m.follow_id: m for m in marks}
    wecom_ids = {t for m in marks for t in (*m.add, *m.remove)}
    tags = {t.wecom_id: t for t in Tag.objects.filter(wecom_id__in=wecom_ids)}
    # Locked in id order, so two jobs touching the same follows cannot deadlock.
    follows = list(
        Follow.objects.select_for_update().filter(pk__in=by_follow).only("id", "tag_ids").order_by("id")
    )
    events = []
    for follow in follows:
        mark = by_follow[follow.pk]
        held = [t for t in follow.tag_ids or () if t not in set(mark.remove)]
        held += [t for t in mark.add if t not in held]
        follow.tag_ids = sorted(held)
        for type_, ids in ((EventType.TAGGED, mark.add), (EventType.UNTAGGED, mark.remove)):
            if ids:
                payload: dict[str, Any] = {
                    "tags": [{"id": tags[t].pk, "name": tags[t].name} for t in ids if t in tags],
                    "staff": mark.userid,
                }
                if job is not None:
                    payload["job"] = job.pk
                events.append(
                    event_build(
                        contact_id=mark.contact_id,
                        type=type_,
                        staff_id=mark.staff_id,
                        channel=mark.channel,
                        actor=actor,
                        payload=payload,
                    )
                )
    Follow.objects.bulk_update(follows, ["tag_ids"])
    events_record(events)
    contacts_refresh({m.contact_id for m in marks})


def _tag_lists(add: list[Tag], remove: list[Tag]) -> tuple[list[str], list[str]]:
    return [t.wecom_id for t in add], [t.wecom_id for t in remove]


# --- one contact -----------------------------------------------------------------------------


def contact_tags_change(
    *,
    tenant: Tenant,
    principal: Principal,
    contact: Contact,
    add: list[Tag],
    remove: list[Tag],
    staff: Staff | None = None,
) -> TaggingResult:
    """Tag/untag one customer on each of its active follows the principal may act on (or only
    ``staff``'s). Synchronous: a customer has a handful of follows."""
    follows = (
        Follow.objects.filter(follow_scope_q(principal), contact=contact, status=FollowStatus.ACTIVE)
        .select_related("staff", "contact")
        .order_by("id")
    )
    if staff is not None:
        follows = follows.filter(staff=staff)
    add_ids, remove_ids = _tag_lists(add, remove)
    marks, unchanged = plan_marks(follows, add=add_ids, remove=remove_ids)
    send_marks(api_for(tenant), marks)
    result = TaggingResult(unchanged=unchanged)
    result.accepted = [m for m in marks if m.error is None]
    result.failed = [m for m in marks if m.error is not None]
    with transaction.atomic():
        apply_marks(result.accepted, actor=Actor.of(principal))
    return result


# --- many contacts: the job ------------------------------------------------------------------


def bulk_tag_job_create(
    *,
    principal: Principal,
    action: str,
    tags: list[Tag],
    contacts: list[int] | None = None,
    filters: dict[str, Any] | None = None,
    segment: Segment | None = None,
    idempotency_key: str = "",
) -> tuple[Job, bool]:
    """A tag/untag job over some ``contacts`` (ids), a list ``filters``, or a ``segment`` (its filters
    as they are now). Targets are checked first, within the creator's data scope: an id the creator
    cannot see is as unknown as one that does not exist, and a bad filter is a 400 naming it. The
    scope is stored with the job: it acts only on what its creator may act on, whoever runs it."""
    if contacts is not None:
        ids = sorted(set(contacts))
        visible = set(contacts_visible(principal).filter(pk__in=ids).values_list("pk", flat=True))
        missing = [i for i in ids if i not in visible]
        if missing:
            raise ValidationError({"contacts": [f"Unknown contact ids: {', '.join(map(str, missing))}."]})
        target: dict[str, Any] = {"contacts": ids}
    else:
        field = "segment" if segment is not None else "filters"
        filters = dict(segment.filters) if segment is not None else filters or {}
        try:
            contacts_matching(principal=principal, filters=filters)
        except ValidationError as exc:
            raise ValidationError({field: exc.detail}) from exc
        target = {"filters": filters, **({"segment": segment.pk} if segment is not None else {})}
    params = {
        "action": action,
        "tags": [t.pk for t in tags],
        "tag_names": [t.name for t in tags],
        **target,
    }
    kind = JobKind.TAG if action == "tag" else JobKind.UNTAG
    return job_create(principal=principal, kind=kind, params=params, idempotency_key=idempotency_key)


def job_contacts(job: Job, principal: Principal) -> QuerySet[Contact]:
    if "contacts" in job.params:
        return contacts_visible(principal).filter(pk__in=job.params["contacts"])
    return contacts_matching(principal=principal, filters=job.params.get("filters") or {})


@job_runner(JobKind.TAG)
def run_tag_job(job: Job) -> None:
    _run_bulk(job)


@job_runner(JobKind.UNTAG)
def run_untag_job(job: Job) -> None:
    _run_bulk(job)


def _run_bulk(job: Job) -> None:
    principal = job_principal(job)
    tags = list(Tag.objects.filter(pk__in=job.params["tags"]))
    wecom_ids = [t.wecom_id for t in tags if not t.deleted]
    if not wecom_ids:
        raise ValueError("The job's tags were deleted meanwhile.")
    add, remove = (wecom_ids, []) if job.kind == JobKind.TAG else ([], wecom_ids)
    contacts = job_contacts(job, principal)
    follow_scope = follow_scope_q(principal)
    last = int(job.checkpoint.get("last_contact_id", 0))
    if not job.checkpoint:
        # The follows a fresh job will touch; a resumed job keeps the figure it started with.
        total = Follow.objects.filter(follow_scope, contact__in=contacts, status=FollowStatus.ACTIVE).count()
        job_set_total(job, total)
    api = api_for(job.tenant)
    actor = Actor.creator_of(job)
    while True:
        ids = list(contacts.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:CHUNK])
        if not ids:
            return
        follows = (
            Follow.objects.filter(follow_scope, contact_id__in=ids, status=FollowStatus.ACTIVE)
            .select_related("staff", "contact")
            .order_by("id")
        )
        marks, unchanged = plan_marks(follows, add=add, remove=remove)
        send_marks(api, marks, heartbeat=lambda: work_heartbeat(job))
        accepted = [m for m in marks if m.error is None]
        failed = [m for m in marks if m.error is not None]
        last = ids[-1]
        with transaction.atomic():
            apply_marks(accepted, actor=actor, job=job)
            job_progress(
                job,
                done=len(accepted) + unchanged,
                failed=len(failed),
                errors=[m.as_error() for m in failed],
                checkpoint={"last_contact_id": last},
            )
