"""Follow-up records (跟进记录) on customers; writing one is also a timeline event."""

from __future__ import annotations

from django.db import transaction

from scrm.tenancy.actors import Actor

from ..models import Contact, EventType, Note
from .events import event_build, events_record

EXCERPT = 200  # characters of the note kept in the event, for timelines and webhooks


def note_create(*, contact: Contact, content: str, actor: Actor) -> Note:
    """A note by ``actor`` (a member, or an integrator's API key), with its NOTE event."""
    with transaction.atomic():
        note = Note.objects.create(contact=contact, content=content, **actor.as_fields("author"))
        events_record(
            [
                event_build(
                    contact_id=contact.pk,
                    type=EventType.NOTE,
                    actor=actor,
                    payload={"note_id": note.pk, "excerpt": content[:EXCERPT]},
                )
            ]
        )
    return note


def note_update(*, note: Note, content: str) -> Note:
    note.content = content
    note.save(update_fields=["content", "updated_at"])
    return note


def note_delete(*, note: Note) -> None:
    # The NOTE event stays: the stream is append-only, and it records that a note was written.
    note.delete()
