"""Group welcome templates (入群欢迎语素材): what WeCom posts in a group when someone joins it.

The templates live in WeCom (``group_welcome_template/add|edit|get|del``, wecom-api.md §6): staff
pick one in the WeCom app for their groups. Here each has a local ``name`` (WeCom keeps none) and the
same content: a text (≤ 4,000 bytes; ``%NICKNAME%`` is the only placeholder, WeCom puts the newcomer's
name there) and at most one attachment, a material of the content library stored as
``{"material_id": N}`` (an image, a link, a mini program, a video or a file); the library uploads its
media to WeCom and records the template as one of its users (owner type ``group_welcome``). Writes go
to WeCom first; nothing local changes when WeCom refuses.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from library.owners import usage_owner_register
from library.selectors import material_kinds
from library.services import ALL, attachment_validate, attachments_for_wecom, material_usage_set
from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.context import require_current_tenant
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import WeComError, WeComRateLimitedError

from ..models import GroupWelcomeTemplate

logger = logging.getLogger(__name__)

NAME_MAX = 60
TEXT_MAX_BYTES = 4000
NICKNAME = "%NICKNAME%"
# Anything shaped like WeCom's placeholders; only %NICKNAME% is one.
PLACEHOLDER_RE = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%")
MAX_TEMPLATES = 100  # per corp (WeCom's limit)
ATTACHMENT_KINDS = ALL  # group_welcome_template takes image, link, miniprogram, video and file
_NAME_TAKEN = "Another group welcome template has this name."
# WeCom's answers that only mean "no such template any more" (or that WeCom cannot be asked now).
_UPSTREAM = (None, -1, 40001, 40013, 48002, 60020)
OWNER_TYPE = "group_welcome"


def _template_names(ids: list[int]) -> dict[int, str]:
    return dict(GroupWelcomeTemplate.objects.filter(pk__in=ids).values_list("pk", "name"))


usage_owner_register(OWNER_TYPE, label="Group welcome template", names=_template_names)


# --- validation ----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise ValidationError({"text": "Text must be a string."})
    text = value.strip()
    unknown = sorted({m for m in PLACEHOLDER_RE.findall(text) if f"%{m}%" != NICKNAME})
    if unknown:
        only = f"WeCom only fills in {NICKNAME} (the newcomer's name)"
        raise ValidationError({"text": f"Unknown placeholder %{unknown[0]}%: {only}."})
    if len(text.encode()) > TEXT_MAX_BYTES:
        limit = f"{TEXT_MAX_BYTES} bytes (about {TEXT_MAX_BYTES // 3} Chinese characters)"
        raise ValidationError({"text": f"Too long: WeCom takes {limit}."})
    return text


def _attachment(value: Any) -> dict:
    """``{}`` (none) or one ``{"material_id": N}`` of the library."""
    if value in (None, {}):
        return {}
    return attachment_validate(value, field="attachment", kinds=ATTACHMENT_KINDS) or {}


def _clean(data: dict[str, Any], *, template: GroupWelcomeTemplate | None) -> dict[str, Any]:
    current = template or GroupWelcomeTemplate()
    out: dict[str, Any] = {}
    if "name" in data or template is None:
        name = (data.get("name") or "").strip()
        if not name:
            raise ValidationError({"name": "Give the template a name."})
        if len(name) > NAME_MAX:
            raise ValidationError({"name": f"At most {NAME_MAX} characters."})
        if GroupWelcomeTemplate.objects.filter(name=name).exclude(pk=current.pk).exists():
            raise ValidationError({"name": _NAME_TAKEN})
        out["name"] = name
    if "text" in data:
        out["text"] = _text(data["text"])
    if "attachment" in data:
        out["attachment"] = _attachment(data["attachment"])
    if not out.get("text", current.text) and not out.get("attachment", current.attachment):
        raise ValidationError({"text": "Write a text, or add an attachment."})
    return out


# --- WeCom ---------------------------------------------------------------------------------------


def _wecom_parts(template: GroupWelcomeTemplate, api: WeComAPI) -> dict[str, Any]:
    """The template's content in WeCom's shape, its media uploaded (or uploaded again) as needed."""
    parts: dict[str, Any] = {}
    if template.text:
        parts["text"] = {"content": template.text}
    attachment = template.attachment or {}
    if attachment:
        [item] = attachments_for_wecom(api=api, attachments=[attachment])
        parts[item["msgtype"]] = item[item["msgtype"]]
    return parts


def _refs_of(attachment: dict | None) -> list[dict]:
    return [attachment] if attachment else []


def _refs(template: GroupWelcomeTemplate) -> list[dict]:
    return _refs_of(template.attachment)


def _kind(attachment: dict | None, kinds: dict[int, str]) -> str | None:
    """The kind of the material an attachment names (WeCom's part for it), None for no attachment."""
    return kinds.get(attachment["material_id"]) if attachment else None


def _too_many() -> ValidationError:
    return ValidationError(
        {"detail": f"WeCom keeps at most {MAX_TEMPLATES} group welcome templates per corp: delete one first."}
    )


def group_welcome_template_create(
    *, name: str, text: str = "", attachment: dict | None = None, actor: Actor = SYSTEM
) -> GroupWelcomeTemplate:
    """Add the template in WeCom, then here; a WeCom refusal raises WeComError and keeps nothing.

    No transaction is held across the WeCom calls (the image upload, the add): the row is written in
    one short transaction at the end, and WeCom's copy is deleted again when it cannot be (a name
    taken meanwhile).
    """
    data = _clean({"name": name, "text": text, "attachment": attachment or {}}, template=None)
    if GroupWelcomeTemplate.objects.count() >= MAX_TEMPLATES:
        raise _too_many()
    tenant = require_current_tenant()
    template = GroupWelcomeTemplate(tenant=tenant, **actor.as_fields("created_by"), **data)
    api = api_for(tenant)
    template.template_id = api.group_welcome_template_add(_wecom_parts(template, api))["template_id"]
    try:
        with transaction.atomic():
            template.save()
            material_usage_set(owner_type=OWNER_TYPE, owner_id=template.pk, attachments=_refs(template))
    except Exception as exc:
        _delete_quietly(api, template.template_id)
        if isinstance(exc, IntegrityError):
            raise ValidationError({"name": _NAME_TAKEN}) from None
        raise
    return template


def _delete_quietly(api: WeComAPI, template_id: str) -> None:
    try:
        api.group_welcome_template_del(template_id)
    except WeComError as exc:
        logger.warning("group welcome template %s left in WeCom: %s", template_id, exc)


@transaction.atomic
def group_welcome_template_update(
    *, template: GroupWelcomeTemplate, data: dict[str, Any]
) -> GroupWelcomeTemplate:
    """Change the template; WeCom's copy too when its content changed.

    WeCom's edit sets the parts it is given; it has no way to drop a part (the text, or an attachment
    of another kind). Such a change is made by adding the new content and deleting the old template,
    so the template gets a new template_id.

    The row is written (and its name's uniqueness settled by the constraint) before WeCom is called:
    a name taken meanwhile fails with nothing changed in WeCom, and once WeCom has changed, only the
    commit is left. A template added in WeCom that cannot be kept here is deleted there again.
    """
    template = GroupWelcomeTemplate.objects.select_for_update().get(pk=template.pk)
    before = (template.text, dict(template.attachment or {}))
    for field, value in _clean(data, template=template).items():
        setattr(template, field, value)
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        raise ValidationError({"name": _NAME_TAKEN}) from None
    if (template.text, template.attachment) == before:
        return template
    material_usage_set(owner_type=OWNER_TYPE, owner_id=template.pk, attachments=_refs(template))
    api = api_for(template.tenant)
    parts = _wecom_parts(template, api)
    kinds = material_kinds([*_refs_of(before[1]), *_refs(template)])
    dropped = (before[0] and not template.text) or (
        before[1] and _kind(before[1], kinds) != _kind(template.attachment, kinds)
    )
    if not dropped:
        # A refusal raises and rolls the row back: WeCom and here both keep the old content.
        api.group_welcome_template_edit({"template_id": template.template_id, **parts})
        return template
    old_id = template.template_id
    template.template_id = api.group_welcome_template_add(parts)["template_id"]
    try:
        with transaction.atomic():
            template.save(update_fields=["template_id", "updated_at"])
    except Exception:
        _delete_quietly(api, template.template_id)
        raise
    transaction.on_commit(lambda: _delete_quietly(api, old_id))
    return template


def group_welcome_template_delete(*, template: GroupWelcomeTemplate) -> None:
    """Delete it in WeCom, then here. A template WeCom no longer has is deleted here all the same."""
    api = api_for(template.tenant)
    try:
        api.group_welcome_template_del(template.template_id)
    except WeComRateLimitedError:
        raise
    except WeComError as exc:
        if exc.errcode in _UPSTREAM or _wecom_has(api, template.template_id):
            raise
    with transaction.atomic():
        material_usage_set(owner_type=OWNER_TYPE, owner_id=template.pk, attachments=[])
        template.delete()


def _wecom_has(api: WeComAPI, template_id: str) -> bool:
    """Whether WeCom still has the template (its refusal to delete it was about something else)."""
    try:
        api.group_welcome_template_get(template_id)
    except WeComRateLimitedError:
        return True  # cannot tell now: keep it, the user tries again
    except WeComError as exc:
        return exc.errcode in _UPSTREAM
    return True
