"""Welcome messages (欢迎语): what a new customer receives within seconds of adding a staff member.

A welcome is stored as ``{"text": str, "attachments": [{"material_id": N}, ...]}`` on a channel code
(``ContactWay``) or as the tenant's default (``ContactSettings.welcome``); ``{}`` is no welcome. The
attachments are materials of the content library (``library``: images, links, mini programs, videos,
files), which keeps their WeCom copies fresh; who uses which material is recorded there
(``material_usage_set``, owner types ``channel_code`` and ``welcome_default``).

The text may name the customer and the staff member with ``{customer_name}`` and ``{staff_name}``.
Everything WeCom would refuse is refused here first, with the field that is wrong
(``welcome_validate``): a refusal at send time costs the customer their greeting, because the
welcome_code lives 20 seconds and is usable once.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from rest_framework.exceptions import ErrorDetail, ValidationError

from library.owners import usage_owner_register
from library.services import (
    TEXT_MAX_BYTES,
    TOO_MANY_BYTES,
    attachments_for_wecom,
    attachments_validate,
    material_usage_set,
    media_upload_soon,
)
from scrm.wecom.api import WeComAPI

from ..models import ContactWay
from .settings import contact_settings_get, contact_settings_update

PLACEHOLDERS = ("customer_name", "staff_name")
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# A placeholder is checked at its longest: a WeCom nickname or member name of 64 CJK characters.
PLACEHOLDER_WORST_BYTES = 64 * 3

# The owners of welcome attachments, as the library names them ("used by channel code 门店海报").
CHANNEL_CODE = "channel_code"
WELCOME_DEFAULT = "welcome_default"


def _channel_names(ids: list[int]) -> dict[int, str]:
    return dict(ContactWay.objects.filter(pk__in=ids).values_list("pk", "name"))


usage_owner_register(CHANNEL_CODE, label="Channel code", names=_channel_names, fast_path=True)
usage_owner_register(
    WELCOME_DEFAULT, label="Default welcome", names=lambda ids: dict.fromkeys(ids, "—"), fast_path=True
)


# --- validation ----------------------------------------------------------------------------------


def welcome_validate(value: Any, *, field: str = "welcome") -> dict:
    """The welcome in its stored shape, or a ValidationError naming every wrong field.

    ``{}``, ``None`` and a welcome with neither text nor attachments all mean "no welcome" (``{}``).
    """
    if value in (None, {}):
        return {}
    if not isinstance(value, dict):
        raise ValidationError({field: "An object with text and attachments."})
    errors: dict[str, Any] = {}
    text = value.get("text")
    if text is None:
        text = ""
    elif not isinstance(text, str):
        errors[f"{field}.text"] = "Text must be a string."
        text = ""
    text = text.strip()
    unknown = sorted({m for m in PLACEHOLDER_RE.findall(text) if m not in PLACEHOLDERS})
    if unknown:
        errors[f"{field}.text"] = (
            f"Unknown placeholder {{{unknown[0]}}}: use "
            + " or ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            + "."
        )
    worst = len(PLACEHOLDER_RE.sub("", text).encode()) + PLACEHOLDER_WORST_BYTES * len(
        PLACEHOLDER_RE.findall(text)
    )
    if worst > TEXT_MAX_BYTES:
        errors[f"{field}.text"] = ErrorDetail(
            f"Too long: WeCom takes {TEXT_MAX_BYTES} bytes (about {TEXT_MAX_BYTES // 3} Chinese "
            f"characters), placeholders counted at {PLACEHOLDER_WORST_BYTES} bytes each.",
            code=TOO_MANY_BYTES,
        )
    attachments: list[dict] = []
    try:
        attachments = attachments_validate(value.get("attachments"), field=f"{field}.attachments")
    except ValidationError as exc:
        errors.update(exc.detail)
    if errors:
        raise ValidationError(errors)
    if not text and not attachments:
        return {}
    return {"text": text, "attachments": attachments}


def welcome_usage_set(*, owner_type: str, owner_id: int, welcome: dict) -> None:
    """Record the welcome's materials as used by its owner, and upload their media ahead (on commit)."""
    attachments = (welcome or {}).get("attachments", [])
    material_usage_set(owner_type=owner_type, owner_id=owner_id, attachments=attachments)
    media_upload_soon(attachments=attachments)


# --- the tenant default --------------------------------------------------------------------------


def welcome_default_get(*, tenant) -> dict:
    return contact_settings_get(tenant=tenant).welcome or {}


@transaction.atomic
def welcome_default_set(*, tenant, welcome: Any) -> dict:
    cleaned = welcome_validate(welcome)
    settings = contact_settings_update(
        settings=contact_settings_get(tenant=tenant), data={"welcome": cleaned}
    )
    welcome_usage_set(owner_type=WELCOME_DEFAULT, owner_id=settings.pk, welcome=cleaned)
    return cleaned


# --- rendering -----------------------------------------------------------------------------------


def welcome_text(text: str, *, customer_name: str, staff_name: str) -> str:
    values = {"customer_name": customer_name, "staff_name": staff_name}
    rendered = PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)
    # Validation budgets 64 characters per name; a longer one is cut rather than refused by WeCom.
    encoded = rendered.encode()
    if len(encoded) > TEXT_MAX_BYTES:
        rendered = encoded[:TEXT_MAX_BYTES].decode(errors="ignore")
    return rendered


def welcome_attachments(*, api: WeComAPI, welcome: dict) -> list[dict]:
    """send_welcome_msg's ``attachments`` (wecom-api.md §6) for a stored welcome."""
    return attachments_for_wecom(api=api, attachments=welcome.get("attachments", []))
