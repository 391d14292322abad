"""What an SOP action does, and the deliveries that carry its messages to WeCom.

**Executing** (``action_execute``, called by the engine for the runs of one step in one pass): each
run gets an outcome (done or skipped, and why). Message actions obey do-not-disturb (customers) and,
when the SOP respects them, campaigns' frequency caps (customers and groups): such a run is skipped
with outcome ``dnd`` / ``capped`` and counted, never dropped silently. Tags, stages and points act at
once through their services (idempotent: a run retried after a dead pass tags nothing twice, and points
carry the key ``sop:<step run id>``). Messages become **deliveries**, coalesced per member per
**window** (``settings.SOP_COALESCE_SECONDS``, 60 s: a backlog worked through in 200 passes still gives
a member one task and one reminder a minute per step, where WeCom drops app messages beyond 30 a
minute; 0: one delivery per pass):

- ``remind``: a ``SopTask`` per customer (or group) for its member, a ``Touch`` (kind ``sop``) per
  customer, and ONE app message per member ("N customers to follow up", with the task list's link);
- ``mass_task`` / ``group_send``: ONE ``add_msg_template`` per member (sender = that member, targets =
  the window's customers / groups of that member), a ``SopTask`` per target linked to it; done is read
  back from WeCom (``deliveries_poll``), and so are the ``Touch`` rows (kind ``sop_mass_message``,
  counted by WeCom's receive limit) of what was sent;
- ``moment_task``: ONE Moments task per step per window for the window's members;
- ``notify``: ONE app message per step per window to the operators named.

The engine writes the deliveries, tasks and touches (``effects_write``) in the transaction that marks
the runs, for the runs it still holds. A delivery of the window is **merged** into while it is open
(targets united, ``items`` added); one no longer open (claimed or sent: its window ended while a slow
pass ran) or full (WeCom's recipient limits) is never written into: the runs go to a fresh delivery
under a derived key. An app message's text is rendered when it is sent, from its parts and ``items``,
so a merged reminder counts every customer. A delivery is sent once its window is over
(``created_at`` older than the window).

**Sending** (``deliveries_send``): a delivery is claimed by a conditional UPDATE before its WeCom call,
and the answer written after; the claimed row stays locked during the call, so nobody can take a live
claim for dead (only one whose worker died: the rollback leaves it claimed, unlocked). A claim older
than 5 minutes whose answer was lost is settled before any new call: a mass-message task is looked
for in WeCom (``get_groupmsg_list_v2`` by its member since the claim, same text and as many
attachments, recipients within the delivery's) and adopted when found; a Moments task is created
through an idempotency key (``sop:<delivery id>``), so asking again returns the same task; an app
message cannot be read back, so it is taken as sent (a member may miss one reminder, never get two).
App messages obey WeCom's budget per member (30 a minute, 1,000 an hour, counted from the
deliveries): one over it waits for a later call, it is never dropped. The claim also checks ``items``:
a delivery merged into after it was read is sent by a later call, with its merged targets.

PostgreSQL runs set-based statements (an upsert per batch); other databases (SQLite for ``make run``)
a portable ORM path doing the same (``fast_sql``), correct there because SQLite serialises writers.

Points are granted for the whole batch at once (``_grants_write``), with ``points_grant``'s effects.

**Polling** (``deliveries_poll``): mass tasks' send results → tasks done (``done_via`` "wecom"),
touches; customers WeCom could not reach close their task as skipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings as django_settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from campaigns.models import CampaignTask, DoNotDisturb, Touch, TouchKind
from campaigns.services.audience import tenant_principal
from campaigns.services.caps import caps_check
from contacts.models import Contact, Staff, Stage, Tag
from scrm.tenancy.actors import SYSTEM
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Tenant
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import WeComError, WeComRateLimitedError
from value.services.points import points_grant_many

from ..models import (
    DeliveryKind,
    DeliveryStatus,
    Sop,
    SopDelivery,
    SopTask,
    SopTaskStatus,
    StepStatus,
)
from .definition import Step

logger = logging.getLogger(__name__)

# The split draws (module-level so a test can seed it).
rng = random.Random()  # noqa: S311 -- an A/B draw, not security

# Tests set this to run the portable path (the one SQLite takes) on PostgreSQL.
_FORCE_PORTABLE = False


def fast_sql() -> bool:
    """PostgreSQL: the set-based statements (arrays, upserts, SKIP LOCKED); else the portable ORM path."""
    return connection.vendor == "postgresql" and not _FORCE_PORTABLE


def coalesce_seconds() -> int:
    """The coalescing window (0: one delivery per pass)."""
    return max(0, int(django_settings.SOP_COALESCE_SECONDS))


DONE, SKIPPED = StepStatus.DONE.value, StepStatus.SKIPPED.value
APP_KINDS = (DeliveryKind.REMINDER, DeliveryKind.NOTIFY)
MASS_KINDS = (DeliveryKind.MASS_TASK, DeliveryKind.GROUP_SEND)
PER_MINUTE, PER_HOUR = 30, 1000  # app messages a member receives from one app; WeCom drops the rest
RECOUNT_MARGIN = 10  # how close to a limit an app message is counted again before it is sent
# add_msg_template's recipient limits: a delivery that would grow past them is not merged into.
TARGETS_MAX = {DeliveryKind.MASS_TASK: 10_000, DeliveryKind.GROUP_SEND: 2_000}
# Derived keys tried for runs whose delivery is no longer open or full (one query each, rarely any).
LATE_MAX = 1_000
STALE_CLAIM = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 6
# Deliveries read per call, of app messages and of the rest each: app messages over a member's budget
# are passed over in memory, so a few hundred waiting ones do not hold back the others.
SEND_BATCH = 500
RETRY_LATER_CODES = frozenset({-1, 45033, 40014, 42001})
STILL_DISPATCHING = 41063
RECONCILE_MARGIN = dt.timedelta(minutes=1)
LIST_WINDOW_MAX = dt.timedelta(days=30)
LIST_PAGE = 100
RESULT_PAGE = 1000
CONTENT_MAX_BYTES = 2048  # message/send's limit on a text
SNIPPET = 500  # characters of the step's text quoted in the reminder (the member sends it)
FIRST_POLL_AFTER = dt.timedelta(minutes=1)
POLL_LEASE = dt.timedelta(minutes=15)
POLL_SCHEDULE = (
    (dt.timedelta(hours=6), dt.timedelta(minutes=5)),
    (dt.timedelta(days=3), dt.timedelta(hours=1)),
)
POLL_DAILY = dt.timedelta(days=1)
POLL_CLOSE_AFTER = dt.timedelta(days=14)
POLL_BATCH = 100
TASKS_PATH = "/sop/tasks"
POINTS_MAX = 100_000  # a step grants at most this (the definition's limit)
# get_groupmsg_send_result statuses that close a task other than "sent" (1).
WECOM_REFUSED = {2: "not_a_friend", 3: "receive_limit"}

REMIND_MESSAGE = "【SOP待办】「{sop}」{title}：{count} {noun}待跟进。\n{snippet}\n查看今日SOP待办：{link}"
NOTIFY_MESSAGE = "【SOP通知】「{sop}」{title}：{count} {noun}到达此步骤。\n{text}"


# -- executing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """One claimed run's customer or group, as the engine re-checked it."""

    run_id: int
    enrolment_id: int
    contact_id: int | None
    group_id: int | None
    staff_id: int | None  # the member acting for it
    target: str  # external_userid or chat_id


@dataclass(frozen=True)
class ActionContext:
    tenant: Tenant
    sop: Sop
    version_id: int
    step: Step
    respect_caps: bool
    now: dt.datetime
    pass_key: str  # this window (or pass and round): part of every delivery's coalescing key


@dataclass
class Outcome:
    status: str  # done | skipped
    outcome: str
    detail: dict | None = None
    delivery_key: str | None = None


@dataclass
class DeliverySpec:
    key: str
    kind: str
    step_id: str
    staff_id: int | None
    content: dict  # {"text", "attachments"}; app messages: the message's parts, see app_message_text
    runs: list[tuple[int, str, str]] = field(default_factory=list)  # (run id, target, member userid)
    userids: list[str] = field(default_factory=list)  # notify: the operators


@dataclass
class TaskSpec:
    run_id: int
    staff_id: int
    contact_id: int | None
    group_id: int | None
    title: str
    content: dict
    due_at: dt.datetime
    delivery_key: str | None = None


@dataclass
class Effects:
    """What a batch's actions write with the runs (for the runs the pass still holds)."""

    deliveries: dict[str, DeliverySpec] = field(default_factory=dict)
    tasks: list[TaskSpec] = field(default_factory=list)
    touches: list[tuple[int, str, str]] = field(default_factory=list)  # (run id, target, kind)


def delivery_key(*, sop_id: int, version_id: int, step_id: str, kind: str, member: str, pass_key: str) -> str:
    """The coalescing key: one delivery per (SOP, version, step, kind, member, window or pass)."""
    raw = f"{sop_id}:{version_id}:{step_id}:{kind}:{member}:{pass_key}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _content(step: Step) -> dict:
    return {"text": step.params.get("text") or "", "attachments": list(step.params.get("attachments") or [])}


def _title(ctx: ActionContext) -> str:
    return (ctx.step.params.get("title") or ctx.sop.name)[:200]


def _message_parts(ctx: ActionContext, *, groups: bool) -> dict:
    """What an app message is rendered from when it is sent (``app_message_text``): the step's title
    (the SOP's name is added then), its text, and whether it counts groups or customers."""
    return {
        "title": (ctx.step.params.get("title") or "")[:200],
        "text": ctx.step.params.get("text") or "",
        "groups": groups,
    }


def action_execute(
    *, context: ActionContext, subjects: list[Subject], effects: Effects
) -> dict[int, Outcome]:
    """Run one action step for the pass's subjects: run id → outcome; messages go to ``effects``."""
    action = context.step.params.get("action")
    executor = _EXECUTORS.get(action)
    if executor is None:
        return {s.run_id: Outcome(SKIPPED, "unknown_action") for s in subjects}
    return executor(context, subjects, effects)


def _screen(ctx: ActionContext, subjects: list[Subject]) -> tuple[dict[int, Outcome], list[Subject]]:
    """Leave out (skipped, counted) who has no member, is on do-not-disturb, or is capped."""
    outcomes: dict[int, Outcome] = {}
    kept = []
    for s in subjects:
        if s.staff_id is None:
            outcomes[s.run_id] = Outcome(SKIPPED, "no_member")
        else:
            kept.append(s)
    contact_ids = [s.contact_id for s in kept if s.contact_id]
    if contact_ids:
        dnd = set(
            DoNotDisturb.objects.filter(contact_id__in=contact_ids).values_list("contact_id", flat=True)
        )
        for s in kept:
            if s.contact_id in dnd:
                outcomes[s.run_id] = Outcome(SKIPPED, "dnd")
        kept = [s for s in kept if s.run_id not in outcomes]
    if ctx.respect_caps and kept:
        blocked = caps_check(tenant=ctx.tenant, targets=[s.target for s in kept], at=ctx.now).blocked
        for s in kept:
            if s.target in blocked:
                outcomes[s.run_id] = Outcome(SKIPPED, "capped", {"cap": blocked[s.target]})
        kept = [s for s in kept if s.run_id not in outcomes]
    return outcomes, kept


def _userids(staff_ids) -> dict[int, str]:
    return dict(Staff.objects.filter(pk__in=set(staff_ids)).values_list("pk", "userid"))


def _remind(ctx: ActionContext, subjects: list[Subject], effects: Effects) -> dict[int, Outcome]:
    outcomes, kept = _screen(ctx, subjects)
    userids = _userids(s.staff_id for s in kept)
    content = _content(ctx.step)
    for s in kept:
        key = delivery_key(
            sop_id=ctx.sop.pk,
            version_id=ctx.version_id,
            step_id=ctx.step.id,
            kind=DeliveryKind.REMINDER,
            member=str(s.staff_id),
            pass_key=ctx.pass_key,
        )
        spec = effects.deliveries.setdefault(
            key,
            DeliverySpec(
                key=key,
                kind=DeliveryKind.REMINDER,
                step_id=ctx.step.id,
                staff_id=s.staff_id,
                content=_message_parts(ctx, groups=s.group_id is not None),
            ),
        )
        spec.runs.append((s.run_id, s.target, userids.get(s.staff_id, "")))
        effects.tasks.append(
            TaskSpec(s.run_id, s.staff_id, s.contact_id, s.group_id, _title(ctx), content, ctx.now, key)
        )
        effects.touches.append((s.run_id, s.target, TouchKind.SOP))
        outcomes[s.run_id] = Outcome(DONE, "task_created", delivery_key=key)
    return outcomes


def _mass(ctx: ActionContext, subjects: list[Subject], effects: Effects) -> dict[int, Outcome]:
    kind = DeliveryKind.MASS_TASK if ctx.step.params.get("action") == "mass_task" else DeliveryKind.GROUP_SEND
    outcomes, kept = _screen(ctx, subjects)
    userids = _userids(s.staff_id for s in kept)
    content = _content(ctx.step)
    for s in kept:
        key = delivery_key(
            sop_id=ctx.sop.pk,
            version_id=ctx.version_id,
            step_id=ctx.step.id,
            kind=kind,
            member=str(s.staff_id),
            pass_key=ctx.pass_key,
        )
        spec = effects.deliveries.setdefault(
            key, DeliverySpec(key=key, kind=kind, step_id=ctx.step.id, staff_id=s.staff_id, content=content)
        )
        spec.runs.append((s.run_id, s.target, userids.get(s.staff_id, "")))
        effects.tasks.append(
            TaskSpec(s.run_id, s.staff_id, s.contact_id, s.group_id, _title(ctx), content, ctx.now, key)
        )
        outcomes[s.run_id] = Outcome(DONE, "queued", delivery_key=key)
    return outcomes


def _moment(ctx: ActionContext, subjects: list[Subject], effects: Effects) -> dict[int, Outcome]:
    outcomes = {s.run_id: Outcome(SKIPPED, "no_member") for s in subjects if s.staff_id is None}
    kept = [s for s in subjects if s.staff_id is not None]
    userids = _userids(s.staff_id for s in kept)
    key = delivery_key(
        sop_id=ctx.sop.pk,
        version_id=ctx.version_id,
        step_id=ctx.step.id,
        kind=DeliveryKind.MOMENT_TASK,
        member="",
        pass_key=ctx.pass_key,
    )
    for s in kept:
        spec = effects.deliveries.setdefault(
            key,
            DeliverySpec(
                key=key,
                kind=DeliveryKind.MOMENT_TASK,
                step_id=ctx.step.id,
                staff_id=None,
                content=_content(ctx.step),
            ),
        )
        spec.runs.append((s.run_id, s.target, userids.get(s.staff_id, "")))
        outcomes[s.run_id] = Outcome(DONE, "queued", delivery_key=key)
    return outcomes


def _notify(ctx: ActionContext, subjects: list[Subject], effects: Effects) -> dict[int, Outcome]:
    staff_ids = ctx.step.params.get("staff_ids") or []
    userids = sorted(Staff.objects.filter(pk__in=staff_ids, is_active=True).values_list("userid", flat=True))
    key = delivery_key(
        sop_id=ctx.sop.pk,
        version_id=ctx.version_id,
        step_id=ctx.step.id,
        kind=DeliveryKind.NOTIFY,
        member="",
        pass_key=ctx.pass_key,
    )
    if not userids:
        return {s.run_id: Outcome(SKIPPED, "no_recipient") for s in subjects}
    spec = DeliverySpec(
        key=key,
        kind=DeliveryKind.NOTIFY,
        step_id=ctx.step.id,
        staff_id=None,
        content=_message_parts(ctx, groups=any(s.group_id for s in subjects)),
        userids=userids,
    )
    spec.runs = [(s.run_id, s.target, "") for s in subjects]
    effects.deliveries[key] = spec
    return {s.run_id: Outcome(DONE, "notified", delivery_key=key) for s in subjects}


def _tags(ctx: ActionContext, subjects: list[Subject], effects: Effects) -> dict[int, Outcome]:
    from contacts.services.tagging import contact_tags_change

    adding = ctx.step.params.get("action") == "tag_add"
    tags = list(Tag.objects.filter(pk__in=ctx.step.params.get("tag_ids") or [], deleted=False))
    if not tags:
        return {s.run_id: Outcome(SKIPPED, "tag_missing") for s in subjects}
    contacts = Contact.objects.in_bulk([s.contact_id for s in subjects if s.contact_id])
    staff = Staff.objects.in_bulk([s.staff_id for s in subjects if s.staff_id])
    principal = tenant_principal(ctx.tenant)
    outcomes = {}
    for s in subjects:
        contact, member = contacts.get(s.contact_id), staff.get(s.staff_id)
        if contact is None or member is None:
            outcomes[s.run_id] = Outcome(SKIPPED, "no_member")
            continue
        try:
            result = contact_tags_change(
                tenant=ctx.tenant,
                principal=principal,
                contact=contact,
                add=tags if adding else [],
                remove=[] if adding else tags,
                staff=member,
            )
        except WeComError as exc:
            outcomes[s.run_id] = Outcome(SKIPPED, "wecom_failed", {"error": exc.as_dict()})
            continue
        if result.failed:
            errors = [m.error for m in result.failed]
            outcomes[s.run_id] = Outcome(SKIPPED, "wecom_failed", {"error": errors[0]})
        else:
            outcomes[s.run_id] = Outcome(DONE, "tagged" if adding else "untagged")
    return outcomes


def _stage(ctx: ActionContext, subjects: list[Subject], effects: Effects) -> dict[int, Outcome]:
    from contacts.services.stages import contact_stage_set

    stage_id = ctx.step.params.get("stage_id")
    stage = Stage.objects.filter(pk=stage_id).first() if stage_id is not None else None
    if stage_id is not None and stage is None:
        return {s.run_id: Outcome(SKIPPED, "stage_missing") for s in subjects}
    contacts = Contact.objects.in_bulk([s.contact_id for s in subjects if s.contact_id])
    outcomes = {}
    for s in subjects:
        contact = contacts.get(s.contact_id)
        if contact is None:
            outcomes[s.run_id] = Outcome(SKIPPED, "no_customer")
            continue
        contact_stage_set(contact=contact, stage=stage, actor=SYSTEM)
        outcomes[s.run_id] = Outcome(DONE, "stage_set")
    return outcomes


def _points(ctx: ActionContext, subjects: list[Subject], effects: Effects) -> dict[int, Outcome]:
    """Grant the step's points to each customer, once per run (``sop:<run id>``), for the whole batch
    at once (``points_grant_many``: a handful of queries for 500 runs)."""
    points = int(ctx.step.params.get("points") or 0)
    note = (ctx.step.params.get("note") or "").strip()
    outcomes = {s.run_id: Outcome(SKIPPED, "no_customer") for s in subjects if s.contact_id is None}
    grants = [(s.run_id, s.contact_id) for s in subjects if s.contact_id is not None]
    if not 1 <= points <= POINTS_MAX:
        return {**outcomes, **{run_id: Outcome(SKIPPED, "refused") for run_id, _ in grants}}
    points_grant_many(
        grants=[(contact_id, f"sop:{run_id}") for run_id, contact_id in grants],
        points=points,
        note=note,
        actor=SYSTEM,
        now=ctx.now,
    )
    return {**outcomes, **{run_id: Outcome(DONE, "granted") for run_id, _ in grants}}


_EXECUTORS = {
    "remind": _remind,
    "mass_task": _mass,
    "group_send": _mass,
    "moment_task": _moment,
    "notify": _notify,
    "tag_add": _tags,
    "tag_remove": _tags,
    "set_stage": _stage,
    "grant_points": _points,
}


# -- writing the effects ------------------------------------------------------------------------------


def _fit(content: str) -> str:
    """Cut a message to WeCom's 2,048 bytes (whole characters)."""
    data = content.encode()
    if len(data) <= CONTENT_MAX_BYTES:
        return content
    return data[: CONTENT_MAX_BYTES - len("…".encode())].decode(errors="ignore") + "…"


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text[:SNIPPET] + ("…" if len(text) > SNIPPET else "")


def _targets(spec: DeliverySpec, runs: list[tuple[int, str, str]]) -> list[str]:
    """Who a delivery goes to, for the runs the pass holds: customers / groups (mass tasks), members."""
    if spec.kind in MASS_KINDS:
        return sorted({target for _, target, _ in runs})
    if spec.kind == DeliveryKind.NOTIFY:
        return sorted(spec.userids)
    return sorted({userid for _, _, userid in runs if userid})


def app_message_text(delivery: SopDelivery) -> str:
    """A reminder's or notice's text, rendered when it is sent: ``items`` counts every run merged into
    it, whichever passes wrote them."""
    parts = delivery.content or {}
    template = REMIND_MESSAGE if delivery.kind == DeliveryKind.REMINDER else NOTIFY_MESSAGE
    text = template.format(
        sop=delivery.sop.name,
        title=parts.get("title") or "",
        count=delivery.items,
        noun="个客户群" if parts.get("groups") else "位客户",
        snippet=_snippet(parts.get("text") or ""),
        text=parts.get("text") or "",
        link=f"{django_settings.PUBLIC_URL}{TASKS_PATH}",
    )
    return _fit(text)


@dataclass
class _Placing:
    """A delivery to write: the spec's share of the runs the pass holds, under ``key``."""

    spec: DeliverySpec
    targets: list[str]
    items: int
    key: str


def late_key(key: str, n: int) -> str:
    """The n-th key derived from ``key``, for runs its delivery can no longer take."""
    return hashlib.sha256(f"{key}:late{n}".encode()).hexdigest()


def effects_write(
    *, effects: Effects, held: set[int], tenant: Tenant, sop: Sop, now: dt.datetime
) -> dict[str, int]:
    """Write the deliveries, tasks and touches of the runs in ``held`` (inside the engine's transaction).
    Returns delivery key (the spec's) → id of the delivery its runs went to."""
    placings = []
    for spec in effects.deliveries.values():
        runs = [r for r in spec.runs if r[0] in held]
        if runs:
            placings.append(_Placing(spec=spec, targets=_targets(spec, runs), items=len(runs), key=spec.key))
    Touch.objects.bulk_create(
        [
            Touch(target=target, kind=kind, source=f"sop:{run_id}", at=now)
            for run_id, target, kind in effects.touches
            if run_id in held and target
        ],
        ignore_conflicts=True,
    )
    deliveries = _deliveries_place(placings, sop=sop, now=now)
    SopTask.objects.bulk_create(
        [
            SopTask(
                step_run_id=t.run_id,
                sop=sop,
                staff_id=t.staff_id,
                contact_id=t.contact_id,
                group_id=t.group_id,
                delivery_id=deliveries.get(t.delivery_key) if t.delivery_key else None,
                title=t.title,
                content=t.content,
                due_at=t.due_at,
            )
            for t in effects.tasks
            if t.run_id in held
        ],
        ignore_conflicts=True,
    )
    return deliveries


def _deliveries_place(placings: list[_Placing], *, sop: Sop, now: dt.datetime) -> dict[str, int]:
    """Each placing merged into the open delivery of its key, or a new one. A key whose delivery is no
    longer open (claimed or sent: its window ended while this pass ran) or would grow past WeCom's
    limit goes on to ``late_key(key, 1)``, ``(key, 2)``...: the runs are never lost, and never added
    to what was already sent. One statement per step of that (almost always just the first)."""
    write = _deliveries_upsert if fast_sql() else _deliveries_merge
    placed: dict[str, int] = {}
    pending = placings
    for n in range(LATE_MAX + 1):
        if not pending:
            return placed
        for p in pending:
            p.key = late_key(p.spec.key, n) if n else p.spec.key
        # In key order: two passes merging into the same deliveries lock them in the same order.
        pending.sort(key=lambda p: p.key)
        ids = write(pending, sop=sop, now=now)
        for p in pending:
            if p.key in ids:
                placed[p.spec.key] = ids[p.key]
        pending = [p for p in pending if p.key not in ids]
    raise RuntimeError(f"SOP {sop.pk}: {len(pending)} deliveries found no open key")


_DELIVERY = SopDelivery._meta.db_table


def _deliveries_upsert(placings: list[_Placing], *, sop: Sop, now: dt.datetime) -> dict[str, int]:
    """PostgreSQL: one ``INSERT … ON CONFLICT DO UPDATE`` merging into open deliveries (targets
    united, distinct and sorted; items added). Returns key → id of those written."""
    # A merge may not take a mass task past WeCom's recipient limit (counted with duplicates: it
    # splits a little early rather than late).
    cap = "CASE EXCLUDED.kind " + " ".join(f"WHEN '{k}' THEN {n:d}" for k, n in TARGETS_MAX.items()) + " END"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_DELIVERY} AS d (tenant_id, sop_id, step_id, kind, staff_id, key, content, targets,
                items, status, attempts, msgid, fingerprint, error, created_at)
            SELECT %s, %s, v.step, v.kind, v.staff, v.key, v.content::jsonb, v.targets::jsonb, v.items,
                'open', 0, '', '', '{{}}'::jsonb, %s
            FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[],
                %s::int[]) AS v(step, kind, staff, key, content, targets, items)
            ON CONFLICT (tenant_id, key) DO UPDATE SET
                targets = (
                    SELECT coalesce(jsonb_agg(u.t ORDER BY u.t COLLATE "C"), '[]'::jsonb)
                    FROM (
                        SELECT jsonb_array_elements_text(d.targets)
                        UNION SELECT jsonb_array_elements_text(EXCLUDED.targets)
                    ) AS u(t)
                ),
                items = d.items + EXCLUDED.items
            WHERE d.status = 'open' AND (
                {cap} IS NULL
                OR jsonb_array_length(d.targets) + jsonb_array_length(EXCLUDED.targets) <= {cap}
            )
            RETURNING key, id
            """,  # noqa: S608 -- table names and constants, no input
            [
                sop.tenant_id,
                sop.pk,
                now,
                [p.spec.step_id for p in placings],
                [str(p.spec.kind) for p in placings],
                [p.spec.staff_id for p in placings],
                [p.key for p in placings],
                [json.dumps(p.spec.content, ensure_ascii=False) for p in placings],
                [json.dumps(p.targets, ensure_ascii=False) for p in placings],
                [p.items for p in placings],
            ],
        )
        return dict(cursor.fetchall())


def _deliveries_merge(placings: list[_Placing], *, sop: Sop, now: dt.datetime) -> dict[str, int]:
    """The portable ``_deliveries_upsert``: the keys' rows read (locked where the database can), the
    open ones merged into by one bulk UPDATE, the missing ones inserted. SQLite runs one writer at a
    time, so nobody inserts a key between the read and the insert."""
    existing = {
        d.key: d
        for d in SopDelivery.unscoped.select_for_update()
        .filter(tenant_id=sop.tenant_id, key__in=[p.key for p in placings])
        .only("pk", "key", "kind", "status", "targets", "items")
    }
    ids: dict[str, int] = {}
    merged, new = [], []
    for p in placings:
        d = existing.get(p.key)
        if d is None:
            new.append(
                SopDelivery(
                    tenant_id=sop.tenant_id,
                    sop=sop,
                    step_id=p.spec.step_id,
                    kind=p.spec.kind,
                    staff_id=p.spec.staff_id,
                    key=p.key,
                    content=p.spec.content,
                    targets=p.targets,
                    items=p.items,
                    created_at=now,
                )
            )
            continue
        cap = TARGETS_MAX.get(d.kind)
        if d.status != DeliveryStatus.OPEN or (cap is not None and len(d.targets) + len(p.targets) > cap):
            continue
        d.targets = sorted(set(d.targets) | set(p.targets))
        d.items += p.items
        merged.append(d)
        ids[p.key] = d.pk
    if merged:
        SopDelivery.unscoped.bulk_update(merged, ["targets", "items"])
    for d in SopDelivery.unscoped.bulk_create(new):
        ids[d.key] = d.pk
    return ids


# -- sending ------------------------------------------------------------------------------------------


def delivery_fingerprint(delivery: SopDelivery, sender: str) -> str:
    content = {
        "kind": delivery.kind,
        "sender": sender,
        "content": delivery.content,
        "targets": sorted(delivery.targets),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _app_message_counts(*, tenant: Tenant, now: dt.datetime, userids) -> dict[str, tuple[int, int]]:
    """userid → (SOP app messages claimed or sent to it in the last minute, in the last hour)."""
    userids = sorted(set(userids))
    if not userids:
        return {}
    if not fast_sql():
        return _app_message_counts_portable(tenant=tenant, now=now, userids=userids)
    table = SopDelivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT u, count(*) FILTER (WHERE d.claimed_at > %s), count(*)
            FROM {table} d, jsonb_array_elements_text(d.targets) AS u
            WHERE d.tenant_id = %s AND d.kind = ANY(%s) AND d.status IN ('claimed', 'sent')
                AND d.claimed_at > %s AND d.targets ?| %s AND u = ANY(%s)
            GROUP BY u
            """,  # noqa: S608 -- table names, no input
            [
                now - dt.timedelta(minutes=1),
                tenant.pk,
                [str(k) for k in APP_KINDS],
                now - dt.timedelta(hours=1),
                userids,
                userids,
            ],
        )
        return {userid: (minute, hour) for userid, minute, hour in cursor.fetchall()}


def _app_message_counts_portable(*, tenant: Tenant, now: dt.datetime, userids: list[str]):
    """``_app_message_counts`` counted in Python (SQLite has no jsonb): the last hour's app messages
    are few, a member gets at most 1,000 of them."""
    wanted = set(userids)
    minute_ago = now - dt.timedelta(minutes=1)
    counts: dict[str, list[int]] = {}
    rows = SopDelivery.unscoped.filter(
        tenant_id=tenant.pk,
        kind__in=APP_KINDS,
        status__in=(DeliveryStatus.CLAIMED, DeliveryStatus.SENT),
        claimed_at__gt=now - dt.timedelta(hours=1),
    ).values_list("targets", "claimed_at")
    for targets, claimed_at in rows:
        for userid in set(targets) & wanted:
            count = counts.setdefault(userid, [0, 0])
            count[0] += claimed_at > minute_ago
            count[1] += 1
    return {userid: (minute, hour) for userid, (minute, hour) in counts.items()}


class _Budget:
    """App messages each member got from the SOPs in the last minute and hour (read once per call, then
    counted as this call sends); ``halted`` once WeCom asks us to slow down (the call stops there)."""

    def __init__(self, *, tenant: Tenant, now: dt.datetime, userids: set[str]):
        self.halted = False
        self.minute: dict[str, int] = defaultdict(int)
        self.hour: dict[str, int] = defaultdict(int)
        for userid, (minute, hour) in _app_message_counts(tenant=tenant, now=now, userids=userids).items():
            self.minute[userid], self.hour[userid] = minute, hour

    def allows(self, userids: list[str]) -> bool:
        return all(self.minute[u] < PER_MINUTE and self.hour[u] < PER_HOUR for u in userids)

    def spend(self, userids: list[str]) -> None:
        for u in userids:
            self.minute[u] += 1
            self.hour[u] += 1


def deliveries_send(*, now: dt.datetime | None = None, tenant_id: int | None = None) -> int:
    """Send the open deliveries whose window is over (and settle those claimed more than 5 minutes
    ago), every tenant or ``tenant_id``'s. Returns how many were sent (or adopted from WeCom)."""
    now = now or timezone.now()
    ready = Q(status=DeliveryStatus.OPEN)
    window = coalesce_seconds()
    if window:
        # Younger, it is still collecting its window's runs (passes running now merge into it).
        ready &= Q(created_at__lte=now - dt.timedelta(seconds=window))
    due = SopDelivery.unscoped.filter(
        ready | Q(status=DeliveryStatus.CLAIMED, claimed_at__lt=now - STALE_CLAIM)
    )
    if tenant_id is not None:
        due = due.filter(tenant_id=tenant_id)
    by_tenant: dict[int, list[int]] = defaultdict(list)
    # App messages and the rest read apart, oldest first: reminders waiting for a member's budget
    # never hold back a mass-message task behind them.
    for kinds in (APP_KINDS, tuple(k for k in DeliveryKind if k not in APP_KINDS)):
        rows = due.filter(kind__in=kinds).order_by("created_at", "pk").values_list("pk", "tenant_id")
        for pk, tid in rows[:SEND_BATCH]:
            by_tenant[tid].append(pk)
    sent = 0
    for tenant in Tenant.objects.filter(pk__in=list(by_tenant), is_active=True):
        with tenant_context(tenant):
            sent += _tenant_send(tenant, by_tenant[tenant.pk], now=now)
    return sent


def _tenant_send(tenant: Tenant, ids: list[int], *, now: dt.datetime) -> int:
    deliveries = list(
        SopDelivery.objects.filter(pk__in=ids).select_related("staff", "sop").order_by("created_at", "pk")
    )
    app_users = {u for d in deliveries if d.kind in APP_KINDS for u in d.targets}
    budget = _Budget(tenant=tenant, now=now, userids=app_users)
    api = api_for(tenant)
    sent = 0
    for delivery in deliveries:
        try:
            sent += _delivery_send(tenant, api, delivery, budget=budget, now=now)
        except WeComError as exc:
            # Reading WeCom back failed: the delivery stays claimed and is settled at a later call.
            logger.warning("SOP delivery %s not settled: %s", delivery.pk, exc)
        if budget.halted:
            logger.info("SOP deliveries of tenant %s wait for WeCom's rate limit", tenant.pk)
            break
    return sent


def _sender(delivery: SopDelivery) -> str:
    return delivery.staff.userid if delivery.staff_id else ""


def _delivery_send(
    tenant: Tenant, api: WeComAPI, d: SopDelivery, *, budget: _Budget, now: dt.datetime
) -> int:
    stamp = timezone.now()
    if d.status == DeliveryStatus.OPEN:
        if d.kind in APP_KINDS and not budget.allows(d.targets):
            return 0  # over WeCom's budget for a member: a later call sends it
        fingerprint = delivery_fingerprint(d, _sender(d))
        # ``items`` as read: a pass that merged runs into it since is not sent short of its targets
        # (a later call reads it again). Claimed, nothing merges into it any more.
        if not SopDelivery.objects.filter(pk=d.pk, status=DeliveryStatus.OPEN, items=d.items).update(
            status=DeliveryStatus.CLAIMED,
            claimed_at=stamp,
            attempts=F("attempts") + 1,
            fingerprint=fingerprint,
        ):
            return 0  # another worker claimed it, or a pass merged into it
    else:
        # Claimed long ago and never answered: WeCom may hold it. Settle before any new call.
        previous = d.claimed_at
        if d.kind in APP_KINDS:
            # An app message cannot be read back: taken as sent (never twice).
            return SopDelivery.objects.filter(
                pk=d.pk, status=DeliveryStatus.CLAIMED, claimed_at=previous
            ).update(status=DeliveryStatus.SENT, sent_at=now, error={**(d.error or {}), "outcome": "unknown"})
        if d.kind in MASS_KINDS:
            try:
                found = _reconcile(api, d, now=now)
            except WeComError as exc:
                if exc.errcode == STILL_DISPATCHING:
                    return 0
                raise
            if found is not None:
                msgid, fail_list = found
                logger.info("SOP delivery %s: adopted WeCom task %s after a lost answer", d.pk, msgid)
                return _store_sent(d, msgid=msgid, fail_list=fail_list, now=now)
        if not SopDelivery.objects.filter(pk=d.pk, status=DeliveryStatus.CLAIMED, claimed_at=previous).update(
            claimed_at=stamp, attempts=F("attempts") + 1
        ):
            return 0
    d.status, d.claimed_at, d.attempts = DeliveryStatus.CLAIMED, stamp, d.attempts + 1
    if d.attempts > MAX_ATTEMPTS:
        _store_failed(d, {**(d.error or {}), "gave_up_after_attempts": MAX_ATTEMPTS})
        return 0
    # The claimed row is held (locked) while WeCom is called, so it can only be taken for dead — and
    # settled by reading WeCom back — once this transaction has ended: with the answer written, or with
    # its worker's death (the rollback leaves the claim). A claim moved meanwhile is not ours: no call.
    with transaction.atomic():
        held = SopDelivery.objects.select_for_update().filter(
            pk=d.pk, status=DeliveryStatus.CLAIMED, claimed_at=stamp
        )
        if not list(held.values_list("pk", flat=True)[:1]):
            return 0
        if d.kind in APP_KINDS:
            return _send_app_message(tenant, api, d, budget=budget, now=now)
        if d.kind == DeliveryKind.MOMENT_TASK:
            return _send_moment_task(d, now=now)
        return _send_mass(api, d, budget=budget, now=now)


def _release(d: SopDelivery, exc: WeComError) -> None:
    """WeCom refused without doing anything (busy, rate limit): open again, for a later call. Not an
    attempt: a long rate limit delays a delivery, it never makes it fail."""
    SopDelivery.objects.filter(pk=d.pk, status=DeliveryStatus.CLAIMED, claimed_at=d.claimed_at).update(
        status=DeliveryStatus.OPEN, error=exc.as_dict(), attempts=F("attempts") - 1
    )


def _store_failed(d: SopDelivery, error: dict) -> None:
    SopDelivery.objects.filter(pk=d.pk, status=DeliveryStatus.CLAIMED).update(
        status=DeliveryStatus.FAILED, error=error
    )


def _store_sent(d: SopDelivery, *, msgid: str, fail_list: list[str], now: dt.datetime) -> int:
    """Keep WeCom's answer (written whatever the claim: a msgid is never dropped). Targets WeCom could
    not send to close their tasks as skipped."""
    with transaction.atomic():
        stored = (
            SopDelivery.objects.filter(pk=d.pk, msgid="")
            .exclude(status=DeliveryStatus.SENT)
            .update(
                status=DeliveryStatus.SENT,
                msgid=msgid,
                sent_at=now,
                next_poll_at=now + FIRST_POLL_AFTER if d.kind in MASS_KINDS else None,
                error={"fail_list": fail_list} if fail_list else {},
            )
        )
        if stored and fail_list:
            _tasks_close(d, {target: "wecom_fail_list" for target in fail_list}, now=now)
    return stored


def _send_app_message(
    tenant: Tenant, api: WeComAPI, d: SopDelivery, *, budget: _Budget, now: dt.datetime
) -> int:
    if not tenant.agent_id:
        _store_failed(
            d, {"code": "no_agent", "errmsg": "The tenant has no WeCom app (AgentId) for app messages."}
        )
        return 0
    if not d.targets:
        _store_failed(d, {"code": "no_recipient"})
        return 0
    budget.spend(d.targets)
    # Near the limit, counted again with this claim among them: another worker may have sent to the
    # same member since this call read the counts. Over the budget, it waits (open again) rather than
    # be dropped by WeCom. (Far from it, the count read at the start is enough: a query saved.)
    near = any(
        budget.minute[u] > PER_MINUTE - RECOUNT_MARGIN or budget.hour[u] > PER_HOUR - RECOUNT_MARGIN
        for u in d.targets
    )
    counts = _app_message_counts(tenant=tenant, now=now, userids=d.targets) if near else {}
    if any(minute > PER_MINUTE or hour > PER_HOUR for minute, hour in counts.values()):
        SopDelivery.objects.filter(pk=d.pk, status=DeliveryStatus.CLAIMED).update(
            status=DeliveryStatus.OPEN, attempts=F("attempts") - 1
        )
        return 0
    try:
        answer = api.message_send_text(
            agent_id=tenant.agent_id, touser=d.targets, content=app_message_text(d)
        )
    except WeComError as exc:
        if isinstance(exc, WeComRateLimitedError) or exc.errcode in RETRY_LATER_CODES:
            _release(d, exc)
            budget.halted = True
            return 0
        if exc.errcode is None:
            # Unknown outcome: taken as sent rather than risk a second copy.
            SopDelivery.objects.filter(pk=d.pk, status=DeliveryStatus.CLAIMED).update(
                status=DeliveryStatus.SENT, sent_at=now, error={**exc.as_dict(), "outcome": "unknown"}
            )
            return 0
        _store_failed(d, exc.as_dict())
        return 0
    invalid = sorted(set((answer.get("invaliduser") or "").split("|")) - {""})
    return SopDelivery.objects.filter(pk=d.pk, status=DeliveryStatus.CLAIMED).update(
        status=DeliveryStatus.SENT, sent_at=now, error={"invaliduser": invalid} if invalid else {}
    )


def _send_moment_task(d: SopDelivery, *, now: dt.datetime) -> int:
    from moments.services.compose import (
        EDITABLE,
        MomentTaskStateError,
        moment_task_create,
        moment_task_publish,
    )

    staff_ids = sorted(Staff.objects.filter(userid__in=d.targets).values_list("pk", flat=True))
    data = {
        "text": d.content.get("text") or "",
        "attachments": d.content.get("attachments") or [],
        "staff_ids": staff_ids,
        "department_ids": [],
        "tag_ids": [],
        "scheduled_at": None,
    }
    try:
        # The delivery's key: asking again (after a lost answer) returns the task made the first time.
        task = moment_task_create(actor=SYSTEM, data=data, idempotency_key=f"sop:{d.pk}")
        if task.status in EDITABLE:
            task = moment_task_publish(task=task)
    except ValidationError as exc:
        _store_failed(d, {"code": "invalid", "errmsg": json.dumps(exc.detail, default=str)[:1000]})
        return 0
    except MomentTaskStateError:
        pass  # published by an earlier attempt
    return _store_sent(d, msgid=str(task.pk), fail_list=[], now=now)


def _template_body(api: WeComAPI, d: SopDelivery) -> dict[str, Any]:
    group = d.kind == DeliveryKind.GROUP_SEND
    body: dict[str, Any] = {"chat_type": "group" if group else "single", "sender": _sender(d)}
    body["chat_id_list" if group else "external_userid"] = d.targets
    if d.content.get("text"):
        body["text"] = {"content": d.content["text"]}
    if d.content.get("attachments"):
        from library.services import attachments_for_wecom

        body["attachments"] = attachments_for_wecom(api=api, attachments=d.content["attachments"])
    return body


def _send_mass(api: WeComAPI, d: SopDelivery, *, budget: _Budget, now: dt.datetime) -> int:
    if not d.targets or not _sender(d):
        _store_failed(d, {"code": "no_recipient"})
        return 0
    try:
        answer = api.add_msg_template(_template_body(api, d))
    except WeComError as exc:
        if isinstance(exc, WeComRateLimitedError) or exc.errcode in RETRY_LATER_CODES:
            _release(d, exc)
            budget.halted = isinstance(exc, WeComRateLimitedError)
            return 0
        if exc.errcode is None:
            # No answer: WeCom may hold the task. It stays claimed; the call after the stale delay
            # reads WeCom back before any new call.
            SopDelivery.objects.filter(pk=d.pk, status=DeliveryStatus.CLAIMED, msgid="").update(
                error=exc.as_dict()
            )
            return 0
        _store_failed(d, exc.as_dict())
        return 0
    return _store_sent(d, msgid=answer["msgid"], fail_list=answer.get("fail_list") or [], now=now)


def _reconcile(api: WeComAPI, d: SopDelivery, *, now: dt.datetime) -> tuple[str, list[str]] | None:
    """The WeCom task a dead worker created for ``d``, as (msgid, fail_list); None if there is none.

    Corp-made mass messages of the delivery's member since its claim (a minute early for clock
    differences) with its text and as many attachments, that no delivery or campaign task of ours
    holds, whose recipients all belong to the delivery: the earliest such is adopted. As campaigns'
    ``task_reconcile``, it cannot tell ours from an identical message to a subset of the same
    customers made by another tool in the same minutes.
    """
    group = d.kind == DeliveryKind.GROUP_SEND
    wanted = set(d.targets)
    end = now + RECONCILE_MARGIN
    start = max(d.claimed_at - RECONCILE_MARGIN, end - LIST_WINDOW_MAX)
    candidates = []
    cursor = ""
    while True:
        page = api.get_groupmsg_list_v2(
            {
                "chat_type": "group" if group else "single",
                "start_time": int(start.timestamp()),
                "end_time": int(end.timestamp()),
                "creator": _sender(d),
                "filter_type": 0,
                "limit": LIST_PAGE,
                "cursor": cursor,
            }
        )
        for item in page.get("group_msg_list") or []:
            text = (item.get("text") or {}).get("content") or ""
            if text == (d.content.get("text") or "") and len(item.get("attachments") or []) == len(
                d.content.get("attachments") or []
            ):
                candidates.append(item)
        cursor = page.get("next_cursor") or ""
        if not cursor:
            break
    msgids = [c["msgid"] for c in candidates]
    held = set(SopDelivery.unscoped.filter(msgid__in=msgids).values_list("msgid", flat=True)) | set(
        CampaignTask.unscoped.filter(msgid__in=msgids).values_list("msgid", flat=True)
    )
    for item in sorted(candidates, key=lambda c: (c.get("create_time", 0), c["msgid"])):
        if item["msgid"] in held:
            continue
        targets = set(_send_results(api, item["msgid"], _sender(d), group=group))
        if targets and targets <= wanted:
            return item["msgid"], sorted(wanted - targets)
    return None


def _send_results(api: WeComAPI, msgid: str, userid: str, *, group: bool) -> dict[str, tuple[int, Any]]:
    """target → (status, send_time) of one member's share of a WeCom task (every page)."""
    key = "chat_id" if group else "external_userid"
    results: dict[str, tuple[int, Any]] = {}
    cursor = ""
    while True:
        page = api.get_groupmsg_send_result(msgid=msgid, userid=userid, cursor=cursor, limit=RESULT_PAGE)
        for row in page.get("send_list") or []:
            if row.get(key):
                results[row[key]] = (int(row.get("status") or 0), row.get("send_time"))
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return results


# -- polling ------------------------------------------------------------------------------------------


def _poll_after(age: dt.timedelta) -> dt.timedelta | None:
    if age >= POLL_CLOSE_AFTER:
        return None
    for under, interval in POLL_SCHEDULE:
        if age < under:
            return interval
    return POLL_DAILY


def _from_unix(value: Any, default: dt.datetime) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(int(value), tz=dt.UTC) if value else default
    except (TypeError, ValueError):
        return default


OPEN_TASKS = (SopTaskStatus.TODO, SopTaskStatus.POSTPONED)


def _target_field(d: SopDelivery) -> str:
    return "group__chat_id" if d.kind == DeliveryKind.GROUP_SEND else "contact__external_userid"


def _tasks_close(d: SopDelivery, closing: dict[str, str], *, now: dt.datetime) -> None:
    """Open tasks of ``d`` whose target WeCom could not reach (target → reason): skipped."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for target, reason in closing.items():
        by_reason[reason].append(target)
    for reason, targets in by_reason.items():
        SopTask.objects.filter(
            delivery_id=d.pk, status__in=OPEN_TASKS, **{f"{_target_field(d)}__in": targets}
        ).update(status=SopTaskStatus.SKIPPED, reason=reason, updated_at=now)


def deliveries_poll(*, now: dt.datetime | None = None) -> int:
    """Read the send results of the mass-message deliveries due a poll (every tenant): tasks of targets
    sent → done (``done_via`` "wecom") with a ``Touch``; not a friend / over the receive limit → skipped.
    Polled a minute after the send, every 5 minutes for 6 hours, hourly until 3 days, daily until 14
    days; a delivery whose every target is settled is not polled again. Returns tasks marked done."""
    now = now or timezone.now()
    due = list(
        SopDelivery.unscoped.filter(next_poll_at__lte=now, kind__in=MASS_KINDS, status=DeliveryStatus.SENT)
        .exclude(msgid="")
        .order_by("next_poll_at", "pk")
        .values_list("pk", "tenant_id", "next_poll_at")[:POLL_BATCH]
    )
    # Claimed by pushing the next poll ahead (a lease): a second poller skips them.
    claimed: dict[int, list[int]] = defaultdict(list)
    for pk, tid, next_poll_at in due:
        if SopDelivery.unscoped.filter(pk=pk, next_poll_at=next_poll_at).update(
            next_poll_at=now + POLL_LEASE
        ):
            claimed[tid].append(pk)
    done = 0
    for tenant in Tenant.objects.filter(pk__in=list(claimed), is_active=True):
        with tenant_context(tenant):
            api = api_for(tenant)
            for d in SopDelivery.objects.filter(pk__in=claimed[tenant.pk]).select_related("staff"):
                try:
                    done += _delivery_poll(api, d, now=now)
                except WeComError as exc:
                    logger.warning("SOP delivery %s: results not read (%s)", d.pk, exc)
                    interval = _poll_after(now - (d.sent_at or now))
                    SopDelivery.objects.filter(pk=d.pk).update(
                        next_poll_at=now + interval if interval else None
                    )
    return done


def _delivery_poll(api: WeComAPI, d: SopDelivery, *, now: dt.datetime) -> int:
    group = d.kind == DeliveryKind.GROUP_SEND
    try:
        results = _send_results(api, d.msgid, _sender(d), group=group)
    except WeComError as exc:
        if exc.errcode != STILL_DISPATCHING:
            raise
        results = {}
    sent = {t: _from_unix(when, now) for t, (status, when) in results.items() if status == 1}
    refused = {t: WECOM_REFUSED[status] for t, (status, _) in results.items() if status in WECOM_REFUSED}
    # Targets in WeCom's fail_list were never part of the task: nothing to wait for.
    unsettled = set(d.targets) - set(sent) - set(refused) - set((d.error or {}).get("fail_list") or [])
    marked = 0
    with transaction.atomic():
        if sent:
            # Grouped by send time (a member's confirmation sends them within seconds); conditional on
            # the task being open, so a member who marked it meanwhile keeps their answer.
            by_time: dict[dt.datetime, list[str]] = defaultdict(list)
            for target, when in sent.items():
                by_time[when].append(target)
            for when, targets in by_time.items():
                marked += SopTask.objects.filter(
                    delivery_id=d.pk, status__in=OPEN_TASKS, **{f"{_target_field(d)}__in": targets}
                ).update(status=SopTaskStatus.DONE, done_via="wecom", done_at=when, updated_at=now)
            Touch.objects.bulk_create(
                [
                    Touch(target=t, kind=TouchKind.SOP_MASS_MESSAGE, source=f"sop:{d.pk}", at=when)
                    for t, when in sent.items()
                ],
                ignore_conflicts=True,
            )
        if refused:
            _tasks_close(d, refused, now=now)
        age = now - (d.sent_at or now)
        interval = _poll_after(age) if unsettled else None
        SopDelivery.objects.filter(pk=d.pk).update(
            next_poll_at=now + interval if interval else None,
            confirmed_at=d.confirmed_at or (min(sent.values()) if sent else None),
        )
    return marked
