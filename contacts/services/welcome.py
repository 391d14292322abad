"""Welcome messages (欢迎语): what a new customer receives within seconds of adding a staff member.

A welcome is stored as ``{"text": str, "attachments": [...]}`` on a channel code (``ContactWay``) or
as the tenant's default (``ContactSettings.welcome``); ``{}`` is no welcome. Attachments:

- ``{"type": "image", "media": <MediaAsset id>}``
- ``{"type": "link", "title", "url", "description", "picture_url"}``
- ``{"type": "miniprogram", "appid", "page", "title", "media": <MediaAsset id>}``

The text may name the customer and the staff member with ``{customer_name}`` and ``{staff_name}``.
Everything WeCom would refuse is refused here first, with the field that is wrong
(``welcome_validate``): a refusal at send time costs the customer their greeting, because the
welcome_code lives 20 seconds and is usable once.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError

from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.context import require_current_tenant
from scrm.wecom.api import WeComAPI

from ..models import MediaAsset
from .settings import contact_settings_get, contact_settings_update

PLACEHOLDERS = ("customer_name", "staff_name")
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
TEXT_MAX_BYTES = 4000  # send_welcome_msg's text.content (wecom-api.md §6)
# A placeholder is checked at its longest: a WeCom nickname or member name of 64 CJK characters.
PLACEHOLDER_WORST_BYTES = 64 * 3
MAX_ATTACHMENTS = 9
ATTACHMENT_TYPES = ("image", "link", "miniprogram")
LINK_TITLE_MAX, LINK_DESCRIPTION_MAX, URL_MAX = 128, 512, 2048  # bytes, bytes, characters
# What the patterns want, in words: the API's errors and the form under the field say it.
URL_INVALID = "Enter a full http:// or https:// URL."
APPID_INVALID = "A mini program AppID: wx followed by 16 hex digits."
PAGE_INVALID = "WeCom needs the page path to end in .html (e.g. pages/index.html)."
MINIPROGRAM_TITLE_MAX_BYTES = 64
# The shapes the OpenAPI schema states as patterns (contacts/serializers_channels.py): the serializers
# and this module apply them with ``re.search`` to the value as sent, as a JSON Schema validator
# does, so that the schema and the API accept exactly the same strings. Spaces around a value are
# allowed (the dashboard sends what was typed) and stripped before it is stored.
NOT_BLANK_PATTERN = r"\S"
HTTP_URL_PATTERN = r"^\s*https?://[^\s/?#]+(?:[/?#]\S*)?\s*$"
MINIPROGRAM_APPID_PATTERN = r"^\s*wx[0-9a-f]{16}\s*$"
# WeCom opens a mini program page only when its path ends in .html (it says "page not found" otherwise).
MINIPROGRAM_PAGE_PATTERN = r"^[^?]*\.html(?:\?.*)?\s*$"
MINIPROGRAM_APPID_RE = re.compile(MINIPROGRAM_APPID_PATTERN)
HTTP_URL_RE = re.compile(HTTP_URL_PATTERN)
MINIPROGRAM_PAGE_RE = re.compile(MINIPROGRAM_PAGE_PATTERN)
# The code of a refusal for UTF-8 length: no JSON Schema keyword counts bytes, so clients (and the
# schema fuzzer) can tell this refusal from a request that breaks the schema.
TOO_MANY_BYTES = "too_many_bytes"

IMAGE_MAX_BYTES = 10 * 1024 * 1024  # media/upload_attachment's limit for images
IMAGE_SIGNATURES = {b"\xff\xd8\xff": ("image/jpeg", "jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", "png")}
# WeCom forgets an uploaded media id after 3 days: re-upload once one is 2.5 days old (wecom-api.md
# §9a), a margin for clocks that disagree and for a template WeCom holds on to after we sent it.
MEDIA_ID_FRESH = timedelta(days=2, hours=12)


# --- validation ----------------------------------------------------------------------------------


def _too_many_bytes(max_bytes: int) -> ErrorDetail:
    return ErrorDetail(
        f"At most {max_bytes} bytes ({max_bytes // 3} Chinese characters).", code=TOO_MANY_BYTES
    )


def _http_url(value: Any, field: str, errors: dict, *, required: bool) -> str:
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        errors[field] = "Enter a URL."
        return ""
    if not HTTP_URL_RE.search(value):
        errors[field] = URL_INVALID
    elif len(value.strip()) > URL_MAX:
        errors[field] = f"At most {URL_MAX} characters."
    return value.strip()


def _text(value: Any, field: str, errors: dict, *, required: bool, max_bytes: int | None = None) -> str:
    # An optional text of spaces is none (the schema takes any string there).
    if not required and (value is None or (isinstance(value, str) and not value.strip())):
        return ""
    if not isinstance(value, str) or not value.strip():
        errors[field] = "This field is required."
        return ""
    value = value.strip()
    # WeCom counts bytes (UTF-8): a Chinese character is three.
    if max_bytes is not None and len(value.encode()) > max_bytes:
        errors[field] = _too_many_bytes(max_bytes)
    return value


def _media(value: Any, field: str, errors: dict) -> int | None:
    if not isinstance(value, int) or isinstance(value, bool):
        errors[field] = "Upload an image first (its id)."
        return None
    if not MediaAsset.objects.filter(pk=value).exists():
        errors[field] = ErrorDetail("No such image (upload it again).", code="does_not_exist")
        return None
    return value


def _attachment(item: Any, prefix: str, errors: dict) -> dict:
    if not isinstance(item, dict):
        errors[prefix] = "Each attachment is an object with a type."
        return {}
    kind = item.get("type")
    if kind not in ATTACHMENT_TYPES:
        errors[f"{prefix}.type"] = f"One of: {', '.join(ATTACHMENT_TYPES)}."
        return {}
    if kind == "image":
        return {"type": "image", "media": _media(item.get("media"), f"{prefix}.media", errors)}
    if kind == "link":
        return {
            "type": "link",
            "title": _text(
                item.get("title"), f"{prefix}.title", errors, required=True, max_bytes=LINK_TITLE_MAX
            ),
            "url": _http_url(item.get("url"), f"{prefix}.url", errors, required=True),
            "description": _text(
                item.get("description"),
                f"{prefix}.description",
                errors,
                required=False,
                max_bytes=LINK_DESCRIPTION_MAX,
            ),
            "picture_url": _http_url(
                item.get("picture_url"), f"{prefix}.picture_url", errors, required=False
            ),
        }
    appid = item.get("appid")
    if not isinstance(appid, str) or not MINIPROGRAM_APPID_RE.search(appid):
        errors[f"{prefix}.appid"] = APPID_INVALID
    page = item.get("page")
    if not isinstance(page, str) or not page.strip():
        errors[f"{prefix}.page"] = "The page path is required, e.g. pages/index.html."
    elif not MINIPROGRAM_PAGE_RE.search(page):
        errors[f"{prefix}.page"] = PAGE_INVALID
    title = _text(
        item.get("title"), f"{prefix}.title", errors, required=True, max_bytes=MINIPROGRAM_TITLE_MAX_BYTES
    )
    return {
        "type": "miniprogram",
        "appid": appid.strip() if isinstance(appid, str) else "",
        "page": page.strip() if isinstance(page, str) else "",
        "title": title,
        "media": _media(item.get("media"), f"{prefix}.media", errors),
    }


def welcome_validate(value: Any, *, field: str = "welcome") -> dict:
    """The welcome in its stored shape, or a ValidationError naming every wrong field.

    ``{}``, ``None`` and a welcome with neither text nor attachments all mean "no welcome" (``{}``).
    """
    if value in (None, {}):
        return {}
    if not isinstance(value, dict):
        raise ValidationError({field: "An object with text and attachments."})
    errors: dict[str, str] = {}
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
    attachments = value.get("attachments")
    if attachments is None:
        attachments = []
    elif not isinstance(attachments, list):
        errors[f"{field}.attachments"] = "A list of attachments."
        attachments = []
    if len(attachments) > MAX_ATTACHMENTS:
        errors[f"{field}.attachments"] = f"At most {MAX_ATTACHMENTS} attachments."
    cleaned = [_attachment(a, f"{field}.attachments.{i}", errors) for i, a in enumerate(attachments)]
    if errors:
        raise ValidationError(errors)
    if not text and not cleaned:
        return {}
    return {"text": text, "attachments": cleaned}


def welcome_media_ids(welcome: dict) -> set[int]:
    return {a["media"] for a in welcome.get("attachments", ()) if a.get("media")}


# --- the tenant default --------------------------------------------------------------------------


def welcome_default_get(*, tenant) -> dict:
    return contact_settings_get(tenant=tenant).welcome or {}


def welcome_default_set(*, tenant, welcome: Any) -> dict:
    cleaned = welcome_validate(welcome)
    contact_settings_update(settings=contact_settings_get(tenant=tenant), data={"welcome": cleaned})
    media_upload_soon(cleaned)
    return cleaned


# --- images --------------------------------------------------------------------------------------


def media_asset_create(*, filename: str, content: bytes, actor: Actor = SYSTEM) -> MediaAsset:
    """Keep an uploaded image (JPG or PNG, ≤ 10 MB); the same bytes twice give the same asset."""
    if not content:
        raise ValidationError({"file": "The file is empty."})
    if len(content) > IMAGE_MAX_BYTES:
        raise ValidationError({"file": f"At most {IMAGE_MAX_BYTES // (1024 * 1024)} MB (WeCom's limit)."})
    kind = next((v for sig, v in IMAGE_SIGNATURES.items() if content.startswith(sig)), None)
    if kind is None:
        raise ValidationError({"file": "Only JPG and PNG images can be sent in WeCom messages."})
    digest = hashlib.sha256(content).hexdigest()
    existing = MediaAsset.objects.filter(sha256=digest).first()
    if existing is not None:
        return existing
    content_type, extension = kind
    name = (filename or "image").rsplit("/", 1)[-1][:200]
    if not name.lower().endswith(f".{extension}") and not (
        extension == "jpg" and name.lower().endswith(".jpeg")
    ):
        name = f"{name}.{extension}"
    asset = MediaAsset(
        tenant=require_current_tenant(),
        filename=name,
        content_type=content_type,
        size=len(content),
        sha256=digest,
        **actor.as_fields("created_by"),
    )
    asset.file.save(f"{digest[:16]}.{extension}", ContentFile(content), save=False)
    asset.save()
    return asset


def media_ids_ensure(*, api: WeComAPI, asset_ids: set[int]) -> dict[int, str]:
    """WeCom media ids for the assets, uploading the ones WeCom has forgotten (or never had)."""
    if not asset_ids:
        return {}
    fresh_after = timezone.now() - MEDIA_ID_FRESH
    assets = {a.pk: a for a in MediaAsset.objects.filter(pk__in=asset_ids)}
    for asset in assets.values():
        if asset.media_id and asset.media_uploaded_at and asset.media_uploaded_at > fresh_after:
            continue
        with asset.file.open("rb") as stream:
            answer = api.upload_attachment(media_type="image", filename=asset.filename, content=stream.read())
        asset.media_id, asset.media_uploaded_at = answer["media_id"], timezone.now()
        MediaAsset.objects.filter(pk=asset.pk).update(
            media_id=asset.media_id, media_uploaded_at=asset.media_uploaded_at
        )
    return {pk: a.media_id for pk, a in assets.items()}


def media_upload_soon(welcome: dict) -> None:
    """Upload a saved welcome's images in the background now, so its first customer does not wait."""
    from ..tasks.channels import welcome_media_upload

    ids = sorted(welcome_media_ids(welcome))
    if ids:
        tenant_id = require_current_tenant().pk
        transaction.on_commit(lambda: welcome_media_upload.apply_async((tenant_id, ids)))


def media_ids_refresh(*, api: WeComAPI, welcomes: list[dict]) -> int:
    """Upload again, ahead of time, the images of these welcomes that WeCom is about to forget.

    Beat runs this so that the 20-second fast path never waits for an upload.
    """
    soon = timezone.now() - MEDIA_ID_FRESH + timedelta(hours=12)
    ids = set().union(*(welcome_media_ids(w) for w in welcomes)) if welcomes else set()
    stale = set(
        MediaAsset.objects.filter(pk__in=ids).exclude(media_uploaded_at__gt=soon).values_list("pk", flat=True)
    )
    MediaAsset.objects.filter(pk__in=stale).update(media_uploaded_at=None)
    media_ids_ensure(api=api, asset_ids=stale)
    return len(stale)


# --- rendering -----------------------------------------------------------------------------------


def welcome_text(text: str, *, customer_name: str, staff_name: str) -> str:
    values = {"customer_name": customer_name, "staff_name": staff_name}
    rendered = PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)
    # Validation budgets 64 characters per name; a longer one is cut rather than refused by WeCom.
    encoded = rendered.encode()
    if len(encoded) > TEXT_MAX_BYTES:
        rendered = encoded[:TEXT_MAX_BYTES].decode(errors="ignore")
    return rendered


def welcome_attachments(welcome: dict, media_ids: dict[int, str]) -> list[dict]:
    """send_welcome_msg's ``attachments`` (wecom-api.md §6) for a stored welcome."""
    out = []
    for a in welcome.get("attachments", ()):
        if a["type"] == "image":
            out.append({"msgtype": "image", "image": {"media_id": media_ids[a["media"]]}})
        elif a["type"] == "link":
            link = {"title": a["title"], "url": a["url"]}
            if a.get("description"):
                link["desc"] = a["description"]
            if a.get("picture_url"):
                link["picurl"] = a["picture_url"]
            out.append({"msgtype": "link", "link": link})
        else:
            out.append(
                {
                    "msgtype": "miniprogram",
                    "miniprogram": {
                        "title": a["title"],
                        "pic_media_id": media_ids[a["media"]],
                        "appid": a["appid"],
                        "page": a["page"],
                    },
                }
            )
    return out
