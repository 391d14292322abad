"""Whether customers meet an SOP's criteria (branch conditions, exit and goal criteria), set-based.

A criterion is one of (``definition``):

- ``{"filters": {...}}``: the customer matches the contacts list's filters now;
- ``{"event": E, "name"?: N}``: an event of type E (a custom event named N) happened to the customer
  after it enrolled — after its enrolment time, or after the event that enrolled it (the enrolling
  tick reads events 30 s late, so an event right after the trigger is older than the enrolment);
- ``{"in_group": bool}``: the customer is (not) in a live customer group now.

One query per criterion for a whole batch of enrolments, whatever its size. Run in the tenant's context.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q

from campaigns.services.audience import tenant_principal
from contacts.models import Contact, ContactEvent, EventType
from contacts.selectors import contacts_matching
from groups.models import GroupMember, GroupStatus, MemberType
from scrm.tenancy.context import require_current_tenant

from ..models import SopEnrolment


def filters_match(*, filters: dict, contact_ids: Iterable[int]) -> set[int]:
    """The contacts of ``contact_ids`` that match ``filters`` (the contacts list's language) now.

    Raises ValidationError when the filters no longer resolve (a tag deleted in WeCom since)."""
    ids = list(contact_ids)
    if not ids:
        return set()
    matching = contacts_matching(principal=tenant_principal(require_current_tenant()), filters=filters or {})
    return set(matching.filter(pk__in=ids).values_list("pk", flat=True))


def _in_group_contacts(contact_ids: list[int]) -> set[int]:
    current = GroupMember.objects.filter(
        userid=OuterRef("external_userid"), type=MemberType.CUSTOMER, left_at__isnull=True
    ).exclude(group__status=GroupStatus.DISMISSED)
    return set(
        Contact.objects.filter(pk__in=contact_ids).filter(Exists(current)).values_list("pk", flat=True)
    )


def _event_enrolments(criterion: dict, enrolment_ids: list[int]) -> set[int]:
    events = ContactEvent.objects.filter(contact_id=OuterRef("contact_id"), type=criterion["event"]).filter(
        Q(occurred_at__gte=OuterRef("enrolled_at")) | Q(id__gt=OuterRef("trigger_event_id"))
    )
    if criterion["event"] == EventType.CUSTOM and criterion.get("name"):
        events = events.filter(payload__name=criterion["name"])
    return set(
        SopEnrolment.objects.filter(pk__in=enrolment_ids).filter(Exists(events)).values_list("pk", flat=True)
    )


def criterion_met(*, criterion: dict, enrolments: list[SopEnrolment]) -> set[int]:
    """The ids of ``enrolments`` whose customer meets ``criterion`` (group enrolments never do)."""
    by_contact: dict[int, list[int]] = {}
    for enrolment in enrolments:
        if enrolment.contact_id is not None:
            by_contact.setdefault(enrolment.contact_id, []).append(enrolment.pk)
    if not by_contact:
        return set()
    if "event" in criterion:
        return _event_enrolments(criterion, [pk for pks in by_contact.values() for pk in pks])
    if "filters" in criterion:
        contacts = filters_match(filters=criterion["filters"], contact_ids=by_contact)
    else:
        inside = _in_group_contacts(list(by_contact))
        contacts = inside if criterion.get("in_group") else set(by_contact) - inside
    return {pk for contact_id in contacts for pk in by_contact[contact_id]}


def criteria_met(*, criteria: list[dict], match: str, enrolments: list[SopEnrolment]) -> set[int]:
    """The ids of ``enrolments`` whose customer meets ``criteria``: all of them (``match`` "all"; no
    criteria at all is everyone) or any (``"any"``; no criteria is nobody)."""
    everyone = {enrolment.pk for enrolment in enrolments}
    if match == "any":
        met: set[int] = set()
        for criterion in criteria:
            met |= criterion_met(criterion=criterion, enrolments=[e for e in enrolments if e.pk not in met])
        return met
    met = everyone
    for criterion in criteria:
        if not met:
            break
        met &= criterion_met(criterion=criterion, enrolments=[e for e in enrolments if e.pk in met])
    return met
