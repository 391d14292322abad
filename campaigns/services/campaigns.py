"""Campaigns as their authors edit them: create (a draft), change (draft or scheduled), delete (a
draft), send now or at a time.

Content follows WeCom's rules for ``add_msg_template`` (wecom-api.md §7): a text of at most 4,000
bytes and at most 9 attachments from the content library (images, links, mini programs, videos,
files), at least one of the two. WeCom sends one text to every recipient of a task, so a mass
message cannot greet each customer by name: ``{customer_name}`` and the like are refused rather than
sent to customers as written. Times without an offset are in the tenant's time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError

from library.owners import usage_owner_register
from library.services import attachments_validate, material_usage_set
from scrm.tenancy.actors import Actor
from scrm.tenancy.services import audit_record

from ..models import Campaign, CampaignSettings, CampaignStatus, ChatType
from .audience import audience_clean
from .settings import campaign_settings_get, settings_zone

NAME_MAX = 100
TEXT_MAX_BYTES = 4_000
ATTACHMENT_KINDS = ("image", "link", "miniprogram", "video", "file")
SCHEDULE_AHEAD_MAX = dt.timedelta(days=30)
EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
OWNER_TYPE = "campaign"
IDEMPOTENCY_KEY_MAX = 100
# {customer_name}, { staff_name }, {name}: what a template language would fill in, and WeCom does not.
PLACEHOLDER_RE = re.compile(r"\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}")
# Error codes clients (and the schema fuzzer) can tell apart: the schema states neither bytes nor
# what time it is.
TOO_MANY_BYTES = "too_many_bytes"
PLACEHOLDER = "placeholder"
IN_THE_PAST = "in_the_past"
TOO_FAR_AHEAD = "too_far_ahead"


class CampaignStateError(Exception):
    """The campaign's status does not allow this (editing a sent campaign, deleting a scheduled one)."""


def _campaign_names(ids: list[int]) -> dict[int, str]:
    return dict(Campaign.objects.filter(pk__in=ids).values_list("id", "name"))


usage_owner_register(OWNER_TYPE, label="Campaign", names=_campaign_names)


# -- validation -----------------------------------------------------------------------------------


def _name(value: Any, errors: dict) -> str:
    if not isinstance(value, str) or not value.strip():
        errors["name"] = ["Give the campaign a name."]
        return ""
    value = value.strip()
    if len(value) > NAME_MAX:
        errors["name"] = [f"At most {NAME_MAX} characters."]
    return value


def _text(value: Any, errors: dict) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors["text"] = ["A string."]
        return ""
    value = value.strip()
    if len(value.encode()) > TEXT_MAX_BYTES:
        errors["text"] = [
            ErrorDetail(
                f"At most {TEXT_MAX_BYTES} bytes ({TEXT_MAX_BYTES // 3} Chinese characters).",
                code=TOO_MANY_BYTES,
            )
        ]
    elif match := PLACEHOLDER_RE.search(value):
        errors["text"] = [
            ErrorDetail(
                f"{match.group(0)} would reach customers as written: WeCom sends one text to every "
                "recipient of a mass message and cannot fill in a name. Write the text without it.",
                code=PLACEHOLDER,
            )
        ]
    return value


def _attachments(value: Any, errors: dict) -> list[dict]:
    try:
        return attachments_validate(value, field="attachments", kinds=ATTACHMENT_KINDS)
    except ValidationError as exc:
        errors.update(exc.detail if isinstance(exc.detail, dict) else {"attachments": exc.detail})
        return []


def scheduled_at_clean(
    value: dt.datetime | None, *, settings: CampaignSettings, now: dt.datetime | None = None
) -> dt.datetime | None:
    """A send time: in the future, at most 30 days ahead; without an offset, in the tenant's zone."""
    if value is None:
        return None
    zone = settings_zone(settings)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=zone)
    now = now or timezone.now()
    if value <= now:
        raise ValidationError(
            {
                "scheduled_at": [
                    ErrorDetail(
                        f"Choose a time in the future (it is {now.astimezone(zone):%Y-%m-%d %H:%M} in "
                        f"{zone.key}).",
                        code=IN_THE_PAST,
                    )
                ]
            }
        )
    if value > now + SCHEDULE_AHEAD_MAX:
        raise ValidationError(
            {
                "scheduled_at": [
                    ErrorDetail(f"At most {SCHEDULE_AHEAD_MAX.days} days ahead.", code=TOO_FAR_AHEAD)
                ]
            }
        )
    return value


def _content_required(text: str, attachments: list, errors: dict) -> None:
    # Said only when neither was refused already (an attachment refused is no missing content).
    refused = any(str(key).split(".")[0] in ("text", "attachments") for key in errors)
    if not text and not attachments and not refused:
        errors["text"] = ["Write a text, or add an attachment from the library."]


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


def _audience(tenant, chat_type: str, audience: Any, errors: dict) -> dict:
    try:
        return audience_clean(tenant=tenant, chat_type=chat_type, audience=audience)
    except ValidationError as exc:
        errors.update(exc.detail)
        return {}


# -- writes ---------------------------------------------------------------------------------------


def _idempotency_key(actor: Actor, key: str) -> str:
    # A key is the caller's own: the same key from another member or API key is another request.
    key = (key or "").strip()[:IDEMPOTENCY_KEY_MAX]
    return f"{actor.idempotency_scope()}:{key}" if key else ""


def campaign_create(
    *,
    tenant,
    actor: Actor,
    name: str,
    chat_type: str,
    audience: Any,
    text: str = "",
    attachments: Any = None,
    scheduled_at: dt.datetime | None = None,
    idempotency_key: str = "",
) -> tuple[Campaign, bool]:
    """A new draft, and whether it is new: a repeated ``Idempotency-Key`` answers the first one."""
    key = _idempotency_key(actor, idempotency_key)
    if key:
        existing = Campaign.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing, False
    if chat_type not in ChatType.values:
        raise ValidationError({"chat_type": [f"One of: {', '.join(ChatType.values)}."]})
    errors: dict[str, Any] = {}
    values = {
        "name": _name(name, errors),
        "chat_type": chat_type,
        "audience": _audience(tenant, chat_type, audience, errors),
        "text": _text(text, errors),
        "attachments": _attachments(attachments, errors),
    }
    _content_required(values["text"], values["attachments"], errors)
    try:
        values["scheduled_at"] = scheduled_at_clean(
            scheduled_at, settings=campaign_settings_get(tenant=tenant)
        )
    except ValidationError as exc:
        errors.update(exc.detail)
    _raise(errors)
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(**values, idempotency_key=key, **actor.as_fields("created_by"))
            material_usage_set(owner_type=OWNER_TYPE, owner_id=campaign.pk, attachments=campaign.attachments)
    except IntegrityError:
        if not key:
            raise
        # Two requests with the same key raced; the other one created it.
        return Campaign.objects.get(idempotency_key=key), False
    return campaign, True


def _locked(campaign: Campaign, *, allowed: tuple[str, ...], action: str) -> Campaign:
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.status not in allowed:
        raise CampaignStateError(
            f"A {locked.get_status_display().lower()} campaign cannot be {action} "
            f"(only a {' or '.join(allowed)} one)."
        )
    return locked


def campaign_update(*, campaign: Campaign, data: dict[str, Any], actor: Actor) -> Campaign:
    """Change the fields given of a draft or scheduled campaign (``chat_type`` is fixed once created).

    The row is locked while it is checked and written, so the scheduled-campaign tick either starts
    the campaign before (and this is refused) or after the change.
    """
    tenant = campaign.tenant
    with transaction.atomic():
        locked = _locked(campaign, allowed=EDITABLE, action="changed")
        errors: dict[str, Any] = {}
        if "name" in data:
            locked.name = _name(data["name"], errors)
        if "text" in data:
            locked.text = _text(data["text"], errors)
        if "attachments" in data:
            locked.attachments = _attachments(data["attachments"], errors)
        if "audience" in data:
            locked.audience = _audience(tenant, locked.chat_type, data["audience"], errors)
        if "scheduled_at" in data:
            try:
                locked.scheduled_at = scheduled_at_clean(
                    data["scheduled_at"], settings=campaign_settings_get(tenant=tenant)
                )
            except ValidationError as exc:
                errors.update(exc.detail)
            if locked.status == CampaignStatus.SCHEDULED and data["scheduled_at"] is None:
                errors["scheduled_at"] = ["A scheduled campaign needs its time: send it now, or cancel it."]
        _content_required(locked.text, locked.attachments, errors)
        _raise(errors)
        locked.save()
        if "attachments" in data:
            material_usage_set(owner_type=OWNER_TYPE, owner_id=locked.pk, attachments=locked.attachments)
    return locked


def campaign_delete(*, campaign: Campaign, actor: Actor) -> None:
    """Delete a draft (what was scheduled or sent is cancelled instead, and kept)."""
    with transaction.atomic():
        locked = _locked(campaign, allowed=(CampaignStatus.DRAFT,), action="deleted")
        material_usage_set(owner_type=OWNER_TYPE, owner_id=locked.pk, attachments=[])
        locked.delete()


def campaign_send(*, campaign: Campaign, scheduled_at: dt.datetime | None = None, actor: Actor) -> Campaign:
    """Send a draft (or a scheduled campaign) now, or schedule it for ``scheduled_at``.

    Its content and audience are checked again first (a material or a segment may have been deleted
    since it was saved). Scheduled: the scheduled-campaign tick starts it when due. Now: its dispatch
    starts when this transaction commits (``dispatch.dispatch_start``; the plan is written there).
    """
    from .dispatch import dispatch_start

    tenant = campaign.tenant
    with transaction.atomic():
        locked = _locked(campaign, allowed=EDITABLE, action="sent")
        errors: dict[str, Any] = {}
        _audience(tenant, locked.chat_type, locked.audience, errors)
        attachments = _attachments(locked.attachments, errors)
        _content_required(locked.text, attachments, errors)
        when = None
        try:
            when = scheduled_at_clean(scheduled_at, settings=campaign_settings_get(tenant=tenant))
        except ValidationError as exc:
            errors.update(exc.detail)
        _raise(errors)
        locked.scheduled_at = when
        if when is not None:
            locked.status = CampaignStatus.SCHEDULED
            locked.save(update_fields=["scheduled_at", "status", "updated_at"])
        else:
            locked.save(update_fields=["scheduled_at", "updated_at"])
            dispatch_start(campaign=locked)
        audit_record(
            actor=actor,
            action="campaigns.send",
            data={"campaign": locked.pk, "scheduled_at": when.isoformat() if when else None},
        )
    locked.refresh_from_db()
    return locked
