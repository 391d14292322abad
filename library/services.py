"""The content library's writes, its checks against WeCom's limits, and what other apps call.

Other apps keep attachments as references, ``[{"material_id": N}, ...]``, and call:

- ``attachments_validate(value, field=..., kinds=...)``: the references checked (≤ 9, this tenant's,
  not deleted, of an allowed kind), or a ValidationError with the paths (``attachments.2.material_id``);
- ``material_usage_set(owner_type=..., owner_id=..., attachments=...)`` in the owner's save
  transaction: what the owner uses now (the usage counts; a material in use cannot be deleted);
- ``attachments_for_wecom(api=..., attachments=...)`` when sending: WeCom's attachment objects, the
  media uploaded again when WeCom has forgotten them (its ``media_id`` lives 3 days: renewed once it is
  ``MEDIA_ID_FRESH`` old).

Everything WeCom would refuse is refused on the way in, with the field that is wrong: a refusal at send
time costs a customer their greeting (a welcome_code lives 20 seconds) or a whole mass message.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile, File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError

from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.context import require_current_tenant
from scrm.wecom.api import WeComAPI

from .models import Folder, Material, MaterialKind, MaterialTag, MaterialTagging, MaterialUse
from .owners import owner_label, owner_names, usage_owner_register

logger = logging.getLogger(__name__)

# --- WeCom's limits (wecom-api.md §6, §7, §9a) --------------------------------------------------

ALL = ("image", "link", "miniprogram", "video", "file")  # the kinds a message can carry as attachments
FILE_KINDS = ("image", "video", "file")  # the kinds that are uploaded bytes
MAX_ATTACHMENTS = 9
TEXT_MAX_BYTES = 4000
TITLE_MAX = 128  # characters: what the library lists
LINK_TITLE_MAX = 128  # bytes
LINK_DESCRIPTION_MAX = 512  # bytes
URL_MAX = 2048  # characters
MINIPROGRAM_TITLE_MAX_BYTES = 64
FOLDER_NAME_MAX = 60
TAG_MAX = 32
MAX_TAGS = 10
IMAGE_MAX_BYTES = 10 * 1024 * 1024
VIDEO_MAX_BYTES = 10 * 1024 * 1024
FILE_MAX_BYTES = 20 * 1024 * 1024
FILE_MIN_BYTES = 6  # WeCom refuses a file of 5 bytes or fewer
IMAGE_SIGNATURES = {b"\xff\xd8\xff": ("image/jpeg", "jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", "png")}
MAX_BYTES = {"image": IMAGE_MAX_BYTES, "video": VIDEO_MAX_BYTES, "file": FILE_MAX_BYTES}
# WeCom forgets an uploaded media id after 3 days: upload again once one is 2.5 days old (wecom-api.md
# §9a), a margin for clocks that disagree and for a task WeCom holds on to after we sent it.
MEDIA_ID_FRESH = timedelta(days=2, hours=12)
# The beat renews, ahead of time, what the fast path will need within this long.
REFRESH_AHEAD = timedelta(hours=12)

# What the patterns want, in words: the API's errors and the form under the field say it.
URL_INVALID = "Enter a full http:// or https:// URL."
APPID_INVALID = "A mini program AppID: wx followed by 16 hex digits."
PAGE_INVALID = "WeCom needs the page path to end in .html (e.g. pages/index.html)."
# The shapes the OpenAPI schema states as patterns (library/serializers.py): applied with
# ``re.search`` to the value as sent, as a JSON Schema validator does, so that the schema and the API
# accept exactly the same strings. Spaces around a value are allowed and stripped before it is stored.
NOT_BLANK_PATTERN = r"\S"
HTTP_URL_PATTERN = r"^\s*https?://[^\s/?#]+(?:[/?#]\S*)?\s*$"
MINIPROGRAM_APPID_PATTERN = r"^\s*wx[0-9a-f]{16}\s*$"
# WeCom opens a mini program page only when its path ends in .html (it says "page not found" otherwise).
MINIPROGRAM_PAGE_PATTERN = r"^[^?]*\.html(?:\?.*)?\s*$"
HTTP_URL_RE = re.compile(HTTP_URL_PATTERN)
MINIPROGRAM_APPID_RE = re.compile(MINIPROGRAM_APPID_PATTERN)
MINIPROGRAM_PAGE_RE = re.compile(MINIPROGRAM_PAGE_PATTERN)

# Codes of refusals no schema can foresee (docs/api.md, "Fuzzing"): a text over a limit in UTF-8 bytes,
# an id of no object of the tenant, an id of an object of another kind, a file whose bytes are not
# what its kind says.
TOO_MANY_BYTES = "too_many_bytes"
DOES_NOT_EXIST = "does_not_exist"
WRONG_KIND = "wrong_kind"
UNSUPPORTED_FILE = "unsupported_file"

# The fields each kind has (besides title, folder and tags); a field of another kind is refused.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "link": ("url", "description", "picture_url", "cover"),
    "miniprogram": ("appid", "page", "cover"),
    "image": (),
    "video": (),
    "file": (),
}
CONTENT_FIELDS = ("text", "url", "description", "picture_url", "appid", "page", "cover")
# Materials using a cover record it as used by owner type "material".
COVER_OWNER = "material"


class MaterialInUseError(Exception):
    """A material some owner still uses: it cannot be deleted (``uses``: who, named)."""

    def __init__(self, material: Material, uses: list[dict[str, Any]]):
        self.material, self.uses = material, uses
        names = ", ".join(f"{u['label']} “{u['name']}”" for u in uses[:5])
        more = f" and {len(uses) - 5} more" if len(uses) > 5 else ""
        super().__init__(f"“{material.title}” is used by {names}{more}: remove it there first.")


def _material_titles(ids: list[int]) -> dict[int, str]:
    return dict(Material.objects.filter(pk__in=ids).values_list("pk", "title"))


usage_owner_register(COVER_OWNER, label="Material", names=_material_titles)


# --- small checks ---------------------------------------------------------------------------------


def _too_many_bytes(max_bytes: int) -> ErrorDetail:
    return ErrorDetail(
        f"At most {max_bytes} bytes ({max_bytes // 3} Chinese characters).", code=TOO_MANY_BYTES
    )


def _text(
    value: Any, field: str, errors: dict, *, required: bool, max_bytes: int | None = None, max_chars: int = 0
) -> str:
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
    elif max_chars and len(value) > max_chars:
        errors[field] = f"At most {max_chars} characters."
    return value


def _http_url(value: Any, field: str, errors: dict, *, required: bool) -> str:
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        if required:
            errors[field] = "Enter a URL."
        return ""
    if not HTTP_URL_RE.search(value):
        errors[field] = URL_INVALID
    elif len(value.strip()) > URL_MAX:
        errors[field] = f"At most {URL_MAX} characters."
    return value.strip()


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _cover(
    value: Any, field: str, errors: dict, *, required: bool, itself: Material | None
) -> Material | None:
    if value is None and not required:
        return None
    if not _is_id(value):
        errors[field] = "Pick a cover: an image of the library (its id)."
        return None
    cover = Material.objects.filter(pk=value, deleted_at__isnull=True).first()
    if cover is None:
        errors[field] = ErrorDetail("No such image in the library.", code=DOES_NOT_EXIST)
        return None
    if cover.kind != MaterialKind.IMAGE or (itself is not None and cover.pk == itself.pk):
        errors[field] = ErrorDetail("A cover is an image of the library.", code=WRONG_KIND)
        return None
    return cover


def _folder(value: Any, errors: dict) -> Folder | None:
    if value is None:
        return None
    if not _is_id(value):
        errors["folder"] = "A folder's id, or null."
        return None
    folder = Folder.objects.filter(pk=value).first()
    if folder is None:
        errors["folder"] = ErrorDetail("No such folder.", code=DOES_NOT_EXIST)
    return folder


def _tag_names(value: Any, errors: dict) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        errors["tags"] = "A list of tag names."
        return []
    names = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if len(names) > MAX_TAGS:
        errors["tags"] = f"At most {MAX_TAGS} tags."
    elif any(len(n) > TAG_MAX for n in names):
        errors["tags"] = f"A tag has at most {TAG_MAX} characters."
    return names


# --- folders --------------------------------------------------------------------------------------

_FOLDER_TAKEN = "Another folder has this name."


def _folder_name(name: Any, folder: Folder | None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": "Give the folder a name."})
    name = name.strip()
    if len(name) > FOLDER_NAME_MAX:
        raise ValidationError({"name": f"At most {FOLDER_NAME_MAX} characters."})
    if Folder.objects.filter(name=name).exclude(pk=getattr(folder, "pk", None)).exists():
        raise ValidationError({"name": ErrorDetail(_FOLDER_TAKEN, code="unique")})
    return name


def folder_create(*, name: str) -> Folder:
    folder = Folder(tenant=require_current_tenant(), name=_folder_name(name, None))
    try:
        with transaction.atomic():
            folder.save()
    except IntegrityError:
        raise ValidationError({"name": ErrorDetail(_FOLDER_TAKEN, code="unique")}) from None
    return folder


def folder_update(*, folder: Folder, name: str) -> Folder:
    folder.name = _folder_name(name, folder)
    try:
        with transaction.atomic():
            folder.save(update_fields=["name"])
    except IntegrityError:
        raise ValidationError({"name": ErrorDetail(_FOLDER_TAKEN, code="unique")}) from None
    return folder


def folder_delete(*, folder: Folder) -> None:
    """Delete the folder; its materials stay in the library, in no folder."""
    folder.delete()  # materials: SET_NULL


# --- materials ------------------------------------------------------------------------------------


def _file_checked(kind: str, file: File, errors: dict) -> tuple[str, str] | None:
    """(content type, extension) of an upload that WeCom would take as ``kind``; else None and an error."""
    size = file.size or 0
    if size == 0:
        errors["file"] = ErrorDetail("The file is empty.", code=UNSUPPORTED_FILE)
        return None
    limit = MAX_BYTES[kind]
    if size > limit:
        errors["file"] = ErrorDetail(
            f"At most {limit // (1024 * 1024)} MB for a {kind} (WeCom's limit).", code=UNSUPPORTED_FILE
        )
        return None
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    if kind == "image":
        found = next((v for sig, v in IMAGE_SIGNATURES.items() if head.startswith(sig)), None)
        if found is None:
            errors["file"] = ErrorDetail(
                "Only JPG and PNG images can be sent in WeCom messages.", code=UNSUPPORTED_FILE
            )
        return found
    if kind == "video":
        # An MP4 (ISO base media) file starts with a box whose type is "ftyp".
        if head[4:8] != b"ftyp":
            errors["file"] = ErrorDetail(
                "Only MP4 videos can be sent in WeCom messages.", code=UNSUPPORTED_FILE
            )
            return None
        return "video/mp4", "mp4"
    if size < FILE_MIN_BYTES:
        errors["file"] = ErrorDetail(
            f"WeCom takes files of more than {FILE_MIN_BYTES - 1} bytes.", code=UNSUPPORTED_FILE
        )
        return None
    name = file.name or ""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return (mimetypes.guess_type(name)[0] or "application/octet-stream"), extension


def _filename(name: str, extension: str, kind: str) -> str:
    name = (name or kind).replace("\\", "/").rsplit("/", 1)[-1].strip()[:200] or kind
    if kind == "image" and extension == "jpg" and name.lower().endswith(".jpeg"):
        return name
    if extension and not name.lower().endswith(f".{extension}"):
        name = f"{name}.{extension}"
    return name


def _store(material: Material, file: File, extension: str) -> None:
    """Keep the bytes, once per tenant: the same file uploaded twice is stored once (a material is never
    deleted for real, so a stored file is never removed under another material)."""
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
    material.sha256 = digest.hexdigest()
    same = (
        Material.objects.filter(sha256=material.sha256)
        .exclude(file="")
        .values_list("file", flat=True)
        .first()
    )
    if same:
        material.file.name = same
        return
    file.seek(0)
    suffix = f".{extension}" if extension else ""
    material.file.save(f"{material.sha256[:16]}{suffix}", file, save=False)


def _clean(kind: str, data: dict[str, Any], *, material: Material | None) -> dict[str, Any]:
    """The fields of ``data`` checked for a material of ``kind`` (``material`` when it is an update)."""
    errors: dict[str, Any] = {}
    out: dict[str, Any] = {}
    creating = material is None
    for field in CONTENT_FIELDS:
        if field in data and field not in KIND_FIELDS[kind]:
            errors[field] = ErrorDetail(f"A {kind} material has no {field}.", code=WRONG_KIND)
    if "title" in data or creating:
        if kind == "link":
            out["title"] = _text(data.get("title"), "title", errors, required=True, max_bytes=LINK_TITLE_MAX)
        elif kind == "miniprogram":
            out["title"] = _text(
                data.get("title"), "title", errors, required=True, max_bytes=MINIPROGRAM_TITLE_MAX_BYTES
            )
        else:
            # Optional for the rest: a text or a file names itself (see below).
            out["title"] = _text(
                data.get("title"), "title", errors, required=not creating, max_chars=TITLE_MAX
            )
    if "folder" in data:
        out["folder"] = _folder(data["folder"], errors)
    if "tags" in data:
        out["tags"] = _tag_names(data["tags"], errors)
    if kind == "text" and ("text" in data or creating):
        out["text"] = _text(data.get("text"), "text", errors, required=True, max_bytes=TEXT_MAX_BYTES)
    if kind == "link":
        if "url" in data or creating:
            out["url"] = _http_url(data.get("url"), "url", errors, required=True)
        if "description" in data:
            out["description"] = _text(
                data["description"], "description", errors, required=False, max_bytes=LINK_DESCRIPTION_MAX
            )
        if "picture_url" in data:
            out["picture_url"] = _http_url(data["picture_url"], "picture_url", errors, required=False)
        if "cover" in data:
            out["cover"] = _cover(data["cover"], "cover", errors, required=False, itself=material)
    if kind == "miniprogram":
        if "appid" in data or creating:
            appid = data.get("appid")
            if not isinstance(appid, str) or not MINIPROGRAM_APPID_RE.search(appid):
                errors["appid"] = APPID_INVALID
            out["appid"] = appid.strip() if isinstance(appid, str) else ""
        if "page" in data or creating:
            page = data.get("page")
            if not isinstance(page, str) or not page.strip():
                errors["page"] = "The page path is required, e.g. pages/index.html."
            elif not MINIPROGRAM_PAGE_RE.search(page):
                errors["page"] = PAGE_INVALID
            out["page"] = page.strip() if isinstance(page, str) else ""
        if "cover" in data or creating:
            # WeCom draws a mini program card with its cover only (pic_media_id is required).
            out["cover"] = _cover(data.get("cover"), "cover", errors, required=True, itself=material)
    if errors:
        raise ValidationError(errors)
    return out


def _tags_set(material: Material, names: list[str]) -> None:
    existing = {t.name: t for t in MaterialTag.objects.filter(name__in=names)}
    missing = [MaterialTag(name=n) for n in names if n not in existing]
    if missing:
        MaterialTag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name: t for t in MaterialTag.objects.filter(name__in=names)}
    wanted = {existing[n].pk for n in names}
    MaterialTagging.objects.filter(material=material).exclude(tag_id__in=wanted).delete()
    have = set(MaterialTagging.objects.filter(material=material).values_list("tag_id", flat=True))
    MaterialTagging.objects.bulk_create(
        [MaterialTagging(material=material, tag_id=pk) for pk in wanted - have], ignore_conflicts=True
    )


def _cover_usage(material: Material) -> None:
    cover = [{"material_id": material.cover_id}] if material.cover_id else []
    material_usage_set(owner_type=COVER_OWNER, owner_id=material.pk, attachments=cover)


@transaction.atomic
def material_create(
    *, kind: str, data: dict[str, Any], file: File | None = None, actor: Actor = SYSTEM
) -> Material:
    """A new material of ``kind`` from ``data`` (title, folder, tags and the kind's fields) and, for an
    image, a video or a file, its bytes (``file``, checked against WeCom's limits)."""
    if kind not in MaterialKind.values:
        raise ValidationError({"kind": f"One of: {', '.join(MaterialKind.values)}."})
    errors: dict[str, Any] = {}
    checked = None
    if kind in FILE_KINDS:
        if file is None:
            errors["file"] = "Upload the file."
        else:
            checked = _file_checked(kind, file, errors)
    elif file is not None:
        errors["file"] = ErrorDetail(f"A {kind} material has no file.", code=WRONG_KIND)
    try:
        cleaned = _clean(kind, data, material=None)
    except ValidationError as exc:
        raise ValidationError({**errors, **exc.detail}) from None
    if errors:
        raise ValidationError(errors)
    tags = cleaned.pop("tags", [])
    material = Material(
        tenant=require_current_tenant(), kind=kind, **actor.as_fields("created_by"), **cleaned
    )
    if checked is not None and file is not None:
        content_type, extension = checked
        material.filename = _filename(file.name, extension, kind)
        material.content_type, material.size = content_type, file.size
        _store(material, file, extension)
    if not material.title:
        material.title = _default_title(material)
    material.save()
    if tags:
        _tags_set(material, tags)
    _cover_usage(material)
    return material


def _default_title(material: Material) -> str:
    if material.kind == "text":
        first = material.text.strip().splitlines()[0] if material.text.strip() else ""
        return first[:30] or "Text"
    return (material.filename.rsplit(".", 1)[0] if material.filename else material.kind)[:TITLE_MAX]


def material_create_from_bytes(
    *, kind: str, filename: str, content: bytes, data: dict[str, Any] | None = None, actor: Actor = SYSTEM
) -> Material:
    """``material_create`` for bytes in hand (the demo seed, tests)."""
    return material_create(kind=kind, data=data or {}, file=ContentFile(content, name=filename), actor=actor)


@transaction.atomic
def material_update(*, material: Material, data: dict[str, Any]) -> Material:
    """Change the fields given. The bytes of a file are not replaced: upload a new material instead
    (what was sent with the old one stays true)."""
    material = Material.objects.select_for_update().get(pk=material.pk, deleted_at__isnull=True)
    cleaned = _clean(material.kind, data, material=material)
    tags = cleaned.pop("tags", None)
    for field, value in cleaned.items():
        setattr(material, field, value)
    if "title" in cleaned and not material.title:
        material.title = _default_title(material)
    material.save()
    if tags is not None:
        _tags_set(material, tags)
    if "cover" in cleaned:
        _cover_usage(material)
    return material


@transaction.atomic
def material_delete(*, material: Material) -> None:
    """Delete it from the library, unless something still uses it (``MaterialInUseError``, naming who).

    The row stays (``deleted_at``), with its file: what was sent with it can still be shown. It is no
    longer listed, nor accepted in a new message.
    """
    material = Material.objects.select_for_update().get(pk=material.pk)
    if material.deleted_at is not None:
        return
    uses = material_uses(material=material)
    if uses:
        raise MaterialInUseError(material, uses)
    material.deleted_at = timezone.now()
    material.save(update_fields=["deleted_at", "updated_at"])
    # A deleted card no longer holds its cover.
    material_usage_set(owner_type=COVER_OWNER, owner_id=material.pk, attachments=[])


def material_uses(*, material: Material) -> list[dict[str, Any]]:
    """Who uses the material: ``[{owner_type, owner_id, label, name}]``, by type then id."""
    rows = list(
        MaterialUse.objects.filter(material=material)
        .order_by("owner_type", "owner_id")
        .values_list("owner_type", "owner_id")
    )
    by_type: dict[str, list[int]] = {}
    for owner_type, owner_id in rows:
        by_type.setdefault(owner_type, []).append(owner_id)
    names = {t: owner_names(t, ids) for t, ids in by_type.items()}
    return [{"owner_type": t, "owner_id": i, "label": owner_label(t), "name": names[t][i]} for t, i in rows]


# --- references from other apps -------------------------------------------------------------------


def attachment_validate(
    value: Any, *, field: str, kinds: Iterable[str] = ALL, errors: dict | None = None
) -> dict | None:
    """One ``{"material_id": N}``; with ``errors``, a refusal is recorded there (at ``field.material_id``)
    instead of raised. The material must be this tenant's, not deleted, of one of ``kinds``."""
    own = errors is None
    errors = {} if errors is None else errors
    kinds = tuple(kinds)
    out = None
    if not isinstance(value, dict):
        errors[field] = 'An attachment: {"material_id": <a material\'s id>}.'
    elif not _is_id(value.get("material_id")):
        errors[f"{field}.material_id"] = "Pick a material of the library (its id)."
    else:
        pk = value["material_id"]
        kind = Material.objects.filter(pk=pk, deleted_at__isnull=True).values_list("kind", flat=True).first()
        if kind is None:
            errors[f"{field}.material_id"] = ErrorDetail(
                "No such material in the library.", code=DOES_NOT_EXIST
            )
        elif kind not in kinds:
            names = ", ".join(kinds)
            errors[f"{field}.material_id"] = ErrorDetail(
                f"A {kind} cannot be attached here: one of {names}.", code=WRONG_KIND
            )
        else:
            out = {"material_id": pk}
    if own and errors:
        raise ValidationError(errors)
    return out


def attachments_validate(value: Any, *, field: str = "attachments", kinds: Iterable[str] = ALL) -> list[dict]:
    """The attachments as stored: ``[{"material_id": N}, ...]`` (≤ 9), or a ValidationError naming each
    wrong one (``attachments.2.material_id``). ``None`` is none."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError({field: "A list of attachments."})
    if len(value) > MAX_ATTACHMENTS:
        raise ValidationError({field: f"At most {MAX_ATTACHMENTS} attachments."})
    kinds = tuple(kinds)
    errors: dict[str, Any] = {}
    cleaned = [
        attachment_validate(a, field=f"{field}.{i}", kinds=kinds, errors=errors) for i, a in enumerate(value)
    ]
    if errors:
        raise ValidationError(errors)
    return [a for a in cleaned if a is not None]


def attachment_ids(attachments: Iterable[dict]) -> list[int]:
    return [a["material_id"] for a in attachments if _is_id(a.get("material_id"))]


def material_usage_set(*, owner_type: str, owner_id: int, attachments: list[dict]) -> None:
    """Record that this owner uses exactly these materials now (``[]``: none any more).

    Call it in the owner's save transaction: the counts and the delete check read it.
    """
    wanted = set(attachment_ids(attachments))
    mine = MaterialUse.objects.filter(owner_type=owner_type, owner_id=owner_id)
    mine.exclude(material_id__in=wanted).delete()
    have = set(mine.values_list("material_id", flat=True))
    MaterialUse.objects.bulk_create(
        [
            MaterialUse(owner_type=owner_type, owner_id=owner_id, material_id=pk)
            for pk in sorted(wanted - have)
        ],
        ignore_conflicts=True,
    )


# --- WeCom's copies -------------------------------------------------------------------------------


def _read(material: Material) -> bytes:
    with material.file.open("rb") as stream:
        return stream.read()


# WeCom keeps temporary media in two stores, each id cached on the material in its own pair of fields:
# media/upload (messages: images, videos, files) and media/upload_attachment (Moments: images, videos).
_MEDIA_STORES = {
    "messages": ("media_id", "media_uploaded_at", FILE_KINDS, "upload_media"),
    "moments": ("moment_media_id", "moment_media_uploaded_at", ("image", "video"), "upload_attachment"),
}


def _media_store_ensure(api: WeComAPI, materials: Iterable[Material], *, store: str) -> None:
    """Give each material of the store's kinds an id in that store under ``MEDIA_ID_FRESH`` old,
    uploading the ones WeCom has forgotten (or never had); in place and in the database."""
    id_field, at_field, kinds, upload = _MEDIA_STORES[store]
    fresh_after = timezone.now() - MEDIA_ID_FRESH
    for material in materials:
        uploaded_at = getattr(material, at_field)
        if material.kind not in kinds or (
            getattr(material, id_field) and uploaded_at and uploaded_at > fresh_after
        ):
            continue
        answer = getattr(api, upload)(
            media_type=material.kind, filename=material.filename, content=_read(material)
        )
        fields = {id_field: answer["media_id"], at_field: timezone.now()}
        for name, value in fields.items():
            setattr(material, name, value)
        Material.objects.filter(pk=material.pk).update(**fields)


def media_ids_ensure(*, api: WeComAPI, materials: Iterable[Material]) -> None:
    """Give each image, video or file a WeCom media id (media/upload) under ``MEDIA_ID_FRESH`` old."""
    _media_store_ensure(api, materials, store="messages")


def _wecom_url(api: WeComAPI, image: Material) -> str:
    """The image's permanent address in WeCom (media/uploadimg: a link card's picture), uploaded once."""
    if not image.wecom_url:
        image.wecom_url = api.upload_image(filename=image.filename, content=_read(image))["url"]
        Material.objects.filter(pk=image.pk).update(wecom_url=image.wecom_url)
    return image.wecom_url


def _wecom_attachment(api: WeComAPI, material: Material) -> dict:
    kind = material.kind
    if kind in FILE_KINDS:
        return {"msgtype": kind, kind: {"media_id": material.media_id}}
    if kind == "link":
        link = {"title": material.title, "url": material.url}
        if material.description:
            link["desc"] = material.description
        picture = _wecom_url(api, material.cover) if material.cover_id else material.picture_url
        if picture:
            link["picurl"] = picture
        return {"msgtype": "link", "link": link}
    return {
        "msgtype": "miniprogram",
        "miniprogram": {
            "title": material.title,
            "pic_media_id": material.cover.media_id,
            "appid": material.appid,
            "page": material.page,
        },
    }


def attachments_for_wecom(*, api: WeComAPI, attachments: list[dict]) -> list[dict]:
    """WeCom's attachment objects for stored references, in order (send_welcome_msg, add_msg_template,
    group_welcome_template): images, videos and files by media id, uploaded again when WeCom has
    forgotten them; mini programs with their cover's media id; links with their cover's permanent
    address (or their picture URL). A material deleted since is still sent as it was."""
    wanted, rows = _attached(attachments, covered_kind="miniprogram")
    media_ids_ensure(api=api, materials=rows)
    return [_wecom_attachment(api, m) for m in wanted]


def _attached(attachments: list[dict], *, covered_kind: str) -> tuple[list[Material], list[Material]]:
    """The attachments' materials in order (those that no longer exist left out, with a warning), and
    the distinct rows to upload: each material once, whether it is attached, the cover of an attached
    ``covered_kind`` card, or both (one object per row, so each is uploaded once)."""
    ids = attachment_ids(attachments)
    materials = {m.pk: m for m in Material.objects.filter(pk__in=ids).select_related("cover")} if ids else {}
    missing = [pk for pk in ids if pk not in materials]
    if missing:
        logger.warning("attachments name materials that do not exist: %s", missing)
    wanted = [materials[pk] for pk in ids if pk in materials]
    rows = {m.pk: m for m in wanted}
    for material in wanted:
        if material.kind == covered_kind and material.cover_id:
            material.cover = rows.setdefault(material.cover_id, material.cover)
    return wanted, list(rows.values())


def media_upload_soon(*, attachments: list[dict]) -> None:
    """Upload the media of attachments just saved, in the background once committed, so that their first
    send does not wait for it."""
    from .tasks import media_upload

    ids = sorted(set(attachment_ids(attachments)))
    if ids:
        tenant_id = require_current_tenant().pk
        transaction.on_commit(lambda: media_upload.apply_async((tenant_id, ids)))


def media_ensure_for(*, api: WeComAPI, material_ids: Iterable[int]) -> int:
    """Fresh WeCom copies for these materials and their covers; how many were uploaded."""
    materials = list(Material.objects.filter(pk__in=list(material_ids)).select_related("cover"))
    targets = {m.pk: m for m in materials if m.kind in FILE_KINDS}
    targets |= {m.cover.pk: m.cover for m in materials if m.kind == "miniprogram" and m.cover_id}
    before = {pk: m.media_uploaded_at for pk, m in targets.items()}
    media_ids_ensure(api=api, materials=targets.values())
    for m in materials:
        if m.kind == "link" and m.cover_id:
            _wecom_url(api, m.cover)
    return sum(1 for pk, m in targets.items() if m.media_uploaded_at != before[pk])


def media_refresh(*, api: WeComAPI, owner_types: Iterable[str]) -> int:
    """Upload again, ahead of time, the media WeCom is about to forget of the materials these owners use
    (and their covers); how many were uploaded. Beat runs it for the fast-path owners (welcome messages),
    so that a greeting never waits for an upload within its 20 seconds."""
    used = MaterialUse.objects.filter(owner_type__in=list(owner_types)).values("material_id")
    cards = Material.objects.filter(pk__in=used, kind="miniprogram", cover__isnull=False).values("cover_id")
    soon = timezone.now() - MEDIA_ID_FRESH + REFRESH_AHEAD
    stale = list(
        Material.objects.filter(Q(pk__in=used) | Q(pk__in=cards), kind__in=FILE_KINDS)
        .exclude(media_uploaded_at__gt=soon)
        .exclude(file="")
    )
    for material in stale:
        material.media_uploaded_at = None  # upload now, though it has a few hours left
    media_ids_ensure(api=api, materials=stale)
    return len(stale)


# --- Moments (wecom-api.md §8) --------------------------------------------------------------------
#
# A Moment carries up to 9 images, or 1 video, or 1 link, never two kinds (add_moment_task, DOC 95094),
# and its images and videos come from ``media/upload_attachment`` (attachment_type 1), a store of its
# own: an id from ``media/upload`` is refused (40007). Those ids live 3 days too, so they are cached on
# the material beside the other one (``moment_media_id``) and renewed at ``MEDIA_ID_FRESH``.

MOMENT_KINDS = ("image", "video", "link")
MOMENT_MAX_IMAGES = 9
MOMENT_RULE = "A Moment carries up to 9 images, or 1 video, or 1 link (WeCom's rule)"
# Codes for the Moments rules no schema states (a list of any 9 materials passes the schema).
MIXED_KINDS = "mixed_kinds"
TOO_MANY_OF_KIND = "too_many_of_kind"
NO_COVER = "no_cover"
# A Moment's link card: its title at most 64 bytes, its picture an uploaded image (link.media_id, which
# add_moment_task requires: DOC 96351).
MOMENT_LINK_TITLE_BYTES = 64


def moment_attachments_validate(value: Any, *, field: str = "attachments") -> list[dict]:
    """The attachments of a Moment as stored (``[{"material_id": N}]``), or a ValidationError: each
    reference checked as ``attachments_validate`` does (images, videos and links only), then WeCom's
    Moments rule: ≤ 9 images, or 1 video, or 1 link, never mixed."""
    cleaned = attachments_validate(value, field=field, kinds=MOMENT_KINDS)
    rows = {
        pk: (kind, title, cover_id)
        for pk, kind, title, cover_id in Material.objects.filter(pk__in=attachment_ids(cleaned)).values_list(
            "pk", "kind", "title", "cover_id"
        )
    }
    found = [rows[a["material_id"]][0] for a in cleaned]
    if len(set(found)) > 1:
        raise ValidationError(
            {field: ErrorDetail(f"{MOMENT_RULE}, never two kinds together.", code=MIXED_KINDS)}
        )
    if found and found[0] in ("video", "link") and len(found) > 1:
        raise ValidationError(
            {field: ErrorDetail(f"{MOMENT_RULE}: one {found[0]} at most.", code=TOO_MANY_OF_KIND)}
        )
    if found == ["link"]:
        _, title, cover_id = rows[cleaned[0]["material_id"]]
        path = f"{field}.0.material_id"
        if not cover_id:
            message = (
                "A link in a Moment needs a cover image (WeCom requires its picture): add one in the library."
            )
            raise ValidationError({path: ErrorDetail(message, code=NO_COVER)})
        if len(title.encode()) > MOMENT_LINK_TITLE_BYTES:
            raise ValidationError({path: _too_many_bytes(MOMENT_LINK_TITLE_BYTES)})
    return cleaned


def moment_media_ids_ensure(*, api: WeComAPI, materials: Iterable[Material]) -> None:
    """Give each image or video a Moments media id (``upload_attachment``) under ``MEDIA_ID_FRESH`` old."""
    _media_store_ensure(api, materials, store="moments")


def _moment_attachment(material: Material) -> dict:
    kind = material.kind
    if kind in ("image", "video"):
        return {"msgtype": kind, kind: {"media_id": material.moment_media_id}}
    link = {"title": material.title, "url": material.url}
    # The card's picture is its cover image, uploaded (link.media_id): add_moment_task takes no URL for
    # it, and Siyu never fetches an address a user typed. Validation refused links without one; a cover
    # removed since is sent without (WeCom refuses it, and the task fails with WeCom's answer).
    if material.cover_id:
        link["media_id"] = material.cover.moment_media_id
    return {"msgtype": "link", "link": link}


def moment_attachments_for_wecom(*, api: WeComAPI, attachments: list[dict]) -> list[dict]:
    """add_moment_task's ``attachments`` for stored references, in order: images and videos by their
    Moments media id, a link with its title, URL and, when it has a cover image, the cover's Moments
    media id; uploaded again when WeCom has forgotten them. A material deleted since is sent as it was."""
    wanted, rows = _attached(attachments, covered_kind="link")
    moment_media_ids_ensure(api=api, materials=rows)  # images and videos only; links are not uploaded
    return [_moment_attachment(m) for m in wanted if m.kind in MOMENT_KINDS]
