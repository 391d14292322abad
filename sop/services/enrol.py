"""Who enters an SOP, when, and on whose behalf; and who leaves it because of what they did.

- ``sop_enrol_from_events`` (the tick, every few seconds): reads the event stream past the tenant's
  ``sop.enrol`` cursor, 30 s behind its head (a transaction that took a lower id may not have committed
  yet; a cursor moved past its events would never see them). Customers whose event matches a live
  customer SOP's event trigger (its conditions and filters) enter it; active enrolments whose exit or
  goal criteria name an event that just happened end; lost customers leave every SOP.
- ``sop_enrol_scheduled`` (every 10 minutes): date triggers (a date profile field or the first-added
  date, N days before or after; yearly fields match their month and day) and group SOPs' schedules,
  in each tenant's time zone. The day is the occurrence, so running it again the same day adds nobody.
- ``sop_enrol_segments`` (every 10 minutes): customers who entered a segment since the last check.
- ``sop_enrol_manual``: "enrol these customers now" (the API), for any live customer SOP.

Re-enrolment (``reenrol`` of the definition): never — once ever (occurrence ""); after_exit — again
once no enrolment of the SOP is active for the customer; always — on every trigger, even beside one
still running (occurrences "r2", "r3", ...). Date triggers and group schedules use the day as the
occurrence instead.

The owning member (``SopEnrolment.staff``) is the event's member when that member still follows the
customer, else the member campaigns would send from (the tenant's sender rule among the customer's
active follows). A customer with none is not enrolled. Rows and first steps are made by
``engine.enrolments_create``, never here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Exists, Min, OuterRef, Q, Subquery
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError

from campaigns.models import ChatType, SenderRule
from campaigns.services.audience import audience_clean, audience_groups, tenant_principal
from campaigns.services.settings import campaign_settings_get, tenant_zone
from contacts.models import (
    Contact,
    ContactEvent,
    ContactStatus,
    EventCursor,
    EventType,
    Follow,
    FollowStatus,
    Segment,
)
from contacts.selectors import contacts_matching
from contacts.services.events import events_readable_upto
from contacts.services.segments import segment_contacts
from groups.models import GroupStatus
from scrm.tenancy.actors import Actor
from scrm.tenancy.context import require_current_tenant, tenant_context
from scrm.tenancy.models import Tenant
from value.models import ProfileField

from ..models import EnrolmentStatus, Sop, SopEnrolment, SopKind, SopSegmentMember, SopStatus, SopVersion
from .conditions import filters_match
from .definition import FIRST_ADDED_AT, Plan, errors_flat, plan_for

logger = logging.getLogger(__name__)

CONSUMER = "sop.enrol"
# At most this many events of one tenant per call: a tenant with a million new events (a full sync)
# is read over several ticks, never in one.
EVENT_BATCH = 5_000
MANUAL_MAX = 10_000
LOST_EVENTS = (EventType.LOST, EventType.DELETED_BY_STAFF)

ALREADY, LOST, NOT_MATCHING, NO_MEMBER = "already", "lost", "not_matching", "no_member"


@dataclass(frozen=True)
class Candidate:
    contact_id: int
    staff_id: int | None = None  # the member the trigger names (the event's), preferred when still a follower
    trigger_event_id: int | None = None


# -- the owning member -------------------------------------------------------------------------------


def owning_members(
    *, contact_ids: Iterable[int], preferred: Mapping[int, int] | None = None
) -> dict[int, int]:
    """contact id → the member who acts for it: ``preferred[contact]`` when that member still follows
    it, else the tenant's sender rule (first or latest added) among the members who follow it and can
    act (active, with the customer-contact permission). Customers with none are left out. One query."""
    ids = list(contact_ids)
    if not ids:
        return {}
    latest = campaign_settings_get(tenant=require_current_tenant()).sender_rule == SenderRule.LATEST
    follows = Follow.objects.filter(
        contact_id__in=ids,
        status=FollowStatus.ACTIVE,
        staff__is_active=True,
        staff__has_contact_permission=True,
    ).values_list("contact_id", "staff_id", "added_at", "id")
    by_contact: dict[int, list[tuple]] = defaultdict(list)
    for contact_id, staff_id, added_at, pk in follows:
        by_contact[contact_id].append((staff_id, added_at, pk))
    chosen: dict[int, int] = {}
    preferred = preferred or {}
    for contact_id, rows in by_contact.items():
        wanted = preferred.get(contact_id)
        if wanted is not None and any(staff_id == wanted for staff_id, _, _ in rows):
            chosen[contact_id] = wanted
            continue
        # Campaigns' order: by added_at (a follow without one last), then the follow's id.
        dated = [row for row in rows if row[1] is not None]
        if dated:
            pick = (
                max(dated, key=lambda r: (r[1], r[2])) if latest else min(dated, key=lambda r: (r[1], r[2]))
            )
        else:
            pick = max(rows, key=lambda r: r[2]) if latest else min(rows, key=lambda r: r[2])
        chosen[contact_id] = pick[0]
    return chosen


# -- enrolling ------------------------------------------------------------------------------------


def _create(*, sop: Sop, version: SopVersion, items: list, now: dt.datetime) -> int:
    from .engine import enrolments_create

    return enrolments_create(sop=sop, version=version, items=items, now=now)


def _finish(*, enrolment_ids: list[int], status: str, reason: str, now: dt.datetime) -> int:
    if not enrolment_ids:
        return 0
    from .engine import enrolments_finish

    return enrolments_finish(enrolment_ids=enrolment_ids, status=status, reason=reason, now=now)


def _occurrences(*, sop: Sop, reenrol: str, contact_ids: list[int]) -> dict[int, str | None]:
    """contact id → the occurrence its next enrolment would have under the re-enrolment policy, or
    None when it may not enter now (entered once and ``reenrol`` is never, or still inside and it is
    not always)."""
    past = {
        subject: (total, active)
        for subject, total, active in SopEnrolment.objects.filter(
            sop=sop, subject__in=[f"c{pk}" for pk in contact_ids]
        )
        .values("subject")
        .annotate(total=Count("id"), active=Count("id", filter=Q(status=EnrolmentStatus.ACTIVE)))
        .values_list("subject", "total", "active")
        .order_by()
    }
    out: dict[int, str | None] = {}
    for pk in contact_ids:
        total, active = past.get(f"c{pk}", (0, 0))
        if total == 0:
            out[pk] = ""
        elif reenrol == "never" or (active and reenrol != "always"):
            # "always" enters again on every trigger, even beside an enrolment still running (a
            # thank-you journey per purchase); "after_exit" waits for the previous one to end.
            out[pk] = None
        else:
            out[pk] = f"r{total + 1}"
    return out


def _enrol(
    *,
    sop: Sop,
    plan: Plan,
    candidates: list[Candidate],
    now: dt.datetime,
    start_at: dt.datetime | None = None,
    occurrence: str | None = None,
) -> tuple[int, dict[str, int]]:
    """Enrol ``candidates`` (active customers, one per contact, already matching) into the SOP's live
    version: (enrolments made, skipped by reason). ``occurrence`` given (a date trigger's day) replaces
    the re-enrolment policy."""
    from .engine import NewEnrolment

    skipped = {ALREADY: 0, NO_MEMBER: 0}
    if not candidates:
        return 0, skipped
    ids = [c.contact_id for c in candidates]
    members = owning_members(
        contact_ids=ids, preferred={c.contact_id: c.staff_id for c in candidates if c.staff_id}
    )
    if occurrence is None:
        occurrences = _occurrences(sop=sop, reenrol=plan.reenrol, contact_ids=ids)
    else:
        occurrences = dict.fromkeys(ids, occurrence)
    items = []
    for candidate in candidates:
        staff_id = members.get(candidate.contact_id)
        wanted = occurrences[candidate.contact_id]
        if wanted is None:
            skipped[ALREADY] += 1
        elif staff_id is None:
            skipped[NO_MEMBER] += 1
        else:
            items.append(
                NewEnrolment(
                    contact_id=candidate.contact_id,
                    group_id=None,
                    staff_id=staff_id,
                    occurrence=wanted,
                    start_at=start_at or now,
                    trigger_event_id=candidate.trigger_event_id,
                )
            )
    made = _create(sop=sop, version=sop.live_version, items=items, now=now)
    # A row another enroller made first (the unique occurrence) is one already there.
    skipped[ALREADY] += len(items) - made
    return made, skipped


def _matching(plan: Plan, contact_ids: Iterable[int]) -> set[int]:
    """The contacts that match the trigger's filters now (everyone when it has none)."""
    ids = set(contact_ids)
    filters = plan.trigger.get("filters")
    return filters_match(filters=filters, contact_ids=ids) if filters else ids


# -- the event stream ------------------------------------------------------------------------------


def _trigger_matches(trigger: dict, event: dict) -> bool:
    """Whether ``event`` (a ContactEvent's values) meets an event trigger's type and condition."""
    if event["type"] != trigger.get("event"):
        return False
    payload = event["payload"] if isinstance(event["payload"], dict) else {}
    match trigger["event"]:
        case EventType.ADDED if trigger.get("channel"):
            return event["channel"] == trigger["channel"]
        case EventType.TAGGED if trigger.get("tag_ids"):
            ids = {tag.get("id") for tag in payload.get("tags") or () if isinstance(tag, dict)}
            return bool(ids & set(trigger["tag_ids"]))
        case EventType.STAGE_CHANGED if trigger.get("stage_id"):
            return payload.get("to") == trigger["stage_id"]
        case EventType.TIER_CHANGED if trigger.get("tier"):
            return payload.get("to") == trigger["tier"]
        case EventType.PURCHASED if trigger.get("min_amount"):
            try:
                return Decimal(str(payload.get("amount"))) >= Decimal(trigger["min_amount"])
            except InvalidOperation:
                return False
        case EventType.GROUP_JOINED if trigger.get("group_id"):
            return payload.get("group_id") == trigger["group_id"]
        case EventType.CUSTOM if trigger.get("name"):
            return payload.get("name") == trigger["name"]
    return True


def _criterion_event(criterion: dict, event: dict) -> bool:
    if criterion.get("event") != event["type"]:
        return False
    name = criterion.get("name")
    payload = event["payload"] if isinstance(event["payload"], dict) else {}
    return not name or payload.get("name") == name


def _interested_tenants() -> set[int]:
    """Tenants with a live customer SOP (who may enter) or a paused one (its enrolments may still end);
    a stopped SOP has no active enrolment left, a draft never had one."""
    return set(
        Sop.unscoped.filter(status__in=[SopStatus.LIVE, SopStatus.PAUSED], kind=SopKind.CUSTOMER)
        .values_list("tenant_id", flat=True)
        .distinct()
    )


def sop_enrol_from_events(*, now: dt.datetime | None = None) -> int:
    """One read of the stream for every active tenant (see the module's docstring); enrolments made."""
    now = now or timezone.now()
    tenants = {t.pk: t for t in Tenant.objects.filter(is_active=True)}
    cursors = dict(
        EventCursor.unscoped.filter(consumer=CONSUMER, tenant_id__in=list(tenants)).values_list(
            "tenant_id", "position"
        )
    )
    interested = _interested_tenants() & set(tenants)
    floor = min((cursors.get(pk, 0) for pk in interested), default=max(cursors.values(), default=0))
    upto = events_readable_upto(after=floor, now=now)
    # Tenants with nothing to do only follow the stream's head: one statement for all of them.
    EventCursor.unscoped.filter(consumer=CONSUMER, position__lt=upto).exclude(
        tenant_id__in=interested
    ).update(position=upto, updated_at=now)
    made = 0
    for pk in sorted(interested):
        if cursors.get(pk, -1) >= upto:
            continue
        try:
            made += _tenant_events(tenants[pk], upto=upto, now=now)
        except Exception:
            # One tenant's failure (a trigger's filters that no longer resolve...) must not stop the others.
            logger.exception("sop.enrol: tenant %s failed", pk)
    return made


def _start_position(upto: int) -> int:
    """Where a tenant's new cursor starts: just before its first published SOP version (nothing before
    an SOP existed can enter it), or the stream's head when it has none."""
    first = SopVersion.objects.aggregate(first=Min("published_at"))["first"]
    if first is None:
        return upto
    before = (
        ContactEvent.objects.filter(created_at__lt=first, id__lte=upto)
        .order_by("-id")
        .values_list("id", flat=True)
    )
    return before.first() or 0


def _tenant_events(tenant: Tenant, *, upto: int, now: dt.datetime) -> int:
    with tenant_context(tenant), transaction.atomic():
        cursor = EventCursor.objects.select_for_update().filter(consumer=CONSUMER).first()
        if cursor is None:
            cursor = EventCursor.objects.create(consumer=CONSUMER, position=_start_position(upto))
        if cursor.position >= upto:
            return 0
        events = list(
            ContactEvent.objects.filter(id__gt=cursor.position, id__lte=upto)
            .order_by("id")
            .values(
                "id", "contact_id", "type", "staff_id", "channel", "payload", "occurred_at", "created_at"
            )[:EVENT_BATCH]
        )
        made = 0
        if events:
            made = _events_enrol(events, now=now)
            _events_lost(events, now=now)
            _events_criteria(events, now=now)
        cursor.position = events[-1]["id"] if len(events) == EVENT_BATCH else upto
        cursor.save(update_fields=["position", "updated_at"])
    return made


def _events_enrol(events: list[dict], *, now: dt.datetime) -> int:
    first_published = SopVersion.objects.filter(sop=OuterRef("pk")).order_by("published_at")
    sops = list(
        Sop.objects.filter(
            status=SopStatus.LIVE,
            kind=SopKind.CUSTOMER,
            live_version__isnull=False,
            live_version__definition__trigger__type="event",
        )
        .select_related("live_version")
        .annotate(since=Subquery(first_published.values("published_at")[:1]))
    )
    made = 0
    for sop in sops:
        plan = plan_for(sop.live_version)
        # The first matching event per customer; only what happened since the SOP was first published.
        first: dict[int, dict] = {}
        for event in events:
            if event["created_at"] >= sop.since and _trigger_matches(plan.trigger, event):
                first.setdefault(event["contact_id"], event)
        if not first:
            continue
        active = set(
            Contact.objects.filter(pk__in=list(first), status=ContactStatus.ACTIVE).values_list(
                "pk", flat=True
            )
        )
        try:
            matching = _matching(plan, active)
        except ValidationError:
            # Its filters no longer resolve (a tag deleted in WeCom): nobody enters it until they are
            # fixed, and the tenant's other SOPs and its cursor go on.
            logger.warning("sop.enrol: SOP %s's trigger filters no longer resolve", sop.pk)
            continue
        candidates = [
            Candidate(contact_id=pk, staff_id=event["staff_id"], trigger_event_id=event["id"])
            for pk, event in first.items()
            if pk in matching
        ]
        made += _enrol(sop=sop, plan=plan, candidates=candidates, now=now)[0]
    return made


def _events_lost(events: list[dict], *, now: dt.datetime) -> None:
    """Customers no member follows any more leave every SOP (reason "lost")."""
    touched = {e["contact_id"] for e in events if e["type"] in LOST_EVENTS}
    if not touched:
        return
    followed = Follow.objects.filter(contact_id=OuterRef("contact_id"), status=FollowStatus.ACTIVE)
    lost = SopEnrolment.objects.filter(contact_id__in=touched, status=EnrolmentStatus.ACTIVE).exclude(
        Exists(followed)
    )
    _finish(
        enrolment_ids=list(lost.values_list("pk", flat=True)),
        status=EnrolmentStatus.EXITED,
        reason=LOST,
        now=now,
    )


def _events_criteria(events: list[dict], *, now: dt.datetime) -> None:
    """Active enrolments whose goal or exit criteria name an event that just happened to their customer
    (after they enrolled) end: goal first (a purchase that is both counts as the conversion)."""
    by_contact: dict[int, list[dict]] = defaultdict(list)
    for event in events:
        by_contact[event["contact_id"]].append(event)
    rows = list(
        SopEnrolment.objects.filter(
            contact_id__in=list(by_contact), status=EnrolmentStatus.ACTIVE
        ).values_list("pk", "contact_id", "version_id", "enrolled_at", "trigger_event_id")
    )
    if not rows:
        return
    versions = SopVersion.objects.in_bulk({row[2] for row in rows})
    ended: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk, contact_id, version_id, enrolled_at, trigger_event_id in rows:
        plan = plan_for(versions[version_id])
        after = [
            e
            for e in by_contact[contact_id]
            if e["occurred_at"] >= enrolled_at
            or (trigger_event_id is not None and e["id"] > trigger_event_id)
        ]
        for status, reason, criteria in (
            (EnrolmentStatus.GOAL, "", plan.goal),
            (EnrolmentStatus.EXITED, "exit_criteria", plan.exit),
        ):
            if any("event" in c and _criterion_event(c, e) for c in criteria for e in after):
                ended[(status, reason)].append(pk)
                break
    for (status, reason), ids in ended.items():
        _finish(enrolment_ids=ids, status=status, reason=reason, now=now)


# -- date triggers and group schedules ----------------------------------------------------------------


def _at(day: dt.date, time: str, zone: dt.tzinfo, now: dt.datetime) -> dt.datetime:
    """``time`` on ``day`` in the tenant's zone, or now when that has passed."""
    hour, minute = (int(part) for part in time.split(":"))
    return max(now, dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone))


def _date_contacts(trigger: dict, today: dt.date, zone: dt.tzinfo):
    """The active customers whose date (+ offset) is today, or None when the field is gone."""
    target = today - dt.timedelta(days=trigger.get("offset_days") or 0)
    contacts = Contact.objects.filter(status=ContactStatus.ACTIVE)
    field = trigger["field"]
    if field == FIRST_ADDED_AT:
        start = dt.datetime.combine(target, dt.time(0), tzinfo=zone)
        return contacts.filter(first_added_at__gte=start, first_added_at__lt=start + dt.timedelta(days=1))
    row = ProfileField.objects.filter(key=field, archived=False).values("yearly").first()
    if row is None:
        return None
    if not row["yearly"]:
        return contacts.filter(**{f"profile__{field}": target.isoformat()})
    days = Q(**{f"profile__{field}__endswith": f"-{target:%m-%d}"})
    # 29 February comes round only in leap years: other years it is kept on the 28th.
    if (target.month, target.day) == (2, 28) and not _leap(target.year):
        days |= Q(**{f"profile__{field}__endswith": "-02-29"})
    return contacts.filter(days)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _scheduled_today(trigger: dict, today: dt.date) -> bool:
    every = trigger.get("every")
    if every == "weekly":
        return today.isoweekday() in (trigger.get("weekdays") or ())
    if every == "dates":
        return today.isoformat() in (trigger.get("dates") or ())
    return every == "daily"


def sop_enrol_scheduled(*, now: dt.datetime | None = None) -> int:
    """Today's date-triggered customers and scheduled groups, every tenant (its own day). Idempotent:
    the day is the occurrence, and who already has it is not looked at again."""
    now = now or timezone.now()
    sops = (
        Sop.unscoped.filter(
            status=SopStatus.LIVE,
            tenant__is_active=True,
            live_version__definition__trigger__type__in=["date", "schedule"],
        )
        .select_related("tenant", "live_version")
        .order_by("tenant_id", "id")
    )
    by_tenant: dict[int, list[Sop]] = defaultdict(list)
    for sop in sops:
        by_tenant[sop.tenant_id].append(sop)
    made = 0
    for tenant_sops in by_tenant.values():
        tenant = tenant_sops[0].tenant
        with tenant_context(tenant):
            zone = tenant_zone(tenant=tenant)
            today = now.astimezone(zone).date()
            for sop in tenant_sops:
                try:
                    with transaction.atomic():
                        made += _scheduled_one(sop, today=today, zone=zone, now=now)
                except Exception:
                    logger.exception("sop.schedule: SOP %s failed", sop.pk)
    return made


def _scheduled_one(sop: Sop, *, today: dt.date, zone: dt.tzinfo, now: dt.datetime) -> int:
    plan = plan_for(sop.live_version)
    trigger = plan.trigger
    occurrence = today.isoformat()
    start_at = _at(today, trigger.get("time") or "09:00", zone, now)
    done = SopEnrolment.objects.filter(sop=sop, occurrence=occurrence)
    if sop.kind == SopKind.GROUP:
        if trigger.get("type") != "schedule" or not _scheduled_today(trigger, today):
            return 0
        from .engine import NewEnrolment

        groups = (
            audience_groups(audience=trigger.get("groups") or {})
            .exclude(status=GroupStatus.DISMISSED)
            .filter(owner__isnull=False)
            .exclude(pk__in=done.filter(group__isnull=False).values("group_id"))
            .order_by("id")
            .values_list("id", "owner_id")
        )
        items = [
            NewEnrolment(
                contact_id=None, group_id=pk, staff_id=owner_id, occurrence=occurrence, start_at=start_at
            )
            for pk, owner_id in groups
        ]
        return _create(sop=sop, version=sop.live_version, items=items, now=now)
    if trigger.get("type") != "date":
        return 0
    contacts = _date_contacts(trigger, today, zone)
    if contacts is None:
        return 0
    ids = list(
        contacts.exclude(pk__in=done.filter(contact__isnull=False).values("contact_id")).values_list(
            "pk", flat=True
        )
    )
    candidates = [Candidate(contact_id=pk) for pk in sorted(_matching(plan, ids))]
    return _enrol(
        sop=sop, plan=plan, candidates=candidates, now=now, start_at=start_at, occurrence=occurrence
    )[0]


# -- segments -------------------------------------------------------------------------------------


def _segment_now(sop: Sop, plan: Plan):
    """The SOP's segment's customers now, or None when the segment is gone or no longer resolves."""
    segment = Segment.objects.filter(pk=plan.trigger.get("segment_id")).first()
    if segment is None:
        return None
    try:
        return segment_contacts(principal=tenant_principal(sop.tenant), segment=segment)
    except ValidationError:
        logger.warning("sop.segments: SOP %s's segment %s no longer resolves", sop.pk, segment.pk)
        return None


def _segment_record(sop: Sop, current, now: dt.datetime) -> int:
    """Rewrite the SOP's table of segment members to ``current``: set-based, an anti-join DELETE and an
    INSERT … SELECT. Returns the members recorded."""
    SopSegmentMember.objects.filter(sop=sop).exclude(contact_id__in=current.order_by().values("id")).delete()
    sql, params = current.order_by().values("id").query.sql_with_params()
    table = SopSegmentMember._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, sop_id, contact_id, seen_at) "  # noqa: S608 -- our own SQL
            # "WHERE true": SQLite reads an ON right after the FROM as a join's (its documented way out).
            f"SELECT %s, %s, m.id, %s FROM ({sql}) AS m WHERE true ON CONFLICT DO NOTHING",
            [sop.tenant_id, sop.pk, now, *params],
        )
    return SopSegmentMember.objects.filter(sop=sop).count()


def sop_segment_baseline(*, sop: Sop, now: dt.datetime | None = None) -> int:
    """At publish: record the segment's current members, who do NOT enter (an SOP is for what happens
    from now on). Returns how many. Run in the SOP's tenant's context."""
    now = now or timezone.now()
    if sop.kind != SopKind.CUSTOMER or sop.live_version is None:
        return 0
    plan = plan_for(sop.live_version)
    if plan.trigger.get("type") != "segment":
        return 0
    with transaction.atomic():
        Sop.objects.select_for_update().filter(pk=sop.pk).first()
        current = _segment_now(sop, plan)
        return 0 if current is None else _segment_record(sop, current, now)


def sop_enrol_segments(*, now: dt.datetime | None = None) -> int:
    """Every segment-triggered SOP, all tenants: who is in the segment now and was not at the last check
    enters (live SOPs; a paused one only keeps its table current, so resuming enrols nobody from the
    pause). Returns enrolments made."""
    now = now or timezone.now()
    sops = (
        Sop.unscoped.filter(
            status__in=[SopStatus.LIVE, SopStatus.PAUSED],
            kind=SopKind.CUSTOMER,
            tenant__is_active=True,
            live_version__definition__trigger__type="segment",
        )
        .select_related("tenant", "live_version")
        .order_by("tenant_id", "id")
    )
    made = 0
    for sop in sops:
        with tenant_context(sop.tenant):
            try:
                made += _segment_check(sop, now=now)
            except Exception:
                logger.exception("sop.segments: SOP %s failed", sop.pk)
    return made


def _segment_check(sop: Sop, *, now: dt.datetime) -> int:
    plan = plan_for(sop.live_version)
    with transaction.atomic():
        # Serializes two checks of one SOP: both would otherwise see the same newcomers.
        Sop.objects.select_for_update().filter(pk=sop.pk).first()
        current = _segment_now(sop, plan)
        if current is None:
            return 0
        made = 0
        if sop.status == SopStatus.LIVE:
            seen = SopSegmentMember.objects.filter(sop=sop).values("contact_id")
            entered = list(
                current.filter(status=ContactStatus.ACTIVE)
                .exclude(pk__in=seen)
                .order_by("id")
                .values_list("pk", flat=True)
            )
            made = _enrol(
                sop=sop,
                plan=plan,
                # A segment's filters may join rows (values, orders) that repeat a customer: once each.
                candidates=[Candidate(contact_id=pk) for pk in dict.fromkeys(entered)],
                now=now,
            )[0]
        _segment_record(sop, current, now)
    return made


# -- by hand ---------------------------------------------------------------------------------------


def _refuse(field: str, message: str, code: str) -> None:
    raise ValidationError({field: [ErrorDetail(message, code=code)]})


def _manual_ids(contact_ids: Any) -> list[int]:
    if not isinstance(contact_ids, list) or not all(
        isinstance(pk, int) and not isinstance(pk, bool) and pk >= 1 for pk in contact_ids
    ):
        _refuse("contact_ids", "A list of customer ids.", "invalid")
    if not contact_ids:
        _refuse("contact_ids", "At least one customer.", "required")
    if len(contact_ids) > MANUAL_MAX:
        _refuse("contact_ids", f"At most {MANUAL_MAX} customers at once.", "too_many")
    ids = list(dict.fromkeys(contact_ids))
    found = set(Contact.objects.filter(pk__in=ids).values_list("pk", flat=True))
    errors = {
        f"contact_ids.{index}": [ErrorDetail(f"No such customer: {pk}.", code="does_not_exist")]
        for index, pk in enumerate(contact_ids)
        if pk not in found
    }
    if errors:
        raise ValidationError(errors)
    return ids


def sop_enrol_manual(
    *, sop: Sop, contact_ids: list[int] | None = None, filters: dict | None = None, actor: Actor
) -> dict:
    """Enrol these customers (ids, or the customers matching ``filters``) into the live customer SOP now,
    whatever its trigger; at most 10,000 at once. Each is skipped and counted when it may not enter:
    already inside (or already went through, under "never"), lost, not matching the trigger's filters,
    or no member follows it. ``actor`` is who asked: enrolments record no author, the API audits it.
    Run in the SOP's tenant's context."""
    now = timezone.now()
    if sop.kind != SopKind.CUSTOMER or sop.status != SopStatus.LIVE or sop.live_version is None:
        _refuse("non_field_errors", "Only a live customer SOP takes customers.", "not_allowed")
    if (contact_ids is None) == (filters is None):
        _refuse("non_field_errors", "Give contact_ids or filters, one of the two.", "required")
    if contact_ids is not None:
        ids = _manual_ids(contact_ids)
    else:
        try:
            clean = audience_clean(
                tenant=require_current_tenant(),
                chat_type=ChatType.SINGLE,
                audience={"filters": filters},
                field="",
            )
        except ValidationError as exc:
            # Its paths start at the audience (".filters.stage"): from the request's root instead.
            raise ValidationError({k.lstrip("."): v for k, v in errors_flat(exc.detail).items()}) from None
        matching = _filtered_ids(clean["filters"])
        if len(matching) > MANUAL_MAX:
            _refuse("filters", f"{len(matching)} customers match: at most {MANUAL_MAX} at once.", "too_many")
        ids = matching
    plan = plan_for(sop.live_version)
    live = set(Contact.objects.filter(pk__in=ids, status=ContactStatus.ACTIVE).values_list("pk", flat=True))
    matching_now = _matching(plan, live)
    with transaction.atomic():
        made, skipped = _enrol(
            sop=sop,
            plan=plan,
            candidates=[Candidate(contact_id=pk) for pk in ids if pk in matching_now],
            now=now,
        )
    skipped = {
        ALREADY: skipped[ALREADY],
        LOST: len(ids) - len(live),
        NOT_MATCHING: len(live) - len(matching_now),
        NO_MEMBER: skipped[NO_MEMBER],
    }
    return {"enrolled": made, "skipped": skipped}


def _filtered_ids(filters: dict) -> list[int]:
    """The ids of the customers ``filters`` select, at most one past the manual limit (to say so)."""
    matching = contacts_matching(principal=tenant_principal(require_current_tenant()), filters=filters)
    return list(matching.order_by("id").values_list("pk", flat=True)[: MANUAL_MAX + 1])
