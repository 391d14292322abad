"""Moments tasks as operators compose them: create (a draft), change (draft or scheduled), delete (a
draft), publish now or at a time, cancel, and preview who would publish and see it.

Content follows WeCom's rules for ``add_moment_task`` (wecom-api.md §8): a text of at most 2,000
characters and attachments from the content library (≤ 9 images, or 1 video, or 1 link), not both
empty. Who publishes it: members and departments (a department includes its sub-departments, as WeCom
reads ``department_list``); both empty is every member WeCom allows. Who sees it: customer tags; none is
every customer of each member. Everything WeCom would refuse is refused here, with its field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ErrorDetail, ValidationError

from campaigns.services.campaigns import scheduled_at_clean
from campaigns.services.settings import campaign_settings_get
from contacts.models import ContactStatus, Department, Follow, FollowStatus, Staff, Tag
from contacts.selectors import department_subtree, staff_ids_in_departments
from library.services import material_usage_set, moment_attachments_validate
from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.context import require_current_tenant
from scrm.tenancy.services import audit_record

from ..models import MomentTask, TaskStatus

TEXT_MAX = 2000
OWNER_TYPE = "moment_task"
IDEMPOTENCY_KEY_MAX = 100
EDITABLE = (TaskStatus.DRAFT, TaskStatus.SCHEDULED)
FIELDS = ("text", "attachments", "staff_ids", "department_ids", "tag_ids", "scheduled_at")
# How many ids a task may name (WeCom takes up to 100,000 senders; a dashboard picks far fewer).
MAX_IDS = {"staff_ids": 10_000, "department_ids": 1_000, "tag_ids": 1_000}
# A submitted task the worker never picked up (its message lost) is submitted by the beat tick after this.
SUBMIT_FALLBACK = dt.timedelta(minutes=2)

# Codes clients can tell apart (the schema states neither what exists nor who may publish).
DOES_NOT_EXIST = "does_not_exist"
CANNOT_PUBLISH = "cannot_publish"
EMPTY = "empty"
UNKNOWN_FIELD = "unknown_field"


class MomentTaskStateError(Exception):
    """The task's status does not allow this (the API answers 409 with ``code``)."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


def moment_task_names(ids: list[int]) -> dict[int, str]:
    """Tasks by id → what the library's "used by" lists call them (the first words of the text)."""
    return {pk: str(task) for pk, task in MomentTask.objects.in_bulk(ids).items()}


# -- validation -----------------------------------------------------------------------------------


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _text(value: Any, errors: dict) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors["text"] = [ErrorDetail("A string.", code="invalid")]
        return ""
    value = value.strip()
    if len(value) > TEXT_MAX:
        errors["text"] = [
            ErrorDetail(f"At most {TEXT_MAX} characters (WeCom's limit for a Moment).", code="max_length")
        ]
    return value


def _attachments(value: Any, errors: dict) -> list[dict]:
    try:
        return moment_attachments_validate(value, field="attachments")
    except ValidationError as exc:
        errors.update(exc.detail if isinstance(exc.detail, dict) else {"attachments": exc.detail})
        return []


def _id_list(value: Any, field: str, errors: dict) -> list[int] | None:
    """A list of ids (None is none); None and an error when it is not one."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(_is_id(v) for v in value):
        errors[field] = [ErrorDetail("A list of ids.", code="invalid")]
        return None
    if len(value) > MAX_IDS[field]:
        errors[field] = [ErrorDetail(f"At most {MAX_IDS[field]} ids.", code="max_length")]
        return None
    return list(dict.fromkeys(value))


def publishers() -> QuerySet[Staff]:
    """The members WeCom lets publish a corp post: active, with the customer-contact permission."""
    return Staff.objects.filter(is_active=True, has_contact_permission=True)


def _range_ids(field: str, ids: list[int]) -> tuple[dict[int, str], dict[int, str]]:
    """(usable ids → "", refused ids → code) for one of the range fields."""
    if field == "staff_ids":
        rows = {
            pk: active and allowed
            for pk, active, allowed in Staff.objects.filter(pk__in=ids).values_list(
                "pk", "is_active", "has_contact_permission"
            )
        }
        refused = {pk: DOES_NOT_EXIST if pk not in rows else CANNOT_PUBLISH for pk in ids if not rows.get(pk)}
    elif field == "department_ids":
        found = set(Department.objects.filter(pk__in=ids).values_list("pk", flat=True))
        refused = {pk: DOES_NOT_EXIST for pk in ids if pk not in found}
    else:
        found = set(Tag.objects.filter(pk__in=ids, deleted=False).values_list("pk", flat=True))
        refused = {pk: DOES_NOT_EXIST for pk in ids if pk not in found}
    return {pk: "" for pk in ids if pk not in refused}, refused


_REFUSALS = {
    ("staff_ids", DOES_NOT_EXIST): "No such member: {pk}.",
    ("staff_ids", CANNOT_PUBLISH): "Member {pk} cannot publish Moments: not active, or without the "
    "customer-contact permission in WeCom.",
    ("department_ids", DOES_NOT_EXIST): "No such department: {pk}.",
    ("tag_ids", DOES_NOT_EXIST): "No such customer tag (or it was deleted): {pk}.",
}


def _range(field: str, value: Any, errors: dict) -> list[int]:
    ids = _id_list(value, field, errors)
    if not ids:
        return []
    _, refused = _range_ids(field, ids)
    for index, pk in enumerate(ids):
        if pk in refused:
            message = _REFUSALS[(field, refused[pk])].format(pk=pk)
            errors[f"{field}.{index}"] = [ErrorDetail(message, code=refused[pk])]
    return ids


def _scheduled_at(value: Any, errors: dict) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            errors["scheduled_at"] = [ErrorDetail("A date and time (ISO 8601).", code="invalid")]
            return None
        value = parsed
    if not isinstance(value, dt.datetime):
        errors["scheduled_at"] = [ErrorDetail("A date and time (ISO 8601).", code="invalid")]
        return None
    try:
        return scheduled_at_clean(value, settings=campaign_settings_get(tenant=require_current_tenant()))
    except ValidationError as exc:
        errors.update(exc.detail)
        return None


def moment_task_clean(*, data: dict[str, Any], task: MomentTask | None = None) -> dict[str, Any]:
    """The fields of ``data`` checked (every field when creating: ``task`` None), as they are stored;
    or a ValidationError naming each wrong one by its path (``staff_ids.2``, ``attachments.0.material_id``).

    The text and the attachments are not both empty, counting the task's own for those not given.
    """
    errors: dict[str, Any] = {}
    unknown = [key for key in data if key not in FIELDS]
    for key in unknown:
        errors[key] = [
            ErrorDetail(f"Not a field of a Moments task (one of: {', '.join(FIELDS)}).", code=UNKNOWN_FIELD)
        ]
    given = FIELDS if task is None else [key for key in FIELDS if key in data]
    cleaned: dict[str, Any] = {}
    for key in given:
        value = data.get(key)
        if key == "text":
            cleaned[key] = _text(value, errors)
        elif key == "attachments":
            cleaned[key] = _attachments(value, errors)
        elif key == "scheduled_at":
            cleaned[key] = _scheduled_at(value, errors)
        else:
            cleaned[key] = _range(key, value, errors)
    text = cleaned.get("text", task.text if task is not None else "")
    attachments = cleaned.get("attachments", task.attachments if task is not None else [])
    # Said only when neither was refused already (an attachment refused is no missing content).
    refused = any(str(key).split(".")[0] in ("text", "attachments") for key in errors)
    if not text and not attachments and not refused:
        errors["text"] = [
            ErrorDetail("Write a text, or add images, a video or a link from the library.", code=EMPTY)
        ]
    if errors:
        raise ValidationError(errors)
    return cleaned


# -- writes ---------------------------------------------------------------------------------------


def _idempotency_key(actor: Actor, key: str) -> str:
    # A key is the caller's own: the same key from another member or API key is another request.
    key = (key or "").strip()[:IDEMPOTENCY_KEY_MAX]
    return f"{actor.idempotency_scope()}:{key}" if key else ""


def moment_task_for_key(*, actor: Actor, idempotency_key: str) -> MomentTask | None:
    """The task this caller already created with this ``Idempotency-Key``, if any."""
    key = _idempotency_key(actor, idempotency_key)
    return MomentTask.objects.filter(idempotency_key=key).first() if key else None


def moment_task_create(*, actor: Actor, data: dict[str, Any], idempotency_key: str = "") -> MomentTask:
    """A new draft; a repeated ``Idempotency-Key`` (of the same caller) answers the first one."""
    key = _idempotency_key(actor, idempotency_key)
    existing = moment_task_for_key(actor=actor, idempotency_key=idempotency_key)
    if existing is not None:
        return existing
    values = moment_task_clean(data=data)
    try:
        with transaction.atomic():
            task = MomentTask.objects.create(**values, idempotency_key=key, **actor.as_fields("created_by"))
            material_usage_set(owner_type=OWNER_TYPE, owner_id=task.pk, attachments=task.attachments)
    except IntegrityError:
        if not key:
            raise
        # Two requests with the same key raced; the other one created it.
        return MomentTask.objects.get(idempotency_key=key)
    return task


_ACTIONS = {
    "changed": ("not_editable", "a draft or a scheduled one"),
    "deleted": ("not_deletable", "a draft (cancel a scheduled one instead)"),
    "published": ("not_publishable", "a draft or a scheduled one"),
}


def _locked(task: MomentTask, *, allowed: tuple[str, ...], action: str) -> MomentTask:
    locked = MomentTask.objects.select_for_update().get(pk=task.pk)
    if locked.status not in allowed:
        code, which = _ACTIONS[action]
        raise MomentTaskStateError(
            f"A task that is {locked.get_status_display().lower()} cannot be {action} (only {which}).",
            code=code,
        )
    return locked


def moment_task_update(*, task: MomentTask, data: dict[str, Any]) -> MomentTask:
    """Change the fields given of a draft or scheduled task. The row is locked while it is checked and
    written, so the beat tick submits a scheduled task either before (and this is refused) or after."""
    with transaction.atomic():
        locked = _locked(task, allowed=EDITABLE, action="changed")
        cleaned = moment_task_clean(data=data, task=locked)
        if locked.status == TaskStatus.SCHEDULED and "scheduled_at" in cleaned:
            if cleaned["scheduled_at"] is None:
                raise ValidationError(
                    {"scheduled_at": ["A scheduled task needs its time: publish it now, or cancel it."]}
                )
            # The tick reads next_check_at: the new time is when it is submitted.
            locked.next_check_at = cleaned["scheduled_at"]
        for field, value in cleaned.items():
            setattr(locked, field, value)
        locked.save()
        if "attachments" in cleaned:
            material_usage_set(owner_type=OWNER_TYPE, owner_id=locked.pk, attachments=locked.attachments)
    return locked


def moment_task_delete(*, task: MomentTask) -> None:
    """Delete a draft (what was scheduled or published is cancelled instead, and kept)."""
    with transaction.atomic():
        locked = _locked(task, allowed=(TaskStatus.DRAFT,), action="deleted")
        material_usage_set(owner_type=OWNER_TYPE, owner_id=locked.pk, attachments=[])
        locked.delete()


def moment_task_publish(
    *, task: MomentTask, scheduled_at: dt.datetime | None = None, actor: Actor = SYSTEM
) -> MomentTask:
    """Publish a draft (or a scheduled task) now, or schedule it for ``scheduled_at``.

    Everything is checked again first (a material deleted, a member who lost the permission since it
    was saved). Scheduled: the beat tick submits it when due (``next_check_at``). Now: it is
    ``submitting`` and its submit is enqueued when this transaction commits; the tick submits it too
    if that message is lost (``SUBMIT_FALLBACK``).
    """
    from ..tasks import task_step

    now = timezone.now()
    with transaction.atomic():
        locked = _locked(task, allowed=EDITABLE, action="published")
        content = {key: getattr(locked, key) for key in FIELDS if key != "scheduled_at"}
        cleaned = moment_task_clean(data={**content, "scheduled_at": scheduled_at})
        when = cleaned["scheduled_at"]
        locked.scheduled_at = when
        if when is not None:
            locked.status, locked.next_check_at = TaskStatus.SCHEDULED, when
        else:
            locked.status, locked.next_check_at = TaskStatus.SUBMITTING, now + SUBMIT_FALLBACK
            task_step.delay_on_commit(locked.tenant_id, locked.pk, "submit")
        locked.save(update_fields=["scheduled_at", "status", "next_check_at", "updated_at"])
        if actor:
            audit_record(
                actor=actor,
                action="moments.publish",
                data={"task": locked.pk, "scheduled_at": when.isoformat() if when else None},
            )
    return locked


def moment_task_cancel(*, task: MomentTask, actor: Actor = SYSTEM) -> MomentTask:
    """Cancel a task. A draft or scheduled one: no WeCom call. One members are publishing:
    ``cancel_moment_task`` first (members who published keep their post; the others no longer can),
    then cancelled; its tracking goes on. One being created in WeCom is refused: it has no moment_id to
    cancel yet (``being_created``); cancel it once it is."""
    from scrm.wecom.api import api_for

    now = timezone.now()
    with transaction.atomic():
        locked = MomentTask.objects.select_for_update().get(pk=task.pk)
        if locked.status in EDITABLE:
            locked.status, locked.cancelled_at, locked.next_check_at = TaskStatus.CANCELLED, now, None
            locked.save(update_fields=["status", "cancelled_at", "next_check_at", "updated_at"])
            return locked
    if locked.status == TaskStatus.SUBMITTING:
        raise MomentTaskStateError(
            "The task is being created in WeCom; cancel it once it is (in a few seconds).",
            code="being_created",
        )
    if locked.status != TaskStatus.PUBLISHING or locked.moment_id is None:
        raise MomentTaskStateError(
            f"A task that is {locked.get_status_display().lower()} cannot be cancelled.",
            code="not_cancellable",
        )
    # No row lock across the WeCom call; cancelling twice in WeCom is harmless.
    api_for(locked.tenant).cancel_moment_task(locked.moment.moment_id)
    with transaction.atomic():
        MomentTask.objects.filter(pk=locked.pk, status=TaskStatus.PUBLISHING).update(
            status=TaskStatus.CANCELLED, cancelled_at=now, updated_at=now
        )
        type(locked.moment).objects.filter(pk=locked.moment_id).update(cancelled=True)
        if actor:
            audit_record(actor=actor, action="moments.cancel", data={"task": locked.pk})
    locked.refresh_from_db()
    return locked


# -- preview --------------------------------------------------------------------------------------


def task_publishers(*, staff_ids: list[int], department_ids: list[int]) -> QuerySet[Staff]:
    """The members a task with this range asks to publish: those named and those in the departments
    (sub-departments included, as WeCom reads department_list), or, with neither, every member who may
    publish."""
    members = publishers()
    if not staff_ids and not department_ids:
        return members
    branches = {
        wecom_id
        for root in Department.objects.filter(pk__in=department_ids).values_list("wecom_id", flat=True)
        for wecom_id in department_subtree(root)
    }
    return members.filter(Q(pk__in=staff_ids) | Q(pk__in=staff_ids_in_departments(branches)))


def moment_task_preview(*, data: dict[str, Any]) -> dict[str, Any]:
    """Who a task with this range would reach, before it is published: ``members`` asked to publish
    it and ``customers`` (distinct, not lost) of theirs who would see it once all publish; ids that name
    nothing usable are left out and listed in ``invalid`` ({field: [ids]})."""
    errors: dict[str, Any] = {}
    ids = {field: _id_list(data.get(field), field, errors) or [] for field in MAX_IDS}
    if errors:
        raise ValidationError(errors)
    usable, invalid = {}, {}
    for field, values in ids.items():
        kept, refused = _range_ids(field, values) if values else ({}, {})
        usable[field], invalid[field] = list(kept), sorted(refused)
    members = task_publishers(staff_ids=usable["staff_ids"], department_ids=usable["department_ids"])
    if (ids["staff_ids"] or ids["department_ids"]) and not (usable["staff_ids"] or usable["department_ids"]):
        members = members.none()  # every member or department named is unusable: nobody, not everybody
    follows = Follow.objects.filter(
        status=FollowStatus.ACTIVE, staff__in=members.values("pk"), contact__status=ContactStatus.ACTIVE
    )
    if usable["tag_ids"]:
        wecom_tags = list(Tag.objects.filter(pk__in=usable["tag_ids"]).values_list("wecom_id", flat=True))
        # Follow.tag_ids holds WeCom's tag ids: ?| (has any of these strings) on the JSON array. With no
        # usable tag left WeCom shows the post to every customer (visible_type 1), and so does this.
        follows = follows.filter(tag_ids__has_any_keys=wecom_tags)
    return {
        "members": members.count(),
        "customers": follows.values("contact_id").distinct().count(),
        "invalid": invalid,
    }
