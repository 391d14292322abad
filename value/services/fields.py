"""The tenant's customer profile: the fields it defines (birthday, city, budget…) and each customer's values.

A field's ``key`` and ``kind`` never change after it is made, and a field is archived rather than
deleted, so a stored value never changes meaning (DESIGN.md §11: history is not rewritten). Values live
in ``Contact.profile`` under the field's key, in one JSON shape per kind (see ``profile_value_clean``);
the contacts list filters on them (``contacts.filters``), the export writes them, and every change is
one ``profile_changed`` event.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework.exceptions import ErrorDetail, ValidationError

from contacts.models import Contact, EventType
from contacts.services.events import event_build, events_record
from scrm.api.errors import Conflict
from scrm.tenancy.actors import Actor

from ..models import FieldKind, ProfileField

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
LABEL_MAX = 64
CHOICES_MAX = 50
CHOICE_MAX_CHARS = 32
TEXT_MAX = 200
NUMBER_MAX = 10**12
ORDER_MAX = 999_999  # within the column on every database, and published as the maximum
# Fields in use at once: the export writes a column per field and the page a form row per field.
FIELDS_MAX = 100
# Keys in one profile edit (archived fields' keys included, which are refused).
PROFILE_KEYS_MAX = 200
CHOICE_KINDS = (FieldKind.CHOICE, FieldKind.MULTI_CHOICE)
IMMUTABLE = ("key", "kind")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# What PostgreSQL's jsonb cannot hold: NUL, and UTF-16 surrogates (a JSON body may escape them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _error(message: str, code: str = "invalid") -> list[ErrorDetail]:
    return [ErrorDetail(message, code=code)]


# -- fields -----------------------------------------------------------------------------------------


def _choices_clean(*, kind: str, choices: Any, errors: dict) -> list[str]:
    """1 to 50 distinct non-empty strings of at most 32 characters for a (multi) choice field; none else."""
    if kind not in CHOICE_KINDS:
        if choices:
            errors["choices"] = _error("Only choice and multiple-choice fields have choices.", "wrong_kind")
        return []
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        errors["choices"] = _error("A list of strings.")
        return []
    cleaned = [c.strip() for c in choices]
    if not cleaned:
        errors["choices"] = _error("A choice field needs its choices (1 to 50).", "choices_required")
    elif len(cleaned) > CHOICES_MAX:
        errors["choices"] = _error(f"At most {CHOICES_MAX} choices.", "max_length")
    elif any(not c or len(c) > CHOICE_MAX_CHARS or "\x00" in c for c in cleaned):
        errors["choices"] = _error(f"Every choice is text of 1 to {CHOICE_MAX_CHARS} characters.")
    elif len(set(cleaned)) != len(cleaned):
        errors["choices"] = _error("Choices must differ from each other.", "duplicate")
    return cleaned


def _label_clean(label: Any, errors: dict) -> str:
    label = label.strip() if isinstance(label, str) else ""
    if not label or len(label) > LABEL_MAX:
        errors["label"] = _error(f"A label of 1 to {LABEL_MAX} characters.")
    return label


class KeyTaken(Conflict):
    """409 ``key_taken``: keys are unique in the tenant for good, archived fields keeping theirs (a
    state of the tenant's fields, not of the request: the same body is fine in another tenant)."""

    def __init__(self, key: str):
        super().__init__(
            f"A profile field with the key {key!r} exists (an archived field keeps its key: restore it).",
            code="key_taken",
        )


def _check_room(*, excluding: ProfileField | None = None) -> None:
    in_use = ProfileField.objects.filter(archived=False)
    if excluding is not None:
        in_use = in_use.exclude(pk=excluding.pk)
    if in_use.count() >= FIELDS_MAX:
        raise Conflict(
            f"At most {FIELDS_MAX} profile fields in use: archive one first.", code="too_many_fields"
        )


def profile_field_create(
    *,
    key: str,
    label: str,
    kind: str,
    choices: list[str] | None = None,
    yearly: bool = False,
    order: int = 0,
) -> ProfileField:
    """A new field. Its key is unique in the tenant for good (archived fields keep theirs): 409
    ``key_taken``."""
    errors: dict[str, Any] = {}
    if not isinstance(key, str) or not re.fullmatch(KEY_PATTERN, key):
        errors["key"] = _error(
            "A key of 1 to 32 lowercase letters, digits and underscores, starting with a letter."
        )
    label = _label_clean(label, errors)
    if kind not in FieldKind.values:
        errors["kind"] = _error(f"One of: {', '.join(FieldKind.values)}.", "invalid_choice")
    cleaned_choices = _choices_clean(kind=kind, choices=choices or [], errors=errors)
    if yearly and kind != FieldKind.DATE:
        errors["yearly"] = _error("Only a date field recurs yearly.", "wrong_kind")
    if errors:
        raise ValidationError(errors)
    if ProfileField.objects.filter(key=key).exists():
        raise KeyTaken(key)
    _check_room()
    try:
        with transaction.atomic():
            return ProfileField.objects.create(
                key=key, label=label, kind=kind, choices=cleaned_choices, yearly=bool(yearly), order=order
            )
    except IntegrityError:  # another request made the same key in between
        raise KeyTaken(key) from None


def profile_field_update(*, field: ProfileField, data: dict[str, Any]) -> ProfileField:
    """Change the label, choices, yearly, order, or ``archived`` (false restores it).

    The key and the kind cannot change (400 ``immutable``; sending them unchanged is fine). A choice
    that customers' values use may be removed: those values stay, shown as they are.
    """
    errors: dict[str, Any] = {}
    for name in IMMUTABLE:
        if name in data and data[name] != getattr(field, name):
            errors[name] = _error(
                f"A field's {name} cannot change: make a new field (and archive this one).", "immutable"
            )
    changes: dict[str, Any] = {}
    if "label" in data:
        changes["label"] = _label_clean(data["label"], errors)
    if "choices" in data:
        changes["choices"] = _choices_clean(kind=field.kind, choices=data["choices"], errors=errors)
    if "yearly" in data:
        if data["yearly"] and field.kind != FieldKind.DATE:
            errors["yearly"] = _error("Only a date field recurs yearly.", "wrong_kind")
        changes["yearly"] = bool(data["yearly"])
    if "order" in data:
        changes["order"] = data["order"]
    if "archived" in data:
        changes["archived"] = bool(data["archived"])
    if errors:
        raise ValidationError(errors)
    if field.archived and changes.get("archived") is False:
        _check_room(excluding=field)
    for name, value in changes.items():
        setattr(field, name, value)
    if changes:
        field.save()
    return field


def profile_field_archive(*, field: ProfileField) -> ProfileField:
    """Hide the field from forms, new values and the export; values and filters on it stay."""
    if not field.archived:
        field.archived = True
        field.save(update_fields=["archived", "updated_at"])
    return field


def profile_fields(*, include_archived: bool = False):
    fields = ProfileField.objects.order_by("order", "id")
    return fields if include_archived else fields.filter(archived=False)


# -- values -----------------------------------------------------------------------------------------


def profile_value_clean(field: ProfileField, value: Any) -> Any:
    """``value`` as stored for ``field`` (None: no value), or ValueError with the reason.

    text: a string of at most 200 characters (trimmed; "" is no value); number: a finite JSON number,
    |x| ≤ 1e12; date: "YYYY-MM-DD"; choice: one of the choices; multi choice: a list of choices
    (duplicates dropped, [] is no value).
    """
    if value is None:
        return None
    kind = field.kind
    if kind == FieldKind.TEXT:
        if not isinstance(value, str):
            raise ValueError("Text (a string).")
        value = value.strip()
        if len(value) > TEXT_MAX:
            raise ValueError(f"At most {TEXT_MAX} characters.")
        if _UNSTORABLE.search(value):
            raise ValueError("Text without NUL characters or lone surrogates.")
        return value or None
    if kind == FieldKind.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("A number.")
        if not math.isfinite(value) or abs(value) > NUMBER_MAX:
            raise ValueError("A number between -1e12 and 1e12.")
        return value
    if kind == FieldKind.DATE:
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise ValueError("A date as YYYY-MM-DD.")
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError("Not a date of the calendar.") from None
    if kind == FieldKind.CHOICE:
        if not isinstance(value, str) or value not in field.choices:
            raise ValueError(f"One of: {', '.join(field.choices)}.")
        return value
    # Multiple choice.
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("A list of choices.")
    unknown = [v for v in value if v not in field.choices]
    if unknown:
        raise ValueError(f"Not choices of this field: {', '.join(unknown)}.")
    return list(dict.fromkeys(value)) or None


def contact_profile_update(*, contact: Contact, profile: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Merge ``profile`` into the customer's: a key set to null (or an empty value) is removed.

    Every key must name a field in use (unknown or archived: 400 on ``profile.<key>``). What changed
    is recorded as one ``profile_changed`` event ``{"changed": {key: [old, new]}}`` in the same
    transaction; nothing changed, no write and no event. Returns the whole profile as stored.
    """
    # Only well-formed keys are looked up: no field has another (and a NUL would fail the query).
    wanted = [key for key in profile if re.fullmatch(KEY_PATTERN, key)]
    fields = {f.key: f for f in ProfileField.objects.filter(key__in=wanted)} if wanted else {}
    errors: dict[str, Any] = {}
    cleaned: dict[str, Any] = {}
    for key, value in profile.items():
        field = fields.get(key)
        if field is None:
            errors[key] = _error("No such profile field.", "does_not_exist")
        elif field.archived:
            errors[key] = _error("This profile field is archived: restore it to set values.", "archived")
        else:
            try:
                cleaned[key] = profile_value_clean(field, value)
            except ValueError as exc:
                # A value of another kind than the field's (a schema cannot know the tenant's fields).
                errors[key] = _error(str(exc), "wrong_kind")
    if errors:
        raise ValidationError({"profile": errors})
    with transaction.atomic():
        # Locked, so two edits of different keys at once both land (each merges into the other's result).
        locked = Contact.objects.select_for_update(of=("self",)).only("id", "profile").get(pk=contact.pk)
        current = dict(locked.profile or {})
        changed: dict[str, list[Any]] = {}
        for key, new in cleaned.items():
            old = current.get(key)
            if old == new:  # 3000 and 3000.0 are the same budget
                continue
            changed[key] = [old, new]
            if new is None:
                current.pop(key, None)
            else:
                current[key] = new
        if changed:
            locked.profile = current
            locked.save(update_fields=["profile", "updated_at"])
            events_record(
                [
                    event_build(
                        contact_id=locked.pk,
                        type=EventType.PROFILE_CHANGED,
                        actor=actor,
                        payload={"changed": changed},
                    )
                ]
            )
    contact.profile = current
    return current
