"""The tenant's do-not-disturb list: customers no campaign (nor, later, SOP or Moments reminder) goes to.

Planning leaves them out and counts them (``skipped_dnd``), so a preview says how many were spared.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from rest_framework.exceptions import ErrorDetail, ValidationError

from contacts.models import Contact
from scrm.tenancy.actors import Actor

from ..models import DoNotDisturb

MAX_PER_REQUEST = 1000
REASON_MAX = 200


def dnd_contacts_resolve(contact_ids: Sequence[int], *, field: str = "contacts") -> list[Contact]:
    """The tenant's contacts these ids name (one query); each unknown id is an error at its index."""
    ids = list(dict.fromkeys(contact_ids))
    found = Contact.objects.in_bulk(ids)
    errors = {
        str(index): [ErrorDetail(f"No such customer: {pk}.", code="does_not_exist")]
        for index, pk in enumerate(contact_ids)
        if pk not in found
    }
    if errors:
        raise ValidationError({field: errors})
    return [found[pk] for pk in ids]


def dnd_add(*, contacts: Sequence[Contact], reason: str = "", actor: Actor) -> tuple[list[DoNotDisturb], int]:
    """Put customers on the list. Idempotent: a customer already on it keeps its entry (reason, author
    and date unchanged). Answers every customer's entry, in the order given, and how many are new."""
    reason = (reason or "").strip()
    with transaction.atomic():
        existing = set(
            DoNotDisturb.objects.filter(contact__in=[c.pk for c in contacts]).values_list(
                "contact_id", flat=True
            )
        )
        new = [
            DoNotDisturb(contact=contact, reason=reason, **actor.as_fields("created_by"))
            for contact in contacts
            if contact.pk not in existing
        ]
        # A concurrent add of the same customer is no error: the unique constraint keeps one entry.
        DoNotDisturb.objects.bulk_create(new, ignore_conflicts=True)
    entries = {
        e.contact_id: e
        for e in DoNotDisturb.objects.filter(contact__in=[c.pk for c in contacts]).select_related(
            "contact", "created_by", "created_by_api_key"
        )
    }
    return [entries[c.pk] for c in contacts if c.pk in entries], len(new)


def dnd_remove(*, entry: DoNotDisturb) -> None:
    entry.delete()
