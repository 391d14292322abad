"""The tenant's sales pipeline (stages) and moving a customer along it."""

from __future__ import annotations

from django.db import transaction

from scrm.tenancy.actors import Actor

from ..models import Contact, EventType, Stage
from .events import event_build, events_record


def stage_create(*, name: str, order: int = 0, color: str = "") -> Stage:
    return Stage.objects.create(name=name, order=order, color=color)


def stage_update(*, stage: Stage, data: dict) -> Stage:
    for field in ("name", "order", "color"):
        if field in data:
            setattr(stage, field, data[field])
    stage.save()
    return stage


def stage_delete(*, stage: Stage) -> None:
    # Contacts at this stage fall back to no stage (the FK is SET_NULL). No per-contact events: the
    # stage itself is gone, and a pipeline edit must not write one row per customer of a large corp.
    stage.delete()


def contact_stage_set(*, contact: Contact, stage: Stage | None, actor: Actor) -> Contact:
    """Move the customer to ``stage`` (None clears it) and record the change in the same transaction."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update(of=("self",)).select_related("stage").get(pk=contact.pk)
        previous = contact.stage
        if (previous.pk if previous else None) == (stage.pk if stage else None):
            return contact
        contact.stage = stage
        contact.save(update_fields=["stage", "updated_at"])
        events_record(
            [
                event_build(
                    contact_id=contact.pk,
                    type=EventType.STAGE_CHANGED,
                    actor=actor,
                    payload={
                        "from": previous.pk if previous else None,
                        "from_name": previous.name if previous else "",
                        "to": stage.pk if stage else None,
                        "to_name": stage.name if stage else "",
                    },
                )
            ]
        )
    return contact
