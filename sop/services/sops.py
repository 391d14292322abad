"""SOPs as operators edit and run them: create (blank or from a template), change the draft, publish a
version, pause, resume, stop, delete, and enrol customers by hand.

The draft is saved as written, even when it is not a valid definition yet (the builder saves as the
operator types; ``draft_errors`` shows what publishing would refuse). Publishing checks it
(``definition_clean``) and freezes it as a new version: customers already inside keep the version they
entered with. Materials a published version uses are recorded as used by the SOP (the library's
owner type ``sop``) until it is stopped, so none is deleted under a journey still running.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError

from library.services import material_usage_set
from scrm.tenancy.actors import Actor
from scrm.tenancy.services import audit_record

from ..models import Sop, SopKind, SopStatus, SopVersion
from ..templates import template_get

OWNER_TYPE = "sop"
NAME_MAX = 100
DESCRIPTION_MAX = 500
# The definition's own limit (64 KB of JSON); a draft may be invalid but never bigger.
DRAFT_MAX_BYTES = 64 * 1024
TOO_MANY_BYTES = "too_many_bytes"
KIND_MISMATCH = "kind_mismatch"


class SopStateError(Exception):
    """The SOP's status does not allow this; ``code`` says why (the API answers 409 of that type)."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


def sop_names(ids: list[int]) -> dict[int, str]:
    """SOP id → name, for the library's "used by" lists (registered in ``SopConfig.ready``)."""
    return dict(Sop.objects.filter(pk__in=ids).values_list("id", "name"))


# -- validation -----------------------------------------------------------------------------------


def _name(value: Any, errors: dict) -> str:
    if not isinstance(value, str) or not value.strip():
        errors["name"] = [ErrorDetail("Give the SOP a name.", code="required")]
        return ""
    value = value.strip()
    if len(value) > NAME_MAX:
        errors["name"] = [ErrorDetail(f"At most {NAME_MAX} characters.", code="max_length")]
    return value


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _draft(value: Any, errors: dict) -> dict:
    if not isinstance(value, dict):
        errors["draft"] = [ErrorDetail("An object: the SOP's definition.", code="invalid")]
        return {}
    if _has_nul(value):
        # PostgreSQL's jsonb cannot hold the NUL character (DRF's string fields refuse it the same way).
        errors["draft"] = [ErrorDetail("No NUL characters.", code="null_characters_not_allowed")]
        return {}
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > DRAFT_MAX_BYTES:
        errors["draft"] = [
            ErrorDetail(f"At most {DRAFT_MAX_BYTES // 1024} KB of JSON ({size} bytes).", code=TOO_MANY_BYTES)
        ]
    return value


def draft_errors(sop: Sop) -> dict[str, Any]:
    """What publishing the draft now would refuse (``{}``: nothing), keyed by definition path."""
    from .definition import definition_errors

    return definition_errors(kind=sop.kind, definition=sop.draft)


# -- create, change, delete -----------------------------------------------------------------------


def sop_create(
    *,
    tenant,
    actor: Actor,
    name: str,
    description: str = "",
    kind: str | None = None,
    draft: Any = None,
    template: str | None = None,
) -> Sop:
    """A new draft SOP. With a template, its kind and (unless ``draft`` is given) its definition."""
    errors: dict[str, Any] = {}
    values: dict[str, Any] = {"name": _name(name, errors), "description": (description or "").strip()}
    if template:
        found = template_get(template)
        if found is None:
            errors["template"] = [ErrorDetail(f"No such template: {template}.", code="does_not_exist")]
        else:
            if kind and kind != found.kind:
                errors["kind"] = [
                    ErrorDetail(f"The template {template} makes a {found.kind} SOP.", code=KIND_MISMATCH)
                ]
            kind = found.kind
            values["template"] = found.key
            if draft is None:
                draft = found.draft()
    kind = kind or SopKind.CUSTOMER
    if kind not in SopKind.values:
        errors["kind"] = [ErrorDetail(f"One of: {', '.join(SopKind.values)}.", code="invalid_choice")]
    values["kind"] = kind
    values["draft"] = _draft({} if draft is None else draft, errors)
    if errors:
        raise ValidationError(errors)
    return Sop.objects.create(tenant=tenant, **values, **actor.as_fields("created_by"))


def sop_update(*, sop: Sop, data: dict[str, Any]) -> Sop:
    """Change the name, description or draft (in any status: a live SOP's draft becomes its next
    version when published)."""
    errors: dict[str, Any] = {}
    fields = []
    if "name" in data:
        sop.name = _name(data["name"], errors)
        fields.append("name")
    if "description" in data:
        sop.description = (data["description"] or "").strip()
        fields.append("description")
    if "draft" in data:
        sop.draft = _draft(data["draft"], errors)
        fields.append("draft")
    if errors:
        raise ValidationError(errors)
    if fields:
        sop.save(update_fields=[*fields, "updated_at"])
    return sop


def sop_delete(*, sop: Sop, actor: Actor) -> None:
    """Delete an SOP that was never published; one with versions has customers' history: stop it."""
    with transaction.atomic():
        locked = Sop.objects.select_for_update().get(pk=sop.pk)
        if SopVersion.objects.filter(sop=locked).exists():
            raise SopStateError(
                "This SOP was published: its enrolments and reports stay. Stop it instead.",
                code="has_versions",
            )
        material_usage_set(owner_type=OWNER_TYPE, owner_id=locked.pk, attachments=[])
        audit_record(actor=actor, action="sop.delete", data={"sop": locked.pk, "name": locked.name})
        locked.delete()


# -- publish and run ------------------------------------------------------------------------------


def _materials_in_use(sop: Sop) -> list[dict]:
    """Every material of every version: enrolments of older versions go on after a new publish."""
    from .definition import definition_material_ids

    ids: set[int] = set()
    for definition in SopVersion.objects.filter(sop=sop).values_list("definition", flat=True):
        ids.update(definition_material_ids(definition))
    return [{"material_id": pk} for pk in sorted(ids)]


def _prefixed(detail: Any) -> dict[str, Any]:
    if not isinstance(detail, dict):
        return {"draft": detail}
    return {"draft" if key == "non_field_errors" else f"draft.{key}": value for key, value in detail.items()}


def sop_publish(*, sop: Sop, actor: Actor, now: dt.datetime | None = None) -> SopVersion:
    """Freeze the draft as the next version and make it live (a paused or stopped SOP runs again).

    A 400 with the draft's errors (paths ``draft.steps.2.days``) when it is not valid. A segment
    trigger takes the segment's current members as its baseline (they do not enter) when the SOP was
    not running on the same trigger already.
    """
    from .definition import definition_clean

    now = now or timezone.now()
    with transaction.atomic():
        locked = Sop.objects.select_for_update(of=("self",)).select_related("live_version").get(pk=sop.pk)
        try:
            definition = definition_clean(kind=locked.kind, definition=locked.draft)
        except ValidationError as exc:
            raise ValidationError(_prefixed(exc.detail)) from exc
        running = locked.status in (SopStatus.LIVE, SopStatus.PAUSED) and locked.live_version is not None
        previous_trigger = locked.live_version.definition.get("trigger") if running else None
        last = SopVersion.objects.filter(sop=locked).aggregate(last=Max("number"))["last"] or 0
        version = SopVersion.objects.create(
            tenant=locked.tenant,
            sop=locked,
            number=last + 1,
            definition=definition,
            **actor.as_fields("published_by"),
        )
        locked.status = SopStatus.LIVE
        locked.live_version = version
        locked.save(update_fields=["status", "live_version", "updated_at"])
        material_usage_set(owner_type=OWNER_TYPE, owner_id=locked.pk, attachments=_materials_in_use(locked))
        trigger = definition.get("trigger") or {}
        if trigger.get("type") == "segment" and trigger != previous_trigger:
            from .enrol import sop_segment_baseline

            sop_segment_baseline(sop=locked, now=now)
        audit_record(actor=actor, action="sop.publish", data={"sop": locked.pk, "version": version.number})
    return version


def _transition(
    *, sop: Sop, actor: Actor, action: str, allowed: tuple[str, ...], to: str, code: str, message: str
) -> Sop:
    with transaction.atomic():
        locked = Sop.objects.select_for_update().get(pk=sop.pk)
        if locked.status not in allowed:
            raise SopStateError(message, code=code)
        locked.status = to
        locked.save(update_fields=["status", "updated_at"])
        audit_record(actor=actor, action=f"sop.{action}", data={"sop": locked.pk})
    return locked


def sop_pause(*, sop: Sop, actor: Actor) -> Sop:
    """Nobody new enters; due steps wait (the engine pushes them back) until resumed."""
    return _transition(
        sop=sop,
        actor=actor,
        action="pause",
        allowed=(SopStatus.LIVE,),
        to=SopStatus.PAUSED,
        code="not_live",
        message="Only a live SOP can be paused.",
    )


def sop_resume(*, sop: Sop, actor: Actor) -> Sop:
    return _transition(
        sop=sop,
        actor=actor,
        action="resume",
        allowed=(SopStatus.PAUSED,),
        to=SopStatus.LIVE,
        code="not_paused",
        message="Only a paused SOP can be resumed.",
    )


def sop_stop(*, sop: Sop, actor: Actor, now: dt.datetime | None = None) -> tuple[Sop, int]:
    """Everyone inside exits (reason ``sop_stopped``); open tasks stay for members to finish. The SOP
    and its reports stay; publishing again starts it afresh. Returns it and how many exited."""
    from . import engine

    now = now or timezone.now()
    with transaction.atomic():
        locked = Sop.objects.select_for_update().get(pk=sop.pk)
        if locked.status not in (SopStatus.LIVE, SopStatus.PAUSED):
            code = "already_stopped" if locked.status == SopStatus.STOPPED else "not_published"
            raise SopStateError("Only a live or paused SOP can be stopped.", code=code)
        locked.status = SopStatus.STOPPED
        locked.save(update_fields=["status", "updated_at"])
        exited = engine.sop_stop(sop=locked, now=now)
        material_usage_set(owner_type=OWNER_TYPE, owner_id=locked.pk, attachments=[])
        audit_record(actor=actor, action="sop.stop", data={"sop": locked.pk, "exited": exited})
    return locked, exited


def sop_enrol(
    *, sop: Sop, actor: Actor, contact_ids: list[int] | None = None, filters: dict | None = None
) -> dict[str, Any]:
    """Enrol these customers now (a live customer SOP, whatever its trigger), audited."""
    from .enrol import sop_enrol_manual

    if sop.kind != SopKind.CUSTOMER:
        raise SopStateError("Customers are enrolled in customer SOPs only.", code="not_customer_sop")
    if sop.status != SopStatus.LIVE:
        raise SopStateError(
            "Customers can be enrolled in a live SOP only: publish it first.", code="not_live"
        )
    result = sop_enrol_manual(sop=sop, contact_ids=contact_ids, filters=filters, actor=actor)
    # Enrolments record no author: who enrolled whom by hand is in the audit log.
    audit_record(
        actor=actor,
        action="sop.enrol",
        data={
            "sop": sop.pk,
            "enrolled": result["enrolled"],
            "by": "ids" if contact_ids is not None else "filters",
        },
    )
    return result
