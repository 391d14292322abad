"""The SOP engine: enrolments, due steps claimed from the database, re-checks, and what each step does.

Due work lives in PostgreSQL (``SopStepRun.due_at``), never in broker ETAs. A pass (``sop_run_due``)
claims up to ``batch`` due runs across tenants with ``SELECT … FOR UPDATE SKIP LOCKED`` (status
``claimed``, ``claimed_at`` = the pass's stamp) and commits the claim at once, so the WeCom calls and
criteria queries that follow hold no row lock. Then, per tenant and per version, set-based:

1. **Re-check before acting**: the SOP is live (paused: the run goes back to pending 5 minutes later;
   stopped: the enrolment exits ``sop_stopped``), the enrolment is active, the customer is still
   followed (by its member, else handed over to another one by campaigns' sender rule; by nobody: exit
   ``lost``), the goal (→ ``goal``) and exit criteria (→ ``exit_criteria``), the trigger's filters
   (no longer matching → ``not_matching``). A group must still exist and not be dismissed (else exit
   ``dismissed``); its owner acts for it (no owner: exit ``lost``). Goal is checked before exit: a
   customer who bought is a conversion even if buying also takes it out of the trigger's filters.
2. **Quiet hours** (tenant zone): an action due inside them goes back to pending, due at their end
   (``detail.deferred`` counts it).
3. **Execute** by type (``actions`` for the actions) and write, in one transaction that first locks the
   runs still claimed by this pass (``claimed_at`` equal): a pass taken for dead (its claims reclaimed
   after 5 minutes) cannot write beside its successor. Message actions become ``SopDelivery`` rows,
   one per step and member per **window** (``settings.SOP_COALESCE_SECONDS``: the passes of a window
   merge into it; 0: one per pass), sent by ``actions.deliveries_send`` once the window is over.
4. **Next step**: its run is inserted (``ON CONFLICT DO NOTHING`` on the step key). One already due
   is inserted claimed by this pass and runs in the same pass (at most ``CHAIN_ROUNDS`` rounds).

Waits: a wait step's run is due when the wait ends (so "waiting at this step" is its pending runs);
when it runs it is done and the next step follows. Time zone and rules: campaigns' settings.

Side effects outside the database are keyed: points with ``sop:<step run id>``, Moments tasks and WeCom
mass-message tasks through their delivery (claimed, reconciled), tags and stages idempotent by nature.

Databases: PostgreSQL runs the set-based statements below (arrays through ``unnest``, ``ON CONFLICT``,
``FOR UPDATE SKIP LOCKED``); any other (SQLite, for ``make run``) a portable ORM path doing the same
(``actions.fast_sql``): bulk inserts that ignore conflicts, bulk updates, and locks it ignores, which
is sound there because SQLite runs one writer at a time.

Failures: an error in one SOP's batch leaves its runs claimed and the pass goes on with the others; the
runs are reclaimed after 5 minutes, and a run whose passes died ``MAX_ATTEMPTS`` times in a row is
skipped (``failed``) and its enrolment exits (``failed``). An enrolment that ends (goal, exit, stop)
cancels its waiting steps; the tasks it already gave members stay open (they may still do them).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.models import SenderRule
from campaigns.services.settings import campaign_settings_get, settings_zone
from contacts.models import ContactStatus, Follow, FollowStatus
from groups.models import GroupStatus
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Tenant

from ..models import (
    EnrolmentStatus,
    Sop,
    SopEnrolment,
    SopKind,
    SopStatus,
    SopStepRun,
    SopVersion,
    StepStatus,
)
from . import actions

# The deliveries (sent after a pass, polled later) are the engine's too (contract §5): callers may use
# either module.
from .actions import deliveries_poll as deliveries_poll
from .actions import deliveries_send as deliveries_send
from .conditions import criteria_met, filters_match
from .definition import DEFAULT_BUSINESS_HOURS, Plan, Step, plan_for

logger = logging.getLogger(__name__)

# A paused SOP's due steps are looked at again this much later.
PAUSE_RETRY = dt.timedelta(minutes=5)
# A run claimed this long ago belongs to a dead worker: it is pending again.
STALE_CLAIM = dt.timedelta(minutes=5)
# A run whose pass died this many times in a row is given up (skipped, outcome "failed") rather than
# retried forever: a step that kills its worker must not block the others. A run put back to pending
# on purpose (paused SOP, quiet hours) starts counting again.
MAX_ATTEMPTS = 10
# Next steps already due run in the same pass, for at most this many rounds (the rest in the next pass).
CHAIN_ROUNDS = 8
INSERT_CHUNK = 5_000

# Exit reasons (SopEnrolment.exit_reason).
EXIT_CRITERIA = "exit_criteria"
LOST = "lost"
NOT_MATCHING = "not_matching"
SOP_STOPPED = "sop_stopped"
DISMISSED = "dismissed"
GOAL = "goal"
FAILED = "failed"

WAIT_TYPES = ("wait", "wait_until", "wait_business_hours")

_STEPRUN = SopStepRun._meta.db_table
_ENROLMENT = SopEnrolment._meta.db_table
_TENANT = Tenant._meta.db_table


@dataclass(frozen=True)
class NewEnrolment:
    contact_id: int | None
    group_id: int | None
    staff_id: int | None
    occurrence: str
    start_at: dt.datetime
    trigger_event_id: int | None = None


@dataclass
class RunResult:
    """What one pass did (counts of step runs, except ``exited``/``completed``: enrolments)."""

    claimed: int = 0
    done: int = 0
    skipped: int = 0
    cancelled: int = 0
    deferred: int = 0  # actions moved out of quiet hours
    paused: int = 0  # runs of paused SOPs pushed back
    exited: int = 0  # enrolments the re-check ended (goal included)
    completed: int = 0  # enrolments past their last step
    chained: int = 0  # next steps run in the same pass
    lost_claims: int = 0  # runs another pass took over (this one was taken for dead)
    failed: int = 0  # runs left claimed by an error (tried again after the stale delay)
    deliveries: int = 0

    @property
    def executed(self) -> int:
        return self.done + self.skipped


# -- time -------------------------------------------------------------------------------------------


def _hm(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def _at(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=zone)


def quiet_end(at: dt.datetime, *, quiet: dict | None, zone: ZoneInfo) -> dt.datetime | None:
    """The end of the quiet hours ``at`` falls in (they may wrap midnight); None outside them."""
    if not quiet:
        return None
    start, end = _hm(quiet["start"]), _hm(quiet["end"])
    local = at.astimezone(zone)
    now, day = local.timetz().replace(tzinfo=None), local.date()
    if start == end:
        return None
    if start < end:
        return _at(day, end, zone) if start <= now < end else None
    if now >= start:
        return _at(day + dt.timedelta(days=1), end, zone)
    return _at(day, end, zone) if now < end else None


def business_open(at: dt.datetime, *, hours: dict | None, zone: ZoneInfo) -> dt.datetime:
    """``at`` when inside the business hours, else their next opening."""
    hours = hours or DEFAULT_BUSINESS_HOURS
    weekdays = set(hours.get("weekdays") or DEFAULT_BUSINESS_HOURS["weekdays"])
    start, end = _hm(hours.get("start", "09:00")), _hm(hours.get("end", "18:00"))
    local = at.astimezone(zone)
    for offset in range(8):
        day = local.date() + dt.timedelta(days=offset)
        if day.isoweekday() not in weekdays:
            continue
        opening, closing = _at(day, start, zone), _at(day, end, zone)
        if closing > at:
            return max(opening, at)
    return at  # no business day at all: nothing to wait for


def wait_until(at: dt.datetime, *, time: str, weekday: int | None, zone: ZoneInfo) -> dt.datetime:
    """The next moment strictly after ``at`` that is ``time`` (on ``weekday``, 1 = Monday)."""
    local = at.astimezone(zone)
    wanted = _hm(time)
    for offset in range(9):
        candidate = _at(local.date() + dt.timedelta(days=offset), wanted, zone)
        if candidate > at and (weekday is None or candidate.isoweekday() == weekday):
            return candidate
    raise AssertionError("unreachable: a weekday comes back within a week")


def step_due(step: Step, *, base: dt.datetime, plan: Plan, zone: ZoneInfo) -> dt.datetime:
    """When a run of ``step`` reached at ``base`` is due: a wait's end, else ``base``."""
    params = step.params
    if step.type == "wait":
        return base + dt.timedelta(
            days=params.get("days") or 0, hours=params.get("hours") or 0, minutes=params.get("minutes") or 0
        )
    if step.type == "wait_until":
        return wait_until(base, time=params["time"], weekday=params.get("weekday"), zone=zone)
    if step.type == "wait_business_hours":
        return business_open(base, hours=plan.business_hours, zone=zone)
    return base


# -- SQL helpers ------------------------------------------------------------------------------------


def _rows(sql: str, params: Iterable[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall() if cursor.description else []


def _runs_insert(rows: list[tuple], *, claimed_at: dt.datetime | None) -> list[tuple]:
    """Insert step runs (tenant, enrolment, sop, version, step id, due_at, claimed?) unless their key
    exists; claimed ones carry this pass's stamp. Returns the inserted (id, enrolment, step, claimed)."""
    if not rows:
        return []
    if not actions.fast_sql():
        return _runs_insert_portable(rows, claimed_at=claimed_at)
    columns = list(zip(*rows, strict=True))
    return _rows(
        f"""
        INSERT INTO {_STEPRUN} (tenant_id, enrolment_id, sop_id, version_id, step_id, occurrence, status,
            due_at, claimed_at, attempts, outcome, branch, detail)
        SELECT v.tenant, v.enrolment, v.sop, v.version, v.step, 0,
            CASE WHEN v.claimed THEN 'claimed' ELSE 'pending' END, v.due,
            CASE WHEN v.claimed THEN %s::timestamptz END, CASE WHEN v.claimed THEN 1 ELSE 0 END,
            '', '', '{{}}'::jsonb
        FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[],
            %s::timestamptz[], %s::boolean[]) AS v(tenant, enrolment, sop, version, step, due, claimed)
        ON CONFLICT (tenant_id, enrolment_id, step_id, occurrence) DO NOTHING
        RETURNING id, enrolment_id, step_id, status = 'claimed'
        """,  # noqa: S608 -- table names, no input
        [claimed_at, *[list(c) for c in columns]],
    )


def _runs_insert_portable(rows: list[tuple], *, claimed_at: dt.datetime | None) -> list[tuple]:
    """``_runs_insert`` with the ORM: the keys already there read first, the others inserted (ignoring
    a conflict), then read back to tell which are new."""
    rows = list({(r[1], r[4]): r for r in reversed(rows)}.values())  # one per key, the first given
    enrolment_ids = {r[1] for r in rows}
    before = set(
        SopStepRun.unscoped.filter(enrolment_id__in=enrolment_ids, occurrence=0).values_list(
            "enrolment_id", "step_id"
        )
    )
    new = [r for r in rows if (r[1], r[4]) not in before]
    SopStepRun.unscoped.bulk_create(
        [
            SopStepRun(
                tenant_id=tenant,
                enrolment_id=enrolment,
                sop_id=sop,
                version_id=version,
                step_id=step,
                occurrence=0,
                status=StepStatus.CLAIMED if claimed else StepStatus.PENDING,
                due_at=due,
                claimed_at=claimed_at if claimed else None,
                attempts=1 if claimed else 0,
                detail={},
            )
            for tenant, enrolment, sop, version, step, due, claimed in new
        ],
        ignore_conflicts=True,
    )
    wanted = {(r[1], r[4]) for r in new}
    return [
        (pk, enrolment, step, status == StepStatus.CLAIMED)
        for pk, enrolment, step, status in SopStepRun.unscoped.filter(
            enrolment_id__in={r[1] for r in new}, occurrence=0
        ).values_list("pk", "enrolment_id", "step_id", "status")
        if (enrolment, step) in wanted
    ]


# -- enrolments -------------------------------------------------------------------------------------


def _enrolments_insert(
    sop: Sop, version: SopVersion, chunk: list[NewEnrolment], subjects: list[str], *, active: bool, now
) -> list[tuple]:
    """Insert the enrolments unless their (SOP, subject, occurrence) exists: (id, subject, occurrence)
    of those inserted."""
    if not actions.fast_sql():
        return _enrolments_insert_portable(sop, version, chunk, subjects, active=active, now=now)
    return _rows(
        f"""
        INSERT INTO {_ENROLMENT} (tenant_id, sop_id, version_id, contact_id, group_id, subject,
            occurrence, staff_id, status, exit_reason, splits, trigger_event_id, enrolled_at,
            finished_at)
        SELECT %s, %s, %s, v.contact, v.grp, v.subject, v.occurrence, v.staff,
            CASE WHEN %s THEN 'active' ELSE 'completed' END, '', '{{}}'::jsonb, v.event, %s,
            CASE WHEN %s THEN NULL ELSE %s::timestamptz END
        FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::bigint[], %s::bigint[])
            AS v(contact, grp, subject, occurrence, staff, event)
        ON CONFLICT (tenant_id, sop_id, subject, occurrence) DO NOTHING
        RETURNING id, subject, occurrence
        """,  # noqa: S608 -- table names, no input
        [
            sop.tenant_id,
            sop.pk,
            version.pk,
            active,
            now,
            active,
            now,
            [i.contact_id for i in chunk],
            [i.group_id for i in chunk],
            subjects,
            [i.occurrence for i in chunk],
            [i.staff_id for i in chunk],
            [i.trigger_event_id for i in chunk],
        ],
    )


def _enrolments_insert_portable(
    sop: Sop, version: SopVersion, chunk: list[NewEnrolment], subjects: list[str], *, active: bool, now
) -> list[tuple]:
    """``_enrolments_insert`` with the ORM: the keys already there read first, the others inserted
    (ignoring a conflict), then read back."""
    items = {}
    for subject, item in zip(subjects, chunk, strict=True):
        items.setdefault((subject, item.occurrence), item)
    before = set(
        SopEnrolment.unscoped.filter(tenant_id=sop.tenant_id, sop=sop, subject__in=set(subjects)).values_list(
            "subject", "occurrence"
        )
    )
    new = {key: item for key, item in items.items() if key not in before}
    SopEnrolment.unscoped.bulk_create(
        [
            SopEnrolment(
                tenant_id=sop.tenant_id,
                sop=sop,
                version=version,
                contact_id=item.contact_id,
                group_id=item.group_id,
                subject=subject,
                occurrence=occurrence,
                staff_id=item.staff_id,
                status=EnrolmentStatus.ACTIVE if active else EnrolmentStatus.COMPLETED,
                splits={},
                trigger_event_id=item.trigger_event_id,
                enrolled_at=now,
                finished_at=None if active else now,
            )
            for (subject, occurrence), item in new.items()
        ],
        ignore_conflicts=True,
    )
    return [
        row
        for row in SopEnrolment.unscoped.filter(
            tenant_id=sop.tenant_id, sop=sop, subject__in={subject for subject, _ in new}
        ).values_list("pk", "subject", "occurrence")
        if (row[1], row[2]) in new
    ]


def enrolments_create(*, sop: Sop, version: SopVersion, items: list[NewEnrolment], now: dt.datetime) -> int:
    """Enrol these customers (or groups) into ``version``, with their first step's run.

    Set-based: ``INSERT … ON CONFLICT DO NOTHING`` on (tenant, sop, subject, occurrence), so enrolling
    again (a retried trigger, a second tick) makes nothing twice. The first run is due at ``start_at``
    (a first wait: its end). Nothing is drawn yet (a split draws when it is reached). A plan with no
    steps completes at once. Returns the enrolments made.
    """
    if not items:
        return 0
    plan = plan_for(version)
    zone = settings_zone(campaign_settings_get(tenant=sop.tenant))
    first = plan.steps.get(plan.first) if plan.first else None
    created = 0
    for start in range(0, len(items), INSERT_CHUNK):
        chunk = items[start : start + INSERT_CHUNK]
        subjects = [f"c{i.contact_id}" if i.contact_id is not None else f"g{i.group_id}" for i in chunk]
        with transaction.atomic():
            rows = _enrolments_insert(sop, version, chunk, subjects, active=first is not None, now=now)
            created += len(rows)
            if first is None or not rows:
                continue
            by_key = {}
            for subject, item in zip(subjects, chunk, strict=True):
                by_key.setdefault((subject, item.occurrence), item)
            _runs_insert(
                [
                    (
                        sop.tenant_id,
                        pk,
                        sop.pk,
                        version.pk,
                        first.id,
                        step_due(first, base=by_key[(subject, occurrence)].start_at, plan=plan, zone=zone),
                        False,
                    )
                    for pk, subject, occurrence in rows
                ],
                claimed_at=None,
            )
    return created


def enrolments_finish(*, enrolment_ids: list[int], status: str, reason: str = "", now: dt.datetime) -> int:
    """Active enrolments → ``status`` (completed, goal or exited, with ``reason``); their pending and
    claimed step runs are cancelled (outcome = the reason). Open tasks they made stay: a member may
    still do them, and the report counts them. Returns the enrolments ended (already ended: none)."""
    ids = list(dict.fromkeys(enrolment_ids))
    if not ids:
        return 0
    ended = list(
        SopEnrolment.objects.filter(pk__in=ids, status=EnrolmentStatus.ACTIVE)
        .values_list("pk", flat=True)
        .order_by()
    )
    if not ended:
        return 0
    fields: dict[str, Any] = {"status": status, "exit_reason": reason, "finished_at": now}
    if status == EnrolmentStatus.GOAL:
        fields["goal_at"] = now
    with transaction.atomic():
        count = SopEnrolment.objects.filter(pk__in=ended, status=EnrolmentStatus.ACTIVE).update(**fields)
        SopStepRun.objects.filter(
            enrolment_id__in=ended, status__in=(StepStatus.PENDING, StepStatus.CLAIMED)
        ).update(status=StepStatus.CANCELLED, outcome=reason or status, executed_at=now)
    return count


def sop_stop(*, sop: Sop, now: dt.datetime) -> int:
    """Every active enrolment of the SOP exits ``sop_stopped`` (the caller sets the SOP's status)."""
    ids = list(
        SopEnrolment.objects.filter(sop=sop, status=EnrolmentStatus.ACTIVE).values_list("pk", flat=True)
    )
    ended = 0
    for start in range(0, len(ids), INSERT_CHUNK):
        ended += enrolments_finish(
            enrolment_ids=ids[start : start + INSERT_CHUNK],
            status=EnrolmentStatus.EXITED,
            reason=SOP_STOPPED,
            now=now,
        )
    return ended


def steps_due_by(at: dt.datetime) -> bool:
    """Whether any step run (any tenant) is pending and due by ``at``: the tick stays (holding a worker)
    only while there is work to come within its time; one indexed probe."""
    return SopStepRun.unscoped.filter(status=StepStatus.PENDING, due_at__lte=at).exists()


def step_runs_reclaim_stale(*, now: dt.datetime) -> int:
    """Runs claimed more than 5 minutes ago (their worker died) are pending again, every tenant. One
    whose passes died ``MAX_ATTEMPTS`` times in a row is skipped (``failed``) and its enrolment exits
    (``failed``) rather than stay active with nothing left to run. Returns runs touched."""
    stale = SopStepRun.unscoped.filter(status=StepStatus.CLAIMED, claimed_at__lt=now - STALE_CLAIM)
    poisoned = list(stale.filter(attempts__gte=MAX_ATTEMPTS).values_list("pk", "enrolment_id"))
    given_up = 0
    if poisoned:
        with transaction.atomic():
            given_up = SopStepRun.unscoped.filter(
                pk__in=[pk for pk, _ in poisoned], status=StepStatus.CLAIMED
            ).update(status=StepStatus.SKIPPED, outcome=FAILED, executed_at=now)
            SopEnrolment.unscoped.filter(
                pk__in=[enrolment for _, enrolment in poisoned], status=EnrolmentStatus.ACTIVE
            ).update(status=EnrolmentStatus.EXITED, exit_reason=FAILED, finished_at=now)
    return given_up + stale.update(status=StepStatus.PENDING, claimed_at=None)


# -- one pass ---------------------------------------------------------------------------------------


@dataclass
class _Claim:
    """A step run claimed by this pass."""

    id: int
    tenant_id: int
    enrolment_id: int
    sop_id: int
    version_id: int
    step_id: str
    due_at: dt.datetime
    detail: dict


@dataclass
class _Write:
    """What the pass writes for one claimed run."""

    status: str
    outcome: str = ""
    branch: str = ""
    detail: dict | None = None  # None: unchanged
    due_at: dt.datetime | None = None  # pending again: when
    delivery_key: str | None = None
    next_step: str | None = None  # done/skipped: continue here (None: the enrolment completes)
    paused: bool = False  # pending again because the SOP is paused (else: quiet hours)
    base: dt.datetime | None = None  # when the next step is reached


@dataclass
class _Batch:
    """One tenant's and one version's claimed runs in one round of a pass."""

    tenant: Tenant
    sop: Sop
    plan: Plan
    zone: ZoneInfo
    sender_rule: str
    claims: list[_Claim]
    enrolments: dict[int, SopEnrolment]
    writes: dict[int, _Write] = field(default_factory=dict)
    finish: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    handovers: dict[int, int] = field(default_factory=dict)  # enrolment → new staff
    splits: dict[int, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    effects: actions.Effects = field(default_factory=actions.Effects)


def _claim(*, now: dt.datetime, stamp: dt.datetime, batch: int, tenant_id: int | None) -> list[_Claim]:
    if not actions.fast_sql():
        return _claim_portable(now=now, stamp=stamp, batch=batch, tenant_id=tenant_id)
    tenant_filter = "AND tenant_id = %s" if tenant_id is not None else ""
    rows = _rows(
        f"""
        UPDATE {_STEPRUN} SET status = 'claimed', claimed_at = %s, attempts = attempts + 1
        WHERE id IN (
            SELECT id FROM {_STEPRUN}
            WHERE status = 'pending' AND due_at <= %s {tenant_filter}
                AND tenant_id IN (SELECT id FROM {_TENANT} WHERE is_active)
            ORDER BY due_at LIMIT %s
            FOR UPDATE SKIP LOCKED
        )
        RETURNING id, tenant_id, enrolment_id, sop_id, version_id, step_id, due_at, detail
        """,  # noqa: S608 -- table names, no input
        [stamp, now, *([tenant_id] if tenant_id is not None else []), batch],
    )
    return [_claim_of(row) for row in rows]


def _claim_portable(
    *, now: dt.datetime, stamp: dt.datetime, batch: int, tenant_id: int | None
) -> list[_Claim]:
    """``_claim`` with the ORM: the due ids read (SKIP LOCKED where the database has it), claimed by a
    conditional UPDATE, read back."""
    due = SopStepRun.unscoped.filter(
        status=StepStatus.PENDING,
        due_at__lte=now,
        tenant_id__in=Tenant.objects.filter(is_active=True).values("pk"),
    )
    if tenant_id is not None:
        due = due.filter(tenant_id=tenant_id)
    with transaction.atomic():
        ids = list(
            due.select_for_update(skip_locked=True).order_by("due_at").values_list("pk", flat=True)[:batch]
        )
        SopStepRun.unscoped.filter(pk__in=ids, status=StepStatus.PENDING).update(
            status=StepStatus.CLAIMED, claimed_at=stamp, attempts=F("attempts") + 1
        )
    rows = SopStepRun.unscoped.filter(pk__in=ids, status=StepStatus.CLAIMED, claimed_at=stamp).values_list(
        "pk", "tenant_id", "enrolment_id", "sop_id", "version_id", "step_id", "due_at", "detail"
    )
    return [_claim_of(row) for row in rows]


def _claim_of(row: tuple) -> _Claim:
    detail = row[7]
    if isinstance(detail, str):
        detail = json.loads(detail)
    return _Claim(*row[:7], detail=detail or {})


def sop_run_due(
    *, now: dt.datetime | None = None, batch: int = 500, tenant_id: int | None = None
) -> RunResult:
    """One pass of the engine over the due step runs of every tenant (or of ``tenant_id``): see the
    module's docstring. Returns its counts; ``claimed`` 0 means nothing was due."""
    now = now or timezone.now()
    stamp = timezone.now()
    window = actions.coalesce_seconds()
    # The coalescing key's pass part: the window ``now`` falls in (the passes of a window share their
    # deliveries), or this pass and round (window 0).
    pass_id = f"w{int(now.timestamp()) // window}" if window else uuid.uuid4().hex
    result = RunResult()
    claims = _claim(now=now, stamp=stamp, batch=batch, tenant_id=tenant_id)
    result.claimed = len(claims)
    for round_no in range(CHAIN_ROUNDS):
        if not claims:
            break
        chained = _round(
            claims,
            now=now,
            stamp=stamp,
            pass_key=pass_id if window else f"{pass_id}:{round_no}",
            chain=round_no + 1 < CHAIN_ROUNDS,
            result=result,
        )
        result.chained += len(chained)
        claims = chained
    return result


def _round(
    claims: list[_Claim], *, now, stamp, pass_key: str, chain: bool, result: RunResult
) -> list[_Claim]:
    """Process claimed runs (every tenant); returns the next steps inserted claimed for the next round."""
    tenants = Tenant.objects.in_bulk({c.tenant_id for c in claims})
    by_tenant: dict[int, list[_Claim]] = defaultdict(list)
    for claim in claims:
        by_tenant[claim.tenant_id].append(claim)
    chained: list[_Claim] = []
    for tid, tenant_claims in by_tenant.items():
        with tenant_context(tenants[tid]):
            chained += _tenant_round(
                tenants[tid],
                tenant_claims,
                now=now,
                stamp=stamp,
                pass_key=pass_key,
                chain=chain,
                result=result,
            )
    return chained


def _tenant_round(
    tenant: Tenant, claims: list[_Claim], *, now, stamp, pass_key, chain, result
) -> list[_Claim]:
    settings = campaign_settings_get(tenant=tenant)
    zone = settings_zone(settings)
    enrolments = SopEnrolment.objects.in_bulk(
        {c.enrolment_id for c in claims},
    )
    _annotate_subjects(enrolments)
    sops = Sop.objects.in_bulk({c.sop_id for c in claims})
    versions = SopVersion.objects.in_bulk({c.version_id for c in claims})
    by_version: dict[int, list[_Claim]] = defaultdict(list)
    for claim in claims:
        by_version[claim.version_id].append(claim)
    chained: list[_Claim] = []
    for version_id, version_claims in by_version.items():
        sop = sops[version_claims[0].sop_id]
        b = _Batch(
            tenant=tenant,
            sop=sop,
            plan=plan_for(versions[version_id]),
            zone=zone,
            sender_rule=settings.sender_rule,
            claims=version_claims,
            enrolments={c.enrolment_id: enrolments[c.enrolment_id] for c in version_claims},
        )
        try:
            _decide(b, now=now, pass_key=pass_key)
            chained += _write(b, now=now, stamp=stamp, chain=chain, result=result)
        except Exception:
            # One SOP's failure (filters that no longer resolve, a bug) must not hold back the others.
            # Its runs stay claimed: reclaimed after 5 minutes, given up after MAX_ATTEMPTS (a backoff,
            # where releasing them now would make the tick retry them in a loop).
            logger.exception(
                "SOP %s version %s: %s claimed steps not run", sop.pk, version_id, len(version_claims)
            )
            result.failed += len(version_claims)
    return chained


def _annotate_subjects(enrolments: dict[int, SopEnrolment]) -> None:
    """The subject's state on each enrolment (one query per kind): ``ext`` (external_userid or chat_id),
    ``subject_ok`` (the customer is not lost / the group exists, is not dismissed) and ``owner_id``."""
    contact_ids = {e.contact_id for e in enrolments.values() if e.contact_id}
    group_ids = {e.group_id for e in enrolments.values() if e.group_id}
    from contacts.models import Contact
    from groups.models import Group

    contacts = {
        pk: (ext, status)
        for pk, ext, status in Contact.objects.filter(pk__in=contact_ids).values_list(
            "pk", "external_userid", "status"
        )
    }
    groups = {
        pk: (chat_id, status, owner)
        for pk, chat_id, status, owner in Group.objects.filter(pk__in=group_ids).values_list(
            "pk", "chat_id", "status", "owner_id"
        )
    }
    for e in enrolments.values():
        e.owner_id = None
        if e.contact_id:
            ext, status = contacts.get(e.contact_id, ("", None))
            e.ext, e.subject_ok = ext, status == ContactStatus.ACTIVE
        else:
            chat_id, status, owner = groups.get(e.group_id, ("", None, None))
            e.ext, e.subject_ok, e.owner_id = chat_id, status not in (None, GroupStatus.DISMISSED), owner


# -- deciding ---------------------------------------------------------------------------------------


def _end(b: _Batch, claim: _Claim, status: str, reason: str) -> None:
    b.finish[(status, reason)].append(claim.enrolment_id)
    b.writes[claim.id] = _Write(status=StepStatus.CANCELLED, outcome=reason or status)


def _decide(b: _Batch, *, now: dt.datetime, pass_key: str) -> None:
    """Fill ``b.writes`` (and what goes with them) for every claimed run of the batch."""
    if b.sop.status == SopStatus.PAUSED:
        for claim in b.claims:
            b.writes[claim.id] = _Write(status=StepStatus.PENDING, due_at=now + PAUSE_RETRY, paused=True)
        return
    live: list[_Claim] = []
    for claim in b.claims:
        enrolment = b.enrolments.get(claim.enrolment_id)
        if b.sop.status != SopStatus.LIVE:
            _end(b, claim, EnrolmentStatus.EXITED, SOP_STOPPED)
        elif enrolment is None or enrolment.status != EnrolmentStatus.ACTIVE:
            b.writes[claim.id] = _Write(status=StepStatus.CANCELLED, outcome="enrolment_ended")
        elif claim.step_id not in b.plan.steps:
            b.writes[claim.id] = _Write(status=StepStatus.SKIPPED, outcome="unknown_step")
        else:
            live.append(claim)
    live = _recheck_groups(b, live) if b.sop.kind == SopKind.GROUP else _recheck_customers(b, live)
    by_step: dict[str, list[_Claim]] = defaultdict(list)
    for claim in live:
        step = b.plan.steps[claim.step_id]
        if step.type == "action":
            end = quiet_end(now, quiet=b.plan.quiet_hours, zone=b.zone)
            if end is not None:
                deferred = int(claim.detail.get("deferred", 0)) + 1
                b.writes[claim.id] = _Write(
                    status=StepStatus.PENDING, due_at=end, detail={**claim.detail, "deferred": deferred}
                )
                continue
        by_step[claim.step_id].append(claim)
    for step_id, step_claims in by_step.items():
        step = b.plan.steps[step_id]
        if step.type in WAIT_TYPES:
            for claim in step_claims:
                b.writes[claim.id] = _Write(
                    status=StepStatus.DONE, outcome="waited", next_step=step.next, base=claim.due_at
                )
        elif step.type == "branch":
            _branch(b, step, step_claims, now=now)
        elif step.type == "split":
            _split(b, step, step_claims, now=now)
        else:
            _action(b, step, step_claims, now=now, pass_key=pass_key)


def _active_follows(contact_ids: set[int]) -> dict[int, list[tuple]]:
    """contact → its active follows by members who can act: (staff, added_at, follow id)."""
    follows: dict[int, list[tuple]] = defaultdict(list)
    rows = (
        Follow.objects.filter(
            contact_id__in=contact_ids,
            status=FollowStatus.ACTIVE,
            staff__is_active=True,
            staff__has_contact_permission=True,
        )
        .order_by()
        .values_list("contact_id", "staff_id", "added_at", "pk")
    )
    for contact_id, staff_id, added_at, pk in rows:
        follows[contact_id].append((staff_id, added_at, pk))
    return follows


def sender_of(follows: list[tuple], *, rule: str) -> int | None:
    """Campaigns' sender rule among a customer's follows: who added it first (or last)."""
    if not follows:
        return None
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    if rule == SenderRule.LATEST:
        # Latest added first; a follow with no date last.
        chosen = max(follows, key=lambda f: (f[1] is not None, f[1] or far, f[2]))
    else:
        chosen = min(follows, key=lambda f: (f[1] or far, f[2]))
    return chosen[0]


def _recheck_customers(b: _Batch, claims: list[_Claim]) -> list[_Claim]:
    """Lost customers exit, members who lost theirs hand over, then goal, exit criteria, filters."""
    if not claims:
        return []
    follows = _active_follows({b.enrolments[c.enrolment_id].contact_id for c in claims})
    kept = []
    for claim in claims:
        enrolment = b.enrolments[claim.enrolment_id]
        theirs = follows.get(enrolment.contact_id, [])
        if not enrolment.subject_ok or not theirs:
            _end(b, claim, EnrolmentStatus.EXITED, LOST)
            continue
        if enrolment.staff_id not in {f[0] for f in theirs}:
            enrolment.staff_id = sender_of(theirs, rule=b.sender_rule)
            b.handovers[enrolment.pk] = enrolment.staff_id
        kept.append(claim)
    for criteria, status, reason in (
        (b.plan.goal, EnrolmentStatus.GOAL, ""),
        (b.plan.exit, EnrolmentStatus.EXITED, EXIT_CRITERIA),
    ):
        if not criteria or not kept:
            continue
        met = criteria_met(
            criteria=criteria, match="any", enrolments=[b.enrolments[c.enrolment_id] for c in kept]
        )
        for claim in [c for c in kept if c.enrolment_id in met]:
            _end(b, claim, status, reason)
        kept = [c for c in kept if c.enrolment_id not in met]
    filters = (b.plan.trigger or {}).get("filters")
    if filters and kept:
        matching = filters_match(
            filters=filters, contact_ids={b.enrolments[c.enrolment_id].contact_id for c in kept}
        )
        for claim in [c for c in kept if b.enrolments[c.enrolment_id].contact_id not in matching]:
            _end(b, claim, EnrolmentStatus.EXITED, NOT_MATCHING)
        kept = [c for c in kept if b.enrolments[c.enrolment_id].contact_id in matching]
    return kept


def _recheck_groups(b: _Batch, claims: list[_Claim]) -> list[_Claim]:
    """A dismissed (or deleted) group exits; its owner acts for it (none: exit ``lost``)."""
    kept = []
    for claim in claims:
        enrolment = b.enrolments[claim.enrolment_id]
        if not enrolment.subject_ok:
            _end(b, claim, EnrolmentStatus.EXITED, DISMISSED)
        elif enrolment.owner_id is None:
            _end(b, claim, EnrolmentStatus.EXITED, LOST)
        else:
            if enrolment.staff_id != enrolment.owner_id:
                enrolment.staff_id = enrolment.owner_id
                b.handovers[enrolment.pk] = enrolment.owner_id
            kept.append(claim)
    return kept


def _branch(b: _Batch, step: Step, claims: list[_Claim], *, now: dt.datetime) -> None:
    condition = step.params.get("if") or {}
    met = criteria_met(
        criteria=condition.get("criteria") or [],
        match=condition.get("match") or "all",
        enrolments=[b.enrolments[c.enrolment_id] for c in claims],
    )
    for claim in claims:
        taken = claim.enrolment_id in met
        target = step.then if taken else step.otherwise
        b.writes[claim.id] = _Write(
            status=StepStatus.DONE,
            outcome="branched",
            branch="then" if taken else "else",
            next_step=target or step.next,
            base=now,
        )


def split_draw(branches: tuple[tuple[str, int, str | None], ...]) -> str:
    """One random draw of a split's branch, with its percentages."""
    ids = [branch_id for branch_id, _, _ in branches]
    weights = [percent for _, percent, _ in branches]
    return actions.rng.choices(ids, weights=weights)[0]


def _split(b: _Batch, step: Step, claims: list[_Claim], *, now: dt.datetime) -> None:
    firsts = {branch_id: first for branch_id, _, first in step.branches}
    for claim in claims:
        enrolment = b.enrolments[claim.enrolment_id]
        drawn = (enrolment.splits or {}).get(step.id)
        if drawn not in firsts:
            # Drawn once: a retried run finds its draw kept (written with the run, below).
            drawn = split_draw(step.branches)
            b.splits[enrolment.pk][step.id] = drawn
        b.writes[claim.id] = _Write(
            status=StepStatus.DONE,
            outcome="split",
            branch=drawn,
            next_step=firsts[drawn] or step.next,
            base=now,
        )


def _action(b: _Batch, step: Step, claims: list[_Claim], *, now: dt.datetime, pass_key: str) -> None:
    subjects = [
        actions.Subject(
            run_id=c.id,
            enrolment_id=c.enrolment_id,
            contact_id=b.enrolments[c.enrolment_id].contact_id,
            group_id=b.enrolments[c.enrolment_id].group_id,
            staff_id=b.enrolments[c.enrolment_id].staff_id,
            target=b.enrolments[c.enrolment_id].ext,
        )
        for c in claims
    ]
    context = actions.ActionContext(
        tenant=b.tenant,
        sop=b.sop,
        version_id=claims[0].version_id,
        step=step,
        respect_caps=b.plan.respect_caps,
        now=now,
        pass_key=pass_key,
    )
    outcomes = actions.action_execute(context=context, subjects=subjects, effects=b.effects)
    for claim in claims:
        outcome = outcomes[claim.id]
        b.writes[claim.id] = _Write(
            status=outcome.status,
            outcome=outcome.outcome,
            detail={**claim.detail, **outcome.detail} if outcome.detail else None,
            delivery_key=outcome.delivery_key,
            next_step=step.next,
            base=now,
        )


# -- writing ----------------------------------------------------------------------------------------


def _write(b: _Batch, *, now, stamp, chain: bool, result: RunResult) -> list[_Claim]:
    """Write the batch's decisions in one transaction, for the runs this pass still holds."""
    ids = [c.id for c in b.claims]
    with transaction.atomic():
        held = _runs_lock(ids, stamp=stamp)
        result.lost_claims += len(ids) - len(held)
        if not held:
            return []
        # The wall clock (``now`` is the pass's reference for what is due): the delay from due to action
        # is measured honestly.
        executed_at = timezone.now()
        claims = [c for c in b.claims if c.id in held]
        # Only the enrolments of runs still held: another pass decides (and draws) for the others.
        mine = {c.enrolment_id for c in claims}
        handovers = {pk: staff for pk, staff in b.handovers.items() if pk in mine}
        if handovers:
            _handovers_write(handovers)
        splits = {pk: drawn for pk, drawn in b.splits.items() if pk in mine}
        if splits:
            _splits_write(splits)
        for (status, reason), enrolment_ids in b.finish.items():
            result.exited += enrolments_finish(
                enrolment_ids=[pk for pk in enrolment_ids if pk in mine],
                status=status,
                reason=reason,
                now=executed_at,
            )
        updates = []
        nexts: list[tuple] = []
        completed: list[int] = []
        for claim in claims:
            w = b.writes[claim.id]
            # Runs of ended enrolments were cancelled by enrolments_finish; written again all the same
            # (same values), so a run whose enrolment had ended already is not left claimed.
            updates.append((claim, w))
            if w.status == StepStatus.PENDING:
                if w.paused:
                    result.paused += 1
                else:
                    result.deferred += 1
            elif w.status == StepStatus.CANCELLED:
                result.cancelled += 1
            else:
                result.done += w.status == StepStatus.DONE
                result.skipped += w.status == StepStatus.SKIPPED
                if w.next_step is None:
                    completed.append(claim.enrolment_id)
                else:
                    step = b.plan.steps[w.next_step]
                    due = step_due(step, base=w.base or now, plan=b.plan, zone=b.zone)
                    ready = chain and due <= now
                    nexts.append(
                        (
                            claim.tenant_id,
                            claim.enrolment_id,
                            claim.sop_id,
                            claim.version_id,
                            step.id,
                            due,
                            ready,
                        )
                    )
        if completed:
            result.completed += SopEnrolment.objects.filter(
                pk__in=completed, status=EnrolmentStatus.ACTIVE
            ).update(status=EnrolmentStatus.COMPLETED, finished_at=executed_at)
        inserted = _runs_insert(nexts, claimed_at=stamp)
        # Deliveries last: merging into a window's delivery locks it until this commit, and other
        # passes of the window wait for it, so that lock is held for as little as can be.
        deliveries = actions.effects_write(
            effects=b.effects, held=held, tenant=b.tenant, sop=b.sop, now=executed_at
        )
        result.deliveries += len(deliveries)
        _runs_update(updates, deliveries=deliveries, executed_at=executed_at)
    by_key = {(n[1], n[4]): n for n in nexts}
    return [
        _Claim(
            id=pk,
            tenant_id=by_key[(enrolment_id, step_id)][0],
            enrolment_id=enrolment_id,
            sop_id=by_key[(enrolment_id, step_id)][2],
            version_id=by_key[(enrolment_id, step_id)][3],
            step_id=step_id,
            due_at=by_key[(enrolment_id, step_id)][5],
            detail={},
        )
        for pk, enrolment_id, step_id, claimed in inserted
        if claimed
    ]


def _runs_lock(ids: list[int], *, stamp: dt.datetime) -> set[int]:
    """Lock the runs still claimed by this pass (``stamp``); their ids."""
    if not actions.fast_sql():
        return set(
            SopStepRun.unscoped.select_for_update()
            .filter(pk__in=ids, status=StepStatus.CLAIMED, claimed_at=stamp)
            .values_list("pk", flat=True)
        )
    return {
        pk
        for (pk,) in _rows(
            f"""
            SELECT id FROM {_STEPRUN} WHERE id = ANY(%s) AND status = 'claimed' AND claimed_at = %s
            FOR UPDATE
            """,  # noqa: S608 -- table names, no input
            [ids, stamp],
        )
    }


def _splits_write(splits: dict[int, dict[str, str]]) -> None:
    """Keep the draws (enrolment → {split step: branch}) beside those already on the enrolments."""
    if not actions.fast_sql():
        enrolments = list(
            SopEnrolment.unscoped.select_for_update().filter(pk__in=list(splits)).only("splits")
        )
        for e in enrolments:
            e.splits = {**(e.splits or {}), **splits[e.pk]}
        SopEnrolment.unscoped.bulk_update(enrolments, ["splits"])
        return
    _rows(
        f"""
        UPDATE {_ENROLMENT} e SET splits = e.splits || v.drawn::jsonb
        FROM unnest(%s::bigint[], %s::text[]) AS v(id, drawn) WHERE e.id = v.id
        """,  # noqa: S608 -- table names, no input
        [list(splits), [json.dumps(drawn) for drawn in splits.values()]],
    )


def _handovers_write(handovers: dict[int, int]) -> None:
    if not actions.fast_sql():
        SopEnrolment.unscoped.bulk_update(
            [SopEnrolment(pk=pk, staff_id=staff) for pk, staff in handovers.items()], ["staff"]
        )
        return
    _rows(
        f"""
        UPDATE {_ENROLMENT} e SET staff_id = v.staff
        FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, staff) WHERE e.id = v.id
        """,  # noqa: S608 -- table names, no input
        [list(handovers), list(handovers.values())],
    )


def _runs_update(updates: list[tuple[_Claim, _Write]], *, deliveries: dict[str, int], executed_at) -> None:
    """One UPDATE for every run written (rows locked by the caller)."""
    if not updates:
        return
    if not actions.fast_sql():
        _runs_update_portable(updates, deliveries=deliveries, executed_at=executed_at)
        return
    ids, statuses, outcomes, branches, details, dues, delivery_ids = [], [], [], [], [], [], []
    for claim, w in updates:
        ids.append(claim.id)
        statuses.append(str(w.status))
        outcomes.append(w.outcome)
        branches.append(w.branch)
        details.append(json.dumps(w.detail) if w.detail is not None else None)
        dues.append(w.due_at)
        delivery_ids.append(deliveries.get(w.delivery_key) if w.delivery_key else None)
    _rows(
        f"""
        UPDATE {_STEPRUN} s SET
            status = v.status,
            outcome = v.outcome,
            branch = v.branch,
            detail = COALESCE(v.detail::jsonb, s.detail),
            due_at = COALESCE(v.due, s.due_at),
            delivery_id = COALESCE(v.delivery, s.delivery_id),
            claimed_at = CASE WHEN v.status = 'pending' THEN NULL ELSE s.claimed_at END,
            attempts = CASE WHEN v.status = 'pending' THEN 0 ELSE s.attempts END,
            executed_at = CASE WHEN v.status = 'pending' THEN s.executed_at ELSE %s::timestamptz END
        FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],
            %s::bigint[]) AS v(id, status, outcome, branch, detail, due, delivery)
        WHERE s.id = v.id
        """,  # noqa: S608 -- table names, no input
        [executed_at, ids, statuses, outcomes, branches, details, dues, delivery_ids],
    )


def _runs_update_portable(
    updates: list[tuple[_Claim, _Write]], *, deliveries: dict[str, int], executed_at
) -> None:
    """``_runs_update`` with the ORM: the rows read, changed as the statement would, one bulk UPDATE."""
    rows = SopStepRun.unscoped.in_bulk([claim.id for claim, _ in updates])
    for claim, w in updates:
        run = rows[claim.id]
        run.status, run.outcome, run.branch = str(w.status), w.outcome, w.branch
        if w.detail is not None:
            run.detail = w.detail
        if w.due_at is not None:
            run.due_at = w.due_at
        if w.delivery_key and deliveries.get(w.delivery_key):
            run.delivery_id = deliveries[w.delivery_key]
        if w.status == StepStatus.PENDING:
            run.claimed_at, run.attempts = None, 0
        else:
            run.executed_at = executed_at
    SopStepRun.unscoped.bulk_update(
        rows.values(),
        [
            "status",
            "outcome",
            "branch",
            "detail",
            "due_at",
            "delivery",
            "claimed_at",
            "attempts",
            "executed_at",
        ],
    )
